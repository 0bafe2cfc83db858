// `lockstep prove`: the proofs of proofs/ for one protocol, through its binding's Proofs
// (tools/bindings.h). Compiled into the `lockstep` executable only, which links Z3.
#pragma once
#include <string>

namespace lockstep::tools {

struct ProveOptions {
  std::string protocol = "mshv";
  std::string profile;  // empty: shipped + mutants
  bool json = false;
  std::string emit_corpus;  // directory, or empty
};
// Prints the table (or JSON); returns the protocol's exit code (proofs/<protocol>/binding.h),
// 2 for an unknown protocol or profile.
int prove(const ProveOptions& options);

}  // namespace lockstep::tools
