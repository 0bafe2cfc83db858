#include "peers/kvm/peer_run.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>

#include "core/errno_names.h"
#include "core/mshv/codec.h"
#include "core/mshv/uapi.h"
#include "core/overloaded.h"
#include "core/program_files.h"
#include "core/report.h"
#include "model/mshv/model.h"

namespace lockstep::peers {
namespace {

namespace fs = std::filesystem;
namespace uapi = mshv::uapi;
using mshv::Op;
using mshv::Trace;

template <class F>
void for_each_handle(Op& op, F&& f) {
  std::visit(Overloaded{
                 [&](mshv::CreateDevice& c) { f(c.part); },
                 [&](mshv::AttrArgs& a) {
                   f(a.dev);
                   if (a.fd.kind == mshv::FdArg::Kind::Handle) f(a.fd.handle);
                 },
                 [&](mshv::RawIoctl& r) { f(r.h); },
                 [&](mshv::Close& c) { f(c.h); },
                 [&](auto&) {},
             },
             op);
}

// The trace without op i; handles created after it are renumbered. nullopt if a later op names
// the handle op i creates.
std::optional<Trace> without(const Trace& t, size_t i) {
  mshv::HandleCounts counts;
  for (size_t j = 0; j < i; ++j) counts.create(t.ops[j]);
  const std::optional<Handle> gone = counts.create(t.ops[i]);
  Trace out;
  out.profile = t.profile;
  for (size_t j = 0; j < t.ops.size(); ++j) {
    if (j == i) continue;
    Op op = t.ops[j];
    bool ok = true;
    if (gone && j > i)
      for_each_handle(op, [&](Handle& h) {
        if (h == *gone) ok = false;
        if (h.kind == gone->kind && h.index > gone->index) h.index--;
      });
    if (!ok) return std::nullopt;
    out.ops.push_back(op);
  }
  return out;
}

// Where two models first disagree on err, or nullopt.
std::optional<size_t> first_model_difference(const Trace& a, const std::string& pa, const Trace& b,
                                             const std::string& pb, int* err_a, int* err_b) {
  mshv::Model ma(*mshv::find_profile(pa)), mb(*mshv::find_profile(pb));
  for (size_t i = 0; i < a.ops.size(); ++i) {
    int ea = ma.step(a.ops[i]).err, eb = mb.step(b.ops[i]).err;
    if (ea != eb) {
      *err_a = ea;
      *err_b = eb;
      return i;
    }
  }
  return std::nullopt;
}

std::string errtext(int err) {
  return err ? errno_name(err) : "0";
}

// ---- generation ------------------------------------------------------------------------------

// Random bytes biased to small values, so decode_input reaches handles, group 1 and so on.
std::vector<uint8_t> random_bytes(std::mt19937_64& rng) {
  std::vector<uint8_t> b(8 + rng() % 200);
  for (auto& x : b) {
    unsigned r = rng() % 10;
    x = r < 4 ? 0 : r < 7 ? static_cast<uint8_t>(1 + rng() % 4) : static_cast<uint8_t>(rng());
  }
  return b;
}

// Generic ioctls of fs/ioctl.c (asm-generic/ioctls.h, linux/fs.h).
constexpr uint32_t kFioclex = 0x5451, kFionclex = 0x5450, kFionbio = 0x5421, kFionread = 0x541B,
                   kFigetbsz = 0x2;

bool generic_vfs_ioctl(uint32_t request) {
  return request == kFioclex || request == kFionclex || request == kFionbio ||
         request == kFionread || request == kFigetbsz;
}

constexpr uint32_t kInterestingRequests[] = {
    uapi::kKvmCreateDevice,
    uapi::kKvmSetDeviceAttr,
    uapi::kKvmHasDeviceAttr,
    uapi::kKvmGetDeviceAttr,
    uapi::kCreateDevice,
    uapi::kSetDeviceAttr,
    uapi::kHasDeviceAttr,
    uapi::kOutOfTreeHasDeviceAttr,
    0xB8345678,
    0xAEFF,
    // Not FIOCLEX, FIONBIO, FIGETBSZ, ...: fs/ioctl.c do_vfs_ioctl answers those for every fd
    // before any device does, and the trace vocabulary keeps RawIoctl to the 0xB8 (MSHV) and
    // 0xAE (KVM) families (core/mshv/codec.cc) since the first 10-minute run found the gap.
};

// decode_input over random bytes, then steered toward the interesting values (the profile's
// VFIO type, group 1 / attr ADD-DEL, the known request numbers), FailNext dropped, and cut at the
// first op KVM cannot express.
Trace generate(std::mt19937_64& rng, const std::string& profile) {
  Trace t = mshv::decode_input(random_bytes(rng));
  t.profile = profile;
  const uint32_t vfio =
      vocabulary_for(profile) == Vocabulary::Kvm ? uapi::kKvmDevTypeVfio : uapi::kDevTypeVfio;
  std::vector<Op> ops;
  for (Op op : t.ops) {
    if (std::holds_alternative<mshv::FailNext>(op)) continue;  // creates no handle
    if (auto* c = std::get_if<mshv::CreateDevice>(&op)) {
      if (rng() % 4) c->type = vfio;
      static constexpr uint32_t kFlags[] = {0, 0, 1, 1, 2, 0x80000001u, 0xfffffffeu};
      if (rng() % 4) c->flags = kFlags[rng() % std::size(kFlags)];
    }
    if (auto* r = std::get_if<mshv::RawIoctl>(&op); r && rng() % 4)
      r->request = kInterestingRequests[rng() % std::size(kInterestingRequests)];
    std::visit(Overloaded{[&](mshv::AttrArgs& a) {
                            if (rng() % 4) a.group = uapi::kDevVfioFile;
                            if (rng() % 3) a.attr = 1 + rng() % 3;
                          },
                          [](auto&) {}},
               op);
    ops.push_back(op);
  }
  t.ops = std::move(ops);
  if (auto skip = first_unsupported(t, vocabulary_for(profile))) t.ops.resize(skip->index);
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
    out.push_back({dir.filename().string() + "/" + f.filename().string(), mshv::parse_text(text)});
  return out;
}

// A program in the numbers of `profile`: the swap of mapping.h, applied when the program was
// written for the other vocabulary.
Trace for_profile(const Trace& program, const std::string& profile) {
  Trace t = program;
  if (vocabulary_for(program.profile) != vocabulary_for(profile))
    t = to_kvm(program, Vocabulary::Mshv);  // the swap is its own inverse
  t.profile = profile;
  t.notes.clear();
  return t;
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

struct Campaign {
  const PeerOptions& options;
  std::map<std::string, Tally> tallies;  // "profile / phase"
  std::map<std::string, Finding> findings;
  std::map<std::string, size_t> skip_reasons;
  std::vector<std::string> corpus_notes;

  void record(const Trace& trace, const std::string& phase, const std::string& origin) {
    const Vocabulary v = vocabulary_for(trace.profile, options);
    Tally& tally = tallies[trace.profile + " | " + phase];
    PeerCheck c = check_trace(trace, trace.profile, v);
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
    auto it = findings.find(c.signature);
    if (it != findings.end()) {
      it->second.hits++;
      return;
    }
    Finding f;
    f.profile = trace.profile;
    f.signature = c.signature;
    f.origin = origin;
    f.minimal = shrink(trace, trace.profile, v, c.signature);
    f.check = check_trace(f.minimal, trace.profile, v);
    f.cls = classify(f.minimal, trace.profile, v, f.check);
    f.hits = 1;
    fs::create_directories(options.findings_dir);
    f.file = (fs::path(options.findings_dir) /
              (trace.profile + "-" + std::to_string(findings.size()) + ".txt"))
                 .string();
    std::ofstream(f.file) << f.check.side_by_side << "# classification (" << f.cls.kind
                          << "): " << f.cls.why << "\n# found by: " << origin << "\n";
    std::printf("finding %s: %s\n  (%c) %s\n", f.file.c_str(), f.signature.c_str(), f.cls.kind,
                f.cls.why.c_str());
    findings.emplace(c.signature, std::move(f));
  }

  static Vocabulary vocabulary_for(const std::string& profile, const PeerOptions& o) {
    if (o.type_map && profile == o.profile) return *o.type_map ? Vocabulary::Mshv : Vocabulary::Kvm;
    return peers::vocabulary_for(profile);
  }
};

void write_report(const Campaign& c, const KvmEnvironment& env, double seconds,
                  const std::string& command) {
  std::ostringstream r;
  r << "# KVM peer: the MSHV model against the real kvm-vfio device\n\n"
    << "Generated by `" << command << "` (peers/kvm/, tools/lockstep_main.cc `peer`). "
    << "Regenerate with the same command; the random phase is seeded, but what fits in the time "
       "budget depends on the machine.\n\n"
    << "## Environment\n\n"
    << "| | |\n|---|---|\n"
    << "| kernel (`uname -r`) | `" << env.kernel << "` |\n"
    << "| KVM API version | " << env.api_version << " |\n"
    << "| /dev/kvm | " << (env.kvm_unavailable.empty() ? "usable" : env.kvm_unavailable) << " |\n"
    << "| VFIO | " << (env.vfio_available ? "available" : "**not available**") << " ("
    << env.vfio_detail << "; CONFIG_VFIO is not set on this kernel, see "
    << "docs/notes/kvm-probe-this-machine.md) |\n"
    << "| random phase | " << seconds << " s, seed " << c.options.seed << " |\n\n"
    << "## What is compared\n\n"
    << "KVM exposes no counters for partitions, devices or file references, so the comparison "
       "is `KvmProtocol::first_difference` (peers/kvm/kvm_target.h): **err only**, after every "
       "op, plus run()'s **fd oracle** at the end of each trace (process fds after the trace "
       "vs the model's `fds_left_open()`; an fd installed by a create whose copy-back faulted "
       "is counted there). Resource fields of the model are not compared.\n\n"
    << "## Mapping (peers/kvm/mapping.h, the only place it lives)\n\n"
    << mapping_markdown() << "\n"
    << "## Traces run and agreement\n\n"
    << "Corpus programs are run under both `kvm` and `mshv-v1` (a program written for the other "
       "vocabulary is swapped through the table above); the generated phase runs under `"
    << c.options.profile
    << "` only. Generated traces: `mshv::decode_input` over random bytes biased to small values, "
       "then steered (the profile's VFIO type, group 1, attr 1-3, known request numbers), "
       "`fail_next` dropped, and cut before the first op KVM cannot express. Corpus programs "
       "are cut the same way (counted as truncated); programs with nothing left are skipped.\n\n"
    << "| profile | phase | traces run | ops | agree | disagree | agreement | truncated | "
       "skipped |\n|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& [key, t] : c.tallies) {
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.2f%%", t.traces ? 100.0 * t.agree / t.traces : 0.0);
    auto bar = key.find(" | ");
    r << "| " << key.substr(0, bar) << " | " << key.substr(bar + 3) << " | " << t.traces << " | "
      << t.ops << " | " << t.agree << " | " << t.disagree << " | " << rate << " | " << t.truncated
      << " | " << t.skipped << " |\n";
  }
  r << "\n";
  for (const auto& note : c.corpus_notes) r << "- " << note << "\n";
  r << "\n## Distinct disagreements (" << c.findings.size() << ")\n\n"
    << "Each is shrunk (greedy op deletion while the same signature persists) and deduplicated "
       "by signature (profile, op, field, model and peer errno). Classification: (a) documented "
       "deviation — a profile switch explains it; (b) model bug; (c) peer defect or spec "
       "deviation; (?) unexplained.\n\n";
  if (c.findings.empty()) r << "None.\n\n";
  int n = 0;
  for (const auto& [sig, f] : c.findings) {
    r << "### " << ++n << ". (" << f.cls.kind << ") `" << sig << "`\n\n"
      << f.cls.why << "\n\nSeen " << f.hits << " time(s); first found by " << f.origin
      << "; written to `" << f.file << "`.\n\n```\n"
      << f.check.side_by_side << "```\n\n";
  }
  r << "## Paths that could not be reached\n\n";
  r << "| reason | ops cut or skipped |\n|---|---|\n";
  for (const auto& [why, count] : c.skip_reasons) r << "| " << why << " | " << count << " |\n";
  r << "\nkvm-vfio paths unreachable on this kernel whatever the trace: FILE/ADD success, "
       "FILE/ADD EEXIST, FILE/DEL success and everything after them (reference holding, release "
       "dropping references), because `vfio_file_is_valid` is not linked into a kernel without "
       "CONFIG_VFIO, so every ADD of an open fd answers EINVAL. These paths are covered only "
       "against the in-process implementation (impl/mshv), not against KVM. Fault injection "
       "(`fail_next`: ENOMEM, EMFILE, copy_to_user) cannot be driven into the real kernel; the "
       "copy-back fault is still reached through a read-only argument page.\n";
  fs::path path(c.options.report_path);
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  std::ofstream(path) << r.str();
}

}  // namespace

Vocabulary vocabulary_for(const std::string& profile) {
  return profile == "kvm" ? Vocabulary::Kvm : Vocabulary::Mshv;
}

PeerCheck check_trace(const Trace& trace, const std::string& profile, Vocabulary v) {
  PeerCheck c;
  c.skipped = first_unsupported(trace, v);
  if (c.skipped) return c;
  mshv::Model model(*mshv::find_profile(profile));
  KvmTarget target(v);
  c.verdict = run<KvmProtocol>(trace.ops, model, target);
  if (!c.verdict.ok()) {
    const Divergence& d = *c.verdict.divergence;
    c.signature = profile + ": " + d.signature;
    if (d.field == "err")
      c.signature += " (model " + errtext(c.verdict.model.back().err) + ", peer " +
                     errtext(c.verdict.target.back().err) + ")";
    else
      c.signature += " (fds +" + std::to_string(c.verdict.fds_delta) + ", model expects +" +
                     std::to_string(c.verdict.fds_expected) + ")";
  }
  c.side_by_side = side_by_side<KvmProtocol>(profile, trace.ops, c.verdict);
  return c;
}

Trace shrink(const Trace& trace, const std::string& profile, Vocabulary v,
             const std::string& signature) {
  Trace best = trace;
  best.notes.clear();
  for (bool progress = true; progress;) {
    progress = false;
    for (size_t i = best.ops.size(); i-- > 0;) {
      auto candidate = without(best, i);
      if (!candidate) continue;
      PeerCheck c = check_trace(*candidate, profile, v);
      if (!c.skipped && c.signature == signature) {
        best = std::move(*candidate);
        progress = true;
      }
    }
  }
  return best;
}

Classification classify(const Trace& minimal, const std::string& profile, Vocabulary v,
                        const PeerCheck& check) {
  if (profile != "kvm") {
    // Does the kvm profile, on the same trace in KVM numbers, agree with the peer?
    Trace kvm_trace = to_kvm(minimal, v);
    kvm_trace.profile = "kvm";
    PeerCheck k = check_trace(kvm_trace, "kvm", Vocabulary::Kvm);
    if (!k.skipped && k.signature.empty()) {
      int ep = 0, ek = 0;
      auto i = first_model_difference(minimal, profile, kvm_trace, "kvm", &ep, &ek);
      if (!i)
        return {'a', "documented deviation: the " + profile +
                         " and kvm profiles differ in the fds left installed "
                         "(Profile::rollback_on_copy_back_fault)"};
      const Op& op = minimal.ops[*i];
      const std::string at = "op " + std::to_string(*i) + " (" + mshv::Protocol::op_name(op) +
                             "): " + profile + " says " + errtext(ep) + ", kvm says " +
                             errtext(ek) + ". ";
      const auto* raw = std::get_if<mshv::RawIoctl>(&kvm_trace.ops[*i]);
      if (std::holds_alternative<mshv::GetAttr>(op) ||
          (raw && raw->request == uapi::kKvmGetDeviceAttr))
        return {'a', "documented deviation, " + at +
                         "KVM defines KVM_GET_DEVICE_ATTR and kvm-vfio has no get_attr, so "
                         "kvm_device_ioctl_attr answers EPERM; MSHV has no GET ioctl (ENOTTY). "
                         "Profile::get_request."};
      if (const auto* c = std::get_if<mshv::CreateDevice>(&op)) {
        if (ep == EINVAL && (c->flags & ~uapi::kCreateDeviceTest))
          return {'a', "documented deviation, " + at +
                           "unknown create flags: mshv-strict rejects them, KVM ignores them. "
                           "Profile::reject_unknown_create_flags."};
        if ((c->flags & uapi::kCreateDeviceTest) && ek == EFAULT)
          return {'a', "documented deviation, " + at +
                           "kvm_vm_ioctl copies struct kvm_create_device back even for TEST, so "
                           "a read-only argument faults; MSHV's TEST returns before copy_to_user. "
                           "Profile::test_copies_back."};
        if (ep == ENODEV || ek == ENODEV)
          return {'a', "documented deviation, " + at +
                           "device type numbering: MSHV_DEV_TYPE_VFIO = 0, KVM_DEV_TYPE_VFIO = 4 "
                           "(Profile::vfio_type); the trace was run without the type swap."};
      }
      return {'a', "documented deviation, " + at + "(the kvm profile agrees with the peer)"};
    }
  }
  // Disagreements the kvm profile itself has with the peer. Triaged by hand; see
  // docs/peers/kvm.md.
  if (check.verdict.divergence && check.verdict.divergence->field == "err") {
    const Op& op = minimal.ops[check.verdict.divergence->index];
    if (const auto* raw = std::get_if<mshv::RawIoctl>(&op)) {
      if (generic_vfs_ioctl(raw->request))  // not in the swap table: same in both vocabularies
        return {'b',
                "model bug, fixed: fs/ioctl.c do_vfs_ioctl answers FIOCLEX, FIONCLEX, "
                "FIONBIO, FIONREAD and FIGETBSZ for every fd before the file's own "
                "unlocked_ioctl runs; the model answered ENOTTY. Fixed by keeping RawIoctl "
                "to the 0xB8 (MSHV) and 0xAE (KVM) request families (core/mshv/codec.cc): "
                "a trace that still reaches this was built outside the vocabulary."};
      return {'?', "unexplained: ioctl(" + to_string(raw->h) +
                       ", request) differs between the kvm model and KVM; needs triage"};
    }
  }
  return {'?',
          "unexplained: the kvm profile disagrees with the real kvm-vfio device; needs "
          "triage"};
}

int run_kvm_peer(const PeerOptions& options) {
  const KvmEnvironment env = probe_environment();
  if (!env.kvm_unavailable.empty()) {
    std::fprintf(stderr, "lockstep peer kvm: the KVM peer cannot run here: %s\n",
                 env.kvm_unavailable.c_str());
    return 3;
  }
  if (!mshv::find_profile(options.profile) || options.profile.starts_with("mutant")) {
    std::fprintf(stderr, "lockstep peer kvm: unknown profile '%s' (kvm, mshv-v1, mshv-strict)\n",
                 options.profile.c_str());
    return 2;
  }
  Campaign c{options, {}, {}, {}, {}};
  std::vector<std::string> profiles = {"kvm", "mshv-v1"};
  if (std::find(profiles.begin(), profiles.end(), options.profile) == profiles.end())
    profiles.push_back(options.profile);
  const fs::path root(options.corpus_root);
  std::vector<Program> programs = load_programs(root / "programs" / "mshv_kvm");
  for (auto& p : load_programs(root / "programs" / "mshv_device")) programs.push_back(p);
  for (const auto& profile : profiles) {
    size_t whole = 0, cut = 0, none = 0;
    for (const auto& program : programs) {
      Trace t = for_profile(program.trace, profile);
      auto skip = first_unsupported(t, c.vocabulary_for(profile, options));
      if (skip) {
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
    c.corpus_notes.push_back("corpus under " + profile + ": " + std::to_string(programs.size()) +
                             " programs, " + std::to_string(whole) + " run whole, " +
                             std::to_string(cut) + " run up to their first inexpressible op, " +
                             std::to_string(none) + " with nothing expressible");
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
    auto bar = key.find(" | ");
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
    std::string command = "lockstep peer kvm --profile " + options.profile + " --seconds " +
                          std::to_string(static_cast<int>(options.seconds)) + " --report " +
                          options.report_path + " --findings " + options.findings_dir;
    write_report(c, env, seconds, command);
    std::printf("report: %s\n", options.report_path.c_str());
  }
  return unexplained ? 1 : 0;
}

}  // namespace lockstep::peers
