// Greedy set cover, the selection behind `lockstep corpus min`: each input covers a set of
// coverage elements (model transitions, engine edge features), and the kept inputs are chosen
// one at a time, each the input that adds the most elements not yet covered; ties go to the
// smaller input, then to the earlier one. The result covers every element any input covers
// (greedy is within a factor ln(n) of the smallest such set, not always the smallest).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lockstep::tools {

struct CoverInput {
  size_t size = 0;               // bytes: the tie-break
  std::vector<uint32_t> covers;  // element ids, any order, duplicates allowed
};

// The indices of the chosen inputs, in the order chosen.
std::vector<size_t> greedy_cover(const std::vector<CoverInput>& inputs);

// The distinct elements the inputs at `chosen` cover, sorted (all inputs when `chosen` is every
// index): the comparison that proves a selection lost nothing.
std::vector<uint32_t> covered(const std::vector<CoverInput>& inputs,
                              const std::vector<size_t>& chosen);

}  // namespace lockstep::tools
