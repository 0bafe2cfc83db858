// Spec clause (reference/mshv-device.md §1.4, mshv_vfio_create_device: -EBUSY if the partition
// already has a VFIO device): at most one live VFIO device per partition.
// Bounds: proofs/mshv/encoding.h.
// Plain induction (k = 1), no strengthening needed (pinned by tests/proofs/protocol_tests.h).
// Expected runtime: k = 1, < 50 ms per profile; fails on mutant-no-busy-check at
// depth 3.
#include "proofs/mshv/invariant.h"

namespace lockstep::mshv::proofs {

Invariant one_vfio_device_per_partition() {
  Invariant inv;
  inv.clause = "at most one live VFIO device per partition";
  inv.state = [](Encoding& e, const SymState& s) {
    z3::expr ok = e.ctx().bool_val(true);
    for (int i = 0; i < kDevices; ++i)
      for (int j = i + 1; j < kDevices; ++j)
        ok = ok && !(s.devices[i].live && s.devices[j].live &&
                     s.devices[i].partition == s.devices[j].partition);
    return ok;
  };
  // A CREATE_DEVICE while a device is live.
  inv.antecedent = [](Encoding& e, const StepView& v) {
    return v.a.kind == static_cast<int>(OpKind::CreateDevice) && some_live_device(e, v.pre);
  };
  return inv;
}

}  // namespace lockstep::mshv::proofs
