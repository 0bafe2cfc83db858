// lockstep-vhost-backend: our vhost-user back-end (impl/vhost/backend.h) as a daemon that a real
// front-end (QEMU 7.2 -netdev vhost-user, the lockstep front-end, ...) connects to.
//
//   lockstep-vhost-backend --socket PATH [--profile spec] [--log FILE]
//
// Creates the listening UNIX socket (mode 0600; a stale socket file nobody listens on is
// replaced), prints "ready" on stdout once listening, serves every connection (several at once:
// a QEMU migration source and destination may share one daemon; reconnects are new sessions),
// logs every message and reply (id, name, flags, size, fd count) to stderr or FILE, and runs
// until SIGTERM or SIGINT, then closes every session (rule D1) and removes the socket file.
// Exit status: 0 after a signal, 1 on a setup error, 2 on a usage error.
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
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

FILE* g_log = stderr;

void logf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void logf(const char* fmt, ...) {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  std::fprintf(g_log, "[%lld.%06ld] ", static_cast<long long>(ts.tv_sec), ts.tv_nsec / 1000);
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
    logf("error: socket path must be 1..%zu bytes", sizeof addr.sun_path - 1);
    return UniqueFd();
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      logf("error: %s exists and is not a socket", path.c_str());
      return UniqueFd();
    }
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      logf("error: %s: another back-end is listening there", path.c_str());
      return UniqueFd();
    }
    logf("replacing stale socket %s", path.c_str());
    ::unlink(path.c_str());
  }
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!sock) {
    logf("error: socket: %s", std::strerror(errno));
    return UniqueFd();
  }
  const mode_t old_mask = ::umask(0177);  // the socket file is created 0600
  const int rc = ::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old_mask);
  if (rc != 0 || ::chmod(path.c_str(), 0600) != 0 || ::listen(sock.get(), SOMAXCONN) != 0) {
    logf("error: bind/listen %s: %s", path.c_str(), std::strerror(errno));
    return UniqueFd();
  }
  return sock;
}

struct Connection {
  unsigned id;
  std::unique_ptr<Backend> backend;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lockstep vhost-user back-end daemon (docs/vhost-backend-rules.md)"};
  std::string socket_path, profile = "spec", log_path;
  app.add_option("--socket", socket_path, "UNIX socket path to listen on")->required();
  app.add_option("--profile", profile, "back-end behaviour")
      ->check(CLI::IsMember(lockstep::vhost::backend_profiles()))
      ->capture_default_str();
  app.add_option("--log", log_path, "append the message log to FILE instead of stderr");
  CLI11_PARSE(app, argc, argv);

  if (!log_path.empty()) {
    g_log = std::fopen(log_path.c_str(), "ae");
    if (!g_log) {
      std::fprintf(stderr, "error: %s: %s\n", log_path.c_str(), std::strerror(errno));
      return 1;
    }
  }
  const BackendOptions options = *lockstep::vhost::backend_options(profile);

  // SIGTERM/SIGINT arrive through a signalfd; SIGPIPE cannot hurt (MSG_NOSIGNAL everywhere).
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  if (::sigprocmask(SIG_BLOCK, &stop, nullptr) != 0) return 1;
  ::signal(SIGPIPE, SIG_IGN);
  UniqueFd sigfd(::signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK));
  UniqueFd listener = listen_on(socket_path);
  if (!sigfd || !listener) return 1;

  logf("listening on %s (profile %s, pid %d)", socket_path.c_str(), profile.c_str(), ::getpid());
  std::printf("ready\n");
  std::fflush(stdout);

  std::vector<Connection> conns;
  unsigned next_id = 1;
  for (;;) {
    std::vector<pollfd> pfds{{sigfd.get(), POLLIN, 0}, {listener.get(), POLLIN, 0}};
    for (const Connection& c : conns)
      pfds.push_back({c.backend->socket_fd(),
                      static_cast<short>(c.backend->output_pending() ? POLLOUT : POLLIN), 0});
    if (::poll(pfds.data(), pfds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      logf("error: poll: %s", std::strerror(errno));
      break;
    }
    if (pfds[0].revents) {
      signalfd_siginfo si{};
      (void)!::read(sigfd.get(), &si, sizeof si);
      logf("signal %u: shutting down", si.ssi_signo);
      break;
    }
    for (size_t i = 0; i < conns.size(); ++i) {
      if (pfds[i + 2].revents) conns[i].backend->handle_readable();
    }
    for (auto it = conns.begin(); it != conns.end();) {
      if (it->backend->connected()) {
        ++it;
        continue;
      }
      logf("conn=%u gone (%llu messages)", it->id,
           static_cast<unsigned long long>(it->backend->messages_handled()));
      it = conns.erase(it);
    }
    if (pfds[1].revents & POLLIN) {
      UniqueFd sock(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (!sock) {
        if (errno != EAGAIN && errno != EINTR) logf("accept: %s", std::strerror(errno));
        continue;
      }
      const unsigned id = next_id++;
      logf("conn=%u accepted", id);
      auto logger = [id](const std::string& line) { logf("conn=%u %s", id, line.c_str()); };
      conns.push_back({id, std::make_unique<Backend>(std::move(sock), options, logger)});
    }
  }
  for (Connection& c : conns) c.backend->disconnect("daemon exit");
  conns.clear();
  listener.reset();
  ::unlink(socket_path.c_str());
  logf("exit");
  return 0;
}
