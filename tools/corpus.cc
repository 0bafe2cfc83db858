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
#include "tools/json_output.h"

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
bool build_one(const InputFile& file, const fs::path& out_dir, bool check_only, int& written,
               std::vector<std::string>& errors) {
  const fs::path program = file.path;
  auto trace = B::parse(file.bytes);
  if (B::print(trace) != file.bytes) {
    errors.push_back(
        program.string() +
        ": not in canonical form (print(parse(file)) differs); run `lockstep fmt` on it");
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
      errors.push_back(twin.string() + ": missing or stale; run `lockstep corpus build`");
      return false;
    }
    auto decoded = B::decode(bytes);
    if (decoded.ops != trace.ops || decoded.profile != trace.profile) {
      errors.push_back(twin.string() + ": does not decode back to " + program.string());
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

int corpus_build(const std::string& corpus_root, bool check_only, bool json) {
  std::vector<std::string> errors;
  int written = 0, seen = 0;
  const int code = corpus_walk(corpus_root, check_only, errors, written, seen);
  for (const auto& e : errors) std::cerr << "lockstep corpus: " << e << "\n";
  if (json) {
    nlohmann::json out = document(check_only ? "corpus check" : "corpus build", code);
    out.update(
        {{"root", corpus_root}, {"programs", seen}, {"written", written}, {"errors", errors}});
    if (code == kUsage) out["error"] = errors.empty() ? "unreadable input" : errors.front();
    std::cout << out.dump(2) << "\n";
  } else if (seen) {
    std::cout << "lockstep corpus: " << seen << " programs in " << corpus_root << ", "
              << (check_only ? "checked" : "wrote " + std::to_string(written) + " inputs")
              << (code == kOk ? "" : " (errors)") << "\n";
  }
  return code;
}

int corpus_walk(const std::string& corpus_root, bool check_only, std::vector<std::string>& errors,
                int& written, int& seen) {
  const fs::path programs = fs::path(corpus_root) / "programs";
  if (!fs::is_directory(programs)) {
    errors.push_back("no " + programs.string() + " directory");
    return kUsage;
  }
  int result = kOk;
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
              return build_one<decltype(binding)>(input, out_dir, check_only, written, errors);
            }))
          result = std::max(result, int{kFinding});
      } catch (const InputError& e) {
        errors.push_back(e.what());
        result = kUsage;
      } catch (const ParseError& e) {
        errors.push_back(file.string() + ":" + e.what());
        result = kUsage;
      }
    }
  }
  if (seen == 0) {
    errors.push_back("no program under " + programs.string() + ": nothing to check");
    return kUsage;
  }
  return result;
}

}  // namespace lockstep::tools
