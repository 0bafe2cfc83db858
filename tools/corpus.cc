#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "core/program_text.h"
#include "tools/bindings.h"
#include "tools/commands.h"
#include "tools/exit_codes.h"
#include "tools/input_file.h"

namespace lockstep::tools {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// One readable program -> its binary twin. Programs whose profile has no fuzz-input encoding
// (e.g. kvm) stay text-only: they are replayed by the tests and peers, not by the fuzzers.
template <class B>
bool build_one(const InputFile& file, const fs::path& out_dir, bool check_only, int& written) {
  const fs::path program = file.path;
  auto trace = B::parse(file.bytes);
  if (B::print(trace) != file.bytes) {
    std::cerr << program << ": not in canonical form (print(parse(file)) differs); run "
              << "`lockstep fmt` on it\n";
    return false;
  }
  std::vector<uint8_t> bytes;
  try {
    bytes = B::encode(trace);
  } catch (const std::invalid_argument&) {
    return true;  // text-only program
  }
  fs::path twin = out_dir / (program.stem().string() + ".bin");
  if (check_only) {
    std::string existing = slurp(twin);
    if (existing != std::string(bytes.begin(), bytes.end())) {
      std::cerr << twin << ": missing or stale; run `lockstep corpus build`\n";
      return false;
    }
    auto decoded = B::decode(bytes);
    if (decoded.ops != trace.ops || decoded.profile != trace.profile) {
      std::cerr << twin << ": does not decode back to " << program << "\n";
      return false;
    }
    return true;
  }
  fs::create_directories(out_dir);
  std::ofstream(twin, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  ++written;
  return true;
}

}  // namespace

int corpus_build(const std::string& corpus_root, bool check_only) {
  const fs::path programs = fs::path(corpus_root) / "programs";
  if (!fs::is_directory(programs)) {
    std::cerr << "lockstep corpus: no " << programs << " directory\n";
    return kUsage;
  }
  int result = kOk;
  int written = 0, seen = 0;
  for (const auto& dir : fs::directory_iterator(programs)) {
    if (!dir.is_directory()) continue;
    std::vector<fs::path> files;
    for (const auto& f : fs::directory_iterator(dir.path()))
      if (f.path().extension() == ".txt") files.push_back(f.path());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      ++seen;
      try {
        const InputFile input = read_input(file.string());
        const fs::path out_dir = fs::path(corpus_root) / dir.path().filename();
        if (!with_binding(input.protocol, [&](auto binding) {
              return build_one<decltype(binding)>(input, out_dir, check_only, written);
            }))
          result = std::max(result, int{kFinding});
      } catch (const InputError& e) {
        std::cerr << "lockstep corpus: " << e.what() << "\n";
        result = kUsage;
      } catch (const ParseError& e) {
        std::cerr << "lockstep corpus: " << file.string() << ":" << e.what() << "\n";
        result = kUsage;
      }
    }
  }
  std::cout << "lockstep corpus: " << seen << " programs, " << (check_only ? "checked" : "wrote ")
            << (check_only ? "" : std::to_string(written) + " inputs")
            << (result == kOk ? "" : " (errors)") << "\n";
  if (seen == 0) {
    std::cerr << "lockstep corpus: no program under " << programs << ": nothing checked\n";
    return kUsage;
  }
  return result;
}

}  // namespace lockstep::tools
