// One crash state per divergence signature. ClusterFuzz (OSS-Fuzz, ClusterFuzzLite) files one
// bug per crash state, the top three symbolized frames of the crash's stack; if every divergence
// aborted from the same line, every distinct bug would be filed as one. Here a divergence aborts
// through a frame for its field and a frame for its op (fuzz/crash_states.def), so two crashes
// share a crash state exactly when they share a signature (core/run.h).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/report.h"
#include "core/run.h"

namespace lockstep::fuzz {

// The frames an abort passes through below abort_with_crash_state, innermost first:
// {"vhost_field_resources_uffds", "vhost_POSTCOPY_END"} for a divergence, {"mshv_fd_leak"} for an
// fd leak (op empty). Empty for an unknown protocol.
std::vector<std::string> crash_frames(std::string_view protocol, std::string_view op,
                                      std::string_view field);

// Writes `report` to stderr, then aborts through the frames crash_frames names.
[[noreturn]] void abort_with_crash_state(std::string_view protocol, std::string_view op,
                                         std::string_view field, const std::string& report);

// Aborts on a failed verdict. The report's first line is the signature (what triage and
// deduplication read first), then the program with both sides' outcomes, which ends with the
// signature again.
template <class P>
[[noreturn]] void abort_on_divergence(const std::string& profile,
                                      const std::vector<typename P::Op>& ops,
                                      const Verdict<typename P::Outcome>& verdict) {
  const Divergence& d = *verdict.divergence;
  const std::string op = d.index < ops.size() ? std::string(P::op_name(ops[d.index])) : "";
  abort_with_crash_state(P::kName, op, d.field,
                         d.signature + "\n" + side_by_side<P>(profile, ops, verdict));
}

}  // namespace lockstep::fuzz
