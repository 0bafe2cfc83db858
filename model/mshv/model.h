// The MSHV VFIO bridge device as an executable specification. Pure: no syscalls, no I/O.
// One function per op; each check is one line citing its rule in docs/mshv-device-rules.md and
// the kernel function the rule comes from. The profile switches where implementations differ
// (model/mshv/profiles.h).
#pragma once
#include <optional>
#include <string_view>
#include <vector>

#include "core/fd_census.h"
#include "core/mshv/codec.h"
#include "core/mshv/ops.h"
#include "model/mshv/profiles.h"

namespace lockstep::mshv {

// Kernel objects, indexed by the handle index that names them in the trace.
struct PartitionState {
  bool fd_open = false;
  int refs = 0;  // P1: 1 for the fd; C9: + 1 per device (mshv_partition_get)
  bool alive() const { return refs > 0; }
};
struct FileState {  // an f<n> or n<n> file; lives while its fd is open or a device holds it
  bool vfio = false;
  bool fd_open = false;
};
struct DeviceState {
  int partition = -1;
  bool live = false;       // C8: on the partition's device list
  bool fd_known = false;   // C12: the caller learned the fd (false: the copy-back faulted, C11)
  std::vector<int> files;  // A8: indices into State::vfio_files, held file references
};
struct State {
  std::vector<PartitionState> partitions;
  std::vector<DeviceState> devices;
  std::vector<FileState> vfio_files;
  std::vector<FileState> plain_files;
  int leaked_file_refs = 0;       // references no device owns (only broken variants make these)
  std::optional<FailNext> armed;  // F1: a FailNext's fault, for the next op only
  HandleCounts counts;
};

class Model {
 public:
  explicit Model(const Profile& profile) : profile_(profile) {}
  Outcome step(const Op& op);
  // Device fds installed that no handle reaches (C11: copy-back fault under mshv-v1 and kvm).
  int fds_left_open() const;
  // The fds that must be open now, for run()'s per-op census (core/run.h): one per open handle,
  // one per file reference a device holds (a dup: its file's object), a live device's fd even
  // when the caller never learned it (C11).
  void expected_fds(FdExpectation& out) const;
  const State& state() const { return state_; }
  const Profile& profile() const { return profile_; }
  Resources resources() const;
  // The rule (docs/mshv-device-rules.md) the last step's outcome rests on: the check that
  // failed it, or the transition that succeeded (lockstep spec, corpus gen).
  std::string_view rule() const { return rule_; }

 private:
  // Records the rule an outcome rests on (rule()) and returns its errno.
  int cite(std::string_view rule, int err) {
    rule_ = rule;
    return err;
  }
  int open_partition();
  int open_file(const OpenFile& op);
  int create_device(const CreateDevice& op);
  int attr_ioctl(const AttrArgs& a, uint32_t request);
  int set_attr(DeviceState& dev, const AttrArgs& a);
  int file_add(DeviceState& dev, const FdArg& fd);
  int file_del(DeviceState& dev, const FdArg& fd);
  int raw_ioctl(const RawIoctl& op);
  int close(const Close& op);
  void release_device(DeviceState& dev);

  // What an fd number refers to in the caller's fd table.
  enum class FdKind { None, Partition, Device, VfioFile, PlainFile };
  FdKind kind_of(Handle h) const;
  // The errno of the armed fault if it is for this site (consumed), else 0.
  int fault(Site site);

  const Profile& profile_;
  State state_;
  std::optional<FailNext> fault_;  // F1: the fault armed for the op being stepped
  std::string_view rule_;          // rule(): string literals of this file
};

}  // namespace lockstep::mshv
