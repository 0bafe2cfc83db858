// Spec clause (reference/mshv-device.md §1.4 create_device step 3, MSHV_CREATE_DEVICE_TEST):
// a CREATE_DEVICE with the TEST flag creates nothing: whatever its result, the state after it
// equals the state before it (up to handle numbering and the consumed armed fault).
// A step property. Bounds: proofs/mshv/encoding.h.
// Plain induction (k = 1), no strengthening needed (pinned by tests/proofs/protocol_tests.h).
// Expected runtime: k = 1, < 50 ms per profile; fails on
// mutant-test-creates at depth 2.
#include "core/mshv/uapi.h"
#include "proofs/mshv/invariant.h"

namespace lockstep::mshv::proofs {

Invariant test_never_changes_state() {
  Invariant inv;
  inv.clause = "CREATE_DEVICE with TEST leaves the state unchanged";
  inv.antecedent = [](Encoding& e, const StepView& v) {
    return v.a.kind == static_cast<int>(OpKind::CreateDevice) &&
           (v.a.flags & e.ctx().bv_val(uapi::kCreateDeviceTest, 32)) != 0;
  };
  inv.step = [](Encoding& e, const StepView& v) { return e.semantic_equal(v.pre, v.r.next); };
  return inv;
}

}  // namespace lockstep::mshv::proofs
