// A vhost-user back-end (libvhost-user style: one handler per request, readable in one pass)
// that implements the `spec` column of docs/vhost-backend-rules.md on real resources:
//   - a real userfaultfd(2) (O_CLOEXEC|O_NONBLOCK) + UFFDIO_API for POSTCOPY_ADVISE;
//   - memfd regions from SET_MEM_TABLE, mmapped MAP_SHARED, registered with
//     UFFDIO_REGISTER_MODE_MISSING after the front-end's postcopy ack;
//   - every fd it holds (uffd, region fds, ring/log/backend-req fds, fds queued with a partial
//     message) owned by exactly one UniqueFd.
//
// Event-driven: handle_readable() processes every complete message the socket holds without
// blocking and returns; the postcopy "wait for the front-end's ack" (P6) is a state, not a read.
// So it runs in an event loop (tools/vhost_backend_main.cc) or in-process over a socketpair
// (impl/vhost/target.h) alike. Not thread-safe; one Backend per connection.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/vhost/ops.h"
#include "core/vhost/uapi.h"
#include "impl/vhost/wire.h"

namespace lockstep::vhost {

// The deliberately broken variants for negative tests, one per row of impl/vhost/mutants.def
// (name, summary, the compared field it corrupts: impl/mutants.h).
enum class Mutant : uint8_t {
  NONE = 0,
#define LOCKSTEP_IMPL_MUTANT(id, ...) id,
#include "impl/vhost/mutants.def"
#undef LOCKSTEP_IMPL_MUTANT
  END  // one past the last
};

// Profile switches of docs/vhost-backend-rules.md plus at most one mutant.
struct BackendOptions {
  bool advise_requires_pagefault = true;  // P1
  bool one_uffd_per_connection = true;    // P2 (false: a second ADVISE replaces the uffd)
  bool end_without_advise_fails = true;   // P7
  bool reset_owner_releases = true;       // N4
  Mutant mutant = Mutant::NONE;
  bool broken(Mutant m) const { return mutant == m; }
};

// "spec" (the default) or "mutant-<name>" / "mutant:<name>" for a row of impl/vhost/mutants.def.
// nullopt for any other name (the model's peer profiles, "dpdk-22.11", "rfc-2018", ..., describe
// other implementations, not this one).
std::optional<BackendOptions> backend_options(std::string_view profile);
// The names backend_options() accepts.
std::vector<std::string> backend_profiles();

class Backend {
 public:
  struct Stats {
    int uffds = 0;               // userfaultfds the session owns (not counting leaked ones)
    int regions_mapped = 0;      // incl. a postcopy table awaiting its ack
    int regions_registered = 0;  // registered with the uffd
    int held_fds = 0;            // every fd owned except the socket (rule X12)
    Phase phase = Phase::None;
    bool connected = false;
    bool output_pending = false;  // a reply is waiting for the socket to become writable
  };
  // Every event worth a log line: "<- SET_MEM_TABLE(5) flags=0x1 size=40 fds=1",
  // "-> SET_MEM_TABLE(5) flags=0x5 size=40 fds=0", "closed: eof".
  using Logger = std::function<void(const std::string&)>;

  explicit Backend(UniqueFd sock, BackendOptions options = {}, Logger log = nullptr);
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;
  ~Backend();

  // Flushes a pending reply, then processes every complete message available, until the socket
  // would block, the output would block (output_pending()), or the connection is closed.
  void handle_readable();
  bool connected() const { return static_cast<bool>(sock_); }
  bool output_pending() const { return pending_out_.has_value(); }
  int socket_fd() const { return sock_.get(); }
  // The back-end closes the connection itself (rule D1): everything released.
  void disconnect(const char* why = "closed by owner");

  // Rules F1-F3/X11: one fault at the next call at that site (core/vhost/sites.def) while the
  // next message is read and processed, failing with `err` (0: the site's first errno).
  void fail_next(Site site, int err = 0);

  Stats stats() const;
  uint64_t messages_handled() const { return messages_; }
  uint64_t replies_sent() const { return replies_; }
  // Mapping bases of the current regions (tests read them to check the registration).
  struct RegionView {
    uint64_t guest_phys_addr, memory_size, mmap_offset;
    uintptr_t base;  // mapping base + mmap_offset, as the postcopy reply reports it
    size_t map_len;  // bytes mapped from `base - mmap_offset`
    bool registered;
  };
  std::vector<RegionView> regions() const;
  uint64_t acked_protocol_features() const { return protocol_features_; }
  // Mutants only: fds the broken back-end leaked (owned by no session, never counted in
  // stats()); ownership passes to the caller, which keeps them open as long as a real leak
  // would be (ImplTarget: until reap(), so the fd oracle sees them).
  std::vector<UniqueFd> take_leaked() { return std::move(leaked_); }

 private:
  enum class Result : uint8_t {
    kOk,       // done, no reply of its own: R2 ack 0 if NEED_REPLY
    kReplied,  // the handler sent its reply (R1) or decided none is due
    kRefused,  // E1
    kClose,    // close the connection (D1)
  };
  struct Region;
  struct Ring {
    uapi::VringAddr addr{};
    uint32_t num = 0, base = 0, enable = 0;
    UniqueFd kick, call, err;
  };
  struct Handler;
  static const Handler* handler_for(uint32_t request);

  // Dispatch.
  void process(wire::Message& m);
  Result dispatch(wire::Message& m);
  void finish(const wire::Message& m, Result r);
  bool reply(const wire::Message& request, std::span<const uint8_t> payload,
             std::span<const int> fds);
  bool reply_u64(const wire::Message& request, uint64_t value);
  bool flush();
  void reset_session();
  struct ArmScope;
  void log(const std::string& line) const;

  // One handler per request (docs/vhost-backend-rules.md).
  Result on_get_features(wire::Message& m);
  Result on_set_features(wire::Message& m);
  Result on_set_owner(wire::Message& m);
  Result on_reset_owner(wire::Message& m);
  Result on_set_mem_table(wire::Message& m);
  Result on_postcopy_ack(wire::Message& m);
  bool register_regions();
  Result on_set_log_base(wire::Message& m);
  Result on_set_log_fd(wire::Message& m);
  Result on_set_vring_num(wire::Message& m);
  Result on_set_vring_addr(wire::Message& m);
  Result on_set_vring_base(wire::Message& m);
  Result on_get_vring_base(wire::Message& m);
  Result on_set_vring_kick(wire::Message& m);
  Result on_set_vring_call(wire::Message& m);
  Result on_set_vring_err(wire::Message& m);
  Result on_get_protocol_features(wire::Message& m);
  Result on_set_protocol_features(wire::Message& m);
  Result on_get_queue_num(wire::Message& m);
  Result on_set_vring_enable(wire::Message& m);
  Result on_send_rarp(wire::Message& m);
  Result on_set_backend_req_fd(wire::Message& m);
  Result on_postcopy_advise(wire::Message& m);
  Result on_postcopy_listen(wire::Message& m);
  Result on_postcopy_end(wire::Message& m);
  Result on_set_status(wire::Message& m);
  Result on_get_status(wire::Message& m);
  Result set_vring_fd(wire::Message& m, UniqueFd Ring::*slot);
  Ring* ring(uint32_t index);

  BackendOptions options_;
  Logger log_;
  UniqueFd sock_;
  wire::MessageReader reader_;
  struct Pending {
    std::vector<uint8_t> bytes;
    // Borrowed, not dups: only POSTCOPY_ADVISE's reply carries an fd (the session's uffd), and
    // nothing can close it before the flush (no message is processed while output is pending;
    // disconnect drops the pending reply first).
    std::vector<int> fds;
  };
  std::optional<Pending> pending_out_;
  std::optional<FailNext> armed_;
  uint64_t messages_ = 0, replies_ = 0;

  // Session state (everything reset_session() clears).
  uint64_t features_ = 0, protocol_features_ = 0, status_ = 0;
  UniqueFd uffd_;
  bool listening_ = false;
  bool awaiting_ack_ = false;
  std::vector<Region> regions_;
  std::array<Ring, uapi::kRingCount> rings_;
  UniqueFd log_base_, log_fd_, backend_req_;
  std::vector<UniqueFd> leaked_;   // mutant only
  std::vector<UniqueFd> retired_;  // mutant only: old region fds, closed by reset_session()
};

}  // namespace lockstep::vhost
