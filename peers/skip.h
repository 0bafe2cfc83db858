// What a peer cannot take is never faked: each peer names the first op of a trace it cannot
// run (its first_unsupported()), and its Target throws SkippedOp if handed one anyway.
#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>

namespace lockstep::peers {

struct Skip {
  size_t index;        // the first op the peer cannot take
  std::string reason;  // why, in words the reports print as they are
};

struct SkippedOp : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace lockstep::peers
