// A trace: the profile it was written for and its ops, with what the readable form carried
// besides the ops (each line's note, comment lines, blank lines, line numbers), kept so that
// text -> trace -> text round-trips exactly and errors can name a line of the file.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace lockstep {

// A line of a program that is not an op: a comment ("# ...") or a blank line (""), printed back
// where it stood: before op `before_op`, or before the header.
struct VerbatimLine {
  size_t before_op = 0;
  bool before_header = false;
  std::string text;
  bool operator==(const VerbatimLine&) const = default;
};

// Where a trace read from a file came from; all zero for a decoded fuzz input.
struct SourcePositions {
  int header_line = 0;
  int profile_column = 0;     // column of the profile's name in the header line
  std::vector<int> op_lines;  // the file line of each op
};

template <class Op>
struct Trace {
  std::string profile;
  std::vector<Op> ops;
  std::vector<std::string> notes;  // empty, or one per op ("= 0", "EEXIST", free text)
  std::vector<VerbatimLine> verbatim;
  SourcePositions source;
};

}  // namespace lockstep
