#include "tools/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string_view>

#include "core/program_text.h"
#include "tools/commands.h"

namespace lockstep::tools {
namespace {

namespace fs = std::filesystem;

// The fuzz targets and corpus directories of each protocol, as they appear in paths.
struct Context {
  std::string_view protocol;
  std::array<std::string_view, 2> names;
};
constexpr std::array<Context, 2> kContexts{{
    {"mshv", {"fuzz_mshv_device", "mshv_device"}},
    {"vhost", {"fuzz_vhost_postcopy", "vhost_postcopy"}},
}};

// The protocol whose target or corpus name occurs in `text`; empty if none or both do.
std::string protocol_named_in(std::string_view text) {
  std::string found;
  for (const Context& c : kContexts)
    for (std::string_view name : c.names)
      if (text.find(name) != std::string_view::npos) {
        if (!found.empty() && found != c.protocol) return "";
        found = c.protocol;
      }
  return found;
}

// A file that must not be opened for reading as data: refused before open(), so a FIFO never
// blocks the command.
void require_regular_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw InputError(path + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw InputError(path + ": is a directory, expected a file");
  if (!S_ISREG(st.st_mode))
    throw InputError(path + ": not a regular file (a FIFO, socket or device is never read)");
  if (st.st_size == 0) throw InputError(path + ": empty file: neither a program nor a fuzz input");
}

std::string slurp(std::istream& in) {
  return {std::istreambuf_iterator<char>(in), {}};
}

// 1-based line and column of byte `offset`, for errors in text that is not a program.
std::string position_of(std::string_view text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

// Offset of the first byte that makes `text` not UTF-8 text (a NUL or a malformed sequence);
// npos if it is text.
size_t first_non_text_byte(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t length = c < 0x80           ? 1
                    : (c >> 5) == 0x6  ? 2
                    : (c >> 4) == 0xE  ? 3
                    : (c >> 3) == 0x1E ? 4
                                       : 0;
    if (c == 0 || length == 0 || i + length > text.size()) return i;
    for (size_t k = 1; k < length; ++k)
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return i;
    i += length;
  }
  return std::string_view::npos;
}

// True when the first line that is not blank, a comment or a BOM is the program header.
bool looks_like_program(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.starts_with("# lockstep ")) return true;
    if (!line.empty() && line != "\r" && line.front() != '#') return false;
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return false;
}

std::string text_program_protocol(const std::string& path, const std::string& bytes) {
  if (size_t bad = first_non_text_byte(bytes); bad != std::string::npos)
    throw InputError(path + ":" + position_of(bytes, bad) +
                     ": not UTF-8 text: a .txt file must be a readable program (fuzz inputs are "
                     "binary files without the .txt extension)");
  ProgramText program;
  try {
    program = parse_program(bytes);
  } catch (const ParseError& e) {
    throw InputError(path + ":" + e.what());
  }
  if (program.protocol != "mshv" && program.protocol != "vhost")
    throw InputError(path + ":" + std::to_string(program.header_line) + ":12: unknown protocol '" +
                     program.protocol + "' (mshv, vhost)");
  return program.protocol;
}

}  // namespace

std::string protocol_from_context(const std::string& path) {
  const fs::path p = fs::absolute(path);
  if (std::string named = protocol_named_in(p.string()); !named.empty()) return named;
  // AFL++ writes crashes to <out>/<instance>/crashes/id:...; <out>/<instance>/fuzzer_stats
  // records the target's command line.
  for (fs::path dir = p.parent_path(); dir.has_relative_path(); dir = dir.parent_path()) {
    std::ifstream stats(dir / "fuzzer_stats");
    for (std::string line; stats && std::getline(stats, line);)
      if (line.starts_with("command_line")) return protocol_named_in(line);
  }
  return "";
}

InputFile read_input(const std::string& path) {
  require_regular_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": " + std::strerror(errno));
  InputFile file{path, slurp(in), false, "", ""};
  file.text = fs::path(path).extension() == ".txt" || looks_like_program(file.bytes);
  if (file.text) {
    file.protocol = text_program_protocol(path, file.bytes);
    file.protocol_source = "the program header";
  } else {
    file.protocol = protocol_from_context(path);
    if (!file.protocol.empty()) file.protocol_source = "the path or fuzzer_stats";
  }
  return file;
}

std::string default_corpus_root() {
  if (fs::is_directory("corpus/programs")) return "corpus";
  return std::string(LOCKSTEP_SOURCE_DIR) + "/corpus";
}

std::string read_text(const std::string& path) {
  if (path == "-") return slurp(std::cin);
  return read_input(path).bytes;
}

}  // namespace lockstep::tools
