// A protocol's invariants, from its X-macro list proofs/<protocol>/invariants.def: one line
// LOCKSTEP_INVARIANT(name) per invariant, in proving order (well_formed, the auxiliary one,
// first), each defined as `Invariant name()` in proofs/<protocol>/invariants/<name>.cc, the
// sources proofs/CMakeLists.txt reads from the same list. proofs/<protocol>/invariant.h does
//
//   #define LOCKSTEP_PROOFS_PROTOCOL mshv
//   #include "proofs/invariant_list.h"
//
// after including its encoding, and gets in lockstep::<protocol>::proofs: Invariant, StepView,
// one declaration per invariant, and all_invariants(). No include guard: once per protocol.
#ifndef LOCKSTEP_PROOFS_PROTOCOL
#error "define LOCKSTEP_PROOFS_PROTOCOL (mshv, vhost) before including proofs/invariant_list.h"
#endif
#include <vector>

#include "proofs/driver.h"

// The .def path is stringized as written: no spaces around its slashes.
// clang-format off
#define LOCKSTEP_STRINGIZE_(x) #x
#define LOCKSTEP_STRINGIZE(x) LOCKSTEP_STRINGIZE_(x)
#define LOCKSTEP_INVARIANTS_DEF LOCKSTEP_STRINGIZE(proofs/LOCKSTEP_PROOFS_PROTOCOL/invariants.def)
// clang-format on

namespace lockstep::LOCKSTEP_PROOFS_PROTOCOL::proofs {

using Invariant = lockstep::proofs::Invariant<Encoding>;
using StepView = lockstep::proofs::StepView<Encoding>;

#define LOCKSTEP_INVARIANT(name) Invariant name();
#include LOCKSTEP_INVARIANTS_DEF
#undef LOCKSTEP_INVARIANT

// Named after their list entries, in list order.
inline std::vector<Invariant> all_invariants() {
  std::vector<Invariant> invariants;
#define LOCKSTEP_INVARIANT(name) invariants.push_back(lockstep::proofs::named(#name, name()));
#include LOCKSTEP_INVARIANTS_DEF
#undef LOCKSTEP_INVARIANT
  return invariants;
}

}  // namespace lockstep::LOCKSTEP_PROOFS_PROTOCOL::proofs

#undef LOCKSTEP_INVARIANTS_DEF
#undef LOCKSTEP_PROOFS_PROTOCOL
