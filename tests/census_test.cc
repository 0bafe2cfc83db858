// The fd census (core/fd_census.h) as run() uses it: each test breaks a target in one way the
// old count oracle (fd counts, once after finish()) cannot see, and requires the census to catch
// it; where it matters, the same run with RunOptions::count_only shows the old oracle passing.
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "core/fd_census.h"
#include "core/mshv/codec.h"
#include "core/mshv/ops.h"
#include "core/run.h"
#include "core/vhost/ops.h"
#include "impl/mshv/target.h"
#include "impl/vhost/target.h"
#include "model/mshv/model.h"
#include "model/vhost/model.h"

namespace lockstep {
namespace {

bool any_line(const std::vector<std::string>& lines, std::string_view prefix) {
  for (const std::string& l : lines)
    if (l.starts_with(prefix)) return true;
  return false;
}

// ---- mshv: one leak plus one wrong close in the same trace ------------------------------------

// After the trace's third op it keeps a dup of p0's fd (a leak) and closes `victim`, an fd the
// process held before the trace (a stale number closed by mistake). The fd count is unchanged.
struct LeakAndWrongCloseTarget {
  mshv::ImplTarget inner{"mshv-v1"};
  int victim = -1;
  int leaked = -1;
  int steps = 0;
  mshv::Outcome step(const mshv::Op& op) {
    mshv::Outcome out = inner.step(op);
    if (++steps == 3) {
      leaked = ::dup(first_partition_fd());
      ::close(victim);
    }
    return out;
  }
  int first_partition_fd() const {
    FdIdentity id;
    FdClass cls;
    if (!inner.fd_identity(fd_name(mshv::kPartition, 0), id, cls)) return -1;
    FdCensus c;
    c.take(0);
    for (const FdEntry& e : c.entries())
      if (e.id == id) return e.fd;
    return -1;
  }
  bool fd_identity(uint32_t name, FdIdentity& id, FdClass& fallback) const {
    return inner.fd_identity(name, id, fallback);
  }
  void finish() { inner.finish(); }
  void reap() {
    inner.reap();
    ::close(leaked);
  }
};

mshv::Trace three_objects() {
  return mshv::parse_text(
      "# lockstep mshv  profile=mshv-v1\np0 = open_partition()\nf0 = open_vfio_file()\n"
      "n0 = open_file()\n");
}

TEST(FdCensus, LeakPlusWrongCloseIsCaughtAtTheOpAndMissedByCounts) {
  const mshv::Trace trace = three_objects();
  // Two fds held before the trace with a hole below the second: the trace's fds start in the
  // hole, so the victim lies above the census floor and is checked after every op. (A first
  // census beforehand opens the fd the census keeps, which would otherwise fill the hole.)
  FdCensus().take(0);
  const int hole = ::eventfd(0, EFD_CLOEXEC);
  const int victim_for_census = ::eventfd(0, EFD_CLOEXEC);
  ::close(hole);
  {
    mshv::Model model(*mshv::find_profile("mshv-v1"));
    LeakAndWrongCloseTarget target;
    target.victim = victim_for_census;
    auto verdict = run<mshv::Protocol>(trace.ops, model, target);
    ASSERT_FALSE(verdict.ok());
    EXPECT_EQ(verdict.divergence->index, 2u);
    EXPECT_EQ(verdict.divergence->signature, "lockstep: divergence mshv/OPEN_FILE/fds");
    EXPECT_TRUE(any_line(verdict.divergence->leaked, "leaked: ")) << verdict.divergence->leaked[0];
    EXPECT_TRUE(any_line(verdict.divergence->leaked, "closed: ")) << verdict.divergence->leaked[0];
  }
  const int victim_for_counts = ::eventfd(0, EFD_CLOEXEC);
  {
    mshv::Model model(*mshv::find_profile("mshv-v1"));
    LeakAndWrongCloseTarget target;
    target.victim = victim_for_counts;
    auto verdict = run<mshv::Protocol>(trace.ops, model, target, {.count_only = true});
    EXPECT_TRUE(verdict.ok()) << "the count oracle was expected to be fooled";
    EXPECT_EQ(verdict.fds_delta, 0);
  }
}

// The same leak and wrong close, but by a target run() cannot name fds for: the end-of-trace set
// check still catches it (the victim is missing), where counts balance.
struct UnnamedLeakAndWrongClose {
  LeakAndWrongCloseTarget inner;
  mshv::Outcome step(const mshv::Op& op) { return inner.step(op); }
  void finish() { inner.finish(); }
  void reap() { inner.reap(); }
};

TEST(FdCensus, EndOfTraceCheckIsASetNotACount) {
  const mshv::Trace trace = three_objects();
  mshv::Model model(*mshv::find_profile("mshv-v1"));
  UnnamedLeakAndWrongClose target;
  target.inner.victim = ::eventfd(0, EFD_CLOEXEC);
  auto verdict = run<mshv::Protocol>(trace.ops, model, target);
  ASSERT_FALSE(verdict.ok());
  EXPECT_EQ(verdict.divergence->signature, "lockstep: fd-leak mshv");
  EXPECT_EQ(verdict.fds_delta, 0);
  EXPECT_TRUE(any_line(verdict.divergence->leaked, "closed: ")) << verdict.divergence->leaked[0];
}

TEST(FdCensus, UnbrokenTargetPasses) {
  mshv::Model model(*mshv::find_profile("mshv-v1"));
  mshv::ImplTarget target("mshv-v1");
  EXPECT_TRUE(run<mshv::Protocol>(three_objects().ops, model, target).ok());
}

// ---- vhost: the back-end keeps the old regions' fds (impl mutant) ------------------------------

std::vector<vhost::Op> two_tables() {
  using namespace vhost;
  return {set_mem_table(regions(1)), set_mem_table(regions(2))};
}

TEST(FdCensus, TableKeepsOldRegionFdsIsCaughtByRun) {
  vhost::Model model(*vhost::find_profile("spec"));
  vhost::ImplTarget target("mutant-table-keeps-old-region-fds");
  const auto ops = two_tables();
  auto verdict = run<vhost::Protocol>(ops, model, target);
  ASSERT_FALSE(verdict.ok());
  EXPECT_EQ(verdict.divergence->index, 1u);
  EXPECT_EQ(verdict.divergence->signature,
            "lockstep: divergence vhost/SET_MEM_TABLE/resources.held_fds");
}

TEST(FdCensus, TheBackEndsOwnAccountingMissesTheRetainedRegionFds) {
  // What the differential compared before the census: Backend::stats(). It reports the mutant
  // as healthy; the census, counting the process's fds, does not.
  vhost::ImplTarget target("mutant-table-keeps-old-region-fds");
  vhost::Outcome last;
  for (const vhost::Op& op : two_tables()) last = target.step(op);
  ASSERT_NE(target.backend(), nullptr);
  EXPECT_EQ(target.backend()->stats().held_fds, 2);  // the two new regions only
  EXPECT_EQ(last.res.held_fds, 3);                   // plus the old region's fd, still open
  target.finish();
  target.reap();
}

}  // namespace
}  // namespace lockstep
