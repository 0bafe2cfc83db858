// Clause: P5: LISTEN succeeds only after ADVISE (with a live uffd)
// Bounds: proofs/vhost/encoding.h (<= 8 regions, <= 12 fds per send, one message per op).
// Expected: k = 1; fails on dpdk-22.11, rfc-2018, libvhost-user, mutant-listen-without-advise at
// depth 1. k = 1, plain induction, ~20 ms.
#include "proofs/vhost/invariant.h"

namespace lockstep::vhost::proofs {

Invariant listen_after_advise() {
  Invariant inv;
  inv.clause = "P5: LISTEN succeeds only after ADVISE (with a live uffd)";
  inv.antecedent = [](Encoding&, const StepView& v) {
    return v.a.is(ActionKind::PostcopyListen) && v.r.handled && v.r.next.listening &&
           !v.pre.listening;
  };
  inv.step = [](Encoding&, const StepView& v) { return v.pre.uffd; };
  return inv;
}

}  // namespace lockstep::vhost::proofs
