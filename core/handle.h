// Abstract resource names used in traces (p0, d1, f2, ...): never raw fd numbers, so a trace
// replays identically on any machine and against any target.
#pragma once
#include <compare>
#include <cstdint>
#include <string>

namespace lockstep {

struct Handle {
  char kind = '?';  // one letter per resource class; each protocol defines its letters
  uint8_t index = 0;
  auto operator<=>(const Handle&) const = default;
};

inline std::string to_string(Handle h) {
  return std::string(1, h.kind) + std::to_string(h.index);
}

}  // namespace lockstep
