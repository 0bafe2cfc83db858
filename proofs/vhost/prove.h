// k-induction and BMC over proofs/vhost/encoding.h, concrete evaluation of the encoding, and
// `lockstep prove --protocol vhost`.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/vhost/ops.h"
#include "model/vhost/profiles.h"
#include "proofs/vhost/invariant.h"

namespace lockstep::vhost::proofs {

enum class Status { Holds, Fails, Unknown };
const char* to_string(Status s);

struct Result {
  std::string invariant, profile;
  Status status = Status::Unknown;
  int k = 0;  // Holds: induction depth; Fails: counterexample length (shortest)
  double ms = 0;
  std::optional<Trace> counterexample;
};

struct CheckLimits {
  int max_k = 3;
  int max_bmc = 8;
  unsigned timeout_ms = 20000;
};

Result check(const Invariant& inv, const Profile& profile, CheckLimits limits = {});
// The same in a caller's context (saves a context per check: `lockstep prove` uses one per
// profile; Z3 context creation + teardown costs ~8 ms).
Result check(z3::context& c, const Invariant& inv, const Profile& profile, CheckLimits limits = {});

// Runs the encoding concretely on abstract values (SymState::all / SymAction::all order).
class Evaluator {
 public:
  explicit Evaluator(const Profile& profile);
  Encoding& encoding() { return e_; }
  const std::vector<uint64_t>& init() const { return init_; }
  struct Step {
    std::vector<uint64_t> next;   // SymState::all order
    std::vector<uint64_t> reply;  // has, flags, size, fds, table
  };
  Step step(const std::vector<uint64_t>& state, const std::vector<uint64_t>& action);
  bool holds(const Invariant& inv, const std::vector<uint64_t>& state,
             const std::vector<uint64_t>& action);  // on that step (state part: post-state)

 private:
  z3::model bind(const std::vector<uint64_t>& state, const std::vector<uint64_t>& action);
  z3::context c_;
  Encoding e_;
  SymState s_;
  SymAction a_;
  StepResult r_;
  std::vector<uint64_t> init_;
};

int prove_command(const std::string& profile, bool json, const std::string& emit_corpus);

}  // namespace lockstep::vhost::proofs
