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
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace lockstep {

struct Arg {
  std::string key;  // empty for a positional argument
  std::string value;
  bool operator==(const Arg&) const = default;
};

struct Call {
  std::string result;  // "d0" in "d0 = create_device(...)"; empty if none
  std::string name;
  std::vector<Arg> args;
  bool operator==(const Call&) const = default;
};

struct ProgramLine {
  Call call;
  std::string note;  // text after '#', trimmed; empty if none
};

struct ProgramText {
  std::string protocol;  // "mshv", "vhost"
  std::string profile;
  std::vector<ProgramLine> lines;
};

class ParseError : public std::runtime_error {
 public:
  ParseError(int line, const std::string& what)
      : std::runtime_error("line " + std::to_string(line) + ": " + what), line_(line) {}
  int line() const { return line_; }

 private:
  int line_;
};

std::string format_call(const Call& call);
// One line: the call, then the note aligned at a fixed column.
std::string format_line(const ProgramLine& line);
std::string format_program(const ProgramText& program);

Call parse_call(std::string_view text, int line_number);
// Blank lines and lines starting with '#' (other than the header) are skipped.
ProgramText parse_program(std::string_view text);

// Expected outcome written in a note: "= 0" -> 0, "EEXIST" -> EEXIST; nullopt if the note
// states none.
std::optional<int> expected_errno(std::string_view note);

// Helpers for protocols mapping arguments.
const Arg* find_arg(const Call& call, std::string_view key);
std::string format_uint(uint64_t v, bool hex);
// Accepts decimal, 0x-hex and negative decimal; throws ParseError on anything else.
int64_t parse_int(std::string_view text, int line_number);

}  // namespace lockstep
