// The Target adapter over the real device layer (impl/mshv/device_layer.h): it speaks core's
// vocabulary (core/mshv/ops.h) and never includes model/. See core/run.h for the contract.
//
// Handles -> fds: a handle is bound when the op creating it succeeds; an unbound or closed
// handle resolves to an fd number that can never be open (INT_MAX, above any fd table), so the
// real fd table answers EBADF. Mem::Ok / ReadOnly / Unmapped are three real pages mapped once:
// a RW view and a PROT_READ view of the same memfd page (so a read-only struct can still be
// filled in), and a PROT_NONE page.
//
// The device layer is process-global, like the kernel: one ImplTarget at a time. Constructing
// one resets the layer and selects the profile; reap() resets it again for the next trace
// (fuzzers construct one per input, so construction is cheap: the pages are mapped once per
// process). `mutant` selects a deliberately broken layer (impl/mshv/mutants.def, by name
// through impl/mutants.h); it stays selected until the target is destroyed.
#pragma once
#include <array>
#include <bitset>
#include <climits>
#include <cstdint>
#include <string_view>

#include "core/fd_census.h"
#include "core/mshv/codec.h"
#include "core/mshv/ops.h"
#include "impl/mshv/device_layer.h"

namespace lockstep::mshv {

class ImplTarget {
 public:
  // "mshv-v1" or "mshv-strict" and a lockstep_mshv_mutant; throws std::invalid_argument for any
  // other profile or mutant.
  explicit ImplTarget(std::string_view profile, int mutant = LOCKSTEP_MSHV_MUTANT_NONE);
  ~ImplTarget();
  ImplTarget(const ImplTarget&) = delete;
  ImplTarget& operator=(const ImplTarget&) = delete;

  Outcome step(const Op& op);
  // Closes every still-bound handle through the layer (devices, partitions, then files).
  void finish();
  // Closes the device fds the caller never learned, resets the layer for the next trace.
  void reap();

  // run()'s per-op census (core/run.h): the identity this harness read with fstat(2) when the
  // named handle's fd came back from the layer (it stays known after the handle is closed, for
  // the dups devices hold). false for a device whose fd the caller never learned: the layer's
  // objects are memfds, so `fallback` is FdClass::Memfd.
  bool fd_identity(uint32_t name, FdIdentity& id, FdClass& fallback) const;

  static constexpr int kNeverOpenFd = INT_MAX;  // > fs.nr_open's ceiling: never in the table

 private:
  int open_partition(Handle made);
  int open_file(const OpenFile& op, Handle made);
  int create_device(const CreateDevice& op, Handle made);
  int attr_ioctl(const AttrArgs& a, uint32_t request);
  int raw_ioctl(const RawIoctl& op);
  int close(const Close& op);
  int fail_next(const FailNext& op);

  int fd_of(Handle h) const;
  void bind(Handle h, int fd);
  void unbind(Handle h);

  struct Pages {
    char* rw = nullptr;    // the user page, writable
    char* ro = nullptr;    // the same page, PROT_READ
    char* none = nullptr;  // PROT_NONE
  };
  static const Pages& pages();  // mapped on first use, kept for the life of the process
  static void* user_ptr(Mem mem);

  const char* profile_;  // "mshv-v1" or "mshv-strict", as the layer names them
  int mutant_;
  HandleCounts counts_;
  std::array<std::array<int, 256>, 4> fds_;  // per kind (p, d, f, n), by index; -1 = unbound
  // Every slot (kind * 256 + index) bound in this trace, so that finish() visits only those;
  // left uninitialised: it is constructed once per fuzz input.
  std::array<uint16_t, 4 * 256> bound_;
  size_t bound_count_ = 0;
  std::array<FdIdentity, 4 * 256> ids_;  // by slot, valid where known_ (uninitialised else)
  std::bitset<4 * 256> known_;
};

}  // namespace lockstep::mshv
