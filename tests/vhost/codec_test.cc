// core/vhost: the numbers in uapi.h against the seed patch (seeds/003_*, the DPDK RFC 04/10),
// the reference's spec tables and the system's kernel headers; then the two codecs (bytes and
// text) for totality and exact round trips, and the outcome vocabulary.
#include <gtest/gtest.h>
#define VIRTIO_RING_NO_LEGACY  // <linux/vhost_types.h> pulls in virtio_ring.h's C-only helpers
#include <linux/userfaultfd.h>
#include <linux/vhost_types.h>
#include <linux/virtio_config.h>

#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>

#include "core/program_files.h"
#include "core/vhost/codec.h"
#include "core/vhost/uapi.h"
#include "tests/parse_errors.h"

namespace lockstep::vhost {
namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// "#define NAME<ws>VALUE" in a system header that C++ cannot include (virtio_net.h names a
// field `class`; virtio_ring.h converts void*).
std::string header_define(const std::string& header, const std::string& name) {
  std::string text = read("/usr/include/linux/" + header);
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("#define " + name + R"([ \t]+(\w+))"))) return "";
  return m[1];
}

// ---- uapi: the seed ---------------------------------------------------------------------------

// The seed is a patchwork JSON record whose "diff" holds the RFC's enum VhostUserRequest hunk
// ("\tVHOST_USER_POSTCOPY_ADVISE = 28,"). Its names are DPDK's of 2018; ours are the spec's.
TEST(VhostUapi, RequestIdsMatchTheSeedPatch) {
  std::string seed = read(LOCKSTEP_SOURCE_DIR "/../shared/seeds/003_0ec54909685172e6.txt");
  if (seed.empty()) GTEST_SKIP() << "shared/seeds/ is not beside this checkout";
  const std::map<std::string, uint32_t> ours = {
      {"IOTLB_MSG", uapi::kIotlbMsg},
      {"CRYPTO_CREATE_SESS", uapi::kCreateCryptoSession},
      {"CRYPTO_CLOSE_SESS", uapi::kCloseCryptoSession},
      {"POSTCOPY_ADVISE", uapi::kPostcopyAdvise},
  };
  std::regex define(R"(VHOST_USER_([A-Z_]+) = (\d+))");
  std::map<std::string, uint32_t> seen;
  for (std::sregex_iterator it(seed.begin(), seed.end(), define), end; it != end; ++it)
    seen[(*it)[1]] = static_cast<uint32_t>(std::stoul((*it)[2]));
  for (const auto& [name, id] : ours) {
    ASSERT_TRUE(seen.count(name)) << name;
    EXPECT_EQ(seen[name], id) << name;
  }
  EXPECT_EQ(seen["POSTCOPY_ADVISE"], 28u);
  EXPECT_EQ(seen["MAX"], 29u);  // the patch's new VHOST_USER_MAX: ADVISE is the last id it knows
}

// The reference's request table ("| 28 | POSTCOPY_ADVISE | 29 | ...") and protocol-feature table.
TEST(VhostUapi, RequestNamesAndProtocolBitsMatchTheSpecTables) {
  std::string ref = read(LOCKSTEP_SOURCE_DIR "/../shared/reference/vhost-user-postcopy.md");
  if (ref.empty()) GTEST_SKIP() << "shared/reference/ is not beside this checkout";
  auto section = [&](const std::string& from, const std::string& to) {
    size_t a = ref.find(from), b = ref.find(to, a);
    return ref.substr(a, b - a);
  };
  std::string ids = section("### 1.6 Front-end request ids", "- rust-vmm also defines 44");
  std::regex cell(R"(\| (\d+) \| ([A-Z_]+)[ (|])");
  size_t checked = 0;
  for (std::sregex_iterator it(ids.begin(), ids.end(), cell), end; it != end; ++it) {
    uint32_t id = static_cast<uint32_t>(std::stoul((*it)[1]));
    EXPECT_EQ(uapi::request_name(id), (*it)[2].str()) << id;
    ++checked;
  }
  EXPECT_EQ(checked, 43u);
  std::string bits = section("| Bit | Protocol feature |", "**REPLY_ACK:**");
  std::regex bit_cell(R"(\| (\d+) \| \**([A-Z_]+))");
  std::map<std::string, unsigned> named;
  for (std::sregex_iterator it(bits.begin(), bits.end(), bit_cell), end; it != end; ++it)
    named[(*it)[2]] = static_cast<unsigned>(std::stoul((*it)[1]));
  EXPECT_EQ(named.at("REPLY_ACK"), uapi::kPfReplyAck);
  EXPECT_EQ(named.at("PAGEFAULT"), uapi::kPfPagefault);
  EXPECT_EQ(named.at("MQ"), uapi::kPfMq);
  EXPECT_EQ(named.at("LOG_SHMFD"), uapi::kPfLogShmfd);
  EXPECT_EQ(named.at("RARP"), uapi::kPfRarp);
  EXPECT_EQ(named.at("BACKEND_REQ"), uapi::kPfBackendReq);
  EXPECT_EQ(named.at("STATUS"), uapi::kPfStatus);
  EXPECT_EQ(named.at("CONFIGURE_MEM_SLOTS"), uapi::kPfConfigureMemSlots);
  EXPECT_EQ(named.at("GET_VRING_BASE_INFLIGHT"), uapi::kPfGetVringBaseInflight);
  EXPECT_NE(ref.find("#define VHOST_USER_F_PROTOCOL_FEATURES 30"), std::string::npos);
  EXPECT_EQ(uapi::kFProtocolFeatures, 30u);
  // §1.1 header masks, as QEMU defines them.
  EXPECT_NE(ref.find("VHOST_USER_REPLY_MASK (0x1<<2)"), std::string::npos);
  EXPECT_EQ(uapi::kReply, 1u << 2);
  EXPECT_EQ(uapi::kNeedReply, 1u << 3);
  EXPECT_EQ(uapi::kVersion, 0x1u);
}

TEST(VhostUapi, ValuesMatchTheKernelHeaders) {
  EXPECT_EQ(uapi::kFLogAll, unsigned{VHOST_F_LOG_ALL});
  EXPECT_EQ(uapi::kFVersion1, unsigned{VIRTIO_F_VERSION_1});
  EXPECT_EQ(header_define("virtio_net.h", "VIRTIO_NET_F_MRG_RXBUF"),
            std::to_string(uapi::kFNetMrgRxbuf));
  EXPECT_EQ(header_define("virtio_ring.h", "VIRTIO_RING_F_INDIRECT_DESC"),
            std::to_string(uapi::kFRingIndirectDesc));
  EXPECT_EQ(header_define("virtio_ring.h", "VIRTIO_RING_F_EVENT_IDX"),
            std::to_string(uapi::kFRingEventIdx));
  EXPECT_EQ(uapi::kPageSize, uint64_t{VHOST_PAGE_SIZE});
  EXPECT_EQ(uapi::kUffdApi, uint64_t{UFFD_API});
  EXPECT_EQ(uapi::kUffdioRegisterModeMissing, uint64_t{UFFDIO_REGISTER_MODE_MISSING});
  EXPECT_EQ(uapi::kUffdioApiNr, uint32_t{_UFFDIO_API});
  EXPECT_EQ(uapi::kUffdioRegisterNr, uint32_t{_UFFDIO_REGISTER});
  // Layouts shared with the kernel's vhost structs (mmap_offset is vhost-user's flags_padding).
  EXPECT_EQ(sizeof(uapi::MemoryRegion), sizeof(vhost_memory_region));
  EXPECT_EQ(offsetof(uapi::MemoryRegion, guest_phys_addr),
            offsetof(vhost_memory_region, guest_phys_addr));
  EXPECT_EQ(offsetof(uapi::MemoryRegion, memory_size), offsetof(vhost_memory_region, memory_size));
  EXPECT_EQ(offsetof(uapi::MemoryRegion, userspace_addr),
            offsetof(vhost_memory_region, userspace_addr));
  EXPECT_EQ(sizeof(uapi::MemoryHeader), sizeof(vhost_memory));
  EXPECT_EQ(sizeof(uapi::VringState), sizeof(vhost_vring_state));
  EXPECT_EQ(sizeof(uapi::VringAddr), sizeof(vhost_vring_addr));
  EXPECT_EQ(offsetof(uapi::VringAddr, log_guest_addr), offsetof(vhost_vring_addr, log_guest_addr));
  EXPECT_EQ(uapi::mem_table_size(8), 264u);
}

TEST(VhostUapi, OfferedSetsContainWhatPostcopyNeeds) {
  EXPECT_TRUE(uapi::kOfferedFeatures & uapi::bit(uapi::kFProtocolFeatures));
  EXPECT_TRUE(uapi::kOfferedProtocolFeatures & uapi::bit(uapi::kPfReplyAck));
  EXPECT_TRUE(uapi::kOfferedProtocolFeatures & uapi::bit(uapi::kPfPagefault));
  EXPECT_TRUE(uapi::kDpdkProtocolFeatures & uapi::bit(uapi::kPfPagefault));
  EXPECT_EQ(uapi::request_name(44), "");
  EXPECT_EQ(uapi::request_name(uapi::kMaxRequest), "CHECK_DEVICE_STATE");
}

// ---- bytes codec ------------------------------------------------------------------------------

std::vector<uint8_t> random_bytes(std::mt19937& rng, size_t max_len) {
  std::vector<uint8_t> out(rng() % (max_len + 1));
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

TEST(VhostCodec, EveryByteStringDecodesAndReencodesToTheSameTrace) {
  std::mt19937 rng(20180823);
  for (int i = 0; i < 3000; ++i) {
    auto bytes = random_bytes(rng, 600);
    Trace t = decode_input(bytes);
    EXPECT_LE(t.ops.size(), kMaxOps);
    EXPECT_EQ(t.profile, "spec");
    Trace again = decode_input(encode_input(t));
    ASSERT_EQ(again.ops, t.ops) << i;
  }
}

TEST(VhostCodec, EmptyInputIsAnEmptyTrace) {
  EXPECT_TRUE(decode_input({}).ops.empty());
  std::vector<uint8_t> preamble_only = {0x4};
  EXPECT_EQ(decode_input(preamble_only).ops, preamble());
}

TEST(VhostCodec, StructuredFormsDecode) {
  // Send SET_MEM_TABLE, flags 0x9, shape = memory table, 2 regions of 4 KiB and 8 KiB.
  std::vector<uint8_t> in = {0, 0, 5, 0x08, 0x03, 1, 0, 1};
  Trace t = decode_input(in);
  ASSERT_EQ(t.ops.size(), 1u);
  const Send& s = std::get<Send>(t.ops[0]);
  EXPECT_EQ(s.flags, 0x9u);
  ASSERT_EQ(s.fds.size(), 2u);
  EXPECT_EQ(s.fds[1], (FdSpec{FdKind::Memfd, 0x2000}));
  auto table = parse_mem_table(s.payload);
  ASSERT_TRUE(table);
  EXPECT_EQ((*table)[1].guest_phys_addr, 0x1000u);
}

TEST(VhostCodec, EncodeRejectsWhatTheInputCannotHold) {
  Trace t;
  t.profile = "dpdk-22.11";
  EXPECT_THROW(encode_input(t), std::invalid_argument);
  t.profile = "spec";
  t.ops.push_back(send(1, 1, {}, std::vector<FdSpec>(kMaxSendFds + 1)));
  EXPECT_THROW(encode_input(t), std::invalid_argument);
  t.ops = {send(1, 1, {}, {{FdKind::Uffd, 0}})};
  EXPECT_THROW(encode_input(t), std::invalid_argument);
}

// ---- text codec -------------------------------------------------------------------------------

TEST(VhostCodec, RandomTracesRoundTripThroughText) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    Trace t = decode_input(random_bytes(rng, 400));
    std::string text = print_text(t);
    Trace parsed = parse_text(text);
    ASSERT_EQ(parsed.ops, t.ops) << text;
    EXPECT_EQ(print_text(parsed), text);
  }
}

TEST(VhostCodec, PrintedProgramsParseBackExactly) {
  const std::string program =
      "# lockstep vhost  profile=spec\n"
      "send(GET_FEATURES, flags=0x1)                         # = GET_FEATURES size=8 "
      "u64=0x174008000\n"
      "send(SET_PROTOCOL_FEATURES, flags=0x9, u64=0x108)     # = SET_PROTOCOL_FEATURES size=8 "
      "u64=0\n"
      "send(POSTCOPY_ADVISE, flags=0x1)                      # = POSTCOPY_ADVISE size=0 fds=uffd\n"
      "send(SET_VRING_BASE, flags=0x1, ring=1, num=42)\n"
      "send(SET_MEM_TABLE, flags=0x1, region=0x0:0x100000:0x7f0000000000:0x0, "
      "region=0x100000:0x1000:0x7f0000100000:0x0, fd=memfd:0x100000, fd=memfd:0x1000)\n"
      "send(SET_LOG_BASE, flags=0x9, log=0x1000:0x0, fd=file)\n"
      "send(99, flags=0x80000001, payload=0102, fd=eventfd, size=4)\n"
      "raw(0100000001)\n"
      "raw()\n"
      "fail_next(uffdio_register)\n"
      "disconnect()\n"
      "connect()\n";
  Trace t = parse_text(program);
  EXPECT_EQ(t.ops.size(), 12u);
  EXPECT_EQ(print_text(t), program);
  EXPECT_EQ(std::get<Send>(t.ops[6]).size, 4u);
  EXPECT_EQ(std::get<Send>(t.ops[4]).fds.size(), 2u);
}

TEST(VhostCodec, ParseErrorsNameTheProblem) {
  auto error = [](const std::string& body) {
    try {
      parse_text("# lockstep vhost  profile=spec\n" + body);
    } catch (const ParseError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error("send(NOT_A_REQUEST)").find("not a number"), std::string::npos);
  EXPECT_NE(error("send(GET_FEATURES, fd=pipe)").find("fd="), std::string::npos);
  EXPECT_NE(error("send(GET_FEATURES, u64=1, payload=00)").find("more than one"),
            std::string::npos);
  EXPECT_NE(error("send(SET_VRING_NUM, ring=1)").find("together"), std::string::npos);
  EXPECT_NE(error("raw(abc)").find("hex"), std::string::npos);
  EXPECT_NE(error("fail_next(disk)").find("fail_next"), std::string::npos);
  EXPECT_NE(error("x = connect()").find("results"), std::string::npos);
  EXPECT_THROW(parse_text("# lockstep mshv  profile=mshv-v1\n"), ParseError);
}

// ---- outcomes ---------------------------------------------------------------------------------

TEST(VhostOutcome, FirstDifferenceNamesStableFields) {
  Outcome a, b;
  EXPECT_EQ(Protocol::first_difference(a, b), nullptr);
  b.replies.push_back({});
  EXPECT_STREQ(Protocol::first_difference(a, b), "reply.count");
  a.replies.push_back({});
  b.replies[0].size = 8;
  EXPECT_STREQ(Protocol::first_difference(a, b), "reply.size");
  b.replies[0] = a.replies[0];
  b.replies[0].fds = {FdKind::Uffd};
  EXPECT_STREQ(Protocol::first_difference(a, b), "reply.fds");
  b = a;
  b.closed = true;
  EXPECT_STREQ(Protocol::first_difference(a, b), "closed");
  b = a;
  b.res.held_fds = 1;
  EXPECT_STREQ(Protocol::first_difference(a, b), "resources.held_fds");
  b = a;
  b.res.phase = Phase::Listening;
  EXPECT_STREQ(Protocol::first_difference(a, b), "resources.phase");
  EXPECT_EQ(Protocol::op_name(send(28)), "POSTCOPY_ADVISE");
  EXPECT_EQ(Protocol::op_name(send(99)), "REQ_99");
  EXPECT_EQ(Protocol::header("spec"), "# lockstep vhost  profile=spec");
}

TEST(VhostOutcome, NormaliseKeepsTheRelationsAndTheOffsetBits) {
  auto table = regions(2);
  table[1].mmap_offset = 0x10;
  table[0].userspace_addr = 0x7f1234500000;
  table[1].userspace_addr = 0x7f1234600010;  // base 0x7f1234600000, past region 0's mapping
  Reply r{uapi::kSetMemTable, uapi::kReplyFlags, 72, mem_table_payload(table), {}};
  normalise(r);
  table[0].userspace_addr = uapi::kNormalisedAddr;
  table[1].userspace_addr = uapi::kNormalisedAddr + 0x10;
  EXPECT_EQ(r.payload, mem_table_payload(table));
  EXPECT_EQ(to_string(r),
            "SET_MEM_TABLE size=72 regions=0x0:0x100000:mapped:0x0/"
            "0x100000:0x100000:mapped+0x10:0x10");
  Reply other{uapi::kGetFeatures, uapi::kReplyFlags, 8, u64_payload(0x7f12345000), {}};
  Reply copy = other;
  normalise(other);
  EXPECT_EQ(other, copy);
}

// The negative side: addresses that break X7 must not normalise to what the model gives.
TEST(VhostOutcome, NormaliseExposesAddressesThatBreakTheRelations) {
  auto normalised = [](std::vector<uapi::MemoryRegion> table) {
    Reply r{uapi::kSetMemTable, uapi::kReplyFlags, 0, mem_table_payload(table), {}};
    normalise(r);
    return *parse_mem_table(r.payload);
  };
  auto table = regions(2);
  table[0].userspace_addr = 0x7f1234500100;  // the offset is 0: not base + offset
  table[1].userspace_addr = 0x7f1234700000;
  auto out = normalised(table);
  EXPECT_EQ(out[0].userspace_addr, uapi::kMisalignedAddr + 0x100);
  EXPECT_EQ(out[1].userspace_addr, uapi::kNormalisedAddr);
  table[1].userspace_addr = 0x7f1234580000;  // inside region 0's mapping
  table[0].userspace_addr = 0x7f1234500000;
  out = normalised(table);
  EXPECT_EQ(out[0].userspace_addr, uapi::kOverlappingAddr);
  EXPECT_EQ(out[1].userspace_addr, uapi::kOverlappingAddr);
  table[1].userspace_addr = table[0].userspace_addr;  // one mapping for both regions
  out = normalised(table);
  EXPECT_EQ(out[0].userspace_addr, uapi::kOverlappingAddr);
  Reply r{uapi::kSetMemTable, uapi::kReplyFlags, 72, mem_table_payload(table), {}};
  normalise(r);
  EXPECT_NE(to_string(r).find("overlapping"), std::string::npos) << to_string(r);
  table[0].userspace_addr = 0;  // kept: zero is a divergence of its own
  EXPECT_EQ(normalised(table)[0].userspace_addr, 0u);
}

TEST(VhostOutcome, Texts) {
  Outcome o;
  EXPECT_EQ(reply_text(o), "= none");
  o.replies.push_back({uapi::kPostcopyAdvise, uapi::kReplyFlags, 0, {}, {FdKind::Uffd}});
  EXPECT_EQ(reply_text(o), "= POSTCOPY_ADVISE size=0 fds=uffd");
  o.replies.push_back({uapi::kSetOwner, uapi::kReplyFlags, 8, u64_payload(1), {}});
  o.closed = true;
  EXPECT_EQ(reply_text(o), "= POSTCOPY_ADVISE size=0 fds=uffd; SET_OWNER size=8 u64=1 closed");
  o.res = {1, 2, 2, 3, Phase::Registered};
  EXPECT_EQ(to_string(o), reply_text(o) + "  [uffds=1 mapped=2 registered=2 held=3 registered]");
}

TEST(VhostOutcome, CheckNotes) {
  Trace t = parse_text(
      "# lockstep vhost  profile=spec\n"
      "send(GET_QUEUE_NUM, flags=0x1)   # = GET_QUEUE_NUM size=8 u64=2 -- one pair\n"
      "send(SET_OWNER, flags=0x1)       # = SET_OWNER size=8 u64=0\n"
      "send(SET_OWNER, flags=0x1)       # free text is not checked\n");
  Outcome q, none;
  q.replies.push_back({uapi::kGetQueueNum, uapi::kReplyFlags, 8, u64_payload(2), {}});
  auto errors = check_notes(t, {q, none, none});
  ASSERT_EQ(errors.size(), 1u);
  // the line in the file, not the op index (op 2 is on line 3)
  EXPECT_NE(errors[0].find("line 3"), std::string::npos);
}

// ---- the committed corpus ---------------------------------------------------------------------

// Every readable program under corpus/programs/vhost_postcopy/ is canonical (print(parse(f)) ==
// f), and each one whose profile has a fuzz-input encoding has its binary twin
// corpus/vhost_postcopy/<stem>.bin == encode_input(parse(f)) (what `lockstep corpus build`
// writes). LOCKSTEP_WRITE_CORPUS=1 (re)writes the twins instead of checking them.
TEST(VhostCorpus, ProgramsAreCanonicalAndTwinsCurrent) {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(LOCKSTEP_SOURCE_DIR) / "corpus";
  const bool write = std::getenv("LOCKSTEP_WRITE_CORPUS") != nullptr;
  size_t programs = 0, twins = 0;
  for (const auto& [path, text] : read_programs(root / "programs/vhost_postcopy")) {
    ++programs;
    Trace trace = parse_text(text);
    EXPECT_EQ(print_text(trace), text) << path << " is not canonical";
    std::vector<uint8_t> bytes;
    try {
      bytes = encode_input(trace);
    } catch (const std::invalid_argument&) {
      continue;  // a peer profile's program: text only
    }
    ++twins;
    const fs::path twin = root / "vhost_postcopy" / (path.stem().string() + ".bin");
    if (write) {
      fs::create_directories(twin.parent_path());
      std::ofstream(twin, std::ios::binary)
          .write(reinterpret_cast<const char*>(bytes.data()),
                 static_cast<std::streamsize>(bytes.size()));
    }
    std::ifstream in(twin, std::ios::binary);
    std::vector<uint8_t> existing((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(existing, bytes) << twin << " is missing or stale (LOCKSTEP_WRITE_CORPUS=1)";
    EXPECT_EQ(decode_input(existing).ops, trace.ops) << twin;
  }
  EXPECT_GE(programs, 12u);
  EXPECT_GE(twins, 8u);
}

// The opcode byte of each op is a fixed number (committed corpus files depend on it), not the
// op's position in the Op variant.
TEST(VhostCodec, OpcodesAreFixedNumbers) {
  EXPECT_EQ(static_cast<uint8_t>(opcode_of(send(uapi::kGetFeatures))), 0);
  EXPECT_EQ(static_cast<uint8_t>(opcode_of(RawBytes{})), 11);
  EXPECT_EQ(static_cast<uint8_t>(opcode_of(Disconnect{})), 13);
  EXPECT_EQ(static_cast<uint8_t>(opcode_of(Connect{})), 14);
  EXPECT_EQ(static_cast<uint8_t>(opcode_of(FailNext{})), 15);
  auto first_op = [](uint8_t code) {
    return decode_input(std::vector<uint8_t>{0, code}).ops.at(0).index();
  };
  for (uint8_t code = 0; code < 2 * kOpCodeModulus; ++code) {
    const uint8_t c = code % kOpCodeModulus;
    const Op expected = c <= 10   ? Op{Send{}}
                        : c <= 12 ? Op{RawBytes{}}
                        : c == 13 ? Op{Disconnect{}}
                        : c == 14 ? Op{Connect{}}
                                  : Op{FailNext{}};
    EXPECT_EQ(first_op(code), expected.index()) << "opcode " << int{code};
  }
}

// The parser is strict and speaks in file positions (LINE in the file, COL of the argument).
TEST(VhostCodec, MalformedProgramsAreRefusedAtTheirPosition) {
  const std::string head = "# a comment first\n# lockstep vhost  profile=spec\n\n";
  const ParseErrorCases cases = {
      {"send(GET_FEATURES, flags=-1)\n", "4:20: flags=-1: a negative value"},
      {"send(GET_FEATURES, flags=0x100000000)\n", "4:20: flags=0x100000000: out of range"},
      {"send(GET_FEATURES, flag=1)\n", "4:20: send: unknown argument 'flag'"},
      {"send(GET_FEATURES, flags=1, flags=9)\n", "4:29: send: repeated argument 'flags'"},
      {"send(GET_FEATURES, u64=-2)\n", "4:20: u64=-2: a negative value"},
      {"send(SET_VRING_NUM, ring=1, num=-3)\n", "4:29: num=-3: a negative value"},
      {"send(SET_MEM_TABLE, region=0:-1:0:0)\n", "4:21: a negative number"},
      {"send(NOT_A_REQUEST)\n", "4:6: not a number"},
      {"send(GET_FEATURES, fd=pipe)\n", "4:20: fd= must be eventfd"},
      {"send(GET_FEATURES, payload=abc)\n", "4:20: odd number of hex digits"},
      {"send(flags=1)\n", "4:1: send: the first argument is the request"},
      {"raw(zz)\n", "4:5: not a hex byte string"},
      {"connect(1)\n", "4:9: connect: too many arguments"},
      {"fail_next()\n", "4:1: fail_next: expected 1 argument"},
      {"fail_next(site=mmap)\n", "4:11: fail_next: unknown argument 'site'"},
      {"fail_next(disk)\n", "4:11: fail_next site must be"},
      {"listen()\n", "4:1: unknown call 'listen'"},
      {"x = connect()\n", "4:1: vhost calls name no results"},
  };
  expect_parse_errors([](const std::string& text) { return parse_text(text); }, head, cases);
}

}  // namespace
}  // namespace lockstep::vhost

namespace lockstep::vhost {
namespace {

// fail_next names a site and optionally an errno of its sites.def row (F1); the default is
// the row's first, printed without it.
TEST(VhostCodec, FailNextCarriesItsErrno) {
  const std::string text =
      "# lockstep vhost  profile=spec\nfail_next(mmap)\nfail_next(mmap, EACCES)\n"
      "fail_next(recvmsg, EAGAIN)\n";
  const Trace t = parse_text(text);
  ASSERT_EQ(t.ops.size(), 3u);
  EXPECT_EQ(std::get<FailNext>(t.ops[0]), (FailNext{Site::Mmap, ENOMEM}));
  EXPECT_EQ(std::get<FailNext>(t.ops[1]), (FailNext{Site::Mmap, EACCES}));
  EXPECT_EQ(std::get<FailNext>(t.ops[2]), (FailNext{Site::Recvmsg, EAGAIN}));
  EXPECT_EQ(print_text(t), text);
  EXPECT_EQ(decode_input(encode_input(t)).ops, t.ops);  // legacy v2 keeps the errno
  EXPECT_THROW(parse_text("# lockstep vhost\nfail_next(mmap, EINTR)\n"), ParseError);
  EXPECT_THROW(parse_text("# lockstep vhost\nfail_next(mmap, ENOMEM, 1)\n"), ParseError);
}

// A v1 input (byte 0 < kLegacyV2Options) reads a FailNext as one byte, with the site's first
// errno: committed v1 inputs keep their meaning.
TEST(VhostCodec, LegacyV1FailNextKeepsItsMeaning) {
  const uint8_t v1[] = {0, static_cast<uint8_t>(OpCode::FailNext), 3,
                        static_cast<uint8_t>(OpCode::Disconnect)};
  const Trace t = decode_input(v1);
  ASSERT_EQ(t.ops.size(), 2u);
  EXPECT_EQ(std::get<FailNext>(t.ops[0]), (FailNext{Site::Mmap, ENOMEM}));
  EXPECT_TRUE(std::holds_alternative<Disconnect>(t.ops[1]));
  EXPECT_EQ(encode_input(t)[0], kLegacyV2Options);
}

}  // namespace
}  // namespace lockstep::vhost
