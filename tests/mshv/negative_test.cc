// Every oracle must be able to fire (s2n-tls style negative tests): a miscounting or leaking
// target is caught, and each model mutant differs from mshv-v1 on the shipped corpus programs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/mshv/codec.h"
#include "core/program_files.h"
#include "core/run.h"
#include "impl/mshv/target.h"
#include "model/mshv/model.h"

namespace lockstep::mshv {
namespace {

namespace fs = std::filesystem;

std::vector<Trace> corpus_programs() {
  std::vector<Trace> out;
  for (const auto& [path, text] :
       read_programs(fs::path(LOCKSTEP_SOURCE_DIR) / "corpus/programs/mshv_device"))
    out.push_back(parse_text(text));
  return out;
}

// The impl mutants (impl/mshv/mutants.def) are caught on the shipped corpus by
// tests/mutants_test.cc and the fuzz_mshv_device_catches_* ctests.

// A target that leaks one fd per trace: the fd oracle alone must catch it.
struct LeakingTarget {
  ImplTarget inner{"mshv-v1"};
  int leaked = -1;
  Outcome step(const Op& op) { return inner.step(op); }
  void finish() {
    inner.finish();
    leaked = ::dup(0);
  }
  void reap() {
    inner.reap();
    ::close(leaked);
  }
};

// A target whose accounting drifts after a successful ADD: the per-op resource comparison
// must catch it at that op.
struct MiscountingTarget {
  ImplTarget inner{"mshv-v1"};
  Outcome step(const Op& op) {
    Outcome out = inner.step(op);
    if (std::holds_alternative<SetAttr>(op) && out.err == 0) out.res.file_refs++;
    return out;
  }
  void finish() { inner.finish(); }
  void reap() { inner.reap(); }
};

TEST(MshvNegative, ResourceComparisonCatchesMiscountedReferences) {
  Trace trace = parse_text(
      "# lockstep mshv  profile=mshv-v1\np0 = open_partition()\nd0 = create_device(p0, type=0, "
      "flags=0x0)\n"
      "f0 = open_vfio_file()\nset_attr(d0, group=1, attr=1, fd=f0)\n");
  Model model(*find_profile("mshv-v1"));
  MiscountingTarget target;
  auto verdict = run<Protocol>(trace.ops, model, target);
  ASSERT_FALSE(verdict.ok());
  EXPECT_EQ(verdict.divergence->index, 3u);
  EXPECT_EQ(verdict.divergence->signature,
            "lockstep: divergence mshv/SET_DEVICE_ATTR/resources.file_refs");
}

TEST(MshvNegative, FdOracleCatchesALeakNoOutcomeShows) {
  Trace trace = parse_text("# lockstep mshv  profile=mshv-v1\np0 = open_partition()\n");
  Model model(*find_profile("mshv-v1"));
  LeakingTarget target;
  auto verdict = run<Protocol>(trace.ops, model, target);
  ASSERT_FALSE(verdict.ok());
  EXPECT_EQ(verdict.divergence->field, "fds");
  EXPECT_EQ(verdict.fds_delta, 1) << testing::PrintToString(verdict.divergence->leaked);
  EXPECT_EQ(verdict.fds_expected, 0);
}

// Each model mutant disagrees with mshv-v1 on at least one corpus program: the programs are
// sharp enough to tell a broken rule from the real one.
TEST(MshvNegative, EveryModelMutantDiffersFromV1OnTheCorpus) {
  for (const Profile* mutant : mutant_profiles()) {
    bool differs = false;
    for (const Trace& trace : corpus_programs()) {
      if (trace.profile != "mshv-v1") continue;
      Model good(*find_profile("mshv-v1")), bad(*mutant);
      for (const Op& op : trace.ops) differs |= !(good.step(op) == bad.step(op));
      differs |= good.fds_left_open() != bad.fds_left_open();
    }
    EXPECT_TRUE(differs) << mutant->name << " is indistinguishable from mshv-v1 on the corpus";
  }
}

TEST(MshvNegative, SignaturesAreStable) {
  EXPECT_EQ(divergence_signature("mshv", "CREATE_DEVICE", "err"),
            "lockstep: divergence mshv/CREATE_DEVICE/err");
  EXPECT_EQ(fd_leak_signature("vhost"), "lockstep: fd-leak vhost");
}

}  // namespace
}  // namespace lockstep::mshv
