#include "peers/output.h"

#include <iostream>
#include <map>
#include <vector>

#include "tools/json_output.h"
#include "tools/sarif.h"

namespace lockstep::peers {
namespace {

using nlohmann::json;

// The expectations file's class names (peers/expectations.h), by the report's letter.
const char* class_name(char kind) {
  switch (kind) {
    case 'a':
      return "deviation";
    case 'b':
      return "model-gap";
    case 'c':
      return "peer-defect";
    case 's':
      return "spec-ambiguity";
    default:
      return "unexplained";
  }
}

json counts_json(const Results& r) {
  Tally total;
  json tallies = json::array();
  for (const auto& [key, t] : r.tallies) {
    const auto bar = key.find(" | ");
    tallies.push_back({{"profile", key.substr(0, bar)},
                       {"phase", key.substr(bar + 3)},
                       {"traces", t.traces},
                       {"ops", t.ops},
                       {"agreements", t.agree},
                       {"disagreements", t.disagree},
                       {"truncated", t.truncated},
                       {"skipped", t.skipped}});
    total.traces += t.traces, total.ops += t.ops, total.agree += t.agree;
    total.disagree += t.disagree, total.truncated += t.truncated, total.skipped += t.skipped;
  }
  std::map<std::string, size_t> by_class;
  for (char kind : {'a', 'b', 'c', 's', '?'}) by_class[class_name(kind)] = 0;
  for (const auto& [signature, f] : r.findings) by_class[class_name(f.cls.kind)]++;
  return {{"traces", total.traces},
          {"ops", total.ops},
          {"agreements", total.agree},
          {"disagreements", total.disagree},
          {"truncated", total.truncated},
          {"skipped", total.skipped},
          {"distinct_disagreements_by_class", by_class},
          {"by_profile_and_phase", tallies}};
}

json findings_json(const Results& r) {
  json out = json::array();
  for (const auto& [signature, f] : r.findings)
    out.push_back({{"signature", signature},
                   {"class", class_name(f.cls.kind)},
                   {"why", f.cls.why},
                   {"file", f.file},
                   {"line", f.line},
                   {"origin", f.origin},
                   {"hits", f.hits}});
  return out;
}

json body_json(const PeerInfo& peer, const PeerOptions& o, const ReportText* text, const Results* r,
               const std::string& error) {
  json body{{"peer", peer.name},
            {"profile", o.profile},
            {"seed", o.seed},
            {"seconds_budget", o.seconds},
            {"expectations", o.expectations},
            {"findings_dir", o.findings_dir}};
  json env = json::object();
  if (text)
    for (const auto& [what, value] : text->environment) env[what] = value;
  body["peer_environment"] = env;
  if (!error.empty()) body["error"] = error;
  if (!r) return body;
  const bool unexplained = !r->problems.empty();
  body["verdict"] = unexplained ? "unexplained" : r->findings.empty() ? "agree" : "explained";
  body["counts"] = counts_json(*r);
  body["findings"] = findings_json(*r);
  body["expectations_problems"] = r->problems;
  body["timings"] = {{"corpus_seconds", r->corpus_seconds},
                     {"generated_seconds", r->generated_seconds}};
  body["interrupted"] = r->interrupted;
  return body;
}

// One result per distinct disagreement (suppressed when the expectations file explains it),
// one per audit problem about an entry (at its line of the expectations file).
std::vector<tools::SarifFinding> sarif_findings(const PeerInfo& peer, const PeerOptions& o,
                                                const Results& r) {
  std::vector<tools::SarifFinding> out;
  for (const auto& [signature, f] : r.findings)
    out.push_back({tools::sarif_rule::kPeerDisagreement,
                   std::string(peer.noun) + " peer disagreement: " + signature + " (" +
                       class_name(f.cls.kind) + ": " + f.cls.why + ")",
                   signature, f.file, f.line, f.cls.kind == '?' ? "" : f.cls.why});
  for (const auto& p : r.problems) {
    if (p.starts_with("not in ")) continue;  // the unexplained disagreement above
    const std::string prefix = o.expectations + ":";
    const int line = p.starts_with(prefix) ? std::atoi(p.c_str() + prefix.size()) : 0;
    out.push_back({tools::sarif_rule::kExpectationAudit, p, "", o.expectations, line, ""});
  }
  return out;
}

}  // namespace

int write_outputs(const PeerInfo& peer, const PeerOptions& options, int code,
                  const ReportText* text, const Results* results, const std::string& error) {
  const int final_code = tools::with_sarif(
      options.sarif_path,
      results ? sarif_findings(peer, options, *results) : std::vector<tools::SarifFinding>{}, code);
  const std::string why =
      final_code == code ? error : options.sarif_path + ": cannot write the SARIF log";
  if (options.json)
    std::cout
        << tools::document("peer", final_code, body_json(peer, options, text, results, why)).dump(2)
        << std::endl;
  return final_code;
}

}  // namespace lockstep::peers
