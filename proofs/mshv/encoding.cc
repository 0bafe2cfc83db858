#include "proofs/mshv/encoding.h"

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <string>

#include "core/mshv/uapi.h"
#include "core/overloaded.h"
#include "proofs/values.h"

namespace lockstep::mshv::proofs {
namespace {

using z3::expr;

// First-failing-check chains: each ret() is one `return` of the C++ model, taken only if no
// earlier one was.
struct Chain {
  expr go, err;
  void ret(const expr& cond, const expr& value) {
    err = z3::ite(go && cond, value, err);
    go = go && !cond;
  }
};

expr inc(const expr& e, const expr& cond) {
  return z3::ite(cond, e + 1, e);
}

// Model::FdKind: what an fd number refers to in the caller's fd table.
constexpr int kNone = 0, kPart = 1, kDev = 2, kVfio = 3, kPlain = 4;

// T(s, a) for one (s, a): one member per Model function, each adding its effect on the state
// being built (next_) and returning its errno. Members run in Model::step's order.
class Transition : lockstep::proofs::TransitionBase<Encoding> {
 public:
  Transition(z3::context& c, const Profile& profile, const SymState& s, const SymAction& a)
      : TransitionBase(c, profile, s, a),
        next_(s),
        zero_(errno_of(0)),
        opens_partition_(is(OpKind::OpenPartition)),
        opens_file_(is(OpKind::OpenFile)),
        creates_device_(is(OpKind::CreateDevice)),
        closes_(is(OpKind::Close)) {}
  StepResult step();

 private:
  expr errno_of(int e) { return bv(static_cast<unsigned>(e), 8); }
  expr is(OpKind k) { return a_.kind == static_cast<int>(k); }
  // Model::step: fault_ = exchange(armed, nullopt); fault(site) == (fault_ == site). No op
  // consults the same site twice, so consumption within an op is unobservable.
  expr fault(Site site) { return s_.armed == bv(static_cast<unsigned>(site) + 1, 2); }
  expr kind_of(const SymHandle& h);

  void create_handle();  // HandleCounts::create and FailNext's arming
  void open_partition();
  void open_file();
  expr create_device();
  expr attr_ioctl(OpKind kind, uint32_t request);
  expr raw_ioctl();
  expr close();

  SymState next_;
  const expr zero_;
  const expr opens_partition_, opens_file_, creates_device_, closes_;
};

StepResult Transition::step() {
  create_handle();
  open_partition();
  open_file();
  expr err_create = create_device();
  expr err_set = attr_ioctl(OpKind::SetAttr, pr_.set_request);
  expr err_has = attr_ioctl(OpKind::HasAttr, pr_.has_request);
  expr err_get = attr_ioctl(OpKind::GetAttr, pr_.get_request);
  expr err_raw = raw_ioctl();
  expr err_close = close();
  expr err = z3::ite(creates_device_, err_create,
                     z3::ite(is(OpKind::SetAttr), err_set,
                             z3::ite(is(OpKind::HasAttr), err_has,
                                     z3::ite(is(OpKind::GetAttr), err_get,
                                             z3::ite(is(OpKind::RawIoctl), err_raw,
                                                     z3::ite(closes_, err_close, zero_))))));
  return {next_, err};
}

// Model::kind_of
expr Transition::kind_of(const SymHandle& h) {
  expr p = c_.bool_val(false), d = p, f = p, n = p;
  for (int i = 0; i < kPartitions; ++i)
    p = p || (h.kind == 0 && h.index == i && s_.partitions[i].fd_open);
  for (int i = 0; i < kDevices; ++i)
    d = d || (h.kind == 1 && h.index == i && s_.devices[i].live && s_.devices[i].fd_known);
  for (int i = 0; i < kVfioFiles; ++i)
    f = f || (h.kind == 2 && h.index == i && s_.vfio_files[i].fd_open);
  for (int i = 0; i < kPlainFiles; ++i)
    n = n || (h.kind == 3 && h.index == i && s_.plain_files[i].fd_open);
  return z3::ite(
      p, bv(kPart, 3),
      z3::ite(d, bv(kDev, 3), z3::ite(f, bv(kVfio, 3), z3::ite(n, bv(kPlain, 3), bv(kNone, 3)))));
}

void Transition::create_handle() {
  // Handle numbering never depends on the outcome.
  const SymCounts& c = s_.counts;
  next_.counts.partitions = inc(c.partitions, opens_partition_);
  next_.counts.vfio_files = inc(c.vfio_files, opens_file_ && a_.vfio);
  next_.counts.plain_files = inc(c.plain_files, opens_file_ && !a_.vfio);
  next_.counts.devices = inc(c.devices, creates_device_);
  next_.armed = z3::ite(is(OpKind::FailNext), a_.site + 1, bv(0, 2));  // arms the next op
}

void Transition::open_partition() {  // mshv_ioctl_create_partition
  for (int i = 0; i < kPartitions; ++i) {
    expr created = opens_partition_ && s_.counts.partitions == i;
    next_.partitions[i].fd_open = z3::ite(created, c_.bool_val(true), next_.partitions[i].fd_open);
    next_.partitions[i].refs = z3::ite(created, errno_of(1), next_.partitions[i].refs);
  }
}

void Transition::open_file() {
  for (int i = 0; i < kVfioFiles; ++i)
    next_.vfio_files[i].fd_open =
        next_.vfio_files[i].fd_open || (opens_file_ && a_.vfio && s_.counts.vfio_files == i);
  for (int i = 0; i < kPlainFiles; ++i)
    next_.plain_files[i].fd_open =
        next_.plain_files[i].fd_open || (opens_file_ && !a_.vfio && s_.counts.plain_files == i);
}

// MSHV_CREATE_DEVICE (Model::create_device)
expr Transition::create_device() {
  auto E = [&](int e) { return errno_of(e); };
  expr k = kind_of(a_.handle);
  Chain ch{c_.bool_val(true), zero_};
  ch.ret(k == kNone, E(EBADF));    // fdget in sys_ioctl
  ch.ret(k != kPart, E(ENOTTY));   // not mshv_partition_fops
  ch.ret(a_.arg == 2, E(EFAULT));  // create_device step 1: copy_from_user
  expr test = (a_.flags & bv(uapi::kCreateDeviceTest, 32)) != 0;
  if (pr_.reject_unknown_create_flags)  // mshv-strict: unknown flags rejected
    ch.ret((a_.flags & bv(~uapi::kCreateDeviceTest, 32)) != 0, E(EINVAL));
  if (!pr_.mutant_no_type_check)  // step 2 / kvm_ioctl_create_device
    ch.ret(a_.type != bv(pr_.vfio_type, 32), E(ENODEV));
  if (!pr_.mutant_test_creates)        // step 3: TEST creates nothing
    ch.ret(test, pr_.test_copies_back  // kvm_vm_ioctl echoes the struct
                     ? z3::ite(a_.arg == 1 || fault(Site::CopyToUser), E(EFAULT), zero_)
                     : zero_);
  ch.ret(fault(Site::Alloc), E(ENOMEM));  // step 4: kzalloc
  expr busy = c_.bool_val(false);
  for (int j = 0; j < kDevices; ++j)
    busy = busy || (s_.devices[j].live && s_.devices[j].partition == a_.handle.index);
  if (!pr_.mutant_no_busy_check) ch.ret(busy, E(EBUSY));  // mshv_vfio_create_device
  ch.ret(fault(Site::FdAlloc), E(EMFILE));                // step 9: anon_inode_getfd rollback
  expr linked = creates_device_ && ch.go;  // step 7: hlist_add_head, 8: partition_get
  expr copy_back_faults = a_.arg == 1 || fault(Site::CopyToUser);  // step 10: copy_to_user
  ch.ret(copy_back_faults, E(EFAULT));
  const bool rolls_back = pr_.rollback_on_copy_back_fault;  // mshv-strict: release_device
  for (int j = 0; j < kDevices; ++j) {
    SymDevice& dev = next_.devices[j];
    expr created = linked && s_.counts.devices == j;
    dev.partition = z3::ite(created, a_.handle.index, dev.partition);
    dev.live = z3::ite(created, rolls_back ? !copy_back_faults : c_.bool_val(true), dev.live);
    dev.fd_known = z3::ite(created, !copy_back_faults, dev.fd_known);
    dev.type = z3::ite(created, a_.type, dev.type);
    if (rolls_back && !pr_.mutant_release_keeps_files)
      for (int f = 0; f < kVfioFiles; ++f)
        dev.files[f] = z3::ite(created && copy_back_faults, E(0), dev.files[f]);
  }
  for (int i = 0; i < kPartitions; ++i)  // +1 (partition_get), -1 again on rollback
    next_.partitions[i].refs =
        inc(next_.partitions[i].refs,
            linked && a_.handle.index == i &&
                (rolls_back && !pr_.mutant_release_keeps_partition ? !copy_back_faults
                                                                   : c_.bool_val(true)));
  return ch.err;
}

// MSHV_SET_DEVICE_ATTR / MSHV_HAS_DEVICE_ATTR / KVM_GET_DEVICE_ATTR (Model::attr_ioctl, with
// set_attr, file_add and file_del)
expr Transition::attr_ioctl(OpKind kind, uint32_t request) {
  auto E = [&](int e) { return errno_of(e); };
  const expr is_this = is(kind);
  expr k = kind_of(a_.handle);
  Chain ch{c_.bool_val(true), zero_};
  ch.ret(k == kNone, E(EBADF));                                         // fdget in sys_ioctl
  ch.ret(request == 0 ? c_.bool_val(true) : k != kDev, E(ENOTTY));      // fop_ioctl default
  if (request == pr_.get_request) ch.ret(c_.bool_val(true), E(EPERM));  // no get_attr
  ch.ret(a_.arg == 2, E(EFAULT));  // mshv_device_attr_ioctl copy_from_user
  const expr file_group = a_.group == bv(uapi::kDevVfioFile, 32);
  const expr add = a_.attr == c_.bv_val(uapi::kDevVfioFileAdd, 64);
  const expr del = a_.attr == c_.bv_val(uapi::kDevVfioFileDel, 64);
  if (request == pr_.has_request)  // mshv_vfio_has_attr: addr unread
    ch.ret(c_.bool_val(true), z3::ite(file_group && (add || del), zero_, E(ENXIO)));
  ch.ret(!file_group, E(ENXIO));       // mshv_vfio_set_attr: other groups
  ch.ret(!add && !del, E(ENXIO));      // mshv_vfio_set_file: before get_user
  ch.ret(a_.fd.kind == 2, E(EFAULT));  // mshv_vfio_set_file: get_user
  expr file_kind = z3::ite(a_.fd.kind == 0, kind_of(a_.fd.handle), bv(kNone, 3));
  ch.ret(file_kind == kNone, E(EBADF));          // file_add: fget / file_del: CLASS(fd)
  ch.ret(add && file_kind != kVfio, E(EINVAL));  // file_add: !vfio_file_is_valid
  expr listed = c_.bool_val(false);
  for (int d = 0; d < kDevices; ++d)
    for (int f = 0; f < kVfioFiles; ++f)
      listed = listed || (a_.handle.index == d && a_.fd.handle.index == f &&
                          z3::ugt(s_.devices[d].files[f], E(0)));
  if (!pr_.mutant_no_duplicate_check) ch.ret(add && listed, E(EEXIST));  // same struct file
  ch.ret(add && fault(Site::Alloc), E(ENOMEM));               // kzalloc of the list entry
  expr added = is_this && ch.go && add;                       // get_file + list_add_tail
  ch.ret(del && !(file_kind == kVfio && listed), E(ENOENT));  // file_del: no match
  expr deleted = is_this && ch.go && del;                     // list_del (+ fput)
  for (int d = 0; d < kDevices; ++d)
    for (int f = 0; f < kVfioFiles; ++f) {
      expr here = a_.handle.index == d && a_.fd.handle.index == f;
      const expr& copies = s_.devices[d].files[f];
      next_.devices[d].files[f] =
          z3::ite(added && here, copies + 1,
                  z3::ite(deleted && here, copies - 1, next_.devices[d].files[f]));
    }
  if (pr_.mutant_del_keeps_ref)  // ... without the fput
    next_.leaked_file_refs = inc(next_.leaked_file_refs, deleted);
  return ch.err;
}

// any other ioctl, NULL argument (Model::raw_ioctl)
expr Transition::raw_ioctl() {
  auto E = [&](int e) { return errno_of(e); };
  expr k = kind_of(a_.handle);
  Chain ch{c_.bool_val(true), zero_};
  ch.ret(k == kNone, E(EBADF));
  expr dev = k == kDev;
  if (pr_.get_request != 0)
    ch.ret(dev && a_.request == bv(pr_.get_request, 32), E(EPERM));  // kvm: no get_attr
  ch.ret(dev && (a_.request == bv(pr_.set_request, 32) || a_.request == bv(pr_.has_request, 32)),
         E(EFAULT));       // copy_from_user(NULL)
  ch.ret(dev, E(ENOTTY));  // mshv_device_fop_ioctl default
  ch.ret(k == kPart && a_.request == bv(pr_.create_request, 32), E(EFAULT));
  ch.ret(c_.bool_val(true), E(ENOTTY));  // other partition ioctls; files have none
  return ch.err;
}

// close(2) (Model::close, with release_device)
expr Transition::close() {
  const expr& closes = closes_;
  expr k = kind_of(a_.handle);
  expr err = z3::ite(k == kNone, errno_of(EBADF), zero_);  // close(2) of a closed fd
  for (int i = 0; i < kPartitions; ++i) {                  // mshv_partition_release: put
    expr here = closes && k == kPart && a_.handle.index == i;
    next_.partitions[i].fd_open = next_.partitions[i].fd_open && !here;
    next_.partitions[i].refs = z3::ite(here, s_.partitions[i].refs - 1, next_.partitions[i].refs);
  }
  for (int j = 0; j < kDevices; ++j) {  // fop_release -> mshv_vfio_release_device
    SymDevice& dev = next_.devices[j];
    expr here = closes && k == kDev && a_.handle.index == j;
    if (!pr_.mutant_release_keeps_files)
      for (int f = 0; f < kVfioFiles; ++f) dev.files[f] = z3::ite(here, errno_of(0), dev.files[f]);
    dev.live = dev.live && !here;  // hlist_del under pt_mutex
    dev.fd_known = dev.fd_known && !here;
    for (int i = 0; i < kPartitions && !pr_.mutant_release_keeps_partition; ++i)
      next_.partitions[i].refs =  // mshv_partition_put
          z3::ite(here && s_.devices[j].partition == i, s_.partitions[i].refs - 1,
                  next_.partitions[i].refs);
  }
  for (int i = 0; i < kVfioFiles; ++i)
    next_.vfio_files[i].fd_open =
        next_.vfio_files[i].fd_open && !(closes && k == kVfio && a_.handle.index == i);
  for (int i = 0; i < kPlainFiles; ++i)
    next_.plain_files[i].fd_open =
        next_.plain_files[i].fd_open && !(closes && k == kPlain && a_.handle.index == i);
  return err;
}

}  // namespace

std::vector<z3::expr> SymState::all() const {
  std::vector<z3::expr> v{counts.partitions, counts.devices, counts.vfio_files, counts.plain_files};
  for (const SymPartition& p : partitions) v.insert(v.end(), {p.fd_open, p.refs});
  for (const SymDevice& d : devices) {
    v.insert(v.end(), {d.partition, d.live, d.fd_known, d.type});
    v.insert(v.end(), d.files.begin(), d.files.end());
  }
  for (const SymFile& f : vfio_files) v.push_back(f.fd_open);
  for (const SymFile& f : plain_files) v.push_back(f.fd_open);
  v.push_back(leaked_file_refs);
  v.push_back(armed);
  return v;
}

std::vector<z3::expr> SymAction::all() const {
  return {kind, vfio,    handle.kind,    handle.index,    type,    flags, arg, group,
          attr, fd.kind, fd.handle.kind, fd.handle.index, request, site};
}

SymState Encoding::fresh_state(const std::string& p) {
  auto b8 = [&](const std::string& n) { return c_.bv_const((p + n).c_str(), 8); };
  auto bo = [&](const std::string& n) { return c_.bool_const((p + n).c_str()); };
  SymState s{{b8("partitions"), b8("devices"), b8("vfio_files"), b8("plain_files")},
             {},
             {},
             {},
             {},
             b8("leaked_file_refs"),
             c_.bv_const((p + "armed").c_str(), 2)};
  for (int i = 0; i < kPartitions; ++i) {
    auto n = "partition" + std::to_string(i) + "_";
    s.partitions.push_back({bo(n + "fd_open"), b8(n + "refs")});
  }
  for (int j = 0; j < kDevices; ++j) {
    auto n = "device" + std::to_string(j) + "_";
    SymDevice d{b8(n + "partition"),
                bo(n + "live"),
                bo(n + "fd_known"),
                c_.bv_const((p + n + "type").c_str(), 32),
                {}};
    for (int f = 0; f < kVfioFiles; ++f) d.files.push_back(b8(n + "file" + std::to_string(f)));
    s.devices.push_back(d);
  }
  for (int f = 0; f < kVfioFiles; ++f)
    s.vfio_files.push_back({bo("vfio_file" + std::to_string(f) + "_fd_open")});
  for (int f = 0; f < kPlainFiles; ++f)
    s.plain_files.push_back({bo("plain_file" + std::to_string(f) + "_fd_open")});
  return s;
}

SymAction Encoding::fresh_action(const std::string& p) {
  auto b = [&](const char* n, unsigned w) { return c_.bv_const((p + n).c_str(), w); };
  return {b("kind", 4),
          c_.bool_const((p + "vfio").c_str()),
          {b("handle_kind", 2), b("handle_index", 8)},
          b("type", 32),
          b("flags", 32),
          b("arg", 2),
          b("group", 32),
          b("attr", 64),
          {b("fd_kind", 2), {b("fd_handle_kind", 2), b("fd_handle_index", 8)}},
          b("request", 32),
          b("site", 2)};
}

z3::expr Encoding::init(const SymState& s) {
  const SymCounts& n = s.counts;
  expr e = n.partitions == 0 && n.devices == 0 && n.vfio_files == 0 && n.plain_files == 0 &&
           s.leaked_file_refs == 0 && s.armed == 0;
  for (const SymPartition& p : s.partitions) e = e && !p.fd_open && p.refs == 0;
  for (const SymDevice& d : s.devices) {
    e = e && d.partition == bv(kNoPartition, 8) && !d.live && !d.fd_known && d.type == 0;
    for (const expr& copies : d.files) e = e && copies == 0;
  }
  for (const SymFile& f : s.vfio_files) e = e && !f.fd_open;
  for (const SymFile& f : s.plain_files) e = e && !f.fd_open;
  return e;
}

namespace {
expr count_of(const SymCounts& n, const expr& handle_kind) {
  return z3::ite(
      handle_kind == 0, n.partitions,
      z3::ite(handle_kind == 1, n.devices, z3::ite(handle_kind == 2, n.vfio_files, n.plain_files)));
}
}  // namespace

z3::expr Encoding::valid(const SymState& s, const SymAction& a) {
  auto is = [&](OpKind k) { return a.kind == static_cast<int>(k); };
  const SymCounts& n = s.counts;
  return z3::ult(a.kind, bv(kOpKinds, 4)) && z3::ult(a.arg, bv(3, 2)) &&
         z3::ult(a.fd.kind, bv(3, 2)) && z3::ult(a.site, bv(3, 2)) &&
         // decode_input folds handle indices onto the existing handles or the next one
         z3::ule(a.handle.index, count_of(n, a.handle.kind)) &&
         z3::ule(a.fd.handle.index, count_of(n, a.fd.handle.kind)) &&
         // bounds: ops creating a handle beyond them are not enabled
         z3::implies(is(OpKind::OpenPartition), z3::ult(n.partitions, bv(kPartitions, 8))) &&
         z3::implies(is(OpKind::OpenFile) && a.vfio, z3::ult(n.vfio_files, bv(kVfioFiles, 8))) &&
         z3::implies(is(OpKind::OpenFile) && !a.vfio, z3::ult(n.plain_files, bv(kPlainFiles, 8))) &&
         z3::implies(is(OpKind::CreateDevice), z3::ult(n.devices, bv(kDevices, 8)));
}

StepResult Encoding::step(const SymState& s, const SymAction& a) {
  return Transition(c_, profile_, s, a).step();
}

z3::expr Encoding::semantic_equal(const SymState& a, const SymState& b) {
  expr ok = c_.bool_val(true);
  auto each = [&](const auto& x, const auto& y, auto field) {
    for (size_t i = 0; i < x.size(); ++i) ok = ok && field(x[i]) == field(y[i]);
  };
  each(a.partitions, b.partitions, [](const SymPartition& p) { return p.fd_open; });
  each(a.partitions, b.partitions, [](const SymPartition& p) { return p.refs; });
  each(a.devices, b.devices, [](const SymDevice& d) { return d.partition; });
  each(a.devices, b.devices, [](const SymDevice& d) { return d.live; });
  each(a.devices, b.devices, [](const SymDevice& d) { return d.fd_known; });
  for (int j = 0; j < kDevices; ++j)
    each(a.devices[j].files, b.devices[j].files, [](const expr& copies) { return copies; });
  each(a.vfio_files, b.vfio_files, [](const SymFile& f) { return f.fd_open; });
  each(a.plain_files, b.plain_files, [](const SymFile& f) { return f.fd_open; });
  return ok && a.leaked_file_refs == b.leaked_file_refs;
}

z3::expr Encoding::well_formed(const SymState& s) {
  const SymCounts& n = s.counts;
  expr e = z3::ule(n.partitions, bv(kPartitions, 8)) && z3::ule(n.devices, bv(kDevices, 8)) &&
           z3::ule(n.vfio_files, bv(kVfioFiles, 8)) && z3::ule(n.plain_files, bv(kPlainFiles, 8));
  for (int i = 0; i < kPartitions; ++i)
    e = e && z3::implies(z3::uge(bv(i, 8), n.partitions),
                         !s.partitions[i].fd_open && s.partitions[i].refs == 0);
  for (int j = 0; j < kDevices; ++j) {
    const SymDevice& d = s.devices[j];
    expr unborn = z3::uge(bv(j, 8), n.devices);
    expr files_empty = c_.bool_val(true);
    for (int f = 0; f < kVfioFiles; ++f) {
      files_empty = files_empty && d.files[f] == 0;
      e = e && z3::implies(z3::ugt(d.files[f], bv(0, 8)), z3::ult(bv(f, 8), n.vfio_files));
    }
    e = e && z3::implies(unborn, !d.live && d.partition == bv(kNoPartition, 8) && files_empty);
    e = e && z3::implies(d.fd_known, d.live);
    e = e && z3::implies(d.partition != bv(kNoPartition, 8), z3::ult(d.partition, n.partitions));
    e = e && z3::implies(d.live, d.partition != bv(kNoPartition, 8));
  }
  for (int i = 0; i < kVfioFiles; ++i)
    e = e && z3::implies(z3::uge(bv(i, 8), n.vfio_files), !s.vfio_files[i].fd_open);
  for (int i = 0; i < kPlainFiles; ++i)
    e = e && z3::implies(z3::uge(bv(i, 8), n.plain_files), !s.plain_files[i].fd_open);
  return e;
}

std::vector<size_t> Encoding::ghost_positions() {
  std::vector<size_t> v;
  for (int j = 0; j < kDevices; ++j) v.push_back(4 + 2 * kPartitions + j * (4 + kVfioFiles) + 3);
  return v;
}

lockstep::proofs::Scope scope() {
  auto n = [](int v) { return std::to_string(v); };
  return {{{"partitions", n(kPartitions) + " partitions opened per trace"},
           {"devices", n(kDevices) + " CREATE_DEVICE calls per trace, failed ones included"},
           {"vfio-files", n(kVfioFiles) + " VFIO group files opened per trace"},
           {"plain-files", n(kPlainFiles) + " non-VFIO file opened per trace"}},
          {{"more-handles",
            "a trace that opens more partitions or files, or creates more devices, than the "
            "bounds: the op that would exceed one is not enabled (valid() is false), so what "
            "follows it is not proved"},
           {"fault-sites",
            "fail_next beyond the alloc, fd_alloc and copy_to_user sites with their first "
            "errnos (the fault sweep covers every site and errno: tests/faults_test.cc)"}}};
}

namespace {

// The faults the encoding models: the first codec version's sites with their first errnos.
bool in_scope(const FailNext& f) {
  return static_cast<size_t>(f.site) < kSitesV1 && fault_errno(f) == site_errnos(f.site)[0];
}

}  // namespace

// ---- concrete <-> symbolic ----------------------------------------------------------------

std::optional<std::vector<uint64_t>> Encoding::project(const State& st) const {
  if (st.partitions.size() > kPartitions || st.devices.size() > kDevices ||
      st.vfio_files.size() > kVfioFiles || st.plain_files.size() > kPlainFiles)
    return std::nullopt;
  std::vector<uint64_t> v{st.partitions.size(), st.devices.size(), st.vfio_files.size(),
                          st.plain_files.size()};
  for (int i = 0; i < kPartitions; ++i) {
    const PartitionState p = i < (int)st.partitions.size() ? st.partitions[i] : PartitionState{};
    v.insert(v.end(), {p.fd_open, uint64_t(p.refs) & 0xFF});
  }
  for (int j = 0; j < kDevices; ++j) {
    const DeviceState d = j < (int)st.devices.size() ? st.devices[j] : DeviceState{};
    v.insert(v.end(), {d.partition < 0 ? kNoPartition : uint64_t(d.partition), d.live, d.fd_known,
                       d.live ? profile_.vfio_type : 0u});
    for (int f = 0; f < kVfioFiles; ++f) v.push_back(std::count(d.files.begin(), d.files.end(), f));
  }
  for (int i = 0; i < kVfioFiles; ++i)
    v.push_back(i < (int)st.vfio_files.size() && st.vfio_files[i].fd_open);
  for (int i = 0; i < kPlainFiles; ++i)
    v.push_back(i < (int)st.plain_files.size() && st.plain_files[i].fd_open);
  v.push_back(uint64_t(st.leaked_file_refs) & 0xFF);
  if (st.armed && !in_scope(*st.armed)) return std::nullopt;
  v.push_back(st.armed ? static_cast<unsigned>(st.armed->site) + 1 : 0);
  return v;
}

namespace {

uint64_t kind_bits(char k) {
  return k == kPartition ? 0 : k == kDevice ? 1 : k == kVfioFile ? 2 : 3;
}
constexpr char kKinds[4] = {kPartition, kDevice, kVfioFile, kPlainFile};

// The values of SymAction's components for one op (SymAction::all() order).
struct ActionValues {
  OpKind kind;
  bool vfio = false;
  Handle handle{kPartition, 0}, fd_handle{kPartition, 0};
  uint32_t type = 0, flags = 0, group = 0, request = 0;
  uint64_t attr = 0;
  Mem arg = Mem::Ok;
  FdArg::Kind fd_kind = FdArg::Kind::Handle;
  Site site = Site::Alloc;

  void attr_args(const AttrArgs& o) {
    handle = o.dev;
    group = o.group;
    attr = o.attr;
    arg = o.arg;
    fd_kind = o.fd.kind;
    if (o.fd.kind == FdArg::Kind::Handle) fd_handle = o.fd.handle;
  }
  std::vector<uint64_t> all() const {
    return {static_cast<uint64_t>(kind),
            vfio,
            kind_bits(handle.kind),
            handle.index,
            type,
            flags,
            static_cast<uint64_t>(arg),
            group,
            attr,
            static_cast<uint64_t>(fd_kind),
            kind_bits(fd_handle.kind),
            fd_handle.index,
            request,
            static_cast<uint64_t>(site)};
  }
};

}  // namespace

std::optional<std::vector<uint64_t>> Encoding::abstract_op(const State& pre, const Op& op) const {
  if (const auto* f = std::get_if<FailNext>(&op); f && !in_scope(*f)) return std::nullopt;
  HandleCounts next = pre.counts;  // an op creating a handle beyond the bounds is not enabled
  next.create(op);
  if (next.partitions > kPartitions || next.devices > kDevices || next.vfio_files > kVfioFiles ||
      next.plain_files > kPlainFiles)
    return std::nullopt;
  ActionValues x{op_kind(op)};
  std::visit(
      Overloaded{
          [](const OpenPartition&) {}, [&](const OpenFile& o) { x.vfio = o.vfio; },
          [&](const CreateDevice& o) {
            x.handle = o.part;
            x.type = o.type;
            x.flags = o.flags;
            x.arg = o.arg;
          },
          [&](const SetAttr& o) { x.attr_args(o); }, [&](const HasAttr& o) { x.attr_args(o); },
          [&](const GetAttr& o) { x.attr_args(o); },
          [&](const RawIoctl& o) {
            x.handle = o.h;
            x.request = o.request;
          },
          [&](const Close& o) { x.handle = o.h; },
          [&](const FailNext& o) { x.site = o.site; },  // in_scope: a v1 site
      },
      op);
  return x.all();
}

Op Encoding::concrete_op(const z3::model& m, const SymAction& a) {
  auto num = [&](const expr& e) { return lockstep::proofs::value_of(m, e); };
  auto handle = [&](const SymHandle& h) {
    return Handle{kKinds[num(h.kind) & 3], static_cast<uint8_t>(num(h.index))};
  };
  auto mem = static_cast<Mem>(num(a.arg));
  auto attr_args = [&](auto op) {
    op.dev = handle(a.handle);
    op.flags = 0;
    op.group = static_cast<uint32_t>(num(a.group));
    op.attr = num(a.attr);
    op.fd.kind = static_cast<FdArg::Kind>(num(a.fd.kind));
    if (op.fd.kind == FdArg::Kind::Handle) op.fd.handle = handle(a.fd.handle);
    op.arg = mem;
    return Op{op};
  };
  switch (static_cast<OpKind>(num(a.kind))) {
    case OpKind::OpenPartition:
      return OpenPartition{};
    case OpKind::OpenFile:
      return OpenFile{num(a.vfio) != 0};
    case OpKind::CreateDevice:
      return CreateDevice{handle(a.handle), static_cast<uint32_t>(num(a.type)),
                          static_cast<uint32_t>(num(a.flags)), mem};
    case OpKind::SetAttr:
      return attr_args(SetAttr{});
    case OpKind::HasAttr:
      return attr_args(HasAttr{});
    case OpKind::GetAttr:
      return attr_args(GetAttr{});
    case OpKind::RawIoctl:
      return RawIoctl{handle(a.handle), static_cast<uint32_t>(num(a.request))};
    case OpKind::Close:
      return Close{handle(a.handle)};
    case OpKind::FailNext:
      return FailNext{static_cast<Site>(num(a.site))};
  }
  throw std::logic_error("concrete_op: op kind outside valid()");
}

}  // namespace lockstep::mshv::proofs
