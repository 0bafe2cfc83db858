// The `lockstep` subcommands, generic over a protocol binding (tools/bindings.h).
#pragma once
#include <cstdint>
#include <string>

namespace lockstep::tools {

// `lockstep replay FILE`: a readable program (.txt) or a fuzz input (anything else). Prints the
// program with model and target outcomes side by side. Returns 0 when they agree (and agree
// with the program's annotations), 1 otherwise, 2 for unreadable input.
int replay(const std::string& path, const std::string& protocol, const std::string& profile);

struct CampaignOptions {
  std::string protocol;
  double seconds = 10;
  uint64_t seed = 1;
  std::string corpus_root = "corpus";
  std::string findings_dir = "findings";
};
// `lockstep run PROTOCOL --seconds N`: replays the shipped corpus, then runs random and mutated
// inputs for N seconds; prints a summary table. Returns 1 if anything diverged.
int run_campaign(const CampaignOptions& options);

// `lockstep corpus build`: every readable program under corpus/programs/<name>/ becomes
// corpus/<name>/<stem>.bin. `lockstep corpus check`: the twins agree. Returns 0 on success.
int corpus_build(const std::string& corpus_root, bool check_only);

}  // namespace lockstep::tools
