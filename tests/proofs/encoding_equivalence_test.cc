// Same machine, demonstrably: the Z3 transition relation of proofs/mshv/encoding.h, evaluated
// on concrete (state, op) pairs, computes exactly the errno and the next state Model::step
// computes, for every shipped profile and every mutant. Traces: every corpus program (the
// shipped ones and the proofs' counterexamples) and random fuzz inputs (mshv::decode_input of
// random bytes biased towards the interesting values), cut where they leave the bounds.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>

#include "core/bytes.h"
#include "core/mshv/codec.h"
#include "core/mshv/uapi.h"
#include "model/mshv/model.h"
#include "proofs/mshv/prove.h"

namespace lockstep::mshv::proofs {
namespace {

namespace fs = std::filesystem;

std::vector<Trace> programs() {
  std::vector<fs::path> files;
  for (const char* dir : {"corpus/programs/mshv_device", "corpus/proofs/mshv"}) {
    fs::path d = fs::path(LOCKSTEP_SOURCE_DIR) / dir;
    if (!fs::exists(d)) continue;
    for (const auto& e : fs::directory_iterator(d))
      if (e.path().extension() == ".txt") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<Trace> out;
  for (const auto& path : files) {
    std::ifstream in(path);
    out.push_back(parse_text(std::string{std::istreambuf_iterator<char>(in), {}}));
  }
  return out;
}

// Random bytes shaped like the fuzz input's fields (so that creates with the right type,
// the VFIO group and ADD/DEL happen often), decoded by mshv::decode_input.
std::vector<Trace> random_traces(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](std::initializer_list<uint32_t> v) {
    return rng() % 5 == 0 ? static_cast<uint32_t>(rng()) : *(v.begin() + rng() % v.size());
  };
  const uint32_t requests[] = {uapi::kCreateDevice,     uapi::kSetDeviceAttr,
                               uapi::kHasDeviceAttr,    uapi::kKvmCreateDevice,
                               uapi::kKvmSetDeviceAttr, uapi::kKvmHasDeviceAttr,
                               uapi::kKvmGetDeviceAttr, 0};
  std::vector<Trace> out;
  for (int i = 0; i < n; ++i) {
    ByteWriter w;
    w.u8(static_cast<uint8_t>(rng()));
    // kind bits: 0 partition, 1 device, 2 VFIO file, 3 plain file; mostly the one that fits
    auto handle = [&](uint32_t kind) {
      if (rng() % 4 == 0) kind = rng() % 4;
      w.u8(static_cast<uint8_t>(kind | ((rng() % 3) << 2)));
    };
    const uint8_t weighted[] = {0, 0, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 5, 6, 7, 7, 8};
    size_t ops = 8 + rng() % 32;
    for (size_t k = 0; k < ops; ++k) {
      uint8_t op = weighted[rng() % sizeof(weighted)];
      w.u8(op);
      switch (op) {
        case 1:
          w.u8(static_cast<uint8_t>(rng() % 3 == 0));
          break;
        case 2:
          handle(0);
          w.uint(rng() % 2 ? 0u : pick({4, 4, 0, 1}));
          w.uint(rng() % 2 ? 0u : pick({0, 1, 2, 3}));
          w.u8(static_cast<uint8_t>(rng() % 5 == 0 ? 1 + rng() % 2 : 0));
          break;
        case 3:
        case 4:
        case 5:
          handle(1);
          w.uint(static_cast<uint32_t>(rng() % 2));
          w.uint(pick({1, 1, 1, 0, 2}));
          w.uint(static_cast<uint64_t>(pick({1, 1, 2, 2, 0, 3})));
          {
            uint8_t fk = static_cast<uint8_t>(rng() % 6 == 0 ? 1 + rng() % 2 : 0);
            w.u8(fk);
            if (fk == 0) handle(2);
            if (fk == 1) w.uint(static_cast<uint32_t>(rng()));
          }
          w.u8(static_cast<uint8_t>(rng() % 6 == 0 ? 1 + rng() % 2 : 0));
          break;
        case 6:
          handle(rng() % 2);
          w.uint(requests[rng() % 8]);
          break;
        case 7:
          handle(rng() % 4);
          break;
        case 8:
          w.u8(static_cast<uint8_t>(rng() % 3));
          break;
      }
    }
    out.push_back(decode_input(w.take(), 40));
  }
  return out;
}

bool fits(const HandleCounts& c) {
  return c.partitions <= kPartitions && c.devices <= kDevices && c.vfio_files <= kVfioFiles &&
         c.plain_files <= kPlainFiles;
}

struct Stats {
  size_t steps = 0;
  std::map<int, size_t> errs;
};

void replay(const Profile& profile, const Trace& trace, Evaluator& ev, Stats& stats) {
  Model model(profile);
  const auto ghosts = Encoding::ghost_positions();
  auto strip = [&](std::vector<uint64_t> v) {
    for (size_t g : ghosts) v[g] = 0;
    return v;
  };
  ASSERT_EQ(strip(ev.state()), strip(ev.encode(model.state())));
  for (size_t i = 0; i < trace.ops.size(); ++i) {
    HandleCounts next = model.state().counts;
    next.create(trace.ops[i]);
    if (!fits(next)) continue;  // beyond the encoding's bounds: skipped
    int want = model.step(trace.ops[i]).err;
    int got = ev.step(trace.ops[i]);
    ++stats.steps;
    ++stats.errs[want];
    ASSERT_EQ(got, want) << profile.name << " op " << i << " " << Protocol::op_name(trace.ops[i])
                         << "\n"
                         << print_text(trace);
    ASSERT_EQ(strip(ev.state()), strip(ev.encode(model.state())))
        << profile.name << " op " << i << " " << Protocol::op_name(trace.ops[i]) << "\n"
        << print_text(trace);
  }
}

std::vector<const Profile*> every_profile() {
  auto v = shipped_profiles();
  for (auto* p : mutant_profiles()) v.push_back(p);
  return v;
}

TEST(EncodingEquivalence, CorpusProgramsUnderEveryProfile) {
  auto traces = programs();
  ASSERT_GE(traces.size(), 30u);
  for (const Profile* p : every_profile()) {
    Stats stats;
    Evaluator ev(*p);
    for (const Trace& t : traces) {
      ev.reset();
      replay(*p, t, ev, stats);
      if (HasFatalFailure()) return;
    }
    EXPECT_GE(stats.steps, 100u) << p->name;
  }
}

TEST(EncodingEquivalence, RandomFuzzInputsUnderEveryProfile) {
  auto traces = random_traces(120, 20261121);
  for (const Profile* p : every_profile()) {
    Stats stats;
    Evaluator ev(*p);
    for (const Trace& t : traces) {
      ev.reset();
      replay(*p, t, ev, stats);
      if (HasFatalFailure()) return;
    }
    // The random traces reach success and the interesting errnos, not only EBADF.
    EXPECT_GE(stats.steps, 1000u) << p->name;
    EXPECT_GE(stats.errs.size(), 7u) << p->name;
    EXPECT_GE(stats.errs[0], 500u) << p->name;
    std::string seen;
    for (auto [e, n] : stats.errs) seen += " " + std::to_string(e) + ":" + std::to_string(n);
    std::printf("%s: %zu steps, errno:count%s\n", p->name.c_str(), stats.steps, seen.c_str());
  }
}

}  // namespace
}  // namespace lockstep::mshv::proofs
