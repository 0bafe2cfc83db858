// The model-transition coverage of `lockstep corpus min`: the abstraction of one model step to a
// (state class, op class, outcome class) triple, one small function per protocol, built only
// from what the model exposes (its profile, resources, phase, connection, armed fault) and the
// op and outcome of the step. An input covers the set of triples its trace exercises when
// replayed on the model under its own profile; a minimised corpus must keep that set.
#pragma once
#include <string>

#include "core/mshv/ops.h"
#include "core/vhost/ops.h"
#include "model/mshv/model.h"
#include "model/vhost/model.h"

namespace lockstep::tools {

// mshv: state = profile, live partitions, devices and held file references before the op (each
// counted 0, 1 or "2+": one device vs. several is the boundary C7 cares about), and whether a
// fault is armed; op = the op's name (CREATE_DEVICE, SET_DEVICE_ATTR, CLOSE, ...);
// outcome = "= 0" or the errno name. Example: "mshv-v1 p1 d1 r0 | SET_DEVICE_ATTR | EEXIST".
std::string transition_class(const mshv::Model& before, const mshv::Op& op,
                             const mshv::Outcome& outcome);

// vhost: state = profile, connection up or down, postcopy phase (rule X12), whether regions are
// mapped and whether a fault is armed, before the op; op = the request's name, RAW, CONNECT,
// DISCONNECT or FAIL_NEXT; outcome = the first reply's shape (none, u64=0, u64=1, u64, or the
// reply's request with "+fd" when it carries fds) plus "+n" for further replies and "closed"
// when the connection is down after it. Example: "spec up advised | POSTCOPY_LISTEN | u64=0".
std::string transition_class(const vhost::Model& before, const vhost::Op& op,
                             const vhost::Outcome& outcome);

}  // namespace lockstep::tools
