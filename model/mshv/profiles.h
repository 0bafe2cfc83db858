// Profiles: the places where implementations of the MSHV device uAPI legitimately differ, as
// switches on one model. Each switch cites where the behaviour comes from.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/profile_list.h"

namespace lockstep::mshv {

struct Profile {
  std::string name;
  std::string summary;
  // Ioctl numbers of the device API this profile speaks.
  uint32_t create_request = 0;
  uint32_t set_request = 0;
  uint32_t has_request = 0;
  // 0: no GET ioctl (MSHV: ENOTTY). kvm: kvm_device_ioctl_attr returns EPERM for kvm-vfio's
  // NULL get_attr before copy_from_user, where MSHV's SET/HAS copy first.
  uint32_t get_request = 0;
  uint32_t vfio_type = 0;  // the only registered device type
  // mshv-strict: "unknown flag bits not rejected" (Sashiko review of V3 06/11).
  bool reject_unknown_create_flags = false;
  // mshv-strict: "fd leak ... when copy_to_user fails after anon_inode_getfd" (same review):
  // roll the device back instead of leaving an fd the caller never learns.
  bool rollback_on_copy_back_fault = false;
  // kvm: kvm_vm_ioctl copies the whole struct back, TEST included.
  bool test_copies_back = false;

  // Negative variants (proofs/ and the oracle's negative tests): deliberately broken rules.
  bool mutant_no_type_check = false;            // create accepts any type
  bool mutant_no_duplicate_check = false;       // ADD skips EEXIST
  bool mutant_del_keeps_ref = false;            // DEL unlinks the entry but keeps the reference
  bool mutant_no_busy_check = false;            // second VFIO device allowed
  bool mutant_test_creates = false;             // TEST falls through and creates
  bool mutant_release_keeps_files = false;      // release forgets to drop file references
  bool mutant_release_keeps_partition = false;  // release forgets mshv_partition_put
  bool mutant = false;                          // any mutant_* set
};

// Shipped profiles: "mshv-v1", "mshv-strict", "kvm"; negative variants: "mutant-*".
const ProfileList<Profile>& profiles();  // model/mshv/profiles.cc
inline const Profile* find_profile(std::string_view name) {
  return profiles().find(name);
}
inline std::vector<const Profile*> shipped_profiles() {
  return profiles().shipped();
}
inline std::vector<const Profile*> mutant_profiles() {
  return profiles().mutants();
}

}  // namespace lockstep::mshv
