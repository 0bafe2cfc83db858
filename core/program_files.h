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

inline std::vector<std::pair<std::filesystem::path, std::string>> read_programs(
    const std::filesystem::path& dir) {
  std::vector<std::pair<std::filesystem::path, std::string>> out;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".txt") out.emplace_back(e.path(), std::string{});
  std::sort(out.begin(), out.end());
  for (auto& [path, text] : out) {
    std::ifstream in(path);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  return out;
}

}  // namespace lockstep
