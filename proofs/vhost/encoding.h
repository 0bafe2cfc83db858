// A symbolic transition relation of model/vhost (model/vhost/model.cc) over an abstraction that
// is exact for what the invariants (proofs/vhost/invariants/) talk about. T(s, a) -> (s', reply)
// is written rule for rule like Model::step, one member per Model function, citing the same
// rules of docs/vhost-backend-rules.md; tests/proofs/vhost/encoding_test.cc checks
// that it computes exactly the abstract projection of what Model::step computes, profile by
// profile.
//
// Abstraction (State -> SymState), named after the fields of State and Session:
//   connected, uffd, listening, awaiting_ack, pending_need_reply, owner (Bool);
//   regions = regions.size() (bv4, <= 8), registered = the regions are registered (all or none);
//   protocol_features = its PAGEFAULT and REPLY_ACK bits;
//   held_fds (bv9) = the fds the session holds, one bit each: ring 0/1 kick, call, err
//     (bits 0-5), log_base_fd (6), log_fd (7), backend_req_fd (8);
//   armed (bv3: 0 none, 1 + Site); leaked_other_fds / leaked_uffds (bv8): leaked fds that are
//     not / are uffds (State::leaked_fds is their sum); session_leaked_uffds (bv4, ghost): uffds
//     leaked on this connection;
//   stale_region_fds (bv8): held fds of regions no longer mapped
//     (mutant-table-keeps-old-region-fds; 0 everywhere else).
//   Not abstracted (they only shape reply payload values, never control flow, except where a
//   parameter of the action carries the decision): feature values, ring bases/addresses, status.
// What the abstraction leaves out (partial/multi-message writes, lying sizes, ring fds at index
//   >= 2, a state holding a partial message, ...) is scope()'s list; the equivalence test counts
//   the ops outside it.
// The phase (ops.h Phase) is derived from the state as Model::phase does (X12), as a term of an
// enumeration sort.
#pragma once
#include <z3++.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/vhost/ops.h"
#include "model/vhost/model.h"
#include "model/vhost/profiles.h"
#include "proofs/encoding_base.h"
#include "proofs/scope.h"

namespace lockstep::vhost::proofs {

// The abstract action's kind (SymAction::kind): the ops, and the request classes a message falls
// into. Fixed numbers; message kinds are Generic..SetMemTable. Which request is which kind is
// decided in one place, kind_of_request() / request_of_kind() (proofs/vhost/encoding.cc).
enum class ActionKind : unsigned {
  Nop = 0,      // an empty write, or a send on a closed connection
  Generic = 1,  // any other request (E2 / W7 failures, GET_*, SET_VRING_*, ...)
  SetProtocolFeatures = 2,
  SetOwner = 3,
  ResetOwner = 4,
  PostcopyAdvise = 5,
  PostcopyListen = 6,
  PostcopyEnd = 7,
  SetMemTable = 8,  // request id 5: SET_MEM_TABLE or the P6 ack
  Malformed = 9,    // a frame closed by W2/W3 before dispatch
  Disconnect = 10,
  Connect = 11,
  FailNext = 12,
  BadRing = 13,  // DPDK: a bad ring index closes before dispatch, the message's fds leak
};
constexpr unsigned kActionKinds = 14;
// The kind of a message with this request (Generic for a request without a kind of its own).
ActionKind kind_of_request(uint32_t request);
// The request of a message kind other than Generic; nullopt for the other kinds.
std::optional<uint32_t> request_of_kind(ActionKind kind);

// The bounds of the abstraction and the concrete ops and states outside it, as `lockstep prove`
// prints them (proofs/scope.h); abstract_op() / project() return nullopt for exactly these.
lockstep::proofs::Scope scope();

constexpr unsigned kNoSlot = 15;     // SymAction::fd_slot: no fd slot
constexpr int kMaxAbstractFds = 12;  // codec kMaxSendFds

template <class T>
struct ProtocolFeaturesOf {  // bits of Session::protocol_features (or of the value sent)
  T pagefault, reply_ack;    // Bool
};
using SymProtocolFeatures = ProtocolFeaturesOf<z3::expr>;

struct SymState {
  z3::expr connected, uffd, listening, awaiting_ack, pending_need_reply, registered;  // Bool
  SymProtocolFeatures protocol_features;
  z3::expr owner;                                            // Bool
  z3::expr regions;                                          // bv4: regions.size()
  z3::expr held_fds;                                         // bv9
  z3::expr armed;                                            // bv3
  z3::expr leaked_other_fds, leaked_uffds;                   // bv8
  z3::expr session_leaked_uffds;                             // bv4 ghost
  z3::expr stale_region_fds;                                 // bv8
  std::vector<z3::expr> all() const;                         // every component, in a fixed order
  static SymState from_all(const std::vector<z3::expr>& v);  // all()'s inverse
};

// The abstract action's components: terms (SymAction) or their values (abstract_op()).
template <class T>
struct ActionOf {
  T kind;                                   // bv4 ActionKind
  T need_reply;                             // Bool: NEED_REPLY
  T fd_count;                               // bv4: fds attached (before MSG_CTRUNC truncation)
  T payload_size_ok;                        // Bool: W7 payload size right (postcopy: empty)
  T handler_accepts;                        // Bool: the handler's own state-independent checks
  T explicit_reply;                         // Bool: generic request, explicit reply body (R1)
  T expects_fd;                             // Bool: generic request expecting one fd (W6)
  T fd_slot;                                // bv4: the held_fds bit it sets (kNoSlot: none)
  T fd_kept;                                // Bool: the slot holds an fd afterwards (not NOFD)
  T nregions;                               // bv4: SET_MEM_TABLE nregions
  T ack_shaped;                             // Bool: size 8 and u64 0 (P6 ack)
  T payload_size;                           // bv16: ADVISE/LISTEN/END payload size
  ProtocolFeaturesOf<T> protocol_features;  // SET_PROTOCOL_FEATURES bits
  T site;                                   // bv3: FailNext site
  T reserved_flag;  // Bool: the request flags carry reserved bit 0x10 (no W2 only)
  std::vector<T> all() const {
    return {kind,
            need_reply,
            fd_count,
            payload_size_ok,
            handler_accepts,
            explicit_reply,
            expects_fd,
            fd_slot,
            fd_kept,
            nregions,
            ack_shaped,
            payload_size,
            protocol_features.pagefault,
            protocol_features.reply_ack,
            site,
            reserved_flag};
  }
};

struct SymAction : ActionOf<z3::expr> {
  z3::expr is(ActionKind k) const { return kind == static_cast<int>(k); }
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
  z3::expr handled;                 // Bool ghost: the message passed W5-W7 and reached its handler
  z3::expr opened;                  // Bool ghost: ADVISE opened a new uffd
  z3::expr disconnect_leaked_uffd;  // Bool ghost: a disconnect in this step left a uffd open
};

class Encoding
    : public lockstep::proofs::EncodingBase<Profile, Op, SymState, SymAction, StepResult> {
 public:
  static constexpr const char* kSolverLogic = nullptr;  // the phase is an enumeration sort
  Encoding(z3::context& c, const Profile& profile);

  SymState fresh_state(const std::string& prefix);
  SymAction fresh_action(const std::string& prefix);
  z3::expr init(const SymState& s);
  z3::expr valid(const SymState& s, const SymAction& a);   // params consistent, concretizable
  StepResult step(const SymState& s, const SymAction& a);  // T (proofs/vhost/transition.cc)
  z3::expr well_formed(const SymState& s);                 // auxiliary invariant (strengthening)
  // The reply shape (has, flags, size, fds, table), all 0 when there is no reply.
  static std::vector<z3::expr> outcome_terms(const StepResult& r);

  // Phase as an enumeration sort (X12).
  z3::sort phase_sort() { return phase_sort_; }
  z3::expr phase(const SymState& s);
  z3::expr phase_is(Phase p) { return phase_consts_[static_cast<int>(p)](); }

  // Concrete <-> abstract, as values in SymState::all() / SymAction::all() order.
  // nullopt: not representable (in this profile, from this concrete state).
  std::optional<std::vector<uint64_t>> project(const State& st) const;
  std::optional<std::vector<uint64_t>> abstract_op(const State& pre, const Op& op) const;
  // As outcome_terms; nullopt for more than one reply (several messages in one op).
  static std::optional<std::vector<uint64_t>> outcome_values(const Outcome& out);
  Op concrete_op(const z3::model& m, const SymAction& a);  // a trace op realising the action
  // Positions of the ghost components in SymState::all() (not compared with Model); the two
  // leak counters are compared by their sum with State::leaked_fds.
  static std::vector<size_t> ghost_positions() {
    return {kLeakedOtherFdsPos, kLeakedUffdsPos, kSessionLeakedUffdsPos};
  }
  static constexpr size_t kLeakedOtherFdsPos = 12, kLeakedUffdsPos = 13,
                          kSessionLeakedUffdsPos = 14;

 private:
  z3::func_decl_vector phase_consts_, phase_testers_;
  z3::sort phase_sort_;
};

}  // namespace lockstep::vhost::proofs
