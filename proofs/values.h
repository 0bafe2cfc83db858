// Reading values out of a Z3 model: booleans as 0/1, bit-vectors as unsigned numbers.
#pragma once
#include <z3++.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace lockstep::proofs {

// The model's value of the term, completed where the model says nothing.
inline uint64_t value_of(const z3::model& m, const z3::expr& term) {
  z3::expr v = m.eval(term, true);
  if (!v.is_bool()) return v.get_numeral_uint64();
  if (!v.is_true() && !v.is_false()) throw std::runtime_error("not a value: " + v.to_string());
  return v.is_true() ? 1 : 0;
}

inline std::vector<uint64_t> values_of(const z3::model& m, const std::vector<z3::expr>& terms) {
  std::vector<uint64_t> out;
  for (const z3::expr& t : terms) out.push_back(value_of(m, t));
  return out;
}

}  // namespace lockstep::proofs
