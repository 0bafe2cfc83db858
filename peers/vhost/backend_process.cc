#include "peers/vhost/backend_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

namespace lockstep::peers::backend {
namespace {

using namespace std::chrono_literals;
namespace uapi = vhost::uapi;

// 'u' uffd, 'm' memfd, 'e' eventfd, 's' socket, 'o' other.
char fd_kind(std::string_view link) {
  if (link == "anon_inode:[userfaultfd]") return 'u';
  if (link.starts_with("/memfd:")) return 'm';
  if (link == "anon_inode:[eventfd]") return 'e';
  if (link.starts_with("socket:")) return 's';
  return 'o';
}

void add(FdCounts& c, char kind) {
  switch (kind) {
    case 'u':
      c.uffd++;
      break;
    case 'm':
      c.memfd++;
      break;
    case 'e':
      c.eventfd++;
      break;
    case 's':
      c.socket++;
      break;
    default:
      c.other++;
  }
}

std::string wait_status_text(int st) {
  if (WIFSIGNALED(st)) {
    const char* abbrev = ::sigabbrev_np(WTERMSIG(st));
    return std::string("killed by SIG") + (abbrev ? abbrev : std::to_string(WTERMSIG(st)).c_str());
  }
  if (WIFEXITED(st)) return "exited with " + std::to_string(WEXITSTATUS(st));
  return "stopped";
}

std::string substituted(std::string arg, const std::string& key, const std::string& value) {
  for (size_t at; (at = arg.find(key)) != std::string::npos;) arg.replace(at, key.size(), value);
  return arg;
}

}  // namespace

FdCounts count_fds(pid_t pid) {
  FdCounts c;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return c;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char buf[256];
    const ssize_t n = ::readlink((dir + "/" + e->d_name).c_str(), buf, sizeof buf - 1);
    if (n < 0) continue;
    add(c, fd_kind(std::string_view(buf, static_cast<size_t>(n))));
  }
  ::closedir(d);
  return c;
}

std::string to_string(const FdCounts& c) {
  return "uffd=" + std::to_string(c.uffd) + " memfd=" + std::to_string(c.memfd) +
         " eventfd=" + std::to_string(c.eventfd) + " socket=" + std::to_string(c.socket) +
         " other=" + std::to_string(c.other);
}

// ---- the process -----------------------------------------------------------------------------

BackendProcess::BackendProcess(BackendSpec spec) : spec_(std::move(spec)) {
  if (spec_.binary.empty()) throw std::runtime_error(spec_.name + ": no binary");
  make_dir();
  start();
}

BackendProcess::BackendProcess(const BackendProcess& like, Spare) : spec_(like.spec_) {
  make_dir();
  spawn();
}

BackendProcess::~BackendProcess() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void BackendProcess::make_dir() {
  char tmpl[] = "/tmp/lockstep-backend-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  socket_ = dir_ + "/vhost.sock";
  log_ = dir_ + "/peer.log";
}

void BackendProcess::start() {
  spawn();
  bool ready = false;
  try {
    ready = wait_ready(spec_.start_timeout_ms);
  } catch (const std::runtime_error&) {
  }
  if (!ready) {
    stop();
    throw std::runtime_error(spec_.name + " did not become ready (log: " + log_ + ")");
  }
}

void BackendProcess::spawn() {
  static std::atomic<int> serial{0};
  const std::string prefix =
      "lockstep_backend_" + std::to_string(::getpid()) + "_" + std::to_string(serial++);
  std::vector<std::string> args{spec_.binary};
  for (const auto& a : spec_.args)
    args.push_back(substituted(substituted(a, "{socket}", socket_), "{prefix}", prefix));
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  int out[2] = {-1, -1};
  if (spec_.ready_line && ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  const pid_t parent = ::getpid();
  // fork/execv, not posix_spawn: the child must set PR_SET_PDEATHSIG before exec, which
  // posix_spawn has no file action or attribute for.
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    // O_CLOEXEC: only their dup2 copies (0-2) reach the peer, not two more fds in its census.
    const int log = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ::dup2(null, 0);
    ::dup2(out[1] >= 0 ? out[1] : log >= 0 ? log : null, 1);
    ::dup2(log >= 0 ? log : null, 2);
    ::execv(spec_.binary.c_str(), const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
  if (out[1] >= 0) ::close(out[1]);
  pid_ = pid;
  status_.reset();
  ready_fd_ = out[0];
  ready_line_.clear();
  standby_answered_ = false;
  fresh_non_socket_ = -1;
}

// Connects to the socket; the connection becomes the standby (its barrier still to come).
bool BackendProcess::try_socket() {
  if (standby_.connected()) return true;
  standby_ = vhost::Frontend::connect(socket_);
  standby_answered_ = false;
  return standby_.connected();
}

// True once the process is ready, false while it is not within timeout_ms; throws when it
// closed its stdout without the "ready" line or died.
bool BackendProcess::wait_ready(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  if (!spec_.ready_line) {
    while (!try_socket()) {
      if (!alive()) throw std::runtime_error(spec_.name + " exited");
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(2ms);
    }
    return true;
  }
  if (ready_fd_ < 0) return true;
  while (ready_line_.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{ready_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0))) <= 0) return false;
    char buf[64];
    const ssize_t n = ::read(ready_fd_, buf, sizeof buf);
    if (n <= 0) break;
    ready_line_.append(buf, static_cast<size_t>(n));
  }
  ::close(ready_fd_);
  ready_fd_ = -1;
  if (!ready_line_.starts_with("ready")) throw std::runtime_error(spec_.name + " exited");
  return true;
}

void BackendProcess::refresh() {
  if (!spare_ && (standby_fds_.non_socket() > fresh_non_socket_ + kSpareAfterHeldFds ||
                  standby_fds_.uffd > kSpareAfterUffds))
    spare_.reset(new BackendProcess(*this, Spare{}));
  if (!spare_) return;
  try {
    if (!spare_->wait_ready(0)) return;
  } catch (const std::runtime_error&) {
    spare_.reset();  // tried again at the next refresh
    return;
  }
  std::swap(dir_, spare_->dir_);
  std::swap(socket_, spare_->socket_);
  std::swap(log_, spare_->log_);
  std::swap(pid_, spare_->pid_);
  std::swap(status_, spare_->status_);
  std::swap(standby_, spare_->standby_);
  std::swap(standby_answered_, spare_->standby_answered_);
  std::swap(standby_fds_, spare_->standby_fds_);
  std::swap(fresh_non_socket_, spare_->fresh_non_socket_);
  spare_.reset();  // the old process: SIGTERM, its directory removed
  replaced_++;
}

void BackendProcess::stop() {
  standby_.close();
  standby_answered_ = false;
  if (ready_fd_ >= 0) ::close(ready_fd_);
  ready_fd_ = -1;
  if (pid_ <= 0) return;
  ::kill(pid_, spec_.graceful_stop ? SIGTERM : SIGKILL);
  for (int i = 0; i < 3000; ++i) {
    if (!alive()) return;
    std::this_thread::sleep_for(1ms);
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

bool BackendProcess::alive() {
  if (pid_ <= 0) return false;
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) != pid_) return true;
  status_ = st;
  pid_ = -1;
  return false;
}

std::optional<std::string> BackendProcess::death(int wait_ms) {
  for (int waited = 0; alive() && waited < wait_ms; waited += 5) std::this_thread::sleep_for(5ms);
  if (alive()) return std::nullopt;
  return status_ ? wait_status_text(*status_) : "not running";
}

void BackendProcess::restart() {
  stop();
  std::error_code ec;
  std::filesystem::remove(socket_, ec);  // a crashed process leaves its socket file
  restarts_++;
  start();
}

bool BackendProcess::barrier(vhost::Frontend& fe) {
  if (fe.send(uapi::kGetFeatures, uapi::kVersion, {}) < 0) return false;
  for (vhost::Frontend::Reply r;;) {
    const auto got = fe.recv(r, spec_.reply_timeout_ms);
    if (got == vhost::Frontend::Recv::kTimeout)
      throw PeerHung(spec_.name + " unresponsive (no barrier reply in " +
                     std::to_string(spec_.reply_timeout_ms) + " ms)");
    if (got != vhost::Frontend::Recv::kReply) return false;
    if (r.hdr.request == uapi::kGetFeatures) return true;
  }
}

// The connection could not be opened or answered: a death if the process has gone.
void BackendProcess::lost(const std::string& what) {
  if (auto how = death(2000)) throw PeerDied(*how);
  throw std::runtime_error(spec_.name + ": " + what);
}

void BackendProcess::open_standby() {
  int err = 0;
  if (!standby_.connected()) standby_ = vhost::Frontend::connect(socket_, &err);
  if (!standby_.connected()) lost("cannot connect to " + socket_ + ": " + std::strerror(err));
  if (!barrier(standby_)) lost("closed a fresh connection");
  standby_answered_ = true;
  standby_fds_ = fds();
  if (fresh_non_socket_ < 0) fresh_non_socket_ = standby_fds_.non_socket();
}

vhost::Frontend BackendProcess::take_connection(FdCounts* quiet) {
  if (!standby_.connected() || !standby_answered_) open_standby();
  *quiet = standby_fds_;
  standby_answered_ = false;
  return std::move(standby_);
}

FdCounts BackendProcess::release_connection(vhost::Frontend& fe) {
  fe.close();
  open_standby();
  return standby_fds_;
}

}  // namespace lockstep::peers::backend
