#include "model/vhost/model.h"

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <limits>
#include <utility>

#include "core/bytes.h"
#include "core/overloaded.h"
#include "model/vhost/requests.h"

namespace lockstep::vhost {
namespace {

constexpr size_t kNever = std::numeric_limits<size_t>::max();  // a size no payload has

std::vector<uint8_t> frame(const Send& s) {
  std::vector<uint8_t> out(uapi::kHeaderSize);
  const uint32_t header[3] = {s.request, s.flags, s.header_size()};
  std::memcpy(out.data(), header, sizeof header);
  out.insert(out.end(), s.payload.begin(), s.payload.end());
  return out;
}

}  // namespace

uint64_t Message::u64() const {
  return load<uint64_t>(payload);
}

// ---- W6 / W7: what each handled request carries ---------------------------------------------

std::optional<size_t> expected_payload_size(uint32_t request, const std::vector<uint8_t>& payload,
                                            bool postcopy_payload_must_be_empty) {
  using namespace uapi;
  const RequestRule* rule = find_request(request);
  if (!rule) return std::nullopt;  // E2: not handled by this back-end
  switch (rule->payload) {
    case PayloadRule::Empty:
      return 0;
    case PayloadRule::Postcopy:  // P3; "N/A" payloads
      return postcopy_payload_must_be_empty ? 0 : payload.size();
    case PayloadRule::U64:
      return sizeof(uint64_t);
    case PayloadRule::VringState:
      return sizeof(VringState);
    case PayloadRule::VringAddr:
      return sizeof(VringAddr);
    case PayloadRule::Log:
      return sizeof(Log);
    case PayloadRule::MemTable: {  // 8 + 32n with n = nregions, 1 <= n <= 8
      if (payload.size() < sizeof(MemoryHeader)) return kNever;
      uint32_t n = load<MemoryHeader>(payload).nregions;
      return n >= 1 && n <= kMaxRegions ? mem_table_size(n) : kNever;
    }
  }
  return kNever;
}

size_t expected_fd_count(uint32_t request, const std::vector<uint8_t>& payload) {
  using namespace uapi;
  const RequestRule* rule = find_request(request);
  if (!rule) return 0;  // W6: an unhandled request carries none
  switch (rule->fds) {
    case FdRule::None:
      return 0;
    case FdRule::One:
      return 1;
    case FdRule::OnePerRegion:
      return load<MemoryHeader>(payload).nregions;  // W6: one fd per region
    case FdRule::OneUnlessNofd:
      return load<uint64_t>(payload) & kVringNofdMask ? 0 : 1;  // W6: NOFD bit 8
  }
  return 0;
}

bool vring_index_in_range(uint32_t request, const std::vector<uint8_t>& payload,
                          uint64_t ring_count) {
  using namespace uapi;
  uint64_t index = 0;
  switch (request) {
    case kSetVringNum:
    case kSetVringBase:
    case kGetVringBase:
    case kSetVringEnable:
    case kSetVringAddr:  // state.index / addr.index: the first u32
      index = load<uint32_t>(payload);
      break;
    case kSetInflightFd: {  // inflight.num_queues - 1 (a u16 at offset 16), as a u32
      const uint16_t q = load<uint16_t>(payload, 16);
      index = static_cast<uint32_t>(int{q} - 1);
      break;
    }
    default:
      return true;  // SET_VRING_KICK/CALL/ERR: an 8-bit index, always < 256 rings
  }
  return index < ring_count;
}

std::vector<uint8_t> padded_payload(uint32_t request, std::vector<uint8_t> payload) {
  using namespace uapi;
  size_t need = 0;
  if (request == kSetLogBase) return payload;  // checked (vhost_user_set_log_base)
  if (request == kSetMemTable) {
    if (payload.size() < sizeof(MemoryHeader)) payload.resize(sizeof(MemoryHeader));
    const uint32_t n = load<MemoryHeader>(payload).nregions;
    need = n <= kMaxRegions ? mem_table_size(n) : 0;
  } else if (auto want = expected_payload_size(request, payload, true)) {
    need = *want;
  }
  if (payload.size() < need) payload.resize(need);
  return payload;
}

// ---- the session and the stream -------------------------------------------------------------

Model::Model(const Profile& profile) : profile_(profile) {
  state_.session.rings.resize(profile_.ring_count);
}

Outcome Model::step(const Op& op) {
  Outcome out;
  out_ = &out;
  rule_ = {};
  std::visit(Overloaded{
                 [&](const Send& s) {
                   if (state_.connected && !read_fails())  // else: EPIPE, nothing read
                     deliver(frame(s), s.fds);
                 },
                 [&](const RawBytes& r) {
                   if (state_.connected && !r.bytes.empty() && !read_fails()) deliver(r.bytes, {});
                 },
                 [&](const Disconnect&) { cite("D1"), disconnect(); },  // D1 (EOF)
                 [&](const Connect&) { cite("C1"), new_session(); },    // C1
                 [&](const FailNext& f) {
                   cite("F1");
                   if (state_.connected) state_.armed = f;  // F1: one slot, replaced
                 },
             },
             op);
  out.closed = !state_.connected;
  out.res = resources();
  out_ = nullptr;
  return out;
}

void Model::deliver(const std::vector<uint8_t>& bytes, std::vector<FdSpec> fds) {
  auto& st = state_;
  if (!profile_.ctrunc_closes && fds.size() > profile_.max_fds)
    fds.resize(profile_.max_fds);  // DPDK: MSG_CTRUNC logged, the kernel dropped the rest
  st.queued.insert(st.queued.end(), fds.begin(), fds.end());  // W4: fds wait for a message
  if (profile_.ctrunc_closes && st.queued.size() > profile_.max_fds)
    return cite("W5"), disconnect();  // W5/X2: more than 8 fds for one message closes everything
  st.rx.insert(st.rx.end(), bytes.begin(), bytes.end());
  while (st.connected && st.rx.size() >= uapi::kHeaderSize) {
    uint32_t header[3];
    std::memcpy(header, st.rx.data(), sizeof header);  // W1: request, flags, size
    const uint32_t flags = header[1], size = header[2];
    if (profile_.check_header_flags && ((flags & uapi::kVersionMask) != uapi::kVersion ||
                                        (flags & uapi::kReply) || (flags & ~uapi::kKnownFlags)))
      return cite("W2"), disconnect();                                 // W2/X1: only 0x1 or 0x9
    if (size > profile_.max_payload) return cite("W3"), disconnect();  // W3/X1
    if (st.rx.size() < uapi::kHeaderSize + size) break;                // W4: wait for the payload
    Message msg{header[0], flags, {}, std::exchange(st.queued, {})};
    msg.payload.assign(st.rx.begin() + uapi::kHeaderSize, st.rx.begin() + uapi::kHeaderSize + size);
    st.rx.erase(st.rx.begin(), st.rx.begin() + uapi::kHeaderSize + size);
    fault_ = std::exchange(st.armed, std::nullopt);  // F1/X11: armed for this message only
    msg_flags_ = flags;
    dispatch(msg);
    fault_.reset();
  }
  if (profile_.partial_header_closes && st.connected && !st.rx.empty() &&
      st.rx.size() < uapi::kHeaderSize)
    disconnect();  // DPDK read_vhost_message: a short header read closes (W4 not followed)
}

void Model::dispatch(Message& m) {
  Session& s = state_.session;
  if (s.awaiting_ack) return cite("P6"), finish(m, postcopy_ack(m));  // P6: the ack is next
  if (profile_.bad_vring_index_closes &&
      !vring_index_in_range(m.request, m.payload, profile_.ring_count)) {
    state_.leaked_fds += static_cast<int>(m.fds.size());  // DPDK: ctx fds never closed
    return cite("X3"), disconnect();  // DPDK vhost_user_check_and_alloc_queue_pair: -1 closes
  }
  if (!profile_.checks_payload_size)  // DPDK: reads its fixed-size struct past a short payload
    m.payload = padded_payload(m.request, std::move(m.payload));
  if (profile_.handles_net_set_mtu && m.request == uapi::kNetSetMtu) {  // DPDK: a u64 MTU
    cite("X4");
    if (m.payload.size() < 8) m.payload.resize(8);  // no W7 (DPDK reads a u64)
    if (!m.fds.empty()) return refuse(m, false);    // W6: validate_msg_fds(0)
    const uint64_t mtu = m.u64();
    return finish(m, mtu < 68 || mtu > 65535 ? Result::RefusedInHandler : Result::Done);
  }
  if (profile_.none_request_acked && m.request == uapi::kNone) {  // qemu-storage-daemon
    cite("E2");
    state_.leaked_fds += static_cast<int>(m.fds.size());  // unused_fds_leak: kept
    return finish(m, Result::Done);
  }
  auto want = expected_payload_size(m.request, m.payload, profile_.postcopy_payload_must_be_empty);
  if (!want) return cite("E2"), refuse(m, false);  // E2: not a handled request
  if (m.payload.size() != *want && (profile_.checks_payload_size || m.request == uapi::kSetLogBase))
    return cite("W7"), refuse(m, false);  // W7 (P3 for ADVISE); DPDK: SET_LOG_BASE only
  if (m.fds.size() != expected_fd_count(m.request, m.payload)) {
    bool keep = expected_fd_count(m.request, m.payload) == 0 &&
                (profile_.unused_fds_leak ||
                 (profile_.mutant_advise_keeps_fds && m.request == uapi::kPostcopyAdvise));
    if (!keep) return cite("W6"), refuse(m, false);       // W6 / P8: fds closed, E1
    state_.leaked_fds += static_cast<int>(m.fds.size());  // kept by nobody
    m.fds.clear();
  }
  cite(find_request(m.request)->rule);  // the handler's rule (requests.def)
  finish(m, handle(m));
}

// The handler of a request row (model/vhost/requests.def); dispatch refused every other (E2).
Model::Result Model::handle(const Message& m) {
  switch (m.request) {
#define VHOST_REQUEST(id, payload, fds, reply, held, proof, handler, rule) \
  case uapi::id:                                                           \
    return handler(m);
#include "model/vhost/requests.def"
#undef VHOST_REQUEST
  }
  return Result::Refused;  // unreachable: not a row
}

void Model::finish(const Message& m, Result result) {
  switch (result) {
    case Result::Done:  // R2: ack u64 0 when asked (and, for rust-vmm, REPLY_ACK is on)
      if (m.need_reply() && (!profile_.need_reply_requires_reply_ack || acks_enabled()))
        reply_u64(m.request, 0);
      return;
    case Result::Refused:
      return refuse(m, false);
    case Result::RefusedInHandler:
      return refuse(m, true);
    case Result::Replied:  // R1: the explicit reply was the answer
    case Result::Closed:
      return;
  }
}

void Model::refuse(const Message& m, bool in_handler) {
  // E1: no state change; the message's fds are closed (the model simply drops them).
  switch (profile_.refusal) {
    case Refusal::Ack:
      if (m.need_reply()) return reply_u64(m.request, 1);  // E1: NACK, connection stays
      return disconnect();                                 // E1: without NEED_REPLY, close
    case Refusal::Panic:
      if (m.need_reply()) reply_u64(m.request, 0);  // libvhost-user vu_dispatch after vu_panic
      return disconnect();
    case Refusal::Shutdown:
      if (in_handler && m.need_reply() && acks_enabled()) reply_u64(m.request, 1);
      return disconnect();  // rust-vmm: Err ends the connection
  }
}

// libvhost-user: the handlers that answer in the request's own message (vu_get_features_exec,
// vu_set_postcopy_advise, vu_get_vring_base_exec, vu_get_config, vu_get_inflight_fd and the
// postcopy SET_MEM_TABLE reply), so vu_send_reply keeps its flags; every other reply is built by
// vmsg_set_reply_u64, which clears them (measured: GET_PROTOCOL_FEATURES, GET_QUEUE_NUM, LISTEN,
// END and the NEED_REPLY acks answer 0x5 to 0x9; GET_FEATURES and ADVISE answer 0xd).
// Declared where it is used besides here (proofs/vhost/abstraction.cc).
bool replies_in_place(uint32_t request, size_t payload_size);
bool replies_in_place(uint32_t request, size_t payload_size) {
  switch (request) {
    case uapi::kGetFeatures:
    case uapi::kPostcopyAdvise:
    case uapi::kGetVringBase:
    case uapi::kGetConfig:
    case uapi::kGetInflightFd:
      return true;
    case uapi::kSetMemTable:  // the postcopy table, not its u64 NEED_REPLY ack
      return payload_size != 8;
    default:
      return false;
  }
}

void Model::reply(uint32_t request, std::vector<uint8_t> payload, std::vector<FdKind> fds,
                  std::optional<uint32_t> size) {
  if (!state_.connected) return;
  const int send_err = fault(Site::Sendmsg);
  if (send_err && send_err != EINTR && send_err != EAGAIN)
    return cite("F1"), disconnect();  // F1: the reply is lost, D1; F2: EINTR, EAGAIN later
  Reply r;
  r.request = request;          // W8: the request's id
  r.flags = uapi::kReplyFlags;  // W8: exactly VERSION|REPLY
  if (profile_.mutant_reply_echoes_need_reply) r.flags |= msg_flags_ & uapi::kNeedReply;
  if (profile_.reply_flags_echo_request)  // DPDK send_vhost_reply: reserved bits echoed
    r.flags = (msg_flags_ & ~(uapi::kVersionMask | uapi::kNeedReply)) | uapi::kReplyFlags;
  if (profile_.reply_keeps_request_flags && replies_in_place(request, payload.size()))
    r.flags = (msg_flags_ & ~uapi::kVersionMask) | uapi::kReplyFlags;  // vu_send_reply
  r.size = size ? *size : static_cast<uint32_t>(payload.size());
  r.payload = std::move(payload);
  r.fds = std::move(fds);
  out_->replies.push_back(std::move(r));
}

void Model::disconnect() {
  if (!state_.connected) return;
  Session& s = state_.session;
  // D1: uffd closed, regions unmapped, every held and queued fd closed, partial message dropped.
  bool keep_uffd = s.uffd && profile_.disconnect_keeps_uffd;  // rust-vmm: owned by the backend
  if (s.uffd && profile_.mutant_disconnect_leaks_uffd) state_.leaked_fds++;
  s = Session{};
  s.rings.resize(profile_.ring_count);
  s.uffd = keep_uffd;
  state_.rx.clear();
  state_.queued.clear();
  state_.armed.reset();  // X11: discarded on disconnect
  fault_.reset();
  state_.connected = false;
}

void Model::new_session() {
  disconnect();  // C1: Connect while connected first disconnects
  state_.connected = true;
}

void Model::release_regions(std::vector<RegionState>& regions) {
  regions.clear();
}  // munmap + close

int Model::fault(Site site) {
  if (!fault_ || fault_->site != site) return 0;
  const int err = fault_errno(*fault_);
  fault_.reset();  // F1: fires once, at the first call of its kind
  return err;
}

// F2: the back-end's first recvmsg after FailNext(recvmsg) fails. EINTR is retried and EAGAIN
// read again on the next wake-up (the same as no fault); any other errno closes (D1). F3:
// munmap and close faults change nothing observable, so they are simply discarded.
bool Model::read_fails() {
  std::optional<FailNext>& armed = state_.armed;
  if (!armed || armed->site != Site::Recvmsg) return false;
  const int err = fault_errno(*armed);
  armed.reset();
  if (err == EINTR || err == EAGAIN) return false;
  cite("F2"), disconnect();
  return true;
}

bool Model::acks_enabled() const {
  return state_.session.protocol_features & uapi::bit(uapi::kPfReplyAck);
}

// ---- negotiation (N1-N4) ----------------------------------------------------------------------

Model::Result Model::get_features(const Message& m) {
  reply_u64(m.request, profile_.features);  // N1
  return Result::Replied;
}

Model::Result Model::set_features(const Message& m) {
  uint64_t v = m.u64();
  if (profile_.set_features_checks_offered && (v & ~profile_.features))
    return Result::RefusedInHandler;  // N2: unoffered bit
  if (profile_.set_features_requires_version_1 && !(v & uapi::bit(uapi::kFVersion1)))
    return Result::RefusedInHandler;  // libvhost-user panic
  state_.session.features = v;        // N2: stored
  return Result::Done;
}

Model::Result Model::set_owner(const Message&) {
  if (profile_.set_owner_once && state_.session.owner) return Result::RefusedInHandler;
  state_.session.owner = true;  // N4: repeatable under spec
  return Result::Done;
}

Model::Result Model::reset_owner(const Message&) {
  Session& s = state_.session;
  switch (profile_.reset_owner) {
    case ResetOwner::Releases:  // N4: a disconnect minus the socket
      s = Session{};
      s.rings.resize(profile_.ring_count);
      break;
    case ResetOwner::ClearsFeatures:  // rust-vmm reset_owner
      s.owner = false;
      s.features = 0;
      break;
    case ResetOwner::Ignored:
      break;  // libvhost-user: rings disabled only
  }
  return Result::Done;
}

Model::Result Model::get_protocol_features(const Message& m) {
  reply_u64(m.request, profile_.protocol_features);  // N3: legal before SET_FEATURES
  return Result::Replied;
}

Model::Result Model::set_protocol_features(const Message& m) {
  uint64_t v = m.u64();
  if (profile_.set_protocol_features_checks_offered && (v & ~profile_.protocol_features))
    return Result::RefusedInHandler;     // N3: unoffered bit (DPDK rule)
  state_.session.protocol_features = v;  // N3: stored, replacing
  return Result::Done;
}

// ---- memory table (M1-M3, P6) -----------------------------------------------------------------

Model::Result Model::set_mem_table(const Message& m) {
  Session& s = state_.session;
  std::vector<uapi::MemoryRegion> table;  // W7 made it well-formed (DPDK: the first nregions)
  for (uint32_t i = 0; i < load<uapi::MemoryHeader>(m.payload).nregions; ++i)
    table.push_back(load<uapi::MemoryRegion>(m.payload, uapi::mem_table_size(i)));
  if (profile_.mem_table_unmaps_first) {  // DPDK free_mem_table
    release_regions(s.regions);
    s.mem_table = false;
  }
  const uint64_t span = profile_.max_region_span;
  auto bad_span = [&](const uapi::MemoryRegion& r) {
    return r.memory_size == 0 || r.mmap_offset > span || r.memory_size > span - r.mmap_offset;
  };
  if (profile_.refused_table_leaks_fds) {  // DPDK: span check and mmap region by region
    for (size_t i = 0; i < table.size(); ++i)
      if (bad_span(table[i]) || fault(Site::Mmap) || m.fds[i].kind != FdKind::Memfd) {
        state_.leaked_fds += static_cast<int>(table.size() - i);  // mapped ones are closed
        return Result::RefusedInHandler;
      }
  }
  for (const auto& r : table)  // M1/X6: spans checked for all regions before any mmap
    if (bad_span(r)) return Result::RefusedInHandler;
  for (size_t i = 0; i < table.size(); ++i)  // M2/X6: mmap(fd, 0, size + offset) per region
    if (fault(Site::Mmap) || m.fds[i].kind != FdKind::Memfd)
      return Result::RefusedInHandler;  // ENODEV for eventfds and /dev/null; new ones undone
  if (profile_.mutant_table_keeps_old_region_fds) s.stale_region_fds += s.regions.size();
  release_regions(s.regions);  // M3: the old regions unmapped, their fds closed
  for (const auto& r : table) s.regions.push_back({r, false});
  s.mem_table = true;
  const bool postcopy = s.listening || (profile_.mutant_table_reply_when_advised && s.uffd);
  if (!postcopy || !profile_.postcopy_mem_table_reply) return Result::Done;
  // P6/X7: reply with the request's table, each userspace_addr = mapping base + mmap_offset
  // (normalised: kNormalisedAddr + the offset's low 12 bits); no fds, no ack; await the ack.
  std::vector<uint8_t> body = m.payload;
  for (size_t i = 0; i < table.size(); ++i) {
    uint64_t addr = uapi::kNormalisedAddr + (table[i].mmap_offset & (uapi::kPageSize - 1));
    std::memcpy(
        body.data() + uapi::mem_table_size(i) + offsetof(uapi::MemoryRegion, userspace_addr), &addr,
        sizeof addr);
  }
  s.awaiting_ack = true;
  s.pending_need_reply = m.need_reply();
  reply(m.request, std::move(body));
  return Result::Replied;
}

Model::Result Model::postcopy_ack(const Message& m) {
  Session& s = state_.session;
  s.awaiting_ack = false;
  bool ok = m.request == uapi::kSetMemTable && m.fds.empty() &&
            (!profile_.ack_strict || (m.payload.size() == 8 && m.u64() == 0));  // P6/X8 shape
  if (!ok && !profile_.mutant_no_ack_check) {
    disconnect();  // P6/X8: any other next message: regions, fds and connection closed
    return Result::Closed;
  }
  const bool registered = s.uffd && !fault(Site::UffdioRegister);  // P6: MODE_MISSING per region
  if (registered)
    for (auto& r : s.regions) r.registered = true;
  else {
    release_regions(s.regions);  // X8: every region unmapped, its fd closed; uffd kept
    s.mem_table = false;
  }
  switch (profile_.ack_reply) {
    case AckReply::AckMessage:  // R2 / E1 on the ack message itself
      return registered ? Result::Done : Result::RefusedInHandler;
    case AckReply::None:  // DPDK: NEED_REPLY was cleared; a failure is RESULT_ERR -> close
      if (!registered) disconnect();
      return registered ? Result::Replied : Result::Closed;
    case AckReply::OriginalRequest:  // libvhost-user vu_dispatch: u64 0, then panic on failure
      if (s.pending_need_reply) reply_u64(uapi::kSetMemTable, 0);
      if (!registered) disconnect();
      return registered ? Result::Replied : Result::Closed;
  }
  return Result::Replied;
}

// ---- device-independent messages --------------------------------------------------------------

Model::Result Model::set_log_base(const Message& m) {
  state_.session.log_base_fd = !profile_.log_base_fd_closed;  // held, replacing an older one
  if (profile_.log_base_reply_empty) {  // DPDK: "QEMU doesn't expect any payload in the reply"
    reply(m.request, {});
    return Result::Replied;
  }
  reply_u64(m.request, 0);  // R1: SET_LOG_BASE replies u64 0
  return Result::Replied;
}

Model::Result Model::set_log_fd(const Message&) {
  state_.session.log_fd = !profile_.log_fd_closed;  // held, replacing an older one (DPDK: closed)
  return Result::Done;
}

Model::Result Model::vring_state(const Message& m) {
  auto v = load<uapi::VringState>(m.payload);
  auto& rings = state_.session.rings;
  if (v.index >= rings.size()) return Result::RefusedInHandler;  // ring index >= queue count
  if (m.request == uapi::kSetVringNum && profile_.vring_num_checked &&
      ((v.num & (v.num - 1)) || v.num > 32768))
    return Result::RefusedInHandler;  // DPDK vhost_user_set_vring_num: "invalid virtqueue size"
  if (m.request == uapi::kSetVringBase) rings[v.index].base = v.num;
  if (m.request == uapi::kGetVringBase) {
    reply(m.request, vring_state_payload(v.index, rings[v.index].base));  // {index, base}
    return Result::Replied;
  }
  return Result::Done;  // SET_VRING_NUM / SET_VRING_ENABLE: accepted
}

Model::Result Model::vring_addr(const Message& m) {
  auto v = load<uapi::VringAddr>(m.payload);
  if (v.index >= state_.session.rings.size()) return Result::RefusedInHandler;
  if (profile_.vring_addr_needs_mem_table && !state_.session.mem_table)
    return Result::RefusedInHandler;  // DPDK vhost_user_set_vring_addr: dev->mem == NULL
  return Result::Done;
}

Model::Result Model::vring_fd(const Message& m) {
  uint64_t v = m.u64();
  size_t index = v & uapi::kVringIndexMask;  // bits 0-7; bits 9-63 ignored
  auto& rings = state_.session.rings;
  if (index >= rings.size()) return Result::RefusedInHandler;
  RingState& ring = rings[index];
  bool& slot = m.request == uapi::kSetVringKick   ? ring.kick
               : m.request == uapi::kSetVringCall ? ring.call
                                                  : ring.err;
  slot = !(v & uapi::kVringNofdMask);  // the older fd is closed; NOFD holds none
  if (m.request == uapi::kSetVringErr && profile_.vring_err_fd_closed) slot = false;  // DPDK
  return Result::Done;
}

Model::Result Model::get_queue_num(const Message& m) {
  reply_u64(m.request, profile_.queue_num);
  return Result::Replied;
}

Model::Result Model::set_backend_req_fd(const Message&) {
  state_.session.backend_req_fd = true;  // held, replacing an older one
  return Result::Done;
}

Model::Result Model::get_status(const Message& m) {
  reply_u64(m.request, state_.session.status);
  return Result::Replied;
}

Model::Result Model::set_status(const Message& m) {
  if (profile_.status_is_u8 && m.u64() > 0xff)
    return Result::RefusedInHandler;  // DPDK vhost_user_set_status: "invalid device status"
  state_.session.status = m.u64();
  return Result::Done;
}

Model::Result Model::accept(const Message&) {
  return Result::Done;
}  // SEND_RARP

// ---- postcopy (P1-P8) -------------------------------------------------------------------------

Model::Result Model::postcopy_advise(const Message& m) {
  Session& s = state_.session;
  if (profile_.advise_requires_pagefault && !(s.protocol_features & uapi::bit(uapi::kPfPagefault)))
    return Result::Refused;  // P1: PAGEFAULT not negotiated
  if (s.uffd) {
    if (profile_.advise_when_live == AdviseWhenLive::Refuse)
      return Result::RefusedInHandler;                        // P2: one uffd per connection
    if (profile_.advise_when_live == AdviseWhenLive::Leak) {  // DPDK: the fd is overwritten
      state_.leaked_fds++;
      state_.leaked_uffds++;
      s.uffd = false;
    }  // Replace: the old one is closed once the new one exists
  }
  std::vector<uint8_t> body =
      profile_.advise_reply_echoes_payload ? m.payload : std::vector<uint8_t>{};
  const bool opened = !fault(Site::Userfaultfd) && !fault(Site::UffdioApi);  // P4
  if (!opened) {
    switch (profile_.advise_failure) {
      case AdviseFailure::ReplyNoFd:  // P4: size 0, no fd, connection stays
        reply(m.request, std::move(body));
        return Result::Replied;
      case AdviseFailure::Refuse:
        return Result::RefusedInHandler;
      case AdviseFailure::Close:
        disconnect();
        return Result::Closed;
    }
  }
  s.uffd = true;
  reply(m.request, std::move(body), {FdKind::Uffd});  // P4: size 0 + exactly one fd
  return Result::Replied;
}

Model::Result Model::postcopy_listen(const Message& m) {
  Session& s = state_.session;
  bool ok = true;
  if (profile_.listen_requires_uffd && !profile_.mutant_listen_without_advise && !s.uffd)
    ok = false;                                                                // P5: after ADVISE
  if (ok && !s.regions.empty() && profile_.listen_refuses_mapped) ok = false;  // P5: no regions
  if (ok && profile_.listen_registers_mapped && !s.regions.empty()) {          // rust-vmm ordering
    ok = s.uffd && !fault(Site::UffdioRegister);
    if (ok)
      for (auto& r : s.regions) r.registered = true;
  }
  if (!ok) {
    if (!profile_.listen_always_replies) return Result::RefusedInHandler;
    reply_u64(m.request, ~uint64_t{0});  // libvhost-user: u64 -1, then vu_panic
    disconnect();
    return Result::Closed;
  }
  s.listening = true;  // P5: a repeated LISTEN changes nothing
  if (!profile_.listen_always_replies) return Result::Done;
  reply_u64(m.request, 0);
  return Result::Replied;
}

Model::Result Model::postcopy_end(const Message& m) {
  Session& s = state_.session;
  if (!s.uffd && profile_.end_without_uffd_fails) {
    reply_u64(m.request, 1);  // P7: no live uffd: u64 1, no change
    return Result::Replied;
  }
  if (!profile_.mutant_end_keeps_uffd) {
    s.uffd = false;  // P7: closing the uffd unregisters the regions; mappings stay
    for (auto& r : s.regions) r.registered = false;
  }
  s.listening = false;
  if (profile_.end_reply == EndReply::IfReplyAck) return Result::Done;  // rust-vmm: R2 only
  reply_u64(m.request, 0);                                              // P7: 0 is success
  return Result::Replied;
}

// ---- observation ------------------------------------------------------------------------------

Phase Model::phase() const {
  const Session& s = state_.session;
  if (s.awaiting_ack) return Phase::AwaitingAck;  // X12
  bool registered = false;
  for (const auto& r : s.regions) registered |= r.registered;
  if (s.listening) return registered ? Phase::Registered : Phase::Listening;
  return s.uffd ? Phase::Advised : Phase::None;
}

Resources Model::resources() const {
  const Session& s = state_.session;
  auto clamp = [](size_t n) { return static_cast<uint8_t>(n > 255 ? 255 : n); };
  size_t registered = 0, ring_fds = 0;
  for (const auto& r : s.regions) registered += r.registered;
  for (const auto& r : s.rings) ring_fds += r.kick + r.call + r.err;
  Resources res;
  res.uffds = s.uffd;
  if (profile_.leaked_fds_held) res.uffds += state_.leaked_uffds;  // DPDK: still open
  res.regions_mapped = clamp(s.regions.size());
  res.regions_registered = clamp(registered);
  res.held_fds = clamp(s.uffd + s.regions.size() + s.stale_region_fds + ring_fds + s.log_base_fd +
                       s.log_fd + s.backend_req_fd + state_.queued.size() +
                       (profile_.leaked_fds_held ? state_.leaked_fds : 0));
  res.phase = phase();
  return res;
}

}  // namespace lockstep::vhost
