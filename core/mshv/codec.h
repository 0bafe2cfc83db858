// The two MSHV trace codecs.
//  bytes <-> trace: the fuzz input. Total: every byte string decodes to a trace of at most
//    kMaxOps ops (missing bytes read as zero). Byte 0 holds the options: bit 0 picks the profile
//    the real impl runs (even: mshv-v1, odd: mshv-strict); byte 0 < kStructuredOptions selects
//    the legacy form: per op one opcode byte and its raw fields. Its version is byte 0 / 2:
//    v1 (0 or 1) stores a FailNext as one byte, its site modulo the first kSitesV1 sites, with
//    the site's first errno; v2 (2 or 3, what encode_input writes) as two, its site (a row of
//    core/mshv/sites.def) and its errno's index in that row. Byte 0 >= kStructuredOptions (what
//    random bytes almost always give) selects the structured form: per op one weighted opcode byte
//    and one byte per field naming a value of its domain, handles naming live objects of the
//    argument's kind, missing prerequisites created first (codec.cc, "structured form"). Both forms
//    decode to the same Trace type, and every decoded trace has a legacy encoding.
//  text <-> trace: the readable program (core/program_text.h); print(parse(t)) == t for every
//    program print() produces.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/mshv/ops.h"
#include "core/program_text.h"

namespace lockstep::mshv {

constexpr size_t kMaxOps = 64;

// The opcode byte of each op in the fuzz input (modulo kOpCodeCount). Fixed numbers, not the
// op's position in the Op variant: committed corpus files keep their meaning whatever order the
// variant lists its alternatives in (tests/mshv/codec_test.cc pins them).
enum class OpCode : uint8_t {
  OpenPartition = 0,
  OpenFile = 1,
  CreateDevice = 2,
  SetAttr = 3,
  HasAttr = 4,
  GetAttr = 5,
  RawIoctl = 6,
  Close = 7,
  FailNext = 8,
};
constexpr size_t kOpCodeCount = 9;
OpCode opcode_of(const Op& op);

constexpr uint8_t kLegacyV2Options = 2;
constexpr uint8_t kStructuredOptions = 4;

// `offsets`, when given, receives where each op's bytes start in `data` followed by where the
// last op's end (for the trace mutator: ops are edited as byte spans and decoded again).
Trace decode_input(std::span<const uint8_t> data, size_t max_ops = kMaxOps,
                   std::vector<size_t>* offsets = nullptr);
// Throws std::invalid_argument for a trace that names a handle before the op creating it, or
// a profile the fuzz input cannot select.
std::vector<uint8_t> encode_input(const Trace& trace);

std::string print_text(const Trace& trace);
Trace parse_text(std::string_view text);  // throws lockstep::ParseError

// One op as a readable call, given how many handles of each kind exist before it.
Call to_call(const Op& op, const struct HandleCounts& counts);

// Handles created so far, per kind, while walking a trace in order.
struct HandleCounts {
  uint8_t partitions = 0, devices = 0, vfio_files = 0, plain_files = 0;
  uint8_t& of(char kind);
  uint8_t of(char kind) const;
  // The handle the op creates, if any (and counts it).
  std::optional<Handle> create(const Op& op);
};

}  // namespace lockstep::mshv
