// Many front-ends at once against one back-end server in this process (label tsan: the tsan
// preset runs it under ThreadSanitizer). The server accepts on a real UNIX socket and runs every
// connection's Backend on a thread of its own, so 32 back-ends handle messages at the same time
// and share whatever the implementation shares (statics, the process's fd table, userfaultfd).
// Each front-end thread runs the postcopy handshake over fresh connections, round after round:
// GET_FEATURES, SET_PROTOCOL_FEATURES, POSTCOPY_ADVISE (a real userfaultfd comes back),
// POSTCOPY_LISTEN, SET_MEM_TABLE with memfd regions (the table comes back), the ack,
// POSTCOPY_END; every reply is checked. Afterwards every session registered its regions, left
// nothing held, and the process's fd set is what it was.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/fd_oracle.h"
#include "core/vhost/ops.h"
#include "core/vhost/uapi.h"
#include "impl/mutants.h"
#include "impl/vhost/backend.h"
#include "impl/vhost/frontend.h"

namespace lockstep::vhost {
namespace {

constexpr int kClients = 32;          // concurrent connections
constexpr int kRoundsPerClient = 20;  // handshakes per client, each on a fresh connection
constexpr int kTimeoutMs = 10000;     // per reply; a stuck session fails instead of hanging
constexpr uint32_t V = uapi::kVersion;
constexpr uint32_t NR = uapi::kVersion | uapi::kNeedReply;
constexpr uint64_t kPagefault = uapi::bit(uapi::kPfPagefault) | uapi::bit(uapi::kPfReplyAck);

// What one session's back-end did, recorded by its thread when the front-end has gone.
struct Session {
  uint64_t messages = 0;
  int registered_at_end = -1;  // regions registered with the uffd when POSTCOPY_END came
  Backend::Stats end;          // after the disconnect
};

// One listening socket; an accept thread; one thread per connection running its Backend until
// the front-end closes.
class Server {
 public:
  explicit Server(int connections) {
    char dir[] = "/tmp/lockstep-stress-XXXXXX";
    if (!::mkdtemp(dir)) return;
    dir_ = dir;
    path_ = dir_ + "/vhost.sock";
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    listener_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!listener_ || ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) ||
        ::listen(listener_.get(), SOMAXCONN))
      return;
    acceptor_ = std::thread([this, connections] { accept_all(connections); });
  }
  ~Server() {
    stop_accepting();
    for (std::thread& t : sessions_) t.join();
    listener_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  bool listening() const { return acceptor_.joinable() && stop_; }
  const std::string& path() const { return path_; }
  // Stops accepting (a client that gave up leaves connections unmade), waits for every session
  // to end; their records, in the order they ended.
  std::vector<Session> finish() {
    stop_accepting();
    for (std::thread& t : sessions_) t.join();
    sessions_.clear();
    std::lock_guard guard(mutex_);
    return done_;
  }

 private:
  void stop_accepting() {
    const uint64_t one = 1;
    (void)!::write(stop_.get(), &one, sizeof one);  // an eventfd write of 1 does not fail
    if (acceptor_.joinable()) acceptor_.join();
  }

  // Accepts `connections`, or fewer when stopped or when none comes for kTimeoutMs.
  void accept_all(int connections) {
    for (int i = 0; i < connections; ++i) {
      pollfd p[2] = {{listener_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
      if (::poll(p, 2, kTimeoutMs) < 1 || !(p[0].revents & POLLIN)) return;
      UniqueFd sock(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (!sock) return;
      sessions_.emplace_back(
          [this, s = std::make_shared<UniqueFd>(std::move(sock))] { serve(std::move(*s)); });
    }
  }

  // The daemon's event loop for one connection: wait until readable (writable when a reply is
  // pending), handle, repeat until the back-end closes.
  void serve(UniqueFd sock) {
    Session s;
    // The receipt of a message is logged before it is handled: the line of POSTCOPY_END shows
    // the registration the ack made.
    const Backend* self = nullptr;
    Backend be(std::move(sock), options_, [&](const std::string& line) {
      if (line.starts_with("<- POSTCOPY_END"))
        s.registered_at_end = self->stats().regions_registered;
    });
    self = &be;
    while (be.connected()) {
      pollfd p{be.socket_fd(), static_cast<short>(be.output_pending() ? POLLOUT : POLLIN), 0};
      if (::poll(&p, 1, kTimeoutMs) != 1) {
        be.disconnect("stress: front-end silent");
        break;
      }
      be.handle_readable();
    }
    s.messages = be.messages_handled();
    s.end = be.stats();
    std::lock_guard guard(mutex_);
    done_.push_back(s);
  }

  // LOCKSTEP_IMPL_MUTANT selects a broken back-end (the negative ctests of tests/CMakeLists.txt).
  const BackendOptions options_{
      .mutant = static_cast<Mutant>(impl_mutant_from_env("vhost", "vhost_stress_test"))};
  std::string dir_, path_;
  UniqueFd listener_, stop_{::eventfd(0, EFD_CLOEXEC)};
  std::thread acceptor_;
  std::vector<std::thread> sessions_;  // only the acceptor adds, before it is joined
  std::mutex mutex_;
  std::vector<Session> done_;
};

// One reply to `request` with flags 0x5 and `fds` fds; "" or what is wrong.
std::string expect_reply(Frontend& fe, uint32_t request, size_t fds, Frontend::Reply& r) {
  const Frontend::Recv got = fe.recv(r, kTimeoutMs);
  if (got != Frontend::Recv::kReply) return std::string("no reply: ") + to_string(got);
  if (r.hdr.request != request)
    return "reply to " + std::to_string(r.hdr.request) + ", not " + std::to_string(request);
  if (r.hdr.flags != uapi::kReplyFlags) return "reply flags " + std::to_string(r.hdr.flags);
  if (r.fds.size() != fds) return std::to_string(r.fds.size()) + " fds with the reply";
  return "";
}

std::string expect_u64(Frontend& fe, uint32_t request, uint64_t value) {
  Frontend::Reply r;
  if (std::string e = expect_reply(fe, request, 0, r); !e.empty()) return e;
  if (r.u64() != value) return "reply payload of " + std::to_string(r.payload.size()) + " bytes";
  return "";
}

// The postcopy handshake as QEMU's source side drives it, with `n` memfd regions; "" or the
// first step that went wrong.
std::string handshake(const std::string& path, size_t n) {
  Frontend fe = Frontend::connect(path);
  if (!fe.connected()) return "connect failed";
  Frontend::Reply r;
  if (fe.send(uapi::kGetFeatures, V, {}) != 0) return "send GET_FEATURES";
  if (auto e = expect_u64(fe, uapi::kGetFeatures, uapi::kOfferedFeatures); !e.empty())
    return "GET_FEATURES: " + e;
  if (fe.send(uapi::kSetProtocolFeatures, V, u64_payload(kPagefault)) != 0)
    return "send SET_PROTOCOL_FEATURES";
  if (fe.send(uapi::kPostcopyAdvise, V, {}) != 0) return "send POSTCOPY_ADVISE";
  if (auto e = expect_reply(fe, uapi::kPostcopyAdvise, 1, r); !e.empty())
    return "POSTCOPY_ADVISE: " + e;
  if (r.fds[0].kind != FdKind::Uffd) return "POSTCOPY_ADVISE sent " + r.fds[0].target;
  if (fe.send(uapi::kPostcopyListen, NR, {}) != 0) return "send POSTCOPY_LISTEN";
  if (auto e = expect_u64(fe, uapi::kPostcopyListen, 0); !e.empty()) return "LISTEN: " + e;
  const std::vector<uapi::MemoryRegion> table = regions(n);
  const std::vector<FdSpec> fds(n, FdSpec{FdKind::Memfd, 0x100000});
  if (fe.send(uapi::kSetMemTable, V, mem_table_payload(table), fds) != 0)
    return "send SET_MEM_TABLE";
  if (auto e = expect_reply(fe, uapi::kSetMemTable, 0, r); !e.empty()) return "SET_MEM_TABLE: " + e;
  const auto mapped = parse_mem_table(r.payload);
  if (!mapped || mapped->size() != n) return "SET_MEM_TABLE reply is not a table of the regions";
  for (size_t i = 0; i < n; ++i)
    if ((*mapped)[i].guest_phys_addr != table[i].guest_phys_addr || !(*mapped)[i].userspace_addr)
      return "SET_MEM_TABLE reply region " + std::to_string(i);
  if (fe.send(uapi::kSetMemTable, V, u64_payload(0)) != 0) return "send the ack";
  if (fe.send(uapi::kPostcopyEnd, NR, {}) != 0) return "send POSTCOPY_END";
  if (auto e = expect_u64(fe, uapi::kPostcopyEnd, 0); !e.empty()) return "POSTCOPY_END: " + e;
  return "";
}

constexpr size_t regions_of(int client) {
  return 1 + static_cast<size_t>(client) % uapi::kMaxRegions;
}

TEST(VhostStress, ConcurrentConnectionsEachCompleteThePostcopyHandshake) {
  UniqueFd probe(static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK)));
  if (!probe) GTEST_SKIP() << "userfaultfd(2) is not available here: " << std::strerror(errno);
  probe.reset();
  const size_t baseline = FdSet::current().size();
  const auto start = std::chrono::steady_clock::now();
  std::vector<Session> sessions;
  std::vector<std::string> errors(kClients);
  {
    Server server(kClients * kRoundsPerClient);
    ASSERT_TRUE(server.listening()) << std::strerror(errno);
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c)
      clients.emplace_back([&, c] {
        for (int round = 0; round < kRoundsPerClient && errors[c].empty(); ++round)
          errors[c] = handshake(server.path(), regions_of(c));
      });
    for (std::thread& t : clients) t.join();
    sessions = server.finish();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (int c = 0; c < kClients; ++c) EXPECT_EQ(errors[c], "") << "client " << c;
  ASSERT_EQ(sessions.size(), static_cast<size_t>(kClients * kRoundsPerClient));
  // Every session handled the 7 messages, had its regions registered after the ack, and released
  // everything when the front-end went (D1).
  std::vector<int> registered;
  for (const Session& s : sessions) {
    EXPECT_EQ(s.messages, 7u);
    EXPECT_FALSE(s.end.connected);
    EXPECT_EQ(s.end.uffds, 0);
    EXPECT_EQ(s.end.regions_mapped, 0);
    EXPECT_EQ(s.end.held_fds, 0);
    registered.push_back(s.registered_at_end);
  }
  std::vector<int> expected;
  for (int c = 0; c < kClients; ++c)
    expected.insert(expected.end(), kRoundsPerClient, static_cast<int>(regions_of(c)));
  std::sort(registered.begin(), registered.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(registered, expected) << "regions registered per session at POSTCOPY_END";
  EXPECT_EQ(FdSet::current().size(), baseline);
  RecordProperty("seconds", std::to_string(seconds));
  std::printf("%d sessions (%d at once) in %.2f s\n", kClients * kRoundsPerClient, kClients,
              seconds);
}

}  // namespace
}  // namespace lockstep::vhost
