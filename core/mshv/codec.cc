#include "core/mshv/codec.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "core/bytes.h"
#include "core/errno_names.h"
#include "core/fail_next.h"
#include "core/mshv/uapi.h"
#include "core/overloaded.h"

namespace lockstep::mshv {
namespace {

constexpr char kKindByBits[4] = {kPartition, kDevice, kVfioFile, kPlainFile};
constexpr const char* kProfileByBit[2] = {"mshv-v1", "mshv-strict"};
static_assert(kOpCodeCount == std::variant_size_v<Op>, "one opcode per op");

// ---- bytes ----------------------------------------------------------------------------------

// A raw request outside the MSHV (0xB8) and KVM (0xAE) ioctl families is answered by the VFS
// (do_vfs_ioctl: FIOCLEX, FIONBIO, FIGETBSZ, ...) before any device sees it, which this model
// does not cover; decoding folds such requests into the MSHV family instead.
uint32_t in_device_family(uint32_t request) {
  const uint32_t type = (request >> 8) & 0xff;
  if (type == uapi::kMshvIoctl || type == uapi::kKvmIo) return request;
  return (request & ~0xff00u) | (uapi::kMshvIoctl << 8);
}

// Handle byte: kind in bits 0-1, index in bits 2-7, folded onto the handles that exist (or the
// next one, which names nothing and so exercises EBADF).
Handle read_handle(ByteReader& in, const HandleCounts& counts) {
  uint8_t b = in.u8();
  char kind = kKindByBits[b & 3];
  return Handle{kind, static_cast<uint8_t>((b >> 2) % (counts.of(kind) + 1))};
}

void write_handle(ByteWriter& out, Handle h, const HandleCounts& counts) {
  int bits = -1;
  for (int i = 0; i < 4; ++i)
    if (kKindByBits[i] == h.kind) bits = i;
  if (bits < 0 || h.index > counts.of(h.kind) || h.index >= 64)
    throw std::invalid_argument("handle " + to_string(h) + " cannot be encoded here");
  out.u8(static_cast<uint8_t>(bits | (h.index << 2)));
}

Mem read_mem(ByteReader& in) {
  return static_cast<Mem>(in.u8() % 3);
}

FdArg read_fd_arg(ByteReader& in, const HandleCounts& counts) {
  FdArg arg;
  arg.kind = static_cast<FdArg::Kind>(in.u8() % 3);
  if (arg.kind == FdArg::Kind::Handle) arg.handle = read_handle(in, counts);
  if (arg.kind == FdArg::Kind::Raw)
    arg.raw = -1 - static_cast<int32_t>(in.uint<uint32_t>() & 0x7fffffff);
  return arg;
}

void write_fd_arg(ByteWriter& out, const FdArg& arg, const HandleCounts& counts) {
  out.u8(static_cast<uint8_t>(arg.kind));
  if (arg.kind == FdArg::Kind::Handle) write_handle(out, arg.handle, counts);
  if (arg.kind == FdArg::Kind::Raw) {
    if (arg.raw >= 0) throw std::invalid_argument("raw fd arguments are negative");
    out.uint<uint32_t>(static_cast<uint32_t>(-1 - arg.raw));
  }
}

template <class A>
A read_attr(ByteReader& in, const HandleCounts& counts) {
  A a;
  a.dev = read_handle(in, counts);
  a.flags = in.uint<uint32_t>();
  a.group = in.uint<uint32_t>();
  a.attr = in.uint<uint64_t>();
  a.fd = read_fd_arg(in, counts);
  a.arg = read_mem(in);
  return a;
}

void write_attr(ByteWriter& out, const AttrArgs& a, const HandleCounts& counts) {
  write_handle(out, a.dev, counts);
  out.uint(a.flags);
  out.uint(a.group);
  out.uint(a.attr);
  write_fd_arg(out, a.fd, counts);
  out.u8(static_cast<uint8_t>(a.arg));
}

}  // namespace

OpCode opcode_of(const Op& op) {
  return std::visit(Overloaded{
                        [](const OpenPartition&) { return OpCode::OpenPartition; },
                        [](const OpenFile&) { return OpCode::OpenFile; },
                        [](const CreateDevice&) { return OpCode::CreateDevice; },
                        [](const SetAttr&) { return OpCode::SetAttr; },
                        [](const HasAttr&) { return OpCode::HasAttr; },
                        [](const GetAttr&) { return OpCode::GetAttr; },
                        [](const RawIoctl&) { return OpCode::RawIoctl; },
                        [](const Close&) { return OpCode::Close; },
                        [](const FailNext&) { return OpCode::FailNext; },
                    },
                    op);
}

namespace {

Op read_op(ByteReader& in, const HandleCounts& counts, bool v2) {
  switch (static_cast<OpCode>(in.u8() % kOpCodeCount)) {
    case OpCode::OpenPartition:
      return OpenPartition{};
    case OpCode::OpenFile:
      return OpenFile{(in.u8() & 1) == 0};
    case OpCode::CreateDevice: {
      CreateDevice c;
      c.part = read_handle(in, counts);
      c.type = in.uint<uint32_t>();
      c.flags = in.uint<uint32_t>();
      c.arg = read_mem(in);
      return c;
    }
    case OpCode::SetAttr:
      return read_attr<SetAttr>(in, counts);
    case OpCode::HasAttr:
      return read_attr<HasAttr>(in, counts);
    case OpCode::GetAttr:
      return read_attr<GetAttr>(in, counts);
    case OpCode::RawIoctl: {
      RawIoctl r;
      r.h = read_handle(in, counts);
      r.request = in_device_family(in.uint<uint32_t>());
      return r;
    }
    case OpCode::Close:
      return Close{read_handle(in, counts)};
    case OpCode::FailNext:
      return read_fail_next<FailNext>(in, v2, kSitesV1);
  }
  return OpenPartition{};  // unreachable: the opcode is reduced modulo kOpCodeCount
}

void write_op(ByteWriter& out, const Op& op, const HandleCounts& counts) {
  out.u8(static_cast<uint8_t>(opcode_of(op)));
  std::visit(Overloaded{
                 [](const OpenPartition&) {},
                 [&](const OpenFile& o) { out.u8(o.vfio ? 0 : 1); },
                 [&](const CreateDevice& c) {
                   write_handle(out, c.part, counts);
                   out.uint(c.type);
                   out.uint(c.flags);
                   out.u8(static_cast<uint8_t>(c.arg));
                 },
                 [&](const SetAttr& a) { write_attr(out, a, counts); },
                 [&](const HasAttr& a) { write_attr(out, a, counts); },
                 [&](const GetAttr& a) { write_attr(out, a, counts); },
                 [&](const RawIoctl& r) {
                   if (in_device_family(r.request) != r.request)
                     throw std::invalid_argument("ioctl request outside the 0xB8/0xAE families");
                   write_handle(out, r.h, counts);
                   out.uint(r.request);
                 },
                 [&](const Close& c) { write_handle(out, c.h, counts); },
                 [&](const FailNext& f) { write_fail_next(out, f); },
             },
             op);
}

// ---- bytes, structured form (byte 0 >= 2) --------------------------------------------------
// Every field is read in its domain: handles name live objects of the kind the argument wants,
// types, flags, groups, attrs and requests are the valid values 7 times in 8 (ByteReader::choice),
// and an op whose handle argument has nothing live to name turns into the op that creates it.
// Decoding still yields plain traces that encode_input writes in the legacy form.

// The handles a trace has created and not closed yet, in creation order.
struct Live {
  HandleCounts counts;
  std::vector<Handle> open;

  bool any(char kind) const {
    for (Handle h : open)
      if (h.kind == kind) return true;
    return false;
  }
  void after(const Op& op) {
    if (auto created = counts.create(op)) open.push_back(*created);
    if (const auto* c = std::get_if<Close>(&op)) std::erase(open, c->h);
  }
};

// One byte: below kEscape a live handle of `kind` ('\0': any kind); otherwise (or when none is
// live) the legacy handle byte, which may name a closed handle or the next, unborn one.
Handle read_live_handle(ByteReader& in, const Live& live, char kind) {
  const uint8_t b = in.u8();
  std::vector<Handle> fits;
  for (Handle h : live.open)
    if (!kind || h.kind == kind) fits.push_back(h);
  if (b < ByteReader::kEscape && !fits.empty()) return fits[b % fits.size()];
  const char any = kKindByBits[b & 3];
  return Handle{any, static_cast<uint8_t>((b >> 2) % (live.counts.of(any) + 1))};
}

Mem read_mem_structured(ByteReader& in) {
  const uint8_t b = in.u8();
  return b < 0xc0 ? Mem::Ok : static_cast<Mem>(b % 3);
}

FdArg read_fd_arg_structured(ByteReader& in, const Live& live) {
  const uint8_t b = in.u8();
  if (b < 0xa0) return FdArg{FdArg::Kind::Handle, read_live_handle(in, live, kVfioFile), -1};
  if (b < 0xc8) return FdArg{FdArg::Kind::Handle, read_live_handle(in, live, '\0'), -1};
  if (b < 0xf0) return FdArg{FdArg::Kind::Raw, {}, -1 - (b & 7)};
  return FdArg{FdArg::Kind::Unmapped, {}, -1};
}

template <class A>
A read_attr_structured(ByteReader& in, const Live& live) {
  static constexpr uint32_t kFlags[] = {0, 0, 0, 0, 0, 0, 0, 1};
  static constexpr uint32_t kGroups[] = {uapi::kDevVfioFile,
                                         uapi::kDevVfioFile,
                                         uapi::kDevVfioFile,
                                         uapi::kDevVfioFile,
                                         uapi::kDevVfioFile,
                                         uapi::kDevVfioFile,
                                         0,
                                         2};
  static constexpr uint64_t kAttrs[] = {uapi::kDevVfioFileAdd,
                                        uapi::kDevVfioFileAdd,
                                        uapi::kDevVfioFileAdd,
                                        uapi::kDevVfioFileDel,
                                        uapi::kDevVfioFileDel,
                                        uapi::kDevVfioFileDel,
                                        0,
                                        3};
  A a;
  a.dev = read_live_handle(in, live, kDevice);
  a.flags = in.choice(kFlags);
  a.group = in.choice(kGroups);
  a.attr = in.choice(kAttrs);
  a.fd = read_fd_arg_structured(in, live);
  a.arg = read_mem_structured(in);
  return a;
}

CreateDevice read_create_structured(ByteReader& in, const Live& live) {
  static constexpr uint32_t kTypes[] = {
      uapi::kDevTypeVfio, uapi::kDevTypeVfio, uapi::kDevTypeVfio,    uapi::kDevTypeVfio,
      uapi::kDevTypeVfio, uapi::kDevTypeMax,  uapi::kKvmDevTypeVfio, 2};
  static constexpr uint32_t kFlags[] = {
      0, 0, 0, 0, 0, uapi::kCreateDeviceTest, uapi::kCreateDeviceTest, 2};
  CreateDevice c;
  c.part = read_live_handle(in, live, kPartition);
  c.type = in.choice(kTypes);
  c.flags = in.choice(kFlags);
  c.arg = read_mem_structured(in);
  return c;
}

RawIoctl read_raw_ioctl_structured(ByteReader& in, const Live& live) {
  static constexpr uint32_t kRequests[] = {uapi::kCreateDevice,     uapi::kSetDeviceAttr,
                                           uapi::kHasDeviceAttr,    uapi::kOutOfTreeHasDeviceAttr,
                                           uapi::kKvmCreateDevice,  uapi::kKvmSetDeviceAttr,
                                           uapi::kKvmGetDeviceAttr, uapi::kKvmHasDeviceAttr};
  RawIoctl r;
  r.h = read_live_handle(in, live, '\0');
  r.request = in_device_family(in.choice(kRequests));
  return r;
}

// The opcode byte, weighted towards the attribute calls, with missing prerequisites created
// first: a device op with no live device creates one, a create with no live partition opens
// one, a SET with no live VFIO file (half the time) opens one. At or above kEscape the op is
// kept as it is (EBADF paths).
OpCode read_opcode_structured(uint8_t b, const Live& live) {
  static constexpr OpCode kWeighted[16] = {
      OpCode::OpenPartition, OpCode::OpenFile, OpCode::OpenFile, OpCode::CreateDevice,
      OpCode::CreateDevice,  OpCode::SetAttr,  OpCode::SetAttr,  OpCode::SetAttr,
      OpCode::SetAttr,       OpCode::SetAttr,  OpCode::HasAttr,  OpCode::GetAttr,
      OpCode::RawIoctl,      OpCode::Close,    OpCode::Close,    OpCode::FailNext};
  OpCode code = kWeighted[b % 16];
  if (b >= ByteReader::kEscape) return code;
  const bool device_op = code == OpCode::SetAttr || code == OpCode::HasAttr ||
                         code == OpCode::GetAttr || code == OpCode::RawIoctl;
  if (code == OpCode::SetAttr && !live.any(kVfioFile) && (b & 0x10)) return OpCode::OpenFile;
  if (device_op && !live.any(kDevice)) code = OpCode::CreateDevice;
  if (code == OpCode::CreateDevice && !live.any(kPartition)) code = OpCode::OpenPartition;
  return code;
}

Op read_op_structured(ByteReader& in, const Live& live) {
  switch (read_opcode_structured(in.u8(), live)) {
    case OpCode::OpenPartition:
      return OpenPartition{};
    case OpCode::OpenFile:
      return OpenFile{in.u8() < 0xc0};
    case OpCode::CreateDevice:
      return read_create_structured(in, live);
    case OpCode::SetAttr:
      return read_attr_structured<SetAttr>(in, live);
    case OpCode::HasAttr:
      return read_attr_structured<HasAttr>(in, live);
    case OpCode::GetAttr:
      return read_attr_structured<GetAttr>(in, live);
    case OpCode::RawIoctl:
      return read_raw_ioctl_structured(in, live);
    case OpCode::Close:
      return Close{read_live_handle(in, live, '\0')};
    case OpCode::FailNext:
      return read_fail_next<FailNext>(in, true, kSitesV1);
  }
  return OpenPartition{};  // unreachable: every OpCode is listed
}

// ---- text -----------------------------------------------------------------------------------

constexpr const char* kMemNames[3] = {"ok", "ro", "bad"};

std::string attr_call_name(const Op& op) {
  if (std::holds_alternative<SetAttr>(op)) return "set_attr";
  if (std::holds_alternative<HasAttr>(op)) return "has_attr";
  return "get_attr";
}

void attr_args(Call& call, const AttrArgs& a) {
  call.args.push_back({"", to_string(a.dev)});
  if (a.flags) call.args.push_back({"flags", format_uint(a.flags, true)});
  call.args.push_back({"group", format_uint(a.group, false)});
  call.args.push_back({"attr", format_uint(a.attr, false)});
  switch (a.fd.kind) {
    case FdArg::Kind::Handle:
      call.args.push_back({"fd", to_string(a.fd.handle)});
      break;
    case FdArg::Kind::Raw:
      call.args.push_back({"fd", std::to_string(a.fd.raw)});
      break;
    case FdArg::Kind::Unmapped:
      call.args.push_back({"addr", "bad"});
      break;
  }
  if (a.arg != Mem::Ok) call.args.push_back({"arg", kMemNames[static_cast<int>(a.arg)]});
}

struct CallReader : ArgReader {
  const HandleCounts& counts;
  CallReader(const Call& call, int line, const HandleCounts& counts)
      : ArgReader(call, line), counts(counts) {}

  Handle handle(const Arg& arg) const {
    const std::string& text = arg.value;
    bool known_kind = false;
    for (char k : kKindByBits) known_kind |= !text.empty() && k == text[0];
    if (text.size() < 2 || !known_kind)
      fail(arg, "bad handle '" + text + "' (p<n>, d<n>, f<n> or n<n>)");
    const Arg index{"", text.substr(1), arg.column + 1};
    Handle h{text[0], static_cast<uint8_t>(parse_uint(index, 63, line()))};
    if (h.index > counts.of(h.kind))
      fail(arg, "handle " + text + " is used before the op that creates it");
    return h;
  }
  Mem mem() {
    const Arg* arg = keyed("arg");
    if (!arg) return Mem::Ok;
    for (int i = 0; i < 3; ++i)
      if (arg->value == kMemNames[i]) return static_cast<Mem>(i);
    fail(*arg, "arg= must be ok, ro or bad");
  }
};

template <class A>
A parse_attr(CallReader& r) {
  A a;
  a.dev = r.handle(r.positional("the device handle"));
  a.flags = r.number<uint32_t>("flags", 0);
  a.group = r.number<uint32_t>("group", 1);
  a.attr = r.number<uint64_t>("attr", 1);
  const Arg* fd = r.keyed("fd");
  const Arg* addr = r.keyed("addr");
  if (fd && addr) r.fail(*addr, "fd= and addr= exclude each other");
  if (fd) {
    if (fd->value[0] == '-' || std::isdigit(static_cast<unsigned char>(fd->value[0]))) {
      a.fd = FdArg{FdArg::Kind::Raw, {}, static_cast<int32_t>(parse_int(fd->value, r.line()))};
      if (a.fd.raw >= 0) r.fail(*fd, "a raw fd= must be negative; name open files by handle");
    } else {
      a.fd = FdArg{FdArg::Kind::Handle, r.handle(*fd), -1};
    }
  } else if (addr) {
    if (addr->value != "bad") r.fail(*addr, "addr= can only be bad");
    a.fd = FdArg{FdArg::Kind::Unmapped, {}, -1};
  }
  a.arg = r.mem();
  r.finish("flags, group, attr, fd, addr, arg");
  return a;
}

// fail_next(SITE) or fail_next(SITE, ERRNO): the errno one its sites.def row lists, by default
// the first.
FailNext parse_fail_next(CallReader& r) {
  const Arg& site_arg = r.positional("the site");
  const std::optional<Site> site = site_named<Site>(site_arg.value);
  if (!site) r.fail(site_arg, "fail_next site must be " + site_names<Site>());
  const Arg* err_arg = r.optional_positional();
  if (!err_arg) return FailNext{*site, site_errnos(*site)[0]};
  if (const std::optional<int> err = site_errno_named(*site, err_arg->value))
    return FailNext{*site, *err};
  r.fail(*err_arg, "fail_next(" + to_string(*site) + ") can fail with " + site_errno_names(*site));
}

Op parse_call_op(CallReader& r) {
  const std::string& name = r.call().name;
  if (name == "open_partition") return OpenPartition{};
  if (name == "open_vfio_file") return OpenFile{true};
  if (name == "open_file") return OpenFile{false};
  if (name == "create_device") {
    CreateDevice c;
    c.part = r.handle(r.positional("the partition handle"));
    c.type = r.number<uint32_t>("type", 0);
    c.flags = r.number<uint32_t>("flags", 0);
    c.arg = r.mem();
    r.finish("type, flags, arg");
    return c;
  }
  if (name == "set_attr") return parse_attr<SetAttr>(r);
  if (name == "has_attr") return parse_attr<HasAttr>(r);
  if (name == "get_attr") return parse_attr<GetAttr>(r);
  if (name == "ioctl") {
    RawIoctl raw;
    raw.h = r.handle(r.positional("the handle"));
    const Arg& request = r.positional("the request number");
    raw.request = static_cast<uint32_t>(parse_uint(request, 0xffffffff, r.line()));
    if (in_device_family(raw.request) != raw.request)
      r.fail(request,
             "ioctl requests outside the 0xB8 (MSHV) and 0xAE (KVM) families reach "
             "do_vfs_ioctl first, which this model does not cover");
    return raw;
  }
  if (name == "close") return Close{r.handle(r.positional("the handle"))};
  if (name == "fail_next") return parse_fail_next(r);
  r.fail("unknown call '" + name +
         "' (open_partition, open_vfio_file, open_file, create_device, set_attr, has_attr, "
         "get_attr, ioctl, close, fail_next)");
}

Op parse_op(const Call& call, int line, const HandleCounts& counts) {
  CallReader r{call, line, counts};
  Op op = parse_call_op(r);
  r.finish("");  // the calls that take no keys (attr and create calls finished above)
  return op;
}

}  // namespace

uint8_t& HandleCounts::of(char kind) {
  switch (kind) {
    case kPartition:
      return partitions;
    case kDevice:
      return devices;
    case kVfioFile:
      return vfio_files;
    default:
      return plain_files;
  }
}

uint8_t HandleCounts::of(char kind) const {
  return const_cast<HandleCounts*>(this)->of(kind);
}

std::optional<Handle> HandleCounts::create(const Op& op) {
  char kind = std::visit(Overloaded{
                             [](const OpenPartition&) { return kPartition; },
                             [](const OpenFile& o) { return o.vfio ? kVfioFile : kPlainFile; },
                             [](const CreateDevice&) { return kDevice; },
                             [](const SetAttr&) { return '\0'; },
                             [](const HasAttr&) { return '\0'; },
                             [](const GetAttr&) { return '\0'; },
                             [](const RawIoctl&) { return '\0'; },
                             [](const Close&) { return '\0'; },
                             [](const FailNext&) { return '\0'; },
                         },
                         op);
  if (!kind) return std::nullopt;
  return Handle{kind, of(kind)++};
}

Trace decode_input(std::span<const uint8_t> data, size_t max_ops, std::vector<size_t>* offsets) {
  ByteReader in(data);
  Trace trace;
  const uint8_t options = in.u8();
  trace.profile = kProfileByBit[options & 1];
  const bool structured = options >= kStructuredOptions;
  const bool v2 = options >= kLegacyV2Options;
  Live live;
  if (offsets) offsets->assign(1, in.pos());
  while (!in.empty() && trace.ops.size() < max_ops) {
    trace.ops.push_back(structured ? read_op_structured(in, live) : read_op(in, live.counts, v2));
    live.after(trace.ops.back());
    if (offsets) offsets->push_back(in.pos());
  }
  return trace;
}

std::vector<uint8_t> encode_input(const Trace& trace) {
  ByteWriter out;
  if (trace.profile == kProfileByBit[0])
    out.u8(kLegacyV2Options);
  else if (trace.profile == kProfileByBit[1])
    out.u8(kLegacyV2Options | 1);
  else
    throw std::invalid_argument("profile '" + trace.profile + "' has no fuzz-input encoding");
  if (trace.ops.size() > kMaxOps) throw std::invalid_argument("more than kMaxOps ops");
  HandleCounts counts;
  for (const Op& op : trace.ops) {
    write_op(out, op, counts);
    counts.create(op);
  }
  return out.take();
}

Call to_call(const Op& op, const HandleCounts& counts) {
  Call call;
  HandleCounts next = counts;
  if (auto created = next.create(op)) call.result = to_string(*created);
  std::visit(Overloaded{
                 [&](const OpenPartition&) { call.name = "open_partition"; },
                 [&](const OpenFile& o) { call.name = o.vfio ? "open_vfio_file" : "open_file"; },
                 [&](const CreateDevice& c) {
                   call.name = "create_device";
                   call.args = {{"", to_string(c.part)},
                                {"type", format_uint(c.type, false)},
                                {"flags", format_uint(c.flags, true)}};
                   if (c.arg != Mem::Ok)
                     call.args.push_back({"arg", kMemNames[static_cast<int>(c.arg)]});
                 },
                 [&](const AttrArgs& a) {
                   call.name = attr_call_name(op);
                   attr_args(call, a);
                 },
                 [&](const RawIoctl& r) {
                   call.name = "ioctl";
                   call.args = {{"", to_string(r.h)}, {"", format_uint(r.request, true)}};
                 },
                 [&](const Close& c) {
                   call.name = "close";
                   call.args = {{"", to_string(c.h)}};
                 },
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

std::vector<std::string> Protocol::call_lines(const std::vector<Op>& ops) {
  std::vector<std::string> lines;
  HandleCounts counts;
  for (const Op& op : ops) {
    lines.push_back(format_call(to_call(op, counts)));
    counts.create(op);
  }
  return lines;
}

std::string Protocol::outcome_text(const Outcome& outcome) {
  return to_string(outcome);
}

std::string Protocol::header(const std::string& profile) {
  return "# lockstep mshv  profile=" + profile;
}

std::string print_text(const Trace& trace) {
  ProgramText program{"mshv", trace.profile, {}, trace.verbatim};
  HandleCounts counts;
  for (size_t i = 0; i < trace.ops.size(); ++i) {
    program.lines.push_back(
        {to_call(trace.ops[i], counts), i < trace.notes.size() ? trace.notes[i] : ""});
    counts.create(trace.ops[i]);
  }
  return format_program(program);
}

Trace parse_text(std::string_view text) {
  ProgramText program = parse_program(text);
  require_protocol(program, "mshv");
  Trace trace;
  trace.profile = program.profile.empty() ? "mshv-v1" : program.profile;
  HandleCounts counts;
  trace.verbatim = program.verbatim;
  trace.source.header_line = program.header_line;
  trace.source.profile_column = program.profile_column;
  for (const auto& l : program.lines) {
    trace.source.op_lines.push_back(l.line_number);
    trace.ops.push_back(parse_op(l.call, l.line_number, counts));
    auto created = counts.create(trace.ops.back());
    std::string expected_result = created ? to_string(*created) : "";
    if (l.call.result != expected_result)
      throw ParseError(
          l.line_number, 1,
          expected_result.empty()
              ? l.call.name + " creates nothing: drop '" + l.call.result + " ='"
              : "result must be named '" + expected_result + "', not '" + l.call.result + "'");
    trace.notes.push_back(l.note);
  }
  bool any_note = false;
  for (const auto& n : trace.notes) any_note |= !n.empty();
  if (!any_note) trace.notes.clear();
  return trace;
}

}  // namespace lockstep::mshv
