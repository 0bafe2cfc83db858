// k-induction and BMC over proofs/mshv/encoding.h, concrete evaluation of the encoding, and
// the `lockstep prove` command.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/mshv/ops.h"
#include "model/mshv/profiles.h"
#include "proofs/mshv/invariant.h"

namespace lockstep::mshv::proofs {

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
  int max_k = 3;    // induction depth tried
  int max_bmc = 8;  // BMC depth searched for a counterexample
  unsigned timeout_ms = 20000;
};

Result check(const Invariant& inv, const Profile& profile, CheckLimits limits = {});

// Runs the encoding concretely (every variable bound to a value, no solving).
class Evaluator {
 public:
  explicit Evaluator(const Profile& profile);
  void reset();  // back to the initial state
  // Values aligned with SymState::all(); starts at the initial state.
  const std::vector<uint64_t>& state() const { return state_; }
  // Applies op; returns the errno. Keeps the pre-state of the last step for holds_last().
  int step(const Op& op);
  // The concrete state encoded like SymState::all() (ghost type: profile's type when live).
  std::vector<uint64_t> encode(const State& st);
  // The invariant's predicate on the last step taken (state part on its post-state).
  bool holds_last(const Invariant& inv);

 private:
  z3::model bind(const std::vector<uint64_t>& state, const std::vector<z3::expr>& action);
  z3::context c_;
  Encoding e_;
  SymState s_;
  SymAction a_;
  StepResult r_;
  std::vector<z3::expr> outs_;
  std::vector<uint64_t> init_, state_, pre_;
  std::optional<Op> last_;
};

struct ProveOptions {
  std::string protocol = "mshv";
  std::string profile;  // empty: shipped + mutants
  bool json = false;
  std::string emit_corpus;  // directory, or empty
};
int prove_command(const ProveOptions& options);

}  // namespace lockstep::mshv::proofs
