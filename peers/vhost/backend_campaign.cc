#include "peers/vhost/backend_campaign.h"

#include <sys/utsname.h>

#include <cstdio>

namespace lockstep::peers::backend {
namespace {

using vhost::Op;
using vhost::Trace;

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
    if (r.request == vhost::uapi::kSetMemTable && r.size != 8) return true;
  return false;
}

// The observed mode: the trace with a barrier only at observation_points(), the replies between
// two points compared as one sequence, closed and the fd counts at each point, the fds after the
// disconnect. True when all of it agrees with the model (c.before/after/fds_left_open set);
// false sends the trace to the per-op mode, which says where and how it differs.
bool observed_agrees(const Trace& trace, const std::string& profile, BackendProcess& peer,
                     const WireRules& rules, PeerCheck& c) {
  vhost::Model model(*vhost::find_profile(profile));
  std::vector<vhost::Outcome> expected;
  for (const Op& op : trace.ops) expected.push_back(model.step(op));
  const std::vector<bool> at = observation_points(trace, expected);
  BackendTarget target(peer, rules);
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
    if (const char* field = BackendProtocol::first_difference(m, t)) {
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

bool settled_before_per_op(const Trace& trace, const std::string& profile, BackendProcess& peer,
                           const WireRules& rules, Mode mode, PeerCheck& c) {
  c.skipped = first_unsupported(trace, rules);
  if (c.skipped) return true;
  if (!peer.alive()) peer.restart();
  peer.refresh();
  if (mode != Mode::kObserved) return false;
  try {
    return observed_agrees(trace, profile, peer, rules, c);
  } catch (const NeedsPerOp&) {
    c.per_op = "needs the per-op mode";
  } catch (const PeerDied& e) {  // the per-op mode finds the op
    peer.restart();
    c.per_op = std::string("the peer died in the observed mode (") + e.what() + ")";
  } catch (const PeerHung& e) {
    peer.restart();
    c.per_op = std::string("the peer hung in the observed mode (") + e.what() + ")";
  } catch (const std::exception& e) {
    peer.restart();
    c.skipped = Skip{0, std::string("peer unresponsive or dead, restarted: ") + e.what()};
    return true;
  }
  return false;
}

void check_end_of_trace(PeerCheck& c, const Trace& trace, const vhost::Model& model,
                        const BackendTarget& target, const char* protocol) {
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
        fd_leak_signature(protocol),
        {"peer /proc/PID/fd before " + to_string(c.before) + ", after " + to_string(c.after)}};
}

void failed_at(PeerCheck& c, const Trace& trace, const std::string& profile, size_t index,
               const char* field, const std::string& how, const char* protocol) {
  vhost::Model model(*vhost::find_profile(profile));
  c.verdict = {};
  for (size_t i = 0; i < trace.ops.size() && i <= index; ++i)
    c.verdict.model.push_back(model.step(trace.ops[i]));
  c.verdict.target = c.verdict.model;
  if (index < trace.ops.size()) {
    c.verdict.target.back() = {};
    c.verdict.target.back().closed = true;
  }
  const std::string op =
      index < trace.ops.size() ? vhost::Protocol::op_name(trace.ops[index]) : "DISCONNECT";
  c.verdict.divergence = Divergence{std::min(index, trace.ops.size()),
                                    field,
                                    divergence_signature(protocol, op, field),
                                    {"the peer process " + how}};
}

Classification documented_deviation(const Trace& minimal, const std::string& profile,
                                    const std::string& own, const std::string& where) {
  vhost::Model a(*vhost::find_profile(profile)), b(*vhost::find_profile(own));
  for (size_t i = 0; i < minimal.ops.size(); ++i) {
    const vhost::Outcome oa = a.step(minimal.ops[i]), ob = b.step(minimal.ops[i]);
    if (const char* f = vhost::Protocol::first_difference(oa, ob))
      return {'a', "documented deviation: the " + own + " profile agrees with the peer on this " +
                       "trace. " + profile + " and " + own + " first differ at op " +
                       std::to_string(i) + " (" + vhost::Protocol::op_name(minimal.ops[i]) + ", " +
                       f + "): " + profile + " says `" + vhost::to_string(oa) + "`, " + own +
                       " says `" + vhost::to_string(ob) + "` (" + where + ")."};
  }
  return {'a', "documented deviation: the " + own +
                   " profile agrees with the peer on this trace (the profiles differ only in "
                   "fields the peer does not compare)."};
}

std::string command_output(const char* cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd, "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string uname_release() {
  utsname u{};
  return ::uname(&u) == 0 ? u.release : "";
}

// ---- the binding's shared parts ----------------------------------------------------------------

Trace generated_backend_trace(std::mt19937_64& rng) {
  std::vector<uint8_t> b(8 + rng() % 160);
  for (auto& x : b) {
    const unsigned r = rng() % 10;
    x = r < 4 ? 0 : r < 7 ? static_cast<uint8_t>(1 + rng() % 4) : static_cast<uint8_t>(rng());
  }
  if (rng() % 2) b[0] |= 4;  // the negotiation preamble
  return vhost::decode_input(b);
}

std::string backend_evidence(const PeerCheck& check) {
  std::string out = "# peer /proc/PID/fd at trace start: " + to_string(check.before) +
                    "\n# peer /proc/PID/fd after finish():  " + to_string(check.after) +
                    "  (model fds_left_open " + std::to_string(check.fds_left_open) + ")\n";
  if (!check.failure.empty()) out += "# the peer process " + check.failure + " (restarted)\n";
  return out;
}

std::string backend_run_notes(const char* noun, size_t observed, size_t per_op,
                              size_t per_op_agreed, size_t failures, const BackendProcess& peer) {
  return "Checks run (the campaign's traces, plus the shrink's and the triage's re-runs): " +
         std::to_string(observed + per_op) + ". The observed mode settled " +
         std::to_string(observed) + " (model and " + noun + " agree at every observation point); " +
         std::to_string(per_op) +
         " went to the per-op mode (the observed mode disagreed, or the trace needs it), of "
         "which " +
         std::to_string(per_op_agreed) +
         " agreed per op: the disagreement depended on where the barriers were (a short "
         "message's missing bytes read from a message buffer the barrier's reply overwrites) and "
         "is counted as agreement. Checks in which the peer process crashed or hung: " +
         std::to_string(failures) +
         "; processes started again after one died or hung: " + std::to_string(peer.restarts()) +
         "; processes swapped in to keep the fd table small (BackendProcess::refresh): " +
         std::to_string(peer.replaced()) + ".";
}

const char* const kGeneratedTraces =
    "Generated traces: `vhost::decode_input` over random bytes, half with the negotiation "
    "preamble.";

std::string compared_text(const std::string& noun) {
  return "The comparison is `BackendProtocol::first_difference` (peers/vhost/backend_target.h, "
         "the one documented place): after every op, **every reply** (count, request, flags, "
         "size, payload after `normalise()`, fd kinds), **closed**, **resources.uffds** (the "
         "peer's `anon_inode:[userfaultfd]` entries in `/proc/PID/fd`, minus the count when the "
         "trace started) and **resources.held_fds** (every non-socket entry of the peer's "
         "`/proc/PID/fd`: uffds, memfds, eventfds, files, minus the count at trace start; the "
         "listen socket and the connection are sockets and are not counted, as the model does "
         "not count the connection). **Not compared**: `resources.regions_mapped`, "
         "`resources.regions_registered`, `resources.phase` — " +
         noun +
         "'s internal tables cannot be read from outside the process. After the trace the "
         "target disconnects and connects the next trace's connection, whose first barrier the "
         "peer answers only once the old connection is torn down; the peer's non-socket fd count "
         "must then equal its trace-start count plus the model's `fds_left_open()` (run()'s own "
         "fd oracle watches this process, not the peer, and is off). **A crash** of the peer "
         "process (it dies: the next connection is refused or closed and the process is reaped "
         "with its signal) or **a hang** (a barrier not answered within the reply timeout) is a "
         "disagreement at the op it was handling (`…/OP/crash`, `…/OP/hang`); the process is "
         "started again and the campaign goes on.\n\n"
         "How replies are collected: a barrier (GET_FEATURES, answered with no side effect) and a "
         "read up to its reply, so no reply is guessed by a timeout and a close is seen as EOF. "
         "Each trace first runs in the observed mode: a barrier and an fd count only after the "
         "ops where the model's closed, uffds or held_fds change, before a disconnect or connect, "
         "and after the last op, the replies in between compared as one sequence. A trace that "
         "disagrees there runs again in the per-op mode (a barrier and an fd count after every "
         "op), whose verdict is the result: every signature below comes from it. After a "
         "postcopy SET_MEM_TABLE the table reply is awaited (the peer then blocks reading the "
         "ack, which a barrier would become).\n\n"
         "Ops never sent (reported as skipped, never faked): `fail_next` (no fault injection into "
         "a foreign process), any Send/raw write whose header size promises more payload than the "
         "write carries (the peer blocks reading it and the barrier would become its payload), "
         "and, where the peer waits for the rest of a short header, a trailing partial header.";
}

}  // namespace lockstep::peers::backend
