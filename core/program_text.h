// The readable program format shared by every protocol, in the manner of syzkaller's programs:
//
//   # lockstep mshv  profile=mshv-v1
//   p0 = open_partition()
//   d0 = create_device(p0, type=0, flags=0x0)          # = 0
//   set_attr(d0, group=1, attr=1, fd=f0)               # EEXIST
//
// A line is one call: an optional result name, the call name, positional and key=value
// arguments, and an optional note after '#'. A note that starts with "= N" or an errno name is
// the expected outcome. Each protocol maps its ops to and from Calls; this file only does the
// syntax, so the two protocols print and parse identically.
#pragma once
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/trace.h"

namespace lockstep {

struct Arg {
  std::string key;  // empty for a positional argument
  std::string value;
  int column = 0;  // 1-based column of the argument in its line (0: not from a file)
  bool operator==(const Arg& o) const { return key == o.key && value == o.value; }
};

struct Call {
  std::string result;  // "d0" in "d0 = create_device(...)"; empty if none
  std::string name;
  std::vector<Arg> args;
  int column = 0;  // 1-based column of the call name (0: not from a file)
  bool operator==(const Call& o) const {
    return result == o.result && name == o.name && args == o.args;
  }
};

struct ProgramLine {
  Call call;
  std::string note;     // text after '#', trimmed; empty if none
  int line_number = 0;  // 1-based line in the file
};

struct ProgramText {
  std::string protocol;  // "mshv", "vhost"
  std::string profile;
  std::vector<ProgramLine> lines;
  std::vector<VerbatimLine> verbatim;  // comments and blank lines, printed back in place
  int header_line = 0;                 // the line of "# lockstep <protocol>"
  int profile_column = 0;              // the column of the profile's name in that line
};

// "LINE:COL: what is wrong" (the CLI prefixes the file name); "LINE: ..." without a column.
class ParseError : public std::runtime_error {
 public:
  ParseError(int line, const std::string& what) : ParseError(line, 0, what) {}
  ParseError(int line, int column, const std::string& what)
      : std::runtime_error(std::to_string(line) + (column ? ":" + std::to_string(column) : "") +
                           ": " + what),
        line_(line),
        column_(column),
        message_(what) {}
  int line() const { return line_; }
  int column() const { return column_; }
  const std::string& message() const { return message_; }  // without the position

 private:
  int line_, column_;
  std::string message_;
};

// Runs f(), which reads argument `arg`; an error it raises without a column gets the argument's.
template <class F>
auto at_argument(const Arg& arg, F&& f) {
  try {
    return f();
  } catch (const ParseError& e) {
    if (e.column()) throw;
    throw ParseError(e.line(), arg.column, e.message());
  }
}

std::string format_call(const Call& call);
// One line: the call, then the note aligned at a fixed column.
std::string format_line(const ProgramLine& line);
std::string format_program(const ProgramText& program);

Call parse_call(std::string_view text, int line_number);
// Blank lines and lines starting with '#' (other than the header) are kept as verbatim lines.
ProgramText parse_program(std::string_view text);
// The header must name `protocol`: a ParseError at the protocol's name otherwise, telling an
// unknown protocol (mshv, vhost) from the other one.
void require_protocol(const ProgramText& program, std::string_view protocol);

// Expected outcome written in a note: "= 0" -> 0, "EEXIST" -> EEXIST; nullopt if the note
// states none.
std::optional<int> expected_errno(std::string_view note);

// Helpers for protocols mapping arguments.
const Arg* find_arg(const Call& call, std::string_view key);
std::string format_uint(uint64_t v, bool hex);
// Accepts decimal, 0x-hex and negative decimal; throws ParseError on anything else.
int64_t parse_int(std::string_view text, int line_number);
// A number argument of a field that holds 0..max (decimal or 0x-hex): a negative or larger
// value is an error at the argument's position, naming the field and its range.
uint64_t parse_uint(const Arg& arg, uint64_t max, int line_number);

// Reads a call's arguments and, at the end, refuses any it did not read (unknown keys, extra
// positionals) at their position. Protocols map their calls through it.
class ArgReader {
 public:
  ArgReader(const Call& call, int line) : call_(call), line_(line), used_(call.args.size()) {}
  const Call& call() const { return call_; }
  int line() const { return line_; }
  // The next positional argument; an error naming `what` when there is none.
  const Arg& positional(std::string_view what);
  // The next positional argument, or nullptr when there is none.
  const Arg* optional_positional();
  // The argument `key`, marked read; nullptr if absent.
  const Arg* keyed(std::string_view key);
  template <class T>
  T number(std::string_view key, T fallback) {
    const Arg* arg = keyed(key);
    return arg ? static_cast<T>(parse_uint(*arg, std::numeric_limits<T>::max(), line_)) : fallback;
  }
  // Throws at the first argument not read, listing `known` (the call's keys).
  void finish(std::string_view known);
  [[noreturn]] void fail(const Arg& at, const std::string& what) const;
  [[noreturn]] void fail(const std::string& what) const;  // at the call's name

 private:
  const Call& call_;
  int line_;
  std::vector<bool> used_;
  size_t next_positional_ = 0;
};

}  // namespace lockstep
