// The one door through which impl/ reaches the kernel. Every syscall the implementations make is
// a function here that names its call site: a row of core/mshv/sites.def, core/vhost/sites.def
// (a fault site: FailNext can make it fail) or core/vhost/daemon_sites.def (the daemon's:
// --fail-next), or kHarness (the test harness's own calls and calls that cannot fail: never
// faulted). tests/check_syscalls.py fails when impl/ or the daemon (tools/vhost_*) calls one of
// these syscalls anywhere but impl/sys.cc.
//
// Fault injection: arm() sets one fault, per thread, for (site, errno). The next call through a
// function here at that site fails with that errno instead of reaching the kernel (close(2) and
// munmap(2) are the exceptions the comments below name) and disarms it. Every injection is
// counted per (site, errno): the sweep (tests/faults_test.cc) requires each pair of both
// sites.def files to have failed at least once. arm_until_fired() adds standing faults beside it
// (the daemon's --fail-next): each fires once at its site, whatever disarm() does.
#pragma once
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/mshv/ops.h"
#include "core/vhost/daemon_sites.h"
#include "core/vhost/ops.h"

namespace lockstep::sys {

// A call site: which sites table and which row of it.
struct Site {
  enum class Table : uint8_t { Harness, Mshv, Vhost, Daemon };
  Table table = Table::Harness;
  uint8_t row = 0;
  bool operator==(const Site&) const = default;
};
constexpr Site kHarness{};
constexpr Site at(mshv::Site s) {
  return {Site::Table::Mshv, static_cast<uint8_t>(s)};
}
constexpr Site at(vhost::Site s) {
  return {Site::Table::Vhost, static_cast<uint8_t>(s)};
}
constexpr Site at(vhost::daemon::Site s) {
  return {Site::Table::Daemon, static_cast<uint8_t>(s)};
}

struct Fault {
  Site site;
  int err = 0;
};
// Arms one fault on this thread, replacing any armed one (kHarness never fails: not armable).
void arm(Fault fault);
void disarm();
// Arms `fault` on this thread until it fires, beside the fault arm() sets and untouched by
// disarm(): several sites can stand armed at once, across connections (--fail-next). A site
// with both fires the arm() one first.
void arm_until_fired(Fault fault);
// The fault still armed on this thread (nullopt once it fired or was disarmed).
std::optional<Fault> armed();
// How many calls at `site` failed with `err` by injection, over the process's life.
uint64_t injected(Site site, int err);
// For stand-in points with no syscall (kzalloc, mutex_lock_killable): the armed errno if the
// fault is for `site` (and disarms it), else 0.
int fault_point(Site site);

// ---- the syscalls (each: the libc call's contract, unless a fault fires first) ----------------
// close(2): with a fault, the fd is still closed and then the errno reported, as Linux does
// (the number is freed before the error is known).
int close(Site site, int fd);
int fstat(Site site, int fd, struct stat* st);
int dup_cloexec(Site site, int fd);  // fcntl(fd, F_DUPFD_CLOEXEC, 0)
int memfd_create(Site site, const char* name, unsigned flags);
int ftruncate(Site site, int fd, off_t length);
int eventfd(Site site, unsigned initval, int flags);
int open(Site site, const char* path, int flags);
int userfaultfd(Site site, int flags);
int ioctl(Site site, int fd, unsigned long request, void* arg);
void* mmap(Site site, void* addr, size_t len, int prot, int flags, int fd, off_t offset);
// munmap(2): with a fault, nothing is unmapped (EINVAL: a range mmap did not return).
int munmap(Site site, void* addr, size_t len);
ssize_t sendmsg(Site site, int sock, const msghdr* msg, int flags);
ssize_t recvmsg(Site site, int sock, msghdr* msg, int flags);
int socket(Site site, int domain, int type, int protocol);
int socketpair(Site site, int domain, int type, int protocol, int sv[2]);
int connect(Site site, int sock, const sockaddr* addr, socklen_t len);
int poll(Site site, pollfd* fds, nfds_t n, int timeout_ms);
ssize_t readlinkat(Site site, int dirfd, const char* path, char* buf, size_t len);
ssize_t process_vm_readv(Site site, pid_t pid, const iovec* local, unsigned long nlocal,
                         const iovec* remote, unsigned long nremote);
ssize_t process_vm_writev(Site site, pid_t pid, const iovec* local, unsigned long nlocal,
                          const iovec* remote, unsigned long nremote);
int bind(Site site, int sock, const sockaddr* addr, socklen_t len);
int listen(Site site, int sock, int backlog);
int accept4(Site site, int sock, int flags);  // the peer's address is not asked for
int getsockopt(Site site, int sock, int level, int name, void* value, socklen_t* len);
int getpeername(Site site, int sock, sockaddr* addr, socklen_t* len);
int epoll_create1(Site site, int flags);
int epoll_ctl(Site site, int epfd, int op, int fd, epoll_event* ev);
int epoll_wait(Site site, int epfd, epoll_event* events, int max, int timeout_ms);
int signalfd(Site site, const sigset_t* mask, int flags);  // a new signalfd (fd -1)
int sigprocmask(Site site, int how, const sigset_t* set);
ssize_t read(Site site, int fd, void* buf, size_t len);
int fcntl(Site site, int fd, int cmd, int arg);
int lstat(Site site, const char* path, struct stat* st);
int unlink(Site site, const char* path);
int chmod(Site site, const char* path, mode_t mode);
int getrlimit(Site site, int resource, rlimit* rl);
int setrlimit(Site site, int resource, const rlimit* rl);
pid_t getpid(Site site);
int clock_gettime(Site site, clockid_t clock, timespec* ts);
long sysconf(Site site, int name);

}  // namespace lockstep::sys
