// The proof driver shared by both protocols: invariants over a symbolic transition relation,
// k-induction and BMC (`check`), concrete evaluation of the relation (`Evaluator`), and the
// `lockstep prove` loop over profiles x invariants (`prove`), generic over an Encoding (the
// protocol's transition relation, proofs/<protocol>/encoding.h) and a proof binding (what
// differs per protocol: profiles, exit-code rule, context sharing, the fuzz input's profile;
// proofs/<protocol>/binding.h).
#pragma once
#include <z3++.h>

#include <cerrno>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/program_files.h"
#include "core/trace.h"
#include "proofs/report.h"
#include "proofs/scope.h"
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

// Vacuous: the induction closed, but on premises that admit no step, on an antecedent no trace
// within the BMC bound reaches, or with corpus ops the encoding's valid() rejects: never "holds".
enum class Status { Holds, Fails, Unknown, Vacuous };
inline const char* to_string(Status s) {
  switch (s) {
    case Status::Holds:
      return "holds";
    case Status::Fails:
      return "fails";
    case Status::Vacuous:
      return "vacuous";
    case Status::Unknown:
      break;
  }
  return "unknown";
}

// The vacuity check of one row (a Fails row is its own witness).
struct Vacuity {
  bool premises =
      true;         // the inductive step's premises (invariant, well_formed, T) are satisfiable
  int witness = 0;  // the depth of a trace from init reaching the antecedent; 0: none found
  bool ops_accepted = true;  // valid() accepts every representable corpus op (Sample)
  double ms = 0;             // time spent on the premise and witness checks
  std::string reason() const {
    if (!premises) return "premises unsatisfiable";
    if (witness == 0) return "antecedent unreachable within the BMC bound";
    if (!ops_accepted) return "valid() rejects corpus ops";
    return "";
  }
};

template <class Op>
struct Result {
  std::string invariant, profile;
  Status status = Status::Unknown;
  int k = 0;  // Holds: induction depth; Fails: counterexample length (shortest)
  double ms = 0;
  std::optional<lockstep::Trace<Op>> counterexample;
  Vacuity vacuity;
};

struct CheckLimits {
  int max_k = 3;    // induction depth tried
  int max_bmc = 8;  // BMC depth searched for a counterexample and for the antecedent's witness
  unsigned timeout_ms = 20000;
};

// The driver's own bounds, listed with each protocol's (proofs/scope.h).
inline std::vector<ScopeEntry> limit_bounds(const CheckLimits& l) {
  return {
      {"bmc-depth", "counterexamples and antecedent witnesses are searched in traces of at most " +
                        std::to_string(l.max_bmc) + " ops from the initial state"},
      {"induction-depth", "k-induction over the abstract model tries k = 1.." +
                              std::to_string(l.max_k) + "; no k: unknown"}};
}

template <class E>
struct StepView {
  const typename E::SymState& pre;
  const typename E::SymAction& a;
  const typename E::StepResult& r;  // r.next: the post-state
};

// An invariant of a model, checked on its encoding: a state part on every reachable state, a
// step part on every transition taken from a reachable state; either may be absent. One file
// each under proofs/<protocol>/invariants/, listed in proofs/<protocol>/invariants.def.
// The antecedent is what makes it say something: the step part is checked as
// antecedent => step; for a state part it names the steps into states where the state part
// constrains something (a live device, a held uffd). The vacuity check wants a trace within the
// BMC bound that reaches it. Empty: true.
template <class E>
struct Invariant {
  std::string name;    // the file stem and the counterexample file prefix (set from the list)
  std::string clause;  // the spec clause it captures
  std::function<z3::expr(E&, const typename E::SymState&)> state;  // may be empty
  std::function<z3::expr(E&, const StepView<E>&)> step;            // may be empty
  std::function<z3::expr(E&, const StepView<E>&)> antecedent;      // may be empty
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
z3::expr antecedent(E& e, const Invariant<E>& inv, const typename E::SymState& pre,
                    const typename E::SymAction& a, const typename E::StepResult& r) {
  return inv.antecedent ? inv.antecedent(e, StepView<E>{pre, a, r}) : e.ctx().bool_val(true);
}

template <class E>
z3::expr property(E& e, const Invariant<E>& inv, const typename E::SymState& pre,
                  const typename E::SymAction& a, const typename E::StepResult& r) {
  z3::expr q = e.ctx().bool_val(true);
  if (inv.state) q = q && inv.state(e, r.next);
  if (inv.step)
    q = q && z3::implies(antecedent(e, inv, pre, a, r), inv.step(e, StepView<E>{pre, a, r}));
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
// asserted on one solver, extended on demand and shared by every invariant of a profile (each
// check adds its own assertions inside push/pop). `tag` keeps the base case's names apart from
// the inductive step's.
template <class E>
struct Unrolling {
  E& e;
  z3::solver& solver;
  char tag;
  std::vector<typename E::SymState> states;
  std::vector<typename E::SymAction> actions;
  std::vector<typename E::StepResult> steps;  // steps[n - 1]: step n, its next == states[n]

  Unrolling(E& e, z3::solver& solver, char tag)
      : e(e), solver(solver), tag(tag), states{e.fresh_state(std::string{tag} + "0_")} {}

  // Step n (from states[n-1]), added when not there yet: call it outside the solver's push
  // scopes, or the pop drops the step's assertions.
  const typename E::StepResult& step(int n) {
    while (static_cast<int>(steps.size()) < n) {
      const int m = static_cast<int>(steps.size()) + 1;
      actions.push_back(e.fresh_action(std::string{tag} + "a" + std::to_string(m - 1) + "_"));
      states.push_back(e.fresh_state(std::string{tag} + std::to_string(m) + "_"));
      typename E::StepResult r = e.step(states[m - 1], actions[m - 1]);
      solver.add(e.valid(states[m - 1], actions[m - 1]));
      solver.add(e.equal(states[m], r.next));
      if constexpr (requires { e.name_outputs(solver, r, tag, m); })
        e.name_outputs(solver, r, tag, m);
      r.next = states[m];
      steps.push_back(r);
    }
    return steps[n - 1];
  }
  z3::expr property(const Invariant<E>& inv, int n) {
    const auto& r = step(n);
    return proofs::property(e, inv, states[n - 1], actions[n - 1], r);
  }
  z3::expr antecedent(const Invariant<E>& inv, int n) {
    const auto& r = step(n);
    return proofs::antecedent(e, inv, states[n - 1], actions[n - 1], r);
  }
};

template <class T>
double ms_since(T t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Whether the assertions, with q added for this check only, are satisfiable.
inline z3::check_result check_with(z3::solver& s, const z3::expr& q) {
  s.push();
  s.add(q);
  const z3::check_result r = s.check();
  s.pop();
  return r;
}

}  // namespace detail

// Every invariant of one profile, on two unrollings of its transition relation shared by all of
// them (the base case from the initial state, the inductive step from an arbitrary state).
// check(inv) is k-induction with BMC for the counterexample: the base case searches depth
// 1..max_bmc for a shortest violation; the inductive step, from an arbitrary state satisfying the
// invariant (and well_formed when strengthened) for n steps, tries n = 1..max_k. The search stops
// once the induction closed and the vacuity check found its witness: a trace from the initial
// state, at most max_bmc ops, whose last step satisfies the antecedent. An induction that closes
// on unsatisfiable premises, or without a witness, is Vacuous.
template <Encoding E>
class Prover {
 public:
  using Op = typename E::Op;
  Prover(z3::context& c, const typename E::Profile& profile, CheckLimits limits = {})
      : profile_(profile),
        limits_(limits),
        e_(c, profile),
        base_(detail::make_solver<E>(c, limits)),
        ind_(detail::make_solver<E>(c, limits)),
        b_(e_, base_, 'b'),
        i_(e_, ind_, 'i') {
    base_.add(e_.init(b_.states[0]));
  }

  Result<Op> check(const Invariant<E>& inv) {
    auto t0 = std::chrono::steady_clock::now();
    Result<Op> res{inv.name, profile_.name, Status::Unknown, 0, 0, std::nullopt, {}};
    if (inv.state && detail::check_with(base_, !inv.state(e_, b_.states[0])) == z3::sat) {
      res.status = Status::Fails;
      res.counterexample = lockstep::Trace<Op>{profile_.name, {}, {}, {}, {}};
    }
    for (int n = 1; n <= limits_.max_bmc; ++n) {
      const bool searching = res.status == Status::Unknown;
      if (!searching && (res.status != Status::Holds || res.vacuity.witness)) break;
      if (!res.vacuity.witness) {  // a trace reaching the antecedent (base premises satisfiable)
        auto tw = std::chrono::steady_clock::now();
        if (detail::check_with(base_, b_.antecedent(inv, n)) == z3::sat) res.vacuity.witness = n;
        res.vacuity.ms += detail::ms_since(tw);
      }
      if (!searching) continue;
      if (!base_case(inv, n, res)) break;
      if (n <= limits_.max_k) inductive_step(inv, n, res);
    }
    if (res.status == Status::Holds && (!res.vacuity.premises || !res.vacuity.witness))
      res.status = Status::Vacuous;
    res.ms = detail::ms_since(t0);
    return res;
  }

 private:
  // A violation on step n of a trace from the initial state: Fails with the trace. False when
  // the search ends (a counterexample, or Z3 gave up).
  bool base_case(const Invariant<E>& inv, int n, Result<Op>& res) {
    b_.step(n);  // the unrolling's own assertions go below the push
    base_.push();
    base_.add(!b_.property(inv, n));
    const z3::check_result br = base_.check();
    if (br == z3::sat) {
      z3::model m = base_.get_model();
      lockstep::Trace<Op> t{profile_.name, {}, {}, {}, {}};
      for (int j = 0; j < n; ++j) t.ops.push_back(e_.concrete_op(m, b_.actions[j]));
      res.status = Status::Fails;
      res.k = n;
      res.counterexample = t;
    }
    base_.pop();
    return br == z3::unsat;
  }
  // n steps from a state satisfying the invariant, each satisfying it but the last: Holds when
  // impossible, and then whether the premises admit any state at all.
  void inductive_step(const Invariant<E>& inv, int n, Result<Op>& res) {
    i_.step(n);  // the unrolling's own assertions go below the push
    ind_.push();
    if (inv.state) ind_.add(inv.state(e_, i_.states[0]));
    // Sound: well_formed is itself proved invariant, so it holds on every reachable state.
    if (inv.strengthened)
      for (int j = 0; j <= n; ++j) ind_.add(e_.well_formed(i_.states[j]));
    for (int j = 1; j < n; ++j) ind_.add(i_.property(inv, j));
    if (detail::check_with(ind_, !i_.property(inv, n)) == z3::unsat) {
      res.status = Status::Holds;
      res.k = n;
      auto tp = std::chrono::steady_clock::now();
      res.vacuity.premises = ind_.check() == z3::sat;  // the step's premises admit a state
      res.vacuity.ms += detail::ms_since(tp);
    }
    ind_.pop();
  }

  const typename E::Profile& profile_;
  CheckLimits limits_;
  E e_;
  z3::solver base_, ind_;
  detail::Unrolling<E> b_, i_;
};

template <Encoding E>
Result<typename E::Op> check(z3::context& c, const Invariant<E>& inv,
                             const typename E::Profile& profile, CheckLimits limits = {}) {
  return Prover<E>(c, profile, limits).check(inv);
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
      : Evaluator(std::make_unique<z3::context>(), nullptr, profile) {}
  // On the caller's context (as `lockstep prove` does: one context per protocol).
  Evaluator(z3::context& c, const typename E::Profile& profile) : Evaluator(nullptr, &c, profile) {}
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
  // Whether the encoding's valid() admits the action from the state.
  bool valid(const std::vector<uint64_t>& state, const std::vector<uint64_t>& action) {
    return bind(state, action).eval(valid_, true).is_true();
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
  Evaluator(std::unique_ptr<z3::context> own, z3::context* shared,
            const typename E::Profile& profile)
      : own_(std::move(own)),
        c_(shared ? *shared : *own_),
        e_(c_, profile),
        s_(e_.fresh_state("s_")),
        a_(e_.fresh_action("a_")),
        r_(e_.step(s_, a_)),
        valid_(e_.valid(s_, a_)) {
    z3::solver init(c_);
    init.add(e_.init(s_));
    init.check();
    init_ = values_of(init.get_model(), s_.all());
  }
  std::unique_ptr<z3::context> own_;  // null on the caller's context
  z3::context& c_;
  E e_;
  typename E::SymState s_;
  typename E::SymAction a_;
  typename E::StepResult r_;
  z3::expr valid_;
  std::vector<uint64_t> init_;
};

// ---- lockstep prove ------------------------------------------------------------------------

// A protocol's proof binding (proofs/<protocol>/binding.h): its encoding, its invariants, how to
// find and list its profiles, the scope of its proofs (bounds and exclusions, proofs/scope.h), and
// its choices: acceptable(profile, status) says whether a result leaves the exit code 0 (a
// vacuous one counts as a failure: where a failure is a finding, so is a vacuous proof; where
// everything must hold, it is an error), fuzz_profile(profile) names the profile a counterexample's
// fuzz input is encoded under. The protocol's print_text(trace) and encode_input(trace) are found
// by argument-dependent lookup.
template <Encoding E, auto kInvariants, auto kFindProfile, auto kShippedProfiles,
          auto kMutantProfiles, auto kAcceptable, auto kFuzzProfile, auto kScope>
struct Binding {
  using Encoding = E;
  using Profile = typename E::Profile;
  static std::vector<Invariant<E>> invariants() { return kInvariants(); }
  static const Profile* find_profile(std::string_view name) { return kFindProfile(name); }
  static std::vector<const Profile*> shipped_profiles() { return kShippedProfiles(); }
  static std::vector<const Profile*> mutant_profiles() { return kMutantProfiles(); }
  static bool acceptable(const Profile& p, Status s) {
    return kAcceptable(p, s == Status::Vacuous ? Status::Fails : s);
  }
  static std::string fuzz_profile(const std::string& profile) { return kFuzzProfile(profile); }
  // The encoding's bounds and exclusions, then the driver's limits.
  static Scope scope(const CheckLimits& limits = {}) {
    Scope s = kScope();
    for (auto& b : limit_bounds(limits)) s.bounds.push_back(std::move(b));
    return s;
  }
};

// Writes `bytes` to `path`; InputError when it cannot (the directory was checked writable
// before the proofs ran, so this is a full disk or a path that changed since).
inline void write_output(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) throw InputError(path + ": cannot write: " + std::strerror(errno));
}

// <dir>/<invariant>__<profile>.txt (the program) and .bin (the fuzz input; none when the trace
// has no fuzz-input encoding).
template <class B, class Trace>
void emit_counterexample(const std::string& dir, const std::string& invariant, const Trace& t) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  fs::path stem = fs::path(dir) / (invariant + "__" + t.profile);
  write_output(stem.string() + ".txt", print_text(t));
  std::vector<uint8_t> bytes;
  try {
    Trace bin = t;
    bin.profile = B::fuzz_profile(t.profile);
    bytes = encode_input(bin);
  } catch (const std::exception& ex) {
    std::cerr << "lockstep prove: " << stem.string() << ".bin: " << ex.what() << "\n";
    return;
  }
  write_output(stem.string() + ".bin", {reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

// The corpus programs a protocol's vacuity sample replays: (file name, trace).
template <class T>
using Programs = std::vector<std::pair<std::string, typename T::Trace>>;

// The vacuity check's sample: every op of the corpus programs, run by the model under the profile
// being proved; each op the abstraction represents (project() of the state, abstract_op()) must
// be admitted by the encoding's valid(), or the proofs skip behaviour the model has.
template <class T, class E>
Sample sample_ops(Evaluator<E>& ev, const typename E::Profile& profile,
                  const Programs<T>& programs) {
  auto t0 = std::chrono::steady_clock::now();
  Sample s;
  for (const auto& [file, trace] : programs) {
    typename T::Model model(profile);
    for (size_t i = 0; i < trace.ops.size(); ++i) {
      ++s.ops;
      auto pre = ev.encoding().project(model.state());
      auto action = ev.encoding().abstract_op(model.state(), trace.ops[i]);
      model.step(trace.ops[i]);
      if (!pre || !action) continue;
      ++s.representable;
      if (ev.valid(*pre, *action))
        ++s.accepted;
      else
        s.rejected.push_back(file + ":" + std::to_string(i + 1));
    }
  }
  s.ms = detail::ms_since(t0);
  return s;
}

template <class T>
Programs<T> read_corpus_programs(const std::string& corpus_root) {
  Programs<T> out;
  for (auto& [path, text] :
       read_programs(std::filesystem::path(corpus_root) / "programs" / std::string(T::kCorpus)))
    out.emplace_back(path.filename().string(),
                     parse_program_file(path, text, [](auto t) { return T::parse(t); }));
  return out;
}

struct ProveOptions {
  std::string profile;      // empty: shipped + mutants
  std::string emit_corpus;  // directory, or empty
  std::string corpus_root = "corpus";
  CheckLimits limits;
  bool (*stop)() =
      nullptr;  // true: stop before the next proof (Ctrl-C); the report covers what ran
  std::function<void()> on_result;  // after each row (the progress line); may be empty
};

// Every invariant on every profile (or the one named), with its vacuity check, as the report of
// proofs/report.h; counterexamples written to emit_corpus unless it is empty. T is a protocol
// binding of tools/bindings.h (T::Proofs, T::Model, T::parse, T::kName, T::kCorpus). exit: 0 when
// every result is acceptable to the binding, 1 otherwise (a vacuous row, a corpus without
// programs), 2 for an unknown profile.
template <class T>
ProveReport prove(const ProveOptions& o) {
  using B = typename T::Proofs;
  using E = typename B::Encoding;
  ProveReport out{0, report_header(T::kName, B::scope(o.limits), o.corpus_root, T::kCorpus)};
  std::vector<const typename E::Profile*> profiles;
  if (!o.profile.empty()) {
    const auto* p = B::find_profile(o.profile);
    if (!p) {
      std::string valid;
      for (const auto& list : {B::shipped_profiles(), B::mutant_profiles()})
        for (const auto* known : list) valid += (valid.empty() ? "" : ", ") + known->name;
      std::cerr << "lockstep prove: unknown " << T::kName << " profile '" << o.profile
                << "' (valid: " << valid << ")\n";
      out.exit = 2;
      return out;
    }
    profiles.push_back(p);
  } else {
    profiles = B::shipped_profiles();
    for (const auto* p : B::mutant_profiles()) profiles.push_back(p);
  }
  const Programs<T> programs = read_corpus_programs<T>(o.corpus_root);
  if (programs.empty()) {
    std::cerr << "lockstep prove: no programs under " << o.corpus_root << "/programs/" << T::kCorpus
              << " for the vacuity sample (--corpus)\n";
    out.exit = 1;
  }
  z3::context c;  // one for the protocol: creating and tearing down one costs ~25 ms
  for (const auto* p : profiles) {
    if (o.stop && o.stop()) break;
    Evaluator<E> ev(c, *p);
    const Sample sample = sample_ops<T>(ev, *p, programs);
    add_sample(out.json, p->name, sample);
    Prover<E> prover(c, *p, o.limits);
    for (const Invariant<E>& inv : B::invariants()) {
      if (o.stop && o.stop()) break;
      auto r = prover.check(inv);
      r.vacuity.ops_accepted = sample.rejected.empty() && sample.representable > 0;
      if (r.status == Status::Holds && !r.vacuity.ops_accepted) r.status = Status::Vacuous;
      const bool expected = B::acceptable(*p, r.status);
      if (!expected) out.exit = 1;
      if (!o.emit_corpus.empty() && r.counterexample && !inv.auxiliary)
        emit_counterexample<B>(o.emit_corpus, inv.name, *r.counterexample);
      add_result(out.json, r, p->mutant, expected, [](const auto& t) { return print_text(t); });
      if (o.on_result) o.on_result();
    }
  }
  return out;
}

}  // namespace lockstep::proofs
