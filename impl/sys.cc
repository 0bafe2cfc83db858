// The only file in impl/ that calls these syscalls directly (tests/check_syscalls.py).
#include "impl/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <vector>

namespace lockstep::sys {
namespace {

thread_local std::optional<Fault> t_armed;
thread_local std::vector<Fault> t_standing;  // arm_until_fired, in arming order

// Injection counts per (table, row, errno): errnos stay below 134 on Linux.
constexpr size_t kRows = 32, kErrnos = 134;
std::atomic<uint64_t> g_injected[4][kRows][kErrnos];
static_assert(mshv::kSiteCount <= kRows && vhost::kSiteCount <= kRows &&
              vhost::daemon::kSiteCount <= kRows);

bool in_range(Site site, int err) {
  return site.row < kRows && err > 0 && static_cast<size_t>(err) < kErrnos;
}

// True if the armed fault is for `site`: it is disarmed, counted and left in errno.
bool inject(Site site) {
  if (site.table == Site::Table::Harness) return false;
  int err = 0;
  if (t_armed && t_armed->site == site) {
    err = t_armed->err;
    t_armed.reset();
  } else {
    const auto it = std::find_if(t_standing.begin(), t_standing.end(),
                                 [&](const Fault& f) { return f.site == site; });
    if (it == t_standing.end()) return false;
    err = it->err;
    t_standing.erase(it);
  }
  if (in_range(site, err))
    g_injected[static_cast<int>(site.table)][site.row][err].fetch_add(1, std::memory_order_relaxed);
  errno = err;
  return true;
}

}  // namespace

void arm(Fault fault) {
  if (fault.site.table == Site::Table::Harness || fault.err <= 0) return t_armed.reset();
  t_armed = fault;
}

void disarm() {
  t_armed.reset();
}

void arm_until_fired(Fault fault) {
  if (fault.site.table != Site::Table::Harness && fault.err > 0) t_standing.push_back(fault);
}

std::optional<Fault> armed() {
  return t_armed;
}

uint64_t injected(Site site, int err) {
  if (!in_range(site, err)) return 0;
  return g_injected[static_cast<int>(site.table)][site.row][err].load();
}

int fault_point(Site site) {
  return inject(site) ? errno : 0;
}

int close(Site site, int fd) {
  if (!inject(site)) return ::close(fd);
  const int err = errno;
  ::close(fd);  // Linux frees the number whatever close reports
  errno = err;
  return -1;
}

int fstat(Site site, int fd, struct stat* st) {
  return inject(site) ? -1 : ::fstat(fd, st);
}

int dup_cloexec(Site site, int fd) {
  return inject(site) ? -1 : ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

int memfd_create(Site site, const char* name, unsigned flags) {
  return inject(site) ? -1 : ::memfd_create(name, flags);
}

int ftruncate(Site site, int fd, off_t length) {
  return inject(site) ? -1 : ::ftruncate(fd, length);
}

int eventfd(Site site, unsigned initval, int flags) {
  return inject(site) ? -1 : ::eventfd(initval, flags);
}

int open(Site site, const char* path, int flags) {
  return inject(site) ? -1 : ::open(path, flags);
}

int userfaultfd(Site site, int flags) {
  return inject(site) ? -1 : static_cast<int>(::syscall(SYS_userfaultfd, flags));
}

int ioctl(Site site, int fd, unsigned long request, void* arg) {
  return inject(site) ? -1 : ::ioctl(fd, request, arg);
}

void* mmap(Site site, void* addr, size_t len, int prot, int flags, int fd, off_t offset) {
  return inject(site) ? MAP_FAILED : ::mmap(addr, len, prot, flags, fd, offset);
}

int munmap(Site site, void* addr, size_t len) {
  return inject(site) ? -1 : ::munmap(addr, len);
}

ssize_t sendmsg(Site site, int sock, const msghdr* msg, int flags) {
  return inject(site) ? -1 : ::sendmsg(sock, msg, flags);
}

ssize_t recvmsg(Site site, int sock, msghdr* msg, int flags) {
  return inject(site) ? -1 : ::recvmsg(sock, msg, flags);
}

int socket(Site site, int domain, int type, int protocol) {
  return inject(site) ? -1 : ::socket(domain, type, protocol);
}

int socketpair(Site site, int domain, int type, int protocol, int sv[2]) {
  return inject(site) ? -1 : ::socketpair(domain, type, protocol, sv);
}

int connect(Site site, int sock, const sockaddr* addr, socklen_t len) {
  return inject(site) ? -1 : ::connect(sock, addr, len);
}

int poll(Site site, pollfd* fds, nfds_t n, int timeout_ms) {
  return inject(site) ? -1 : ::poll(fds, n, timeout_ms);
}

ssize_t readlinkat(Site site, int dirfd, const char* path, char* buf, size_t len) {
  return inject(site) ? -1 : ::readlinkat(dirfd, path, buf, len);
}

ssize_t process_vm_readv(Site site, pid_t pid, const iovec* local, unsigned long nlocal,
                         const iovec* remote, unsigned long nremote) {
  return inject(site) ? -1 : ::process_vm_readv(pid, local, nlocal, remote, nremote, 0);
}

ssize_t process_vm_writev(Site site, pid_t pid, const iovec* local, unsigned long nlocal,
                          const iovec* remote, unsigned long nremote) {
  return inject(site) ? -1 : ::process_vm_writev(pid, local, nlocal, remote, nremote, 0);
}

int bind(Site site, int sock, const sockaddr* addr, socklen_t len) {
  return inject(site) ? -1 : ::bind(sock, addr, len);
}

int listen(Site site, int sock, int backlog) {
  return inject(site) ? -1 : ::listen(sock, backlog);
}

int accept4(Site site, int sock, int flags) {
  return inject(site) ? -1 : ::accept4(sock, nullptr, nullptr, flags);
}

int getsockopt(Site site, int sock, int level, int name, void* value, socklen_t* len) {
  return inject(site) ? -1 : ::getsockopt(sock, level, name, value, len);
}

int getpeername(Site site, int sock, sockaddr* addr, socklen_t* len) {
  return inject(site) ? -1 : ::getpeername(sock, addr, len);
}

int epoll_create1(Site site, int flags) {
  return inject(site) ? -1 : ::epoll_create1(flags);
}

int epoll_ctl(Site site, int epfd, int op, int fd, epoll_event* ev) {
  return inject(site) ? -1 : ::epoll_ctl(epfd, op, fd, ev);
}

int epoll_wait(Site site, int epfd, epoll_event* events, int max, int timeout_ms) {
  return inject(site) ? -1 : ::epoll_wait(epfd, events, max, timeout_ms);
}

int signalfd(Site site, const sigset_t* mask, int flags) {
  return inject(site) ? -1 : ::signalfd(-1, mask, flags);
}

int sigprocmask(Site site, int how, const sigset_t* set) {
  return inject(site) ? -1 : ::sigprocmask(how, set, nullptr);
}

ssize_t read(Site site, int fd, void* buf, size_t len) {
  return inject(site) ? -1 : ::read(fd, buf, len);
}

int fcntl(Site site, int fd, int cmd, int arg) {
  return inject(site) ? -1 : ::fcntl(fd, cmd, arg);
}

int lstat(Site site, const char* path, struct stat* st) {
  return inject(site) ? -1 : ::lstat(path, st);
}

int unlink(Site site, const char* path) {
  return inject(site) ? -1 : ::unlink(path);
}

int chmod(Site site, const char* path, mode_t mode) {
  return inject(site) ? -1 : ::chmod(path, mode);
}

int getrlimit(Site site, int resource, rlimit* rl) {
  return inject(site) ? -1 : ::getrlimit(static_cast<__rlimit_resource>(resource), rl);
}

int setrlimit(Site site, int resource, const rlimit* rl) {
  return inject(site) ? -1 : ::setrlimit(static_cast<__rlimit_resource>(resource), rl);
}

pid_t getpid(Site) {
  return ::getpid();  // "always successful" (getpid(2)): no fault site
}

int clock_gettime(Site site, clockid_t clock, timespec* ts) {
  return inject(site) ? -1 : ::clock_gettime(clock, ts);
}

long sysconf(Site site, int name) {
  return inject(site) ? -1 : ::sysconf(name);
}

}  // namespace lockstep::sys
