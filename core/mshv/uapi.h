// The MSHV VFIO bridge device uAPI, defined once. Source: "[PATCH V1 05/13] mshv: Declarations
// and definitions for VFIO-MSHV bridge device" (include/uapi/linux/mshv.h hunk), and for the
// KVM side include/uapi/linux/kvm.h. tests/mshv/uapi_test.cc checks every number here against
// the seed patch and against the system's <linux/kvm.h>.
#pragma once
#include <cstdint>

namespace lockstep::mshv::uapi {

// _IOC encoding of asm-generic/ioctl.h (x86-64): dir:2 | size:14 | type:8 | nr:8.
constexpr uint32_t kIocWrite = 1, kIocRead = 2;
constexpr uint32_t ioc(uint32_t dir, uint32_t type, uint32_t nr, uint32_t size) {
  return (dir << 30) | (size << 16) | (type << 8) | nr;
}
constexpr uint32_t iow(uint32_t type, uint32_t nr, uint32_t size) {
  return ioc(kIocWrite, type, nr, size);
}
constexpr uint32_t iowr(uint32_t type, uint32_t nr, uint32_t size) {
  return ioc(kIocWrite | kIocRead, type, nr, size);
}

// include/uapi/linux/mshv.h
constexpr uint32_t kMshvIoctl = 0xB8;
constexpr uint32_t kCreateDeviceTest = 1;  // MSHV_CREATE_DEVICE_TEST
constexpr uint32_t kDevTypeVfio = 0;       // MSHV_DEV_TYPE_VFIO (first enumerator)
constexpr uint32_t kDevTypeMax = 1;        // MSHV_DEV_TYPE_MAX
constexpr uint32_t kDevVfioFile = 1;       // MSHV_DEV_VFIO_FILE (group)
constexpr uint64_t kDevVfioFileAdd = 1;    // MSHV_DEV_VFIO_FILE_ADD
constexpr uint64_t kDevVfioFileDel = 2;    // MSHV_DEV_VFIO_FILE_DEL

struct CreateDevice {  // struct mshv_create_device
  uint32_t type;       // in: MSHV_DEV_TYPE_xxx
  uint32_t fd;         // out: device handle
  uint32_t flags;      // in: MSHV_CREATE_DEVICE_xxx
};
static_assert(sizeof(CreateDevice) == 12);

struct DeviceAttr {  // struct mshv_device_attr
  uint32_t flags;    // no flags currently defined
  uint32_t group;    // device-defined
  uint64_t attr;     // group-defined
  uint64_t addr;     // userspace address of attr data
};
static_assert(sizeof(DeviceAttr) == 24);

// Partition fd: after ROOT_HVCALL (0x07). Device fd: SET 0x00, HAS 0x01, no GET.
constexpr uint32_t kCreateDevice = iowr(kMshvIoctl, 0x08, sizeof(CreateDevice));  // 0xC00CB808
constexpr uint32_t kSetDeviceAttr = iow(kMshvIoctl, 0x00, sizeof(DeviceAttr));    // 0x4018B800
constexpr uint32_t kHasDeviceAttr = iow(kMshvIoctl, 0x01, sizeof(DeviceAttr));    // 0x4018B801
// The device-fd numbering clash (docs/mshv-device-rules.md U1): out-of-tree userspace
// (rust-vmm/mshv, CBL-Mariner's header) numbers the device fd SET 0x00, GET 0x01, HAS 0x02, so
// its GET is the series' HAS and its HAS reaches the series' default case (ENOTTY).
constexpr uint32_t kOutOfTreeGetDeviceAttr = iow(kMshvIoctl, 0x01, sizeof(DeviceAttr));
constexpr uint32_t kOutOfTreeHasDeviceAttr = iow(kMshvIoctl, 0x02, sizeof(DeviceAttr));

// include/uapi/linux/kvm.h (KVMIO 0xAE); kvm-vfio's type and group share MSHV's struct layout.
constexpr uint32_t kKvmIo = 0xAE;
constexpr uint32_t kKvmCreateDeviceTest = 1;
constexpr uint32_t kKvmDevTypeVfio = 4;
constexpr uint32_t kKvmCreateDevice = iowr(kKvmIo, 0xE0, sizeof(CreateDevice));  // 0xC00CAEE0
constexpr uint32_t kKvmSetDeviceAttr = iow(kKvmIo, 0xE1, sizeof(DeviceAttr));    // 0x4018AEE1
constexpr uint32_t kKvmGetDeviceAttr = iow(kKvmIo, 0xE2, sizeof(DeviceAttr));    // 0x4018AEE2
constexpr uint32_t kKvmHasDeviceAttr = iow(kKvmIo, 0xE3, sizeof(DeviceAttr));    // 0x4018AEE3

}  // namespace lockstep::mshv::uapi
