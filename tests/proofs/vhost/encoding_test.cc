// The vhost encoding is the model: on every (state, op) pair of the corpus programs under
// corpus/programs/vhost_postcopy/ and of random traces from vhost::decode_input, the Z3
// transition evaluated on the abstract projection of the state and the op's abstract action
// equals the projection of Model::step's result (state, reply shape, closed), profile by
// profile (shipped + mutants). Ops the abstraction cannot represent (partial or several
// messages in one write, lying sizes, ring fds at index >= 2, a state holding a partial
// message) are counted and reported, and must stay a small fraction. Also: requests and
// actions map to their fixed kinds.
#include <cstdio>
#include <cstdlib>
#include <random>

#include "core/vhost/uapi.h"
#include "proofs/vhost/binding.h"
#include "tests/proofs/support.h"

namespace lockstep::vhost::proofs {
namespace {

using lockstep::proofs::Evaluator;
using namespace lockstep::proofs::testing;
using B = tools::VhostBinding;

struct Counts {
  size_t ops = 0, checked = 0, unrepresentable = 0;
};

std::vector<Trace> random_traces(size_t count) {
  std::mt19937 rng(20181023);
  std::vector<Trace> out;
  for (size_t i = 0; i < count; ++i) {
    std::vector<uint8_t> bytes(64 + rng() % 448);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    bytes[0] |= (i % 2) ? 4 : 0;  // half of them start with the negotiation preamble
    out.push_back(decode_input(bytes));
  }
  return out;
}

void run_trace(const Profile& p, const Trace& t, Evaluator<Encoding>& ev, Counts& c) {
  Model model(p);
  for (size_t i = 0; i < t.ops.size(); ++i) {
    const Op& op = t.ops[i];
    ++c.ops;
    auto step = step_in_lockstep(ev, model, op);
    if (!step) {
      ++c.unrepresentable;
      if (std::getenv("VHOST_PROOFS_VERBOSE"))
        std::printf("  unrepresentable [%s] op %zu %s\n", p.name.c_str(), i,
                    Protocol::op_name(op).c_str());
      continue;
    }
    ++c.checked;
    // Model keeps one leak counter; the encoding splits it (uffds / other fds).
    EXPECT_EQ(step->next[Encoding::kLeakedOtherFdsPos] + step->next[Encoding::kLeakedUffdsPos],
              step->post[Encoding::kLeakedOtherFdsPos])
        << p.name << " op " << i << " " << Protocol::op_name(op);
    EXPECT_TRUE(same_step<Encoding>(*step))
        << p.name << " op " << i << " " << Protocol::op_name(op) << "\n"
        << print_text(t);
    EXPECT_EQ(step->out.closed, step->next[0] == 0);
    if (::testing::Test::HasFailure()) return;
  }
}

class VhostEncoding : public ::testing::TestWithParam<const Profile*> {};

TEST_P(VhostEncoding, IsTheModelOnCorpusAndRandomTraces) {
  const Profile& p = *GetParam();
  Evaluator<Encoding> ev(p);
  expect_same_initial_state<B>(ev, p);
  Counts corpus, random;
  for (const Trace& t : read_programs<B>({"corpus/programs/vhost_postcopy"})) {
    run_trace(p, t, ev, corpus);
    if (HasFailure()) return;
  }
  for (const Trace& t : random_traces(400)) {
    run_trace(p, t, ev, random);
    if (HasFailure()) return;
  }
  std::printf(
      "[%s] corpus: %zu ops, %zu checked, %zu unrepresentable; random: %zu ops, %zu "
      "checked, %zu unrepresentable\n",
      p.name.c_str(), corpus.ops, corpus.checked, corpus.unrepresentable, random.ops,
      random.checked, random.unrepresentable);
  EXPECT_GT(corpus.checked, 100u);
  EXPECT_LE(corpus.unrepresentable * 100, corpus.ops * 15);  // <= 15 %
  EXPECT_LE(random.unrepresentable * 4, random.ops);         // <= 25 %
}

INSTANTIATE_TEST_SUITE_P(Profiles, VhostEncoding, ::testing::ValuesIn(every_profile<B>()),
                         ProfileParamName{});

// The requests with a kind of their own, both ways; every other request is Generic.
TEST(VhostProofs, RequestsMapToTheirFixedKinds) {
  using namespace uapi;
  const std::vector<std::pair<uint32_t, unsigned>> own = {
      {kSetProtocolFeatures, 2}, {kSetOwner, 3},    {kResetOwner, 4},  {kPostcopyAdvise, 5},
      {kPostcopyListen, 6},      {kPostcopyEnd, 7}, {kSetMemTable, 8},
  };
  for (const auto& [request, kind] : own) {
    EXPECT_EQ(static_cast<unsigned>(kind_of_request(request)), kind) << request;
    EXPECT_EQ(request_of_kind(static_cast<ActionKind>(kind)), request) << kind;
  }
  for (uint32_t request : {kGetFeatures, kSetFeatures, kSetVringKick, kGetVringBase, kSetLogBase})
    EXPECT_EQ(kind_of_request(request), ActionKind::Generic) << request;
  for (auto kind :
       {ActionKind::Nop, ActionKind::Generic, ActionKind::Malformed, ActionKind::Disconnect,
        ActionKind::Connect, ActionKind::FailNext, ActionKind::BadRing})
    EXPECT_FALSE(request_of_kind(kind)) << static_cast<unsigned>(kind);
}

// For every kind, the op concrete_op() makes of a plain action of that kind abstracts back to
// that action (BadRing exists only where a bad ring index closes: dpdk-22.11).
TEST(VhostProofs, EveryActionKindRoundTrips) {
  for (unsigned kind = 0; kind < kActionKinds; ++kind) {
    SCOPED_TRACE(kind);
    const bool bad_ring = static_cast<ActionKind>(kind) == ActionKind::BadRing;
    const Profile& profile = *find_profile(bad_ring ? "dpdk-22.11" : "spec");
    Evaluator<Encoding> ev(profile);
    const bool table = static_cast<ActionKind>(kind) == ActionKind::SetMemTable;
    // kind, need_reply, fd_count, payload_size_ok, handler_accepts, explicit_reply, expects_fd,
    // fd_slot, fd_kept, nregions, ack_shaped, payload_size, pagefault, reply_ack, site,
    // reserved_flag
    const std::vector<uint64_t> action = {kind, 0,     0, 1, 1, 0, 0, kNoSlot,
                                          0,    table, 0, 0, 0, 0, 0, 0};
    const Op op = ev.concrete_op(action);
    EXPECT_EQ(ev.encoding().abstract_op(State{}, op), action) << Protocol::op_name(op);
  }
}

}  // namespace
}  // namespace lockstep::vhost::proofs
