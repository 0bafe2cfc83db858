// Clause: P6/X8: after the postcopy table reply, regions get registered only by a well-formed ack
// Bounds: proofs/vhost/encoding.h (<= 8 regions, <= 12 fds per send, one message per op).
// k = 1 STRENGTHENED with well_formed (awaiting_ack => !registered; without it: unknown up to k =
// 3), ~50 ms. Fails on mutant-no-ack-check (depth 5) and, as a finding, on dpdk-22.11 / rfc-2018
// (any fd-less SET_MEM_TABLE is the ack: depth 4).
#include "proofs/vhost/invariant.h"

namespace lockstep::vhost::proofs {

Invariant ack_before_register() {
  Invariant inv;
  inv.clause =
      "P6/X8: after the postcopy table reply, regions get registered only by a well-formed ack";
  inv.antecedent = [](Encoding&, const StepView& v) {
    return v.pre.awaiting_ack && v.r.next.registered;
  };
  inv.step = [](Encoding&, const StepView& v) {
    return v.a.is(ActionKind::SetMemTable) && v.a.ack_shaped && v.a.fd_count == 0;
  };
  inv.strengthened = true;  // well_formed: registered => uffd, awaiting_ack => !registered
  return inv;
}

}  // namespace lockstep::vhost::proofs
