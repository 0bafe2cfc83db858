// The vhost-user back-end under the model explorer (tools/explore.h): its op alphabet (every
// request of model/vhost/requests.def in its argument classes), its state class and its profile
// switches.
#include <cstdio>
#include <initializer_list>

#include "model/vhost/requests.h"
#include "tools/explore_protocols.h"

namespace lockstep::tools {
namespace {

using vhost::Model;
using vhost::Op;
using Class = OpClass<Model, Op>;
namespace u = vhost::uapi;

// The well-formed message of a request row: the payload W7 wants and the fds W6 wants, with the
// values that make its handler succeed under the profile (the offered features, ring 0, one
// region, a log of one page).
vhost::Send well_formed(const vhost::RequestRule& r, const vhost::Profile& p) {
  using vhost::PayloadRule;
  if (r.payload == PayloadRule::MemTable) return vhost::set_mem_table(vhost::regions(1));
  vhost::Send s = vhost::send(r.request);
  switch (r.payload) {
    case PayloadRule::Empty:
    case PayloadRule::Postcopy:
    case PayloadRule::MemTable:
      break;
    case PayloadRule::U64:
      s.payload = vhost::u64_payload(r.request == u::kSetFeatures           ? p.features
                                     : r.request == u::kSetProtocolFeatures ? p.protocol_features
                                                                            : 0);
      break;
    case PayloadRule::VringState:
      s.payload = vhost::vring_state_payload(0, 256);
      break;
    case PayloadRule::VringAddr:
      s.payload = vhost::vring_addr_payload({});
      break;
    case PayloadRule::Log:
      s.payload = vhost::log_payload(0x1000, 0);
      break;
  }
  if (r.fds == vhost::FdRule::One || r.fds == vhost::FdRule::OneUnlessNofd)
    s.fds = {r.payload == PayloadRule::Log ? vhost::FdSpec{vhost::FdKind::Memfd, 0x1000}
                                           : vhost::FdSpec{}};
  return s;
}

Class send_class(std::string kind, std::string args, vhost::Send s) {
  return {std::move(kind), std::move(args), "nothing",
          [s = std::move(s)](const Model&) -> std::optional<Op> { return Op{s}; }};
}

// Each request row in four argument classes: well-formed without and with NEED_REPLY, a payload
// 8 bytes too long (W7), and the fds W6 does not want (one more, or none where one is due).
std::vector<Class> request_ops(const vhost::Profile& p) {
  std::vector<Class> out;
  for (const vhost::RequestRule& r : vhost::kRequestRules) {
    const std::string kind = vhost::request_text(r.request);
    vhost::Send ok = well_formed(r, p);
    out.push_back(send_class(kind, "well-formed", ok));
    vhost::Send asked = ok;
    asked.flags |= u::kNeedReply;
    out.push_back(send_class(kind, "well-formed, NEED_REPLY", asked));
    vhost::Send longer = ok;
    longer.payload.resize(longer.payload.size() + 8);
    out.push_back(send_class(kind, "payload 8 bytes long", longer));
    vhost::Send fds = ok;
    if (fds.fds.empty()) {
      fds.fds.push_back({});
      out.push_back(send_class(kind, "an fd too many", fds));
    } else {
      fds.fds.pop_back();
      out.push_back(send_class(kind, "an fd missing", fds));
    }
  }
  return out;
}

// The postcopy ack (P6), an unhandled request (E2), the connection, and a fault at each back-end
// call the postcopy handshake makes (core/vhost/sites.def; F1-F3).
std::vector<Class> session_ops() {
  std::vector<Class> out = {
      send_class("SET_MEM_TABLE", "ack u64 0", vhost::mem_table_ack()),
      send_class("SET_MEM_TABLE", "ack u64 0, NEED_REPLY", vhost::mem_table_ack(u::kNeedReply)),
      send_class("unhandled request 99", "empty", vhost::send(99)),
      {"disconnect", "", "nothing",
       [](const Model&) -> std::optional<Op> { return Op{vhost::Disconnect{}}; }},
      {"connect", "", "nothing",
       [](const Model&) -> std::optional<Op> { return Op{vhost::Connect{}}; }},
  };
  for (vhost::Site site : {vhost::Site::Userfaultfd, vhost::Site::UffdioApi,
                           vhost::Site::UffdioRegister, vhost::Site::Mmap, vhost::Site::Sendmsg})
    out.push_back({"fail_next", vhost::site_name(site), "a connection and nothing armed",
                   [site](const Model& m) -> std::optional<Op> {
                     if (!m.state().connected || m.state().armed) return std::nullopt;
                     return Op{vhost::FailNext{site, 0}};
                   }});
  return out;
}

template <class E>
std::string enum_text(E e, std::initializer_list<const char*> names) {
  const auto i = static_cast<size_t>(e);
  return i < names.size() ? names.begin()[i] : "?";
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

// Depth 8: the handshake the spec describes is SET_PROTOCOL_FEATURES, ADVISE, LISTEN, the
// postcopy SET_MEM_TABLE, its ack and END (6 messages), plus a fault armed before one of them
// and a reconnect. Under `spec` the search reaches 428 classes and expands all but 21 in 0.3 s
// (`lockstep spec --protocol vhost`); 4000 classes bound the profiles whose leaks add classes.
Bounds ExploreTraits<VhostBinding>::bounds() {
  return {8, 4000};
}

std::vector<OpClass<Model, Op>> ExploreTraits<VhostBinding>::alphabet(const vhost::Profile& p) {
  std::vector<Class> out = request_ops(p);
  for (auto& c : session_ops()) out.push_back(std::move(c));
  return out;
}

// The session: its phase (none -> advised -> listening -> awaiting-ack -> registered; END
// returns to none with the regions still mapped, which is how "ended" shows) or closed,
// whether features, protocol features and the owner are set, the regions mapped, whether ring,
// log or back-end fds are held, leaks and the armed fault. Values (which features, which ring)
// are left out: the alphabet sends one value each, so they add nothing.
StateClass ExploreTraits<VhostBinding>::state_class(const Model& m) {
  const vhost::State& st = m.state();
  const vhost::Session& s = st.session;
  bool ring_fds = s.log_base_fd || s.log_fd || s.backend_req_fd;
  for (const auto& r : s.rings) ring_fds |= r.kick || r.call || r.err;
  auto flag = [](bool b, const char* v) { return std::string(b ? v : "-"); };
  // The phase while connected; "closed" after a close (with the phase a kept uffd leaves).
  const std::string phase = vhost::to_string(m.phase());
  const std::string session = st.connected                      ? phase
                              : m.phase() == vhost::Phase::None ? "closed"
                                                                : "closed/" + phase;
  return {
      {"session", session},
      {"features", flag(s.features != 0, "set")},
      {"protocol", flag(s.protocol_features != 0, "set")},
      {"owner", flag(s.owner, "yes")},
      {"regions", s.regions.empty() ? "-" : std::to_string(s.regions.size())},
      {"fds", flag(ring_fds, "held")},
      {"leaked", flag(st.leaked_fds > 0, "yes")},
      {"armed", st.armed ? vhost::site_name(st.armed->site) : "-"},
  };
}

std::string ExploreTraits<VhostBinding>::outcome(const vhost::Outcome& o) {
  return vhost::reply_text(o);
}

std::string ExploreTraits<VhostBinding>::resources_delta(const vhost::Resources& a,
                                                         const vhost::Resources& b) {
  return count_delta({{"uffds", {a.uffds, b.uffds}},
                      {"regions_mapped", {a.regions_mapped, b.regions_mapped}},
                      {"regions_registered", {a.regions_registered, b.regions_registered}},
                      {"held_fds", {a.held_fds, b.held_fds}}});
}

std::vector<std::string> ExploreTraits<VhostBinding>::diagram_components() {
  return {"session"};
}

// Every switch of struct Profile, one row each: tests/check_citations.py fails when a switch is
// missing here or a row names no switch, so docs/spec/ cannot leave a choice out.
std::vector<Choice<vhost::Profile>> ExploreTraits<VhostBinding>::choices() {
  using P = vhost::Profile;
  auto yes = [](bool b) { return std::string(b ? "yes" : "no"); };
#define LOCKSTEP_FLAG(field, rule)                         \
  {                                                        \
#field, rule, [=](const P& p) { return yes(p.field); } \
  }
#define LOCKSTEP_NUM(field, rule)                          \
  {                                                        \
#field, rule, [=](const P& p) { return hex(p.field); } \
  }
#define LOCKSTEP_ENUM(field, rule, ...)                                         \
  {                                                                             \
#field, rule, [=](const P& p) { return enum_text(p.field, {__VA_ARGS__}); } \
  }
  return {
      LOCKSTEP_NUM(features, "N1"),
      LOCKSTEP_NUM(protocol_features, "N3"),
      LOCKSTEP_NUM(queue_num, "X3"),
      LOCKSTEP_NUM(ring_count, "X3"),
      LOCKSTEP_FLAG(check_header_flags, "W2"),
      LOCKSTEP_NUM(max_payload, "W3"),
      LOCKSTEP_NUM(max_fds, "W5"),
      LOCKSTEP_FLAG(ctrunc_closes, "W5"),
      LOCKSTEP_FLAG(unused_fds_leak, "W6"),
      LOCKSTEP_ENUM(refusal, "E1", "Ack", "Panic", "Shutdown"),
      LOCKSTEP_FLAG(need_reply_requires_reply_ack, "R2"),
      LOCKSTEP_FLAG(set_features_checks_offered, "N2"),
      LOCKSTEP_FLAG(set_features_requires_version_1, "N2"),
      LOCKSTEP_FLAG(set_protocol_features_checks_offered, "N3"),
      LOCKSTEP_FLAG(set_owner_once, "N4"),
      LOCKSTEP_ENUM(reset_owner, "N4", "Releases", "Ignored", "ClearsFeatures"),
      LOCKSTEP_FLAG(mem_table_unmaps_first, "M1"),
      LOCKSTEP_FLAG(advise_requires_pagefault, "P1"),
      LOCKSTEP_ENUM(advise_when_live, "P2", "Refuse", "Leak", "Replace"),
      LOCKSTEP_FLAG(postcopy_payload_must_be_empty, "P3"),
      LOCKSTEP_FLAG(advise_reply_echoes_payload, "P4"),
      LOCKSTEP_ENUM(advise_failure, "P4", "ReplyNoFd", "Refuse", "Close"),
      LOCKSTEP_FLAG(listen_requires_uffd, "P5"),
      LOCKSTEP_FLAG(listen_refuses_mapped, "P5"),
      LOCKSTEP_FLAG(listen_registers_mapped, "P5"),
      LOCKSTEP_FLAG(listen_always_replies, "P5"),
      LOCKSTEP_FLAG(postcopy_mem_table_reply, "P6"),
      LOCKSTEP_FLAG(ack_strict, "P6"),
      LOCKSTEP_ENUM(ack_reply, "P6", "AckMessage", "None", "OriginalRequest"),
      LOCKSTEP_FLAG(end_without_uffd_fails, "P7"),
      LOCKSTEP_ENUM(end_reply, "P7", "Always", "IfReplyAck"),
      LOCKSTEP_FLAG(disconnect_keeps_uffd, "D1"),
      LOCKSTEP_FLAG(reply_flags_echo_request, "W8"),
      LOCKSTEP_FLAG(checks_payload_size, "W7"),
      LOCKSTEP_FLAG(partial_header_closes, "W4"),
      LOCKSTEP_FLAG(bad_vring_index_closes, "X3"),
      LOCKSTEP_FLAG(refused_table_leaks_fds, "M1"),
      LOCKSTEP_FLAG(vring_err_fd_closed, "W6"),
      LOCKSTEP_FLAG(log_base_reply_empty, "X10"),
      LOCKSTEP_FLAG(log_base_fd_closed, "X10"),
      LOCKSTEP_FLAG(log_fd_closed, "X10"),
      LOCKSTEP_FLAG(handles_net_set_mtu, "X4"),
      LOCKSTEP_FLAG(leaked_fds_held, "D1"),
      LOCKSTEP_FLAG(vring_num_checked, "X3"),
      LOCKSTEP_FLAG(vring_addr_needs_mem_table, "X3"),
      LOCKSTEP_FLAG(status_is_u8, "X10"),
      LOCKSTEP_FLAG(reply_keeps_request_flags, "W8"),
      LOCKSTEP_FLAG(none_request_acked, "E2"),
      LOCKSTEP_NUM(max_region_span, "X6"),
  };
#undef LOCKSTEP_FLAG
#undef LOCKSTEP_NUM
#undef LOCKSTEP_ENUM
}

}  // namespace lockstep::tools
