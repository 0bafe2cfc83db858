// Back-end message rate, ours against DPDK 22.11's librte_vhost, in one run: the same front-end
// (impl/vhost Frontend over a UNIX socket path) sends the same stream, GET_FEATURES and
// GET_PROTOCOL_FEATURES alternating, to two back-end processes started the same way
// (peers/dpdk DpdkPeer): dpdk_vhost_peer (the project's DPDK peer) and lockstep-vhost-backend at
// its default log level (info: no write per message). Two shapes of the stream:
//   ping-pong  one request in flight: send, read the reply, send the next;
//   window 16  up to 16 requests in flight, one sendmsg per request, replies read as they come.
// Prints each rate (messages answered per second) and the ratio ours / DPDK per shape.
// Exits 3 (and says why) when DPDK or the daemon cannot run here.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "core/vhost/uapi.h"
#include "impl/vhost/frontend.h"
#include "peers/dpdk/dpdk_target.h"

namespace {

using lockstep::peers::dpdk::DpdkPeer;
using lockstep::vhost::Frontend;
namespace uapi = lockstep::vhost::uapi;

std::unique_ptr<DpdkPeer> g_dpdk, g_ours;

uint32_t request(size_t i) {
  return i % 2 ? uapi::kGetProtocolFeatures : uapi::kGetFeatures;
}

// Reads one reply; false (and the benchmark stopped) on anything else.
bool answered(benchmark::State& state, Frontend& fe) {
  Frontend::Reply r;
  if (fe.recv(r, 5000) == Frontend::Recv::kReply) return true;
  state.SkipWithError("no reply within 5 s");
  return false;
}

void Messages(benchmark::State& state, DpdkPeer* peer, size_t window) {
  Frontend fe = Frontend::connect(peer->socket_path());
  if (!fe.connected()) return state.SkipWithError("cannot connect");
  size_t sent = 0, received = 0;
  for (auto _ : state) {
    while (sent - received < window) fe.send(request(sent++), uapi::kVersion, {});
    if (!answered(state, fe)) return;
    ++received;
  }
  while (received < sent && answered(state, fe)) ++received;
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_Dpdk_PingPong(benchmark::State& s) {
  Messages(s, g_dpdk.get(), 1);
}
void BM_Ours_PingPong(benchmark::State& s) {
  Messages(s, g_ours.get(), 1);
}
void BM_Dpdk_Window16(benchmark::State& s) {
  Messages(s, g_dpdk.get(), 16);
}
void BM_Ours_Window16(benchmark::State& s) {
  Messages(s, g_ours.get(), 16);
}

class Rates : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs)
      if (run.counters.count("items_per_second"))
        rate[run.benchmark_name()] = run.counters.at("items_per_second");
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> rate;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    g_dpdk = std::make_unique<DpdkPeer>();
    g_ours = std::make_unique<DpdkPeer>(LOCKSTEP_VHOST_BACKEND_PATH, std::vector<std::string>{},
                                        /*eal=*/false);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_vhost_dpdk: cannot run here: %s\n", e.what());
    return 3;
  }
  using Fn = void (*)(benchmark::State&);
  const std::pair<const char*, Fn> all[] = {{"BM_Dpdk_PingPong", BM_Dpdk_PingPong},
                                            {"BM_Ours_PingPong", BM_Ours_PingPong},
                                            {"BM_Dpdk_Window16", BM_Dpdk_Window16},
                                            {"BM_Ours_Window16", BM_Ours_Window16}};
  for (const auto& [name, fn] : all)
    benchmark::RegisterBenchmark(name, fn)->MinTime(3.0)->UseRealTime();
  benchmark::Initialize(&argc, argv);
  Rates rates;
  benchmark::RunSpecifiedBenchmarks(&rates);
  for (const char* shape : {"PingPong", "Window16"}) {
    const double dpdk = rates.rate[std::string("BM_Dpdk_") + shape + "/min_time:3.000/real_time"];
    const double ours = rates.rate[std::string("BM_Ours_") + shape + "/min_time:3.000/real_time"];
    if (dpdk > 0 && ours > 0)
      std::printf("%s: lockstep-vhost-backend %.0f msg/s, DPDK 22.11 %.0f msg/s, ratio %.2f\n",
                  shape, ours, dpdk, ours / dpdk);
  }
  g_dpdk.reset();
  g_ours.reset();
  return 0;
}
