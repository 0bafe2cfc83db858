// Profiles: the places where vhost-user back-ends legitimately (or historically) differ, as
// switches on one model. `spec` is docs/vhost-backend-rules.md (each switch names the rule it
// relaxes); every other value cites where the behaviour comes from: the implementation's source
// by path and function (DPDK lib/vhost/vhost_user.c, QEMU subprojects/libvhost-user,
// rust-vmm/vhost), the DPDK probe report docs/notes/dpdk-probe-this-machine.md, the DPDK peer's
// findings docs/peers/dpdk.md (#n), or the DPDK patch "[RFC,04/10] vhost: introduce postcopy's
// advise message" (2018-08-23).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/vhost/uapi.h"
#include "model/profile_list.h"

namespace lockstep::vhost {

// How a refused request (rule E1) ends.
enum class Refusal : uint8_t {
  Ack,       // spec E1: NEED_REPLY: u64 1, connection stays; else close (DPDK does the
             // same: vhost_user_msg_handler)
  Panic,     // libvhost-user vu_panic: NEED_REPLY still gets u64 0 (vu_dispatch), then the
             // session ends (the panic callback of every libvhost-user device stops serving)
  Shutdown,  // rust-vmm: Err ends the daemon loop; a handler's Err is NACKed first when
             // REPLY_ACK is on and NEED_REPLY set (send_ack_message), a validation Err is not
};
// ADVISE while a uffd is live (rule P2).
enum class AdviseWhenLive : uint8_t {
  Refuse,   // spec P2: E1
  Leak,     // DPDK / libvhost-user / RFC: dev->postcopy_ufd overwritten, the old fd leaks
  Replace,  // rust-vmm: the new Uffd replaces the stored one, which is closed
};
// ADVISE when userfaultfd() or UFFDIO_API fails (rule P4).
enum class AdviseFailure : uint8_t {
  ReplyNoFd,  // spec P4, rust-vmm c2b51047, the RFC (result ignored, send_vhost_reply anyway)
  Refuse,     // merged DPDK 9eefef3b59: RESULT_ERR -> E1
  Close,      // libvhost-user: vu_panic, then a reply with fd -1 whose sendmsg fails
};
// RESET_OWNER (rule N4).
enum class ResetOwner : uint8_t {
  Releases,        // spec N4/X9, DPDK vhost_user_reset_owner -> cleanup_device + reset_device
  Ignored,         // libvhost-user: only disables rings; uffd and maps stay
  ClearsFeatures,  // rust-vmm: clears owner and acked features; uffd stays
};
// Who answers the NEED_REPLY around the postcopy SET_MEM_TABLE ack (rule P6, R2).
enum class AckReply : uint8_t {
  AckMessage,       // spec: the ack message's own NEED_REPLY gets R2 / E1
  None,             // DPDK: send_vhost_reply cleared NEED_REPLY: no ack; a failure closes
  OriginalRequest,  // libvhost-user: vu_dispatch acks the original SET_MEM_TABLE's NEED_REPLY
                    // with u64 0 after the handler (which read the ack) returns
};
// END's u64 reply (rule P7).
enum class EndReply : uint8_t {
  Always,      // spec, DPDK, libvhost-user
  IfReplyAck,  // rust-vmm: send_ack_message only when REPLY_ACK && NEED_REPLY
};

struct Profile {
  std::string name;
  std::string summary;

  // ---- offers (N1, N3, rings) ----
  uint64_t features = uapi::kOfferedFeatures;
  uint64_t protocol_features = uapi::kOfferedProtocolFeatures;
  uint64_t queue_num = uapi::kQueueNum;    // GET_QUEUE_NUM reply (queue pairs)
  uint64_t ring_count = uapi::kRingCount;  // X3: valid ring indices: 0 .. ring_count-1

  // ---- wire (W2-W6, E1, E2) ----
  bool check_header_flags = true;            // W2; DPDK: no version check (probe: flags=0 accepted)
  uint32_t max_payload = uapi::kMaxPayload;  // W3
  size_t max_fds = uapi::kMaxFds;            // W5 control buffer
  bool ctrunc_closes = true;                 // W5; DPDK read_fd_message only logs MSG_CTRUNC
  bool unused_fds_leak = false;              // W6 on fd-less requests: fds kept, never closed
  Refusal refusal = Refusal::Ack;            // E1
  bool need_reply_requires_reply_ack = false;  // R2; rust-vmm reply_ack_enabled

  // ---- negotiation (N2-N4) ----
  bool set_features_checks_offered = true;           // N2
  bool set_features_requires_version_1 = false;      // libvhost-user vu_set_features_exec
  bool set_protocol_features_checks_offered = true;  // N3 (DPDK); libvhost-user, rust-vmm store
  bool set_owner_once = false;                       // rust-vmm: a second SET_OWNER is Err
  ResetOwner reset_owner = ResetOwner::Releases;     // N4, X9

  // ---- memory table (M1-M3) ----
  bool mem_table_unmaps_first = false;  // DPDK free_mem_table before mapping: failure loses old

  // ---- postcopy (P1-P8) ----
  bool advise_requires_pagefault = true;                     // P1
  AdviseWhenLive advise_when_live = AdviseWhenLive::Refuse;  // P2
  bool postcopy_payload_must_be_empty = true;                // P3 (+ W7/X5 for LISTEN/END)
  bool advise_reply_echoes_payload = false;  // DPDK: ctx->msg.size not set (probe: size 8 echoed)
  AdviseFailure advise_failure = AdviseFailure::ReplyNoFd;  // P4
  bool listen_requires_uffd = true;                         // P5
  bool listen_refuses_mapped = true;                        // P5
  bool listen_registers_mapped = false;       // rust-vmm postcopy_listen registers self.mappings
  bool listen_always_replies = false;         // libvhost-user: u64 0 / -1 whatever the flags
  bool postcopy_mem_table_reply = true;       // P6; rust-vmm: never replies with the bases
  bool ack_strict = true;                     // P6 size 8 && u64 0; DPDK checks id and fds only
  AckReply ack_reply = AckReply::AckMessage;  // P6 / R2
  bool end_without_uffd_fails = true;         // P7
  EndReply end_reply = EndReply::Always;      // P7
  bool disconnect_keeps_uffd = false;         // rust-vmm: the Uffd lives in the backend object

  // ---- DPDK 22.11 as measured by the DPDK peer (peers/dpdk/, docs/peers/dpdk.md) ----
  bool reply_flags_echo_request = false;  // W8; DPDK send_vhost_reply: request flags, version
                                          // and NEED_REPLY cleared (measured: corpus wire.txt,
                                          // 0x11 -> 0x15)
  bool checks_payload_size = true;        // W7/X5; DPDK: only vhost_user_set_log_base (and
                                          // vhost_user_{get,set}_inflight_fd) check the size
                                          // (measured: the dpdk-22.11 short-payload entries of
                                          // peers/dpdk/expectations.txt)
  bool partial_header_closes = false;     // W4; DPDK read_vhost_message: < 12 header bytes in one
                                       // read closes (measured: expectations spec …/RAW/closed)
  bool bad_vring_index_closes =
      false;  // DPDK vhost_user_check_and_alloc_queue_pair: a ring
              // index >= ring_count closes before the handler, and
              // vhost_user_msg_handler's -1 leaves the message's fds
              // open (measured: expectations spec
              // …/SET_VRING_BASE/closed, …/SET_VRING_ENABLE/resources.held_fds)
  bool refused_table_leaks_fds = false;  // DPDK vhost_user_set_mem_table: the fds from the first
                                         // region that fails to map on are never closed (measured
                                         // by the DPDK peer; dpdk-22.11 agrees since, no entry)
  bool vring_err_fd_closed = false;      // DPDK vhost_user_set_vring_err closes the fd at once
                                         // ("not implemented"; measured: corpus rings_misc.txt)
  bool log_base_reply_empty = false;     // X10 (u64 0); DPDK vhost_user_set_log_base:
                                         // ctx->msg.size = 0, the reply is a bare header
                                         // (measured: corpus rings_misc.txt)
  bool log_base_fd_closed = false;       // X10 (fd held); DPDK vhost_user_set_log_base:
                                         // close(fd) after the mmap (measured: corpus
                                         // rings_misc.txt, held 0)
  bool log_fd_closed = false;            // X10 (fd held); DPDK vhost_user_set_log_fd:
                                         // close(fd), "not implemented" (measured: corpus
                                         // rings_misc.txt, held 0)
  bool handles_net_set_mtu = false;      // X4 (20 not handled); DPDK vhost_user_net_set_mtu:
                                         // u64 68..65535 stored, else refused (measured:
                                         // corpus rings_misc.txt, MTU 1500 -> 0)
  bool leaked_fds_held = false;    // DPDK: a leaked fd stays in the process (resources count it;
                                   // measured: the peer's /proc/PID/fd, dpdk_peer_test
                                   // RepeatedAdviseLeakIsAFinding)
  bool vring_num_checked = false;  // DPDK vhost_user_set_vring_num: not a power of two or
                                   // > 32768 refused (measured: expectations
                                   // spec …/SET_VRING_NUM/reply.payload)
  bool vring_addr_needs_mem_table = false;  // DPDK vhost_user_set_vring_addr: dev->mem == NULL
                                            // refused (measured by the DPDK peer;
                                            // dpdk-22.11 agrees since, no entry)
  bool status_is_u8 = false;  // X10 (any u64); DPDK vhost_user_set_status: > 0xff refused
                              // (measured: expectations spec …/SET_STATUS/closed)
  // ---- libvhost-user as measured by the libvhost-user peer (peers/libvhost-user/,
  // docs/peers/libvhost-user.md) ----
  bool reply_keeps_request_flags = false;  // W8; libvhost-user vu_send_reply: the request's
                                           // flags with the version set and REPLY added, for
                                           // the replies a handler builds in place (GET_FEATURES,
                                           // ADVISE, ...; vmsg_set_reply_u64 clears them first)
  bool none_request_acked = false;         // E2 (request 0 not handled); qemu-storage-daemon
                                           // overrides libvhost-user's exit(0) on NONE: acked
                                           // with NEED_REPLY, the session goes on
  uint64_t max_region_span = uint64_t{1} << 40;  // X6 memory_size + mmap_offset; DPDK
                                                 // vhost_user_mmap_region checks overflow only
                                                 // (measured: spec …/SET_MEM_TABLE/reply.payload,
                                                 // an offset past the fd mapped)

  // ---- negative variants (proofs/, oracle negative tests): deliberately broken rules ----
  bool mutant_end_keeps_uffd = false;         // END turns listening off but never closes the uffd
  bool mutant_advise_keeps_fds = false;       // fds attached to ADVISE kept (leaked), not closed
  bool mutant_listen_without_advise = false;  // LISTEN skips the live-uffd check
  bool mutant_no_ack_check = false;           // any next message is taken as the P6 ack
  bool mutant_disconnect_leaks_uffd = false;  // D1 forgets the uffd (leaked, not closed)
  // Model-only (impl/vhost has no counterpart): they exist so that reply_flags,
  // region_fds_bounded and table_reply_only_listening each have a variant they catch.
  bool mutant_reply_echoes_need_reply = false;     // W8 broken: a reply keeps the request's
                                                   // NEED_REPLY bit (flags 0xD, not 0x5)
  bool mutant_table_keeps_old_region_fds = false;  // M3 broken: a replacing SET_MEM_TABLE
                                                   // unmaps the old regions, keeps their fds
  bool mutant_table_reply_when_advised = false;    // P6 broken: the postcopy table reply (and
                                                   // the ack wait) also in the advised phase
  bool mutant = false;  // any mutant_* set (or a mutant advise_when_live)
};

// Shipped profiles: "spec", "rfc-2018", "dpdk-22.11", "libvhost-user", "rust-vmm";
// negative variants: "mutant-*".
const ProfileList<Profile>& profiles();  // model/vhost/profiles.cc
// clang-format off
inline const Profile* find_profile(std::string_view name) { return profiles().find(name); }
inline std::vector<const Profile*> shipped_profiles() { return profiles().shipped(); }
inline std::vector<const Profile*> mutant_profiles() { return profiles().mutants(); }
// clang-format on

}  // namespace lockstep::vhost
