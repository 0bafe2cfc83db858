// `lockstep fmt`: programs in canonical form, comments and blank lines kept.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "core/program_text.h"
#include "tools/bindings.h"
#include "tools/commands.h"
#include "tools/exit_codes.h"
#include "tools/input_file.h"

namespace lockstep::tools {
namespace {

std::string canonical(const std::string& protocol, const std::string& text) {
  return with_binding(protocol,
                      [&](auto b) { return decltype(b)::print(decltype(b)::parse(text)); });
}

// Replaces `path` by `text` through a temporary file and a rename, so an interrupted write
// never leaves a half-written program.
void write_atomically(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".lockstep-fmt.tmp";
  {
    std::ofstream out(temporary, std::ios::binary);
    out << text;
    if (!out.flush()) throw InputError(path + ": cannot write " + temporary);
  }
  std::filesystem::rename(temporary, path);
}

int fmt_one(const std::string& path, bool check) {
  const bool stdio = path == "-";
  const std::string name = stdio ? "<stdin>" : path;
  std::string text, protocol;
  if (stdio) {
    text = read_text(path);
    protocol = parse_program(text).protocol;
  } else {
    InputFile file = read_input(path);
    if (!file.text) throw InputError(path + ": a binary fuzz input, not a program");
    text = std::move(file.bytes);
    protocol = file.protocol;
  }
  const std::string out = canonical(protocol, text);
  if (check) {
    if (out == text) return kOk;
    std::cerr << "lockstep fmt: " << name << ": not in canonical form\n";
    return kFinding;
  }
  if (stdio)
    std::cout << out;
  else if (out != text)
    write_atomically(path, out);
  return kOk;
}

}  // namespace

int fmt(const std::vector<std::string>& files, bool check) {
  int worst = kOk;
  for (const auto& path : files) {
    const std::string name = path == "-" ? "<stdin>" : path;
    try {
      worst = std::max(worst, fmt_one(path, check));
    } catch (const std::exception&) {
      std::cerr << "lockstep fmt: " << input_error_message(name) << "\n";
      worst = kUsage;
    }
  }
  return worst;
}

}  // namespace lockstep::tools
