#include "core/vhost/ops.h"

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <iterator>

#include "core/bytes.h"
#include "core/fail_next.h"
#include "core/overloaded.h"
#include "core/program_text.h"

namespace lockstep::vhost {
namespace {

template <class T>
void append(std::vector<uint8_t>& out, const T& value) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &value, sizeof(T));
}

// A normalised back-end address reads "mapped" (or "mapped+0x10" when the offset was unaligned).
// Other relation classes read "misaligned" and "overlapping" likewise.
std::string mapped_text(uint64_t addr) {
  const uint64_t low = addr & (uapi::kPageSize - 1);
  const std::string suffix = low ? "+" + format_uint(low, true) : "";
  switch (addr - low) {
    case uapi::kNormalisedAddr:
      return "mapped" + suffix;
    case uapi::kMisalignedAddr:
      return "misaligned" + suffix;
    case uapi::kOverlappingAddr:
      return "overlapping" + suffix;
  }
  return format_uint(addr, true);
}

bool is_mem_table_request(uint32_t request) {
  return request == uapi::kSetMemTable || request == uapi::kAddMemReg;
}

}  // namespace

std::optional<uint64_t> Reply::u64() const {
  if (payload.size() != 8) return std::nullopt;
  return load<uint64_t>(payload, 0);
}

namespace {

// X7: the mapping a replied region claims, [base, end), base = userspace_addr - mmap_offset.
struct Mapping {
  uint64_t base, end;
  bool overlaps(const Mapping& o) const { return base < o.end && o.base < end; }
};

Mapping mapping_of(const uapi::MemoryRegion& r) {
  const uint64_t base = r.userspace_addr - r.mmap_offset;
  const uint64_t span = r.mmap_offset + r.memory_size;
  const bool wraps = span < r.mmap_offset || base + span < base;
  return {base, wraps ? UINT64_MAX : base + span};
}

// The relation class of region i's address among the regions of one reply.
uint64_t relation_of(const std::vector<uapi::MemoryRegion>& table, size_t i) {
  const Mapping m = mapping_of(table[i]);
  if (m.base & (uapi::kPageSize - 1)) return uapi::kMisalignedAddr;
  for (size_t j = 0; j < table.size(); ++j)
    if (j != i && table[j].userspace_addr != 0 && m.overlaps(mapping_of(table[j])))
      return uapi::kOverlappingAddr;
  return uapi::kNormalisedAddr;
}

}  // namespace

void normalise(Reply& reply) {
  if (!is_mem_table_request(reply.request)) return;
  const auto table = parse_mem_table(reply.payload);
  if (!table) return;
  for (size_t i = 0; i < table->size(); ++i) {  // in place: the other fields stay
    const uint64_t addr = (*table)[i].userspace_addr;
    if (addr == 0) continue;  // kept: a zero base is a divergence
    const uint64_t normalised = relation_of(*table, i) + (addr & (uapi::kPageSize - 1));
    const size_t at = uapi::mem_table_size(i) + offsetof(uapi::MemoryRegion, userspace_addr);
    std::memcpy(reply.payload.data() + at, &normalised, sizeof normalised);
  }
}

// ---- payload builders ------------------------------------------------------------------------

std::vector<uint8_t> u64_payload(uint64_t value) {
  std::vector<uint8_t> out;
  append(out, value);
  return out;
}

std::vector<uint8_t> vring_state_payload(uint32_t index, uint32_t num) {
  std::vector<uint8_t> out;
  append(out, uapi::VringState{index, num});
  return out;
}

std::vector<uint8_t> vring_addr_payload(const uapi::VringAddr& addr) {
  std::vector<uint8_t> out;
  append(out, addr);
  return out;
}

std::vector<uint8_t> log_payload(uint64_t mmap_size, uint64_t mmap_offset) {
  std::vector<uint8_t> out;
  append(out, uapi::Log{mmap_size, mmap_offset});
  return out;
}

std::vector<uint8_t> mem_table_payload(const std::vector<uapi::MemoryRegion>& regions) {
  std::vector<uint8_t> out;
  append(out, uapi::MemoryHeader{static_cast<uint32_t>(regions.size()), 0});
  for (const auto& r : regions) append(out, r);
  return out;
}

std::optional<std::vector<uapi::MemoryRegion>> parse_mem_table(const std::vector<uint8_t>& p) {
  if (p.size() < sizeof(uapi::MemoryHeader)) return std::nullopt;
  auto header = load<uapi::MemoryHeader>(p, 0);
  if (header.nregions > uapi::kMaxRegions || p.size() != uapi::mem_table_size(header.nregions))
    return std::nullopt;
  std::vector<uapi::MemoryRegion> out;
  for (uint32_t i = 0; i < header.nregions; ++i)
    out.push_back(load<uapi::MemoryRegion>(p, uapi::mem_table_size(i)));
  return out;
}

Send send(uint32_t request, uint32_t flags, std::vector<uint8_t> payload, std::vector<FdSpec> fds) {
  return Send{request, flags, std::move(payload), std::move(fds), std::nullopt};
}

Send send_u64(uint32_t request, uint64_t value, uint32_t flags) {
  return send(request, flags, u64_payload(value));
}

Send set_mem_table(const std::vector<uapi::MemoryRegion>& regions, uint32_t flags) {
  std::vector<FdSpec> fds;
  for (const auto& r : regions) fds.push_back({FdKind::Memfd, r.memory_size});
  return send(uapi::kSetMemTable, flags, mem_table_payload(regions), std::move(fds));
}

Send mem_table_ack(uint32_t flags) {
  return send_u64(uapi::kSetMemTable, 0, flags);
}

std::vector<uapi::MemoryRegion> regions(size_t n, uint64_t size) {
  std::vector<uapi::MemoryRegion> out;
  for (size_t i = 0; i < n; ++i) out.push_back({i * size, size, 0x7f0000000000 + i * size, 0});
  return out;
}

// ---- traits ----------------------------------------------------------------------------------

std::string request_text(uint32_t request) {
  std::string_view name = uapi::request_name(request);
  return name.empty() || request == uapi::kNone ? std::to_string(request) : std::string(name);
}

std::string Protocol::op_name(const Op& op) {
  return std::visit(Overloaded{
                        [](const Send& s) {
                          std::string_view name = uapi::request_name(s.request);
                          return name.empty() ? "REQ_" + std::to_string(s.request)
                                              : std::string(name);
                        },
                        [](const RawBytes&) { return std::string("RAW"); },
                        [](const Disconnect&) { return std::string("DISCONNECT"); },
                        [](const Connect&) { return std::string("CONNECT"); },
                        [](const FailNext&) { return std::string("FAIL_NEXT"); },
                    },
                    op);
}

const char* first_wire_difference(const Outcome& m, const Outcome& t) {
  if (m.replies.size() != t.replies.size()) return "reply.count";
  for (size_t i = 0; i < m.replies.size(); ++i) {
    const Reply &a = m.replies[i], &b = t.replies[i];
    if (a.request != b.request) return "reply.request";
    if (a.flags != b.flags) return "reply.flags";
    if (a.size != b.size) return "reply.size";
    if (a.payload != b.payload) return "reply.payload";
    if (a.fds != b.fds) return "reply.fds";
  }
  if (m.closed != t.closed) return "closed";
  return nullptr;
}

const char* Protocol::first_difference(const Outcome& m, const Outcome& t) {
  if (const char* field = first_wire_difference(m, t)) return field;
  if (m.res.uffds != t.res.uffds) return "resources.uffds";
  if (m.res.regions_mapped != t.res.regions_mapped) return "resources.regions_mapped";
  if (m.res.regions_registered != t.res.regions_registered) return "resources.regions_registered";
  if (m.res.held_fds != t.res.held_fds) return "resources.held_fds";
  if (m.res.phase != t.res.phase) return "resources.phase";
  return nullptr;
}

std::string Protocol::outcome_text(const Outcome& outcome) {
  return to_string(outcome);
}

std::string Protocol::header(const std::string& profile) {
  return "# lockstep vhost  profile=" + profile;
}

// ---- printing --------------------------------------------------------------------------------

std::string to_string(Site site) {
  return site_name(site);
}

int fault_errno(const FailNext& f) {
  return fault_errno_at(f.site, f.err);
}

bool FailNext::operator==(const FailNext& o) const {
  return site == o.site && fault_errno(*this) == fault_errno(o);
}

std::string to_string(FdKind kind) {
  switch (kind) {
    case FdKind::Eventfd:
      return "eventfd";
    case FdKind::Memfd:
      return "memfd";
    case FdKind::File:
      return "file";
    case FdKind::Uffd:
      return "uffd";
    case FdKind::Other:
      return "other";
  }
  return "?";
}

std::string to_string(Phase phase) {
  switch (phase) {
    case Phase::None:
      return "none";
    case Phase::Advised:
      return "advised";
    case Phase::Listening:
      return "listening";
    case Phase::AwaitingAck:
      return "awaiting-ack";
    case Phase::Registered:
      return "registered";
  }
  return "?";
}

std::string to_string(const FdSpec& fd) {
  if (fd.kind == FdKind::Memfd) return "memfd:" + format_uint(fd.size, true);
  return to_string(fd.kind);
}

std::string to_string(const Reply& r) {
  std::string out = request_text(r.request) + " size=" + std::to_string(r.size);
  if (r.flags != uapi::kReplyFlags) out += " flags=" + format_uint(r.flags, true);
  if (auto v = r.u64(); v && r.size == 8) {
    out += " u64=" + format_uint(*v, *v > 9);
  } else if (auto table =
                 is_mem_table_request(r.request) ? parse_mem_table(r.payload) : std::nullopt;
             table && !table->empty() && r.size == r.payload.size()) {
    out += " regions=";
    for (size_t i = 0; i < table->size(); ++i) {
      const auto& g = (*table)[i];
      if (i) out += "/";
      out += format_uint(g.guest_phys_addr, true) + ":" + format_uint(g.memory_size, true) + ":" +
             mapped_text(g.userspace_addr) + ":" + format_uint(g.mmap_offset, true);
    }
  } else if (!r.payload.empty() || r.size != r.payload.size()) {
    out += " payload=" + hex(r.payload);
  }
  if (!r.fds.empty()) {
    out += " fds=";
    for (size_t i = 0; i < r.fds.size(); ++i) {
      if (i) out += "+";
      out += to_string(r.fds[i]);
    }
  }
  return out;
}

std::string to_string(const Resources& r) {
  return "uffds=" + std::to_string(r.uffds) + " mapped=" + std::to_string(r.regions_mapped) +
         " registered=" + std::to_string(r.regions_registered) +
         " held=" + std::to_string(r.held_fds) + " " + to_string(r.phase);
}

std::string reply_text(const Outcome& o) {
  std::string out = "=";
  for (size_t i = 0; i < o.replies.size(); ++i) out += (i ? "; " : " ") + to_string(o.replies[i]);
  if (o.closed) out += " closed";
  if (o.replies.empty() && !o.closed) out += " none";
  return out;
}

std::string to_string(const Outcome& o) {
  return reply_text(o) + "  [" + to_string(o.res) + "]";
}

}  // namespace lockstep::vhost
