// The committed counterexamples (corpus/proofs/mshv/<invariant>__<mutant>.txt, written by
// `lockstep prove --emit-corpus`): replayed against the mutant model, the invariant's predicate
// is violated on the last step; replayed against mshv-v1 model and the real impl through
// lockstep::run, nothing diverges (the impl is not broken).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/mshv/codec.h"
#include "core/run.h"
#include "impl/mshv/target.h"
#include "model/mshv/model.h"
#include "proofs/mshv/prove.h"

namespace lockstep::mshv::proofs {
namespace {

namespace fs = std::filesystem;

TEST(MshvCounterexamples, ViolateTheInvariantOnTheMutantAndReplayCleanOnTheImpl) {
  fs::path dir = fs::path(LOCKSTEP_SOURCE_DIR) / "corpus/proofs/mshv";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".txt") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 7u);
  std::set<std::string> invariants_covered;
  for (const auto& path : files) {
    SCOPED_TRACE(path.filename().string());
    std::string stem = path.stem().string();
    auto sep = stem.find("__");
    ASSERT_NE(sep, std::string::npos);
    std::string inv_name = stem.substr(0, sep), profile_name = stem.substr(sep + 2);
    std::ifstream in(path);
    Trace trace = parse_text(std::string{std::istreambuf_iterator<char>(in), {}});
    ASSERT_EQ(trace.profile, profile_name);
    const Profile* mutant = find_profile(profile_name);
    ASSERT_TRUE(mutant && mutant->mutant);
    auto invs = all_invariants();
    auto inv = std::find_if(invs.begin(), invs.end(), [&](auto& i) { return i.name == inv_name; });
    ASSERT_NE(inv, invs.end());
    invariants_covered.insert(inv_name);

    // The mutant model (and the encoding, in lockstep with it) ends in a violation.
    Model model(*mutant);
    Evaluator ev(*mutant);
    for (size_t i = 0; i < trace.ops.size(); ++i) {
      ASSERT_TRUE(ev.holds_last(*inv)) << "violated before the last op, at op " << i;
      EXPECT_EQ(ev.step(trace.ops[i]), model.step(trace.ops[i]).err) << "op " << i;
    }
    EXPECT_FALSE(ev.holds_last(*inv));
    auto ghosts = Encoding::ghost_positions();
    auto got = ev.state(), want = ev.encode(model.state());
    for (size_t g : ghosts) got[g] = want[g] = 0;
    EXPECT_EQ(got, want);

    // mshv-v1 model + real impl: no divergence, no fd leak.
    Model good(*find_profile("mshv-v1"));
    ImplTarget target("mshv-v1");
    auto verdict = run<Protocol>(trace.ops, good, target);
    EXPECT_TRUE(verdict.ok()) << (verdict.ok() ? "" : verdict.divergence->signature);
  }
  for (const Invariant& inv : all_invariants()) {
    if (!inv.auxiliary) {
      EXPECT_TRUE(invariants_covered.count(inv.name)) << inv.name;
    }
  }
}

}  // namespace
}  // namespace lockstep::mshv::proofs
