// Threads race SET_DEVICE_ATTR ADD/DEL, HAS_DEVICE_ATTR and CREATE_DEVICE against the close of
// the device and of its partition, round after round, on the real layer (label tsan: the tsan
// preset runs it under ThreadSanitizer, where it must report nothing, and runs it again with the
// skips-partition-lock mutant, where it must report a data race). Every call's result must be
// one the kernel could give a caller that races its own close; after every round everything is
// closed again, so the layer's counts are zero, no orphan device is left and the process's fd
// set is what it was before the round (measured in /proc/self/fd).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/fd_oracle.h"
#include "core/mshv/uapi.h"
#include "impl/mshv/device_layer.h"
#include "impl/mutants.h"

namespace lockstep::mshv {
namespace {

constexpr int kWorkers = 4;             // ioctl threads
constexpr int kThreads = kWorkers + 2;  // + the device closer and the partition closer
constexpr int kFiles = 3;               // VFIO files the workers ADD and DEL
constexpr int kOpsPerWorker = 48;       // per round
constexpr int kMinRounds = 20;          // even when the machine is slow (TSan: ~10x)
constexpr int kMaxRounds = 2000;
constexpr auto kBudget = std::chrono::milliseconds(2500);

enum Op { kAdd, kDel, kHas, kCreate, kOpCount };
constexpr const char* kOpNames[] = {"ADD", "DEL", "HAS", "CREATE"};

// What a call racing the release may see. Each worker calls through its own dup of the round's
// device and partition fds (threads share the file, not the number: a number closed under
// another thread's call would be the test's own race, and ThreadSanitizer tracks fds too). The
// layer finds the object by the file, so a call after the release of the closed fd finds none
// (ENOTTY); a call already past that lookup meets a released object: an ADD is EBADF (the
// device's files are gone), a DEL finds nothing (ENOENT), a CREATE is EBADF (the partition's fd
// is released). EBUSY: the round's device (or a worker's) still holds the partition.
const std::set<int> kAllowed[kOpCount] = {
    {0, EEXIST, EBADF, ENOTTY},  // ADD
    {0, ENOENT, ENOTTY},         // DEL
    {0, ENOTTY},                 // HAS
    {0, EBUSY, EBADF, ENOTTY},   // CREATE
};

int err_of(int rc) {
  return rc < 0 ? errno : 0;
}

lockstep_mshv_resources stats() {
  lockstep_mshv_resources r;
  lockstep_mshv_stats(&r);
  return r;
}

std::string to_string(const lockstep_mshv_resources& r) {
  return "{partitions=" + std::to_string(r.partitions) +
         " refs=" + std::to_string(r.partition_refs) + " devices=" + std::to_string(r.devices) +
         " file_refs=" + std::to_string(r.file_refs) + "}";
}

int attr_ioctl(int dev, unsigned long request, uint64_t attr, int32_t fd) {
  uapi::DeviceAttr a{0, uapi::kDevVfioFile, attr, reinterpret_cast<uintptr_t>(&fd)};
  return err_of(lockstep_mshv_ioctl(dev, request, &a));
}

// CREATE_DEVICE; the new fd in *out on success.
int create(int part, int* out) {
  uapi::CreateDevice args{uapi::kDevTypeVfio, 0, 0};
  const int err = err_of(lockstep_mshv_ioctl(part, uapi::kCreateDevice, &args));
  *out = err ? -1 : static_cast<int>(args.fd);
  return err;
}

// One round's objects, written by the main thread before the start barrier.
struct Round {
  int partition = -1, device = -1;
  int device_close_at = 0, partition_close_at = 0;  // after this many worker calls
  std::atomic<int> calls{0};
};

// Per thread, read by the main thread after the end barrier.
struct Tally {
  std::array<std::array<long, 4>, kOpCount> by_outcome{};  // 0, EBADF, ENOTTY, other allowed
  std::vector<std::string> unexpected;
  int device = -1, partition = -1;  // a worker's dups of the round's fds
  int owned = -1;  // a device this worker created in the round (the partition's only one)
  void count(Op op, int err) {
    const int slot = err == 0 ? 0 : err == EBADF ? 1 : err == ENOTTY ? 2 : 3;
    ++by_outcome[op][slot];
    if (!kAllowed[op].count(err) && unexpected.size() < 8)
      unexpected.push_back(std::string(kOpNames[op]) + ": " + std::strerror(err));
  }
};

class MshvStress : public ::testing::Test {
 protected:
  void SetUp() override {
    lockstep_mshv_reset();
    // LOCKSTEP_IMPL_MUTANT selects a broken layer (the tsan preset's negative test).
    ASSERT_EQ(lockstep_mshv_set_mutant(impl_mutant_from_env("mshv", "mshv_stress_test")), 0);
    for (int i = 0; i < kFiles; ++i) {
      files_[i] = lockstep_vfio_open_file();
      ASSERT_GE(files_[i], 0) << std::strerror(errno);
    }
    baseline_ = FdSet::current().size();
  }
  void TearDown() override {
    for (int f : files_)
      if (f >= 0) ::close(f);
    lockstep_mshv_reset();
  }

  // A worker: kOpsPerWorker random calls through its dups of the round's device and partition,
  // closed at the end. A device it creates is its own, closed once the round's objects are
  // counted.
  void work(int thread, int round, Tally& tally) {
    const int device = tally.device, partition = tally.partition;
    std::minstd_rand rng(static_cast<unsigned>(round * kThreads + thread + 1));
    for (int i = 0; i < kOpsPerWorker; ++i) {
      const Op op = static_cast<Op>(rng() % kOpCount);
      const int32_t file = files_[rng() % kFiles];
      int err = 0;
      if (op == kAdd) err = attr_ioctl(device, uapi::kSetDeviceAttr, uapi::kDevVfioFileAdd, file);
      if (op == kDel) err = attr_ioctl(device, uapi::kSetDeviceAttr, uapi::kDevVfioFileDel, file);
      if (op == kHas) err = attr_ioctl(device, uapi::kHasDeviceAttr, uapi::kDevVfioFileAdd, -1);
      if (op == kCreate) {
        int fd = -1;
        err = create(partition, &fd);
        if (!err && tally.owned >= 0) {  // one device per partition: EBUSY while ours lives
          tally.unexpected.push_back("CREATE: a second device on the partition");
          close_owned(fd, tally);
        } else if (!err) {
          tally.owned = fd;  // kept until the round's objects are counted
        }
      }
      tally.count(op, err);
      round_.calls.fetch_add(1, std::memory_order_relaxed);
    }
    ::close(std::exchange(tally.device, -1));  // plain files now, whatever the closers did
    ::close(std::exchange(tally.partition, -1));
  }

  static void close_owned(int fd, Tally& tally) {
    if (lockstep_mshv_close(fd) != 0)
      tally.unexpected.push_back(std::string("close of a created device: ") + std::strerror(errno));
  }

  // A closer: waits until the workers made `after` calls (or finished), then closes `fd`.
  void close_after(int fd, int after, Tally& tally) {
    while (round_.calls.load(std::memory_order_relaxed) < after) std::this_thread::yield();
    if (lockstep_mshv_close(fd) != 0)
      tally.unexpected.push_back(std::string("close: ") + std::strerror(errno));
  }

  std::array<int, kFiles> files_{-1, -1, -1};
  size_t baseline_ = 0;
  Round round_;
};

TEST_F(MshvStress, AttrOpsAndCreateRaceTheCloseOfDeviceAndPartition) {
  std::array<Tally, kThreads> tallies;
  std::barrier sync(kThreads + 1);
  std::atomic<bool> stop{false};
  int round = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (;;) {
        sync.arrive_and_wait();  // the round is set up (or stop)
        if (stop.load()) return;
        if (t < kWorkers) work(t, round, tallies[t]);
        if (t == kWorkers) close_after(round_.device, round_.device_close_at, tallies[t]);
        if (t == kWorkers + 1) close_after(round_.partition, round_.partition_close_at, tallies[t]);
        sync.arrive_and_wait();  // the round's calls are over
        sync.arrive_and_wait();  // what is left is counted
        if (tallies[t].owned >= 0) close_owned(std::exchange(tallies[t].owned, -1), tallies[t]);
        sync.arrive_and_wait();  // the round is over
      }
    });

  std::minstd_rand rng(1);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> failures;
  for (; round < kMaxRounds && failures.empty(); ++round) {
    if (round >= kMinRounds && std::chrono::steady_clock::now() - start > kBudget) break;
    round_.partition = lockstep_mshv_open_partition();
    if (round_.partition < 0 || create(round_.partition, &round_.device) != 0) {
      failures.push_back("setup: " + std::string(std::strerror(errno)));
      break;
    }
    for (int t = 0; t < kWorkers; ++t) {
      tallies[t].device = ::fcntl(round_.device, F_DUPFD_CLOEXEC, 0);
      tallies[t].partition = ::fcntl(round_.partition, F_DUPFD_CLOEXEC, 0);
    }
    round_.device_close_at = static_cast<int>(rng() % (kWorkers * kOpsPerWorker));
    round_.partition_close_at = static_cast<int>(rng() % (kWorkers * kOpsPerWorker));
    round_.calls = 0;
    sync.arrive_and_wait();  // go
    sync.arrive_and_wait();  // every call of the round returned
    // The round's device and partition fds are closed; a device a worker created is the only
    // object left, and it keeps its partition alive with the one reference it holds.
    const unsigned owned = static_cast<unsigned>(
        std::count_if(tallies.begin(), tallies.end(), [](const Tally& t) { return t.owned >= 0; }));
    const lockstep_mshv_resources live = stats();
    if (owned > 1 || live.devices != owned || live.partitions != owned ||
        live.partition_refs != owned || live.file_refs > owned * kFiles)
      failures.push_back("round " + std::to_string(round) + ": " + std::to_string(owned) +
                         " devices created by workers, counted " + to_string(live));
    sync.arrive_and_wait();  // the workers may close their devices
    sync.arrive_and_wait();  // every thread is done with the round
    // Everything of the round is closed: nothing may be counted, orphaned or left open.
    const lockstep_mshv_resources left = stats();
    if (left.partitions || left.partition_refs || left.devices || left.file_refs)
      failures.push_back("round " + std::to_string(round) + " left " + to_string(left));
    if (const int orphans = lockstep_mshv_reap())
      failures.push_back("round " + std::to_string(round) + ": " + std::to_string(orphans) +
                         " orphan devices");
    if (FdSet::current().size() != baseline_)
      failures.push_back("round " + std::to_string(round) + ": " +
                         std::to_string(FdSet::current().size()) + " fds open, " +
                         std::to_string(baseline_) + " before");
  }
  stop = true;
  sync.arrive_and_wait();
  for (std::thread& t : threads) t.join();

  EXPECT_GE(round, kMinRounds);
  EXPECT_TRUE(failures.empty()) << failures.front();
  std::array<std::array<long, 4>, kOpCount> total{};
  for (const Tally& tally : tallies) {
    for (const std::string& u : tally.unexpected) ADD_FAILURE() << "unexpected " << u;
    for (int op = 0; op < kOpCount; ++op)
      for (int slot = 0; slot < 4; ++slot) total[op][slot] += tally.by_outcome[op][slot];
  }
  // The race was real: calls met a live device, and calls met it closed.
  EXPECT_GT(total[kAdd][0], 0) << "no ADD ever succeeded";
  EXPECT_GT(total[kAdd][1] + total[kAdd][2] + total[kHas][1] + total[kHas][2], 0)
      << "no call ever met a closed device";
  std::string summary = std::to_string(round) + " rounds;";
  for (int op = 0; op < kOpCount; ++op)
    summary += std::string(" ") + kOpNames[op] + " ok/EBADF/ENOTTY/other " +
               std::to_string(total[op][0]) + "/" + std::to_string(total[op][1]) + "/" +
               std::to_string(total[op][2]) + "/" + std::to_string(total[op][3]);
  RecordProperty("outcomes", summary);
  std::printf("%s\n", summary.c_str());
}

// A device keeps its partition alive: ADDs on it all succeed while another thread closes the
// partition fd, and the references go with the device.
TEST_F(MshvStress, AddSucceedsWhileThePartitionCloses) {
  for (int i = 0; i < 50; ++i) {
    const int part = lockstep_mshv_open_partition();
    int dev = -1;
    ASSERT_EQ(create(part, &dev), 0);
    std::thread closer([part] { EXPECT_EQ(lockstep_mshv_close(part), 0); });
    for (int f : files_)
      EXPECT_EQ(attr_ioctl(dev, uapi::kSetDeviceAttr, uapi::kDevVfioFileAdd, f), 0);
    closer.join();
    EXPECT_EQ(stats().file_refs, static_cast<unsigned>(kFiles));
    EXPECT_EQ(stats().devices, 1u);
    EXPECT_EQ(lockstep_mshv_close(dev), 0);
    EXPECT_EQ(to_string(stats()), to_string(lockstep_mshv_resources{}));
  }
  EXPECT_EQ(FdSet::current().size(), baseline_);
}

}  // namespace
}  // namespace lockstep::mshv
