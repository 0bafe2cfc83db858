#include "core/program_text.h"

#include <cctype>
#include <charconv>
#include <cstdio>

#include "core/errno_names.h"

namespace lockstep {
namespace {

constexpr size_t kNoteColumn = 54;  // notes line up, as in the examples of DESIGN.md

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool is_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
      return false;
  return true;
}

// Splits "a, b=c, d" at top-level commas (values never contain parentheses or commas).
std::vector<std::string_view> split_args(std::string_view s) {
  std::vector<std::string_view> out;
  if (trim(s).empty()) return out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == ',') {
      out.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  return out;
}

// 1-based column of `part` (a view into `line`) in `line`.
int column_of(std::string_view line, std::string_view part) {
  return static_cast<int>(part.data() - line.data()) + 1;
}

}  // namespace

std::string format_call(const Call& call) {
  std::string out;
  if (!call.result.empty()) out += call.result + " = ";
  out += call.name + "(";
  for (size_t i = 0; i < call.args.size(); ++i) {
    if (i) out += ", ";
    if (!call.args[i].key.empty()) out += call.args[i].key + "=";
    out += call.args[i].value;
  }
  return out + ")";
}

std::string format_line(const ProgramLine& line) {
  std::string out = format_call(line.call);
  if (line.note.empty()) return out;
  out += out.size() + 1 < kNoteColumn ? std::string(kNoteColumn - out.size(), ' ') : "  ";
  return out + "# " + line.note;
}

std::string format_program(const ProgramText& program) {
  std::string out;
  auto verbatim = program.verbatim.begin();
  auto emit_verbatim = [&](size_t before_op, bool before_header) {
    for (; verbatim != program.verbatim.end() && verbatim->before_header == before_header &&
           verbatim->before_op <= before_op;
         ++verbatim)
      out += verbatim->text + "\n";
  };
  emit_verbatim(0, true);
  out += "# lockstep " + program.protocol + "  profile=" + program.profile + "\n";
  for (size_t i = 0; i < program.lines.size(); ++i) {
    emit_verbatim(i, false);
    out += format_line(program.lines[i]) + "\n";
  }
  emit_verbatim(program.lines.size(), false);
  return out;
}

Call parse_call(std::string_view text, int line_number) {
  Call call;
  const std::string_view line = text;
  text = trim(text);
  if (auto eq = text.find('='); eq != std::string_view::npos && eq < text.find('(')) {
    call.result = std::string(trim(text.substr(0, eq)));
    if (!is_name(call.result))
      throw ParseError(line_number, static_cast<int>(text.data() - line.data()) + 1,
                       "bad result name '" + call.result + "'");
    text = trim(text.substr(eq + 1));
  }
  auto open = text.find('(');
  if (open == std::string_view::npos || text.back() != ')')
    throw ParseError(line_number, static_cast<int>(text.data() - line.data()) + 1,
                     "expected name(args...), got '" + std::string(text) + "'");
  const std::string_view name = trim(text.substr(0, open));
  call.name = std::string(name);
  call.column = column_of(line, name);
  if (!is_name(call.name))
    throw ParseError(line_number, call.column, "bad call name '" + call.name + "'");
  for (auto piece : split_args(text.substr(open + 1, text.size() - open - 2))) {
    Arg arg;
    arg.column = piece.empty() ? column_of(line, text.substr(open)) : column_of(line, piece);
    if (auto eq = piece.find('='); eq != std::string_view::npos) {
      arg.key = std::string(trim(piece.substr(0, eq)));
      arg.value = std::string(trim(piece.substr(eq + 1)));
      if (!is_name(arg.key))
        throw ParseError(line_number, arg.column, "bad argument name '" + arg.key + "'");
    } else {
      arg.value = std::string(piece);
    }
    if (arg.value.empty())
      throw ParseError(line_number, arg.column, "empty argument in " + call.name);
    call.args.push_back(std::move(arg));
  }
  return call;
}

void require_protocol(const ProgramText& program, std::string_view protocol) {
  if (program.protocol == protocol) return;
  constexpr int kColumn = 12;  // after "# lockstep "; the header starts its line
  if (program.protocol != "mshv" && program.protocol != "vhost")
    throw ParseError(program.header_line, kColumn,
                     "unknown protocol '" + program.protocol + "' (mshv, vhost)");
  throw ParseError(program.header_line, kColumn,
                   "expected '# lockstep " + std::string(protocol) + "', got protocol '" +
                       program.protocol + "'");
}

ProgramText parse_program(std::string_view text) {
  ProgramText program;
  int line_number = 0;
  bool header_seen = false;
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // a UTF-8 byte order mark
  while (!text.empty()) {
    auto nl = text.find('\n');
    const std::string_view line_start = text.substr(0, nl);
    std::string_view raw = trim(line_start);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_number;
    constexpr std::string_view kHeader = "# lockstep ";
    if (!header_seen && raw.substr(0, kHeader.size()) == kHeader) {
      header_seen = true;
      program.header_line = line_number;
      std::string_view rest = trim(raw.substr(kHeader.size()));
      auto space = rest.find(' ');
      program.protocol = std::string(rest.substr(0, space));
      if (program.protocol.empty())
        throw ParseError(line_number, 1, "the header names no protocol (mshv, vhost)");
      if (auto p = raw.find("profile="); p != std::string_view::npos) {
        program.profile = std::string(trim(raw.substr(p + 8)));
        program.profile_column = static_cast<int>(p + 9 + (raw.data() - line_start.data()));
      }
      continue;
    }
    if (raw.empty() || raw.front() == '#') {
      program.verbatim.push_back({program.lines.size(), !header_seen, std::string(raw)});
      continue;
    }
    if (!header_seen) throw ParseError(line_number, 1, "missing '# lockstep <protocol>' header");
    ProgramLine line;
    line.line_number = line_number;
    auto hash = raw.find('#');
    line.call = parse_call(raw.substr(0, hash), line_number);
    if (hash != std::string_view::npos) line.note = std::string(trim(raw.substr(hash + 1)));
    program.lines.push_back(std::move(line));
  }
  if (!header_seen) throw ParseError(line_number, 1, "missing '# lockstep <protocol>' header");
  return program;
}

std::optional<int> expected_errno(std::string_view note) {
  note = trim(note);
  if (note.starts_with("= ")) {
    auto rest = trim(note.substr(2));
    int value = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
    if (ec == std::errc() && (end == rest.data() + rest.size() || *end == ' ')) return value;
    return std::nullopt;
  }
  auto space = note.find(' ');
  return errno_from_name(note.substr(0, space));
}

const Arg* find_arg(const Call& call, std::string_view key) {
  for (const auto& arg : call.args)
    if (arg.key == key) return &arg;
  return nullptr;
}

std::string format_uint(uint64_t v, bool hex) {
  if (!hex) return std::to_string(v);
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

int64_t parse_int(std::string_view text, int line_number) {
  bool negative = text.starts_with('-');
  std::string_view digits = negative ? text.substr(1) : text;
  int base = 10;
  if (digits.starts_with("0x") || digits.starts_with("0X")) {
    base = 16;
    digits.remove_prefix(2);
  }
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
    throw ParseError(line_number, "not a number: '" + std::string(text) + "'");
  return negative ? -static_cast<int64_t>(value) : static_cast<int64_t>(value);
}

uint64_t parse_uint(const Arg& arg, uint64_t max, int line_number) {
  const std::string name = arg.key.empty() ? "'" + arg.value + "'" : arg.key + "=" + arg.value;
  const std::string range = " (0.." + format_uint(max, max > 0xffff) + ")";
  if (arg.value.starts_with('-'))
    throw ParseError(line_number, arg.column, name + ": a negative value" + range);
  int64_t v = 0;
  try {
    v = parse_int(arg.value, line_number);
  } catch (const ParseError&) {
    throw ParseError(line_number, arg.column, name + ": not a number" + range);
  }
  if (static_cast<uint64_t>(v) > max)
    throw ParseError(line_number, arg.column, name + ": out of range" + range);
  return static_cast<uint64_t>(v);
}

const Arg* ArgReader::optional_positional() {
  for (size_t i = 0, seen = 0; i < call_.args.size(); ++i)
    if (call_.args[i].key.empty() && seen++ == next_positional_) {
      ++next_positional_;
      used_[i] = true;
      return &call_.args[i];
    }
  return nullptr;
}

const Arg& ArgReader::positional(std::string_view what) {
  if (const Arg* arg = optional_positional()) return *arg;
  fail(call_.name + ": missing argument " + std::to_string(next_positional_ + 1) + " (" +
       std::string(what) + ")");
}

const Arg* ArgReader::keyed(std::string_view key) {
  for (size_t i = 0; i < call_.args.size(); ++i)
    if (call_.args[i].key == key) {
      used_[i] = true;
      return &call_.args[i];
    }
  return nullptr;
}

void ArgReader::finish(std::string_view known) {
  for (size_t i = 0; i < call_.args.size(); ++i) {
    if (used_[i]) continue;
    const Arg& a = call_.args[i];
    if (a.key.empty()) fail(a, call_.name + ": too many arguments ('" + a.value + "')");
    if (find_arg(call_, a.key) != &a) fail(a, call_.name + ": repeated argument '" + a.key + "'");
    fail(a, call_.name + ": unknown argument '" + a.key + "'" +
                (known.empty() ? " (it takes none)" : " (known: " + std::string(known) + ")"));
  }
}

void ArgReader::fail(const Arg& at, const std::string& what) const {
  throw ParseError(line_, at.column, what);
}

void ArgReader::fail(const std::string& what) const {
  throw ParseError(line_, call_.column, what);
}

}  // namespace lockstep
