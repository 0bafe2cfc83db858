#include "peers/kvm/kvm_campaign.h"

#include <iterator>

#include "core/errno_names.h"
#include "core/mshv/codec.h"
#include "core/mshv/uapi.h"
#include "core/overloaded.h"
#include "core/report.h"
#include "model/mshv/model.h"

namespace lockstep::peers::kvm {
namespace {

namespace uapi = mshv::uapi;
using mshv::Op;
using mshv::Trace;

// Calls f on every handle the op names (not the one it creates).
template <class F>
void for_each_handle(Op& op, F&& f) {
  auto attr = [&](mshv::AttrArgs& a) {
    f(a.dev);
    if (a.fd.kind == mshv::FdArg::Kind::Handle) f(a.fd.handle);
  };
  std::visit(Overloaded{
                 [](mshv::OpenPartition&) {},
                 [](mshv::OpenFile&) {},
                 [&](mshv::CreateDevice& c) { f(c.part); },
                 [&](mshv::SetAttr& a) { attr(a); },
                 [&](mshv::HasAttr& a) { attr(a); },
                 [&](mshv::GetAttr& a) { attr(a); },
                 [&](mshv::RawIoctl& r) { f(r.h); },
                 [&](mshv::Close& c) { f(c.h); },
                 [](mshv::FailNext&) {},
             },
             op);
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

// ---- report ----------------------------------------------------------------------------------

constexpr const char* kCompared =
    "KVM exposes no counters for partitions, devices or file references, so the comparison is "
    "`KvmProtocol::first_difference` (peers/kvm/kvm_target.h): **err only**, after every op, "
    "plus run()'s **fd oracle** at the end of each trace (process fds after the trace vs the "
    "model's `fds_left_open()`; an fd installed by a create whose copy-back faulted is counted "
    "there). Resource fields of the model are not compared.";

constexpr const char* kTraces =
    "A program written for the other vocabulary is swapped through the mapping above. "
    "Generated traces: `mshv::decode_input` over random bytes biased to small values, then "
    "steered (the profile's VFIO type, group 1, attr 1-3, known request numbers) and "
    "`fail_next` dropped.";

constexpr const char* kUnreachable =
    "kvm-vfio paths unreachable on this kernel whatever the trace: FILE/ADD success, FILE/ADD "
    "EEXIST, FILE/DEL success and everything after them (reference holding, release dropping "
    "references), because `vfio_file_is_valid` is not linked into a kernel without CONFIG_VFIO, "
    "so every ADD of an open fd answers EINVAL. These paths are covered only against the "
    "in-process implementation (impl/mshv), not against KVM. Fault injection (`fail_next`: "
    "ENOMEM, EMFILE, copy_to_user) cannot be driven into the real kernel; the copy-back fault is "
    "still reached through a read-only argument page.";

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

// ---- binding -----------------------------------------------------------------------------------

ReportText KvmBinding::report_text(const Environment& env, const PeerOptions&) {
  ReportText t;
  t.title = "KVM peer: the MSHV model against the real kvm-vfio device";
  t.environment = {
      {"kernel (`uname -r`)", "`" + env.kernel + "`"},
      {"KVM API version", std::to_string(env.api_version)},
      {"/dev/kvm", env.unavailable.empty() ? "usable" : env.unavailable},
      {"VFIO", std::string(env.vfio_available ? "available" : "**not available**") + " (" +
                   env.vfio_detail +
                   "; CONFIG_VFIO is not set on this kernel, see "
                   "docs/notes/kvm-probe-this-machine.md)"},
  };
  t.compared = kCompared;
  t.sections = {{"Mapping (peers/kvm/mapping.h, the only place it lives)", mapping_markdown()}};
  t.traces = kTraces;
  t.signature = "profile, op, field, model and peer errno";
  t.unreachable = kUnreachable;
  return t;
}

Vocabulary KvmBinding::vocabulary(const std::string& profile) const {
  if (type_map_ && profile == chosen_profile_)
    return *type_map_ ? Vocabulary::Mshv : Vocabulary::Kvm;
  return vocabulary_for(profile);
}

Trace KvmBinding::in_profile(const Trace& program, const std::string& profile) {
  if (vocabulary_for(program.profile) == vocabulary_for(profile)) return program;
  return to_kvm(program, Vocabulary::Mshv);  // the swap is its own inverse
}

std::optional<Skip> KvmBinding::first_skip(const Trace& trace) const {
  return first_unsupported(trace, vocabulary(trace.profile));
}

PeerCheck KvmBinding::check(const Trace& trace) const {
  return check_trace(trace, trace.profile, vocabulary(trace.profile));
}

std::optional<Trace> KvmBinding::without(const Trace& t, size_t i) {
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

Classification KvmBinding::classify(const Trace& minimal, const Check& check) const {
  return kvm::classify(minimal, minimal.profile, vocabulary(minimal.profile), check);
}

// decode_input over random bytes, then steered toward the interesting values (the profile's
// VFIO type, group 1 / attr ADD-DEL, the known request numbers), FailNext dropped, and cut at the
// first op KVM cannot express.
Trace KvmBinding::generate(std::mt19937_64& rng, const std::string& profile) {
  Trace t = mshv::decode_input(random_bytes(rng));
  t.profile = profile;
  const uint32_t vfio =
      vocabulary_for(profile) == Vocabulary::Kvm ? uapi::kKvmDevTypeVfio : uapi::kDevTypeVfio;
  auto attr = [&](mshv::AttrArgs& a) {
    if (rng() % 4) a.group = uapi::kDevVfioFile;
    if (rng() % 3) a.attr = 1 + rng() % 3;
  };
  std::vector<Op> ops;
  for (Op op : t.ops) {
    if (std::holds_alternative<mshv::FailNext>(op)) continue;  // creates no handle
    std::visit(Overloaded{
                   [](mshv::OpenPartition&) {},
                   [](mshv::OpenFile&) {},
                   [&](mshv::CreateDevice& c) {
                     if (rng() % 4) c.type = vfio;
                     static constexpr uint32_t kFlags[] = {0, 0, 1, 1, 2, 0x80000001u, 0xfffffffeu};
                     if (rng() % 4) c.flags = kFlags[rng() % std::size(kFlags)];
                   },
                   [&](mshv::SetAttr& a) { attr(a); },
                   [&](mshv::HasAttr& a) { attr(a); },
                   [&](mshv::GetAttr& a) { attr(a); },
                   [&](mshv::RawIoctl& r) {
                     if (rng() % 4)
                       r.request = kInterestingRequests[rng() % std::size(kInterestingRequests)];
                   },
                   [](mshv::Close&) {},
                   [](mshv::FailNext&) {},
               },
               op);
    ops.push_back(op);
  }
  t.ops = std::move(ops);
  if (auto skip = first_unsupported(t, vocabulary_for(profile))) t.ops.resize(skip->index);
  return t;
}

int run_kvm_peer(const PeerOptions& options) {
  return run_peer_campaign<KvmBinding>(options);
}

}  // namespace lockstep::peers::kvm
