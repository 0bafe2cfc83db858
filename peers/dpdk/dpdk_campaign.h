// `lockstep peer dpdk`: the vhost-user model (a chosen profile) against DPDK 22.11's
// librte_vhost (dpdk_vhost_peer), as a binding of the shared campaign (peers/campaign.h). What is
// DPDK's own lives here: the check (what DpdkProtocol compares after every op, then the peer's
// fds after the trace), the triage of disagreements, the trace generator and the report's DPDK
// prose.
#pragma once
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "core/run.h"
#include "core/vhost/codec.h"
#include "core/vhost/ops.h"
#include "model/vhost/profiles.h"
#include "peers/campaign.h"
#include "peers/dpdk/dpdk_target.h"

namespace lockstep::peers::dpdk {

struct PeerCheck {
  std::optional<Skip> skipped;  // set: the trace was not run (or the peer hung / died)
  Verdict<vhost::Outcome> verdict;
  std::string signature;  // "" when model and peer agree
  std::string side_by_side;
  FdCounts before, after;  // the peer's /proc/PID/fd at trace start and after finish()
  int fds_left_open = 0;   // the model's fds_left_open()
  std::string per_op;      // why the per-op mode ran ("" = it did not: the observed mode agreed)
};

enum class Mode {
  kObserved,  // observe at the model's observation points; the per-op mode when they disagree
  kPerOp,     // observe after every op
};
// Runs `trace` on Model(profile) and on a DpdkTarget over `peer`, comparing what
// DpdkProtocol::first_difference compares after every op, then the peer's non-socket fds after
// the trace against the model's fds_left_open(). kObserved first runs the trace observing only
// where the model's closed or fd counts change (dpdk_campaign.cc observation_points) and at the
// end; a trace that agrees there is reported as agreeing, any other is run again per op and
// that run's verdict is the result (verdict.model/target are filled only by the per-op mode).
PeerCheck check_trace(const vhost::Trace& trace, const std::string& profile, DpdkPeer& peer,
                      Mode mode = Mode::kObserved);

Classification classify(const vhost::Trace& minimal, const std::string& profile, DpdkPeer& peer,
                        const PeerCheck& check);

class DpdkBinding : public BindingTypes<vhost::Trace, PeerCheck, DpdkEnvironment> {
 public:
  static constexpr const char* kCorpusDirs[] = {"vhost_postcopy"};
  static constexpr const char* kCorpusProfiles[] = {"dpdk-22.11", "spec"};
  static constexpr PeerInfo kInfo = {
      "dpdk", "DPDK", "dpdk-22.11", "dpdk-22.11, spec, ...", kCorpusDirs, kCorpusProfiles, true};

  static Environment probe() { return probe_dpdk_environment(); }
  static bool runs_profile(const std::string& profile) {
    const vhost::Profile* p = vhost::find_profile(profile);
    return p && !p->mutant;  // the negative variants are for the proofs
  }
  static Trace parse(std::string_view text) {
    return with_known_profile(vhost::parse_text(text), vhost::profiles(), "vhost");
  }
  static ReportText report_text(const Environment& env, const PeerOptions& options);

  // Starts env.binary (one process for the whole campaign); throws std::runtime_error if it
  // cannot.
  DpdkBinding(const PeerOptions& options, const Environment& env);
  explicit DpdkBinding(DpdkPeer& running) : peer_(&running) {}

  static Trace in_profile(const Trace& program, const std::string&) { return program; }
  static std::optional<Skip> first_skip(const Trace& trace) { return first_unsupported(trace); }
  Check check(const Trace& trace);
  static std::optional<Trace> without(const Trace& trace, size_t i);  // no handles to renumber
  Classification classify(const Trace& minimal, const Check& check) {
    return dpdk::classify(minimal, minimal.profile, *peer_, check);
  }
  static Trace generate(std::mt19937_64& rng, const std::string& profile);
  static std::string evidence(const Check& check);  // the peer's fds before and after
  std::string run_notes() const;                    // how many checks the observed mode settled

 private:
  std::unique_ptr<DpdkPeer> owned_;
  DpdkPeer* peer_;
  size_t observed_ = 0, per_op_ = 0, per_op_agreed_ = 0;
};

// peers/campaign.h run_peer_campaign over DpdkBinding.
int run_dpdk_peer(const PeerOptions& options);

}  // namespace lockstep::peers::dpdk
