// A peer's expectations file (peers/<peer>/expectations.txt): every disagreement the peer is
// known to have with the models, by stable signature, with its classification and the evidence
// for it, reviewed like code. The campaign classifies a disagreement by this file only; its
// binding's heuristic triage is printed beside it as a suggestion. The audit fails on any
// disagreement the file does not list and on any corpus entry the corpus no longer reproduces.
//
// Syntax (one entry per signature; '#' starts a comment line; indentation marks a field):
//
//   expect dpdk-22.11: lockstep: divergence dpdk-peer/SET_FEATURES/closed
//     class: peer-defect             deviation | model-gap | peer-defect | spec-ambiguity
//     seen-by: generated             corpus (the corpus phase must reproduce it) | generated
//     why: one paragraph, printed in the report and the finding file
//     evidence: source lib/vhost/vhost_user.c: vhost_user_set_features   (one or more, each
//     evidence: probe  <what was run and what the peer showed>            `source` or `probe`)
//
// Errors name the file position: "peers/dpdk/expectations.txt:12:3: unknown field 'clas'".
#pragma once
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace lockstep::peers {

struct Expectation {
  std::string signature;
  std::string class_name;  // as written: deviation, model-gap, peer-defect, spec-ambiguity
  char kind = '?';         // the report's letter: a, b, c, s
  bool corpus = false;     // seen-by: corpus
  std::string why;
  std::vector<std::string> evidence;
  int line = 0;  // of the `expect` line
};

struct Expectations {
  std::string path;
  std::vector<Expectation> entries;
  const Expectation* find(std::string_view signature) const;
};

struct ExpectationsError : std::runtime_error {
  using std::runtime_error::runtime_error;  // "PATH:LINE:COL: message"
};

// What a peer's signatures look like: `PROFILE: lockstep: divergence PEER-peer/OP/FIELD` or
// `PROFILE: lockstep: fd-leak PEER-peer`, either optionally followed by ` (details)`, where
// PROFILE is one the peer runs. Without a peer name signatures are not checked.
struct SignatureRules {
  std::string peer;                                    // "dpdk": the signatures name dpdk-peer
  bool (*runs_profile)(const std::string&) = nullptr;  // the profiles the peer runs
  std::string profiles;                                // named in the error for an unknown one
};

// Throws ExpectationsError at the first error.
Expectations parse_expectations(std::string_view text, const std::string& path,
                                const SignatureRules& rules = {});
// Reads and parses `path`: a regular, non-empty file of UTF-8 text (a directory, FIFO, device,
// missing or empty file is an ExpectationsError too; a FIFO is never opened).
Expectations load_expectations(const std::string& path, const SignatureRules& rules = {});

// What the signatures a campaign saw say about the file, one line per problem ("" = none):
// a signature the file does not list, a corpus entry the corpus phase did not reproduce, and a
// generated entry the corpus does reproduce (the file must say where each one is seen).
// `profiles` limits the second check to the entries whose signature starts with one of them.
std::vector<std::string> audit(const Expectations& file, const std::set<std::string>& corpus_seen,
                               const std::set<std::string>& all_seen,
                               const std::vector<std::string>& profiles);

}  // namespace lockstep::peers
