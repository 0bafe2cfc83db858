// The shared peer campaign (peers/campaign.h) over a fake peer that needs nothing from the
// machine: the corpus phase's tallies, the shrink, the one policy for a flaky shrink, the
// finding files, the report skeleton, the exit codes, and the expectations file
// (peers/expectations.h) both real peers use: its parser's errors, the classification it gives,
// and the audit's negative tests (an entry missing, a bogus entry, an entry in the wrong place).
#include "peers/campaign.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "core/trace.h"

namespace lockstep::peers {
namespace {

namespace fs = std::filesystem;

struct FakeCheck {
  std::optional<Skip> skipped;
  std::string signature;
  std::string side_by_side;
};
struct FakeEnvironment {
  std::string unavailable;
};

// A peer whose ops are numbers: 7 and 8 always disagree with the model (7 explained, 8 not),
// 9 disagrees only the first time a given trace is run (a flaky peer), a negative number is an
// op the peer cannot take.
struct FakeBinding : BindingTypes<lockstep::Trace<int>, FakeCheck, FakeEnvironment> {
  static constexpr const char* kDirs[] = {"fake"};
  static constexpr const char* kProfiles[] = {"fake-1"};
  static constexpr PeerInfo kInfo = {"fake", "Fake", "fake-1", "fake-1, fake-2", kDirs, kProfiles};

  static inline std::string unavailable, cannot_start;

  static Environment probe() { return {unavailable}; }
  static bool runs_profile(const std::string& p) { return p == "fake-1" || p == "fake-2"; }
  static Trace parse(std::string_view text) {
    Trace t;
    std::istringstream in{std::string(text)};
    for (int op; in >> op;) t.ops.push_back(op);
    return t;
  }
  static ReportText report_text(const Environment& env, const PeerOptions&) {
    ReportText t;
    t.title = "Fake peer";
    t.environment = {{"fake", env.unavailable.empty() ? "usable" : env.unavailable}};
    t.compared = "Everything.";
    t.sections = {{"Extra", "An extra section.\n"}};
    t.traces = "Generated traces: small numbers.";
    t.signature = "profile, op";
    t.unreachable = "Negative numbers.";
    return t;
  }

  FakeBinding(const PeerOptions&, const Environment&) {
    if (!cannot_start.empty()) throw std::runtime_error(cannot_start);
  }

  static Trace in_profile(const Trace& program, const std::string&) { return program; }
  static std::optional<Skip> first_skip(const Trace& t) {
    for (size_t i = 0; i < t.ops.size(); ++i)
      if (t.ops[i] < 0) return Skip{i, "negative: not taken"};
    return std::nullopt;
  }
  Check check(const Trace& t) {
    Check c;
    c.skipped = first_skip(t);
    if (c.skipped) return c;
    for (int op : t.ops) c.side_by_side += std::to_string(op) + " ";
    c.side_by_side += "\n";
    const bool first_time = seen.insert(t.ops).second;
    for (int op : t.ops)
      if (op == 7 || op == 8 || (op == 9 && first_time))
        c.signature = t.profile + ": op " + std::to_string(op);
    return c;
  }
  static std::optional<Trace> without(const Trace& t, size_t i) {
    Trace out = t;
    out.ops.erase(out.ops.begin() + static_cast<long>(i));
    return out;
  }
  static Classification classify(const Trace& minimal, const Check& check) {
    if (check.signature.ends_with("op 8")) return {};  // unclassified by default
    return {'c', "explained; minimal has " + std::to_string(minimal.ops.size()) + " op(s)"};
  }
  static Trace generate(std::mt19937_64& rng, const std::string& profile) {
    Trace t;
    t.profile = profile;
    t.ops = {static_cast<int>(rng() % 5), static_cast<int>(rng() % 5)};
    return t;
  }
  static std::string evidence(const Check&) { return "# fake evidence\n"; }

  std::set<std::vector<int>> seen;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

class Campaign : public ::testing::Test {
 protected:
  void SetUp() override {
    root = fs::temp_directory_path() /
           ("lockstep-campaign-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
    fs::create_directories(root / "corpus/programs/fake");
    options.corpus_root = (root / "corpus").string();
    options.findings_dir = (root / "findings").string();
    options.report_path = (root / "report.md").string();
    options.expectations = (root / "expectations.txt").string();
    std::ofstream(options.expectations) << "# the fake peer's known disagreements\n";
    options.seconds = 0;
    FakeBinding::unavailable.clear();
    FakeBinding::cannot_start.clear();
  }
  void TearDown() override { fs::remove_all(root); }
  void program(const std::string& name, const std::string& ops) {
    std::ofstream(root / "corpus/programs/fake" / name) << ops << "\n";
  }
  std::string report() const { return slurp(options.report_path); }
  void expect(const std::string& signature, const std::string& cls, const std::string& seen_by) {
    std::ofstream(options.expectations, std::ios::app)
        << "expect " << signature << "\n  class: " << cls << "\n  seen-by: " << seen_by
        << "\n  why: the fake says so\n  evidence: probe fake\n";
  }

  fs::path root;
  PeerOptions options;
};

TEST_F(Campaign, ShrinkDeletesOpsWhileTheSignaturePersists) {
  FakeBinding fake(options, {});
  FakeBinding::Trace t{"fake-1", {1, 2, 7, 3, 4}, {}, {}, {}};
  EXPECT_EQ(shrink(fake, t, "fake-1: op 7").ops, std::vector<int>{7});
}

TEST_F(Campaign, CorpusPhaseCountsCutAndSkippedProgramsAndWritesEachFindingOnce) {
  program("a.txt", "1 2 3");
  program("b.txt", "1 7 2");
  program("c.txt", "-1 4");    // nothing runnable: skipped
  program("d.txt", "5 -2 6");  // run up to the -2: truncated
  program("e.txt", "3 7");     // the same signature as b.txt: a second hit
  expect("fake-1: op 7", "peer-defect", "corpus");
  EXPECT_EQ(run_peer_campaign<FakeBinding>(options), 0);

  const std::string r = report();
  EXPECT_NE(r.find("| fake-1 | corpus | 4 | 9 | 2 | 2 | 50.00% | 1 | 1 |"), std::string::npos) << r;
  EXPECT_NE(r.find("- corpus under fake-1: 5 programs, 3 run whole, 1 run up to their first op "
                   "the peer cannot take, 1 with nothing runnable"),
            std::string::npos)
      << r;
  EXPECT_NE(r.find("Seen 2 time(s); first found by corpus program fake/b.txt"), std::string::npos)
      << r;
  EXPECT_NE(r.find("| negative: not taken | 2 |"), std::string::npos) << r;

  const fs::path file = fs::path(options.findings_dir) / "fake-1-0.txt";
  EXPECT_EQ(slurp(file), "7 \n# fake evidence\n# classification (c): the fake says so [" +
                             options.expectations +
                             ":2, peer-defect; evidence: probe fake]\n"
                             "# heuristic suggestion (c): explained; minimal has 1 op(s)\n"
                             "# found by: corpus program fake/b.txt\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(options.findings_dir), {}), 1);
}

TEST_F(Campaign, ReportHasEverySectionInOrder) {
  program("a.txt", "7");
  expect("fake-1: op 7", "peer-defect", "corpus");
  options.seed = 5;
  ASSERT_EQ(run_peer_campaign<FakeBinding>(options), 0);
  const std::string r = report();
  size_t at = 0;
  for (const char* part :
       {"# Fake peer\n\nGenerated by `lockstep peer fake --profile fake-1 --seconds 0 --seed 5 "
        "--report ",
        "## Environment\n\n| | |\n|---|---|\n| fake | usable |\n| random phase | ",
        "s, seed 5, profile `fake-1` |\n\n## What is compared\n\nEverything.\n\n",
        "## Extra\n\nAn extra section.\n\n## Traces run and agreement\n\n",
        "Corpus programs (`corpus/programs/fake/*.txt`) are run under `fake-1`",
        "Generated traces: small numbers. Both are cut", "## Distinct disagreements (1)\n\n",
        "(profile, op)", "### 1. (c) `fake-1: op 7`\n\n", "```\n7 \n# fake evidence\n```\n\n",
        "## Expectations audit\n\nEvery disagreement is listed in `",
        "## Paths that could not be reached\n\n| reason | traces cut or skipped |\n|---|---|\n\n"
        "Negative numbers.\n\n"}) {
    const size_t found = r.find(part, at);
    ASSERT_NE(found, std::string::npos) << "missing or out of order: " << part << "\n" << r;
    at = found;
  }
}

TEST_F(Campaign, AFlakyShrinkKeepsTheUnshrunkTrace) {
  program("flaky.txt", "1 9 2");
  expect("fake-1: op 9", "spec-ambiguity", "corpus");
  ASSERT_EQ(run_peer_campaign<FakeBinding>(options), 0);
  const std::string finding = slurp(fs::path(options.findings_dir) / "fake-1-0.txt");
  EXPECT_TRUE(finding.starts_with("1 9 2 \n")) << finding;
  EXPECT_NE(finding.find("minimal has 3 op(s)"), std::string::npos) << finding;
}

TEST_F(Campaign, AnUnexplainedDisagreementExitsOne) {
  program("a.txt", "7");
  program("b.txt", "1 8");
  expect("fake-1: op 7", "peer-defect", "corpus");
  EXPECT_EQ(run_peer_campaign<FakeBinding>(options), 1);
  EXPECT_NE(report().find("### 2. (?) `fake-1: op 8`"), std::string::npos) << report();
  EXPECT_NE(report().find("- not in " + options.expectations + ": fake-1: op 8\n"),
            std::string::npos)
      << report();
}

// The file, not the heuristic, classifies; the heuristic is printed as a suggestion.
TEST_F(Campaign, TheExpectationsFileClassifiesAndTheHeuristicOnlySuggests) {
  program("a.txt", "7");
  program("b.txt", "8");
  expect("fake-1: op 7", "deviation", "corpus");
  expect("fake-1: op 8", "model-gap", "corpus");  // the heuristic leaves op 8 unexplained
  ASSERT_EQ(run_peer_campaign<FakeBinding>(options), 0) << report();
  const std::string r = report();
  EXPECT_NE(r.find("### 1. (a) `fake-1: op 7`\n\nthe fake says so ["), std::string::npos) << r;
  EXPECT_NE(r.find("Heuristic suggestion (c): explained"), std::string::npos) << r;
  EXPECT_NE(r.find("### 2. (b) `fake-1: op 8`"), std::string::npos) << r;
}

// Negative: remove the entry a corpus disagreement needs, and the campaign fails.
TEST_F(Campaign, ADisagreementMissingFromTheFileFails) {
  program("a.txt", "7");
  EXPECT_EQ(run_peer_campaign<FakeBinding>(options), 1);
  expect("fake-1: op 7", "peer-defect", "corpus");
  EXPECT_EQ(run_peer_campaign<FakeBinding>(options), 0) << report();
}

// Negative: an entry the corpus should reproduce but does not (a bogus entry, or a peer that
// changed) fails, and the problem names the entry's line; so does a generated entry the corpus
// reproduces. A generated entry the run did not meet is fine.
TEST_F(Campaign, AnEntryTheCorpusDoesNotReproduceFails) {
  program("a.txt", "1 2");
  expect("fake-1: op 5", "peer-defect", "corpus");
  EXPECT_EQ(run_peer_campaign<FakeBinding>(options), 1);
  EXPECT_NE(report().find(options.expectations +
                          ":2: seen-by corpus, but the corpus no longer reproduces it: "
                          "fake-1: op 5"),
            std::string::npos)
      << report();
  std::ofstream(options.expectations, std::ios::trunc) << "";
  expect("fake-1: op 8", "peer-defect", "generated");
  EXPECT_EQ(run_peer_campaign<FakeBinding>(options), 0) << report();
  program("b.txt", "8");
  EXPECT_EQ(run_peer_campaign<FakeBinding>(options), 1);
  EXPECT_NE(report().find("seen-by generated, but the corpus reproduces it: fake-1: op 8"),
            std::string::npos)
      << report();
}

TEST_F(Campaign, AnExpectationsFileThatDoesNotParseExitsFour) {
  program("a.txt", "7");
  std::ofstream(options.expectations, std::ios::app) << "expect fake-1: op 7\n  clas: x\n";
  EXPECT_EQ(run_peer_campaign<FakeBinding>(options), 2);
  options.expectations = (root / "absent.txt").string();
  EXPECT_EQ(run_peer_campaign<FakeBinding>(options), 2);
}

// The parser speaks in file positions and requires every field but none twice.
TEST(Expectations, ParsesEntriesAndNamesTheFilePositionOfEachError) {
  const Expectations e = parse_expectations(
      "# comment\n\nexpect p: a/b\n  class: peer-defect\n  seen-by: corpus\n"
      "  why: because\n  evidence: source x.c: f\n  evidence: probe y\n"
      "expect p: c/d\n\tclass: spec-ambiguity\n\tseen-by: generated\n\twhy: w\n"
      "\tevidence: probe e\n",
      "f.txt");
  ASSERT_EQ(e.entries.size(), 2u);
  EXPECT_EQ(e.entries[0].signature, "p: a/b");
  EXPECT_EQ(e.entries[0].kind, 'c');
  EXPECT_TRUE(e.entries[0].corpus);
  EXPECT_EQ(e.entries[0].evidence, (std::vector<std::string>{"source x.c: f", "probe y"}));
  EXPECT_EQ(e.entries[0].line, 3);
  EXPECT_EQ(e.entries[1].kind, 's');
  EXPECT_FALSE(e.entries[1].corpus);
  ASSERT_NE(e.find("p: c/d"), nullptr);

  const std::string entry = "expect p: a\n  class: deviation\n  seen-by: corpus\n  why: w\n";
  const std::pair<std::string, std::string> bad[] = {
      {"  class: deviation\n", "f.txt:1:3: a field before any `expect` line"},
      {"expectp: a\n", "f.txt:1:1: expected `expect SIGNATURE` or an indented field"},
      {"expect \n", "f.txt:1:8: `expect` without a signature"},
      {entry + "  evidence: probe e\n  clas: x\n", "f.txt:6:3: unknown field 'clas'"},
      {entry + "  evidence e\n", "f.txt:5:3: a field is `name: value`"},
      {entry + "  evidence:\n", "f.txt:5:12: field 'evidence' has no value"},
      {entry + "  evidence: e\n", "f.txt:5:13: evidence is `source FILE: WHERE` or `probe"},
      {"expect p: a\n  class:  defect\n", "f.txt:2:11: unknown class 'defect'"},
      {"expect p: a\n  seen-by: fuzz\n", "f.txt:2:12: seen-by is corpus or generated"},
      {entry + "  class: deviation\n", "f.txt:5:3: `class` given twice"},
      {entry, "f.txt:1:1: entry 'p: a' lacks: evidence"},
      {"expect p: a\n  why: w\n\nexpect p: b\n", "f.txt:1:1: entry 'p: a' lacks: class seen-by"},
      {entry + "  evidence: probe e\n" + entry + "  evidence: probe e\n",
       "f.txt:6:8: signature listed twice (first at line 1)"},
  };
  for (const auto& [text, error] : bad) {
    try {
      parse_expectations(text, "f.txt");
      ADD_FAILURE() << "parsed: " << text;
    } catch (const ExpectationsError& x) {
      EXPECT_TRUE(std::string(x.what()).starts_with(error)) << x.what() << "\nwanted: " << error;
    }
  }
}

TEST_F(Campaign, UnknownProfileExitsTwo) {
  options.profile = "fake-3";
  EXPECT_EQ(run_peer_campaign<FakeBinding>(options), 2);
  EXPECT_FALSE(fs::exists(options.report_path));
}

// Inputs are checked before the environment: on a machine where the peer cannot run, a bad
// input is still 2 (an unknown profile, a malformed expectations file, a corpus program that is
// a FIFO, a missing corpus), and only good inputs reach the 3.
TEST_F(Campaign, BadInputIsTwoEvenWhereThePeerCannotRun) {
  FakeBinding::unavailable = "no fake device";
  program("a.txt", "7");
  PeerOptions bad = options;
  bad.profile = "fake-3";
  EXPECT_EQ(run_peer_campaign<FakeBinding>(bad), 2);
  bad = options;
  bad.expectations = (root / "bad-expectations.txt").string();
  std::ofstream(bad.expectations) << "  why: a field before any entry\n";
  EXPECT_EQ(run_peer_campaign<FakeBinding>(bad), 2);
  bad = options;
  bad.corpus_root = (root / "absent").string();
  EXPECT_EQ(run_peer_campaign<FakeBinding>(bad), 2);
  ASSERT_EQ(::mkfifo((root / "corpus/programs/fake/fifo.txt").c_str(), 0600), 0);
  EXPECT_EQ(run_peer_campaign<FakeBinding>(options), 2);  // and does not block on the FIFO
  fs::remove(root / "corpus/programs/fake/fifo.txt");
  EXPECT_EQ(run_peer_campaign<FakeBinding>(options), 3);
}

TEST_F(Campaign, APeerThatCannotRunExitsThreeAndTheReportSaysWhy) {
  FakeBinding::unavailable = "no fake device";
  EXPECT_EQ(run_peer_campaign<FakeBinding>(options), 3);
  EXPECT_EQ(report(),
            "# Fake peer\n\n**Not run: no fake device.**\n\n## Environment\n\n| | |\n|---|---|\n"
            "| fake | no fake device |\n");
  FakeBinding::unavailable.clear();
  FakeBinding::cannot_start = "the fake would not start";
  EXPECT_EQ(run_peer_campaign<FakeBinding>(options), 3);
  EXPECT_NE(report().find("| fake | the fake would not start |"), std::string::npos) << report();
}

TEST_F(Campaign, TheGeneratedPhaseRunsUnderTheChosenProfile) {
  program("a.txt", "1 2");
  options.profile = "fake-2";
  options.seconds = 0.05;
  ASSERT_EQ(run_peer_campaign<FakeBinding>(options), 0);
  const std::string r = report();
  EXPECT_NE(r.find("| fake-2 | generated | "), std::string::npos) << r;
  EXPECT_NE(r.find("| fake-2 | corpus | "), std::string::npos) << r;  // the chosen one too
  EXPECT_NE(r.find("are run under `fake-1` and `fake-2`"), std::string::npos) << r;
}

}  // namespace
}  // namespace lockstep::peers
