// The text forms of a `lockstep prove` report (the JSON of proofs/report.h), one protocol each:
// the matrix `prove` and `summary` print (invariants as rows, profiles as columns, a mark per
// result, the unexpected results listed below it), and the full report of `prove --verbose`
// (scope, vacuity sample, one row per invariant x profile).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lockstep::tools {

// The mark of one result row: ✓ holds, ✗ fails, V vacuous, ? unknown; a result other than
// "holds" that the protocol's binding expects (a negative variant failing, a third-party
// profile's documented behaviour) carries "exp": ✗exp.
std::string proof_mark(const nlohmann::json& row);

// The rows the binding does not accept, one line each ("" when there are none).
std::vector<std::string> unexpected_results(const nlohmann::json& report);

// "mshv: 8 invariants x 10 profiles", the matrix, the legend of its negative-variant columns,
// and the unexpected results (or "unexpected: none").
std::string proof_matrix(const nlohmann::json& report);

// What the marks mean (printed once under the matrices).
std::string proof_legend();

// Everything: bounds, exclusions, the vacuity sample per profile, a row per result, times.
std::string proof_rows(const nlohmann::json& report);

}  // namespace lockstep::tools
