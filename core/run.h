// run(): the method of lockstep in one function. The model and a target are fed the same ops;
// after every op their outcomes must be equal (and, where the protocol names its fds, the fd
// census must show exactly the fds the model says are open); after the trace the process's fd
// set must be the one before the trace plus what the spec says stays installed.
//
// A protocol P provides:
//   P::Op, P::Outcome                         the vocabulary (std::variant of op structs)
//   P::kName                                  "mshv", "vhost"
//   P::op_name(const Op&)                     "CREATE_DEVICE"
//   P::first_difference(const Outcome&, const Outcome&) -> const char* field or nullptr
// A model provides   Outcome step(const Op&);  int fds_left_open() const;
// A target provides  Outcome step(const Op&);  void finish();  void reap();
//   finish(): release every resource the trace still holds, through the target's own API;
//   reap():   close what the spec says stays installed (so the next trace starts clean).
//
// The fd census (core/fd_census.h) is taken by run() from the kernel, never from the code under
// test. Where both sides provide these two members (mshv does), it is checked after every op,
// before any teardown, as a set:
//   model:  void expected_fds(FdExpectation&) const   the objects that must be open now, by name
//                                                     (or by class where no handle reaches them)
//   target: bool fd_identity(uint32_t name, FdIdentity&, FdClass& fallback) const
//                                                     the identity the harness recorded for a
//                                                     name when its object entered the trace
// A target without them may read a census itself (vhost's back-end fd counts are one, taken by
// impl/vhost/target.cc's harness side). Every target gets the end-of-trace set check.
#pragma once
#include <algorithm>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/fd_census.h"
#include "core/fd_oracle.h"

namespace lockstep {

struct Divergence {
  size_t index = 0;                 // op index; == trace length for the end-of-trace fd check
  std::string field;                // "err", "resources.file_refs", "fds" (census)
  std::string signature;            // stable one-line dedup key
  std::vector<std::string> leaked;  // for fd divergences: each unexplained fd, "leaked: ..." or
                                    // "closed: ..."
};

template <class Outcome>
struct Verdict {
  std::vector<Outcome> model;   // one per executed op
  std::vector<Outcome> target;  // one per executed op
  std::optional<Divergence> divergence;
  int fds_delta = 0;     // process fds after finish() minus before the trace
  int fds_expected = 0;  // what the model says stays installed with no handle
  bool ok() const { return !divergence; }
};

// Stable signatures, one per divergence kind (Cryptofuzz-style): the fuzzers abort with them,
// so crash deduplication groups findings by protocol, op and field.
inline std::string divergence_signature(std::string_view protocol, std::string_view op,
                                        std::string_view field) {
  return "lockstep: divergence " + std::string(protocol) + "/" + std::string(op) + "/" +
         std::string(field);
}
inline std::string fd_leak_signature(std::string_view protocol) {
  return "lockstep: fd-leak " + std::string(protocol);
}

struct RunOptions {
  bool check_fds = true;    // the fd census: after every op (where named) and at the end
  bool record = true;       // keep every outcome (replay, CLI); fuzzers keep only the verdict
  bool count_only = false;  // tests only: the old oracle (fd counts, once after finish())
};

template <class M, class T>
concept NamesFds = requires(const M& m, const T& t, FdExpectation& e, uint32_t name, FdIdentity& id,
                            FdClass& fallback) {
  m.expected_fds(e);
  { t.fd_identity(name, id, fallback) } -> std::convertible_to<bool>;
};

namespace detail {

// The end-of-trace check: the fds open after finish() are those open before the trace (same
// numbers, same objects) plus `left_open` more. Lists /proc/self/fd once (complete()) so that no
// fd outside the census window goes unseen; fds above a window that had to grow were not in the
// "before" census either and are left out rather than guessed.
inline std::vector<std::string> end_of_trace_fds(FdCensus& census,
                                                 const std::vector<FdEntry>& before, int left_open,
                                                 int& delta) {
  const int top = FdCensus::top();
  census.complete();
  census.take(0);
  auto same = [](const FdEntry& a, const FdEntry& b) { return a.fd == b.fd && a.id == b.id; };
  std::vector<std::string> lines, added;
  for (const FdEntry& b : before)
    if (std::none_of(census.entries().begin(), census.entries().end(),
                     [&](const FdEntry& e) { return same(e, b); }))
      lines.push_back("closed: " + describe(b) + " -> open before the trace");
  for (const FdEntry& e : census.entries())
    if (e.fd < top &&
        std::none_of(before.begin(), before.end(), [&](const FdEntry& b) { return same(e, b); }))
      added.push_back("leaked: " + describe(e) + " -> " + describe_fd(e.fd));
  delta = static_cast<int>(added.size()) - static_cast<int>(lines.size());
  if (lines.empty() && static_cast<int>(added.size()) == left_open) return {};
  lines.insert(lines.end(), added.begin(), added.end());
  lines.push_back("the spec leaves " + std::to_string(left_open) + " installed");
  return lines;
}

}  // namespace detail

template <class P, class M, class T>
Verdict<typename P::Outcome> run(std::span<const typename P::Op> ops, M& model, T& target,
                                 RunOptions options = {}) {
  Verdict<typename P::Outcome> verdict;
  const bool census = options.check_fds && !options.count_only;
  thread_local FdCensus fds;
  thread_local std::vector<FdEntry> before, baseline;
  thread_local FdExpectation expected;
  const FdSet count_before = options.count_only ? FdSet::current() : FdSet{};
  int floor = 0;
  if (census) {
    fds.take(0);
    before = fds.entries();
    floor = fds.lowest_free();
    baseline.clear();
    for (const FdEntry& e : before)
      if (e.fd >= floor) baseline.push_back(e);
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    auto expected_outcome = model.step(ops[i]);
    auto actual = target.step(ops[i]);
    const char* field = P::first_difference(expected_outcome, actual);
    std::vector<std::string> lines;
    if constexpr (NamesFds<M, T>) {
      if (census && !field) {
        fds.take(floor);
        expected.clear();
        model.expected_fds(expected);
        lines = compare_census(baseline, fds.entries(), expected,
                               [&](uint32_t name, FdIdentity& id, FdClass& fallback) {
                                 return target.fd_identity(name, id, fallback);
                               });
        if (!lines.empty()) field = "fds";
      }
    }
    if (options.record || field) {
      verdict.model.push_back(std::move(expected_outcome));
      verdict.target.push_back(std::move(actual));
    }
    if (field) {
      verdict.divergence = Divergence{
          i, field, divergence_signature(P::kName, P::op_name(ops[i]), field), std::move(lines)};
      break;
    }
  }
  target.finish();
  if (options.check_fds && !verdict.divergence) {
    verdict.fds_expected = model.fds_left_open();
    if (census) {
      auto lines = detail::end_of_trace_fds(fds, before, verdict.fds_expected, verdict.fds_delta);
      if (!lines.empty())
        verdict.divergence = Divergence{ops.size(), "fds", fd_leak_signature(P::kName), lines};
    } else {
      const FdSet after = FdSet::current();
      verdict.fds_delta = after.delta_since(count_before);
      if (verdict.fds_delta != verdict.fds_expected)
        verdict.divergence = Divergence{ops.size(), "fds", fd_leak_signature(P::kName),
                                        after.describe_added_since(count_before)};
    }
  }
  target.reap();
  return verdict;
}

}  // namespace lockstep
