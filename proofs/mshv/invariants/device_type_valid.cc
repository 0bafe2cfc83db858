// Spec clause (reference/mshv-device.md §1.4 create_device step 2; kvm_ioctl_create_device):
// every live device was created with the profile's VFIO type, and that type is below the
// uAPI's MSHV_DEV_TYPE_MAX (kvm profile: KVM_DEV_TYPE_MAX of <linux/kvm.h>, since kvm-vfio's
// type number 4 belongs to the KVM enumeration, not MSHV's).
// The creation type is a ghost variable of the encoding (SymDevice::type), set when the
// device is linked. Bounds: proofs/mshv/encoding.h.
// Plain induction (k = 1), no strengthening needed (pinned by tests/proofs/protocol_tests.h).
// Expected runtime: k = 1, < 50 ms per profile; fails on mutant-no-type-check at depth 2.
#include <linux/kvm.h>

#include "core/mshv/uapi.h"
#include "proofs/mshv/invariant.h"

namespace lockstep::mshv::proofs {

Invariant device_type_valid() {
  Invariant inv;
  inv.clause = "every live device has the profile's VFIO type < DEV_TYPE_MAX";
  inv.state = [](Encoding& e, const SymState& s) {
    const Profile& p = e.profile();
    const uint32_t max = p.create_request == uapi::kKvmCreateDevice
                             ? static_cast<uint32_t>(KVM_DEV_TYPE_MAX)
                             : uapi::kDevTypeMax;
    z3::context& c = e.ctx();
    z3::expr ok = c.bool_val(p.vfio_type < max);
    for (int j = 0; j < kDevices; ++j)
      ok = ok && z3::implies(s.devices[j].live, s.devices[j].type == c.bv_val(p.vfio_type, 32));
    return ok;
  };
  inv.antecedent = [](Encoding& e, const StepView& v) { return some_live_device(e, v.r.next); };
  return inv;
}

}  // namespace lockstep::mshv::proofs
