// The vhost-user postcopy vocabulary: every op a trace can issue (the front-end's side of the
// socket) and every outcome the model and a target must agree on (what the front-end observes
// plus the back-end's resource accounting). The contract both sides follow is
// docs/vhost-backend-rules.md; rule ids (W1..F1) are cited there and in model/vhost/model.cc.
//
// One trace = one front-end talking to one back-end over an AF_UNIX stream socket. The trace
// starts connected. Each op is one front-end action; a target performs it, lets the back-end
// process everything that arrived, and collects every reply the back-end sent in response.
// Adding an op = one struct in Op; std::visit then lists every place that must handle it.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/site_table.h"
#include "core/trace.h"
#include "core/vhost/uapi.h"

namespace lockstep::vhost {

// What an fd refers to. The front-end attaches Eventfd, Memfd and File; replies may carry any
// kind (ADVISE's reply carries a Uffd). A target classifies received fds by /proc/self/fd/N:
// "anon_inode:[userfaultfd]", "anon_inode:[eventfd]", "/memfd:... (deleted)", else File/Other.
enum class FdKind : uint8_t { Eventfd, Memfd, File, Uffd, Other };

// One fd the front-end attaches with SCM_RIGHTS: a fresh eventfd, a fresh memfd of `size` bytes
// (ftruncate'd; the front-end never maps it), or a fresh plain file (e.g. /dev/null). The
// front-end closes its own copy right after sendmsg.
struct FdSpec {
  FdKind kind = FdKind::Eventfd;
  uint64_t size = 0;  // Memfd only; 0 for the other kinds
  bool operator==(const FdSpec&) const = default;
};

// One sendmsg: a well-framed message (header + payload, in one write as QEMU does) with its
// fds. `size` overrides the header's size field (a lying size; the payload bytes sent are still
// exactly `payload`); without it the header says payload.size().
struct Send {
  uint32_t request = 0;
  uint32_t flags = uapi::kVersion;
  std::vector<uint8_t> payload;
  std::vector<FdSpec> fds;
  std::optional<uint32_t> size;
  uint32_t header_size() const { return size ? *size : static_cast<uint32_t>(payload.size()); }
  bool operator==(const Send&) const = default;
};
// One sendmsg of arbitrary bytes and no fds: malformed framing, partial headers, two messages
// in one write.
struct RawBytes {
  std::vector<uint8_t> bytes;
  bool operator==(const RawBytes&) const = default;
};
// The front-end closes its end of the socket (the back-end sees EOF: rule D1).
struct Disconnect {
  bool operator==(const Disconnect&) const = default;
};
// A new session on a new connection (after a Disconnect or a close by the back-end). While a
// connection is up, Connect first disconnects it.
struct Connect {
  bool operator==(const Connect&) const = default;
};
// Rules F1-F3: one injected fault at the back-end's next call of that kind, failing with `err`,
// while processing the next message only (discarded if that message reaches no such call). The
// sites and the errnos each can fail with are listed once, in core/vhost/sites.def.
#define LOCKSTEP_SITES_DEF "core/vhost/sites.def"
#include "core/site_table.inc"
// The sites of the first codec version (fail_next without an errno, legacy byte form v1).
constexpr size_t kSitesV1 = 5;
struct FailNext {
  Site site = Site::Userfaultfd;
  int err = 0;  // the errno; 0 stands for the site's first (fault_errno)
  // Equal when they fail the same site with the same errno.
  bool operator==(const FailNext& o) const;
};
// f.err, or the site's first errno when it is 0.
int fault_errno(const FailNext& f);

using Op = std::variant<Send, RawBytes, Disconnect, Connect, FailNext>;
using Trace = lockstep::Trace<Op>;

// ---- outcome ---------------------------------------------------------------------------------

// One reply frame the front-end read. `payload` holds the `size` bytes that followed the
// header (normalised: see normalise()); `fds` the kinds of the fds that came with it.
struct Reply {
  uint32_t request = 0;
  uint32_t flags = uapi::kReplyFlags;
  uint32_t size = 0;
  std::vector<uint8_t> payload;
  std::vector<FdKind> fds;
  bool operator==(const Reply&) const = default;
  // The payload as a u64 when it is exactly 8 bytes.
  std::optional<uint64_t> u64() const;
};

// Where the back-end is in the postcopy handshake (docs/vhost-backend-rules.md P1-P7, X12).
enum class Phase : uint8_t {
  None,         // no uffd, not listening (CONN/NEG/READY/END)
  Advised,      // uffd open, precopy (ADV)
  Listening,    // postcopy_listening, no registered regions (LST)
  AwaitingAck,  // postcopy SET_MEM_TABLE replied, waiting for the front-end's ack (rule P6)
  Registered,   // regions mapped and registered with the uffd (LST+MAP)
};

// The back-end's resource accounting after the op (the impl reports it; the model computes it).
struct Resources {
  uint8_t uffds = 0;               // userfaultfds the back-end owns
  uint8_t regions_mapped = 0;      // memory regions mmapped (incl. a table awaiting its ack)
  uint8_t regions_registered = 0;  // regions registered with the uffd
  uint8_t held_fds = 0;            // every fd the back-end owns except its socket: uffds, region
                                   // fds, ring/log/backend-req fds, fds queued with a partial
                                   // message
  Phase phase = Phase::None;
  bool operator==(const Resources&) const = default;
};

struct Outcome {
  std::vector<Reply> replies;  // in the order the back-end sent them
  bool closed = false;         // the connection is down after the op (either side closed it)
  Resources res{};
  bool operator==(const Outcome&) const = default;
};

// Targets call this on every reply they read: a reply to SET_MEM_TABLE (or ADD_MEM_REG) whose
// size is a memory table (8 + 32n, n = nregions, n <= 8) gets each non-zero userspace_addr
// replaced by its relations (rule X7: address = mapping base + mmap_offset, the base a page
// boundary, each region's mapping [base, base + mmap_offset + memory_size) disjoint from the
// others'): uapi::kNormalisedAddr when they hold, kMisalignedAddr or kOverlappingAddr when
// not, plus the address's low 12 bits. A zero address is kept (and so diverges). Edited in place.
void normalise(Reply& reply);

// The protocol traits run() needs (see core/run.h and core/report.h).
struct Protocol {
  using Op = vhost::Op;
  using Outcome = vhost::Outcome;
  static constexpr const char* kName = "vhost";
  // "POSTCOPY_ADVISE" for a Send (its request's name, or "REQ_<n>" for an unknown id), "RAW",
  // "DISCONNECT", "CONNECT", "FAIL_NEXT".
  static std::string op_name(const Op& op);
  // "reply.count", "reply.request", "reply.flags", "reply.size", "reply.payload", "reply.fds",
  // "closed", "resources.uffds", "resources.regions_mapped", "resources.regions_registered",
  // "resources.held_fds", "resources.phase"; nullptr when equal.
  static const char* first_difference(const Outcome& model, const Outcome& target);
  static std::vector<std::string> call_lines(const std::vector<Op>& ops);
  static std::string outcome_text(const Outcome& outcome);
  static std::string header(const std::string& profile);
};

// What crosses the wire: the replies and whether the connection closed ("reply.*", "closed";
// nullptr when equal). Protocol::first_difference adds the back-end's resources; peers that
// cannot see a back-end's internals compare this and what they can observe.
const char* first_wire_difference(const Outcome& model, const Outcome& target);

// ---- typed payload builders (readable traces, tests, generators) ----------------------------
std::vector<uint8_t> u64_payload(uint64_t value);
std::vector<uint8_t> vring_state_payload(uint32_t index, uint32_t num);
std::vector<uint8_t> vring_addr_payload(const uapi::VringAddr& addr);
std::vector<uint8_t> log_payload(uint64_t mmap_size, uint64_t mmap_offset);
std::vector<uint8_t> mem_table_payload(const std::vector<uapi::MemoryRegion>& regions);
// Parses a memory table whose size and nregions agree (8 + 32n, n <= 8); nullopt otherwise.
std::optional<std::vector<uapi::MemoryRegion>> parse_mem_table(const std::vector<uint8_t>& p);

// Convenience ops.
Send send(uint32_t request, uint32_t flags = uapi::kVersion, std::vector<uint8_t> payload = {},
          std::vector<FdSpec> fds = {});
Send send_u64(uint32_t request, uint64_t value, uint32_t flags = uapi::kVersion);
// SET_MEM_TABLE with one memfd per region, each region's memfd sized to the region.
Send set_mem_table(const std::vector<uapi::MemoryRegion>& regions, uint32_t flags = uapi::kVersion);
// The front-end's postcopy ack: SET_MEM_TABLE, size 8, u64 0, no fds (rule P6).
Send mem_table_ack(uint32_t flags = uapi::kVersion);
// n regions of `size` bytes each, contiguous from guest address 0, front-end addresses from
// 0x7f0000000000.
std::vector<uapi::MemoryRegion> regions(size_t n, uint64_t size = 0x100000);

std::string to_string(Site site);
std::string to_string(FdKind kind);
std::string to_string(Phase phase);
std::string to_string(const FdSpec& fd);    // "eventfd", "memfd:0x100000", "file"
std::string to_string(const Reply& reply);  // "POSTCOPY_ADVISE size=0 fds=uffd"
std::string to_string(const Resources& r);  // "uffds=1 mapped=0 registered=0 held=1 advised"
// The annotation of a readable program: "= POSTCOPY_ADVISE size=0 fds=uffd", "= none",
// "= SET_OWNER size=8 u64=1", "= closed", "= POSTCOPY_END size=8 u64=0 closed".
std::string reply_text(const Outcome& outcome);
// reply_text plus "  [resources]".
std::string to_string(const Outcome& outcome);
// A request id as a program writes it: "POSTCOPY_ADVISE" or "99".
std::string request_text(uint32_t request);

}  // namespace lockstep::vhost
