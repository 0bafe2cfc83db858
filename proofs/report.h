// The `lockstep prove` report shared by both protocols, built as JSON (what --json prints) and
// printed as text from the same object (tools/proof_text.h): the scope (bounds, exclusions), the
// corpus sample of the vacuity check per profile, one row per invariant x profile (result, k,
// vacuity, time), each failing row with its counterexample program.
#pragma once
#include <algorithm>
#include <cstddef>
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
// `expected`: the protocol's binding accepts the result (it leaves the exit code 0), such as a
// negative variant failing.
template <class Result, class PrintTrace>
void add_result(nlohmann::json& report, const Result& r, bool mutant, bool expected,
                PrintTrace print_trace) {
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
                   {"mutant", mutant},
                   {"result", status},
                   {"expected", expected},
                   {"k", r.k},
                   {"ms", r.ms},
                   {"vacuity", vac}};
  if (r.counterexample) x["counterexample"] = print_trace(*r.counterexample);
  report["results"].push_back(x);
  report["total_ms"] = report["total_ms"].get<double>() + r.ms;
  if (!mutant) report["shipped_ms"] = report["shipped_ms"].get<double>() + r.ms;
  report["vacuity_ms"] = report["vacuity_ms"].get<double>() + v.ms;
}

}  // namespace lockstep::proofs
