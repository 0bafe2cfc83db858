#include "proofs/vhost/encoding.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "core/vhost/codec.h"

namespace lockstep::vhost::proofs {
namespace {

using z3::expr;

// The post-state and reply being built along one path of Model::step.
struct Out {
  SymState st;
  SymReply r;
  expr handled, opened, disc_leak;
};

expr sel(const expr& c, const expr& a, const expr& b) {
  return z3::ite(c, a, b);
}

SymState sel(const expr& c, const SymState& a, const SymState& b) {
  auto x = a.all(), y = b.all();
  std::vector<expr> v;
  for (size_t i = 0; i < x.size(); ++i) v.push_back(z3::ite(c, x[i], y[i]));
  return SymState{v[0], v[1], v[2],  v[3],  v[4],  v[5],  v[6],  v[7],
                  v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
}

Out sel(const expr& c, const Out& a, const Out& b) {
  return Out{sel(c, a.st, b.st),
             SymReply{sel(c, a.r.has, b.r.has), sel(c, a.r.flags, b.r.flags),
                      sel(c, a.r.size, b.r.size), sel(c, a.r.fds, b.r.fds),
                      sel(c, a.r.table, b.r.table), sel(c, a.r.explicit_, b.r.explicit_)},
             sel(c, a.handled, b.handled), sel(c, a.opened, b.opened),
             sel(c, a.disc_leak, b.disc_leak)};
}

constexpr unsigned site_code(Site s) {
  return static_cast<unsigned>(s) + 1;
}

}  // namespace

std::vector<z3::expr> SymState::all() const {
  return {connected, uffd,   listening, awaiting, pending, reg,     pf_pf,   pf_ra,
          owner,     mapped, slots,     armed,    lk_fd,   lk_uffd, sess_lk, stale};
}

std::vector<z3::expr> SymAction::all() const {
  return {kind, nr, nfds,     size_ok, hok,   rep,   efd1, slot,
          on,   n,  ackshape, psize,   pf_pf, pf_ra, site, xf};
}

std::vector<size_t> ghost_positions() {
  return {kLkFdPos, kLkUffdPos, kSessLkPos};
}

Encoding::Encoding(z3::context& c, const Profile& profile)
    : c_(c), profile_(profile), phase_consts_(c), phase_testers_(c), phase_sort_(c) {
  const char* names[] = {"none", "advised", "listening", "awaiting_ack", "registered"};
  phase_sort_ = c_.enumeration_sort("Phase", 5, names, phase_consts_, phase_testers_);
}

SymState Encoding::fresh_state(const std::string& p) {
  auto bo = [&](const char* n) { return c_.bool_const((p + n).c_str()); };
  auto b = [&](const char* n, unsigned w) { return c_.bv_const((p + n).c_str(), w); };
  return SymState{bo("connected"), bo("uffd"),      bo("listening"), bo("awaiting"),
                  bo("pending"),   bo("reg"),       bo("pf_pf"),     bo("pf_ra"),
                  bo("owner"),     b("mapped", 4),  b("slots", 9),   b("armed", 3),
                  b("lk_fd", 8),   b("lk_uffd", 8), b("sess_lk", 4), b("stale", 8)};
}

SymAction Encoding::fresh_action(const std::string& p) {
  auto bo = [&](const char* n) { return c_.bool_const((p + n).c_str()); };
  auto b = [&](const char* n, unsigned w) { return c_.bv_const((p + n).c_str(), w); };
  return SymAction{b("kind", 4), bo("nr"),    b("nfds", 4),   bo("size_ok"),
                   bo("hok"),    bo("rep"),   bo("efd1"),     b("slot", 4),
                   bo("on"),     b("n", 4),   bo("ackshape"), b("psize", 16),
                   bo("pf_pf"),  bo("pf_ra"), b("site", 3),   bo("xf")};
}

z3::expr Encoding::init(const SymState& s) {
  // A trace starts connected with a fresh session (ops.h).
  return s.connected && !s.uffd && !s.listening && !s.awaiting && !s.pending && !s.reg &&
         !s.pf_pf && !s.pf_ra && !s.owner && s.mapped == 0 && s.slots == 0 && s.armed == 0 &&
         s.lk_fd == 0 && s.lk_uffd == 0 && s.sess_lk == 0 && s.stale == 0;
}

z3::expr Encoding::valid(const SymState& s, const SymAction& a) {
  const Profile& pr = profile_;
  expr k = a.kind;
  expr msg = z3::uge(k, bv(kGeneric, 4)) && z3::ule(k, bv(kMemTable, 4));
  expr postcopy = k == kAdvise || k == kListen || k == kEnd;
  expr f = c_.bool_val(false);
  expr e = z3::ult(k, bv(kKinds, 4)) && z3::ule(a.nfds, bv(kMaxAbstractFds, 4)) &&
           z3::ult(a.site, bv(5, 3)) && z3::ule(a.n, bv(uapi::kMaxRegions, 4));
  // Parameters a kind does not read are pinned, so every model names one concrete op.
  e = e && z3::implies(!msg, !a.nr && (k == kBadRing || a.nfds == 0));
  e = e && z3::implies(k == kBadRing, c_.bool_val(pr.bad_vring_index_closes) && !s.awaiting &&
                                          z3::ule(a.nfds, bv(pr.max_fds, 4)));
  e = e && z3::implies(k != kFailNext, a.site == 0);
  // Reserved flag bits pass only where W2 is not checked, and only on a message.
  e = e && z3::implies(!msg || c_.bool_val(pr.check_header_flags), !a.xf);
  e = e && z3::implies(k != kGeneric, !a.rep && !a.efd1 && a.slot == kNoSlot && !a.on);
  e = e && z3::implies(k != kMemTable, a.n == 0 && !a.ackshape);
  e = e && z3::implies(!postcopy, a.psize == 0);
  e = e && z3::implies(k != kSetProto, !a.pf_pf && !a.pf_ra);
  e = e && z3::implies(!msg, a.size_ok && a.hok);
  e = e && z3::implies(k == kSetOwner || k == kResetOwner || postcopy, a.hok);
  // Postcopy: size_ok == empty payload; the payload fits W3.
  e = e && z3::implies(postcopy,
                       a.size_ok == (a.psize == 0) && z3::ule(a.psize, bv(pr.max_payload, 16)));
  // SET_MEM_TABLE: a well-formed table has 1..8 regions and is not the 8-byte ack.
  e = e &&
      z3::implies(k == kMemTable, z3::implies(a.size_ok, z3::uge(a.n, bv(1, 4)) && !a.ackshape) &&
                                      z3::implies(!a.size_ok, a.n == 0));
  // DPDK (no W7): a malformed SET_MEM_TABLE outside the ack is not abstracted (abstract_op).
  if (!pr.checks_payload_size) e = e && z3::implies(k == kMemTable && !a.size_ok, s.awaiting);
  // SET_PROTOCOL_FEATURES: only a profile that checks can refuse a value.
  if (!pr.set_protocol_features_checks_offered) e = e && z3::implies(k == kSetProto, a.hok);
  // Generic: the concrete request families (see concrete_op).
  expr g = k == kGeneric;
  e = e && z3::implies(g && !a.size_ok, a.hok && !a.rep && !a.efd1 && a.slot == kNoSlot && !a.on);
  e = e && z3::implies(g, z3::ule(a.slot, bv(8, 4)) || a.slot == kNoSlot);
  {
    expr err = a.slot == 2 || a.slot == 5;  // SET_VRING_ERR: DPDK closes the fd at once
    expr fd = pr.vring_err_fd_closed ? z3::ite(err, !a.on, a.efd1 == a.on) : a.efd1 == a.on;
    e = e && z3::implies(g && z3::ule(a.slot, bv(5, 4)), fd && !a.rep && a.hok);
  }
  e = e && z3::implies(g && a.slot == 6,
                       a.efd1 && a.on == c_.bool_val(!pr.log_base_fd_closed) && a.rep && a.hok);
  e = e && z3::implies(g && a.slot == 7,
                       a.efd1 && a.on == c_.bool_val(!pr.log_fd_closed) && !a.rep && a.hok);
  e = e && z3::implies(g && a.slot == 8, a.efd1 && a.on && !a.rep && a.hok);
  e = e && z3::implies(g && a.slot == kNoSlot, !a.on && z3::implies(a.efd1, !a.hok && !a.rep));
  // A KICK/CALL/ERR ring index is 8 bits: with 256 rings (DPDK) none is out of range.
  if (pr.ring_count > 0xff) e = e && !(g && a.slot == kNoSlot && a.efd1);
  // DPDK: a bad ring index closes before the handler, so no refused GET_VRING_BASE exists.
  if (pr.bad_vring_index_closes) e = e && !(g && a.slot == kNoSlot && a.rep && !a.hok);
  return e;
}

StepResult Encoding::step(const SymState& s, const SymAction& a) {
  const Profile& pr = profile_;
  const expr T = c_.bool_val(true), F = c_.bool_val(false);
  auto fault = [&](Site site) { return s.armed == bv(site_code(site), 3); };
  const expr k = a.kind;
  const expr is_msg = z3::uge(k, bv(kGeneric, 4)) && z3::ule(k, bv(kMemTable, 4));

  Out o{s, SymReply{F, bv(0, 32), bv(0, 16), bv(0, 2), F, F}, F, F, F};

  // ---- building blocks, each one Model function -------------------------------------------
  auto session_reset = [&](SymState st) {  // Session{} (D1, N4 Releases)
    st.uffd = F;
    st.listening = F;
    st.awaiting = F;
    st.pending = F;
    st.reg = F;
    st.pf_pf = F;
    st.pf_ra = F;
    st.owner = F;
    st.mapped = bv(0, 4);
    st.slots = bv(0, 9);
    st.stale = bv(0, 8);
    return st;
  };
  auto disconnect = [&](Out x) {  // Model::disconnect, D1
    Out y = x;
    expr keep = x.st.uffd && c_.bool_val(pr.disconnect_keeps_uffd);  // rust-vmm
    if (pr.mutant_disconnect_leaks_uffd) {
      y.st.lk_uffd = sel(x.st.uffd, x.st.lk_uffd + 1, x.st.lk_uffd);
      y.disc_leak = x.disc_leak || x.st.uffd;
    }
    y.st = session_reset(y.st);
    y.st.uffd = keep;
    y.st.armed = bv(0, 3);  // X11: discarded on disconnect
    y.st.sess_lk = bv(0, 4);
    y.st.connected = F;
    return sel(x.st.connected, y, x);
  };
  // Model::reply: F1 sendmsg loses it and closes; W8 flags exactly VERSION|REPLY.
  auto reply = [&](Out x, const expr& size, unsigned nfds, bool table, bool expl) {
    Out y = x;
    expr flags = bv(uapi::kReplyFlags, 32);  // mutant: the request's NEED_REPLY kept
    if (pr.mutant_reply_echoes_need_reply)
      flags = sel(a.nr, bv(uapi::kReplyFlags | uapi::kNeedReply, 32), flags);
    if (pr.reply_flags_echo_request)  // DPDK send_vhost_reply: reserved request bits kept
      flags = sel(a.xf, bv(uapi::kReplyFlags | 0x10, 32), flags);
    y.r = SymReply{T, flags, size, bv(nfds, 2), c_.bool_val(table), c_.bool_val(expl)};
    return sel(!x.st.connected, x, sel(fault(Site::Sendmsg), disconnect(x), y));
  };
  auto u64 = bv(8, 16);
  auto refuse = [&](Out x, bool in_handler) {  // Model::refuse, E1
    switch (pr.refusal) {
      case Refusal::Ack:
        return sel(a.nr, reply(x, u64, 0, false, false), disconnect(x));
      case Refusal::Panic:  // libvhost-user vu_panic
        return disconnect(sel(a.nr, reply(x, u64, 0, false, false), x));
      case Refusal::Shutdown:  // rust-vmm
        if (!in_handler) return disconnect(x);
        return disconnect(sel(a.nr && x.st.pf_ra, reply(x, u64, 0, false, false), x));
    }
    return x;
  };
  auto done = [&](Out x) {  // Model::finish Done: R2
    expr want = a.nr;
    if (pr.need_reply_requires_reply_ack) want = want && x.st.pf_ra;
    return sel(want, reply(x, u64, 0, false, false), x);
  };

  // ---- message path (Model::deliver) ----------------------------------------------------------
  Out m = o;
  m.st.armed = bv(0, 3);  // F1/X11: fault_ = exchange(armed): for this message only
  expr nf = a.nfds;
  if (!pr.ctrunc_closes)  // DPDK: MSG_CTRUNC logged, the kernel dropped the rest
    nf = sel(z3::ugt(a.nfds, bv(pr.max_fds, 4)), bv(pr.max_fds, 4), a.nfds);

  // P6: while awaiting the ack, the next message is the ack (Model::postcopy_ack)
  Out ack = m;
  {
    ack.st.awaiting = F;
    expr ok = k == kMemTable && nf == 0;
    if (pr.ack_strict) ok = ok && a.ackshape;  // P6/X8 shape
    if (pr.mutant_no_ack_check) ok = T;
    expr registered = m.st.uffd && !fault(Site::UffdioRegister);  // P6 MODE_MISSING
    Out good = ack;
    good.st.reg = sel(registered, z3::ugt(ack.st.mapped, bv(0, 4)), F);
    good.st.mapped = sel(registered, ack.st.mapped, bv(0, 4));  // X8: unmapped on failure
    Out after = good;
    switch (pr.ack_reply) {
      case AckReply::AckMessage:
        after = sel(registered, done(good), refuse(good, true));
        break;
      case AckReply::None:
        after = sel(registered, good, disconnect(good));
        break;
      case AckReply::OriginalRequest: {
        Out r = sel(good.st.pending, reply(good, u64, 0, false, false), good);
        after = sel(registered, r, disconnect(r));
        break;
      }
    }
    ack = sel(ok, after, disconnect(ack));  // X8: anything else closes, no reply
  }

  // dispatch: W7 size, W6 fd count, then the handler
  Out d = m;
  expr size_ok = a.size_ok;
  if (!pr.postcopy_payload_must_be_empty)
    size_ok = size_ok || k == kAdvise || k == kListen || k == kEnd;  // P3 not checked
  expr efd = sel(k == kMemTable, a.n, sel(k == kGeneric && a.efd1, bv(1, 4), bv(0, 4)));
  expr keep = efd == 0 && c_.bool_val(pr.unused_fds_leak);
  if (pr.mutant_advise_keeps_fds) keep = keep || (efd == 0 && k == kAdvise);
  Out h = d;  // passed W6/W7
  h.handled = T;
  h.st.lk_fd = sel(nf != efd, d.st.lk_fd + z3::zext(nf, 4), d.st.lk_fd);  // kept by nobody

  // handlers
  Out hg = h;  // generic
  {
    Out ok = h;
    expr bit = z3::shl(bv(1, 9), z3::zext(a.slot, 5));
    expr with = sel(a.on, h.st.slots | bit, h.st.slots & ~bit);  // replaced / NOFD closes
    ok.st.slots = sel(a.slot == kNoSlot, h.st.slots, with);
    expr rsize = pr.log_base_reply_empty ? sel(a.slot == 6, bv(0, 16), u64) : u64;  // DPDK
    ok = sel(a.rep, reply(ok, rsize, 0, false, true), done(ok));  // R1 bodies are 8 bytes
    hg = sel(a.hok, ok, refuse(h, true));
  }
  Out hp = h;  // SET_PROTOCOL_FEATURES (N3)
  {
    Out ok = h;
    ok.st.pf_pf = a.pf_pf;
    ok.st.pf_ra = a.pf_ra;
    hp = sel(a.hok, done(ok), refuse(h, true));
  }
  Out ho = h;  // SET_OWNER (N4)
  {
    Out ok = h;
    ok.st.owner = T;
    ho = done(ok);
    if (pr.set_owner_once) ho = sel(h.st.owner, refuse(h, true), ho);
  }
  Out hr = h;  // RESET_OWNER (N4)
  switch (pr.reset_owner) {
    case ResetOwner::Releases:
      hr.st = session_reset(h.st);
      hr.st.connected = h.st.connected;
      break;
    case ResetOwner::ClearsFeatures:
      hr.st.owner = F;
      break;
    case ResetOwner::Ignored:
      break;
  }
  hr = done(hr);
  Out ha = h;  // POSTCOPY_ADVISE (P1-P4)
  {
    Out x = h;
    if (pr.advise_when_live == AdviseWhenLive::Leak) {  // DPDK: overwritten, the old fd leaks
      x.st.lk_uffd = sel(h.st.uffd, h.st.lk_uffd + 1, h.st.lk_uffd);
      x.st.sess_lk = sel(h.st.uffd, h.st.sess_lk + 1, h.st.sess_lk);
      x.st.uffd = F;
    }
    expr body = pr.advise_reply_echoes_payload ? a.psize : bv(0, 16);
    expr opened = !fault(Site::Userfaultfd) && !fault(Site::UffdioApi);  // P4
    Out fail = x;
    switch (pr.advise_failure) {
      case AdviseFailure::ReplyNoFd:
        fail = reply(x, body, 0, false, true);
        break;
      case AdviseFailure::Refuse:
        fail = refuse(x, true);
        break;
      case AdviseFailure::Close:
        fail = disconnect(x);
        break;
    }
    Out succ = x;
    succ.st.uffd = T;
    succ.opened = T;
    succ = reply(succ, body, 1, false, true);  // P4: exactly one fd
    ha = sel(opened, succ, fail);
    if (pr.advise_when_live == AdviseWhenLive::Refuse) ha = sel(h.st.uffd, refuse(h, true), ha);
    if (pr.advise_requires_pagefault) ha = sel(!h.st.pf_pf, refuse(h, false), ha);  // P1
  }
  Out hl = h;  // POSTCOPY_LISTEN (P5)
  {
    expr ok = T;
    if (pr.listen_requires_uffd && !pr.mutant_listen_without_advise) ok = h.st.uffd;
    expr mapped = z3::ugt(h.st.mapped, bv(0, 4));
    if (pr.listen_refuses_mapped) ok = ok && !mapped;
    Out x = h;
    if (pr.listen_registers_mapped) {  // rust-vmm
      expr r = h.st.uffd && !fault(Site::UffdioRegister);
      ok = ok && (!mapped || r);
      x.st.reg = sel(mapped, T, h.st.reg);
    }
    x.st.listening = T;
    Out fail = h, succ = x;
    if (pr.listen_always_replies) {  // libvhost-user
      fail = disconnect(reply(h, u64, 0, false, true));
      succ = reply(x, u64, 0, false, true);
    } else {
      fail = refuse(h, true);
      succ = done(x);
    }
    hl = sel(ok, succ, fail);
  }
  Out he = h;  // POSTCOPY_END (P7)
  {
    Out x = h;
    if (!pr.mutant_end_keeps_uffd) {
      x.st.uffd = F;
      x.st.reg = F;
    }
    x.st.listening = F;
    x = pr.end_reply == EndReply::IfReplyAck ? done(x) : reply(x, u64, 0, false, true);
    he = x;
    if (pr.end_without_uffd_fails) he = sel(!h.st.uffd, reply(h, u64, 0, false, true), x);
  }
  Out hm = h;  // SET_MEM_TABLE (M1-M3, P6)
  {
    Out x = h;
    if (pr.mem_table_unmaps_first) {
      x.st.mapped = bv(0, 4);
      x.st.reg = F;
    }
    Out ok = x;
    if (pr.mutant_table_keeps_old_region_fds)  // M3 broken: old regions unmapped, fds kept
      ok.st.stale = x.st.stale + z3::zext(x.st.mapped, 4);
    ok.st.mapped = a.n;
    ok.st.reg = F;
    Out plain = done(ok);
    Out post = ok;
    post.st.awaiting = T;
    post.st.pending = a.nr;
    post = reply(post, z3::zext(a.n, 12) * 32 + 8, 0, true, true);
    expr postcopy = ok.st.listening;
    if (pr.mutant_table_reply_when_advised) postcopy = postcopy || ok.st.uffd;  // P6 broken
    if (pr.postcopy_mem_table_reply)
      ok = sel(postcopy, post, plain);
    else
      ok = plain;
    Out xl = x;  // DPDK: the fds from the failing region on are never closed
    if (pr.refused_table_leaks_fds) xl.st.lk_fd = x.st.lk_fd + z3::zext(a.n, 4);
    hm = sel(!a.hok || fault(Site::Mmap), refuse(xl, true), ok);
  }
  Out handled =
      sel(k == kGeneric, hg,
          sel(k == kSetProto, hp,
              sel(k == kSetOwner, ho,
                  sel(k == kResetOwner, hr,
                      sel(k == kAdvise, ha, sel(k == kListen, hl, sel(k == kEnd, he, hm)))))));
  d = sel(!size_ok, refuse(d, false), sel(nf != efd && !keep, refuse(d, false), handled));

  Out msg = sel(m.st.awaiting, ack, d);
  if (pr.ctrunc_closes)  // W5/X2: more than 8 fds for one message closes everything
    msg = sel(z3::ugt(a.nfds, bv(pr.max_fds, 4)), disconnect(o), msg);
  msg = sel(s.connected, msg, o);  // a send on a closed connection: nothing read

  // ---- the other ops ----------------------------------------------------------------------
  Out disc = disconnect(o);  // D1
  Out conn = disconnect(o);  // C1: disconnect first, then a fresh connection
  conn.st.connected = T;
  Out fn = o;
  fn.st.armed = sel(s.connected, a.site + 1, s.armed);  // F1: one slot, replaced
  Out bad = o;  // DPDK vhost_user_check_and_alloc_queue_pair: -1, the message's fds left open
  bad.st.lk_fd = o.st.lk_fd + z3::zext(nf, 4);
  bad = sel(s.connected, disconnect(bad), o);

  Out res = sel(
      is_msg, msg,
      sel(k == kMalformed, disconnect(o),  // W2/W3/X1
          sel(k == kBadRing, bad,
              sel(k == kDisconnect, disc, sel(k == kConnect, conn, sel(k == kFailNext, fn, o))))));
  return StepResult{res.st, res.r, res.handled, res.opened, res.disc_leak};
}

z3::expr Encoding::equal(const SymState& a, const SymState& b) {
  auto x = a.all(), y = b.all();
  expr e = c_.bool_val(true);
  for (size_t i = 0; i < x.size(); ++i) e = e && x[i] == y[i];
  return e;
}

z3::expr Encoding::phase(const SymState& s) {  // Model::phase, X12
  return z3::ite(
      s.awaiting, phase_is(Phase::AwaitingAck),
      z3::ite(s.listening, z3::ite(s.reg, phase_is(Phase::Registered), phase_is(Phase::Listening)),
              z3::ite(s.uffd, phase_is(Phase::Advised), phase_is(Phase::None))));
}

z3::expr Encoding::well_formed(const SymState& s) {
  const Profile& pr = profile_;
  expr e = z3::ule(s.mapped, bv(uapi::kMaxRegions, 4)) && z3::ult(s.armed, bv(6, 3)) &&
           z3::implies(s.reg, z3::ugt(s.mapped, bv(0, 4))) &&
           z3::implies(s.awaiting,
                       (pr.mutant_table_reply_when_advised ? s.listening || s.uffd : s.listening) &&
                           z3::ugt(s.mapped, bv(0, 4)) && !s.reg) &&
           z3::ule(s.slots, bv(0x1ff, 9));
  // A closed connection holds nothing (D1), except rust-vmm's uffd.
  expr idle = !s.listening && !s.awaiting && !s.pending && !s.reg && !s.pf_pf && !s.pf_ra &&
              !s.owner && s.mapped == 0 && s.slots == 0 && s.armed == 0 && s.sess_lk == 0 &&
              s.stale == 0;
  if (!pr.disconnect_keeps_uffd) idle = idle && !s.uffd;
  e = e && z3::implies(!s.connected, idle);
  // Listening needs a uffd where LISTEN checks one and END closes it; registration needs a uffd
  // (P6, rust-vmm LISTEN) unless a Leak profile's failed re-ADVISE dropped it.
  const bool leak = pr.advise_when_live == AdviseWhenLive::Leak;
  if (pr.listen_requires_uffd && !pr.mutant_listen_without_advise && !pr.mutant_end_keeps_uffd &&
      !leak)
    e = e && z3::implies(s.listening, s.uffd);
  if (!leak) e = e && s.sess_lk == 0 && z3::implies(s.reg, s.uffd);
  if (!pr.mutant_table_keeps_old_region_fds) e = e && s.stale == 0;
  return e;
}

// ---- concrete <-> abstract ----------------------------------------------------------------

std::optional<std::vector<uint64_t>> Encoding::project(const State& st) {
  const Session& s = st.session;
  if (!st.rx.empty() || !st.queued.empty()) return std::nullopt;
  size_t nreg = 0;
  for (const auto& r : s.regions) nreg += r.registered;
  if (nreg != 0 && nreg != s.regions.size()) return std::nullopt;
  uint64_t slots = 0;
  for (size_t i = 0; i < s.rings.size(); ++i) {
    const RingState& r = s.rings[i];
    if (i >= 2) {
      if (r.kick || r.call || r.err) return std::nullopt;
      continue;
    }
    slots |= uint64_t(r.kick) << (3 * i) | uint64_t(r.call) << (3 * i + 1) |
             uint64_t(r.err) << (3 * i + 2);
  }
  slots |= uint64_t(s.log_base_fd) << 6 | uint64_t(s.log_fd) << 7 | uint64_t(s.backend_req_fd) << 8;
  auto pf = [&](unsigned b) { return (s.protocol_features & uapi::bit(b)) ? 1u : 0u; };
  return std::vector<uint64_t>{st.connected,
                               s.uffd,
                               s.listening,
                               s.awaiting_ack,
                               s.pending_need_reply,
                               nreg != 0,
                               pf(uapi::kPfPagefault),
                               pf(uapi::kPfReplyAck),
                               s.owner,
                               s.regions.size(),
                               slots,
                               st.armed ? static_cast<unsigned>(*st.armed) + 1 : 0u,
                               static_cast<uint64_t>(st.leaked_fds),
                               0,
                               0,
                               static_cast<uint64_t>(s.stale_region_fds)};
}

std::vector<uint64_t> Encoding::reply_shape(const Outcome& out) {
  if (out.replies.empty()) return {0, 0, 0, 0, 0};
  const Reply& r = out.replies.front();
  return {1, r.flags, r.size, r.fds.size(),
          r.request == uapi::kSetMemTable && r.size != 8 ? 1u : 0u};
}

namespace {
struct Abs {
  unsigned kind = kNop, nr = 0, nfds = 0, size_ok = 1, hok = 1, rep = 0, efd1 = 0, slot = kNoSlot,
           on = 0, n = 0, ackshape = 0, psize = 0, pf_pf = 0, pf_ra = 0, site = 0, xf = 0;
  std::vector<uint64_t> values() const {
    return {kind, nr, nfds,     size_ok, hok,   rep,   efd1, slot,
            on,   n,  ackshape, psize,   pf_pf, pf_ra, site, xf};
  }
};
bool bad_header(const Profile& pr, uint32_t flags, uint32_t size) {  // W2/W3 (Model::deliver)
  if (pr.check_header_flags && ((flags & uapi::kVersionMask) != uapi::kVersion ||
                                (flags & uapi::kReply) || (flags & ~uapi::kKnownFlags)))
    return true;
  return size > pr.max_payload;
}
}  // namespace

std::optional<std::vector<uint64_t>> Encoding::abstract_op(const State& pre, const Op& op) {
  using namespace uapi;
  const Profile& pr = profile_;
  Abs x;
  if (auto* f = std::get_if<FailNext>(&op)) {
    x.kind = kFailNext;
    x.site = static_cast<unsigned>(f->site);
    return x.values();
  }
  if (std::holds_alternative<Disconnect>(op)) {
    x.kind = kDisconnect;
    return x.values();
  }
  if (std::holds_alternative<Connect>(op)) {
    x.kind = kConnect;
    return x.values();
  }
  if (!pre.connected) return x.values();  // nothing is read: kNop
  if (auto* r = std::get_if<RawBytes>(&op)) {
    if (r->bytes.empty()) return x.values();
    if (r->bytes.size() < kHeaderSize) return std::nullopt;  // a partial header stays buffered
    uint32_t h[3];
    std::memcpy(h, r->bytes.data(), sizeof h);
    if (bad_header(pr, h[1], h[2])) {
      x.kind = kMalformed;
      return x.values();
    }
    return std::nullopt;  // a raw well-formed frame: not abstracted
  }
  const Send& s = std::get<Send>(op);
  if (s.fds.size() > kMaxAbstractFds) return std::nullopt;
  if ((pr.ctrunc_closes && s.fds.size() > pr.max_fds) ||  // W5: closes before the header
      bad_header(pr, s.flags, s.header_size())) {         // W2/W3
    x.kind = kMalformed;
    return x.values();
  }
  if (s.header_size() != s.payload.size()) return std::nullopt;  // partial or several messages
  // DPDK echoes reserved request flag bits into the reply: the abstract action carries bit
  // 0x10 (xf); other reserved bits are not abstracted.
  if (pr.reply_flags_echo_request && (s.flags & ~kKnownFlags) & ~0x10u) return std::nullopt;
  // DPDK vhost_user_check_and_alloc_queue_pair: a bad ring index closes, no reply, like W3.
  if (pr.bad_vring_index_closes && !pre.session.awaiting_ack &&
      !vring_index_in_range(s.request, s.payload, pr.ring_count)) {
    x.kind = kBadRing;
    x.nfds = static_cast<unsigned>(std::min(s.fds.size(), pr.max_fds));
    return x.values();
  }
  x.nr = (s.flags & kNeedReply) ? 1 : 0;
  x.xf = (s.flags & 0x10u) && !pr.check_header_flags ? 1 : 0;
  x.nfds = static_cast<unsigned>(s.fds.size());
  std::vector<FdSpec> fds = s.fds;
  if (!pr.ctrunc_closes && fds.size() > pr.max_fds) fds.resize(pr.max_fds);
  // Without W7 (DPDK) the handler reads a short payload zero-padded (Model::dispatch).
  const std::vector<uint8_t> payload =
      pr.checks_payload_size ? s.payload : padded_payload(s.request, s.payload);
  auto want = expected_payload_size(s.request, payload, true);
  x.size_ok =
      want && (*want == payload.size() ||
               (!pr.checks_payload_size && s.request != kSetLogBase && s.request != kSetMemTable));
  const size_t efd = expected_fd_count(s.request, payload);
  auto word = [&](size_t off, size_t n) {
    uint64_t t = 0;
    if (payload.size() >= off + n) std::memcpy(&t, payload.data() + off, n);
    return t;
  };
  uint64_t v = word(0, 8);
  uint32_t index = static_cast<uint32_t>(word(0, 4));
  switch (s.request) {
    case kSetProtocolFeatures:
      x.kind = kSetProto;
      x.pf_pf = (v & bit(kPfPagefault)) != 0;
      x.pf_ra = (v & bit(kPfReplyAck)) != 0;
      x.hok = !(pr.set_protocol_features_checks_offered && (v & ~pr.protocol_features));
      if (!x.size_ok) x.pf_pf = x.pf_ra = 0, x.hok = 1;
      return x.values();
    case kSetOwner:
      x.kind = kSetOwner;
      return x.values();
    case kResetOwner:
      x.kind = kResetOwner;
      return x.values();
    case kPostcopyAdvise:
    case kPostcopyListen:
    case kPostcopyEnd:
      x.kind = s.request == kPostcopyAdvise   ? kAdvise
               : s.request == kPostcopyListen ? kListen
                                              : kEnd;
      x.psize = static_cast<unsigned>(s.payload.size());
      x.size_ok = s.payload.empty();
      return x.values();
    case kSetMemTable: {
      x.kind = kMemTable;
      x.ackshape = s.payload.size() == 8 && v == 0;
      if (!pr.checks_payload_size) {  // DPDK: any nregions is read; the table is the payload
        if (pre.session.awaiting_ack) {
          x.size_ok = 0;  // the ack path reads only the request, fds and (ack_strict) shape
          return x.values();
        }
        const uint64_t n = word(0, 4);  // an empty or oversized table: not abstracted
        if (n == 0 || n > kMaxRegions || s.payload.size() != mem_table_size(n)) return std::nullopt;
      }
      if (!x.size_ok) return x.values();
      auto table = *parse_mem_table(payload);
      x.n = static_cast<unsigned>(table.size());
      bool ok = true;               // M1 spans, M2 memfds (only read when the fd count is right)
      size_t first = table.size();  // the first region that fails (DPDK leaks from there on)
      for (size_t i = 0; i < table.size(); ++i) {
        const auto& r = table[i];
        bool bad = r.memory_size == 0 || r.mmap_offset > pr.max_region_span ||
                   r.memory_size > pr.max_region_span - r.mmap_offset;
        if (fds.size() == table.size()) bad = bad || fds[i].kind != FdKind::Memfd;
        if (bad && first == table.size()) first = i;
        ok = ok && !bad;
      }
      if (pr.refused_table_leaks_fds && !ok && first != 0) return std::nullopt;  // leak n - i
      x.hok = ok;
      return x.values();
    }
    default:
      break;
  }
  x.kind = kGeneric;
  if (pr.handles_net_set_mtu && s.request == kNetSetMtu) {  // DPDK vhost_user_net_set_mtu
    std::vector<uint8_t> mtu = s.payload;  // read as a u64, zero-padded (Model::dispatch)
    mtu.resize(std::max<size_t>(mtu.size(), 8));
    uint64_t u;
    std::memcpy(&u, mtu.data(), 8);
    x.size_ok = 1;
    x.hok = u >= 68 && u <= 65535;
    return x.values();
  }
  if (!x.size_ok) return x.values();
  x.efd1 = efd == 1;
  const uint64_t qn = pr.ring_count;  // X3: ring indices 0 .. ring_count-1
  switch (s.request) {
    case kGetFeatures:
    case kGetProtocolFeatures:
    case kGetQueueNum:
    case kGetStatus:
      x.rep = 1;
      break;
    case kGetVringBase:
      x.rep = 1;
      x.hok = index < qn;
      break;
    case kSetFeatures:
      x.hok = !(pr.set_features_checks_offered && (v & ~pr.features)) &&
              !(pr.set_features_requires_version_1 && !(v & bit(kFVersion1)));
      break;
    case kSetVringNum: {
      const uint32_t num = static_cast<uint32_t>(word(4, 4));
      x.hok = index < qn && !(pr.vring_num_checked && ((num & (num - 1)) || num > 32768));
      break;
    }
    case kSetVringBase:
    case kSetVringEnable:
      x.hok = index < qn;
      break;
    case kSetVringAddr:
      x.hok = index < qn && !(pr.vring_addr_needs_mem_table && !pre.session.mem_table);
      break;
    case kSetStatus:
      x.hok = !(pr.status_is_u8 && v > 0xff);
      break;
    case kSetVringKick:
    case kSetVringCall:
    case kSetVringErr: {
      uint64_t ring = v & kVringIndexMask;
      x.hok = ring < qn;
      if (x.hok) {
        if (ring >= 2) return std::nullopt;  // rings >= 2 (DPDK's 128 queues) not abstracted
        x.slot = static_cast<unsigned>(ring * 3 + (s.request - kSetVringKick));
        x.on = !(v & kVringNofdMask) &&
               !(pr.vring_err_fd_closed && s.request == kSetVringErr);  // DPDK: closed at once
      }
      break;
    }
    case kSetLogBase:
      x.slot = 6;
      x.on = !pr.log_base_fd_closed;  // DPDK closes it after the mmap
      x.rep = 1;
      break;
    case kSetLogFd:
      x.slot = 7;
      x.on = !pr.log_fd_closed;  // DPDK closes it at once
      break;
    case kSetBackendReqFd:
      x.slot = 8;
      x.on = 1;
      break;
    default:
      break;  // SEND_RARP, SET_STATUS
  }
  return x.values();
}

namespace {
uint64_t num(const z3::model& m, const z3::expr& e) {
  z3::expr v = m.eval(e, true);
  if (v.is_bool()) {
    if (!v.is_true() && !v.is_false()) throw std::runtime_error("not a value: " + v.to_string());
    return v.is_true() ? 1 : 0;
  }
  return v.get_numeral_uint64();
}
}  // namespace

Op Encoding::concrete_op(const z3::model& m, const SymAction& a) {
  using namespace uapi;
  const unsigned kind = num(m, a.kind);
  const uint32_t flags =
      (num(m, a.nr) ? kVersion | kNeedReply : kVersion) | (num(m, a.xf) ? 0x10u : 0u);
  const size_t nfds = num(m, a.nfds);
  std::vector<FdSpec> eventfds(nfds, FdSpec{FdKind::Eventfd, 0});
  const bool size_ok = num(m, a.size_ok), hok = num(m, a.hok);
  auto with_fds = [&](Send s) {
    s.fds = eventfds;
    return Op{s};
  };
  switch (kind) {
    case kNop:
      return RawBytes{};
    case kMalformed: {  // W3: a header size above every profile's maximum
      Send s = send(kGetFeatures, kVersion);
      s.size = 0x10000;
      return s;
    }
    case kDisconnect:
      return Disconnect{};
    case kConnect:
      return Connect{};
    case kFailNext:
      return FailNext{static_cast<Site>(num(m, a.site))};
    case kBadRing:
      return with_fds(send(kSetVringNum, flags, vring_state_payload(0xffff, 0)));
    case kSetOwner:
      return with_fds(send(kSetOwner, flags));
    case kResetOwner:
      return with_fds(send(kResetOwner, flags));
    case kSetProto: {
      if (!size_ok) return with_fds(send(kSetProtocolFeatures, flags));
      uint64_t v = (num(m, a.pf_pf) ? bit(kPfPagefault) : 0) |
                   (num(m, a.pf_ra) ? bit(kPfReplyAck) : 0) | (hok ? 0 : uint64_t{1} << 63);
      return with_fds(send_u64(kSetProtocolFeatures, v, flags));
    }
    case kAdvise:
    case kListen:
    case kEnd: {
      uint32_t req = kind == kAdvise   ? kPostcopyAdvise
                     : kind == kListen ? kPostcopyListen
                                       : kPostcopyEnd;
      return with_fds(send(req, flags, std::vector<uint8_t>(num(m, a.psize), 0)));
    }
    case kMemTable: {
      if (num(m, a.ackshape)) return with_fds(mem_table_ack(flags));
      if (!size_ok) return with_fds(send(kSetMemTable, flags, std::vector<uint8_t>(4, 0)));
      Send s = set_mem_table(regions(num(m, a.n)), flags);
      s.fds.assign(nfds, hok ? FdSpec{FdKind::Memfd, 0x100000} : FdSpec{FdKind::Eventfd, 0});
      return s;
    }
    default:
      break;
  }
  // kGeneric
  if (!size_ok) return with_fds(send(kSetVringEndian, flags));  // E2: not handled
  const unsigned slot = num(m, a.slot);
  const bool rep = num(m, a.rep), on = num(m, a.on), efd1 = num(m, a.efd1);
  if (slot <= 5) {
    const bool fd = profile_.vring_err_fd_closed && slot % 3 == 2 ? efd1 : on;
    uint64_t v = slot / 3 | (fd ? 0 : kVringNofdMask);
    return with_fds(send_u64(kSetVringKick + slot % 3, v, flags));
  }
  if (slot == 6) return with_fds(send(kSetLogBase, flags, log_payload(0x1000, 0)));
  if (slot == 7) return with_fds(send(kSetLogFd, flags));
  if (slot == 8) return with_fds(send(kSetBackendReqFd, flags));
  if (efd1) return with_fds(send_u64(kSetVringKick, 0xff, flags));  // ring 255: refused (valid())
  if (rep)
    return with_fds(hok ? send(kGetFeatures, flags)
                        : send(kGetVringBase, flags, vring_state_payload(0xffff, 0)));
  if (!hok && profile_.bad_vring_index_closes)  // DPDK: index 0xffff closes; a bad size refuses
    return with_fds(send(kSetVringNum, flags, vring_state_payload(0, 3)));
  return with_fds(hok ? send_u64(kSetStatus, 0, flags)
                      : send(kSetVringNum, flags, vring_state_payload(0xffff, 0)));
}

std::vector<uint64_t> Encoding::values_of(const z3::model& m, const std::vector<z3::expr>& v) {
  std::vector<uint64_t> out;
  for (auto& e : v) out.push_back(num(m, e));
  return out;
}

}  // namespace lockstep::vhost::proofs
