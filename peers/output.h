// The machine-readable outputs of `lockstep peer NAME`: `--json` (one document of
// docs/lockstep-output.schema.json on stdout) and `--sarif FILE` (tools/sarif.h: one result per
// distinct disagreement, at the line of its offending op in the finding file; one per
// expectations-audit problem). Both are written on every exit path, an early one (exit 2 or 3)
// included, so a script always gets its document.
#pragma once
#include <string>

#include "peers/campaign.h"

namespace lockstep::peers {

// Writes what `options` asks for. `text` and `results` may be null (nothing ran); `error` is
// the reason of an exit 2 or 3. Returns `code`, or kUsage when the SARIF log cannot be written.
int write_outputs(const PeerInfo& peer, const PeerOptions& options, int code,
                  const ReportText* text, const Results* results, const std::string& error);

}  // namespace lockstep::peers
