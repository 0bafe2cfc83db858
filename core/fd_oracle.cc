#include "core/fd_oracle.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

namespace lockstep {
namespace {

struct LinuxDirent64 {
  ino64_t d_ino;
  off64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

// Kept open for the life of the process: reopening /proc/self/fd on every trace would cost
// more than the trace itself. It is excluded from every snapshot.
int proc_fd_dir() {
  static const int dir = [] {
    int fd = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("lockstep: cannot open /proc/self/fd for fd accounting");
    return fd;
  }();
  return dir;
}

}  // namespace

FdSet FdSet::current() {
  const int dir = proc_fd_dir();
  FdSet set;
  ::lseek(dir, 0, SEEK_SET);
  alignas(8) char buf[8192];
  for (;;) {
    long n = ::syscall(SYS_getdents64, dir, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<LinuxDirent64*>(buf + off);
      off += d->d_reclen;
      if (d->d_name[0] == '.') continue;
      int fd = std::atoi(d->d_name);
      if (fd != dir) set.fds_.push_back(fd);
    }
  }
  std::sort(set.fds_.begin(), set.fds_.end());
  return set;
}

int FdSet::delta_since(const FdSet& before) const {
  return static_cast<int>(fds_.size()) - static_cast<int>(before.fds_.size());
}

std::vector<std::string> FdSet::describe_added_since(const FdSet& before) const {
  std::vector<int> added;
  std::set_difference(fds_.begin(), fds_.end(), before.fds_.begin(), before.fds_.end(),
                      std::back_inserter(added));
  std::vector<std::string> out;
  for (int fd : added) out.push_back(std::to_string(fd) + " -> " + describe_fd(fd));
  return out;
}

std::string describe_fd(int fd) {
  char path[64], target[256];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  ssize_t n = ::readlink(path, target, sizeof target - 1);
  if (n < 0) return "";
  return std::string(target, static_cast<size_t>(n));
}

}  // namespace lockstep
