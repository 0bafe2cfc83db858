#include "core/vhost/codec.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "core/bytes.h"
#include "core/errno_names.h"
#include "core/fail_next.h"
#include "core/overloaded.h"

namespace lockstep::vhost {
namespace {

constexpr size_t kProfileCount = std::size(kFuzzProfiles);
constexpr uint8_t kPreambleBit = 0x4;        // legacy form
constexpr uint8_t kSkipPreambleBits = 0x30;  // structured form: the preamble unless both clear
constexpr size_t kMaxBytes = 8192;           // payload / raw write bytes a fuzz input can carry
constexpr uint32_t kSmallRequests = 48;      // request byte < 48: the id itself (0..47)
constexpr uint8_t kWideRequest = 0xf8;       // request byte >= 0xf8: a u32 id follows

// ---- bytes ----------------------------------------------------------------------------------

enum Form : uint8_t { kRaw = 0, kU64 = 1, kVringState = 2, kMemTable = 3 };

uint32_t read_flags(ByteReader& in) {
  uint8_t f = in.u8();
  switch (f >> 6) {
    case 0:
    case 1:
      return uapi::kVersion | (f & uapi::kNeedReply);  // well-formed, half with NEED_REPLY
    case 2:
      return f & 0x3f;  // any low bits
    default:
      return in.uint<uint32_t>();
  }
}

void write_flags(ByteWriter& out, uint32_t flags) {
  if (flags == uapi::kVersion || flags == (uapi::kVersion | uapi::kNeedReply)) {
    out.u8(static_cast<uint8_t>(flags & uapi::kNeedReply));
  } else if (flags < 0x40) {
    out.u8(static_cast<uint8_t>(0x80 | flags));
  } else {
    out.u8(0xc0);
    out.uint(flags);
  }
}

FdSpec read_fd(ByteReader& in) {
  switch (in.u8() % 3) {
    case 0:
      return {FdKind::Eventfd, 0};
    case 1:
      return {FdKind::Memfd, in.uint<uint32_t>() % (kMaxMemfdSize + 1)};
    default:
      return {FdKind::File, 0};
  }
}

void write_fd(ByteWriter& out, const FdSpec& fd) {
  switch (fd.kind) {
    case FdKind::Eventfd:
      out.u8(0);
      return;
    case FdKind::Memfd:
      if (fd.size > kMaxMemfdSize) throw std::invalid_argument("memfd above kMaxMemfdSize");
      out.u8(1);
      out.uint(static_cast<uint32_t>(fd.size));
      return;
    case FdKind::File:
      out.u8(2);
      return;
    default:
      throw std::invalid_argument("the front-end attaches only eventfd, memfd or file");
  }
}

Send read_send(ByteReader& in) {
  Send s;
  uint8_t r = in.u8();
  s.request = r >= kWideRequest ? in.uint<uint32_t>() : r % kSmallRequests;
  s.flags = read_flags(in);
  uint8_t shape = in.u8();
  switch (shape & 3) {
    case kRaw:
      s.payload = in.bytes(in.uint<uint16_t>() % (kMaxBytes + 1));
      break;
    case kU64:
      s.payload = in.bytes(8);
      break;
    case kVringState: {
      uint32_t index = in.u8() % 4;
      s.payload = vring_state_payload(index, in.uint<uint32_t>());
      break;
    }
    case kMemTable: {
      size_t n = 1 + in.u8() % uapi::kMaxRegions;
      std::vector<uapi::MemoryRegion> table;
      uint64_t gpa = 0;
      for (size_t i = 0; i < n; ++i) {
        uint64_t size = uint64_t{0x1000} << (in.u8() % 9);  // 4 KiB .. 1 MiB
        table.push_back({gpa, size, 0x7f0000000000 + gpa, 0});
        s.fds.push_back({FdKind::Memfd, size});
        gpa += size;
      }
      s.payload = mem_table_payload(table);
      break;
    }
  }
  size_t nfds = (shape >> 3) % (kMaxSendFds + 1);
  for (size_t i = 0; i < nfds && s.fds.size() < kMaxSendFds; ++i) s.fds.push_back(read_fd(in));
  if (shape & 4) s.size = in.uint<uint32_t>();
  return s;
}

void write_send(ByteWriter& out, const Send& s) {
  if (s.request < kSmallRequests) {
    out.u8(static_cast<uint8_t>(s.request));
  } else {
    out.u8(kWideRequest);
    out.uint(s.request);
  }
  write_flags(out, s.flags);
  if (s.fds.size() > kMaxSendFds) throw std::invalid_argument("more than kMaxSendFds fds");
  if (s.payload.size() > kMaxBytes) throw std::invalid_argument("payload above 8192 bytes");
  out.u8(static_cast<uint8_t>(kRaw | (s.size ? 4 : 0) | (s.fds.size() << 3)));
  out.uint(static_cast<uint16_t>(s.payload.size()));
  out.bytes(s.payload);
  for (const auto& fd : s.fds) write_fd(out, fd);
  if (s.size) out.uint(*s.size);
}

// ---- bytes, structured form (byte 0 >= kStructuredOptions) -----------------------------------
// Random bytes become messages of the postcopy handshake: the op byte picks a row of kSends
// (the request with the payload its handler reads) three times in four, the fields are read in
// their domains (ByteReader::choice), and bits 4-5 of byte 0 skip the negotiation preamble one
// time in four. Decoding still yields plain traces that encode_input writes in the legacy form.

enum class Body : uint8_t { None, U64, Features, ProtocolFeatures, VringState, MemTable, Ack, Fd };
struct SendRow {
  uint32_t request;
  Body body;
};
// Repeated rows weight the postcopy requests (docs/vhost-backend-rules.md P1-P8): 18 of 30 rows;
// negotiation 6, rings, fds and memory slots 6.
constexpr SendRow kSends[] = {
    {uapi::kPostcopyAdvise, Body::None},
    {uapi::kPostcopyAdvise, Body::None},
    {uapi::kPostcopyAdvise, Body::None},
    {uapi::kPostcopyAdvise, Body::None},
    {uapi::kPostcopyListen, Body::None},
    {uapi::kPostcopyListen, Body::None},
    {uapi::kPostcopyListen, Body::None},
    {uapi::kPostcopyListen, Body::None},
    {uapi::kPostcopyEnd, Body::None},
    {uapi::kPostcopyEnd, Body::None},
    {uapi::kPostcopyEnd, Body::None},
    {uapi::kSetMemTable, Body::MemTable},
    {uapi::kSetMemTable, Body::MemTable},
    {uapi::kSetMemTable, Body::MemTable},
    {uapi::kSetMemTable, Body::MemTable},
    {uapi::kSetMemTable, Body::Ack},
    {uapi::kSetMemTable, Body::Ack},
    {uapi::kSetMemTable, Body::Ack},
    {uapi::kGetFeatures, Body::None},
    {uapi::kSetFeatures, Body::Features},
    {uapi::kGetProtocolFeatures, Body::None},
    {uapi::kSetProtocolFeatures, Body::ProtocolFeatures},
    {uapi::kSetOwner, Body::None},
    {uapi::kResetOwner, Body::None},
    {uapi::kSetVringNum, Body::VringState},
    {uapi::kGetVringBase, Body::VringState},
    {uapi::kSetVringCall, Body::Fd},
    {uapi::kSetLogFd, Body::Fd},
    {uapi::kAddMemReg, Body::MemTable},
    {uapi::kSetStatus, Body::U64},
};

std::vector<uint8_t> read_u64_structured(ByteReader& in) {
  static constexpr uint64_t kValues[] = {0, 0, 1, 2, 0xff, 0x100, 0x10000, UINT64_MAX};
  return u64_payload(in.choice(kValues));
}

void read_body(ByteReader& in, Body body, Send& s) {
  static constexpr uint64_t kFeatures[] = {uapi::kOfferedFeatures, uapi::kOfferedFeatures,
                                           uapi::kOfferedFeatures, 0,
                                           uapi::bit(uapi::kFProtocolFeatures)};
  static constexpr uint64_t kProtocolFeatures[] = {
      uapi::bit(uapi::kPfReplyAck) | uapi::bit(uapi::kPfPagefault),
      uapi::bit(uapi::kPfReplyAck) | uapi::bit(uapi::kPfPagefault),
      uapi::bit(uapi::kPfPagefault),
      uapi::bit(uapi::kPfReplyAck),
      0,
      uapi::kOfferedProtocolFeatures};
  static constexpr uint8_t kRegions[] = {1, 1, 1, 1, 2, 2, 3, uapi::kMaxRegions};
  switch (body) {
    case Body::None:
      return;
    case Body::U64:
      s.payload = read_u64_structured(in);
      return;
    case Body::Features:
      s.payload = u64_payload(in.choice(kFeatures));
      return;
    case Body::ProtocolFeatures:
      s.payload = u64_payload(in.choice(kProtocolFeatures));
      return;
    case Body::VringState: {
      static constexpr uint32_t kNums[] = {0, 1, 2, 0x100, 0x100, 0x8000, 0xffff, UINT32_MAX};
      const uint32_t index = in.u8() % 4;
      s.payload = vring_state_payload(index, in.choice(kNums));
      return;
    }
    case Body::MemTable: {
      const size_t n = 1 + (in.choice(kRegions) - 1u) % uapi::kMaxRegions;
      std::vector<uapi::MemoryRegion> table;
      uint64_t gpa = 0;
      for (size_t i = 0; i < n; ++i) {
        const uint64_t size = uint64_t{0x1000} << (in.u8() % 9);  // 4 KiB .. 1 MiB
        table.push_back({gpa, size, 0x7f0000000000 + gpa, 0});
        s.fds.push_back({FdKind::Memfd, size});
        gpa += size;
      }
      s.payload = mem_table_payload(table);
      return;
    }
    case Body::Ack:
      s.payload = u64_payload(0);
      return;
    case Body::Fd:
      s.payload = u64_payload(in.u8() % 4);
      s.fds.push_back({FdKind::Eventfd, 0});
      return;
  }
}

// Flags, the body, then one byte of extras: 3 times in 4 none; else 1-4 more fds and, with
// bit 2, a lying header size.
Send read_send_structured(ByteReader& in, const SendRow& row) {
  static constexpr uint32_t kFlags[] = {uapi::kVersion,
                                        uapi::kVersion | uapi::kNeedReply,
                                        uapi::kVersion,
                                        uapi::kVersion | uapi::kNeedReply,
                                        uapi::kVersion,
                                        uapi::kVersion | uapi::kNeedReply,
                                        0,
                                        uapi::kVersion | uapi::kReply};
  Send s;
  s.request = row.request;
  s.flags = in.choice(kFlags);
  read_body(in, row.body, s);
  const uint8_t extras = in.u8();
  if (extras < 0xc0) return s;
  for (size_t i = 0; i <= (extras & 3u) && s.fds.size() < kMaxSendFds; ++i)
    s.fds.push_back(read_fd(in));
  if (extras & 4) s.size = in.uint<uint32_t>();
  return s;
}

// Below 0xc0 a structured send; above, the other ops and the legacy (any request) send.
Op read_op_structured(ByteReader& in) {
  const uint8_t b = in.u8();
  if (b < 0xc0) return read_send_structured(in, kSends[b % std::size(kSends)]);
  switch (b % 8) {
    case 0:
    case 1:
      return read_send(in);
    case 2:
      return RawBytes{in.bytes(in.u8())};
    case 3:
    case 4:
      return Disconnect{};
    case 5:
      return Connect{};
    default:
      return read_fail_next<FailNext>(in, true, kSitesV1);
  }
}

}  // namespace

OpCode opcode_of(const Op& op) {
  return std::visit(Overloaded{
                        [](const Send&) { return OpCode::Send; },
                        [](const RawBytes&) { return OpCode::RawBytes; },
                        [](const Disconnect&) { return OpCode::Disconnect; },
                        [](const Connect&) { return OpCode::Connect; },
                        [](const FailNext&) { return OpCode::FailNext; },
                    },
                    op);
}

namespace {

Op read_op(ByteReader& in, bool v2) {
  const uint8_t code = in.u8() % kOpCodeModulus;
  if (code < static_cast<uint8_t>(OpCode::RawBytes)) return read_send(in);
  if (code < static_cast<uint8_t>(OpCode::Disconnect))
    return RawBytes{in.bytes(in.uint<uint16_t>() % (kMaxBytes + 1))};
  switch (static_cast<OpCode>(code)) {
    case OpCode::Disconnect:
      return Disconnect{};
    case OpCode::Connect:
      return Connect{};
    case OpCode::FailNext:
    case OpCode::Send:
    case OpCode::RawBytes:
      break;
  }
  return read_fail_next<FailNext>(in, v2, kSitesV1);
}

void write_op(ByteWriter& out, const Op& op) {
  out.u8(static_cast<uint8_t>(opcode_of(op)));
  std::visit(Overloaded{
                 [&](const Send& s) { write_send(out, s); },
                 [&](const RawBytes& r) {
                   if (r.bytes.size() > kMaxBytes) throw std::invalid_argument("raw above 8192");
                   out.uint(static_cast<uint16_t>(r.bytes.size()));
                   out.bytes(r.bytes);
                 },
                 [](const Disconnect&) {},
                 [](const Connect&) {},
                 [&](const FailNext& f) { write_fail_next(out, f); },
             },
             op);
}

// ---- text -----------------------------------------------------------------------------------

std::vector<uint8_t> unhex(std::string_view text, int line) {
  auto digit = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw ParseError(line, "not a hex byte string: '" + std::string(text) + "'");
  };
  if (text.size() % 2)
    throw ParseError(line, "odd number of hex digits in '" + std::string(text) + "'");
  std::vector<uint8_t> out;
  for (size_t i = 0; i < text.size(); i += 2)
    out.push_back(static_cast<uint8_t>(digit(text[i]) << 4 | digit(text[i + 1])));
  return out;
}

bool is_vring_state_request(uint32_t r) {
  return r == uapi::kSetVringNum || r == uapi::kSetVringBase || r == uapi::kGetVringBase ||
         r == uapi::kSetVringEnable;
}

std::vector<uint64_t> split_numbers(std::string_view text, size_t count, int line) {
  std::vector<uint64_t> out;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i)
    if (i == text.size() || text[i] == ':') {
      const std::string_view piece = text.substr(start, i - start);
      if (piece.starts_with('-'))
        throw ParseError(line, "a negative number in '" + std::string(text) + "'");
      out.push_back(static_cast<uint64_t>(parse_int(piece, line)));
      start = i + 1;
    }
  if (out.size() != count)
    throw ParseError(line, "expected " + std::to_string(count) + " ':'-separated numbers in '" +
                               std::string(text) + "'");
  return out;
}

// The payload as printed arguments: the first typed form that encodes it exactly.
void payload_args(Call& call, const Send& s) {
  const auto& p = s.payload;
  if (p.empty()) return;
  if (p.size() == 8 && is_vring_state_request(s.request)) {
    uapi::VringState v;
    std::memcpy(&v, p.data(), 8);
    call.args.push_back({"ring", format_uint(v.index, false)});
    call.args.push_back({"num", format_uint(v.num, false)});
    return;
  }
  if (p.size() == 8) {
    uint64_t v;
    std::memcpy(&v, p.data(), 8);
    call.args.push_back({"u64", format_uint(v, true)});
    return;
  }
  // A payload shorter than the table header falls through to the raw forms below.
  if ((s.request == uapi::kSetMemTable || s.request == uapi::kAddMemReg) &&
      p.size() >= sizeof(uapi::MemoryHeader)) {
    auto table = parse_mem_table(p);
    uapi::MemoryHeader h;
    std::memcpy(&h, p.data(), sizeof h);
    if (table && !table->empty() && h.padding == 0) {
      for (const auto& r : *table)
        call.args.push_back({"region", format_uint(r.guest_phys_addr, true) + ":" +
                                           format_uint(r.memory_size, true) + ":" +
                                           format_uint(r.userspace_addr, true) + ":" +
                                           format_uint(r.mmap_offset, true)});
      return;
    }
  }
  if (s.request == uapi::kSetLogBase && p.size() == 16) {
    uapi::Log log;
    std::memcpy(&log, p.data(), 16);
    call.args.push_back(
        {"log", format_uint(log.mmap_size, true) + ":" + format_uint(log.mmap_offset, true)});
    return;
  }
  call.args.push_back({"payload", hex(p)});
}

uint32_t parse_request(const std::string& text, int line) {
  for (uint32_t id = 1; id <= uapi::kMaxRequest; ++id)
    if (uapi::request_name(id) == text) return id;
  int64_t v = parse_int(text, line);
  if (v < 0 || v > 0xffffffffll) throw ParseError(line, "request id out of range: " + text);
  return static_cast<uint32_t>(v);
}

FdSpec parse_fd(const std::string& text, int line) {
  if (text == "eventfd") return {FdKind::Eventfd, 0};
  if (text == "file") return {FdKind::File, 0};
  if (text.starts_with("memfd:")) {
    int64_t size = parse_int(std::string_view(text).substr(6), line);
    if (size < 0) throw ParseError(line, "negative memfd size");
    return {FdKind::Memfd, static_cast<uint64_t>(size)};
  }
  throw ParseError(line, "fd= must be eventfd, file or memfd:SIZE, not '" + text + "'");
}

// One key=value argument of send() into s (or ring/num/regions, assembled after the loop).
void parse_send_arg(const Arg& a, int line, Send& s, std::optional<uint32_t>& ring,
                    std::optional<uint32_t>& num, std::vector<uapi::MemoryRegion>& regions,
                    int& forms) {
  auto u32 = [&] { return static_cast<uint32_t>(parse_uint(a, 0xffffffff, line)); };
  if (a.key == "flags") {
    s.flags = u32();
  } else if (a.key == "u64") {
    s.payload = u64_payload(parse_uint(a, UINT64_MAX, line));
    ++forms;
  } else if (a.key == "ring") {
    ring = u32();
  } else if (a.key == "num") {
    num = u32();
  } else if (a.key == "region") {
    auto v = split_numbers(a.value, 4, line);
    regions.push_back({v[0], v[1], v[2], v[3]});
  } else if (a.key == "log") {
    auto v = split_numbers(a.value, 2, line);
    s.payload = log_payload(v[0], v[1]);
    ++forms;
  } else if (a.key == "payload") {
    s.payload = unhex(a.value, line);
    ++forms;
  } else if (a.key == "fd") {
    s.fds.push_back(parse_fd(a.value, line));
  } else if (a.key == "size") {
    s.size = u32();
  } else {
    throw ParseError(line, a.column,
                     "send: unknown argument '" + (a.key.empty() ? a.value : a.key) +
                         "' (known: flags, u64, ring, num, region, log, payload, fd, size)");
  }
}

Send parse_send(const Call& call, int line) {
  if (call.args.empty() || !call.args[0].key.empty())
    throw ParseError(line, call.column, "send: the first argument is the request");
  Send s;
  s.request = at_argument(call.args[0], [&] { return parse_request(call.args[0].value, line); });
  s.flags = uapi::kVersion;
  std::vector<uapi::MemoryRegion> regions;
  std::optional<uint32_t> ring, num;
  int forms = 0;
  for (size_t i = 1; i < call.args.size(); ++i) {
    const Arg& a = call.args[i];
    if (a.key != "region" && a.key != "fd" && find_arg(call, a.key) != &a)
      throw ParseError(line, a.column, "send: repeated argument '" + a.key + "'");
    at_argument(a, [&] { parse_send_arg(a, line, s, ring, num, regions, forms); });
  }
  if (ring || num) {
    if (!ring || !num) throw ParseError(line, call.column, "send: ring= and num= go together");
    s.payload = vring_state_payload(*ring, *num);
    ++forms;
  }
  if (!regions.empty()) {
    s.payload = mem_table_payload(regions);
    ++forms;
  }
  if (forms > 1) throw ParseError(line, call.column, "send: more than one payload form");
  return s;
}

}  // namespace

std::vector<Op> preamble() {
  return {
      send(uapi::kGetFeatures),
      send_u64(uapi::kSetFeatures, uapi::kOfferedFeatures),
      send(uapi::kGetProtocolFeatures),
      send_u64(uapi::kSetProtocolFeatures,
               uapi::bit(uapi::kPfReplyAck) | uapi::bit(uapi::kPfPagefault),
               uapi::kVersion | uapi::kNeedReply),
  };
}

Trace decode_input(std::span<const uint8_t> data, size_t max_ops, std::vector<size_t>* offsets) {
  ByteReader in(data);
  Trace trace;
  uint8_t options = in.u8();
  trace.profile = kFuzzProfiles[(options & 3) % kProfileCount];
  const bool structured = options >= kStructuredOptions;
  if (structured ? (options & kSkipPreambleBits) != 0 : (options & kPreambleBit) != 0)
    for (Op& op : preamble())
      if (trace.ops.size() < max_ops) trace.ops.push_back(std::move(op));
  if (offsets) offsets->assign(1, in.pos());
  while (!in.empty() && trace.ops.size() < max_ops) {
    trace.ops.push_back(structured ? read_op_structured(in)
                                   : read_op(in, options >= kLegacyV2Options));
    if (offsets) offsets->push_back(in.pos());
  }
  return trace;
}

std::vector<uint8_t> encode_input(const Trace& trace) {
  ByteWriter out;
  size_t profile = kProfileCount;
  for (size_t i = 0; i < kProfileCount; ++i)
    if (trace.profile == kFuzzProfiles[i]) profile = i;
  if (profile == kProfileCount)
    throw std::invalid_argument("profile '" + trace.profile + "' has no fuzz-input encoding");
  if (trace.ops.size() > kMaxOps) throw std::invalid_argument("more than kMaxOps ops");
  const std::vector<Op> pre = preamble();
  bool with_preamble =
      trace.ops.size() >= pre.size() && std::equal(pre.begin(), pre.end(), trace.ops.begin());
  out.u8(static_cast<uint8_t>(kLegacyV2Options | profile | (with_preamble ? kPreambleBit : 0)));
  for (size_t i = with_preamble ? pre.size() : 0; i < trace.ops.size(); ++i)
    write_op(out, trace.ops[i]);
  return out.take();
}

Call to_call(const Op& op) {
  Call call;
  std::visit(
      Overloaded{
          [&](const Send& s) {
            call.name = "send";
            call.args = {{"", request_text(s.request)}, {"flags", format_uint(s.flags, true)}};
            payload_args(call, s);
            for (const auto& fd : s.fds) call.args.push_back({"fd", to_string(fd)});
            if (s.size) call.args.push_back({"size", format_uint(*s.size, false)});
          },
          [&](const RawBytes& r) {
            call.name = "raw";
            if (!r.bytes.empty()) call.args = {{"", hex(r.bytes)}};
          },
          [&](const Disconnect&) { call.name = "disconnect"; },
          [&](const Connect&) { call.name = "connect"; },
          [&](const FailNext& f) {
            call.name = "fail_next";
            call.args = {{"", to_string(f.site)}};
            if (fault_errno(f) != site_errnos(f.site)[0])  // the default goes unsaid
              call.args.push_back({"", errno_name(fault_errno(f))});
          },
      },
      op);
  return call;
}

namespace {

// fail_next(SITE) or fail_next(SITE, ERRNO): the errno one its sites.def row lists, by default
// the first.
FailNext parse_fail_next(const Call& call, int line) {
  const std::optional<Site> site = site_named<Site>(call.args[0].value);
  if (!site)
    throw ParseError(line, call.args[0].column, "fail_next site must be " + site_names<Site>());
  if (call.args.size() < 2) return FailNext{*site, site_errnos(*site)[0]};
  if (const std::optional<int> err = site_errno_named(*site, call.args[1].value))
    return FailNext{*site, *err};
  throw ParseError(line, call.args[1].column,
                   "fail_next(" + to_string(*site) + ") can fail with " + site_errno_names(*site));
}

}  // namespace

Op parse_op(const Call& call, int line) {
  if (!call.result.empty()) throw ParseError(line, 1, "vhost calls name no results");
  auto arity = [&](size_t n) {
    if (call.args.size() > n)
      throw ParseError(line, call.args[n].column, call.name + ": too many arguments");
    if (call.args.size() < n)
      throw ParseError(line, call.column,
                       call.name + ": expected " + std::to_string(n) + " argument(s)");
    for (const Arg& a : call.args)
      if (!a.key.empty())
        throw ParseError(line, a.column, call.name + ": unknown argument '" + a.key + "'");
  };
  if (call.name == "send") return parse_send(call, line);
  if (call.name == "raw") {
    if (call.args.empty()) return RawBytes{};
    arity(1);
    return RawBytes{at_argument(call.args[0], [&] { return unhex(call.args[0].value, line); })};
  }
  if (call.name == "disconnect") {
    arity(0);
    return Disconnect{};
  }
  if (call.name == "connect") {
    arity(0);
    return Connect{};
  }
  if (call.name == "fail_next") {
    arity(call.args.size() == 2 ? 2 : 1);
    return parse_fail_next(call, line);
  }
  throw ParseError(line, call.column,
                   "unknown call '" + call.name + "' (send, raw, disconnect, connect, fail_next)");
}

std::vector<std::string> Protocol::call_lines(const std::vector<Op>& ops) {
  std::vector<std::string> lines;
  for (const Op& op : ops) lines.push_back(format_call(to_call(op)));
  return lines;
}

std::string print_text(const Trace& trace) {
  ProgramText program{"vhost", trace.profile, {}, trace.verbatim};
  for (size_t i = 0; i < trace.ops.size(); ++i)
    program.lines.push_back({to_call(trace.ops[i]), i < trace.notes.size() ? trace.notes[i] : ""});
  return format_program(program);
}

Trace parse_text(std::string_view text) {
  ProgramText program = parse_program(text);
  require_protocol(program, "vhost");
  Trace trace;
  trace.profile = program.profile.empty() ? "spec" : program.profile;
  trace.verbatim = program.verbatim;
  trace.source.header_line = program.header_line;
  trace.source.profile_column = program.profile_column;
  for (const auto& l : program.lines) {
    trace.source.op_lines.push_back(l.line_number);
    trace.ops.push_back(parse_op(l.call, l.line_number));
    trace.notes.push_back(l.note);
  }
  bool any_note = false;
  for (const auto& n : trace.notes) any_note |= !n.empty();
  if (!any_note) trace.notes.clear();
  return trace;
}

std::vector<std::string> check_notes(const Trace& trace, const std::vector<Outcome>& outcomes) {
  std::vector<std::string> errors;
  for (size_t i = 0; i < trace.notes.size() && i < outcomes.size(); ++i) {
    std::string note = trace.notes[i];
    if (note.empty() || note[0] != '=') continue;
    if (auto c = note.find(" -- "); c != std::string::npos) note.resize(c);
    while (!note.empty() && note.back() == ' ') note.pop_back();
    if (note == reply_text(outcomes[i]) || note == to_string(outcomes[i])) continue;
    const bool from_file = i < trace.source.op_lines.size();
    errors.push_back((from_file ? "line " + std::to_string(trace.source.op_lines[i])
                                : "op " + std::to_string(i + 1)) +
                     " " + format_call(to_call(trace.ops[i])) + ": note says '" + note +
                     "', outcome is '" + to_string(outcomes[i]) + "'");
  }
  return errors;
}

}  // namespace lockstep::vhost
