// The two MSHV codecs: bytes -> trace is total and re-encodes exactly; printed programs
// round-trip through the parser; every shipped program is in canonical form.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "core/mshv/codec.h"
#include "core/program_files.h"

namespace lockstep::mshv {
namespace {

std::vector<uint8_t> random_bytes(std::mt19937_64& rng) {
  std::vector<uint8_t> b(rng() % 300);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

TEST(MshvCodec, EveryByteStringDecodesAndReencodesToTheSameTrace) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 5000; ++i) {
    auto bytes = random_bytes(rng);
    Trace trace = decode_input(bytes);
    ASSERT_LE(trace.ops.size(), kMaxOps);
    Trace again = decode_input(encode_input(trace));
    ASSERT_EQ(again.ops, trace.ops);
    ASSERT_EQ(again.profile, trace.profile);
  }
}

TEST(MshvCodec, EmptyInputIsAnEmptyTrace) {
  Trace trace = decode_input({});
  EXPECT_TRUE(trace.ops.empty());
  EXPECT_EQ(trace.profile, "mshv-v1");
}

TEST(MshvCodec, PrintedProgramsParseBackExactly) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 2000; ++i) {
    Trace trace = decode_input(random_bytes(rng));
    std::string text = print_text(trace);
    Trace parsed = parse_text(text);
    ASSERT_EQ(parsed.ops, trace.ops) << text;
    ASSERT_EQ(print_text(parsed), text);
  }
}

TEST(MshvCodec, NotesSurviveTheRoundTrip) {
  std::string text =
      "# lockstep mshv  profile=mshv-strict\n"
      "p0 = open_partition()                                 # = 0\n"
      "d0 = create_device(p0, type=0, flags=0x2)             # EINVAL unknown flags\n";
  Trace trace = parse_text(text);
  ASSERT_EQ(trace.notes.size(), 2u);
  EXPECT_EQ(trace.notes[1], "EINVAL unknown flags");
  EXPECT_EQ(print_text(trace), text);
}

TEST(MshvCodec, ParseErrorsNameTheProblem) {
  auto error_of = [](const std::string& text) {
    try {
      parse_text(text);
    } catch (const ParseError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of("p0 = open_partition()\n").find("header"), std::string::npos);
  EXPECT_NE(error_of("# lockstep mshv\nclose(d3)\n").find("before the op that creates it"),
            std::string::npos);
  EXPECT_NE(error_of("# lockstep mshv\nfrobnicate(p0)\n").find("unknown call"), std::string::npos);
  EXPECT_NE(error_of("# lockstep mshv\np1 = open_partition()\n").find("must be named 'p0'"),
            std::string::npos);
  EXPECT_NE(error_of("# lockstep mshv\np0 = open_partition()\nd0 = create_device(p0, type=zz)\n")
                .find("not a number"),
            std::string::npos);
  EXPECT_NE(error_of("# lockstep mshv\np0 = open_partition()\nd0 = create_device(p0, arg=maybe)\n")
                .find("arg="),
            std::string::npos);
}

TEST(MshvCodec, ShippedProgramsAreCanonical) {
  int seen = 0;
  for (const char* dir : {"mshv_device", "mshv_kvm"}) {
    for (const auto& [path, text] :
         read_programs(std::filesystem::path(LOCKSTEP_SOURCE_DIR) / "corpus/programs" / dir)) {
      EXPECT_EQ(print_text(parse_text(text)), text) << path;
      ++seen;
    }
  }
  EXPECT_GT(seen, 30);
}

// The opcode byte of each op is a fixed number (committed corpus files depend on it), not the
// op's position in the Op variant.
TEST(MshvCodec, OpcodesAreFixedNumbers) {
  const std::vector<std::pair<uint8_t, Op>> pinned = {
      {0, OpenPartition{}}, {1, OpenFile{}}, {2, CreateDevice{}}, {3, SetAttr{}},  {4, HasAttr{}},
      {5, GetAttr{}},       {6, RawIoctl{}}, {7, Close{}},        {8, FailNext{}},
  };
  ASSERT_EQ(pinned.size(), kOpCodeCount);
  for (const auto& [code, op] : pinned) {
    EXPECT_EQ(static_cast<uint8_t>(opcode_of(op)), code) << Protocol::op_name(op);
    const std::vector<uint8_t> input = {0, code};
    const Trace t = decode_input(input);
    ASSERT_EQ(t.ops.size(), 1u);
    EXPECT_EQ(t.ops[0].index(), op.index()) << "opcode " << int{code};
    EXPECT_EQ(decode_input(std::vector<uint8_t>{0, static_cast<uint8_t>(code + kOpCodeCount)})
                  .ops[0]
                  .index(),
              op.index())
        << "opcodes are taken modulo kOpCodeCount";
  }
}

}  // namespace
}  // namespace lockstep::mshv
