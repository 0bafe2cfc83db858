#include "proofs/mshv/encoding.h"

#include <algorithm>
#include <cerrno>
#include <sstream>

#include "core/mshv/uapi.h"

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

}  // namespace

std::vector<z3::expr> SymState::all() const {
  std::vector<z3::expr> v{np, nd, nf, nn};
  for (int i = 0; i < kPartitions; ++i) v.insert(v.end(), {p_open[i], p_refs[i]});
  for (int j = 0; j < kDevices; ++j) {
    v.insert(v.end(), {d_part[j], d_live[j], d_known[j], d_type[j]});
    for (int f = 0; f < kVfioFiles; ++f) v.push_back(cnt[j][f]);
  }
  for (auto& e : f_open) v.push_back(e);
  for (auto& e : n_open) v.push_back(e);
  v.push_back(leaked);
  v.push_back(armed);
  return v;
}

std::vector<z3::expr> SymAction::all() const {
  return {kind, vfio, hk, hi, type, flags, mem, group, attr, fdk, fk, fi, request, site};
}

SymState Encoding::fresh_state(const std::string& p) {
  auto b8 = [&](const std::string& n) { return c_.bv_const((p + n).c_str(), 8); };
  auto bo = [&](const std::string& n) { return c_.bool_const((p + n).c_str()); };
  SymState s{b8("np"), b8("nd"), b8("nf"), b8("nn"),     {},
             {},       {},       {},       {},           {},
             {},       {},       {},       b8("leaked"), c_.bv_const((p + "armed").c_str(), 2)};
  for (int i = 0; i < kPartitions; ++i) {
    auto n = std::to_string(i);
    s.p_open.push_back(bo("p_open" + n));
    s.p_refs.push_back(b8("p_refs" + n));
  }
  for (int j = 0; j < kDevices; ++j) {
    auto n = std::to_string(j);
    s.d_part.push_back(b8("d_part" + n));
    s.d_live.push_back(bo("d_live" + n));
    s.d_known.push_back(bo("d_known" + n));
    s.d_type.push_back(c_.bv_const((p + "d_type" + n).c_str(), 32));
    s.cnt.emplace_back();
    for (int f = 0; f < kVfioFiles; ++f)
      s.cnt[j].push_back(b8("cnt" + n + "_" + std::to_string(f)));
  }
  for (int f = 0; f < kVfioFiles; ++f) s.f_open.push_back(bo("f_open" + std::to_string(f)));
  for (int f = 0; f < kPlainFiles; ++f) s.n_open.push_back(bo("n_open" + std::to_string(f)));
  return s;
}

SymAction Encoding::fresh_action(const std::string& p) {
  auto b = [&](const char* n, unsigned w) { return c_.bv_const((p + n).c_str(), w); };
  return {b("kind", 4),     c_.bool_const((p + "vfio").c_str()),
          b("hk", 2),       b("hi", 8),
          b("type", 32),    b("flags", 32),
          b("mem", 2),      b("group", 32),
          b("attr", 64),    b("fdk", 2),
          b("fk", 2),       b("fi", 8),
          b("request", 32), b("site", 2)};
}

z3::expr Encoding::init(const SymState& s) {
  expr e = s.np == 0 && s.nd == 0 && s.nf == 0 && s.nn == 0 && s.leaked == 0 && s.armed == 0;
  for (int i = 0; i < kPartitions; ++i) e = e && !s.p_open[i] && s.p_refs[i] == 0;
  for (int j = 0; j < kDevices; ++j) {
    e = e && s.d_part[j] == bv(kNoPartition, 8) && !s.d_live[j] && !s.d_known[j] &&
        s.d_type[j] == 0;
    for (int f = 0; f < kVfioFiles; ++f) e = e && s.cnt[j][f] == 0;
  }
  for (auto& o : s.f_open) e = e && !o;
  for (auto& o : s.n_open) e = e && !o;
  return e;
}

namespace {
expr count_of(const SymState& s, const expr& hk) {
  return z3::ite(hk == 0, s.np, z3::ite(hk == 1, s.nd, z3::ite(hk == 2, s.nf, s.nn)));
}
}  // namespace

z3::expr Encoding::valid(const SymState& s, const SymAction& a) {
  return z3::ult(a.kind, bv(kOpKinds, 4)) && z3::ult(a.mem, bv(3, 2)) && z3::ult(a.fdk, bv(3, 2)) &&
         z3::ult(a.site, bv(3, 2)) &&
         // decode_input folds handle indices onto the existing handles or the next one
         z3::ule(a.hi, count_of(s, a.hk)) && z3::ule(a.fi, count_of(s, a.fk)) &&
         // bounds: ops creating a handle beyond them are not enabled
         z3::implies(a.kind == kOpenPartition, z3::ult(s.np, bv(kPartitions, 8))) &&
         z3::implies(a.kind == kOpenFile && a.vfio, z3::ult(s.nf, bv(kVfioFiles, 8))) &&
         z3::implies(a.kind == kOpenFile && !a.vfio, z3::ult(s.nn, bv(kPlainFiles, 8))) &&
         z3::implies(a.kind == kCreate, z3::ult(s.nd, bv(kDevices, 8)));
}

// Model::kind_of: what an fd number refers to in the caller's fd table.
z3::expr Encoding::kind_of(const SymState& s, const expr& hk, const expr& hi) {
  expr p = c_.bool_val(false), d = p, f = p, n = p;
  for (int i = 0; i < kPartitions; ++i) p = p || (hk == 0 && hi == i && s.p_open[i]);
  for (int i = 0; i < kDevices; ++i) d = d || (hk == 1 && hi == i && s.d_live[i] && s.d_known[i]);
  for (int i = 0; i < kVfioFiles; ++i) f = f || (hk == 2 && hi == i && s.f_open[i]);
  for (int i = 0; i < kPlainFiles; ++i) n = n || (hk == 3 && hi == i && s.n_open[i]);
  return z3::ite(
      p, bv(kPart, 3),
      z3::ite(d, bv(kDev, 3), z3::ite(f, bv(kVfio, 3), z3::ite(n, bv(kPlain, 3), bv(kNone, 3)))));
}

StepResult Encoding::step(const SymState& s, const SymAction& a) {
  const Profile& pr = profile_;
  auto E = [&](int e) { return bv(static_cast<unsigned>(e), 8); };
  const expr zero = E(0);
  // Model::step: fault_ = exchange(armed, nullopt); fault(site) == (fault_ == site). No op
  // consults the same site twice, so consumption within an op is unobservable.
  auto fault = [&](Site site) { return s.armed == bv(static_cast<unsigned>(site) + 1, 2); };
  const expr is_op = a.kind == kOpenPartition, is_of = a.kind == kOpenFile,
             is_c = a.kind == kCreate, is_close = a.kind == kClose;
  SymState n = s;

  // counts.create(op): handle numbering never depends on the outcome
  n.np = inc(s.np, is_op);
  n.nf = inc(s.nf, is_of && a.vfio);
  n.nn = inc(s.nn, is_of && !a.vfio);
  n.nd = inc(s.nd, is_c);
  n.armed = z3::ite(a.kind == kFailNext, a.site + 1, bv(0, 2));  // FailNext arms the next op

  // ---- open_partition / open_file
  for (int i = 0; i < kPartitions; ++i) {  // mshv_ioctl_create_partition
    n.p_open[i] = z3::ite(is_op && s.np == i, c_.bool_val(true), n.p_open[i]);
    n.p_refs[i] = z3::ite(is_op && s.np == i, E(1), n.p_refs[i]);
  }
  for (int i = 0; i < kVfioFiles; ++i) n.f_open[i] = n.f_open[i] || (is_of && a.vfio && s.nf == i);
  for (int i = 0; i < kPlainFiles; ++i)
    n.n_open[i] = n.n_open[i] || (is_of && !a.vfio && s.nn == i);

  // ---- MSHV_CREATE_DEVICE (Model::create_device)
  expr err_c = zero;
  {
    expr k = kind_of(s, a.hk, a.hi);
    Chain ch{c_.bool_val(true), zero};
    ch.ret(k == kNone, E(EBADF));   // fdget in sys_ioctl
    ch.ret(k != kPart, E(ENOTTY));  // not mshv_partition_fops
    ch.ret(a.mem == 2, E(EFAULT));  // create_device step 1: copy_from_user
    expr test = (a.flags & bv(uapi::kCreateDeviceTest, 32)) != 0;
    if (pr.reject_unknown_create_flags)  // mshv-strict: unknown flags rejected
      ch.ret((a.flags & bv(~uapi::kCreateDeviceTest, 32)) != 0, E(EINVAL));
    if (!pr.mutant_no_type_check)  // step 2 / kvm_ioctl_create_device
      ch.ret(a.type != bv(pr.vfio_type, 32), E(ENODEV));
    if (!pr.mutant_test_creates)        // step 3: TEST creates nothing
      ch.ret(test, pr.test_copies_back  // kvm_vm_ioctl echoes the struct
                       ? z3::ite(a.mem == 1 || fault(Site::CopyToUser), E(EFAULT), zero)
                       : zero);
    ch.ret(fault(Site::Alloc), E(ENOMEM));  // step 4: kzalloc
    expr busy = c_.bool_val(false);
    for (int j = 0; j < kDevices; ++j) busy = busy || (s.d_live[j] && s.d_part[j] == a.hi);
    if (!pr.mutant_no_busy_check) ch.ret(busy, E(EBUSY));  // mshv_vfio_create_device
    ch.ret(fault(Site::FdAlloc), E(EMFILE));               // step 9: anon_inode_getfd rollback
    expr linked = is_c && ch.go;  // step 7: hlist_add_head, step 8: partition_get
    expr cb = a.mem == 1 || fault(Site::CopyToUser);  // step 10: copy_to_user fails
    ch.ret(cb, E(EFAULT));
    err_c = ch.err;
    const bool rb = pr.rollback_on_copy_back_fault;  // mshv-strict: release_device
    for (int j = 0; j < kDevices; ++j) {
      expr nw = linked && s.nd == j;
      n.d_part[j] = z3::ite(nw, a.hi, n.d_part[j]);
      n.d_live[j] = z3::ite(nw, rb ? !cb : c_.bool_val(true), n.d_live[j]);
      n.d_known[j] = z3::ite(nw, !cb, n.d_known[j]);
      n.d_type[j] = z3::ite(nw, a.type, n.d_type[j]);
      if (rb && !pr.mutant_release_keeps_files)
        for (int f = 0; f < kVfioFiles; ++f) n.cnt[j][f] = z3::ite(nw && cb, E(0), n.cnt[j][f]);
    }
    for (int i = 0; i < kPartitions; ++i)  // +1 (partition_get), -1 again on rollback
      n.p_refs[i] = inc(n.p_refs[i],
                        linked && a.hi == i &&
                            (rb && !pr.mutant_release_keeps_partition ? !cb : c_.bool_val(true)));
  }

  // ---- MSHV_SET_DEVICE_ATTR / MSHV_HAS_DEVICE_ATTR / KVM_GET_DEVICE_ATTR (Model::attr_ioctl)
  auto attr_block = [&](int kind, uint32_t request) {
    const expr is_k = a.kind == kind;
    expr k = kind_of(s, a.hk, a.hi);
    Chain ch{c_.bool_val(true), zero};
    ch.ret(k == kNone, E(EBADF));                                        // fdget in sys_ioctl
    ch.ret(request == 0 ? c_.bool_val(true) : k != kDev, E(ENOTTY));     // fop_ioctl default
    if (request == pr.get_request) ch.ret(c_.bool_val(true), E(EPERM));  // no get_attr
    ch.ret(a.mem == 2, E(EFAULT));  // mshv_device_attr_ioctl copy_from_user
    const expr file_group = a.group == bv(uapi::kDevVfioFile, 32);
    const expr add = a.attr == c_.bv_val(uapi::kDevVfioFileAdd, 64);
    const expr del = a.attr == c_.bv_val(uapi::kDevVfioFileDel, 64);
    if (request == pr.has_request)  // mshv_vfio_has_attr: addr unread
      ch.ret(c_.bool_val(true), z3::ite(file_group && (add || del), zero, E(ENXIO)));
    ch.ret(!file_group, E(ENXIO));   // mshv_vfio_set_attr: other groups
    ch.ret(!add && !del, E(ENXIO));  // mshv_vfio_set_file: before get_user
    ch.ret(a.fdk == 2, E(EFAULT));   // mshv_vfio_set_file: get_user
    expr fkind = z3::ite(a.fdk == 0, kind_of(s, a.fk, a.fi), bv(kNone, 3));
    ch.ret(fkind == kNone, E(EBADF));          // file_add: fget / file_del: CLASS(fd)
    ch.ret(add && fkind != kVfio, E(EINVAL));  // file_add: !vfio_file_is_valid
    expr listed = c_.bool_val(false);
    for (int d = 0; d < kDevices; ++d)
      for (int f = 0; f < kVfioFiles; ++f)
        listed = listed || (a.hi == d && a.fi == f && z3::ugt(s.cnt[d][f], E(0)));
    if (!pr.mutant_no_duplicate_check) ch.ret(add && listed, E(EEXIST));  // same struct file
    ch.ret(add && fault(Site::Alloc), E(ENOMEM));           // kzalloc of the list entry
    expr add_ok = is_k && ch.go && add;                     // get_file + list_add_tail
    ch.ret(del && !(fkind == kVfio && listed), E(ENOENT));  // file_del: no match
    expr del_ok = is_k && ch.go && del;                     // list_del (+ fput)
    for (int d = 0; d < kDevices; ++d)
      for (int f = 0; f < kVfioFiles; ++f) {
        expr here = a.hi == d && a.fi == f;
        n.cnt[d][f] = z3::ite(add_ok && here, s.cnt[d][f] + 1,
                              z3::ite(del_ok && here, s.cnt[d][f] - 1, n.cnt[d][f]));
      }
    if (pr.mutant_del_keeps_ref) n.leaked = inc(n.leaked, del_ok);  // ... without the fput
    return ch.err;
  };
  expr err_set = attr_block(kSet, pr.set_request);
  expr err_has = attr_block(kHas, pr.has_request);
  expr err_get = attr_block(kGet, pr.get_request);

  // ---- any other ioctl, NULL argument (Model::raw_ioctl)
  expr err_raw = zero;
  {
    expr k = kind_of(s, a.hk, a.hi);
    Chain ch{c_.bool_val(true), zero};
    ch.ret(k == kNone, E(EBADF));
    expr dev = k == kDev;
    if (pr.get_request != 0)
      ch.ret(dev && a.request == bv(pr.get_request, 32), E(EPERM));  // kvm: no get_attr
    ch.ret(dev && (a.request == bv(pr.set_request, 32) || a.request == bv(pr.has_request, 32)),
           E(EFAULT));       // copy_from_user(NULL)
    ch.ret(dev, E(ENOTTY));  // mshv_device_fop_ioctl default
    ch.ret(k == kPart && a.request == bv(pr.create_request, 32), E(EFAULT));
    ch.ret(c_.bool_val(true), E(ENOTTY));  // other partition ioctls; files have none
    err_raw = ch.err;
  }

  // ---- close (Model::close / release_device)
  expr err_close = zero;
  {
    expr k = kind_of(s, a.hk, a.hi);
    err_close = z3::ite(k == kNone, E(EBADF), zero);  // close(2) of a closed fd
    for (int i = 0; i < kPartitions; ++i) {           // mshv_partition_release: put
      expr here = is_close && k == kPart && a.hi == i;
      n.p_open[i] = n.p_open[i] && !here;
      n.p_refs[i] = z3::ite(here, s.p_refs[i] - 1, n.p_refs[i]);
    }
    for (int j = 0; j < kDevices; ++j) {  // fop_release -> mshv_vfio_release_device
      expr here = is_close && k == kDev && a.hi == j;
      if (!pr.mutant_release_keeps_files)
        for (int f = 0; f < kVfioFiles; ++f) n.cnt[j][f] = z3::ite(here, E(0), n.cnt[j][f]);
      n.d_live[j] = n.d_live[j] && !here;  // hlist_del under pt_mutex
      n.d_known[j] = n.d_known[j] && !here;
      for (int i = 0; i < kPartitions && !pr.mutant_release_keeps_partition; ++i)
        n.p_refs[i] = z3::ite(here && s.d_part[j] == i, s.p_refs[i] - 1,  // mshv_partition_put
                              n.p_refs[i]);
    }
    for (int i = 0; i < kVfioFiles; ++i)
      n.f_open[i] = n.f_open[i] && !(is_close && k == kVfio && a.hi == i);
    for (int i = 0; i < kPlainFiles; ++i)
      n.n_open[i] = n.n_open[i] && !(is_close && k == kPlain && a.hi == i);
  }

  expr err = z3::ite(
      is_c, err_c,
      z3::ite(
          a.kind == kSet, err_set,
          z3::ite(a.kind == kHas, err_has,
                  z3::ite(a.kind == kGet, err_get,
                          z3::ite(a.kind == kRaw, err_raw, z3::ite(is_close, err_close, zero))))));
  return {n, err};
}

z3::expr Encoding::equal(const SymState& a, const SymState& b) {
  auto x = a.all(), y = b.all();
  expr e = c_.bool_val(true);
  for (size_t i = 0; i < x.size(); ++i) e = e && x[i] == y[i];
  return e;
}

z3::expr Encoding::well_formed(const SymState& s) {
  expr e = z3::ule(s.np, bv(kPartitions, 8)) && z3::ule(s.nd, bv(kDevices, 8)) &&
           z3::ule(s.nf, bv(kVfioFiles, 8)) && z3::ule(s.nn, bv(kPlainFiles, 8));
  for (int i = 0; i < kPartitions; ++i)
    e = e && z3::implies(z3::uge(bv(i, 8), s.np), !s.p_open[i] && s.p_refs[i] == 0);
  for (int j = 0; j < kDevices; ++j) {
    expr unborn = z3::uge(bv(j, 8), s.nd);
    expr files_empty = c_.bool_val(true);
    for (int f = 0; f < kVfioFiles; ++f) {
      files_empty = files_empty && s.cnt[j][f] == 0;
      e = e && z3::implies(z3::ugt(s.cnt[j][f], bv(0, 8)), z3::ult(bv(f, 8), s.nf));
    }
    e = e && z3::implies(unborn, !s.d_live[j] && s.d_part[j] == bv(kNoPartition, 8) && files_empty);
    e = e && z3::implies(s.d_known[j], s.d_live[j]);
    e = e && z3::implies(s.d_part[j] != bv(kNoPartition, 8), z3::ult(s.d_part[j], s.np));
    e = e && z3::implies(s.d_live[j], s.d_part[j] != bv(kNoPartition, 8));
  }
  for (int i = 0; i < kVfioFiles; ++i) e = e && z3::implies(z3::uge(bv(i, 8), s.nf), !s.f_open[i]);
  for (int i = 0; i < kPlainFiles; ++i) e = e && z3::implies(z3::uge(bv(i, 8), s.nn), !s.n_open[i]);
  return e;
}

std::vector<size_t> Encoding::ghost_positions() {
  std::vector<size_t> v;
  for (int j = 0; j < kDevices; ++j) v.push_back(4 + 2 * kPartitions + j * (4 + kVfioFiles) + 3);
  return v;
}

bool Encoding::within_bounds(const State& s) {
  return s.partitions.size() <= kPartitions && s.devices.size() <= kDevices &&
         s.vfio_files.size() <= kVfioFiles && s.plain_files.size() <= kPlainFiles;
}

std::vector<z3::expr> Encoding::state_values(const State& st) {
  std::vector<expr> v{bv(st.partitions.size(), 8), bv(st.devices.size(), 8),
                      bv(st.vfio_files.size(), 8), bv(st.plain_files.size(), 8)};
  for (int i = 0; i < kPartitions; ++i) {
    bool in = i < (int)st.partitions.size();
    v.push_back(c_.bool_val(in && st.partitions[i].fd_open));
    v.push_back(bv(in ? st.partitions[i].refs & 0xFF : 0, 8));
  }
  for (int j = 0; j < kDevices; ++j) {
    bool in = j < (int)st.devices.size();
    const DeviceState d = in ? st.devices[j] : DeviceState{};
    v.push_back(bv(d.partition < 0 ? kNoPartition : d.partition, 8));
    v.push_back(c_.bool_val(d.live));
    v.push_back(c_.bool_val(d.fd_known));
    v.push_back(bv(d.live ? profile_.vfio_type : 0, 32));  // ghost: unknown to Model
    for (int f = 0; f < kVfioFiles; ++f)
      v.push_back(bv(std::count(d.files.begin(), d.files.end(), f), 8));
  }
  for (int i = 0; i < kVfioFiles; ++i)
    v.push_back(c_.bool_val(i < (int)st.vfio_files.size() && st.vfio_files[i].fd_open));
  for (int i = 0; i < kPlainFiles; ++i)
    v.push_back(c_.bool_val(i < (int)st.plain_files.size() && st.plain_files[i].fd_open));
  v.push_back(bv(st.leaked_file_refs & 0xFF, 8));
  v.push_back(bv(st.armed ? static_cast<unsigned>(*st.armed) + 1 : 0, 2));
  return v;
}

namespace {
unsigned kind_bits(char k) {
  return k == kPartition ? 0 : k == kDevice ? 1 : k == kVfioFile ? 2 : 3;
}
}  // namespace

std::vector<z3::expr> Encoding::action_values(const Op& op) {
  unsigned kind = static_cast<unsigned>(op.index());
  bool vfio = false;
  Handle h{kPartition, 0}, fh{kPartition, 0};
  uint32_t type = 0, flags = 0, group = 0, request = 0;
  uint64_t attr = 0;
  unsigned mem = 0, fdk = 0, site = 0;
  std::visit(
      [&](const auto& o) {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, OpenFile>) vfio = o.vfio;
        if constexpr (std::is_same_v<T, CreateDevice>) {
          h = o.part;
          type = o.type;
          flags = o.flags;
          mem = static_cast<unsigned>(o.arg);
        }
        if constexpr (std::is_base_of_v<AttrArgs, T>) {
          h = o.dev;
          group = o.group;
          attr = o.attr;
          mem = static_cast<unsigned>(o.arg);
          fdk = static_cast<unsigned>(o.fd.kind);
          if (o.fd.kind == FdArg::Kind::Handle) fh = o.fd.handle;
        }
        if constexpr (std::is_same_v<T, RawIoctl>) {
          h = o.h;
          request = o.request;
        }
        if constexpr (std::is_same_v<T, Close>) h = o.h;
        if constexpr (std::is_same_v<T, FailNext>) site = static_cast<unsigned>(o.site);
      },
      op);
  return {bv(kind, 4),
          c_.bool_val(vfio),
          bv(kind_bits(h.kind), 2),
          bv(h.index, 8),
          bv(type, 32),
          bv(flags, 32),
          bv(mem, 2),
          bv(group, 32),
          c_.bv_val(attr, 64),
          bv(fdk, 2),
          bv(kind_bits(fh.kind), 2),
          bv(fh.index, 8),
          bv(request, 32),
          bv(site, 2)};
}

z3::expr Encoding::state_is(const SymState& s, const State& st) {
  auto x = s.all(), y = state_values(st);
  expr e = c_.bool_val(true);
  for (size_t i = 0; i < x.size(); ++i) e = e && x[i] == y[i];
  return e;
}

z3::expr Encoding::action_is(const SymAction& a, const Op& op) {
  auto x = a.all(), y = action_values(op);
  expr e = c_.bool_val(true);
  for (size_t i = 0; i < x.size(); ++i) e = e && x[i] == y[i];
  return e;
}

namespace {
uint64_t num(const z3::model& m, const expr& e) {
  expr v = m.eval(e, true);
  if (v.is_bool()) return v.is_true() ? 1 : 0;
  return v.get_numeral_uint64();
}
constexpr char kKinds[4] = {kPartition, kDevice, kVfioFile, kPlainFile};
}  // namespace

Op Encoding::action_of(const z3::model& m, const SymAction& a) {
  Handle h{kKinds[num(m, a.hk) & 3], static_cast<uint8_t>(num(m, a.hi))};
  auto mem = static_cast<Mem>(num(m, a.mem));
  auto attr_args = [&](auto op) {
    op.dev = h;
    op.flags = 0;
    op.group = static_cast<uint32_t>(num(m, a.group));
    op.attr = num(m, a.attr);
    op.fd.kind = static_cast<FdArg::Kind>(num(m, a.fdk));
    if (op.fd.kind == FdArg::Kind::Handle)
      op.fd.handle = Handle{kKinds[num(m, a.fk) & 3], static_cast<uint8_t>(num(m, a.fi))};
    op.arg = mem;
    return Op{op};
  };
  switch (num(m, a.kind)) {
    case kOpenPartition:
      return OpenPartition{};
    case kOpenFile:
      return OpenFile{num(m, a.vfio) != 0};
    case kCreate:
      return CreateDevice{h, static_cast<uint32_t>(num(m, a.type)),
                          static_cast<uint32_t>(num(m, a.flags)), mem};
    case kSet:
      return attr_args(SetAttr{});
    case kHas:
      return attr_args(HasAttr{});
    case kGet:
      return attr_args(GetAttr{});
    case kRaw:
      return RawIoctl{h, static_cast<uint32_t>(num(m, a.request))};
    case kClose:
      return Close{h};
    default:
      return FailNext{static_cast<Site>(num(m, a.site))};
  }
}

std::vector<uint64_t> Encoding::values_of(const z3::model& m, const std::vector<z3::expr>& v) {
  std::vector<uint64_t> out;
  for (auto& e : v) out.push_back(num(m, e));
  return out;
}

}  // namespace lockstep::mshv::proofs
