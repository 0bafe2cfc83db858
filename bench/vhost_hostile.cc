// vhost_hostile: lockstep-vhost-backend under hostile local load (UNIX socket only, bounded).
// Starts the daemon, then runs, one after the other:
//   churn       N connections opened and closed (every 4th asks GET_FEATURES first);
//   stalled     M connections held open at once, each stopped mid-handshake (half a header,
//               a header and part of a payload with an fd, or an unread reply and half a
//               header), then all closed together;
//   fd floods   for every request id 0..kMaxRequest+2, a header with 253 fds (SCM_MAX_FD)
//               attached; the daemon must close the connection (rule W5);
//   frames      oversized headers (4097, 0xffffffff), 1 MiB of garbage in one write, and
//               GET_FEATURES / GET_PROTOCOL_FEATURES sent one byte or a few bytes at a time,
//               which must still be answered.
// Throughout, a probe client connects every 10 ms, asks GET_FEATURES and times the answer;
// every probe must be answered within --max-probe-ms. --seconds repeats the rounds (the soak).
// Afterwards (up to --settle-ms) the daemon's fd count (/proc/PID/fd) must be back at its baseline
// and its VmRSS within
// --rss-tolerance of its baseline. Prints the figures; exit 0 pass, 1 a check failed, 2 usage,
// 3 the daemon could not be started.
//
// --inject stall|hold breaks the run on purpose (the negative ctests): `stall` stops the daemon
// (SIGSTOP) for 250 ms during the churn, `hold` keeps the stalled connections open past the
// settling period.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/vhost/uapi.h"
#include "impl/vhost/frontend.h"
#include "impl/vhost/wire.h"

namespace {

using namespace lockstep::vhost;
using Clock = std::chrono::steady_clock;
constexpr uint32_t V = uapi::kVersion;
constexpr size_t kScmMaxFd = 253;

struct Options {
  std::string daemon;
  int churn = 10000, stalled = 1000, flood_rounds = 2, fragmented = 50;
  double max_probe_ms = 100, rss_tolerance = 0.10;
  int settle_ms = 5000;
  double seconds = 0, pause_s = 0;  // soak: rounds repeated until `seconds`, `pause_s` apart
  std::string inject;
};

// SIGINT/SIGTERM end the rounds after the current one (tools/soak.py stops the load this way
// once the fuzzers have had their CPU time); the checks and the report follow as usual.
volatile sig_atomic_t g_stop = 0;
void request_stop(int) {
  g_stop = 1;
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

int count_fds(pid_t pid) {
  DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (!d) return -1;
  int n = 0;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}

long rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  long value = -1;
  while (in >> key)
    if (key == "VmRSS:" && in >> value) return value;
  return -1;
}

// The daemon under test, on a socket in a fresh directory; stopped with SIGTERM.
struct Daemon {
  pid_t pid = -1;
  std::string dir, path;
  bool start(const Options& o) {
    char t[] = "/tmp/lockstep-hostile-XXXXXX";
    if (!::mkdtemp(t)) return false;
    dir = t;
    path = dir + "/vhost.sock";
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return false;
    pid = ::fork();
    if (pid == 0) {
      ::dup2(out[1], 1);
      const std::string log = dir + "/log", max = std::to_string(o.stalled + 64);
      ::execl(o.daemon.c_str(), o.daemon.c_str(), "--socket-path", path.c_str(), "--log",
              log.c_str(), "--max-connections", max.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    char buf[16] = {};
    pollfd p{out[0], POLLIN, 0};
    const bool ready = ::poll(&p, 1, 10000) == 1 && ::read(out[0], buf, sizeof buf - 1) > 0;
    ::close(out[0]);
    return ready && std::string(buf) == "ready\n";
  }
  int stop() {
    if (pid <= 0) return -1;
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    std::filesystem::remove_all(dir);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  ~Daemon() { stop(); }
};

// GET_FEATURES on a fresh connection; true when answered correctly within `timeout_ms`.
// `awaiting(true)` runs once the request is sent, `awaiting(false)` once the wait for the reply
// is over: the span in which the answer is the daemon's work.
template <typename Awaiting>
bool ask_features(const std::string& path, int timeout_ms, Awaiting&& awaiting) {
  Frontend fe = Frontend::connect(path);
  Frontend::Reply r;
  if (!fe.connected() || fe.send(uapi::kGetFeatures, V, {}) != 0) return false;
  awaiting(true);
  const Frontend::Recv got = fe.recv(r, timeout_ms);
  awaiting(false);
  return got == Frontend::Recv::kReply && r.u64() == uapi::kOfferedFeatures;
}

bool ask_features(const std::string& path, int timeout_ms) {
  return ask_features(path, timeout_ms, [](bool) {});
}

// Time a thread spent runnable but waiting for a CPU, in ms: the second field of
// /proc/.../schedstat (Documentation/scheduler/sched-stats.rst, "run_delay"); summed over a
// process's threads. 0 where schedstat is not available.
double runqueue_wait_ms(const std::string& task_dir) {
  unsigned long long on_cpu = 0, waited = 0;
  std::ifstream in(task_dir + "/schedstat");
  return in >> on_cpu >> waited ? waited / 1e6 : 0;
}

double process_runqueue_wait_ms(pid_t pid) {
  double sum = 0;
  std::error_code ec;
  for (const auto& t :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec))
    sum += runqueue_wait_ms(t.path());
  return sum;
}

// A probe over the limit, with what it waited for a CPU: on a shared machine a slow answer
// can be the scheduler's, not the daemon's. The two waits are disjoint spans of the probe's
// critical path: the probe's thread is runnable only while connecting and sending or once the
// reply has arrived, and the daemon's wait is taken only while the request is awaiting its
// reply. `own_ms` is the latency less both: what the answer would have taken with a CPU each.
struct SlowProbe {
  double at_s, ms, daemon_wait_ms, probe_wait_ms;
  int round;
  const char* phase;
  double own_ms() const { return std::max(0.0, ms - daemon_wait_ms - probe_wait_ms); }
};

// The probe: every 10 ms until stopped, one timed GET_FEATURES; also the peak fd count, the
// slowest answer of the current round and every answer over the limit.
class Probe {
 public:
  Probe(const std::string& path, pid_t pid, double limit_ms)
      : path_(path), pid_(pid), limit_ms_(limit_ms) {
    thread_ = std::thread([this] { run(); });
  }
  ~Probe() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Where the load is, for the slow probes' report; set by the load's thread.
  void at(int round, const char* phase) {
    round_ = round;
    phase_ = phase;
  }
  double take_round_max() { return round_max_.exchange(0); }
  std::vector<double> latencies;  // ms; a failed probe counts as 1000
  std::vector<SlowProbe> slow;
  int failures = 0, peak_fds = 0;

 private:
  void run() {
    const auto start = Clock::now();
    while (!stop_) {
      double daemon_before = 0, daemon_wait = 0;
      const double probe0 = runqueue_wait_ms("/proc/thread-self");
      const auto t = Clock::now();
      const bool ok = ask_features(path_, 1000, [&](bool sent) {
        const double waited = process_runqueue_wait_ms(pid_);
        (sent ? daemon_before : daemon_wait) = waited - (sent ? 0 : daemon_before);
      });
      const double ms = ok ? ms_since(t) : 1000.0;
      latencies.push_back(ms);
      failures += !ok;
      if (ms > round_max_) round_max_ = ms;
      if (ms > limit_ms_)
        slow.push_back({ms_since(start) / 1000, ms, daemon_wait,
                        runqueue_wait_ms("/proc/thread-self") - probe0, round_, phase_});
      peak_fds = std::max(peak_fds, count_fds(pid_));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::string path_;
  pid_t pid_;
  double limit_ms_;
  std::atomic<bool> stop_{false};
  std::atomic<double> round_max_{0};
  std::atomic<int> round_{1};
  std::atomic<const char*> phase_{"start"};
  std::thread thread_;
};

struct Findings {
  std::vector<std::string> failed;
  void check(bool ok, const std::string& what) {
    if (!ok) failed.push_back(what);
  }
};

void churn(const Options& o, const Daemon& d, Findings& f) {
  int wrong = 0;
  for (int i = 0; i < o.churn; ++i) {
    if (o.inject == "stall" && i == o.churn / 2) {
      ::kill(d.pid, SIGSTOP);
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      ::kill(d.pid, SIGCONT);
    }
    if (i % 4 == 0) {
      wrong += !ask_features(d.path, 2000);
    } else {
      Frontend fe = Frontend::connect(d.path);
      wrong += !fe.connected();
    }
  }
  f.check(wrong == 0, "churn: " + std::to_string(wrong) + " connections not served");
}

// Each connection stops somewhere inside the handshake; returned open.
std::vector<Frontend> stall(const Options& o, const Daemon& d, Findings& f) {
  std::vector<Frontend> held;
  const std::vector<uint8_t> table = mem_table_payload(regions(1));
  const auto header = wire::frame({uapi::kSetMemTable, V, static_cast<uint32_t>(table.size())}, {});
  const FdSpec memfd{FdKind::Memfd, 0x1000};
  int wrong = 0;
  for (int i = 0; i < o.stalled; ++i) {
    Frontend fe = Frontend::connect(d.path);
    if (!fe.connected()) {
      ++wrong;
      continue;
    }
    const std::span<const uint8_t> h(header);
    int rc = 0;
    switch (i % 3) {
      case 0:  // half a header
        rc = fe.send_raw(h.first(6));
        break;
      case 1: {  // the header and half the payload, the region fd with them
        std::vector<uint8_t> bytes(header);
        bytes.insert(bytes.end(), table.begin(), table.begin() + table.size() / 2);
        rc = fe.send_raw(bytes, std::span<const FdSpec>(&memfd, 1));
        break;
      }
      default:  // a reply never read, then half a header
        rc = fe.send(uapi::kGetFeatures, V, {});
        if (rc == 0) rc = fe.send_raw(h.first(6));
    }
    wrong += rc != 0;
    held.push_back(std::move(fe));
  }
  f.check(wrong == 0, "stalled: " + std::to_string(wrong) + " connections failed to start");
  return held;
}

void flood(const Options& o, const Daemon& d, Findings& f) {
  std::vector<int> fds;
  std::vector<UniqueFd> owned;
  for (size_t i = 0; i < kScmMaxFd; ++i) {
    owned.push_back(make_fd({FdKind::Eventfd, 0}));
    fds.push_back(owned.back().get());
  }
  int kept_open = 0, not_sent = 0, sent = 0;
  for (int round = 0; round < o.flood_rounds; ++round)
    for (uint32_t request = 0; request <= uapi::kSetDeviceStateFd + 2; ++request) {
      Frontend fe = Frontend::connect(d.path);
      const auto bytes = wire::frame({request, V | uapi::kNeedReply, 0}, {});
      Frontend::Reply r;
      if (fe.send_raw_fds(bytes, fds) != 0) {
        ++not_sent;
        continue;
      }
      ++sent;
      kept_open += fe.recv(r, 2000) != Frontend::Recv::kClosed;
    }
  std::printf("fd-flood: %d messages with %zu fds each\n", sent, fds.size());
  f.check(not_sent == 0, "fd flood: " + std::to_string(not_sent) + " floods could not be sent");
  f.check(kept_open == 0, "fd flood: " + std::to_string(kept_open) +
                              " connections with 253 fds were not closed (rule W5)");
}

// Oversized frames are closed; fragmented ones are answered.
void frames(const Options& o, const Daemon& d, Findings& f) {
  int wrong = 0;
  for (uint32_t size : {uapi::kMaxPayload + 1, 0xffffffffu}) {
    Frontend fe = Frontend::connect(d.path);
    Frontend::Reply r;
    fe.send_raw(wire::frame({uapi::kSetMemTable, V, size}, {}));
    wrong += fe.recv(r, 2000) != Frontend::Recv::kClosed;
  }
  {
    Frontend fe = Frontend::connect(d.path);
    std::vector<uint8_t> junk(1 << 20);
    for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<uint8_t>(i * 131 + 7);
    fe.send_raw(junk);  // refused at the first header; the rest meets a closed socket
    Frontend::Reply r;
    wrong += fe.recv(r, 2000) != Frontend::Recv::kClosed;
  }
  for (int i = 0; i < o.fragmented; ++i) {
    Frontend fe = Frontend::connect(d.path);
    auto bytes = wire::frame({uapi::kGetFeatures, V, 0}, {});
    const auto second = wire::frame({uapi::kGetProtocolFeatures, V, 0}, {});
    bytes.insert(bytes.end(), second.begin(), second.end());
    const size_t step = i % 2 ? 1 : 5;  // one byte at a time, or 5 (splitting both headers)
    for (size_t off = 0; off < bytes.size(); off += step) {
      fe.send_raw(std::span<const uint8_t>(bytes).subspan(off, std::min(step, bytes.size() - off)));
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    Frontend::Reply a, b;
    wrong += fe.recv(a, 2000) != Frontend::Recv::kReply || a.u64() != uapi::kOfferedFeatures ||
             fe.recv(b, 2000) != Frontend::Recv::kReply ||
             b.u64() != uapi::kOfferedProtocolFeatures;
  }
  f.check(wrong == 0, "frames: " + std::to_string(wrong) + " oversized/fragmented cases wrong");
}

int parse(int argc, char** argv, Options& o) {
  CLI::App app{"lockstep-vhost-backend under hostile local load"};
  app.add_option("daemon", o.daemon, "the lockstep-vhost-backend binary")->required();
  app.add_option("--churn", o.churn, "connections opened and closed")->capture_default_str();
  app.add_option("--stalled", o.stalled, "connections held mid-handshake at once")
      ->capture_default_str();
  app.add_option("--flood-rounds", o.flood_rounds, "rounds over every request id")
      ->capture_default_str();
  app.add_option("--fragmented", o.fragmented, "connections sending byte-wise")
      ->capture_default_str();
  app.add_option("--max-probe-ms", o.max_probe_ms)->capture_default_str();
  app.add_option("--rss-tolerance", o.rss_tolerance)->capture_default_str();
  app.add_option("--settle-ms", o.settle_ms)->capture_default_str();
  app.add_option("--seconds", o.seconds,
                 "repeat the rounds against the same daemon until this much time has passed "
                 "(tools/soak.sh); 0 runs one round")
      ->capture_default_str();
  app.add_option("--pause", o.pause_s, "seconds between rounds, the probe still running")
      ->capture_default_str();
  app.add_option("--inject", o.inject, "break the run on purpose (negative tests)")
      ->check(CLI::IsMember({"stall", "hold"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return -1;
}

struct Baseline {
  int fds;
  long rss;
};

// Waits (up to the settling time) for the fd count and RSS to come back; the final figures.
Baseline settle(const Options& o, pid_t pid, const Baseline& base) {
  const auto t = Clock::now();
  Baseline now{count_fds(pid), rss_kb(pid)};
  while (ms_since(t) < o.settle_ms &&
         (now.fds != base.fds || now.rss > base.rss * (1 + o.rss_tolerance))) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    now = {count_fds(pid), rss_kb(pid)};
  }
  return now;
}

int report(const Options& o, Probe& probe, const Baseline& base, const Baseline& end, long peak_rss,
           double wall_s, Findings& f) {
  std::vector<double> l = probe.latencies;
  std::sort(l.begin(), l.end());
  const double median = l.empty() ? 0 : l[l.size() / 2], max = l.empty() ? 0 : l.back();
  const double p99 = l.empty() ? 0 : l[std::min(l.size() - 1, l.size() * 99 / 100)];
  std::printf("probes: %zu, failed %d; latency ms: median %.2f, p99 %.2f, max %.2f (limit %.0f)\n",
              l.size(), probe.failures, median, p99, max, o.max_probe_ms);
  std::printf("fds: baseline %d, peak %d, after %d\n", base.fds, probe.peak_fds, end.fds);
  std::printf("VmRSS kB: baseline %ld, peak %ld, after %ld (%+.1f %%)\n", base.rss, peak_rss,
              end.rss, 100.0 * (end.rss - base.rss) / base.rss);
  std::printf("wall: %.1f s\n", wall_s);
  for (const SlowProbe& p : probe.slow)
    std::printf(
        "slow probe at %.1f s (round %d, %s): %.2f ms; waited for a CPU: daemon %.2f ms, "
        "probe %.2f ms; without those waits %.2f ms\n",
        p.at_s, p.round, p.phase, p.ms, p.daemon_wait_ms, p.probe_wait_ms, p.own_ms());
  f.check(!l.empty() && probe.failures == 0 && max <= o.max_probe_ms,
          "probe latency: max " + std::to_string(max) + " ms, " + std::to_string(probe.failures) +
              " failed");
  f.check(end.fds == base.fds,
          "fd count: " + std::to_string(end.fds) + " after, baseline " + std::to_string(base.fds));
  f.check(std::abs(end.rss - base.rss) <= base.rss * o.rss_tolerance,
          "RSS: " + std::to_string(end.rss) + " kB after, baseline " + std::to_string(base.rss));
  for (const std::string& s : f.failed) std::printf("FAIL %s\n", s.c_str());
  std::printf("%s\n", f.failed.empty() ? "PASS" : "FAIL");
  return f.failed.empty() ? 0 : 1;
}

// The four phases once; returns the stalled connections when --inject hold keeps them.
std::vector<Frontend> one_round(const Options& o, const Daemon& d, Findings& f, long& peak_rss,
                                Probe& probe, int round) {
  const auto phase = [&](const char* name, auto&& fn) {
    probe.at(round, name);
    const auto t = Clock::now();
    fn();
    peak_rss = std::max(peak_rss, rss_kb(d.pid));
    std::printf("%-10s %.2f s\n", name, ms_since(t) / 1000);
  };
  std::vector<Frontend> held;
  phase("churn", [&] { churn(o, d, f); });
  phase("stalled", [&] {
    held = stall(o, d, f);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    peak_rss = std::max(peak_rss, rss_kb(d.pid));
    if (o.inject != "hold") held.clear();
  });
  phase("fd-flood", [&] { flood(o, d, f); });
  phase("frames", [&] { frames(o, d, f); });
  return held;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (int rc = parse(argc, argv, o); rc >= 0) return rc;
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGINT, request_stop);
  ::signal(SIGTERM, request_stop);
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;  // the stalled connections and the flood's fds are ours too
  ::setrlimit(RLIMIT_NOFILE, &rl);
  Daemon d;
  if (!d.start(o)) {
    std::fprintf(stderr, "vhost_hostile: %s did not start\n", o.daemon.c_str());
    return 3;
  }
  for (int i = 0; i < 20; ++i) ask_features(d.path, 2000);  // warm up, then the baseline
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const Baseline base{count_fds(d.pid), rss_kb(d.pid)};
  const auto start = Clock::now();
  Findings f;
  long peak_rss = base.rss;
  Probe probe(d.path, d.pid, o.max_probe_ms);
  std::vector<Frontend> held;
  for (int round = 1;; ++round) {
    held = one_round(o, d, f, peak_rss, probe, round);
    // One line per round, once settled: the soak's fd and RSS curve (tools/soak.py reads it).
    const Baseline now = settle(o, d.pid, base);
    std::printf("round %d at %.1f s: fds %d, VmRSS %ld kB, probe max %.2f ms\n", round,
                ms_since(start) / 1000, now.fds, now.rss, probe.take_round_max());
    probe.at(round, "pause");
    std::fflush(stdout);
    if (g_stop || ms_since(start) / 1000 + o.pause_s >= o.seconds) break;
    for (const auto t = Clock::now(); !g_stop && ms_since(t) < o.pause_s * 1000;)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (g_stop) break;
  }
  probe.stop();
  const double wall_s = ms_since(start) / 1000;
  const Baseline end = settle(o, d.pid, base);
  const int rc = report(o, probe, base, end, peak_rss, wall_s, f);
  held.clear();
  const int daemon_exit = d.stop();
  if (daemon_exit != 0) {
    std::printf("FAIL the daemon exited %d on SIGTERM\n", daemon_exit);
    return 1;
  }
  return rc;
}
