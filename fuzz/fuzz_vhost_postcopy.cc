// Differential fuzz target: the vhost-user model (model/vhost, profile `spec`) against our real
// back-end (impl/vhost) driven over an AF_UNIX socketpair with SCM_RIGHTS, real userfaultfd and
// memfd regions; at most 64 ops per input; fd-accounting oracle at the end of every input.
//
// Input: byte 0 holds the fuzz options (the profile, the form: 0-7 legacy, 8-255 structured, and
// whether the negotiation preamble comes first), then the ops (core/vhost/codec.h). libFuzzer
// mutates whole ops through fuzz/trace_mutator.h. On a divergence it prints a stable one-line
// signature ("lockstep: divergence vhost/POSTCOPY_END/reply.size") and then the program with
// both sides' outcomes, and aborts through frames named after the op and the field
// (fuzz/crash_states.h), so crash deduplication by signature and by stack agree.
//
// LOCKSTEP_IMPL_MUTANT=<name> (`lockstep mutants`, impl/vhost/mutants.def) runs a deliberately
// broken back-end against the model: the negative ctests prove the oracles fire on each. It is
// read once, before main: an unknown name exits with status 2 and the list of valid names (not a
// crash of the first input, as an exit inside the input callback would be under libFuzzer).

#include "core/run.h"
#include "core/vhost/codec.h"
#include "fuzz/crash_states.h"
#include "fuzz/trace_mutator.h"
#include "impl/mutants.h"
#include "impl/vhost/target.h"
#include "model/vhost/model.h"

namespace {

// Read once, before main (so before any engine runs an input); an unknown name exits here.
const int g_mutant = lockstep::impl_mutant_from_env("vhost", "fuzz_vhost_postcopy");

}  // namespace

// Trace-level mutation of the structured inputs (fuzz/trace_mutator.h).
LOCKSTEP_TRACE_MUTATOR(vhost)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lockstep;
  vhost::Trace trace = vhost::decode_input({data, size});
  vhost::Model model(*vhost::find_profile(trace.profile));
  vhost::ImplTarget target(trace.profile, g_mutant);
  auto verdict =
      run<vhost::Protocol>(trace.ops, model, target, {.check_fds = true, .record = true});
  if (!verdict.ok()) fuzz::abort_on_divergence<vhost::Protocol>(trace.profile, trace.ops, verdict);
  return 0;
}
