// Clause: P4: ADVISE's own reply has size 0 and one fd on success, none on failure
// Bounds: proofs/vhost/encoding.h (<= 8 regions, <= 12 fds per send, one message per op).
// Expected: k = 1; fails on dpdk-22.11 and rfc-2018 (payload echoed: size 8) at depth 1. k = 1,
// plain induction, ~20 ms.
#include "proofs/vhost/invariant.h"

namespace lockstep::vhost::proofs {

Invariant advise_reply_shape() {
  Invariant inv;
  inv.clause = "P4: ADVISE's own reply has size 0 and one fd on success, none on failure";
  inv.antecedent = [](Encoding&, const StepView& v) {
    return v.a.is(ActionKind::PostcopyAdvise) && v.r.reply.has && v.r.reply.explicit_;
  };
  inv.step = [](Encoding& e, const StepView& v) {
    auto& c = e.ctx();
    return v.r.reply.size == 0 &&
           v.r.reply.fds == z3::ite(v.r.opened, c.bv_val(1, 2), c.bv_val(0, 2));
  };
  return inv;
}

}  // namespace lockstep::vhost::proofs
