#include "tools/input_file.h"

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
  InputFile file{path, read_regular_file(path), false, "", ""};
  file.text = fs::path(path).extension() == ".txt" || looks_like_program(file.bytes);
  if (file.text) {
    file.protocol = program_protocol(path, file.bytes);
    file.protocol_source = "the program header";
  } else {
    file.protocol = protocol_from_context(path);
    if (!file.protocol.empty()) file.protocol_source = "the path or fuzzer_stats";
  }
  return file;
}

std::string input_error_message(const std::string& path) {
  try {
    throw;
  } catch (const InputError& e) {
    return e.what();
  } catch (const ParseError& e) {
    return path + ":" + e.what();
  } catch (const std::exception& e) {
    return path + ": " + e.what();
  }
}

void prepare_output_dir(const std::string& path, const std::string& option) {
  std::error_code ec;
  if (fs::exists(path, ec) && !fs::is_directory(path, ec))
    throw InputError(path + ": not a directory (" + option + " names a directory)");
  fs::create_directories(path, ec);
  if (ec) throw InputError(path + ": cannot create the " + option + " directory: " + ec.message());
  if (::access(path.c_str(), W_OK | X_OK) != 0)
    throw InputError(path + ": cannot write the " + option + " directory: " + std::strerror(errno));
}

std::string default_corpus_root() {
  if (fs::is_directory("corpus/programs")) return "corpus";
  return std::string(LOCKSTEP_SOURCE_DIR) + "/corpus";
}

std::string read_text(const std::string& path) {
  if (path == "-") return {std::istreambuf_iterator<char>(std::cin), {}};
  return read_input(path).bytes;
}

}  // namespace lockstep::tools
