// Spec clause (ioctl error convention; reference/mshv-device.md §1.4 step 10): an op that
// fails leaves the state unchanged, except the documented copy-back case: a non-TEST
// CREATE_DEVICE whose final copy_to_user faults (EFAULT with a readable argument), where
// mshv-v1/kvm leave the device installed ("cleanup in fop_release") and mshv-strict rolls it
// back (the device slot still records its partition).
// A step property. Bounds: proofs/mshv/encoding.h.
// Plain induction (k = 1), no strengthening needed (pinned by tests/proofs/protocol_tests.h).
// Expected runtime: k = 1, < 100 ms per profile; fails
// on mutant-test-creates at depth 2 (a TEST create with a read-only argument goes on to create
// and then faults on the copy-back: the exception does not cover TEST).
#include <cerrno>

#include "core/mshv/uapi.h"
#include "proofs/mshv/invariant.h"

namespace lockstep::mshv::proofs {

Invariant failed_op_unchanged() {
  Invariant inv;
  inv.clause = "failed op leaves state unchanged (except the copy-back EFAULT)";
  inv.antecedent = [](Encoding& e, const StepView& v) {
    z3::context& c = e.ctx();
    z3::expr copy_back = v.a.kind == static_cast<int>(OpKind::CreateDevice) &&
                         (v.a.flags & c.bv_val(uapi::kCreateDeviceTest, 32)) == 0 &&
                         v.r.err == c.bv_val(EFAULT, 8) && v.a.arg != 2;
    return v.r.err != 0 && !copy_back;
  };
  inv.step = [](Encoding& e, const StepView& v) { return e.semantic_equal(v.pre, v.r.next); };
  return inv;
}

}  // namespace lockstep::mshv::proofs
