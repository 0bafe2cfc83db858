// The proofs' verdicts, pinned: every invariant holds (by k-induction) for every shipped
// profile, and fails (with a shortest BMC counterexample) on exactly the mutants that break
// the rule it captures; every mutant breaks at least one invariant.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "proofs/mshv/prove.h"

namespace lockstep::mshv::proofs {
namespace {

const std::map<std::string, std::set<std::string>> kExpectedFailures = {
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
  for (const Profile* p : shipped_profiles())  // kvm included: no finding
    for (const Invariant& inv : all_invariants()) {
      Result r = check(inv, *p);
      EXPECT_EQ(r.status, Status::Holds) << inv.name << " / " << p->name;
      EXPECT_EQ(r.k, 1) << inv.name << " / " << p->name;
    }
}

TEST(MshvProofs, MutantsFailExactlyTheInvariantsTheyBreak) {
  std::set<std::string> caught;
  for (const Profile* p : mutant_profiles())
    for (const Invariant& inv : all_invariants()) {
      Result r = check(inv, *p);
      bool expected = kExpectedFailures.at(inv.name).count(p->name) > 0;
      EXPECT_EQ(r.status, expected ? Status::Fails : Status::Holds) << inv.name << " / " << p->name;
      if (r.status == Status::Fails) {
        caught.insert(p->name);
        ASSERT_TRUE(r.counterexample);
        EXPECT_EQ(r.counterexample->ops.size(), static_cast<size_t>(r.k));
        EXPECT_EQ(r.counterexample->profile, p->name);
      }
    }
  for (const Profile* p : mutant_profiles()) EXPECT_TRUE(caught.count(p->name)) << p->name;
  for (const auto& [inv, mutants] : kExpectedFailures) {
    if (inv != "well_formed") {
      EXPECT_FALSE(mutants.empty()) << inv;
    }
  }
}

}  // namespace
}  // namespace lockstep::mshv::proofs

namespace lockstep::mshv::proofs {
namespace {

// Which invariants need the well_formed strengthening: without it, the inductive step finds
// unreachable predecessor states (e.g. a not-yet-created device slot already live or holding
// files) for every k tried, so the result is "unknown" rather than "holds".
TEST(MshvProofs, StrengtheningIsNeededWhereTheFilesSaySo) {
  for (const Profile* p : shipped_profiles())
    for (Invariant inv : all_invariants()) {
      if (inv.auxiliary) continue;
      EXPECT_EQ(inv.strengthened, inv.name == "partition_refcount") << inv.name;
      inv.strengthened = false;
      Result r = check(inv, *p);
      EXPECT_EQ(r.status, inv.name == "partition_refcount" ? Status::Unknown : Status::Holds)
          << inv.name << " / " << p->name;
    }
}

}  // namespace
}  // namespace lockstep::mshv::proofs
