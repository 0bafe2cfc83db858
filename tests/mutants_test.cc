// The impl mutants (impl/mutants.h): each is caught by run() on the shipped corpus with the
// signature its registry row names, the registry is well formed, and docs/mutants.md lists it.
// The same corpus replayed by the fuzz targets is checked per mutant by the
// `fuzz_<target>_catches_<name>` ctests (tests/CMakeLists.txt, generated from the same rows).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/program_files.h"
#include "core/run.h"
#include "impl/mutants.h"
#include "tools/bindings.h"

namespace lockstep {

void PrintTo(const ImplMutant& m, std::ostream* os) {
  *os << m.protocol << "/" << m.name;
}

namespace {

namespace fs = std::filesystem;

// The binary inputs of a corpus directory in the order the replay driver takes them.
std::vector<std::string> corpus_inputs(std::string_view corpus) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(fs::path(LOCKSTEP_SOURCE_DIR) / "corpus" / corpus))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(read_file(f));
  return out;
}

struct Catch {
  Divergence divergence;
  size_t input = 0;  // index in corpus_inputs()
};

// What the fuzz target does per input (decode, model, target with the mutant, run), over the
// shipped corpus: the first divergence, or nothing.
template <class B>
std::optional<Catch> first_catch(int mutant) {
  const std::vector<std::string> inputs = corpus_inputs(B::kCorpus);
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto trace = B::decode({reinterpret_cast<const uint8_t*>(inputs[i].data()), inputs[i].size()});
    auto model = B::model(trace.profile);
    auto target = B::target(trace.profile, mutant);
    auto verdict =
        run<typename B::P>(trace.ops, model, target, {.check_fds = true, .record = false});
    if (!verdict.ok()) return Catch{*verdict.divergence, i};
  }
  return std::nullopt;
}

std::optional<Catch> first_catch(std::string_view protocol, int mutant) {
  return tools::with_binding(protocol, [&](auto b) { return first_catch<decltype(b)>(mutant); });
}

class ImplMutantCatch : public testing::TestWithParam<ImplMutant> {};

// A race mutant is the other way round: one thread never races, so the corpus passes, and the
// tsan preset's tsan_<protocol>_stress_catches_<name> ctest requires ThreadSanitizer's report.
TEST_P(ImplMutantCatch, RunCatchesItOnTheShippedCorpus) {
  const ImplMutant& m = GetParam();
  const std::optional<Catch> caught = first_catch(m.protocol, m.id);
  if (m.race()) {
    EXPECT_FALSE(caught) << m.name << " is seen by a one-thread run ("
                         << caught->divergence.signature
                         << "): not a race, give it the field it corrupts";
    return;
  }
  ASSERT_TRUE(caught) << m.name << " survives the shipped corpus";
  EXPECT_EQ(caught->divergence.field, m.field) << caught->divergence.signature;
  EXPECT_EQ(caught->divergence.signature, m.signature()) << "corpus input #" << caught->input;
  if (m.field == "fds") {
    EXPECT_FALSE(caught->divergence.leaked.empty());
  }
}

std::string test_name(const testing::TestParamInfo<ImplMutant>& info) {
  std::string name = std::string(info.param.protocol) + "_" + std::string(info.param.name);
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Registry, ImplMutantCatch, testing::ValuesIn(impl_mutants()), test_name);

TEST(ImplMutantRegistry, TheUnbrokenImplsPassTheSameCorpus) {
  for (std::string_view protocol : {"mshv", "vhost"}) {
    auto caught = first_catch(protocol, 0);
    EXPECT_FALSE(caught) << protocol << ": " << caught->divergence.signature;
  }
}

// Names are unique and selectable, ids are 1..n per protocol, every field is one the protocol
// compares (or the fd oracle, or "race" for the lock of the MSHV layer), and every compared
// resource field has a mutant of its own.
TEST(ImplMutantRegistry, RowsAreWellFormed) {
  const std::set<std::string_view> fields[] = {
      {"fds", "err", "resources.partitions", "resources.partition_refs", "resources.devices",
       "resources.file_refs", "race"},
      {"fds", "reply.count", "reply.request", "reply.flags", "reply.size", "reply.payload",
       "reply.fds", "closed", "resources.uffds", "resources.regions_mapped",
       "resources.regions_registered", "resources.held_fds", "resources.phase"}};
  std::set<std::string> names, covered;
  int next_id[2] = {1, 1};
  for (const ImplMutant& m : impl_mutants()) {
    const int p = m.protocol == "mshv" ? 0 : 1;
    ASSERT_TRUE(m.protocol == "mshv" || m.protocol == "vhost") << m.protocol;
    EXPECT_EQ(m.id, next_id[p]++) << m.name;
    EXPECT_TRUE(names.insert(std::string(m.protocol) + "/" + std::string(m.name)).second) << m.name;
    EXPECT_FALSE(m.name.starts_with("mutant")) << m.name;
    EXPECT_FALSE(m.summary.empty()) << m.name;
    EXPECT_TRUE(fields[p].count(m.field)) << m.name << ": " << m.field;
    if (m.race()) {  // no op: ThreadSanitizer, not the runner, catches it
      EXPECT_TRUE(m.op.empty()) << m.name;
      EXPECT_EQ(m.signature(), "WARNING: ThreadSanitizer: data race");
    } else if (m.field != "fds") {  // an fd is caught at an op (census) or at the end (fd-leak)
      EXPECT_FALSE(m.op.empty()) << m.name;
    }
    EXPECT_EQ(impl_mutant_id(m.protocol, m.name), m.id);
    covered.insert(std::string(m.protocol) + ":" + std::string(m.field));
  }
  EXPECT_GE(impl_mutants().size(), 12u);
  for (const char* f :
       {"mshv:fds", "mshv:err", "mshv:resources.partitions", "mshv:resources.partition_refs",
        // vhost's end-of-trace fd check has no mutant that reaches it first (the per-op census
        // catches every vhost fd defect earlier): tests/census_test.cc proves it fires alone.
        "mshv:resources.devices", "mshv:resources.file_refs", "mshv:race", "vhost:reply.count",
        "vhost:reply.request", "vhost:reply.flags", "vhost:reply.size", "vhost:reply.payload",
        "vhost:reply.fds", "vhost:closed", "vhost:resources.uffds",
        "vhost:resources.regions_mapped", "vhost:resources.regions_registered",
        "vhost:resources.held_fds", "vhost:resources.phase"})
    EXPECT_TRUE(covered.count(f)) << "no impl mutant corrupts " << f;
}

TEST(ImplMutantRegistry, UnknownNamesAreAClearError) {
  EXPECT_EQ(impl_mutant_id("mshv", ""), 0);
  try {
    impl_mutant_id("vhost", "del-keeps-ref");  // an MSHV name
    ADD_FAILURE() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown vhost impl mutant 'del-keeps-ref'"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("end-keeps-uffd"), std::string::npos) << e.what();
  }
  EXPECT_THROW(impl_mutant_id("mshv", "mutant-del-keeps-ref"), std::invalid_argument);
}

// The kill-matrix tool reads this shape: [{"protocol","name","summary","field"}, ...].
TEST(ImplMutantRegistry, JsonHasTheFixedShape) {
  const std::string json = impl_mutants_json();
  ASSERT_TRUE(json.starts_with("[{\"protocol\":\"mshv\",\"name\":\"del-keeps-ref\",\"summary\":\""))
      << json.substr(0, 80);
  EXPECT_TRUE(json.ends_with("}]\n"));
  size_t rows = 0;
  for (size_t at = 0; (at = json.find("{\"protocol\":", at)) != std::string::npos; ++at) ++rows;
  EXPECT_EQ(rows, impl_mutants().size());
  for (const ImplMutant& m : impl_mutants())
    EXPECT_NE(json.find("\"name\":\"" + std::string(m.name) + "\""), std::string::npos);
}

// docs/mutants.md carries the registry's table between its markers, byte for byte.
TEST(ImplMutantRegistry, DocsListMatchesTheRegistry) {
  const std::string doc = read_file(fs::path(LOCKSTEP_SOURCE_DIR) / "docs/mutants.md");
  const std::string open = "<!-- mutants: list -->\n", close = "<!-- /mutants: list -->";
  const size_t begin = doc.find(open), end = doc.find(close);
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(doc.substr(begin + open.size(), end - begin - open.size()), impl_mutants_markdown())
      << "regenerate with `lockstep mutants --markdown`";
}

}  // namespace
}  // namespace lockstep
