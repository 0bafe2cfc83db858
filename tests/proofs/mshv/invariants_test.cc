// The MSHV proofs' verdicts, pinned: every invariant holds (by k-induction) for every shipped
// profile, and fails (with a shortest BMC counterexample) on exactly the mutants that break the
// rule it captures; every mutant breaks at least one invariant, every invariant is broken by one.
// With the tests every protocol has: the invariant files, the well_formed strengthening, the
// committed counterexamples replayed (tests/proofs/protocol_tests.h).
#include "tests/proofs/protocol_tests.h"

#include "proofs/mshv/binding.h"

namespace lockstep::proofs::testing {
namespace {

using B = tools::MshvBinding;

const ExpectedFailures kExpectedFailures = {
    {"well_formed", {}},
    {"device_type_valid", {"mutant-no-type-check"}},
    {"test_never_changes_state", {"mutant-test-creates"}},
    {"one_vfio_device_per_partition", {"mutant-no-busy-check"}},
    {"no_duplicate_file", {"mutant-no-dup-check"}},
    {"file_refs_owned", {"mutant-del-keeps-ref", "mutant-release-keeps-files"}},
    {"partition_refcount", {"mutant-release-keeps-partition"}},
    {"failed_op_unchanged", {"mutant-test-creates"}},
};

TEST(MshvProofs, EveryInvariantHoldsForTheShippedProfiles) {
  // kvm included: no finding.
  EXPECT_TRUE(expect_verdicts<B>(mshv::shipped_profiles(), kExpectedFailures).empty());
}

TEST(MshvProofs, MutantsFailExactlyTheInvariantsTheyBreak) {
  auto caught = expect_verdicts<B>(mshv::mutant_profiles(), kExpectedFailures);
  for (const auto* p : mshv::mutant_profiles()) EXPECT_TRUE(caught.count(p->name)) << p->name;
  for (const auto& [inv, mutants] : kExpectedFailures) {
    if (inv != "well_formed") {
      EXPECT_FALSE(mutants.empty()) << inv;
    }
  }
}

}  // namespace

// The invariant files, the strengthening, the committed counterexamples
// (tests/proofs/protocol_tests.h).
INSTANTIATE_TYPED_TEST_SUITE_P(MshvProofs, ProtocolProofs, tools::MshvBinding);

}  // namespace lockstep::proofs::testing
