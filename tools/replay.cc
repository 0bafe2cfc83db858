#include <algorithm>
#include <iostream>
#include <iterator>

#include "core/program_text.h"
#include "core/report.h"
#include "tools/bindings.h"
#include "tools/commands.h"
#include "tools/exit_codes.h"
#include "tools/input_file.h"

namespace lockstep::tools {
namespace {

template <class B>
int replay_with(const InputFile& file, const std::string& profile_override) {
  typename B::Trace trace =
      file.text
          ? B::parse(file.bytes)
          : B::decode({reinterpret_cast<const uint8_t*>(file.bytes.data()), file.bytes.size()});
  if (!profile_override.empty()) trace.profile = profile_override;
  if (!B::has_profile(trace.profile)) {
    const auto& at = trace.source;
    std::cerr << "lockstep replay: " << file.path
              << (at.header_line && profile_override.empty()
                      ? ":" + std::to_string(at.header_line) + ":" +
                            std::to_string(at.profile_column)
                      : std::string())
              << ": unknown " << B::kName << " profile '" << trace.profile
              << "' (valid: " << B::profile_names() << ")\n";
    return kUsage;
  }
  if (!B::target_supports(trace.profile)) {
    std::cerr << "lockstep replay: " << file.path << ": no real " << B::kName
              << " target implements profile '" << trace.profile
              << "'; use `lockstep peer` for peer profiles\n";
    return kUsage;
  }
  auto model = B::model(trace.profile);
  auto target = B::target(trace.profile);
  auto verdict = run<typename B::P>(trace.ops, model, target);
  std::cout << side_by_side<typename B::P>(trace.profile, trace.ops, verdict);
  const std::vector<std::string> mismatches = B::note_mismatches(trace, verdict.model);
  for (const auto& m : mismatches) std::cout << "# " << m << "\n";
  const size_t annotation_mismatches = mismatches.size();
  std::cout << "# " << file.path << " (" << B::kName << "): " << trace.ops.size() << " ops, "
            << (verdict.ok() ? "no divergence" : "DIVERGED") << ", fds +" << verdict.fds_delta
            << " (model expects +" << verdict.fds_expected << ")"
            << (annotation_mismatches
                    ? ", annotation mismatches: " + std::to_string(annotation_mismatches)
                    : "")
            << "\n";
  return verdict.ok() && annotation_mismatches == 0 ? kOk : kFinding;
}

int replay_as(const std::string& protocol, const InputFile& file, const std::string& profile) {
  return with_binding(protocol,
                      [&](auto binding) { return replay_with<decltype(binding)>(file, profile); });
}

// A fuzz input whose context names no target: both targets accept any byte string, so it is
// replayed under each and the worse verdict wins; it is never passed on a guess.
int replay_under_both(const InputFile& file, const std::string& profile) {
  std::cout << "# " << file.path
            << ": nothing says which fuzz target wrote this input (pass --protocol, or keep it "
               "under a path naming the target); replaying it under both\n";
  int worst = kOk;
  for (const char* protocol : {"mshv", "vhost"})
    worst = std::max(worst, replay_as(protocol, file, profile));
  return worst;
}

}  // namespace

int replay(const std::string& path, const std::string& protocol, const std::string& profile) {
  try {
    const InputFile file = read_input(path);
    if (!protocol.empty() && file.text && protocol != file.protocol)
      throw InputError(path + ": --protocol " + protocol + " but the program header says " +
                       file.protocol);
    const std::string& chosen = protocol.empty() ? file.protocol : protocol;
    if (chosen.empty()) return replay_under_both(file, profile);
    return replay_as(chosen, file, profile);
  } catch (const InputError& e) {
    std::cerr << "lockstep replay: " << e.what() << "\n";
    return kUsage;
  } catch (const ParseError& e) {
    std::cerr << "lockstep replay: " << path << ":" << e.what() << "\n";
    return kUsage;
  } catch (const std::exception& e) {
    std::cerr << "lockstep replay: " << path << ": " << e.what() << "\n";
    return kUsage;
  }
}

}  // namespace lockstep::tools
