// The invariants of the vhost-user postcopy model, checked on proofs/vhost/encoding.h by
// proofs/driver.h: one file each under proofs/vhost/invariants/, listed in
// proofs/vhost/invariants.def.
#pragma once
#include "proofs/vhost/encoding.h"
#define LOCKSTEP_PROOFS_PROTOCOL vhost
#include "proofs/invariant_list.h"
