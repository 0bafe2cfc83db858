// The registry of impl mutants: the deliberately broken variants of the real implementations,
// one table for both protocols (rows in impl/mshv/mutants.def and impl/vhost/mutants.def). Every
// binary selects one by name: the fuzz targets through LOCKSTEP_IMPL_MUTANT, `lockstep run` and
// `lockstep replay` through `--impl-mutant NAME` (or the same variable); `lockstep mutants
// [--json]` lists them. The id is what the protocol's ImplTarget takes (0: the unbroken impl).
#pragma once
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace lockstep {

struct ImplMutant {
  std::string_view protocol;  // "mshv" | "vhost"
  int id;                     // the ImplTarget's mutant argument, >= 1
  std::string_view name;      // "del-keeps-ref": the spelling every selector takes
  // The compared field it corrupts first, "fds" (the fd oracle), or "race": a data race that no
  // one-thread run shows, caught by ThreadSanitizer in the protocol's stress test instead.
  std::string_view field;
  std::string_view op;       // the op at which the shipped corpus catches it ("": at the end)
  std::string_view summary;  // one line
  std::string_view source;   // the seed or review defect it mirrors; "" for a classic slip
  bool race() const { return field == "race"; }
  // How it is caught: the first report line of the fuzz target and run() on the shipped corpus,
  // "lockstep: divergence <protocol>/<op>/<field>" or "lockstep: fd-leak <protocol>"; for a
  // race, the report of <protocol>_stress_test under the tsan preset,
  // "WARNING: ThreadSanitizer: data race".
  std::string signature() const;
};

// Every impl mutant, mshv first, each protocol in its .def order.
std::span<const ImplMutant> impl_mutants();

// The mutant `name` of `protocol`: 0 for "" (no mutant), its id for a registered name; an
// unknown name throws std::invalid_argument whose message lists the valid names.
int impl_mutant_id(std::string_view protocol, std::string_view name);

// The mutant LOCKSTEP_IMPL_MUTANT names for `protocol` (0 when unset or empty). For the fuzz
// targets, which read it once: an unknown name prints "<who>: <the error>" to stderr and exits
// with status 2 (no abort, which a fuzzer would report as a crash of the target).
int impl_mutant_from_env(std::string_view protocol, const char* who);

// `lockstep mutants --json`: [{"protocol":..,"name":..,"summary":..,"field":..}, ...].
std::string impl_mutants_json();
// The list in docs/mutants.md between "<!-- mutants: list -->" and "<!-- /mutants: list -->".
std::string impl_mutants_markdown();

}  // namespace lockstep
