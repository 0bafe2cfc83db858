#include "peers/campaign.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/table.h"
#include "peers/output.h"

namespace lockstep::peers {
namespace {

namespace fs = std::filesystem;

std::string number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

std::string percent(size_t part, size_t whole) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", whole ? 100.0 * part / whole : 0.0);
  return buf;
}

// "profile | phase" -> {profile, phase}
std::pair<std::string, std::string> split_key(const std::string& key) {
  const auto bar = key.find(" | ");
  return {key.substr(0, bar), key.substr(bar + 3)};
}

// `a`, `b` and `c`
std::string listed(std::span<const std::string> items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i)
    out += (i == 0 ? "" : i + 1 == items.size() ? " and " : ", ") + ("`" + items[i] + "`");
  return out;
}

std::string command_line(const PeerInfo& peer, const PeerOptions& o) {
  return std::string("lockstep peer ") + peer.name + " --profile " + o.profile + " --seconds " +
         number(o.seconds) + (o.seed == 1 ? "" : " --seed " + std::to_string(o.seed)) +
         " --report " + o.report_path + " --findings " + o.findings_dir;
}

// A block of markdown followed by one blank line, however its text ends.
void block(std::ostream& out, std::string_view text) {
  while (text.ends_with('\n')) text.remove_suffix(1);
  out << text << "\n\n";
}

void section(std::ostream& out, const std::string& heading, std::string_view body) {
  out << "## " << heading << "\n\n";
  block(out, body);
}

// One row per "profile | phase": the report's table (with the agreement column, headed "traces
// run") and the terminal summary's.
Table tally_table(const Results& results, bool report) {
  using A = Table::Align;
  std::vector<Table::Column> columns{
      {"profile"},       {"phase"},           {report ? "traces run" : "traces", A::Right},
      {"ops", A::Right}, {"agree", A::Right}, {"disagree", A::Right}};
  if (report) columns.push_back({"agreement", A::Right});
  columns.insert(columns.end(), {{"truncated", A::Right}, {"skipped", A::Right}});
  Table t(std::move(columns));
  for (const auto& [key, n] : results.tallies) {
    const auto [profile, phase] = split_key(key);
    std::vector<std::string> row{profile,
                                 phase,
                                 std::to_string(n.traces),
                                 std::to_string(n.ops),
                                 std::to_string(n.agree),
                                 std::to_string(n.disagree)};
    if (report) row.push_back(percent(n.agree, n.traces));
    row.insert(row.end(), {std::to_string(n.truncated), std::to_string(n.skipped)});
    t.row(std::move(row));
  }
  return t;
}

// The peer's environment rows, then `more` (what the campaign adds: its random phase).
void environment_table(std::ostream& out, const ReportText& text,
                       const std::vector<std::pair<std::string, std::string>>& more = {}) {
  Table t{"", ""};
  for (const auto& [what, value] : text.environment) t.row({what, value});
  for (const auto& [what, value] : more) t.row({what, value});
  out << "## Environment\n\n" << t.markdown();
}

void traces_section(std::ostream& out, const PeerInfo& peer, const PeerOptions& options,
                    const ReportText& text, const Results& results) {
  std::vector<std::string> dirs;
  for (const char* dir : peer.corpus_dirs)
    dirs.push_back("corpus/programs/" + std::string(dir) + "/*.txt");
  out << "## Traces run and agreement\n\n"
      << "Corpus programs (" << listed(dirs) << ") are run under "
      << listed(corpus_profiles(peer, options.profile))
      << ", whatever profile each was written for; the generated phase runs under `"
      << options.profile << "` only. " << text.traces
      << " Both are cut before the first op the peer cannot take: a corpus program cut there "
         "counts as truncated, one with nothing left as skipped.\n\n"
      << tally_table(results, true).markdown() << "\n";
  for (const auto& note : results.corpus_notes) out << "- " << note << "\n";
  out << "\n";
}

void findings_section(std::ostream& out, const PeerInfo& peer, const PeerOptions& options,
                      const ReportText& text, const Results& results) {
  out << "## Distinct disagreements (" << results.findings.size() << ")\n\n"
      << "Each is shrunk (greedy op deletion while the same signature persists; when the shrunk "
         "trace no longer shows it, the unshrunk trace is kept) and deduplicated by signature ("
      << text.signature << ") and classified by the entry of `" << options.expectations
      << "` with the same signature, with the evidence it cites: (a) documented deviation — a "
      << peer.profile << " profile switch explains it; (b) model bug or gap; (c) " << peer.noun
      << " defect or spec deviation; (s) spec ambiguity; (?) not in the expectations file: "
         "needs triage. The campaign's own heuristic triage is shown as a suggestion only.\n\n";
  if (results.findings.empty()) out << "None.\n\n";
  int n = 0;
  for (const auto& [signature, f] : results.findings) {
    out << "### " << ++n << ". (" << f.cls.kind << ") `" << signature << "`\n\n"
        << f.cls.why << "\n\n";
    if (!f.suggested.why.empty())
      out << "Heuristic suggestion (" << f.suggested.kind << "): " << f.suggested.why << "\n\n";
    out << "Seen " << f.hits << " time(s); first found by " << f.origin << "; written to `"
        << f.file << "`.\n\n```\n"
        << f.evidence << "```\n\n";
  }
  out << "## Expectations audit\n\n";
  if (results.problems.empty())
    out << "Every disagreement is listed in `" << options.expectations
        << "`, and every entry seen by the corpus was reproduced by it.\n\n";
  for (const auto& p : results.problems) out << "- " << p << "\n";
  if (!results.problems.empty()) out << "\n";
}

void unreachable_section(std::ostream& out, const ReportText& text, const Results& results) {
  Table t{"reason", "traces cut or skipped"};
  for (const auto& [why, count] : results.skip_reasons) t.row({why, std::to_string(count)});
  out << "## Paths that could not be reached\n\n" << t.markdown() << "\n";
  if (!text.unreachable.empty()) block(out, text.unreachable);
}

void write_file(const std::string& path, const std::string& text) {
  const fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

void write_report(const PeerInfo& peer, const PeerOptions& options, const ReportText& text,
                  const Results& results) {
  std::ostringstream r;
  r << "# " << text.title << "\n\n"
    << "Generated by `" << command_line(peer, options) << "` (peers/campaign.h, peers/" << peer.name
    << "/, tools/lockstep_main.cc `peer`). Regenerate with the same command; the random phase "
       "is seeded, but what fits in the time budget depends on the machine.\n\n";
  std::ostringstream random_phase;
  random_phase << results.generated_seconds << " s, seed " << options.seed << ", profile `"
               << options.profile << "`";
  environment_table(r, text, {{"random phase", random_phase.str()}});
  r << "\n";
  section(r, "What is compared", text.compared);
  for (const auto& [heading, body] : text.sections) section(r, heading, body);
  traces_section(r, peer, options, text, results);
  findings_section(r, peer, options, text, results);
  unreachable_section(r, text, results);
  write_file(options.report_path, r.str());
}

void print_summary(const Results& results) {
  std::printf("\n%s", tally_table(results, false).text().c_str());
  for (const auto& [signature, f] : results.findings)
    std::printf("  (%c) %s -> %s\n", f.cls.kind, signature.c_str(), f.file.c_str());
  for (const auto& p : results.problems) std::printf("expectations: %s\n", p.c_str());
}

}  // namespace

std::vector<std::string> corpus_profiles(const PeerInfo& peer, const std::string& chosen) {
  std::vector<std::string> out(peer.corpus_profiles.begin(), peer.corpus_profiles.end());
  if (std::find(out.begin(), out.end(), chosen) == out.end()) out.push_back(chosen);
  return out;
}

PeerOptions with_defaults(const PeerInfo& peer, PeerOptions options) {
  if (options.profile.empty()) options.profile = peer.profile;
  if (options.findings_dir.empty()) options.findings_dir = std::string("findings/") + peer.name;
  if (options.expectations.empty()) {  // the checkout's, else the project's (as for the corpus)
    options.expectations = std::string("peers/") + peer.name + "/expectations.txt";
    if (!fs::exists(options.expectations))
      options.expectations = std::string(LOCKSTEP_SOURCE_DIR) + "/" + options.expectations;
  }
  return options;
}

Classification expected_class(const Expectations& file, const std::string& signature) {
  const Expectation* e = file.find(signature);
  if (!e) return {'?', "not in " + file.path + ": needs triage, then an entry there"};
  std::string why = e->why + " [" + file.path + ":" + std::to_string(e->line) + ", " +
                    e->class_name + "; evidence:";
  for (const auto& ev : e->evidence) why += " " + ev + ";";
  why.back() = ']';
  return {e->kind, why};
}

void audit_results(const PeerInfo& peer, const PeerOptions& options, const Expectations& file,
                   Results& results) {
  std::set<std::string> all;
  for (const auto& [signature, f] : results.findings) all.insert(signature);
  results.problems =
      audit(file, results.corpus_signatures, all, corpus_profiles(peer, options.profile));
}

int bad_input(const PeerInfo& peer, const PeerOptions& options, const std::string& why) {
  std::fprintf(stderr, "lockstep peer %s: %s\n", peer.name, why.c_str());
  // an input error (FILE:LINE:COL), as for every command (tools/exit_codes.h)
  return write_outputs(peer, options, 2, nullptr, nullptr, why);
}

SignatureRules signature_rules(const PeerInfo& peer, bool (*runs_profile)(const std::string&)) {
  if (!peer.run_signatures) return {};
  return {peer.name, runs_profile, peer.profiles};
}

std::string no_corpus(const PeerInfo& peer, const fs::path& root) {
  std::string dirs;
  for (const char* dir : peer.corpus_dirs)
    dirs += (dirs.empty() ? "" : " or ") + (root / "programs" / dir).string();
  return "no corpus at " + dirs + " (--corpus names the root)";
}

int cannot_run(const PeerInfo& peer, const PeerOptions& options, const ReportText& text,
               const std::string& why) {
  std::fprintf(stderr, "lockstep peer %s: the %s peer cannot run here: %s\n", peer.name, peer.noun,
               why.c_str());
  if (!options.report_path.empty()) {
    std::ostringstream r;
    r << "# " << text.title << "\n\n**Not run: " << why << ".**\n\n";
    environment_table(r, text);
    write_file(options.report_path, r.str());
  }
  return write_outputs(peer, options, 3, &text, nullptr,
                       std::string("the ") + peer.noun + " peer cannot run here: " + why);
}

int unknown_profile(const PeerInfo& peer, const PeerOptions& options) {
  std::fprintf(stderr, "lockstep peer %s: unknown profile '%s' (%s)\n", peer.name,
               options.profile.c_str(), peer.profiles);
  return write_outputs(peer, options, 2, nullptr, nullptr,
                       "unknown profile '" + options.profile + "' (" + peer.profiles + ")");
}

std::string corpus_note(const std::string& profile, size_t programs, size_t whole, size_t cut,
                        size_t none) {
  return "corpus under " + profile + ": " + std::to_string(programs) + " programs, " +
         std::to_string(whole) + " run whole, " + std::to_string(cut) +
         " run up to their first op the peer cannot take, " + std::to_string(none) +
         " with nothing runnable";
}

void write_finding(Finding& f, const PeerOptions& options, const std::string& profile, size_t n) {
  fs::create_directories(options.findings_dir);
  f.file = (fs::path(options.findings_dir) / (profile + "-" + std::to_string(n) + ".txt")).string();
  std::ofstream(f.file) << f.evidence << "# classification (" << f.cls.kind << "): " << f.cls.why
                        << "\n# heuristic suggestion (" << f.suggested.kind
                        << "): " << f.suggested.why << "\n# found by: " << f.origin << "\n";
  if (options.json) return;  // stdout holds the one JSON document
  std::printf("finding %s: %s\n  (%c) %s\n", f.file.c_str(), f.signature.c_str(), f.cls.kind,
              f.cls.why.c_str());
  std::fflush(stdout);
}

int finish(const PeerInfo& peer, const PeerOptions& options, const ReportText& text,
           const Results& results) {
  if (!options.json) print_summary(results);
  if (!options.report_path.empty()) {
    write_report(peer, options, text, results);
    if (!options.json) std::printf("report: %s\n", options.report_path.c_str());
  }
  if (results.interrupted)
    std::fprintf(stderr, "lockstep peer %s: interrupted; the summary covers what ran\n", peer.name);
  return write_outputs(peer, options, results.problems.empty() ? 0 : 1, &text, &results, "");
}

}  // namespace lockstep::peers
