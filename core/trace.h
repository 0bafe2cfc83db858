// A trace: the profile it was written for and its ops, with the note each line carried in the
// readable form (kept so that text -> trace -> text round-trips exactly).
#pragma once
#include <string>
#include <vector>

namespace lockstep {

template <class Op>
struct Trace {
  std::string profile;
  std::vector<Op> ops;
  std::vector<std::string> notes;  // empty, or one per op ("= 0", "EEXIST", free text)
};

}  // namespace lockstep
