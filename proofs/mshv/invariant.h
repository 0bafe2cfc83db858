// An invariant of the MSHV model, checked on the symbolic transition relation
// (proofs/mshv/encoding.h). A state part is checked on every reachable state, a step part on
// every transition taken from a reachable state; either may be absent.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "proofs/mshv/encoding.h"

namespace lockstep::mshv::proofs {

struct StepView {
  const SymState& pre;
  const SymAction& a;
  const SymState& post;
  const z3::expr& err;
};

struct Invariant {
  std::string name;    // file stem under proofs/mshv/invariants/, counterexample file prefix
  std::string clause;  // the spec clause it captures
  std::function<z3::expr(Encoding&, const SymState&)> state;  // may be empty
  std::function<z3::expr(Encoding&, const StepView&)> step;   // may be empty
  // Inductive step strengthened with the auxiliary invariant well_formed (proved first).
  bool strengthened = true;
  bool auxiliary = false;  // well_formed itself: holds for every profile, mutants included
};

// One per file under proofs/mshv/invariants/.
Invariant well_formed();
Invariant device_type_valid();
Invariant test_never_changes_state();
Invariant one_vfio_device_per_partition();
Invariant no_duplicate_file();
Invariant file_refs_owned();
Invariant partition_refcount();
Invariant failed_op_unchanged();

// well_formed first, then the spec invariants in the order above.
std::vector<Invariant> all_invariants();

// Every component except the handle counts and the armed fault (which every op advances or
// consumes), and except the ghost device type. Used by the "state unchanged" invariants.
z3::expr semantic_equal(Encoding& e, const SymState& a, const SymState& b);

}  // namespace lockstep::mshv::proofs
