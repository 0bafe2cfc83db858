// The libvhost-user peer (peers/libvhost-user): the vhost corpus against qemu-storage-daemon's
// vhost-user-blk export (QEMU's libvhost-user) under the corpus profiles, audited against
// peers/libvhost-user/expectations.txt (and the audit's negative tests); a crash of the daemon is
// a disagreement at the op that caused it, not a campaign failure (the process is started again
// and the next trace runs), and a trace that does not crash is not called one. Skips (with the
// reason) where qemu-storage-daemon is missing or cannot start. One daemon serves every test.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "core/vhost/codec.h"
#include "peers/libvhost-user/libvhost_user_campaign.h"
#include "tests/peers/backend_peer_test.h"

namespace lockstep::peers::libvhost_user {
namespace {

namespace fs = std::filesystem;

using SharedPeer = peer_tests::SharedPeer<LibvhostUserPeer, LibvhostUserTraits>;

vhost::Trace program(const char* text) {
  return vhost::parse_text(text);
}

const std::string kExpectations =
    std::string(LOCKSTEP_SOURCE_DIR) + "/peers/libvhost-user/expectations.txt";

// GET_VRING_BASE of ring 1, never started: the daemon aborts (measured; the expectations entry
// libvhost-user: …/GET_VRING_BASE/crash).
constexpr const char* kCrash =
    "# lockstep vhost  profile=libvhost-user\n"
    "send(GET_FEATURES, flags=0x1)\n"
    "send(GET_VRING_BASE, flags=0x1, ring=1, num=0)\n";

constexpr const char* kAgrees =
    "# lockstep vhost  profile=libvhost-user\n"
    "send(GET_PROTOCOL_FEATURES, flags=0x1)\n"
    "send(GET_QUEUE_NUM, flags=0x1)\n";

TEST(LibvhostUserPeer, ExpectationsFileParses) {
  const Expectations e = load_expectations(
      kExpectations,
      signature_rules(LibvhostUserBinding::kInfo, &LibvhostUserBinding::runs_profile));
  EXPECT_FALSE(e.entries.empty());
  for (const auto& entry : e.entries)
    EXPECT_TRUE(entry.signature.starts_with("libvhost-user: ") ||
                entry.signature.starts_with("spec: "))
        << entry.signature;
}

// The corpus phase (every program under libvhost-user and spec) shows exactly the corpus entries
// of the expectations file and nothing it does not list; the audit fails when an entry is removed
// or a bogus one added.
TEST(LibvhostUserPeer, CorpusMatchesTheExpectationsFile) {
  PEER_OR_SKIP(peer);
  peer_tests::expect_corpus_matches_expectations<LibvhostUserTraits>(*peer, kExpectations);
}

// A crash is a disagreement at the op that caused it (both modes), with the signal in the
// evidence; the daemon is started again and the next trace agrees.
TEST(LibvhostUserPeer, ACrashIsADisagreementAtItsOp) {
  PEER_OR_SKIP(peer);
  const vhost::Trace t = program(kCrash);
  for (Mode mode : {Mode::kObserved, Mode::kPerOp}) {
    const size_t restarts = peer->restarts();
    const PeerCheck c = check_trace(t, "libvhost-user", *peer, mode);
    ASSERT_FALSE(c.skipped) << c.skipped->reason;
    EXPECT_EQ(c.signature,
              "libvhost-user: lockstep: divergence libvhost-user-peer/GET_VRING_BASE/crash")
        << c.side_by_side;
    EXPECT_NE(c.failure.find("killed by SIG"), std::string::npos) << c.failure;
    ASSERT_TRUE(c.verdict.divergence);
    EXPECT_EQ(c.verdict.divergence->index, 1u);
    EXPECT_NE(c.side_by_side.find("# the peer process: killed by SIG"), std::string::npos)
        << c.side_by_side;
    EXPECT_GT(peer->restarts(), restarts);
    EXPECT_TRUE(peer->alive());
    const PeerCheck after = check_trace(program(kAgrees), "libvhost-user", *peer, mode);
    EXPECT_EQ(after.signature, "") << after.side_by_side;
  }
}

// Negative: a trace that does not crash the daemon is not called a crash (nor a hang), and the
// daemon is not started again for it.
TEST(LibvhostUserPeer, NoCrashIsNotACrash) {
  PEER_OR_SKIP(peer);
  const size_t restarts = peer->restarts();
  const PeerCheck c = check_trace(program(kAgrees), "libvhost-user", *peer, Mode::kPerOp);
  ASSERT_FALSE(c.skipped) << c.skipped->reason;
  EXPECT_EQ(c.signature, "") << c.side_by_side;
  EXPECT_EQ(c.failure, "");
  EXPECT_EQ(peer->restarts(), restarts);
}

// Through the campaign: the crash is a finding (class from the expectations file) and the
// campaign goes on to the next program, which runs and agrees.
TEST(LibvhostUserPeer, ACrashIsAFindingNotACampaignFailure) {
  PEER_OR_SKIP(peer);
  const Expectations file = load_expectations(kExpectations);
  PeerOptions options = with_defaults(LibvhostUserBinding::kInfo, {});
  options.findings_dir = (fs::temp_directory_path() / "lockstep-lvu-crash-findings").string();
  options.json = true;
  LibvhostUserBinding binding(*peer);
  Campaign<LibvhostUserBinding> campaign(options, binding, file);
  campaign.run_corpus({{"t/crash.txt", program(kCrash)}, {"t/agrees.txt", program(kAgrees)}});
  const Results& results = campaign.results();
  const std::string crash =
      "libvhost-user: lockstep: divergence libvhost-user-peer/GET_VRING_BASE/crash";
  ASSERT_EQ(results.findings.count(crash), 1u);
  EXPECT_EQ(results.findings.at(crash).cls.kind, 'c') << results.findings.at(crash).cls.why;
  const Tally& tally = results.tallies.at("libvhost-user | corpus");
  EXPECT_EQ(tally.traces, 2u);
  EXPECT_EQ(tally.disagree, 1u);
  EXPECT_EQ(tally.agree, 1u);
  fs::remove_all(options.findings_dir);
}

TEST(LibvhostUserPeer, UnsafeOpsAreSkippedNotFaked) {
  const vhost::Trace t = program(
      "# lockstep vhost  profile=libvhost-user\n"
      "send(GET_FEATURES, flags=0x1)\n"
      "send(SET_FEATURES, flags=0x1, u64=0x0, size=200)\n");
  const auto skip = LibvhostUserBinding::first_skip(t);
  ASSERT_TRUE(skip);
  EXPECT_EQ(skip->index, 1u);
  // Above 268 bytes the header is refused at once: nothing waits for the payload.
  EXPECT_FALSE(
      backend::unsupported(vhost::RawBytes{{1, 0, 0, 0, 1, 0, 0, 0, 0x0d, 0x01, 0, 0}}, kWire));
  // A trailing partial header is waited for: skipped (DPDK closes on it and takes it).
  EXPECT_TRUE(backend::unsupported(vhost::RawBytes{{1, 0, 0, 0, 1}}, kWire));
}

}  // namespace
}  // namespace lockstep::peers::libvhost_user
