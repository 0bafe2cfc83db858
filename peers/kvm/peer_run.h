// `lockstep peer kvm`: the MSHV model (a chosen profile) against the real kvm-vfio device.
// Corpus replay + generated traces; every disagreement is shrunk, deduplicated by signature,
// classified, and written as a readable program; optionally a reviewer-facing markdown report.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/mshv/ops.h"
#include "core/run.h"
#include "peers/kvm/kvm_target.h"
#include "peers/kvm/mapping.h"

namespace lockstep::peers {

// The vocabulary a profile's traces speak: kvm -> Kvm, mshv-* -> Mshv (type 0 <-> 4 etc.).
Vocabulary vocabulary_for(const std::string& profile);

struct PeerCheck {
  std::optional<Skip> skipped;  // set: the trace was not run
  Verdict<mshv::Outcome> verdict;
  std::string signature;  // "" when model and peer agree
  std::string side_by_side;
};
// Runs `trace` (trace numbers) on Model(profile) and on KvmTarget(v), comparing err + fds.
PeerCheck check_trace(const mshv::Trace& trace, const std::string& profile, Vocabulary v);

// Greedy op deletion (handles renumbered) while the same signature persists.
mshv::Trace shrink(const mshv::Trace& trace, const std::string& profile, Vocabulary v,
                   const std::string& signature);

struct Classification {
  char kind = 'c';  // 'a' documented deviation, 'b' model bug, 'c' peer defect/spec deviation,
                    // '?' unexplained (needs triage)
  std::string why;
};
Classification classify(const mshv::Trace& minimal, const std::string& profile, Vocabulary v,
                        const PeerCheck& check);

struct PeerOptions {
  std::string profile = "kvm";
  double seconds = 10;
  uint64_t seed = 1;
  std::string corpus_root = "corpus";
  std::string findings_dir = "findings/kvm";
  std::string report_path;       // "" = no report
  std::optional<bool> type_map;  // default: on for mshv-* profiles, off for kvm
};
// Returns 0 when every disagreement is classified (a)/(b)/(c), 1 when any is unexplained,
// 3 when the peer cannot run here.
int run_kvm_peer(const PeerOptions& options);

}  // namespace lockstep::peers
