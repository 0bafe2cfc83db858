#include "peers/kvm/mapping.h"

#include <cstdio>

#include "core/mshv/codec.h"
#include "core/mshv/uapi.h"
#include "core/overloaded.h"
#include "core/table.h"

namespace lockstep::peers::kvm {

namespace uapi = mshv::uapi;

const TypeRow kTypes[1] = {
    {"VFIO bridge device", uapi::kDevTypeVfio /*0*/, uapi::kKvmDevTypeVfio /*4*/},
};

const RequestRow kRequests[4] = {
    {"CREATE_DEVICE (VM/partition fd)", uapi::kCreateDevice, uapi::kKvmCreateDevice},
    {"SET_DEVICE_ATTR (device fd)", uapi::kSetDeviceAttr, uapi::kKvmSetDeviceAttr},
    {"HAS_DEVICE_ATTR (device fd)", uapi::kHasDeviceAttr, uapi::kKvmHasDeviceAttr},
    {"GET_DEVICE_ATTR (device fd)", 0, uapi::kKvmGetDeviceAttr},
};

uint32_t kvm_request(const mshv::Op& op) {
  constexpr uint32_t kNoIoctl = 0;
  return std::visit(Overloaded{
                        [](const mshv::OpenPartition&) { return kNoIoctl; },  // KVM_CREATE_VM
                        [](const mshv::OpenFile&) { return kNoIoctl; },
                        [](const mshv::CreateDevice&) { return uapi::kKvmCreateDevice; },
                        [](const mshv::SetAttr&) { return uapi::kKvmSetDeviceAttr; },
                        [](const mshv::HasAttr&) { return uapi::kKvmHasDeviceAttr; },
                        [](const mshv::GetAttr&) { return uapi::kKvmGetDeviceAttr; },
                        [](const mshv::RawIoctl& r) { return r.request; },
                        [](const mshv::Close&) { return kNoIoctl; },
                        [](const mshv::FailNext&) { return kNoIoctl; },
                    },
                    op);
}

uint32_t map_type(uint32_t type, Vocabulary v) {
  if (v == Vocabulary::Kvm) return type;
  for (const auto& row : kTypes) {
    if (type == row.mshv) return row.kvm;
    if (type == row.kvm) return row.mshv;
  }
  return type;
}

uint32_t map_request(uint32_t request, Vocabulary v) {
  if (v == Vocabulary::Kvm) return request;
  for (const auto& row : kRequests) {
    if (row.mshv == 0) continue;
    if (request == row.mshv) return row.kvm;
    if (request == row.kvm) return row.mshv;
  }
  return request;
}

mshv::Op to_kvm(const mshv::Op& op, Vocabulary v) {
  mshv::Op out = op;
  if (auto* c = std::get_if<mshv::CreateDevice>(&out)) c->type = map_type(c->type, v);
  if (auto* r = std::get_if<mshv::RawIoctl>(&out)) r->request = map_request(r->request, v);
  return out;
}

mshv::Trace to_kvm(const mshv::Trace& trace, Vocabulary v) {
  mshv::Trace out = trace;
  for (auto& op : out.ops) op = to_kvm(op, v);
  return out;
}

bool harmless_on_vm_fd(uint32_t request) {
  switch (request) {
    case uapi::kKvmCreateDevice:   // NULL -> EFAULT (probe 1.06)
    case uapi::kKvmSetDeviceAttr:  // no VM-level device attrs on x86: ENOTTY (probe 2.91)
    case uapi::kKvmHasDeviceAttr:
    case uapi::kKvmGetDeviceAttr:
    case uapi::kCreateDevice:  // MSHV numbers: ENOTTY (probe 2.91)
    case uapi::kSetDeviceAttr:
    case uapi::kHasDeviceAttr:
    case uapi::kOutOfTreeHasDeviceAttr:
      return true;
    default:
      return false;
  }
}

std::optional<std::string> unsupported(const mshv::Op& op) {
  using Why = std::optional<std::string>;
  return std::visit(
      Overloaded{
          [](const mshv::OpenPartition&) -> Why { return std::nullopt; },
          [](const mshv::OpenFile& o) -> Why {
            if (!o.vfio) return std::nullopt;
            return "open_vfio_file: no VFIO file can be made on this kernel (CONFIG_VFIO is "
                   "absent, no modules, no IOMMU groups), so kvm-vfio ADD success, EEXIST and "
                   "DEL success are unreachable";
          },
          [](const mshv::CreateDevice&) -> Why { return std::nullopt; },
          [](const mshv::SetAttr&) -> Why { return std::nullopt; },
          [](const mshv::HasAttr&) -> Why { return std::nullopt; },
          [](const mshv::GetAttr&) -> Why { return std::nullopt; },
          [](const mshv::RawIoctl& r) -> Why {
            if (r.h.kind != mshv::kPartition || harmless_on_vm_fd(r.request)) return std::nullopt;
            char buf[160];
            std::snprintf(buf, sizeof buf,
                          "ioctl(VM fd, 0x%08x): not on the VM-fd allow-list of numbers known "
                          "to be harmless with a NULL argument",
                          r.request);
            return std::string(buf);
          },
          [](const mshv::Close&) -> Why { return std::nullopt; },
          [](const mshv::FailNext&) -> Why {
            return "fail_next: no fault injection into the real kernel";
          },
      },
      op);
}

std::optional<Skip> first_unsupported(const mshv::Trace& trace, Vocabulary v) {
  for (size_t i = 0; i < trace.ops.size(); ++i)
    if (auto why = unsupported(to_kvm(trace.ops[i], v))) return Skip{i, *why};
  return std::nullopt;
}

std::string mapping_markdown() {
  auto hex = [](uint32_t n) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08X", n);
    return std::string(buf);
  };
  Table calls{"trace op", "KVM call on this machine"};
  calls.row({"`p = open_partition()`", "`ioctl(/dev/kvm, KVM_CREATE_VM, 0)`"})
      .row({"`d = create_device(p, type, flags, arg)`", "`ioctl(vm, KVM_CREATE_DEVICE " +
                                                            hex(uapi::kKvmCreateDevice) +
                                                            ", &{type, fd, flags})`"})
      .row({"`set_attr` / `has_attr` / `get_attr`",
            "`ioctl(dev, KVM_SET/HAS/GET_DEVICE_ATTR " + hex(uapi::kKvmSetDeviceAttr) + " / " +
                hex(uapi::kKvmHasDeviceAttr) + " / " + hex(uapi::kKvmGetDeviceAttr) +
                ", &{flags, group, attr, addr})`"})
      .row({"`ioctl(h, request)`",
            "`ioctl(fd, request, NULL)`; on a VM fd only the allow-listed numbers (KVM and MSHV "
            "CREATE/SET/HAS/GET numbers), otherwise SKIPPED"})
      .row({"`close(h)`", "`close(fd)`"})
      .row({"`n = open_file()`", "`memfd_create()`"})
      .row({"`f = open_vfio_file()`", "**SKIPPED**: CONFIG_VFIO absent, no VFIO file can exist"})
      .row({"`fail_next(site)`", "**SKIPPED**: no fault injection into the real kernel"})
      .row({"`arg=ok` / `arg=ro` / `arg=bad`, `addr=bad`",
            "RW page / PROT_READ view of the same memfd page / PROT_NONE page"})
      .row({"unbound or closed handle, in any position", "`INT_MAX` (never open: EBADF)"})
      .row({"raw `fd=-N`", "`-N` as-is"});
  Table numbers{"what", "MSHV", "KVM"};
  for (const auto& row : kTypes)
    numbers.row({std::string("device type: ") + row.name, std::to_string(row.mshv),
                 std::to_string(row.kvm)});
  for (const auto& row : kRequests)
    numbers.row({std::string("ioctl(h, N): ") + row.name,
                 row.mshv ? hex(row.mshv) : std::string("(none: not swapped)"), hex(row.kvm)});
  std::string out =
      calls.markdown() +
      "\nNumbers swapped with `--profile mshv-v1` / `mshv-strict` (Vocabulary::Mshv); "
      "passed as-is with `--profile kvm`:\n\n" +
      numbers.markdown();
  return out;
}

}  // namespace lockstep::peers::kvm
