// What the MSHV and vhost proof tests (tests/proofs/<protocol>/) share: corpus programs, the
// C++ model and the Z3 encoding stepped in lockstep, the replay of the committed
// counterexamples, and the pinned verdicts of the proofs. Generic over a protocol binding B of
// tools/bindings.h, whose B::Proofs is the protocol's proof binding (proofs/<protocol>/binding.h).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/program_files.h"
#include "core/run.h"
#include "proofs/driver.h"
#include "tools/bindings.h"

namespace lockstep::proofs::testing {

namespace fs = std::filesystem;

template <class B>
using EncodingOf = typename B::Proofs::Encoding;
template <class B>
using ProfileOf = typename EncodingOf<B>::Profile;
using ExpectedFailures = std::map<std::string, std::set<std::string>>;  // invariant -> profiles

// Every readable program (*.txt) under the directories of the source tree, sorted by path.
template <class B>
std::vector<typename B::Trace> read_programs(std::initializer_list<const char*> dirs) {
  std::vector<fs::path> files;
  for (const char* dir : dirs) {
    for (auto& path : program_paths(fs::path(LOCKSTEP_SOURCE_DIR) / dir))
      files.push_back(std::move(path));
  }
  std::sort(files.begin(), files.end());
  std::vector<typename B::Trace> out;
  for (const auto& path : files) {
    std::ifstream in(path);
    out.push_back(B::parse(std::string{std::istreambuf_iterator<char>(in), {}}));
  }
  return out;
}

// Shipped profiles, then the negative variants.
template <class B>
std::vector<const ProfileOf<B>*> every_profile() {
  auto v = B::Proofs::shipped_profiles();
  for (const auto* p : B::Proofs::mutant_profiles()) v.push_back(p);
  return v;
}

// For INSTANTIATE_TEST_SUITE_P over every_profile(): "dpdk-22.11" -> "dpdk_22_11".
struct ProfileParamName {
  template <class Info>
  std::string operator()(const Info& info) const {
    std::string n = info.param->name;
    std::replace_if(
        n.begin(), n.end(), [](char ch) { return !std::isalnum(ch); }, '_');
    return n;
  }
};

inline std::string values_text(const std::vector<uint64_t>& v) {
  std::string out;
  for (uint64_t x : v) out += std::to_string(x) + " ";
  return out;
}

// One op run by the model and, from the projection of the model's pre-state, by the encoding.
template <class Outcome>
struct LockstepStep {
  std::vector<uint64_t> pre, action;             // the encoding's input
  std::vector<uint64_t> next, post;              // the encoding's post-state, the model's projected
  std::vector<uint64_t> outcome, model_outcome;  // the same for the outcome
  Outcome out;                                   // what Model::step returned
  bool valid = true;                             // the encoding's valid() admits the action
};

// Steps the model; nullopt when the abstraction cannot represent the step (its pre-state, the op,
// its post-state or its outcome).
template <class E, class Model>
auto step_in_lockstep(Evaluator<E>& ev, Model& model, const typename E::Op& op)
    -> std::optional<LockstepStep<decltype(model.step(op))>> {
  E& e = ev.encoding();
  auto pre = e.project(model.state());
  auto action = e.abstract_op(model.state(), op);
  auto out = model.step(op);
  auto post = e.project(model.state());
  auto model_outcome = E::outcome_values(out);
  if (!pre || !action || !post || !model_outcome) return std::nullopt;
  auto got = ev.step(*pre, *action);
  return LockstepStep<decltype(out)>{
      *pre, *action, got.next, *post, got.outcome, *model_outcome, out, ev.valid(*pre, *action)};
}

// The encoding admits the step (valid()) and computed what the model computed, ghost components
// aside.
template <class E, class Outcome>
::testing::AssertionResult same_step(const LockstepStep<Outcome>& s) {
  auto next = s.next, post = s.post;
  for (size_t g : E::ghost_positions()) next[g] = post[g] = 0;
  if (s.valid && next == post && s.outcome == s.model_outcome) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << (s.valid ? "" : "\nvalid() rejects the action") << "\npre     " << values_text(s.pre)
         << "\naction  " << values_text(s.action) << "\nnext    " << values_text(next)
         << "\nmodel   " << values_text(post) << "\noutcome " << values_text(s.outcome)
         << "\nmodel   " << values_text(s.model_outcome);
}

// The encoding's initial state is the projection of the model's.
template <class B>
void expect_same_initial_state(Evaluator<EncodingOf<B>>& ev, const ProfileOf<B>& profile) {
  typename B::Model model(profile);
  auto want = ev.encoding().project(model.state());
  ASSERT_TRUE(want);
  auto got = ev.init();
  for (size_t g : EncodingOf<B>::ghost_positions()) got[g] = (*want)[g] = 0;
  EXPECT_EQ(got, *want) << profile.name;
}

// The committed counterexamples under `dir` (<invariant>__<profile>.txt, written by
// `lockstep prove --emit-corpus`): each is for a profile allowed to fail; replayed on that
// profile's model, with the encoding in lockstep, the invariant is violated on the last step and
// not before; replayed on the profile its fuzz input runs under against the real implementation
// (lockstep::run), nothing diverges. Every invariant but well_formed has one.
template <class B>
void replay_counterexamples(const std::string& dir) {
  using P = typename B::Proofs;
  using E = EncodingOf<B>;
  const std::vector<fs::path> files = program_paths(fs::path(LOCKSTEP_SOURCE_DIR) / dir);
  const auto invariants = P::invariants();
  ASSERT_GE(files.size(), invariants.size() - 1);
  std::set<std::string> covered;
  for (const auto& path : files) {
    SCOPED_TRACE(path.filename().string());
    const std::string stem = path.stem().string();
    const auto sep = stem.find("__");
    ASSERT_NE(sep, std::string::npos);
    const std::string inv_name = stem.substr(0, sep), profile_name = stem.substr(sep + 2);
    std::ifstream in(path);
    const auto trace = B::parse(std::string{std::istreambuf_iterator<char>(in), {}});
    ASSERT_EQ(trace.profile, profile_name);
    const auto* profile = P::find_profile(profile_name);
    ASSERT_TRUE(profile);
    ASSERT_TRUE(P::acceptable(*profile, Status::Fails)) << "a profile that must hold";
    auto inv = std::find_if(invariants.begin(), invariants.end(),
                            [&](const auto& i) { return i.name == inv_name; });
    ASSERT_NE(inv, invariants.end());
    covered.insert(inv_name);

    typename B::Model model(*profile);
    Evaluator<E> ev(*profile);
    for (size_t i = 0; i < trace.ops.size(); ++i) {
      auto step = step_in_lockstep(ev, model, trace.ops[i]);
      ASSERT_TRUE(step) << "op " << i << " not representable";
      EXPECT_TRUE(same_step<E>(*step)) << "op " << i;
      const bool holds = ev.holds(*inv, step->pre, step->action);
      if (i + 1 < trace.ops.size())
        EXPECT_TRUE(holds) << "violated early, op " << i;
      else
        EXPECT_FALSE(holds) << "not violated on the last op";
    }

    const std::string clean = P::fuzz_profile(profile_name);
    auto good = B::model(clean);
    auto target = B::target(clean);
    auto verdict = run<typename B::P>(trace.ops, good, target);
    EXPECT_TRUE(verdict.ok()) << clean << ": "
                              << (verdict.ok() ? "" : verdict.divergence->signature);
  }
  for (const auto& inv : invariants) {
    if (!inv.auxiliary) {
      EXPECT_TRUE(covered.count(inv.name)) << inv.name;
    }
  }
}

// Every invariant on every given profile: fails exactly where expected (with a counterexample
// for that profile, as long as the depth found), is vacuous exactly where expected (the
// induction closes at k = 1 but the antecedent is never reached), holds by 1-induction with a
// witness everywhere else. The expectation names every invariant. Returns the profiles on which
// something failed.
template <class B>
std::set<std::string> expect_verdicts(const std::vector<const ProfileOf<B>*>& profiles,
                                      const ExpectedFailures& expected,
                                      const ExpectedFailures& vacuous = {}) {
  const auto invariants = B::Proofs::invariants();
  std::set<std::string> named;
  for (const auto& inv : invariants) named.insert(inv.name);
  std::set<std::string> listed;
  for (const auto& entry : expected) listed.insert(entry.first);
  EXPECT_EQ(listed, named);
  std::set<std::string> failed_somewhere;
  for (const auto* p : profiles)
    for (const auto& inv : invariants) {
      auto r = check(inv, *p);
      const bool fails = expected.count(inv.name) && expected.at(inv.name).count(p->name);
      const bool vac = vacuous.count(inv.name) && vacuous.at(inv.name).count(p->name);
      EXPECT_EQ(r.status, fails ? Status::Fails
                          : vac ? Status::Vacuous
                                : Status::Holds)
          << inv.name << " / " << p->name;
      if (r.status == Status::Holds || r.status == Status::Vacuous) {
        EXPECT_EQ(r.k, 1) << inv.name << " / " << p->name;
        EXPECT_TRUE(r.vacuity.premises) << inv.name << " / " << p->name;
      }
      if (r.status == Status::Holds) {
        EXPECT_GT(r.vacuity.witness, 0) << inv.name << " / " << p->name;
      }
      if (r.status != Status::Fails) continue;
      failed_somewhere.insert(p->name);
      EXPECT_TRUE(r.counterexample) << inv.name << " / " << p->name;
      if (!r.counterexample) continue;
      EXPECT_EQ(r.counterexample->ops.size(), static_cast<size_t>(r.k));
      EXPECT_EQ(r.counterexample->profile, p->name);
    }
  return failed_somewhere;
}

// The profiles that must hold every invariant (the binding does not accept a failure there).
template <class B>
std::vector<const ProfileOf<B>*> profiles_that_must_hold() {
  std::vector<const ProfileOf<B>*> out;
  for (const auto* p : every_profile<B>())
    if (!B::Proofs::acceptable(*p, Status::Fails)) out.push_back(p);
  return out;
}

}  // namespace lockstep::proofs::testing
