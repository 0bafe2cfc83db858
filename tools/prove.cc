#include "tools/prove.h"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <stdexcept>
#include <string_view>

#include "proofs/driver.h"
#include "proofs/mshv/binding.h"
#include "proofs/vhost/binding.h"
#include "tools/bindings.h"
#include "tools/commands.h"

namespace lockstep::tools {

int prove(const ProveOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool all = o.protocol == "all";
  if (!all && o.protocol != MshvBinding::kName && o.protocol != VhostBinding::kName) {
    std::cerr << "prove: unknown protocol '" << o.protocol << "' (mshv, vhost, all)\n";
    return 2;
  }
  if (all && !o.profile.empty()) {
    std::cerr << "prove: --profile needs --protocol mshv or vhost\n";
    return 2;
  }
  nlohmann::json reports = nlohmann::json::array();
  int exit = 0;
  try {
    for (std::string_view protocol : {std::string_view("mshv"), std::string_view("vhost")}) {
      if (!all && protocol != o.protocol) continue;
      auto report = with_binding(protocol, [&](auto binding) {
        return lockstep::proofs::prove<decltype(binding)>(
            {o.profile,
             o.emit_corpus,
             o.corpus_root.empty() ? default_corpus_root() : o.corpus_root,
             {}});
      });
      if (report.exit == 2) return 2;
      exit = std::max(exit, report.exit);
      if (!o.json) lockstep::proofs::print_report(std::cout, report.json);
      reports.push_back(std::move(report.json));
    }
  } catch (const std::invalid_argument& e) {
    std::cerr << "prove: " << e.what() << "\n";
    return 2;
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
