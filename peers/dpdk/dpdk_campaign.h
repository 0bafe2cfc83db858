// `lockstep peer dpdk`: the vhost-user model (a chosen profile) against DPDK 22.11's
// librte_vhost (dpdk_vhost_peer), as a binding of the shared back-end process campaign
// (peers/vhost/backend_campaign.h) over the shared campaign (peers/campaign.h). What is DPDK's
// own lives here: its names and corpus profiles, the triage of disagreements and the report's
// DPDK prose.
#pragma once
#include <optional>
#include <string>

#include "core/vhost/ops.h"
#include "peers/campaign.h"
#include "peers/dpdk/dpdk_target.h"
#include "peers/vhost/backend_campaign.h"

namespace lockstep::peers::dpdk {

using backend::Mode;
using backend::PeerCheck;

// backend::check_trace with DPDK's signatures and wire rules.
inline PeerCheck check_trace(const vhost::Trace& trace, const std::string& profile,
                             backend::BackendProcess& peer, Mode mode = Mode::kObserved) {
  return backend::check_trace<DpdkProtocol>(trace, profile, peer, kWire, mode);
}

// The heuristic triage (a suggestion beside the expectations file): under a profile other than
// dpdk-22.11, whether dpdk-22.11 agrees with DPDK on the trace (a documented deviation); else the
// DPDK defects and profile switches it knows.
Classification classify(const vhost::Trace& minimal, const std::string& profile,
                        backend::BackendProcess& peer, const PeerCheck& check);

struct DpdkTraits {
  using Protocol = DpdkProtocol;
  static constexpr const char* kCorpusDirs[] = {"vhost_postcopy"};
  static constexpr const char* kCorpusProfiles[] = {"dpdk-22.11", "spec"};
  static constexpr PeerInfo kInfo = {
      "dpdk", "DPDK", "dpdk-22.11", "dpdk-22.11, spec, ...", kCorpusDirs, kCorpusProfiles, true};
  static constexpr backend::WireRules kWire = dpdk::kWire;

  static DpdkEnvironment probe() { return probe_dpdk_environment(); }
  static backend::BackendSpec spec(const DpdkEnvironment& env) { return dpdk_spec(env.binary); }
  static bool runs_profile(const std::string& profile) {
    const vhost::Profile* p = vhost::find_profile(profile);
    return p && !p->mutant;  // the negative variants are for the proofs
  }
  static ReportText report_text(const DpdkEnvironment& env, const PeerOptions& options);
  static Classification classify(const vhost::Trace& minimal, const PeerCheck& check,
                                 backend::BackendProcess& peer) {
    return dpdk::classify(minimal, minimal.profile, peer, check);
  }
};

using DpdkBinding = backend::BackendBinding<DpdkTraits>;

// peers/campaign.h run_peer_campaign over DpdkBinding.
int run_dpdk_peer(const PeerOptions& options);

}  // namespace lockstep::peers::dpdk
