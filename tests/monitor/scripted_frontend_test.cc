// `lockstep monitor` between a scripted front-end (impl/vhost/frontend.h, real UNIX sockets) and
// the project's lockstep-vhost-backend daemon. A clean postcopy handshake passes (exit 0) and
// its recording replays against the model and the real back-end; each negative session breaks
// one front-end rule (FE1..FE8) or runs a broken back-end, and must be reported with that rule
// and that side (exit 1). Environment and usage errors exit 3 and 2.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/vhost/codec.h"
#include "impl/vhost/frontend.h"
#include "monitor/frontend_rules.h"
#include "tests/child_exit.h"

namespace lockstep::vhost {
namespace {

constexpr uint32_t V = uapi::kVersion;

struct Scratch {
  std::string dir;
  Scratch() {
    char t[] = "/tmp/lockstep-monitor-XXXXXX";
    dir = ::mkdtemp(t) ? t : "";
  }
  ~Scratch() { std::filesystem::remove_all(dir); }
  std::string path(const std::string& name) const { return dir + "/" + name; }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A child process with stdout and stderr in files.
class Process {
 public:
  Process(std::vector<std::string> argv, const std::string& out, const std::string& err) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(o, 1);
      ::dup2(e, 2);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }
  ~Process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // The exit status once it exits within `ms`, else -1.
  int wait(int ms) { return testing_support::wait_child_exit(&pid_, ms); }
  void terminate() {
    if (pid_ > 0) ::kill(pid_, SIGTERM);
  }

 private:
  pid_t pid_ = -1;
};

bool wait_for_text(const std::string& file, const std::string& text, int ms = 10000) {
  for (int waited = 0; waited < ms; waited += 10) {
    if (slurp(file).find(text) != std::string::npos) return true;
    ::usleep(10000);
  }
  return false;
}

int run(std::vector<std::string> argv, std::string* err = nullptr) {
  Scratch s;
  Process p(std::move(argv), s.path("out"), s.path("err"));
  const int code = p.wait(60000);
  if (err) *err = slurp(s.path("err"));
  return code;
}

// The back-end daemon, the monitor in front of it, and a front-end connected to the monitor.
struct Rig {
  Scratch s;
  std::unique_ptr<Process> backend, monitor;
  Frontend fe;
  std::string record = s.path("session.txt");

  explicit Rig(const std::string& backend_profile = "spec", std::vector<std::string> extra = {}) {
    backend = std::make_unique<Process>(
        std::vector<std::string>{LOCKSTEP_VHOST_BACKEND, "--socket-path", s.path("be.sock"),
                                 "--profile", backend_profile},
        s.path("be.out"), s.path("be.err"));
    EXPECT_TRUE(wait_for_text(s.path("be.out"), "ready"));
    std::vector<std::string> argv{LOCKSTEP_BINARY,   "monitor",   "--listen",
                                  s.path("fe.sock"), "--connect", s.path("be.sock"),
                                  "--record",        record,      "--json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    monitor = std::make_unique<Process>(argv, s.path("mon.out"), s.path("mon.err"));
    EXPECT_TRUE(wait_for_text(s.path("mon.err"), "ready"));
    fe = Frontend::connect(s.path("fe.sock"));
    EXPECT_TRUE(fe.connected());
  }
  // Sends `op` and reads `replies` replies; the last one.
  Frontend::Reply exchange(const Send& op, int replies = 1) {
    EXPECT_EQ(fe.send(op), 0) << request_text(op.request);
    Frontend::Reply r;
    for (int i = 0; i < replies; ++i)
      EXPECT_EQ(fe.recv(r, 5000), Frontend::Recv::kReply) << request_text(op.request);
    return r;
  }
  void preamble() {
    for (const Op& op : vhost::preamble()) {
      const Send& s = std::get<Send>(op);
      const bool reply = s.request == uapi::kGetFeatures ||
                         s.request == uapi::kGetProtocolFeatures || (s.flags & uapi::kNeedReply);
      if (reply)
        exchange(s);
      else
        EXPECT_EQ(fe.send(s), 0);
    }
  }
  // ADVISE, LISTEN, the postcopy table and its reply; the acknowledgement is the caller's.
  void up_to_table() {
    preamble();
    EXPECT_EQ(exchange(send(uapi::kSetOwner, V | uapi::kNeedReply)).u64(), 0u);
    exchange(send(uapi::kPostcopyAdvise));
    EXPECT_EQ(exchange(send(uapi::kPostcopyListen, V | uapi::kNeedReply)).u64(), 0u);
    exchange(set_mem_table(regions(1)));
  }
  // Ends the session; the monitor's exit status.
  int finish() {
    fe.close();
    const int code = monitor->wait(20000);
    backend->terminate();
    return code;
  }
  std::string err() const { return slurp(s.path("mon.err")); }
  nlohmann::json doc() const { return nlohmann::json::parse(slurp(s.path("mon.out"))); }
  // Every violation reported as "<side> <rule>".
  std::vector<std::string> violations() const {
    std::vector<std::string> out;
    const nlohmann::json d = doc();  // kept alive: a range over doc()[...] would dangle
    for (const auto& v : d["violations"])
      out.push_back(v["side"].get<std::string>() + " " + v["rule"].get<std::string>());
    return out;
  }
};

int replay(std::vector<std::string> args) {
  std::vector<std::string> argv{LOCKSTEP_BINARY, "replay"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string err;
  return run(argv, &err);
}

TEST(MonitorScriptedFrontend, CleanPostcopyHandshakeIsNoViolationAndItsRecordingReplays) {
  Rig rig;
  rig.up_to_table();
  EXPECT_EQ(rig.fe.send(mem_table_ack()), 0);
  EXPECT_EQ(rig.exchange(send(uapi::kPostcopyEnd, V | uapi::kNeedReply)).u64(), 0u);
  ASSERT_EQ(rig.finish(), 0) << rig.err();
  EXPECT_EQ(rig.err().find("violation:"), std::string::npos) << rig.err();
  EXPECT_TRUE(rig.violations().empty());
  EXPECT_EQ(rig.doc()["exit_code"], 0);
  EXPECT_EQ(rig.doc()["command"], "monitor");
  // The program and its twin: the model and the real back-end agree with what was seen.
  EXPECT_EQ(replay({rig.record}), 0) << slurp(rig.record);
  EXPECT_EQ(replay({"--target", "model", rig.record}), 0);
  const std::string twin = rig.record.substr(0, rig.record.size() - 4) + ".bin";
  EXPECT_EQ(replay({"--protocol", "vhost", twin}), 0);
  const Trace t = parse_text(slurp(rig.record));
  EXPECT_EQ(t.ops.size(), 11u);  // 4 preamble, SET_OWNER, ADVISE, LISTEN, table, ack, END, EOF
}

TEST(MonitorScriptedFrontend, PerturbedCleanHandshakeIsNoViolationAndNamesTheSeed) {
  Rig rig("spec", {"--perturb", "7"});
  rig.up_to_table();
  EXPECT_EQ(rig.fe.send(mem_table_ack()), 0);
  rig.exchange(send(uapi::kPostcopyEnd, V | uapi::kNeedReply));
  ASSERT_EQ(rig.finish(), 0) << rig.err();
  EXPECT_NE(rig.err().find("perturb seed 7"), std::string::npos);
  EXPECT_EQ(rig.doc()["seed"], 7);
}

// One front-end rule broken per session: the rule is reported, by the front-end's side only.
void expect_only(const Rig& rig, const std::string& want) {
  const auto v = rig.violations();
  EXPECT_NE(std::find(v.begin(), v.end(), want), v.end()) << rig.err();
  for (const std::string& s : v) EXPECT_EQ(s.rfind("front-end ", 0), 0u) << s << "\n" << rig.err();
  EXPECT_NE(rig.err().find("violation: " + want), std::string::npos);
  EXPECT_NE(rig.err().find("# lockstep vhost"), std::string::npos);  // the session so far
}

TEST(MonitorScriptedFrontend, FE1ReplyBitOnARequest) {
  Rig rig;
  rig.fe.send(send(uapi::kGetFeatures, V | uapi::kReply));
  Frontend::Reply r;
  rig.fe.recv(r, 2000);
  EXPECT_EQ(rig.finish(), 1);
  expect_only(rig, "front-end FE1");
}

TEST(MonitorScriptedFrontend, FE2PayloadOnGetFeatures) {
  Rig rig;
  rig.fe.send(send(uapi::kGetFeatures, V, u64_payload(0)));
  Frontend::Reply r;
  rig.fe.recv(r, 2000);
  EXPECT_EQ(rig.finish(), 1);
  expect_only(rig, "front-end FE2");
}

TEST(MonitorScriptedFrontend, FE3FdOnSetOwner) {
  Rig rig;
  rig.preamble();
  rig.exchange(send(uapi::kSetOwner, V | uapi::kNeedReply, {}, {FdSpec{FdKind::Eventfd}}));
  EXPECT_EQ(rig.finish(), 1);
  expect_only(rig, "front-end FE3");
}

// Nine fds cannot belong to any one message (W5): the monitor cannot follow the stream.
TEST(MonitorScriptedFrontend, FE3MoreThanEightFdsEndTheSession) {
  Rig rig;
  rig.fe.send(send(uapi::kSetMemTable, V, {}, std::vector<FdSpec>(9, FdSpec{FdKind::Eventfd})));
  Frontend::Reply r;
  rig.fe.recv(r, 2000);
  EXPECT_EQ(rig.finish(), 1);
  expect_only(rig, "front-end FE3");
  EXPECT_NE(rig.err().find("too-many-fds"), std::string::npos) << rig.err();
}

TEST(MonitorScriptedFrontend, FE4AdviseWithoutPagefault) {
  Rig rig;
  rig.exchange(send(uapi::kGetFeatures));
  Frontend::Reply r;
  rig.fe.send(send(uapi::kPostcopyAdvise));
  rig.fe.recv(r, 2000);
  EXPECT_EQ(rig.finish(), 1);
  expect_only(rig, "front-end FE4");
}

TEST(MonitorScriptedFrontend, FE5ListenWithoutAdvise) {
  Rig rig;
  rig.preamble();
  rig.exchange(send(uapi::kPostcopyListen, V | uapi::kNeedReply));
  EXPECT_EQ(rig.finish(), 1);
  expect_only(rig, "front-end FE5");
}

TEST(MonitorScriptedFrontend, FE6EndWithoutListen) {
  Rig rig;
  rig.preamble();
  rig.exchange(send(uapi::kPostcopyAdvise));
  rig.exchange(send(uapi::kPostcopyEnd, V | uapi::kNeedReply));
  EXPECT_EQ(rig.finish(), 1);
  expect_only(rig, "front-end FE6");
}

TEST(MonitorScriptedFrontend, FE7SomethingElseWhereTheAckIsDue) {
  Rig rig;
  rig.up_to_table();
  rig.fe.send(send(uapi::kGetFeatures));  // the back-end takes it as a bad ack and closes (P6)
  Frontend::Reply r;
  rig.fe.recv(r, 2000);
  EXPECT_EQ(rig.finish(), 1);
  expect_only(rig, "front-end FE7");
}

// FE8's breach: two requests in one write, so the second is read before the first one's reply
// can exist; then both replies.
void send_two_requests_in_one_write(Rig& rig) {
  std::vector<uint8_t> two = wire::frame({uapi::kGetFeatures, V, 0}, {});
  const auto second = wire::frame({uapi::kGetQueueNum, V, 0}, {});
  two.insert(two.end(), second.begin(), second.end());
  rig.fe.send_raw(two);
  Frontend::Reply r;
  rig.fe.recv(r, 2000);
  rig.fe.recv(r, 2000);
}

TEST(MonitorScriptedFrontend, FE8NextRequestBeforeTheReply) {
  Rig rig;
  send_two_requests_in_one_write(rig);
  EXPECT_EQ(rig.finish(), 1);
  expect_only(rig, "front-end FE8");
}

TEST(MonitorScriptedFrontend, FE8IsCaughtUnderPerturbationToo) {
  Rig rig("spec", {"--perturb", "3"});
  send_two_requests_in_one_write(rig);
  EXPECT_EQ(rig.finish(), 1);
  expect_only(rig, "front-end FE8");
  EXPECT_NE(rig.err().find("perturb seed 3"), std::string::npos);
}

// A broken back-end (the daemon's mutant, impl/vhost/mutants.def): replies keep NEED_REPLY.
TEST(MonitorScriptedFrontend, BrokenBackendIsReportedAgainstTheModel) {
  Rig rig("mutant-reply-echoes-need-reply");
  rig.preamble();
  EXPECT_EQ(rig.finish(), 1);
  const auto v = rig.violations();
  ASSERT_FALSE(v.empty()) << rig.err();
  EXPECT_EQ(v.front(), "back-end model:reply.flags") << rig.err();
  for (const std::string& s : v) EXPECT_EQ(s.rfind("back-end ", 0), 0u) << s;
  // The recording shows the divergence again under `lockstep replay` (the spec back-end
  // answers differently from what the notes say was seen).
  EXPECT_EQ(replay({"--target", "model", rig.record}), 1);
}

TEST(MonitorScriptedFrontend, ExitCodesForEnvironmentAndUsage) {
  Scratch s;
  std::string err;
  EXPECT_EQ(
      run({LOCKSTEP_BINARY, "monitor", "--listen", s.path("a"), "--connect", s.path("none")}, &err),
      3);
  EXPECT_NE(err.find("--connect"), std::string::npos) << err;
  EXPECT_EQ(run({LOCKSTEP_BINARY, "monitor", "--listen", s.path("a")}, &err), 2);
  EXPECT_EQ(run({LOCKSTEP_BINARY, "monitor", "--listen", s.path("a"), "--connect", s.path("b"),
                 "--profile", "no-such"},
                &err),
            2);
  EXPECT_EQ(
      run({LOCKSTEP_BINARY, "monitor", "--listen", std::string(200, 'x'), "--connect", s.path("b")},
          &err),
      2);
}

// SIGTERM while it waits for a front-end ends it at once, exit 0, its socket file removed.
TEST(MonitorScriptedFrontend, SigtermBeforeAnyFrontEndEndsIt) {
  Scratch s;
  Process backend({LOCKSTEP_VHOST_BACKEND, "--socket-path", s.path("be.sock")}, s.path("be.out"),
                  s.path("be.err"));
  ASSERT_TRUE(wait_for_text(s.path("be.out"), "ready"));
  Process monitor(
      {LOCKSTEP_BINARY, "monitor", "--listen", s.path("fe.sock"), "--connect", s.path("be.sock")},
      s.path("mon.out"), s.path("mon.err"));
  ASSERT_TRUE(wait_for_text(s.path("mon.err"), "ready"));
  monitor.terminate();
  EXPECT_EQ(monitor.wait(5000), 0) << slurp(s.path("mon.err"));
  EXPECT_FALSE(std::filesystem::exists(s.path("fe.sock")));
  backend.terminate();
}

TEST(MonitorRules, TheTableCitesASectionPerRuleWithDistinctIds) {
  std::set<std::string_view> ids;
  for (const auto& r : monitor::kFrontendRules) {
    EXPECT_TRUE(r.id.starts_with("FE"));
    EXPECT_FALSE(r.section.empty());
    EXPECT_TRUE(ids.insert(r.id).second) << r.id;
  }
  // README "Monitor" embeds the generated table.
  EXPECT_NE(slurp(LOCKSTEP_SOURCE_DIR "/README.md").find(monitor::frontend_rules_markdown()),
            std::string::npos)
      << "README.md's monitor rules table is stale; it should read:\n"
      << monitor::frontend_rules_markdown();
}

}  // namespace
}  // namespace lockstep::vhost
