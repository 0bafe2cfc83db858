// Clause: P7/X9: a handled END leaves no uffd and no region registered (mappings stay)
// Bounds: proofs/vhost/encoding.h (<= 8 regions, <= 12 fds per send, one message per op).
// k = 1 STRENGTHENED with well_formed (registered => uffd; without it: unknown up to k = 3), ~100
// ms. Fails on mutant-end-keeps-uffd (depth 3) and mutant-advise-second-uffd (depth 8: END answers
// 1 while regions stay registered with the leaked uffd).
#include "proofs/vhost/invariant.h"

namespace lockstep::vhost::proofs {

Invariant end_leaves_no_uffd() {
  Invariant inv;
  inv.clause = "P7/X9: a handled END leaves no uffd and no region registered (mappings stay)";
  inv.antecedent = [](Encoding&, const StepView& v) {
    return v.a.is(ActionKind::PostcopyEnd) && v.r.handled;
  };
  inv.step = [](Encoding&, const StepView& v) {
    return !v.r.next.uffd && !v.r.next.registered && v.r.next.leaked_uffds == v.pre.leaked_uffds;
  };
  inv.strengthened = true;  // well_formed: registered => uffd, awaiting_ack => !registered
  return inv;
}

}  // namespace lockstep::vhost::proofs
