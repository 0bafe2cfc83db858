// One test per path of the MSHV model (model/mshv/model.cc): each readable program under
// corpus/programs/mshv_*/ names one errno path or state transition and carries the expected
// outcome of every line, written from the reference, not from the model. Each program runs
// against the model, and against the real device layer where it implements the profile; both
// must match every annotation, and each other op by op (run(): err and resource counts), and
// the process's fds must balance.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/mshv/codec.h"
#include "core/program_files.h"
#include "core/report.h"
#include "impl/mshv/target.h"
#include "model/mshv/model.h"

namespace lockstep::mshv {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> programs() {
  std::vector<fs::path> out;
  for (const char* dir : {"mshv_device", "mshv_kvm"})
    for (auto& path : program_paths(fs::path(LOCKSTEP_SOURCE_DIR) / "corpus/programs" / dir))
      out.push_back(std::move(path));
  std::sort(out.begin(), out.end());
  return out;
}

Trace load(const fs::path& path) {
  return parse_text(read_file(path));
}

void expect_annotations(const Trace& trace, const std::vector<Outcome>& outcomes,
                        const char* side) {
  ASSERT_EQ(trace.notes.size(), trace.ops.size()) << "every line needs an expected outcome";
  for (size_t i = 0; i < outcomes.size(); ++i) {
    auto expected = expected_errno(trace.notes[i]);
    ASSERT_TRUE(expected.has_value()) << "line " << i + 1 << " has no '= N' or errno note";
    EXPECT_EQ(errno_note(outcomes[i].err), errno_note(*expected))
        << side << ", line " << i + 1 << ": " << Protocol::call_lines(trace.ops)[i];
  }
}

class MshvProgram : public ::testing::TestWithParam<fs::path> {};

TEST_P(MshvProgram, ModelMatchesAnnotations) {
  Trace trace = load(GetParam());
  Model model(*find_profile(trace.profile));
  std::vector<Outcome> outcomes;
  for (const auto& op : trace.ops) outcomes.push_back(model.step(op));
  expect_annotations(trace, outcomes, "model");
}

TEST_P(MshvProgram, ImplMatchesAnnotationsAndModel) {
  Trace trace = load(GetParam());
  if (trace.profile != "mshv-v1" && trace.profile != "mshv-strict")
    GTEST_SKIP() << "profile " << trace.profile << " is checked against its peer (lockstep peer)";
  Model model(*find_profile(trace.profile));
  ImplTarget target(trace.profile);
  auto verdict = run<Protocol>(trace.ops, model, target);
  EXPECT_TRUE(verdict.ok()) << side_by_side<Protocol>(trace.profile, trace.ops, verdict);
  expect_annotations(trace, verdict.target, "impl");
}

std::string test_name(const ::testing::TestParamInfo<fs::path>& info) {
  std::string name =
      info.param.parent_path().filename().string() + "_" + info.param.stem().string();
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(MshvCorpus, MshvProgram, ::testing::ValuesIn(programs()), test_name);

}  // namespace
}  // namespace lockstep::mshv
