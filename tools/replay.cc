#include <fstream>
#include <iostream>
#include <iterator>

#include "core/program_text.h"
#include "core/report.h"
#include "impl/mutants.h"
#include "tools/bindings.h"
#include "tools/commands.h"

namespace lockstep::tools {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), {}};
}

bool is_program(const std::string& bytes) {
  return bytes.starts_with("# lockstep ");
}

// Protocol of a file: its header for programs, else the corpus directory it sits in.
std::string detect_protocol(const std::string& path, const std::string& bytes) {
  if (is_program(bytes)) {
    auto rest = bytes.substr(11);
    return rest.substr(0, rest.find_first_of(" \n"));
  }
  return path.find("vhost") != std::string::npos ? "vhost" : "mshv";
}

template <class B>
int replay_with(const std::string& path, const std::string& bytes,
                const std::string& profile_override, const std::string& impl_mutant) {
  const int mutant = impl_mutant_id(B::kName, impl_mutant);  // throws for an unknown name
  typename B::Trace trace =
      is_program(bytes) ? B::parse(bytes)
                        : B::decode({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  if (!profile_override.empty()) trace.profile = profile_override;
  if (!B::has_profile(trace.profile)) {
    std::cerr << "lockstep: unknown profile '" << trace.profile << "'\n";
    return 2;
  }
  if (!B::target_supports(trace.profile)) {
    std::cerr << "lockstep: no real " << B::kName << " target implements profile '" << trace.profile
              << "'; use `lockstep peer` for peer profiles\n";
    return 2;
  }
  auto model = B::model(trace.profile);
  auto target = B::target(trace.profile, mutant);
  auto verdict = run<typename B::P>(trace.ops, model, target);
  std::cout << side_by_side<typename B::P>(trace.profile, trace.ops, verdict);
  const std::vector<std::string> mismatches = B::note_mismatches(trace, verdict.model);
  for (const auto& m : mismatches) std::cout << "# " << m << "\n";
  const size_t annotation_mismatches = mismatches.size();
  std::cout << "# " << path << ": " << trace.ops.size() << " ops, "
            << (verdict.ok() ? "no divergence" : "DIVERGED")
            << (impl_mutant.empty() ? "" : " (impl mutant " + impl_mutant + ")") << ", fds +"
            << verdict.fds_delta << " (model expects +" << verdict.fds_expected << ")"
            << (annotation_mismatches
                    ? ", annotation mismatches: " + std::to_string(annotation_mismatches)
                    : "")
            << "\n";
  return verdict.ok() && annotation_mismatches == 0 ? 0 : 1;
}

}  // namespace

int replay(const std::string& path, const std::string& protocol, const std::string& profile,
           const std::string& impl_mutant) {
  try {
    std::string bytes = read_file(path);
    std::string proto = protocol.empty() ? detect_protocol(path, bytes) : protocol;
    return with_binding(proto, [&](auto binding) {
      return replay_with<decltype(binding)>(path, bytes, profile, impl_mutant);
    });
  } catch (const std::exception& e) {
    std::cerr << "lockstep replay: " << path << ": " << e.what() << "\n";
    return 2;
  }
}

}  // namespace lockstep::tools
