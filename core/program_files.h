// The readable programs of a corpus directory: every *.txt file, sorted by name, with its text.
#pragma once
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace lockstep {

// The *.txt files of `dir`, sorted by name; none when `dir` is not a directory.
inline std::vector<std::filesystem::path> program_paths(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".txt") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline std::vector<std::pair<std::filesystem::path, std::string>> read_programs(
    const std::filesystem::path& dir) {
  std::vector<std::pair<std::filesystem::path, std::string>> out;
  for (auto& path : program_paths(dir)) {
    std::string text = read_file(path);
    out.emplace_back(std::move(path), std::move(text));
  }
  return out;
}

}  // namespace lockstep
