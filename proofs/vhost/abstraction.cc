// From concrete states and ops to the abstraction of proofs/vhost/encoding.h and back: project()
// and abstract_op() follow Model::step's path (deliver, dispatch, the handlers) far enough to
// name the abstract action; concrete_op() builds a trace op that realises one.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "core/overloaded.h"
#include "core/vhost/codec.h"
#include "model/vhost/requests.h"
#include "proofs/values.h"
#include "proofs/vhost/encoding.h"

namespace lockstep::vhost {
// model/vhost/model.cc: the libvhost-user replies that keep the request's flags
// (Profile::reply_keeps_request_flags).
bool replies_in_place(uint32_t request, size_t payload_size);
}  // namespace lockstep::vhost

namespace lockstep::vhost::proofs {

// ---- which request is which kind: the proof column of model/vhost/requests.def --------------

namespace {
ActionKind kind_of(ProofClass c) {
  switch (c) {
    case ProofClass::Generic:
      return ActionKind::Generic;
    case ProofClass::SetProtocolFeatures:
      return ActionKind::SetProtocolFeatures;
    case ProofClass::SetOwner:
      return ActionKind::SetOwner;
    case ProofClass::ResetOwner:
      return ActionKind::ResetOwner;
    case ProofClass::MemTable:
      return ActionKind::SetMemTable;
    case ProofClass::Advise:
      return ActionKind::PostcopyAdvise;
    case ProofClass::Listen:
      return ActionKind::PostcopyListen;
    case ProofClass::End:
      return ActionKind::PostcopyEnd;
  }
  return ActionKind::Generic;
}
}  // namespace

ActionKind kind_of_request(uint32_t request) {
  const RequestRule* row = find_request(request);
  return row ? kind_of(row->proof) : ActionKind::Generic;  // E2: a generic refusal
}

std::optional<uint32_t> request_of_kind(ActionKind kind) {
  if (kind == ActionKind::Generic) return std::nullopt;
  for (const RequestRule& row : kRequestRules)
    if (kind_of(row.proof) == kind) return row.request;
  return std::nullopt;
}

// ---- what is outside: the nullopt cases below ---------------------------------------------

lockstep::proofs::Scope scope() {
  return {{{"regions", "at most " + std::to_string(uapi::kMaxRegions) +
                           " regions per table (the protocol's own limit, W5/M1)"},
           {"fds-per-message", "at most " + std::to_string(kMaxAbstractFds) +
                                   " fds attached to one message (codec kMaxSendFds)"},
           {"one-message-per-op", "every write carries exactly one whole message, or none"},
           {"ring-fds",
            "KICK/CALL/ERR fds held on rings 0 and 1 (every profile but dpdk-22.11 has "
            "exactly these two rings)"},
           {"leak-counters", "leaked fd counters are 8 bits (wrap after 255 leaks)"},
           {"abstracted-values",
            "feature values other than PAGEFAULT/REPLY_ACK, ring sizes, bases "
            "and addresses, the status byte: not in the abstract state (they "
            "shape reply payloads, never control flow)"}},
          {{"partial-header", "a write shorter than a message header (it stays buffered)"},
           {"raw-frame", "a well-formed message written as raw bytes"},
           {"lying-size", "a header whose size is not the payload's length"},
           {"several-messages-per-write", "two or more messages in one write (several replies)"},
           {"more-than-12-fds", "more than 12 fds attached to one message"},
           {"reserved-flag-bits", "dpdk-22.11: reserved request flag bits other than 0x10"},
           {"malformed-dpdk-table",
            "dpdk-22.11: a SET_MEM_TABLE outside the ack with 0 or more "
            "than 8 regions or a size that does not match them"},
           {"partial-region-leak",
            "dpdk-22.11: a refused table whose first bad region is not the "
            "first (it leaks the fds from there on)"},
           {"ring-fds-beyond-1", "dpdk-22.11: KICK/CALL/ERR fds on rings 2..255"},
           {"state-buffered-partial-message",
            "a state holding a partial message (rx or queued "
            "bytes)"},
           {"state-fds-on-rings-beyond-1", "dpdk-22.11: a state holding fds on rings 2..255"},
           {"state-partly-registered-regions", "a state with some but not all regions registered"},
           {"fault-sites",
            "fail_next beyond the userfaultfd, uffdio_api, uffdio_register, mmap and sendmsg "
            "sites, or sendmsg's EINTR and EAGAIN (the fault sweep covers every site and errno: "
            "tests/faults_test.cc)"}}};
}

namespace {

// The faults the encoding models: the first codec version's sites, with any errno whose outcome
// is the first errno's (every errno but sendmsg's EINTR and EAGAIN, which F2 retries).
bool in_scope(const FailNext& f) {
  const int err = fault_errno(f);
  return static_cast<size_t>(f.site) < kSitesV1 &&
         !(f.site == Site::Sendmsg && (err == EINTR || err == EAGAIN));
}

}  // namespace

// ---- concrete -> abstract -----------------------------------------------------------------

std::optional<std::vector<uint64_t>> Encoding::project(const State& st) const {
  const Session& s = st.session;
  if (!st.rx.empty() || !st.queued.empty()) return std::nullopt;
  if (st.armed && !in_scope(*st.armed)) return std::nullopt;
  size_t registered = 0;
  for (const auto& r : s.regions) registered += r.registered;
  if (registered != 0 && registered != s.regions.size()) return std::nullopt;
  uint64_t held_fds = 0;
  for (size_t i = 0; i < s.rings.size(); ++i) {
    const RingState& r = s.rings[i];
    if (i >= 2) {
      if (r.kick || r.call || r.err) return std::nullopt;
      continue;
    }
    held_fds |= uint64_t(r.kick) << (3 * i) | uint64_t(r.call) << (3 * i + 1) |
                uint64_t(r.err) << (3 * i + 2);
  }
  held_fds |=
      uint64_t(s.log_base_fd) << 6 | uint64_t(s.log_fd) << 7 | uint64_t(s.backend_req_fd) << 8;
  auto feature = [&](unsigned b) { return (s.protocol_features & uapi::bit(b)) ? 1u : 0u; };
  return std::vector<uint64_t>{st.connected,
                               s.uffd,
                               s.listening,
                               s.awaiting_ack,
                               s.pending_need_reply,
                               registered != 0,
                               feature(uapi::kPfPagefault),
                               feature(uapi::kPfReplyAck),
                               s.owner,
                               s.regions.size(),
                               held_fds,
                               st.armed ? static_cast<unsigned>(st.armed->site) + 1 : 0u,
                               static_cast<uint64_t>(st.leaked_fds),
                               0,
                               0,
                               static_cast<uint64_t>(s.stale_region_fds)};
}

std::optional<std::vector<uint64_t>> Encoding::outcome_values(const Outcome& out) {
  if (out.replies.size() > 1) return std::nullopt;
  if (out.replies.empty()) return std::vector<uint64_t>{0, 0, 0, 0, 0};
  const Reply& r = out.replies.front();
  return std::vector<uint64_t>{1, r.flags, r.size, r.fds.size(),
                               r.request == uapi::kSetMemTable && r.size != 8 ? 1u : 0u};
}

namespace {

using namespace uapi;

// The values of an action's components; by default a Nop with everything in range.
struct ActionValues : ActionOf<uint64_t> {
  explicit ActionValues(ActionKind k = ActionKind::Nop)
      : ActionOf<uint64_t>{
            static_cast<uint64_t>(k), 0, 0, 1, 1, 0, 0, kNoSlot, 0, 0, 0, 0, {0, 0}, 0, 0} {}
  void set(ActionKind k) { kind = static_cast<uint64_t>(k); }
};
using Abstract = std::optional<std::vector<uint64_t>>;

bool bad_header(const Profile& pr, uint32_t flags, uint32_t size) {  // W2/W3 (Model::deliver)
  if (pr.check_header_flags &&
      ((flags & kVersionMask) != kVersion || (flags & kReply) || (flags & ~kKnownFlags)))
    return true;
  return size > pr.max_payload;
}

// One Send through Model::deliver and Model::dispatch, as far as it decides the action.
class SendAbstraction {
 public:
  SendAbstraction(const Profile& profile, const State& pre, const Send& send)
      : pr_(profile), pre_(pre), s_(send) {}
  Abstract deliver();

 private:
  Abstract dispatch();
  Abstract set_protocol_features();
  Abstract postcopy();
  Abstract set_mem_table();
  Abstract net_set_mtu();
  Abstract generic_request();
  bool held_fd_slot(HeldFd held, uint64_t v, uint64_t ring_count);
  uint64_t word(size_t off, size_t n) const {  // a little-endian field of the payload, or 0
    uint64_t t = 0;
    if (payload_.size() >= off + n) std::memcpy(&t, payload_.data() + off, n);
    return t;
  }

  const Profile& pr_;
  const State& pre_;
  const Send& s_;
  ActionValues x_;
  std::vector<FdSpec> fds_;       // as received (MSG_CTRUNC truncated)
  std::vector<uint8_t> payload_;  // as the handler reads it
  size_t expected_fds_ = 0;
};

Abstract SendAbstraction::deliver() {
  if (s_.fds.size() > kMaxAbstractFds) return std::nullopt;
  if ((pr_.ctrunc_closes && s_.fds.size() > pr_.max_fds) ||  // W5: closes before the header
      bad_header(pr_, s_.flags, s_.header_size())) {         // W2/W3
    x_.set(ActionKind::Malformed);
    return x_.all();
  }
  if (s_.header_size() != s_.payload.size()) return std::nullopt;  // partial or several messages
  // DPDK echoes reserved request flag bits into the reply: the abstract action carries bit
  // 0x10 (reserved_flag); other reserved bits are not abstracted.
  if (pr_.reply_flags_echo_request && (s_.flags & ~kKnownFlags) & ~0x10u) return std::nullopt;
  // libvhost-user keeps a request's flags in the replies built in place and acks request 0
  // (reply_keeps_request_flags, none_request_acked): the transition does not encode either, so
  // those sends are outside the proofs' scope for the profiles that set them.
  if (pr_.reply_keeps_request_flags && (s_.flags & ~uapi::kVersionMask) != 0 &&
      replies_in_place(s_.request, s_.payload.size()))
    return std::nullopt;
  if (pr_.none_request_acked && s_.request == uapi::kNone) return std::nullopt;
  // DPDK vhost_user_check_and_alloc_queue_pair: a bad ring index closes, no reply, like W3.
  if (pr_.bad_vring_index_closes && !pre_.session.awaiting_ack &&
      !vring_index_in_range(s_.request, s_.payload, pr_.ring_count)) {
    x_.set(ActionKind::BadRing);
    x_.fd_count = static_cast<unsigned>(std::min(s_.fds.size(), pr_.max_fds));
    return x_.all();
  }
  x_.need_reply = (s_.flags & kNeedReply) ? 1 : 0;
  x_.reserved_flag = (s_.flags & 0x10u) && !pr_.check_header_flags ? 1 : 0;
  x_.fd_count = static_cast<unsigned>(s_.fds.size());
  fds_ = s_.fds;
  if (!pr_.ctrunc_closes && fds_.size() > pr_.max_fds) fds_.resize(pr_.max_fds);
  return dispatch();
}

Abstract SendAbstraction::dispatch() {
  // Without W7 (DPDK) the handler reads a short payload zero-padded (Model::dispatch).
  payload_ = pr_.checks_payload_size ? s_.payload : padded_payload(s_.request, s_.payload);
  auto want = expected_payload_size(s_.request, payload_, true);
  x_.payload_size_ok =
      want && (*want == payload_.size() || (!pr_.checks_payload_size && s_.request != kSetLogBase &&
                                            s_.request != kSetMemTable));
  expected_fds_ = expected_fd_count(s_.request, payload_);
  const ActionKind kind = kind_of_request(s_.request);
  x_.set(kind);
  switch (kind) {
    case ActionKind::SetProtocolFeatures:
      return set_protocol_features();
    case ActionKind::SetOwner:
    case ActionKind::ResetOwner:
      return x_.all();
    case ActionKind::PostcopyAdvise:
    case ActionKind::PostcopyListen:
    case ActionKind::PostcopyEnd:
      return postcopy();
    case ActionKind::SetMemTable:
      return set_mem_table();
    case ActionKind::Generic:
      return generic_request();
    case ActionKind::Nop:
    case ActionKind::Malformed:
    case ActionKind::Disconnect:
    case ActionKind::Connect:
    case ActionKind::FailNext:
    case ActionKind::BadRing:
      break;  // not a request's kind
  }
  throw std::logic_error("kind_of_request: not a message kind");
}

Abstract SendAbstraction::set_protocol_features() {
  const uint64_t v = word(0, 8);
  x_.protocol_features.pagefault = (v & bit(kPfPagefault)) != 0;
  x_.protocol_features.reply_ack = (v & bit(kPfReplyAck)) != 0;
  x_.handler_accepts = !(pr_.set_protocol_features_checks_offered && (v & ~pr_.protocol_features));
  if (!x_.payload_size_ok) {  // the value is not read
    x_.protocol_features = {0, 0};
    x_.handler_accepts = 1;
  }
  return x_.all();
}

Abstract SendAbstraction::postcopy() {  // ADVISE, LISTEN, END: P3 wants an empty payload
  x_.payload_size = static_cast<unsigned>(s_.payload.size());
  x_.payload_size_ok = s_.payload.empty();
  return x_.all();
}

Abstract SendAbstraction::set_mem_table() {
  const uint64_t v = word(0, 8);
  x_.ack_shaped = s_.payload.size() == 8 && v == 0;
  if (!pr_.checks_payload_size) {  // DPDK: any nregions is read; the table is the payload
    if (pre_.session.awaiting_ack) {
      x_.payload_size_ok = 0;  // the ack path reads only the request, fds and (ack_strict) shape
      return x_.all();
    }
    const uint64_t n = word(0, 4);  // an empty or oversized table: not abstracted
    if (n == 0 || n > kMaxRegions || s_.payload.size() != mem_table_size(n)) return std::nullopt;
  }
  if (!x_.payload_size_ok) return x_.all();
  auto table = *parse_mem_table(payload_);
  x_.nregions = static_cast<unsigned>(table.size());
  bool ok = true;               // M1 spans, M2 memfds (only read when the fd count is right)
  size_t first = table.size();  // the first region that fails (DPDK leaks from there on)
  for (size_t i = 0; i < table.size(); ++i) {
    const auto& r = table[i];
    bool bad = r.memory_size == 0 || r.mmap_offset > pr_.max_region_span ||
               r.memory_size > pr_.max_region_span - r.mmap_offset;
    if (fds_.size() == table.size()) bad = bad || fds_[i].kind != FdKind::Memfd;
    if (bad && first == table.size()) first = i;
    ok = ok && !bad;
  }
  if (pr_.refused_table_leaks_fds && !ok && first != 0) return std::nullopt;  // leak n - i
  x_.handler_accepts = ok;
  return x_.all();
}

Abstract SendAbstraction::net_set_mtu() {  // DPDK vhost_user_net_set_mtu
  std::vector<uint8_t> mtu = s_.payload;   // read as a u64, zero-padded (Model::dispatch)
  mtu.resize(std::max<size_t>(mtu.size(), 8));
  uint64_t u;
  std::memcpy(&u, mtu.data(), 8);
  x_.payload_size_ok = 1;
  x_.handler_accepts = u >= 68 && u <= 65535;
  return x_.all();
}

// The handlers generic actions stand for: get_features, set_features, vring_state, vring_addr,
// vring_fd, set_log_base, set_log_fd, set_backend_req_fd, get_* and set_status.
Abstract SendAbstraction::generic_request() {
  if (pr_.handles_net_set_mtu && s_.request == kNetSetMtu) return net_set_mtu();
  if (!x_.payload_size_ok) return x_.all();
  x_.expects_fd = expected_fds_ == 1;
  const RequestRule& row = *find_request(s_.request);      // W7 passed: a row
  x_.explicit_reply = row.reply != ReplyRule::AckIfAsked;  // R1 (the reply column)
  const uint64_t qn = pr_.ring_count;                      // X3: ring indices 0 .. ring_count-1
  const uint64_t v = word(0, 8);
  const uint32_t index = static_cast<uint32_t>(word(0, 4));
  if (!held_fd_slot(row.held, v, qn)) return std::nullopt;
  switch (s_.request) {
    case kGetVringBase:
      x_.handler_accepts = index < qn;
      break;
    case kSetFeatures:
      x_.handler_accepts = !(pr_.set_features_checks_offered && (v & ~pr_.features)) &&
                           !(pr_.set_features_requires_version_1 && !(v & bit(kFVersion1)));
      break;
    case kSetVringNum: {
      const uint32_t num = static_cast<uint32_t>(word(4, 4));
      x_.handler_accepts =
          index < qn && !(pr_.vring_num_checked && ((num & (num - 1)) || num > 32768));
      break;
    }
    case kSetVringBase:
    case kSetVringEnable:
      x_.handler_accepts = index < qn;
      break;
    case kSetVringAddr:
      x_.handler_accepts =
          index < qn && !(pr_.vring_addr_needs_mem_table && !pre_.session.mem_table);
      break;
    case kSetStatus:
      x_.handler_accepts = !(pr_.status_is_u8 && v > 0xff);
      break;
    case kSetVringKick:
    case kSetVringCall:
    case kSetVringErr:  // vring_fd
      x_.handler_accepts = (v & kVringIndexMask) < qn;
      break;
    default:
      break;  // the handler has no check of its own (set_log_base, SEND_RARP, get_* ...)
  }
  return x_.all();
}

// The fd slot a request's held fd (the held column of requests.def) occupies, and whether it
// stays held; false when it is not abstracted (rings >= 2, DPDK's 128 queues).
bool SendAbstraction::held_fd_slot(HeldFd held, uint64_t v, uint64_t ring_count) {
  switch (held) {
    case HeldFd::RingKick:
    case HeldFd::RingCall:
    case HeldFd::RingErr: {
      const uint64_t ring = v & kVringIndexMask;
      if (ring >= ring_count) return true;  // refused by the handler: no slot
      if (ring >= 2) return false;
      const unsigned which = held == HeldFd::RingKick ? 0 : held == HeldFd::RingCall ? 1 : 2;
      x_.fd_slot = static_cast<unsigned>(ring * 3 + which);
      x_.fd_kept = !(v & kVringNofdMask) &&
                   !(pr_.vring_err_fd_closed && held == HeldFd::RingErr);  // DPDK: closed
      return true;
    }
    case HeldFd::LogBase:
      x_.fd_slot = 6;
      x_.fd_kept = !pr_.log_base_fd_closed;  // DPDK closes it after the mmap
      return true;
    case HeldFd::LogFd:
      x_.fd_slot = 7;
      x_.fd_kept = !pr_.log_fd_closed;  // DPDK closes it at once
      return true;
    case HeldFd::BackendReq:
      x_.fd_slot = 8;
      x_.fd_kept = 1;
      return true;
    case HeldFd::None:
    case HeldFd::Regions:  // set_mem_table and ADVISE have their own kinds
    case HeldFd::Uffd:
      return true;
  }
  return true;
}

// A raw write: only an empty one or a header closed by W2/W3 is abstracted.
Abstract raw_bytes(const Profile& pr, const RawBytes& r) {
  ActionValues x;
  if (r.bytes.empty()) return x.all();
  if (r.bytes.size() < kHeaderSize) return std::nullopt;  // a partial header stays buffered
  uint32_t h[3];
  std::memcpy(h, r.bytes.data(), sizeof h);
  if (!bad_header(pr, h[1], h[2])) return std::nullopt;  // a raw well-formed frame
  x.set(ActionKind::Malformed);
  return x.all();
}

}  // namespace

std::optional<std::vector<uint64_t>> Encoding::abstract_op(const State& pre, const Op& op) const {
  auto of_kind = [](ActionKind kind) { return ActionValues(kind).all(); };
  const Abstract nothing_read = of_kind(ActionKind::Nop);  // on a closed connection
  return std::visit(
      Overloaded{
          [&](const FailNext& f) -> Abstract {
            if (!in_scope(f)) return std::nullopt;
            ActionValues x(ActionKind::FailNext);
            x.site = static_cast<unsigned>(f.site);
            return x.all();
          },
          [&](const Disconnect&) -> Abstract { return of_kind(ActionKind::Disconnect); },
          [&](const Connect&) -> Abstract { return of_kind(ActionKind::Connect); },
          [&](const RawBytes& r) -> Abstract {
            return pre.connected ? raw_bytes(profile_, r) : nothing_read;
          },
          [&](const Send& s) -> Abstract {
            return pre.connected ? SendAbstraction(profile_, pre, s).deliver() : nothing_read;
          },
      },
      op);
}

// ---- abstract -> concrete -----------------------------------------------------------------

namespace {

// A trace op for a model of SymAction, read through value_of.
class OpRealisation {
 public:
  OpRealisation(const Profile& profile, const z3::model& m, const SymAction& a)
      : pr_(profile),
        m_(m),
        a_(a),
        flags_((num(a.need_reply) ? kVersion | kNeedReply : kVersion) |
               (num(a.reserved_flag) ? 0x10u : 0u)),
        size_ok_(num(a.payload_size_ok)),
        accepts_(num(a.handler_accepts)) {}
  Op op();

 private:
  uint64_t num(const z3::expr& e) const { return lockstep::proofs::value_of(m_, e); }
  Op with_fds(Send s) const {  // the action's fds, as eventfds
    s.fds.assign(num(a_.fd_count), FdSpec{FdKind::Eventfd, 0});
    return s;
  }
  Op generic_request() const;

  const Profile& pr_;
  const z3::model& m_;
  const SymAction& a_;
  const uint32_t flags_;
  const bool size_ok_, accepts_;
};

Op OpRealisation::op() {
  const auto kind = static_cast<ActionKind>(num(a_.kind));
  switch (kind) {
    case ActionKind::Nop:
      return RawBytes{};
    case ActionKind::Malformed: {  // W3: a header size above every profile's maximum
      Send s = send(kGetFeatures, kVersion);
      s.size = 0x10000;
      return s;
    }
    case ActionKind::Disconnect:
      return Disconnect{};
    case ActionKind::Connect:
      return Connect{};
    case ActionKind::FailNext:
      return FailNext{static_cast<Site>(num(a_.site))};
    case ActionKind::BadRing:
      return with_fds(send(kSetVringNum, flags_, vring_state_payload(0xffff, 0)));
    case ActionKind::SetOwner:
    case ActionKind::ResetOwner:
      return with_fds(send(*request_of_kind(kind), flags_));
    case ActionKind::SetProtocolFeatures: {
      if (!size_ok_) return with_fds(send(kSetProtocolFeatures, flags_));
      uint64_t v = (num(a_.protocol_features.pagefault) ? bit(kPfPagefault) : 0) |
                   (num(a_.protocol_features.reply_ack) ? bit(kPfReplyAck) : 0) |
                   (accepts_ ? 0 : uint64_t{1} << 63);
      return with_fds(send_u64(kSetProtocolFeatures, v, flags_));
    }
    case ActionKind::PostcopyAdvise:
    case ActionKind::PostcopyListen:
    case ActionKind::PostcopyEnd:
      return with_fds(
          send(*request_of_kind(kind), flags_, std::vector<uint8_t>(num(a_.payload_size), 0)));
    case ActionKind::SetMemTable: {
      if (num(a_.ack_shaped)) return with_fds(mem_table_ack(flags_));
      if (!size_ok_) return with_fds(send(kSetMemTable, flags_, std::vector<uint8_t>(4, 0)));
      Send s = set_mem_table(regions(num(a_.nregions)), flags_);
      s.fds.assign(num(a_.fd_count),
                   accepts_ ? FdSpec{FdKind::Memfd, 0x100000} : FdSpec{FdKind::Eventfd, 0});
      return s;
    }
    case ActionKind::Generic:
      return generic_request();
  }
  throw std::logic_error("concrete_op: action kind outside valid()");
}

Op OpRealisation::generic_request() const {
  if (!size_ok_) return with_fds(send(kSetVringEndian, flags_));  // E2: not handled
  const unsigned slot = num(a_.fd_slot);
  const bool rep = num(a_.explicit_reply), on = num(a_.fd_kept), efd1 = num(a_.expects_fd);
  if (slot <= 5) {
    const bool fd = pr_.vring_err_fd_closed && slot % 3 == 2 ? efd1 : on;
    uint64_t v = slot / 3 | (fd ? 0 : kVringNofdMask);
    return with_fds(send_u64(kSetVringKick + slot % 3, v, flags_));
  }
  if (slot == 6) return with_fds(send(kSetLogBase, flags_, log_payload(0x1000, 0)));
  if (slot == 7) return with_fds(send(kSetLogFd, flags_));
  if (slot == 8) return with_fds(send(kSetBackendReqFd, flags_));
  if (efd1) return with_fds(send_u64(kSetVringKick, 0xff, flags_));  // ring 255: refused
  if (rep)
    return with_fds(accepts_ ? send(kGetFeatures, flags_)
                             : send(kGetVringBase, flags_, vring_state_payload(0xffff, 0)));
  if (!accepts_ && pr_.bad_vring_index_closes)  // DPDK: index 0xffff closes; a bad size refuses
    return with_fds(send(kSetVringNum, flags_, vring_state_payload(0, 3)));
  return with_fds(accepts_ ? send_u64(kSetStatus, 0, flags_)
                           : send(kSetVringNum, flags_, vring_state_payload(0xffff, 0)));
}

}  // namespace

Op Encoding::concrete_op(const z3::model& m, const SymAction& a) {
  return OpRealisation(profile_, m, a).op();
}

}  // namespace lockstep::vhost::proofs
