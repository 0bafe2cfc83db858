// Clause: P6: the postcopy SET_MEM_TABLE reply (the table) is sent only in the listening phase
// Bounds: proofs/vhost/encoding.h (<= 8 regions, <= 12 fds per send, one message per op).
// Expected: k = 1, holds on every profile except mutant-table-reply-when-advised (the table
// reply is also sent in the advised phase, before LISTEN: depth 3).
#include "proofs/vhost/invariant.h"

namespace lockstep::vhost::proofs {

Invariant table_reply_only_listening() {
  Invariant inv;
  inv.clause =
      "P6: the postcopy SET_MEM_TABLE reply (the table) is sent only in the listening phase";
  inv.antecedent = [](Encoding&, const StepView& v) { return v.r.reply.has && v.r.reply.table; };
  inv.step = [](Encoding& e, const StepView& v) {
    return e.phase(v.pre) == e.phase_is(Phase::Listening) ||
           e.phase(v.pre) == e.phase_is(Phase::Registered);
  };
  return inv;
}

}  // namespace lockstep::vhost::proofs
