// The fd-accounting oracle: the process's open-fd set, taken before and after a trace. Leaks are
// measured, not assumed.
#pragma once
#include <string>
#include <vector>

namespace lockstep {

class FdSet {
 public:
  // Reads /proc/self/fd (one getdents64 pass over a directory fd kept open for speed).
  static FdSet current();
  const std::vector<int>& fds() const { return fds_; }
  size_t size() const { return fds_.size(); }
  // fds open in *this but not in `before`, each described as "7 -> anon_inode:[userfaultfd]".
  std::vector<std::string> describe_added_since(const FdSet& before) const;
  // Number of fds open now that were not open in `before` (negative if fds were closed).
  int delta_since(const FdSet& before) const;

 private:
  std::vector<int> fds_;  // sorted
};

// What an fd currently refers to, from /proc/self/fd/N ("" if not open).
std::string describe_fd(int fd);

}  // namespace lockstep
