#include "model/mshv/profiles.h"

#include "core/mshv/uapi.h"

namespace lockstep::mshv {
namespace {

Profile mshv_v1() {
  auto p = named_profile<Profile>(
      "mshv-v1", "the series as posted: V1 06-07/13 = V3 05-06/11 (same mshv_vfio.c blob)");
  p.create_request = uapi::kCreateDevice;  // U1
  p.set_request = uapi::kSetDeviceAttr;    // U1
  p.has_request = uapi::kHasDeviceAttr;    // U1; G1: no GET
  p.vfio_type = uapi::kDevTypeVfio;        // U2: 0
  return p;
}

Profile mshv_strict() {
  Profile p = mshv_v1();
  p.name = "mshv-strict";
  p.summary = "what review asked for: unknown create flags rejected, no fd left on copy-back fault";
  p.reject_unknown_create_flags = true;  // C2
  p.rollback_on_copy_back_fault = true;  // C11
  return p;
}

Profile kvm() {
  auto p = named_profile<Profile>(
      "kvm", "kvm-vfio through /dev/kvm: virt/kvm/kvm_main.c + virt/kvm/vfio.c");
  p.create_request = uapi::kKvmCreateDevice;  // U3
  p.set_request = uapi::kKvmSetDeviceAttr;    // U3
  p.has_request = uapi::kKvmHasDeviceAttr;    // U3
  p.get_request = uapi::kKvmGetDeviceAttr;    // U3; G2: EPERM
  p.vfio_type = uapi::kKvmDevTypeVfio;        // U3: 4
  p.test_copies_back = true;                  // C5
  return p;
}

Profile mutant(std::string name, std::string summary, bool Profile::*flag) {
  return mutant_of(mshv_v1(), std::move(name), std::move(summary), flag);
}

}  // namespace

const ProfileList<Profile>& profiles() {
  static const ProfileList<Profile> list = {
      mshv_v1(),
      mshv_strict(),
      kvm(),
      mutant("mutant-no-type-check", "create without the type check",
             &Profile::mutant_no_type_check),
      mutant("mutant-no-dup-check", "ADD without the duplicate check",
             &Profile::mutant_no_duplicate_check),
      mutant("mutant-del-keeps-ref", "DEL forgets to drop the reference",
             &Profile::mutant_del_keeps_ref),
      mutant("mutant-no-busy-check", "a second VFIO device per partition",
             &Profile::mutant_no_busy_check),
      mutant("mutant-test-creates", "TEST creates a device", &Profile::mutant_test_creates),
      mutant("mutant-release-keeps-files", "release keeps the file references",
             &Profile::mutant_release_keeps_files),
      mutant("mutant-release-keeps-partition", "release forgets mshv_partition_put",
             &Profile::mutant_release_keeps_partition),
  };
  return list;
}

}  // namespace lockstep::mshv
