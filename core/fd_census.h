// The fd census: which fds the process has open, and what each refers to, read from the kernel
// by the harness and never from the code under test. run() (core/run.h) takes one at the start
// of a trace, one after every op, and a complete one after the trace; the vhost target derives
// the back-end's fd counts from one (impl/vhost/target.cc).
//
// Cost (docs/performance.md): a census of the fds from `floor` up is one poll(2) over the
// window [floor, top) — POLLNVAL marks a closed number — and one fstat(2) per open fd, where
// top = the highest fd ever seen open + kSlack. An fd above the window is missed by a window
// census; complete() lists /proc/self/fd (one getdents64 pass) and says whether any fd lies
// above the window, so run() can prove at the end of every trace that no per-op census missed
// one. An fd above the window needs kSlack fds opened at once above every number seen so far.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace lockstep {

// What an fd refers to, as fstat(2) tells it: a file object is named by (st_dev, st_ino), which
// is 1:1 with the object for memfds, sockets and userfaultfds (each has its own inode) and
// shared by all eventfds (one anonymous inode), which are therefore told apart only by class.
struct FdIdentity {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint32_t type = 0;  // st_mode & S_IFMT
  bool operator==(const FdIdentity&) const = default;
};

enum class FdClass : uint8_t { Socket, Memfd, Eventfd, Uffd, Other };
inline constexpr size_t kFdClasses = 5;
const char* to_string(FdClass c);

struct FdEntry {
  int fd = -1;
  FdIdentity id;
  FdClass cls = FdClass::Other;
};

// The identity and class of one open fd; false if it is not open.
bool identify_fd(int fd, FdIdentity& id, FdClass& cls);

class FdCensus {
 public:
  static constexpr int kSlack = 64;
  static constexpr int kFromLowestFree = -1;

  // The fds open now, from `floor` up (kFromLowestFree: from the lowest number not open),
  // sorted by number: one poll over [0, top) and one fstat per open fd from the floor up.
  void take(int floor);
  const std::vector<FdEntry>& entries() const { return entries_; }
  size_t count(FdClass c) const;
  // The lowest fd number not open at the last census (the first fd a trace opens is at least
  // this).
  int lowest_free() const { return lowest_free_; }
  // One past the highest fd number a census looks at now.
  static int top();
  // Lists /proc/self/fd: true if every open fd lies inside the window of every census taken so
  // far (none was missed). Also widens the window to cover whatever it found.
  bool complete();

 private:
  std::vector<FdEntry> entries_;
  int lowest_free_ = 0;
};

// What the model says must be open after an op, beyond the fds open before the trace:
// `named` objects (each entry one fd; a dup appears twice), resolved to identities by the target
// (the harness recorded each when the object came into the trace), and `anon[class]` fds whose
// object the harness never learned, matched by class.
struct FdExpectation {
  std::vector<uint32_t> named;
  std::array<int, kFdClasses> anon{};
  int any = 0;  // fds of any class (a reference the model counts but does not name)
  void clear() {
    named.clear();
    anon.fill(0);
    any = 0;
  }
};
// The name of a handle's object: its letter and index (p0 = 'p' << 8 | 0).
constexpr uint32_t fd_name(char kind, unsigned index) {
  return static_cast<uint32_t>(static_cast<uint8_t>(kind)) << 8 | (index & 0xff);
}

// Compares a census with the baseline (the fds open before the trace, from the same floor) plus
// the expectation. `resolve(name, id, fallback)` gives a named object's identity (false: the
// harness never learned it, e.g. an fd installed while the copy-back faulted; it then counts as
// an anonymous fd of class `fallback`). Every fd of the census must be
// claimed exactly once and every claim must find its fd: a set comparison, so one leaked fd and
// one wrongly closed fd never cancel. Returns one line per unexplained fd ("leaked: 9 memfd
// dev=0:1 ino=2051", "closed: p0 (memfd ino=2047)"); empty when the census is as expected.
template <class Resolve>
std::vector<std::string> compare_census(const std::vector<FdEntry>& baseline,
                                        const std::vector<FdEntry>& now, const FdExpectation& want,
                                        Resolve&& resolve);

std::string describe(const FdEntry& e);

// ---- implementation of the template --------------------------------------------------------
std::vector<std::string> compare_census_impl(
    const std::vector<FdEntry>& baseline, const std::vector<FdEntry>& now,
    const std::vector<std::pair<uint32_t, FdIdentity>>& named,
    const std::array<int, kFdClasses>& anon, int any);

template <class Resolve>
std::vector<std::string> compare_census(const std::vector<FdEntry>& baseline,
                                        const std::vector<FdEntry>& now, const FdExpectation& want,
                                        Resolve&& resolve) {
  thread_local std::vector<std::pair<uint32_t, FdIdentity>> named;
  named.clear();
  std::array<int, kFdClasses> anon = want.anon;
  for (uint32_t name : want.named) {
    FdIdentity id;
    FdClass fallback = FdClass::Other;
    if (resolve(name, id, fallback))
      named.emplace_back(name, id);
    else
      ++anon[static_cast<size_t>(fallback)];
  }
  return compare_census_impl(baseline, now, named, anon, want.any);
}

}  // namespace lockstep
