// What the CLI needs to know about each protocol, in one place: its codecs, how to build its
// model and its real target, and its proofs. Everything else in tools/ is generic over a Binding.
#pragma once
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/mshv/codec.h"
#include "core/program_text.h"
#include "core/report.h"
#include "core/vhost/codec.h"
#include "impl/mshv/device_layer.h"
#include "impl/mshv/target.h"
#include "impl/vhost/target.h"
#include "model/mshv/model.h"
#include "model/vhost/model.h"
#include "tools/input_file.h"

// The proof bindings (proofs/<protocol>/binding.h) need Z3: only `lockstep prove` includes them.
namespace lockstep::mshv::proofs {
struct ProofBinding;
}
namespace lockstep::vhost::proofs {
struct ProofBinding;
}

namespace lockstep::tools {

// The file line of op i of a program; i + 1 (the op's number) for a decoded fuzz input.
template <class Trace>
int line_of(const Trace& t, size_t i) {
  return i < t.source.op_lines.size() ? t.source.op_lines[i] : static_cast<int>(i + 1);
}

struct MshvBinding {
  using P = mshv::Protocol;
  using Trace = mshv::Trace;
  using Model = mshv::Model;
  using Target = mshv::ImplTarget;
  using Proofs = mshv::proofs::ProofBinding;
  static constexpr std::string_view kName = "mshv";
  static constexpr std::string_view kCorpus = "mshv_device";
  static Trace decode(std::span<const uint8_t> bytes) { return mshv::decode_input(bytes); }
  static std::vector<uint8_t> encode(const Trace& t) { return mshv::encode_input(t); }
  static Trace parse(std::string_view text) {
    return with_known_profile(mshv::parse_text(text), mshv::profiles(), kName);
  }
  static std::string print(const Trace& t) { return mshv::print_text(t); }
  static std::string note(const mshv::Outcome& o) { return errno_note(o.err); }
  static bool has_profile(std::string_view name) { return mshv::find_profile(name) != nullptr; }
  static const auto& profiles() { return mshv::profiles(); }
  static std::string profile_names() { return profiles().names(); }
  static Model model(const std::string& profile) { return Model(*mshv::find_profile(profile)); }
  // The real device layer implements these two profiles; others exist only as models/peers.
  static bool target_supports(std::string_view profile) {
    return profile == "mshv-v1" || profile == "mshv-strict";
  }
  static Target target(const std::string& profile, int mutant = 0) {
    return Target(profile, mutant);
  }
  // Lines whose "= 0" / errno note disagrees with the model's outcome.
  static std::vector<std::string> note_mismatches(const Trace& t,
                                                  const std::vector<mshv::Outcome>& model) {
    std::vector<std::string> out;
    for (size_t i = 0; i < t.notes.size() && i < model.size(); ++i) {
      auto expected = expected_errno(t.notes[i]);
      if (expected && *expected != model[i].err)
        out.push_back("line " + std::to_string(line_of(t, i)) + ": the program expects '" +
                      t.notes[i] + "', the model gives " + errno_note(model[i].err));
    }
    return out;
  }
};

struct VhostBinding {
  using P = vhost::Protocol;
  using Trace = vhost::Trace;
  using Model = vhost::Model;
  using Target = vhost::ImplTarget;
  using Proofs = vhost::proofs::ProofBinding;
  static constexpr std::string_view kName = "vhost";
  static constexpr std::string_view kCorpus = "vhost_postcopy";
  static Trace decode(std::span<const uint8_t> bytes) { return vhost::decode_input(bytes); }
  static std::vector<uint8_t> encode(const Trace& t) { return vhost::encode_input(t); }
  static Trace parse(std::string_view text) {
    return with_known_profile(vhost::parse_text(text), vhost::profiles(), kName);
  }
  static std::string print(const Trace& t) { return vhost::print_text(t); }
  static std::string note(const vhost::Outcome& o) { return vhost::Protocol::outcome_text(o); }
  static bool has_profile(std::string_view name) { return vhost::find_profile(name) != nullptr; }
  static const auto& profiles() { return vhost::profiles(); }
  static std::string profile_names() { return profiles().names(); }
  static Model model(const std::string& profile) { return Model(*vhost::find_profile(profile)); }
  // Our back-end follows the spec profile; peers' profiles run against the peers.
  static bool target_supports(std::string_view profile) { return profile == "spec"; }
  static Target target(const std::string& profile, int mutant = 0) {
    return Target(profile, mutant);
  }
  static std::vector<std::string> note_mismatches(const Trace& t,
                                                  const std::vector<vhost::Outcome>& model) {
    return vhost::check_notes(t, model);
  }
};

}  // namespace lockstep::tools

namespace lockstep::tools {

// The trace with every op annotated with its profile's model outcome (B::note): what a program
// written by the tools (to-gtest, corpus min --merge) records as expected.
template <class B>
typename B::Trace with_model_notes(typename B::Trace trace) {
  auto model = B::model(trace.profile);
  trace.notes.clear();
  for (const auto& op : trace.ops) trace.notes.push_back(B::note(model.step(op)));
  return trace;
}

// The trace a program or fuzz input holds, read by protocol B: a program parsed, a fuzz input
// decoded.
template <class B>
typename B::Trace trace_of(const InputFile& file) {
  return file.text
             ? B::parse(file.bytes)
             : B::decode({reinterpret_cast<const uint8_t*>(file.bytes.data()), file.bytes.size()});
}

// InputError ("--profile P: unknown PROTOCOL profile (valid: ...)") unless B has `profile`.
template <class B>
void require_profile(const std::string& profile) {
  if (!B::has_profile(profile))
    throw InputError("--profile " + profile + ": unknown " + std::string(B::kName) +
                     " profile (valid: " + B::profile_names() + ")");
}

// trace_of(file) under `profile` (the file's own when empty), a profile B has.
template <class B>
typename B::Trace trace_under(const InputFile& file, const std::string& profile) {
  typename B::Trace trace = trace_of<B>(file);
  if (!profile.empty()) trace.profile = profile;
  require_profile<B>(trace.profile);
  return trace;
}

// Calls f with the binding named by `protocol`; throws std::invalid_argument otherwise.
template <class F>
auto with_binding(std::string_view protocol, F&& f) {
  if (protocol == MshvBinding::kName) return f(MshvBinding{});
  if (protocol == VhostBinding::kName) return f(VhostBinding{});
  throw std::invalid_argument("unknown protocol '" + std::string(protocol) + "' (mshv, vhost)");
}

}  // namespace lockstep::tools
