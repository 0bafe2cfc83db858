// The connection side of lockstep-vhost-backend (tools/vhost_backend_main.cc): one epoll loop
// that accepts connections on a listening socket (or serves the one connected socket a parent
// passed with --fd), decides who may connect, bounds how many may, and drives one Backend
// (impl/vhost/backend.h) per connection. Logs through spdlog's default logger.
//
// Who may connect: SO_PEERCRED of every connection, checked before a byte is read: root, the
// daemon's own uid, and the allowed uids/gids. A refused or surplus connection is logged (pid,
// uid, gid) and closed unread.
//
// Every call it makes goes through impl/sys.h at its site of core/vhost/daemon_sites.def; a
// failure costs at most the connection it concerns, or is retried.
//
// Running out of fds (hostile load, a low RLIMIT_NOFILE): accept4 failing with EMFILE/ENFILE
// would leave the listener readable forever and spin the loop, so one spare fd is kept open and
// given up to accept the pending connection and close it, logged as a refusal.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "impl/vhost/backend.h"
#include "impl/vhost/wire.h"

namespace lockstep::vhost {

struct ServerOptions {
  BackendOptions backend;
  std::vector<uid_t> allow_uids;
  std::vector<gid_t> allow_gids;
  size_t max_connections = 256;
  bool debug_messages = false;  // log every message and reply (spdlog debug)
  // Test only (--test-leak-on-peercred-failure): a connection whose SO_PEERCRED fails is refused
  // but its fd is never closed: the broken handling the daemon's fault sweep must catch.
  bool leak_on_peercred_failure = false;
};

// The most fds one connection can make the daemon hold at once: the socket, a uffd, 8 region
// fds, kick/call/err for each ring, the log base, log fd and back-end request fd, up to 8 fds
// of a message still being read (rule W5) and the fd of a reply waiting to be sent.
constexpr size_t kFdsPerConnection = 1 + 1 + 8 + 3 * uapi::kRingCount + 3 + uapi::kMaxFds + 1;

class VhostServer {
 public:
  // `sock` is a listening socket or, with `connected`, the one connection to serve.
  VhostServer(ServerOptions options, UniqueFd sock, bool connected, UniqueFd stop_fd);
  ~VhostServer();
  VhostServer(const VhostServer&) = delete;
  VhostServer& operator=(const VhostServer&) = delete;

  // Serves until `stop_fd` is readable (a signalfd) or, for a connected socket, until that
  // connection is gone; every session is closed (rule D1) on the way out. False on a setup
  // error (epoll, a passed connection that is refused) or if epoll_wait fails. `ready` runs
  // once every fd the daemon keeps for its lifetime is open (epoll, the spare fd), so a
  // caller that counts the daemon's fds after it sees a baseline that does not move.
  bool serve(const std::function<void()>& ready = {});

 private:
  struct Connection;
  bool setup();
  bool admit(UniqueFd sock);
  void accept_pending();
  bool resume_listener();
  void refuse_for_lack_of_fds(int err);
  void watch(Connection& c, bool add);
  void drop(uint64_t id);

  ServerOptions o_;
  UniqueFd sock_, stop_fd_, epoll_, spare_;
  bool connected_;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns_;  // by id, the epoll tag
  uint64_t next_id_ = 1;
};

// Whether the credentials of a peer may connect under `o` (root, our uid, the allowed ids).
bool peer_permitted(uid_t uid, gid_t gid, const ServerOptions& o);

}  // namespace lockstep::vhost
