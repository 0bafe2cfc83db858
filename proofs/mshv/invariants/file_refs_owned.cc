// Spec clause (reference/mshv-device.md §1.5: file_add takes a reference with get_file,
// file_del and mshv_vfio_release_device drop it with fput): every held file reference is
// owned by exactly one live device, released devices hold none, and no reference is leaked.
// (The encoding keeps references per device, so "exactly one owner" is: released devices own
// none and the unowned counter stays 0.)
// Bounds: proofs/mshv/encoding.h.
// Plain induction (k = 1), no strengthening needed (pinned by tests/proofs/protocol_tests.h).
// Expected runtime: k = 1, < 50 ms per profile; fails on mutant-del-keeps-ref and
// mutant-release-keeps-files at depth 5.
#include "proofs/mshv/invariant.h"

namespace lockstep::mshv::proofs {

Invariant file_refs_owned() {
  Invariant inv;
  inv.clause = "file references owned by live devices only; none leaked";
  inv.state = [](Encoding&, const SymState& s) {
    z3::expr ok = s.leaked_file_refs == 0;
    for (int j = 0; j < kDevices; ++j)
      for (int f = 0; f < kVfioFiles; ++f)
        ok = ok && z3::implies(!s.devices[j].live, s.devices[j].files[f] == 0);
    return ok;
  };
  // A step from a state where a device holds a file.
  inv.antecedent = [](Encoding& e, const StepView& v) { return some_file_held(e, v.pre); };
  return inv;
}

}  // namespace lockstep::mshv::proofs
