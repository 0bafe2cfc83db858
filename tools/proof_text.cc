#include "tools/proof_text.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "core/table.h"

namespace lockstep::tools {
namespace {

using nlohmann::json;

bool is_mutant(const json& row) {
  return row.contains("mutant") ? row.at("mutant").get<bool>()
                                : row.at("profile").get<std::string>().starts_with("mutant-");
}

// In the order the report lists them.
std::vector<std::string> ordered(const json& report, const char* key) {
  std::vector<std::string> out;
  for (const auto& r : report.at("results")) {
    const std::string v = r.at(key).get<std::string>();
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  return out;
}

std::string ms(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", x);
  return buf;
}

// "a, b, c" in lines of at most `width` columns, each starting with `indent`.
std::string wrapped(const std::vector<std::string>& items, const std::string& head,
                    const std::string& indent, size_t width = 100) {
  std::string out, line = head;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string item = items[i] + (i + 1 < items.size() ? "," : "");
    if (line.size() > indent.size() && line.size() + 1 + item.size() > width) {
      out += line + "\n";
      line = indent;
    }
    line += (line == indent ? "" : " ") + item;
  }
  return out + line + "\n";
}

}  // namespace

std::string proof_mark(const json& row) {
  const std::string result = row.at("result").get<std::string>();
  const std::string base = result == "holds"     ? "✓"
                           : result == "fails"   ? "✗"
                           : result == "vacuous" ? "V"
                                                 : "?";
  const bool expected = row.value("expected", result == "holds");
  return result != "holds" && expected ? base + "exp" : base;
}

std::vector<std::string> unexpected_results(const json& report) {
  std::vector<std::string> out;
  const std::string protocol = report.at("protocol").get<std::string>();
  for (const auto& r : report.at("results")) {
    const std::string result = r.at("result").get<std::string>();
    if (r.value("expected", result == "holds")) continue;
    std::string why = result;
    if (result == "fails")
      why += ", counterexample of " + std::to_string(r.at("k").get<int>()) + " ops";
    else
      why += " (" + r.at("vacuity").at("verdict").get<std::string>() + ")";
    out.push_back(proof_mark(r) + " " + protocol + " " + r.at("invariant").get<std::string>() +
                  " on " + r.at("profile").get<std::string>() + ": " + why +
                  " (lockstep prove --protocol " + protocol + " --profile " +
                  r.at("profile").get<std::string>() + " --verbose)");
  }
  return out;
}

std::string proof_matrix(const json& report) {
  const std::vector<std::string> invariants = ordered(report, "invariant"),
                                 profiles = ordered(report, "profile");
  std::map<std::pair<std::string, std::string>, const json*> cell;
  std::set<std::string> mutants, caught;
  for (const auto& r : report.at("results")) {
    const std::string profile = r.at("profile").get<std::string>();
    cell[{r.at("invariant").get<std::string>(), profile}] = &r;
    if (is_mutant(r)) mutants.insert(profile);
    if (is_mutant(r) && r.at("result") != "holds") caught.insert(profile);
  }
  // Negative variants get short columns (m1, m2, ...) named in a legend: the matrix stays
  // narrow enough for a terminal.
  std::vector<Table::Column> columns{{"invariant"}};
  std::vector<std::string> legend, uncaught;
  for (const auto& p : profiles) {
    if (!mutants.count(p)) {
      columns.push_back({p});
      continue;
    }
    const std::string id = "m" + std::to_string(legend.size() + 1);
    columns.push_back({id});
    legend.push_back(id + " " + (p.starts_with("mutant-") ? p.substr(7) : p));
    if (!caught.count(p)) uncaught.push_back(id);
  }
  Table t(std::move(columns));
  for (const auto& inv : invariants) {
    std::vector<std::string> row{inv};
    for (const auto& p : profiles) {
      const auto it = cell.find({inv, p});
      row.push_back(it == cell.end() ? "-" : proof_mark(*it->second));
    }
    t.row(std::move(row));
  }
  const std::string protocol = report.at("protocol").get<std::string>();
  std::string out = protocol + ": " + std::to_string(invariants.size()) + " invariants x " +
                    std::to_string(profiles.size()) +
                    " profiles (k-induction within the bounds "
                    "`prove --verbose` lists)\n" +
                    t.text(1, "  ");
  if (!legend.empty()) out += wrapped(legend, "  negative variants:", "    ");
  if (!uncaught.empty())
    out += wrapped(uncaught, "  note: no invariant fails on negative variant(s)", "    ");
  const auto unexpected = unexpected_results(report);
  out += unexpected.empty() ? "  unexpected: none\n" : "  unexpected:\n";
  for (const auto& u : unexpected) out += "    " + u + "\n";
  return out;
}

std::string proof_legend() {
  return "✓ holds  ✗ fails  V vacuous  ? unknown;  ✗exp, Vexp, ?exp: expected by the protocol's "
         "binding\n  (proofs/<protocol>/binding.h): a negative variant caught, or a third-party "
         "profile's documented behaviour\n";
}

std::string proof_rows(const json& j) {
  std::string out =
      j.at("protocol").get<std::string>() + ": " + j.at("method").get<std::string>() + ":\n";
  for (const auto& b : j.at("bounds"))
    out += "  " + b.at("name").get<std::string>() + ": " + b.at("what").get<std::string>() + "\n";
  out += "outside the abstraction (not covered):\n";
  for (const auto& x : j.at("exclusions"))
    out += "  " + x.at("name").get<std::string>() + ": " + x.at("what").get<std::string>() + "\n";
  out += "vacuity sample (" + j.at("corpus_sample").get<std::string>() +
         "), ops representable / accepted by valid() per profile:\n ";
  for (const auto& [profile, s] : j.at("samples").items()) {
    out += " " + profile + " " + s.at("representable").dump() + "/" + s.at("accepted").dump();
    for (const auto& where : s.at("rejected")) out += " REJECTED " + where.get<std::string>();
  }
  out += "\n";
  using A = Table::Align;
  Table t({{"invariant"},
           {"profile"},
           {"result"},
           {"k", A::Right},
           {"witness", A::Right},
           {"time ms", A::Right},
           {""}});
  for (const auto& r : j.at("results")) {
    const auto& v = r.at("vacuity");
    const std::string verdict = v.at("verdict").get<std::string>();
    t.row({r.at("invariant").get<std::string>(), r.at("profile").get<std::string>(),
           r.at("result").get<std::string>() + (r.value("expected", true) ? "" : " (unexpected)"),
           std::to_string(r.at("k").get<int>()),
           verdict == "counterexample"
               ? "-"
               : std::to_string(v.at("antecedent_witness_depth").get<int>()),
           ms(r.at("ms").get<double>()), verdict.starts_with("vacuous") ? verdict : ""});
  }
  out += t.text();
  out += "shipped profiles: " + ms(j.at("shipped_ms").get<double>()) +
         " ms; all: " + ms(j.at("total_ms").get<double>()) +
         " ms (premise and witness checks within: " + ms(j.at("vacuity_ms").get<double>()) +
         " ms); corpus sample: " + ms(j.at("sample_ms").get<double>()) + " ms\n";
  return out;
}

}  // namespace lockstep::tools
