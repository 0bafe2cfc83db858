// Spec clause (reference/mshv-device.md §1.4 step 8 mshv_partition_get, release:
// mshv_partition_put; mshv_partition_release puts the fd's reference): a partition's
// reference count equals (fd open ? 1 : 0) + the number of live devices on it.
// Bounds: proofs/mshv/encoding.h. NEEDS the well_formed strengthening: plain induction is
// not conclusive for k <= 3 (the inductive step finds unreachable predecessors, e.g. a live
// device whose partition index names no partition slot, or a not-yet-created device slot that
// is already live; failing ops stutter, so larger k does not exclude them); with well_formed
// it is 1-inductive. Expected runtime: k = 1, < 100 ms per
// profile; fails on mutant-release-keeps-partition (added for this invariant: no other
// mutant touches partition references).
#include "proofs/mshv/invariant.h"

namespace lockstep::mshv::proofs {

Invariant partition_refcount() {
  Invariant inv;
  inv.clause = "partition refs == fd open + live devices";
  inv.state = [](Encoding& e, const SymState& s) {
    z3::context& c = e.ctx();
    z3::expr ok = c.bool_val(true);
    for (int i = 0; i < kPartitions; ++i) {
      z3::expr sum = z3::ite(s.partitions[i].fd_open, c.bv_val(1, 8), c.bv_val(0, 8));
      for (int j = 0; j < kDevices; ++j)
        sum = sum + z3::ite(s.devices[j].live && s.devices[j].partition == i, c.bv_val(1, 8),
                            c.bv_val(0, 8));
      ok = ok && s.partitions[i].refs == sum;
    }
    return ok;
  };
  // A partition referenced by its fd and a live device.
  inv.antecedent = [](Encoding& e, const StepView& v) {
    z3::expr some = e.ctx().bool_val(false);
    for (int i = 0; i < kPartitions; ++i)
      some = some || z3::uge(v.r.next.partitions[i].refs, e.ctx().bv_val(2, 8));
    return some;
  };
  inv.strengthened = true;  // well_formed
  return inv;
}

}  // namespace lockstep::mshv::proofs
