// Clause: auxiliary: mapped <= 8, reg => mapped, awaiting => listening, a closed connection holds
// nothing (D1) Bounds: proofs/vhost/encoding.h (<= 8 regions, <= 12 fds per send, one message per
// op). Auxiliary (strengthening for the others). Expected: k = 1, < 100 ms per profile.
#include "proofs/vhost/invariant.h"

namespace lockstep::vhost::proofs {

Invariant well_formed() {
  Invariant inv;
  inv.name = "well_formed";
  inv.clause =
      "auxiliary: mapped <= 8, reg => mapped, awaiting => listening, a closed connection holds "
      "nothing (D1)";
  inv.state = [](Encoding& e, const SymState& s) { return e.well_formed(s); };
  inv.auxiliary = true;
  return inv;
}

}  // namespace lockstep::vhost::proofs
