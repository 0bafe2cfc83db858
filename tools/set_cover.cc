#include "tools/set_cover.h"

#include <algorithm>

namespace lockstep::tools {

std::vector<size_t> greedy_cover(const std::vector<CoverInput>& inputs) {
  uint32_t max_id = 0;
  for (const CoverInput& in : inputs)
    for (uint32_t e : in.covers) max_id = std::max(max_id, e + 1);
  std::vector<bool> done(max_id, false);
  std::vector<bool> taken(inputs.size(), false);
  std::vector<size_t> chosen;
  for (;;) {
    size_t best = inputs.size(), best_gain = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (taken[i]) continue;
      std::vector<uint32_t> fresh;
      for (uint32_t e : inputs[i].covers)
        if (!done[e]) fresh.push_back(e);
      std::sort(fresh.begin(), fresh.end());
      const size_t gain = std::unique(fresh.begin(), fresh.end()) - fresh.begin();
      const bool better =
          gain > best_gain || (gain == best_gain && gain > 0 && inputs[i].size < inputs[best].size);
      if (better) best = i, best_gain = gain;
    }
    if (best == inputs.size()) return chosen;  // nothing adds an element: all covered
    taken[best] = true;
    chosen.push_back(best);
    for (uint32_t e : inputs[best].covers) done[e] = true;
  }
}

std::vector<uint32_t> covered(const std::vector<CoverInput>& inputs,
                              const std::vector<size_t>& chosen) {
  std::vector<uint32_t> out;
  for (size_t i : chosen) out.insert(out.end(), inputs[i].covers.begin(), inputs[i].covers.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace lockstep::tools
