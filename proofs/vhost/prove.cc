#include "proofs/vhost/prove.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "core/vhost/codec.h"
#include "proofs/report.h"

namespace lockstep::vhost::proofs {

const char* to_string(Status s) {
  return s == Status::Holds ? "holds" : s == Status::Fails ? "fails" : "unknown";
}

std::vector<Invariant> all_invariants() {
  return {well_formed(),
          one_uffd_per_connection(),
          uffd_iff_postcopy_phase(),
          end_leaves_no_uffd(),
          reset_owner_releases(),
          disconnect_releases(),
          listen_after_advise(),
          table_reply_only_listening(),
          advise_reply_shape(),
          unused_fds_closed(),
          reply_flags(),
          region_fds_bounded(),
          ack_before_register()};
}

namespace {
z3::expr property(Encoding& e, const Invariant& inv, const SymState& pre, const SymAction& a,
                  const StepResult& r) {
  z3::expr q = e.ctx().bool_val(true);
  if (inv.state) q = q && inv.state(e, r.next);
  if (inv.step) q = q && inv.step(e, StepView{pre, a, r});
  return q;
}
}  // namespace

Result check(const Invariant& inv, const Profile& profile, CheckLimits limits) {
  z3::context c;
  return check(c, inv, profile, limits);
}

Result check(z3::context& c, const Invariant& inv, const Profile& profile, CheckLimits limits) {
  auto t0 = std::chrono::steady_clock::now();
  Result res{inv.name, profile.name, Status::Unknown, 0, 0, std::nullopt};
  Encoding e(c, profile);
  z3::params p(c);
  p.set("timeout", limits.timeout_ms);
  z3::solver base(c), ind(c);
  base.set(p);
  ind.set(p);
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
    ba.push_back(e.fresh_action("ba" + std::to_string(n - 1) + "_"));
    bs.push_back(e.fresh_state("b" + std::to_string(n) + "_"));
    StepResult r = e.step(bs[n - 1], ba[n - 1]);
    base.add(e.valid(bs[n - 1], ba[n - 1]));
    base.add(e.equal(bs[n], r.next));
    r.next = bs[n];
    z3::expr q = property(e, inv, bs[n - 1], ba[n - 1], r);
    base.push();
    base.add(!q);
    auto br = base.check();
    if (br == z3::sat) {
      z3::model m = base.get_model();
      Trace t{profile.name, {}, {}};
      for (int i = 0; i < n; ++i) t.ops.push_back(e.concrete_op(m, ba[i]));
      res.status = Status::Fails;
      res.k = n;
      res.counterexample = t;
      break;
    }
    base.pop();
    if (br == z3::unknown) break;
    base.add(q);
    if (induction_done || n > limits.max_k) continue;
    ia.push_back(e.fresh_action("ia" + std::to_string(n - 1) + "_"));
    is.push_back(e.fresh_state("i" + std::to_string(n) + "_"));
    StepResult ri = e.step(is[n - 1], ia[n - 1]);
    ind.add(e.valid(is[n - 1], ia[n - 1]));
    ind.add(e.equal(is[n], ri.next));
    // Sound: well_formed is proved invariant first (auxiliary), so it holds when reachable.
    if (inv.strengthened) ind.add(e.well_formed(is[n]));
    ri.next = is[n];
    z3::expr qi = property(e, inv, is[n - 1], ia[n - 1], ri);
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
  z3::solver init(c_);
  init.add(e_.init(s_));
  init.check();
  init_ = Encoding::values_of(init.get_model(), s_.all());
}

z3::model Evaluator::bind(const std::vector<uint64_t>& state, const std::vector<uint64_t>& action) {
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

Evaluator::Step Evaluator::step(const std::vector<uint64_t>& state,
                                const std::vector<uint64_t>& action) {
  z3::model m = bind(state, action);
  Step st;
  st.next = Encoding::values_of(m, r_.next.all());
  st.reply = Encoding::values_of(
      m, {r_.reply.has, r_.reply.flags, r_.reply.size, r_.reply.fds, r_.reply.table});
  if (!st.reply[0]) st.reply = {0, 0, 0, 0, 0};
  return st;
}

bool Evaluator::holds(const Invariant& inv, const std::vector<uint64_t>& state,
                      const std::vector<uint64_t>& action) {
  z3::model m = bind(state, action);
  return m.eval(property(e_, inv, s_, a_, r_), true).is_true();
}

// ---- lockstep prove --protocol vhost -----------------------------------------------------

int prove_command(const std::string& profile, bool json, const std::string& emit_corpus) {
  std::vector<const Profile*> profiles;
  if (!profile.empty()) {
    const Profile* p = find_profile(profile);
    if (!p) {
      std::cerr << "prove: unknown vhost profile '" << profile << "'\n";
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
    z3::context c;
    for (const Invariant& inv : all_invariants()) {
      Result r = check(c, inv, *p);
      total_ms += r.ms;
      if (!p->mutant) shipped_ms += r.ms;
      if (r.status == Status::Unknown) ok = false;  // fails on third-party profiles = findings
      if (p->name == "spec" && r.status != Status::Holds) ok = false;
      results.push_back(r);
      if (!emit_corpus.empty() && r.counterexample && !inv.auxiliary) {
        namespace fs = std::filesystem;
        fs::create_directories(emit_corpus);
        fs::path stem = fs::path(emit_corpus) / (inv.name + "__" + p->name);
        std::ofstream(stem.string() + ".txt") << print_text(*r.counterexample);
        try {  // a fuzz input selects only `spec`: the binary replays the trace under spec
          Trace bin = *r.counterexample;
          bin.profile = "spec";
          auto bytes = encode_input(bin);
          std::ofstream(stem.string() + ".bin", std::ios::binary)
              .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        } catch (const std::exception& ex) {
          std::cerr << "prove: " << stem.string() << ".bin: " << ex.what() << "\n";
        }
      }
    }
  }
  lockstep::proofs::print_results("vhost", results, shipped_ms, total_ms, json,
                                  [](const Trace& t) { return print_text(t); });
  return ok ? 0 : 1;
}

}  // namespace lockstep::vhost::proofs
