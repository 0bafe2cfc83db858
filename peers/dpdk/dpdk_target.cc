#include "peers/dpdk/dpdk_target.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace lockstep::peers::dpdk {

std::optional<std::string> unsupported(const vhost::Op& op) {
  return backend::unsupported(op, kWire);
}

std::optional<Skip> first_unsupported(const vhost::Trace& trace) {
  return backend::first_unsupported(trace, kWire);
}

std::string default_peer_binary() {
  if (const char* e = std::getenv("LOCKSTEP_DPDK_PEER"); e && *e) return e;
#ifdef LOCKSTEP_DPDK_PEER_PATH
  return LOCKSTEP_DPDK_PEER_PATH;
#else
  return "";
#endif
}

DpdkEnvironment probe_dpdk_environment() {
  DpdkEnvironment env;
  env.binary = default_peer_binary();
  env.version = backend::command_output("pkg-config --modversion libdpdk 2>/dev/null");
  env.kernel = backend::uname_release();
  if (env.binary.empty())
    env.unavailable = "dpdk_vhost_peer was not built (pkg-config found no libdpdk when CMake ran)";
  else if (::access(env.binary.c_str(), X_OK) != 0)
    env.unavailable =
        "dpdk_vhost_peer not executable at " + env.binary + ": " + std::strerror(errno);
  return env;
}

backend::BackendSpec dpdk_spec(std::string binary, std::vector<std::string> extra, bool eal) {
  if (binary.empty()) throw std::runtime_error(probe_dpdk_environment().unavailable);
  backend::BackendSpec spec;
  spec.name = "dpdk_vhost_peer";
  spec.binary = std::move(binary);
  spec.args = {"--socket", "{socket}"};
  if (eal) spec.args.insert(spec.args.end(), {"--file-prefix", "{prefix}"});
  spec.args.insert(spec.args.end(), extra.begin(), extra.end());
  spec.ready_line = true;
  spec.start_timeout_ms = 15000;  // the peer itself needs ~1.3 s
  spec.reply_timeout_ms = 5000;   // DPDK answers in well under a millisecond
  return spec;
}

}  // namespace lockstep::peers::dpdk
