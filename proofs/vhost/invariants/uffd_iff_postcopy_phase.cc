// Clause: X12/P4/P5: a live uffd exactly in the advised/listening/awaiting-ack/registered phases
// Bounds: proofs/vhost/encoding.h (<= 8 regions, <= 12 fds per send, one message per op).
// Phase none <=> no uffd. Plain induction, k = 1 (no strengthening), ~25 ms. Fails where LISTEN is
// ungated (dpdk-22.11, rfc-2018, libvhost-user, mutant-listen-without-advise: depth 1) and on
// mutant-advise-second-uffd (a failed re-ADVISE drops the uffd while listening: depth 5).
#include "proofs/vhost/invariant.h"

namespace lockstep::vhost::proofs {

Invariant uffd_iff_postcopy_phase() {
  Invariant inv;
  inv.clause =
      "X12/P4/P5: a live uffd exactly in the advised/listening/awaiting-ack/registered phases";
  inv.state = [](Encoding& e, const SymState& s) {
    return s.uffd == (e.phase(s) != e.phase_is(Phase::None));
  };
  inv.antecedent = [](Encoding& e, const StepView& v) {  // a postcopy phase
    return e.phase(v.r.next) != e.phase_is(Phase::None);
  };
  return inv;
}

}  // namespace lockstep::vhost::proofs
