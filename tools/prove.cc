#include "tools/prove.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string_view>

#include "proofs/driver.h"
#include "proofs/mshv/binding.h"
#include "proofs/vhost/binding.h"
#include "tools/bindings.h"
#include "tools/commands.h"
#include "tools/exit_codes.h"
#include "tools/input_file.h"

namespace lockstep::tools {
namespace {

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
    return 2;
  }
  if (all && !o.profile.empty()) {
    std::cerr << "lockstep prove: --profile needs --protocol mshv or vhost\n";
    return 2;
  }
  const std::string corpus_root = o.corpus_root.empty() ? default_corpus_root() : o.corpus_root;
  try {
    check_inputs(o, corpus_root);
  } catch (const InputError& e) {
    std::cerr << "lockstep prove: " << e.what() << "\n";
    return kUsage;
  }
  nlohmann::json reports = nlohmann::json::array();
  int exit = 0;
  try {
    for (std::string_view protocol : {std::string_view("mshv"), std::string_view("vhost")}) {
      if (!all && protocol != o.protocol) continue;
      auto report = with_binding(protocol, [&](auto binding) {
        return lockstep::proofs::prove<decltype(binding)>(
            {o.profile, o.emit_corpus, corpus_root, {}});
      });
      if (report.exit == 2) return 2;
      exit = std::max(exit, report.exit);
      if (!o.json) lockstep::proofs::print_report(std::cout, report.json);
      reports.push_back(std::move(report.json));
    }
  } catch (const std::invalid_argument& e) {
    std::cerr << "lockstep prove: " << e.what() << "\n";
    return kUsage;
  } catch (const InputError& e) {  // a counterexample that could not be written
    std::cerr << "lockstep prove: " << e.what() << "\n";
    return kUsage;
  }
  const double wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (o.json) {
    if (all) {
      std::cout << nlohmann::json{{"wall_ms", wall_ms}, {"protocols", reports}}.dump(2) << "\n";
    } else {
      reports[0]["wall_ms"] = wall_ms;
      std::cout << reports[0].dump(2) << "\n";
    }
  } else {
    std::cout << "prove: " << o.protocol << ": " << wall_ms << " ms wall\n";
  }
  return exit;
}

}  // namespace lockstep::tools
