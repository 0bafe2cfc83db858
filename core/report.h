// Readable reports of a run, shared by the fuzzers (printed before abort), `lockstep replay`
// and the tests. A protocol P adds to the traits of core/run.h:
//   P::call_lines(ops) -> one formatted call per op;   P::outcome_text(outcome)
//   P::header(profile) -> "# lockstep mshv  profile=mshv-v1"
#pragma once
#include <algorithm>
#include <string>
#include <vector>

#include "core/errno_names.h"
#include "core/run.h"
#include "core/trace.h"

namespace lockstep {

// The annotation a readable program carries for an outcome: "= 0" or "EEXIST".
inline std::string errno_note(int err) {
  return err ? errno_name(err) : "= 0";
}

// The program with model and target outcomes side by side; the first divergence is marked.
template <class P>
std::string side_by_side(const std::string& profile, const std::vector<typename P::Op>& ops,
                         const Verdict<typename P::Outcome>& v) {
  std::vector<std::string> calls = P::call_lines(ops);
  size_t width = 0;
  for (const auto& c : calls) width = std::max(width, c.size());
  std::string out = P::header(profile) + "\n";
  for (size_t i = 0; i < ops.size(); ++i) {
    std::string line = calls[i] + std::string(width + 2 - calls[i].size(), ' ') + "# ";
    if (i < v.model.size()) {
      std::string m = P::outcome_text(v.model[i]), t = P::outcome_text(v.target[i]);
      line += "model: " + m + (m == t ? "   target: same" : "   target: " + t);
    } else {
      line += "(not run: the trace stopped at the first divergence)";
    }
    if (v.divergence && v.divergence->index == i)
      line += "   <== first divergence (" + v.divergence->field + ")";
    out += line + "\n";
  }
  if (v.divergence && v.divergence->index == ops.size()) {
    out += "# end of trace: process fds +" + std::to_string(v.fds_delta) + ", the model expects +" +
           std::to_string(v.fds_expected) + "\n";
    for (const auto& fd : v.divergence->leaked) out += "#   leaked fd " + fd + "\n";
  }
  if (v.divergence) out += v.divergence->signature + "\n";
  return out;
}

}  // namespace lockstep
