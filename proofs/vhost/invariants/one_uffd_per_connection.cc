// Clause: P2: at most one live userfaultfd per connection
// Bounds: proofs/vhost/encoding.h (<= 8 regions, <= 12 fds per send, one message per op).
// Live uffds = the held one + those leaked on this connection. k = 1 STRENGTHENED with well_formed
// (session_leaked_uffds == 0 off Leak profiles; without it: unknown up to k = 3), ~40 ms. Fails on
// the Leak profiles dpdk-22.11, rfc-2018, libvhost-user (depth 2) and mutant-advise-second-uffd
// (depth 3).
#include "proofs/vhost/invariant.h"

namespace lockstep::vhost::proofs {

Invariant one_uffd_per_connection() {
  Invariant inv;
  inv.clause = "P2: at most one live userfaultfd per connection";
  inv.state = [](Encoding& e, const SymState& s) {
    return z3::ule(z3::zext(s.session_leaked_uffds, 4) +
                       z3::ite(s.uffd, e.ctx().bv_val(1, 8), e.ctx().bv_val(0, 8)),
                   e.ctx().bv_val(1, 8));
  };
  inv.antecedent = [](Encoding&, const StepView& v) { return v.r.next.uffd; };  // a live uffd
  inv.strengthened = true;
  return inv;
}

}  // namespace lockstep::vhost::proofs
