// Clause: W6/P8: fds received on a request that takes none are all closed (never kept)
// Bounds: proofs/vhost/encoding.h (<= 8 regions, <= 12 fds per send, one message per op).
// Expected: k = 1; fails on rfc-2018, libvhost-user, mutant-advise-keeps-fds at depth 1. k = 1,
// plain induction, ~20 ms. (dpdk-22.11 holds: validate_msg_fds since 2022.)
#include "proofs/vhost/invariant.h"

namespace lockstep::vhost::proofs {

Invariant unused_fds_closed() {
  Invariant inv;
  inv.clause = "W6/P8: fds received on a request that takes none are all closed (never kept)";
  // Only fds that arrive can leak (a message with fds; BadRing keeps its count).
  inv.antecedent = [](Encoding&, const StepView& v) { return v.a.fd_count != 0; };
  inv.step = [](Encoding&, const StepView& v) {
    return v.r.next.leaked_other_fds == v.pre.leaked_other_fds;
  };
  return inv;
}

}  // namespace lockstep::vhost::proofs
