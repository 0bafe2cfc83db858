#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "core/program_files.h"
#include "tools/bindings.h"
#include "tools/commands.h"
#include "tools/exit_codes.h"
#include "tools/input_file.h"
#include "tools/json_output.h"

namespace lockstep::tools {
namespace {

namespace fs = std::filesystem;

// A twin path that is neither absent nor a regular file is refused before it is opened, so a
// FIFO never blocks `check` or `build`.
bool twin_path_usable(const fs::path& twin, std::vector<std::string>& errors) {
  std::error_code ec;
  const fs::file_status st = fs::status(twin, ec);
  if (st.type() == fs::file_type::not_found || st.type() == fs::file_type::regular) return true;
  errors.push_back(twin.string() + ": not a regular file; the twin of a program must be one");
  return false;
}

// Compares an existing twin with `bytes` (kOk) or writes it (kOk; kUsage if it cannot be).
template <class B>
int check_or_write_twin(const fs::path& program, const fs::path& twin,
                        const std::vector<uint8_t>& bytes, const typename B::Trace& trace,
                        bool check_only, int& written, std::vector<std::string>& errors) {
  if (check_only) {
    std::error_code ec;
    const std::string existing = fs::is_regular_file(twin, ec) ? read_file(twin) : "";
    if (existing != std::string(bytes.begin(), bytes.end())) {
      errors.push_back(twin.string() + ": missing or stale; run `lockstep corpus build`");
      return kFinding;
    }
    auto decoded = B::decode(bytes);
    if (decoded.ops != trace.ops || decoded.profile != trace.profile) {
      errors.push_back(twin.string() + ": does not decode back to " + program.string());
      return kFinding;
    }
    return kOk;
  }
  std::ofstream out(twin, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (!out.flush()) {
    errors.push_back(twin.string() + ": cannot write: " + std::strerror(errno));
    return kUsage;
  }
  ++written;
  return kOk;
}

// One readable program -> its binary twin. Programs whose profile has no fuzz-input encoding
// (e.g. kvm) stay text-only: they are replayed by the tests and peers, not by the fuzzers.
// Returns kOk, kFinding (not canonical, a stale twin) or kUsage (malformed, an unusable twin).
template <class B>
int build_one(const ProgramFile& file, const fs::path& out_dir, bool check_only, int& written,
              std::vector<std::string>& errors) {
  const auto trace = parse_program_file(file.path, file.text, [](auto t) { return B::parse(t); });
  if (B::print(trace) != file.text) {
    errors.push_back(
        file.path.string() +
        ": not in canonical form (print(parse(file)) differs); run `lockstep fmt` on it");
    return kFinding;
  }
  std::vector<uint8_t> bytes;
  try {
    bytes = B::encode(trace);
  } catch (const std::invalid_argument&) {
    return kOk;  // text-only program
  }
  std::error_code ec;
  if (fs::exists(out_dir, ec) && !fs::is_directory(out_dir, ec)) {
    errors.push_back(out_dir.string() + ": not a directory; the twins of " +
                     file.path.parent_path().string() + " go there");
    return kUsage;
  }
  if (!check_only) fs::create_directories(out_dir, ec);
  if (ec) {
    errors.push_back(out_dir.string() + ": " + ec.message());
    return kUsage;
  }
  const fs::path twin = out_dir / (file.path.stem().string() + ".bin");
  if (!twin_path_usable(twin, errors)) return kUsage;
  return check_or_write_twin<B>(file.path, twin, bytes, trace, check_only, written, errors);
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

int corpus_file_build(const std::string& corpus_root, const fs::path& path, bool check_only,
                      std::vector<std::string>& errors, int& written) {
  try {
    const ProgramFile file = read_program(path);
    const fs::path out_dir = fs::path(corpus_root) / path.parent_path().filename();
    return with_binding(file.protocol, [&](auto binding) {
      return build_one<decltype(binding)>(file, out_dir, check_only, written, errors);
    });
  } catch (const InputError& e) {
    errors.push_back(e.what());
    return kUsage;
  }
}

int corpus_dir_walk(const std::string& corpus_root, const fs::path& dir, bool check_only,
                    std::vector<std::string>& errors, int& written, int& seen) {
  int result = kOk;
  for (const auto& path : program_paths(dir)) {
    ++seen;
    result = std::max(result, corpus_file_build(corpus_root, path, check_only, errors, written));
  }
  return result;
}

int corpus_walk(const std::string& corpus_root, bool check_only, std::vector<std::string>& errors,
                int& written, int& seen) {
  const fs::path programs = fs::path(corpus_root) / "programs";
  if (!fs::is_directory(programs)) {
    errors.push_back("no " + programs.string() + " directory");
    return kUsage;
  }
  std::vector<fs::path> dirs;
  for (const auto& dir : fs::directory_iterator(programs))
    if (dir.is_directory()) dirs.push_back(dir.path());
  std::sort(dirs.begin(), dirs.end());
  int result = kOk;
  for (const auto& dir : dirs)
    result = std::max(result, corpus_dir_walk(corpus_root, dir, check_only, errors, written, seen));
  if (seen == 0) {
    errors.push_back("no program under " + programs.string() + ": nothing to check");
    return kUsage;
  }
  return result;
}

}  // namespace lockstep::tools
