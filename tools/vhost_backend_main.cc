// lockstep-vhost-backend: our vhost-user back-end (impl/vhost/backend.h) as a daemon that a real
// front-end (QEMU 7.2 -netdev vhost-user, the lockstep front-end, ...) connects to. It follows
// vhost-user.rst "Backend program conventions":
//
//   lockstep-vhost-backend --socket-path PATH | --fd FDNUM  [--profile spec]
//                          [--log FILE] [--log-level error|info|debug]
//                          [--allow-uid UID]... [--allow-gid GID]... [--max-connections N]
//   lockstep-vhost-backend --print-capabilities
//
// --socket-path (alias --socket) creates the listening UNIX socket (mode 0600; a stale socket
// file nobody listens on is replaced) and removes it on exit; --fd serves a listening socket the
// parent passed. "ready" is printed on stdout once listening. Every connection is served (a
// QEMU migration source and destination may share one daemon; reconnects are new sessions)
// after an SO_PEERCRED check: root, the daemon's own uid and the --allow-uid/--allow-gid ids
// may connect; anyone else, and any connection beyond --max-connections, is logged and closed
// before a byte is read. Runs until SIGTERM or SIGINT, then closes every session (rule D1).
// Log: one line per event, "2026-12-02T08:16:23.123456Z info ...": errors and refusals at
// error, connections at info (the default), every message and reply at debug only, so the
// default log costs no write per message.
// Exit status: 0 after a signal or --print-capabilities, 1 on a setup error, 2 on a usage error.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "impl/vhost/backend.h"
#include "impl/vhost/wire.h"

namespace {

using lockstep::vhost::Backend;
using lockstep::vhost::BackendOptions;
using lockstep::vhost::UniqueFd;

enum class Level { Error, Info, Debug };

struct DaemonOptions {
  std::string socket_path;
  int listen_fd = -1;
  std::string profile = "spec";
  std::string log_path;
  Level level = Level::Info;
  std::vector<uid_t> allow_uids;
  std::vector<gid_t> allow_gids;
  size_t max_connections = 256;
  bool print_capabilities = false;
};

FILE* g_log = stderr;
Level g_level = Level::Info;

// A hand-written line logger rather than a logging library: one format, three levels, and the
// daemon must not pull a dependency into impl/'s users.
void logf(Level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void logf(Level level, const char* fmt, ...) {
  if (level > g_level) return;
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  tm utc;
  ::gmtime_r(&ts.tv_sec, &utc);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &utc);
  static constexpr const char* kNames[] = {"error", "info", "debug"};
  std::fprintf(g_log, "%s.%06ldZ %s ", when, ts.tv_nsec / 1000, kNames[static_cast<int>(level)]);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(g_log, fmt, ap);
  va_end(ap);
  std::fputc('\n', g_log);
  std::fflush(g_log);
}

// Binds and listens on `path`. A socket file nobody accepts on is stale and replaced; a live
// one or a non-socket file is an error.
UniqueFd listen_on(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    logf(Level::Error, "socket path must be 1..%zu bytes", sizeof addr.sun_path - 1);
    return UniqueFd();
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      logf(Level::Error, "%s exists and is not a socket", path.c_str());
      return UniqueFd();
    }
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      logf(Level::Error, "%s: another back-end is listening there", path.c_str());
      return UniqueFd();
    }
    logf(Level::Info, "replacing stale socket %s", path.c_str());
    ::unlink(path.c_str());
  }
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!sock) {
    logf(Level::Error, "socket: %s", std::strerror(errno));
    return UniqueFd();
  }
  const mode_t old_mask = ::umask(0177);  // the socket file is created 0600
  const int rc = ::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old_mask);
  if (rc != 0 || ::chmod(path.c_str(), 0600) != 0 || ::listen(sock.get(), SOMAXCONN) != 0) {
    logf(Level::Error, "bind/listen %s: %s", path.c_str(), std::strerror(errno));
    return UniqueFd();
  }
  return sock;
}

// --fd: a socket the parent already bound and made listen. Taken over (close-on-exec,
// non-blocking) after checking it is one.
UniqueFd adopt_listener(int fd) {
  int listening = 0;
  socklen_t len = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
    logf(Level::Error, "--fd %d is not a listening socket: %s", fd,
         errno ? std::strerror(errno) : "not listening");
    return UniqueFd();
  }
  if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
    logf(Level::Error, "--fd %d: fcntl: %s", fd, std::strerror(errno));
    return UniqueFd();
  }
  return UniqueFd(fd);
}

// SO_PEERCRED of an accepted connection, checked before anything is read from it.
bool peer_allowed(int sock, const DaemonOptions& o, ucred& cred) {
  socklen_t len = sizeof cred;
  if (::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  if (cred.uid == 0 || cred.uid == ::getuid()) return true;
  return std::find(o.allow_uids.begin(), o.allow_uids.end(), cred.uid) != o.allow_uids.end() ||
         std::find(o.allow_gids.begin(), o.allow_gids.end(), cred.gid) != o.allow_gids.end();
}

struct Connection {
  unsigned id;
  std::unique_ptr<Backend> backend;
};

class Daemon {
 public:
  Daemon(const DaemonOptions& o, UniqueFd listener, UniqueFd sigfd)
      : o_(o),
        options_(*lockstep::vhost::backend_options(o.profile)),
        listener_(std::move(listener)),
        sigfd_(std::move(sigfd)) {}

  // Serves until a signal; every session is closed (D1) on the way out.
  void serve() {
    while (poll_once()) {
    }
    for (Connection& c : conns_) c.backend->disconnect("daemon exit");
    conns_.clear();
  }

 private:
  bool poll_once() {
    std::vector<pollfd> pfds{{sigfd_.get(), POLLIN, 0}, {listener_.get(), POLLIN, 0}};
    for (const Connection& c : conns_)
      pfds.push_back({c.backend->socket_fd(),
                      static_cast<short>(c.backend->output_pending() ? POLLOUT : POLLIN), 0});
    if (::poll(pfds.data(), pfds.size(), -1) < 0) {
      if (errno == EINTR) return true;
      logf(Level::Error, "poll: %s", std::strerror(errno));
      return false;
    }
    if (pfds[0].revents) {
      signalfd_siginfo si{};
      (void)!::read(sigfd_.get(), &si, sizeof si);
      logf(Level::Info, "signal %u: shutting down", si.ssi_signo);
      return false;
    }
    for (size_t i = 0; i < conns_.size(); ++i)
      if (pfds[i + 2].revents) conns_[i].backend->handle_readable();
    std::erase_if(conns_, [](const Connection& c) {
      if (c.backend->connected()) return false;
      logf(Level::Info, "conn=%u gone (%llu messages)", c.id,
           static_cast<unsigned long long>(c.backend->messages_handled()));
      return true;
    });
    if (pfds[1].revents & POLLIN) accept_one();
    return true;
  }

  void accept_one() {
    UniqueFd sock(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!sock) {
      if (errno != EAGAIN && errno != EINTR) logf(Level::Error, "accept: %s", std::strerror(errno));
      return;
    }
    ucred cred{};
    if (!peer_allowed(sock.get(), o_, cred)) {
      logf(Level::Error, "refused: pid %d uid %u gid %u may not connect (--allow-uid/--allow-gid)",
           cred.pid, cred.uid, cred.gid);
      return;  // closed before a byte is read
    }
    if (conns_.size() >= o_.max_connections) {
      logf(Level::Error, "refused: pid %d uid %u: %zu connections already (--max-connections)",
           cred.pid, cred.uid, conns_.size());
      return;
    }
    const unsigned id = next_id_++;
    logf(Level::Info, "conn=%u accepted (pid %d uid %u)", id, cred.pid, cred.uid);
    Backend::Logger logger;
    if (g_level >= Level::Debug)
      logger = [id](const std::string& line) {
        logf(Level::Debug, "conn=%u %s", id, line.c_str());
      };
    conns_.push_back({id, std::make_unique<Backend>(std::move(sock), options_, logger)});
  }

  const DaemonOptions& o_;
  const BackendOptions options_;
  UniqueFd listener_, sigfd_;
  std::vector<Connection> conns_;
  unsigned next_id_ = 1;
};

// Parses argv into `o`; returns an exit status when the program should stop (help: 0, usage
// error: 2), or -1 to go on.
int parse(int argc, char** argv, DaemonOptions& o) {
  CLI::App app{"lockstep vhost-user back-end daemon (docs/vhost-backend-rules.md)"};
  auto* path = app.add_option("--socket-path,--socket", o.socket_path,
                              "create and listen on this UNIX socket");
  auto* fd = app.add_option("--fd", o.listen_fd, "serve this listening socket (from the parent)")
                 ->check(CLI::NonNegativeNumber);
  path->excludes(fd);
  app.add_flag("--print-capabilities", o.print_capabilities,
               "print the back-end's capabilities as JSON and exit");
  app.add_option("--profile", o.profile, "back-end behaviour")
      ->check(CLI::IsMember(lockstep::vhost::backend_profiles()))
      ->capture_default_str();
  app.add_option("--log", o.log_path, "append the log to FILE instead of stderr");
  app.add_option("--log-level", o.level, "error, info (default) or debug (every message)")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, Level>{
              {"error", Level::Error}, {"info", Level::Info}, {"debug", Level::Debug}},
          CLI::ignore_case));
  app.add_option("--allow-uid", o.allow_uids, "also let this uid connect (repeatable)");
  app.add_option("--allow-gid", o.allow_gids, "also let this gid connect (repeatable)");
  app.add_option("--max-connections", o.max_connections, "refuse connections beyond N")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!o.print_capabilities && o.socket_path.empty() && o.listen_fd < 0) {
    std::fprintf(stderr, "lockstep-vhost-backend: one of --socket-path or --fd is required\n");
    return 2;
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  DaemonOptions o;
  if (int rc = parse(argc, argv, o); rc >= 0) return rc;
  if (o.print_capabilities) {  // vhost-user.json VHostUserBackendCapabilities: a net back-end
    std::printf("{\n  \"type\": \"net\"\n}\n");
    return 0;
  }
  if (!o.log_path.empty()) {
    g_log = std::fopen(o.log_path.c_str(), "ae");
    if (!g_log) {
      std::fprintf(stderr, "error: %s: %s\n", o.log_path.c_str(), std::strerror(errno));
      return 1;
    }
  }
  g_level = o.level;

  // SIGTERM/SIGINT arrive through a signalfd; SIGPIPE cannot hurt (MSG_NOSIGNAL everywhere).
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  if (::sigprocmask(SIG_BLOCK, &stop, nullptr) != 0) return 1;
  ::signal(SIGPIPE, SIG_IGN);
  UniqueFd sigfd(::signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK));
  UniqueFd listener = o.listen_fd >= 0 ? adopt_listener(o.listen_fd) : listen_on(o.socket_path);
  if (!sigfd || !listener) return 1;

  logf(Level::Info, "listening on %s (profile %s, pid %d)",
       o.listen_fd >= 0 ? ("fd " + std::to_string(o.listen_fd)).c_str() : o.socket_path.c_str(),
       o.profile.c_str(), ::getpid());
  std::printf("ready\n");
  std::fflush(stdout);
  Daemon(o, std::move(listener), std::move(sigfd)).serve();
  if (o.listen_fd < 0) ::unlink(o.socket_path.c_str());  // ours to remove; a passed fd is not
  logf(Level::Info, "exit");
  return 0;
}
