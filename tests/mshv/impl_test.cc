// The real device layer through its C ABI: one test per errno path and per state transition of
// reference/mshv-device.md §1.4-1.5, on real fds and real pages. Leaks are measured with the
// process's fd set (lockstep::FdSet), not assumed. A few ImplTarget tests at the end check the
// adapter's handle and page mapping.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/fd_oracle.h"
#include "core/mshv/uapi.h"
#include "impl/mshv/device_layer.h"
#include "impl/mshv/target.h"

namespace lockstep::mshv {
namespace {

// ---- helpers ---------------------------------------------------------------------------------

constexpr size_t kPage = 4096;

// errno of a call returning -1 on failure; 0 on success.
int err_of(int rc) {
  return rc < 0 ? errno : 0;
}

int open_fds() {
  return static_cast<int>(FdSet::current().size());
}

struct Stats {
  unsigned partitions, partition_refs, devices, file_refs;
  bool operator==(const Stats&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Stats& s) {
  return os << "{partitions=" << s.partitions << " refs=" << s.partition_refs
            << " devices=" << s.devices << " file_refs=" << s.file_refs << "}";
}
Stats stats() {
  lockstep_mshv_resources r;
  lockstep_mshv_stats(&r);
  return {r.partitions, r.partition_refs, r.devices, r.file_refs};
}

// A RW page, a page that becomes PROT_READ once filled, and a PROT_NONE page.
class Pages {
 public:
  Pages() : rw_(map(PROT_READ | PROT_WRITE)), ro_(map(PROT_READ)), none_(map(PROT_NONE)) {}
  ~Pages() {
    for (char* p : {rw_, ro_, none_}) ::munmap(p, kPage);
  }
  char* rw() const { return rw_; }
  char* none() const { return none_; }
  // `value` placed in the read-only page: copy_from_user works, copy_to_user faults.
  template <class T>
  T* read_only(const T& value) {
    ::mprotect(ro_, kPage, PROT_READ | PROT_WRITE);
    std::memcpy(ro_, &value, sizeof value);
    ::mprotect(ro_, kPage, PROT_READ);
    return reinterpret_cast<T*>(ro_);
  }

 private:
  static char* map(int prot) {
    void* p = ::mmap(nullptr, kPage, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) std::abort();
    return static_cast<char*>(p);
  }
  char* rw_;
  char* ro_;
  char* none_;
};

class MshvLayer : public ::testing::Test {
 protected:
  void SetUp() override {
    lockstep_mshv_reset();
    baseline_ = open_fds();
  }
  void TearDown() override {
    for (int fd : plain_) ::close(fd);
    lockstep_mshv_reset();
    EXPECT_EQ(stats(), (Stats{0, 0, 0, 0})) << "reset left objects behind";
    EXPECT_EQ(open_fds(), baseline_) << "the test leaked fds";
  }

  int partition() {
    int fd = lockstep_mshv_open_partition();
    EXPECT_GE(fd, 0) << std::strerror(errno);
    return fd;
  }
  int vfio_file() {
    int fd = lockstep_vfio_open_file();
    EXPECT_GE(fd, 0) << std::strerror(errno);
    plain_.push_back(fd);  // the caller owns VFIO files: closed with close(2) in TearDown
    return fd;
  }
  int plain_file() {
    int fd = ::memfd_create("plain", MFD_CLOEXEC);
    plain_.push_back(fd);
    return fd;
  }
  // Forgets a file the test closed itself, so TearDown does not close a reused number.
  void forget(int fd) { std::erase(plain_, fd); }

  // MSHV_CREATE_DEVICE with the struct in the RW page; the device fd in *out on success.
  int create(int part, uint32_t flags = 0, uint32_t type = uapi::kDevTypeVfio, int* out = nullptr) {
    uapi::CreateDevice args{type, 0xdeadbeef, flags};
    std::memcpy(pages_.rw(), &args, sizeof args);
    int err = err_of(lockstep_mshv_ioctl(part, uapi::kCreateDevice, pages_.rw()));
    std::memcpy(&args, pages_.rw(), sizeof args);
    if (out) *out = err ? -1 : static_cast<int>(args.fd);
    return err;
  }
  int device(int part) {
    int fd = -1;
    EXPECT_EQ(create(part, 0, uapi::kDevTypeVfio, &fd), 0);
    return fd;
  }

  // An attr ioctl with the struct in the RW page and `fd` as the int32 at addr (RW page too).
  int attr(int dev, unsigned long request, uint32_t group, uint64_t attr_, int32_t fd,
           uint32_t flags = 0) {
    std::memcpy(pages_.rw() + 512, &fd, sizeof fd);
    return attr_at(dev, request, group, attr_, reinterpret_cast<uintptr_t>(pages_.rw() + 512),
                   flags);
  }
  int attr_at(int dev, unsigned long request, uint32_t group, uint64_t attr_, uint64_t addr,
              uint32_t flags = 0) {
    uapi::DeviceAttr a{flags, group, attr_, addr};
    std::memcpy(pages_.rw(), &a, sizeof a);
    return err_of(lockstep_mshv_ioctl(dev, request, pages_.rw()));
  }
  int add(int dev, int32_t fd) {
    return attr(dev, uapi::kSetDeviceAttr, uapi::kDevVfioFile, uapi::kDevVfioFileAdd, fd);
  }
  int del(int dev, int32_t fd) {
    return attr(dev, uapi::kSetDeviceAttr, uapi::kDevVfioFile, uapi::kDevVfioFileDel, fd);
  }
  int has(int dev, uint32_t group, uint64_t attr_) {
    return attr_at(dev, uapi::kHasDeviceAttr, group, attr_,
                   reinterpret_cast<uintptr_t>(pages_.none()));
  }
  uint64_t unmapped() const { return reinterpret_cast<uintptr_t>(pages_.none()); }

  Pages pages_;
  int baseline_ = 0;
  std::vector<int> plain_;
};

// ---- opening ---------------------------------------------------------------------------------

TEST_F(MshvLayer, OpenPartitionIsACloexecMemfdHoldingOneReference) {
  int p = partition();
  EXPECT_EQ(open_fds(), baseline_ + 1);
  EXPECT_TRUE(::fcntl(p, F_GETFD) & FD_CLOEXEC);
  EXPECT_NE(describe_fd(p).find("memfd:mshv-partition"), std::string::npos) << describe_fd(p);
  EXPECT_EQ(stats(), (Stats{1, 1, 0, 0}));
  EXPECT_EQ(lockstep_mshv_close(p), 0);
  EXPECT_EQ(stats(), (Stats{0, 0, 0, 0}));
  EXPECT_EQ(open_fds(), baseline_);
}

TEST_F(MshvLayer, VfioFileIsRecognisedAndOtherFilesAreNot) {
  int p = partition(), d = device(p);
  int vfio = vfio_file(), plain = plain_file();
  int event = ::eventfd(0, EFD_CLOEXEC);
  plain_.push_back(event);
  EXPECT_EQ(add(d, vfio), 0);
  EXPECT_EQ(add(d, plain), EINVAL);  // mshv_vfio_file_add: !vfio_file_is_valid
  EXPECT_EQ(add(d, event), EINVAL);
  EXPECT_EQ(add(d, p), EINVAL);  // layer files are not VFIO files either
  EXPECT_EQ(add(d, d), EINVAL);
}

// ---- MSHV_CREATE_DEVICE ----------------------------------------------------------------------

TEST_F(MshvLayer, CreateDeviceInstallsACloexecFdAndTakesAPartitionReference) {
  int p = partition(), d = -1;
  ASSERT_EQ(create(p, 0, uapi::kDevTypeVfio, &d), 0);
  EXPECT_EQ(open_fds(), baseline_ + 2);
  EXPECT_TRUE(::fcntl(d, F_GETFD) & FD_CLOEXEC);
  EXPECT_NE(describe_fd(d).find("memfd:mshv-vfio"), std::string::npos) << describe_fd(d);
  EXPECT_EQ(stats(), (Stats{1, 2, 1, 0}));
}

TEST_F(MshvLayer, CreateDeviceWithUnmappedArgIsEfault) {
  int p = partition();
  EXPECT_EQ(err_of(lockstep_mshv_ioctl(p, uapi::kCreateDevice, pages_.none())), EFAULT);
  EXPECT_EQ(stats(), (Stats{1, 1, 0, 0}));
  EXPECT_EQ(open_fds(), baseline_ + 1);
}

TEST_F(MshvLayer, CreateDeviceWithNullArgIsEfault) {
  int p = partition();
  EXPECT_EQ(err_of(lockstep_mshv_ioctl(p, uapi::kCreateDevice, nullptr)), EFAULT);
  EXPECT_EQ(stats(), (Stats{1, 1, 0, 0}));
}

TEST_F(MshvLayer, CreateDeviceWithUnknownTypeIsEnodev) {
  int p = partition();
  EXPECT_EQ(create(p, 0, uapi::kDevTypeMax), ENODEV);
  EXPECT_EQ(create(p, 0, uapi::kKvmDevTypeVfio), ENODEV);  // KVM's VFIO type is not MSHV's
  EXPECT_EQ(create(p, uapi::kCreateDeviceTest, 0xffffffff), ENODEV);  // type before TEST
  EXPECT_EQ(stats(), (Stats{1, 1, 0, 0}));
}

TEST_F(MshvLayer, CreateDeviceTestCreatesNothingAndWritesNothingBack) {
  int p = partition(), fd = 0;
  uapi::CreateDevice args{uapi::kDevTypeVfio, 0xdeadbeef, uapi::kCreateDeviceTest};
  std::memcpy(pages_.rw(), &args, sizeof args);
  EXPECT_EQ(lockstep_mshv_ioctl(p, uapi::kCreateDevice, pages_.rw()), 0);
  std::memcpy(&args, pages_.rw(), sizeof args);
  EXPECT_EQ(args.fd, 0xdeadbeefu);  // step 3: nothing copied back
  EXPECT_EQ(stats(), (Stats{1, 1, 0, 0}));
  EXPECT_EQ(open_fds(), baseline_ + 1);
  // Nothing is written back, so a read-only struct is fine, and TEST never reaches EBUSY.
  EXPECT_EQ(lockstep_mshv_ioctl(p, uapi::kCreateDevice, pages_.read_only(args)), 0);
  device(p);
  EXPECT_EQ(create(p, uapi::kCreateDeviceTest, uapi::kDevTypeVfio, &fd), 0);
  EXPECT_EQ(stats(), (Stats{1, 2, 1, 0}));
}

TEST_F(MshvLayer, V1IgnoresUnknownCreateFlags) {
  int p = partition();
  EXPECT_EQ(create(p, 0x2), 0);  // step 3: other flag bits ignored
  EXPECT_EQ(stats(), (Stats{1, 2, 1, 0}));
  EXPECT_EQ(create(p, 0xfffffffe | uapi::kCreateDeviceTest), 0);  // still just TEST
  EXPECT_EQ(stats(), (Stats{1, 2, 1, 0}));
}

TEST_F(MshvLayer, StrictRejectsUnknownCreateFlagsBeforeTheTypeCheck) {
  ASSERT_EQ(lockstep_mshv_set_profile("mshv-strict"), 0);
  int p = partition();
  EXPECT_EQ(create(p, 0x2), EINVAL);
  EXPECT_EQ(create(p, 0x2, 0xffffffff), EINVAL);  // flags checked before type
  EXPECT_EQ(create(p, uapi::kCreateDeviceTest), 0);
  EXPECT_EQ(stats(), (Stats{1, 1, 0, 0}));
  EXPECT_EQ(create(p, 0), 0);
}

TEST_F(MshvLayer, SecondDeviceIsEbusyUntilTheFirstIsReleased) {
  int p = partition(), d = device(p);
  EXPECT_EQ(create(p), EBUSY);  // mshv_vfio_create_device
  EXPECT_EQ(stats(), (Stats{1, 2, 1, 0}));
  EXPECT_EQ(open_fds(), baseline_ + 2);
  ASSERT_EQ(lockstep_mshv_close(d), 0);
  EXPECT_EQ(create(p), 0);
  // Devices are per partition: another partition is not busy.
  int q = partition();
  EXPECT_EQ(create(q), 0);
  EXPECT_EQ(stats(), (Stats{2, 4, 2, 0}));
}

TEST_F(MshvLayer, AllocFaultOnCreateIsEnomemAndLeavesNothing) {
  int p = partition();
  ASSERT_EQ(lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_ALLOC, 0), 0);
  EXPECT_EQ(create(p), ENOMEM);
  EXPECT_EQ(stats(), (Stats{1, 1, 0, 0}));
  EXPECT_EQ(open_fds(), baseline_ + 1);
  EXPECT_EQ(create(p), 0);  // the fault fired once
}

TEST_F(MshvLayer, AllocFaultComesBeforeEbusy) {
  int p = partition();
  device(p);
  lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_ALLOC, 0);
  EXPECT_EQ(create(p), ENOMEM);  // step 4 kzalloc precedes mshv_vfio_create_device
  EXPECT_EQ(create(p), EBUSY);
}

TEST_F(MshvLayer, FdAllocFaultIsEmfileWithFullRollback) {
  int p = partition();
  lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_FD_ALLOC, 0);
  EXPECT_EQ(create(p), EMFILE);  // step 9: hlist_del, device_release, put
  EXPECT_EQ(stats(), (Stats{1, 1, 0, 0}));
  EXPECT_EQ(open_fds(), baseline_ + 1);
  EXPECT_EQ(create(p), 0);  // not busy: the device was unlinked
}

// The caller never learns the fd, yet it is installed: one more fd in the process until reap.
TEST_F(MshvLayer, V1CopyBackFaultOnReadOnlyArgLeavesTheFdInstalled) {
  int p = partition();
  const FdSet before = FdSet::current();
  uapi::CreateDevice* ro = pages_.read_only(uapi::CreateDevice{uapi::kDevTypeVfio, 0, 0});
  EXPECT_EQ(err_of(lockstep_mshv_ioctl(p, uapi::kCreateDevice, ro)), EFAULT);
  const FdSet after = FdSet::current();
  EXPECT_EQ(after.delta_since(before), 1);
  auto added = after.describe_added_since(before);
  ASSERT_EQ(added.size(), 1u);
  EXPECT_NE(added[0].find("mshv-vfio"), std::string::npos) << added[0];
  EXPECT_EQ(stats(), (Stats{1, 2, 1, 0}));  // device live, partition reference held
  EXPECT_EQ(create(p), EBUSY);              // and it still occupies the partition
  EXPECT_EQ(lockstep_mshv_reap(), 1);
  EXPECT_EQ(FdSet::current().delta_since(before), 0);
  EXPECT_EQ(stats(), (Stats{1, 1, 0, 0}));
  EXPECT_EQ(lockstep_mshv_reap(), 0);
}

TEST_F(MshvLayer, V1CopyToUserFaultLeavesTheFdInstalled) {
  int p = partition();
  lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_COPY_TO_USER, 0);
  int before = open_fds();
  EXPECT_EQ(create(p), EFAULT);
  EXPECT_EQ(open_fds(), before + 1);
  EXPECT_EQ(stats(), (Stats{1, 2, 1, 0}));
  // The orphan keeps the partition alive after its fd closes, until reaped.
  EXPECT_EQ(lockstep_mshv_close(p), 0);
  EXPECT_EQ(stats(), (Stats{1, 1, 1, 0}));
  EXPECT_EQ(lockstep_mshv_reap(), 1);
  EXPECT_EQ(stats(), (Stats{0, 0, 0, 0}));
  EXPECT_EQ(open_fds(), baseline_);
}

TEST_F(MshvLayer, StrictCopyBackFaultOnReadOnlyArgRollsBack) {
  lockstep_mshv_set_profile("mshv-strict");
  int p = partition();
  int before = open_fds();
  uapi::CreateDevice* ro = pages_.read_only(uapi::CreateDevice{uapi::kDevTypeVfio, 0, 0});
  EXPECT_EQ(err_of(lockstep_mshv_ioctl(p, uapi::kCreateDevice, ro)), EFAULT);
  EXPECT_EQ(open_fds(), before);
  EXPECT_EQ(stats(), (Stats{1, 1, 0, 0}));
  EXPECT_EQ(lockstep_mshv_reap(), 0);
  EXPECT_EQ(create(p), 0);
}

TEST_F(MshvLayer, StrictCopyToUserFaultRollsBack) {
  lockstep_mshv_set_profile("mshv-strict");
  int p = partition();
  int before = open_fds();
  lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_COPY_TO_USER, 0);
  EXPECT_EQ(create(p), EFAULT);
  EXPECT_EQ(open_fds(), before);
  EXPECT_EQ(stats(), (Stats{1, 1, 0, 0}));
  EXPECT_EQ(create(p), 0);
}

TEST_F(MshvLayer, CreateDeviceOnAnythingButAPartitionIsEnotty) {
  int p = partition(), d = device(p);
  int event = ::eventfd(0, EFD_CLOEXEC);
  plain_.push_back(event);
  for (int fd : {d, vfio_file(), plain_file(), event}) {
    std::memset(pages_.rw(), 0, sizeof(uapi::CreateDevice));
    EXPECT_EQ(err_of(lockstep_mshv_ioctl(fd, uapi::kCreateDevice, pages_.rw())), ENOTTY) << fd;
  }
  EXPECT_EQ(stats(), (Stats{1, 2, 1, 0}));
}

TEST_F(MshvLayer, IoctlOnAClosedFdIsEbadfFromTheRealFdTable) {
  int closed = plain_file();
  ::close(closed);
  forget(closed);
  for (int fd : {closed, -1, INT_MAX}) {
    EXPECT_EQ(err_of(lockstep_mshv_ioctl(fd, uapi::kCreateDevice, pages_.rw())), EBADF) << fd;
    EXPECT_EQ(err_of(lockstep_mshv_ioctl(fd, uapi::kSetDeviceAttr, pages_.rw())), EBADF) << fd;
  }
  // EBADF comes before the argument is looked at.
  EXPECT_EQ(err_of(lockstep_mshv_ioctl(closed, uapi::kCreateDevice, nullptr)), EBADF);
}

TEST_F(MshvLayer, OtherRequestsOnAPartitionAreEnotty) {
  int p = partition();
  for (uint32_t request : {uapi::kSetDeviceAttr, uapi::kHasDeviceAttr, uapi::kKvmCreateDevice,
                           uapi::kOutOfTreeHasDeviceAttr, 0u}) {
    EXPECT_EQ(err_of(lockstep_mshv_ioctl(p, request, pages_.rw())), ENOTTY) << std::hex << request;
  }
}

// ---- MSHV_HAS_DEVICE_ATTR --------------------------------------------------------------------

TEST_F(MshvLayer, HasAttrFileAddAndDelAreSupportedAndAddrIsNeverRead) {
  int p = partition(), d = device(p);
  EXPECT_EQ(has(d, uapi::kDevVfioFile, uapi::kDevVfioFileAdd), 0);  // addr is PROT_NONE
  EXPECT_EQ(has(d, uapi::kDevVfioFile, uapi::kDevVfioFileDel), 0);
}

TEST_F(MshvLayer, HasAttrOtherGroupOrAttrIsEnxio) {
  int p = partition(), d = device(p);
  EXPECT_EQ(has(d, 0, uapi::kDevVfioFileAdd), ENXIO);
  EXPECT_EQ(has(d, 2, uapi::kDevVfioFileAdd), ENXIO);
  EXPECT_EQ(has(d, uapi::kDevVfioFile, 0), ENXIO);
  EXPECT_EQ(has(d, uapi::kDevVfioFile, 3), ENXIO);  // SPAPR_TCE is KVM/ppc only
  EXPECT_EQ(has(d, uapi::kDevVfioFile, 0x100000001ull), ENXIO);
}

TEST_F(MshvLayer, AttrWithUnreadableStructIsEfault) {
  int p = partition(), d = device(p);
  for (uint32_t request : {uapi::kSetDeviceAttr, uapi::kHasDeviceAttr}) {
    EXPECT_EQ(err_of(lockstep_mshv_ioctl(d, request, pages_.none())), EFAULT);
    EXPECT_EQ(err_of(lockstep_mshv_ioctl(d, request, nullptr)), EFAULT);
  }
  // Only read: a read-only struct is fine.
  uapi::DeviceAttr a{0, uapi::kDevVfioFile, uapi::kDevVfioFileAdd, unmapped()};
  EXPECT_EQ(err_of(lockstep_mshv_ioctl(d, uapi::kHasDeviceAttr, pages_.read_only(a))), 0);
}

TEST_F(MshvLayer, OutOfTreeGetNumberIsTheSeriesHas) {
  static_assert(uapi::kOutOfTreeGetDeviceAttr == uapi::kHasDeviceAttr);
  int p = partition(), d = device(p);
  EXPECT_EQ(attr_at(d, uapi::kOutOfTreeGetDeviceAttr, uapi::kDevVfioFile, uapi::kDevVfioFileAdd, 0),
            0);
}

TEST_F(MshvLayer, OtherRequestsOnADeviceAreEnotty) {
  int p = partition(), d = device(p);
  for (uint32_t request : {uapi::kKvmGetDeviceAttr, uapi::kOutOfTreeHasDeviceAttr,
                           uapi::kKvmSetDeviceAttr, uapi::kCreateDevice, 0u}) {
    EXPECT_EQ(attr(d, request, uapi::kDevVfioFile, uapi::kDevVfioFileAdd, vfio_file()), ENOTTY)
        << std::hex << request;
    EXPECT_EQ(err_of(lockstep_mshv_ioctl(d, request, nullptr)), ENOTTY);  // before any copy
  }
  EXPECT_EQ(stats().file_refs, 0u);
}

// ---- MSHV_SET_DEVICE_ATTR --------------------------------------------------------------------

TEST_F(MshvLayer, SetAttrOtherGroupIsEnxioWithoutReadingAddr) {
  int p = partition(), d = device(p);
  EXPECT_EQ(attr_at(d, uapi::kSetDeviceAttr, 0, uapi::kDevVfioFileAdd, unmapped()), ENXIO);
  EXPECT_EQ(attr_at(d, uapi::kSetDeviceAttr, 2, uapi::kDevVfioFileDel, unmapped()), ENXIO);
}

TEST_F(MshvLayer, SetAttrOtherAttrIsEnxioBeforeAddrIsRead) {
  int p = partition(), d = device(p);
  EXPECT_EQ(attr_at(d, uapi::kSetDeviceAttr, uapi::kDevVfioFile, 0, unmapped()), ENXIO);
  EXPECT_EQ(attr_at(d, uapi::kSetDeviceAttr, uapi::kDevVfioFile, 3, unmapped()), ENXIO);
}

TEST_F(MshvLayer, AddOrDelWithUnreadableAddrIsEfault) {
  int p = partition(), d = device(p);
  for (uint64_t a : {uapi::kDevVfioFileAdd, uapi::kDevVfioFileDel}) {
    EXPECT_EQ(attr_at(d, uapi::kSetDeviceAttr, uapi::kDevVfioFile, a, unmapped()), EFAULT);
    EXPECT_EQ(attr_at(d, uapi::kSetDeviceAttr, uapi::kDevVfioFile, a, 0), EFAULT);
  }
}

TEST_F(MshvLayer, AddOfAFdThatIsNotOpenIsEbadf) {
  int p = partition(), d = device(p);
  int closed = plain_file();
  ::close(closed);
  forget(closed);
  EXPECT_EQ(add(d, closed), EBADF);
  EXPECT_EQ(add(d, -1), EBADF);
  EXPECT_EQ(add(d, INT_MIN), EBADF);
  EXPECT_EQ(add(d, INT_MAX), EBADF);
}

TEST_F(MshvLayer, AddTakesARealReferenceVisibleAsOneMoreFd) {
  int p = partition(), d = device(p), f = vfio_file();
  const FdSet before = FdSet::current();
  ASSERT_EQ(add(d, f), 0);
  const FdSet after = FdSet::current();
  auto added = after.describe_added_since(before);
  ASSERT_EQ(added.size(), 1u);
  EXPECT_NE(added[0].find("vfio-device"), std::string::npos) << added[0];
  EXPECT_EQ(stats(), (Stats{1, 2, 1, 1}));
}

TEST_F(MshvLayer, AddOfTheSameFileIsEexistEvenThroughAnotherFd) {
  int p = partition(), d = device(p), f = vfio_file();
  ASSERT_EQ(add(d, f), 0);
  int fds = open_fds();
  EXPECT_EQ(add(d, f), EEXIST);
  int same_file = ::dup(f);  // same struct file, another number
  plain_.push_back(same_file);
  EXPECT_EQ(add(d, same_file), EEXIST);
  EXPECT_EQ(open_fds(), fds + 1);     // only our dup; the temporary reference was dropped
  EXPECT_EQ(add(d, vfio_file()), 0);  // another file is fine
  EXPECT_EQ(stats().file_refs, 2u);
}

TEST_F(MshvLayer, AddIgnoresAttrFlags) {
  int p = partition(), d = device(p);
  EXPECT_EQ(attr(d, uapi::kSetDeviceAttr, uapi::kDevVfioFile, uapi::kDevVfioFileAdd, vfio_file(),
                 0xffffffff),
            0);
}

TEST_F(MshvLayer, AllocFaultOnAddIsEnomemAndDropsTheTemporaryReference) {
  int p = partition(), d = device(p), f = vfio_file();
  int fds = open_fds();
  lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_ALLOC, 0);
  EXPECT_EQ(add(d, f), ENOMEM);
  EXPECT_EQ(open_fds(), fds);
  EXPECT_EQ(stats().file_refs, 0u);
  EXPECT_EQ(add(d, f), 0);
}

TEST_F(MshvLayer, DelOfARegisteredFileClosesTheReference) {
  int p = partition(), d = device(p), f = vfio_file();
  int fds = open_fds();
  ASSERT_EQ(add(d, f), 0);
  EXPECT_EQ(open_fds(), fds + 1);
  EXPECT_EQ(del(d, f), 0);
  EXPECT_EQ(open_fds(), fds);
  EXPECT_EQ(stats(), (Stats{1, 2, 1, 0}));
  EXPECT_EQ(del(d, f), ENOENT);
  EXPECT_EQ(add(d, f), 0);  // and it can be added again
}

TEST_F(MshvLayer, DelOfAnUnregisteredOrNonVfioFileIsEnoent) {
  int p = partition(), d = device(p);
  EXPECT_EQ(del(d, vfio_file()), ENOENT);
  EXPECT_EQ(del(d, plain_file()), ENOENT);  // no VFIO check on DEL
  EXPECT_EQ(del(d, p), ENOENT);
}

TEST_F(MshvLayer, DelOfAFdThatIsNotOpenIsEbadf) {
  int p = partition(), d = device(p);
  EXPECT_EQ(del(d, -1), EBADF);
  EXPECT_EQ(del(d, INT_MAX), EBADF);
}

TEST_F(MshvLayer, TheReferenceOutlivesTheCallersFd) {
  int p = partition(), d = device(p), f = vfio_file();
  ASSERT_EQ(add(d, f), 0);
  ::close(f);
  forget(f);
  EXPECT_EQ(stats().file_refs, 1u);
  EXPECT_EQ(del(d, f), EBADF);  // the caller can no longer name it
  int fds = open_fds();
  EXPECT_EQ(lockstep_mshv_close(d), 0);  // release drops it
  EXPECT_EQ(open_fds(), fds - 2);
  EXPECT_EQ(stats(), (Stats{1, 1, 0, 0}));
}

TEST_F(MshvLayer, AddAndDelWorkOnEachPartitionsOwnDevice) {
  int p = partition(), q = partition(), dp = device(p), dq = device(q), f = vfio_file();
  EXPECT_EQ(add(dp, f), 0);
  EXPECT_EQ(add(dq, f), 0);  // EEXIST is per device
  EXPECT_EQ(del(dq, f), 0);
  EXPECT_EQ(del(dq, f), ENOENT);
  EXPECT_EQ(stats(), (Stats{2, 4, 2, 1}));
}

// ---- release ---------------------------------------------------------------------------------

TEST_F(MshvLayer, DeviceReleaseDropsEveryReferenceAndThePartitionRef) {
  int p = partition(), d = device(p);
  ASSERT_EQ(add(d, vfio_file()), 0);
  ASSERT_EQ(add(d, vfio_file()), 0);
  EXPECT_EQ(stats(), (Stats{1, 2, 1, 2}));
  int fds = open_fds();
  EXPECT_EQ(lockstep_mshv_close(d), 0);
  EXPECT_EQ(open_fds(), fds - 3);  // the device fd and both dups
  EXPECT_EQ(stats(), (Stats{1, 1, 0, 0}));
  EXPECT_EQ(err_of(lockstep_mshv_ioctl(d, uapi::kSetDeviceAttr, pages_.rw())), EBADF);
}

TEST_F(MshvLayer, PartitionOutlivesItsDevice) {
  int p = partition(), d = device(p), f = vfio_file();
  EXPECT_EQ(lockstep_mshv_close(p), 0);
  EXPECT_EQ(stats(), (Stats{1, 1, 1, 0}));  // the device's reference keeps it alive
  EXPECT_EQ(err_of(lockstep_mshv_ioctl(p, uapi::kCreateDevice, pages_.rw())), EBADF);
  EXPECT_EQ(add(d, f), 0);  // and the device keeps working (its dup may reuse p's number)
  EXPECT_EQ(has(d, uapi::kDevVfioFile, uapi::kDevVfioFileAdd), 0);
  EXPECT_EQ(lockstep_mshv_close(d), 0);
  EXPECT_EQ(stats(), (Stats{0, 0, 0, 0}));
  EXPECT_EQ(open_fds(), baseline_ + 1);  // only the caller's VFIO fd
}

TEST_F(MshvLayer, CloseOfAClosedFdIsEbadfAndOfAForeignFdJustCloses) {
  int p = partition();
  EXPECT_EQ(lockstep_mshv_close(p), 0);
  EXPECT_EQ(err_of(lockstep_mshv_close(p)), EBADF);
  EXPECT_EQ(err_of(lockstep_mshv_close(-1)), EBADF);
  int f = ::memfd_create("foreign", MFD_CLOEXEC);
  EXPECT_EQ(lockstep_mshv_close(f), 0);
  EXPECT_EQ(::fcntl(f, F_GETFD), -1);
  EXPECT_EQ(stats(), (Stats{0, 0, 0, 0}));
}

// ---- fault injection -------------------------------------------------------------------------

TEST_F(MshvLayer, AnArmedFaultIsDiscardedByTheNextCallEvenIfUnreached) {
  int p = partition();
  lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_ALLOC, 0);
  EXPECT_EQ(create(p, 0, 7), ENODEV);  // fails before kzalloc
  EXPECT_EQ(create(p), 0);             // so the fault is gone
  int d = -1;
  lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_FD_ALLOC, 0);
  int q = partition();  // opening reaches no fault point, but still discards it
  EXPECT_EQ(create(q, 0, uapi::kDevTypeVfio, &d), 0);
  lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_COPY_TO_USER, 0);
  EXPECT_EQ(add(d, vfio_file()), 0);  // ADD copies nothing to user
}

TEST_F(MshvLayer, StatsDoNotDisarmAndTheLastArmedSiteWins) {
  int p = partition();
  lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_ALLOC, 0);
  stats();  // introspection is not a call the fault is for
  EXPECT_EQ(create(p), ENOMEM);
  lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_ALLOC, 0);
  lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_FD_ALLOC, 0);
  EXPECT_EQ(create(p), EMFILE);
  lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_ALLOC, 0);
  lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_NONE, 0);
  EXPECT_EQ(create(p), 0);
}

TEST_F(MshvLayer, UnknownSiteProfileOrMutantIsEinval) {
  EXPECT_EQ(err_of(lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_END, 0)), EINVAL);
  EXPECT_EQ(err_of(lockstep_mshv_fail_next(-1, 0)), EINVAL);
  EXPECT_EQ(err_of(lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_ALLOC, EFAULT)), EINVAL);  // not its

  EXPECT_EQ(err_of(lockstep_mshv_set_profile("kvm")), EINVAL);
  EXPECT_EQ(err_of(lockstep_mshv_set_profile(nullptr)), EINVAL);
  EXPECT_EQ(err_of(lockstep_mshv_set_mutant(99)), EINVAL);
}

// ---- the copy mechanism ----------------------------------------------------------------------

// Why copy_to_user is process_vm_writev: it honours PROT_READ (no FOLL_FORCE), where a write
// through /proc/self/mem (FOLL_FORCE) does not.
TEST(MshvCopyMechanism, ProcessVmWritevHonoursProtReadUnlikeProcSelfMem) {
  void* page = ::mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(page, MAP_FAILED);
  uint32_t value = 42;
  iovec local{&value, sizeof value}, remote{page, sizeof value};
  errno = 0;
  EXPECT_EQ(::process_vm_writev(::getpid(), &local, 1, &remote, 1, 0), -1);
  EXPECT_EQ(errno, EFAULT);
  EXPECT_EQ(::process_vm_readv(::getpid(), &local, 1, &remote, 1, 0),
            static_cast<ssize_t>(sizeof value));
  int mem = ::open("/proc/self/mem", O_RDWR | O_CLOEXEC);
  if (mem >= 0) {
    value = 42;
    ssize_t n = ::pwrite(mem, &value, sizeof value, reinterpret_cast<off_t>(page));
    ::close(mem);
    if (n == static_cast<ssize_t>(sizeof value)) {
      EXPECT_EQ(*static_cast<uint32_t*>(page), 42u) << "/proc/self/mem wrote a PROT_READ page";
    } else {
      std::printf("note: this kernel refuses forced /proc/self/mem writes\n");
    }
  }
  ::munmap(page, kPage);
}

// ---- the broken variants: each must be observable ---------------------------------------------

TEST_F(MshvLayer, MutantsAreOffByDefault) {
  int p = partition(), d = device(p), f = vfio_file();
  int fds = open_fds();
  ASSERT_EQ(add(d, f), 0);
  EXPECT_EQ(add(d, f), EEXIST);
  EXPECT_EQ(del(d, f), 0);
  EXPECT_EQ(open_fds(), fds);
}

TEST_F(MshvLayer, MutantDelKeepsRefLeaksAnFdTheStatsDoNotShow) {
  lockstep_mshv_set_mutant(LOCKSTEP_MSHV_MUTANT_DEL_KEEPS_REF);
  int p = partition(), d = device(p), f = vfio_file();
  int fds = open_fds();
  ASSERT_EQ(add(d, f), 0);
  EXPECT_EQ(del(d, f), 0);
  EXPECT_EQ(stats().file_refs, 0u);  // unlinked...
  EXPECT_EQ(open_fds(), fds + 1);    // ...but the dup is still open: only the fd oracle sees it
  lockstep_mshv_reset();             // reset closes it, with p and d
  EXPECT_EQ(open_fds(), fds - 2);
}

TEST_F(MshvLayer, MutantNoDupCheckAddsTheSameFileTwice) {
  lockstep_mshv_set_mutant(LOCKSTEP_MSHV_MUTANT_NO_DUP_CHECK);
  int p = partition(), d = device(p), f = vfio_file();
  int fds = open_fds();
  EXPECT_EQ(add(d, f), 0);
  EXPECT_EQ(add(d, f), 0);  // should be EEXIST
  EXPECT_EQ(stats().file_refs, 2u);
  EXPECT_EQ(open_fds(), fds + 2);
}

TEST_F(MshvLayer, MutantReleaseKeepsFilesKeepsTheReferencesAfterClose) {
  lockstep_mshv_set_mutant(LOCKSTEP_MSHV_MUTANT_RELEASE_KEEPS_FILES);
  int p = partition(), d = device(p), f = vfio_file();
  ASSERT_EQ(add(d, f), 0);
  int fds = open_fds();
  EXPECT_EQ(lockstep_mshv_close(d), 0);
  EXPECT_EQ(open_fds(), fds - 1);  // only the device fd went
  EXPECT_EQ(stats(), (Stats{1, 1, 0, 1}));
}

TEST_F(MshvLayer, ResetTurnsMutantsOffAndRestoresV1) {
  lockstep_mshv_set_mutant(LOCKSTEP_MSHV_MUTANT_NO_DUP_CHECK);
  lockstep_mshv_set_profile("mshv-strict");
  lockstep_mshv_reset();
  int p = partition(), d = device(p), f = vfio_file();
  ASSERT_EQ(add(d, f), 0);
  EXPECT_EQ(add(d, f), EEXIST);
  EXPECT_EQ(lockstep_mshv_close(d), 0);
  EXPECT_EQ(create(p, 0x2), 0);  // v1 again: unknown flags ignored
}

// ---- reset and concurrency -------------------------------------------------------------------

TEST_F(MshvLayer, ResetClosesEveryLayerFdButNotTheCallersFiles) {
  int p = partition(), d = device(p), f = vfio_file();
  ASSERT_EQ(add(d, f), 0);
  lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_COPY_TO_USER, 0);
  int q = partition();
  lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_COPY_TO_USER, 0);
  EXPECT_EQ(create(q), EFAULT);  // an orphan too
  lockstep_mshv_reset();
  EXPECT_EQ(stats(), (Stats{0, 0, 0, 0}));
  EXPECT_EQ(open_fds(), baseline_ + 1);  // the caller's VFIO fd
  EXPECT_EQ(::fcntl(f, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

// The locks hold up: threads each run their own partition's life cycle on shared files.
TEST_F(MshvLayer, ConcurrentPartitionsBalance) {
  std::vector<int> files;
  for (int i = 0; i < 4; ++i) files.push_back(vfio_file());
  std::atomic<int> failures{0};
  auto worker = [&] {
    for (int round = 0; round < 200; ++round) {
      int part = lockstep_mshv_open_partition();
      uint32_t args[3] = {uapi::kDevTypeVfio, 0, 0};
      if (lockstep_mshv_ioctl(part, uapi::kCreateDevice, args) != 0) failures++;
      int dev = static_cast<int>(args[1]);
      for (int f : files) {
        uapi::DeviceAttr a{0, uapi::kDevVfioFile, uapi::kDevVfioFileAdd,
                           reinterpret_cast<uintptr_t>(&f)};
        if (lockstep_mshv_ioctl(dev, uapi::kSetDeviceAttr, &a) != 0) failures++;
      }
      if (round % 2) lockstep_mshv_close(part);
      lockstep_mshv_close(dev);
      if (!(round % 2)) lockstep_mshv_close(part);
    }
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(stats(), (Stats{0, 0, 0, 0}));
  EXPECT_EQ(open_fds(), baseline_ + 4);
}

// ---- ImplTarget ------------------------------------------------------------------------------

Handle p(uint8_t i) {
  return {kPartition, i};
}
Handle d(uint8_t i) {
  return {kDevice, i};
}
Handle f(uint8_t i) {
  return {kVfioFile, i};
}
Handle n(uint8_t i) {
  return {kPlainFile, i};
}

SetAttr add_op(Handle dev, Handle file) {
  SetAttr s;
  s.dev = dev;
  s.attr = uapi::kDevVfioFileAdd;
  s.fd = FdArg{FdArg::Kind::Handle, file, -1};
  return s;
}

TEST(MshvImplTarget, RejectsProfilesTheLayerDoesNotImplement) {
  EXPECT_THROW(ImplTarget("kvm"), std::invalid_argument);
  EXPECT_THROW(ImplTarget("mutant-no-dup-check"), std::invalid_argument);
}

TEST(MshvImplTarget, StepsAShortTraceAndBalancesFds) {
  const FdSet before = FdSet::current();
  {
    ImplTarget t("mshv-v1");
    EXPECT_EQ(t.step(OpenPartition{}).err, 0);
    EXPECT_EQ(t.step(CreateDevice{p(0)}).err, 0);
    EXPECT_EQ(t.step(OpenFile{true}).err, 0);
    EXPECT_EQ(t.step(OpenFile{false}).err, 0);
    Outcome added = t.step(add_op(d(0), f(0)));
    EXPECT_EQ(added.err, 0);
    EXPECT_EQ(added.res, (Resources{1, 2, 1, 1}));
    EXPECT_EQ(t.step(add_op(d(0), f(0))).err, EEXIST);
    EXPECT_EQ(t.step(add_op(d(0), n(0))).err, EINVAL);
    EXPECT_EQ(t.step(add_op(d(0), f(1))).err, EBADF);  // never created
    EXPECT_EQ(t.step(GetAttr{}).err, ENOTTY);
    EXPECT_EQ(t.step(RawIoctl{d(0), uapi::kSetDeviceAttr}).err, EFAULT);
    EXPECT_EQ(t.step(RawIoctl{p(0), uapi::kCreateDevice}).err, EFAULT);
    EXPECT_EQ(t.step(RawIoctl{f(0), uapi::kCreateDevice}).err, ENOTTY);
    EXPECT_EQ(t.step(CreateDevice{p(0)}).err, EBUSY);  // d1, unbound
    EXPECT_EQ(t.step(Close{d(1)}).err, EBADF);
    EXPECT_EQ(t.step(Close{p(0)}).res, (Resources{1, 1, 1, 1}));
    EXPECT_EQ(t.step(Close{p(0)}).err, EBADF);
    t.finish();
    EXPECT_EQ(FdSet::current().delta_since(before), 0);
    t.reap();
  }
  EXPECT_EQ(FdSet::current().delta_since(before), 0);
}

TEST(MshvImplTarget, MemArgsMapToRealPages) {
  ImplTarget t("mshv-v1");
  const FdSet before = FdSet::current();
  t.step(OpenPartition{});
  CreateDevice ro{p(0)};
  ro.arg = Mem::ReadOnly;
  CreateDevice unmapped{p(0)};
  unmapped.arg = Mem::Unmapped;
  EXPECT_EQ(t.step(unmapped).err, EFAULT);
  Outcome orphan = t.step(ro);  // v1: copy-back fault, the fd stays installed
  EXPECT_EQ(orphan.err, EFAULT);
  EXPECT_EQ(orphan.res, (Resources{1, 2, 1, 0}));
  t.finish();
  EXPECT_EQ(FdSet::current().delta_since(before), 1);  // the orphan, no handle reaches it
  t.reap();
  EXPECT_EQ(FdSet::current().delta_since(before), 0);
}

TEST(MshvImplTarget, TestFlagLeavesTheHandleUnbound) {
  ImplTarget t("mshv-v1");
  t.step(OpenPartition{});
  CreateDevice test{p(0)};
  test.flags = uapi::kCreateDeviceTest;
  EXPECT_EQ(t.step(test).err, 0);
  EXPECT_EQ(t.step(HasAttr{}).err, EBADF);  // d0 was never created
  EXPECT_EQ(t.step(CreateDevice{p(0)}).err, 0);
  HasAttr has1;
  has1.dev = d(1);
  EXPECT_EQ(t.step(has1).err, 0);
}

TEST(MshvImplTarget, FailNextCoversExactlyTheNextOp) {
  ImplTarget t("mshv-strict");
  t.step(OpenPartition{});
  EXPECT_EQ(t.step(FailNext{Site::Alloc}).err, 0);
  EXPECT_EQ(t.step(OpenFile{false}).err, 0);  // reaches no fault point, but consumes it
  EXPECT_EQ(t.step(CreateDevice{p(0)}).err, 0);
  t.step(FailNext{Site::CopyToUser});
  Outcome rolled_back = t.step(CreateDevice{p(0)});  // EBUSY before the copy-back: discarded
  EXPECT_EQ(rolled_back.err, EBUSY);
  t.step(Close{d(0)});
  t.step(FailNext{Site::CopyToUser});
  Outcome strict = t.step(CreateDevice{p(0)});
  EXPECT_EQ(strict.err, EFAULT);
  EXPECT_EQ(strict.res, (Resources{1, 1, 0, 0}));  // strict: rolled back
}

}  // namespace
}  // namespace lockstep::mshv
