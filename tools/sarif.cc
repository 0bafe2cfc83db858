#include "tools/sarif.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "tools/exit_codes.h"
#include "tools/interrupt.h"

namespace lockstep::tools {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct RuleText {
  std::string_view id, name, summary;
};

// Every rule, in the order of the log's rules array (a result's ruleIndex).
constexpr RuleText kRules[] = {
    {sarif_rule::kDivergence, "ModelTargetDivergence",
     "The model and the real implementation gave different outcomes for an op."},
    {sarif_rule::kFdLeak, "FdLeak",
     "After the trace, the process holds other file descriptors than the model accounts for."},
    {sarif_rule::kAnnotationMismatch, "AnnotationMismatch",
     "The model's outcome for an op differs from the outcome the program's annotation states."},
    {sarif_rule::kPeerDisagreement, "PeerDisagreement",
     "The model and a real third-party implementation disagree on a trace."},
    {sarif_rule::kExpectationAudit, "ExpectationAudit",
     "An entry of the peer's expectations file does not match what the campaign saw."},
    {sarif_rule::kProofFails, "ProofFails",
     "An invariant of the model has a counterexample within the proof's bounds."},
    {sarif_rule::kProofVacuous, "ProofVacuous",
     "An invariant holds only vacuously: nothing reachable exercises it."},
    {sarif_rule::kProofUnknown, "ProofUnknown",
     "The solver decided neither that an invariant holds nor that it fails."},
};

json rules_json() {
  json rules = json::array();
  for (const RuleText& r : kRules)
    rules.push_back({{"id", r.id},
                     {"name", r.name},
                     {"shortDescription", {{"text", r.summary}}},
                     {"defaultConfiguration", {{"level", "error"}}}});
  return rules;
}

size_t rule_index(std::string_view id) {
  const auto* it = std::find_if(std::begin(kRules), std::end(kRules),
                                [&](const RuleText& r) { return r.id == id; });
  return static_cast<size_t>(it - std::begin(kRules));
}

// RFC 3986 percent-encoding of a path, '/' kept.
std::string uri_path(const std::string& path) {
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || std::string_view("-._~/").find(c) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// A file under the working directory as a relative URI against the CWD base (so a log written
// in a checkout names files as the repository does); any other as an absolute file: URI.
json artifact_location(const std::string& file) {
  std::error_code ec;
  const fs::path abs = fs::weakly_canonical(fs::absolute(file), ec);
  const fs::path cwd = fs::current_path(ec);
  const fs::path rel = abs.lexically_relative(cwd);
  if (!rel.empty() && *rel.begin() != "..")
    return {{"uri", uri_path(rel.generic_string())}, {"uriBaseId", "CWD"}};
  return {{"uri", "file://" + uri_path(abs.generic_string())}};
}

json result_json(const SarifFinding& f) {
  json location{{"physicalLocation", {{"artifactLocation", artifact_location(f.file)}}}};
  if (f.line > 0) location["physicalLocation"]["region"] = {{"startLine", f.line}};
  json r{{"ruleId", f.rule},
         {"ruleIndex", rule_index(f.rule)},
         {"level", "error"},
         {"message", {{"text", f.message}}},
         {"locations", json::array({location})}};
  if (!f.signature.empty()) r["partialFingerprints"] = {{"lockstepSignature/v1", f.signature}};
  if (!f.expected_because.empty())
    r["suppressions"] = json::array(
        {{{"kind", "external"}, {"status", "accepted"}, {"justification", f.expected_because}}});
  return r;
}

json log_json(const std::vector<SarifFinding>& findings, int exit_code) {
  json results = json::array();
  for (const SarifFinding& f : findings) results.push_back(result_json(f));
  std::error_code ec;
  const std::string cwd = fs::current_path(ec).generic_string();
  json run{{"tool",
            {{"driver",
              {{"name", "lockstep"}, {"version", LOCKSTEP_VERSION}, {"rules", rules_json()}}}}},
           {"originalUriBaseIds", {{"CWD", {{"uri", "file://" + uri_path(cwd) + "/"}}}}},
           {"invocations",
            json::array({{{"executionSuccessful", exit_code == kOk || exit_code == kFinding},
                          {"exitCode", exit_code},
                          {"properties", {{"interrupted", interrupted()}}}}})},
           {"results", results}};
  return {{"$schema",
           "https://raw.githubusercontent.com/schemastore/schemastore/master/src/schemas/json/"
           "sarif-2.1.0-rtm.5.json"},
          {"version", "2.1.0"},
          {"runs", json::array({run})}};
}

}  // namespace

std::string_view rule_of_signature(std::string_view signature) {
  const auto at = signature.find("lockstep: ");
  if (at != std::string_view::npos && signature.substr(at).starts_with("lockstep: fd-leak"))
    return sarif_rule::kFdLeak;
  return sarif_rule::kDivergence;
}

size_t offending_op(size_t index, size_t ops) {
  return index < ops || ops == 0 ? index : ops - 1;
}

int side_by_side_line(size_t index, size_t ops) {
  return static_cast<int>(offending_op(index, ops)) + 2;
}

int line_containing(const std::string& file, std::string_view text) {
  std::ifstream in(file);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (line.find(text) != std::string::npos) return n;
  return 0;
}

bool write_sarif(const std::string& path, const std::vector<SarifFinding>& findings,
                 int exit_code) {
  if (path.empty()) return true;
  std::ofstream out(path);
  out << log_json(findings, exit_code).dump(2) << "\n";
  out.close();
  if (!out) {
    std::cerr << "lockstep: " << path << ": cannot write the SARIF log\n";
    return false;
  }
  return true;
}

int with_sarif(const std::string& path, const std::vector<SarifFinding>& findings, int exit_code) {
  return write_sarif(path, findings, exit_code) ? exit_code : kUsage;
}

}  // namespace lockstep::tools
