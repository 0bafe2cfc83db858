#include "proofs/mshv/prove.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "core/mshv/codec.h"
#include "proofs/report.h"
#include "proofs/vhost/prove.h"

namespace lockstep::mshv::proofs {

const char* to_string(Status s) {
  return s == Status::Holds ? "holds" : s == Status::Fails ? "fails" : "unknown";
}

std::vector<Invariant> all_invariants() {
  return {well_formed(),
          device_type_valid(),
          test_never_changes_state(),
          one_vfio_device_per_partition(),
          no_duplicate_file(),
          file_refs_owned(),
          partition_refcount(),
          failed_op_unchanged()};
}

z3::expr semantic_equal(Encoding& e, const SymState& a, const SymState& b) {
  z3::expr ok = e.ctx().bool_val(true);
  auto eq = [&](const std::vector<z3::expr>& x, const std::vector<z3::expr>& y) {
    for (size_t i = 0; i < x.size(); ++i) ok = ok && x[i] == y[i];
  };
  eq(a.p_open, b.p_open);
  eq(a.p_refs, b.p_refs);
  eq(a.d_part, b.d_part);
  eq(a.d_live, b.d_live);
  eq(a.d_known, b.d_known);
  for (int j = 0; j < kDevices; ++j) eq(a.cnt[j], b.cnt[j]);
  eq(a.f_open, b.f_open);
  eq(a.n_open, b.n_open);
  return ok && a.leaked == b.leaked;
}

namespace {

z3::expr property(Encoding& e, const Invariant& inv, const SymState& pre, const SymAction& a,
                  const StepResult& r) {
  z3::expr q = e.ctx().bool_val(true);
  if (inv.state) q = q && inv.state(e, r.next);
  if (inv.step) q = q && inv.step(e, StepView{pre, a, r.next, r.err});
  return q;
}

}  // namespace

Result check(const Invariant& inv, const Profile& profile, CheckLimits limits) {
  auto t0 = std::chrono::steady_clock::now();
  Result res{inv.name, profile.name, Status::Unknown, 0, 0, std::nullopt};
  z3::context c;
  Encoding e(c, profile);
  z3::params p(c);
  p.set("timeout", limits.timeout_ms);
  z3::solver base(c, "QF_BV"), ind(c, "QF_BV");
  base.set(p);
  ind.set(p);

  // Base: init(s0) /\ T(s0,a0,s1) /\ ... ; Step: P(t0) /\ T ... over an arbitrary t0.
  std::vector<SymState> bs{e.fresh_state("b0_")}, is{e.fresh_state("i0_")};
  std::vector<SymAction> ba, ia;
  base.add(e.init(bs[0]));
  if (inv.state) {
    base.push();
    base.add(!inv.state(e, bs[0]));
    if (base.check() == z3::sat) {
      res.status = Status::Fails;
      res.counterexample = Trace{profile.name, {}, {}};
    }
    base.pop();
    ind.add(inv.state(e, is[0]));
  }
  if (inv.strengthened) ind.add(e.well_formed(is[0]));
  bool induction_done = false;
  for (int n = 1; n <= limits.max_bmc && res.status == Status::Unknown; ++n) {
    // BMC at depth n
    ba.push_back(e.fresh_action("ba" + std::to_string(n - 1) + "_"));
    bs.push_back(e.fresh_state("b" + std::to_string(n) + "_"));
    StepResult r = e.step(bs[n - 1], ba[n - 1]);
    base.add(e.valid(bs[n - 1], ba[n - 1]));
    base.add(e.equal(bs[n], r.next));
    z3::expr errv = c.bv_const(("berr" + std::to_string(n)).c_str(), 8);
    base.add(errv == r.err);
    StepResult rv{bs[n], errv};
    z3::expr q = property(e, inv, bs[n - 1], ba[n - 1], rv);
    base.push();
    base.add(!q);
    auto br = base.check();
    if (br == z3::sat) {
      z3::model m = base.get_model();
      Trace t{profile.name, {}, {}};
      for (int i = 0; i < n; ++i) t.ops.push_back(e.action_of(m, ba[i]));
      res.status = Status::Fails;
      res.k = n;
      res.counterexample = t;
      break;
    }
    base.pop();
    if (br == z3::unknown) break;
    base.add(q);
    if (induction_done || n > limits.max_k) continue;
    // Induction step at depth n
    ia.push_back(e.fresh_action("ia" + std::to_string(n - 1) + "_"));
    is.push_back(e.fresh_state("i" + std::to_string(n) + "_"));
    StepResult ri = e.step(is[n - 1], ia[n - 1]);
    ind.add(e.valid(is[n - 1], ia[n - 1]));
    ind.add(e.equal(is[n], ri.next));
    // Sound: well_formed is itself proved invariant, so it holds on every reachable state.
    if (inv.strengthened) ind.add(e.well_formed(is[n]));
    z3::expr ierr = c.bv_const(("ierr" + std::to_string(n)).c_str(), 8);
    ind.add(ierr == ri.err);
    z3::expr qi = property(e, inv, is[n - 1], ia[n - 1], StepResult{is[n], ierr});
    ind.push();
    ind.add(!qi);
    auto ir = ind.check();
    ind.pop();
    ind.add(qi);
    if (ir == z3::unsat) {
      res.status = Status::Holds;
      res.k = n;
      induction_done = true;
    }
  }
  res.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

// ---- concrete evaluation -----------------------------------------------------------------

Evaluator::Evaluator(const Profile& profile)
    : e_(c_, profile), s_(e_.fresh_state("s_")), a_(e_.fresh_action("a_")), r_(e_.step(s_, a_)) {
  outs_ = r_.next.all();
  outs_.push_back(r_.err);
  z3::solver init(c_);
  init.add(e_.init(s_));
  init.check();
  init_ = state_ = Encoding::values_of(init.get_model(), s_.all());
}

void Evaluator::reset() {
  state_ = init_;
  pre_.clear();
  last_.reset();
}

z3::model Evaluator::bind(const std::vector<uint64_t>& state, const std::vector<z3::expr>& action) {
  z3::model m(c_);
  auto vars = s_.all();
  auto put = [&](const z3::expr& var, const z3::expr& val) {
    z3::func_decl d = var.decl();
    z3::expr v = val;
    m.add_const_interp(d, v);
  };
  for (size_t i = 0; i < vars.size(); ++i)
    put(vars[i], vars[i].is_bool() ? c_.bool_val(state[i] != 0)
                                   : c_.bv_val(state[i], vars[i].get_sort().bv_size()));
  auto avars = a_.all();
  for (size_t i = 0; i < avars.size(); ++i) put(avars[i], action[i]);
  return m;
}

int Evaluator::step(const Op& op) {
  z3::model m = bind(state_, e_.action_values(op));
  auto v = Encoding::values_of(m, outs_);
  pre_ = state_;
  last_ = op;
  int err = static_cast<int>(v.back());
  v.pop_back();
  state_ = v;
  return err;
}

std::vector<uint64_t> Evaluator::encode(const State& st) {
  z3::model m(c_);
  return Encoding::values_of(m, e_.state_values(st));
}

bool Evaluator::holds_last(const Invariant& inv) {
  if (!last_) {
    if (!inv.state) return true;
    z3::model m = bind(state_, e_.action_values(OpenPartition{}));
    return m.eval(inv.state(e_, s_), true).is_true();
  }
  z3::model m = bind(pre_, e_.action_values(*last_));
  return m.eval(property(e_, inv, s_, a_, r_), true).is_true();
}

// ---- lockstep prove ----------------------------------------------------------------------

int prove_command(const ProveOptions& o) {
  if (o.protocol == "vhost")
    return lockstep::vhost::proofs::prove_command(o.profile, o.json, o.emit_corpus);
  if (o.protocol != "mshv") {
    std::cerr << "prove: protocol '" << o.protocol << "' has no proofs (mshv, vhost)\n";
    return 2;
  }
  std::vector<const Profile*> profiles;
  if (!o.profile.empty()) {
    const Profile* p = find_profile(o.profile);
    if (!p) {
      std::cerr << "prove: unknown profile '" << o.profile << "'\n";
      return 2;
    }
    profiles.push_back(p);
  } else {
    profiles = shipped_profiles();
    for (auto* p : mutant_profiles()) profiles.push_back(p);
  }
  std::vector<Result> results;
  double shipped_ms = 0, total_ms = 0;
  bool ok = true;
  for (const Profile* p : profiles) {
    for (const Invariant& inv : all_invariants()) {
      Result r = check(inv, *p);
      total_ms += r.ms;
      if (!p->mutant) {
        shipped_ms += r.ms;
        if (r.status != Status::Holds) ok = false;
      }
      results.push_back(r);
      if (!o.emit_corpus.empty() && r.counterexample && !inv.auxiliary) {
        namespace fs = std::filesystem;
        fs::create_directories(o.emit_corpus);
        fs::path stem = fs::path(o.emit_corpus) / (inv.name + "__" + p->name);
        Trace t = *r.counterexample;
        std::ofstream(stem.string() + ".txt") << print_text(t);
        try {  // the fuzz input can only select mshv-v1/mshv-strict: the impl runs mshv-v1
          Trace bin = t;
          if (bin.profile != "mshv-strict") bin.profile = "mshv-v1";
          auto bytes = encode_input(bin);
          std::ofstream(stem.string() + ".bin", std::ios::binary)
              .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        } catch (const std::exception& ex) {
          std::cerr << "prove: " << stem.string() << ".bin: " << ex.what() << "\n";
        }
      }
    }
  }
  lockstep::proofs::print_results("mshv", results, shipped_ms, total_ms, o.json,
                                  [](const Trace& t) { return print_text(t); });
  return ok ? 0 : 1;
}

}  // namespace lockstep::mshv::proofs
