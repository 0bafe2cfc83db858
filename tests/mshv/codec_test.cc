// The two MSHV codecs: bytes -> trace is total and re-encodes exactly; printed programs
// round-trip through the parser; every shipped program is in canonical form.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "core/mshv/codec.h"
#include "core/program_files.h"
#include "tests/parse_errors.h"

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

// `lockstep fmt` keeps what a reviewer wrote between the ops, and where: comments and blank
// lines before the header, between ops and at the end; op lines are canonicalised.
TEST(MshvCodec, CommentsAndBlankLinesSurviveTheRoundTrip) {
  const std::string text =
      "# why this program exists\n"
      "\n"
      "# lockstep mshv  profile=mshv-v1\n"
      "p0 = open_partition()\n"
      "\n"
      "# the create below faults on copy-back\n"
      "d0 = create_device(p0, type=0, flags=0x0, arg=ro)     # EFAULT\n"
      "# trailing comment\n";
  const Trace trace = parse_text(text);
  EXPECT_EQ(trace.ops.size(), 2u);
  EXPECT_EQ(trace.source.op_lines, (std::vector<int>{4, 7}));
  EXPECT_EQ(print_text(trace), text);
  EXPECT_EQ(print_text(parse_text("\xEF\xBB\xBF# lockstep mshv\n  p0 = open_partition( )\n")),
            "# lockstep mshv  profile=mshv-v1\np0 = open_partition()\n");
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

// The parser is strict and speaks in file positions: LINE is the line in the file (comments,
// blank lines and a byte order mark before the header count), COL the argument's column.
TEST(MshvCodec, MalformedProgramsAreRefusedAtTheirPosition) {
  const std::string head = "\xEF\xBB\xBF# a comment\n\n# lockstep mshv  profile=mshv-v1\n";
  const std::string p0 = "p0 = open_partition()\n";
  const ParseErrorCases cases = {
      {p0 + "d0 = create_device(p0, type=-1)\n", "5:24: type=-1: a negative value (0..0xffffffff)"},
      {p0 + "d0 = create_device(p0, type=4294967296)\n", "5:24: type=4294967296: out of range"},
      {p0 + "d0 = create_device(p0, typo=1)\n", "5:24: create_device: unknown argument 'typo'"},
      {p0 + "d0 = create_device(p0, type=1, type=2)\n", "5:32: create_device: repeated argument"},
      {p0 + "d0 = create_device()\n", "5:6: create_device: missing argument 1 (the partition"},
      {p0 + "d0 = create_device(p0, p0)\n", "5:24: create_device: too many arguments"},
      {p0 + "d0 = create_device(x9)\n", "5:20: bad handle 'x9'"},
      {p0 + "d0 = create_device(p-1)\n", "5:21: '-1': a negative value"},
      {p0 + "d0 = create_device(p0, arg=maybe)\n", "5:24: arg= must be ok, ro or bad"},
      {p0 + "frobnicate(p0)\n", "5:1: unknown call 'frobnicate'"},
      {p0 + "open_partition(p0)\n", "5:16: open_partition: too many arguments"},
      {p0 + "close(p0, how=1)\n", "5:11: close: unknown argument 'how' (it takes none)"},
      {p0 + "ioctl(p0, -5)\n", "5:11: '-5': a negative value"},
      {p0 + "fail_next(disk)\n", "5:11: fail_next site must be"},
      {p0 + "d0 = create_device(p0)\nset_attr(d0, fd=f0, addr=bad)\n", "6:21: fd= and addr="},
      {p0 + "d0 = create_device(p0)\nhas_attr(d0, addr=good)\n", "6:14: addr= can only be bad"},
      {p0 + "d0 = create_device(p0)\nget_attr(d0, group=0x1ffffffff)\n", "6:14: group="},
      {p0 + "d0 = create_device(p0)\nset_attr(d0, attr=-1)\n", "6:14: attr=-1: a negative"},
      {p0 + "d0 = create_device(p0)\nset_attr(d0, fd=3)\n", "6:14: a raw fd= must be negative"},
      {p0 + "x0 = close(p0)\n", "5:1: close creates nothing"},
      {"p1 = open_partition()\n", "4:1: result must be named 'p0'"},
  };
  expect_parse_errors([](const std::string& text) { return parse_text(text); }, head, cases);
}

}  // namespace
}  // namespace lockstep::mshv

namespace lockstep::mshv {
namespace {

TEST(MshvCodec, FailNextCarriesItsErrno) {
  const std::string text =
      "# lockstep mshv  profile=mshv-v1\nfail_next(fd_alloc)\nfail_next(fd_alloc, ENFILE)\n"
      "fail_next(copy_from_user, ENOMEM)\n";
  const Trace t = parse_text(text);
  ASSERT_EQ(t.ops.size(), 3u);
  EXPECT_EQ(std::get<FailNext>(t.ops[0]), (FailNext{Site::FdAlloc, EMFILE}));
  EXPECT_EQ(std::get<FailNext>(t.ops[1]), (FailNext{Site::FdAlloc, ENFILE}));
  EXPECT_EQ(std::get<FailNext>(t.ops[2]), (FailNext{Site::CopyFromUser, ENOMEM}));
  EXPECT_EQ(print_text(t), text);
  EXPECT_EQ(decode_input(encode_input(t)).ops, t.ops);
  EXPECT_THROW(parse_text("# lockstep mshv\nfail_next(alloc, EFAULT)\n"), ParseError);
}

TEST(MshvCodec, LegacyV1FailNextKeepsItsMeaning) {
  const uint8_t v1[] = {0, static_cast<uint8_t>(OpCode::FailNext), 5};  // 5 % 3: copy_to_user
  const Trace t = decode_input(v1);
  ASSERT_EQ(t.ops.size(), 1u);
  EXPECT_EQ(std::get<FailNext>(t.ops[0]), (FailNext{Site::CopyToUser, EFAULT}));
  EXPECT_EQ(encode_input(t)[0], kLegacyV2Options);
}

}  // namespace
}  // namespace lockstep::mshv
