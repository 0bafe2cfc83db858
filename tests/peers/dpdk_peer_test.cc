// The DPDK peer (peers/dpdk): the vhost corpus against DPDK 22.11's librte_vhost under the
// corpus profiles, audited against peers/dpdk/expectations.txt (and the audit's negative tests),
// the negative check (spec must disagree with DPDK), the peer-side fd accounting (uffds back to
// baseline after disconnect; the repeated-ADVISE leak) and the end-of-trace fd check's negative
// test (a peer that leaks one fd per connection). Skips (with the reason) where dpdk_vhost_peer
// was not built or cannot start. One peer process serves every test but the leaking one.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include "core/program_files.h"
#include "core/vhost/codec.h"
#include "peers/dpdk/dpdk_campaign.h"
#include "peers/dpdk/dpdk_target.h"
#include "tests/peers/backend_peer_test.h"

namespace lockstep::peers::dpdk {
namespace {

namespace fs = std::filesystem;

using SharedPeer = peer_tests::SharedPeer<DpdkPeer, DpdkTraits>;

vhost::Trace program(const char* text) {
  return vhost::parse_text(text);
}

const std::string kExpectations = std::string(LOCKSTEP_SOURCE_DIR) + "/peers/dpdk/expectations.txt";

TEST(DpdkPeer, ExpectationsFileParses) {
  const Expectations e = load_expectations(kExpectations);
  EXPECT_FALSE(e.entries.empty());
  for (const auto& entry : e.entries)
    EXPECT_TRUE(entry.signature.starts_with("dpdk-22.11: ") ||
                entry.signature.starts_with("spec: "))
        << entry.signature;
}

// The corpus phase of the campaign (every program under dpdk-22.11 and spec) shows exactly the
// corpus entries of peers/dpdk/expectations.txt, and nothing the file does not list; the audit
// fails when an entry is removed or a bogus one added.
TEST(DpdkPeer, CorpusMatchesTheExpectationsFile) {
  PEER_OR_SKIP(peer);
  peer_tests::expect_corpus_matches_expectations<DpdkTraits>(*peer, kExpectations);
}

// The end-of-trace fd check fires: a peer that leaks one fd per closed connection (a deliberate
// defect, dpdk_vhost_peer --leak-fd-per-connection) fails every trace with the fd-leak signature,
// whichever mode runs it.
TEST(DpdkPeer, EndOfTraceFdCheckCatchesAPeerThatLeaks) {
  PEER_OR_SKIP(peer);
  DpdkPeer leaky(default_peer_binary(), {"--leak-fd-per-connection"});
  const vhost::Trace t = program(
      "# lockstep vhost  profile=dpdk-22.11\n"
      "send(GET_FEATURES, flags=0x1)\n");
  for (Mode mode : {Mode::kObserved, Mode::kPerOp}) {
    const PeerCheck c = check_trace(t, "dpdk-22.11", leaky, mode);
    ASSERT_FALSE(c.skipped) << c.skipped->reason;
    EXPECT_EQ(c.signature, "dpdk-22.11: lockstep: fd-leak dpdk-peer") << c.side_by_side;
    EXPECT_EQ(c.after.other, c.before.other + 1)
        << to_string(c.before) << " -> " << to_string(c.after);
  }
  const PeerCheck sound = check_trace(t, "dpdk-22.11", *peer);
  EXPECT_EQ(sound.signature, "") << sound.side_by_side;  // the same trace on the sound peer
}

// The profile that is DPDK's agrees on the probe report's own program.
TEST(DpdkPeer, ProfileProgramAgreesExactly) {
  PEER_OR_SKIP(peer);
  const vhost::Trace t = program(
      "# lockstep vhost  profile=dpdk-22.11\n"
      "send(GET_FEATURES, flags=0x1)\n"
      "send(GET_PROTOCOL_FEATURES, flags=0x1)\n"
      "send(SET_PROTOCOL_FEATURES, flags=0x9, u64=0x108)\n"
      "send(POSTCOPY_ADVISE, flags=0x1)\n"
      "send(POSTCOPY_LISTEN, flags=0x9)\n"
      "send(SET_MEM_TABLE, flags=0x9, region=0x0:0x100000:0x7f0000000000:0x0, "
      "fd=memfd:0x100000)\n"
      "send(SET_MEM_TABLE, flags=0x9, u64=0x0)\n"
      "send(POSTCOPY_END, flags=0x1)\n"
      "send(GET_QUEUE_NUM, flags=0x1)\n");
  const PeerCheck c = check_trace(t, "dpdk-22.11", *peer);
  ASSERT_FALSE(c.skipped) << c.skipped->reason;
  EXPECT_TRUE(c.signature.empty()) << c.side_by_side;
  EXPECT_EQ(c.per_op, "");  // the observed mode waits for the postcopy table the model predicts
  EXPECT_EQ(c.after.uffd, c.before.uffd);
}

// Negative: spec refuses ADVISE without PAGEFAULT (P1: E1 closes without NEED_REPLY); DPDK
// hands out a uffd. The comparison must catch it and classify it as the profile's switch.
TEST(DpdkPeer, SpecDisagreesOnAdviseWithoutPagefault) {
  PEER_OR_SKIP(peer);
  const vhost::Trace t = program(
      "# lockstep vhost  profile=spec\n"
      "send(POSTCOPY_ADVISE, flags=0x1)\n");
  const PeerCheck c = check_trace(t, "spec", *peer);
  ASSERT_FALSE(c.skipped) << c.skipped->reason;
  ASSERT_FALSE(c.signature.empty()) << c.side_by_side;
  EXPECT_NE(c.per_op, "");  // the observed mode saw it and handed the trace to the per-op mode
  EXPECT_NE(c.signature.find("dpdk-peer/POSTCOPY_ADVISE/"), std::string::npos) << c.signature;
  ASSERT_EQ(c.verdict.target.size(), 1u);
  ASSERT_EQ(c.verdict.target[0].replies.size(), 1u);
  EXPECT_EQ(c.verdict.target[0].replies[0].fds, std::vector<vhost::FdKind>{vhost::FdKind::Uffd});
  EXPECT_EQ(classify(t, "spec", *peer, c).kind, 'a');
  EXPECT_TRUE(check_trace(t, "dpdk-22.11", *peer).signature.empty());
}

// After disconnect the peer's userfaultfd count is back at its baseline.
TEST(DpdkPeer, UffdsReturnToBaselineAfterDisconnect) {
  PEER_OR_SKIP(peer);
  const vhost::Trace t = program(
      "# lockstep vhost  profile=dpdk-22.11\n"
      "send(SET_PROTOCOL_FEATURES, flags=0x9, u64=0x108)\n"
      "send(POSTCOPY_ADVISE, flags=0x1)\n"
      "send(POSTCOPY_LISTEN, flags=0x9)\n"
      "disconnect()\n"
      "connect()\n"
      "send(POSTCOPY_ADVISE, flags=0x1)\n");
  const PeerCheck c = check_trace(t, "dpdk-22.11", *peer, Mode::kPerOp);
  ASSERT_FALSE(c.skipped) << c.skipped->reason;
  EXPECT_TRUE(c.signature.empty()) << c.side_by_side;
  EXPECT_EQ(c.verdict.target[1].res.uffds, 1);
  EXPECT_EQ(c.verdict.target[3].res.uffds, 0);  // after disconnect, from /proc/PID/fd
  EXPECT_EQ(c.after.uffd, c.before.uffd) << to_string(c.before) << " -> " << to_string(c.after);
}

// Repeated ADVISE: DPDK leaks the first uffd; the peer's /proc/PID/fd shows it, the comparison
// reports it as a finding of class (c), and it outlives the connection.
TEST(DpdkPeer, RepeatedAdviseLeakIsAFinding) {
  PEER_OR_SKIP(peer);
  const vhost::Trace t = program(
      "# lockstep vhost  profile=dpdk-22.11\n"
      "send(POSTCOPY_ADVISE, flags=0x1)\n"
      "send(POSTCOPY_ADVISE, flags=0x1)\n");
  // The dpdk-22.11 profile models the leak (AdviseWhenLive::Leak + leaked_fds_held: the earlier
  // uffd stays open in the process), so model and peer agree; spec refuses the second ADVISE,
  // and the leak stays a finding of the proofs (one_uffd_per_connection fails on dpdk-22.11).
  const PeerCheck c = check_trace(t, "dpdk-22.11", *peer, Mode::kPerOp);
  ASSERT_FALSE(c.skipped) << c.skipped->reason;
  EXPECT_EQ(c.signature, "") << c.side_by_side;
  ASSERT_EQ(c.verdict.target.size(), 2u);
  EXPECT_EQ(c.verdict.target[1].res.uffds, 2);
  EXPECT_EQ(c.verdict.model[1].res.uffds, 2);
  EXPECT_EQ(c.fds_left_open, 1);
  EXPECT_EQ(c.after.uffd, c.before.uffd + 1) << to_string(c.before) << " -> " << to_string(c.after);
  const PeerCheck observed = check_trace(t, "dpdk-22.11", *peer);  // the common path agrees too
  EXPECT_EQ(observed.signature, "") << observed.per_op;
  EXPECT_EQ(observed.per_op, "");
  vhost::Trace s = t;
  s.profile = "spec";
  const PeerCheck d = check_trace(s, "spec", *peer);
  ASSERT_FALSE(d.skipped) << d.skipped->reason;
  EXPECT_NE(d.signature, "");
  EXPECT_EQ(classify(s, "spec", *peer, d).kind, 'a');
}

TEST(DpdkPeer, UnsafeOpsAreSkippedNotFaked) {
  const vhost::Trace t = program(
      "# lockstep vhost  profile=dpdk-22.11\n"
      "send(GET_FEATURES, flags=0x1)\n"
      "send(SET_FEATURES, flags=0x1, u64=0x0, size=300)\n");
  auto skip = first_unsupported(t);
  ASSERT_TRUE(skip);
  EXPECT_EQ(skip->index, 1u);
  EXPECT_TRUE(unsupported(vhost::FailNext{}));
  EXPECT_FALSE(unsupported(
      vhost::RawBytes{{1, 0, 0, 0, 1, 0, 0, 0, 0, 0x20, 0, 0}}));  // 8 KiB: refused at once
}

}  // namespace
}  // namespace lockstep::peers::dpdk
