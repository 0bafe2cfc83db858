// `lockstep prove`: the proofs of proofs/ for one protocol or both, through each binding's Proofs
// (tools/bindings.h). Compiled into the `lockstep` executable only, which links Z3.
#pragma once
#include <string>

namespace lockstep::tools {

struct ProveOptions {
  std::string protocol = "all";  // mshv | vhost | all
  std::string profile;           // empty: shipped + mutants
  bool json = false;
  bool verbose = false;     // the full report (scope, sample, a row per result), not the matrix
  std::string emit_corpus;  // directory, or empty
  std::string corpus_root;  // the vacuity sample <root>/programs/<target>/*.txt; empty:
                            // default_corpus_root()
  std::string sarif_path;   // "" = none; else one result per failing or vacuous proof row
};
// Prints each protocol's proof matrix (tools/proof_text.h), with `verbose` its full report, or
// JSON (one object, or an array of them for "all"), and the wall time of the run; returns 0 when
// every protocol's results are acceptable to its binding (proofs/<protocol>/binding.h; never a
// vacuous one), 1 otherwise, 2 for an unknown protocol or profile.
int prove(const ProveOptions& options);

}  // namespace lockstep::tools
