// `lockstep summary FILE...`: the one screen README command 1 (tools/main-job.sh) ends with,
// rendered from the --json documents of `run`, `prove` and `peer` it collected: per protocol the
// campaign's traces, ops, divergences, fds leaked and exec/s; the proofs as matrices; each peer's
// agreement and new findings, or why it cannot run here; a verdict line with the exit code.
#pragma once
#include <string>
#include <vector>

namespace lockstep::tools {

// 0 everything agreed; 1 a finding (a divergence, an fd leak, an unexpected proof result, a
// peer disagreement the expectations file does not explain); 2 a document that cannot be read,
// or one of a command that exited 2; 3 a run or proof command that could not run here (a peer
// that cannot run here is reported, not counted).
int summary(const std::vector<std::string>& files);

}  // namespace lockstep::tools
