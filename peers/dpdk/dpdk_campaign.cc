#include "peers/dpdk/dpdk_campaign.h"

#include <cstring>
#include <filesystem>

#include "core/report.h"
#include "core/vhost/codec.h"
#include "model/vhost/model.h"
#include "model/vhost/profiles.h"

namespace lockstep::peers::dpdk {
namespace {

namespace fs = std::filesystem;
namespace uapi = vhost::uapi;
using vhost::Op;
using vhost::Trace;

std::string op_text(const Op& op) {
  return vhost::Protocol::op_name(op);
}

size_t count_advise(const Trace& t) {
  size_t n = 0;
  for (const Op& op : t.ops)
    if (const auto* s = std::get_if<vhost::Send>(&op); s && s->request == uapi::kPostcopyAdvise)
      n++;
  return n;
}

// ---- report ----------------------------------------------------------------------------------

// Hand triage of the disagreements the dpdk-22.11 profile has with DPDK (docs/peers/dpdk.md).
Classification triage(const Trace& minimal, const PeerCheck& check) {
  const Divergence& d = *check.verdict.divergence;
  if (!check.failure.empty())
    return {'c', "DPDK defect: dpdk_vhost_peer " + check.failure + " (" + d.field + ") at " +
                     (d.index < minimal.ops.size() ? op_text(minimal.ops[d.index])
                                                   : std::string("the disconnect")) +
                     "; a back-end must survive any message (spec W1)."};
  const FdCounts &before = check.before, &after = check.after;
  const std::string evidence = "peer /proc/PID/fd at trace start `" + to_string(before) +
                               "`, after disconnect and settle `" + to_string(after) + "`";
  // Fds DPDK still holds after the connection is gone, beyond what the model says leaks.
  if (after.non_socket() - before.non_socket() > check.fds_left_open)
    return {'c',
            "DPDK defect: fds received with a message DPDK refuses are never closed "
            "(when read_vhost_message or the handler fails and the connection is dropped, "
            "the message's fds are not released) — they stay open in the peer after the "
            "connection is gone (" +
                evidence + "; the model expects +" + std::to_string(check.fds_left_open) +
                "). Spec W6/D1: every fd received is the back-end's to close."};
  if (d.index >= minimal.ops.size()) return {'?', "unexplained end-of-trace fd difference"};
  const Op& op = minimal.ops[d.index];
  const vhost::Outcome& m = check.verdict.model.back();
  const vhost::Outcome& t = check.verdict.target.back();
  // Behaviours the dpdk-22.11 profile now models (model/vhost/profiles.h, "DPDK 22.11 as
  // measured"): a disagreement matching one of them means the switch is wrong or incomplete.
  auto modelled = [&](const char* what, const char* sw) {
    return Classification{'?', std::string("the dpdk-22.11 profile models ") + what + " (" + sw +
                                   ") yet disagrees with DPDK here at " +
                                   vhost::Protocol::op_name(op) + " (" + d.field +
                                   "); needs triage"};
  };
  if (d.field == "reply.flags") return modelled("DPDK's reply flags", "reply_flags_echo_request");
  if (ends_in_partial_header(op) && t.closed && !m.closed)
    return modelled("the close on a short header read", "partial_header_closes");
  if (const auto* s = std::get_if<vhost::Send>(&op)) {
    const std::string req = vhost::request_text(s->request);
    const auto want = s->request == uapi::kNetSetMtu  // a u64 (vhost_user_net_set_mtu)
                          ? std::optional<size_t>(8)
                          : vhost::expected_payload_size(s->request, s->payload, false);
    if (want && s->request != uapi::kSetLogBase && s->request != uapi::kSetMemTable &&
        s->header_size() < *want)
      return {'c', "DPDK defect: a " + req + " with a " + std::to_string(s->header_size()) +
                       "-byte payload (its struct is " + std::to_string(*want) +
                       " bytes) is handled without a size check, and the handler reads the rest of "
                       "the struct from whatever the message buffer (vhost_user_msg_handler's "
                       "ctx, on the stack) held before — here the earlier messages' and replies' "
                       "bytes. The dpdk-22.11 profile (checks_payload_size=false) reads zeros "
                       "there; stale bytes cannot be modelled. Spec W7 refuses the message."};
    if (s->request == uapi::kSetMemTable && s->payload.size() < 8)
      return {'c', "DPDK defect: a SET_MEM_TABLE without its 8-byte header (" +
                       std::to_string(s->header_size()) +
                       " bytes) is handled without a size check: nregions is read from stale "
                       "message-buffer bytes (the model reads zeros: an empty table, accepted). "
                       "Spec W7 refuses it."};
    if (s->request == uapi::kSetMemTable && s->payload.size() >= 4 && [&] {
          uint32_t n;
          std::memcpy(&n, s->payload.data(), 4);
          return n >= 1 && n <= uapi::kMaxRegions && s->payload.size() < uapi::mem_table_size(n);
        }())
      return {'c',
              "DPDK defect: a SET_MEM_TABLE shorter than its nregions say is handled without a "
              "size check, and the missing regions are read from stale message-buffer bytes "
              "(the model reads zeros: a zero-size region, refused). Spec W7 refuses it."};
    if (s->request == uapi::kSetInflightFd)
      return {'b',
              "model gap (not modelled): SET_INFLIGHT_FD is not a request the model handles "
              "(E2), while DPDK's vhost_user_set_inflight_fd checks the payload size, maps the "
              "inflight fd and acks; the dpdk-22.11 profile only models its queue-pair "
              "allocation (bad_vring_index_closes)."};
    if (!vhost::vring_index_in_range(s->request, s->payload, uapi::kDpdkQueueNum * 2) && t.closed &&
        !m.closed)
      return modelled("the close on a bad ring index", "bad_vring_index_closes");
    if (s->request == uapi::kSetStatus && t.closed != m.closed)
      return modelled("SET_STATUS > UINT8_MAX refused", "status_is_u8");
    if (s->request == uapi::kSetVringNum)
      return modelled("the ring-size check", "vring_num_checked");
    if (s->request == uapi::kSetVringAddr && d.field == "reply.payload")
      return modelled("SET_VRING_ADDR without a table refused", "vring_addr_needs_mem_table");
    if (s->request == uapi::kSetMemTable && d.field == "reply.payload")
      return {'b',
              "model gap (not modelled): DPDK's vhost_user_mmap_region checks only that "
              "mmap_offset + memory_size does not overflow (the profile's max_region_span); "
              "whether the kernel then maps the span (a region past the fd's end is mapped, "
              "an address-space-sized one is not) depends on the machine."};
  }
  return {'?', "unexplained: dpdk-22.11 disagrees with DPDK at " + vhost::Protocol::op_name(op) +
                   " (" + d.field + "); needs triage"};
}

}  // namespace

Classification classify(const Trace& minimal, const std::string& profile,
                        backend::BackendProcess& peer, const PeerCheck& check) {
  if (!check.verdict.divergence) return {'?', "no divergence"};
  const Divergence& d = *check.verdict.divergence;
  const bool at_op = d.index < minimal.ops.size();
  const std::string op = at_op ? op_text(minimal.ops[d.index]) : "end of trace";
  // (c) first: the leak is a DPDK defect under every profile.
  if (d.field == "resources.uffds" && count_advise(minimal) >= 2 && at_op &&
      check.verdict.target.back().res.uffds > check.verdict.model.back().res.uffds)
    return {'c',
            "DPDK defect (spec deviation, rule P2): a repeated POSTCOPY_ADVISE on one "
            "connection opens a new userfaultfd and overwrites dev->postcopy_ufd; the "
            "earlier one is never closed. The peer's /proc/PID/fd shows one more "
            "anon_inode:[userfaultfd] than the model's live count (" +
                std::to_string(check.verdict.target.back().res.uffds) + " vs " +
                std::to_string(check.verdict.model.back().res.uffds) +
                "), and after disconnect the leaked one stays (trace start " +
                to_string(check.before) + ", after finish() " + to_string(check.after) +
                "). The dpdk-22.11 profile records it (AdviseWhenLive::Leak, counted in "
                "fds_left_open, not in the live uffds); spec refuses the second ADVISE."};
  if (profile != "dpdk-22.11") {  // does the profile that is DPDK's agree with it here?
    Trace t = minimal;
    t.profile = "dpdk-22.11";
    const PeerCheck k = check_trace(t, "dpdk-22.11", peer);
    if (!k.skipped && k.signature.empty())
      return backend::documented_deviation(minimal, profile, "dpdk-22.11",
                                           "model/vhost/profiles.cc dpdk_22_11()");
    if (!k.skipped) {  // the dpdk-22.11 profile disagrees too: its triage applies
      Classification inner = classify(t, "dpdk-22.11", peer, k);
      inner.why =
          "dpdk-22.11 disagrees with DPDK on this trace too (" + k.signature + "): " + inner.why;
      return inner;
    }
  }
  return triage(minimal, check);
}

// ---- binding -----------------------------------------------------------------------------------

ReportText DpdkTraits::report_text(const DpdkEnvironment& env, const PeerOptions&) {
  ReportText t;
  t.title = "DPDK peer: the vhost-user model against DPDK's librte_vhost";
  t.environment = {
      {"DPDK (`pkg-config --modversion libdpdk`)", env.version.empty() ? "not found" : env.version},
      {"kernel (`uname -r`)", "`" + env.kernel + "`"},
      {"peer binary",
       "`" + (env.binary.empty() ? "(not built)" : fs::path(env.binary).filename().string()) + "`"},
      {"peer",
       env.unavailable.empty() ? "started (one process for the whole run)" : env.unavailable},
  };
  t.compared = backend::compared_text("DPDK") +
               " DPDK closes on a trailing partial header (read_vhost_message), so such a write "
               "is read to that EOF instead of a barrier.";
  t.traces = backend::kGeneratedTraces;
  t.signature = "profile, op, field";
  return t;
}

int run_dpdk_peer(const PeerOptions& options) {
  return run_peer_campaign<DpdkBinding>(options);
}

}  // namespace lockstep::peers::dpdk
