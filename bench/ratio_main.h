// The main() both benches share: Google Benchmark's console output, then one line with the
// differential rate, the bare-syscall rate and the ratio of their times (the README figure).
#pragma once
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace lockstep::bench {

// Both benches' inputs: 4096 traces of at most 32 ops decoded from seeded random bytes, the
// kind of input a fuzzer starts from. decode: (bytes, max_ops) -> Trace.
template <class Decode>
auto random_traces(Decode decode) {
  std::mt19937_64 rng(2026);
  std::vector<decltype(decode(std::span<const uint8_t>{}, 0))> out;
  for (int i = 0; i < 4096; ++i) {
    std::vector<uint8_t> bytes(1 + rng() % 400);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    out.push_back(decode(bytes, 32));
  }
  return out;
}

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs)
      if (run.counters.count("items_per_second"))
        rates_[run.benchmark_name()] = run.counters.at("items_per_second");
    ConsoleReporter::ReportRuns(runs);
  }
  double rate(const std::string& name) const {
    auto it = rates_.find(name);
    return it == rates_.end() ? 0 : it->second;
  }

 private:
  std::map<std::string, double> rates_;
};

// Runs the registered benchmarks; BM_Differential and BM_BareSyscalls must use MinTime(3.0).
inline int ratio_main(int argc, char** argv, const char* protocol) {
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const double differential = reporter.rate("BM_Differential/min_time:3.000");
  const double bare = reporter.rate("BM_BareSyscalls/min_time:3.000");
  if (differential > 0 && bare > 0)
    std::printf(
        "\n%s differential: %.0f exec/s   bare syscalls: %.0f traces/s   "
        "harness/bare time ratio: %.2f\n",
        protocol, differential, bare, bare / differential);
  return 0;
}

}  // namespace lockstep::bench
