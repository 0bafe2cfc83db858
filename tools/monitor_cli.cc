// `lockstep monitor`: the CLI binding of monitor/monitor.h (options, exit code, --json document).
#include <iostream>

#include "monitor/monitor.h"
#include "tools/commands.h"
#include "tools/json_output.h"

namespace lockstep::tools {

int monitor(const MonitorCliOptions& c) {
  monitor::MonitorOptions o{c.listen, c.connect, c.profile, c.record, std::nullopt};
  if (c.perturb >= 0) o.perturb = static_cast<uint64_t>(c.perturb);
  monitor::MonitorResult r = monitor::run_monitor(o);
  if (!r.error.empty()) std::cerr << "lockstep monitor: error: " << r.error << "\n";
  if (c.json) {
    nlohmann::json body = r.session.is_null() ? nlohmann::json::object() : r.session;
    body["seed"] = o.perturb ? nlohmann::json(*o.perturb) : nlohmann::json();
    if (!r.error.empty()) body["error"] = r.error;
    std::cout << document("monitor", r.exit_code, body).dump(2) << "\n";
  }
  return r.exit_code;
}

}  // namespace lockstep::tools
