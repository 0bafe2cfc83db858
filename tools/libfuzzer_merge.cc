#include "tools/libfuzzer_merge.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/program_files.h"

extern char** environ;

namespace lockstep::tools {
namespace {

namespace fs = std::filesystem;

// A fresh directory under $TMPDIR, removed with everything in it when this goes out of scope.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (fs::temp_directory_path() / "lockstep-cmin-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw EnvironmentError("cannot create a temporary directory");
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Runs argv with stdout and stderr to `log`; its exit status (128 + n for signal n).
int run_logged(const std::vector<std::string>& args, const fs::path& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> argv, envp;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // The engine measures the real target, never a deliberately broken one.
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "LOCKSTEP_IMPL_MUTANT=", 21) != 0) envp.push_back(*e);
  envp.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw EnvironmentError(args[0] + ": cannot run: " + std::strerror(rc));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The control file's "FT <index> <feature>..." lines, by the file index of its header's list.
EdgeCoverage read_control_file(const fs::path& cf, const std::vector<size_t>& given,
                               size_t inputs) {
  std::ifstream in(cf);
  size_t files = 0, first = 0;
  if (!(in >> files >> first)) throw EnvironmentError(cf.string() + ": no merge control data");
  std::string line;
  std::getline(in, line);
  std::vector<size_t> index_of(files, inputs);  // control-file index -> our input index
  for (size_t i = 0; i < files && std::getline(in, line); ++i)
    index_of[i] = given[std::stoul(fs::path(line).filename().string())];
  EdgeCoverage out{std::vector<std::vector<uint32_t>>(inputs), 0};
  std::vector<bool> started(inputs, false), featured(inputs, false);
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string tag;
    size_t file = 0;
    if (!(words >> tag >> file) || file >= files || index_of[file] >= inputs) continue;
    const size_t input = index_of[file];
    if (tag == "STARTED") started[input] = true;
    if (tag != "FT") continue;
    featured[input] = true;
    for (uint64_t f; words >> f;) out.features[input].push_back(static_cast<uint32_t>(f));
  }
  for (size_t i = 0; i < inputs; ++i) out.crashed += started[i] && !featured[i];
  return out;
}

}  // namespace

EdgeCoverage libfuzzer_features(const std::string& binary, const std::vector<std::string>& inputs) {
  if (::access(binary.c_str(), X_OK) != 0)
    throw EnvironmentError(binary + ": not an executable fuzz target: " + std::strerror(errno));
  ScratchDir scratch;
  const fs::path in = scratch.path() / "in", out = scratch.path() / "out";
  fs::create_directories(in);
  fs::create_directories(out);
  std::vector<size_t> given;  // file i of `in` is input given[i]
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].empty()) continue;
    std::ofstream(in / std::to_string(given.size()), std::ios::binary) << inputs[i];
    given.push_back(i);
  }
  if (given.empty()) return {std::vector<std::vector<uint32_t>>(inputs.size()), 0};
  const fs::path cf = scratch.path() / "control", log = scratch.path() / "log";
  const int status = run_logged(
      {binary, "-merge=1", "-merge_control_file=" + cf.string(), out.string(), in.string()}, log);
  if (status != 0) {
    std::string text = read_file(log);
    if (text.size() > 2000) text = "..." + text.substr(text.size() - 2000);
    throw EnvironmentError(binary + " -merge=1 exited " + std::to_string(status) + ":\n" + text);
  }
  return read_control_file(cf, given, inputs.size());
}

std::string find_fuzz_binary(const std::string& corpus_target) {
  for (const fs::path& root : {fs::path(LOCKSTEP_SOURCE_DIR), fs::current_path()}) {
    const fs::path candidate = root / "build/fuzz/fuzz" / ("fuzz_" + corpus_target);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

}  // namespace lockstep::tools
