// The invariants of the MSHV model, checked on proofs/mshv/encoding.h by proofs/driver.h: one
// file each under proofs/mshv/invariants/, listed in proofs/mshv/invariants.def.
#pragma once
#include "proofs/mshv/encoding.h"
#define LOCKSTEP_PROOFS_PROTOCOL mshv
#include "proofs/invariant_list.h"

namespace lockstep::mshv::proofs {

// Antecedents the invariants share (see Invariant::antecedent).
inline z3::expr some_live_device(Encoding& e, const SymState& s) {
  z3::expr some = e.ctx().bool_val(false);
  for (const SymDevice& d : s.devices) some = some || d.live;
  return some;
}
inline z3::expr some_file_held(Encoding& e, const SymState& s) {
  z3::expr some = e.ctx().bool_val(false);
  for (const SymDevice& d : s.devices)
    for (const z3::expr& copies : d.files) some = some || copies != 0;
  return some;
}

}  // namespace lockstep::mshv::proofs
