// Spec clause (reference/mshv-device.md §1.5, mshv_vfio_file_add: -EEXIST when the same struct
// file is already on the device's list): no file appears twice in a device's file set.
// Bounds: proofs/mshv/encoding.h.
// Plain induction (k = 1), no strengthening needed (pinned by tests/proofs/protocol_tests.h).
// Expected runtime: k = 1,
// < 50 ms per profile; fails on mutant-no-dup-check at depth 5.
#include "proofs/mshv/invariant.h"

namespace lockstep::mshv::proofs {

Invariant no_duplicate_file() {
  Invariant inv;
  inv.clause = "no file twice in a device's file set";
  inv.state = [](Encoding& e, const SymState& s) {
    z3::expr ok = e.ctx().bool_val(true);
    for (int j = 0; j < kDevices; ++j)
      for (int f = 0; f < kVfioFiles; ++f)
        ok = ok && z3::ule(s.devices[j].files[f], e.ctx().bv_val(1, 8));
    return ok;
  };
  // A file added while a device holds one.
  inv.antecedent = [](Encoding& e, const StepView& v) {
    return v.a.kind == static_cast<int>(OpKind::SetAttr) && some_file_held(e, v.pre);
  };
  return inv;
}

}  // namespace lockstep::mshv::proofs
