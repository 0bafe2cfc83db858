// The campaign binding every vhost-user back-end process peer shares (peers/campaign.h over a
// BackendProcess and a BackendTarget): the check (what BackendProtocol compares after every op,
// then the back-end's fds after the trace), the observed mode with its per-op fallback, crashes
// and hangs as disagreements, the trace generator, the evidence and the run notes. A peer is a
// binding of it (BackendBinding<Traits>) that says only what is its own: its names, how its
// process is started, how it cuts messages, its triage and its report prose (peers/dpdk,
// peers/libvhost-user).
//
// A crash (the process dies) or a hang (a barrier not answered within the spec's reply timeout)
// is a disagreement at the op the back-end was handling, signature
// `PROFILE: lockstep: divergence NAME/OP/crash` (or /hang), with what the process showed
// (`killed by SIGSEGV`) in the evidence; the process is started again and the campaign goes on.
// A crash at the disconnect after the last op is at DISCONNECT.
#pragma once
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "core/report.h"
#include "core/run.h"
#include "core/vhost/codec.h"
#include "core/vhost/ops.h"
#include "model/vhost/model.h"
#include "model/vhost/profiles.h"
#include "peers/campaign.h"
#include "peers/vhost/backend_process.h"
#include "peers/vhost/backend_target.h"

namespace lockstep::peers::backend {

struct PeerCheck {
  std::optional<Skip> skipped;  // set: the trace was not run (or the peer failed otherwise)
  Verdict<vhost::Outcome> verdict;
  std::string signature;  // "" when model and peer agree
  std::string side_by_side;
  FdCounts before, after;  // the peer's /proc/PID/fd at trace start and after finish()
  int fds_left_open = 0;   // the model's fds_left_open()
  std::string per_op;      // why the per-op mode ran ("" = it did not: the observed mode agreed)
  std::string failure;     // how the peer crashed or hung ("" = it did not)
};

enum class Mode {
  kObserved,  // observe at the model's observation points; the per-op mode when they disagree
  kPerOp,     // observe after every op
};

struct BackendEnvironment {
  std::string binary;       // the back-end program ("" = not available)
  std::string version;      // as the peer's probe reads it
  std::string kernel;       // uname -r
  std::string unavailable;  // why the peer cannot run here ("" = it can)
};

// ---- the parts that need no protocol name (backend_campaign.cc) --------------------------------

// The observed mode and the checks before it: true when `c` is the result (skipped, or agreeing
// at every observation point and after the disconnect); false sends the trace to the per-op
// mode, c.per_op saying why.
bool settled_before_per_op(const vhost::Trace& trace, const std::string& profile,
                           BackendProcess& peer, const WireRules& rules, Mode mode, PeerCheck& c);
// After a per-op run: the fds after the disconnect against the model's fds_left_open().
void check_end_of_trace(PeerCheck& c, const vhost::Trace& trace, const vhost::Model& model,
                        const BackendTarget& target, const char* protocol);
// The peer died or hung at op `index` (== size: at the disconnect after the trace): the model's
// outcomes up to it, the peer's the same before it (they agreed: run() stops at a divergence)
// and closed at it, and the divergence `field` ("crash", "hang").
void failed_at(PeerCheck& c, const vhost::Trace& trace, const std::string& profile, size_t index,
               const char* field, const std::string& how, const char* protocol);
std::string uname_release();
std::string command_output(const char* cmd);  // trailing newline and blanks removed

// The heuristic triage's (a): the peer's own profile `own` agrees with the peer on `minimal`, so
// the disagreement under `profile` is where the two profiles differ (the first op at which they
// do, both outcomes); `where` names the profile's definition.
Classification documented_deviation(const vhost::Trace& minimal, const std::string& profile,
                                    const std::string& own, const std::string& where);

// The report's shared paragraphs; `noun` names the peer ("DPDK").
std::string compared_text(const std::string& noun);
extern const char* const kGeneratedTraces;

// The shared parts of BackendBinding below.
vhost::Trace generated_backend_trace(std::mt19937_64& rng);  // decode_input over random bytes
std::string backend_evidence(const PeerCheck& check);        // the peer's fds before and after
std::string backend_run_notes(const char* noun, size_t observed, size_t per_op,
                              size_t per_op_agreed, size_t failures, const BackendProcess& peer);

// Runs `trace` on Model(profile) and on a BackendTarget over `peer`, comparing what
// BackendProtocol::first_difference compares after every op, then the peer's non-socket fds
// after the trace against the model's fds_left_open(). kObserved first runs the trace observing
// only where the model's closed or fd counts change and at the end; a trace that agrees there is
// reported as agreeing, any other is run again per op and that run's verdict is the result
// (verdict.model/target are filled only by the per-op mode). P names the signatures.
template <class P>
PeerCheck check_trace(const vhost::Trace& trace, const std::string& profile, BackendProcess& peer,
                      const WireRules& rules, Mode mode = Mode::kObserved) {
  PeerCheck c;
  if (settled_before_per_op(trace, profile, peer, rules, mode, c)) return c;
  vhost::Model model(*vhost::find_profile(profile));
  BackendTarget target(peer, rules);
  const char* field = nullptr;
  try {
    c.verdict = run<P>(trace.ops, model, target, RunOptions{.check_fds = false});
  } catch (const PeerDied& e) {
    field = "crash";
    c.failure = e.what();
  } catch (const PeerHung& e) {
    field = "hang";
    c.failure = e.what();
  } catch (const std::exception& e) {
    peer.restart();
    c.skipped = Skip{0, std::string("peer unresponsive or dead, restarted: ") + e.what()};
    return c;
  }
  if (field) {
    peer.restart();
    failed_at(c, trace, profile, target.position(), field, c.failure, P::kName);
  } else if (!peer.alive()) {  // it answered the last barrier, then died: at the teardown
    c.failure = peer.death(0).value_or("not running");
    peer.restart();
    failed_at(c, trace, profile, trace.ops.size(), "crash", c.failure, P::kName);
  } else {
    check_end_of_trace(c, trace, model, target, P::kName);
  }
  if (c.verdict.divergence) c.signature = profile + ": " + c.verdict.divergence->signature;
  c.side_by_side = side_by_side<P>(profile, trace.ops, c.verdict);
  if (!c.failure.empty()) c.side_by_side += "# the peer process: " + c.failure + "\n";
  return c;
}

// A back-end process peer's traits T supply:
//   using Protocol (BackendProtocol with kName "NAME-peer"); kInfo (PeerInfo); kWire (WireRules)
//   probe() -> BackendEnvironment; spec(env) -> BackendSpec (how its process is started)
//   report_text(env, options) -> ReportText; runs_profile(name)
//   classify(minimal, check, BackendProcess&) -> Classification   its heuristic triage
//   optionally taints(trace) -> bool: the trace may have corrupted the process (restarted after)
template <class T>
class BackendBinding : public BindingTypes<vhost::Trace, PeerCheck, BackendEnvironment> {
 public:
  static constexpr PeerInfo kInfo = T::kInfo;

  static Environment probe() { return T::probe(); }
  static bool runs_profile(const std::string& profile) { return T::runs_profile(profile); }
  static Trace parse(std::string_view text) {
    return with_known_profile(vhost::parse_text(text), vhost::profiles(), "vhost");
  }
  static ReportText report_text(const Environment& env, const PeerOptions& options) {
    return T::report_text(env, options);
  }

  // Starts the back-end (one process for the whole campaign); throws std::runtime_error if it
  // cannot.
  BackendBinding(const PeerOptions&, const Environment& env)
      : owned_(std::make_unique<BackendProcess>(T::spec(env))), peer_(owned_.get()) {}
  explicit BackendBinding(BackendProcess& running) : peer_(&running) {}

  static Trace in_profile(const Trace& program, const std::string&) { return program; }
  static std::optional<Skip> first_skip(const Trace& trace) {
    return first_unsupported(trace, T::kWire);
  }
  Check check(const Trace& trace) {
    PeerCheck c = check_trace<typename T::Protocol>(trace, trace.profile, *peer_, T::kWire);
    // A trace that may have corrupted the process (T::taints) gets a fresh one after it, so a
    // delayed crash shows in the trace that caused it, not in a later one.
    if constexpr (requires { T::taints(trace); })
      if (T::taints(trace) && peer_->alive()) peer_->restart();
    if (c.skipped) return c;
    (c.per_op.empty() ? observed_ : per_op_)++;
    if (!c.per_op.empty()) per_op_agreed_ += c.signature.empty();
    failures_ += !c.failure.empty();
    return c;
  }
  static std::optional<Trace> without(const Trace& trace, size_t i) {  // no handles to renumber
    Trace out = trace;
    out.ops.erase(out.ops.begin() + static_cast<long>(i));
    return out;
  }
  Classification classify(const Trace& minimal, const Check& check) {
    return T::classify(minimal, check, *peer_);
  }
  // vhost::decode_input over random bytes, cut at the first op the peer cannot take.
  static Trace generate(std::mt19937_64& rng, const std::string& profile) {
    Trace t = generated_backend_trace(rng);
    t.profile = profile;
    if (auto skip = first_skip(t)) t.ops.resize(skip->index);
    return t;
  }
  static std::string evidence(const Check& check) { return backend_evidence(check); }
  std::string run_notes() const {  // how many checks the observed mode settled
    return backend_run_notes(T::kInfo.noun, observed_, per_op_, per_op_agreed_, failures_, *peer_);
  }

 private:
  std::unique_ptr<BackendProcess> owned_;
  BackendProcess* peer_;
  size_t observed_ = 0, per_op_ = 0, per_op_agreed_ = 0, failures_ = 0;
};

}  // namespace lockstep::peers::backend
