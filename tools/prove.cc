#include "tools/prove.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>
#include <string_view>

#include "proofs/driver.h"
#include "proofs/mshv/binding.h"
#include "proofs/vhost/binding.h"
#include "tools/bindings.h"
#include "tools/commands.h"
#include "tools/exit_codes.h"
#include "tools/interrupt.h"
#include "tools/progress.h"
#include "tools/proof_text.h"
#include "tools/sarif.h"
#include "tools/input_file.h"

namespace lockstep::tools {
namespace {

// Where a proof row's SARIF result points: the counterexample program --emit-corpus wrote, at its
// last op (the step into the state that breaks the invariant); else the invariant's definition
// in the project's sources (proofs/<protocol>/invariants/<name>.cc, its `Invariant name()` line).
template <class B>
std::pair<std::string, int> proof_location(const std::string& emit_corpus, const std::string& inv,
                                           const std::string& profile, bool counterexample) {
  const std::string program = emit_corpus + "/" + inv + "__" + profile + ".txt";
  if (counterexample && !emit_corpus.empty() && std::filesystem::exists(program)) {
    std::ifstream in(program);
    const std::string text{std::istreambuf_iterator<char>(in), {}};
    const auto& lines = B::parse(text).source.op_lines;
    return {program, lines.empty() ? 0 : lines.back()};
  }
  const std::string source = std::string(LOCKSTEP_SOURCE_DIR) + "/proofs/" + std::string(B::kName) +
                             "/invariants/" + inv + ".cc";
  return {source, line_containing(source, "Invariant " + inv + "()")};
}

// Every row of a protocol's report that does not hold, as a SARIF result; a row the binding
// accepts (a negative variant's expected failure) is kept, suppressed.
template <class B>
std::vector<SarifFinding> proof_findings(const nlohmann::json& report,
                                         const std::string& emit_corpus) {
  using lockstep::proofs::Status;
  std::vector<SarifFinding> out;
  for (const auto& row : report["results"]) {
    const std::string result = row["result"], inv = row["invariant"], profile = row["profile"];
    if (result == "holds") continue;
    const Status status = result == "fails"     ? Status::Fails
                          : result == "vacuous" ? Status::Vacuous
                                                : Status::Unknown;
    const auto* p = B::Proofs::find_profile(profile);
    const auto [file, line] =
        proof_location<B>(emit_corpus, inv, profile, row.contains("counterexample"));
    const std::string signature =
        "lockstep: proof " + std::string(B::kName) + "/" + inv + "/" + profile;
    out.push_back(
        {status == Status::Fails     ? sarif_rule::kProofFails
         : status == Status::Vacuous ? sarif_rule::kProofVacuous
                                     : sarif_rule::kProofUnknown,
         signature + ": " + result + " (" + row["vacuity"]["verdict"].get<std::string>() + ")",
         signature, file, line,
         p && B::Proofs::acceptable(*p, status)
             ? "profile " + profile +
                   " is a negative variant: its proofs are meant to "
                   "fail (proofs/" +
                   std::string(B::kName) + "/binding.h)"
             : ""});
  }
  return out;
}

}  // namespace

namespace {

// How many rows the run will prove: its progress line counts them.
size_t rows_to_prove(const ProveOptions& o) {
  size_t rows = 0;
  for (std::string_view protocol : {MshvBinding::kName, VhostBinding::kName}) {
    if (o.protocol != "all" && protocol != o.protocol) continue;
    rows += with_binding(protocol, [&](auto binding) {
      using P = typename decltype(binding)::Proofs;
      const size_t profiles =
          o.profile.empty() ? P::shipped_profiles().size() + P::mutant_profiles().size() : 1;
      return profiles * P::invariants().size();
    });
  }
  return rows;
}

// What prove reads and writes, checked before any proof runs (a run takes seconds): the vacuity
// sample of every protocol proved is a directory of well-formed programs (an empty one is the
// driver's to report: every proof is then vacuous, exit 1), and --emit-corpus is a directory it
// can write (created if absent). Throws InputError.
void check_inputs(const ProveOptions& o, const std::string& corpus_root) {
  for (std::string_view protocol : {std::string_view("mshv"), std::string_view("vhost")}) {
    if (o.protocol != "all" && protocol != o.protocol) continue;
    with_binding(protocol, [&](auto binding) {
      using T = decltype(binding);
      const std::string dir = corpus_root + "/programs/" + std::string(T::kCorpus);
      if (!std::filesystem::is_directory(dir))
        throw InputError("no corpus at " + dir + " for the vacuity sample (--corpus)");
      lockstep::proofs::read_corpus_programs<T>(corpus_root);
      return 0;
    });
  }
  if (!o.emit_corpus.empty()) prepare_output_dir(o.emit_corpus, "--emit-corpus");
}

}  // namespace

int prove(const ProveOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool all = o.protocol == "all";
  if (!all && o.protocol != MshvBinding::kName && o.protocol != VhostBinding::kName) {
    std::cerr << "lockstep prove: unknown protocol '" << o.protocol << "' (mshv, vhost, all)\n";
    return with_sarif(o.sarif_path, {}, kUsage);
  }
  if (all && !o.profile.empty()) {
    std::cerr << "lockstep prove: --profile needs --protocol mshv or vhost\n";
    return with_sarif(o.sarif_path, {}, kUsage);
  }
  const std::string corpus_root = o.corpus_root.empty() ? default_corpus_root() : o.corpus_root;
  try {
    check_inputs(o, corpus_root);
  } catch (const InputError& e) {
    std::cerr << "lockstep prove: " << e.what() << "\n";
    return with_sarif(o.sarif_path, {}, kUsage);
  }
  nlohmann::json reports = nlohmann::json::array();
  std::vector<SarifFinding> sarif;
  int exit = 0;
  install_interrupt_handler();
  Progress progress("lockstep prove");
  progress.phase("proofs", "rows", rows_to_prove(o));
  size_t rows = 0;
  try {
    for (std::string_view protocol : {std::string_view("mshv"), std::string_view("vhost")}) {
      if (!all && protocol != o.protocol) continue;
      auto report = with_binding(protocol, [&](auto binding) {
        auto r = lockstep::proofs::prove<decltype(binding)>(
            {o.profile,
             o.emit_corpus,
             corpus_root,
             {},
             &interrupted,
             [&] { progress.update(++rows); }});
        for (auto& f : proof_findings<decltype(binding)>(r.json, o.emit_corpus))
          sarif.push_back(std::move(f));
        return r;
      });
      progress.clear();
      if (report.exit == 2) return with_sarif(o.sarif_path, {}, kUsage);
      exit = std::max(exit, report.exit);
      if (!o.json) std::cout << (o.verbose ? proof_rows(report.json) : proof_matrix(report.json));
      reports.push_back(std::move(report.json));
    }
  } catch (const std::invalid_argument& e) {
    std::cerr << "lockstep prove: " << e.what() << "\n";
    return with_sarif(o.sarif_path, {}, kUsage);
  } catch (const InputError& e) {  // a counterexample that could not be written
    std::cerr << "lockstep prove: " << e.what() << "\n";
    return with_sarif(o.sarif_path, {}, kUsage);
  }
  const double wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (o.json) {
    if (all) {
      std::cout << nlohmann::json{{"wall_ms", wall_ms},
                                  {"interrupted", interrupted()},
                                  {"protocols", reports}}
                       .dump(2)
                << "\n";
    } else {
      reports[0]["wall_ms"] = wall_ms;
      reports[0]["interrupted"] = interrupted();
      std::cout << reports[0].dump(2) << "\n";
    }
  } else {
    if (!o.verbose) std::cout << proof_legend();
    std::cout << "prove: " << o.protocol << ": " << wall_ms << " ms wall\n";
  }
  if (interrupted()) std::cerr << "prove: interrupted; the report covers the proofs that ran\n";
  return with_sarif(o.sarif_path, sarif, exit);
}

}  // namespace lockstep::tools
