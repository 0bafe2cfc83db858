// rapidcheck stateful property: any sequence of vhost-user messages gives the same outcomes on
// the model (`spec`) and on the real back-end (impl/vhost over a socketpair, real userfaultfd
// and memfd regions), and leaves the process's fds as the model predicts. The generators
// follow the postcopy handshake most of the time (negotiate, ADVISE, LISTEN, the postcopy
// table and its ack, END) and stray from it at every step (repeats, wrong order, fds where none
// belong, unknown requests, faults, disconnects), so most traces reach the postcopy requests
// rather than idling on a closed connection. A failing case prints the shrunk sequence as a
// readable program.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "core/fd_oracle.h"
#include "core/vhost/codec.h"
#include "impl/vhost/target.h"
#include "model/vhost/model.h"

namespace lockstep::vhost {
namespace {

using namespace uapi;

// Generation follows a copy of the model, so that it can offer the handshake's next message.
struct GenState {
  Model model{*find_profile("spec")};
};

struct Sides {
  Model model;
  ImplTarget target;
  size_t postcopy_requests = 0;  // ADVISE / LISTEN / END / postcopy tables sent while connected
  Phase furthest = Phase::None;  // the furthest handshake phase the trace reached (in order)
};

rc::Gen<uint32_t> flags() {
  return rc::gen::weightedElement<uint32_t>(
      {{6, kVersion}, {12, kVersion | kNeedReply}, {1, 0x11}});
}

rc::Gen<std::vector<FdSpec>> stray_fds() {
  return rc::gen::weightedOneOf<std::vector<FdSpec>>(
      {{8, rc::gen::just(std::vector<FdSpec>{})},
       {1, rc::gen::just(std::vector<FdSpec>{FdSpec{FdKind::Eventfd, 0}})},
       {1, rc::gen::just(std::vector<FdSpec>{FdSpec{FdKind::Memfd, 0x1000}})}});
}

rc::Gen<Op> postcopy_request(uint32_t request) {
  return rc::gen::map(rc::gen::tuple(flags(), stray_fds()), [request](auto t) -> Op {
    return send(request, std::get<0>(t), {}, std::get<1>(t));
  });
}

rc::Gen<Op> mem_table() {
  return rc::gen::map(rc::gen::tuple(rc::gen::inRange<size_t>(1, 4), flags()), [](auto t) -> Op {
    return set_mem_table(regions(std::get<0>(t)), std::get<1>(t));
  });
}

rc::Gen<Op> negotiation_request() {
  return rc::gen::map(
      rc::gen::tuple(rc::gen::element(kGetFeatures, kSetOwner, kResetOwner, kGetProtocolFeatures,
                                      kGetQueueNum, kGetStatus),
                     flags()),
      [](auto t) -> Op { return send(std::get<0>(t), std::get<1>(t)); });
}

rc::Gen<Op> ring_request() {
  return rc::gen::map(rc::gen::tuple(rc::gen::element(kSetVringKick, kSetVringCall, kSetVringErr),
                                     rc::gen::element<uint64_t>(0, 1, 2, kVringNofdMask), flags()),
                      [](auto t) -> Op {
                        const auto [request, value, f] = t;
                        std::vector<FdSpec> fds;
                        if (!(value & kVringNofdMask)) fds.push_back({FdKind::Eventfd, 0});
                        return send(request, f, u64_payload(value), fds);
                      });
}

// Any site of core/vhost/sites.def with any errno its row lists.
rc::Gen<FailNext> fail_next() {
  return rc::gen::mapcat(rc::gen::inRange<size_t>(0, kSiteCount), [](size_t row) {
    const auto site = static_cast<Site>(row);
    const auto errnos = site_errnos(site);
    return rc::gen::map(rc::gen::elementOf(std::vector<int>(errnos.begin(), errnos.end())),
                        [site](int err) {
                          return FailNext{site, err};
                        });
  });
}

rc::Gen<Op> stray_op() {
  return rc::gen::oneOf(
      rc::gen::map(rc::gen::inRange<uint32_t>(41, 60),
                   [](uint32_t id) -> Op { return send(id, kVersion | kNeedReply); }),
      rc::gen::just<Op>(Disconnect{}), rc::gen::just<Op>(Connect{}),
      rc::gen::map(fail_next(), [](FailNext f) -> Op { return f; }));
}

rc::Gen<std::vector<Op>> one(rc::Gen<Op> g) {
  return rc::gen::map(std::move(g), [](Op op) { return std::vector<Op>{op}; });
}

// The message the postcopy handshake expects next in the model's state (vhost-user.rst
// "Migration": negotiate, ADVISE, LISTEN, the postcopy table and its ack, END).
// Sent as QEMU sends it: well-formed, with NEED_REPLY where QEMU asks for a reply.
std::vector<Op> next_in_handshake(const Model& m) {
  constexpr uint32_t kNR = kVersion | kNeedReply;
  if (!m.state().connected) return {Connect{}};
  if (!(m.state().session.protocol_features & bit(kPfPagefault))) return preamble();
  switch (m.phase()) {
    case Phase::None:
      return {send(kPostcopyAdvise)};
    case Phase::Advised:
      return {send(kPostcopyListen, kNR)};
    case Phase::Listening:
      return {set_mem_table(regions(2))};
    case Phase::AwaitingAck:
      return {mem_table_ack()};
    case Phase::Registered:
      return {send(kPostcopyEnd, kNR)};
  }
  return {};
}

// A fault followed by the message that reaches its site (rules F1-F3).
rc::Gen<std::vector<Op>> faulted_request(const Model& m) {
  return rc::gen::map(fail_next(), [next = next_in_handshake(m)](FailNext f) {
    std::vector<Op> ops{f};
    if (f.site == Site::Mmap || f.site == Site::Munmap)
      ops.push_back(set_mem_table(regions(2)));
    else
      ops.insert(ops.end(), next.begin(), next.end());
    return ops;
  });
}

// One command is one op, or the whole negotiation preamble (so that most traces negotiate
// PAGEFAULT and REPLY_ACK early, as QEMU does, without depending on shrinking to find it).
rc::Gen<std::vector<Op>> ops_of(const Model& m) {
  return rc::gen::weightedOneOf<std::vector<Op>>({
      {30, rc::gen::just(next_in_handshake(m))},
      {2, rc::gen::just(preamble())},
      {5, one(postcopy_request(kPostcopyAdvise))},
      {5, one(postcopy_request(kPostcopyListen))},
      {3, one(postcopy_request(kPostcopyEnd))},
      {5, one(mem_table())},
      {4, one(rc::gen::map(flags(), [](uint32_t f) -> Op { return mem_table_ack(f); }))},
      {2, one(negotiation_request())},
      {2, one(ring_request())},
      {2, one(stray_op())},
      {3, faulted_request(m)},
  });
}

bool is_postcopy(const Op& op) {
  const auto* s = std::get_if<Send>(&op);
  return s && (s->request == kPostcopyAdvise || s->request == kPostcopyListen ||
               s->request == kPostcopyEnd || s->request == kSetMemTable);
}

struct Step : rc::state::Command<GenState, Sides> {
  std::vector<Op> ops;
  explicit Step(const GenState& s) : ops(*ops_of(s.model)) {}
  void apply(GenState& s) const override {
    for (const Op& op : ops) s.model.step(op);
  }
  void run(const GenState&, Sides& sides) const override {
    for (const Op& op : ops) {
      const bool connected = sides.model.state().connected;
      const Outcome expected = sides.model.step(op);
      const Outcome actual = sides.target.step(op);
      if (connected && is_postcopy(op)) sides.postcopy_requests++;
      sides.furthest = std::max(sides.furthest, expected.res.phase);
      if (const char* field = Protocol::first_difference(expected, actual))
        RC_FAIL(std::string("lockstep: divergence vhost/") + Protocol::op_name(op) + "/" + field +
                "\n  model:    " + to_string(expected) + "\n  back-end: " + to_string(actual));
    }
  }
  void show(std::ostream& os) const override {
    const char* separator = "";
    for (const std::string& line : Protocol::call_lines(ops))
      os << std::exchange(separator, "\n") << line;
  }
};

// The property, run by rapidcheck against a back-end of `backend_profile` (impl/vhost); false
// when it finds a trace on which the `spec` model and the back-end disagree.
bool model_and_backend_agree(const std::string& backend_profile) {
  return rc::check("the spec model and the " + backend_profile + " back-end agree", [&] {
    const FdSet before = FdSet::current();
    Sides sides{Model(*find_profile("spec")), ImplTarget(backend_profile)};
    rc::state::check(GenState{}, sides, rc::state::gen::execOneOfWithArgs<Step>());
    sides.target.finish();
    const int delta = FdSet::current().delta_since(before);
    sides.target.reap();
    RC_ASSERT(delta == sides.model.fds_left_open());
    RC_CLASSIFY(sides.postcopy_requests > 0, "reaches postcopy requests");
    RC_TAG("furthest: " + to_string(sides.furthest));
  });
}

TEST(VhostProperty, SpecModelAndBackendAgree) {
  EXPECT_TRUE(model_and_backend_agree("spec"));
}

// The negative side: the property must fail on every deliberately broken back-end.
TEST(VhostProperty, EveryMutantBackendIsCaught) {
  for (const std::string& profile : backend_profiles()) {
    if (profile == "spec") continue;
    EXPECT_FALSE(model_and_backend_agree(profile)) << profile << " was not caught";
  }
}

// The generators' purpose: most traces reach the postcopy requests on a live connection, and
// a fair share gets through the whole handshake to registered regions.
TEST(VhostProperty, GeneratedTracesMostlyReachPostcopy) {
  constexpr uint64_t kTraces = 200;
  size_t reaching = 0, registered = 0;
  for (uint64_t seed = 0; seed < kTraces; ++seed) {
    rc::Random random(seed);
    Model model(*find_profile("spec"));
    bool reached = false, reg = false;
    for (int command = 0; command < 20; ++command)
      for (const Op& op : ops_of(model)(random.split(), 50).value()) {
        reached |= model.state().connected && is_postcopy(op);
        model.step(op);
        reg |= model.phase() == Phase::Registered;
      }
    reaching += reached;
    registered += reg;
  }
  EXPECT_GE(reaching, kTraces * 9 / 10);
  EXPECT_GE(registered, kTraces * 3 / 10);
  std::printf("%zu/%zu traces reach postcopy requests, %zu reach registered regions\n", reaching,
              static_cast<size_t>(kTraces), registered);
}

}  // namespace
}  // namespace lockstep::vhost
