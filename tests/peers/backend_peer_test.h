// What the back-end process peers' tests share (dpdk_peer_test, libvhost_user_peer_test,
// repro_test): one peer process per test binary, started on first use, whose reason for not
// starting every test skips with; and the corpus-against-expectations test with its negatives.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "peers/campaign.h"
#include "peers/expectations.h"
#include "peers/vhost/backend_campaign.h"

namespace lockstep::peers::peer_tests {

// The peer process of Traits (Traits::probe() says where its binary is), started once per test
// binary: get() is nullptr, with the reason in *why, where it was not built or cannot start.
template <class Peer, class Traits>
struct SharedPeer {
  static Peer* get(std::string* why) {
    static std::unique_ptr<Peer> peer;
    static std::string reason;
    static bool tried = false;
    if (!tried) {
      tried = true;
      const auto env = Traits::probe();
      if (!env.unavailable.empty()) {
        reason = env.unavailable;
      } else {
        try {
          peer = std::make_unique<Peer>(env.binary);
        } catch (const std::exception& e) {
          reason = e.what();
        }
      }
    }
    *why = reason;
    return peer.get();
  }
};

// `name`: the file's SharedPeer (a SharedPeer<...> alias in scope), or the test skips with the
// reason.
#define PEER_OR_SKIP(name)                   \
  std::string why_;                          \
  auto* const name = SharedPeer::get(&why_); \
  if (!name) GTEST_SKIP() << why_

// The corpus phase of the campaign (every corpus program under the peer's corpus profiles) shows
// exactly the corpus entries of `expectations_path` and nothing the file does not list; the
// audit fails when an entry is removed or a bogus one added.
template <class Traits>
void expect_corpus_matches_expectations(backend::BackendProcess& peer,
                                        const std::string& expectations_path) {
  namespace fs = std::filesystem;
  using Binding = backend::BackendBinding<Traits>;
  const PeerInfo& info = Traits::kInfo;
  const Expectations file = load_expectations(expectations_path);
  PeerOptions options = with_defaults(info, {});
  options.corpus_root = std::string(LOCKSTEP_SOURCE_DIR) + "/corpus";
  options.findings_dir =
      (fs::temp_directory_path() / ("lockstep-" + std::string(info.name) + "-peer-test-findings"))
          .string();
  options.json = true;  // no finding lines on stdout
  Binding binding(peer);
  Campaign<Binding> campaign(options, binding, file);
  campaign.run_corpus();
  Results& results = campaign.results();
  EXPECT_GT(results.tallies[std::string(info.profile) + " | corpus"].traces, 5u);
  audit_results(info, options, file, results);
  for (const auto& p : results.problems) ADD_FAILURE() << p;
  fs::remove_all(options.findings_dir);

  ASSERT_FALSE(results.corpus_signatures.empty());
  Expectations removed = file;  // negative: an entry the corpus needs is missing
  std::erase_if(removed.entries, [&](const Expectation& e) {
    return e.signature == *results.corpus_signatures.begin();
  });
  audit_results(info, options, removed, results);
  EXPECT_EQ(results.problems.size(), 1u);
  Expectations bogus = file;  // negative: an entry the corpus does not reproduce
  bogus.entries.push_back(Expectation{std::string(info.profile) + ": lockstep: divergence " +
                                          Traits::Protocol::kName + "/NONE/closed",
                                      "peer-defect",
                                      'c',
                                      true,
                                      "bogus",
                                      {"none"},
                                      999});
  audit_results(info, options, bogus, results);
  ASSERT_EQ(results.problems.size(), 1u);
  EXPECT_NE(results.problems[0].find(":999: seen-by corpus, but the corpus no longer"),
            std::string::npos)
      << results.problems[0];
}

}  // namespace lockstep::peers::peer_tests
