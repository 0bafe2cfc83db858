// The MSHV encoding is the model: the Z3 transition relation of proofs/mshv/encoding.h,
// evaluated on the projection of concrete states and ops, computes exactly the errno and the
// next state Model::step computes, for every shipped profile and every mutant. Traces: every
// corpus program (the shipped ones and the proofs' counterexamples) and random fuzz inputs
// (mshv::decode_input of random bytes biased towards the interesting values); ops that would
// leave the bounds are skipped. Also: each op has its fixed action kind.
#include <cstdio>
#include <random>

#include "core/bytes.h"
#include "core/mshv/uapi.h"
#include "proofs/mshv/binding.h"
#include "tests/proofs/support.h"

namespace lockstep::mshv::proofs {
namespace {

using lockstep::proofs::Evaluator;
using namespace lockstep::proofs::testing;
using B = tools::MshvBinding;

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

struct Stats {
  size_t steps = 0, beyond = 0;  // ops checked, ops beyond the bounds (outside the abstraction)
  std::map<int, size_t> errs;
};

void replay(const Profile& profile, const Trace& trace, Evaluator<Encoding>& ev, Stats& stats) {
  Model model(profile);
  bool skipped = false;
  for (size_t i = 0; i < trace.ops.size(); ++i) {
    if (!ev.encoding().abstract_op(model.state(), trace.ops[i])) {  // beyond the bounds
      skipped = true;
      ++stats.beyond;
      continue;
    }
    auto step = step_in_lockstep(ev, model, trace.ops[i]);
    ASSERT_TRUE(step) << profile.name << " op " << i << "\n" << print_text(trace);
    // After a skipped op the model no longer runs the trace as written: a later op may name a
    // handle the skipped one would have created, which no real trace does and valid() excludes.
    if (skipped) step->valid = true;
    ++stats.steps;
    ++stats.errs[step->out.err];
    ASSERT_TRUE(same_step<Encoding>(*step))
        << profile.name << " op " << i << " " << Protocol::op_name(trace.ops[i]) << "\n"
        << print_text(trace);
  }
}

class MshvEncoding : public ::testing::TestWithParam<const Profile*> {};

TEST_P(MshvEncoding, IsTheModelOnCorpusPrograms) {
  auto traces = read_programs<B>({"corpus/programs/mshv_device", "corpus/proofs/mshv"});
  ASSERT_GE(traces.size(), 30u);
  const Profile& p = *GetParam();
  Evaluator<Encoding> ev(p);
  expect_same_initial_state<B>(ev, p);
  Stats stats;
  for (const Trace& t : traces) {
    replay(p, t, ev, stats);
    if (HasFatalFailure()) return;
  }
  EXPECT_GE(stats.steps, 100u);
}

TEST_P(MshvEncoding, IsTheModelOnRandomFuzzInputs) {
  const Profile& p = *GetParam();
  Evaluator<Encoding> ev(p);
  Stats stats;
  for (const Trace& t : random_traces(120, 20261121)) {
    replay(p, t, ev, stats);
    if (HasFatalFailure()) return;
  }
  // The random traces reach success and the interesting errnos, not only EBADF.
  EXPECT_GE(stats.steps, 1000u);
  EXPECT_GE(stats.errs.size(), 7u);
  EXPECT_GE(stats.errs[0], 500u);
  std::string seen;
  for (auto [e, n] : stats.errs) seen += " " + std::to_string(e) + ":" + std::to_string(n);
  std::printf("%s: %zu steps, %zu ops beyond the bounds, errno:count%s\n", p.name.c_str(),
              stats.steps, stats.beyond, seen.c_str());
}

INSTANTIATE_TEST_SUITE_P(Profiles, MshvEncoding, ::testing::ValuesIn(every_profile<B>()),
                         ProfileParamName{});

// The action kind of each op is a fixed number, whatever the op's position in the Op variant,
// and concrete_op() turns the action of an op back into that op.
TEST(MshvProofs, EveryOpHasItsFixedKindAndRoundTrips) {
  const Handle p0{kPartition, 0}, d1{kDevice, 1}, f2{kVfioFile, 2};
  SetAttr set;
  set.dev = d1;
  set.fd = FdArg{FdArg::Kind::Handle, f2, -1};
  HasAttr has;
  has.dev = d1;
  has.arg = Mem::ReadOnly;
  GetAttr get;
  get.dev = d1;
  get.fd = FdArg{FdArg::Kind::Unmapped, {}, -1};
  const std::vector<std::pair<Op, unsigned>> ops = {
      {OpenPartition{}, 0},
      {OpenFile{false}, 1},
      {CreateDevice{p0, 4, 1, Mem::Unmapped}, 2},
      {set, 3},
      {has, 4},
      {get, 5},
      {RawIoctl{f2, 0xB801}, 6},
      {Close{d1}, 7},
      {FailNext{Site::CopyToUser}, 8},
  };
  EXPECT_EQ(ops.size(), std::variant_size_v<Op>);
  EXPECT_EQ(ops.size(), kOpKinds);
  const Profile& profile = *find_profile("mshv-v1");
  Evaluator<Encoding> ev(profile);
  State roomy;  // every handle below exists, none beyond the bounds is created
  roomy.counts = HandleCounts{1, 2, 3, 0};
  for (const auto& [op, kind] : ops) {
    SCOPED_TRACE(Protocol::op_name(op));
    EXPECT_EQ(static_cast<unsigned>(op_kind(op)), kind);
    auto action = ev.encoding().abstract_op(roomy, op);
    ASSERT_TRUE(action);
    EXPECT_EQ((*action)[0], kind);
    EXPECT_TRUE(ev.concrete_op(*action) == op);
  }
}

}  // namespace
}  // namespace lockstep::mshv::proofs
