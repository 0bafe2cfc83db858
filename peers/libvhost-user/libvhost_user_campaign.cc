#include "peers/libvhost-user/libvhost_user_campaign.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "model/vhost/model.h"

namespace lockstep::peers::libvhost_user {
namespace {

namespace fs = std::filesystem;
using vhost::Trace;

constexpr const char* kOwn = "libvhost-user";

// The export: a 1 MiB null-co device (no I/O reaches a disk), writable, on the process's socket.
const std::vector<std::string> kDaemonArgs = {
    "--blockdev", "driver=null-co,node-name=n0,size=1048576", "--export",
    "type=vhost-user-blk,id=e0,node-name=n0,addr.type=unix,addr.path={socket},writable=on"};

std::string on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) return dir + "/" + name;
  return "";
}

std::string at_op(const Trace& minimal, const Divergence& d) {
  return d.index < minimal.ops.size() ? vhost::Protocol::op_name(minimal.ops[d.index])
                                      : std::string("the disconnect after the trace");
}

}  // namespace

std::string default_daemon_binary() {
  if (const char* e = std::getenv("LOCKSTEP_QEMU_STORAGE_DAEMON"); e && *e) return e;
  return on_path("qemu-storage-daemon");
}

Environment probe_environment() {
  Environment env;
  env.binary = default_daemon_binary();
  env.kernel = backend::uname_release();
  if (env.binary.empty()) {
    env.unavailable =
        "qemu-storage-daemon not found (Debian: qemu-system-common; or set "
        "LOCKSTEP_QEMU_STORAGE_DAEMON)";
  } else if (::access(env.binary.c_str(), X_OK) != 0) {
    env.unavailable =
        "qemu-storage-daemon not executable at " + env.binary + ": " + std::strerror(errno);
  } else {
    env.version =
        backend::command_output(("'" + env.binary + "' --version 2>/dev/null | head -n 1").c_str());
  }
  return env;
}

backend::BackendSpec daemon_spec(const std::string& binary) {
  if (binary.empty()) throw std::runtime_error(probe_environment().unavailable);
  backend::BackendSpec spec;
  spec.name = "qemu-storage-daemon";
  spec.binary = binary;
  spec.args = kDaemonArgs;
  spec.ready_line = false;  // it prints nothing: ready once the socket accepts
  spec.start_timeout_ms = 15000;
  // It answers in well under a millisecond; a barrier unanswered for 2 s is a hang (the shrink
  // re-runs a hanging trace many times, so the bound is kept short).
  spec.reply_timeout_ms = 2000;
  spec.graceful_stop = false;
  return spec;
}

Classification classify(const Trace& minimal, const std::string& profile,
                        backend::BackendProcess& peer, const PeerCheck& check) {
  if (!check.verdict.divergence) return {'?', "no divergence"};
  const Divergence& d = *check.verdict.divergence;
  if (!check.failure.empty())
    return {'c', "libvhost-user defect: qemu-storage-daemon " + check.failure + " (" + d.field +
                     ") handling " + at_op(minimal, d) +
                     "; a back-end must survive any message (spec W1: a message it cannot "
                     "serve is refused, E1)."};
  if (d.field == "fds" &&
      check.after.non_socket() - check.before.non_socket() > check.fds_left_open)
    return {'c',
            "libvhost-user defect: fds the daemon received stay open after the connection "
            "is gone (peer /proc/PID/fd at trace start `" +
                backend::to_string(check.before) + "`, after disconnect `" +
                backend::to_string(check.after) + "`; the model expects +" +
                std::to_string(check.fds_left_open) +
                "). Spec W6/D1: every fd received is the back-end's to close."};
  if (profile != kOwn) {  // does the profile that is libvhost-user's agree with it here?
    Trace t = minimal;
    t.profile = kOwn;
    const PeerCheck k = check_trace(t, kOwn, peer);
    if (LibvhostUserTraits::taints(t) && peer.alive()) peer.restart();  // as the binding does
    if (!k.skipped && k.signature.empty())
      return backend::documented_deviation(minimal, profile, kOwn,
                                           "model/vhost/profiles.cc libvhost_user()");
    if (!k.skipped) {
      Classification inner = classify(t, kOwn, peer, k);
      inner.why = "libvhost-user disagrees with the peer on this trace too (" + k.signature +
                  "): " + inner.why;
      return inner;
    }
  }
  return {'?', "unexplained: " + profile + " disagrees with libvhost-user at " + at_op(minimal, d) +
                   " (" + d.field + "); needs triage"};
}

bool LibvhostUserTraits::taints(const Trace& trace) {
  namespace uapi = vhost::uapi;
  for (const vhost::Op& op : trace.ops) {
    const auto* s = std::get_if<vhost::Send>(&op);
    if (!s) continue;
    if (!vhost::vring_index_in_range(s->request, s->payload, 1)) return true;
    const bool file_ring = s->request == uapi::kSetVringKick ||
                           s->request == uapi::kSetVringCall || s->request == uapi::kSetVringErr;
    if (file_ring && !s->payload.empty() && s->payload[0] >= 1) return true;  // index: bits 0-7
  }
  return false;
}

ReportText LibvhostUserTraits::report_text(const Environment& env, const PeerOptions&) {
  ReportText t;
  t.title =
      "libvhost-user peer: the vhost-user model against QEMU's libvhost-user "
      "(qemu-storage-daemon)";
  std::string command = "qemu-storage-daemon";
  for (const auto& a : kDaemonArgs) command += " " + a;
  t.environment = {
      {"qemu-storage-daemon (`--version`)", env.version.empty() ? "not found" : env.version},
      {"kernel (`uname -r`)", "`" + env.kernel + "`"},
      {"peer binary", "`" + (env.binary.empty() ? std::string("(not found)") : env.binary) + "`"},
      {"peer command", "`" + command + "` ({socket}: a fresh directory per process)"},
      {"peer", env.unavailable.empty()
                   ? "started (one process, started again after each crash or hang)"
                   : env.unavailable},
  };
  t.compared =
      backend::compared_text("libvhost-user") +
      " qemu-storage-daemon serves one client at a time (util/vhost-user-server.c vu_accept) "
      "and reads a message in a coroutine (vu_message_read): a short header or payload is "
      "waited for, so writes that end in one are skipped; a header whose size is above 268 "
      "bytes (sizeof the payload union) is refused at once.";
  t.traces = backend::kGeneratedTraces;
  t.signature = "profile, op, field; a crash or hang is the field `crash` / `hang`";
  return t;
}

int run_libvhost_user_peer(const PeerOptions& options) {
  return run_peer_campaign<LibvhostUserBinding>(options);
}

}  // namespace lockstep::peers::libvhost_user
