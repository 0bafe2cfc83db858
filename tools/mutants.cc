// `lockstep mutants`: the impl mutants every binary can select (impl/mutants.h).
#include <cstdio>
#include <iostream>
#include <string>

#include "impl/mutants.h"
#include "tools/commands.h"

namespace lockstep::tools {

int list_mutants(bool json, bool markdown) {
  if (json) {
    std::cout << impl_mutants_json();
  } else if (markdown) {
    std::cout << impl_mutants_markdown();
  } else {
    for (const ImplMutant& m : impl_mutants()) {
      std::printf("%-6s %-32s %-30s %s\n", std::string(m.protocol).c_str(),
                  std::string(m.name).c_str(), std::string(m.field).c_str(),
                  std::string(m.summary).c_str());
      if (!m.source.empty()) std::printf("%71s mirrors: %s\n", "", std::string(m.source).c_str());
    }
  }
  return 0;
}

}  // namespace lockstep::tools
