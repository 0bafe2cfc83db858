// lockstep-vhost-backend: our vhost-user back-end (impl/vhost/backend.h) as a daemon that a real
// front-end (QEMU 7.2 -netdev vhost-user, the lockstep front-end, ...) connects to. It follows
// vhost-user.rst "Backend program conventions":
//
//   lockstep-vhost-backend --socket-path PATH | --fd FDNUM  [--profile spec]
//                          [--log FILE] [--log-level error|info|debug]
//                          [--allow-uid UID]... [--allow-gid GID]... [--max-connections N]
//                          [--fail-next SITE[,ERRNO]]...   (a test hook)
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
// Faults: every call goes through impl/sys.h at a site of core/vhost/daemon_sites.def. The test
// hook --fail-next SITE[,ERRNO] makes the next call at SITE fail with ERRNO (default: the site's
// first) instead of reaching the kernel; on exit each is logged as fired or never fired.
// Log (spdlog): one line per event, "2026-12-02T08:16:23.123456Z info ...": errors and
// refusals at error, connections at info (the default), every message and reply at debug only,
// so the default log costs no write per message.
// Exit status: 0 after a signal, the end of a passed connection or --print-capabilities; 1 on a
// setup error (including a passed connection whose peer is refused) or when the socket file cannot
// be removed on exit; 2 on a usage error.
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
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/vhost/daemon_sites.h"
#include "impl/sys.h"
#include "impl/vhost/backend.h"
#include "impl/vhost/wire.h"
#include "tools/vhost_server.h"

namespace {

namespace sys = lockstep::sys;
using lockstep::vhost::ServerOptions;
using lockstep::vhost::UniqueFd;
using lockstep::vhost::daemon::Site;
using sys::at;

struct DaemonOptions {
  std::string socket_path;
  int fd = -1;
  std::string profile = "spec";
  std::string log_path;
  spdlog::level::level_enum level = spdlog::level::info;
  ServerOptions server;
  std::vector<sys::Fault> faults;  // --fail-next
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

// A socket file at `path` nobody accepts on is stale and removed; a live one, a non-socket file
// or a file we cannot examine is an error. connect(2) telling ECONNREFUSED is what proves stale
// (unix(7): "not a listening socket"); any other failure leaves it unknown.
bool replace_stale(const std::string& path, const sockaddr_un& addr) {
  struct stat st;
  if (sys::lstat(at(Site::Lstat), path.c_str(), &st) != 0) {
    if (errno == ENOENT) return true;
    spdlog::error("lstat {}: {}", path, std::strerror(errno));
    return false;
  }
  if (!S_ISSOCK(st.st_mode)) {
    spdlog::error("{} exists and is not a socket", path);
    return false;
  }
  UniqueFd probe(sys::socket(at(Site::ProbeSocket), AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe) {
    spdlog::error("socket (probing {}): {}", path, std::strerror(errno));
    return false;
  }
  if (sys::connect(at(Site::ProbeConnect), probe.get(), reinterpret_cast<const sockaddr*>(&addr),
                   sizeof addr) == 0) {
    spdlog::error("{}: another back-end is listening there", path);
    return false;
  }
  if (errno == ENOENT) return true;  // removed since lstat: nothing to replace
  if (errno != ECONNREFUSED) {
    spdlog::error("connect {}: {}: cannot tell whether it is stale", path, std::strerror(errno));
    return false;
  }
  spdlog::info("replacing stale socket {}", path);
  if (sys::unlink(at(Site::UnlinkStale), path.c_str()) != 0) {
    spdlog::error("unlink {}: {}", path, std::strerror(errno));
    return false;
  }
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
  if (!replace_stale(path, addr)) return UniqueFd();
  UniqueFd sock(
      sys::socket(at(Site::Socket), AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!sock) {
    spdlog::error("socket: {}", std::strerror(errno));
    return UniqueFd();
  }
  const mode_t old_mask = ::umask(0177);  // the socket file is created 0600 (umask(2): no error)
  const int rc =
      sys::bind(at(Site::Bind), sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old_mask);
  if (rc != 0) {
    spdlog::error("bind {}: {}", path, std::strerror(errno));
    return UniqueFd();
  }
  const char* failed = sys::chmod(at(Site::Chmod), path.c_str(), 0600) != 0        ? "chmod"
                       : sys::listen(at(Site::Listen), sock.get(), SOMAXCONN) != 0 ? "listen"
                                                                                   : nullptr;
  if (failed) {  // the file is ours now: not left behind
    spdlog::error("{} {}: {}", failed, path, std::strerror(errno));
    sys::unlink(sys::kHarness, path.c_str());
    return UniqueFd();
  }
  return sock;
}

// --fd: the socket the parent passed, taken over (close-on-exec; a listener non-blocking). A
// listening socket, or a connected AF_UNIX stream socket (*connected); anything else is an error.
UniqueFd adopt(int fd, bool* connected) {
  int listening = 0, type = 0, domain = 0;
  auto option = [fd](int name, int* value) {
    socklen_t len = sizeof *value;
    return sys::getsockopt(at(Site::FdGetsockopt), fd, SOL_SOCKET, name, value, &len) == 0;
  };
  if (!option(SO_ACCEPTCONN, &listening) || !option(SO_TYPE, &type) ||
      !option(SO_DOMAIN, &domain)) {
    spdlog::error("--fd {}: getsockopt: {}", fd, std::strerror(errno));
    return UniqueFd();
  }
  sockaddr_un peer{};
  socklen_t len = sizeof peer;
  *connected = !listening;
  if (type != SOCK_STREAM || domain != AF_UNIX) {
    spdlog::error("--fd {} is neither a listening nor a connected AF_UNIX stream socket", fd);
    return UniqueFd();
  }
  if (!listening && sys::getpeername(at(Site::FdGetpeername), fd,
                                     reinterpret_cast<sockaddr*>(&peer), &len) != 0) {
    spdlog::error("--fd {} is not a connected socket: getpeername: {}", fd, std::strerror(errno));
    return UniqueFd();
  }
  // fcntl(2) lists no error for F_SETFD/F_GETFL/F_SETFL on an open fd: not a fault site.
  if (sys::fcntl(sys::kHarness, fd, F_SETFD, FD_CLOEXEC) != 0 ||
      (listening && sys::fcntl(sys::kHarness, fd, F_SETFL,
                               sys::fcntl(sys::kHarness, fd, F_GETFL, 0) | O_NONBLOCK) != 0)) {
    spdlog::error("--fd {}: fcntl: {}", fd, std::strerror(errno));
    return UniqueFd();
  }
  return UniqueFd(fd);
}

// Raises the soft RLIMIT_NOFILE to the hard limit: every connection costs fds, and a hostile
// client can make each hold up to kFdsPerConnection. Warns when --max-connections times that
// cannot fit (connections then find fds short: refused at accept, closed at recvmsg).
// getrlimit(2) lists only EFAULT and EINVAL (a bad pointer or resource): not a fault site.
void raise_fd_limit(size_t max_connections) {
  rlimit rl{};
  if (sys::getrlimit(sys::kHarness, RLIMIT_NOFILE, &rl) != 0) return;
  const rlim_t soft = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max;  // set even when equal, so the site is always reached
  if (sys::setrlimit(at(Site::Setrlimit), RLIMIT_NOFILE, &rl) != 0) {
    spdlog::warn("setrlimit(RLIMIT_NOFILE, {}): {}: running with {}", rl.rlim_max,
                 std::strerror(errno), soft);
    rl.rlim_cur = soft;
  }
  const rlim_t worst = max_connections * lockstep::vhost::kFdsPerConnection + 16;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < worst)
    spdlog::warn(
        "RLIMIT_NOFILE {} < {} (--max-connections {} x {} fds each): connections may "
        "be refused for lack of fds",
        rl.rlim_cur, worst, max_connections, lockstep::vhost::kFdsPerConnection);
}

// The sites --fail-next can name: a row of the daemon's table, or "backend.NAME", a row of the
// back-end's (core/vhost/sites.def), whose every connection reaches recvmsg and sendmsg.
constexpr std::string_view kBackendPrefix = "backend.";
using BackendSite = lockstep::vhost::Site;

std::optional<sys::Site> fault_site(std::string_view word) {
  if (const std::optional<Site> s = lockstep::site_named<Site>(word)) return at(*s);
  if (!word.starts_with(kBackendPrefix)) return std::nullopt;
  if (const auto s = lockstep::site_named<BackendSite>(word.substr(kBackendPrefix.size())))
    return at(*s);
  return std::nullopt;
}

std::span<const int> fault_errnos(sys::Site s) {
  return s.table == sys::Site::Table::Daemon ? site_errnos(static_cast<Site>(s.row))
                                             : site_errnos(static_cast<BackendSite>(s.row));
}

std::string fault_site_name(sys::Site s) {
  return s.table == sys::Site::Table::Daemon
             ? site_name(static_cast<Site>(s.row))
             : std::string(kBackendPrefix) + site_name(static_cast<BackendSite>(s.row));
}

// --fail-next values: "SITE", "SITE,ERRNO", or several in one comma list ("accept4,EMFILE,
// getsockopt_peercred"): a site name starts a fault, an errno name after it chooses its errno.
// An unknown site, or an errno its row does not list, is a usage error naming the valid ones.
bool parse_faults(const std::vector<std::string>& values, std::vector<sys::Fault>& faults) {
  for (const std::string& value : values) {
    bool errno_may_follow = false;  // right after a site, once
    for (size_t at_char = 0; at_char <= value.size();) {
      const size_t end = std::min(value.find(',', at_char), value.size());
      const std::string word = value.substr(at_char, end - at_char);
      at_char = end + 1;
      if (const std::optional<sys::Site> site = fault_site(word)) {
        faults.push_back({*site, fault_errnos(*site)[0]});
        errno_may_follow = true;
        continue;
      }
      const std::optional<int> err = lockstep::errno_from_name(word);
      if (!errno_may_follow || !err) {
        std::fprintf(stderr,
                     "lockstep-vhost-backend: --fail-next %s: '%s' is not a site (%s, or "
                     "backend. and one of %s)\n",
                     value.c_str(), word.c_str(), lockstep::site_names<Site>().c_str(),
                     lockstep::site_names<BackendSite>().c_str());
        return false;
      }
      const std::span<const int> errnos = fault_errnos(faults.back().site);
      if (std::find(errnos.begin(), errnos.end(), *err) == errnos.end()) {
        std::string valid;
        for (int e : errnos) valid += (valid.empty() ? "" : ", ") + lockstep::errno_name(e);
        std::fprintf(stderr, "lockstep-vhost-backend: --fail-next %s: %s can fail with %s\n",
                     value.c_str(), fault_site_name(faults.back().site).c_str(), valid.c_str());
        return false;
      }
      faults.back().err = *err;
      errno_may_follow = false;
    }
  }
  return true;
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
  std::vector<std::string> fail_next;
  app.add_option("--fail-next", fail_next,
                 "test hook: fail the next call at SITE with ERRNO (default the site's first; "
                 "repeatable, or SITE[,ERRNO],SITE... in one); the sites are the rows of "
                 "core/vhost/daemon_sites.def: " +
                     lockstep::site_names<Site>() +
                     "; and backend. with a row of core/vhost/sites.def: " +
                     lockstep::site_names<BackendSite>())
      ->type_name("SITE[,ERRNO]");
  app.add_flag("--test-leak-on-peercred-failure", o.server.leak_on_peercred_failure,
               "test hook: a broken variant that never closes a connection whose SO_PEERCRED "
               "fails (what the fault sweep must catch)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!parse_faults(fail_next, o.faults)) return 2;
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

// Logs, for every --fail-next, whether it fired: a fault that never fired tested nothing.
void report_faults(const std::vector<sys::Fault>& faults) {
  for (const sys::Fault& f : faults) {
    const bool fired = sys::injected(f.site, f.err) > 0;
    spdlog::log(fired ? spdlog::level::info : spdlog::level::warn, "--fail-next {},{} {}",
                fault_site_name(f.site), lockstep::errno_name(f.err),
                fired ? "fired" : "never fired");
  }
}

// Sets up, serves until SIGTERM/SIGINT (or the end of a passed connection), tears down: the exit
// status.
int run(const DaemonOptions& o) {
  raise_fd_limit(o.server.max_connections);

  // SIGTERM/SIGINT arrive through a signalfd; SIGPIPE cannot hurt (MSG_NOSIGNAL everywhere).
  // sigprocmask(2) lists only EFAULT/EINVAL (bad pointer or how): not a fault site.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  if (sys::sigprocmask(sys::kHarness, SIG_BLOCK, &stop) != 0) return 1;
  ::signal(SIGPIPE, SIG_IGN);  // signal(2): EINVAL only for a bad signal number
  UniqueFd sigfd(sys::signalfd(at(Site::Signalfd), &stop, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) {
    spdlog::error("signalfd: {}", std::strerror(errno));
    return 1;
  }
  bool connected = false;
  UniqueFd sock = o.fd >= 0 ? adopt(o.fd, &connected) : listen_on(o.socket_path);
  if (!sock) return 1;

  spdlog::info("{} {} (profile {}, pid {}, up to {} connections)",
               connected ? "serving the connection on" : "listening on",
               o.fd >= 0 ? "fd " + std::to_string(o.fd) : o.socket_path, o.profile,
               sys::getpid(sys::kHarness), o.server.max_connections);
  lockstep::vhost::VhostServer server(o.server, std::move(sock), connected, std::move(sigfd));
  bool ok = server.serve([] {
    std::printf("ready\n");
    std::fflush(stdout);
  });
  // Ours to remove (a passed fd's file is not): left behind, the next start must judge it stale.
  if (o.fd < 0 && sys::unlink(at(Site::UnlinkAtExit), o.socket_path.c_str()) != 0) {
    spdlog::error("unlink {}: {}: the socket file is left behind", o.socket_path,
                  std::strerror(errno));
    ok = false;
  }
  spdlog::info("exit");
  return ok ? 0 : 1;
}

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
  for (const sys::Fault& f : o.faults) sys::arm_until_fired(f);
  const int rc = run(o);
  report_faults(o.faults);
  return rc;
}
