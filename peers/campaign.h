// The campaign every real peer runs (`lockstep peer NAME`), written once and generic over a peer
// binding the way tools/campaign.cc is generic over tools/bindings.h: the corpus programs under
// each corpus profile, then seeded generated traces for a time budget; every disagreement is
// shrunk, deduplicated by signature, classified by the peer's expectations file
// (peers/expectations.h; the binding's heuristic triage is only a suggestion beside it), written
// as a readable program, counted in a summary table and, on request, in a reviewer-facing
// markdown report.
//
// A binding B (peers/kvm/kvm_campaign.h, peers/dpdk/dpdk_campaign.h) supplies:
//   types     (BindingTypes) Trace (lockstep::Trace<Op>), Check (skipped: optional<Skip>,
//             signature: "" when model and peer agree, side_by_side; optionally verdict, whose
//             divergence pins a finding's SARIF line), Environment
//             (unavailable: "" = can run)
//   constant  kInfo (PeerInfo: names, corpus dirs and corpus profiles)
//   static    probe() -> Environment; runs_profile(name); parse(text) -> Trace;
//             report_text(Environment, PeerOptions) -> ReportText (the peer's own prose)
//   B(const PeerOptions&, const Environment&)   throws std::exception when the peer cannot start
//   in_profile(program, profile) -> Trace   a corpus program in the numbers of `profile`
//   first_skip(trace) -> optional<Skip>     the first op the peer cannot take
//   check(trace) -> Check                   model (trace.profile) vs the peer
//   without(trace, i) -> optional<Trace>    the trace minus op i, or nullopt if that is no trace
//   classify(minimal, check) -> Classification   a heuristic triage: a suggestion in the report
//   generate(rng, profile) -> Trace         one random trace, already cut at first_skip
//   evidence(check) -> string               what the peer showed besides the side-by-side
#pragma once
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/program_files.h"
#include "peers/expectations.h"
#include "peers/skip.h"
#include "tools/interrupt.h"
#include "tools/progress.h"
#include "tools/sarif.h"

namespace lockstep::peers {

// How a disagreement is explained; unclassified until the expectations file says otherwise.
struct Classification {
  char kind = '?';  // 'a' documented deviation (a profile switch explains it), 'b' model bug or
                    // gap, 'c' peer defect or spec deviation, 's' spec ambiguity, '?' not in the
                    // expectations file: needs triage
  std::string why;
};

struct PeerOptions {
  std::string profile;  // "" = the profile that models the peer (PeerInfo::profile)
  double seconds = 10;  // the generated phase
  uint64_t seed = 1;
  std::string corpus_root = "corpus";
  std::string findings_dir;  // "" = findings/<peer>
  std::string report_path;   // "" = no report
  std::string expectations;  // "" = peers/<peer>/expectations.txt
  // KVM only: run the chosen profile's traces through the MSHV <-> KVM number swap
  // (peers/kvm/mapping.h); unset = on for mshv-* profiles, off for kvm. The DPDK peer speaks
  // one vocabulary and has nothing to swap.
  std::optional<bool> type_map;
  bool json = false;       // --json: one document on stdout (peers/output.h), no table
  std::string sarif_path;  // --sarif: the findings as SARIF (tools/sarif.h); "" = none
};

// A peer's names, as messages, paths and reports spell them, and where its corpus is.
struct PeerInfo {
  const char* name;      // "kvm": `lockstep peer kvm`, peers/kvm/, findings/kvm
  const char* noun;      // "KVM": "the KVM peer cannot run here", "(c) KVM defect"
  const char* profile;   // "kvm": the profile that models the peer, and the default one
  const char* profiles;  // the profiles worth naming when an unknown one is asked for
  std::span<const char* const> corpus_dirs;      // under <corpus root>/programs/
  std::span<const char* const> corpus_profiles;  // each corpus program runs under each
  // Its signatures are core/run.h's behind a profile, so its expectations file is held to
  // SignatureRules (peers/expectations.h).
  bool run_signatures = false;
};

// The peer's own prose and facts; write_report lays out everything else.
struct ReportText {
  std::string title;
  std::vector<std::pair<std::string, std::string>> environment;  // table rows
  std::string compared;                                          // "What is compared"
  std::vector<std::pair<std::string, std::string>> sections;     // more (heading, body)
  std::string traces;       // how this peer's corpus and generated traces are made
  std::string signature;    // what a signature is made of
  std::string unreachable;  // paths no trace reaches on this peer ("" = none known)
};

struct Tally {
  size_t traces = 0, ops = 0, agree = 0, disagree = 0, skipped = 0, truncated = 0;
};

struct Finding {
  std::string signature, origin, file;
  std::string evidence;      // the trace kept, side by side, and what the peer showed besides
  Classification cls;        // from the expectations file
  Classification suggested;  // the binding's heuristic triage
  size_t hits = 0;
  int line = 0;  // of the offending op in `file` (tools/sarif.h side_by_side_line)
};

struct Results {
  std::map<std::string, Tally> tallies;        // by "profile | phase"
  std::map<std::string, Finding> findings;     // by signature
  std::map<std::string, size_t> skip_reasons;  // traces cut or skipped, by reason
  std::vector<std::string> corpus_notes;
  double corpus_seconds = 0, generated_seconds = 0;
  bool interrupted = false;                 // Ctrl-C stopped the campaign at a trace boundary
  std::set<std::string> corpus_signatures;  // disagreements the corpus phase showed
  std::vector<std::string> problems;        // audit() against the expectations file
};

// The three types a binding names; a binding derives from BindingTypes<...>.
template <class TraceType, class CheckType, class EnvironmentType>
struct BindingTypes {
  using Trace = TraceType;
  using Check = CheckType;
  using Environment = EnvironmentType;
};

template <class Trace>
struct Program {
  std::string name;  // "<dir>/<file>.txt"
  Trace trace;
};

// ---- the parts that need no binding (campaign.cc) ----------------------------------------------

// `options` with the peer's defaults filled in.
PeerOptions with_defaults(const PeerInfo& peer, PeerOptions options);
// Says why on stderr and, when a report was asked for, writes one saying it was not run. 3.
int cannot_run(const PeerInfo& peer, const PeerOptions& options, const ReportText& text,
               const std::string& why);
int unknown_profile(const PeerInfo& peer, const PeerOptions& options);  // 2
// The peer's corpus profiles, then the chosen one if it is not among them.
std::vector<std::string> corpus_profiles(const PeerInfo& peer, const std::string& chosen);
std::string corpus_note(const std::string& profile, size_t programs, size_t whole, size_t cut,
                        size_t none);
// Names f.file (the n-th finding of the campaign), writes it, and says so on stdout.
void write_finding(Finding& f, const PeerOptions& options, const std::string& profile, size_t n);
// The expectations' classification of a disagreement ('?' when the file does not list it).
Classification expected_class(const Expectations& file, const std::string& signature);
// results.problems from audit() over what the campaign saw, for the profiles it ran.
void audit_results(const PeerInfo& peer, const PeerOptions& options, const Expectations& file,
                   Results& results);
// Says why (a malformed expectations file or corpus program, FILE:LINE:COL) on stderr. 2.
int bad_input(const PeerInfo& peer, const PeerOptions& options, const std::string& why);
// The rules the peer's expectations file is held to (none unless peer.run_signatures).
SignatureRules signature_rules(const PeerInfo& peer, bool (*runs_profile)(const std::string&));
// "no corpus at ROOT/programs/DIR (or ...)": the root has none of the peer's directories.
std::string no_corpus(const PeerInfo& peer, const std::filesystem::path& root);
// The summary table on stdout, the report when asked for; 0 when the expectations file explains
// every disagreement and every corpus entry was reproduced, 1 otherwise.
int finish(const PeerInfo& peer, const PeerOptions& options, const ReportText& text,
           const Results& results);

// ---- the parts that run the peer ---------------------------------------------------------------

// Greedy op deletion while the same signature persists.
template <class B>
typename B::Trace shrink(B& binding, const typename B::Trace& trace, const std::string& signature) {
  typename B::Trace best = trace;
  best.notes.clear();
  for (bool progress = true; progress;) {
    progress = false;
    for (size_t i = best.ops.size(); i-- > 0;) {
      if (best.ops.size() <= 1) break;
      std::optional<typename B::Trace> candidate = binding.without(best, i);
      if (!candidate) continue;
      const typename B::Check c = binding.check(*candidate);
      if (!c.skipped && c.signature == signature) {
        best = std::move(*candidate);
        progress = true;
      }
    }
  }
  return best;
}

// The programs of the peer's corpus directories; InputError (FILE:LINE:COL where there is text)
// at the first that is not a well-formed program, or when the root has none of the directories.
template <class B>
std::vector<Program<typename B::Trace>> load_corpus(const std::filesystem::path& root) {
  std::vector<Program<typename B::Trace>> out;
  bool found = false;
  for (const char* dir : B::kInfo.corpus_dirs) {
    found = found || std::filesystem::is_directory(root / "programs" / dir);
    for (const auto& path : program_paths(root / "programs" / dir))
      out.push_back({std::string(dir) + "/" + path.filename().string(),
                     parse_program_file(path, read_text_file(path),
                                        [](std::string_view t) { return B::parse(t); })});
  }
  if (!found) throw InputError(no_corpus(B::kInfo, root));
  return out;
}

template <class B>
class Campaign {
 public:
  using Trace = typename B::Trace;

  Campaign(const PeerOptions& options, B& binding, const Expectations& expectations)
      : options_(options), binding_(binding), expectations_(expectations) {}

  // Every corpus program under each corpus profile (and the chosen one), run up to its first
  // op the peer cannot take.
  void run_corpus() { run_corpus(load_corpus<B>(options_.corpus_root)); }
  void run_corpus(const std::vector<Program<Trace>>& programs) {
    const auto profiles = corpus_profiles(B::kInfo, options_.profile);
    size_t done = 0;
    progress_.phase("corpus", "traces", programs.size() * profiles.size());
    for (const auto& profile : profiles) {
      size_t whole = 0, cut = 0, none = 0;
      auto tally = [&]() -> Tally& { return results_.tallies[profile + " | corpus"]; };
      for (const auto& program : programs) {
        if (tools::interrupted()) break;
        Trace t = binding_.in_profile(program.trace, profile);
        t.profile = profile;
        t.notes.clear();
        if (auto skip = binding_.first_skip(t)) {
          t.ops.resize(skip->index);
          results_.skip_reasons[skip->reason]++;
          if (t.ops.empty()) {
            none++;
            tally().skipped++;
            continue;
          }
          cut++;
          tally().truncated++;
        } else {
          whole++;
        }
        record(t, "corpus", "corpus program " + program.name);
        progress_.update(++done);
      }
      results_.corpus_notes.push_back(corpus_note(profile, programs.size(), whole, cut, none));
    }
  }

  // Seeded generated traces under the chosen profile until the time budget is spent.
  void run_generated() {
    std::mt19937_64 rng(options_.seed);
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + std::chrono::duration<double>(options_.seconds);
    size_t n = 0;
    progress_.phase_until("generated", "traces", deadline);
    while (!tools::interrupted() && std::chrono::steady_clock::now() < deadline) {
      Trace t = binding_.generate(rng, options_.profile);
      if (t.ops.empty()) continue;
      record(t, "generated",
             "generated trace #" + std::to_string(n++) + " (seed " + std::to_string(options_.seed) +
                 ")");
      progress_.update(n);
    }
    progress_.clear();
    results_.generated_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  const Results& results() const { return results_; }
  Results& results() { return results_; }

 private:
  void record(const Trace& trace, const std::string& phase, const std::string& origin) {
    Tally& tally = results_.tallies[trace.profile + " | " + phase];
    typename B::Check c = binding_.check(trace);
    if (c.skipped) {
      tally.skipped++;
      results_.skip_reasons[c.skipped->reason]++;
      return;
    }
    tally.traces++;
    tally.ops += trace.ops.size();
    if (c.signature.empty()) {
      tally.agree++;
      return;
    }
    tally.disagree++;
    const std::string signature = c.signature;
    if (phase == "corpus") results_.corpus_signatures.insert(signature);
    if (auto it = results_.findings.find(signature); it != results_.findings.end()) {
      it->second.hits++;
      return;
    }
    Trace minimal = shrink(binding_, trace, signature);
    typename B::Check check = binding_.check(minimal);
    if (check.signature != signature) {  // the peer is flaky here: keep what showed it
      minimal = trace;
      minimal.notes.clear();
      check = std::move(c);
    }
    Finding f{signature,
              origin,
              "",
              check.side_by_side + binding_.evidence(check),
              expected_class(expectations_, signature),
              binding_.classify(minimal, check),
              1};
    if constexpr (requires { check.verdict.divergence; })
      if (check.verdict.divergence)
        f.line = tools::side_by_side_line(check.verdict.divergence->index, minimal.ops.size());
    progress_.clear();  // the finding's lines start at column 0
    write_finding(f, options_, trace.profile, results_.findings.size());
    results_.findings.emplace(signature, std::move(f));
  }

  const PeerOptions& options_;
  B& binding_;
  const Expectations& expectations_;
  Results results_;
  tools::Progress progress_{std::string("lockstep peer ") + B::kInfo.name};
};

// The whole of `lockstep peer NAME`: 0 the expectations file explains what was seen, 1 it does
// not (a disagreement it does not list, a corpus entry not reproduced), 2 an unknown profile, a
// malformed expectations file or corpus program (FILE:LINE:COL), 3 the peer cannot run here.
// Every input is checked before the environment, so a malformed file is 2 even where the peer
// cannot run.
template <class B>
int run_peer_campaign(const PeerOptions& given) {
  const PeerOptions options = with_defaults(B::kInfo, given);
  Expectations expectations;
  std::vector<Program<typename B::Trace>> programs;
  try {
    expectations =
        load_expectations(options.expectations, signature_rules(B::kInfo, &B::runs_profile));
  } catch (const ExpectationsError& e) {
    return bad_input(B::kInfo, options, e.what());
  }
  if (!B::runs_profile(options.profile)) return unknown_profile(B::kInfo, options);
  try {
    programs = load_corpus<B>(options.corpus_root);
  } catch (const InputError& e) {
    return bad_input(B::kInfo, options, e.what());
  }
  typename B::Environment env = B::probe();
  if (!env.unavailable.empty())
    return cannot_run(B::kInfo, options, B::report_text(env, options), env.unavailable);
  std::optional<B> binding;
  try {
    binding.emplace(options, env);
  } catch (const std::exception& e) {
    env.unavailable = e.what();
    return cannot_run(B::kInfo, options, B::report_text(env, options), env.unavailable);
  }
  Campaign<B> campaign(options, *binding, expectations);
  tools::install_interrupt_handler();
  const auto start = std::chrono::steady_clock::now();
  campaign.run_corpus(programs);
  campaign.results().corpus_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  campaign.run_generated();
  campaign.results().interrupted = tools::interrupted();
  audit_results(B::kInfo, options, expectations, campaign.results());
  ReportText text = B::report_text(env, options);
  if constexpr (requires(const B& b) { b.run_notes(); })
    text.sections.emplace_back("How the checks ran", binding->run_notes());
  return finish(B::kInfo, options, text, campaign.results());
}

}  // namespace lockstep::peers
