// The state and action spaces of proofs/vhost/encoding.h and the constraints on them; the
// transition is in transition.cc, the way to and from concrete states and ops in abstraction.cc.
#include "proofs/vhost/encoding.h"

#include "core/vhost/uapi.h"

namespace lockstep::vhost::proofs {

using z3::expr;

std::vector<z3::expr> SymState::all() const {
  return {connected,
          uffd,
          listening,
          awaiting_ack,
          pending_need_reply,
          registered,
          protocol_features.pagefault,
          protocol_features.reply_ack,
          owner,
          regions,
          held_fds,
          armed,
          leaked_other_fds,
          leaked_uffds,
          session_leaked_uffds,
          stale_region_fds};
}

SymState SymState::from_all(const std::vector<z3::expr>& v) {
  return SymState{v[0], v[1],  v[2],  v[3],  v[4],  v[5],  {v[6], v[7]}, v[8],
                  v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
}

Encoding::Encoding(z3::context& c, const Profile& profile)
    : EncodingBase(c, profile), phase_consts_(c), phase_testers_(c), phase_sort_(c) {
  const char* names[] = {"none", "advised", "listening", "awaiting_ack", "registered"};
  phase_sort_ = c_.enumeration_sort("Phase", 5, names, phase_consts_, phase_testers_);
}

SymState Encoding::fresh_state(const std::string& p) {
  auto bo = [&](const char* n) { return c_.bool_const((p + n).c_str()); };
  auto b = [&](const char* n, unsigned w) { return c_.bv_const((p + n).c_str(), w); };
  return SymState{bo("connected"),
                  bo("uffd"),
                  bo("listening"),
                  bo("awaiting_ack"),
                  bo("pending_need_reply"),
                  bo("registered"),
                  {bo("pagefault"), bo("reply_ack")},
                  bo("owner"),
                  b("regions", 4),
                  b("held_fds", 9),
                  b("armed", 3),
                  b("leaked_other_fds", 8),
                  b("leaked_uffds", 8),
                  b("session_leaked_uffds", 4),
                  b("stale_region_fds", 8)};
}

SymAction Encoding::fresh_action(const std::string& p) {
  auto bo = [&](const char* n) { return c_.bool_const((p + n).c_str()); };
  auto b = [&](const char* n, unsigned w) { return c_.bv_const((p + n).c_str(), w); };
  return SymAction{{b("kind", 4),
                    bo("need_reply"),
                    b("fd_count", 4),
                    bo("payload_size_ok"),
                    bo("handler_accepts"),
                    bo("explicit_reply"),
                    bo("expects_fd"),
                    b("fd_slot", 4),
                    bo("fd_kept"),
                    b("nregions", 4),
                    bo("ack_shaped"),
                    b("payload_size", 16),
                    {bo("pagefault"), bo("reply_ack")},
                    b("site", 3),
                    bo("reserved_flag")}};
}

z3::expr Encoding::init(const SymState& s) {
  // A trace starts connected with a fresh session (ops.h).
  return s.connected && !s.uffd && !s.listening && !s.awaiting_ack && !s.pending_need_reply &&
         !s.registered && !s.protocol_features.pagefault && !s.protocol_features.reply_ack &&
         !s.owner && s.regions == 0 && s.held_fds == 0 && s.armed == 0 && s.leaked_other_fds == 0 &&
         s.leaked_uffds == 0 && s.session_leaked_uffds == 0 && s.stale_region_fds == 0;
}

z3::expr Encoding::valid(const SymState& s, const SymAction& a) {
  const Profile& pr = profile_;
  auto K = [](ActionKind kind) { return static_cast<int>(kind); };
  const expr& k = a.kind;
  expr msg =
      z3::uge(k, bv(K(ActionKind::Generic), 4)) && z3::ule(k, bv(K(ActionKind::SetMemTable), 4));
  expr postcopy = k == K(ActionKind::PostcopyAdvise) || k == K(ActionKind::PostcopyListen) ||
                  k == K(ActionKind::PostcopyEnd);
  expr e = z3::ult(k, bv(kActionKinds, 4)) && z3::ule(a.fd_count, bv(kMaxAbstractFds, 4)) &&
           z3::ult(a.site, bv(5, 3)) && z3::ule(a.nregions, bv(uapi::kMaxRegions, 4));
  // Parameters a kind does not read are pinned, so every model names one concrete op.
  e = e && z3::implies(!msg, !a.need_reply && (k == K(ActionKind::BadRing) || a.fd_count == 0));
  e = e && z3::implies(k == K(ActionKind::BadRing), c_.bool_val(pr.bad_vring_index_closes) &&
                                                        !s.awaiting_ack &&
                                                        z3::ule(a.fd_count, bv(pr.max_fds, 4)));
  e = e && z3::implies(k != K(ActionKind::FailNext), a.site == 0);
  // Reserved flag bits pass only where W2 is not checked, and only on a message.
  e = e && z3::implies(!msg || c_.bool_val(pr.check_header_flags), !a.reserved_flag);
  e = e && z3::implies(k != K(ActionKind::Generic), !a.explicit_reply && !a.expects_fd &&
                                                        a.fd_slot == int(kNoSlot) && !a.fd_kept);
  e = e && z3::implies(k != K(ActionKind::SetMemTable), a.nregions == 0 && !a.ack_shaped);
  e = e && z3::implies(!postcopy, a.payload_size == 0);
  e = e && z3::implies(k != K(ActionKind::SetProtocolFeatures),
                       !a.protocol_features.pagefault && !a.protocol_features.reply_ack);
  e = e && z3::implies(!msg, a.payload_size_ok && a.handler_accepts);
  e = e && z3::implies(k == K(ActionKind::SetOwner) || k == K(ActionKind::ResetOwner) || postcopy,
                       a.handler_accepts);
  // Postcopy: size_ok == empty payload; the payload fits W3.
  e = e && z3::implies(postcopy, a.payload_size_ok == (a.payload_size == 0) &&
                                     z3::ule(a.payload_size, bv(pr.max_payload, 16)));
  // SET_MEM_TABLE: a well-formed table has 1..8 regions and is not the 8-byte ack.
  e = e &&
      z3::implies(k == K(ActionKind::SetMemTable),
                  z3::implies(a.payload_size_ok, z3::uge(a.nregions, bv(1, 4)) && !a.ack_shaped) &&
                      z3::implies(!a.payload_size_ok, a.nregions == 0));
  // DPDK (no W7): a malformed SET_MEM_TABLE outside the ack is not abstracted (abstract_op).
  if (!pr.checks_payload_size)
    e = e && z3::implies(k == K(ActionKind::SetMemTable) && !a.payload_size_ok, s.awaiting_ack);
  // SET_PROTOCOL_FEATURES: only a profile that checks can refuse a value.
  if (!pr.set_protocol_features_checks_offered)
    e = e && z3::implies(k == K(ActionKind::SetProtocolFeatures), a.handler_accepts);
  // Generic: the concrete request families (see concrete_op).
  const expr g = k == K(ActionKind::Generic);
  const expr& slot = a.fd_slot;
  const expr& accepts = a.handler_accepts;
  e = e && z3::implies(g && !a.payload_size_ok, accepts && !a.explicit_reply && !a.expects_fd &&
                                                    slot == int(kNoSlot) && !a.fd_kept);
  e = e && z3::implies(g, z3::ule(slot, bv(8, 4)) || slot == int(kNoSlot));
  {
    expr err = slot == 2 || slot == 5;  // SET_VRING_ERR: DPDK closes the fd at once
    expr fd = pr.vring_err_fd_closed ? z3::ite(err, !a.fd_kept, a.expects_fd == a.fd_kept)
                                     : a.expects_fd == a.fd_kept;
    e = e && z3::implies(g && z3::ule(slot, bv(5, 4)), fd && !a.explicit_reply && accepts);
  }
  e = e && z3::implies(g && slot == 6, a.expects_fd &&
                                           a.fd_kept == c_.bool_val(!pr.log_base_fd_closed) &&
                                           a.explicit_reply && accepts);
  e = e &&
      z3::implies(g && slot == 7, a.expects_fd && a.fd_kept == c_.bool_val(!pr.log_fd_closed) &&
                                      !a.explicit_reply && accepts);
  e = e && z3::implies(g && slot == 8, a.expects_fd && a.fd_kept && !a.explicit_reply && accepts);
  e = e && z3::implies(g && slot == int(kNoSlot),
                       !a.fd_kept && z3::implies(a.expects_fd, !accepts && !a.explicit_reply));
  // A KICK/CALL/ERR ring index is 8 bits: with 256 rings (DPDK) none is out of range.
  if (pr.ring_count > 0xff) e = e && !(g && slot == int(kNoSlot) && a.expects_fd);
  // DPDK: a bad ring index closes before the handler, so no refused GET_VRING_BASE exists.
  if (pr.bad_vring_index_closes)
    e = e && !(g && slot == int(kNoSlot) && a.explicit_reply && !accepts);
  return e;
}

z3::expr Encoding::phase(const SymState& s) {  // Model::phase, X12
  return z3::ite(
      s.awaiting_ack, phase_is(Phase::AwaitingAck),
      z3::ite(s.listening,
              z3::ite(s.registered, phase_is(Phase::Registered), phase_is(Phase::Listening)),
              z3::ite(s.uffd, phase_is(Phase::Advised), phase_is(Phase::None))));
}

z3::expr Encoding::well_formed(const SymState& s) {
  const Profile& pr = profile_;
  expr e = z3::ule(s.regions, bv(uapi::kMaxRegions, 4)) && z3::ult(s.armed, bv(6, 3)) &&
           z3::implies(s.registered, z3::ugt(s.regions, bv(0, 4))) &&
           z3::implies(s.awaiting_ack,
                       (pr.mutant_table_reply_when_advised ? s.listening || s.uffd : s.listening) &&
                           z3::ugt(s.regions, bv(0, 4)) && !s.registered) &&
           z3::ule(s.held_fds, bv(0x1ff, 9));
  // A closed connection holds nothing (D1), except rust-vmm's uffd.
  expr idle = !s.listening && !s.awaiting_ack && !s.pending_need_reply && !s.registered &&
              !s.protocol_features.pagefault && !s.protocol_features.reply_ack && !s.owner &&
              s.regions == 0 && s.held_fds == 0 && s.armed == 0 && s.session_leaked_uffds == 0 &&
              s.stale_region_fds == 0;
  if (!pr.disconnect_keeps_uffd) idle = idle && !s.uffd;
  e = e && z3::implies(!s.connected, idle);
  // Listening needs a uffd where LISTEN checks one and END closes it; registration needs a uffd
  // (P6, rust-vmm LISTEN) unless a Leak profile's failed re-ADVISE dropped it.
  const bool leak = pr.advise_when_live == AdviseWhenLive::Leak;
  if (pr.listen_requires_uffd && !pr.mutant_listen_without_advise && !pr.mutant_end_keeps_uffd &&
      !leak)
    e = e && z3::implies(s.listening, s.uffd);
  if (!leak) e = e && s.session_leaked_uffds == 0 && z3::implies(s.registered, s.uffd);
  if (!pr.mutant_table_keeps_old_region_fds) e = e && s.stale_region_fds == 0;
  return e;
}

std::vector<z3::expr> Encoding::outcome_terms(const StepResult& r) {
  const SymReply& y = r.reply;
  z3::context& c = y.has.ctx();
  auto or_zero = [&](const expr& v) {
    return z3::ite(y.has, v, c.bv_val(0, v.get_sort().bv_size()));
  };
  return {y.has, or_zero(y.flags), or_zero(y.size), or_zero(y.fds), y.has && y.table};
}

}  // namespace lockstep::vhost::proofs
