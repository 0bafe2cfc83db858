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

namespace lockstep::vhost {
namespace {

// epoll tags: connections are tagged with their id, so a connection dropped earlier in the
// same batch of events is simply not found.
constexpr uint64_t kStopTag = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kListenTag = kStopTag - 1;
// Connections accepted per wake-up, so a burst in the backlog cannot starve the others.
constexpr int kAcceptBurst = 64;
// While no fd is left even to refuse a connection, the listener rests this long.
constexpr int kListenPauseMs = 100;

UniqueFd open_spare() {
  return UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

}  // namespace

bool peer_permitted(uid_t uid, gid_t gid, const ServerOptions& o) {
  if (uid == 0 || uid == ::getuid()) return true;
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
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  spare_ = open_spare();
  epoll_event ev{EPOLLIN, {.u64 = kStopTag}};
  if (!epoll_ || !spare_ || ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, stop_fd_.get(), &ev) != 0) {
    spdlog::error("epoll setup: {}", std::strerror(errno));
    return false;
  }
  if (connected_) return admit(std::move(sock_));
  ev = {EPOLLIN, {.u64 = kListenTag}};
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, sock_.get(), &ev) != 0) {
    spdlog::error("epoll_ctl(listener): {}", std::strerror(errno));
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
    const int n = ::epoll_wait(epoll_.get(), events, 64, listener_paused ? kListenPauseMs : -1);
    if (n < 0 && errno != EINTR) {
      spdlog::error("epoll_wait: {}", std::strerror(errno));
      return false;
    }
    if (listener_paused && !spare_) spare_ = open_spare();
    if (listener_paused && spare_) {
      epoll_event ev{EPOLLIN, {.u64 = kListenTag}};
      listener_paused = ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, sock_.get(), &ev) != 0;
    }
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = events[i].data.u64;
      if (tag == kStopTag) {
        signalfd_siginfo si{};
        (void)!::read(stop_fd_.get(), &si, sizeof si);
        spdlog::info("signal {}: shutting down", si.ssi_signo);
        for (auto& [id, c] : conns_) c->backend->disconnect("daemon exit");
        conns_.clear();
        return true;
      }
      if (tag == kListenTag) {
        accept_pending();
        if (!spare_) {  // not even a spare fd: let the listener rest rather than spin
          ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, sock_.get(), nullptr);
          listener_paused = true;
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

void VhostServer::accept_pending() {
  for (int i = 0; i < kAcceptBurst; ++i) {
    UniqueFd sock(::accept4(sock_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (sock) {
      admit(std::move(sock));
      continue;
    }
    if (errno == EMFILE || errno == ENFILE) {
      refuse_for_lack_of_fds(errno);
    } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
      spdlog::error("accept: {}", std::strerror(errno));
    }
    return;
  }
}

// The spare fd is given up to accept the connection the kernel holds, which is then closed:
// a refusal the client sees, instead of a listener that stays readable and spins the loop.
void VhostServer::refuse_for_lack_of_fds(int err) {
  spare_.reset();
  UniqueFd sock(::accept4(sock_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  spdlog::error("refused: out of fds ({}; {} connections, RLIMIT_NOFILE): connection closed",
                std::strerror(err), conns_.size());
  sock.reset();
  spare_ = open_spare();
}

// SO_PEERCRED before a byte is read; then the connection bound; then a Backend.
bool VhostServer::admit(UniqueFd sock) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(sock.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    spdlog::error("refused: SO_PEERCRED: {}", std::strerror(errno));
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
    const int fl = ::fcntl(sock.get(), F_GETFL);
    if (fl < 0 || ::fcntl(sock.get(), F_SETFL, fl | O_NONBLOCK) != 0) {
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
  if (::epoll_ctl(epoll_.get(), add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.backend->socket_fd(), &ev) !=
      0) {
    spdlog::error("conn={} epoll_ctl: {}", c.id, std::strerror(errno));
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
