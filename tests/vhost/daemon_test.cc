// lockstep-vhost-backend as a process (tools/vhost_backend_main.cc): it serves real connections
// through its listening socket, follows vhost-user.rst "Backend program conventions"
// (--socket-path, --fd, --print-capabilities), lets only permitted peers in (SO_PEERCRED),
// bounds its connections, and exits with its documented statuses.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/program_files.h"
#include "core/vhost/ops.h"
#include "core/vhost/uapi.h"
#include "impl/vhost/frontend.h"

namespace lockstep::vhost {
namespace {

constexpr uint32_t V = uapi::kVersion;
constexpr uint32_t NR = uapi::kVersion | uapi::kNeedReply;
constexpr uint64_t kPagefault = uapi::bit(uapi::kPfPagefault) | uapi::bit(uapi::kPfReplyAck);
constexpr uid_t kNobody = 65534;

FdSpec memfd(uint64_t size = 0x100000) {
  return {FdKind::Memfd, size};
}

// A scratch directory others may enter (the uid test connects as nobody).
struct Scratch {
  std::string dir;
  Scratch() {
    char t[] = "/tmp/lockstep-daemon-XXXXXX";
    dir = ::mkdtemp(t) ? t : "";
    ::chmod(dir.c_str(), 0755);
  }
  ~Scratch() { std::filesystem::remove_all(dir); }
  std::string path(const char* name) const { return dir + "/" + name; }
};

struct Exit {
  bool exited = false;
  int status = -1;
  std::string out;  // stdout
};

// Starts the daemon with `args`, its stdout on the returned pipe end (*out); `pass_fd` is
// inherited (for --fd); `max_fds` > 0 sets its RLIMIT_NOFILE (soft and hard). The pid, or -1.
pid_t spawn(std::vector<std::string> args, int* out, int pass_fd = -1, rlim_t max_fds = 0) {
  int pipe[2];
  if (::pipe2(pipe, O_CLOEXEC) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe[1], 1);
    if (pass_fd >= 0) ::fcntl(pass_fd, F_SETFD, 0);
    const rlimit rl{max_fds, max_fds};
    if (max_fds > 0 && ::setrlimit(RLIMIT_NOFILE, &rl) != 0) ::_exit(126);
    std::vector<char*> argv{const_cast<char*>(LOCKSTEP_VHOST_BACKEND)};
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(LOCKSTEP_VHOST_BACKEND, argv.data());
    ::_exit(127);
  }
  ::close(pipe[1]);
  *out = pipe[0];
  return pid;
}

// Runs the daemon to completion (for options that make it exit at once).
Exit run_to_exit(std::vector<std::string> args) {
  int out[1];
  const pid_t pid = spawn(std::move(args), out);
  if (pid < 0) return {};
  Exit e;
  char buf[256];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) e.out.append(buf, n);
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  e.exited = WIFEXITED(status);
  e.status = WEXITSTATUS(status);
  return e;
}

// A running daemon: started with `args`, "ready" awaited, stopped with SIGTERM.
class Daemon {
 public:
  explicit Daemon(std::vector<std::string> args, int pass_fd = -1, rlim_t max_fds = 0) {
    int out[1];
    pid_ = spawn(std::move(args), out, pass_fd, max_fds);
    if (pid_ < 0) return;
    char buf[16] = {};
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 5000) == 1 && ::read(out[0], buf, sizeof buf - 1) > 0) ready_ = buf;
    ::close(out[0]);
  }
  ~Daemon() { stop(); }
  bool ready() const { return ready_ == "ready\n"; }
  pid_t pid() const { return pid_; }
  // Waits up to `ms` for the daemon to exit by itself; its exit status, or -1.
  int wait_exit(int ms) {
    for (int waited = 0; pid_ > 0 && waited < ms; waited += 10) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      ::usleep(10000);
    }
    return -1;
  }
  // SIGTERM; the exit status (-1 if it did not exit normally).
  int stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(std::exchange(pid_, -1), &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  std::string ready_;
};

// A listening socket at `path` that anyone may connect to, as a parent passing --fd makes.
int open_listener(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0 ||
      ::chmod(path.c_str(), 0666) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// GET_FEATURES over a fresh connection: true when the daemon answers it.
bool answers(const std::string& path) {
  Frontend fe = Frontend::connect(path);
  Frontend::Reply r;
  return fe.connected() && fe.send(uapi::kGetFeatures, V, {}) == 0 &&
         fe.recv(r, 5000) == Frontend::Recv::kReply && r.u64() == uapi::kOfferedFeatures;
}

// What a client running as another uid saw (the exit status of the child that was it).
enum class Seen {
  kReply = 0,
  kClosedUnread = 1,
  kClosedAfterReading = 2,
  kOther = 3,
  kNoSetuid = 4
};

// A child process becomes `uid` (gid `uid` too) and sends GET_FEATURES over a fresh connection
// while the daemon is stopped (SIGSTOP), so the request is in the socket before the daemon
// accepts it; then the daemon runs on. ECONNRESET (no byte back) tells that the daemon closed
// the connection with the request still unread; plain EOF that it read and then closed.
Seen connect_as(uid_t uid, const std::string& path, pid_t daemon) {
  int sync[2];
  if (::pipe2(sync, O_CLOEXEC) != 0) return Seen::kOther;
  ::kill(daemon, SIGSTOP);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgid(uid) != 0 || ::setuid(uid) != 0) ::_exit(static_cast<int>(Seen::kNoSetuid));
    Frontend fe = Frontend::connect(path);
    const bool sent = fe.connected() && fe.send(uapi::kGetFeatures, V, {}) == 0;
    (void)!::write(sync[1], "x", 1);
    if (!sent) ::_exit(static_cast<int>(Seen::kOther));
    pollfd p{fe.fd(), POLLIN, 0};
    char byte;
    if (::poll(&p, 1, 5000) != 1) ::_exit(static_cast<int>(Seen::kOther));
    const ssize_t n = ::recv(fe.fd(), &byte, 1, 0);
    ::_exit(static_cast<int>(n > 0                          ? Seen::kReply
                             : n < 0 && errno == ECONNRESET ? Seen::kClosedUnread
                             : n == 0                       ? Seen::kClosedAfterReading
                                                            : Seen::kOther));
  }
  ::close(sync[1]);
  char x;
  pollfd p{sync[0], POLLIN, 0};
  if (::poll(&p, 1, 5000) == 1) (void)!::read(sync[0], &x, 1);
  ::close(sync[0]);
  ::kill(daemon, SIGCONT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? static_cast<Seen>(WEXITSTATUS(status)) : Seen::kOther;
}

TEST(VhostDaemon, ServesAFrontEndAndExitsOnSigterm) {
  char dir[] = "/tmp/lockstep-vhost-XXXXXX";
  ASSERT_TRUE(::mkdtemp(dir));
  const std::string path = std::string(dir) + "/vhost.sock";
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    const std::string log = std::string(dir) + "/log";
    ::execl(LOCKSTEP_VHOST_BACKEND, LOCKSTEP_VHOST_BACKEND, "--socket", path.c_str(), "--log",
            log.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  char buf[16] = {};
  pollfd p{out[0], POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  ASSERT_GT(::read(out[0], buf, sizeof buf - 1), 0);
  ::close(out[0]);
  EXPECT_STREQ(buf, "ready\n");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  for (int session = 0; session < 2; ++session) {  // reconnects are new sessions
    Frontend fe = Frontend::connect(path);
    ASSERT_TRUE(fe.connected());
    Frontend::Reply r;
    ASSERT_EQ(fe.send(uapi::kGetFeatures, V, {}), 0);
    ASSERT_EQ(fe.recv(r, 5000), Frontend::Recv::kReply);
    EXPECT_EQ(r.u64(), uapi::kOfferedFeatures);
    ASSERT_EQ(fe.send(uapi::kSetProtocolFeatures, V, u64_payload(kPagefault)), 0);
    ASSERT_EQ(fe.send(uapi::kPostcopyAdvise, V, {}), 0);
    ASSERT_EQ(fe.recv(r, 5000), Frontend::Recv::kReply);
    ASSERT_EQ(r.fds.size(), 1u);
    EXPECT_EQ(r.fds[0].kind, FdKind::Uffd);
    ASSERT_EQ(fe.send(uapi::kPostcopyListen, NR, {}), 0);
    ASSERT_EQ(fe.recv(r, 5000), Frontend::Recv::kReply);
    EXPECT_EQ(r.u64(), 0u);
    const std::vector<FdSpec> fds{memfd()};
    ASSERT_EQ(fe.send(uapi::kSetMemTable, V, mem_table_payload(regions(1)), fds), 0);
    ASSERT_EQ(fe.recv(r, 5000), Frontend::Recv::kReply);
    EXPECT_EQ(r.hdr.size, uapi::mem_table_size(1));
    ASSERT_EQ(fe.send(uapi::kSetMemTable, V, u64_payload(0)), 0);
    ASSERT_EQ(fe.send(uapi::kPostcopyEnd, NR, {}), 0);
    ASSERT_EQ(fe.recv(r, 5000), Frontend::Recv::kReply);
    EXPECT_EQ(r.hdr.request, uapi::kPostcopyEnd);
    EXPECT_EQ(r.u64(), 0u);
    ASSERT_EQ(fe.send(99, V, {}), 0);  // E2 without NEED_REPLY: the daemon closes
    EXPECT_EQ(fe.recv(r, 5000), Frontend::Recv::kClosed);
  }
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(::access(path.c_str(), F_OK), 0);  // the socket file is gone
  const std::string log = std::string(dir) + "/log";
  ::unlink(log.c_str());
  ::rmdir(dir);
}

// vhost-user.rst: print the JSON capabilities and exit successfully, ignoring every other
// option and argument (here: both sockets at once, an unknown option, a bad fd).
TEST(VhostDaemon, PrintsItsCapabilitiesAndExits) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--print-capabilities"},
                                             {"--socket-path", "/nonexistent/x", "--fd", "987",
                                              "--frobnicate", "--print-capabilities"}}) {
    const Exit e = run_to_exit(args);
    EXPECT_TRUE(e.exited);
    EXPECT_EQ(e.status, 0);
    EXPECT_EQ(e.out, "{\n  \"type\": \"net\"\n}\n");
  }
}

TEST(VhostDaemon, HelpDocumentsTheDefaultConnectionBound) {
  const Exit e = run_to_exit({"--help"});
  EXPECT_EQ(e.status, 0);
  EXPECT_NE(e.out.find("--max-connections"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("256"), std::string::npos) << e.out;
}

// --fd with a connected socket (the convention's "the vhost-user socket"; e.g. one end of a
// socketpair): that one session is served, and its end ends the daemon, status 0.
TEST(VhostDaemon, ServesAConnectedSocketPassedWithFdAndExitsWhenItEnds) {
  auto [ours, theirs] = stream_socketpair();
  ASSERT_TRUE(ours && theirs);
  Scratch s;
  const std::string log = s.path("log");
  Daemon d({"--fd", std::to_string(theirs.get()), "--log", log}, theirs.get());
  theirs.reset();
  ASSERT_TRUE(d.ready());
  Frontend fe(std::move(ours));
  Frontend::Reply r;
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(fe.send(uapi::kGetFeatures, V, {}), 0);
    ASSERT_EQ(fe.recv(r, 5000), Frontend::Recv::kReply);
    EXPECT_EQ(r.u64(), uapi::kOfferedFeatures);
  }
  EXPECT_EQ(d.wait_exit(200), -1);  // still serving while the connection lasts
  fe.close();
  EXPECT_EQ(d.wait_exit(5000), 0);
  EXPECT_NE(read_file(log).find("serving the connection on fd"), std::string::npos);
}

TEST(VhostDaemon, AcceptsTheEqualsFormOfItsOptions) {
  Scratch s;
  const std::string path = s.path("eq.sock");
  Daemon d({"--socket-path=" + path, "--max-connections=4"});
  ASSERT_TRUE(d.ready());
  EXPECT_TRUE(answers(path));
}

TEST(VhostDaemon, UsageErrorsExitTwo) {
  EXPECT_EQ(run_to_exit({}).status, 2);                                        // nothing to serve
  EXPECT_EQ(run_to_exit({"--socket-path", "/tmp/x", "--fd", "3"}).status, 2);  // both
  EXPECT_EQ(run_to_exit({"--socket-path", "/tmp/x", "--profile", "nope"}).status, 2);
  EXPECT_EQ(run_to_exit({"--fd", "3", "--log-level", "chatty"}).status, 2);
  EXPECT_EQ(run_to_exit({"--frobnicate"}).status, 2);
  EXPECT_EQ(run_to_exit({"--help"}).status, 0);
}

TEST(VhostDaemon, AnFdThatIsNotAUsableSocketIsASetupError) {
  EXPECT_EQ(run_to_exit({"--fd", "0"}).status, 1);    // stdin: not a socket
  EXPECT_EQ(run_to_exit({"--fd", "987"}).status, 1);  // not open
  const int lone = ::socket(AF_UNIX, SOCK_STREAM, 0);
  int out[1];
  const pid_t pid = spawn({"--fd", std::to_string(lone)}, out, lone);
  ::close(lone);
  ::close(out[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
}

TEST(VhostDaemon, ServesAListeningSocketPassedWithFd) {
  Scratch s;
  const std::string path = s.path("passed.sock");
  const int fd = open_listener(path);
  ASSERT_GE(fd, 0);
  Daemon d({"--fd", std::to_string(fd)}, fd);
  ::close(fd);
  ASSERT_TRUE(d.ready());
  EXPECT_TRUE(answers(path));
  EXPECT_TRUE(answers(path));  // a reconnect is a new session
  EXPECT_EQ(d.stop(), 0);
  EXPECT_EQ(::access(path.c_str(), F_OK), 0);  // a passed socket's file is the parent's
}

// SO_PEERCRED: by default only root and the daemon's uid; --allow-uid / --allow-gid widen it.
// A refusal is logged with the peer's pid, uid and gid and the connection closed unread. The
// socket is passed with --fd and is mode 0666, so the file permissions let nobody in and the
// refusal can only come from the credentials check.
TEST(VhostDaemon, RefusesAnotherUidUnlessAllowed) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root to connect as another uid";
  Scratch s;
  const std::string path = s.path("creds.sock"), log = s.path("log");
  const int fd = open_listener(path);
  ASSERT_GE(fd, 0);
  {
    Daemon d({"--fd", std::to_string(fd), "--log", log}, fd);
    ASSERT_TRUE(d.ready());
    EXPECT_EQ(connect_as(kNobody, path, d.pid()), Seen::kClosedUnread);
    EXPECT_TRUE(answers(path));  // root still may
  }
  const std::string text = read_file(log);
  EXPECT_NE(text.find(" error refused: pid "), std::string::npos) << text;
  EXPECT_NE(text.find("uid 65534 gid 65534 may not connect"), std::string::npos) << text;
  EXPECT_EQ(text.find("GET_FEATURES"), std::string::npos) << text;
  // The same client, allowed by uid or by gid, is answered: the check above can tell.
  for (const char* allow : {"--allow-uid", "--allow-gid"}) {
    Daemon allowed({"--fd", std::to_string(fd), allow, "65534"}, fd);
    ASSERT_TRUE(allowed.ready());
    EXPECT_EQ(connect_as(kNobody, path, allowed.pid()), Seen::kReply) << allow;
  }
  ::close(fd);
}

// A connected socket passed with --fd is checked too: its peer's credentials are those of the
// process that created the socketpair (here nobody), so the daemon refuses and exits 1.
TEST(VhostDaemon, RefusesAPassedConnectionFromAnotherUid) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root to create a socketpair as another uid";
  auto [carrier, child_end] = stream_socketpair();
  ASSERT_TRUE(carrier && child_end);
  const pid_t pid = ::fork();
  if (pid == 0) {  // nobody makes a socketpair and hands both ends over
    if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) ::_exit(3);
    auto [a, b] = stream_socketpair();
    const int both[] = {a.get(), b.get()};
    ::_exit(wire::send_all(child_end.get(), wire::frame({0, V, 0}, {}), both) == 0 ? 0 : 1);
  }
  child_end.reset();
  Frontend fe(std::move(carrier));
  Frontend::Reply r;
  ASSERT_EQ(fe.recv(r, 5000, true), Frontend::Recv::kReply);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_EQ(r.fds.size(), 2u);
  Scratch s;
  const std::string log = s.path("log");
  const int passed = r.fds[0].fd.get();
  Daemon d({"--fd", std::to_string(passed), "--log", log}, passed);
  r.fds[0].fd.reset();
  EXPECT_EQ(d.wait_exit(5000), 1);
  EXPECT_NE(read_file(log).find("uid 65534 gid 65534 may not connect"), std::string::npos)
      << read_file(log);
}

TEST(VhostDaemon, RefusesConnectionsBeyondTheMaximum) {
  Scratch s;
  const std::string path = s.path("max.sock"), log = s.path("log");
  Daemon d({"--socket-path", path, "--max-connections", "1", "--log", log});
  ASSERT_TRUE(d.ready());
  Frontend first = Frontend::connect(path);
  Frontend::Reply r;
  ASSERT_EQ(first.send(uapi::kGetFeatures, V, {}), 0);
  ASSERT_EQ(first.recv(r, 5000), Frontend::Recv::kReply);
  EXPECT_FALSE(answers(path));                          // the second is closed unread
  ASSERT_EQ(first.send(uapi::kGetFeatures, V, {}), 0);  // the first is still served
  EXPECT_EQ(first.recv(r, 5000), Frontend::Recv::kReply);
  first = Frontend();
  EXPECT_EQ(d.stop(), 0);
  EXPECT_NE(read_file(log).find("--max-connections"), std::string::npos);
}

// With RLIMIT_NOFILE far below what the connections need, accept4 fails with EMFILE: the daemon
// refuses (accepts with its spare fd and closes, logged) instead of spinning on a readable
// listener, and serves again once connections are gone.
TEST(VhostDaemon, RefusesConnectionsWhenOutOfFdsAndRecovers) {
  Scratch s;
  const std::string path = s.path("fds.sock"), log = s.path("log");
  Daemon d({"--socket-path", path, "--log", log}, -1, 24);
  ASSERT_TRUE(d.ready());
  std::vector<Frontend> held;
  int refused = 0;
  for (int i = 0; i < 40; ++i) {
    Frontend fe = Frontend::connect(path);
    Frontend::Reply r;
    ASSERT_TRUE(fe.connected());
    const int sent = fe.send(uapi::kGetFeatures, V, {});
    if (sent != 0) {  // refused before the request went out
      EXPECT_TRUE(sent == -EPIPE || sent == -ECONNRESET) << sent;
      ++refused;
      continue;
    }
    const Frontend::Recv got = fe.recv(r, 5000);
    ASSERT_NE(got, Frontend::Recv::kTimeout) << "connection " << i;  // never left hanging
    if (got == Frontend::Recv::kClosed) ++refused;
    held.push_back(std::move(fe));
  }
  EXPECT_GT(refused, 0);
  EXPECT_LT(refused, 40);
  held.clear();
  for (int i = 0; i < 50 && !answers(path); ++i) ::usleep(20000);
  EXPECT_TRUE(answers(path));
  EXPECT_EQ(d.stop(), 0);
  const std::string text = read_file(log);
  EXPECT_NE(text.find("refused: out of fds (Too many open files"), std::string::npos) << text;
  EXPECT_NE(text.find("RLIMIT_NOFILE 24 <"), std::string::npos) << text;
}

// The default log level writes nothing per message; debug logs every message and reply.
TEST(VhostDaemon, LogsMessagesOnlyAtDebug) {
  Scratch s;
  for (const char* level : {"info", "debug"}) {
    const std::string path = s.path(level), log = s.path((std::string(level) + ".log").c_str());
    {
      Daemon d({"--socket-path", path, "--log", log, "--log-level", level});
      ASSERT_TRUE(d.ready());
      EXPECT_TRUE(answers(path));
    }
    const std::string text = read_file(log);
    EXPECT_NE(text.find(" info conn=1 accepted"), std::string::npos) << text;
    EXPECT_EQ(text.find("GET_FEATURES") != std::string::npos, std::string(level) == "debug")
        << text;
  }
}

}  // namespace
}  // namespace lockstep::vhost
