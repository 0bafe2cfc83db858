// `lockstep mutants`: the impl mutants every binary can select (impl/mutants.h).
#include <iostream>
#include <string>

#include "core/table.h"
#include "impl/mutants.h"
#include "tools/commands.h"

namespace lockstep::tools {

int list_mutants(bool json, bool markdown) {
  if (json) {
    std::cout << impl_mutants_json();
  } else if (markdown) {
    std::cout << impl_mutants_markdown();
  } else {
    Table t{"protocol", "name", "corrupts", "what"};
    for (const ImplMutant& m : impl_mutants()) {
      t.row({std::string(m.protocol), std::string(m.name), std::string(m.field),
             std::string(m.summary)});
      if (!m.source.empty()) t.row({"", "", "", "mirrors: " + std::string(m.source)});
    }
    std::cout << t.text();
  }
  return 0;
}

}  // namespace lockstep::tools
