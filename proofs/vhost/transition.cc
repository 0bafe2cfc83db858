// Encoding::step: T(s, a) -> (s', reply) of proofs/vhost/encoding.h, one member per Model
// function of model/vhost/model.cc, each building the paths that function can take.
#include "core/vhost/uapi.h"
#include "proofs/vhost/encoding.h"

namespace lockstep::vhost::proofs {
namespace {

using z3::expr;

// One path through Model::step: the state after it, the reply it sent, its ghosts.
using Path = StepResult;

expr sel(const expr& c, const expr& a, const expr& b) {
  return z3::ite(c, a, b);
}

SymState sel(const expr& c, const SymState& a, const SymState& b) {
  auto x = a.all(), y = b.all();
  std::vector<expr> v;
  for (size_t i = 0; i < x.size(); ++i) v.push_back(z3::ite(c, x[i], y[i]));
  return SymState::from_all(v);
}

Path sel(const expr& c, const Path& a, const Path& b) {
  return Path{
      sel(c, a.next, b.next),
      SymReply{sel(c, a.reply.has, b.reply.has), sel(c, a.reply.flags, b.reply.flags),
               sel(c, a.reply.size, b.reply.size), sel(c, a.reply.fds, b.reply.fds),
               sel(c, a.reply.table, b.reply.table), sel(c, a.reply.explicit_, b.reply.explicit_)},
      sel(c, a.handled, b.handled), sel(c, a.opened, b.opened),
      sel(c, a.disconnect_leaked_uffd, b.disconnect_leaked_uffd)};
}

constexpr unsigned site_code(Site s) {
  return static_cast<unsigned>(s) + 1;
}

// T(s, a) for one (s, a). Each member mirrors the Model function it is named after and maps the
// paths it is given to the paths that function takes; step() combines them as Model::step does.
class Transition : lockstep::proofs::TransitionBase<Encoding> {
 public:
  Transition(z3::context& c, const Profile& profile, const SymState& s, const SymAction& a)
      : TransitionBase(c, profile, s, a),
        T(c.bool_val(true)),
        F(c.bool_val(false)),
        is_message_(z3::uge(a.kind, bv(static_cast<int>(ActionKind::Generic), 4)) &&
                    z3::ule(a.kind, bv(static_cast<int>(ActionKind::SetMemTable), 4))),
        unchanged_{s, SymReply{F, bv(0, 32), bv(0, 16), bv(0, 2), F, F}, F, F, F},
        u64_(bv(8, 16)),
        fd_count_(a.fd_count) {}
  StepResult step();

 private:
  expr fault(Site site) { return s_.armed == bv(site_code(site), 3); }
  expr is(ActionKind k) { return a_.is(k); }

  // Building blocks (Model's private helpers).
  SymState new_session(SymState st);
  Path disconnect(Path x);
  Path reply(Path x, const expr& size, unsigned nfds, bool table, bool explicit_body);
  Path reply_u64(Path x) { return reply(x, u64_, 0, false, false); }
  Path refuse(Path x, bool in_handler);
  Path finish_done(Path x);
  // The message path.
  Path deliver();
  Path postcopy_ack(const Path& m);
  Path dispatch(const Path& m);
  // The handlers, from a path that passed W5-W7.
  Path generic_request(const Path& h);
  Path set_protocol_features(const Path& h);
  Path set_owner(const Path& h);
  Path reset_owner(const Path& h);
  Path postcopy_advise(const Path& h);
  Path postcopy_listen(const Path& h);
  Path postcopy_end(const Path& h);
  Path set_mem_table(const Path& h);

  const expr T, F;
  const expr is_message_;
  const Path unchanged_;  // nothing happened yet
  const expr u64_;        // the size of a u64 reply body
  expr fd_count_;         // fds the message arrives with (after MSG_CTRUNC truncation)
};

StepResult Transition::step() {
  const Path& o = unchanged_;
  Path msg = deliver();
  // ---- the other ops
  Path disc = disconnect(o);  // D1
  Path conn = disconnect(o);  // C1: disconnect first, then a fresh connection
  conn.next.connected = T;
  Path fn = o;
  fn.next.armed = sel(s_.connected, a_.site + 1, s_.armed);  // F1: one slot, replaced
  Path bad = o;  // DPDK vhost_user_check_and_alloc_queue_pair: -1, the message's fds left open
  bad.next.leaked_other_fds = o.next.leaked_other_fds + z3::zext(fd_count_, 4);
  bad = sel(s_.connected, disconnect(bad), o);
  return sel(
      is_message_, msg,
      sel(is(ActionKind::Malformed), disconnect(o),  // W2/W3/X1
          sel(is(ActionKind::BadRing), bad,
              sel(is(ActionKind::Disconnect), disc,
                  sel(is(ActionKind::Connect), conn, sel(is(ActionKind::FailNext), fn, o))))));
}

// ---- building blocks ---------------------------------------------------------------------

SymState Transition::new_session(SymState st) {  // Session{} (D1, N4 Releases)
  st.uffd = F;
  st.listening = F;
  st.awaiting_ack = F;
  st.pending_need_reply = F;
  st.registered = F;
  st.protocol_features.pagefault = F;
  st.protocol_features.reply_ack = F;
  st.owner = F;
  st.regions = bv(0, 4);
  st.held_fds = bv(0, 9);
  st.stale_region_fds = bv(0, 8);
  return st;
}

Path Transition::disconnect(Path x) {  // D1
  Path y = x;
  expr keep = x.next.uffd && c_.bool_val(pr_.disconnect_keeps_uffd);  // rust-vmm
  if (pr_.mutant_disconnect_leaks_uffd) {
    y.next.leaked_uffds = sel(x.next.uffd, x.next.leaked_uffds + 1, x.next.leaked_uffds);
    y.disconnect_leaked_uffd = x.disconnect_leaked_uffd || x.next.uffd;
  }
  y.next = new_session(y.next);
  y.next.uffd = keep;
  y.next.armed = bv(0, 3);  // X11: discarded on disconnect
  y.next.session_leaked_uffds = bv(0, 4);
  y.next.connected = F;
  return sel(x.next.connected, y, x);
}

// F1: sendmsg loses the reply and closes; W8: flags exactly VERSION|REPLY.
Path Transition::reply(Path x, const expr& size, unsigned nfds, bool table, bool explicit_body) {
  Path y = x;
  expr flags = bv(uapi::kReplyFlags, 32);  // mutant: the request's NEED_REPLY kept
  if (pr_.mutant_reply_echoes_need_reply)
    flags = sel(a_.need_reply, bv(uapi::kReplyFlags | uapi::kNeedReply, 32), flags);
  if (pr_.reply_flags_echo_request)  // DPDK send_vhost_reply: reserved request bits kept
    flags = sel(a_.reserved_flag, bv(uapi::kReplyFlags | 0x10, 32), flags);
  y.reply = SymReply{T, flags, size, bv(nfds, 2), c_.bool_val(table), c_.bool_val(explicit_body)};
  return sel(!x.next.connected, x, sel(fault(Site::Sendmsg), disconnect(x), y));
}

Path Transition::refuse(Path x, bool in_handler) {  // E1
  switch (pr_.refusal) {
    case Refusal::Ack:
      return sel(a_.need_reply, reply_u64(x), disconnect(x));
    case Refusal::Panic:  // libvhost-user vu_panic
      return disconnect(sel(a_.need_reply, reply_u64(x), x));
    case Refusal::Shutdown:  // rust-vmm
      if (!in_handler) return disconnect(x);
      return disconnect(sel(a_.need_reply && x.next.protocol_features.reply_ack, reply_u64(x), x));
  }
  return x;
}

Path Transition::finish_done(Path x) {  // Model::finish, Result::Done: R2
  expr want = a_.need_reply;
  if (pr_.need_reply_requires_reply_ack) want = want && x.next.protocol_features.reply_ack;
  return sel(want, reply_u64(x), x);
}

// ---- the message path --------------------------------------------------------------------

Path Transition::deliver() {
  Path m = unchanged_;
  m.next.armed = bv(0, 3);  // F1/X11: fault_ = exchange(armed): for this message only
  if (!pr_.ctrunc_closes)   // DPDK: MSG_CTRUNC logged, the kernel dropped the rest
    fd_count_ = sel(z3::ugt(a_.fd_count, bv(pr_.max_fds, 4)), bv(pr_.max_fds, 4), a_.fd_count);
  Path ack = postcopy_ack(m);
  Path d = dispatch(m);
  Path msg = sel(m.next.awaiting_ack, ack, d);
  if (pr_.ctrunc_closes)  // W5/X2: more than 8 fds for one message closes everything
    msg = sel(z3::ugt(a_.fd_count, bv(pr_.max_fds, 4)), disconnect(unchanged_), msg);
  return sel(s_.connected, msg, unchanged_);  // a send on a closed connection: nothing read
}

// P6: while awaiting the ack, the next message is the ack
Path Transition::postcopy_ack(const Path& m) {
  Path ack = m;
  ack.next.awaiting_ack = F;
  expr ok = is(ActionKind::SetMemTable) && fd_count_ == 0;
  if (pr_.ack_strict) ok = ok && a_.ack_shaped;  // P6/X8 shape
  if (pr_.mutant_no_ack_check) ok = T;
  expr registered = m.next.uffd && !fault(Site::UffdioRegister);  // P6 MODE_MISSING
  Path good = ack;
  good.next.registered = sel(registered, z3::ugt(ack.next.regions, bv(0, 4)), F);
  good.next.regions = sel(registered, ack.next.regions, bv(0, 4));  // X8: unmapped on failure
  Path after = good;
  switch (pr_.ack_reply) {
    case AckReply::AckMessage:
      after = sel(registered, finish_done(good), refuse(good, true));
      break;
    case AckReply::None:
      after = sel(registered, good, disconnect(good));
      break;
    case AckReply::OriginalRequest: {
      Path r = sel(good.next.pending_need_reply, reply_u64(good), good);
      after = sel(registered, r, disconnect(r));
      break;
    }
  }
  return sel(ok, after, disconnect(ack));  // X8: anything else closes, no reply
}

// W7 size, W6 fd count, then the handler
Path Transition::dispatch(const Path& m) {
  Path d = m;
  expr size_ok = a_.payload_size_ok;
  if (!pr_.postcopy_payload_must_be_empty)  // P3 not checked
    size_ok = size_ok || is(ActionKind::PostcopyAdvise) || is(ActionKind::PostcopyListen) ||
              is(ActionKind::PostcopyEnd);
  expr expected_fds = sel(is(ActionKind::SetMemTable), a_.nregions,
                          sel(is(ActionKind::Generic) && a_.expects_fd, bv(1, 4), bv(0, 4)));
  expr keep = expected_fds == 0 && c_.bool_val(pr_.unused_fds_leak);
  if (pr_.mutant_advise_keeps_fds)
    keep = keep || (expected_fds == 0 && is(ActionKind::PostcopyAdvise));
  Path h = d;  // passed W6/W7
  h.handled = T;
  h.next.leaked_other_fds =
      sel(fd_count_ != expected_fds,  // kept by nobody
          d.next.leaked_other_fds + z3::zext(fd_count_, 4), d.next.leaked_other_fds);
  Path hg = generic_request(h);
  Path hp = set_protocol_features(h);
  Path ho = set_owner(h);
  Path hr = reset_owner(h);
  Path ha = postcopy_advise(h);
  Path hl = postcopy_listen(h);
  Path he = postcopy_end(h);
  Path hm = set_mem_table(h);
  Path handled = sel(is(ActionKind::Generic), hg,
                     sel(is(ActionKind::SetProtocolFeatures), hp,
                         sel(is(ActionKind::SetOwner), ho,
                             sel(is(ActionKind::ResetOwner), hr,
                                 sel(is(ActionKind::PostcopyAdvise), ha,
                                     sel(is(ActionKind::PostcopyListen), hl,
                                         sel(is(ActionKind::PostcopyEnd), he, hm)))))));
  return sel(!size_ok, refuse(d, false),
             sel(fd_count_ != expected_fds && !keep, refuse(d, false), handled));
}

// ---- the handlers ------------------------------------------------------------------------

// GET_FEATURES, SET_FEATURES, the SET_VRING_* and GET_VRING_BASE family (vring_state,
// vring_addr, vring_fd), SET_LOG_BASE, SET_LOG_FD, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM,
// SET_BACKEND_REQ_FD, GET_STATUS, SET_STATUS: what they do is in the action's parameters.
Path Transition::generic_request(const Path& h) {
  Path ok = h;
  expr bit = z3::shl(bv(1, 9), z3::zext(a_.fd_slot, 5));
  expr with = sel(a_.fd_kept, h.next.held_fds | bit, h.next.held_fds & ~bit);  // NOFD closes
  ok.next.held_fds = sel(a_.fd_slot == int(kNoSlot), h.next.held_fds, with);
  expr rsize = pr_.log_base_reply_empty ? sel(a_.fd_slot == 6, bv(0, 16), u64_) : u64_;  // DPDK
  ok = sel(a_.explicit_reply, reply(ok, rsize, 0, false, true), finish_done(ok));  // R1: 8 bytes
  return sel(a_.handler_accepts, ok, refuse(h, true));
}

Path Transition::set_protocol_features(const Path& h) {  // N3
  Path ok = h;
  ok.next.protocol_features = a_.protocol_features;
  return sel(a_.handler_accepts, finish_done(ok), refuse(h, true));
}

Path Transition::set_owner(const Path& h) {  // N4
  Path ok = h;
  ok.next.owner = T;
  Path done = finish_done(ok);
  if (pr_.set_owner_once) return sel(h.next.owner, refuse(h, true), done);
  return done;
}

Path Transition::reset_owner(const Path& h) {  // N4
  Path r = h;
  switch (pr_.reset_owner) {
    case ResetOwner::Releases:
      r.next = new_session(h.next);
      r.next.connected = h.next.connected;
      break;
    case ResetOwner::ClearsFeatures:
      r.next.owner = F;
      break;
    case ResetOwner::Ignored:
      break;
  }
  return finish_done(r);
}

Path Transition::postcopy_advise(const Path& h) {  // P1-P4
  Path x = h;
  if (pr_.advise_when_live == AdviseWhenLive::Leak) {  // DPDK: overwritten, the old fd leaks
    x.next.leaked_uffds = sel(h.next.uffd, h.next.leaked_uffds + 1, h.next.leaked_uffds);
    x.next.session_leaked_uffds =
        sel(h.next.uffd, h.next.session_leaked_uffds + 1, h.next.session_leaked_uffds);
    x.next.uffd = F;
  }
  expr body = pr_.advise_reply_echoes_payload ? a_.payload_size : bv(0, 16);
  expr opened = !fault(Site::Userfaultfd) && !fault(Site::UffdioApi);  // P4
  Path fail = x;
  switch (pr_.advise_failure) {
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
  Path succ = x;
  succ.next.uffd = T;
  succ.opened = T;
  succ = reply(succ, body, 1, false, true);  // P4: exactly one fd
  Path r = sel(opened, succ, fail);
  if (pr_.advise_when_live == AdviseWhenLive::Refuse) r = sel(h.next.uffd, refuse(h, true), r);
  if (pr_.advise_requires_pagefault)  // P1
    r = sel(!h.next.protocol_features.pagefault, refuse(h, false), r);
  return r;
}

Path Transition::postcopy_listen(const Path& h) {  // P5
  expr ok = T;
  if (pr_.listen_requires_uffd && !pr_.mutant_listen_without_advise) ok = h.next.uffd;
  expr mapped = z3::ugt(h.next.regions, bv(0, 4));
  if (pr_.listen_refuses_mapped) ok = ok && !mapped;
  Path x = h;
  if (pr_.listen_registers_mapped) {  // rust-vmm
    expr r = h.next.uffd && !fault(Site::UffdioRegister);
    ok = ok && (!mapped || r);
    x.next.registered = sel(mapped, T, h.next.registered);
  }
  x.next.listening = T;
  Path fail = h, succ = x;
  if (pr_.listen_always_replies) {  // libvhost-user
    fail = disconnect(reply(h, u64_, 0, false, true));
    succ = reply(x, u64_, 0, false, true);
  } else {
    fail = refuse(h, true);
    succ = finish_done(x);
  }
  return sel(ok, succ, fail);
}

Path Transition::postcopy_end(const Path& h) {  // P7
  Path x = h;
  if (!pr_.mutant_end_keeps_uffd) {
    x.next.uffd = F;
    x.next.registered = F;
  }
  x.next.listening = F;
  x = pr_.end_reply == EndReply::IfReplyAck ? finish_done(x) : reply(x, u64_, 0, false, true);
  if (pr_.end_without_uffd_fails) return sel(!h.next.uffd, reply(h, u64_, 0, false, true), x);
  return x;
}

Path Transition::set_mem_table(const Path& h) {  // M1-M3, P6
  Path x = h;
  if (pr_.mem_table_unmaps_first) {
    x.next.regions = bv(0, 4);
    x.next.registered = F;
  }
  Path ok = x;
  if (pr_.mutant_table_keeps_old_region_fds)  // M3 broken: old regions unmapped, fds kept
    ok.next.stale_region_fds = x.next.stale_region_fds + z3::zext(x.next.regions, 4);
  ok.next.regions = a_.nregions;
  ok.next.registered = F;
  Path plain = finish_done(ok);
  Path post = ok;
  post.next.awaiting_ack = T;
  post.next.pending_need_reply = a_.need_reply;
  post = reply(post, z3::zext(a_.nregions, 12) * 32 + 8, 0, true, true);
  expr postcopy = ok.next.listening;
  if (pr_.mutant_table_reply_when_advised) postcopy = postcopy || ok.next.uffd;  // P6 broken
  if (pr_.postcopy_mem_table_reply)
    ok = sel(postcopy, post, plain);
  else
    ok = plain;
  Path leaking = x;  // DPDK: the fds from the failing region on are never closed
  if (pr_.refused_table_leaks_fds)
    leaking.next.leaked_other_fds = x.next.leaked_other_fds + z3::zext(a_.nregions, 4);
  return sel(!a_.handler_accepts || fault(Site::Mmap), refuse(leaking, true), ok);
}

}  // namespace

StepResult Encoding::step(const SymState& s, const SymAction& a) {
  return Transition(c_, profile_, s, a).step();
}

}  // namespace lockstep::vhost::proofs
