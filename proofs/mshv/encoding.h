// A symbolic transition relation of model/mshv (model/mshv/model.cc) over a bounded state, in
// Z3 bit-vectors. T(s, a) -> (s', err) is written rule for rule like Model::step, one member per
// Model function, citing the same kernel functions; its state mirrors mshv::State field for
// field. tests/proofs/mshv/encoding_test.cc checks that it computes exactly what
// Model::step computes, profile by profile.
//
// Bounds: kPartitions partitions, kDevices devices (every CREATE_DEVICE names one, whether or
// not it succeeds), kVfioFiles VFIO files, kPlainFiles plain files. An op that would create a
// handle beyond its bound is not enabled (valid() is false). scope() says so for `lockstep prove`
// and the README.
// A device's file list is a multiset (copies per VFIO file): Model keeps a vector, but only the
// multiset is observable (DEL erases one match, release clears, resources() counts).
#pragma once
#include <z3++.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/mshv/ops.h"
#include "model/mshv/model.h"
#include "model/mshv/profiles.h"
#include "proofs/encoding_base.h"
#include "proofs/scope.h"

namespace lockstep::mshv::proofs {

constexpr int kPartitions = 2, kDevices = 3, kVfioFiles = 3, kPlainFiles = 1;
constexpr unsigned kNoPartition = 0xFF;  // DeviceState::partition == -1

// The bounds above and what they leave out, as `lockstep prove` prints them (proofs/scope.h).
lockstep::proofs::Scope scope();

// The action's op kind (SymAction::kind) is the op's fuzz-input opcode (core/mshv/codec.h):
// one fixed numbering of the MSHV ops, independent of their position in the Op variant, for
// the fuzzers, the committed corpora and the proofs (tests/proofs/mshv/op_kind_test.cc).
using OpKind = OpCode;
constexpr unsigned kOpKinds = kOpCodeCount;
inline OpKind op_kind(const Op& op) {
  return opcode_of(op);
}

// HandleCounts: handles created so far, per kind (bv8 each).
struct SymCounts {
  z3::expr partitions, devices, vfio_files, plain_files;
};
struct SymPartition {  // PartitionState
  z3::expr fd_open;    // Bool
  z3::expr refs;       // bv8
};
struct SymDevice {              // DeviceState
  z3::expr partition;           // bv8 (kNoPartition: -1)
  z3::expr live, fd_known;      // Bool
  z3::expr type;                // bv32 ghost, unknown to Model: the type it was created with
  std::vector<z3::expr> files;  // [VFIO file] bv8: copies of that file in DeviceState::files
};
struct SymFile {     // FileState of a VFIO or a plain file
  z3::expr fd_open;  // Bool
};
struct SymState {  // State
  SymCounts counts;
  std::vector<SymPartition> partitions;
  std::vector<SymDevice> devices;
  std::vector<SymFile> vfio_files, plain_files;
  z3::expr leaked_file_refs;          // bv8
  z3::expr armed;                     // bv2: 0 none, 1 + Site
  std::vector<z3::expr> all() const;  // every component, in a fixed order
};

struct SymHandle {
  z3::expr kind;   // bv2: 0 p, 1 d, 2 f, 3 n
  z3::expr index;  // bv8
};
struct SymFdArg {
  z3::expr kind;  // bv2 FdArg::Kind
  SymHandle handle;
};
struct SymAction {
  z3::expr kind;         // bv4 OpKind
  z3::expr vfio;         // Bool: OpenFile::vfio
  SymHandle handle;      // CreateDevice::part, AttrArgs::dev, RawIoctl::h, Close::h
  z3::expr type, flags;  // bv32: CreateDevice
  z3::expr arg;          // bv2 Mem: CreateDevice::arg, AttrArgs::arg
  z3::expr group;        // bv32: AttrArgs
  z3::expr attr;         // bv64: AttrArgs
  SymFdArg fd;           // AttrArgs::fd
  z3::expr request;      // bv32: RawIoctl
  z3::expr site;         // bv2: FailNext
  std::vector<z3::expr> all() const;
};

struct StepResult {
  SymState next;
  z3::expr err;  // bv8 errno
};

class Encoding
    : public lockstep::proofs::EncodingBase<Profile, Op, SymState, SymAction, StepResult> {
 public:
  static constexpr const char* kSolverLogic = "QF_BV";
  using EncodingBase::EncodingBase;

  SymState fresh_state(const std::string& prefix);
  SymAction fresh_action(const std::string& prefix);
  z3::expr init(const SymState& s);                        // the empty state
  z3::expr valid(const SymState& s, const SymAction& a);   // enabled and codec-expressible
  StepResult step(const SymState& s, const SymAction& a);  // T (proofs/mshv/encoding.cc)
  // Every component except the handle counts and the armed fault (which every op advances or
  // consumes), and except the ghost device type. Used by the "state unchanged" invariants.
  z3::expr semantic_equal(const SymState& a, const SymState& b);
  // Well-formedness: counts within bounds, slots beyond a count untouched, live devices point
  // at existing partitions. Auxiliary invariant used to strengthen induction.
  z3::expr well_formed(const SymState& s);
  static std::vector<z3::expr> outcome_terms(const StepResult& r) { return {r.err}; }
  // The driver's unrollings name each step's errno (`<tag>err<n>`): properties about it (the
  // "failed op" invariants) then mention a constant, not the whole first-failing-check chain.
  void name_outputs(z3::solver& solver, StepResult& r, char tag, int n) {
    z3::expr err = c_.bv_const((tag + std::string("err") + std::to_string(n)).c_str(), 8);
    solver.add(err == r.err);
    r.err = err;
  }

  // Concrete <-> symbolic, as values in SymState::all() / SymAction::all() order.
  // nullopt: beyond the bounds. The ghost device type is the profile's type on live devices.
  std::optional<std::vector<uint64_t>> project(const State& concrete) const;
  // nullopt: the op would create a handle beyond the bounds (not enabled from `pre`).
  std::optional<std::vector<uint64_t>> abstract_op(const State& pre, const Op& op) const;
  static std::optional<std::vector<uint64_t>> outcome_values(const Outcome& out) {
    return std::vector<uint64_t>{uint64_t(out.err)};
  }
  Op concrete_op(const z3::model& m, const SymAction& a);
  // Positions of the ghost components in SymState::all() (unknown to Model).
  static std::vector<size_t> ghost_positions();
};

}  // namespace lockstep::mshv::proofs
