// The committed counterexamples (corpus/proofs/vhost/<invariant>__<profile>.txt, written by
// `lockstep prove --protocol vhost --emit-corpus`): replayed against that profile's model (a
// mutant, or a third-party profile where the failure is a finding) the invariant is violated
// on the last step, with the encoding in lockstep with the model; replayed against the `spec`
// model and the real impl through lockstep::run, nothing diverges.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "core/run.h"
#include "core/vhost/codec.h"
#include "impl/vhost/target.h"
#include "model/vhost/model.h"
#include "proofs/vhost/prove.h"

namespace lockstep::vhost::proofs {
namespace {

namespace fs = std::filesystem;

TEST(VhostCounterexamples, ViolateOnTheirProfileAndReplayCleanOnSpecAndImpl) {
  fs::path dir = fs::path(LOCKSTEP_SOURCE_DIR) / "corpus/proofs/vhost";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".txt") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 10u);
  std::set<std::string> covered;
  for (const auto& path : files) {
    SCOPED_TRACE(path.filename().string());
    std::string stem = path.stem().string();
    auto sep = stem.find("__");
    ASSERT_NE(sep, std::string::npos);
    std::string inv_name = stem.substr(0, sep), profile_name = stem.substr(sep + 2);
    std::ifstream in(path);
    Trace trace = parse_text(std::string{std::istreambuf_iterator<char>(in), {}});
    ASSERT_EQ(trace.profile, profile_name);
    const Profile* profile = find_profile(profile_name);
    ASSERT_TRUE(profile);
    ASSERT_NE(profile->name, "spec");
    auto invs = all_invariants();
    auto inv = std::find_if(invs.begin(), invs.end(), [&](auto& i) { return i.name == inv_name; });
    ASSERT_NE(inv, invs.end());
    covered.insert(inv_name);

    // The profile's model, with the encoding in lockstep: the last step violates.
    Model model(*profile);
    Evaluator ev(*profile);
    for (size_t i = 0; i < trace.ops.size(); ++i) {
      auto pre = Encoding::project(model.state());
      auto act = ev.encoding().abstract_op(model.state(), trace.ops[i]);
      ASSERT_TRUE(pre && act) << "op " << i << " not representable";
      auto st = ev.step(*pre, *act);
      Outcome out = model.step(trace.ops[i]);
      auto post = *Encoding::project(model.state());
      auto got = st.next;
      for (size_t g : ghost_positions()) got[g] = post[g] = 0;
      EXPECT_EQ(got, post) << "op " << i;
      EXPECT_EQ(st.reply, Encoding::reply_shape(out)) << "op " << i;
      bool holds = ev.holds(*inv, *pre, *act);
      if (i + 1 < trace.ops.size())
        EXPECT_TRUE(holds) << "violated early, op " << i;
      else
        EXPECT_FALSE(holds) << "not violated on the last op";
    }

    // spec model + real impl: no divergence, no fd leak.
    Model good(*find_profile("spec"));
    ImplTarget target("spec");
    auto verdict = run<Protocol>(trace.ops, good, target);
    EXPECT_TRUE(verdict.ok()) << verdict.divergence->signature;
  }
  for (const Invariant& inv : all_invariants()) {
    if (!inv.auxiliary) {
      EXPECT_TRUE(covered.count(inv.name)) << inv.name;
    }
  }
}

}  // namespace
}  // namespace lockstep::vhost::proofs
