#include "peers/dpdk/peer_run.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>

#include "core/program_files.h"
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

// Restart the peer when the uffds DPDK leaked (repeated ADVISE) pile up.
constexpr int kMaxLeakedUffds = 64;

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

// decode_input over random bytes, cut at the first op the peer cannot take (skip filter).
Trace generate(std::mt19937_64& rng, const std::string& profile) {
  Trace t = vhost::decode_input(random_bytes(rng));
  t.profile = profile;
  if (auto skip = first_unsupported(t)) t.ops.resize(skip->index);
  return t;
}

// ---- corpus ----------------------------------------------------------------------------------

struct Program {
  std::string name;
  Trace trace;
};

std::vector<Program> load_programs(const fs::path& dir) {
  std::vector<Program> out;
  for (const auto& [f, text] : read_programs(dir))
    out.push_back({f.filename().string(), vhost::parse_text(text)});
  return out;
}

// ---- campaign --------------------------------------------------------------------------------

struct Tally {
  size_t traces = 0, ops = 0, agree = 0, disagree = 0, skipped = 0, truncated = 0;
};

struct Finding {
  std::string profile, signature, file, origin;
  Trace minimal;
  PeerCheck check;
  Classification cls;
  size_t hits = 0;
};

std::string finding_text(const Finding& f) {
  std::ostringstream o;
  o << f.check.side_by_side << "# peer /proc/PID/fd at trace start: " << to_string(f.check.before)
    << "\n# peer /proc/PID/fd after finish():  " << to_string(f.check.after)
    << "  (model: fds_left_open " << f.check.fds_left_open << ")\n"
    << "# classification (" << f.cls.kind << "): " << f.cls.why << "\n# found by: " << f.origin
    << " (seen " << f.hits << " time(s))\n";
  return o.str();
}

struct Campaign {
  const PeerOptions& options;
  DpdkPeer& peer;
  std::map<std::string, Tally> tallies;  // "profile | phase"
  std::map<std::string, Finding> findings;
  std::map<std::string, size_t> skip_reasons;
  std::vector<std::string> notes;

  void record(const Trace& trace, const std::string& phase, const std::string& origin) {
    Tally& tally = tallies[trace.profile + " | " + phase];
    PeerCheck c = check_trace(trace, trace.profile, peer);
    if (c.skipped) {
      tally.skipped++;
      skip_reasons[c.skipped->reason]++;
      return;
    }
    tally.traces++;
    tally.ops += trace.ops.size();
    if (c.signature.empty()) {
      tally.agree++;
      return;
    }
    tally.disagree++;
    if (auto it = findings.find(c.signature); it != findings.end()) {
      it->second.hits++;
      if (!it->second.file.empty()) std::ofstream(it->second.file) << finding_text(it->second);
      return;
    }
    Finding f;
    f.profile = trace.profile;
    f.signature = c.signature;
    f.origin = origin;
    f.minimal = shrink(trace, trace.profile, peer, c.signature);
    f.check = check_trace(f.minimal, trace.profile, peer);
    if (f.check.signature != c.signature) {  // flaky: keep the unshrunk trace
      f.minimal = trace;
      f.minimal.notes.clear();
      f.check = c;
    }
    f.cls = classify(f.minimal, trace.profile, peer, f.check);
    f.hits = 1;
    fs::create_directories(options.findings_dir);
    f.file = (fs::path(options.findings_dir) /
              (trace.profile + "-" + std::to_string(findings.size()) + ".txt"))
                 .string();
    std::ofstream(f.file) << finding_text(f);
    std::printf("finding %s: %s\n  (%c) %s\n", f.file.c_str(), f.signature.c_str(), f.cls.kind,
                f.cls.why.c_str());
    std::fflush(stdout);
    findings.emplace(c.signature, std::move(f));
  }
};

const char* kCompared =
    "The comparison is `DpdkProtocol::first_difference` (peers/dpdk/dpdk_target.h, the one "
    "documented place): after every op, **every reply** (count, request, flags, size, payload "
    "after `normalise()`, fd kinds), **closed**, **resources.uffds** (the peer's "
    "`anon_inode:[userfaultfd]` entries in `/proc/PID/fd`, minus the count when the trace "
    "started) and **resources.held_fds** (every non-socket entry of the peer's `/proc/PID/fd`: "
    "uffds, memfds, eventfds, files, minus the count at trace start; the listen socket and the "
    "connection are sockets and are not counted, as the model does not count the connection). "
    "**Not compared**: `resources.regions_mapped`, `resources.regions_registered`, "
    "`resources.phase` — DPDK's internal tables cannot be read from outside the process. After "
    "the trace the target disconnects and waits for DPDK to settle; the peer's non-socket fd "
    "count must then equal its trace-start count plus the model's `fds_left_open()` (run()'s "
    "own fd oracle watches this process, not the peer, and is off).\n\n"
    "How replies are collected: after each op the front-end sends a barrier (GET_FEATURES, "
    "which DPDK answers with no side effect) and reads up to the barrier's reply, so no reply "
    "is guessed by a timeout and a close is seen as EOF. Two exceptions wait a short timeout "
    "instead: a write ending in a partial header (a barrier would complete it; DPDK reads the "
    "short header and closes) and a SET_MEM_TABLE after a LISTEN (DPDK replies with the table "
    "and then blocks reading the ack, which a barrier would become).\n\n"
    "Ops never sent to DPDK (reported as skipped, never faked): `fail_next` (no fault injection "
    "into DPDK) and any Send/raw write whose header size promises more payload than the write "
    "carries (≤ 4096: DPDK's blocking `read()` would stall its only event thread). Corpus "
    "programs are run up to their first such op (counted as truncated); generated traces are "
    "cut there.\n\n";

void write_report(const Campaign& c, const DpdkEnvironment& env, double seconds,
                  const std::string& command) {
  std::ostringstream r;
  r << "# DPDK peer: the vhost-user model against DPDK's librte_vhost\n\n"
    << "Generated by `" << command
    << "` (peers/dpdk/, tools/lockstep_main.cc `peer`). The "
       "random phase is seeded; what fits in the time budget depends on the machine.\n\n"
    << "## Environment\n\n| | |\n|---|---|\n"
    << "| DPDK (`pkg-config --modversion libdpdk`) | "
    << (env.version.empty() ? "not found" : env.version) << " |\n"
    << "| kernel (`uname -r`) | `" << env.kernel << "` |\n"
    << "| peer binary | `"
    << (env.binary.empty() ? "(not built)" : fs::path(env.binary).filename().string()) << "` |\n"
    << "| peer | "
    << (env.unavailable.empty() ? "started (one process for the whole run)" : env.unavailable)
    << " |\n"
    << "| random phase | " << seconds << " s, seed " << c.options.seed << ", profile `"
    << c.options.profile << "` |\n\n"
    << "## What is compared\n\n"
    << kCompared << "## Traces run and agreement\n\n"
    << "Corpus: `corpus/programs/vhost_postcopy/*.txt`, each run under both `dpdk-22.11` and "
       "`spec` (whatever profile the program was written for). Generated: "
       "`vhost::decode_input` over random bytes (half with the negotiation preamble), cut "
       "before the first op the peer cannot take.\n\n"
    << "| profile | phase | traces run | ops | agree | disagree | agreement | truncated | "
       "skipped |\n|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& [key, t] : c.tallies) {
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.2f%%", t.traces ? 100.0 * t.agree / t.traces : 0.0);
    const auto bar = key.find(" | ");
    r << "| " << key.substr(0, bar) << " | " << key.substr(bar + 3) << " | " << t.traces << " | "
      << t.ops << " | " << t.agree << " | " << t.disagree << " | " << rate << " | " << t.truncated
      << " | " << t.skipped << " |\n";
  }
  r << "\n";
  for (const auto& n : c.notes) r << "- " << n << "\n";
  r << "\n## Distinct disagreements (" << c.findings.size() << ")\n\n"
    << "Each is shrunk (greedy op deletion while the same signature persists) and deduplicated "
       "by signature (profile, op, field). Classification: (a) documented deviation — a "
       "dpdk-22.11 profile switch explains it; (b) model bug; (c) DPDK defect or spec "
       "deviation; (?) unexplained.\n\n";
  if (c.findings.empty()) r << "None.\n\n";
  int n = 0;
  for (const auto& [sig, f] : c.findings) {
    r << "### " << ++n << ". (" << f.cls.kind << ") `" << sig << "`\n\n"
      << f.cls.why << "\n\nSeen " << f.hits << " time(s); first found by " << f.origin
      << "; written to `" << f.file << "`.\n\n```\n"
      << f.check.side_by_side << "# peer /proc/PID/fd at trace start: " << to_string(f.check.before)
      << "\n# peer /proc/PID/fd after finish():  " << to_string(f.check.after)
      << "  (model fds_left_open " << f.check.fds_left_open << ")\n```\n\n";
  }
  r << "## Skipped\n\n| reason | traces cut or skipped |\n|---|---|\n";
  for (const auto& [why, count] : c.skip_reasons) r << "| " << why << " | " << count << " |\n";
  r << "\n";
  fs::path path(c.options.report_path);
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  std::ofstream(path) << r.str();
}

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

}  // namespace

PeerCheck check_trace(const Trace& trace, const std::string& profile, DpdkPeer& peer) {
  PeerCheck c;
  c.skipped = first_unsupported(trace);
  if (c.skipped) return c;
  if (!peer.alive() || count_fds(peer.pid()).uffd > kMaxLeakedUffds) peer.restart();
  vhost::Model model(*vhost::find_profile(profile));
  DpdkTarget target(peer);
  try {
    c.verdict = run<DpdkProtocol>(trace.ops, model, target, RunOptions{.check_fds = false});
  } catch (const std::exception& e) {
    peer.restart();
    c.skipped = DpdkSkip{0, std::string("peer unresponsive or dead, restarted: ") + e.what()};
    return c;
  }
  if (!peer.alive()) {
    peer.restart();
    c.skipped = DpdkSkip{0, "peer died during the trace, restarted"};
    return c;
  }
  c.before = target.baseline();
  c.after = target.current();
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

Trace shrink(const Trace& trace, const std::string& profile, DpdkPeer& peer,
             const std::string& signature) {
  Trace best = trace;
  best.notes.clear();
  for (bool progress = true; progress;) {
    progress = false;
    for (size_t i = best.ops.size(); i-- > 0;) {
      if (best.ops.size() <= 1) break;
      Trace candidate = best;
      candidate.ops.erase(candidate.ops.begin() + static_cast<long>(i));
      PeerCheck c = check_trace(candidate, profile, peer);
      if (!c.skipped && c.signature == signature) {
        best = std::move(candidate);
        progress = true;
      }
    }
  }
  return best;
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

int run_dpdk_peer(const PeerOptions& options) {
  const DpdkEnvironment env = probe_dpdk_environment();
  auto unavailable = [&](const std::string& why) {
    std::fprintf(stderr, "lockstep peer dpdk: the DPDK peer cannot run here: %s\n", why.c_str());
    if (!options.report_path.empty()) {
      fs::path path(options.report_path);
      if (path.has_parent_path()) fs::create_directories(path.parent_path());
      std::ofstream(path) << "# DPDK peer: the vhost-user model against DPDK's librte_vhost\n\n"
                          << "**Not run: " << why
                          << ".** DPDK (`pkg-config --modversion "
                             "libdpdk`): "
                          << (env.version.empty() ? "not found" : env.version) << "; kernel `"
                          << env.kernel << "`.\n";
    }
    return 3;
  };
  if (!env.unavailable.empty()) return unavailable(env.unavailable);
  const vhost::Profile* chosen = vhost::find_profile(options.profile);
  if (!chosen || chosen->mutant) {
    std::fprintf(stderr, "lockstep peer dpdk: unknown profile '%s' (dpdk-22.11, spec, ...)\n",
                 options.profile.c_str());
    return 2;
  }
  std::optional<DpdkPeer> peer;
  try {
    peer.emplace(env.binary);
  } catch (const std::exception& e) {
    return unavailable(e.what());
  }
  Campaign c{options, *peer, {}, {}, {}, {}};
  std::vector<std::string> profiles = {"dpdk-22.11", "spec"};
  if (std::find(profiles.begin(), profiles.end(), options.profile) == profiles.end())
    profiles.push_back(options.profile);
  const std::vector<Program> programs =
      load_programs(fs::path(options.corpus_root) / "programs" / "vhost_postcopy");
  for (const auto& profile : profiles) {
    size_t whole = 0, cut = 0, none = 0;
    for (const auto& program : programs) {
      Trace t = program.trace;
      t.profile = profile;
      t.notes.clear();
      if (auto skip = first_unsupported(t)) {
        t.ops.resize(skip->index);
        c.skip_reasons[skip->reason]++;
        if (t.ops.empty()) {
          none++;
          c.tallies[profile + " | corpus"].skipped++;
          continue;
        }
        cut++;
        c.tallies[profile + " | corpus"].truncated++;
      } else {
        whole++;
      }
      c.record(t, "corpus", "corpus program " + program.name);
    }
    c.notes.push_back("corpus under " + profile + ": " + std::to_string(programs.size()) +
                      " programs, " + std::to_string(whole) + " run whole, " + std::to_string(cut) +
                      " run up to their first op the peer cannot take, " + std::to_string(none) +
                      " with nothing runnable");
  }
  std::mt19937_64 rng(options.seed);
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration<double>(options.seconds);
  size_t n = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    Trace t = generate(rng, options.profile);
    if (t.ops.empty()) continue;
    c.record(
        t, "generated",
        "generated trace #" + std::to_string(n++) + " (seed " + std::to_string(options.seed) + ")");
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("\n%-12s %-10s %8s %8s %8s %9s %9s %8s\n", "profile", "phase", "traces", "ops",
              "agree", "disagree", "truncated", "skipped");
  for (const auto& [key, t] : c.tallies) {
    const auto bar = key.find(" | ");
    std::printf("%-12s %-10s %8zu %8zu %8zu %9zu %9zu %8zu\n", key.substr(0, bar).c_str(),
                key.substr(bar + 3).c_str(), t.traces, t.ops, t.agree, t.disagree, t.truncated,
                t.skipped);
  }
  size_t unexplained = 0;
  for (const auto& [sig, f] : c.findings) {
    std::printf("  (%c) %s -> %s\n", f.cls.kind, sig.c_str(), f.file.c_str());
    unexplained += f.cls.kind == '?';
  }
  if (!options.report_path.empty()) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%g", options.seconds);
    const std::string command = "lockstep peer dpdk --profile " + options.profile + " --seconds " +
                                secs + " --report " + options.report_path + " --findings " +
                                options.findings_dir;
    write_report(c, env, seconds, command);
    std::printf("report: %s\n", options.report_path.c_str());
  }
  return unexplained ? 1 : 0;
}

}  // namespace lockstep::peers::dpdk
