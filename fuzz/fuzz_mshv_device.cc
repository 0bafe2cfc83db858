// Differential fuzz target: the MSHV model against the real device layer (impl/mshv), at most
// 64 ops per input, fd-accounting oracle at the end of every input.
//
// Input: byte 0 picks the profile (even: mshv-v1, odd: mshv-strict) and the form (0-1 legacy,
// 2-255 structured), then the ops (core/mshv/codec.h). libFuzzer mutates whole ops through
// fuzz/trace_mutator.h. On a divergence it prints a stable one-line signature
// ("lockstep: divergence mshv/CREATE_DEVICE/err") and then the program with both sides'
// outcomes, and aborts through frames named after the op and the field (fuzz/crash_states.h),
// so crash deduplication by signature and by stack agree.
//
// LOCKSTEP_IMPL_MUTANT=<name> (`lockstep mutants`, impl/mshv/mutants.def) runs a deliberately
// broken impl: the negative ctests prove the oracles fire on each. It is read once,
// before main: an unknown name exits with status 2 and the list of valid names (not a crash of
// the first input, as an exit inside the input callback would be under libFuzzer).

#include "core/mshv/codec.h"
#include "core/run.h"
#include "fuzz/crash_states.h"
#include "fuzz/trace_mutator.h"
#include "impl/mshv/target.h"
#include "impl/mutants.h"
#include "model/mshv/model.h"

namespace {

// Read once, before main (so before any engine runs an input); an unknown name exits here.
const int g_mutant = lockstep::impl_mutant_from_env("mshv", "fuzz_mshv_device");

}  // namespace

// Trace-level mutation of the structured inputs (fuzz/trace_mutator.h).
LOCKSTEP_TRACE_MUTATOR(mshv)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lockstep;
  mshv::Trace trace = mshv::decode_input({data, size});
  mshv::Model model(*mshv::find_profile(trace.profile));
  mshv::ImplTarget target(trace.profile, g_mutant);
  auto verdict = run<mshv::Protocol>(trace.ops, model, target, {.check_fds = true, .record = true});
  if (!verdict.ok()) fuzz::abort_on_divergence<mshv::Protocol>(trace.profile, trace.ops, verdict);
  return 0;
}
