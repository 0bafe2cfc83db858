// A symbolic transition relation of model/mshv (model/mshv/model.cc) over a bounded state, in
// Z3 bit-vectors. T(s, a) -> (s', err) is written rule for rule like Model::step, citing the same
// kernel functions; tests/proofs/encoding_equivalence_test.cc checks that it computes exactly
// what Model::step computes, profile by profile.
//
// Bounds: kPartitions partitions, kDevices devices (every CREATE_DEVICE names one, whether or
// not it succeeds), kVfioFiles VFIO files, kPlainFiles plain files. An op that would create a
// handle beyond its bound is not enabled (valid() is false); traces are otherwise unbounded.
// A device's file list is a multiset (count per VFIO file): Model keeps a vector, but only the
// multiset is observable (DEL erases one match, release clears, resources() counts).
#pragma once
#include <z3++.h>

#include <optional>
#include <string>
#include <vector>

#include "core/mshv/ops.h"
#include "model/mshv/model.h"
#include "model/mshv/profiles.h"

namespace lockstep::mshv::proofs {

constexpr int kPartitions = 2, kDevices = 3, kVfioFiles = 3, kPlainFiles = 1;
constexpr unsigned kNoPartition = 0xFF;  // DeviceState::partition == -1

// Op kinds: the index in the Op variant.
constexpr int kOpenPartition = 0, kOpenFile = 1, kCreate = 2, kSet = 3, kHas = 4, kGet = 5,
              kRaw = 6, kClose = 7, kFailNext = 8, kOpKinds = 9;
// FdKind of Model::kind_of.
constexpr int kNone = 0, kPart = 1, kDev = 2, kVfio = 3, kPlain = 4;

struct SymState {
  z3::expr np, nd, nf, nn;                 // bv8 handle counts (HandleCounts)
  std::vector<z3::expr> p_open, p_refs;    // Bool, bv8
  std::vector<z3::expr> d_part;            // bv8 (0xFF: -1)
  std::vector<z3::expr> d_live, d_known;   // Bool
  std::vector<z3::expr> d_type;            // bv32 ghost: the type the device was created with
  std::vector<std::vector<z3::expr>> cnt;  // [device][vfio file] bv8: copies in the file list
  std::vector<z3::expr> f_open, n_open;    // Bool
  z3::expr leaked;                         // bv8
  z3::expr armed;                          // bv2: 0 none, 1 + Site
  std::vector<z3::expr> all() const;       // every component, in a fixed order
};

struct SymAction {
  z3::expr kind;         // bv4, OpKind
  z3::expr vfio;         // Bool (OpenFile)
  z3::expr hk, hi;       // bv2 handle kind (0 p, 1 d, 2 f, 3 n), bv8 index: part/dev/h
  z3::expr type, flags;  // bv32 (CreateDevice)
  z3::expr mem;          // bv2 Mem
  z3::expr group;        // bv32
  z3::expr attr;         // bv64
  z3::expr fdk;          // bv2 FdArg::Kind
  z3::expr fk, fi;       // bv2, bv8: FdArg handle
  z3::expr request;      // bv32 (RawIoctl)
  z3::expr site;         // bv2 Site
  std::vector<z3::expr> all() const;
};

struct StepResult {
  SymState next;
  z3::expr err;  // bv8 errno
};

class Encoding {
 public:
  Encoding(z3::context& c, const Profile& profile) : c_(c), profile_(profile) {}
  z3::context& ctx() { return c_; }
  const Profile& profile() const { return profile_; }

  SymState fresh_state(const std::string& prefix);
  SymAction fresh_action(const std::string& prefix);
  z3::expr init(const SymState& s);                        // the empty state
  z3::expr valid(const SymState& s, const SymAction& a);   // enabled and codec-expressible
  StepResult step(const SymState& s, const SymAction& a);  // T
  z3::expr equal(const SymState& a, const SymState& b);    // component-wise
  // Well-formedness: counts within bounds, slots beyond a count untouched, live devices point
  // at existing partitions. Auxiliary invariant used to strengthen induction.
  z3::expr well_formed(const SymState& s);

  // Concrete <-> symbolic.
  z3::expr state_is(const SymState& s, const State& concrete);  // s == concrete
  z3::expr action_is(const SymAction& a, const Op& op);         // a == op
  std::vector<z3::expr> state_values(const State& concrete);    // aligned with SymState::all()
  std::vector<z3::expr> action_values(const Op& op);            // aligned with SymAction::all()
  Op action_of(const z3::model& m, const SymAction& a);
  static std::vector<uint64_t> values_of(const z3::model& m, const std::vector<z3::expr>& v);
  // Positions of the ghost d_type components in SymState::all() (unknown to Model).
  static std::vector<size_t> ghost_positions();
  // The bounds of this encoding admit the concrete state.
  static bool within_bounds(const State& s);

 private:
  z3::expr bv(uint64_t v, unsigned w) { return c_.bv_val(v, w); }
  z3::expr kind_of(const SymState& s, const z3::expr& hk, const z3::expr& hi);

  z3::context& c_;
  const Profile& profile_;
};

}  // namespace lockstep::mshv::proofs
