#include "impl/mshv/target.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <variant>

#include "core/mshv/uapi.h"
#include "core/overloaded.h"
#include "impl/mshv/device_layer.h"
#include "impl/sys.h"

namespace lockstep::mshv {
namespace {

constexpr int kUnbound = -1;
constexpr size_t kPageSize = 4096;
constexpr size_t kFdSlot = 256;  // where FdArg's int32 lives in the user page, after the struct

int kind_slot(char kind) {
  switch (kind) {
    case kPartition:
      return 0;
    case kDevice:
      return 1;
    case kVfioFile:
      return 2;
    case kPlainFile:
      return 3;
    default:
      return -1;
  }
}

using sys::kHarness;

// The errno of a call that returned `result` (0 on success).
int err_of(int result) {
  return result < 0 ? errno : 0;
}

uint8_t clamp8(unsigned n) {
  return static_cast<uint8_t>(std::min(n, 255u));
}

Resources resources() {
  lockstep_mshv_resources r;
  lockstep_mshv_stats(&r);
  return {clamp8(r.partitions), clamp8(r.partition_refs), clamp8(r.devices), clamp8(r.file_refs)};
}

[[noreturn]] void fail_setup(const char* what) {
  throw std::system_error(errno, std::generic_category(), std::string("lockstep impl: ") + what);
}

}  // namespace

ImplTarget::ImplTarget(std::string_view profile, int mutant) : mutant_(mutant) {
  if (profile == "mshv-v1") {
    profile_ = "mshv-v1";
  } else if (profile == "mshv-strict") {
    profile_ = "mshv-strict";
  } else {
    throw std::invalid_argument("lockstep impl: the device layer has no profile '" +
                                std::string(profile) + "' (mshv-v1, mshv-strict)");
  }
  for (auto& kind : fds_) kind.fill(kUnbound);
  pages();
  lockstep_mshv_reset();
  lockstep_mshv_set_profile(profile_);
  if (lockstep_mshv_set_mutant(mutant_) != 0)
    throw std::invalid_argument("lockstep impl: the device layer has no mutant " +
                                std::to_string(mutant));
}

ImplTarget::~ImplTarget() {
  reap();
  lockstep_mshv_set_mutant(LOCKSTEP_MSHV_MUTANT_NONE);  // the layer outlives the target
}

// One memfd page mapped twice (RW and PROT_READ) plus a PROT_NONE page. The memfd's fd is
// closed at once: the mappings keep the page, and no fd outlives this call.
const ImplTarget::Pages& ImplTarget::pages() {
  static const Pages mapped = [] {
    int fd = sys::memfd_create(kHarness, "lockstep-user-page", MFD_CLOEXEC);
    if (fd < 0) fail_setup("memfd_create");
    if (sys::ftruncate(kHarness, fd, kPageSize) != 0) fail_setup("ftruncate");
    void* rw = sys::mmap(kHarness, nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    void* ro = sys::mmap(kHarness, nullptr, kPageSize, PROT_READ, MAP_SHARED, fd, 0);
    void* none =
        sys::mmap(kHarness, nullptr, kPageSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    sys::close(kHarness, fd);
    if (rw == MAP_FAILED || ro == MAP_FAILED || none == MAP_FAILED) fail_setup("mmap");
    return Pages{static_cast<char*>(rw), static_cast<char*>(ro), static_cast<char*>(none)};
  }();
  return mapped;
}

// ---- handles ---------------------------------------------------------------------------------

int ImplTarget::fd_of(Handle h) const {
  int slot = kind_slot(h.kind);
  int fd = slot < 0 ? kUnbound : fds_[slot][h.index];
  return fd == kUnbound ? kNeverOpenFd : fd;
}

void ImplTarget::bind(Handle h, int fd) {
  const int slot = kind_slot(h.kind);
  fds_[slot][h.index] = fd;
  FdClass cls;
  const size_t at = static_cast<size_t>(slot) * 256 + h.index;
  known_[at] = identify_fd(fd, ids_[at], cls);
  if (bound_count_ < bound_.size())
    bound_[bound_count_++] = static_cast<uint16_t>(slot * 256 + h.index);
}

bool ImplTarget::fd_identity(uint32_t name, FdIdentity& id, FdClass& fallback) const {
  fallback = FdClass::Memfd;
  const int slot = kind_slot(static_cast<char>(name >> 8));
  const size_t at = static_cast<size_t>(slot) * 256 + (name & 0xff);
  if (slot < 0 || !known_[at]) return false;
  id = ids_[at];
  return true;
}

void ImplTarget::unbind(Handle h) {
  int slot = kind_slot(h.kind);
  if (slot >= 0) fds_[slot][h.index] = kUnbound;
}

void* ImplTarget::user_ptr(Mem mem) {
  switch (mem) {
    case Mem::Ok:
      return pages().rw;
    case Mem::ReadOnly:
      return pages().ro;
    case Mem::Unmapped:
      return pages().none;
  }
  return pages().none;
}

// ---- ops -------------------------------------------------------------------------------------

Outcome ImplTarget::step(const Op& op) {
  const std::optional<Handle> made = counts_.create(op);  // numbered whether or not op succeeds
  int err = std::visit(Overloaded{
                           [&](const OpenPartition&) { return open_partition(*made); },
                           [&](const OpenFile& o) { return open_file(o, *made); },
                           [&](const CreateDevice& c) { return create_device(c, *made); },
                           [&](const SetAttr& a) { return attr_ioctl(a, uapi::kSetDeviceAttr); },
                           [&](const HasAttr& a) { return attr_ioctl(a, uapi::kHasDeviceAttr); },
                           [&](const GetAttr& a) { return attr_ioctl(a, uapi::kKvmGetDeviceAttr); },
                           [&](const RawIoctl& r) { return raw_ioctl(r); },
                           [&](const Close& c) { return close(c); },
                           [&](const FailNext& f) { return fail_next(f); },
                       },
                       op);
  // A FailNext covers exactly the next op, even one that never enters the layer (close(2) of a
  // file, opening a plain file).
  if (!std::holds_alternative<FailNext>(op)) lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_NONE, 0);
  return Outcome{err, resources()};
}

int ImplTarget::open_partition(Handle made) {
  int fd = lockstep_mshv_open_partition();
  if (fd < 0) return errno;
  bind(made, fd);
  return 0;
}

int ImplTarget::open_file(const OpenFile& op, Handle made) {
  int fd =
      op.vfio ? lockstep_vfio_open_file() : sys::memfd_create(kHarness, "plain-file", MFD_CLOEXEC);
  if (fd < 0) return errno;
  bind(made, fd);
  return 0;
}

int ImplTarget::create_device(const CreateDevice& op, Handle made) {
  // The fd field starts as a number that is never open: TEST succeeds without writing it back,
  // and then the handle stays unbound (the model's "device never created").
  const uapi::CreateDevice args{op.type, static_cast<uint32_t>(kNeverOpenFd), op.flags};
  std::memcpy(pages().rw, &args, sizeof args);
  int err = err_of(lockstep_mshv_ioctl(fd_of(op.part), uapi::kCreateDevice, user_ptr(op.arg)));
  uapi::CreateDevice back;
  std::memcpy(&back, pages().rw, sizeof back);
  if (err == 0 && back.fd != static_cast<uint32_t>(kNeverOpenFd))
    bind(made, static_cast<int>(back.fd));
  return err;
}

int ImplTarget::attr_ioctl(const AttrArgs& a, uint32_t request) {
  uint64_t addr = reinterpret_cast<uintptr_t>(pages().none);
  if (a.fd.kind != FdArg::Kind::Unmapped) {
    const int32_t fd = a.fd.kind == FdArg::Kind::Handle ? fd_of(a.fd.handle) : a.fd.raw;
    std::memcpy(pages().rw + kFdSlot, &fd, sizeof fd);
    addr = reinterpret_cast<uintptr_t>(pages().rw + kFdSlot);
  }
  const uapi::DeviceAttr attr{a.flags, a.group, a.attr, addr};
  std::memcpy(pages().rw, &attr, sizeof attr);
  return err_of(lockstep_mshv_ioctl(fd_of(a.dev), request, user_ptr(a.arg)));
}

int ImplTarget::raw_ioctl(const RawIoctl& op) {
  return err_of(lockstep_mshv_ioctl(fd_of(op.h), op.request, nullptr));
}

// Partitions and devices close through the layer (their release runs); files with close(2);
// an unbound handle's never-open number gets close(2)'s own EBADF.
int ImplTarget::close(const Close& op) {
  const int fd = fd_of(op.h);
  const bool layer_object = op.h.kind == kPartition || op.h.kind == kDevice;
  int err = err_of(layer_object ? lockstep_mshv_close(fd) : sys::close(kHarness, fd));
  // Linux frees the number even when close reports an error; the layer's ENOMEM (F1: fstat
  // could not identify the file) closed nothing.
  if (!(layer_object && err == ENOMEM)) unbind(op.h);
  return err;
}

int ImplTarget::fail_next(const FailNext& op) {
  lockstep_mshv_fail_next(1 + static_cast<int>(op.site), fault_errno(op));
  return 0;
}

// ---- end of trace ----------------------------------------------------------------------------

void ImplTarget::finish() {
  lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_NONE, 0);  // a trailing FailNext covers no close
  // Devices first, then partitions and files: each release then finds its partition still
  // open, as a caller closing in reverse order of creation would.
  for (bool devices : {true, false}) {
    for (size_t i = 0; i < bound_count_; ++i) {
      const int slot = bound_[i] / 256;
      int& fd = fds_[slot][bound_[i] % 256];
      if (fd == kUnbound || (slot == kind_slot(kDevice)) != devices) continue;
      if (slot == kind_slot(kDevice) || slot == kind_slot(kPartition)) {
        lockstep_mshv_close(fd);
      } else {
        sys::close(kHarness, fd);
      }
      fd = kUnbound;
    }
  }
  bound_count_ = 0;
  lockstep_mshv_fail_next(LOCKSTEP_MSHV_SITE_NONE, 0);
}

void ImplTarget::reap() {
  finish();  // a no-op after run()'s finish(); keeps reap() safe on its own
  lockstep_mshv_reap();
  lockstep_mshv_reset();
  lockstep_mshv_set_profile(profile_);
  lockstep_mshv_set_mutant(mutant_);
  counts_ = HandleCounts{};
  known_.reset();
}

}  // namespace lockstep::mshv
