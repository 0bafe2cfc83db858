#include "tools/summary.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "core/table.h"
#include "tools/exit_codes.h"
#include "tools/proof_text.h"

namespace lockstep::tools {
namespace {

using nlohmann::json;

struct Document {
  std::string file;
  json doc;
};

// What decides the verdict: the worst exit code seen (2 over 3 over 1) and why.
struct Verdict {
  bool usage = false, environment = false;
  std::vector<std::string> findings, problems;
  void add(int code, const std::string& why) {
    if (code == kUsage) usage = true;
    if (code == kEnvironment) environment = true;
    if (code == kFinding) findings.push_back(why);
    if (code == kUsage || code == kEnvironment) problems.push_back(why);
  }
  int code() const {
    return usage ? kUsage : environment ? kEnvironment : findings.empty() ? kOk : kFinding;
  }
};

std::string thousands(uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string fixed(double x, const char* format) {
  char buf[32];
  std::snprintf(buf, sizeof buf, format, x);
  return buf;
}

// FILE:LINE:COL of a parse error at byte `at` of `text`.
std::string position(const std::string& file, const std::string& text, size_t at) {
  at = std::min(at, text.size());
  const size_t line = 1 + std::count(text.begin(), text.begin() + at, '\n');
  const size_t start = text.rfind('\n', at ? at - 1 : 0);
  const size_t col = start == std::string::npos || at == 0 ? at + 1 : at - start;
  return file + ":" + std::to_string(line) + ":" + std::to_string(col);
}

// Reads every file; an unreadable one is a usage error the verdict names.
std::vector<Document> read_documents(const std::vector<std::string>& files, Verdict& verdict) {
  std::vector<Document> out;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      verdict.add(kUsage, file + ": cannot be read");
      continue;
    }
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
      verdict.add(kUsage, file + ": empty: the command wrote no document (did it crash?)");
      continue;
    }
    try {
      out.push_back({file, json::parse(text)});
    } catch (const json::parse_error& e) {
      verdict.add(kUsage,
                  position(file, text, e.byte ? e.byte - 1 : 0) + ": not JSON: " + e.what());
    }
  }
  return out;
}

std::string kind_of(const json& d) {
  if (!d.is_object()) return "";
  if (d.contains("command")) return d.at("command").get<std::string>();
  if (d.contains("protocols") || d.contains("results")) return "prove";
  return "";
}

// One row per `lockstep run` document: both phases together; exec/s of the random phase.
void runs(const std::vector<Document>& docs, Verdict& verdict) {
  using A = Table::Align;
  Table t({{"protocol"},
           {"traces", A::Right},
           {"ops", A::Right},
           {"divergences", A::Right},
           {"fds leaked", A::Right},
           {"exec/s", A::Right},
           {"note"}});
  for (const auto& [file, d] : docs) {
    if (kind_of(d) != "run") continue;
    const std::string protocol = d.value("protocol", std::string("?"));
    const int code = d.value("exit_code", kUsage);
    if (d.contains("error")) {
      t.row({protocol, "", "", "", "", "", "error: " + d.at("error").get<std::string>()});
      verdict.add(code, "run " + protocol + ": " + d.at("error").get<std::string>());
      continue;
    }
    uint64_t traces = 0, ops = 0, divergences = 0, leaked = 0;
    std::string rate = "-";
    for (const auto& p : d.at("phases")) {
      traces += p.at("traces").get<uint64_t>(), ops += p.at("ops").get<uint64_t>();
      divergences += p.at("divergences").get<uint64_t>();
      leaked += p.at("fds_leaked").get<uint64_t>();
      if (!p.at("traces_per_second").is_null())
        rate = thousands(static_cast<uint64_t>(p.at("traces_per_second").get<double>() + 0.5));
    }
    std::string note = d.value("interrupted", false) ? "interrupted" : "";
    for (const auto& f : d.at("findings"))
      note += (note.empty() ? "" : "; ") + f.at("file").get<std::string>();
    t.row({protocol, thousands(traces), thousands(ops), thousands(divergences), thousands(leaked),
           rate, note});
    if (code != kOk)
      verdict.add(code, "run " + protocol + ": " + std::to_string(divergences) + " divergences, " +
                            std::to_string(leaked) + " fds leaked");
  }
  if (!t.rows()) return;
  std::cout << "Differential campaigns (lockstep run: the corpus, then random inputs)\n"
            << t.text(2, "  ");
}

void proofs(const std::vector<Document>& docs, Verdict& verdict) {
  std::vector<const json*> reports;
  for (const auto& [file, d] : docs) {
    if (kind_of(d) != "prove") continue;
    if (d.contains("protocols"))
      for (const auto& r : d.at("protocols")) reports.push_back(&r);
    else
      reports.push_back(&d);
  }
  if (reports.empty()) return;
  std::cout << "\nProofs (lockstep prove; every row: lockstep prove --verbose)\n";
  for (const json* r : reports) {
    std::cout << proof_matrix(*r);
    const size_t unexpected = unexpected_results(*r).size();
    if (unexpected)
      verdict.add(kFinding, "proofs " + (*r).at("protocol").get<std::string>() + ": " +
                                std::to_string(unexpected) + " unexpected results");
  }
  std::cout << proof_legend();
}

// One row per `lockstep peer` document. Unexpected: what the expectations file does not explain
// (a disagreement it does not list, an entry not reproduced), listed under the table.
void peers(const std::vector<Document>& docs, Verdict& verdict) {
  using A = Table::Align;
  Table t({{"peer"},
           {"profile"},
           {"traces", A::Right},
           {"agree", A::Right},
           {"distinct disagreements", A::Right},
           {"unexpected", A::Right},
           {"note"}});
  std::vector<std::string> problems;
  for (const auto& [file, d] : docs) {
    if (kind_of(d) != "peer") continue;
    const std::string peer = d.value("peer", std::string("?"));
    const std::string profile = d.value("profile", std::string());
    const int code = d.value("exit_code", kUsage);
    if (code == kEnvironment) {  // reported, not a failure of the job
      t.row({peer, profile, "", "", "", "", "cannot run here: " + d.value("error", std::string())});
      continue;
    }
    if (d.contains("error")) {
      t.row({peer, profile, "", "", "", "", "error: " + d.at("error").get<std::string>()});
      verdict.add(code, "peer " + peer + ": " + d.at("error").get<std::string>());
      continue;
    }
    const json& c = d.at("counts");
    const uint64_t traces = c.at("traces").get<uint64_t>(),
                   agree = c.at("agreements").get<uint64_t>();
    uint64_t distinct = 0;
    for (const auto& [cls, n] : c.at("distinct_disagreements_by_class").items())
      distinct += n.get<uint64_t>();
    const auto& audit = d.at("expectations_problems");
    for (const auto& p : audit) problems.push_back(peer + ": " + p.get<std::string>());
    t.row({peer, profile, thousands(traces),
           fixed(traces ? 100.0 * agree / traces : 100.0, "%.2f%%"), std::to_string(distinct),
           std::to_string(audit.size()), code == kOk ? "explained by the expectations file" : ""});
    if (code != kOk)
      verdict.add(code, "peer " + peer + ": " + std::to_string(audit.size()) +
                            " disagreements or expectations the file does not explain");
  }
  if (!t.rows()) return;
  std::cout << "\nReal peers (lockstep peer, a short bounded run each)\n" << t.text(2, "  ");
  for (const auto& p : problems) std::cout << "  unexpected: " << p << "\n";
}

// "campaigns 2, proofs of 2 protocols, peers 1 (1 cannot run here)", and whether Ctrl-C cut it.
std::string ran(const std::vector<Document>& docs) {
  size_t runs = 0, protocols = 0, peers = 0, unavailable = 0;
  for (const auto& [file, d] : docs) {
    const std::string kind = kind_of(d);
    runs += kind == "run";
    if (kind == "prove") protocols += d.contains("protocols") ? d.at("protocols").size() : 1;
    if (kind == "peer") (d.value("exit_code", 0) == kEnvironment ? unavailable : peers)++;
  }
  bool interrupted = false;
  for (const auto& [file, d] : docs) interrupted = interrupted || d.value("interrupted", false);
  return "campaigns " + std::to_string(runs) + ", proofs of " + std::to_string(protocols) +
         " protocols, peers " + std::to_string(peers) + " (" + std::to_string(unavailable) +
         " cannot run here)" + (interrupted ? "; interrupted: this covers what ran" : "");
}

}  // namespace

int summary(const std::vector<std::string>& files) {
  Verdict verdict;
  const std::vector<Document> docs = read_documents(files, verdict);
  for (const auto& [file, d] : docs) {
    const std::string kind = kind_of(d);
    if (kind != "run" && kind != "prove" && kind != "peer")
      verdict.add(kUsage, file + ": not a document of lockstep run, prove or peer --json");
  }
  try {
    runs(docs, verdict);
    proofs(docs, verdict);
    peers(docs, verdict);
  } catch (const json::exception& e) {  // a field missing or of another type
    verdict.add(kUsage, std::string("a document is not what its command writes: ") + e.what());
  }
  const int code = verdict.code();
  std::cout << "\n";
  for (const auto& p : verdict.problems) std::cout << "problem: " << p << "\n";
  std::cout << "ran: " << ran(docs) << "\n";
  std::cout << "verdict: exit " << code << ": "
            << (code == kOk            ? "everything checked agreed"
                : code == kFinding     ? "findings"
                : code == kEnvironment ? "a command could not run here"
                                       : "a command failed or its document is unreadable");
  for (size_t i = 0; code == kFinding && i < verdict.findings.size(); ++i)
    std::cout << (i ? "; " : ": ") << verdict.findings[i];
  std::cout << "\n";
  return code;
}

}  // namespace lockstep::tools
