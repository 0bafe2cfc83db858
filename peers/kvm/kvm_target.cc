#include "peers/kvm/kvm_target.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/errno_names.h"
#include "core/mshv/uapi.h"
#include "core/overloaded.h"

namespace lockstep::peers::kvm {
namespace {

namespace uapi = mshv::uapi;
constexpr int kUnbound = -1;
constexpr size_t kPageSize = 4096;
constexpr size_t kFdSlot = 256;                      // where FdArg's int32 lives in the user page
constexpr unsigned long kKvmGetApiVersion = 0xAE00;  // _IO(KVMIO, 0x00)
constexpr unsigned long kKvmCreateVm = 0xAE01;       // _IO(KVMIO, 0x01)

int kind_slot(char kind) {
  switch (kind) {
    case mshv::kPartition:
      return 0;
    case mshv::kDevice:
      return 1;
    case mshv::kVfioFile:
      return 2;
    case mshv::kPlainFile:
      return 3;
    default:
      return -1;
  }
}

int err_of(long result) {
  return result < 0 ? errno : 0;
}

struct Pages {
  char* rw = nullptr;
  char* ro = nullptr;
  char* none = nullptr;
};

// One memfd page mapped RW and PROT_READ, plus a PROT_NONE page; mapped once per process.
const Pages& pages() {
  static const Pages mapped = [] {
    int fd = ::memfd_create("lockstep-kvm-user-page", MFD_CLOEXEC);
    if (fd < 0 || ::ftruncate(fd, kPageSize) != 0)
      throw std::system_error(errno, std::generic_category(), "kvm peer: memfd");
    void* rw = ::mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    void* ro = ::mmap(nullptr, kPageSize, PROT_READ, MAP_SHARED, fd, 0);
    void* none = ::mmap(nullptr, kPageSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ::close(fd);
    if (rw == MAP_FAILED || ro == MAP_FAILED || none == MAP_FAILED)
      throw std::system_error(errno, std::generic_category(), "kvm peer: mmap");
    return Pages{static_cast<char*>(rw), static_cast<char*>(ro), static_cast<char*>(none)};
  }();
  return mapped;
}

void* user_ptr(mshv::Mem mem) {
  switch (mem) {
    case mshv::Mem::Ok:
      return pages().rw;
    case mshv::Mem::ReadOnly:
      return pages().ro;
    case mshv::Mem::Unmapped:
      return pages().none;
  }
  return pages().none;
}

// /dev/kvm, opened once per process (before any trace's fd snapshot), or why not.
struct KvmFd {
  int fd = -1;
  std::string why;
};
const KvmFd& kvm_fd() {
  static const KvmFd k = [] {
    KvmFd r;
    r.fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (r.fd < 0) {
      r.why = std::string("cannot open /dev/kvm: ") + std::strerror(errno) +
              (errno == ENOENT                     ? " (no KVM on this machine)"
               : errno == EACCES || errno == EPERM ? " (not permitted)"
                                                   : "");
      return r;
    }
    int version = ::ioctl(r.fd, kKvmGetApiVersion, 0);
    if (version != 12) {
      r.why = "KVM_GET_API_VERSION returned " + std::to_string(version) + ", expected 12";
      ::close(r.fd);
      r.fd = -1;
      return r;
    }
    int vm = ::ioctl(r.fd, kKvmCreateVm, 0);
    if (vm < 0) {
      r.why = std::string("KVM_CREATE_VM failed: ") + std::strerror(errno);
      ::close(r.fd);
      r.fd = -1;
      return r;
    }
    ::close(vm);
    return r;
  }();
  return k;
}

}  // namespace

std::string KvmProtocol::outcome_text(const mshv::Outcome& outcome) {
  return outcome.err ? errno_name(outcome.err) : "0";
}

KvmEnvironment probe_environment() {
  KvmEnvironment env;
  struct utsname u;
  if (::uname(&u) == 0) env.kernel = u.release;
  env.unavailable = kvm_fd().why;
  if (kvm_fd().fd >= 0) env.api_version = ::ioctl(kvm_fd().fd, kKvmGetApiVersion, 0);
  namespace fs = std::filesystem;
  std::error_code ec;
  env.vfio_available = fs::exists("/dev/vfio/vfio", ec);
  env.vfio_detail = std::string("/dev/vfio/vfio ") + (env.vfio_available ? "exists" : "absent") +
                    ", /sys/module/vfio " +
                    (fs::exists("/sys/module/vfio", ec) ? "present" : "absent") +
                    ", /sys/kernel/iommu_groups entries: ";
  size_t groups = 0;
  if (fs::is_directory("/sys/kernel/iommu_groups", ec))
    for ([[maybe_unused]] const auto& e : fs::directory_iterator("/sys/kernel/iommu_groups", ec))
      ++groups;
  env.vfio_detail += std::to_string(groups);
  return env;
}

KvmTarget::KvmTarget(Vocabulary vocabulary) : vocabulary_(vocabulary), kvm_fd_(kvm_fd().fd) {
  if (kvm_fd_ < 0) throw std::runtime_error("kvm peer unavailable: " + kvm_fd().why);
  pages();
  for (auto& kind : fds_) kind.fill(kUnbound);
  baseline_ = FdSet::current();
}

KvmTarget::~KvmTarget() {
  reap();
}

int KvmTarget::fd_of(Handle h) const {
  int slot = kind_slot(h.kind);
  int fd = slot < 0 ? kUnbound : fds_[slot][h.index];
  return fd == kUnbound ? kNeverOpenFd : fd;
}
void KvmTarget::bind(Handle h, int fd) {
  fds_[kind_slot(h.kind)][h.index] = fd;
}
void KvmTarget::unbind(Handle h) {
  int slot = kind_slot(h.kind);
  if (slot >= 0) fds_[slot][h.index] = kUnbound;
}

mshv::Outcome KvmTarget::step(const mshv::Op& trace_op) {
  const mshv::Op op = to_kvm(trace_op, vocabulary_);
  if (auto why = unsupported(op)) throw SkippedOp(*why);
  const std::optional<Handle> made = counts_.create(op);
  int err = std::visit(Overloaded{
                           [&](const mshv::OpenPartition&) { return open_partition(*made); },
                           [&](const mshv::OpenFile&) { return open_file(*made); },
                           [&](const mshv::CreateDevice& c) { return create_device(c, *made); },
                           [&](const mshv::SetAttr& a) { return attr_ioctl(a, kvm_request(op)); },
                           [&](const mshv::HasAttr& a) { return attr_ioctl(a, kvm_request(op)); },
                           [&](const mshv::GetAttr& a) { return attr_ioctl(a, kvm_request(op)); },
                           [&](const mshv::RawIoctl& r) { return raw_ioctl(r); },
                           [&](const mshv::Close& c) { return close(c); },
                           [&](const mshv::FailNext&) -> int { throw SkippedOp("fail_next"); },
                       },
                       op);
  return mshv::Outcome{err, {}};  // KVM exposes no resource counters
}

int KvmTarget::open_partition(Handle made) {
  int fd = ::ioctl(kvm_fd_, kKvmCreateVm, 0);
  if (fd < 0) return errno;
  bind(made, fd);
  return 0;
}

int KvmTarget::open_file(Handle made) {
  int fd = ::memfd_create("lockstep-plain-file", MFD_CLOEXEC);
  if (fd < 0) return errno;
  bind(made, fd);
  return 0;
}

int KvmTarget::create_device(const mshv::CreateDevice& op, Handle made) {
  const uapi::CreateDevice args{op.type, static_cast<uint32_t>(kNeverOpenFd), op.flags};
  std::memcpy(pages().rw, &args, sizeof args);
  int err = err_of(::ioctl(fd_of(op.part), uapi::kKvmCreateDevice, user_ptr(op.arg)));
  uapi::CreateDevice back;
  std::memcpy(&back, pages().rw, sizeof back);
  if (err == 0 && back.fd != static_cast<uint32_t>(kNeverOpenFd))
    bind(made, static_cast<int>(back.fd));
  return err;
}

int KvmTarget::attr_ioctl(const mshv::AttrArgs& a, uint32_t request) {
  uint64_t addr = reinterpret_cast<uintptr_t>(pages().none);
  if (a.fd.kind != mshv::FdArg::Kind::Unmapped) {
    const int32_t fd = a.fd.kind == mshv::FdArg::Kind::Handle ? fd_of(a.fd.handle) : a.fd.raw;
    std::memcpy(pages().rw + kFdSlot, &fd, sizeof fd);
    addr = reinterpret_cast<uintptr_t>(pages().rw + kFdSlot);
  }
  const uapi::DeviceAttr attr{a.flags, a.group, a.attr, addr};
  std::memcpy(pages().rw, &attr, sizeof attr);
  return err_of(::ioctl(fd_of(a.dev), request, user_ptr(a.arg)));
}

int KvmTarget::raw_ioctl(const mshv::RawIoctl& op) {
  return err_of(::ioctl(fd_of(op.h), static_cast<unsigned long>(op.request), nullptr));
}

int KvmTarget::close(const mshv::Close& op) {
  int err = err_of(::close(fd_of(op.h)));
  unbind(op.h);  // Linux frees the number even when close reports an error
  return err;
}

void KvmTarget::finish() {
  for (char kind : {mshv::kDevice, mshv::kPartition, mshv::kVfioFile, mshv::kPlainFile}) {
    for (int& fd : fds_[kind_slot(kind)]) {
      if (fd == kUnbound) continue;
      ::close(fd);
      fd = kUnbound;
    }
  }
}

void KvmTarget::reap() {
  finish();
  const FdSet now = FdSet::current();
  const auto& before = baseline_.fds();
  for (int fd : now.fds()) {
    if (std::binary_search(before.begin(), before.end(), fd)) continue;
    if (describe_fd(fd).starts_with("anon_inode:kvm-")) ::close(fd);
  }
  counts_ = mshv::HandleCounts{};
}

}  // namespace lockstep::peers::kvm
