// The proof tests every protocol has, written once as a typed test suite over the protocol's
// binding (tools/bindings.h) and instantiated by tests/proofs/<protocol>/invariants_test.cc:
// the invariant files match invariants.def, the well_formed strengthening is needed exactly where
// declared, the committed counterexamples replay, the README lists the proofs' scope, and the
// vacuity check reports a vacuous proof as vacuous (negative variants below).
#pragma once
#include "tests/proofs/support.h"

namespace lockstep::proofs::testing {

// INSTANTIATE_TYPED_TEST_SUITE_P(MshvProofs, ProtocolProofs, tools::MshvBinding) runs them for
// MSHV as MshvProofs/ProtocolProofs/0.* (ctest: MshvProofs.*).
template <class B>
class ProtocolProofs : public ::testing::Test {};

// A negative variant of an encoding: nothing is valid and nothing is well formed (the
// contradictory premise of the vacuity tests).
template <class E>
struct Contradictory : E {
  using E::E;
  z3::expr valid(const typename E::SymState&, const typename E::SymAction&) {
    return this->ctx().bool_val(false);
  }
  z3::expr well_formed(const typename E::SymState&) { return this->ctx().bool_val(false); }
};

// The same invariant, checked on Contradictory<E>.
template <class E>
Invariant<Contradictory<E>> contradictory(const Invariant<E>& inv) {
  using C = Contradictory<E>;
  auto view = [](const StepView<C>& v) { return StepView<E>{v.pre, v.a, v.r}; };
  Invariant<C> out;
  out.name = inv.name;
  out.strengthened = inv.strengthened;
  if (inv.state)
    out.state = [f = inv.state](C& e, const typename E::SymState& s) { return f(e, s); };
  if (inv.step)
    out.step = [f = inv.step, view](C& e, const StepView<C>& v) { return f(e, view(v)); };
  if (inv.antecedent)
    out.antecedent = [f = inv.antecedent, view](C& e, const StepView<C>& v) {
      return f(e, view(v));
    };
  return out;
}
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

// The README's proofs section lists the bounds and exclusions exactly as the binding defines
// them (scope() next to the encoding, printed by `lockstep prove`).
TYPED_TEST_P(ProtocolProofs, ReadmeListsTheScope) {
  const std::string readme = read_file(fs::path(LOCKSTEP_SOURCE_DIR) / "README.md");
  const std::string want = scope_markdown(TypeParam::kName, TypeParam::Proofs::scope());
  EXPECT_NE(readme.find(want), std::string::npos) << "README.md must contain:\n" << want;
}

// Every representable op of the shipped corpus is admitted by valid(), on every profile; an
// encoding whose valid() admits nothing is caught by the same sample.
TYPED_TEST_P(ProtocolProofs, CorpusOpsPassTheValidityPredicate) {
  using E = EncodingOf<TypeParam>;
  const auto programs =
      read_corpus_programs<TypeParam>(std::string(LOCKSTEP_SOURCE_DIR) + "/corpus");
  ASSERT_FALSE(programs.empty());
  for (const auto* p : every_profile<TypeParam>()) {
    Evaluator<E> ev(*p);
    const Sample s = sample_ops<TypeParam>(ev, *p, programs);
    EXPECT_GT(s.representable, s.ops / 2) << p->name;
    EXPECT_EQ(s.accepted, s.representable) << p->name << ": " << s.rejected.front();
  }
  const auto* p = profiles_that_must_hold<TypeParam>().front();
  Evaluator<Contradictory<E>> none(*p);
  EXPECT_EQ(sample_ops<TypeParam>(none, *p, programs).accepted, 0u);
}

// A deliberately vacuous proof is reported as vacuous, never as holds, and no profile that must
// hold everything accepts it: (1) an antecedent no trace reaches (a state that is not
// well_formed), whose invariant the induction closes at once; (2) a contradictory premise: a
// strengthened invariant checked on an encoding whose well_formed is false, so the inductive
// step assumes nothing can happen.
TYPED_TEST_P(ProtocolProofs, VacuousProofsAreReportedAsVacuous) {
  using E = EncodingOf<TypeParam>;
  for (const auto* p : profiles_that_must_hold<TypeParam>()) {
    EXPECT_FALSE(TypeParam::Proofs::acceptable(*p, Status::Vacuous)) << p->name;
    Invariant<E> unreachable;
    unreachable.name = "unreachable_antecedent";
    unreachable.antecedent = [](E& e, const StepView<E>& v) { return !e.well_formed(v.r.next); };
    unreachable.step = [](E& e, const StepView<E>&) { return e.ctx().bool_val(false); };
    unreachable.strengthened = true;
    auto r = check(unreachable, *p);
    EXPECT_EQ(r.status, Status::Vacuous) << p->name;
    EXPECT_EQ(r.vacuity.witness, 0) << p->name;
    EXPECT_TRUE(r.vacuity.premises) << p->name;

    for (const auto& inv : TypeParam::Proofs::invariants()) {
      if (!inv.strengthened) continue;
      auto c = check(contradictory(inv), *p);
      EXPECT_EQ(c.status, Status::Vacuous) << inv.name << " / " << p->name;
      EXPECT_FALSE(c.vacuity.premises) << inv.name << " / " << p->name;
      EXPECT_EQ(check(inv, *p).status, Status::Holds) << inv.name << " / " << p->name;
    }
  }
}

REGISTER_TYPED_TEST_SUITE_P(ProtocolProofs, EveryInvariantFileIsListed,
                            StrengtheningIsNeededWhereDeclared, CommittedCounterexamplesReplay,
                            ReadmeListsTheScope, CorpusOpsPassTheValidityPredicate,
                            VacuousProofsAreReportedAsVacuous);

}  // namespace lockstep::proofs::testing
