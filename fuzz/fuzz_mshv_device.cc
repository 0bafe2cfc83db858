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
// LOCKSTEP_IMPL_MUTANT=del-keeps-ref|no-dup-check|release-keeps-files runs a deliberately
// broken impl: the negative ctest proves the oracle fires on it.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/mshv/codec.h"
#include "core/run.h"
#include "fuzz/crash_states.h"
#include "fuzz/trace_mutator.h"
#include "impl/mshv/device_layer.h"
#include "impl/mshv/target.h"
#include "model/mshv/model.h"

namespace {

int mutant_from_env() {
  const char* name = std::getenv("LOCKSTEP_IMPL_MUTANT");
  if (!name || !*name) return LOCKSTEP_MSHV_MUTANT_NONE;
  if (!std::strcmp(name, "del-keeps-ref")) return LOCKSTEP_MSHV_MUTANT_DEL_KEEPS_REF;
  if (!std::strcmp(name, "no-dup-check")) return LOCKSTEP_MSHV_MUTANT_NO_DUP_CHECK;
  if (!std::strcmp(name, "release-keeps-files")) return LOCKSTEP_MSHV_MUTANT_RELEASE_KEEPS_FILES;
  std::fprintf(stderr, "fuzz_mshv_device: unknown LOCKSTEP_IMPL_MUTANT '%s'\n", name);
  std::abort();
}

}  // namespace

// Trace-level mutation of the structured inputs (fuzz/trace_mutator.h).
LOCKSTEP_TRACE_MUTATOR(mshv)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lockstep;
  static const int mutant = mutant_from_env();
  mshv::Trace trace = mshv::decode_input({data, size});
  mshv::Model model(*mshv::find_profile(trace.profile));
  mshv::ImplTarget target(trace.profile);
  lockstep_mshv_set_mutant(mutant);
  auto verdict = run<mshv::Protocol>(trace.ops, model, target, {.check_fds = true, .record = true});
  if (!verdict.ok()) fuzz::abort_on_divergence<mshv::Protocol>(trace.profile, trace.ops, verdict);
  return 0;
}
