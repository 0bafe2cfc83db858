#include "tools/vhost_server.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cstring>
#include <limits>
#include <unordered_map>
#include <utility>

#include "core/vhost/daemon_sites.h"
#include "impl/sys.h"

namespace lockstep::vhost {
namespace {

using DaemonSite = daemon::Site;
using sys::at;

// epoll tags: connections are tagged with their id, so a connection dropped earlier in the
// same batch of events is simply not found.
constexpr uint64_t kStopTag = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kListenTag = kStopTag - 1;
// Connections accepted per wake-up, so a burst in the backlog cannot starve the others.
constexpr int kAcceptBurst = 64;
// While no fd is left even to refuse a connection, the listener rests this long.
constexpr int kListenPauseMs = 100;

UniqueFd open_spare(DaemonSite site) {
  UniqueFd fd(sys::open(at(site), "/dev/null", O_RDONLY | O_CLOEXEC));
  if (!fd) spdlog::error("{}: open(/dev/null): {}", site_name(site), std::strerror(errno));
  return fd;
}

}  // namespace

bool peer_permitted(uid_t uid, gid_t gid, const ServerOptions& o) {
  if (uid == 0 || uid == ::getuid()) return true;  // getuid(2): always succeeds
  return std::find(o.allow_uids.begin(), o.allow_uids.end(), uid) != o.allow_uids.end() ||
         std::find(o.allow_gids.begin(), o.allow_gids.end(), gid) != o.allow_gids.end();
}

struct VhostServer::Connection {
  uint64_t id;
  std::unique_ptr<Backend> backend;
  uint32_t events = 0;  // the epoll interest registered now
};

VhostServer::VhostServer(ServerOptions options, UniqueFd sock, bool connected, UniqueFd stop_fd)
    : o_(std::move(options)),
      sock_(std::move(sock)),
      stop_fd_(std::move(stop_fd)),
      connected_(connected) {}

VhostServer::~VhostServer() = default;

bool VhostServer::setup() {
  epoll_.reset(sys::epoll_create1(at(DaemonSite::EpollCreate), EPOLL_CLOEXEC));
  if (!epoll_) {
    spdlog::error("epoll_create1: {}", std::strerror(errno));
    return false;
  }
  spare_ = open_spare(DaemonSite::OpenSpare);
  if (!spare_) return false;
  epoll_event ev{EPOLLIN, {.u64 = kStopTag}};
  if (sys::epoll_ctl(at(DaemonSite::EpollAddSignalfd), epoll_.get(), EPOLL_CTL_ADD, stop_fd_.get(),
                     &ev) != 0) {
    spdlog::error("epoll_ctl(ADD, signalfd): {}", std::strerror(errno));
    return false;
  }
  if (connected_) return admit(std::move(sock_));
  ev = {EPOLLIN, {.u64 = kListenTag}};
  if (sys::epoll_ctl(at(DaemonSite::EpollAddListener), epoll_.get(), EPOLL_CTL_ADD, sock_.get(),
                     &ev) != 0) {
    spdlog::error("epoll_ctl(ADD, listener): {}", std::strerror(errno));
    return false;
  }
  return true;
}

bool VhostServer::serve(const std::function<void()>& ready) {
  if (!setup()) return false;
  if (ready) ready();
  bool listener_paused = false;
  epoll_event events[64];
  for (;;) {
    if (connected_ && conns_.empty()) return true;  // the passed connection is gone
    const int n = sys::epoll_wait(at(DaemonSite::EpollWait), epoll_.get(), events, 64,
                                  listener_paused ? kListenPauseMs : -1);
    if (n < 0) {  // EINTR (a signal we do not block: SIGSTOP/SIGCONT) is the one it can meet
      spdlog::error("epoll_wait: {}{}", std::strerror(errno), errno == EINTR ? ": retrying" : "");
      if (errno != EINTR) return false;
    }
    if (listener_paused && !spare_) spare_ = open_spare(DaemonSite::ReopenSpare);
    if (listener_paused && spare_) listener_paused = !resume_listener();
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = events[i].data.u64;
      if (tag == kStopTag) {
        signalfd_siginfo si{};
        if (sys::read(at(DaemonSite::ReadSignalfd), stop_fd_.get(), &si, sizeof si) != sizeof si)
          spdlog::error("read(signalfd): {}: shutting down all the same", std::strerror(errno));
        else
          spdlog::info("signal {}: shutting down", si.ssi_signo);
        for (auto& [id, c] : conns_) c->backend->disconnect("daemon exit");
        conns_.clear();
        return true;
      }
      if (tag == kListenTag) {
        accept_pending();
        if (!spare_) {  // not even a spare fd: let the listener rest rather than spin
          sys::epoll_ctl(sys::kHarness, epoll_.get(), EPOLL_CTL_DEL, sock_.get(), nullptr);
          listener_paused = true;
          spdlog::error("no spare fd: not accepting for {} ms", kListenPauseMs);
        }
        continue;
      }
      auto it = conns_.find(tag);  // absent: dropped earlier in this batch
      if (it == conns_.end()) continue;
      Backend& b = *it->second->backend;
      b.handle_readable();
      if (b.connected()) watch(*it->second, false);
      if (!b.connected()) drop(tag);
    }
  }
}

// Back in the epoll set after a pause; false (logged) while epoll_ctl still fails.
bool VhostServer::resume_listener() {
  epoll_event ev{EPOLLIN, {.u64 = kListenTag}};
  if (sys::epoll_ctl(at(DaemonSite::EpollResumeListener), epoll_.get(), EPOLL_CTL_ADD, sock_.get(),
                     &ev) == 0)
    return true;
  spdlog::error("epoll_ctl(ADD, listener): {}: not accepting for another {} ms",
                std::strerror(errno), kListenPauseMs);
  return false;
}

// accept4(2): EMFILE/ENFILE leave the connection pending, so it is refused with the spare fd;
// any other error (ECONNABORTED, EINTR, ENOBUFS, ENOMEM) leaves the listener readable, so the
// next wake-up retries it (level-triggered), and EAGAIN means the backlog is empty.
void VhostServer::accept_pending() {
  for (int i = 0; i < kAcceptBurst; ++i) {
    UniqueFd sock(sys::accept4(at(DaemonSite::Accept), sock_.get(), SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (sock) {
      admit(std::move(sock));
      continue;
    }
    if (errno == EMFILE || errno == ENFILE)
      refuse_for_lack_of_fds(errno);
    else if (errno != EAGAIN)
      spdlog::error("accept4: {}: retried at the next wake-up", std::strerror(errno));
    return;
  }
}

// The spare fd is given up to accept the connection the kernel holds, which is then closed:
// a refusal the client sees, instead of a listener that stays readable and spins the loop.
void VhostServer::refuse_for_lack_of_fds(int err) {
  spare_.reset();
  UniqueFd sock(sys::accept4(at(DaemonSite::RefuseAccept), sock_.get(), SOCK_CLOEXEC));
  if (sock)
    spdlog::error("refused: out of fds ({}; {} connections, RLIMIT_NOFILE): connection closed",
                  std::strerror(err), conns_.size());
  else
    spdlog::error(
        "out of fds ({}), and accept4 with the spare fd given up: {}: retried at the "
        "next wake-up",
        std::strerror(err), std::strerror(errno));
  sock.reset();
  spare_ = open_spare(DaemonSite::ReopenSpare);
}

// SO_PEERCRED before a byte is read; then the connection bound; then a Backend.
bool VhostServer::admit(UniqueFd sock) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (sys::getsockopt(at(DaemonSite::PeerCred), sock.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) !=
      0) {
    spdlog::error("refused: getsockopt(SO_PEERCRED): {}", std::strerror(errno));
    if (o_.leak_on_peercred_failure) (void)sock.release();  // the test-only broken variant
    return false;
  }
  if (!peer_permitted(cred.uid, cred.gid, o_)) {
    spdlog::error("refused: pid {} uid {} gid {} may not connect (--allow-uid/--allow-gid)",
                  cred.pid, cred.uid, cred.gid);
    return false;  // closed before a byte is read
  }
  if (conns_.size() >= o_.max_connections) {
    spdlog::error("refused: pid {} uid {} gid {}: {} connections already (--max-connections)",
                  cred.pid, cred.uid, cred.gid, conns_.size());
    return false;
  }
  if (connected_) {
    // fcntl(2) lists no error for F_GETFL/F_SETFL on an open fd: not a fault site.
    const int fl = sys::fcntl(sys::kHarness, sock.get(), F_GETFL, 0);
    if (fl < 0 || sys::fcntl(sys::kHarness, sock.get(), F_SETFL, fl | O_NONBLOCK) != 0) {
      spdlog::error("passed connection: fcntl: {}", std::strerror(errno));
      return false;
    }
  }
  const uint64_t id = next_id_++;
  spdlog::info("conn={} accepted (pid {} uid {} gid {})", id, cred.pid, cred.uid, cred.gid);
  Backend::Logger logger;
  if (o_.debug_messages)
    logger = [id](const std::string& line) { spdlog::debug("conn={} {}", id, line); };
  auto c = std::make_unique<Connection>(
      Connection{id, std::make_unique<Backend>(std::move(sock), o_.backend, logger)});
  watch(*c, true);
  if (!c->backend->connected()) return false;
  conns_.emplace(id, std::move(c));
  return true;
}

// Level-triggered: readable while no reply is pending, writable while one is (the Backend
// stops reading until its reply is out, which bounds what one connection can make us buffer).
void VhostServer::watch(Connection& c, bool add) {
  const uint32_t want = c.backend->output_pending() ? EPOLLOUT : EPOLLIN;
  if (!add && want == c.events) return;
  epoll_event ev{want, {.u64 = c.id}};
  if (sys::epoll_ctl(at(add ? DaemonSite::EpollAddConn : DaemonSite::EpollModConn), epoll_.get(),
                     add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.backend->socket_fd(), &ev) != 0) {
    spdlog::error("conn={} epoll_ctl({}): {}: connection closed", c.id, add ? "ADD" : "MOD",
                  std::strerror(errno));
    c.backend->disconnect("epoll_ctl failed");
    return;
  }
  c.events = want;
}

// The Backend has closed its socket (which leaves the epoll set with it). Once the last
// connection is gone the heap a burst of connections grew is handed back to the kernel.
void VhostServer::drop(uint64_t id) {
  auto it = conns_.find(id);
  spdlog::info("conn={} gone ({} messages)", id, it->second->backend->messages_handled());
  conns_.erase(it);
  if (conns_.empty()) ::malloc_trim(0);
}

}  // namespace lockstep::vhost
