#include "core/program_files.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace lockstep {

namespace fs = std::filesystem;

void require_regular_file(const std::string& path, std::string_view empty_means) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw InputError(path + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw InputError(path + ": is a directory, expected a file");
  if (!S_ISREG(st.st_mode))
    throw InputError(path + ": not a regular file (a FIFO, socket or device is never read)");
  if (st.st_size == 0) throw InputError(path + ": empty file: " + std::string(empty_means));
}

std::string read_regular_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": " + std::strerror(errno));
  std::string bytes{std::istreambuf_iterator<char>(in), {}};
  if (in.bad()) throw InputError(path + ": " + std::strerror(errno));
  return bytes;
}

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

namespace {

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

}  // namespace

void require_utf8(const std::string& path, std::string_view bytes, std::string_view why) {
  if (size_t bad = first_non_text_byte(bytes); bad != std::string_view::npos)
    throw InputError(path + ":" + position_of(bytes, bad) +
                     ": not UTF-8 text: " + std::string(why));
}

namespace {
constexpr std::string_view kNotText =
    "a .txt file must be a readable program (fuzz inputs are binary files without the .txt "
    "extension)";
}  // namespace

std::string read_text_file(const fs::path& path) {
  require_regular_file(path.string());
  std::string text = read_regular_file(path.string());
  require_utf8(path.string(), text, kNotText);
  return text;
}

std::string program_protocol(const std::string& path, std::string_view bytes) {
  require_utf8(path, bytes, kNotText);
  const ProgramText program =
      parse_program_file(path, bytes, [](std::string_view t) { return parse_program(t); });
  if (program.protocol != "mshv" && program.protocol != "vhost")
    throw InputError(path + ":" + std::to_string(program.header_line) + ":12: unknown protocol '" +
                     program.protocol + "' (mshv, vhost)");
  return program.protocol;
}

std::string protocol_of_corpus_dir(std::string_view name) {
  if (name == "mshv_device") return "mshv";
  if (name == "vhost_postcopy") return "vhost";
  return "";
}

std::vector<fs::path> program_paths(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".txt") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

ProgramFile read_program(const fs::path& path) {
  ProgramFile file{path, read_text_file(path), ""};
  file.protocol = program_protocol(path.string(), file.text);
  const std::string dir = path.parent_path().filename().string();
  if (const std::string want = protocol_of_corpus_dir(dir); !want.empty() && file.protocol != want)
    throw InputError(path.string() + ":" + std::to_string(parse_program(file.text).header_line) +
                     ":12: expected '# lockstep " + want + "' in " + dir + "/, got protocol '" +
                     file.protocol + "'");
  return file;
}

std::vector<std::pair<fs::path, std::string>> read_programs(const fs::path& dir) {
  std::vector<std::pair<fs::path, std::string>> out;
  for (const auto& path : program_paths(dir)) {
    ProgramFile file = read_program(path);
    out.emplace_back(std::move(file.path), std::move(file.text));
  }
  return out;
}

}  // namespace lockstep
