// The MSHV VFIO bridge device on real fds. Each rule is one line citing the kernel function of
// the series it mirrors (mshv_root_main.c, mshv_vfio.c) and the rule of docs/mshv-device-rules.md.
//
// Lock order, outermost first: Partition::pt_mutex, Device::lock, g_registry_mutex. Objects are
// shared_ptr-owned so that a lookup keeps the memory valid while the caller uses it, as the
// kernel's fdget keeps the file; the *semantic* lifetimes (partition refcount, device
// liveness) are explicit and counted in g_count.
#include "impl/mshv/device_layer.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/mshv/uapi.h"
#include "impl/sys.h"

namespace {

namespace uapi = lockstep::mshv::uapi;
namespace sys = lockstep::sys;
using lockstep::mshv::Site;

// The C enum is 1 + the row of core/mshv/sites.def.
constexpr int c_site(Site s) {
  return 1 + static_cast<int>(s);
}
static_assert(c_site(Site::Alloc) == LOCKSTEP_MSHV_SITE_ALLOC);
static_assert(c_site(Site::FdAlloc) == LOCKSTEP_MSHV_SITE_FD_ALLOC);
static_assert(c_site(Site::CopyToUser) == LOCKSTEP_MSHV_SITE_COPY_TO_USER);
static_assert(c_site(Site::CopyFromUser) == LOCKSTEP_MSHV_SITE_COPY_FROM_USER);
static_assert(c_site(Site::OpenFd) == LOCKSTEP_MSHV_SITE_OPEN_FD);
static_assert(c_site(Site::Fstat) == LOCKSTEP_MSHV_SITE_FSTAT);
static_assert(c_site(Site::Dup) == LOCKSTEP_MSHV_SITE_DUP);
static_assert(c_site(Site::Close) == LOCKSTEP_MSHV_SITE_CLOSE);
static_assert(c_site(Site::PtMutex) == LOCKSTEP_MSHV_SITE_PT_MUTEX);
static_assert(LOCKSTEP_MSHV_SITE_END == 1 + lockstep::mshv::kSiteCount);

constexpr sys::Site at(Site s) {
  return sys::at(s);
}

// ---- configuration and fault injection -------------------------------------------------------

std::atomic<bool> g_strict{false};
std::atomic<int> g_mutant{LOCKSTEP_MSHV_MUTANT_NONE};

bool strict() {
  return g_strict.load(std::memory_order_relaxed);
}
bool mutant(int which) {
  return g_mutant.load(std::memory_order_relaxed) == which;
}

// Every entry point discards the armed fault (impl/sys.h, per thread) when it returns, whether
// it fired or not.
struct FaultScope {
  ~FaultScope() { sys::disarm(); }
};

// ---- accounting (lockstep_mshv_stats) -------------------------------------------------------

struct Counters {
  std::atomic<int> partitions{0}, partition_refs{0}, devices{0}, file_refs{0};
};
Counters g_count;

// ---- user memory: real checked copies --------------------------------------------------------

pid_t g_pid = 0;

void refresh_pid() {
  g_pid = sys::getpid(sys::kHarness);
}

// process_vm_* takes a pid; getpid() is a syscall in glibc >= 2.25, so it is cached and
// refreshed in a forked child.
pid_t self_pid() {
  static const bool registered = [] {
    refresh_pid();
    ::pthread_atfork(nullptr, nullptr, refresh_pid);
    return true;
  }();
  (void)registered;
  return g_pid;
}

// 0, or the errno the copy fails with (F2): EFAULT for a short transfer or a bad page, else
// what process_vm_* reported (ENOMEM; EPERM/ENOSYS under a seccomp policy that forbids it).
int transfer_errno(ssize_t done, size_t want) {
  if (done == static_cast<ssize_t>(want)) return 0;
  return done < 0 ? errno : EFAULT;
}

int copy_from_user(void* to, const void* user, size_t size) {
  iovec local{to, size}, remote{const_cast<void*>(user), size};
  return transfer_errno(
      sys::process_vm_readv(at(Site::CopyFromUser), self_pid(), &local, 1, &remote, 1), size);
}

int copy_to_user(void* user, const void* from, size_t size) {
  iovec local{const_cast<void*>(from), size}, remote{user, size};
  return transfer_errno(
      sys::process_vm_writev(at(Site::CopyToUser), self_pid(), &local, 1, &remote, 1), size);
}

int get_user(int32_t& value, uint64_t addr) {
  return copy_from_user(&value, reinterpret_cast<const void*>(static_cast<uintptr_t>(addr)),
                        sizeof value);
}

void close_fd(int fd) {  // close(2) frees the number whatever it reports (F3)
  sys::close(at(Site::Close), fd);
}

// ---- file identity ---------------------------------------------------------------------------

// The kernel identifies a file by its struct file *. Every file the layer makes is a fresh
// memfd, opened exactly once, so its inode is 1:1 with its file object and dups share it.
// shmem inode numbers only grow (a global counter), so a number is not reused within a trace;
// reset drops every registration, so a stale VFIO registration cannot outlive one either.
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileId&) const = default;
};
struct FileIdHash {
  size_t operator()(const FileId& id) const { return id.ino * 0x9E3779B97F4A7C15ull ^ id.dev; }
};

// 0, or the errno of fstat: EBADF straight from the real fd table (or an injected ENOMEM).
int identify(int fd, FileId& id) {
  struct stat st;
  if (sys::fstat(at(Site::Fstat), fd, &st) != 0) return errno;
  id = {st.st_dev, st.st_ino};
  return 0;
}

// A fresh file and an fd for it (the anon_inode_getfd stand-in), made at `site`.
int new_file(Site site, const char* name, int& fd, FileId& id) {
  fd = sys::memfd_create(at(site), name, MFD_CLOEXEC);
  if (fd < 0) return errno;
  if (int err = identify(fd, id)) {
    close_fd(fd);
    return err;
  }
  return 0;
}

// ---- objects ---------------------------------------------------------------------------------

struct Device;

struct Partition {
  std::mutex pt_mutex;                 // held by partition ioctls and device release
  std::atomic<int> refcount{1};        // the fd's reference + one per device
  std::atomic<bool> destroyed{false};  // counted out of `partitions` (normally at refcount 0)
  bool fd_open = true;                 // under pt_mutex; false once the fd is released
  int fd = -1;
  FileId id;
  std::vector<Device*> devices;  // pt_devices, under pt_mutex
};

struct HeldFile {
  FileId id;  // the file, for EEXIST / DEL matching
  int dup;    // the reference: a real dup of the caller's fd
};

struct Device {
  std::shared_ptr<Partition> partition;
  int fd = -1;  // the installed fd
  FileId id;
  std::atomic<bool> fd_learned{false};  // false: the copy-back faulted, the caller never knew
  std::mutex lock;                      // mshv_vfio->lock
  bool released = false;                // under lock
  std::vector<HeldFile> files;          // under lock
};

// ---- the registry: which file is which object ------------------------------------------------

enum class Kind { Partition, Device, VfioFile };
struct Entry {
  Kind kind = Kind::VfioFile;
  std::shared_ptr<Partition> partition;
  std::shared_ptr<Device> device;
};

std::mutex g_registry_mutex;
std::unordered_map<FileId, Entry, FileIdHash> g_registry;
// References the mutants drop on the floor (still counted or not); closed by reset.
std::vector<int> g_leaked_dups;

std::optional<Entry> lookup(const FileId& id) {
  std::lock_guard guard(g_registry_mutex);
  auto it = g_registry.find(id);
  if (it == g_registry.end()) return std::nullopt;
  return it->second;
}

// 0, or ENOMEM if the registry cannot grow (the caller undoes what it made).
int enroll(const FileId& id, Entry entry) {
  try {
    std::lock_guard guard(g_registry_mutex);
    g_registry.insert_or_assign(id, std::move(entry));
    return 0;
  } catch (const std::bad_alloc&) {
    return ENOMEM;
  }
}

// Removes a partition or device entry (the fd is closing); VFIO registrations stay.
std::optional<Entry> withdraw_object(const FileId& id) {
  std::lock_guard guard(g_registry_mutex);
  auto it = g_registry.find(id);
  if (it == g_registry.end() || it->second.kind == Kind::VfioFile) return std::nullopt;
  Entry entry = std::move(it->second);
  g_registry.erase(it);
  return entry;
}

void leak(int dup) {
  std::lock_guard guard(g_registry_mutex);
  g_leaked_dups.push_back(dup);
}

// The VFIO driver's vfio_file_is_valid: is this file one of ours (its file_operations)?
bool vfio_file_is_valid(const FileId& id) {
  auto entry = lookup(id);
  return entry && entry->kind == Kind::VfioFile;
}

// Closes fd only if it still names `id`: never close a number someone else reused.
void close_if_same(int fd, const FileId& id) {
  FileId now;
  if (identify(fd, now) == 0 && now == id) close_fd(fd);
}

// ---- partition references and device release -----------------------------------------------

void partition_get(Partition& p) {  // mshv_partition_get
  p.refcount.fetch_add(1);
  g_count.partition_refs.fetch_add(1);
}

// The partition is gone: counted out once.
void partition_destroy(Partition& p) {
  if (!p.destroyed.exchange(true)) g_count.partitions.fetch_sub(1);
}

void partition_put(Partition& p) {  // mshv_partition_put: destroyed at zero
  g_count.partition_refs.fetch_sub(1);
  if (p.refcount.fetch_sub(1) == 1) partition_destroy(p);
}

// hlist_add_head + the device counted live; caller holds pt_mutex.
void link_device(Partition& p, Device& d) {
  p.devices.push_back(&d);
  g_count.devices.fetch_add(1);
}

// hlist_del + mshv_vfio_release_device; caller holds pt_mutex. The caller puts the partition.
void unlink_and_release(Partition& p, Device& d) {
  // hlist_del(&device_ptnode); the mutant leaves the device listed, so still counted live.
  const bool unlink = !mutant(LOCKSTEP_MSHV_MUTANT_RELEASE_KEEPS_DEVICE_LISTED);
  if (unlink) std::erase(p.devices, &d);
  std::lock_guard guard(d.lock);
  d.released = true;
  for (const HeldFile& held : d.files) {  // mshv_vfio_release_device: fput per file
    if (mutant(LOCKSTEP_MSHV_MUTANT_RELEASE_KEEPS_FILES)) {
      leak(held.dup);  // the list is never torn down: its references stay counted
    } else {
      close_fd(held.dup);
      g_count.file_refs.fetch_sub(1);
    }
  }
  d.files.clear();
  if (unlink) g_count.devices.fetch_sub(1);
}

// pt_mutex. The mutant skips it: a data race that no oracle of a one-thread run sees, only
// ThreadSanitizer under tests/mshv/stress_test.cc.
std::unique_lock<std::mutex> lock_partition(Partition& p) {
  if (mutant(LOCKSTEP_MSHV_MUTANT_SKIPS_PARTITION_LOCK)) return {};
  return std::unique_lock(p.pt_mutex);
}

// mshv_device_fop_release: under pt_mutex unlink and release, then the partition put.
void device_fop_release(Device& d) {
  Partition& p = *d.partition;
  {
    auto guard = lock_partition(p);
    unlink_and_release(p, d);
  }
  partition_put(p);
}

// mshv_partition_release: the fd's reference goes; devices keep the partition alive.
void partition_fop_release(Partition& p) {
  {
    auto guard = lock_partition(p);
    p.fd_open = false;
  }
  // The mutant tears the partition down with its fd, whatever devices still reference it.
  if (mutant(LOCKSTEP_MSHV_MUTANT_PARTITION_CLOSE_IGNORES_DEVICES)) partition_destroy(p);
  partition_put(p);
}

// ---- MSHV_CREATE_DEVICE (partition fd) -------------------------------------------------------

// Steps 7-9: link, take the partition reference, install the fd; full rollback if the fd
// cannot be installed. Caller holds pt_mutex.
int link_and_install(const std::shared_ptr<Partition>& p, const std::shared_ptr<Device>& d) {
  d->partition = p;
  link_device(*p, *d);  // C8: hlist_add_head
  partition_get(*p);    // C9: mshv_partition_get
  int err = new_file(Site::FdAlloc, "mshv-vfio", d->fd, d->id);
  if (!err) {
    err = enroll(d->id, Entry{Kind::Device, nullptr, d});
    if (err) close_fd(d->fd);
  }
  if (err) {  // C10: anon_inode_getfd failed: hlist_del, device_release, put
    unlink_and_release(*p, *d);
    if (!mutant(LOCKSTEP_MSHV_MUTANT_FD_ALLOC_FAULT_KEEPS_REF)) partition_put(*p);
  }
  return err;
}

// mshv-strict only: undo a created device whose fd the caller cannot learn. Holds pt_mutex.
void roll_back_installed(Partition& p, const std::shared_ptr<Device>& d) {
  withdraw_object(d->id);
  close_fd(d->fd);
  unlink_and_release(p, *d);
  partition_put(p);
}

// The device ops table of the series has one entry, MSHV_DEV_TYPE_VFIO; the mutant's bound
// check lets one type past its end.
constexpr uint32_t kDeviceTypes = uapi::kDevTypeVfio + 1;
static_assert(uapi::kDevTypeVfio == 0, "the VFIO type is the table's only entry");
bool known_type(uint32_t type) {
  return mutant(LOCKSTEP_MSHV_MUTANT_TYPE_OFF_BY_ONE) ? type <= kDeviceTypes : type < kDeviceTypes;
}

// mshv_partition_ioctl_create_device; the caller holds pt_mutex.
int create_device(const std::shared_ptr<Partition>& p, void* uarg) {
  uapi::CreateDevice args;
  if (int err = copy_from_user(&args, uarg, sizeof args)) return err;  // C1: copy_from_user
  if (strict() && !mutant(LOCKSTEP_MSHV_MUTANT_UNKNOWN_FLAGS_ACCEPTED) &&
      (args.flags & ~uapi::kCreateDeviceTest))
    return EINVAL;  // mshv-strict: unknown flag bits (Sashiko review of V3 06/11)
  if (!known_type(args.type)) return ENODEV;                    // C3: type != MSHV_DEV_TYPE_VFIO
  if (args.flags & uapi::kCreateDeviceTest) return 0;           // C4: TEST: nothing made or copied
  if (int err = sys::fault_point(at(Site::Alloc))) return err;  // C6: kzalloc
  auto device = std::make_shared<Device>();
  if (!p->devices.empty()) return EBUSY;  // C7: mshv_vfio_create_device finds one listed
  if (int err = link_and_install(p, device)) return err;  // steps 7-9
  const uint32_t fd = static_cast<uint32_t>(device->fd);  // C12: devargk.fd = rc
  if (int err = copy_to_user(static_cast<char*>(uarg) + offsetof(uapi::CreateDevice, fd), &fd,
                             sizeof fd)) {
    if (strict() && !mutant(LOCKSTEP_MSHV_MUTANT_COPY_BACK_KEEPS_FD))
      roll_back_installed(*p, device);  // mshv-strict: no fd left behind
    return err;  // mshv-v1: the fd stays installed, "cleanup in mshv_device_fop_release"
  }
  device->fd_learned = true;
  return 0;  // C12
}

// mshv_partition_ioctl: the whole switch runs under pt_mutex, taken killably (F4: EINTR).
int partition_ioctl(const std::shared_ptr<Partition>& p, uint32_t request, void* uarg) {
  if (int err = sys::fault_point(at(Site::PtMutex))) return err;  // mutex_lock_killable
  auto guard = lock_partition(*p);
  // Raced with the release of the partition fd (the kernel's fdget forbids it): a device made
  // now could hold a partition already counted out (tests/mshv/stress_test.cc).
  if (!p->fd_open) return EBADF;
  if (request != uapi::kCreateDevice) return ENOTTY;  // not a partition ioctl of this model
  return create_device(p, uarg);                      // case MSHV_CREATE_DEVICE
}

// ---- MSHV_SET_DEVICE_ATTR / MSHV_HAS_DEVICE_ATTR (device fd) ---------------------------------

bool is_add_or_del(uint64_t attr) {
  return attr == uapi::kDevVfioFileAdd || attr == uapi::kDevVfioFileDel;
}

// mshv_vfio_has_attr: never reads addr.
int has_attr(const uapi::DeviceAttr& a) {
  return a.group == uapi::kDevVfioFile && is_add_or_del(a.attr) ? 0 : ENXIO;
}

// The part of mshv_vfio_file_add under mshv_vfio->lock; `dup` becomes the held reference.
int hold_file(Device& d, const FileId& id, int dup) {
  std::lock_guard guard(d.lock);
  if (d.released) return EBADF;  // raced with the last close; the kernel's fdget forbids it
  bool listed = std::any_of(d.files.begin(), d.files.end(),
                            [&](const HeldFile& held) { return held.id == id; });
  if (listed && !mutant(LOCKSTEP_MSHV_MUTANT_NO_DUP_CHECK)) return EEXIST;  // same struct file
  // The mutant counts the reference before the kzalloc and never takes it back.
  const bool count_early = mutant(LOCKSTEP_MSHV_MUTANT_ADD_ENOMEM_KEEPS_COUNT);
  if (count_early) g_count.file_refs.fetch_add(1);
  if (int err = sys::fault_point(at(Site::Alloc))) return err;  // kzalloc
  try {
    d.files.push_back({id, dup});  // get_file + list_add_tail
  } catch (const std::bad_alloc&) {
    return ENOMEM;  // a real kzalloc failure
  }
  if (!count_early) g_count.file_refs.fetch_add(1);
  return 0;
}

// mshv_vfio_file_add
int file_add(Device& d, int32_t fd) {
  int dup = sys::dup_cloexec(at(Site::Dup), fd);  // fget: the temporary reference (EBADF if closed)
  if (dup < 0) return errno;
  FileId id;
  int err = identify(dup, id);
  if (!err && !vfio_file_is_valid(id)) err = EINVAL;  // !vfio_file_is_valid
  if (!err) err = hold_file(d, id, dup);
  if (err && mutant(LOCKSTEP_MSHV_MUTANT_ADD_ERROR_KEEPS_DUP)) {
    leak(dup);  // the mutant's error path forgets the fput
  } else if (err) {
    close_fd(dup);  // fput of the temporary reference
  }
  return err;
}

// mshv_vfio_file_del
int file_del(Device& d, int32_t fd) {
  FileId id;
  if (int err = identify(fd, id)) return err;  // CLASS(fd) empty: EBADF
  std::lock_guard guard(d.lock);
  auto it = std::find_if(d.files.begin(), d.files.end(),
                         [&](const HeldFile& held) { return held.id == id; });
  if (it == d.files.end()) return ENOENT;  // no match (no VFIO check)
  const int dup = it->dup;
  d.files.erase(it);  // list_del
  g_count.file_refs.fetch_sub(1);
  if (mutant(LOCKSTEP_MSHV_MUTANT_DEL_KEEPS_REF)) {
    leak(dup);  // the mutant forgets the fput: only the fd oracle can see it
  } else {
    close_fd(dup);  // fput
  }
  return 0;
}

// mshv_vfio_set_attr + mshv_vfio_set_file
int set_attr(Device& d, const uapi::DeviceAttr& a) {
  if (a.group != uapi::kDevVfioFile) return ENXIO;  // mshv_vfio_set_attr: other groups
  if (!is_add_or_del(a.attr)) return ENXIO;         // mshv_vfio_set_file: before get_user
  int32_t fd;
  if (int err = get_user(fd, a.addr)) return err;  // mshv_vfio_set_file: get_user
  return a.attr == uapi::kDevVfioFileAdd ? file_add(d, fd) : file_del(d, fd);
}

// mshv_device_fop_ioctl + mshv_device_attr_ioctl
int device_ioctl(Device& d, uint32_t request, void* uarg) {
  if (request != uapi::kSetDeviceAttr && request != uapi::kHasDeviceAttr)
    return ENOTTY;  // mshv_device_fop_ioctl: default
  uapi::DeviceAttr attr;
  if (int err = copy_from_user(&attr, uarg, sizeof attr)) return err;  // before the op check
  if (request == uapi::kHasDeviceAttr) return has_attr(attr);
  return set_attr(d, attr);
}

// ---- entry points ----------------------------------------------------------------------------

// sys_ioctl: fdget, then the file's own unlocked_ioctl; other files have none (ENOTTY).
int dispatch_ioctl(int fd, uint32_t request, void* uarg) {
  FileId id;
  if (int err = identify(fd, id)) return err;  // fdget: EBADF from the real fd table
  std::optional<Entry> entry = lookup(id);
  if (!entry || entry->kind == Kind::VfioFile) return ENOTTY;  // not an MSHV file
  if (entry->kind == Kind::Partition) return partition_ioctl(entry->partition, request, uarg);
  return device_ioctl(*entry->device, request, uarg);
}

// close(2), then the release of the object behind the fd, if the layer owns one.
int close_and_release(int fd) {
  FileId id;
  if (int err = identify(fd, id)) return err;  // close(2) of a closed fd: EBADF
  std::optional<Entry> entry = withdraw_object(id);
  // Linux frees the number even when close reports an error, so the release runs regardless,
  // and an MSHV file's close reports the release's 0 (mshv_device_fop_release; F3).
  int err = sys::close(at(Site::Close), fd) == 0 ? 0 : errno;
  if (entry && entry->kind == Kind::Device) device_fop_release(*entry->device);
  if (entry && entry->kind == Kind::Partition) partition_fop_release(*entry->partition);
  return entry ? 0 : err;
}

int open_partition() {  // mshv_ioctl_create_partition
  auto p = std::make_shared<Partition>();
  if (int err = new_file(Site::OpenFd, "mshv-partition", p->fd, p->id)) return -err;
  if (int err = enroll(p->id, Entry{Kind::Partition, p, nullptr})) {
    close_fd(p->fd);
    return -err;
  }
  g_count.partitions.fetch_add(1);
  g_count.partition_refs.fetch_add(1);
  return p->fd;
}

int open_vfio_file() {
  int fd;
  FileId id;
  if (int err = new_file(Site::OpenFd, "vfio-device", fd, id)) return -err;
  if (int err = enroll(id, Entry{Kind::VfioFile, nullptr, nullptr})) {
    close_fd(fd);
    return -err;
  }
  return fd;
}

int fail(int err) {
  errno = err;
  return -1;
}

// Entry points return an fd / 0, or -errno internally; this turns that into the syscall shape.
int as_syscall(int result) {
  return result < 0 ? fail(-result) : result;
}

}  // namespace

// ---- the C ABI -------------------------------------------------------------------------------
// std::bad_alloc is a real allocation failure: it surfaces as ENOMEM and never crosses the ABI.

extern "C" int lockstep_mshv_open_partition(void) {
  FaultScope scope;
  try {
    return as_syscall(open_partition());
  } catch (const std::bad_alloc&) {
    return fail(ENOMEM);
  }
}

extern "C" int lockstep_vfio_open_file(void) {
  FaultScope scope;
  try {
    return as_syscall(open_vfio_file());
  } catch (const std::bad_alloc&) {
    return fail(ENOMEM);
  }
}

extern "C" int lockstep_mshv_ioctl(int fd, unsigned long request, void* arg) {
  FaultScope scope;
  try {
    int err = dispatch_ioctl(fd, static_cast<uint32_t>(request), arg);
    return err ? fail(err) : 0;
  } catch (const std::bad_alloc&) {
    return fail(ENOMEM);
  }
}

extern "C" int lockstep_mshv_close(int fd) {
  FaultScope scope;
  int err = close_and_release(fd);
  return err ? fail(err) : 0;
}

extern "C" int lockstep_mshv_set_profile(const char* name) {
  if (name && std::strcmp(name, "mshv-v1") == 0) {
    g_strict = false;
  } else if (name && std::strcmp(name, "mshv-strict") == 0) {
    g_strict = true;
  } else {
    return fail(EINVAL);
  }
  return 0;
}

extern "C" int lockstep_mshv_set_mutant(int which) {
  if (which < LOCKSTEP_MSHV_MUTANT_NONE || which >= LOCKSTEP_MSHV_MUTANT_END) return fail(EINVAL);
  g_mutant = which;
  return 0;
}

extern "C" int lockstep_mshv_fail_next(int site, int err) {
  if (site == LOCKSTEP_MSHV_SITE_NONE) {
    sys::disarm();
    return 0;
  }
  if (site < LOCKSTEP_MSHV_SITE_NONE || site >= LOCKSTEP_MSHV_SITE_END) return fail(EINVAL);
  const lockstep::mshv::FailNext f{static_cast<Site>(site - 1), err};
  const std::span<const int> errnos = lockstep::mshv::site_errnos(f.site);
  const int e = lockstep::mshv::fault_errno(f);
  if (std::find(errnos.begin(), errnos.end(), e) == errnos.end()) return fail(EINVAL);
  sys::arm({at(f.site), e});
  return 0;
}

extern "C" void lockstep_mshv_stats(struct lockstep_mshv_resources* out) {
  out->partitions = static_cast<unsigned>(g_count.partitions.load());
  out->partition_refs = static_cast<unsigned>(g_count.partition_refs.load());
  out->devices = static_cast<unsigned>(g_count.devices.load());
  out->file_refs = static_cast<unsigned>(g_count.file_refs.load());
}

extern "C" int lockstep_mshv_reap(void) {
  std::vector<std::shared_ptr<Device>> orphans;
  {
    std::lock_guard guard(g_registry_mutex);
    for (const auto& [id, entry] : g_registry)
      if (entry.kind == Kind::Device && !entry.device->fd_learned) orphans.push_back(entry.device);
  }
  int reaped = 0;
  for (const auto& device : orphans) {
    if (!withdraw_object(device->id)) continue;  // closed meanwhile
    close_if_same(device->fd, device->id);
    device_fop_release(*device);
    ++reaped;
  }
  return reaped;
}

extern "C" void lockstep_mshv_reset(void) {
  g_mutant = LOCKSTEP_MSHV_MUTANT_NONE;  // first, so that the releases below drop every file
  g_strict = false;
  sys::disarm();
  std::vector<Entry> entries;
  {
    std::lock_guard guard(g_registry_mutex);
    for (auto& [id, entry] : g_registry)
      if (entry.kind != Kind::VfioFile) entries.push_back(std::move(entry));
    g_registry.clear();  // VFIO registrations too: their files belong to the caller
  }
  // Devices first: their release drops the references that keep partitions alive.
  for (const Entry& e : entries) {
    if (e.kind != Kind::Device) continue;
    close_if_same(e.device->fd, e.device->id);
    device_fop_release(*e.device);
  }
  for (const Entry& e : entries) {
    if (e.kind != Kind::Partition) continue;
    close_if_same(e.partition->fd, e.partition->id);
    partition_fop_release(*e.partition);
  }
  std::vector<int> leaked;
  {
    std::lock_guard guard(g_registry_mutex);
    leaked.swap(g_leaked_dups);
  }
  for (int dup : leaked) close_fd(dup);
  // Nothing is left: a mutant may have left counts unbalanced (a partition reference never
  // dropped, a device never unlinked), so the next trace starts from zero in any case.
  g_count.partitions = 0;
  g_count.partition_refs = 0;
  g_count.devices = 0;
  g_count.file_refs = 0;
}
