// The invariants of the MSHV model, checked on proofs/mshv/encoding.h by proofs/driver.h: one
// file each under proofs/mshv/invariants/, listed in proofs/mshv/invariants.def.
#pragma once
#include "proofs/mshv/encoding.h"
#define LOCKSTEP_PROOFS_PROTOCOL mshv
#include "proofs/invariant_list.h"
