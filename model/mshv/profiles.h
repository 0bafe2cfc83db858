// Profiles: the places where implementations of the MSHV device uAPI legitimately differ, as
// switches on one model. Each switch cites its rule in docs/mshv-device-rules.md, whose
// "profiles" column says which option each shipped profile takes and where it comes from.
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
  // Ioctl numbers of the device API this profile speaks (U1 for MSHV, U3 for kvm).
  uint32_t create_request = 0;
  uint32_t set_request = 0;
  uint32_t has_request = 0;
  // G1: 0, no GET ioctl (MSHV: ENOTTY). G2, kvm: kvm_device_ioctl_attr returns EPERM for
  // kvm-vfio's NULL get_attr before copy_from_user, where MSHV's SET/HAS copy first (I3).
  uint32_t get_request = 0;
  uint32_t vfio_type = 0;  // C3: the only registered device type (U2, U3)
  // C2, mshv-strict: review of `V3 06/11` found "unknown flag bits not rejected".
  bool reject_unknown_create_flags = false;
  // C11, mshv-strict: the same review found an fd leak "when copy_to_user fails after
  // anon_inode_getfd": roll the device back instead of leaving an fd the caller never learns.
  bool rollback_on_copy_back_fault = false;
  // C5, kvm: kvm_vm_ioctl copies the whole struct back, TEST included.
  bool test_copies_back = false;

  // Negative variants (proofs/ and the oracle's negative tests): each breaks one rule.
  bool mutant_no_type_check = false;            // C3 broken: create accepts any type
  bool mutant_no_duplicate_check = false;       // A6 broken: ADD skips EEXIST
  bool mutant_del_keeps_ref = false;            // A11 broken: DEL keeps the reference
  bool mutant_no_busy_check = false;            // C7 broken: second VFIO device allowed
  bool mutant_test_creates = false;             // C4 broken: TEST falls through and creates
  bool mutant_release_keeps_files = false;      // R3 broken: file references kept
  bool mutant_release_keeps_partition = false;  // R4 broken: no mshv_partition_put
  bool mutant = false;                          // any mutant_* set
};

// Shipped profiles: "mshv-v1", "mshv-strict", "kvm"; negative variants: "mutant-*".
const ProfileList<Profile>& profiles();  // model/mshv/profiles.cc
// clang-format off
inline const Profile* find_profile(std::string_view name) { return profiles().find(name); }
inline std::vector<const Profile*> shipped_profiles() { return profiles().shipped(); }
inline std::vector<const Profile*> mutant_profiles() { return profiles().mutants(); }
// clang-format on

}  // namespace lockstep::mshv
