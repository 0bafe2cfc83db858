#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>

#include "core/report.h"
#include "core/table.h"
#include "impl/mutants.h"
#include "tools/bindings.h"
#include "tools/commands.h"
#include "tools/exit_codes.h"
#include "tools/input_file.h"
#include "tools/interrupt.h"
#include "tools/json_output.h"
#include "tools/progress.h"
#include "tools/sarif.h"

namespace lockstep::tools {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

struct Stats {
  size_t traces = 0, ops = 0, divergences = 0, fds_leaked = 0;
  double seconds = 0;
  std::map<std::string, std::string> findings;  // signature -> file written
  std::vector<SarifFinding> sarif;              // the same, at the diverging op of the .txt
};

// Every fuzz input under `dir` (recursively), sorted by path. A FIFO, socket, device or dangling
// link there is refused rather than skipped (the summary would count fewer inputs than the
// directory holds, and a FIFO is never opened), and so is a readable program: programs live
// under <root>/programs/<target>/, their binary twins here. An empty file is an input (libFuzzer
// keeps one).
std::vector<Bytes> load_corpus(const fs::path& dir) {
  std::vector<Bytes> inputs;
  if (!fs::is_directory(dir)) return inputs;
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_directory()) continue;
    if (!e.is_regular_file()) require_regular_file(e.path().string());  // throws: not a file
    if (e.path().extension() == ".txt")
      throw InputError(e.path().string() +
                       ": a readable program among the fuzz inputs (programs go under "
                       "<root>/programs/" +
                       dir.filename().string() + "/, `lockstep corpus build` writes their twins)");
    files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    const std::string bytes = read_regular_file(f.string());
    inputs.emplace_back(bytes.begin(), bytes.end());
  }
  return inputs;
}

// Random bytes half the time; otherwise a corpus input with a few bytes flipped, inserted or
// cut, so the campaign starts from the interesting states the seeds reach.
Bytes next_input(std::mt19937_64& rng, const std::vector<Bytes>& corpus) {
  Bytes b;
  if (corpus.empty() || rng() % 2) {
    b.resize(1 + rng() % 256);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    return b;
  }
  b = corpus[rng() % corpus.size()];
  for (int edits = 1 + rng() % 4; edits > 0; --edits) {
    size_t pos = b.empty() ? 0 : rng() % b.size();
    switch (rng() % 3) {
      case 0:
        if (!b.empty()) b[pos] = static_cast<uint8_t>(rng());
        break;
      case 1:
        b.insert(b.begin() + pos, static_cast<uint8_t>(rng()));
        break;
      default:
        if (pos < b.size()) b.resize(pos + 1);
        break;
    }
  }
  return b;
}

template <class B>
void run_one(const Bytes& input, Stats& stats, const CampaignOptions& options, int mutant) {
  auto trace = B::decode(input);
  auto model = B::model(trace.profile);
  auto target = B::target(trace.profile, mutant);
  auto verdict = run<typename B::P>(trace.ops, model, target, {.check_fds = true, .record = false});
  stats.traces++;
  stats.ops += trace.ops.size();
  if (verdict.ok()) return;
  stats.divergences++;
  if (verdict.fds_delta > verdict.fds_expected)
    stats.fds_leaked += verdict.fds_delta - verdict.fds_expected;
  const std::string& signature = verdict.divergence->signature;
  if (stats.findings.count(signature)) return;
  // Keep one input per signature, with its readable replay beside it.
  fs::path dir = fs::path(options.findings_dir) / std::string(B::kName);
  fs::create_directories(dir);
  fs::path file = dir / ("finding-" + std::to_string(stats.findings.size()) + ".bin");
  std::ofstream(file, std::ios::binary)
      .write(reinterpret_cast<const char*>(input.data()), input.size());
  auto model2 = B::model(trace.profile);
  auto target2 = B::target(trace.profile, mutant);
  auto full = run<typename B::P>(trace.ops, model2, target2);
  const fs::path readable = fs::path(file).replace_extension(".txt");
  std::ofstream(readable) << side_by_side<typename B::P>(trace.profile, trace.ops, full);
  stats.findings[signature] = file.string();
  const Divergence& shown = full.divergence ? *full.divergence : *verdict.divergence;
  stats.sarif.push_back({rule_of_signature(signature), signature + " (" + file.string() + ")",
                         signature, readable.string(),
                         side_by_side_line(shown.index, trace.ops.size()), ""});
}

nlohmann::json phase_json(const char* phase, const Stats& s, bool timed) {
  return {{"phase", phase},
          {"traces", s.traces},
          {"ops", s.ops},
          {"divergences", s.divergences},
          {"fds_leaked", s.fds_leaked},
          {"seconds", s.seconds},
          {"traces_per_second",
           timed ? nlohmann::json(s.traces / std::max(s.seconds, 1e-9)) : nlohmann::json()}};
}

void print_table(std::string_view protocol, const Stats& replayed, const Stats& fuzzed) {
  using A = Table::Align;
  Table t({{"protocol"},
           {"phase"},
           {"traces", A::Right},
           {"ops", A::Right},
           {"divergences", A::Right},
           {"fds leaked", A::Right},
           {"exec/s", A::Right}});
  auto row = [&](const char* phase, const Stats& s, std::string rate) {
    t.row({std::string(protocol), phase, std::to_string(s.traces), std::to_string(s.ops),
           std::to_string(s.divergences), std::to_string(s.fds_leaked), std::move(rate)});
  };
  row("corpus replay", replayed, "-");
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.0f", fuzzed.traces / std::max(fuzzed.seconds, 1e-9));
  row("random+mutate", fuzzed, rate);
  std::cout << "\n" << t.text();
  for (const auto* stats : {&replayed, &fuzzed})
    for (const auto& [signature, file] : stats->findings)
      std::cout << "  " << signature << "  ->  " << file << "\n";
}

// The corpus directory a run uses; throws InputError when the run would test nothing, or when
// the corpus's readable programs are malformed or disagree with their twins (the run replays
// the twins, so it would test something else than the programs say).
template <class B>
fs::path corpus_dir_of(const CampaignOptions& options) {
  const bool root_given = !options.corpus_root.empty();
  const std::string root = root_given ? options.corpus_root : default_corpus_root();
  const fs::path programs = fs::path(root) / "programs" / std::string(B::kCorpus);
  if (fs::exists(programs)) {
    std::vector<std::string> errors;
    int written = 0, seen = 0;
    if (corpus_dir_walk(root, programs, true, errors, written, seen) != kOk) {
      std::string all;
      for (const auto& e : errors) all += (all.empty() ? "" : "\n") + e;
      throw InputError(all);
    }
  }
  const fs::path dir = fs::path(root) / std::string(B::kCorpus);
  if (!fs::is_directory(dir) && (root_given || options.seconds <= 0))
    throw InputError("no corpus at " + dir.string() +
                     (options.seconds <= 0 ? " and --seconds 0: nothing to test" : ""));
  return dir;
}

template <class B>
int campaign(const CampaignOptions& options, nlohmann::json& out,
             std::vector<SarifFinding>& sarif) {
  const int mutant = impl_mutant_id(B::kName, options.impl_mutant);  // throws for an unknown name
  const fs::path corpus_dir = corpus_dir_of<B>(options);
  const std::vector<Bytes> corpus = load_corpus(corpus_dir);
  if (corpus.empty() && options.seconds <= 0)
    throw InputError(corpus_dir.string() + " holds no input and --seconds 0: nothing to test");
  out.update({{"protocol", std::string(B::kName)},
              {"corpus", corpus_dir.string()},
              {"corpus_inputs", corpus.size()},
              {"seed", options.seed},
              {"impl_mutant", options.impl_mutant}});
  if (!options.json)
    std::cout << "lockstep run " << B::kName << ": corpus " << corpus_dir.string() << " ("
              << corpus.size() << " inputs), " << options.seconds << " s of random inputs, seed "
              << options.seed << (mutant ? ", impl mutant " + options.impl_mutant : std::string())
              << std::endl;
  Stats replayed, fuzzed;
  Progress progress("lockstep run " + std::string(B::kName));
  progress.phase("corpus replay", "traces", corpus.size());
  const auto replay_start = std::chrono::steady_clock::now();
  install_interrupt_handler();
  for (const auto& input : corpus) {
    if (!interrupted()) run_one<B>(input, replayed, options, mutant);
    progress.update(replayed.traces);
  }
  replayed.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - replay_start).count();
  std::mt19937_64 rng(options.seed);
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration<double>(options.seconds);
  progress.phase_until("random+mutate", "traces", deadline);
  while (!interrupted() && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 64; ++i) run_one<B>(next_input(rng, corpus), fuzzed, options, mutant);
    progress.update(fuzzed.traces);
  }
  fuzzed.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  progress.clear();

  out["phases"] = {phase_json("corpus replay", replayed, false),
                   phase_json("random+mutate", fuzzed, true)};
  out["findings"] = nlohmann::json::array();
  for (const auto* stats : {&replayed, &fuzzed})
    for (const auto& [signature, file] : stats->findings)
      out["findings"].push_back({{"signature", signature}, {"file", file}});
  out["interrupted"] = interrupted();
  for (const auto* stats : {&replayed, &fuzzed})
    sarif.insert(sarif.end(), stats->sarif.begin(), stats->sarif.end());
  if (!options.json) print_table(B::kName, replayed, fuzzed);
  if (interrupted()) std::cerr << "lockstep run: interrupted; the summary covers what ran\n";
  return replayed.divergences + fuzzed.divergences ? kFinding : kOk;
}

}  // namespace

int list_profiles(const std::string& protocol) {
  for (const char* name : {"mshv", "vhost"}) {
    if (!protocol.empty() && protocol != name) continue;
    with_binding(name, [](auto b) {
      using B = decltype(b);
      std::cout << B::kName << " profiles (negative variants marked *):\n";
      Table t{"", ""};  // no header line
      for (const auto& group : {B::profiles().shipped(), B::profiles().mutants()})
        for (const auto* p : group) t.row({p->name, (p->mutant ? "* " : "") + p->summary});
      std::cout << t.text(1, "  ");
      return 0;
    });
  }
  return kOk;
}

int run_campaign(const CampaignOptions& options) {
  nlohmann::json out;
  std::vector<SarifFinding> sarif;
  int code = kUsage;
  try {
    code = with_binding(options.protocol, [&](auto binding) {
      return campaign<decltype(binding)>(options, out, sarif);
    });
  } catch (const std::exception& e) {  // InputError (one line per error), an unknown mutant
    std::istringstream lines(e.what());
    for (std::string line; std::getline(lines, line);)
      std::cerr << "lockstep run: " << line << "\n";
    out["error"] = e.what();
  }
  if (const int written = with_sarif(options.sarif_path, sarif, code); written != code) {
    code = written;
    out["error"] = options.sarif_path + ": cannot write the SARIF log";
  }
  if (options.json) std::cout << document("run", code, out).dump(2) << "\n";
  return code;
}

}  // namespace lockstep::tools
