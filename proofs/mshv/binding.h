// `lockstep prove --protocol mshv` (tools/prove.cc): MSHV's choices for the shared driver.
#pragma once
#include <string>

#include "core/mshv/codec.h"
#include "proofs/mshv/invariant.h"

namespace lockstep::mshv::proofs {

// Every shipped profile (kvm included) must hold every invariant; the mutants are meant to fail.
inline bool acceptable(const Profile& p, lockstep::proofs::Status s) {
  return p.mutant || s == lockstep::proofs::Status::Holds;
}

// A fuzz input can only select mshv-v1 or mshv-strict, the profiles the real device layer runs.
inline std::string fuzz_profile(const std::string& profile) {
  return profile == "mshv-strict" ? profile : "mshv-v1";
}

// The bounds and exclusions are scope() of proofs/mshv/encoding.h.
struct ProofBinding
    : lockstep::proofs::Binding<Encoding, all_invariants, find_profile, shipped_profiles,
                                mutant_profiles, acceptable, fuzz_profile, scope> {};

}  // namespace lockstep::mshv::proofs
