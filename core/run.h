// run(): the method of lockstep in one function. The model and a target are fed the same ops;
// after every op their outcomes must be equal; after the trace the process's fds must balance.
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
#pragma once
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/fd_oracle.h"

namespace lockstep {

struct Divergence {
  size_t index = 0;                 // op index; == trace length for the end-of-trace fd check
  std::string field;                // "err", "resources.file_refs", "fds"
  std::string signature;            // stable one-line dedup key
  std::vector<std::string> leaked;  // for fd divergences: what each unexpected fd refers to
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
  bool check_fds = true;  // the fd-accounting oracle at the end of the trace
  bool record = true;     // keep every outcome (replay, CLI); fuzzers keep only the verdict
};

template <class P, class M, class T>
Verdict<typename P::Outcome> run(std::span<const typename P::Op> ops, M& model, T& target,
                                 RunOptions options = {}) {
  Verdict<typename P::Outcome> verdict;
  const FdSet before = options.check_fds ? FdSet::current() : FdSet{};
  for (size_t i = 0; i < ops.size(); ++i) {
    auto expected = model.step(ops[i]);
    auto actual = target.step(ops[i]);
    const char* field = P::first_difference(expected, actual);
    if (options.record || field) {
      verdict.model.push_back(std::move(expected));
      verdict.target.push_back(std::move(actual));
    }
    if (field) {
      verdict.divergence =
          Divergence{i, field, divergence_signature(P::kName, P::op_name(ops[i]), field), {}};
      break;
    }
  }
  target.finish();
  if (options.check_fds) {
    const FdSet after = FdSet::current();
    verdict.fds_delta = after.delta_since(before);
    verdict.fds_expected = verdict.divergence ? verdict.fds_delta : model.fds_left_open();
    if (!verdict.divergence && verdict.fds_delta != verdict.fds_expected)
      verdict.divergence = Divergence{ops.size(), "fds", fd_leak_signature(P::kName),
                                      after.describe_added_since(before)};
  }
  target.reap();
  return verdict;
}

}  // namespace lockstep
