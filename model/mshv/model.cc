#include "model/mshv/model.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include "core/mshv/uapi.h"
#include "core/overloaded.h"

namespace lockstep::mshv {
namespace {

template <class T>
T* at(std::vector<T>& v, uint8_t index) {
  return index < v.size() ? &v[index] : nullptr;
}

}  // namespace

Outcome Model::step(const Op& op) {
  fault_ = std::exchange(state_.armed, std::nullopt);  // F1: a FailNext covers exactly one op
  rule_ = {};
  int err = std::visit(Overloaded{
                           [&](const OpenPartition&) { return open_partition(); },
                           [&](const OpenFile& o) { return open_file(o); },
                           [&](const CreateDevice& c) { return create_device(c); },
                           [&](const SetAttr& a) { return attr_ioctl(a, profile_.set_request); },
                           [&](const HasAttr& a) { return attr_ioctl(a, profile_.has_request); },
                           [&](const GetAttr& a) { return attr_ioctl(a, profile_.get_request); },
                           [&](const RawIoctl& r) { return raw_ioctl(r); },
                           [&](const Close& c) { return close(c); },
                           [&](const FailNext& f) {
                             state_.armed = f;  // F1: a second one replaces the first
                             return cite("F1", 0);
                           },
                       },
                       op);
  state_.counts.create(op);  // handle numbering never depends on the outcome
  return Outcome{err, resources()};
}

int Model::fault(Site site) {
  if (!fault_ || fault_->site != site) return 0;
  const int err = fault_errno(*fault_);
  rule_ = site == Site::PtMutex ? "F4" : "F2";  // F2, F4: the outcome is the injected errno
  fault_.reset();  // F1: fires at the first point of its site, with its errno
  return err;
}

Model::FdKind Model::kind_of(Handle h) const {
  auto& s = const_cast<State&>(state_);
  switch (h.kind) {
    case kPartition: {
      auto* p = at(s.partitions, h.index);
      return p && p->fd_open ? FdKind::Partition : FdKind::None;
    }
    case kDevice: {
      auto* d = at(s.devices, h.index);
      return d && d->live && d->fd_known ? FdKind::Device : FdKind::None;
    }
    case kVfioFile: {
      auto* f = at(s.vfio_files, h.index);
      return f && f->fd_open ? FdKind::VfioFile : FdKind::None;
    }
    default: {
      auto* f = at(s.plain_files, h.index);
      return f && f->fd_open ? FdKind::PlainFile : FdKind::None;
    }
  }
}

// ---- opening: the resources traces act on ----------------------------------------------------

int Model::open_partition() {
  state_.partitions.emplace_back();  // p<n> names this op's partition, whether or not it opens
  if (int err = fault(Site::OpenFd)) return err;            // F2: the partition's file not made
  if (int err = fault(Site::Fstat)) return err;             // F2: not identified, closed again
  state_.partitions.back() = {.fd_open = true, .refs = 1};  // P1: mshv_ioctl_create_partition
  return cite("P1", 0);
}

int Model::open_file(const OpenFile& op) {
  auto& files = op.vfio ? state_.vfio_files : state_.plain_files;
  files.push_back({op.vfio, false});
  if (op.vfio) {                                    // a plain file reaches no site of the layer
    if (int err = fault(Site::OpenFd)) return err;  // F2: the VFIO file not made
    if (int err = fault(Site::Fstat)) return err;   // F2: not identified, closed again
  }
  files.back().fd_open = true;  // P3
  return cite("P3", 0);
}

// ---- MSHV_CREATE_DEVICE ---------------------------------------------------------------------

int Model::create_device(const CreateDevice& op) {
  state_.devices.emplace_back();  // d<n> names this op's device, whether or not it succeeds
  const size_t index = state_.devices.size() - 1;
  if (int err = fault(Site::Fstat)) return err;  // F2: fdget's stand-in fails first
  FdKind kind = kind_of(op.part);
  if (kind == FdKind::None) return cite("I1", EBADF);        // I1: fdget in sys_ioctl
  if (kind != FdKind::Partition) return cite("I2", ENOTTY);  // I2: not mshv_partition_fops
  if (int err = fault(Site::PtMutex)) return err;            // F4: mutex_lock_killable -> EINTR
  if (int err = fault(Site::CopyFromUser)) return err;       // F2: C1's copy fails with its errno
  if (op.arg == Mem::Unmapped) return cite("C1", EFAULT);    // C1: copy_from_user
  const bool test = op.flags & uapi::kCreateDeviceTest;
  if (profile_.reject_unknown_create_flags && (op.flags & ~uapi::kCreateDeviceTest))
    return cite("C2", EINVAL);  // C2: mshv-strict rejects unknown flags
  if (op.type != profile_.vfio_type && !profile_.mutant_no_type_check)
    return cite("C3", ENODEV);                  // C3: mshv_partition_ioctl_create_device
  if (test && !profile_.mutant_test_creates) {  // C4: TEST creates nothing
    if (profile_.test_copies_back)
      if (int err = op.arg == Mem::ReadOnly ? EFAULT : fault(Site::CopyToUser))
        return cite("C5", err);  // C5: kvm_vm_ioctl echoes the struct
    return cite("C4", 0);        // C4
  }
  if (int err = fault(Site::Alloc)) return cite("C6", err);  // C6: kzalloc
  const auto& devices = state_.devices;
  bool busy = std::any_of(devices.begin(), devices.end() - 1, [&](const DeviceState& d) {
    return d.live && d.partition == op.part.index;
  });
  if (busy && !profile_.mutant_no_busy_check)
    return cite("C7", EBUSY);                                   // C7: mshv_vfio_create_device
  if (int err = fault(Site::FdAlloc)) return cite("C10", err);  // C10: anon_inode_getfd rollback
  DeviceState& dev = state_.devices[index];
  dev.partition = op.part.index;  // C8: hlist_add_head
  dev.live = true;
  state_.partitions[op.part.index].refs++;       // C9: mshv_partition_get
  const int injected = fault(Site::CopyToUser);  // F2: fails before the page is touched
  if (injected || op.arg == Mem::ReadOnly) {     // C11: copy_to_user fails
    if (profile_.rollback_on_copy_back_fault) release_device(dev);  // C11: mshv-strict
    return cite("C11", injected ? injected : EFAULT);  // C11: mshv-v1 / kvm: the fd stays installed
  }
  dev.fd_known = true;  // C12: the caller learns the fd
  return cite("C12", 0);
}

// ---- device fd: MSHV_SET_DEVICE_ATTR / MSHV_HAS_DEVICE_ATTR ----------------------------------

int Model::attr_ioctl(const AttrArgs& a, uint32_t request) {
  if (int err = fault(Site::Fstat)) return err;  // F2: fdget's stand-in fails first
  FdKind kind = kind_of(a.dev);
  if (kind == FdKind::None) return cite("I1", EBADF);  // I1: fdget in sys_ioctl
  if (kind == FdKind::Partition)
    if (int err = fault(Site::PtMutex)) return err;  // F4: every partition ioctl locks
  if (kind != FdKind::Device || request == 0)
    return cite(request == 0 ? "G1" : "I2", ENOTTY);  // I2, G1: fop_ioctl default
  DeviceState& dev = state_.devices[a.dev.index];
  if (request == profile_.get_request)
    return cite("G2", EPERM);                             // G2: kvm_device_ioctl_attr, no get_attr
  if (int err = fault(Site::CopyFromUser)) return err;    // F2: I3's copy fails with its errno
  if (a.arg == Mem::Unmapped) return cite("I3", EFAULT);  // I3: mshv_device_attr_ioctl copy
  if (request == profile_.has_request)                    // H1, H2: mshv_vfio_has_attr
    return cite("H1", a.group == uapi::kDevVfioFile &&
                              (a.attr == uapi::kDevVfioFileAdd || a.attr == uapi::kDevVfioFileDel)
                          ? 0
                          : ENXIO);
  return set_attr(dev, a);
}

int Model::set_attr(DeviceState& dev, const AttrArgs& a) {
  if (a.group != uapi::kDevVfioFile)
    return cite("A1", ENXIO);  // A1: mshv_vfio_set_attr, other groups
  if (a.attr != uapi::kDevVfioFileAdd && a.attr != uapi::kDevVfioFileDel)
    return cite("A2", ENXIO);  // A2: mshv_vfio_set_file, before get_user
  if (a.fd.kind == FdArg::Kind::Unmapped)
    return cite("A3", EFAULT);  // A3: mshv_vfio_set_file get_user
  return a.attr == uapi::kDevVfioFileAdd ? file_add(dev, a.fd) : file_del(dev, a.fd);
}

int Model::file_add(DeviceState& dev, const FdArg& fd) {
  if (int err = fault(Site::Dup)) return err;  // F2: fget's stand-in (a dup) fails first
  FdKind kind = fd.kind == FdArg::Kind::Handle ? kind_of(fd.handle) : FdKind::None;
  if (kind == FdKind::None) return cite("A4", EBADF);       // A4: mshv_vfio_file_add fget
  if (kind != FdKind::VfioFile) return cite("A5", EINVAL);  // A5: !vfio_file_is_valid
  int file = fd.handle.index;
  bool listed = std::find(dev.files.begin(), dev.files.end(), file) != dev.files.end();
  if (listed && !profile_.mutant_no_duplicate_check)
    return cite("A6", EEXIST);                               // A6: same struct file
  if (int err = fault(Site::Alloc)) return cite("A7", err);  // A7: kzalloc of the entry
  dev.files.push_back(file);                                 // A8: get_file + list_add
  return cite("A8", 0);
}

int Model::file_del(DeviceState& dev, const FdArg& fd) {
  FdKind kind = fd.kind == FdArg::Kind::Handle ? kind_of(fd.handle) : FdKind::None;
  if (kind == FdKind::None) return cite("A9", EBADF);  // A9: mshv_vfio_file_del CLASS(fd)
  auto it = kind == FdKind::VfioFile
                ? std::find(dev.files.begin(), dev.files.end(), fd.handle.index)
                : dev.files.end();
  if (it == dev.files.end()) return cite("A10", ENOENT);         // A10: no match, no VFIO check
  dev.files.erase(it);                                           // A11: list_del + fput
  if (profile_.mutant_del_keeps_ref) state_.leaked_file_refs++;  // A11 broken: no fput
  return cite("A11", 0);
}

// ---- any other ioctl, with a NULL argument -------------------------------------------------

int Model::raw_ioctl(const RawIoctl& op) {
  if (int err = fault(Site::Fstat)) return err;  // F2: fdget's stand-in fails first
  FdKind kind = kind_of(op.h);
  if (kind == FdKind::None) return cite("I1", EBADF);  // I1
  if (kind == FdKind::Device) {
    if (op.request != 0 && op.request == profile_.get_request)
      return cite("G2", EPERM);  // G2: no get_attr
    if (op.request == profile_.set_request || op.request == profile_.has_request) {
      if (int err = fault(Site::CopyFromUser)) return err;  // F2: I3's copy
      return cite("I3", EFAULT);                            // I3: copy_from_user(NULL)
    }
    return cite("I2", ENOTTY);  // I2: mshv_device_fop_ioctl default
  }
  if (kind == FdKind::Partition) {
    if (int err = fault(Site::PtMutex)) return err;  // F4: the switch runs under pt_mutex
    if (op.request == profile_.create_request) {
      if (int err = fault(Site::CopyFromUser)) return err;  // F2: C1's copy
      return cite("C1", EFAULT);                            // C1: copy_from_user(NULL)
    }
  }
  return cite("I4", ENOTTY);  // I4: other partition ioctls are out of scope; I2: files have none
}

// ---- close: the file's release ---------------------------------------------------------------

void Model::release_device(DeviceState& dev) {
  if (!profile_.mutant_release_keeps_files)
    dev.files.clear();  // R3: mshv_vfio_release_device, fput each
  dev.live = false;     // R2: hlist_del under pt_mutex
  dev.fd_known = false;
  if (!profile_.mutant_release_keeps_partition)
    state_.partitions[dev.partition].refs--;  // R4: mshv_partition_put
}

int Model::close(const Close& op) {
  if (op.h.kind == kPartition || op.h.kind == kDevice)  // closed through the layer
    if (int err = fault(Site::Fstat)) return err;       // F2: not identified, nothing closed
  // F3: a fault at close itself changes nothing: the number is freed, the release runs and
  // reports 0 (mshv_device_fop_release), so it is left to be discarded.
  switch (kind_of(op.h)) {
    case FdKind::None:
      return cite("R1", EBADF);  // R1: close(2) of a closed fd
    case FdKind::Partition:
      state_.partitions[op.h.index].fd_open = false;  // P2: mshv_partition_release, put
      state_.partitions[op.h.index].refs--;           // P2: devices keep the partition alive
      return cite("P2", 0);
    case FdKind::Device:
      release_device(state_.devices[op.h.index]);  // R2: mshv_device_fop_release
      return cite("R2", 0);
    case FdKind::VfioFile:
      state_.vfio_files[op.h.index].fd_open = false;  // P4: a device's reference outlives it
      return cite("P4", 0);
    case FdKind::PlainFile:
      state_.plain_files[op.h.index].fd_open = false;  // P4
      return cite("P4", 0);
  }
  return 0;
}

// ---- observation -----------------------------------------------------------------------------

Resources Model::resources() const {
  Resources r;
  for (const auto& p : state_.partitions) {
    r.partitions += p.alive();
    r.partition_refs += p.refs;
  }
  for (const auto& d : state_.devices) {
    r.devices += d.live;
    r.file_refs += d.files.size();
  }
  r.file_refs += state_.leaked_file_refs;
  return r;
}

int Model::fds_left_open() const {
  int n = 0;
  for (const auto& d : state_.devices) n += d.live && !d.fd_known;  // C11: fd installed, unknown
  return n;
}

void Model::expected_fds(FdExpectation& out) const {
  for (size_t i = 0; i < state_.partitions.size(); ++i)
    if (state_.partitions[i].fd_open) out.named.push_back(fd_name(kPartition, i));  // P1
  for (size_t i = 0; i < state_.devices.size(); ++i) {
    const DeviceState& d = state_.devices[i];
    if (d.live) out.named.push_back(fd_name(kDevice, i));              // C11, C12
    for (int f : d.files) out.named.push_back(fd_name(kVfioFile, f));  // A8: a dup
  }
  for (size_t i = 0; i < state_.vfio_files.size(); ++i)
    if (state_.vfio_files[i].fd_open) out.named.push_back(fd_name(kVfioFile, i));  // P4
  for (size_t i = 0; i < state_.plain_files.size(); ++i)
    if (state_.plain_files[i].fd_open) out.named.push_back(fd_name(kPlainFile, i));  // P4
  out.any += state_.leaked_file_refs;  // broken variants: a dup no device owns
}

}  // namespace lockstep::mshv
