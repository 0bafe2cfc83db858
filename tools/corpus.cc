#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "core/program_text.h"
#include "tools/bindings.h"
#include "tools/commands.h"

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
bool build_one(const fs::path& program, const fs::path& out_dir, bool check_only, int& written) {
  auto trace = B::parse(slurp(program));
  if (B::print(trace) != slurp(program)) {
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
    std::cerr << "lockstep corpus: no " << programs << "\n";
    return 2;
  }
  bool ok = true;
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
        std::string protocol = slurp(file).substr(11);
        protocol = protocol.substr(0, protocol.find_first_of(" \n"));
        const fs::path out_dir = fs::path(corpus_root) / dir.path().filename();
        ok &= with_binding(protocol, [&](auto binding) {
          return build_one<decltype(binding)>(file, out_dir, check_only, written);
        });
      } catch (const std::exception& e) {
        std::cerr << file << ": " << e.what() << "\n";
        ok = false;
      }
    }
  }
  std::cout << "lockstep corpus: " << seen << " programs, " << (check_only ? "checked" : "wrote ")
            << (check_only ? "" : std::to_string(written) + " inputs") << (ok ? "" : " (errors)")
            << "\n";
  return ok ? 0 : 1;
}

}  // namespace lockstep::tools
