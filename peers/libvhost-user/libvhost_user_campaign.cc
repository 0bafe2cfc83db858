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

// What the first runs of this peer measured against the libvhost-user profile as it was read
// from the source, and the switch each measurement set (model/vhost/profiles.cc
// libvhost_user() cites this section).
constexpr const char* kCorrections =
    "The `libvhost-user` profile was first read from the source; the first 60 s runs of this "
    "peer (same command, before the correction) disagreed with it on 62–82 % of generated "
    "traces. Each switch below was set from what the daemon did, on a fresh connection "
    "(`send(...)` is the shrunk program):\n\n"
    "| switch | was | now | measured |\n|---|---|---|---|\n"
    "| `features` | 0x174008000 | 0x175007e46 | `send(GET_FEATURES, flags=0x1)` answers "
    "u64=0x175007e46 (vu_get_features_exec plus the vhost-user-blk device's bits) |\n"
    "| `protocol_features` | 0x1012f | 0x8f2b | `send(GET_PROTOCOL_FEATURES, flags=0x1)` answers "
    "0x8f2b |\n"
    "| `queue_num` | 1 | 1 | `send(GET_QUEUE_NUM, flags=0x1)` answers 1 (unchanged) |\n"
    "| `ctrunc_closes` | false (assumed) | true | a message with more than 8 fds closes the "
    "connection (util/vhost-user-server.c vu_message_read: \"A maximum of 8 fds\"); its fds "
    "stay open, a peer defect left as a disagreement |\n"
    "| `checks_payload_size` | true | false | `send(RESET_OWNER, flags=0x1, u64=…)` and "
    "`send(SET_OWNER, flags=0x1, u64=…)` are served, not refused: no handler compares the size, "
    "and vu_dispatch's message is zeroed, so a short payload reads zeros |\n"
    "| `leaked_fds_held` | false | true | `send(POSTCOPY_ADVISE)` twice shows 2 uffds in "
    "`/proc/PID/fd`; fds on SET_OWNER stay held: the fds libvhost-user keeps stay in the "
    "process |\n"
    "| `reply_keeps_request_flags` (new) | — | true | `send(POSTCOPY_ADVISE, flags=0x9)` and "
    "`send(GET_FEATURES, flags=0x31)` answer flags 0xd and 0x35 (vu_send_reply keeps the request's "
    "flags), while GET_PROTOCOL_FEATURES, GET_QUEUE_NUM, LISTEN, END and the NEED_REPLY acks "
    "answer 0x5 (vmsg_set_reply_u64 clears them) |\n"
    "| `none_request_acked` (new) | — | true | `send(0, flags=0x9)` is acked u64 0 and the "
    "session goes on (libvhost-user's own handler would exit(0); qemu-storage-daemon overrides "
    "it) |\n\n"
    "Not corrected (harmful, so left as disagreements and classified peer-defect): crashes on "
    "out-of-range ring indices and an unchecked nregions, the userfaultfd left open after an "
    "advised connection, fds left open past 8 per message and on refused requests. A trace that "
    "names a ring past the export's one queue restarts the daemon after it (heap corruption "
    "there aborts later, unrelated ops).";

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
    const bool file_ring = s->request == uapi::kSetVringKick || s->request == uapi::kSetVringCall ||
                           s->request == uapi::kSetVringErr;
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
  t.sections = {{"Profile corrections", kCorrections}};
  t.traces = backend::kGeneratedTraces;
  t.signature = "profile, op, field; a crash or hang is the field `crash` / `hang`";
  return t;
}

int run_libvhost_user_peer(const PeerOptions& options) {
  return run_peer_campaign<LibvhostUserBinding>(options);
}

}  // namespace lockstep::peers::libvhost_user
