// The proof tests every protocol has, written once as a typed test suite over the protocol's
// binding (tools/bindings.h) and instantiated by tests/proofs/<protocol>/invariants_test.cc:
// the invariant files match invariants.def, the well_formed strengthening is needed exactly where
// declared, the committed counterexamples replay.
#pragma once
#include "tests/proofs/support.h"

namespace lockstep::proofs::testing {

// INSTANTIATE_TYPED_TEST_SUITE_P(MshvProofs, ProtocolProofs, tools::MshvBinding) runs them for
// MSHV as MshvProofs/ProtocolProofs/0.* (ctest: MshvProofs.*).
template <class B>
class ProtocolProofs : public ::testing::Test {};
TYPED_TEST_SUITE_P(ProtocolProofs);

// proofs/<protocol>/invariants/ holds one file per invariant of invariants.def, and nothing else.
TYPED_TEST_P(ProtocolProofs, EveryInvariantFileIsListed) {
  std::set<std::string> files, listed;
  const auto dir = fs::path(LOCKSTEP_SOURCE_DIR) / "proofs" / TypeParam::kName / "invariants";
  for (const auto& e : fs::directory_iterator(dir)) files.insert(e.path().filename().string());
  for (const auto& inv : TypeParam::Proofs::invariants()) listed.insert(inv.name + ".cc");
  EXPECT_EQ(files, listed);
}

// An invariant strengthened with well_formed needs it: without it the inductive step starts from
// unreachable states and stays unknown up to max_k. The others hold without it. On every
// profile that must hold everything.
TYPED_TEST_P(ProtocolProofs, StrengtheningIsNeededWhereDeclared) {
  const auto profiles = profiles_that_must_hold<TypeParam>();
  ASSERT_FALSE(profiles.empty());
  for (const auto* p : profiles)
    for (auto inv : TypeParam::Proofs::invariants()) {
      if (inv.auxiliary) continue;
      const bool needed = inv.strengthened;
      inv.strengthened = false;
      EXPECT_EQ(check(inv, *p).status, needed ? Status::Unknown : Status::Holds)
          << inv.name << " / " << p->name;
    }
}

TYPED_TEST_P(ProtocolProofs, CommittedCounterexamplesReplay) {
  replay_counterexamples<TypeParam>("corpus/proofs/" + std::string(TypeParam::kName));
}

REGISTER_TYPED_TEST_SUITE_P(ProtocolProofs, EveryInvariantFileIsListed,
                            StrengtheningIsNeededWhereDeclared, CommittedCounterexamplesReplay);

}  // namespace lockstep::proofs::testing
