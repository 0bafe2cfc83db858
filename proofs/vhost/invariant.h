// An invariant of the vhost-user postcopy model, checked on the symbolic transition relation
// (proofs/vhost/encoding.h): a state part on every reachable state, a step part on every
// transition from a reachable state; either may be absent.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "proofs/vhost/encoding.h"

namespace lockstep::vhost::proofs {

struct StepView {
  const SymState& pre;
  const SymAction& a;
  const StepResult& r;
};

struct Invariant {
  std::string name;    // file stem under proofs/vhost/invariants/, counterexample prefix
  std::string clause;  // docs/vhost-backend-rules.md rule(s)
  std::function<z3::expr(Encoding&, const SymState&)> state;  // may be empty
  std::function<z3::expr(Encoding&, const StepView&)> step;   // may be empty
  bool strengthened = false;  // inductive step assumes well_formed (proved first)
  bool auxiliary = false;     // well_formed itself
};

Invariant well_formed();
Invariant one_uffd_per_connection();
Invariant uffd_iff_postcopy_phase();
Invariant end_leaves_no_uffd();
Invariant reset_owner_releases();
Invariant disconnect_releases();
Invariant listen_after_advise();
Invariant table_reply_only_listening();
Invariant advise_reply_shape();
Invariant unused_fds_closed();
Invariant reply_flags();
Invariant region_fds_bounded();
Invariant ack_before_register();

std::vector<Invariant> all_invariants();

}  // namespace lockstep::vhost::proofs
