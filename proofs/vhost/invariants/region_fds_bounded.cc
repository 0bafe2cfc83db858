// Clause: M3/W5/X12: held region fds = regions mapped <= 8 (registered regions are mapped ones)
// Bounds: proofs/vhost/encoding.h (<= 8 regions, <= 12 fds per send, one message per op).
// Held region fds = regions + stale_region_fds (fds of regions unmapped but not closed); the
// claim is stale_region_fds = 0 and regions <= 8. Expected: k = 1, holds on every profile except
// mutant-table-keeps-old-region-fds (a replacing SET_MEM_TABLE keeps the old fds: depth 2).
#include "proofs/vhost/invariant.h"

namespace lockstep::vhost::proofs {

Invariant region_fds_bounded() {
  Invariant inv;
  inv.clause =
      "M3/W5/X12: held region fds = regions mapped <= 8 (registered regions are mapped ones)";
  inv.state = [](Encoding& e, const SymState& s) {
    return s.stale_region_fds == 0 && z3::ule(s.regions, e.ctx().bv_val(8, 4)) &&
           z3::implies(s.registered, s.regions != 0);
  };
  // A handled SET_MEM_TABLE replacing mapped regions.
  inv.antecedent = [](Encoding&, const StepView& v) {
    return v.pre.regions != 0 && v.a.is(ActionKind::SetMemTable) && v.r.handled;
  };
  return inv;
}

}  // namespace lockstep::vhost::proofs
