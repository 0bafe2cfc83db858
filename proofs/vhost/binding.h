// `lockstep prove --protocol vhost` (tools/prove.cc): vhost-user's choices for the shared driver.
#pragma once
#include <string>

#include "core/vhost/codec.h"
#include "proofs/vhost/invariant.h"

namespace lockstep::vhost::proofs {

// `spec` must hold every invariant and no result may stay unknown; a third-party profile that
// fails an invariant is a finding about that implementation, not an error.
inline bool acceptable(const Profile& p, lockstep::proofs::Status s) {
  using lockstep::proofs::Status;
  return s != Status::Unknown && (p.name != "spec" || s == Status::Holds);
}

// Our back-end runs `spec`: a fuzz input is always replayed under it.
inline std::string fuzz_profile(const std::string&) {
  return "spec";
}

// The bounds and exclusions are scope() of proofs/vhost/encoding.h (abstraction.cc).
struct ProofBinding
    : lockstep::proofs::Binding<Encoding, all_invariants, find_profile, shipped_profiles,
                                mutant_profiles, acceptable, fuzz_profile, scope> {};

}  // namespace lockstep::vhost::proofs
