// `lockstep peer kvm`: the MSHV model (a chosen profile) against the real kvm-vfio device, as a
// binding of the shared campaign (peers/campaign.h). What is KVM's own lives here: the check
// (err after every op, fds at the end), the shrink step that renumbers handles, the triage of
// disagreements, the trace generator and the report's KVM prose.
#pragma once
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "core/mshv/codec.h"
#include "core/mshv/ops.h"
#include "core/run.h"
#include "model/mshv/profiles.h"
#include "peers/campaign.h"
#include "peers/kvm/kvm_target.h"
#include "peers/kvm/mapping.h"

namespace lockstep::peers::kvm {

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

Classification classify(const mshv::Trace& minimal, const std::string& profile, Vocabulary v,
                        const PeerCheck& check);

class KvmBinding : public BindingTypes<mshv::Trace, PeerCheck, KvmEnvironment> {
 public:
  static constexpr const char* kCorpusDirs[] = {"mshv_kvm", "mshv_device"};
  static constexpr const char* kCorpusProfiles[] = {"kvm", "mshv-v1"};
  static constexpr PeerInfo kInfo = {
      "kvm", "KVM", "kvm", "kvm, mshv-v1, mshv-strict", kCorpusDirs, kCorpusProfiles, true};

  static Environment probe() { return probe_environment(); }
  static bool runs_profile(const std::string& profile) {  // not the negative variants
    return mshv::find_profile(profile) && !profile.starts_with("mutant");
  }
  static Trace parse(std::string_view text) {
    return with_known_profile(mshv::parse_text(text), mshv::profiles(), "mshv");
  }
  static ReportText report_text(const Environment& env, const PeerOptions& options);

  // The chosen profile speaks the vocabulary options.type_map says; every other profile its own.
  explicit KvmBinding(const PeerOptions& options, const Environment& = {})
      : chosen_profile_(options.profile), type_map_(options.type_map) {}

  Vocabulary vocabulary(const std::string& profile) const;
  // A program written for the other vocabulary is swapped through mapping.h.
  static Trace in_profile(const Trace& program, const std::string& profile);
  std::optional<Skip> first_skip(const Trace& trace) const;
  Check check(const Trace& trace) const;
  // Op i deleted and later handles of its kind renumbered; nullopt if a later op names the
  // handle op i creates.
  static std::optional<Trace> without(const Trace& trace, size_t i);
  Classification classify(const Trace& minimal, const Check& check) const;
  static Trace generate(std::mt19937_64& rng, const std::string& profile);
  static std::string evidence(const Check&) { return ""; }  // err and fds are all KVM shows

 private:
  std::string chosen_profile_;
  std::optional<bool> type_map_;
};

// peers/campaign.h run_peer_campaign over KvmBinding.
int run_kvm_peer(const PeerOptions& options);

}  // namespace lockstep::peers::kvm
