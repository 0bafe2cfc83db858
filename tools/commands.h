// The `lockstep` subcommands, generic over a protocol binding (tools/bindings.h).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lockstep::tools {

// `lockstep replay FILE`: a readable program (.txt) or a fuzz input (anything else). Prints the
// program with model and target outcomes side by side (or, with `json`, one JSON document).
// Returns 0 when they agree (and agree with the program's annotations), 1 otherwise, 2 for
// unreadable or malformed input.
struct ReplayOptions {
  std::string path;
  std::string protocol;     // empty: the program header or the input's context, else both
  std::string profile;      // empty: the trace's own
  bool model_only = false;  // --target model: no real target, any profile
  std::string impl_mutant;  // a name of `lockstep mutants`, or "": it also names the protocol
  bool json = false;
  std::string sarif_path;  // "" = no SARIF log (tools/sarif.h)
};
int replay(const ReplayOptions& options);

struct CampaignOptions {
  std::string protocol;
  double seconds = 10;
  uint64_t seed = 1;
  std::string corpus_root;  // empty: default_corpus_root()
  std::string findings_dir = "findings";
  std::string impl_mutant;  // a name of `lockstep mutants` for the protocol, or ""
  bool json = false;
  std::string sarif_path;  // "" = no SARIF log; else one result per finding's readable program
};
// `lockstep run PROTOCOL --seconds N`: replays the shipped corpus, then runs random and mutated
// inputs for N seconds; prints a summary table. Returns 1 if anything diverged.
int run_campaign(const CampaignOptions& options);

// `lockstep corpus build`: every readable program under corpus/programs/<name>/ becomes
// corpus/<name>/<stem>.bin. `lockstep corpus check`: the twins agree. Returns 0 on success.
int corpus_build(const std::string& corpus_root, bool check_only, bool json);
// The walk behind it: errors collected (FILE:LINE:COL where there is a position).
int corpus_walk(const std::string& corpus_root, bool check_only, std::vector<std::string>& errors,
                int& written, int& seen);
// The same for one directory of programs (<root>/programs/<name>/, twins in <root>/<name>/).
int corpus_dir_walk(const std::string& corpus_root, const std::filesystem::path& dir,
                    bool check_only, std::vector<std::string>& errors, int& written, int& seen);

// One program of <root>/programs/<name>/ -> its twin <root>/<name>/<stem>.bin (or, with
// check_only, the twin is compared): what corpus_dir_walk does for each file.
int corpus_file_build(const std::string& corpus_root, const std::filesystem::path& program,
                      bool check_only, std::vector<std::string>& errors, int& written);

// `lockstep corpus min --protocol P DIR...` (tools/corpus_min.cc): the smallest set of inputs
// (fuzz inputs of libFuzzer or AFL++ queues, readable programs) that keeps their model-transition
// coverage (tools/transitions.h) and, with the fuzz binary, libFuzzer's edge coverage
// (tools/libfuzzer_merge.h). 0 nothing lost; 1 the kept set lost coverage (a broken selection);
// 2 usage, or malformed inputs (each reported, counted, not kept); 3 the fuzz binary unusable.
struct CorpusMinOptions {
  std::string protocol;
  std::vector<std::string> dirs;
  std::string out_dir;      // "" = write nothing; else the kept inputs, named by content hash
  bool merge = false;       // the kept inputs into <corpus root>/programs/<target>/ + twins
  std::string corpus_root;  // "" = default_corpus_root()
  std::string fuzz_binary;  // "" = find_fuzz_binary (build/fuzz), else model coverage only
  bool model_only = false;  // no edge coverage even when a fuzz binary is there
  bool json = false;
  bool drop_one = false;  // test only: drop the last input chosen (the check must catch it)
};
int corpus_min(const CorpusMinOptions& options);

// `lockstep corpus to-gtest FILE...`: each finding becomes <out_dir>/<protocol>_<name>_test.cc,
// a GoogleTest case (tests/regression.h) with the program embedded and the model's outcomes as
// its notes. Returns 0, or 2 (nothing written) when an input is unreadable or malformed.
struct ToGtestOptions {
  std::vector<std::string> files;
  std::string out_dir = "tests/regressions";
  std::string protocol;  // empty: the program header or the input's context
  std::string profile;   // empty: the trace's own
};
int to_gtest(const ToGtestOptions& options);

// `lockstep fmt FILE...`: rewrites programs in canonical form (comments and blank lines kept);
// `-` reads stdin and writes stdout. With `check`, writes nothing and returns 1 when a file is
// not canonical. 2 for unreadable or malformed input (FILE:LINE:COL).
int fmt(const std::vector<std::string>& files, bool check);

// `lockstep profiles [PROTOCOL]`: every profile with its one-line summary.
int list_profiles(const std::string& protocol);

// The corpus root to use when none was given: ./corpus if it exists, else the project's.
std::string default_corpus_root();

// `lockstep monitor --listen SOCK --connect SOCK ...` (monitor/monitor.h): one proxied session;
// with `json`, one document on stdout. 0 no violation, 1 a violation, 2 usage, 3 environment.
struct MonitorCliOptions {
  std::string listen, connect, profile = "spec", record;
  int64_t perturb = -1;  // < 0: none
  bool json = false;
};
int monitor(const MonitorCliOptions& options);

// `lockstep spec --protocol P [--profile X] --format md|json|dot [--out FILE]`: the model
// explored (tools/explore.h) as a document. 0, or 2 for an unknown profile or an unwritable FILE.
struct SpecOptions {
  std::string protocol = "mshv";
  std::string profile;  // empty: the protocol's first shipped profile
  std::string format = "md";
  std::string out;                // empty or "-": stdout
  std::vector<std::string> diff;  // --diff A B: the pairs where profiles A and B differ
};
// 0 whenever it ran, differences or not (they are the document, not a finding).
int spec(const SpecOptions& options);
// `lockstep spec --diff A B` as markdown (tools/spec_diff.cc); throws std::invalid_argument for
// an unknown profile or profiles of two protocols.
std::string spec_diff_text(const std::string& a, const std::string& b);

// `lockstep corpus gen --protocol P [--out DIR] [--cover PATH...]` (tools/corpus_gen.cc): the
// explorer's shortest program per reachable (state class, op class) pair, written to DIR; with
// --cover, the pairs the programs at PATH cover and whether their notes agree with the model
// (1 when not). 2 for unreadable or malformed programs.
struct CorpusGenOptions {
  std::string protocol = "mshv";
  std::string out;
  std::vector<std::string> cover;
};
int corpus_gen(const CorpusGenOptions& options);

// `lockstep mutants [--json|--markdown]`: the impl mutants of impl/mutants.h. Returns 0.
int list_mutants(bool json, bool markdown);

}  // namespace lockstep::tools
