// KvmTarget: a Target (core/run.h) that runs MSHV traces on the real kvm-vfio device through
// /dev/kvm. The vocabulary mapping lives in peers/kvm/mapping.h, nowhere else.
//
// What is compared: KVM exposes no counters for partitions, devices or file references, so
// the peer reports Resources{} and the kvm peer's comparison (KvmProtocol::first_difference)
// looks at err only. Leaks are still measured: run()'s fd oracle compares the process's fd set
// after the trace with the model's fds_left_open() (a device fd installed by a create whose
// copy-back faulted is visible there).
//
// Ops KVM cannot express (kvm::unsupported) are never faked: step() throws peers::SkippedOp;
// filter traces with kvm::first_unsupported() first.
#pragma once
#include <array>
#include <climits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/fd_oracle.h"
#include "core/mshv/codec.h"
#include "core/mshv/ops.h"
#include "peers/kvm/mapping.h"

namespace lockstep::peers::kvm {

// mshv::Protocol with the comparison restricted to err (the peer has no resource counters),
// and outcomes printed as the errno alone. Divergence signatures read "lockstep: divergence
// kvm-peer/OP/err".
struct KvmProtocol : mshv::Protocol {
  static constexpr const char* kName = "kvm-peer";
  static const char* first_difference(const mshv::Outcome& model, const mshv::Outcome& target) {
    return model.err != target.err ? "err" : nullptr;
  }
  static std::string outcome_text(const mshv::Outcome& outcome);
};

// What this machine offers; `unavailable` is empty when /dev/kvm works.
struct KvmEnvironment {
  std::string kernel;           // uname -r
  int api_version = -1;         // KVM_GET_API_VERSION
  std::string unavailable;      // why the peer cannot run here ("" = it can)
  bool vfio_available = false;  // /dev/vfio/vfio exists
  std::string vfio_detail;
};
KvmEnvironment probe_environment();

class KvmTarget {
 public:
  // Throws std::runtime_error (with the reason) when /dev/kvm is missing or not permitted.
  explicit KvmTarget(Vocabulary vocabulary = Vocabulary::Kvm);
  ~KvmTarget();
  KvmTarget(const KvmTarget&) = delete;
  KvmTarget& operator=(const KvmTarget&) = delete;

  mshv::Outcome step(const mshv::Op& op);  // throws SkippedOp
  void finish();                           // closes every bound handle
  void reap();  // closes kvm fds the caller never learned (copy-back faults)

  static constexpr int kNeverOpenFd = INT_MAX;

 private:
  int open_partition(Handle made);
  int open_file(Handle made);
  int create_device(const mshv::CreateDevice& op, Handle made);
  int attr_ioctl(const mshv::AttrArgs& a, uint32_t request);
  int raw_ioctl(const mshv::RawIoctl& op);
  int close(const mshv::Close& op);

  int fd_of(Handle h) const;
  void bind(Handle h, int fd);
  void unbind(Handle h);

  Vocabulary vocabulary_;
  int kvm_fd_;  // /dev/kvm, opened once per process
  FdSet baseline_;
  mshv::HandleCounts counts_;
  std::array<std::array<int, 256>, 4> fds_;
};

}  // namespace lockstep::peers::kvm
