// Findings as a SARIF 2.1.0 log (`--sarif FILE` of replay, run, peer and prove), for CI systems
// and SARIF viewers: one result per finding, each located at a program file and the line of the
// offending op. Every command fills a list of SarifFinding and calls write_sarif once, also when
// Ctrl-C stopped it early (tools/interrupt.h), so the log holds the findings so far.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lockstep::tools {

// The rules: stable ids, one per kind of finding (the class of a divergence signature, or what
// else makes a command exit 1).
namespace sarif_rule {
inline constexpr std::string_view kDivergence = "divergence";  // "lockstep: divergence ..."
inline constexpr std::string_view kFdLeak = "fd-leak";         // "lockstep: fd-leak ..."
inline constexpr std::string_view kAnnotationMismatch = "annotation-mismatch";
inline constexpr std::string_view kPeerDisagreement = "peer-disagreement";
inline constexpr std::string_view kExpectationAudit = "expectation-audit";
inline constexpr std::string_view kProofFails = "proof-fails";
inline constexpr std::string_view kProofVacuous = "proof-vacuous";
inline constexpr std::string_view kProofUnknown = "proof-unknown";
}  // namespace sarif_rule

struct SarifFinding {
  std::string_view rule;  // a sarif_rule id
  std::string message;
  std::string signature;  // the stable dedup key (partialFingerprints); "" = none
  std::string file;       // the program (or source) file it points at, as the command names it
  int line = 0;           // 1-based line of the offending op in `file`; 0 = the whole file
  // Set when the finding is expected (a peer disagreement its expectations file explains, a
  // failing proof of a negative variant): the result is kept, marked suppressed with this
  // justification, and does not make the command exit 1.
  std::string expected_because;
};

// The rule id of a divergence signature ("lockstep: fd-leak vhost" -> fd-leak; any other ->
// divergence); a peer's "<profile>: " prefix is skipped.
std::string_view rule_of_signature(std::string_view signature);

// The line of core/report.h side_by_side text (the header, then one line per op) showing the
// offending op of a divergence at op `index` of an `ops`-op trace: the diverging op, or for the
// end-of-trace fd check (index == ops) the last op, after which the fds were counted.
int side_by_side_line(size_t index, size_t ops);
// The op an end-of-trace divergence is pinned on likewise: `index`, or the last op.
size_t offending_op(size_t index, size_t ops);

// The first line of `file` containing `text` (1-based), or 0.
int line_containing(const std::string& file, std::string_view text);

// Writes the log to `path` (nothing when it is empty). `exit_code` is the command's. Returns
// false, having said why on stderr, when the file cannot be written.
bool write_sarif(const std::string& path, const std::vector<SarifFinding>& findings, int exit_code);

// The command's exit code after writing the log: kUsage when it could not be written, so that
// CI never reads a missing log as a clean run.
int with_sarif(const std::string& path, const std::vector<SarifFinding>& findings, int exit_code);

}  // namespace lockstep::tools
