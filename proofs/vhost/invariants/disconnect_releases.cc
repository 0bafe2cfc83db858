// Clause: D1: when the connection goes down no uffd stays (none leaked by the disconnect) and no
// region stays mapped Bounds: proofs/vhost/encoding.h (<= 8 regions, <= 12 fds per send, one
// message per op). k = 1, plain induction, ~30 ms. Fails on rust-vmm (the uffd survives) and
// mutant-disconnect-leaks-uffd, depth 3. (A uffd leaked by a repeated ADVISE is
// one_uffd_per_connection's business.)
#include "proofs/vhost/invariant.h"

namespace lockstep::vhost::proofs {

Invariant disconnect_releases() {
  Invariant inv;
  inv.clause =
      "D1: when the connection goes down no uffd stays (none leaked by the disconnect) and no "
      "region stays mapped";
  inv.antecedent = [](Encoding&, const StepView& v) {
    return v.pre.connected && !v.r.next.connected;
  };
  inv.step = [](Encoding&, const StepView& v) {
    return !v.r.next.uffd && v.r.next.regions == 0 && !v.r.disconnect_leaked_uffd;
  };
  return inv;
}

}  // namespace lockstep::vhost::proofs
