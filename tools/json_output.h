// The machine-readable output of `lockstep ... --json`: one JSON document on stdout per command,
// described by docs/lockstep-output.schema.json (versioned: a consumer checks schema_version;
// fields are only ever added within a version). Errors (exit 2/3) are documents too.
#pragma once
#include <sys/utsname.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/run.h"

namespace lockstep::tools {

inline constexpr int kJsonSchemaVersion = 1;

// What the run depended on, so a CI log says where a verdict came from.
inline nlohmann::json environment_json() {
  utsname u{};
  uname(&u);
  return {{"lockstep_version", LOCKSTEP_VERSION}, {"kernel", u.release}, {"machine", u.machine}};
}

// The document of `command`: the common head, then the command's own fields.
inline nlohmann::json document(const std::string& command, int exit_code,
                               const nlohmann::json& body = nlohmann::json::object()) {
  nlohmann::json j{{"schema_version", kJsonSchemaVersion},
                   {"command", command},
                   {"exit_code", exit_code},
                   {"environment", environment_json()}};
  j.update(body);
  return j;
}

// A trace's verdict: the first divergence with both sides' outcomes, and the fd balance.
template <class P>
nlohmann::json verdict_json(const std::string& profile, const std::vector<typename P::Op>& ops,
                            const Verdict<typename P::Outcome>& v) {
  nlohmann::json j{{"protocol", std::string(P::kName)},
                   {"profile", profile},
                   {"ops", ops.size()},
                   {"verdict", v.ok() ? "agree" : "diverged"},
                   {"fds", {{"delta", v.fds_delta}, {"expected", v.fds_expected}}},
                   {"divergence", nullptr}};
  if (!v.divergence) return j;
  const Divergence& d = *v.divergence;
  const bool at_op = d.index < ops.size() && d.index < v.model.size();
  j["divergence"] = {
      {"index", d.index},
      {"op", at_op ? nlohmann::json(std::string(P::op_name(ops[d.index]))) : nlohmann::json()},
      {"field", d.field},
      {"signature", d.signature},
      {"model", at_op ? nlohmann::json(P::outcome_text(v.model[d.index])) : nlohmann::json()},
      {"target", at_op ? nlohmann::json(P::outcome_text(v.target[d.index])) : nlohmann::json()},
      {"leaked_fds", d.leaked}};
  return j;
}

}  // namespace lockstep::tools
