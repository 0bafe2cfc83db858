// lockstep-vhost-backend: our vhost-user back-end (impl/vhost/backend.h) as a daemon that a real
// front-end (QEMU 7.2 -netdev vhost-user, the lockstep front-end, ...) connects to. It follows
// vhost-user.rst "Backend program conventions":
//
//   lockstep-vhost-backend --socket-path PATH | --fd FDNUM  [--profile spec]
//                          [--log FILE] [--log-level error|info|debug]
//                          [--allow-uid UID]... [--allow-gid GID]... [--max-connections N]
//   lockstep-vhost-backend --print-capabilities [anything]
//
// --socket-path (alias --socket) creates the listening UNIX socket (mode 0600; a stale socket
// file nobody listens on is replaced) and removes it on exit. --fd FDNUM is "the vhost-user
// socket" the parent started us with; the convention does not say which kind, and both are in
// use, so either works: a listening socket is served like --socket-path (the parent keeps its
// file), a connected stream socket is served as the one session, and the daemon exits 0 when
// it ends. --print-capabilities prints {"type": "net"} and exits 0, ignoring every other
// argument as the convention asks. "ready" is printed on stdout once serving. Connections are
// served by tools/vhost_server.h (who may connect, how many, running out of fds). Runs until
// SIGTERM or SIGINT, then closes every session (rule D1).
// Log (spdlog): one line per event, "2026-12-02T08:16:23.123456Z info ...": errors and
// refusals at error, connections at info (the default), every message and reply at debug only,
// so the default log costs no write per message.
// Exit status: 0 after a signal, the end of a passed connection or --print-capabilities; 1 on a
// setup error (including a passed connection whose peer is refused); 2 on a usage error.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "impl/vhost/backend.h"
#include "impl/vhost/wire.h"
#include "tools/vhost_server.h"

namespace {

using lockstep::vhost::ServerOptions;
using lockstep::vhost::UniqueFd;

struct DaemonOptions {
  std::string socket_path;
  int fd = -1;
  std::string profile = "spec";
  std::string log_path;
  spdlog::level::level_enum level = spdlog::level::info;
  ServerOptions server;
};

// The daemon's log: spdlog, single-threaded sinks (one event loop), ISO-8601 UTC with
// microseconds, flushed per line (lines are rare at the default level; a crash loses none).
bool set_up_log(const DaemonOptions& o) {
  spdlog::sink_ptr sink;
  try {
    if (o.log_path.empty())
      sink = std::make_shared<spdlog::sinks::stderr_sink_st>();
    else
      sink = std::make_shared<spdlog::sinks::basic_file_sink_st>(o.log_path, false);
  } catch (const spdlog::spdlog_ex& e) {
    std::fprintf(stderr, "lockstep-vhost-backend: --log %s: %s\n", o.log_path.c_str(), e.what());
    return false;
  }
  auto logger = std::make_shared<spdlog::logger>("lockstep-vhost-backend", std::move(sink));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %l %v", spdlog::pattern_time_type::utc);
  logger->set_level(o.level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
  return true;
}

// Binds and listens on `path`. A socket file nobody accepts on is stale and replaced; a live
// one or a non-socket file is an error.
UniqueFd listen_on(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    spdlog::error("socket path must be 1..{} bytes", sizeof addr.sun_path - 1);
    return UniqueFd();
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      spdlog::error("{} exists and is not a socket", path);
      return UniqueFd();
    }
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      spdlog::error("{}: another back-end is listening there", path);
      return UniqueFd();
    }
    spdlog::info("replacing stale socket {}", path);
    ::unlink(path.c_str());
  }
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!sock) {
    spdlog::error("socket: {}", std::strerror(errno));
    return UniqueFd();
  }
  const mode_t old_mask = ::umask(0177);  // the socket file is created 0600
  const int rc = ::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old_mask);
  if (rc != 0 || ::chmod(path.c_str(), 0600) != 0 || ::listen(sock.get(), SOMAXCONN) != 0) {
    spdlog::error("bind/listen {}: {}", path, std::strerror(errno));
    return UniqueFd();
  }
  return sock;
}

// --fd: the socket the parent passed, taken over (close-on-exec; a listener non-blocking). A
// listening socket, or a connected AF_UNIX stream socket (*connected); anything else is an error.
UniqueFd adopt(int fd, bool* connected) {
  int listening = 0, type = 0, domain = 0;
  socklen_t len = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) {
    spdlog::error("--fd {} is not a socket: {}", fd, std::strerror(errno));
    return UniqueFd();
  }
  len = sizeof type;
  ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
  len = sizeof domain;
  ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
  sockaddr_un peer{};
  len = sizeof peer;
  *connected = !listening;
  if (type != SOCK_STREAM || domain != AF_UNIX ||
      (!listening && ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0)) {
    spdlog::error("--fd {} is neither a listening nor a connected AF_UNIX stream socket", fd);
    return UniqueFd();
  }
  if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
      (listening && ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)) {
    spdlog::error("--fd {}: fcntl: {}", fd, std::strerror(errno));
    return UniqueFd();
  }
  return UniqueFd(fd);
}

// Raises the soft RLIMIT_NOFILE to the hard limit: every connection costs fds, and a hostile
// client can make each hold up to kFdsPerConnection. Warns when --max-connections times that
// cannot fit (connections then find fds short: refused at accept, closed at recvmsg).
void raise_fd_limit(size_t max_connections) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  const rlim_t worst = max_connections * lockstep::vhost::kFdsPerConnection + 16;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < worst)
    spdlog::warn(
        "RLIMIT_NOFILE {} < {} (--max-connections {} x {} fds each): connections may "
        "be refused for lack of fds",
        rl.rlim_cur, worst, max_connections, lockstep::vhost::kFdsPerConnection);
}

// Parses argv into `o`; returns an exit status when the program should stop (help: 0, usage
// error: 2), or -1 to go on.
int parse(int argc, char** argv, DaemonOptions& o) {
  CLI::App app{"lockstep vhost-user back-end daemon (docs/vhost-backend-rules.md)"};
  auto* path = app.add_option("--socket-path,--socket", o.socket_path,
                              "create and listen on this UNIX socket");
  auto* fd = app.add_option("--fd", o.fd,
                            "serve this socket from the parent: listening, or one connection")
                 ->check(CLI::NonNegativeNumber);
  path->excludes(fd);
  bool capabilities = false;  // handled before parsing (main): listed for --help
  app.add_flag("--print-capabilities", capabilities,
               "print the back-end's capabilities as JSON and exit");
  app.add_option("--profile", o.profile, "back-end behaviour")
      ->check(CLI::IsMember(lockstep::vhost::backend_profiles()))
      ->capture_default_str();
  app.add_option("--log", o.log_path, "append the log to FILE instead of stderr");
  std::string level = "info";
  app.add_option("--log-level", level, "error, info (default) or debug (every message)")
      ->transform(CLI::IsMember({"error", "info", "debug"}, CLI::ignore_case));
  app.add_option("--allow-uid", o.server.allow_uids, "also let this uid connect (repeatable)");
  app.add_option("--allow-gid", o.server.allow_gids, "also let this gid connect (repeatable)");
  app.add_option("--max-connections", o.server.max_connections,
                 "refuse connections beyond N at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (o.socket_path.empty() && o.fd < 0) {
    std::fprintf(stderr, "lockstep-vhost-backend: one of --socket-path or --fd is required\n");
    return 2;
  }
  o.level = spdlog::level::from_str(level == "error" ? "err" : level);
  o.server.backend = *lockstep::vhost::backend_options(o.profile);
  o.server.debug_messages = o.level <= spdlog::level::debug;
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  // The convention: print the capabilities and exit successfully, whatever else was given.
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--print-capabilities") == 0) {
      // vhost-user.json VHostUserBackendCapabilities: a net back-end has no "features" list.
      std::printf("{\n  \"type\": \"net\"\n}\n");
      return 0;
    }
  DaemonOptions o;
  if (int rc = parse(argc, argv, o); rc >= 0) return rc;
  if (!set_up_log(o)) return 1;
  raise_fd_limit(o.server.max_connections);

  // SIGTERM/SIGINT arrive through a signalfd; SIGPIPE cannot hurt (MSG_NOSIGNAL everywhere).
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  if (::sigprocmask(SIG_BLOCK, &stop, nullptr) != 0) return 1;
  ::signal(SIGPIPE, SIG_IGN);
  UniqueFd sigfd(::signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK));
  bool connected = false;
  UniqueFd sock = o.fd >= 0 ? adopt(o.fd, &connected) : listen_on(o.socket_path);
  if (!sigfd || !sock) return 1;

  spdlog::info("{} {} (profile {}, pid {}, up to {} connections)",
               connected ? "serving the connection on" : "listening on",
               o.fd >= 0 ? "fd " + std::to_string(o.fd) : o.socket_path, o.profile, ::getpid(),
               o.server.max_connections);
  lockstep::vhost::VhostServer server(o.server, std::move(sock), connected, std::move(sigfd));
  const bool ok = server.serve([] {
    std::printf("ready\n");
    std::fflush(stdout);
  });
  if (o.fd < 0) ::unlink(o.socket_path.c_str());  // ours to remove; a passed fd is not
  spdlog::info("exit");
  return ok ? 0 : 1;
}
