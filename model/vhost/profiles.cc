#include "model/vhost/profiles.h"

namespace lockstep::vhost {
namespace {

Profile spec() {
  return named_profile<Profile>(
      "spec", "docs/vhost-backend-rules.md: vhost-user.rst plus the choices where it is silent");
}

// DPDK 22.11 librte_vhost as registered with RTE_VHOST_USER_POSTCOPY_SUPPORT (DPDK
// lib/vhost/vhost_user.c and lib/vhost/socket.c; docs/notes/dpdk-probe-this-machine.md).
Profile dpdk_22_11() {
  Profile p = spec();
  p.name = "dpdk-22.11";
  p.summary =
      "DPDK 22.11 lib/vhost/vhost_user.c (docs/notes/dpdk-probe-this-machine.md, "
      "docs/peers/dpdk.md)";
  p.features = uapi::kDpdkFeatures;                   // probe: GET_FEATURES 0xd7c66ffcb
  p.protocol_features = uapi::kDpdkProtocolFeatures;  // probe: 0x10dbf
  p.queue_num = uapi::kDpdkQueueNum;                  // probe: GET_QUEUE_NUM 0x80
  p.ring_count = 2 * uapi::kDpdkQueueNum;             // VHOST_MAX_VRING: two rings per pair
  p.check_header_flags = false;  // read_vhost_message: flags never checked; probe: flags=0 ok
  p.max_payload = 632;  // measured by the DPDK peer (docs/peers/dpdk.md): 632 read, 633 "invalid
                        // msg size"; was 1072 (sizeof the payload union as read from the
                        // code), which was wrong for 22.11
  p.ctrunc_closes = false;                    // socket.c read_fd_message only logs MSG_CTRUNC
  p.mem_table_unmaps_first = true;            // vhost_user_set_mem_table: free_mem_table first
  p.advise_requires_pagefault = false;        // probe: "DPDK never checks PAGEFAULT"
  p.advise_when_live = AdviseWhenLive::Leak;  // probe: repeated ADVISE leaks earlier uffds
  p.postcopy_payload_must_be_empty = false;   // probe: ADVISE with size 8 answered
  p.advise_reply_echoes_payload = true;       // probe: "the request payload is echoed back"
  p.advise_failure = AdviseFailure::Refuse;   // vhost_user_set_postcopy_advise: RESULT_ERR
  p.listen_requires_uffd = false;             // probe: LISTEN before ADVISE succeeds
  p.ack_strict = false;                       // vhost_user_postcopy_register: ack size unchecked
  p.ack_reply = AckReply::None;               // probe: "no reply, even if ... NEED_REPLY"
  p.end_without_uffd_fails = false;           // probe: END without ADVISE -> u64 0
  // Measured by the DPDK peer (lib/vhost/vhost_user.c); "spec …/REQ/field" is the entry
  // "spec: lockstep: divergence dpdk-peer/REQ/field" of peers/dpdk/expectations.txt:
  p.reply_flags_echo_request = true;  // send_vhost_reply; corpus wire.txt 0x11 -> 0x15
  p.checks_payload_size = false;      // only SET_LOG_BASE / *_INFLIGHT_FD check; the
                                      // dpdk-22.11 short-payload entries (stale bytes)
  p.partial_header_closes = true;     // read_vhost_message short header; spec …/RAW/closed
  p.bad_vring_index_closes = true;    // vhost_user_check_and_alloc_queue_pair;
                                      // spec …/SET_VRING_BASE/closed
  p.vring_num_checked = true;  // vhost_user_set_vring_num; spec …/SET_VRING_NUM/reply.payload
  p.vring_addr_needs_mem_table = true;  // vhost_user_set_vring_addr dev->mem == NULL
  p.status_is_u8 = true;  // vhost_user_set_status > UINT8_MAX; spec …/SET_STATUS/closed
  p.max_region_span = ~uint64_t{0};  // vhost_user_mmap_region: overflow check only;
                                     // spec …/SET_MEM_TABLE/reply.payload
  p.refused_table_leaks_fds = true;  // vhost_user_set_mem_table free_mem_table path
  p.vring_err_fd_closed = true;      // vhost_user_set_vring_err; corpus rings_misc.txt
  p.leaked_fds_held = true;          // /proc/PID/fd keeps leaked fds; spec
                                     // …/SET_VRING_ENABLE/resources.held_fds
  p.log_base_reply_empty = true;     // vhost_user_set_log_base msg.size = 0; rings_misc.txt
  p.log_base_fd_closed = true;       // vhost_user_set_log_base close(fd); rings_misc.txt
  p.log_fd_closed = true;            // vhost_user_set_log_fd close(fd); rings_misc.txt
  p.handles_net_set_mtu = true;      // vhost_user_net_set_mtu; rings_misc.txt
  return p;
}

// The DPDK patch "[RFC,04/10] vhost: introduce postcopy's advise message" (dev@dpdk.org,
// 2018-08-23, lib/librte_vhost/vhost_user.c) on v18.08.
Profile rfc_2018() {
  Profile p = dpdk_22_11();
  p.name = "rfc-2018";
  p.summary = "the 2018 DPDK postcopy RFC's ADVISE handler (result ignored, reply always sent)";
  p.advise_failure =
      AdviseFailure::ReplyNoFd;  // RFC vhost_user_msg_handler: result ignored, send_vhost_reply()
  p.unused_fds_leak = true;      // no validate_msg_fds before 09c2856301 (2022); CVE-2019-14818
  p.max_payload = 1072;          // sizeof the payload union, read from the code (unmeasured)
  // The 22.11 measurements (docs/peers/dpdk.md) are not claimed for the 2018 code: no source
  // describes v18.08 here, so the rule-book values stay.
  const Profile s = spec();
  p.reply_flags_echo_request = s.reply_flags_echo_request;
  p.checks_payload_size = s.checks_payload_size;
  p.partial_header_closes = s.partial_header_closes;
  p.bad_vring_index_closes = s.bad_vring_index_closes;
  p.vring_num_checked = s.vring_num_checked;
  p.vring_addr_needs_mem_table = s.vring_addr_needs_mem_table;
  p.status_is_u8 = s.status_is_u8;
  p.max_region_span = s.max_region_span;
  p.refused_table_leaks_fds = s.refused_table_leaks_fds;
  p.vring_err_fd_closed = s.vring_err_fd_closed;
  p.leaked_fds_held = s.leaked_fds_held;
  p.log_base_reply_empty = s.log_base_reply_empty;
  p.log_base_fd_closed = s.log_base_fd_closed;
  p.log_fd_closed = s.log_fd_closed;
  p.handles_net_set_mtu = s.handles_net_set_mtu;
  return p;
}

// QEMU subprojects/libvhost-user/libvhost-user.c @05a58ce4, corrected to what the libvhost-user
// peer measures on QEMU 7.2's qemu-storage-daemon (peers/libvhost-user/, its vhost-user-blk
// export). Each measured switch is a row of the "Profile corrections" table
// (peers/libvhost-user/libvhost_user_campaign.cc kCorrections, printed in
// docs/peers/libvhost-user.md); "expect …/REQ/field" names the disagreement
// "libvhost-user: lockstep: divergence libvhost-user-peer/REQ/field" the uncorrected profile had.
Profile libvhost_user() {
  Profile p = spec();
  p.name = "libvhost-user";
  p.summary =
      "QEMU subprojects/libvhost-user/libvhost-user.c @05a58ce4, as measured in QEMU 7.2's "
      "qemu-storage-daemon (docs/peers/libvhost-user.md)";
  // The offers are the vhost-user-blk export's (Profile corrections: GET_FEATURES,
  // GET_PROTOCOL_FEATURES and GET_QUEUE_NUM on a fresh connection): vu_get_features_exec's bits
  // plus the device's get_features; vu_get_protocol_features_exec's plus the device's.
  p.features = 0x175007e46;
  p.protocol_features = 0x8f2b;
  p.queue_num = 1;                        // vu_get_queue_num_exec: dev->max_queues (num-queues=1)
  p.check_header_flags = false;           // vu_message_read: no length/version check
  p.max_payload = 268;                    // sizeof(vmsg->payload) (VhostUserConfig), panics
  p.ctrunc_closes = true;                 // measured: more than 8 fds close the connection (the
                                          // fds leak: a peer defect, not modelled)
  p.unused_fds_leak = true;               // vu_set_postcopy_*: fds neither used nor closed
  p.refusal = Refusal::Panic;             // vu_panic; vu_dispatch still acks u64 0
  p.set_features_checks_offered = false;  // not checked; stored
  p.set_features_requires_version_1 = true;        // vu_set_features_exec: panics otherwise
  p.set_protocol_features_checks_offered = false;  // vu_set_protocol_features_exec stores any
  p.reset_owner = ResetOwner::Ignored;             // vu_reset_device_exec: disables rings only
  p.mem_table_unmaps_first = true;            // vu_set_mem_table_exec unmaps the old table first
  p.advise_requires_pagefault = false;        // vu_set_postcopy_advise: no PAGEFAULT check
  p.advise_when_live = AdviseWhenLive::Leak;  // postcopy_ufd overwritten (read from the code)
  p.postcopy_payload_must_be_empty = false;
  p.advise_failure = AdviseFailure::Close;  // vu_panic, then a reply with fd -1: sendmsg fails
  p.listen_requires_uffd = false;           // vu_set_postcopy_listen: no ADVISE check
  p.listen_always_replies = true;           // vu_set_postcopy_listen always replies
  p.ack_reply = AckReply::OriginalRequest;  // vu_dispatch after the handler
  p.end_without_uffd_fails = false;         // vu_set_postcopy_end: unconditional u64 0
  // Measured by the libvhost-user peer:
  p.checks_payload_size = false;       // no handler compares vmsg->size to its struct, and
                                       // vu_dispatch's VhostUserMsg is zeroed per message, so the
                                       // rest reads as zeros (expect …/RESET_OWNER/closed,
                                       // …/SET_OWNER/closed: u64 payloads served)
  p.reply_keeps_request_flags = true;  // vu_send_reply (expect …/POSTCOPY_ADVISE/reply.flags)
  p.none_request_acked = true;         // expect …/NONE/closed
  p.leaked_fds_held = true;            // the fds it keeps stay in /proc/PID/fd (expect
                             // …/POSTCOPY_ADVISE/resources.uffds: a repeated ADVISE shows 2
                             // uffds; …/SET_OWNER/resources.held_fds: fds on SET_OWNER held)
  return p;
}

// rust-vmm/vhost @4e217d99 with the `postcopy` cargo feature: vhost/src/vhost_user/
// backend_req_handler.rs (dispatch) and vhost-user-backend/src/{handler,lib}.rs.
Profile rust_vmm() {
  Profile p = spec();
  p.name = "rust-vmm";
  p.summary = "rust-vmm/vhost + vhost-user-backend @4e217d99, feature postcopy";
  p.refusal = Refusal::Shutdown;                   // lib.rs: any Err ends VhostUserDaemon's loop
  p.need_reply_requires_reply_ack = true;          // send_ack_message: reply_ack && need_reply
  p.set_protocol_features_checks_offered = false;  // set_protocol_features stores any value
  p.set_owner_once = true;                         // set_owner: Err if already owned
  p.reset_owner = ResetOwner::ClearsFeatures;      // reset_owner: uffd, acked protocol stay
  p.advise_when_live = AdviseWhenLive::Replace;    // postcopy_advice replaces the stored Uffd
  p.postcopy_payload_must_be_empty = false;        // check_request_size not called for POSTCOPY_*
  p.listen_refuses_mapped = false;                 // postcopy_listen registers self.mappings
  p.listen_registers_mapped = true;
  p.postcopy_mem_table_reply = false;  // set_mem_table never replies with the mapped bases
  p.end_without_uffd_fails = false;    // postcopy_end: uffd = None, Ok
  p.end_reply = EndReply::IfReplyAck;  // send_ack_message: END's u64 only with REPLY_ACK
  p.disconnect_keeps_uffd = true;      // the Uffd lives until the backend object is dropped
  return p;
}

Profile mutant(std::string name, std::string summary, bool Profile::*flag) {
  return mutant_of(spec(), std::move(name), std::move(summary), flag);
}

Profile mutant_second_uffd() {
  Profile p = mutant_of(spec(), "mutant-advise-second-uffd",
                        "ADVISE while a uffd is live opens a second one (the first leaks)");
  p.advise_when_live = AdviseWhenLive::Leak;
  return p;
}

}  // namespace

const ProfileList<Profile>& profiles() {
  static const ProfileList<Profile> list = {
      spec(),
      rfc_2018(),
      dpdk_22_11(),
      libvhost_user(),
      rust_vmm(),
      mutant("mutant-end-keeps-uffd", "END never closes the uffd", &Profile::mutant_end_keeps_uffd),
      mutant_second_uffd(),
      mutant("mutant-advise-keeps-fds", "fds attached to ADVISE are kept, not closed",
             &Profile::mutant_advise_keeps_fds),
      mutant("mutant-listen-without-advise", "LISTEN without a live uffd succeeds",
             &Profile::mutant_listen_without_advise),
      mutant("mutant-no-ack-check", "any message after the postcopy table is taken as its ack",
             &Profile::mutant_no_ack_check),
      mutant("mutant-disconnect-leaks-uffd", "disconnect forgets to close the uffd",
             &Profile::mutant_disconnect_leaks_uffd),
      mutant("mutant-reply-echoes-need-reply", "replies keep the request's NEED_REPLY bit (0xD)",
             &Profile::mutant_reply_echoes_need_reply),
      mutant("mutant-table-keeps-old-region-fds",
             "a replacing SET_MEM_TABLE unmaps the old regions but keeps their fds",
             &Profile::mutant_table_keeps_old_region_fds),
      mutant("mutant-table-reply-when-advised",
             "the postcopy SET_MEM_TABLE reply is also sent when advised, before LISTEN",
             &Profile::mutant_table_reply_when_advised),
  };
  return list;
}

}  // namespace lockstep::vhost
