#include "impl/vhost/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <utility>

#include "core/bytes.h"
#include "impl/sys.h"

namespace lockstep::vhost {

using namespace wire;  // this file never sees model/vhost's Message
namespace {

using uapi::bit;

// Rule X6: the most a region may span (memory_size + mmap_offset), so that mapping is
// deterministic: 8 such MAP_NORESERVE mappings always fit in the x86-64 address space.
constexpr uint64_t kMaxRegionSpan = uint64_t{1} << 40;

// Rule W2: a request's flags are exactly VERSION, optionally with NEED_REPLY.
bool request_header_ok(const Header& h) {
  return (h.flags & ~uapi::kKnownFlags) == 0 && (h.flags & uapi::kVersionMask) == uapi::kVersion &&
         (h.flags & uapi::kReply) == 0;
}

bool need_reply(const Message& m) {
  return (m.hdr.flags & uapi::kNeedReply) != 0;
}

std::string request_label(uint32_t request) {
  std::string_view name = uapi::request_name(request);
  return (name.empty() ? "REQ_" + std::to_string(request) : std::string(name)) + "(" +
         std::to_string(request) + ")";
}

std::string frame_line(const char* dir, const Header& h, size_t fds) {
  char buf[96];
  std::snprintf(buf, sizeof buf, " flags=0x%x size=%u fds=%zu", h.flags, h.size, fds);
  return std::string(dir) + " " + request_label(h.request) + buf;
}

size_t page_size() {
  static const size_t size = static_cast<size_t>(sys::sysconf(sys::kHarness, _SC_PAGESIZE));
  return size;
}

// ---- W6/W7: what each request carries ------------------------------------------------------
enum class PayloadRule : uint8_t { kNone, kU64, kVringState, kVringAddr, kLog, kMemTable };
enum class FdRule : uint8_t { kNone, kOne, kRegions, kVringFile };

// nregions of a well-sized memory table, else 0.
uint32_t table_regions(const Message& m) {
  if (m.payload.size() < sizeof(uapi::MemoryHeader)) return 0;
  const uint32_t n = load<uapi::MemoryHeader>(m.payload).nregions;
  if (n < 1 || n > uapi::kMaxRegions || m.payload.size() != uapi::mem_table_size(n)) return 0;
  return n;
}

bool payload_ok(PayloadRule rule, const Message& m) {
  switch (rule) {
    case PayloadRule::kNone:
      return m.hdr.size == 0;
    case PayloadRule::kU64:
      return m.hdr.size == sizeof(uint64_t);
    case PayloadRule::kVringState:
      return m.hdr.size == sizeof(uapi::VringState);
    case PayloadRule::kVringAddr:
      return m.hdr.size == sizeof(uapi::VringAddr);
    case PayloadRule::kLog:
      return m.hdr.size == sizeof(uapi::Log);
    case PayloadRule::kMemTable:
      return table_regions(m) != 0;
  }
  return false;
}

size_t fds_expected(FdRule rule, const Message& m) {
  switch (rule) {
    case FdRule::kNone:
      return 0;
    case FdRule::kOne:
      return 1;
    case FdRule::kRegions:
      return table_regions(m);
    case FdRule::kVringFile:
      return (m.u64() & uapi::kVringNofdMask) ? 0 : 1;
  }
  return 0;
}

}  // namespace

// ---- profiles --------------------------------------------------------------------------------

std::optional<BackendOptions> backend_options(std::string_view profile) {
  if (profile == "spec") return BackendOptions{};
  if (profile.size() <= 7 || !(profile.starts_with("mutant-") || profile.starts_with("mutant:")))
    return std::nullopt;
  const std::string_view name = profile.substr(7);
#define LOCKSTEP_IMPL_MUTANT(ID, NAME, ...) \
  if (name == NAME) return BackendOptions{.mutant = Mutant::ID};
#include "impl/vhost/mutants.def"
#undef LOCKSTEP_IMPL_MUTANT
  return std::nullopt;
}

std::vector<std::string> backend_profiles() {
  std::vector<std::string> out{"spec"};
#define LOCKSTEP_IMPL_MUTANT(ID, NAME, ...) out.push_back(std::string("mutant-") + NAME);
#include "impl/vhost/mutants.def"
#undef LOCKSTEP_IMPL_MUTANT
  return out;
}

// ---- a mapped region -------------------------------------------------------------------------

struct Backend::Region {
  uapi::MemoryRegion desc{};
  void* map = MAP_FAILED;
  size_t map_len = 0;  // memory_size + mmap_offset, rounded up to the page size
  UniqueFd fd;
  bool registered = false;

  Region(const uapi::MemoryRegion& d, void* m, size_t len, UniqueFd f)
      : desc(d), map(m), map_len(len), fd(std::move(f)) {}
  Region(Region&& o) noexcept
      : desc(o.desc),
        map(std::exchange(o.map, MAP_FAILED)),
        map_len(o.map_len),
        fd(std::move(o.fd)),
        registered(o.registered) {}
  Region& operator=(Region&& o) noexcept {
    std::swap(desc, o.desc);
    std::swap(map, o.map);
    std::swap(map_len, o.map_len);
    std::swap(fd, o.fd);
    std::swap(registered, o.registered);
    return *this;
  }
  ~Region() {
    // Also drops a uffd registration. F3: a failed munmap (EINVAL) leaves the range mapped; the
    // region is forgotten all the same.
    if (map != MAP_FAILED) sys::munmap(sys::at(Site::Munmap), map, map_len);
  }
  uintptr_t base() const { return reinterpret_cast<uintptr_t>(map) + desc.mmap_offset; }
};

// ---- dispatch table --------------------------------------------------------------------------

struct Backend::Handler {
  Result (Backend::*fn)(Message&);
  PayloadRule payload;
  FdRule fds;
};

const Backend::Handler* Backend::handler_for(uint32_t request) {
  using P = PayloadRule;
  using F = FdRule;
  using B = Backend;
  // Rule X4: the handled requests; every other id is E2.
  static const Handler kNone{nullptr, P::kNone, F::kNone};
  // clang-format off
  static const Handler kTable[uapi::kGetStatus + 1] = {
      /*  0 NONE                  */ kNone,
      /*  1 GET_FEATURES          */ {&B::on_get_features, P::kNone, F::kNone},
      /*  2 SET_FEATURES          */ {&B::on_set_features, P::kU64, F::kNone},
      /*  3 SET_OWNER             */ {&B::on_set_owner, P::kNone, F::kNone},
      /*  4 RESET_OWNER           */ {&B::on_reset_owner, P::kNone, F::kNone},
      /*  5 SET_MEM_TABLE         */ {&B::on_set_mem_table, P::kMemTable, F::kRegions},
      /*  6 SET_LOG_BASE          */ {&B::on_set_log_base, P::kLog, F::kOne},
      /*  7 SET_LOG_FD            */ {&B::on_set_log_fd, P::kNone, F::kOne},
      /*  8 SET_VRING_NUM         */ {&B::on_set_vring_num, P::kVringState, F::kNone},
      /*  9 SET_VRING_ADDR        */ {&B::on_set_vring_addr, P::kVringAddr, F::kNone},
      /* 10 SET_VRING_BASE        */ {&B::on_set_vring_base, P::kVringState, F::kNone},
      /* 11 GET_VRING_BASE        */ {&B::on_get_vring_base, P::kVringState, F::kNone},
      /* 12 SET_VRING_KICK        */ {&B::on_set_vring_kick, P::kU64, F::kVringFile},
      /* 13 SET_VRING_CALL        */ {&B::on_set_vring_call, P::kU64, F::kVringFile},
      /* 14 SET_VRING_ERR         */ {&B::on_set_vring_err, P::kU64, F::kVringFile},
      /* 15 GET_PROTOCOL_FEATURES */ {&B::on_get_protocol_features, P::kNone, F::kNone},
      /* 16 SET_PROTOCOL_FEATURES */ {&B::on_set_protocol_features, P::kU64, F::kNone},
      /* 17 GET_QUEUE_NUM         */ {&B::on_get_queue_num, P::kNone, F::kNone},
      /* 18 SET_VRING_ENABLE      */ {&B::on_set_vring_enable, P::kVringState, F::kNone},
      /* 19 SEND_RARP             */ {&B::on_send_rarp, P::kU64, F::kNone},
      /* 20 NET_SET_MTU           */ kNone,
      /* 21 SET_BACKEND_REQ_FD    */ {&B::on_set_backend_req_fd, P::kNone, F::kOne},
      /* 22-27                    */ kNone, kNone, kNone, kNone, kNone, kNone,
      /* 28 POSTCOPY_ADVISE       */ {&B::on_postcopy_advise, P::kNone, F::kNone},
      /* 29 POSTCOPY_LISTEN       */ {&B::on_postcopy_listen, P::kNone, F::kNone},
      /* 30 POSTCOPY_END          */ {&B::on_postcopy_end, P::kNone, F::kNone},
      /* 31-38                    */ kNone, kNone, kNone, kNone, kNone, kNone, kNone, kNone,
      /* 39 SET_STATUS            */ {&B::on_set_status, P::kU64, F::kNone},
      /* 40 GET_STATUS            */ {&B::on_get_status, P::kNone, F::kNone},
  };
  // clang-format on
  if (request >= std::size(kTable) || !kTable[request].fn) return nullptr;
  return &kTable[request];
}

// ---- connection ------------------------------------------------------------------------------

Backend::Backend(UniqueFd sock, BackendOptions options, Logger log)
    : options_(options),
      log_(std::move(log)),
      sock_(std::move(sock)),
      reader_(uapi::kMaxPayload, &request_header_ok) {}

Backend::~Backend() = default;

void Backend::log(const std::string& line) const {
  if (log_) log_(line);
}

void Backend::fail_next(Site site, int err) {
  armed_ = FailNext{site, fault_errno(FailNext{site, err})};
}

// F1/X11: the armed fault covers the reads that assemble the next message and its processing;
// it stays armed across calls until it fires or that message has been processed.
struct Backend::ArmScope {
  Backend& b;
  explicit ArmScope(Backend& backend) : b(backend) {
    if (b.armed_) sys::arm({sys::at(b.armed_->site), b.armed_->err});
  }
  ~ArmScope() {
    if (!sys::armed()) b.armed_.reset();  // it fired
    sys::disarm();
  }
};

void Backend::handle_readable() {
  if (!connected()) return;
  if (pending_out_ && !flush()) return;
  ArmScope scope(*this);
  while (connected() && !pending_out_) {
    Message m;
    const MessageReader::Status st = reader_.read(sock_.get(), m);
    if (st == MessageReader::Status::kWouldBlock) return;
    if (st != MessageReader::Status::kMessage) {  // W2, W3, W4 (EOF), W5: rule D1
      disconnect(to_string(st));
      return;
    }
    process(m);
  }
}

void Backend::disconnect(const char* why) {
  if (!connected()) return;
  sys::disarm();  // X11: a fault is discarded on disconnect
  log(std::string("closed: ") + why);
  if (uffd_ && options_.broken(Mutant::DISCONNECT_LEAKS_UFFD)) leaked_.push_back(std::move(uffd_));
  reset_session();
  reader_.reset();
  pending_out_.reset();
  armed_.reset();
  sock_.reset();
}

// Rule D1 minus the socket (also RESET_OWNER, N4): nothing the session held stays open.
void Backend::reset_session() {
  awaiting_ack_ = false;
  listening_ = false;
  regions_.clear();
  retired_.clear();
  uffd_.reset();
  for (Ring& r : rings_) {
    if (options_.broken(Mutant::RESET_KEEPS_RING_FDS)) {  // the fds survive the reset
      r.addr = {};
      r.num = r.base = r.enable = 0;
    } else {
      r = Ring{};
    }
  }
  log_base_.reset();
  log_fd_.reset();
  backend_req_.reset();
  features_ = protocol_features_ = status_ = 0;
}

void Backend::process(Message& m) {
  ++messages_;
  if (log_) log(frame_line("<-", m.hdr, m.fds.size()));
  const Result r = awaiting_ack_ ? on_postcopy_ack(m) : dispatch(m);  // P6: the next message
  if (r == Result::kRefused && options_.broken(Mutant::REFUSED_KEEPS_FDS))
    for (UniqueFd& fd : m.fds)
      if (fd) leaked_.push_back(std::move(fd));  // mutant: kept by nobody
  finish(m, r);
  armed_.reset();  // F1: armed for this message only
  sys::disarm();
  m.fds.clear();  // E1, W6: fds no handler took are closed, never kept
}

Backend::Result Backend::dispatch(Message& m) {
  const Handler* h = handler_for(m.hdr.request);
  if (!h) {
    log("refused: unknown request");  // E2
    return Result::kRefused;
  }
  if (!payload_ok(h->payload, m)) {  // W7
    log("refused: payload size");
    return Result::kRefused;
  }
  if (m.fds.size() != fds_expected(h->fds, m)) {  // W6
    if (options_.broken(Mutant::ADVISE_KEEPS_FDS) && m.hdr.request == uapi::kPostcopyAdvise) {
      for (UniqueFd& fd : m.fds) leaked_.push_back(std::move(fd));  // mutant: kept by nobody
      m.fds.clear();
    } else {
      log("refused: fd count");
      return Result::kRefused;
    }
  }
  return (this->*h->fn)(m);
}

void Backend::finish(const Message& m, Result r) {
  switch (r) {
    case Result::kOk:  // R2
      if (need_reply(m)) reply_u64(m, 0);
      return;
    case Result::kReplied:  // R1
      return;
    case Result::kRefused:  // E1
      if (need_reply(m))
        reply_u64(m, 1);
      else if (!options_.broken(Mutant::REFUSED_STAYS_CONNECTED))
        disconnect("refused without NEED_REPLY");
      return;
    case Result::kClose:
      disconnect("protocol violation");
      return;
  }
}

// W8: one frame, flags exactly VERSION|REPLY, the request's id. F1/X11: an injected sendmsg
// fault (or a real send error) loses the reply and closes the connection. If the socket is full,
// the reply is kept (with dups of its fds) and flushed before anything else is read.
bool Backend::reply(const Message& request, std::span<const uint8_t> payload,
                    std::span<const int> fds) {
  if (!connected()) return false;
  uint32_t flags = uapi::kReplyFlags;
  if (options_.broken(Mutant::REPLY_ECHOES_NEED_REPLY))
    flags |= request.hdr.flags & uapi::kNeedReply;
  uint32_t id = request.hdr.request;
  if (options_.broken(Mutant::PROTOCOL_FEATURES_REPLY_ID) && id == uapi::kGetProtocolFeatures)
    id = uapi::kGetFeatures;  // mutant: a copy-paste slip between the two feature handlers
  const Header h{id, flags, static_cast<uint32_t>(payload.size())};
  if (log_) log(frame_line("->", h, fds.size()));
  ++replies_;
  std::vector<uint8_t> bytes = frame(h, payload);
  const long n = send_some(sock_.get(), bytes, fds, /*dontwait=*/true);  // F2: EINTR retried
  if (n == static_cast<long>(bytes.size())) return true;
  if (n >= 0 || n == -EAGAIN) {  // F2: the rest goes out when the socket is writable
    Pending p;
    p.bytes.assign(bytes.begin() + (n > 0 ? n : 0), bytes.end());
    if (n <= 0) p.fds.assign(fds.begin(), fds.end());
    pending_out_ = std::move(p);
    return true;
  }
  if (log_) log(std::string("sendmsg: ") + std::strerror(static_cast<int>(-n)));
  disconnect("sendmsg failed");  // F1: the reply is lost
  return false;
}

bool Backend::reply_u64(const Message& request, uint64_t value) {
  uint8_t payload[sizeof value];
  std::memcpy(payload, &value, sizeof value);
  return reply(request, payload, {});
}

bool Backend::flush() {
  const long n = send_some(sock_.get(), pending_out_->bytes, pending_out_->fds, /*dontwait=*/true);
  if (n == -EAGAIN) return false;
  if (n < 0) {
    disconnect("sendmsg failed");
    return false;
  }
  pending_out_->fds.clear();  // the kernel has them now
  pending_out_->bytes.erase(pending_out_->bytes.begin(), pending_out_->bytes.begin() + n);
  if (!pending_out_->bytes.empty()) return false;
  pending_out_.reset();
  return true;
}

Backend::Stats Backend::stats() const {
  Stats s;
  s.uffds = uffd_ ? 1 : 0;
  s.regions_mapped = static_cast<int>(regions_.size());
  for (const Region& r : regions_) s.regions_registered += r.registered ? 1 : 0;
  s.held_fds = s.uffds + s.regions_mapped + static_cast<int>(reader_.pending_fds());
  for (const Ring& r : rings_) s.held_fds += !!r.kick + !!r.call + !!r.err;
  s.held_fds += !!log_base_ + !!log_fd_ + !!backend_req_;
  // Rule X12: the phase is derived from the state.
  if (awaiting_ack_)
    s.phase = Phase::AwaitingAck;
  else if (listening_)
    s.phase = s.regions_registered ? Phase::Registered : Phase::Listening;
  else if (uffd_)
    s.phase = Phase::Advised;
  s.connected = connected();
  s.output_pending = output_pending();
  return s;
}

std::vector<Backend::RegionView> Backend::regions() const {
  std::vector<RegionView> out;
  for (const Region& r : regions_)
    out.push_back({r.desc.guest_phys_addr, r.desc.memory_size, r.desc.mmap_offset, r.base(),
                   r.map_len, r.registered});
  return out;
}

Backend::Ring* Backend::ring(uint32_t index) {
  return index < rings_.size() ? &rings_[index] : nullptr;  // X3
}

// ---- negotiation (N1-N4) ---------------------------------------------------------------------

Backend::Result Backend::on_get_features(Message& m) {  // N1
  reply_u64(m, uapi::kOfferedFeatures);
  return Result::kReplied;
}

Backend::Result Backend::on_set_features(Message& m) {  // N2
  const uint64_t v = m.u64();
  if (v & ~uapi::kOfferedFeatures) return Result::kRefused;
  features_ = v;
  return Result::kOk;
}

Backend::Result Backend::on_get_protocol_features(Message& m) {  // N3
  reply_u64(m, uapi::kOfferedProtocolFeatures);
  return Result::kReplied;
}

Backend::Result Backend::on_set_protocol_features(Message& m) {  // N3 (DPDK rule)
  const uint64_t v = m.u64();
  if (v & ~uapi::kOfferedProtocolFeatures) return Result::kRefused;
  protocol_features_ = v;
  return Result::kOk;
}

Backend::Result Backend::on_set_owner(Message&) {
  return Result::kOk;
}  // N4: repeatable

Backend::Result Backend::on_reset_owner(Message&) {  // N4, X9
  if (options_.reset_owner_releases)
    reset_session();
  else
    for (Ring& r : rings_) r.enable = 0;  // "disable all rings"
  return Result::kOk;
}

Backend::Result Backend::on_get_queue_num(Message& m) {
  reply_u64(m, uapi::kQueueNum);
  return Result::kReplied;
}

// ---- memory table (device-independent list; P6) -----------------------------------------------

Backend::Result Backend::on_set_mem_table(Message& m) {
  const uint32_t n = table_regions(m);
  std::vector<uapi::MemoryRegion> table(n);
  std::memcpy(table.data(), m.payload.data() + sizeof(uapi::MemoryHeader), n * sizeof table[0]);
  for (const uapi::MemoryRegion& r : table) {  // X6
    if (r.memory_size == 0 || r.mmap_offset > kMaxRegionSpan ||
        r.memory_size > kMaxRegionSpan - r.mmap_offset) {
      log("refused: region span");
      return Result::kRefused;
    }
  }
  std::vector<Region> fresh;  // unmapped and closed again if anything fails
  fresh.reserve(n);
  const uint32_t mapped = options_.broken(Mutant::TABLE_SKIPS_LAST_REGION) ? n - 1 : n;
  for (uint32_t i = 0; i < mapped; ++i) {
    const size_t len = table[i].memory_size + table[i].mmap_offset;
    void* map = sys::mmap(sys::at(Site::Mmap), nullptr, len, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_NORESERVE, m.fds[i].get(), 0);
    if (map == MAP_FAILED) {
      if (log_) log("refused: mmap region " + std::to_string(i) + ": " + std::strerror(errno));
      if (options_.broken(Mutant::MMAP_FAILURE_KEEPS_FD))
        leaked_.push_back(std::move(m.fds[i]));  // mutant: the failed region's fd kept by nobody
      return Result::kRefused;
    }
    const size_t map_len = (len + page_size() - 1) / page_size() * page_size();
    fresh.emplace_back(table[i], map, map_len, std::move(m.fds[i]));
  }
  if (options_.broken(Mutant::TABLE_KEEPS_OLD_REGION_FDS))
    for (Region& old : regions_) retired_.push_back(std::move(old.fd));  // M3 broken
  regions_ = std::move(fresh);  // the old regions: unmapped, their fds closed
  if (!listening_) return Result::kOk;

  // P6, X7: reply with the table, each userspace_addr our mapping base; then wait for the ack.
  std::vector<uint8_t> payload = m.payload;
  for (uint32_t i = 0; i < regions_.size(); ++i) {
    const uint64_t base = regions_[i].base();
    std::memcpy(payload.data() + sizeof(uapi::MemoryHeader) + i * sizeof(uapi::MemoryRegion) +
                    offsetof(uapi::MemoryRegion, userspace_addr),
                &base, sizeof base);
  }
  awaiting_ack_ = true;
  if (options_.broken(Mutant::REGISTER_BEFORE_ACK)) register_regions();  // mutant: too early
  reply(m, payload, {});
  return Result::kReplied;
}

// X8: every mapped region registered with the uffd (MISSING mode); on a failure none stays.
bool Backend::register_regions() {
  for (Region& r : regions_) {
    if (r.registered) continue;
    uffdio_register reg{};
    reg.range.start = reinterpret_cast<uintptr_t>(r.map);
    reg.range.len = r.map_len;
    reg.mode = UFFDIO_REGISTER_MODE_MISSING;
    if (!uffd_ ||
        sys::ioctl(sys::at(Site::UffdioRegister), uffd_.get(), UFFDIO_REGISTER, &reg) != 0) {
      log(std::string("refused: UFFDIO_REGISTER: ") + std::strerror(errno));
      regions_.clear();
      return false;
    }
    r.registered = true;
  }
  return true;
}

// P6, X8: the message after a postcopy SET_MEM_TABLE reply.
Backend::Result Backend::on_postcopy_ack(Message& m) {
  awaiting_ack_ = false;
  if ((m.hdr.request != uapi::kSetMemTable || m.hdr.size != sizeof(uint64_t) || !m.fds.empty() ||
       m.u64() != 0) &&
      !options_.broken(Mutant::NO_ACK_CHECK)) {
    log("closing: not the front-end's postcopy ack");
    return Result::kClose;
  }
  return register_regions() ? Result::kOk : Result::kRefused;
}

Backend::Result Backend::on_set_log_base(Message& m) {  // X10
  log_base_ = std::move(m.fds[0]);
  reply_u64(m, 0);
  return Result::kReplied;
}

Backend::Result Backend::on_set_log_fd(Message& m) {
  log_fd_ = std::move(m.fds[0]);
  return Result::kOk;
}

// ---- rings (X3) ------------------------------------------------------------------------------

Backend::Result Backend::on_set_vring_num(Message& m) {
  const auto s = load<uapi::VringState>(m.payload);
  Ring* r = ring(s.index);
  if (!r) return Result::kRefused;
  r->num = s.num;
  return Result::kOk;
}

Backend::Result Backend::on_set_vring_addr(Message& m) {
  const auto a = load<uapi::VringAddr>(m.payload);
  Ring* r = ring(a.index);
  if (!r) return Result::kRefused;
  r->addr = a;
  return Result::kOk;
}

Backend::Result Backend::on_set_vring_base(Message& m) {
  const auto s = load<uapi::VringState>(m.payload);
  Ring* r = ring(s.index);
  if (!r) return Result::kRefused;
  r->base = s.num;
  return Result::kOk;
}

Backend::Result Backend::on_get_vring_base(Message& m) {
  const auto s = load<uapi::VringState>(m.payload);
  Ring* r = ring(s.index);
  if (!r) return Result::kRefused;
  const uapi::VringState state{s.index, r->base};
  uint8_t payload[sizeof state];
  std::memcpy(payload, &state, sizeof state);
  reply(m, payload, {});
  return Result::kReplied;
}

Backend::Result Backend::on_set_vring_enable(Message& m) {
  const auto s = load<uapi::VringState>(m.payload);
  Ring* r = ring(s.index);
  if (!r) return Result::kRefused;
  r->enable = s.num;
  return Result::kOk;
}

Backend::Result Backend::set_vring_fd(Message& m, UniqueFd Ring::*slot) {
  const uint64_t v = m.u64();
  Ring* r = ring(static_cast<uint32_t>(v & uapi::kVringIndexMask));
  if (!r) return Result::kRefused;
  r->*slot = (v & uapi::kVringNofdMask) ? UniqueFd() : std::move(m.fds[0]);  // the old one closed
  return Result::kOk;
}

Backend::Result Backend::on_set_vring_kick(Message& m) {
  return set_vring_fd(m, &Ring::kick);
}
Backend::Result Backend::on_set_vring_call(Message& m) {
  return set_vring_fd(m, &Ring::call);
}
Backend::Result Backend::on_set_vring_err(Message& m) {
  return set_vring_fd(m, &Ring::err);
}

// ---- other device-independent messages ---------------------------------------------------------

Backend::Result Backend::on_send_rarp(Message&) {
  return Result::kOk;
}

Backend::Result Backend::on_set_backend_req_fd(Message& m) {
  backend_req_ = std::move(m.fds[0]);
  return Result::kOk;
}

Backend::Result Backend::on_set_status(Message& m) {
  status_ = m.u64();
  return Result::kOk;
}

Backend::Result Backend::on_get_status(Message& m) {
  reply_u64(m, status_);
  return Result::kReplied;
}

// ---- postcopy (P1-P8) ------------------------------------------------------------------------

Backend::Result Backend::on_postcopy_advise(Message& m) {
  if (options_.advise_requires_pagefault && !(protocol_features_ & bit(uapi::kPfPagefault)))
    return Result::kRefused;  // P1
  if (uffd_ && options_.broken(Mutant::ADVISE_SECOND_UFFD))
    leaked_.push_back(std::move(uffd_));  // mutant: DPDK overwrites postcopy_ufd
  if (uffd_ && options_.one_uffd_per_connection) return Result::kRefused;  // P2
  // P4: userfaultfd(O_CLOEXEC|O_NONBLOCK) + UFFDIO_API; on failure a reply without the fd.
  UniqueFd fd(sys::userfaultfd(sys::at(Site::Userfaultfd), O_CLOEXEC | O_NONBLOCK));
  if (fd) {
    uffdio_api api{};
    api.api = UFFD_API;
    api.features = 0;
    if (sys::ioctl(sys::at(Site::UffdioApi), fd.get(), UFFDIO_API, &api) != 0) fd.reset();
  }
  if (!fd) {
    log(std::string("ADVISE: no userfaultfd: ") + std::strerror(errno));
    reply(m, {}, {});
    return Result::kReplied;
  }
  uffd_ = std::move(fd);
  const int sent = uffd_.get();
  if (options_.broken(Mutant::ADVISE_REPLY_WITHOUT_UFFD))
    reply(m, {}, {});  // mutant: the front-end never receives the userfaultfd
  else
    reply(m, {}, {&sent, 1});
  return Result::kReplied;
}

Backend::Result Backend::on_postcopy_listen(Message&) {  // P5
  if (!uffd_ && !options_.broken(Mutant::LISTEN_WITHOUT_ADVISE)) return Result::kRefused;
  if (!regions_.empty()) return Result::kRefused;
  listening_ = true;
  return Result::kOk;
}

Backend::Result Backend::on_postcopy_end(Message& m) {  // P7
  if (!uffd_) {
    reply_u64(m, options_.end_without_advise_fails ? 1 : 0);
    return Result::kReplied;
  }
  if (!options_.broken(Mutant::END_KEEPS_UFFD)) {
    uffd_.reset();  // unregisters every region; the mappings stay
    for (Region& r : regions_) r.registered = false;
  }
  if (!options_.broken(Mutant::END_KEEPS_LISTENING)) listening_ = false;
  reply_u64(m, 0);
  return Result::kReplied;
}

}  // namespace lockstep::vhost
