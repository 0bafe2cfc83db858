#include "core/fd_census.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "core/fd_oracle.h"

namespace lockstep {
namespace {

// The identities the classes are told by, learned once from a real eventfd and a real memfd:
// eventfds share one anonymous inode; userfaultfds live on the same anonymous-inode device,
// each with an inode of its own (anon_inode_getfd_secure); memfds live on the shmem device.
struct Landmarks {
  uint64_t anon_dev = 0, eventfd_ino = 0, memfd_dev = 0;
};
const Landmarks& landmarks() {
  static const Landmarks l = [] {
    Landmarks out;
    struct stat st;
    int e = ::eventfd(0, EFD_CLOEXEC);
    if (e >= 0 && ::fstat(e, &st) == 0) out.anon_dev = st.st_dev, out.eventfd_ino = st.st_ino;
    if (e >= 0) ::close(e);
    int m = ::memfd_create("lockstep-census-landmark", MFD_CLOEXEC);
    if (m >= 0 && ::fstat(m, &st) == 0) out.memfd_dev = st.st_dev;
    if (m >= 0) ::close(m);
    FdSet::current();  // opens the /proc/self/fd directory fd complete() keeps, before any census
    return out;
  }();
  return l;
}

// Anonymous inodes other than the eventfd's: read the link once per inode (a userfaultfd is
// "anon_inode:[userfaultfd]"), remembered for the few inodes seen most recently.
FdClass anon_class(int fd, uint64_t ino) {
  thread_local std::array<std::pair<uint64_t, FdClass>, 8> seen{};
  thread_local size_t next = 0;
  for (const auto& [i, c] : seen)
    if (i == ino) return c;
  const FdClass c = describe_fd(fd) == "anon_inode:[userfaultfd]" ? FdClass::Uffd : FdClass::Other;
  seen[next++ % seen.size()] = {ino, c};
  return c;
}

// The highest fd any census has seen open: the window's top is this + kSlack.
int g_high = 0;

}  // namespace

const char* to_string(FdClass c) {
  switch (c) {
    case FdClass::Socket:
      return "socket";
    case FdClass::Memfd:
      return "memfd";
    case FdClass::Eventfd:
      return "eventfd";
    case FdClass::Uffd:
      return "userfaultfd";
    case FdClass::Other:
      return "other";
  }
  return "other";
}

bool identify_fd(int fd, FdIdentity& id, FdClass& cls) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return false;
  id = {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
        static_cast<uint32_t>(st.st_mode & S_IFMT)};
  const Landmarks& l = landmarks();
  if (S_ISSOCK(st.st_mode))
    cls = FdClass::Socket;
  else if (S_ISREG(st.st_mode) && id.dev == l.memfd_dev)
    cls = FdClass::Memfd;
  else if (id.dev == l.anon_dev)
    cls = id.ino == l.eventfd_ino ? FdClass::Eventfd : anon_class(fd, id.ino);
  else
    cls = FdClass::Other;
  return true;
}

void FdCensus::take(int floor) {
  landmarks();  // before the window is measured: its own fds are closed again
  thread_local std::vector<pollfd> window;
  entries_.clear();
  lowest_free_ = -1;
  int top = g_high + kSlack;
  for (int base = 0; base < top;) {
    window.resize(static_cast<size_t>(top - base));
    for (size_t i = 0; i < window.size(); ++i) window[i] = {base + static_cast<int>(i), 0, 0};
    ::poll(window.data(), window.size(), 0);
    for (const pollfd& p : window) {
      if (p.revents & POLLNVAL) {
        if (lowest_free_ < 0) lowest_free_ = p.fd;
        continue;
      }
      if (p.fd > g_high) g_high = p.fd;  // grows the window while its top is crowded
      if (floor == kFromLowestFree ? lowest_free_ < 0 : p.fd < floor) continue;
      FdEntry e;
      e.fd = p.fd;
      if (identify_fd(p.fd, e.id, e.cls)) entries_.push_back(e);
    }
    base = top;
    top = g_high + kSlack;
  }
}

int FdCensus::top() {
  return g_high + kSlack;
}

size_t FdCensus::count(FdClass c) const {
  return static_cast<size_t>(std::count_if(entries_.begin(), entries_.end(),
                                           [c](const FdEntry& e) { return e.cls == c; }));
}

bool FdCensus::complete() {
  const int top = g_high + kSlack;
  const FdSet all = FdSet::current();
  const bool inside = all.fds().empty() || all.fds().back() < top;
  if (!all.fds().empty()) g_high = std::max(g_high, all.fds().back());
  return inside;
}

std::string describe(const FdEntry& e) {
  char buf[96];
  std::snprintf(buf, sizeof buf, " (%s ino=%llu)", to_string(e.cls),
                static_cast<unsigned long long>(e.id.ino));
  return std::to_string(e.fd) + buf;
}

namespace {

std::string name_text(uint32_t name) {
  const char kind = static_cast<char>(name >> 8);
  if (kind >= 'a' && kind <= 'z') return std::string(1, kind) + std::to_string(name & 0xff);
  return "#" + std::to_string(name);
}

}  // namespace

std::vector<std::string> compare_census_impl(
    const std::vector<FdEntry>& baseline, const std::vector<FdEntry>& now,
    const std::vector<std::pair<uint32_t, FdIdentity>>& named,
    const std::array<int, kFdClasses>& anon, int any) {
  std::vector<std::string> out;
  thread_local std::vector<char> claimed;
  claimed.assign(now.size(), 0);
  auto claim = [&](auto&& match) -> bool {
    for (size_t i = 0; i < now.size(); ++i) {
      if (claimed[i] || !match(now[i])) continue;
      claimed[i] = 1;
      return true;
    }
    return false;
  };
  for (const FdEntry& b : baseline)  // the fds open before the trace: same number, same object
    if (!claim([&](const FdEntry& e) { return e.fd == b.fd && e.id == b.id; }))
      out.push_back("closed: " + describe(b) + " open before the trace");
  for (const auto& object : named)
    if (!claim([&](const FdEntry& e) { return e.id == object.second; }))
      out.push_back("closed: " + name_text(object.first) +
                    " (ino=" + std::to_string(object.second.ino) + ")");
  std::array<int, kFdClasses> left = anon;
  for (size_t i = 0; i < now.size(); ++i) {
    if (claimed[i]) continue;
    int& n = left[static_cast<size_t>(now[i].cls)];
    if (n > 0)
      --n;
    else if (any > 0)
      --any;
    else
      out.push_back("leaked: " + describe(now[i]) + " -> " + describe_fd(now[i].fd));
  }
  for (size_t c = 0; c < kFdClasses; ++c)
    for (int k = 0; k < left[c]; ++k)
      out.push_back(std::string("closed: an ") + to_string(static_cast<FdClass>(c)) +
                    " the trace leaves installed");
  for (int k = 0; k < any; ++k) out.push_back("closed: an fd the model counts");
  return out;
}

}  // namespace lockstep
