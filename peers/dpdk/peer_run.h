// `lockstep peer dpdk`: the vhost-user model (a chosen profile) against DPDK 22.11's
// librte_vhost (dpdk_vhost_peer). Corpus replay + generated traces; every disagreement is
// shrunk, deduplicated by signature, classified, and written as a readable program; optionally
// a reviewer-facing markdown report.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "core/run.h"
#include "core/vhost/ops.h"
#include "peers/dpdk/dpdk_target.h"

namespace lockstep::peers::dpdk {

struct PeerCheck {
  std::optional<DpdkSkip> skipped;  // set: the trace was not run (or the peer hung / died)
  Verdict<vhost::Outcome> verdict;
  std::string signature;  // "" when model and peer agree
  std::string side_by_side;
  FdCounts before, after;  // the peer's /proc/PID/fd at trace start and after finish()
  int fds_left_open = 0;   // the model's fds_left_open()
};
// Runs `trace` on Model(profile) and on a DpdkTarget over `peer`, comparing what
// DpdkProtocol::first_difference compares after every op, then the peer's non-socket fds after
// the trace against the model's fds_left_open().
PeerCheck check_trace(const vhost::Trace& trace, const std::string& profile, DpdkPeer& peer);

// Greedy op deletion while the same signature persists.
vhost::Trace shrink(const vhost::Trace& trace, const std::string& profile, DpdkPeer& peer,
                    const std::string& signature);

struct Classification {
  char kind = '?';  // 'a' documented deviation, 'b' model bug, 'c' DPDK defect / spec
                    // deviation, '?' unexplained
  std::string why;
};
Classification classify(const vhost::Trace& minimal, const std::string& profile, DpdkPeer& peer,
                        const PeerCheck& check);

struct PeerOptions {
  std::string profile = "dpdk-22.11";
  double seconds = 10;
  uint64_t seed = 1;
  std::string corpus_root = "corpus";
  std::string findings_dir = "findings/dpdk";
  std::string report_path;  // "" = no report
};
// 0 when every disagreement is classified (a)/(b)/(c), 1 when any is unexplained, 3 when the
// peer cannot run here (a report is still written, saying why).
int run_dpdk_peer(const PeerOptions& options);

}  // namespace lockstep::peers::dpdk
