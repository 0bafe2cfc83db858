// The two vhost-user trace codecs.
//  bytes <-> trace: the fuzz input. Total: every byte string decodes to a trace of at most
//    kMaxOps ops (missing bytes read as zero). Byte 0 holds the fuzz options: bits 0-1 pick the
//    profile the real impl runs (kFuzzProfiles). Byte 0 < kStructuredOptions selects the legacy
//    form, whose version is bit 3: v1 (clear) stores a FailNext as one byte, its site modulo the
//    first kSitesV1 sites, with the site's first errno; v2 (set, what encode_input writes) as
//    two, its site (a row of core/vhost/sites.def) and its errno's index in that row. Bit 2
//    prefixes the trace with the negotiation preamble (preamble()), then per op one opcode byte and
//    its fields; a Send's payload is either length-prefixed raw bytes or one of a few structured
//    forms (u64, vring state, a memory table with matching memfds). Byte 0 >= kStructuredOptions
//    (what random bytes almost always give) selects the structured form: the preamble unless
//    bits 4-5 are both clear (3 times in 4), then per op one byte picking a postcopy request
//    with the payload its handler reads (3 times in 4) or another op, and one byte per field
//    naming a value of its domain (codec.cc, "structured form"). Both forms decode to the same
//    Trace type, and every decoded trace has a legacy encoding.
//  text <-> trace: the readable program (core/program_text.h); print(parse(t)) == t for every
//    program print() produces, and parse(print(trace)) == trace for every trace.
//
//    # lockstep vhost  profile=spec
//    send(GET_FEATURES, flags=0x1)                       # = GET_FEATURES size=8 u64=0x174008000
//    send(SET_PROTOCOL_FEATURES, flags=0x9, u64=0x108)   # = SET_PROTOCOL_FEATURES size=8 u64=0
//    send(POSTCOPY_ADVISE, flags=0x1)                    # = POSTCOPY_ADVISE size=0 fds=uffd
//    send(SET_MEM_TABLE, flags=0x1, region=0x0:0x100000:0x7f0000000000:0x0, fd=memfd:0x100000)
//    send(SET_OWNER, flags=0x1, fd=eventfd)              # = closed
//    raw(0100000001)                                     # = none
//    fail_next(userfaultfd)
//    fail_next(mmap, EACCES)                             # an errno other than the site's first
//    disconnect()
//    connect()
//
//  send() arguments: the request (a name from uapi::request_name or a number), flags= (always
//  printed), then the payload in one form — u64=V (8 bytes), ring=I + num=N (vring state, on
//  the vring-state requests), region=GPA:SIZE:UADDR:OFFSET repeated (a consistent memory table
//  on SET_MEM_TABLE / ADD_MEM_REG), log=SIZE:OFFSET (SET_LOG_BASE), payload=HEX otherwise — then
//  fd=KIND repeated (eventfd, file, memfd:SIZE), then size=N for a lying header size.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/program_text.h"
#include "core/vhost/ops.h"

namespace lockstep::vhost {

constexpr size_t kMaxOps = 64;

// The opcode byte of each op in the fuzz input, modulo kOpCodeModulus: fixed numbers, not the
// op's position in the Op variant, so committed corpus files keep their meaning whatever order
// the variant lists its alternatives in (tests/vhost/codec_test.cc pins them). Sends take the
// most opcodes (0-10) and raw writes two (11-12) so that random bytes are mostly messages.
enum class OpCode : uint8_t {
  Send = 0,       // 0 .. 10
  RawBytes = 11,  // 11 .. 12
  Disconnect = 13,
  Connect = 14,
  FailNext = 15,
};
constexpr uint8_t kOpCodeModulus = 16;
OpCode opcode_of(const Op& op);
constexpr size_t kMaxSendFds = 12;            // > 8, so W5 is reachable
constexpr uint64_t kMaxMemfdSize = 1u << 30;  // fuzz input memfds are at most 1 GiB (sparse)
// Profiles a fuzz input can select (byte 0, bits 0-1, modulo the list's size).
constexpr const char* kFuzzProfiles[] = {"spec"};

// GET_FEATURES; SET_FEATURES(offered); GET_PROTOCOL_FEATURES;
// SET_PROTOCOL_FEATURES(REPLY_ACK|PAGEFAULT, NEED_REPLY) — what QEMU sends before postcopy.
std::vector<Op> preamble();

constexpr uint8_t kLegacyV2Options = 8;
constexpr uint8_t kStructuredOptions = 16;

// `offsets`, when given, receives where each op's bytes start in `data` followed by where the
// last op's end (for the trace mutator: ops are edited as byte spans and decoded again). The
// preamble's ops take no bytes and have no offsets.
Trace decode_input(std::span<const uint8_t> data, size_t max_ops = kMaxOps,
                   std::vector<size_t>* offsets = nullptr);
// Throws std::invalid_argument for a profile the fuzz input cannot select, more than kMaxOps
// ops, a Send with more than kMaxSendFds fds or a memfd above kMaxMemfdSize, or a payload or
// raw write above 65535 bytes.
std::vector<uint8_t> encode_input(const Trace& trace);

std::string print_text(const Trace& trace);
Trace parse_text(std::string_view text);  // throws lockstep::ParseError

Call to_call(const Op& op);
Op parse_op(const Call& call, int line);  // throws lockstep::ParseError

// Checks a program's notes against outcomes: a note starting with '=' must equal reply_text()
// or to_string() of the outcome (anything after " -- " in the note is commentary). Returns a
// message per mismatch ("line 3: expected ..., model says ..."); empty when all match.
std::vector<std::string> check_notes(const Trace& trace, const std::vector<Outcome>& outcomes);

}  // namespace lockstep::vhost
