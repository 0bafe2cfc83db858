// The ONE place where the MSHV trace vocabulary (core/mshv/ops.h) is mapped onto KVM's
// kvm-vfio device (include/uapi/linux/kvm.h, virt/kvm/kvm_main.c, virt/kvm/vfio.c).
//
// | trace op                     | KVM call                                                   |
// |------------------------------|------------------------------------------------------------|
// | p = open_partition()         | ioctl(/dev/kvm, KVM_CREATE_VM, 0)                          |
// | d = create_device(p, ...)    | ioctl(vm, KVM_CREATE_DEVICE 0xC00CAEE0, &{type,fd,flags})  |
// | set_attr / has_attr / get_attr| ioctl(dev, KVM_{SET,HAS,GET}_DEVICE_ATTR 0x4018AEE{1,3,2}) |
// | ioctl(h, request)            | ioctl(fd, request, NULL)  (VM fd: allow-listed numbers only)|
// | close(h)                     | close(fd)                                                  |
// | n = open_file()              | memfd_create (a plain file: kvm-vfio ADD answers EINVAL)   |
// | f = open_vfio_file()         | SKIPPED: CONFIG_VFIO is absent, no VFIO file can exist     |
// | fail_next(site)              | SKIPPED: no fault injection into the real kernel           |
// | arg=ok / ro / bad            | RW page / PROT_READ view of it / PROT_NONE page            |
// | unbound or closed handle     | INT_MAX, a number that is never open (EBADF)               |
//
// Device type and request numbers in a trace are passed as-is (kvm-profile traces say type=4).
// With Vocabulary::Mshv (for running mshv-v1/mshv-strict corpora against KVM) the rows of
// kTypes and kRequests are applied as swaps: MSHV's number <-> KVM's number, so a number that
// is valid on one side maps to the number that is valid on the other, and the invalid
// counterpart stays invalid.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "core/mshv/ops.h"
#include "peers/skip.h"

namespace lockstep::peers::kvm {

enum class Vocabulary : uint8_t {
  Kvm,   // the trace already speaks KVM numbers (profile kvm): pass everything as-is
  Mshv,  // the trace speaks MSHV numbers: swap the rows below
};

struct TypeRow {
  const char* name;
  uint32_t mshv;
  uint32_t kvm;
};
struct RequestRow {
  const char* name;
  uint32_t mshv;  // 0: MSHV defines no such ioctl
  uint32_t kvm;
};

extern const TypeRow kTypes[1];
extern const RequestRow kRequests[4];

// The ioctl number KVM receives for a typed op (CreateDevice, Set/Has/GetAttr).
uint32_t kvm_request(const mshv::Op& op);
uint32_t map_type(uint32_t type, Vocabulary v);
uint32_t map_request(uint32_t request, Vocabulary v);
// The op in KVM numbers (identity under Vocabulary::Kvm).
mshv::Op to_kvm(const mshv::Op& op, Vocabulary v);
mshv::Trace to_kvm(const mshv::Trace& trace, Vocabulary v);

// Why KVM cannot express this op (nullopt: it can). Call on the op in KVM numbers.
std::optional<std::string> unsupported(const mshv::Op& kvm_op);
// The first op of a trace (in trace numbers) that cannot be expressed, with the reason.
std::optional<Skip> first_unsupported(const mshv::Trace& trace, Vocabulary v);

// VM-fd ioctl numbers known to be harmless with a NULL argument (measured on this machine:
// docs/notes/kvm-probe-this-machine.md, 2.91): every other number could create vCPUs, memory
// slots, IRQ chips... and is SKIPPED.
bool harmless_on_vm_fd(uint32_t request);

// The mapping as a markdown table, for reports.
std::string mapping_markdown();

}  // namespace lockstep::peers::kvm
