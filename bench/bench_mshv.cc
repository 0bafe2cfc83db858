// MSHV figures (README "Figures"): differential exec/s — model + real device layer + the
// fd-accounting oracle, exactly what fuzz_mshv_device runs per input — over random inputs of at
// most 32 ops, and the same traces issued as bare syscalls (one per op, see Bare). Prints both
// and their ratio in one run.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <vector>

#include "bench/ratio_main.h"
#include "core/mshv/codec.h"
#include "core/mshv/uapi.h"
#include "core/run.h"
#include "impl/mshv/target.h"
#include "model/mshv/model.h"

namespace {

using lockstep::run;
using namespace lockstep::mshv;

const std::vector<Trace>& traces() {
  static const std::vector<Trace> all = lockstep::bench::random_traces(
      [](std::span<const uint8_t> bytes, size_t max_ops) { return decode_input(bytes, max_ops); });
  return all;
}

void BM_Differential(benchmark::State& state) {
  size_t i = 0, ops = 0;
  for (auto _ : state) {
    const Trace& trace = traces()[i++ % traces().size()];
    Model model(*find_profile(trace.profile));
    ImplTarget target(trace.profile);
    auto verdict = run<Protocol>(trace.ops, model, target, {.check_fds = true, .record = false});
    if (!verdict.ok()) state.SkipWithError(verdict.divergence->signature.c_str());
    ops += trace.ops.size();
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["ops/trace"] = static_cast<double>(ops) / state.iterations();
}

// The floor: what a program driving the real /dev/mshv would issue, one syscall per op —
// memfd_create where the op installs an fd, an ioctl (on a memfd: ENOTTY) for every ioctl op,
// close for close — with no model, no device-layer bookkeeping and no fd oracle.
struct Bare {
  std::vector<int> fds;
  int fd_at(size_t i) const { return fds.empty() ? -1 : fds[i % fds.size()]; }
  void step(const Op& op, size_t n) {
    if (std::holds_alternative<OpenPartition>(op) || std::holds_alternative<OpenFile>(op) ||
        std::holds_alternative<CreateDevice>(op)) {
      fds.push_back(::memfd_create("bare", MFD_CLOEXEC));
    } else if (std::holds_alternative<Close>(op)) {
      if (!fds.empty()) ::close(fds.back()), fds.pop_back();
    } else if (!std::holds_alternative<FailNext>(op)) {
      ::ioctl(fd_at(n), uapi::kSetDeviceAttr, nullptr);
    }
  }
  void finish() {
    for (int fd : fds) ::close(fd);
    fds.clear();
  }
};

void BM_BareSyscalls(benchmark::State& state) {
  size_t i = 0;
  for (auto _ : state) {
    const Trace& trace = traces()[i++ % traces().size()];
    Bare bare;
    for (size_t n = 0; n < trace.ops.size(); ++n) bare.step(trace.ops[n], n);
    bare.finish();
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_Differential)->MinTime(3.0);
BENCHMARK(BM_BareSyscalls)->MinTime(3.0);

}  // namespace

int main(int argc, char** argv) {
  return lockstep::bench::ratio_main(argc, argv, "mshv");
}
