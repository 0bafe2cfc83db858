// The `lockstep prove` output shared by both protocols: a table (invariant, profile, result, k,
// time) or JSON for CI, each failing row with its counterexample program.
#pragma once
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

namespace lockstep::proofs {

// Result: {invariant, profile, status, k, ms, optional counterexample}; to_string(status) is
// found by argument-dependent lookup; print_trace renders a counterexample as a program.
template <class Result, class PrintTrace>
void print_results(std::string_view protocol, const std::vector<Result>& results, double shipped_ms,
                   double total_ms, bool json, PrintTrace print_trace) {
  if (json) {
    nlohmann::json j;
    j["protocol"] = protocol;
    j["shipped_ms"] = shipped_ms;
    j["total_ms"] = total_ms;
    for (const auto& r : results) {
      nlohmann::json x{{"invariant", r.invariant},
                       {"profile", r.profile},
                       {"result", to_string(r.status)},
                       {"k", r.k},
                       {"ms", r.ms}};
      if (r.counterexample) x["counterexample"] = print_trace(*r.counterexample);
      j["results"].push_back(x);
    }
    std::cout << j.dump(2) << "\n";
    return;
  }
  size_t inv_w = 10, prof_w = 8;
  for (const auto& r : results) {
    inv_w = std::max(inv_w, r.invariant.size() + 2);
    prof_w = std::max(prof_w, r.profile.size() + 2);
  }
  std::cout << std::left << std::setw(inv_w) << "invariant" << std::setw(prof_w) << "profile"
            << std::setw(9) << "result" << std::setw(4) << "k"
            << "time ms\n";
  for (const auto& r : results)
    std::cout << std::left << std::setw(inv_w) << r.invariant << std::setw(prof_w) << r.profile
              << std::setw(9) << to_string(r.status) << std::setw(4) << r.k << std::fixed
              << std::setprecision(1) << r.ms << "\n";
  std::cout << "shipped profiles: " << std::fixed << std::setprecision(1) << shipped_ms
            << " ms; all: " << total_ms << " ms\n";
}

}  // namespace lockstep::proofs
