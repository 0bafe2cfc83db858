// The `lockstep prove` report shared by both protocols, built as JSON (what --json prints) and
// printed as text from the same object: the scope (bounds, exclusions), the corpus sample of the
// vacuity check per profile, one row per invariant x profile (result, k, vacuity, time), each
// failing row with its counterexample program.
#pragma once
#include <algorithm>
#include <cstddef>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "proofs/scope.h"

namespace lockstep::proofs {

// Corpus ops run by the model under one profile: how many the abstraction represents and how
// many of those the encoding's valid() admits (the rest: "<file>:<line>").
struct Sample {
  size_t ops = 0, representable = 0, accepted = 0;
  std::vector<std::string> rejected;
  double ms = 0;
};

struct ProveReport {
  int exit = 0;
  nlohmann::json json;
};

inline nlohmann::json scope_json(const std::vector<ScopeEntry>& entries) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& e : entries) j.push_back({{"name", e.name}, {"what", e.what}});
  return j;
}

inline nlohmann::json report_header(std::string_view protocol, const Scope& scope,
                                    const std::string& corpus_root, std::string_view corpus) {
  return {{"protocol", protocol},
          {"method", "k-induction over the abstract model, for traces within these bounds"},
          {"bounds", scope_json(scope.bounds)},
          {"exclusions", scope_json(scope.exclusions)},
          {"corpus_sample", corpus_root + "/programs/" + std::string(corpus)},
          {"samples", nlohmann::json::object()},
          {"results", nlohmann::json::array()},
          {"shipped_ms", 0.0},
          {"total_ms", 0.0},
          {"vacuity_ms", 0.0},
          {"sample_ms", 0.0}};
}

inline void add_sample(nlohmann::json& report, const std::string& profile, const Sample& s) {
  report["samples"][profile] = {{"ops", s.ops},
                                {"representable", s.representable},
                                {"accepted", s.accepted},
                                {"rejected", s.rejected},
                                {"ms", s.ms}};
  report["sample_ms"] = report["sample_ms"].get<double>() + s.ms;
}

// Result: {invariant, profile, status, k, ms, counterexample, vacuity}; to_string(status) is
// found by argument-dependent lookup; print_trace renders a counterexample as a program.
template <class Result, class PrintTrace>
void add_result(nlohmann::json& report, const Result& r, bool mutant, PrintTrace print_trace) {
  const auto& v = r.vacuity;
  const std::string status = to_string(r.status);
  nlohmann::json vac{{"premises_satisfiable", v.premises},
                     {"antecedent_witness_depth", v.witness},
                     {"corpus_ops_accepted", v.ops_accepted},
                     {"ms", v.ms}};
  vac["verdict"] = status == "fails"     ? "counterexample"
                   : status == "vacuous" ? "vacuous: " + v.reason()
                   : status == "holds"   ? "non-vacuous"
                                         : "unknown";
  nlohmann::json x{{"invariant", r.invariant},
                   {"profile", r.profile},
                   {"result", status},
                   {"k", r.k},
                   {"ms", r.ms},
                   {"vacuity", vac}};
  if (r.counterexample) x["counterexample"] = print_trace(*r.counterexample);
  report["results"].push_back(x);
  report["total_ms"] = report["total_ms"].get<double>() + r.ms;
  if (!mutant) report["shipped_ms"] = report["shipped_ms"].get<double>() + r.ms;
  report["vacuity_ms"] = report["vacuity_ms"].get<double>() + v.ms;
}

// The text form of one protocol's report.
inline void print_report(std::ostream& out, const nlohmann::json& j) {
  out << j["protocol"].get<std::string>() << ": " << j["method"].get<std::string>() << ":\n";
  for (const auto& b : j["bounds"])
    out << "  " << b["name"].get<std::string>() << ": " << b["what"].get<std::string>() << "\n";
  out << "outside the abstraction (not covered):\n";
  for (const auto& x : j["exclusions"])
    out << "  " << x["name"].get<std::string>() << ": " << x["what"].get<std::string>() << "\n";
  out << "vacuity sample (" << j["corpus_sample"].get<std::string>()
      << "), ops representable / accepted by valid() per profile:\n ";
  for (const auto& [profile, s] : j["samples"].items()) {
    out << " " << profile << " " << s["representable"] << "/" << s["accepted"];
    for (const auto& where : s["rejected"]) out << " REJECTED " << where.get<std::string>();
  }
  out << "\n";
  size_t inv_w = 10, prof_w = 8;
  for (const auto& r : j["results"]) {
    inv_w = std::max(inv_w, r["invariant"].get<std::string>().size() + 2);
    prof_w = std::max(prof_w, r["profile"].get<std::string>().size() + 2);
  }
  out << std::left << std::setw(inv_w) << "invariant" << std::setw(prof_w) << "profile"
      << std::setw(9) << "result" << std::setw(4) << "k" << std::setw(9) << "witness"
      << "time ms\n";
  for (const auto& r : j["results"]) {
    const auto& v = r["vacuity"];
    const std::string verdict = v["verdict"].get<std::string>();
    out << std::left << std::setw(inv_w) << r["invariant"].get<std::string>() << std::setw(prof_w)
        << r["profile"].get<std::string>() << std::setw(9) << r["result"].get<std::string>()
        << std::setw(4) << r["k"].get<int>() << std::setw(9)
        << (verdict == "counterexample" ? std::string("-")
                                        : std::to_string(v["antecedent_witness_depth"].get<int>()))
        << std::fixed << std::setprecision(1) << r["ms"].get<double>();
    if (verdict.rfind("vacuous", 0) == 0) out << "  " << verdict;
    out << "\n";
  }
  out << std::fixed << std::setprecision(1) << "shipped profiles: " << j["shipped_ms"].get<double>()
      << " ms; all: " << j["total_ms"].get<double>()
      << " ms (premise and witness checks within: " << j["vacuity_ms"].get<double>()
      << " ms); corpus sample: " << j["sample_ms"].get<double>() << " ms\n";
}

}  // namespace lockstep::proofs
