// A symbolic transition relation of model/vhost (model/vhost/model.cc) over an abstraction that
// is exact for what the invariants (proofs/vhost/invariants/) talk about. T(s, a) -> (s', reply)
// is written rule for rule like Model::step, citing the same rules of
// docs/vhost-backend-rules.md; tests/proofs/vhost_encoding_equivalence_test.cc checks that it
// computes exactly the abstract projection of what Model::step computes, profile by profile.
//
// Abstraction (State -> SymState):
//   connected, uffd, listening, awaiting_ack, pending_need_reply, owner (Bool);
//   mapped = regions.size() (bv4, <= 8), reg = the regions are registered (all-or-none);
//   pf_pf / pf_ra = PAGEFAULT / REPLY_ACK bits of the stored protocol features;
//   slots (bv9) = held fds by class: ring 0/1 kick, call, err (bits 0-5), log base (6),
//     log fd (7), backend-req fd (8);
//   armed (bv3: 0 none, 1 + Site); lk_fd / lk_uffd (bv8): leaked fds that are not / are uffds
//     (Model keeps their sum, leaked_fds); sess_lk (bv4, ghost): uffds leaked on this connection.
//   stale (bv8) = stale_region_fds: held fds of regions no longer mapped
//     (mutant-table-keeps-old-region-fds; 0 everywhere else).
//   Not abstracted (they only shape reply payload values, never control flow, except where a
//   param below carries the decision): feature values, ring bases/addresses, status.
// Representable concrete states: no partial message (rx, queued empty), rings >= 2 hold no fd,
//   regions all registered or none. Ops outside the abstraction (partial/multi-message writes,
//   lying sizes, ring fds at index >= 2) are counted by the equivalence test.
// The phase (ops.h Phase) is derived from the state as Model::phase does (X12), as a term of an
// enumeration sort.
#pragma once
#include <z3++.h>

#include <optional>
#include <string>
#include <vector>

#include "core/vhost/ops.h"
#include "model/vhost/model.h"
#include "model/vhost/profiles.h"

namespace lockstep::vhost::proofs {

// Abstract action kinds (request classes).
constexpr int kNop = 0,  // empty write, or a send on a closed connection
    kGeneric = 1,        // any other request (E2 / W7 failures, GET_*, SET_VRING_*, ...)
    kSetProto = 2, kSetOwner = 3, kResetOwner = 4, kAdvise = 5, kListen = 6, kEnd = 7,
              kMemTable = 8,  // request id 5: SET_MEM_TABLE or the P6 ack
    kMalformed = 9,           // a frame closed by W2/W3 before dispatch
    kDisconnect = 10, kConnect = 11, kFailNext = 12,
              kBadRing =
                  13,  // DPDK: a bad ring index closes before dispatch, the message's fds leak
    kKinds = 14;
constexpr int kNoSlot = 15;
constexpr int kMaxAbstractFds = 12;  // codec kMaxSendFds

struct SymState {
  z3::expr connected, uffd, listening, awaiting, pending, reg, pf_pf, pf_ra, owner;  // Bool
  z3::expr mapped;                                                                   // bv4
  z3::expr slots;                                                                    // bv9
  z3::expr armed;                                                                    // bv3
  z3::expr lk_fd, lk_uffd;                                                           // bv8
  z3::expr sess_lk;                                                                  // bv4 ghost
  z3::expr stale;  // bv8: fds of unmapped regions still held (a mutant only)
  std::vector<z3::expr> all() const;
};

struct SymAction {
  z3::expr kind;          // bv4
  z3::expr nr;            // Bool: NEED_REPLY
  z3::expr nfds;          // bv4: fds attached (before any MSG_CTRUNC truncation)
  z3::expr size_ok;       // Bool: W7 payload size right (postcopy: payload empty)
  z3::expr hok;           // Bool: the handler's own, state-independent checks pass
  z3::expr rep;           // Bool: generic request with an explicit reply body (R1)
  z3::expr efd1;          // Bool: generic request expecting one fd (W6)
  z3::expr slot;          // bv4: fd slot a generic request sets (kNoSlot: none)
  z3::expr on;            // Bool: the slot holds an fd afterwards (not NOFD)
  z3::expr n;             // bv4: SET_MEM_TABLE nregions
  z3::expr ackshape;      // Bool: size 8 and u64 0 (P6 ack)
  z3::expr psize;         // bv16: ADVISE/LISTEN/END payload size
  z3::expr pf_pf, pf_ra;  // Bool: SET_PROTOCOL_FEATURES bits
  z3::expr site;          // bv3: FailNext site
  z3::expr xf;            // Bool: the request flags carry reserved bit 0x10 (no W2 check only)
  std::vector<z3::expr> all() const;
};

// The abstract reply shape (at most one reply per representable op).
struct SymReply {
  z3::expr has;        // Bool
  z3::expr flags;      // bv32
  z3::expr size;       // bv16
  z3::expr fds;        // bv2: number of fds (always uffds)
  z3::expr table;      // Bool: a SET_MEM_TABLE reply that is not a u64 (P6 table)
  z3::expr explicit_;  // Bool ghost: the handler's own reply body (R1), not an R2/E1 ack
};

struct StepResult {
  SymState next;
  SymReply reply;
  z3::expr handled;    // Bool ghost: the message passed W5-W7 and reached its handler
  z3::expr opened;     // Bool ghost: ADVISE opened a new uffd
  z3::expr disc_leak;  // Bool ghost: a disconnect in this step left a uffd open (leaked)
};

class Encoding {
 public:
  Encoding(z3::context& c, const Profile& profile);
  z3::context& ctx() { return c_; }
  const Profile& profile() const { return profile_; }

  SymState fresh_state(const std::string& prefix);
  SymAction fresh_action(const std::string& prefix);
  z3::expr init(const SymState& s);
  z3::expr valid(const SymState& s, const SymAction& a);  // params consistent, concretizable
  StepResult step(const SymState& s, const SymAction& a);
  z3::expr equal(const SymState& a, const SymState& b);
  z3::expr well_formed(const SymState& s);  // auxiliary invariant (strengthening)

  // Phase as an enumeration sort (X12).
  z3::sort phase_sort() { return phase_sort_; }
  z3::expr phase(const SymState& s);
  z3::expr phase_is(Phase p) { return phase_consts_[static_cast<int>(p)](); }

  // Concrete <-> abstract.
  static std::optional<std::vector<uint64_t>> project(const State& st);  // SymState::all order
  static std::vector<uint64_t> reply_shape(const Outcome& out);  // has, flags, size, fds, table
  // nullopt: not representable in this profile from this concrete state.
  std::optional<std::vector<uint64_t>> abstract_op(const State& pre, const Op& op);
  Op concrete_op(const z3::model& m, const SymAction& a);  // a trace op realising the action
  static std::vector<uint64_t> values_of(const z3::model& m, const std::vector<z3::expr>& v);

 private:
  z3::expr bv(uint64_t v, unsigned w) { return c_.bv_val(v, w); }
  z3::context& c_;
  const Profile& profile_;
  z3::func_decl_vector phase_consts_, phase_testers_;
  z3::sort phase_sort_;
};

// Position of the ghost components in SymState::all() (not compared with Model).
std::vector<size_t> ghost_positions();
// Positions of lk_fd and lk_uffd: compared by their sum with Model::fds_left_open().
constexpr size_t kLkFdPos = 12, kLkUffdPos = 13, kSessLkPos = 14;

}  // namespace lockstep::vhost::proofs
