// Clause: W8: every reply has flags exactly VERSION|REPLY (0x5)
// Bounds: proofs/vhost/encoding.h (<= 8 regions, <= 12 fds per send, one message per op).
// Expected: k = 1, holds on every profile except mutant-reply-echoes-need-reply (a reply keeps
// the request's NEED_REPLY bit, flags 0xD: depth 1, any NEED_REPLY request that is answered).
#include "proofs/vhost/invariant.h"

namespace lockstep::vhost::proofs {

Invariant reply_flags() {
  Invariant inv;
  inv.clause = "W8: every reply has flags exactly VERSION|REPLY (0x5)";
  inv.antecedent = [](Encoding&, const StepView& v) { return v.r.reply.has; };
  inv.step = [](Encoding& e, const StepView& v) {
    return v.r.reply.flags == e.ctx().bv_val(0x5, 32);
  };
  return inv;
}

}  // namespace lockstep::vhost::proofs
