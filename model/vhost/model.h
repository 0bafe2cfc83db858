// The vhost-user back-end (postcopy handshake and the messages around it) as an executable
// specification. Pure: no syscalls, no I/O. The model receives what the front-end sends as a
// byte stream with queued fds (rule W4), cuts it into messages, and runs one small function
// per request; each check is one line citing its rule in docs/vhost-backend-rules.md or its
// vhost-user.rst section. The profile switches where implementations differ
// (model/vhost/profiles.h).
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "core/vhost/ops.h"
#include "model/vhost/profiles.h"

namespace lockstep::vhost {

struct RegionState {
  uapi::MemoryRegion region{};
  bool registered = false;  // UFFDIO_REGISTER_MODE_MISSING done
};
struct RingState {
  bool kick = false, call = false, err = false;  // an fd held for each
  uint32_t base = 0;                             // SET_VRING_BASE num
};

// One back-end session on one connection (fresh on Connect).
struct Session {
  uint64_t features = 0;           // SET_FEATURES value
  uint64_t protocol_features = 0;  // SET_PROTOCOL_FEATURES value
  bool owner = false;
  uint64_t status = 0;
  std::vector<RingState> rings;  // profile.ring_count entries
  bool log_base_fd = false, log_fd = false, backend_req_fd = false;
  bool uffd = false;       // the back-end's userfaultfd
  bool listening = false;  // postcopy_listening
  std::vector<RegionState> regions;
  bool mem_table = false;           // a table is installed (DPDK dev->mem != NULL), maybe empty
  bool awaiting_ack = false;        // P6: the postcopy table was replied; the ack is next
  bool pending_need_reply = false;  // that SET_MEM_TABLE's NEED_REPLY (libvhost-user)
  size_t stale_region_fds = 0;      // fds of unmapped regions still held (a mutant only)
};

struct State {
  bool connected = true;
  std::vector<uint8_t> rx;     // bytes of a partial message (W4)
  std::vector<FdSpec> queued;  // fds received and not yet given to a message (W4)
  Session session;
  int leaked_fds = 0;             // fds no owner will close (profiles and mutants that leak)
  int leaked_uffds = 0;           // of which uffds (a Leak profile's overwritten ones)
  std::optional<FailNext> armed;  // FailNext: a fault for the next message only (F1)
};

// A complete message as cut from the stream.
struct Message {
  uint32_t request = 0;
  uint32_t flags = 0;
  std::vector<uint8_t> payload;  // exactly `size` bytes
  std::vector<FdSpec> fds;
  bool need_reply() const { return flags & uapi::kNeedReply; }
  uint64_t u64() const;  // the first 8 payload bytes (callers check the size first)
};

class Model {
 public:
  explicit Model(const Profile& profile);
  Outcome step(const Op& op);
  // fds the spec says stay open after the target's finish(): those leaked by a profile or
  // mutant (DPDK's overwritten uffds, fds kept on fd-less requests); 0 under `spec`.
  int fds_left_open() const { return state_.leaked_fds; }
  const State& state() const { return state_; }
  const Profile& profile() const { return profile_; }
  Resources resources() const;
  Phase phase() const;
  // The rule (docs/vhost-backend-rules.md) the last step's outcome rests on: the wire check
  // that refused or closed, else the handler's rule from model/vhost/requests.def (lockstep
  // spec, corpus gen). For an op that delivers several messages, the last one's.
  std::string_view rule() const { return rule_; }

 private:
  void cite(std::string_view rule) { rule_ = rule; }
  // What a handler did; the caller adds R2's ack or E1's refusal.
  enum class Result { Done, Replied, Refused, RefusedInHandler, Closed };

  void deliver(const std::vector<uint8_t>& bytes, std::vector<FdSpec> fds);
  void dispatch(Message& msg);
  Result handle(const Message& msg);
  void finish(const Message& msg, Result result);

  void refuse(const Message& msg, bool in_handler);
  void reply(uint32_t request, std::vector<uint8_t> payload, std::vector<FdKind> fds = {},
             std::optional<uint32_t> size = std::nullopt);
  void reply_u64(uint32_t request, uint64_t value) { reply(request, u64_payload(value)); }
  void disconnect();
  void new_session();
  void release_regions(std::vector<RegionState>& regions);
  // The errno of the armed fault if it is for this site (consumed), else 0.
  int fault(Site site);
  bool read_fails();
  bool acks_enabled() const;

  // One function per request (the handler column of model/vhost/requests.def).
  Result get_features(const Message& m);
  Result set_features(const Message& m);
  Result set_owner(const Message& m);
  Result reset_owner(const Message& m);
  Result set_mem_table(const Message& m);
  Result postcopy_ack(const Message& m);
  Result set_log_base(const Message& m);
  Result set_log_fd(const Message& m);
  Result vring_state(const Message& m);
  Result vring_addr(const Message& m);
  Result vring_fd(const Message& m);
  Result get_protocol_features(const Message& m);
  Result set_protocol_features(const Message& m);
  Result get_queue_num(const Message& m);
  Result set_backend_req_fd(const Message& m);
  Result postcopy_advise(const Message& m);
  Result postcopy_listen(const Message& m);
  Result postcopy_end(const Message& m);
  Result get_status(const Message& m);
  Result set_status(const Message& m);
  Result accept(const Message& m);

  const Profile& profile_;
  State state_;
  std::optional<FailNext> fault_;  // the fault armed for the message being processed (X11)
  Outcome* out_ = nullptr;         // the outcome being built
  uint32_t msg_flags_ = 0;         // the header flags of the message being processed
  std::string_view rule_;          // rule(): string literals of this file and requests.def
};

// W7: the payload size a handled request must have; nullopt for a request the back-end does
// not handle (E2). For SET_MEM_TABLE the size follows the payload's nregions (0 if invalid).
std::optional<size_t> expected_payload_size(uint32_t request, const std::vector<uint8_t>& payload,
                                            bool postcopy_payload_must_be_empty);
// DPDK vhost_user_check_and_alloc_queue_pair: the ring index a request names (SET_VRING_NUM,
// _BASE, GET_VRING_BASE, _ENABLE, _ADDR; SET_INFLIGHT_FD's num_queues - 1) is below ring_count.
bool vring_index_in_range(uint32_t request, const std::vector<uint8_t>& payload,
                          uint64_t ring_count);
// Without W7 (DPDK): the payload as the handler reads it, a short one zero-padded to the size
// W7 would want (DPDK reads stale buffer bytes there, which the model takes as zeros).
std::vector<uint8_t> padded_payload(uint32_t request, std::vector<uint8_t> payload);
// W6: the fd count a handled request must carry.
size_t expected_fd_count(uint32_t request, const std::vector<uint8_t>& payload);

}  // namespace lockstep::vhost
