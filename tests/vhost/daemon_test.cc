// lockstep-vhost-backend as a process (tools/vhost_backend_main.cc): it serves real connections
// through its listening socket, follows vhost-user.rst "Backend program conventions"
// (--socket-path, --fd, --print-capabilities), lets only permitted peers in (SO_PEERCRED),
// bounds its connections, and exits with its documented statuses.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
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
// inherited (for --fd). The pid, or -1.
pid_t spawn(std::vector<std::string> args, int* out, int pass_fd = -1) {
  int pipe[2];
  if (::pipe2(pipe, O_CLOEXEC) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe[1], 1);
    if (pass_fd >= 0) ::fcntl(pass_fd, F_SETFD, 0);
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
  explicit Daemon(std::vector<std::string> args, int pass_fd = -1) {
    int out[1];
    pid_ = spawn(std::move(args), out, pass_fd);
    if (pid_ < 0) return;
    char buf[16] = {};
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 5000) == 1 && ::read(out[0], buf, sizeof buf - 1) > 0) ready_ = buf;
    ::close(out[0]);
  }
  ~Daemon() { stop(); }
  bool ready() const { return ready_ == "ready\n"; }
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

// answers(), from a child process running as `uid`; the child's exit status says.
bool answers_as(uid_t uid, const std::string& path) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgid(uid) != 0 || ::setuid(uid) != 0) ::_exit(3);
    ::_exit(answers(path) ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
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

TEST(VhostDaemon, PrintsItsCapabilitiesAndExits) {
  const Exit e = run_to_exit({"--print-capabilities"});
  EXPECT_TRUE(e.exited);
  EXPECT_EQ(e.status, 0);
  EXPECT_EQ(e.out, "{\n  \"type\": \"net\"\n}\n");
}

TEST(VhostDaemon, UsageErrorsExitTwo) {
  EXPECT_EQ(run_to_exit({}).status, 2);                                        // nothing to serve
  EXPECT_EQ(run_to_exit({"--socket-path", "/tmp/x", "--fd", "3"}).status, 2);  // both
  EXPECT_EQ(run_to_exit({"--socket-path", "/tmp/x", "--profile", "nope"}).status, 2);
  EXPECT_EQ(run_to_exit({"--fd", "3", "--log-level", "chatty"}).status, 2);
  EXPECT_EQ(run_to_exit({"--frobnicate"}).status, 2);
  EXPECT_EQ(run_to_exit({"--help"}).status, 0);
}

TEST(VhostDaemon, AnFdThatIsNotAListeningSocketIsASetupError) {
  EXPECT_EQ(run_to_exit({"--fd", "0"}).status, 1);    // stdin: not a socket
  EXPECT_EQ(run_to_exit({"--fd", "987"}).status, 1);  // not open
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

// SO_PEERCRED: by default only root and the daemon's uid; --allow-uid widens it. A refusal is
// logged with the peer's pid and uid and the connection closed unread.
TEST(VhostDaemon, RefusesAnotherUidUnlessAllowed) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root to connect as another uid";
  Scratch s;
  const std::string path = s.path("creds.sock"), log = s.path("log");
  const int fd = open_listener(path);
  ASSERT_GE(fd, 0);
  {
    Daemon d({"--fd", std::to_string(fd), "--log", log}, fd);
    ASSERT_TRUE(d.ready());
    EXPECT_FALSE(answers_as(kNobody, path));
    EXPECT_TRUE(answers(path));  // root still may
  }
  const std::string text = read_file(log);
  EXPECT_NE(text.find("refused: pid "), std::string::npos) << text;
  EXPECT_NE(text.find("uid 65534"), std::string::npos) << text;
  Daemon allowed({"--fd", std::to_string(fd), "--allow-uid", "65534"}, fd);
  ASSERT_TRUE(allowed.ready());
  EXPECT_TRUE(answers_as(kNobody, path));
  ::close(fd);
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
