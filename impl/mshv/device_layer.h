/* The MSHV VFIO bridge device as a userspace "kernel" with an ioctl-shaped C ABI.
 *
 * It implements the device of "PCI passthru on Hyper-V (Part I)" (V1 06/13 mshv_vfio.c and
 * V1 07/13 mshv_root_main.c; contract: docs/mshv-device-rules.md) on real resources:
 *   - every partition, device and VFIO file is a real fd (a memfd with MFD_CLOEXEC; its name
 *     shows in /proc/self/fd, e.g. "/memfd:mshv-vfio (deleted)");
 *   - an object is found from an fd by the identity of the file behind it (st_dev, st_ino),
 *     as the kernel finds it from struct file; fds the layer does not know get ENOTTY and fds
 *     that are not open get EBADF from the real fd table;
 *   - a device's reference to a VFIO file is a real dup (F_DUPFD_CLOEXEC) of that file;
 *   - copy_from_user / copy_to_user / get_user are real checked copies (process_vm_readv /
 *     process_vm_writev on the own pid): an unmapped page gives EFAULT on both, a PROT_READ page
 *     on copy_to_user only (process_vm_writev does not use FOLL_FORCE, so it honours PROT_READ,
 *     unlike a write through /proc/self/mem; impl_test.cc checks both).
 *
 * Every entry point returns 0 (or an fd) on success and -1 with errno on failure, like the
 * syscall it stands for. Every syscall goes through impl/sys.h at a site of core/mshv/sites.def.
 * The layer is process-global, like the kernel it stands in for; it is thread-safe (a registry
 * mutex, a per-partition mutex as pt_mutex, a per-device lock as mshv_vfio->lock).
 */
#ifndef LOCKSTEP_IMPL_MSHV_DEVICE_LAYER_H_
#define LOCKSTEP_IMPL_MSHV_DEVICE_LAYER_H_

#ifdef __cplusplus
extern "C" {
#endif

/* ---- objects ----------------------------------------------------------------------------- */

/* A new partition (as MSHV_CREATE_PARTITION on /dev/mshv): an fd holding the partition's first
 * reference. */
int lockstep_mshv_open_partition(void);

/* A new file that the layer's "VFIO driver" recognises (vfio_file_is_valid). Any other open fd
 * (a plain memfd, an eventfd, ...) is a non-VFIO file. Close it with close(2). */
int lockstep_vfio_open_file(void);

/* ioctl(2) on a partition fd (MSHV_CREATE_DEVICE) or a device fd (MSHV_SET_DEVICE_ATTR,
 * MSHV_HAS_DEVICE_ATTR). `request` is truncated to 32 bits, as the kernel's `unsigned int cmd`. */
int lockstep_mshv_ioctl(int fd, unsigned long request, void* arg);

/* close(2) of a partition or device fd, then the file's release (mshv_device_fop_release /
 * mshv_partition_release): the userspace stand-in for the last close. Layer fds must be closed
 * here, not with close(2). A dup the caller makes does not delay the release as it would in the
 * kernel: a call through it after the release finds no object (ENOTTY). Other fds are just
 * closed. Fails without closing anything when fstat cannot identify the file (ENOMEM); on any
 * other result the number is free. */
int lockstep_mshv_close(int fd);

/* ---- configuration ----------------------------------------------------------------------- */

/* "mshv-v1" (default): the series as posted. "mshv-strict": what review asked for (unknown
 * create flags -> EINVAL; a copy-back fault rolls the device back). Else -1/EINVAL. */
int lockstep_mshv_set_profile(const char* name);

/* Deliberately broken variants for negative tests (impl/mshv/mutants.def: one row each, with
 * its name, summary and the compared field it corrupts). Off by default, and after a reset. */
enum lockstep_mshv_mutant {
  LOCKSTEP_MSHV_MUTANT_NONE = 0,
#define LOCKSTEP_IMPL_MUTANT(id, ...) LOCKSTEP_MSHV_MUTANT_##id,
#include "impl/mshv/mutants.def"
#undef LOCKSTEP_IMPL_MUTANT
  LOCKSTEP_MSHV_MUTANT_END /* one past the last */
};
int lockstep_mshv_set_mutant(int mutant); /* -1/EINVAL for an unknown value */

/* ---- fault injection --------------------------------------------------------------------- */

/* The fault sites, 1 + their row in core/mshv/sites.def (the layer static_asserts each). */
enum lockstep_mshv_site {
  LOCKSTEP_MSHV_SITE_NONE = 0,           /* disarm */
  LOCKSTEP_MSHV_SITE_ALLOC = 1,          /* the stand-in's kzalloc: ENOMEM */
  LOCKSTEP_MSHV_SITE_FD_ALLOC = 2,       /* memfd_create of a device fd (anon_inode_getfd) */
  LOCKSTEP_MSHV_SITE_COPY_TO_USER = 3,   /* process_vm_writev */
  LOCKSTEP_MSHV_SITE_COPY_FROM_USER = 4, /* process_vm_readv */
  LOCKSTEP_MSHV_SITE_OPEN_FD = 5,        /* memfd_create of a partition or VFIO file */
  LOCKSTEP_MSHV_SITE_FSTAT = 6,          /* fstat: the fdget stand-in */
  LOCKSTEP_MSHV_SITE_DUP = 7,            /* fcntl(F_DUPFD_CLOEXEC): the fget stand-in */
  LOCKSTEP_MSHV_SITE_CLOSE = 8,          /* close */
  LOCKSTEP_MSHV_SITE_PT_MUTEX = 9,       /* mutex_lock_killable of the partition lock: EINTR */
  LOCKSTEP_MSHV_SITE_END                 /* one past the last */
};
/* Arms one fault for the next entry point (open_partition, vfio_open_file, ioctl, close): the
 * first call at that site the entry point reaches fails with `err` (0: the site's first errno in
 * sites.def), and the fault is discarded when the call returns whether it fired or not.
 * -1/EINVAL for an unknown site or an errno the site's row does not list. */
int lockstep_mshv_fail_next(int site, int err);

/* ---- introspection and cleanup ----------------------------------------------------------- */

struct lockstep_mshv_resources {
  unsigned partitions;     /* live partition objects (fd open, or kept alive by a device) */
  unsigned partition_refs; /* sum of partition reference counts */
  unsigned devices;        /* live devices */
  unsigned file_refs;      /* file references (dups) on device lists */
};
/* The kernel's equivalent would be debugfs. Reaches no fault point and disarms nothing. */
void lockstep_mshv_stats(struct lockstep_mshv_resources* out);

/* Closes and releases every device whose fd the caller never learned (mshv-v1's copy-back
 * fault leaves the fd installed). Returns how many it closed. */
int lockstep_mshv_reap(void);

/* Closes and releases every object the layer owns (partition and device fds, held and leaked
 * dups), forgets every VFIO file registration (the caller's VFIO fds stay open but are no
 * longer recognised), zeroes the resource counts (a mutant may have left them unbalanced),
 * disarms the fault and restores profile mshv-v1 with no mutant. */
void lockstep_mshv_reset(void);

#ifdef __cplusplus
}
#endif

#endif /* LOCKSTEP_IMPL_MSHV_DEVICE_LAYER_H_ */
