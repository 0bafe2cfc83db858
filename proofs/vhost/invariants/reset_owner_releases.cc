// Clause: N4/X9 (spec): a handled RESET_OWNER leaves no uffd and no region mapped
// Bounds: proofs/vhost/encoding.h (<= 8 regions, <= 12 fds per send, one message per op).
// Expected: k = 1; fails per profile where RESET_OWNER keeps postcopy state (libvhost-user:
// ignored; rust-vmm: clears features only), at depth 2. k = 1, plain induction, ~20 ms.
#include "proofs/vhost/invariant.h"

namespace lockstep::vhost::proofs {

Invariant reset_owner_releases() {
  Invariant inv;
  inv.clause = "N4/X9 (spec): a handled RESET_OWNER leaves no uffd and no region mapped";
  inv.antecedent = [](Encoding&, const StepView& v) {
    return v.a.is(ActionKind::ResetOwner) && v.r.handled;
  };
  inv.step = [](Encoding&, const StepView& v) {
    return !v.r.next.uffd && v.r.next.regions == 0 && v.r.next.leaked_uffds == v.pre.leaked_uffds;
  };
  return inv;
}

}  // namespace lockstep::vhost::proofs
