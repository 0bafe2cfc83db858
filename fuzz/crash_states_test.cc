// fuzz/crash_states.def covers what core can produce: every op name of both protocols and every
// field Protocol::first_difference reports has a frame of its own (not the protocol's fallback),
// and distinct signatures abort through distinct frames. The stacks themselves are checked on
// real sanitizer builds by tools/cfl_crash_states.py (ctest label cfl).
#include "fuzz/crash_states.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <utility>

#include "core/mshv/ops.h"
#include "core/vhost/ops.h"

namespace lockstep::fuzz {
namespace {

// Protocol::op_name of one default op per alternative of P::Op.
template <class P, size_t... I>
std::set<std::string> alternative_names(std::index_sequence<I...>) {
  return {std::string(P::op_name(typename P::Op(std::in_place_index<I>)))...};
}
template <class P>
std::set<std::string> alternative_names() {
  return alternative_names<P>(std::make_index_sequence<std::variant_size_v<typename P::Op>>());
}

// The field first_difference reports for `base` against each edit of it.
template <class P>
std::set<std::string> reported_fields(
    const typename P::Outcome& base,
    const std::vector<std::function<void(typename P::Outcome&)>>& edits) {
  std::set<std::string> fields;
  for (const auto& edit : edits) {
    typename P::Outcome other = base;
    edit(other);
    const char* field = P::first_difference(base, other);
    EXPECT_NE(field, nullptr);
    if (field) fields.insert(field);
  }
  return fields;
}

std::set<std::string> mshv_ops() {
  return alternative_names<mshv::Protocol>();
}

std::set<std::string> mshv_fields() {
  using O = mshv::Outcome;
  return reported_fields<mshv::Protocol>(O{}, {
                                                  [](O& o) { o.err = 1; },
                                                  [](O& o) { o.res.partitions = 1; },
                                                  [](O& o) { o.res.partition_refs = 1; },
                                                  [](O& o) { o.res.devices = 1; },
                                                  [](O& o) { o.res.file_refs = 1; },
                                              });
}

std::set<std::string> vhost_ops() {
  std::set<std::string> names = alternative_names<vhost::Protocol>();
  for (uint32_t request = 0; request <= vhost::uapi::kMaxRequest; ++request)
    names.insert(vhost::Protocol::op_name(vhost::send(request)));
  return names;
}

std::set<std::string> vhost_fields() {
  using O = vhost::Outcome;
  O base;
  base.replies.emplace_back();
  return reported_fields<vhost::Protocol>(
      base, {
                [](O& o) { o.replies.clear(); },
                [](O& o) { o.replies[0].request = 1; },
                [](O& o) { o.replies[0].flags = 0; },
                [](O& o) { o.replies[0].size = 8; },
                [](O& o) { o.replies[0].payload = {1}; },
                [](O& o) { o.replies[0].fds = {vhost::FdKind::Uffd}; },
                [](O& o) { o.closed = true; },
                [](O& o) { o.res.uffds = 1; },
                [](O& o) { o.res.regions_mapped = 1; },
                [](O& o) { o.res.regions_registered = 1; },
                [](O& o) { o.res.held_fds = 1; },
                [](O& o) { o.res.phase = vhost::Phase::Advised; },
            });
}

// Every (op, field) of a protocol, and its fd leak, map to distinct frames, none a fallback.
void expect_one_crash_state_per_signature(const std::string& protocol,
                                          const std::set<std::string>& ops,
                                          const std::set<std::string>& fields) {
  std::map<std::vector<std::string>, std::string> signatures_by_frames;
  auto record = [&](const std::vector<std::string>& frames, const std::string& signature) {
    auto [it, fresh] = signatures_by_frames.emplace(frames, signature);
    EXPECT_TRUE(fresh) << signature << " shares its frames with " << it->second;
  };
  for (const auto& op : ops) {
    for (const auto& field : fields) {
      const auto frames = crash_frames(protocol, op, field);
      ASSERT_EQ(frames.size(), 2u) << protocol << "/" << op << "/" << field;
      EXPECT_EQ(frames[0].find("unlisted"), std::string::npos) << "no row for field " << field;
      EXPECT_EQ(frames[1], protocol + "_" + op) << "no row for op " << op;
      record(frames, divergence_signature(protocol, op, field));
    }
  }
  const auto leak = crash_frames(protocol, "", "fds");
  EXPECT_EQ(leak, std::vector<std::string>{protocol + "_fd_leak"});
  record(leak, fd_leak_signature(protocol));
}

TEST(CrashStates, EveryMshvOpAndFieldHasItsOwnFrame) {
  EXPECT_EQ(mshv_ops().size(), 9u);
  EXPECT_EQ(mshv_fields().size(), 5u);
  expect_one_crash_state_per_signature("mshv", mshv_ops(), mshv_fields());
}

TEST(CrashStates, EveryVhostOpAndFieldHasItsOwnFrame) {
  EXPECT_EQ(vhost_ops().size(), vhost::uapi::kMaxRequest + 1 + 4);  // requests, then RAW...
  EXPECT_EQ(vhost_fields().size(), 12u);
  expect_one_crash_state_per_signature("vhost", vhost_ops(), vhost_fields());
}

TEST(CrashStates, UnlistedNamesFallBackToTheProtocolsFrames) {
  // An unknown request id prints as REQ_<n>: all of them share one op frame.
  EXPECT_EQ(crash_frames("vhost", "REQ_99", "closed"),
            (std::vector<std::string>{"vhost_field_closed", "vhost_unlisted_op"}));
  EXPECT_EQ(crash_frames("mshv", "CLOSE", "no.such.field"),
            (std::vector<std::string>{"mshv_field_unlisted", "mshv_CLOSE"}));
  EXPECT_TRUE(crash_frames("no-such-protocol", "CLOSE", "err").empty());
}

TEST(CrashStates, AbortReportsTheSignatureFirst) {
  EXPECT_DEATH(abort_with_crash_state("mshv", "CLOSE", "err",
                                      "lockstep: divergence mshv/CLOSE/err\n# the program\n"),
               "^lockstep: divergence mshv/CLOSE/err\n# the program\n");
}

}  // namespace
}  // namespace lockstep::fuzz
