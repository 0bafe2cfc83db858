#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <random>

#include "core/report.h"
#include "impl/mutants.h"
#include "tools/bindings.h"
#include "tools/commands.h"

namespace lockstep::tools {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

struct Stats {
  size_t traces = 0, ops = 0, divergences = 0, fds_leaked = 0;
  double seconds = 0;
  std::map<std::string, std::string> findings;  // signature -> file written
};

std::vector<Bytes> load_corpus(const fs::path& dir) {
  std::vector<Bytes> inputs;
  if (!fs::is_directory(dir)) return inputs;
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    inputs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
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
  std::ofstream(fs::path(file).replace_extension(".txt"))
      << side_by_side<typename B::P>(trace.profile, trace.ops, full);
  stats.findings[signature] = file.string();
}

template <class B>
int campaign(const CampaignOptions& options) {
  const int mutant = impl_mutant_id(B::kName, options.impl_mutant);  // throws for an unknown name
  const fs::path corpus_dir = fs::path(options.corpus_root) / std::string(B::kCorpus);
  const std::vector<Bytes> corpus = load_corpus(corpus_dir);
  Stats replayed, fuzzed;
  for (const auto& input : corpus) run_one<B>(input, replayed, options, mutant);
  std::mt19937_64 rng(options.seed);
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration<double>(options.seconds);
  while (std::chrono::steady_clock::now() < deadline)
    for (int i = 0; i < 64; ++i) run_one<B>(next_input(rng, corpus), fuzzed, options, mutant);
  fuzzed.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("\n%-8s %-14s %10s %10s %12s %11s %10s\n", "protocol", "phase", "traces", "ops",
              "divergences", "fds leaked", "exec/s");
  std::printf("%-8s %-14s %10zu %10zu %12zu %11zu %10s\n", std::string(B::kName).c_str(),
              "corpus replay", replayed.traces, replayed.ops, replayed.divergences,
              replayed.fds_leaked, "-");
  std::printf("%-8s %-14s %10zu %10zu %12zu %11zu %10.0f\n", std::string(B::kName).c_str(),
              "random+mutate", fuzzed.traces, fuzzed.ops, fuzzed.divergences, fuzzed.fds_leaked,
              fuzzed.traces / std::max(fuzzed.seconds, 1e-9));
  for (const auto* stats : {&replayed, &fuzzed})
    for (const auto& [signature, file] : stats->findings)
      std::printf("  %s  ->  %s\n", signature.c_str(), file.c_str());
  if (corpus.empty()) std::printf("  (no corpus at %s)\n", corpus_dir.c_str());
  if (mutant) std::printf("  (impl mutant %s)\n", options.impl_mutant.c_str());
  return replayed.divergences + fuzzed.divergences ? 1 : 0;
}

}  // namespace

int run_campaign(const CampaignOptions& options) {
  try {
    return with_binding(options.protocol,
                        [&](auto binding) { return campaign<decltype(binding)>(options); });
  } catch (const std::invalid_argument& e) {
    std::cerr << "lockstep run: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace lockstep::tools
