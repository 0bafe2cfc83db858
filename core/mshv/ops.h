// The MSHV VFIO bridge device vocabulary: every op a trace can issue and every outcome the model
// and a target must agree on. Adding an op = one struct in Op; std::visit then lists every place
// (model, impl target, codecs, printer, generators, proofs) that must handle it.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/handle.h"
#include "core/site_table.h"
#include "core/trace.h"

namespace lockstep::mshv {

// Handle kinds. Handles are numbered per kind in order of the op that creates them, whether or
// not that op succeeds, so numbering never depends on outcomes.
constexpr char kPartition = 'p';
constexpr char kDevice = 'd';
constexpr char kVfioFile = 'f';   // a file the VFIO driver recognises (vfio_file_is_valid)
constexpr char kPlainFile = 'n';  // any other open file

// Where an ioctl's struct pointer points: readable and writable, read-only (copy_from_user
// works, copy_to_user faults), or unmapped (both fault).
enum class Mem : uint8_t { Ok, ReadOnly, Unmapped };

// What mshv_device_attr.addr points to for FILE ADD/DEL: an int32 holding a handle's fd, an
// int32 holding a raw negative number, or nothing readable.
struct FdArg {
  enum class Kind : uint8_t { Handle, Raw, Unmapped };
  Kind kind = Kind::Raw;
  Handle handle{};
  int32_t raw = -1;  // always negative: a non-negative number would name an arbitrary open fd
  bool operator==(const FdArg&) const = default;
};

struct OpenPartition {  // p<n> = open_partition(): a partition fd, as MSHV_CREATE_PARTITION
  bool operator==(const OpenPartition&) const = default;
};
struct OpenFile {  // f<n> = open_vfio_file() / n<n> = open_file()
  bool vfio = true;
  bool operator==(const OpenFile&) const = default;
};
struct CreateDevice {  // d<n> = ioctl(part, MSHV_CREATE_DEVICE, &{type, fd, flags})
  Handle part{kPartition, 0};
  uint32_t type = 0;
  uint32_t flags = 0;
  Mem arg = Mem::Ok;
  bool operator==(const CreateDevice&) const = default;
};
struct AttrArgs {  // ioctl(dev, MSHV_{SET,HAS}_DEVICE_ATTR / KVM_GET_DEVICE_ATTR, &{...})
  Handle dev{kDevice, 0};
  uint32_t flags = 0;
  uint32_t group = 1;
  uint64_t attr = 1;
  FdArg fd{};
  Mem arg = Mem::Ok;  // the struct mshv_device_attr pointer itself
  bool operator==(const AttrArgs&) const = default;
};
struct SetAttr : AttrArgs {};
struct HasAttr : AttrArgs {};
struct GetAttr : AttrArgs {};  // only KVM defines GET; on MSHV it is an unknown ioctl
struct RawIoctl {  // ioctl(h, request, NULL): a request of the 0xB8/0xAE families (see codec)
  Handle h{kDevice, 0};
  uint32_t request = 0;
  bool operator==(const RawIoctl&) const = default;
};
struct Close {  // close(h): the last reference to the file, so its release runs
  Handle h{};
  bool operator==(const Close&) const = default;
};
// Injected fault at the next point of `site` the following op reaches, failing with `err`;
// discarded if it reaches none (docs/mshv-device-rules.md F1-F4). The sites and the errnos each
// can fail with are listed once, in core/mshv/sites.def.
#define LOCKSTEP_SITES_DEF "core/mshv/sites.def"
#include "core/site_table.inc"
// The sites of the first codec version (fail_next without an errno, legacy byte form v1).
constexpr size_t kSitesV1 = 3;
struct FailNext {
  Site site = Site::Alloc;
  int err = 0;  // the errno; 0 stands for the site's first (fault_errno)
  // Equal when they fail the same site with the same errno.
  bool operator==(const FailNext& o) const;
};
// f.err, or the site's first errno when it is 0.
int fault_errno(const FailNext& f);

using Op = std::variant<OpenPartition, OpenFile, CreateDevice, SetAttr, HasAttr, GetAttr, RawIoctl,
                        Close, FailNext>;
using Trace = lockstep::Trace<Op>;

// Kernel objects an op leaves behind, observable through the impl's accounting (the kernel's
// equivalent would be debugfs). Compared after every op.
struct Resources {
  uint8_t partitions = 0;      // live partition objects (fd open or kept alive by a device)
  uint8_t partition_refs = 0;  // sum of partition reference counts
  uint8_t devices = 0;         // live devices
  uint8_t file_refs = 0;       // file references held by devices
  bool operator==(const Resources&) const = default;
};

struct Outcome {
  int err = 0;  // 0 or the positive errno the ioctl fails with
  Resources res{};
  bool operator==(const Outcome&) const = default;
};

// The protocol traits run() needs (see core/run.h).
struct Protocol {
  using Op = mshv::Op;
  using Outcome = mshv::Outcome;
  static constexpr const char* kName = "mshv";
  static const char* op_name(const Op& op);  // "CREATE_DEVICE"
  static const char* first_difference(const Outcome& model, const Outcome& target);
  // For core/report.h.
  static std::vector<std::string> call_lines(const std::vector<Op>& ops);
  static std::string outcome_text(const Outcome& outcome);
  static std::string header(const std::string& profile);
};

std::string to_string(Site site);
std::string to_string(const Outcome& outcome);  // "EEXIST  [p1/2 d1 f1]"

}  // namespace lockstep::mshv
