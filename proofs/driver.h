// The proof driver shared by both protocols: invariants over a symbolic transition relation,
// k-induction and BMC (`check`), concrete evaluation of the relation (`Evaluator`), and the
// `lockstep prove` loop over profiles x invariants (`prove`), generic over an Encoding (the
// protocol's transition relation, proofs/<protocol>/encoding.h) and a proof binding (what
// differs per protocol: profiles, exit-code rule, context sharing, the fuzz input's profile;
// proofs/<protocol>/binding.h).
#pragma once
#include <z3++.h>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/trace.h"
#include "proofs/report.h"
#include "proofs/values.h"

namespace lockstep::proofs {

// A transition relation T(s, a) -> (s', outputs) over Z3 terms, and its way back to traces.
template <class E>
concept Encoding = requires(E e, z3::context& c, const typename E::Profile& profile,
                            const typename E::SymState& s, const typename E::SymAction& a,
                            const typename E::StepResult& r, const z3::model& m) {
  E(c, profile);
  { e.ctx() } -> std::same_as<z3::context&>;
  { e.fresh_state(std::string{}) } -> std::same_as<typename E::SymState>;
  { e.fresh_action(std::string{}) } -> std::same_as<typename E::SymAction>;
  { e.init(s) } -> std::same_as<z3::expr>;      // the initial state
  { e.valid(s, a) } -> std::same_as<z3::expr>;  // a is enabled in s and names one real op
  { e.step(s, a) } -> std::same_as<typename E::StepResult>;  // r.next is the post-state
  { e.equal(s, s) } -> std::same_as<z3::expr>;               // component-wise
  { e.well_formed(s) } -> std::same_as<z3::expr>;            // the auxiliary strengthening
  { e.concrete_op(m, a) } -> std::same_as<typename E::Op>;   // an op realising a model's action
  { s.all() } -> std::same_as<std::vector<z3::expr>>;
  { a.all() } -> std::same_as<std::vector<z3::expr>>;
  { r.next } -> std::convertible_to<typename E::SymState>;
  { E::outcome_terms(r) } -> std::same_as<std::vector<z3::expr>>;  // what Model::step returns
  { E::kSolverLogic } -> std::convertible_to<const char*>;         // nullptr: Z3's default
  // Optionally, e.name_outputs(solver, r, tag, n): asserts fresh constants (named after the
  // unrolling's tag and the step n) equal to r's outputs and puts them in r, so that properties
  // mentioning an output stay small.
};

enum class Status { Holds, Fails, Unknown };
inline const char* to_string(Status s) {
  return s == Status::Holds ? "holds" : s == Status::Fails ? "fails" : "unknown";
}

template <class Op>
struct Result {
  std::string invariant, profile;
  Status status = Status::Unknown;
  int k = 0;  // Holds: induction depth; Fails: counterexample length (shortest)
  double ms = 0;
  std::optional<lockstep::Trace<Op>> counterexample;
};

struct CheckLimits {
  int max_k = 3;    // induction depth tried
  int max_bmc = 8;  // BMC depth searched for a counterexample
  unsigned timeout_ms = 20000;
};

template <class E>
struct StepView {
  const typename E::SymState& pre;
  const typename E::SymAction& a;
  const typename E::StepResult& r;  // r.next: the post-state
};

// An invariant of a model, checked on its encoding: a state part on every reachable state, a
// step part on every transition taken from a reachable state; either may be absent. One file
// each under proofs/<protocol>/invariants/, listed in proofs/<protocol>/invariants.def.
template <class E>
struct Invariant {
  std::string name;    // the file stem and the counterexample file prefix (set from the list)
  std::string clause;  // the spec clause it captures
  std::function<z3::expr(E&, const typename E::SymState&)> state;  // may be empty
  std::function<z3::expr(E&, const StepView<E>&)> step;            // may be empty
  // The inductive step assumes the auxiliary invariant well_formed (which is proved first).
  bool strengthened = false;
  bool auxiliary = false;  // well_formed itself
};

template <class E>
Invariant<E> named(std::string name, Invariant<E> inv) {
  inv.name = std::move(name);
  return inv;
}

// The auxiliary invariant every encoding has: its own well_formed, proved by plain induction.
template <class E>
Invariant<E> well_formed_invariant(std::string clause) {
  Invariant<E> inv;
  inv.clause = std::move(clause);
  inv.state = [](E& e, const typename E::SymState& s) { return e.well_formed(s); };
  inv.auxiliary = true;
  return inv;
}

template <class E>
z3::expr property(E& e, const Invariant<E>& inv, const typename E::SymState& pre,
                  const typename E::SymAction& a, const typename E::StepResult& r) {
  z3::expr q = e.ctx().bool_val(true);
  if (inv.state) q = q && inv.state(e, r.next);
  if (inv.step) q = q && inv.step(e, StepView<E>{pre, a, r});
  return q;
}

namespace detail {

template <class E>
z3::solver make_solver(z3::context& c, const CheckLimits& limits) {
  z3::solver s = E::kSolverLogic ? z3::solver(c, E::kSolverLogic) : z3::solver(c);
  z3::params p(c);
  p.set("timeout", limits.timeout_ms);
  s.set(p);
  return s;
}

// One unrolling of the transition relation from states[0]: T(s0,a0,s1) /\ T(s1,a1,s2) ...
// asserted on one solver. `tag` keeps the base case's names apart from the inductive step's.
template <class E>
struct Unrolling {
  E& e;
  z3::solver& solver;
  char tag;
  std::vector<typename E::SymState> states;
  std::vector<typename E::SymAction> actions;

  Unrolling(E& e, z3::solver& solver, char tag)
      : e(e), solver(solver), tag(tag), states{e.fresh_state(std::string{tag} + "0_")} {}

  // Adds step n (from states[n-1]), with well_formed on the new state when strengthened;
  // returns the step's result with r.next == states[n].
  typename E::StepResult extend(int n, bool strengthened) {
    actions.push_back(e.fresh_action(std::string{tag} + "a" + std::to_string(n - 1) + "_"));
    states.push_back(e.fresh_state(std::string{tag} + std::to_string(n) + "_"));
    typename E::StepResult r = e.step(states[n - 1], actions[n - 1]);
    solver.add(e.valid(states[n - 1], actions[n - 1]));
    solver.add(e.equal(states[n], r.next));
    if (strengthened) solver.add(e.well_formed(states[n]));
    if constexpr (requires { e.name_outputs(solver, r, tag, n); })
      e.name_outputs(solver, r, tag, n);
    r.next = states[n];
    return r;
  }
  z3::expr property(const Invariant<E>& inv, int n, const typename E::StepResult& r) {
    return proofs::property(e, inv, states[n - 1], actions[n - 1], r);
  }
};

// Whether the assertions admit a violation of q (sat). Afterwards q is assumed, except when a
// violation is found and kept: the solver then still asserts !q, for its model.
inline z3::check_result check_violation(z3::solver& s, const z3::expr& q, bool keep_violation) {
  s.push();
  s.add(!q);
  z3::check_result res = s.check();
  if (res == z3::sat && keep_violation) return res;
  s.pop();
  s.add(q);
  return res;
}

}  // namespace detail

// k-induction with BMC for the counterexample: the base case searches depth 1..max_bmc for a
// shortest violation; the inductive step, from an arbitrary state satisfying the invariant (and
// well_formed when strengthened) for n steps, tries n = 1..max_k. The caller's context can be
// shared across checks (Z3 context creation + teardown costs ~8 ms).
template <Encoding E>
Result<typename E::Op> check(z3::context& c, const Invariant<E>& inv,
                             const typename E::Profile& profile, CheckLimits limits = {}) {
  using Trace = lockstep::Trace<typename E::Op>;
  auto t0 = std::chrono::steady_clock::now();
  Result<typename E::Op> res{inv.name, profile.name, Status::Unknown, 0, 0, std::nullopt};
  E e(c, profile);
  z3::solver base = detail::make_solver<E>(c, limits), ind = detail::make_solver<E>(c, limits);
  detail::Unrolling<E> b(e, base, 'b'), i(e, ind, 'i');
  base.add(e.init(b.states[0]));
  if (inv.state) {
    base.push();
    base.add(!inv.state(e, b.states[0]));
    if (base.check() == z3::sat) {
      res.status = Status::Fails;
      res.counterexample = Trace{profile.name, {}, {}, {}, {}};
    }
    base.pop();
    ind.add(inv.state(e, i.states[0]));
  }
  if (inv.strengthened) ind.add(e.well_formed(i.states[0]));
  bool induction_done = false;
  for (int n = 1; n <= limits.max_bmc && res.status == Status::Unknown; ++n) {
    typename E::StepResult r = b.extend(n, false);
    z3::check_result br = detail::check_violation(base, b.property(inv, n, r), true);
    if (br == z3::sat) {
      z3::model m = base.get_model();
      Trace t{profile.name, {}, {}, {}, {}};
      for (int j = 0; j < n; ++j) t.ops.push_back(e.concrete_op(m, b.actions[j]));
      res.status = Status::Fails;
      res.k = n;
      res.counterexample = t;
      break;
    }
    if (br == z3::unknown) break;
    if (induction_done || n > limits.max_k) continue;
    // Sound: well_formed is itself proved invariant, so it holds on every reachable state.
    typename E::StepResult ri = i.extend(n, inv.strengthened);
    if (detail::check_violation(ind, i.property(inv, n, ri), false) == z3::unsat) {
      res.status = Status::Holds;
      res.k = n;
      induction_done = true;
    }
  }
  res.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

template <Encoding E>
Result<typename E::Op> check(const Invariant<E>& inv, const typename E::Profile& profile,
                             CheckLimits limits = {}) {
  z3::context c;
  return check(c, inv, profile, limits);
}

// Runs the encoding concretely: every state and action variable bound to a value (in the order
// of SymState::all() and SymAction::all()), nothing solved.
template <Encoding E>
class Evaluator {
 public:
  explicit Evaluator(const typename E::Profile& profile)
      : e_(c_, profile), s_(e_.fresh_state("s_")), a_(e_.fresh_action("a_")), r_(e_.step(s_, a_)) {
    z3::solver init(c_);
    init.add(e_.init(s_));
    init.check();
    init_ = values_of(init.get_model(), s_.all());
  }
  E& encoding() { return e_; }
  const std::vector<uint64_t>& init() const { return init_; }

  struct Step {
    std::vector<uint64_t> next;     // SymState::all() order
    std::vector<uint64_t> outcome;  // E::outcome_terms order
  };
  Step step(const std::vector<uint64_t>& state, const std::vector<uint64_t>& action) {
    z3::model m = bind(state, action);
    return Step{values_of(m, r_.next.all()), values_of(m, E::outcome_terms(r_))};
  }
  // The invariant on that step (its state part on the post-state).
  bool holds(const Invariant<E>& inv, const std::vector<uint64_t>& state,
             const std::vector<uint64_t>& action) {
    z3::model m = bind(state, action);
    return m.eval(property(e_, inv, s_, a_, r_), true).is_true();
  }
  // The op concrete_op() makes of the action (as when it reads a counterexample).
  typename E::Op concrete_op(const std::vector<uint64_t>& action) {
    return e_.concrete_op(bind(init_, action), a_);
  }

 private:
  z3::model bind(const std::vector<uint64_t>& state, const std::vector<uint64_t>& action) {
    z3::model m(c_);
    auto put = [&](const std::vector<z3::expr>& vars, const std::vector<uint64_t>& vals) {
      for (size_t i = 0; i < vars.size(); ++i) {
        z3::expr v = vars[i].is_bool() ? c_.bool_val(vals[i] != 0)
                                       : c_.bv_val(vals[i], vars[i].get_sort().bv_size());
        z3::func_decl d = vars[i].decl();
        m.add_const_interp(d, v);
      }
    };
    put(s_.all(), state);
    put(a_.all(), action);
    return m;
  }
  z3::context c_;
  E e_;
  typename E::SymState s_;
  typename E::SymAction a_;
  typename E::StepResult r_;
  std::vector<uint64_t> init_;
};

// ---- lockstep prove ------------------------------------------------------------------------

// Whether the invariants of one profile share a Z3 context, or each check makes its own.
enum class ContextSharing { PerCheck, PerProfile };

// A protocol's proof binding (proofs/<protocol>/binding.h): its encoding, its invariants, how to
// find and list its profiles, and its choices: acceptable(profile, status) says whether a result
// leaves the exit code 0, fuzz_profile(profile) names the profile a counterexample's fuzz input
// is encoded under. The protocol's print_text(trace) and encode_input(trace) are found by
// argument-dependent lookup.
template <Encoding E, auto kInvariants, auto kFindProfile, auto kShippedProfiles,
          auto kMutantProfiles, auto kAcceptable, auto kFuzzProfile, ContextSharing kSharing>
struct Binding {
  using Encoding = E;
  using Profile = typename E::Profile;
  static constexpr ContextSharing kContextSharing = kSharing;
  static std::vector<Invariant<E>> invariants() { return kInvariants(); }
  static const Profile* find_profile(std::string_view name) { return kFindProfile(name); }
  static std::vector<const Profile*> shipped_profiles() { return kShippedProfiles(); }
  static std::vector<const Profile*> mutant_profiles() { return kMutantProfiles(); }
  static bool acceptable(const Profile& p, Status s) { return kAcceptable(p, s); }
  static std::string fuzz_profile(const std::string& profile) { return kFuzzProfile(profile); }
};

// <dir>/<invariant>__<profile>.txt (the program) and .bin (the fuzz input).
template <class B, class Trace>
void emit_counterexample(const std::string& dir, const std::string& invariant, const Trace& t) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  fs::path stem = fs::path(dir) / (invariant + "__" + t.profile);
  std::ofstream(stem.string() + ".txt") << print_text(t);
  try {
    Trace bin = t;
    bin.profile = B::fuzz_profile(t.profile);
    auto bytes = encode_input(bin);
    std::ofstream(stem.string() + ".bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  } catch (const std::exception& ex) {
    std::cerr << "prove: " << stem.string() << ".bin: " << ex.what() << "\n";
  }
}

// Every invariant on every profile (or the one named), printed as a table (or JSON);
// counterexamples written to emit_corpus unless it is empty. Returns 0 when every result is
// acceptable to the binding, 1 otherwise, 2 for an unknown profile.
template <class B>
int prove(std::string_view protocol, const std::string& profile, bool json,
          const std::string& emit_corpus) {
  using E = typename B::Encoding;
  std::vector<const typename E::Profile*> profiles;
  if (!profile.empty()) {
    const auto* p = B::find_profile(profile);
    if (!p) {
      std::cerr << "prove: unknown " << protocol << " profile '" << profile << "'\n";
      return 2;
    }
    profiles.push_back(p);
  } else {
    profiles = B::shipped_profiles();
    for (const auto* p : B::mutant_profiles()) profiles.push_back(p);
  }
  std::vector<Result<typename E::Op>> results;
  double shipped_ms = 0, total_ms = 0;
  bool ok = true;
  for (const auto* p : profiles) {
    std::optional<z3::context> shared;
    if (B::kContextSharing == ContextSharing::PerProfile) shared.emplace();
    for (const Invariant<E>& inv : B::invariants()) {
      auto r = shared ? check(*shared, inv, *p) : check(inv, *p);
      total_ms += r.ms;
      if (!p->mutant) shipped_ms += r.ms;
      ok = ok && B::acceptable(*p, r.status);
      if (!emit_corpus.empty() && r.counterexample && !inv.auxiliary)
        emit_counterexample<B>(emit_corpus, inv.name, *r.counterexample);
      results.push_back(std::move(r));
    }
  }
  print_results(protocol, results, shipped_ms, total_ms, json,
                [](const auto& t) { return print_text(t); });
  return ok ? 0 : 1;
}

}  // namespace lockstep::proofs
