#include "tools/transitions.h"

#include <algorithm>

#include "core/report.h"

namespace lockstep::tools {
namespace {

std::string bucket(int n) {
  return n >= 2 ? "2+" : std::to_string(std::max(n, 0));
}

}  // namespace

std::string transition_class(const mshv::Model& before, const mshv::Op& op,
                             const mshv::Outcome& outcome) {
  const mshv::Resources r = before.resources();
  const std::string state = before.profile().name + " p" + bucket(r.partitions) + " d" +
                            bucket(r.devices) + " r" + bucket(r.file_refs) +
                            (before.state().armed ? " fault" : "");
  return state + " | " + mshv::Protocol::op_name(op) + " | " + errno_note(outcome.err);
}

std::string transition_class(const vhost::Model& before, const vhost::Op& op,
                             const vhost::Outcome& outcome) {
  const vhost::State& s = before.state();
  const vhost::Resources r = before.resources();
  const std::string state = before.profile().name +
                            (s.connected ? " up " + vhost::to_string(r.phase) : " down") +
                            (r.regions_mapped ? " mapped" : "") + (s.armed ? " fault" : "");
  std::string shape = "none";
  if (!outcome.replies.empty()) {
    const vhost::Reply& first = outcome.replies.front();
    const auto value = first.u64();
    shape = value ? (*value <= 1 ? "u64=" + std::to_string(*value) : "u64")
                  : vhost::request_text(first.request) + (first.fds.empty() ? "" : "+fd");
    if (outcome.replies.size() > 1) shape += " +" + std::to_string(outcome.replies.size() - 1);
  }
  if (outcome.closed) shape += " closed";
  return state + " | " + vhost::Protocol::op_name(op) + " | " + shape;
}

}  // namespace lockstep::tools
