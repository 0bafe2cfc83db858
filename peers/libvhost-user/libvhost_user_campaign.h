// `lockstep peer libvhost-user`: the vhost-user model (a chosen profile) against QEMU's
// libvhost-user, through qemu-storage-daemon's vhost-user-blk export (a real libvhost-user
// back-end: QEMU util/vhost-user-server.c drives subprojects/libvhost-user/libvhost-user.c), as a
// binding of the shared back-end process campaign (peers/vhost/backend_campaign.h). What is
// libvhost-user's own lives here: how qemu-storage-daemon is started, how it cuts messages, its
// names and corpus profiles, its triage and its report prose.
#pragma once
#include <optional>
#include <string>

#include "core/vhost/ops.h"
#include "model/vhost/profiles.h"
#include "peers/campaign.h"
#include "peers/vhost/backend_campaign.h"

namespace lockstep::peers::libvhost_user {

using backend::Mode;
using backend::PeerCheck;
using Environment = backend::BackendEnvironment;

// Divergence signatures read "lockstep: divergence libvhost-user-peer/OP/FIELD".
struct LibvhostUserProtocol : backend::BackendProtocol {
  static constexpr const char* kName = "libvhost-user-peer";
};

// QEMU util/vhost-user-server.c vu_message_read: the 12-byte header (and its fds) read to the
// end in a coroutine, so a short header waits for the rest; a size above sizeof(vmsg->payload)
// (268 in QEMU 7.2: VhostUserConfig) is refused at the header ("too big message request");
// then exactly `size` payload bytes, also waited for.
inline constexpr backend::WireRules kWire{.refused_at_header = 268, .partial_header_closes = false};

// binary: LOCKSTEP_QEMU_STORAGE_DAEMON from the environment, else qemu-storage-daemon on PATH,
// else "".
std::string default_daemon_binary();
Environment probe_environment();
// qemu-storage-daemon with a 1 MiB null-co block device exported as vhost-user-blk on the
// process's socket; ready once the socket accepts a connection.
backend::BackendSpec daemon_spec(const std::string& binary);

// The qemu-storage-daemon process (throws std::runtime_error with the reason).
class LibvhostUserPeer : public backend::BackendProcess {
 public:
  explicit LibvhostUserPeer(const std::string& binary = default_daemon_binary())
      : BackendProcess(daemon_spec(binary)) {}
};

inline PeerCheck check_trace(const vhost::Trace& trace, const std::string& profile,
                             backend::BackendProcess& peer, Mode mode = Mode::kObserved) {
  return backend::check_trace<LibvhostUserProtocol>(trace, profile, peer, kWire, mode);
}

// The heuristic triage (a suggestion beside the expectations file).
Classification classify(const vhost::Trace& minimal, const std::string& profile,
                        backend::BackendProcess& peer, const PeerCheck& check);

struct LibvhostUserTraits {
  using Protocol = LibvhostUserProtocol;
  static constexpr const char* kCorpusDirs[] = {"vhost_postcopy"};
  static constexpr const char* kCorpusProfiles[] = {"libvhost-user", "spec"};
  static constexpr PeerInfo kInfo = {"libvhost-user",
                                     "libvhost-user",
                                     "libvhost-user",
                                     "libvhost-user, spec, ...",
                                     kCorpusDirs,
                                     kCorpusProfiles,
                                     true};
  static constexpr backend::WireRules kWire = libvhost_user::kWire;

  static Environment probe() { return probe_environment(); }
  static backend::BackendSpec spec(const Environment& env) { return daemon_spec(env.binary); }
  static bool runs_profile(const std::string& profile) {
    const vhost::Profile* p = vhost::find_profile(profile);
    return p && !p->mutant;  // the negative variants are for the proofs
  }
  static ReportText report_text(const Environment& env, const PeerOptions& options);
  static Classification classify(const vhost::Trace& minimal, const PeerCheck& check,
                                 backend::BackendProcess& peer) {
    return libvhost_user::classify(minimal, minimal.profile, peer, check);
  }
  // A ring request with an index past the export's one queue: the handler writes dev->vq[]
  // out of bounds (measured: later, unrelated ops abort), so the daemon is started again.
  static bool taints(const vhost::Trace& trace);
};

using LibvhostUserBinding = backend::BackendBinding<LibvhostUserTraits>;

// peers/campaign.h run_peer_campaign over LibvhostUserBinding.
int run_libvhost_user_peer(const PeerOptions& options);

}  // namespace lockstep::peers::libvhost_user
