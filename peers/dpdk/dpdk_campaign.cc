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

// ---- generation ------------------------------------------------------------------------------

std::vector<uint8_t> random_bytes(std::mt19937_64& rng) {
  std::vector<uint8_t> b(8 + rng() % 160);
  for (auto& x : b) {
    const unsigned r = rng() % 10;
    x = r < 4 ? 0 : r < 7 ? static_cast<uint8_t>(1 + rng() % 4) : static_cast<uint8_t>(rng());
  }
  if (rng() % 2) b[0] |= 4;  // the negotiation preamble
  return b;
}

// ---- report ----------------------------------------------------------------------------------

constexpr const char* kCompared =
    "The comparison is `DpdkProtocol::first_difference` (peers/dpdk/dpdk_target.h, the one "
    "documented place): after every op, **every reply** (count, request, flags, size, payload "
    "after `normalise()`, fd kinds), **closed**, **resources.uffds** (the peer's "
    "`anon_inode:[userfaultfd]` entries in `/proc/PID/fd`, minus the count when the trace "
    "started) and **resources.held_fds** (every non-socket entry of the peer's `/proc/PID/fd`: "
    "uffds, memfds, eventfds, files, minus the count at trace start; the listen socket and the "
    "connection are sockets and are not counted, as the model does not count the connection). "
    "**Not compared**: `resources.regions_mapped`, `resources.regions_registered`, "
    "`resources.phase` — DPDK's internal tables cannot be read from outside the process. After "
    "the trace the target disconnects and connects the next trace's connection, whose first "
    "barrier DPDK answers only once its one event thread has torn the old connection down; the "
    "peer's non-socket fd count must then equal its trace-start count plus the model's "
    "`fds_left_open()` (run()'s own fd oracle watches this process, not the peer, and is off).\n\n"
    "How replies are collected: a barrier (GET_FEATURES, which DPDK answers with no side effect) "
    "and a read up to its reply, so no reply is guessed by a timeout and a close is seen as EOF. "
    "Each trace first runs in the observed mode: a barrier and an fd count only after the ops "
    "where the model's closed, uffds or held_fds change, before a disconnect or connect, and "
    "after the last op, the replies in between compared as one sequence. A trace that disagrees "
    "there runs again in the per-op mode (a barrier and an fd count after every op), whose "
    "verdict is the result: every signature below comes from it. A write ending in a partial "
    "header is read to EOF instead (a barrier would complete it; DPDK reads the short header and "
    "closes); after a postcopy SET_MEM_TABLE the table reply is awaited (DPDK then blocks "
    "reading the ack, which a barrier would become).\n\n"
    "Ops never sent to DPDK (reported as skipped, never faked): `fail_next` (no fault injection "
    "into DPDK) and any Send/raw write whose header size promises more payload than the write "
    "carries (≤ 4096: DPDK's blocking `read()` would stall its only event thread).";

constexpr const char* kTraces =
    "Generated traces: `vhost::decode_input` over random bytes, half with the negotiation "
    "preamble.";

// Hand triage of the disagreements the dpdk-22.11 profile has with DPDK (docs/peers/dpdk.md).
Classification triage(const Trace& minimal, const PeerCheck& check) {
  const Divergence& d = *check.verdict.divergence;
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

// Where the observed mode looks at the peer: after every op at which the model's closed, uffds or
// held_fds change, before a disconnect or a connect, and after the last op.
std::vector<bool> observation_points(const Trace& t, const std::vector<vhost::Outcome>& model) {
  std::vector<bool> at(t.ops.size());
  vhost::Outcome prev;
  for (size_t i = 0; i < t.ops.size(); ++i) {
    const Op* next = i + 1 < t.ops.size() ? &t.ops[i + 1] : nullptr;
    const auto& m = model[i];
    at[i] = !next || std::holds_alternative<vhost::Disconnect>(*next) ||
            std::holds_alternative<vhost::Connect>(*next) || m.closed != prev.closed ||
            m.res.uffds != prev.res.uffds || m.res.held_fds != prev.res.held_fds;
    prev = m;
  }
  return at;
}

bool answers_with_table(const vhost::Outcome& o) {
  for (const auto& r : o.replies)
    if (r.request == uapi::kSetMemTable && r.size != 8) return true;
  return false;
}

// The observed mode: the trace on DPDK with a barrier only at observation_points(), the replies
// between two points compared as one sequence, closed and the fd counts at each point, the fds
// after the disconnect. True when all of it agrees with the model (c.before/after/fds_left_open
// set); false sends the trace to the per-op mode, which says where and how it differs.
bool observed_agrees(const Trace& trace, const std::string& profile, DpdkPeer& peer, PeerCheck& c) {
  vhost::Model model(*vhost::find_profile(profile));
  std::vector<vhost::Outcome> expected;
  for (const Op& op : trace.ops) expected.push_back(model.step(op));
  const std::vector<bool> at = observation_points(trace, expected);
  DpdkTarget target(peer);
  vhost::Outcome m, t;  // the current segment
  for (size_t i = 0; i < trace.ops.size(); ++i) {
    target.plan_next(at[i], answers_with_table(expected[i]));
    vhost::Outcome got = target.step(trace.ops[i]);
    std::move(expected[i].replies.begin(), expected[i].replies.end(),
              std::back_inserter(m.replies));
    std::move(got.replies.begin(), got.replies.end(), std::back_inserter(t.replies));
    if (!at[i]) continue;
    m.closed = expected[i].closed;
    m.res = expected[i].res;
    t.closed = got.closed;
    t.res = got.res;
    if (const char* field = DpdkProtocol::first_difference(m, t)) {
      c.per_op = std::string("the observed mode disagreed at op ") + std::to_string(i) + " (" +
                 field + ")";
      return false;
    }
    m = t = {};
  }
  target.finish();
  c.before = target.baseline();
  c.after = target.after();
  c.fds_left_open = model.fds_left_open();
  if (c.after.non_socket() - c.before.non_socket() == c.fds_left_open) return true;
  c.per_op = "the observed mode saw the fds differ after the disconnect";
  return false;
}

}  // namespace

PeerCheck check_trace(const Trace& trace, const std::string& profile, DpdkPeer& peer, Mode mode) {
  PeerCheck c;
  c.skipped = first_unsupported(trace);
  if (c.skipped) return c;
  if (!peer.alive()) peer.restart();
  peer.refresh();
  if (mode == Mode::kObserved) {
    try {
      if (observed_agrees(trace, profile, peer, c)) return c;
    } catch (const NeedsPerOp&) {
      c.per_op = "needs the per-op mode";
    } catch (const std::exception& e) {
      peer.restart();
      c.skipped = Skip{0, std::string("peer unresponsive or dead, restarted: ") + e.what()};
      return c;
    }
  }
  vhost::Model model(*vhost::find_profile(profile));
  DpdkTarget target(peer);
  try {
    c.verdict = run<DpdkProtocol>(trace.ops, model, target, RunOptions{.check_fds = false});
  } catch (const std::exception& e) {
    peer.restart();
    c.skipped = Skip{0, std::string("peer unresponsive or dead, restarted: ") + e.what()};
    return c;
  }
  if (!peer.alive()) {
    peer.restart();
    c.skipped = Skip{0, "peer died during the trace, restarted"};
    return c;
  }
  c.before = target.baseline();
  c.after = target.after();
  c.fds_left_open = model.fds_left_open();
  const int delta = c.after.non_socket() - c.before.non_socket();
  c.verdict.fds_delta = delta;
  c.verdict.fds_expected = c.verdict.divergence ? delta : c.fds_left_open;
  if (!c.verdict.divergence && delta != c.fds_left_open)
    c.verdict.divergence = Divergence{
        trace.ops.size(),
        "fds",
        fd_leak_signature(DpdkProtocol::kName),
        {"peer /proc/PID/fd before " + to_string(c.before) + ", after " + to_string(c.after)}};
  if (c.verdict.divergence) c.signature = profile + ": " + c.verdict.divergence->signature;
  c.side_by_side = side_by_side<DpdkProtocol>(profile, trace.ops, c.verdict);
  return c;
}

Classification classify(const Trace& minimal, const std::string& profile, DpdkPeer& peer,
                        const PeerCheck& check) {
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
  if (profile != "dpdk-22.11") {
    Trace t = minimal;
    t.profile = "dpdk-22.11";
    PeerCheck k = check_trace(t, "dpdk-22.11", peer);
    if (!k.skipped && k.signature.empty()) {
      vhost::Model a(*vhost::find_profile(profile)), b(*vhost::find_profile("dpdk-22.11"));
      for (size_t i = 0; i < minimal.ops.size(); ++i) {
        const vhost::Outcome oa = a.step(minimal.ops[i]), ob = b.step(minimal.ops[i]);
        if (const char* f = vhost::Protocol::first_difference(oa, ob))
          return {'a',
                  "documented deviation: the dpdk-22.11 profile agrees with DPDK on this "
                  "trace. " +
                      profile + " and dpdk-22.11 first differ at op " + std::to_string(i) + " (" +
                      op_text(minimal.ops[i]) + ", " + f + "): " + profile + " says `" +
                      vhost::to_string(oa) + "`, dpdk-22.11 says `" + vhost::to_string(ob) +
                      "` (model/vhost/profiles.cc dpdk_22_11())."};
      }
      return {'a',
              "documented deviation: the dpdk-22.11 profile agrees with DPDK on this trace "
              "(the profiles differ only in fields the peer does not compare)."};
    }
  }
  if (profile != "dpdk-22.11") {  // the dpdk-22.11 profile disagrees too: its triage applies
    Trace t = minimal;
    t.profile = "dpdk-22.11";
    PeerCheck k = check_trace(t, "dpdk-22.11", peer);
    if (!k.skipped && !k.signature.empty()) {
      Classification inner = classify(t, "dpdk-22.11", peer, k);
      inner.why =
          "dpdk-22.11 disagrees with DPDK on this trace too (" + k.signature + "): " + inner.why;
      return inner;
    }
  }
  return triage(minimal, check);
}

// ---- binding -----------------------------------------------------------------------------------

ReportText DpdkBinding::report_text(const Environment& env, const PeerOptions&) {
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
  t.compared = kCompared;
  t.traces = kTraces;
  t.signature = "profile, op, field";
  return t;
}

DpdkBinding::DpdkBinding(const PeerOptions&, const Environment& env)
    : owned_(std::make_unique<DpdkPeer>(env.binary)), peer_(owned_.get()) {}

PeerCheck DpdkBinding::check(const Trace& trace) {
  PeerCheck c = check_trace(trace, trace.profile, *peer_);
  if (c.skipped) return c;
  if (c.per_op.empty()) {
    observed_++;
  } else {
    per_op_++;
    per_op_agreed_ += c.signature.empty();
  }
  return c;
}

std::string DpdkBinding::run_notes() const {
  return "Checks run (the campaign's traces, plus the shrink's and the triage's re-runs): " +
         std::to_string(observed_ + per_op_) + ". The observed mode settled " +
         std::to_string(observed_) + " (model and DPDK agree at every observation point); " +
         std::to_string(per_op_) +
         " went to the per-op mode (the observed mode disagreed, or the "
         "trace needs it), of which " +
         std::to_string(per_op_agreed_) +
         " agreed per op: the disagreement depended on where the barriers were (DPDK reads a "
         "short message's missing bytes from its message buffer, which the barrier's reply "
         "overwrites) and is counted as agreement. Peer processes swapped in to keep the fd "
         "table small (DpdkPeer::refresh): " +
         std::to_string(peer_->replaced()) + ".";
}

std::optional<Trace> DpdkBinding::without(const Trace& trace, size_t i) {
  Trace out = trace;
  out.ops.erase(out.ops.begin() + static_cast<long>(i));
  return out;
}

std::string DpdkBinding::evidence(const Check& check) {
  return "# peer /proc/PID/fd at trace start: " + to_string(check.before) +
         "\n# peer /proc/PID/fd after finish():  " + to_string(check.after) +
         "  (model fds_left_open " + std::to_string(check.fds_left_open) + ")\n";
}

// decode_input over random bytes, cut at the first op the peer cannot take (skip filter).
Trace DpdkBinding::generate(std::mt19937_64& rng, const std::string& profile) {
  Trace t = vhost::decode_input(random_bytes(rng));
  t.profile = profile;
  if (auto skip = first_unsupported(t)) t.ops.resize(skip->index);
  return t;
}

int run_dpdk_peer(const PeerOptions& options) {
  return run_peer_campaign<DpdkBinding>(options);
}

}  // namespace lockstep::peers::dpdk
