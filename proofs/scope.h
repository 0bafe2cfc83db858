// What a proof covers, said once per protocol next to its encoding (scope() in
// proofs/<protocol>/encoding.h): the bounds of the encoding and of the driver, and the concrete
// behaviour left outside the abstraction. `lockstep prove` prints it and puts it in its JSON; the
// README's proofs section carries scope_markdown() of each protocol, checked by a test.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace lockstep::proofs {

struct ScopeEntry {
  std::string name;  // short, stable: a JSON key and the README's bullet
  std::string what;  // one sentence
};

struct Scope {
  std::vector<ScopeEntry> bounds;      // the proof covers traces within these
  std::vector<ScopeEntry> exclusions;  // concrete ops and states outside the abstract model
};

// The README's rendering (tests/proofs/protocol_tests.h finds it there verbatim).
inline std::string scope_markdown(std::string_view protocol, const Scope& scope) {
  std::string out = std::string(protocol) + " bounds:\n\n";
  for (const auto& b : scope.bounds) out += "- `" + b.name + "`: " + b.what + "\n";
  out += "\n" + std::string(protocol) + " outside the abstraction:\n\n";
  for (const auto& x : scope.exclusions) out += "- `" + x.name + "`: " + x.what + "\n";
  return out;
}

}  // namespace lockstep::proofs
