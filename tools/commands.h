// The `lockstep` subcommands, generic over a protocol binding (tools/bindings.h).
#pragma once
#include <cstdint>
#include <string>

namespace lockstep::tools {

// `lockstep replay FILE`: a readable program (.txt) or a fuzz input (anything else). Prints the
// program with model and target outcomes side by side. `impl_mutant`: a name of `lockstep
// mutants` for the file's protocol, or "". Returns 0 when they agree (and agree with the
// program's annotations), 1 otherwise, 2 for unreadable input or an unknown profile or mutant.
int replay(const std::string& path, const std::string& protocol, const std::string& profile,
           const std::string& impl_mutant = "");

struct CampaignOptions {
  std::string protocol;
  double seconds = 10;
  uint64_t seed = 1;
  std::string corpus_root = "corpus";
  std::string findings_dir = "findings";
  std::string impl_mutant;  // a name of `lockstep mutants` for the protocol, or ""
};
// `lockstep run PROTOCOL --seconds N`: replays the shipped corpus, then runs random and mutated
// inputs for N seconds; prints a summary table. Returns 1 if anything diverged, 2 for an unknown
// protocol or impl mutant.
int run_campaign(const CampaignOptions& options);

// `lockstep corpus build`: every readable program under corpus/programs/<name>/ becomes
// corpus/<name>/<stem>.bin. `lockstep corpus check`: the twins agree. Returns 0 on success.
int corpus_build(const std::string& corpus_root, bool check_only);

// `lockstep mutants [--json|--markdown]`: the impl mutants of impl/mutants.h. Returns 0.
int list_mutants(bool json, bool markdown);

}  // namespace lockstep::tools
