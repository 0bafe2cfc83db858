#include "peers/dpdk/dpdk_target.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "core/overloaded.h"
#include "impl/vhost/wire.h"

namespace lockstep::peers::dpdk {
namespace {

using namespace std::chrono_literals;
namespace uapi = vhost::uapi;

uint8_t clamp8(int v) {
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// How DPDK will cut a byte string into messages (read_vhost_message: exactly 12 header bytes,
// then exactly `size` payload bytes with one blocking read()).
struct Walk {
  std::vector<uint32_t> requests;  // complete frames, in order
  bool partial_tail = false;       // 1..11 header bytes at the end: DPDK reads them and closes
  bool stalls = false;             // a size the write does not carry (DPDK blocks in read())
};
// Above this DPDK refuses the header at once ("invalid msg size") without reading on: no stall.
constexpr uint32_t kSurelyRefusedSize = 4096;

Walk walk(std::span<const uint8_t> b) {
  Walk w;
  size_t off = 0;
  while (off < b.size()) {
    if (b.size() - off < uapi::kHeaderSize) {
      w.partial_tail = true;
      break;
    }
    vhost::wire::Header h;
    std::memcpy(&h, b.data() + off, sizeof h);
    off += uapi::kHeaderSize;
    if (h.size > kSurelyRefusedSize) break;  // closed at the header; the rest is never read
    if (h.size > b.size() - off) {
      w.stalls = true;
      break;
    }
    w.requests.push_back(h.request);
    off += h.size;
  }
  return w;
}

std::vector<uint8_t> bytes_of(const vhost::Op& op) {
  if (const auto* s = std::get_if<vhost::Send>(&op))
    return vhost::wire::frame({s->request, s->flags, s->header_size()}, s->payload);
  if (const auto* r = std::get_if<vhost::RawBytes>(&op)) return r->bytes;
  return {};
}

std::string run_command(const char* cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd, "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

// ---- comparison ------------------------------------------------------------------------------

const char* DpdkProtocol::first_difference(const vhost::Outcome& m, const vhost::Outcome& t) {
  if (const char* field = vhost::first_wire_difference(m, t)) return field;
  if (m.res.uffds != t.res.uffds) return "resources.uffds";
  if (m.res.held_fds != t.res.held_fds) return "resources.held_fds";
  // regions_mapped, regions_registered and phase: not observable from outside DPDK.
  return nullptr;
}

std::optional<std::string> unsupported(const vhost::Op& op) {
  if (std::holds_alternative<vhost::FailNext>(op)) return "fail_next: no fault injection into DPDK";
  if (walk(bytes_of(op)).stalls)
    return "a header size promising more payload than is sent (stalls DPDK's event thread)";
  return std::nullopt;
}

bool ends_in_partial_header(const vhost::Op& op) {
  return walk(bytes_of(op)).partial_tail;
}

std::optional<Skip> first_unsupported(const vhost::Trace& trace) {
  for (size_t i = 0; i < trace.ops.size(); ++i)
    if (auto why = unsupported(trace.ops[i])) return Skip{i, *why};
  return std::nullopt;
}

// ---- /proc -----------------------------------------------------------------------------------

namespace {

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

// ---- environment and process -----------------------------------------------------------------

std::string default_peer_binary() {
  if (const char* e = std::getenv("LOCKSTEP_DPDK_PEER"); e && *e) return e;
#ifdef LOCKSTEP_DPDK_PEER_PATH
  return LOCKSTEP_DPDK_PEER_PATH;
#else
  return "";
#endif
}

DpdkEnvironment probe_dpdk_environment() {
  DpdkEnvironment env;
  env.binary = default_peer_binary();
  env.version = run_command("pkg-config --modversion libdpdk 2>/dev/null");
  utsname u{};
  if (::uname(&u) == 0) env.kernel = u.release;
  if (env.binary.empty())
    env.unavailable = "dpdk_vhost_peer was not built (pkg-config found no libdpdk when CMake ran)";
  else if (::access(env.binary.c_str(), X_OK) != 0)
    env.unavailable =
        "dpdk_vhost_peer not executable at " + env.binary + ": " + std::strerror(errno);
  return env;
}

DpdkPeer::DpdkPeer(std::string binary, std::vector<std::string> extra, bool eal)
    : binary_(std::move(binary)), extra_(std::move(extra)), eal_(eal) {
  if (binary_.empty()) throw std::runtime_error(probe_dpdk_environment().unavailable);
  char tmpl[] = "/tmp/lockstep-dpdk-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  socket_ = dir_ + "/vhost.sock";
  log_ = dir_ + "/peer.log";
  start();
}

DpdkPeer::DpdkPeer(const DpdkPeer& like, Spare)
    : binary_(like.binary_), extra_(like.extra_), eal_(like.eal_) {
  char tmpl[] = "/tmp/lockstep-dpdk-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  socket_ = dir_ + "/vhost.sock";
  log_ = dir_ + "/peer.log";
  spawn();
}

DpdkPeer::~DpdkPeer() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void DpdkPeer::start() {
  spawn();
  bool ready = false;
  try {
    ready = wait_ready(15000);  // the peer itself needs ~1.3 s
  } catch (const std::runtime_error&) {
  }
  if (!ready) {
    stop();
    throw std::runtime_error("dpdk_vhost_peer did not become ready (log: " + log_ + ")");
  }
}

void DpdkPeer::spawn() {
  static std::atomic<int> serial{0};
  const std::string prefix =
      "lockstep_dpdk_" + std::to_string(::getpid()) + "_" + std::to_string(serial++);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::vector<const char*> argv = {binary_.c_str(), "--socket", socket_.c_str()};
  if (eal_) argv.insert(argv.end(), {"--file-prefix", prefix.c_str()});
  for (const auto& a : extra_) argv.push_back(a.c_str());
  argv.push_back(nullptr);
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
    ::dup2(out[1], 1);
    ::dup2(log >= 0 ? log : null, 2);
    ::execv(binary_.c_str(), const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
  ::close(out[1]);
  pid_ = pid;
  ready_fd_ = out[0];
  ready_line_.clear();
  fresh_non_socket_ = -1;
}

// The "ready" line on the peer's stdout: true once it came, false while it has not within
// timeout_ms; throws when the peer closed its stdout without it.
bool DpdkPeer::wait_ready(int timeout_ms) {
  if (ready_fd_ < 0) return true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
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
  if (!ready_line_.starts_with("ready")) throw std::runtime_error("dpdk_vhost_peer exited");
  return true;
}

void DpdkPeer::refresh() {
  if (!spare_ && (standby_fds_.non_socket() > fresh_non_socket_ + kSpareAfterHeldFds ||
                  standby_fds_.uffd > kSpareAfterUffds))
    spare_.reset(new DpdkPeer(*this, Spare{}));
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
  std::swap(standby_, spare_->standby_);
  std::swap(standby_fds_, spare_->standby_fds_);
  std::swap(fresh_non_socket_, spare_->fresh_non_socket_);
  spare_.reset();  // the old process: SIGTERM, its directory removed
  replaced_++;
}

void DpdkPeer::stop() {
  standby_.close();
  if (ready_fd_ >= 0) ::close(ready_fd_);
  ready_fd_ = -1;
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 300; ++i) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(10ms);
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

bool DpdkPeer::alive() {
  return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0;
}

void DpdkPeer::restart() {
  stop();
  start();
}

namespace {

// Sends a barrier and reads to its reply; false on EOF. Throws after 5 s without an answer.
bool barrier(vhost::Frontend& fe) {
  if (fe.send(uapi::kGetFeatures, uapi::kVersion, {}) < 0) return false;
  for (vhost::Frontend::Reply r;;) {
    const auto got = fe.recv(r, 5000);
    if (got == vhost::Frontend::Recv::kTimeout)
      throw std::runtime_error("dpdk peer unresponsive (no barrier reply in 5 s)");
    if (got != vhost::Frontend::Recv::kReply) return false;
    if (r.hdr.request == uapi::kGetFeatures) return true;
  }
}

}  // namespace

void DpdkPeer::open_standby() {
  int err = 0;
  standby_ = vhost::Frontend::connect(socket_, &err);
  if (!standby_.connected())
    throw std::runtime_error("cannot connect to " + socket_ + ": " + std::strerror(err));
  if (!barrier(standby_)) throw std::runtime_error("dpdk peer closed a fresh connection");
  standby_fds_ = fds();
  if (fresh_non_socket_ < 0) fresh_non_socket_ = standby_fds_.non_socket();
}

vhost::Frontend DpdkPeer::take_connection(FdCounts* quiet) {
  if (!standby_.connected()) open_standby();
  *quiet = standby_fds_;
  return std::move(standby_);
}

FdCounts DpdkPeer::release_connection(vhost::Frontend& fe) {
  fe.close();
  open_standby();
  return standby_fds_;
}

// ---- target ----------------------------------------------------------------------------------

void DpdkTarget::connect() {
  FdCounts quiet;
  fe_ = peer_.take_connection(&quiet);
  if (!started_) baseline_ = quiet;
  started_ = true;
  listen_sent_ = false;
  awaiting_ack_ = false;
  pending_get_features_ = 0;
  released_ = false;
}

// Closes the connection (if DPDK has not) and counts the peer's fds once DPDK has handled it.
void DpdkTarget::disconnect() {
  if (released_) return;
  last_ = peer_.release_connection(fe_);
  released_ = true;
}

vhost::Outcome DpdkTarget::step(const vhost::Op& op) {
  if (auto why = unsupported(op)) throw SkippedOp(*why);
  if (!started_) connect();
  vhost::Outcome out;
  std::visit(Overloaded{
                 [&](const vhost::Send& s) { transmit(bytes_of(op), s.fds, out); },
                 [&](const vhost::RawBytes& r) { transmit(r.bytes, {}, out); },
                 [&](const vhost::Disconnect&) { disconnect(); },
                 [&](const vhost::Connect&) {
                   disconnect();
                   connect();
                 },
                 [&](const vhost::FailNext&) {},
             },
             op);
  out.closed = !fe_.connected();
  if (!observe_) return out;
  if (out.closed) disconnect();  // DPDK closed it: counted once its teardown is done
  const FdCounts now = out.closed ? last_ : peer_.fds();
  out.res.uffds = clamp8(now.uffd - baseline_.uffd);
  out.res.held_fds = clamp8(now.non_socket() - baseline_.non_socket());
  return out;
}

void DpdkTarget::transmit(std::vector<uint8_t> bytes, const std::vector<vhost::FdSpec>& fds,
                          vhost::Outcome& out) {
  if (!fe_.connected() || bytes.empty()) {
    if (observe_ && fe_.connected()) collect(pending_get_features_ + 1, true, 0, out);
    return;
  }
  const Walk w = walk(bytes);
  const bool ack_was_pending = awaiting_ack_;
  awaiting_ack_ = false;
  for (uint32_t r : w.requests) {
    if (r == uapi::kPostcopyListen) listen_sent_ = true;
    pending_get_features_ += r == uapi::kGetFeatures;
  }
  // After LISTEN, SET_MEM_TABLE may be the postcopy one: DPDK answers with the table and then
  // blocks reading the ack, which a barrier would become.
  const bool maybe_table = listen_sent_ && !ack_was_pending && !w.requests.empty() &&
                           w.requests.back() == uapi::kSetMemTable;
  if (maybe_table && table_hint_ && !*table_hint_)
    throw NeedsPerOp("a postcopy SET_MEM_TABLE the model answers without a table");
  if (fe_.send_raw(bytes, fds) < 0) {  // EPIPE: DPDK had closed the connection
    collect(0, false, -1, out);
    return;
  }
  if (w.partial_tail) {  // DPDK reads the short header and closes: a barrier would complete it
    collect(0, false, -1, out);
    return;
  }
  if (maybe_table) {
    await_table(out);
    if (awaiting_ack_ || !fe_.connected()) return;
  }
  if (observe_) collect(pending_get_features_ + 1, true, 0, out);
}

// The per-op mode waits 150 ms for a table that may not come; the observed mode waits for the
// table the model predicts (to EOF or the 5 s guard).
void DpdkTarget::await_table(vhost::Outcome& out) {
  collect(0, false, table_hint_ ? 5000 : 150, out);
  if (table_hint_ && !awaiting_ack_ && fe_.connected())
    throw std::runtime_error("dpdk peer sent no memory table in 5 s");
}

// Reads replies. With a barrier: sends GET_FEATURES and reads until the barrier's reply (the
// `expected`-th GET_FEATURES reply), which is dropped. Without: reads for wait_ms (-1: to EOF,
// within 5 s), stopping early at EOF or at a postcopy memory table.
void DpdkTarget::collect(size_t expected, bool barrier, int wait_ms, vhost::Outcome& out) {
  if (barrier && fe_.send(uapi::kGetFeatures, uapi::kVersion, {}) < 0) barrier = false;
  if (barrier) pending_get_features_ = 0;
  size_t seen = 0;
  const bool to_eof = !barrier && wait_ms < 0;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(to_eof ? 5000 : wait_ms);
  for (;;) {
    int timeout = 5000;  // a barrier reply: DPDK answers in well under a millisecond
    if (!barrier) {
      timeout = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     deadline - std::chrono::steady_clock::now())
                                     .count());
      if (timeout < 0) timeout = 0;
    }
    vhost::Frontend::Reply r;
    const auto got = fe_.recv(r, timeout);
    if (got == vhost::Frontend::Recv::kTimeout) {
      if (barrier) throw std::runtime_error("dpdk peer unresponsive (no barrier reply in 5 s)");
      if (to_eof) throw std::runtime_error("dpdk peer did not close within 5 s");
      return;
    }
    if (got != vhost::Frontend::Recv::kReply) {
      fe_.close();
      return;
    }
    if (r.hdr.request == uapi::kGetFeatures && barrier && ++seen == expected) return;
    vhost::Reply reply;
    reply.request = r.hdr.request;
    reply.flags = r.hdr.flags;
    reply.size = r.hdr.size;
    reply.payload = std::move(r.payload);
    for (const auto& fd : r.fds) reply.fds.push_back(fd.kind);
    const bool table = reply.request == uapi::kSetMemTable && reply.size != 8;
    vhost::normalise(reply);
    out.replies.push_back(std::move(reply));
    if (table && !barrier) {
      awaiting_ack_ = true;
      return;
    }
  }
}

void DpdkTarget::finish() {
  if (!started_) return;
  disconnect();
  after_ = last_;
  started_ = false;
}

}  // namespace lockstep::peers::dpdk
