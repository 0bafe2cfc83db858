// The MSHV VFIO bridge device under the model explorer (tools/explore.h): its op alphabet, its
// state class and its profile switches.
#include <algorithm>
#include <cstdio>
#include <optional>

#include "core/mshv/uapi.h"
#include "tools/explore_protocols.h"

namespace lockstep::tools {
namespace {

using mshv::Model;
using mshv::Op;
using mshv::State;

// Objects of each kind a program may create. One partition: no rule relates two partitions
// (C7 is per partition, P2 per device). Two devices: a second create on a partition with a live
// device (C7) and a device created after the first was released. One file of each kind: A6 is
// the same file added twice, A5 any plain file, P4 a held file whose fd is closed; a second
// VFIO file would only double the classes. Handles beyond these are never created.
constexpr size_t kMaxPartitions = 1;
constexpr size_t kMaxDevices = 2;
constexpr size_t kMaxVfioFiles = 1;
constexpr size_t kMaxPlainFiles = 1;

// The first index whose element satisfies `pred`.
template <class T, class P>
std::optional<uint8_t> first(const std::vector<T>& v, P pred) {
  for (size_t i = 0; i < v.size(); ++i)
    if (pred(v[i])) return static_cast<uint8_t>(i);
  return std::nullopt;
}

std::optional<uint8_t> open_partition(const State& s) {
  return first(s.partitions, [](const auto& p) { return p.fd_open; });
}
std::optional<uint8_t> usable_device(const State& s) {
  return first(s.devices, [](const auto& d) { return d.live && d.fd_known; });
}
std::optional<uint8_t> open_vfio(const State& s) {
  return first(s.vfio_files, [](const auto& f) { return f.fd_open; });
}
std::optional<uint8_t> open_plain(const State& s) {
  return first(s.plain_files, [](const auto& f) { return f.fd_open; });
}
// An open VFIO file the device does (held) or does not hold.
std::optional<uint8_t> vfio_for(const State& s, uint8_t dev, bool held) {
  const auto& files = s.devices[dev].files;
  for (size_t i = 0; i < s.vfio_files.size(); ++i)
    if (s.vfio_files[i].fd_open &&
        (std::find(files.begin(), files.end(), static_cast<int>(i)) != files.end()) == held)
      return static_cast<uint8_t>(i);
  return std::nullopt;
}
// A handle that names nothing open: a partition or device that was closed or never opened
// (its op failed). A program may only name handles an earlier op created.
std::optional<Handle> stale(const State& s, char kind) {
  const auto i = kind == mshv::kPartition
                     ? first(s.partitions, [](const auto& p) { return !p.fd_open; })
                     : first(s.devices, [](const auto& d) { return !(d.live && d.fd_known); });
  if (!i) return std::nullopt;
  return Handle{kind, *i};
}

using Make = std::function<std::optional<Op>(const Model&)>;
using Class = OpClass<Model, Op>;

// An op on the usable device, its args filled by `fill` (nullopt: the class does not apply).
template <class A>
Make on_device(std::function<bool(const State&, uint8_t, A&)> fill) {
  return [fill](const Model& m) -> std::optional<Op> {
    const auto dev = usable_device(m.state());
    if (!dev) return std::nullopt;
    A a;
    a.dev = {mshv::kDevice, *dev};
    if (!fill(m.state(), *dev, a)) return std::nullopt;
    return Op{a};
  };
}

std::vector<Class> opening_ops() {
  return {
      {"open_partition", "", "no partition yet",
       [](const Model& m) -> std::optional<Op> {
         if (m.state().partitions.size() >= kMaxPartitions) return std::nullopt;
         return Op{mshv::OpenPartition{}};
       }},
      {"open_vfio_file", "", "no VFIO file yet",
       [](const Model& m) -> std::optional<Op> {
         if (m.state().vfio_files.size() >= kMaxVfioFiles) return std::nullopt;
         return Op{mshv::OpenFile{true}};
       }},
      {"open_file", "plain", "no plain file yet",
       [](const Model& m) -> std::optional<Op> {
         if (m.state().plain_files.size() >= kMaxPlainFiles) return std::nullopt;
         return Op{mshv::OpenFile{false}};
       }},
  };
}

// MSHV_CREATE_DEVICE: the partition handle's class x the argument classes C1-C5, C11.
std::vector<Class> create_ops(const mshv::Profile& p) {
  auto create = [](std::string args, std::string needs, uint32_t type, uint32_t flags,
                   mshv::Mem arg) {
    return Class{"create_device", std::move(args), std::move(needs),
                 [=](const Model& m) -> std::optional<Op> {
                   if (m.state().devices.size() >= kMaxDevices) return std::nullopt;
                   const auto part = open_partition(m.state());
                   if (!part) return std::nullopt;
                   return Op{mshv::CreateDevice{{mshv::kPartition, *part}, type, flags, arg}};
                 }};
  };
  const std::string needs = "an open partition and fewer than 2 devices";
  const uint32_t vfio = p.vfio_type;
  std::vector<Class> out = {
      create("valid partition, VFIO", needs, vfio, 0, mshv::Mem::Ok),
      create("valid partition, bad type", needs, vfio + 1, 0, mshv::Mem::Ok),
      create("valid partition, VFIO, TEST", needs, vfio, mshv::uapi::kCreateDeviceTest,
             mshv::Mem::Ok),
      create("valid partition, VFIO, unknown flag", needs, vfio, 2, mshv::Mem::Ok),
      create("valid partition, VFIO, read-only arg", needs, vfio, 0, mshv::Mem::ReadOnly),
      create("valid partition, VFIO, unmapped arg", needs, vfio, 0, mshv::Mem::Unmapped),
  };
  out.push_back({"create_device", "stale handle", "a closed partition, fewer than 2 devices",
                 [vfio](const Model& m) -> std::optional<Op> {
                   if (m.state().devices.size() >= kMaxDevices) return std::nullopt;
                   const auto h = stale(m.state(), mshv::kPartition);
                   if (!h) return std::nullopt;
                   return Op{mshv::CreateDevice{*h, vfio, 0, mshv::Mem::Ok}};
                 }});
  out.push_back({"create_device", "VFIO file handle", "an open VFIO file, fewer than 2 devices",
                 [vfio](const Model& m) -> std::optional<Op> {
                   const auto f = open_vfio(m.state());
                   if (!f || m.state().devices.size() >= kMaxDevices) return std::nullopt;
                   return Op{mshv::CreateDevice{{mshv::kVfioFile, *f}, vfio, 0, mshv::Mem::Ok}};
                 }});
  return out;
}

// MSHV_SET_DEVICE_ATTR / HAS / GET on the usable device: the file argument's classes (A1-A11,
// H1, G1-G2); then the device handle's classes.
std::vector<Class> attr_ops() {
  using mshv::FdArg;
  using mshv::SetAttr;
  namespace u = mshv::uapi;
  auto set = [](std::string args, std::string needs,
                std::function<bool(const State&, uint8_t, SetAttr&)> fill) {
    return Class{"set_attr", std::move(args), "a usable device" + needs, on_device(fill)};
  };
  auto file = [](uint64_t attr, bool held) {
    return [attr, held](const State& s, uint8_t dev, SetAttr& a) {
      const auto f = vfio_for(s, dev, held);
      a.attr = attr;
      a.fd = {FdArg::Kind::Handle, {mshv::kVfioFile, f.value_or(0)}, -1};
      return f.has_value();
    };
  };
  std::vector<Class> out = {
      set("FILE ADD, VFIO file not held", ", an open VFIO file it does not hold",
          file(u::kDevVfioFileAdd, false)),
      set("FILE ADD, VFIO file held", ", an open VFIO file it holds",
          file(u::kDevVfioFileAdd, true)),
      set("FILE DEL, VFIO file held", ", an open VFIO file it holds",
          file(u::kDevVfioFileDel, true)),
      set("FILE DEL, VFIO file not held", ", an open VFIO file it does not hold",
          file(u::kDevVfioFileDel, false)),
      set("FILE ADD, plain file", ", an open plain file",
          [](const State& s, uint8_t, SetAttr& a) {
            const auto f = open_plain(s);
            a.fd = {FdArg::Kind::Handle, {mshv::kPlainFile, f.value_or(0)}, -1};
            return f.has_value();
          }),
      set("FILE ADD, fd -1", "", [](const State&, uint8_t, SetAttr&) { return true; }),
      set("FILE ADD, unmapped fd", "",
          [](const State&, uint8_t, SetAttr& a) {
            a.fd.kind = FdArg::Kind::Unmapped;
            return true;
          }),
      set("bad group", "",
          [](const State&, uint8_t, SetAttr& a) {
            a.group = 2;
            return true;
          }),
      set("FILE, bad attr", "",
          [](const State&, uint8_t, SetAttr& a) {
            a.attr = 3;
            return true;
          }),
      set("unmapped arg", "",
          [](const State&, uint8_t, SetAttr& a) {
            a.arg = mshv::Mem::Unmapped;
            return true;
          }),
  };
  out.push_back(
      {"has_attr", "FILE ADD", "a usable device",
       on_device<mshv::HasAttr>([](const State&, uint8_t, mshv::HasAttr&) { return true; })});
  out.push_back({"has_attr", "bad group", "a usable device",
                 on_device<mshv::HasAttr>([](const State&, uint8_t, mshv::HasAttr& a) {
                   a.group = 2;
                   return true;
                 })});
  out.push_back(
      {"get_attr", "FILE ADD", "a usable device",
       on_device<mshv::GetAttr>([](const State&, uint8_t, mshv::GetAttr&) { return true; })});
  out.push_back({"set_attr", "stale device handle", "a closed device",
                 [](const Model& m) -> std::optional<Op> {
                   const auto h = stale(m.state(), mshv::kDevice);
                   if (!h) return std::nullopt;
                   SetAttr a;
                   a.dev = *h;
                   return Op{a};
                 }});
  out.push_back({"set_attr", "partition handle", "an open partition",
                 [](const Model& m) -> std::optional<Op> {
                   const auto p = open_partition(m.state());
                   if (!p) return std::nullopt;
                   SetAttr a;
                   a.dev = {mshv::kPartition, *p};
                   return Op{a};
                 }});
  return out;
}

// close(2) of each kind of open handle (P2, P4, R1, R2), and an injected fault at each site of
// core/mshv/sites.def with its first errno (F1-F4).
std::vector<Class> close_and_fault_ops() {
  auto close = [](std::string args, char kind,
                  std::function<std::optional<uint8_t>(const State&)> pick) {
    return Class{"close", args, "an open " + args, [=](const Model& m) -> std::optional<Op> {
                   const auto i = pick(m.state());
                   if (!i) return std::nullopt;
                   return Op{mshv::Close{{kind, *i}}};
                 }};
  };
  std::vector<Class> out = {
      close("partition", mshv::kPartition, open_partition),
      close("device", mshv::kDevice, usable_device),
      close("VFIO file", mshv::kVfioFile, open_vfio),
      close("plain file", mshv::kPlainFile, open_plain),
      {"close", "stale handle", "a closed device",
       [](const Model& m) -> std::optional<Op> {
         const auto h = stale(m.state(), mshv::kDevice);
         if (!h) return std::nullopt;
         return Op{mshv::Close{*h}};
       }},
  };
  for (size_t i = 0; i < mshv::kSiteCount; ++i) {
    const auto site = static_cast<mshv::Site>(i);
    out.push_back({"fail_next", mshv::site_name(site), "nothing armed",
                   [site](const Model& m) -> std::optional<Op> {
                     if (m.state().armed) return std::nullopt;  // F1: one slot; see bounds()
                     return Op{mshv::FailNext{site, 0}};
                   }});
  }
  return out;
}

std::string partition_class(const mshv::PartitionState& p) {
  if (p.fd_open) return "open";
  return p.refs > 0 ? "held" : "closed";  // P2: a device keeps it alive after its fd closes
}

std::string device_class(const mshv::DeviceState& d) {
  if (!d.live) return d.partition < 0 ? "failed" : "released";
  std::string out =
      std::string(d.fd_known ? "live" : "live-unknown-fd") + "@p" + std::to_string(d.partition);
  if (d.files.empty()) return out;
  out += "[";
  for (size_t i = 0; i < d.files.size(); ++i)
    out += (i ? "," : "") + std::string("f") + std::to_string(d.files[i]);
  return out + "]";
}

}  // namespace

// Depth 8: the longest lifecycle the rules describe is open partition, open file, create,
// ADD, close partition, close file, DEL or close device (7 ops), plus a fault armed before the
// last. It is the bound that binds: under mshv-v1 the search reaches 2944 classes and expands
// the 2370 within 8 ops in 0.3 s (`lockstep spec --protocol mshv`); 4000 classes only guards
// against a profile whose broken variant multiplies them.
Bounds ExploreTraits<MshvBinding>::bounds() {
  return {8, 4000};
}

std::vector<OpClass<Model, Op>> ExploreTraits<MshvBinding>::alphabet(const mshv::Profile& p) {
  std::vector<Class> out = opening_ops();
  for (auto part : {create_ops(p), attr_ops(), close_and_fault_ops()})
    out.insert(out.end(), part.begin(), part.end());
  return out;
}

// Per object, its lifecycle (partition open / held by a device / closed; device live with the
// files it holds / released / failed; file open / closed), by handle index, since handles name
// objects in creation order; and the armed fault. Reference counts follow from these.
StateClass ExploreTraits<MshvBinding>::state_class(const Model& m) {
  const State& s = m.state();
  StateClass c;
  auto each = [&](char kind, size_t bound, size_t n, auto&& name) {
    for (size_t i = 0; i < bound; ++i)
      c.emplace_back(std::string(1, kind) + std::to_string(i), i < n ? name(i) : "-");
  };
  each(mshv::kPartition, kMaxPartitions, s.partitions.size(),
       [&](size_t i) { return partition_class(s.partitions[i]); });
  each(mshv::kDevice, kMaxDevices, s.devices.size(),
       [&](size_t i) { return device_class(s.devices[i]); });
  each(mshv::kVfioFile, kMaxVfioFiles, s.vfio_files.size(),
       [&](size_t i) { return std::string(s.vfio_files[i].fd_open ? "open" : "closed"); });
  each(mshv::kPlainFile, kMaxPlainFiles, s.plain_files.size(),
       [&](size_t i) { return std::string(s.plain_files[i].fd_open ? "open" : "closed"); });
  c.emplace_back("armed", s.armed ? mshv::site_name(s.armed->site) : "-");
  if (s.leaked_file_refs) c.emplace_back("leaked_refs", std::to_string(s.leaked_file_refs));
  return c;
}

std::string ExploreTraits<MshvBinding>::outcome(const mshv::Outcome& o) {
  return errno_note(o.err);
}

std::string ExploreTraits<MshvBinding>::resources_delta(const mshv::Resources& a,
                                                        const mshv::Resources& b) {
  return count_delta({{"partitions", {a.partitions, b.partitions}},
                      {"partition_refs", {a.partition_refs, b.partition_refs}},
                      {"devices", {a.devices, b.devices}},
                      {"file_refs", {a.file_refs, b.file_refs}}});
}

std::vector<std::string> ExploreTraits<MshvBinding>::diagram_components() {
  return {"p0", "d0", "f0"};
}

// Every switch of struct Profile, one row each: tests/check_citations.py fails when a switch is
// missing here or a row names no switch, so docs/spec/ cannot leave a choice out.
std::vector<Choice<mshv::Profile>> ExploreTraits<MshvBinding>::choices() {
  using P = mshv::Profile;
  auto hex = [](uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%x", v);
    return std::string(buf);
  };
  auto yes = [](bool b) { return std::string(b ? "yes" : "no"); };
  return {
      {"create_request", "U1, U3", [=](const P& p) { return hex(p.create_request); }},
      {"set_request", "U1, U3", [=](const P& p) { return hex(p.set_request); }},
      {"has_request", "U1, U3", [=](const P& p) { return hex(p.has_request); }},
      {"get_request", "G1, G2", [=](const P& p) { return hex(p.get_request); }},
      {"vfio_type", "C3", [](const P& p) { return std::to_string(p.vfio_type); }},
      {"reject_unknown_create_flags", "C2",
       [=](const P& p) { return yes(p.reject_unknown_create_flags); }},
      {"rollback_on_copy_back_fault", "C11",
       [=](const P& p) { return yes(p.rollback_on_copy_back_fault); }},
      {"test_copies_back", "C5", [=](const P& p) { return yes(p.test_copies_back); }},
  };
}

std::string count_delta(const std::vector<std::pair<std::string, std::pair<int, int>>>& counts) {
  std::string out;
  for (const auto& [name, v] : counts)
    if (v.first != v.second)
      out += (out.empty() ? "" : ", ") + name + (v.second > v.first ? " +" : " ") +
             std::to_string(v.second - v.first);
  return out;
}

}  // namespace lockstep::tools
