// What the CLI needs to know about each protocol, in one place: its codecs, how to build its
// model and its real target. Everything else in tools/ is generic over a Binding.
#pragma once
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/mshv/codec.h"
#include "impl/mshv/device_layer.h"
#include "impl/mshv/target.h"
#include "model/mshv/model.h"

namespace lockstep::tools {

struct MshvBinding {
  using P = mshv::Protocol;
  using Trace = mshv::Trace;
  using Model = mshv::Model;
  using Target = mshv::ImplTarget;
  static constexpr std::string_view kName = "mshv";
  static constexpr std::string_view kCorpus = "mshv_device";
  static Trace decode(std::span<const uint8_t> bytes) { return mshv::decode_input(bytes); }
  static std::vector<uint8_t> encode(const Trace& t) { return mshv::encode_input(t); }
  static Trace parse(std::string_view text) { return mshv::parse_text(text); }
  static std::string print(const Trace& t) { return mshv::print_text(t); }
  static bool has_profile(std::string_view name) { return mshv::find_profile(name) != nullptr; }
  static Model model(const std::string& profile) { return Model(*mshv::find_profile(profile)); }
  // The real device layer implements these two profiles; others exist only as models/peers.
  static bool target_supports(std::string_view profile) {
    return profile == "mshv-v1" || profile == "mshv-strict";
  }
  static Target target(const std::string& profile) { return Target(profile); }
};

}  // namespace lockstep::tools

namespace lockstep::tools {

// Calls f with the binding named by `protocol`; throws std::invalid_argument otherwise.
template <class F>
auto with_binding(std::string_view protocol, F&& f) {
  if (protocol == MshvBinding::kName) return f(MshvBinding{});
  throw std::invalid_argument("unknown protocol '" + std::string(protocol) + "' (mshv)");
}

}  // namespace lockstep::tools
