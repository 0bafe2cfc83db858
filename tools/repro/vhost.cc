// The vhost-user reproducer generator: the runtime (vhost_runtime.inc), the numbers it needs from
// core/vhost/uapi.h, one table row per op with the model's expectations, and one emitter per op
// kind (std::visit: a new op makes the compiler ask for its emitter).
#include <cstdio>
#include <sstream>

#include "core/vhost/codec.h"
#include "model/vhost/model.h"
#include "tools/repro/c_text.h"
#include "tools/repro/repro.h"

namespace lockstep::tools {
namespace {

namespace uapi = vhost::uapi;

const char* const kRuntime =
#include "tools/repro/vhost_runtime.inc"
    ;
const char* const kSession =
#include "tools/repro/vhost_session.inc"
    ;

// A reply as the runtime's render() writes it (the two must agree byte for byte).
std::string reply_text(const vhost::Reply& r) {
  const std::string_view name = uapi::request_name(r.request);
  std::string s = name.empty() ? "REQ_" + std::to_string(r.request) : std::string(name);
  s += " flags=" + c_hex(r.flags) + " size=" + std::to_string(r.size);
  if (r.size == 8 && r.u64()) {
    s += " u64=" + c_hex(*r.u64());
  } else if (r.size > 0) {
    s += " payload=";
    char byte[3];
    for (uint8_t b : r.payload) {
      std::snprintf(byte, sizeof byte, "%02x", b);
      s += byte;
    }
  }
  for (size_t i = 0; i < r.fds.size(); ++i) s += (i ? "," : " fds=") + vhost::to_string(r.fds[i]);
  return s;
}

// What crosses the wire after one op, as the runtime's check() writes it.
std::string wire_text(const vhost::Outcome& o) {
  std::string s;
  for (const auto& r : o.replies) s += (s.empty() ? "" : "; ") + reply_text(r);
  return (s.empty() ? "none" : s) + (o.closed ? ", closed" : "");
}

// "version 1 | VHOST_USER_NEED_REPLY" for 0x9: the header's flag fields by name.
std::string flags_comment(uint32_t flags) {
  std::string s = "version " + std::to_string(flags & uapi::kVersionMask);
  if (flags & uapi::kReply) s += " | VHOST_USER_REPLY_MASK";
  if (flags & uapi::kNeedReply) s += " | VHOST_USER_NEED_REPLY";
  if (flags & ~uapi::kKnownFlags) s += " | reserved bits " + c_hex(flags & ~uapi::kKnownFlags);
  return s;
}

std::string request_comment(uint32_t request) {
  const std::string_view name = uapi::request_name(request);
  return name.empty() ? "not a request" : "VHOST_USER_" + std::string(name);
}

const char* fd_kind_enum(vhost::FdKind kind) {
  switch (kind) {
    case vhost::FdKind::Eventfd:
      return "FD_EVENTFD";
    case vhost::FdKind::Memfd:
      return "FD_MEMFD";
    case vhost::FdKind::File:
      return "FD_FILE";
    case vhost::FdKind::Uffd:
      return "FD_UFFD";
    case vhost::FdKind::Other:
      return "FD_OTHER";
  }
  return "FD_OTHER";
}

// ---- one emitter per op kind: the statements that perform it ---------------------------------

std::string emit(const vhost::Send& s) {
  std::ostringstream o;
  if (!s.payload.empty()) o << "    " << c_bytes("payload", s.payload);
  if (!s.fds.empty()) {
    o << "    static const struct fd_spec fds[] = {";
    for (size_t i = 0; i < s.fds.size(); ++i)
      o << (i ? ", " : "") << "{" << fd_kind_enum(s.fds[i].kind) << ", " << c_hex(s.fds[i].size)
        << "}";
    o << "};\n";
  }
  o << "    op_send(s, " << s.request << " /* " << request_comment(s.request) << " */, "
    << c_hex(s.flags) << " /* " << flags_comment(s.flags) << " */, " << s.header_size()
    << " /* header size */, " << (s.payload.empty() ? "NULL, 0" : "payload, sizeof payload") << ", "
    << (s.fds.empty() ? "NULL, 0" : "fds, " + std::to_string(s.fds.size())) << ");\n";
  return o.str();
}

std::string emit(const vhost::RawBytes& r) {
  if (r.bytes.empty()) return "    op_raw(s, NULL, 0);\n";
  return "    " + c_bytes("bytes", r.bytes) + "    op_raw(s, bytes, sizeof bytes);\n";
}

std::string emit(const vhost::Disconnect&) {
  return "    op_disconnect(s);\n";
}

std::string emit(const vhost::Connect&) {
  return "    op_connect(s);\n";
}

// Refused before generation (backend::first_unsupported): no fault injection into a peer.
std::string emit(const vhost::FailNext&) {
  return "    /* fail_next: not sent (no fault injection into a peer process) */\n";
}

// The step table: per op its line, its call and the model's expectations under both profiles.
std::string steps_table(const vhost::Trace& trace, const std::string& peer_profile,
                        int& spec_left_open) {
  vhost::Model spec(*vhost::find_profile("spec"));
  vhost::Model peer(*vhost::find_profile(peer_profile));
  const std::vector<std::string> calls = vhost::Protocol::call_lines(trace.ops);
  std::ostringstream o;
  o << "static const struct step steps[] = {\n";
  for (size_t i = 0; i < trace.ops.size(); ++i) {
    const vhost::Outcome want = spec.step(trace.ops[i]);
    const vhost::Outcome theirs = peer.step(trace.ops[i]);
    const int line = i < trace.source.op_lines.size() ? trace.source.op_lines[i] : int(i + 1);
    o << "    {" << line << ", " << c_string(calls[i]) << ",\n     " << c_string(wire_text(want))
      << ",\n     " << c_string(wire_text(theirs)) << ",\n     " << int(want.res.uffds) << ", "
      << int(want.res.held_fds) << ", " << int(theirs.res.uffds) << ", " << int(theirs.res.held_fds)
      << "},\n";
  }
  o << "};\n";
  spec_left_open = spec.fds_left_open();
  return o.str();
}

// The numbers the runtime needs, each from core/vhost/uapi.h.
std::string numbers(const std::string& peer_profile, uint32_t refused_at_header) {
  std::ostringstream o;
  o << "#define REFUSED_AT_HEADER " << refused_at_header
    << " /* a larger header size: the peer refuses the message without reading on */\n"
    << "#define NORMALISED_ADDR " << c_hex(uapi::kNormalisedAddr)
    << "ull /* lockstep: base page-aligned, mappings disjoint (rule X7) */\n"
    << "#define MISALIGNED_ADDR " << c_hex(uapi::kMisalignedAddr)
    << "ull /* lockstep: address - mmap_offset not a page boundary */\n"
    << "#define OVERLAPPING_ADDR " << c_hex(uapi::kOverlappingAddr)
    << "ull /* lockstep: its mapping overlaps another region's */\n"
    << "#define PEER_PROFILE " << c_string(peer_profile) << "\n"
    << "static const char *const request_names[] = {";
  for (uint32_t r = 0; r <= uapi::kMaxRequest; ++r)
    o << (r % 4 ? " " : "\n    ") << c_string(std::string(uapi::request_name(r))) << ",";
  o << "\n};\n\n";
  return o.str();
}

}  // namespace

std::string vhost_reproducer(const vhost::Trace& trace, const std::string& peer_profile,
                             const std::string& source, uint32_t refused_at_header) {
  int spec_left_open = 0;
  const std::string table = steps_table(trace, peer_profile, spec_left_open);
  std::ostringstream o;
  o << "/* A reproducer written by `lockstep repro` from " << c_comment(source) << "\n"
    << " * (vhost-user, " << trace.ops.size()
    << " ops; expectations: the lockstep model under the\n"
    << " * spec profile and under " << peer_profile << ").\n"
    << " *\n"
    << " * Build: cc -std=c11 -Wall -Wextra -Werror -o repro THIS_FILE.c\n"
    << " * Run:   ./repro SOCKET [PID]   (the back-end's socket; its pid for /proc/PID/fd counts)\n"
    << " * Exit:  0 the back-end did what the spec says at every op, 1 it deviated from the spec\n"
    << " *        (the reproducer shows the defect), 2 usage, 3 cannot connect to SOCKET.\n"
    << " */\n"
    << numbers(peer_profile, refused_at_header) << kRuntime << kSession << "\n"
    << table << "\nstatic struct session session;\n\n"
    << "int main(int argc, char **argv) {\n"
    << "  struct session *s = &session;\n"
    << "  int rc = start(s, argc, argv);\n"
    << "  if (rc) return rc;\n"
    << "  int deviations = 0;\n";
  for (size_t i = 0; i < trace.ops.size(); ++i) {
    o << "  if (!s->gone) { /* op " << i + 1 << " */\n"
      << std::visit([](const auto& op) { return emit(op); }, trace.ops[i])
      << "    deviations += check(s, &steps[" << i << "], " << i << ");\n  }\n";
  }
  o << "  deviations += finish(s, " << spec_left_open << ");\n"
    << "  printf(\"%s\\n\", deviations ? \"REPRODUCED: the back-end deviates from the spec\"\n"
    << "                              : \"the back-end did what the spec says\");\n"
    << "  return deviations ? 1 : 0;\n}\n";
  return o.str();
}

}  // namespace lockstep::tools
