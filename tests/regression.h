// The runtime of the tests `lockstep corpus to-gtest` writes (tests/regressions/): one program,
// run against the protocol's real implementation and the model under the program's profile.
// A test passes only when the two agree op by op, the fds balance, and every op's outcome is
// the note the generator wrote (the model's outcome when it was generated).
// LOCKSTEP_IMPL_MUTANT (`lockstep mutants`) runs the real implementation as a mutant: the
// ctests `regression_test_catches_*` prove a generated test fails on the defect it was made from.
#pragma once
#include <gtest/gtest.h>

#include <string_view>

#include "core/report.h"
#include "impl/mutants.h"
#include "tools/bindings.h"

namespace lockstep::regression {

template <class B>
void expect_conforms(std::string_view program) {
  typename B::Trace trace = B::parse(program);
  ASSERT_TRUE(B::target_supports(trace.profile)) << "no real target for " << trace.profile;
  auto model = B::model(trace.profile);
  auto target = B::target(trace.profile, impl_mutant_from_env(B::kName, "regression_test"));
  const auto verdict = run<typename B::P>(trace.ops, model, target);
  EXPECT_TRUE(verdict.ok()) << (verdict.divergence ? verdict.divergence->signature : "") << "\n"
                            << side_by_side<typename B::P>(trace.profile, trace.ops, verdict);
  for (const std::string& m : B::note_mismatches(trace, verdict.target))
    ADD_FAILURE() << "the implementation: " << m;
  for (const std::string& m : B::note_mismatches(trace, verdict.model))
    ADD_FAILURE() << "the model: " << m;
}

using mshv_binding = tools::MshvBinding;
using vhost_binding = tools::VhostBinding;

}  // namespace lockstep::regression

#define LOCKSTEP_REGRESSION(protocol, name, program)                                              \
  TEST(Regression_##protocol, name) {                                                             \
    ::lockstep::regression::expect_conforms<::lockstep::regression::protocol##_binding>(program); \
  }
