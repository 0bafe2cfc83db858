// Reading readable programs from files, so that no command misreads one: a file is refused
// (InputError, "FILE: what" or "FILE:LINE:COL: what") before anything is built from it when it
// is not a regular file, is empty, is not UTF-8 text or lacks a `# lockstep <protocol>` header.
// Every command that reads programs (replay, fmt, corpus, run, peer, prove) goes through here.
#pragma once
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/program_text.h"

namespace lockstep {

// An input a command refuses; what() is "FILE: what is wrong" or "FILE:LINE:COL: what is wrong".
class InputError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws InputError unless `path` is a non-empty regular file (`empty_means` says why an empty
// one is refused). Checked before open(), so a FIFO is never opened and nothing blocks on it.
void require_regular_file(const std::string& path,
                          std::string_view empty_means = "neither a program nor a fuzz input");

// The whole of a file, read leniently (tests, logs, documents); empty if it cannot be opened.
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The bytes of a regular, non-empty file (require_regular_file first).
std::string read_regular_file(const std::string& path);

// "LINE:COL" of byte `offset` of `text`, columns counted in UTF-8 characters.
std::string position_of(std::string_view text, size_t offset);

// Throws InputError at the first byte that makes `bytes` not UTF-8 text (a NUL or a malformed
// sequence); `why` ends the message.
void require_utf8(const std::string& path, std::string_view bytes, std::string_view why);

// The text of a program file: a regular, non-empty file of UTF-8 text (InputError otherwise). Its
// syntax is the caller's to check (parse_program_file).
std::string read_text_file(const std::filesystem::path& path);

// The protocol a program's header names (mshv or vhost); InputError at the position otherwise.
std::string program_protocol(const std::string& path, std::string_view bytes);

// The protocol a corpus directory holds programs of, by its name (mshv_device, vhost_postcopy);
// empty for any other directory (e.g. mshv_kvm, programs of either vocabulary).
std::string protocol_of_corpus_dir(std::string_view name);

// The *.txt entries of `dir`, sorted by name, whatever their kind (a directory or FIFO named
// *.txt is listed, for read_programs to refuse); none when `dir` is not a directory.
std::vector<std::filesystem::path> program_paths(const std::filesystem::path& dir);

struct ProgramFile {
  std::filesystem::path path;
  std::string text;
  std::string protocol;  // the header's
};
// One program of a corpus directory, checked as above and its header's protocol against the
// directory's (protocol_of_corpus_dir of its parent).
ProgramFile read_program(const std::filesystem::path& path);

// Every program of `dir` with its text, each read by read_program. Throws InputError at the
// first bad file.
std::vector<std::pair<std::filesystem::path, std::string>> read_programs(
    const std::filesystem::path& dir);

// parse(text), with a ParseError ("LINE:COL: what") turned into an InputError naming `path`.
template <class Parse>
auto parse_program_file(const std::filesystem::path& path, std::string_view text, Parse&& parse) {
  try {
    return parse(text);
  } catch (const ParseError& e) {
    throw InputError(path.string() + ":" + e.what());
  }
}

}  // namespace lockstep
