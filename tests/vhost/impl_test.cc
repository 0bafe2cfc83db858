// The real vhost-user back-end (impl/vhost/backend.h), driven by the real front-end library
// (impl/vhost/frontend.h) over a socketpair in this process: one group of tests per rule of
// docs/vhost-backend-rules.md. Fds are real (userfaultfd, memfd, eventfd, SCM_RIGHTS) and leaks
// are measured with the process's fd set (lockstep::FdSet), not assumed. The last tests run
// ImplTarget (the run() adapter) and the lockstep-vhost-backend daemon.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/fd_oracle.h"
#include "core/vhost/ops.h"
#include "core/vhost/uapi.h"
#include "impl/vhost/backend.h"
#include "impl/vhost/frontend.h"
#include "impl/vhost/target.h"
#include "impl/vhost/wire.h"

namespace lockstep::vhost {
namespace {

using namespace wire;  // this test never sees model/vhost's Message

using uapi::bit;
constexpr uint32_t V = uapi::kVersion;                      // flags 0x1
constexpr uint32_t NR = uapi::kVersion | uapi::kNeedReply;  // flags 0x9
constexpr uint64_t kPagefault = bit(uapi::kPfPagefault) | bit(uapi::kPfReplyAck);
const FdSpec kEventfd{FdKind::Eventfd, 0};
FdSpec memfd(uint64_t size = 0x100000) {
  return {FdKind::Memfd, size};
}

int open_fds() {
  return static_cast<int>(FdSet::current().size());
}

// One front-end and one back-end on the two ends of a socketpair.
struct Conn {
  Frontend fe;
  std::unique_ptr<Backend> be;

  explicit Conn(BackendOptions options = {}) {
    auto [front, back] = stream_socketpair();
    fe = Frontend(std::move(front));
    be = std::make_unique<Backend>(std::move(back), options);
  }
  // Runs the back-end, then collects every reply it sent.
  std::vector<Frontend::Reply> run(bool keep_fds = false) {
    be->handle_readable();
    std::vector<Frontend::Reply> out;
    Frontend::Reply r;
    while (fe.recv(r, 0, keep_fds) == Frontend::Recv::kReply) out.push_back(std::move(r));
    return out;
  }
  std::vector<Frontend::Reply> send(uint32_t request, uint32_t flags = V,
                                    std::vector<uint8_t> payload = {}, std::vector<FdSpec> fds = {},
                                    bool keep_fds = false) {
    EXPECT_EQ(fe.send(request, flags, payload, fds), 0);
    return run(keep_fds);
  }
  std::vector<Frontend::Reply> send_u64(uint32_t request, uint64_t v, uint32_t flags = V) {
    return send(request, flags, u64_payload(v));
  }
  void negotiate_pagefault() {
    ASSERT_TRUE(send_u64(uapi::kSetProtocolFeatures, kPagefault).empty());
  }
  // ADVISE; returns the uffd the front-end received (kept open only if asked).
  UniqueFd advise(bool keep = false) {
    auto replies = send(uapi::kPostcopyAdvise, V, {}, {}, keep);
    EXPECT_EQ(replies.size(), 1u);
    if (replies.size() != 1 || replies[0].fds.size() != 1) return UniqueFd();
    return std::move(replies[0].fds[0].fd);
  }
  Backend::Stats stats() const { return be->stats(); }
};

// Exactly one reply, a u64, with the request's id and flags 0x5 (rule W8).
uint64_t only_u64(const std::vector<Frontend::Reply>& replies, uint32_t request) {
  EXPECT_EQ(replies.size(), 1u);
  if (replies.size() != 1) return ~uint64_t{0};
  EXPECT_EQ(replies[0].hdr.request, request);
  EXPECT_EQ(replies[0].hdr.flags, uapi::kReplyFlags);
  EXPECT_TRUE(replies[0].fds.empty());
  return replies[0].u64().value_or(~uint64_t{0});
}

// ---- wire: W1-W5, W8 -------------------------------------------------------------------------

TEST(VhostWire, PartialHeaderAndPayloadAreBuffered) {  // W4
  Conn c;
  const std::vector<uint8_t> bytes = frame({uapi::kGetFeatures, V, 0}, {});
  ASSERT_EQ(c.fe.send_raw(std::span(bytes).first(5)), 0);
  EXPECT_TRUE(c.run().empty());
  EXPECT_TRUE(c.be->connected());
  ASSERT_EQ(c.fe.send_raw(std::span(bytes).subspan(5)), 0);
  EXPECT_EQ(only_u64(c.run(), uapi::kGetFeatures), uapi::kOfferedFeatures);
}

TEST(VhostWire, FdsOfAnIncompleteMessageAreHeldUntilItCompletes) {  // X2
  Conn c;
  const std::vector<uint8_t> bytes = frame({uapi::kSetVringCall, V, 8}, u64_payload(0));
  ASSERT_EQ(c.fe.send_raw(std::span(bytes).first(15), std::vector{kEventfd}), 0);
  EXPECT_TRUE(c.run().empty());
  EXPECT_EQ(c.stats().held_fds, 1);
  ASSERT_EQ(c.fe.send_raw(std::span(bytes).subspan(15)), 0);
  EXPECT_TRUE(c.run().empty());
  EXPECT_EQ(c.stats().held_fds, 1);  // now the call fd of ring 0
  EXPECT_TRUE(c.be->connected());
}

TEST(VhostWire, TwoFramesInOneWriteGetTwoReplies) {
  Conn c;
  std::vector<uint8_t> bytes = frame({uapi::kGetFeatures, V, 0}, {});
  const std::vector<uint8_t> second = frame({uapi::kGetQueueNum, V, 0}, {});
  bytes.insert(bytes.end(), second.begin(), second.end());
  ASSERT_EQ(c.fe.send_raw(bytes), 0);
  auto replies = c.run();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].hdr.request, uapi::kGetFeatures);
  EXPECT_EQ(replies[1].u64(), uapi::kQueueNum);
}

TEST(VhostWire, BadFlagsCloseTheConnection) {  // W2
  for (uint32_t flags : {0x0u, 0x2u, 0x3u, 0x5u, 0x11u, 0x80000001u}) {
    Conn c;
    EXPECT_TRUE(c.send(uapi::kGetFeatures, flags).empty()) << flags;
    EXPECT_FALSE(c.be->connected()) << flags;
  }
  Conn ok;
  EXPECT_EQ(only_u64(ok.send(uapi::kGetFeatures, NR), uapi::kGetFeatures), uapi::kOfferedFeatures);
}

TEST(VhostWire, OversizeClosesAtTheHeader) {  // W3, X1: closed before any payload byte
  Conn c;
  ASSERT_EQ(c.fe.send_raw(frame({uapi::kGetFeatures, V, uapi::kMaxPayload + 1}, {})), 0);
  EXPECT_TRUE(c.run().empty());
  EXPECT_FALSE(c.be->connected());
  Conn max;  // 4096 is a size W3 accepts: W7 then refuses GET_FEATURES with a payload (E1)
  const std::vector<uint8_t> payload(uapi::kMaxPayload);
  EXPECT_EQ(only_u64(max.send(uapi::kGetFeatures, NR, payload), uapi::kGetFeatures), 1u);
  EXPECT_TRUE(max.be->connected());
}

TEST(VhostWire, CtruncClosesEveryFdThatArrivedAndTheConnection) {  // W5
  const int before = open_fds();
  {
    Conn c;
    std::vector<UniqueFd> fds;
    std::vector<int> raw;
    for (int i = 0; i < 12; ++i) {
      fds.push_back(make_fd(kEventfd));
      raw.push_back(fds.back().get());
    }
    ASSERT_EQ(c.fe.send_raw_fds(frame({uapi::kSetOwner, NR, 0}, {}), raw), 0);
    EXPECT_TRUE(c.run().empty());
    EXPECT_FALSE(c.be->connected());
    EXPECT_EQ(c.stats().held_fds, 0);
    fds.clear();
    EXPECT_EQ(open_fds(), before);  // the front-end saw EOF and closed its end too
  }
  EXPECT_EQ(open_fds(), before);
}

TEST(VhostWire, MoreThanEightFdsAcrossOneMessageClose) {  // W5, X2
  const int before = open_fds();
  {
    Conn c;
    const std::vector<uint8_t> bytes = frame({uapi::kSetVringCall, V, 8}, u64_payload(0));
    const std::vector<FdSpec> five(5, kEventfd);
    ASSERT_EQ(c.fe.send_raw(std::span(bytes).first(12), five), 0);
    EXPECT_TRUE(c.run().empty());
    EXPECT_EQ(c.stats().held_fds, 5);
    ASSERT_EQ(c.fe.send_raw(std::span(bytes).subspan(12), five), 0);
    EXPECT_TRUE(c.run().empty());
    EXPECT_FALSE(c.be->connected());
  }
  EXPECT_EQ(open_fds(), before);
}

TEST(VhostWire, ReaderReportsEachFailure) {
  auto check = [](const Header& h) { return h.flags == V; };
  {
    auto [a, b] = stream_socketpair();
    ASSERT_EQ(send_all(a.get(), frame({1, 2, 0}, {}), {}), 0);
    MessageReader r(uapi::kMaxPayload, +check);
    Message m;
    EXPECT_EQ(r.read(b.get(), m), MessageReader::Status::kBadHeader);
  }
  {
    auto [a, b] = stream_socketpair();
    ASSERT_EQ(send_all(a.get(), frame({1, V, 17}, {}), {}), 0);
    MessageReader r(16);
    Message m;
    EXPECT_EQ(r.read(b.get(), m), MessageReader::Status::kOversize);
  }
  {
    auto [a, b] = stream_socketpair();
    MessageReader r;
    Message m;
    EXPECT_EQ(r.read(b.get(), m), MessageReader::Status::kWouldBlock);
    a.reset();
    EXPECT_EQ(r.read(b.get(), m), MessageReader::Status::kClosed);
  }
}

TEST(VhostWire, EveryReplyHasFlags0x5AndTheRequestId) {  // W8
  Conn c;
  for (uint32_t req :
       {uapi::kGetFeatures, uapi::kGetProtocolFeatures, uapi::kGetQueueNum, uapi::kGetStatus}) {
    auto replies = c.send(req, NR);
    ASSERT_EQ(replies.size(), 1u);
    EXPECT_EQ(replies[0].hdr.flags, 0x5u);
    EXPECT_EQ(replies[0].hdr.request, req);
  }
}

// ---- replies and errors: R1, R2, E1, E2, W6, W7 ----------------------------------------------

TEST(VhostReplies, NeedReplyAddsNoSecondAckToAnExplicitReply) {  // R1
  Conn c;
  EXPECT_EQ(only_u64(c.send(uapi::kGetFeatures, NR), uapi::kGetFeatures), uapi::kOfferedFeatures);
}

TEST(VhostReplies, NeedReplyAcksSuccessWithZero) {  // R2
  Conn c;
  EXPECT_TRUE(c.send(uapi::kSetOwner).empty());
  EXPECT_EQ(only_u64(c.send(uapi::kSetOwner, NR), uapi::kSetOwner), 0u);
}

TEST(VhostReplies, RefusalAcksOneOrCloses) {  // E1, E2
  Conn c;
  EXPECT_EQ(only_u64(c.send(99, NR), 99), 1u);
  EXPECT_EQ(only_u64(c.send(uapi::kAddMemReg, NR), uapi::kAddMemReg), 1u);
  EXPECT_TRUE(c.be->connected());
  EXPECT_TRUE(c.send(99).empty());
  EXPECT_FALSE(c.be->connected());
}

TEST(VhostReplies, FdsOnRequestsThatTakeNoneAreClosed) {  // W6, P8
  const int before = open_fds();
  {
    Conn c;
    c.negotiate_pagefault();
    const std::vector<FdSpec> two{kEventfd, kEventfd};
    for (uint32_t req : {uapi::kSetOwner, uapi::kGetFeatures, uapi::kPostcopyAdvise,
                         uapi::kPostcopyListen, uapi::kPostcopyEnd}) {
      EXPECT_EQ(only_u64(c.send(req, NR, {}, two), req), 1u) << req;
      EXPECT_EQ(c.stats().held_fds, 0) << req;
      EXPECT_EQ(c.stats().uffds, 0) << req;
    }
    EXPECT_EQ(open_fds(), before + 2);  // the two socket ends
  }
  EXPECT_EQ(open_fds(), before);
}

TEST(VhostReplies, PayloadSizesAreChecked) {  // W7, X5
  Conn c;
  EXPECT_EQ(only_u64(c.send(uapi::kSetFeatures, NR, {1, 2, 3, 4}), uapi::kSetFeatures), 1u);
  EXPECT_EQ(
      only_u64(c.send(uapi::kSetVringAddr, NR, std::vector<uint8_t>(39)), uapi::kSetVringAddr), 1u);
  EXPECT_EQ(only_u64(c.send(uapi::kGetQueueNum, NR, u64_payload(0)), uapi::kGetQueueNum), 1u);
  // A memory table whose size disagrees with nregions, with its fd: refused, fd closed.
  std::vector<uint8_t> table = mem_table_payload(regions(1));
  table.push_back(0);
  EXPECT_EQ(only_u64(c.send(uapi::kSetMemTable, NR, table, {memfd()}), uapi::kSetMemTable), 1u);
  EXPECT_EQ(c.stats().held_fds, 0);
}

// ---- negotiation: N1-N4 ----------------------------------------------------------------------

TEST(VhostNegotiation, OfferedValues) {  // N1, N3
  Conn c;
  EXPECT_EQ(only_u64(c.send(uapi::kGetFeatures), uapi::kGetFeatures), uapi::kOfferedFeatures);
  EXPECT_EQ(only_u64(c.send(uapi::kGetProtocolFeatures), uapi::kGetProtocolFeatures),
            uapi::kOfferedProtocolFeatures);
  EXPECT_EQ(only_u64(c.send(uapi::kGetQueueNum), uapi::kGetQueueNum), uapi::kQueueNum);
  EXPECT_TRUE(uapi::kOfferedFeatures & bit(uapi::kFProtocolFeatures));
  EXPECT_TRUE(uapi::kOfferedFeatures & bit(uapi::kFLogAll));
  EXPECT_TRUE(uapi::kOfferedProtocolFeatures & bit(uapi::kPfPagefault));
  EXPECT_TRUE(uapi::kOfferedProtocolFeatures & bit(uapi::kPfLogShmfd));
}

TEST(VhostNegotiation, UnofferedBitsAreRefused) {  // N2, N3
  Conn c;
  EXPECT_EQ(only_u64(c.send_u64(uapi::kSetFeatures, bit(63), NR), uapi::kSetFeatures), 1u);
  EXPECT_EQ(
      only_u64(c.send_u64(uapi::kSetFeatures, uapi::kOfferedFeatures, NR), uapi::kSetFeatures), 0u);
  EXPECT_EQ(
      only_u64(c.send_u64(uapi::kSetProtocolFeatures, bit(63), NR), uapi::kSetProtocolFeatures),
      1u);
  EXPECT_EQ(c.be->acked_protocol_features(), 0u);
  EXPECT_TRUE(c.send_u64(uapi::kSetProtocolFeatures, bit(63)).empty());
  EXPECT_FALSE(c.be->connected());
}

TEST(VhostNegotiation, ResetOwnerReleasesTheWholeSession) {  // N4, X9
  const int before = open_fds();
  {
    Conn c;
    c.negotiate_pagefault();
    c.advise();
    ASSERT_TRUE(
        c.send(uapi::kSetMemTable, V, mem_table_payload(regions(2)), {memfd(), memfd()}).empty());
    ASSERT_TRUE(c.send(uapi::kSetVringKick, V, u64_payload(1), {kEventfd}).empty());
    ASSERT_TRUE(c.send(uapi::kSetLogBase, V, log_payload(0x1000, 0), {memfd()}).size() == 1);
    EXPECT_EQ(c.stats().held_fds, 5);
    EXPECT_EQ(only_u64(c.send(uapi::kResetOwner, NR), uapi::kResetOwner), 0u);
    const Backend::Stats s = c.stats();
    EXPECT_EQ(s.held_fds, 0);
    EXPECT_EQ(s.uffds, 0);
    EXPECT_EQ(s.regions_mapped, 0);
    EXPECT_EQ(s.phase, Phase::None);
    EXPECT_EQ(c.be->acked_protocol_features(), 0u);
    EXPECT_TRUE(c.be->connected());
    EXPECT_EQ(open_fds(), before + 2);
  }
  EXPECT_EQ(open_fds(), before);
}

// ---- device-independent messages ---------------------------------------------------------------

TEST(VhostRings, RingFdsAreHeldAndReplaced) {  // X3
  const int before = open_fds();
  Conn c;
  for (uint32_t req : {uapi::kSetVringKick, uapi::kSetVringCall, uapi::kSetVringErr}) {
    EXPECT_TRUE(c.send(req, V, u64_payload(1), {kEventfd}).empty());
    EXPECT_TRUE(c.send(req, V, u64_payload(1), {kEventfd}).empty());  // replaces: still one
  }
  EXPECT_EQ(c.stats().held_fds, 3);
  EXPECT_EQ(open_fds(), before + 2 + 3);
  EXPECT_TRUE(c.send(uapi::kSetVringCall, V, u64_payload(1 | uapi::kVringNofdMask)).empty());
  EXPECT_EQ(c.stats().held_fds, 2);
  // Out-of-range index, or NOFD with an fd attached: refused.
  EXPECT_EQ(only_u64(c.send(uapi::kSetVringCall, NR, u64_payload(uapi::kRingCount), {kEventfd}),
                     uapi::kSetVringCall),
            1u);
  EXPECT_EQ(only_u64(c.send(uapi::kSetVringCall, NR, u64_payload(uapi::kVringNofdMask), {kEventfd}),
                     uapi::kSetVringCall),
            1u);
  EXPECT_EQ(c.stats().held_fds, 2);
  EXPECT_EQ(open_fds(), before + 2 + 2);
}

TEST(VhostRings, VringBaseRoundTrips) {
  Conn c;
  EXPECT_TRUE(c.send(uapi::kSetVringBase, V, vring_state_payload(1, 42)).empty());
  auto replies = c.send(uapi::kGetVringBase, V, vring_state_payload(1, 0));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].payload, vring_state_payload(1, 42));
  EXPECT_EQ(only_u64(c.send(uapi::kSetVringNum, NR, vring_state_payload(uapi::kRingCount, 1)),
                     uapi::kSetVringNum),
            1u);
  EXPECT_EQ(
      only_u64(c.send(uapi::kSetVringEnable, NR, vring_state_payload(0, 1)), uapi::kSetVringEnable),
      0u);
}

TEST(VhostMessages, LogBackendReqAndStatus) {  // X10
  Conn c;
  EXPECT_EQ(
      only_u64(c.send(uapi::kSetLogBase, V, log_payload(0x1000, 0), {memfd()}), uapi::kSetLogBase),
      0u);
  EXPECT_TRUE(c.send(uapi::kSetLogFd, V, {}, {kEventfd}).empty());
  EXPECT_TRUE(c.send(uapi::kSetBackendReqFd, V, {}, {FdSpec{FdKind::Other, 0}}).empty());
  EXPECT_EQ(c.stats().held_fds, 3);
  EXPECT_TRUE(c.send_u64(uapi::kSetStatus, 0xf).empty());
  EXPECT_EQ(only_u64(c.send(uapi::kGetStatus), uapi::kGetStatus), 0xfu);
  EXPECT_TRUE(c.send_u64(uapi::kSendRarp, 0x123456).empty());
}

TEST(VhostMemTable, MapsRegionsAndReplacesTheOldOnes) {  // X6
  const int before = open_fds();
  Conn c;
  ASSERT_TRUE(
      c.send(uapi::kSetMemTable, V, mem_table_payload(regions(3)), {memfd(), memfd(), memfd()})
          .empty());
  EXPECT_EQ(c.stats().regions_mapped, 3);
  EXPECT_EQ(c.stats().held_fds, 3);
  ASSERT_TRUE(c.send(uapi::kSetMemTable, V, mem_table_payload(regions(1)), {memfd()}).empty());
  EXPECT_EQ(c.stats().regions_mapped, 1);
  EXPECT_EQ(open_fds(), before + 2 + 1);
}

TEST(VhostMemTable, UnmappableOrOversizedRegionsAreRefusedWithNothingKept) {  // X6
  const int before = open_fds();
  Conn c;
  ASSERT_TRUE(c.send(uapi::kSetMemTable, V, mem_table_payload(regions(1)), {memfd()}).empty());
  const std::vector<std::vector<FdSpec>> bad_fds{{memfd(), kEventfd},
                                                 {memfd(), FdSpec{FdKind::File, 0}}};
  for (const auto& fds : bad_fds) {
    EXPECT_EQ(only_u64(c.send(uapi::kSetMemTable, NR, mem_table_payload(regions(2)), fds),
                       uapi::kSetMemTable),
              1u);
    EXPECT_EQ(c.stats().regions_mapped, 1);  // E1: the old table stays
  }
  auto huge = regions(1);
  huge[0].memory_size = (uint64_t{1} << 40);
  huge[0].mmap_offset = 1;
  EXPECT_EQ(only_u64(c.send(uapi::kSetMemTable, NR, mem_table_payload(huge), {memfd()}),
                     uapi::kSetMemTable),
            1u);
  auto empty = regions(1, 0);
  EXPECT_EQ(only_u64(c.send(uapi::kSetMemTable, NR, mem_table_payload(empty), {memfd()}),
                     uapi::kSetMemTable),
            1u);
  EXPECT_EQ(c.stats().held_fds, 1);
  EXPECT_EQ(open_fds(), before + 2 + 1);
}

// ---- postcopy: P1-P8 -------------------------------------------------------------------------

TEST(VhostPostcopy, AdviseNeedsPagefault) {  // P1
  Conn c;
  EXPECT_EQ(only_u64(c.send(uapi::kPostcopyAdvise, NR), uapi::kPostcopyAdvise), 1u);
  EXPECT_EQ(c.stats().uffds, 0);
  EXPECT_TRUE(c.send(uapi::kPostcopyAdvise).empty());
  EXPECT_FALSE(c.be->connected());
}

TEST(VhostPostcopy, AdviseReturnsOneRealUserfaultfd) {  // P4
  const int before = open_fds();
  {
    Conn c;
    c.negotiate_pagefault();
    auto replies = c.send(uapi::kPostcopyAdvise, V, {}, {}, /*keep_fds=*/true);
    ASSERT_EQ(replies.size(), 1u);
    const Frontend::Reply& r = replies[0];
    EXPECT_EQ(r.hdr.request, uapi::kPostcopyAdvise);
    EXPECT_EQ(r.hdr.flags, uapi::kReplyFlags);
    EXPECT_EQ(r.hdr.size, 0u);
    ASSERT_EQ(r.fds.size(), 1u);
    EXPECT_EQ(r.fds[0].kind, FdKind::Uffd);
    EXPECT_EQ(r.fds[0].target, "anon_inode:[userfaultfd]");
    EXPECT_EQ(describe_fd(r.fds[0].fd.get()), "anon_inode:[userfaultfd]");
    // It is the back-end's uffd: UFFDIO_API was done (a second one fails with EINVAL).
    uffdio_api api{UFFD_API, 0, 0};
    EXPECT_EQ(::ioctl(r.fds[0].fd.get(), UFFDIO_API, &api), -1);
    EXPECT_EQ(errno, EINVAL);
    const Backend::Stats s = c.stats();
    EXPECT_EQ(s.uffds, 1);
    EXPECT_EQ(s.held_fds, 1);
    EXPECT_EQ(s.phase, Phase::Advised);
    EXPECT_EQ(open_fds(), before + 2 + 1 + 1);  // sockets, the back-end's uffd, our copy
  }
  EXPECT_EQ(open_fds(), before);
}

TEST(VhostPostcopy, AdviseWithNeedReplyGetsOneReply) {  // R1
  Conn c;
  c.negotiate_pagefault();
  auto replies = c.send(uapi::kPostcopyAdvise, NR);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].fds.size(), 1u);
}

TEST(VhostPostcopy, SecondAdviseIsRefused) {  // P2
  Conn c;
  c.negotiate_pagefault();
  c.advise();
  EXPECT_EQ(only_u64(c.send(uapi::kPostcopyAdvise, NR), uapi::kPostcopyAdvise), 1u);
  EXPECT_EQ(c.stats().uffds, 1);
}

TEST(VhostPostcopy, AdvisePayloadMustBeEmpty) {  // P3
  Conn c;
  c.negotiate_pagefault();
  EXPECT_EQ(only_u64(c.send(uapi::kPostcopyAdvise, NR, u64_payload(0)), uapi::kPostcopyAdvise), 1u);
  EXPECT_EQ(c.stats().uffds, 0);
}

TEST(VhostPostcopy, ListenNeedsAUffdAndNoRegions) {  // P5
  Conn c;
  c.negotiate_pagefault();
  EXPECT_EQ(only_u64(c.send(uapi::kPostcopyListen, NR), uapi::kPostcopyListen), 1u);
  c.advise();
  ASSERT_TRUE(c.send(uapi::kSetMemTable, V, mem_table_payload(regions(1)), {memfd()}).empty());
  EXPECT_EQ(only_u64(c.send(uapi::kPostcopyListen, NR), uapi::kPostcopyListen), 1u);
  Conn ok;
  ok.negotiate_pagefault();
  ok.advise();
  EXPECT_EQ(only_u64(ok.send(uapi::kPostcopyListen, NR), uapi::kPostcopyListen), 0u);
  EXPECT_EQ(ok.stats().phase, Phase::Listening);
  EXPECT_TRUE(ok.send(uapi::kPostcopyListen).empty());  // no NEED_REPLY: no reply
}

TEST(VhostPostcopy, EndClosesTheUffdAndRepliesZero) {  // P7
  Conn c;
  c.negotiate_pagefault();
  EXPECT_EQ(only_u64(c.send(uapi::kPostcopyEnd), uapi::kPostcopyEnd), 1u);  // no uffd
  c.advise();
  ASSERT_TRUE(c.send(uapi::kPostcopyListen).empty());
  EXPECT_EQ(only_u64(c.send(uapi::kPostcopyEnd), uapi::kPostcopyEnd), 0u);
  EXPECT_EQ(c.stats().uffds, 0);
  EXPECT_EQ(c.stats().phase, Phase::None);
  EXPECT_EQ(only_u64(c.send(uapi::kPostcopyEnd, NR), uapi::kPostcopyEnd), 1u);
  c.advise();  // a new ADVISE after END works
  EXPECT_EQ(c.stats().uffds, 1);
}

// Advise + listen + postcopy SET_MEM_TABLE: returns the reply to the table.
std::vector<Frontend::Reply> postcopy_table(Conn& c, size_t n, UniqueFd* uffd = nullptr) {
  c.negotiate_pagefault();
  UniqueFd fd = c.advise(uffd != nullptr);
  if (uffd) *uffd = std::move(fd);
  EXPECT_TRUE(c.send(uapi::kPostcopyListen).empty());
  return c.send(uapi::kSetMemTable, V, mem_table_payload(regions(n)),
                std::vector<FdSpec>(n, memfd()));
}

TEST(VhostPostcopy, MemTableReplyCarriesTheBackendsBases) {  // P6, X7
  Conn c;
  auto replies = postcopy_table(c, 2);
  ASSERT_EQ(replies.size(), 1u);
  const Frontend::Reply& r = replies[0];
  EXPECT_EQ(r.hdr.request, uapi::kSetMemTable);
  EXPECT_EQ(r.hdr.flags, uapi::kReplyFlags);
  EXPECT_EQ(r.hdr.size, uapi::mem_table_size(2));
  EXPECT_TRUE(r.fds.empty());
  auto table = parse_mem_table(r.payload);
  ASSERT_TRUE(table);
  const auto sent = regions(2);
  const auto mapped = c.be->regions();
  ASSERT_EQ(mapped.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*table)[i].guest_phys_addr, sent[i].guest_phys_addr);
    EXPECT_EQ((*table)[i].memory_size, sent[i].memory_size);
    EXPECT_EQ((*table)[i].userspace_addr, mapped[i].base);
    EXPECT_NE((*table)[i].userspace_addr, sent[i].userspace_addr);
    EXPECT_FALSE(mapped[i].registered);
  }
  const Backend::Stats s = c.stats();
  EXPECT_EQ(s.phase, Phase::AwaitingAck);
  EXPECT_EQ(s.regions_mapped, 2);
  EXPECT_EQ(s.regions_registered, 0);
  // The ack: no reply, then both regions are registered.
  EXPECT_TRUE(c.send_u64(uapi::kSetMemTable, 0).empty());
  EXPECT_EQ(c.stats().phase, Phase::Registered);
  EXPECT_EQ(c.stats().regions_registered, 2);
  EXPECT_TRUE(c.be->connected());
}

TEST(VhostPostcopy, MemTableReplyWithUnalignedOffset) {  // X7
  Conn c;
  c.negotiate_pagefault();
  c.advise();
  ASSERT_TRUE(c.send(uapi::kPostcopyListen).empty());
  auto table = regions(1);
  table[0].mmap_offset = 0x123;
  auto replies = c.send(uapi::kSetMemTable, V, mem_table_payload(table), {memfd()});
  ASSERT_EQ(replies.size(), 1u);
  auto back = parse_mem_table(replies[0].payload);
  ASSERT_TRUE(back);
  EXPECT_EQ((*back)[0].userspace_addr & 0xfff, 0x123u);
  EXPECT_EQ((*back)[0].userspace_addr, c.be->regions()[0].base);
}

// The registration is real: another uffd cannot register the range (EBUSY), and a touch of the
// page from another thread is a fault event on the uffd the front-end received.
TEST(VhostPostcopy, RegistrationIsRealUserfaultfdRegistration) {  // P6
  Conn c;
  UniqueFd uffd;
  ASSERT_EQ(postcopy_table(c, 1, &uffd).size(), 1u);
  ASSERT_TRUE(uffd);
  ASSERT_TRUE(c.send_u64(uapi::kSetMemTable, 0).empty());
  const auto region = c.be->regions().at(0);
  ASSERT_TRUE(region.registered);

  UniqueFd other(static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK)));
  ASSERT_TRUE(other);
  uffdio_api api{UFFD_API, 0, 0};
  ASSERT_EQ(::ioctl(other.get(), UFFDIO_API, &api), 0);
  uffdio_register reg{};
  reg.range = {region.base, region.map_len};
  reg.mode = UFFDIO_REGISTER_MODE_MISSING;
  EXPECT_EQ(::ioctl(other.get(), UFFDIO_REGISTER, &reg), -1);
  EXPECT_EQ(errno, EBUSY);

  volatile char* page = reinterpret_cast<volatile char*>(region.base + 0x2000);
  char seen = 0;
  std::thread toucher([&] { seen = *page; });
  pollfd p{uffd.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  uffd_msg msg{};
  ASSERT_EQ(::read(uffd.get(), &msg, sizeof msg), static_cast<ssize_t>(sizeof msg));
  EXPECT_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
  EXPECT_EQ(msg.arg.pagefault.address & ~uint64_t{0xfff}, region.base + 0x2000);
  alignas(4096) static char src[4096];
  src[0] = 'x';
  uffdio_copy copy{};
  copy.dst = region.base + 0x2000;
  copy.src = reinterpret_cast<uintptr_t>(src);
  copy.len = 4096;
  EXPECT_EQ(::ioctl(uffd.get(), UFFDIO_COPY, &copy), 0);
  toucher.join();
  EXPECT_EQ(seen, 'x');
}

TEST(VhostPostcopy, AckWithNeedReplyIsAcked) {  // X8
  Conn c;
  ASSERT_EQ(postcopy_table(c, 1).size(), 1u);
  EXPECT_EQ(only_u64(c.send_u64(uapi::kSetMemTable, 0, NR), uapi::kSetMemTable), 0u);
  EXPECT_EQ(c.stats().regions_registered, 1);
}

TEST(VhostPostcopy, AnyOtherMessageInsteadOfTheAckClosesAndReleases) {  // P6, X8
  for (int variant = 0; variant < 4; ++variant) {
    const int before = open_fds();
    {
      Conn c;
      ASSERT_EQ(postcopy_table(c, 2).size(), 1u);
      std::vector<Frontend::Reply> replies;
      if (variant == 0) replies = c.send(uapi::kGetFeatures, NR);
      if (variant == 1) replies = c.send_u64(uapi::kSetMemTable, 1);
      if (variant == 2) replies = c.send(uapi::kSetMemTable, V, u64_payload(0), {kEventfd});
      if (variant == 3) replies = c.send(uapi::kPostcopyEnd, NR);
      EXPECT_TRUE(replies.empty()) << variant;
      EXPECT_FALSE(c.be->connected()) << variant;
      EXPECT_EQ(c.stats().held_fds, 0) << variant;
      EXPECT_EQ(c.stats().regions_mapped, 0) << variant;
    }
    EXPECT_EQ(open_fds(), before) << variant;
  }
}

TEST(VhostPostcopy, EndUnregistersButKeepsTheMappings) {  // P7, X9
  Conn c;
  ASSERT_EQ(postcopy_table(c, 1).size(), 1u);
  ASSERT_TRUE(c.send_u64(uapi::kSetMemTable, 0).empty());
  EXPECT_EQ(only_u64(c.send(uapi::kPostcopyEnd, NR), uapi::kPostcopyEnd), 0u);
  const Backend::Stats s = c.stats();
  EXPECT_EQ(s.uffds, 0);
  EXPECT_EQ(s.regions_mapped, 1);
  EXPECT_EQ(s.regions_registered, 0);
  EXPECT_EQ(s.phase, Phase::None);
  // The range is free again for another uffd.
  const auto region = c.be->regions().at(0);
  UniqueFd other(static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK)));
  uffdio_api api{UFFD_API, 0, 0};
  ASSERT_EQ(::ioctl(other.get(), UFFDIO_API, &api), 0);
  uffdio_register reg{};
  reg.range = {region.base, region.map_len};
  reg.mode = UFFDIO_REGISTER_MODE_MISSING;
  EXPECT_EQ(::ioctl(other.get(), UFFDIO_REGISTER, &reg), 0);
}

// ---- fault injection: F1, X11 ----------------------------------------------------------------

TEST(VhostFaults, UserfaultfdAndUffdioApiGiveAReplyWithoutFd) {  // F1, P4
  for (Site site : {Site::Userfaultfd, Site::UffdioApi}) {
    const int before = open_fds();
    {
      Conn c;
      c.negotiate_pagefault();
      c.be->fail_next(site);
      auto replies = c.send(uapi::kPostcopyAdvise);
      ASSERT_EQ(replies.size(), 1u) << to_string(site);
      EXPECT_EQ(replies[0].hdr.size, 0u);
      EXPECT_TRUE(replies[0].fds.empty());
      EXPECT_EQ(c.stats().uffds, 0);
      EXPECT_TRUE(c.be->connected());
      EXPECT_EQ(open_fds(), before + 2) << to_string(site);  // nothing half-opened is left
      c.advise();                                            // the fault fired only once
      EXPECT_EQ(c.stats().uffds, 1);
    }
    EXPECT_EQ(open_fds(), before);
  }
}

TEST(VhostFaults, MmapRefusesTheTable) {  // F1, X6
  const int before = open_fds();
  Conn c;
  c.be->fail_next(Site::Mmap);
  EXPECT_EQ(only_u64(c.send(uapi::kSetMemTable, NR, mem_table_payload(regions(3)),
                            {memfd(), memfd(), memfd()}),
                     uapi::kSetMemTable),
            1u);
  EXPECT_EQ(c.stats().regions_mapped, 0);
  EXPECT_EQ(open_fds(), before + 2);
}

TEST(VhostFaults, UffdioRegisterFailsTheAck) {  // F1, X8
  for (uint32_t flags : {V, NR}) {
    const int before = open_fds();
    {
      Conn c;
      ASSERT_EQ(postcopy_table(c, 2).size(), 1u);
      c.be->fail_next(Site::UffdioRegister);
      auto replies = c.send_u64(uapi::kSetMemTable, 0, flags);
      EXPECT_EQ(c.stats().regions_mapped, 0);
      EXPECT_EQ(c.stats().uffds, c.be->connected() ? 1 : 0);
      if (flags == NR) {
        EXPECT_EQ(only_u64(replies, uapi::kSetMemTable), 1u);
        EXPECT_EQ(c.stats().phase, Phase::Listening);
      } else {
        EXPECT_TRUE(replies.empty());
        EXPECT_FALSE(c.be->connected());
      }
    }
    EXPECT_EQ(open_fds(), before);
  }
}

TEST(VhostFaults, SendmsgLosesTheReplyAndCloses) {  // F1
  const int before = open_fds();
  {
    Conn c;
    c.negotiate_pagefault();
    c.be->fail_next(Site::Sendmsg);
    EXPECT_TRUE(c.send(uapi::kPostcopyAdvise).empty());
    EXPECT_FALSE(c.be->connected());
    EXPECT_EQ(c.stats().uffds, 0);
  }
  EXPECT_EQ(open_fds(), before);
}

TEST(VhostFaults, ArmedForTheNextMessageOnly) {  // X11
  Conn c;
  c.be->fail_next(Site::Mmap);
  EXPECT_EQ(only_u64(c.send(uapi::kGetFeatures), uapi::kGetFeatures), uapi::kOfferedFeatures);
  EXPECT_TRUE(c.send(uapi::kSetMemTable, V, mem_table_payload(regions(1)), {memfd()}).empty());
  EXPECT_EQ(c.stats().regions_mapped, 1);
  c.be->fail_next(Site::Mmap);
  c.be->fail_next(Site::Sendmsg);  // one slot: replaces Mmap
  EXPECT_TRUE(c.send(uapi::kSetMemTable, V, mem_table_payload(regions(1)), {memfd()}).empty());
  EXPECT_EQ(c.stats().regions_mapped, 1);
  EXPECT_TRUE(c.be->connected());
}

// ---- disconnect: D1 --------------------------------------------------------------------------

TEST(VhostDisconnect, EofReleasesEverything) {  // D1
  const int before = open_fds();
  Conn c;
  ASSERT_EQ(postcopy_table(c, 2).size(), 1u);
  ASSERT_TRUE(c.send_u64(uapi::kSetMemTable, 0).empty());
  ASSERT_TRUE(c.send(uapi::kSetVringCall, V, u64_payload(0), {kEventfd}).empty());
  ASSERT_TRUE(c.send(uapi::kSetLogFd, V, {}, {kEventfd}).empty());
  // A partial message with an fd is pending too.
  const std::vector<uint8_t> bytes = frame({uapi::kSetVringKick, V, 8}, u64_payload(1));
  ASSERT_EQ(c.fe.send_raw(std::span(bytes).first(13), std::vector{kEventfd}), 0);
  c.run();
  EXPECT_EQ(c.stats().held_fds, 1 + 2 + 1 + 1 + 1);
  EXPECT_EQ(open_fds(), before + 2 + 6);
  c.fe.close();
  c.be->handle_readable();
  EXPECT_FALSE(c.be->connected());
  const Backend::Stats s = c.stats();
  EXPECT_EQ(s.held_fds, 0);
  EXPECT_EQ(s.uffds, 0);
  EXPECT_EQ(s.regions_mapped, 0);
  EXPECT_EQ(s.phase, Phase::None);
  EXPECT_EQ(open_fds(), before);
}

// ---- broken variants (negative tests: the checks above can fail) --------------------------------

// Runs `body` on a back-end with the mutant `name`, disconnects, and returns the fds it leaked.
template <class F>
std::vector<UniqueFd> with_mutant(const char* name, F body) {
  auto options = backend_options(name);
  EXPECT_TRUE(options) << name;
  Conn c(options.value_or(BackendOptions{}));
  body(c);
  c.fe.close();
  c.be->handle_readable();
  EXPECT_FALSE(c.be->connected());
  EXPECT_EQ(c.stats().held_fds, 0);
  return c.be->take_leaked();
}

TEST(VhostMutants, EachMutantIsObservable) {
  const int before = open_fds();
  std::vector<UniqueFd> leaked;

  leaked = with_mutant("mutant-end-keeps-uffd", [](Conn& c) {
    c.negotiate_pagefault();
    c.advise();
    EXPECT_EQ(only_u64(c.send(uapi::kPostcopyEnd), uapi::kPostcopyEnd), 0u);
    EXPECT_EQ(c.stats().uffds, 1);  // spec: 0
    EXPECT_EQ(c.stats().phase, Phase::Advised);
    EXPECT_EQ(only_u64(c.send(uapi::kPostcopyAdvise, NR), uapi::kPostcopyAdvise), 1u);  // P2
  });
  EXPECT_EQ(leaked.size(), 0u);

  leaked = with_mutant("mutant-advise-second-uffd", [](Conn& c) {
    c.negotiate_pagefault();
    c.advise();
    auto replies = c.send(uapi::kPostcopyAdvise, NR);  // spec: u64 1 (P2)
    ASSERT_EQ(replies.size(), 1u);
    EXPECT_EQ(replies[0].fds.size(), 1u);
    EXPECT_EQ(c.stats().uffds, 1);
  });
  EXPECT_EQ(leaked.size(), 1u);
  EXPECT_EQ(open_fds(), before + 1);  // the fd oracle sees the first uffd
  EXPECT_EQ(describe_fd(leaked[0].get()), "anon_inode:[userfaultfd]");

  leaked = with_mutant("mutant-advise-keeps-fds", [](Conn& c) {
    c.negotiate_pagefault();
    auto replies = c.send(uapi::kPostcopyAdvise, NR, {}, {kEventfd, kEventfd});  // spec: E1
    ASSERT_EQ(replies.size(), 1u);
    EXPECT_EQ(replies[0].fds.size(), 1u);
  });
  EXPECT_EQ(leaked.size(), 2u);

  leaked = with_mutant("mutant-listen-without-advise", [](Conn& c) {
    EXPECT_EQ(only_u64(c.send(uapi::kPostcopyListen, NR), uapi::kPostcopyListen), 0u);
    EXPECT_EQ(c.stats().phase, Phase::Listening);
    // With no uffd the ack's registration fails: X8 failure path.
    EXPECT_EQ(c.send(uapi::kSetMemTable, V, mem_table_payload(regions(1)), {memfd()}).size(), 1u);
    EXPECT_EQ(only_u64(c.send_u64(uapi::kSetMemTable, 0, NR), uapi::kSetMemTable), 1u);
  });
  EXPECT_EQ(leaked.size(), 0u);

  leaked = with_mutant("mutant-no-ack-check", [](Conn& c) {
    ASSERT_EQ(postcopy_table(c, 1).size(), 1u);
    EXPECT_EQ(only_u64(c.send(uapi::kGetFeatures, NR), uapi::kGetFeatures), 0u);  // spec: close
    EXPECT_EQ(c.stats().regions_registered, 1);
  });
  EXPECT_EQ(leaked.size(), 0u);

  leaked = with_mutant("mutant-disconnect-leaks-uffd", [](Conn& c) {
    c.negotiate_pagefault();
    c.advise();
  });
  EXPECT_EQ(leaked.size(), 1u);
  leaked.clear();
  EXPECT_EQ(open_fds(), before);
}

TEST(VhostMutants, UnknownProfileIsRejected) {
  EXPECT_FALSE(backend_options("dpdk-22.11"));
  EXPECT_FALSE(backend_options("rfc-2018"));
  EXPECT_TRUE(backend_options("mutant:end-keeps-uffd"));  // LOCKSTEP_IMPL_MUTANT spelling
  EXPECT_THROW(ImplTarget("no-such-profile"), std::invalid_argument);
  for (const std::string& p : backend_profiles()) EXPECT_TRUE(backend_options(p)) << p;
}

// ---- ImplTarget (the run() adapter) ------------------------------------------------------------

std::vector<Op> postcopy_trace() {
  return {
      send_u64(uapi::kSetProtocolFeatures, kPagefault),
      send(uapi::kPostcopyAdvise),
      send(uapi::kPostcopyListen, NR),
      set_mem_table(regions(2)),
      mem_table_ack(),
      send(uapi::kPostcopyEnd, NR),
  };
}

TEST(VhostImplTarget, PostcopyTraceOutcomes) {
  const FdSet before = FdSet::current();
  ImplTarget t;
  std::vector<Outcome> out;
  for (const Op& op : postcopy_trace()) out.push_back(t.step(op));
  ASSERT_EQ(out.size(), 6u);
  EXPECT_TRUE(out[0].replies.empty());
  ASSERT_EQ(out[1].replies.size(), 1u);
  EXPECT_EQ(out[1].replies[0].fds, std::vector<FdKind>{FdKind::Uffd});
  EXPECT_EQ(out[1].res.phase, Phase::Advised);
  ASSERT_EQ(out[2].replies.size(), 1u);
  EXPECT_EQ(out[2].replies[0].u64(), 0u);
  ASSERT_EQ(out[3].replies.size(), 1u);
  auto table = parse_mem_table(out[3].replies[0].payload);
  ASSERT_TRUE(table);
  for (const auto& r : *table) EXPECT_EQ(r.userspace_addr, uapi::kNormalisedAddr);
  EXPECT_EQ(out[3].res.phase, Phase::AwaitingAck);
  EXPECT_TRUE(out[4].replies.empty());
  EXPECT_EQ(out[4].res.regions_registered, 2);
  EXPECT_EQ(out[4].res.held_fds, 3);
  EXPECT_EQ(out[5].replies.at(0).u64(), 0u);
  EXPECT_EQ(out[5].res.uffds, 0);
  EXPECT_EQ(out[5].res.held_fds, 2);
  for (const Outcome& o : out) EXPECT_FALSE(o.closed);
  t.finish();
  EXPECT_EQ(FdSet::current().delta_since(before), 0)
      << testing::PrintToString(FdSet::current().describe_added_since(before));
  t.reap();
}

TEST(VhostImplTarget, DisconnectConnectAndClosedState) {
  const FdSet before = FdSet::current();
  ImplTarget t;
  EXPECT_FALSE(t.step(send(uapi::kGetFeatures)).closed);
  Outcome o = t.step(Disconnect{});
  EXPECT_TRUE(o.closed);
  o = t.step(send(uapi::kGetFeatures));
  EXPECT_TRUE(o.closed);
  EXPECT_TRUE(o.replies.empty());
  o = t.step(Connect{});
  EXPECT_FALSE(o.closed);
  o = t.step(send(99));  // E2 without NEED_REPLY: the back-end closes
  EXPECT_TRUE(o.closed);
  t.finish();
  EXPECT_EQ(FdSet::current().delta_since(before), 0);
}

TEST(VhostImplTarget, FloodOfMessagesInOneWrite) {  // the pending-output path
  ImplTarget t;
  RawBytes raw;
  const std::vector<uint8_t> one = frame({uapi::kGetFeatures, V, 0}, {});
  for (int i = 0; i < 5000; ++i) raw.bytes.insert(raw.bytes.end(), one.begin(), one.end());
  Outcome o = t.step(raw);
  EXPECT_EQ(o.replies.size(), 5000u);
  EXPECT_FALSE(o.closed);
  // A lying size leaves a partial message: no reply, the connection stays.
  Send lying = send(uapi::kGetFeatures);
  lying.size = 100;
  o = t.step(lying);
  EXPECT_TRUE(o.replies.empty());
  EXPECT_FALSE(o.closed);
  t.finish();
}

TEST(VhostImplTarget, FailNextAndMutantProfile) {
  ImplTarget spec;
  ImplTarget broken("mutant-end-keeps-uffd");
  const FdSet before = FdSet::current();
  std::vector<Op> trace = postcopy_trace();
  trace.push_back(send(uapi::kPostcopyAdvise, NR));
  // One target at a time: the fd census that counts a back-end's fds sees the whole process.
  Outcome a, b;
  for (const Op& op : trace) a = spec.step(op);
  spec.finish();
  for (const Op& op : trace) b = broken.step(op);
  broken.finish();
  EXPECT_EQ(a.res.uffds, 1);  // END closed it; the new ADVISE opened one
  EXPECT_NE(a, b);            // the mutant's END kept the uffd: P2 refuses the new ADVISE
  spec.reap();
  broken.reap();
  EXPECT_EQ(FdSet::current().delta_since(before), 0);

  ImplTarget t;
  t.step(send_u64(uapi::kSetProtocolFeatures, kPagefault));
  t.step(FailNext{Site::Userfaultfd});
  Outcome o = t.step(send(uapi::kPostcopyAdvise));
  ASSERT_EQ(o.replies.size(), 1u);
  EXPECT_TRUE(o.replies[0].fds.empty());
  EXPECT_EQ(o.res.uffds, 0);
}

TEST(VhostImplTarget, Throughput) {
  const std::vector<Op> trace = postcopy_trace();
  ImplTarget t;
  const auto start = std::chrono::steady_clock::now();
  int n = 0;
  for (; n < 2000; ++n) {
    for (const Op& op : trace) t.step(op);
    t.finish();
    t.reap();
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("ImplTarget: %.0f postcopy traces/s (%zu ops each)\n", n / s, trace.size());
  EXPECT_GT(n / s, 300.0);  // a sanity floor: the machine is shared; ~5-10k/s when idle
}

}  // namespace
}  // namespace lockstep::vhost
