#include "monitor/frontend_rules.h"

#include <utility>

#include "model/vhost/model.h"
#include "model/vhost/requests.h"

namespace lockstep::monitor {

using namespace vhost;

std::string frontend_rules_markdown() {
  std::string out = "| rule | the front-end must | vhost-user.rst section |\n|---|---|---|\n";
  for (const FrontendRule& r : kFrontendRules)
    out += "| " + std::string(r.id) + " | " + std::string(r.text) + " | " + std::string(r.section) +
           " |\n";
  return out;
}

namespace {

std::string name_of(uint32_t request) {
  return request_text(request);
}

bool is_ack(const Send& m) {
  return m.request == uapi::kSetMemTable && m.payload.size() == 8 && m.fds.empty() &&
         u64_payload(0) == m.payload;
}

}  // namespace

// FE1-FE3: the header's flags, then the payload size and fd count of a request of the table
// (requests outside it are not checked: their definitions are not part of this contract).
void FrontendRules::check_flags(const Send& m, std::vector<Finding>& out) {
  if ((m.flags & uapi::kVersionMask) != uapi::kVersion || (m.flags & uapi::kReply) ||
      (m.flags & ~uapi::kKnownFlags))
    out.push_back({"FE1", "flags " + format_uint(m.flags, true) +
                              ": version must be 0x1, the reply bit clear, no bit above 0x8"});
}

void FrontendRules::check_wire(const Send& m, std::vector<Finding>& out) {
  if (m.fds.size() > uapi::kMaxFds)
    out.push_back({"FE3", std::to_string(m.fds.size()) + " fds, at most 8"});
  if (!find_request(m.request)) return;
  if (auto size = expected_payload_size(m.request, m.payload, true);
      size && *size != m.payload.size())
    out.push_back({"FE2", "size " + std::to_string(m.payload.size()) + ", " + name_of(m.request) +
                              " carries " + std::to_string(*size)});
  if (size_t fds = expected_fd_count(m.request, m.payload); fds != m.fds.size())
    out.push_back({"FE3", std::to_string(m.fds.size()) + " fds, " + name_of(m.request) +
                              " carries " + std::to_string(fds)});
}

// FE4-FE6: the postcopy messages in order ADVISE -> LISTEN -> END.
void FrontendRules::check_postcopy_order(const Send& m, std::vector<Finding>& out) {
  switch (m.request) {
    case uapi::kSetProtocolFeatures:
      if (m.payload.size() == 8) protocol_features_ = *Reply{0, 0, 8, m.payload, {}}.u64();
      return;
    case uapi::kPostcopyAdvise:
      if (!(protocol_features_ & uapi::bit(uapi::kPfPagefault)))
        out.push_back({"FE4", "POSTCOPY_ADVISE without PAGEFAULT negotiated (protocol features " +
                                  format_uint(protocol_features_, true) + ")"});
      advised_ = true;
      return;
    case uapi::kPostcopyListen:
      if (!advised_) out.push_back({"FE5", "POSTCOPY_LISTEN before any POSTCOPY_ADVISE"});
      listening_ = true;
      return;
    case uapi::kPostcopyEnd:
      if (!listening_) out.push_back({"FE6", "POSTCOPY_END before any POSTCOPY_LISTEN"});
      advised_ = listening_ = false;
      return;
    default:
      return;
  }
}

// FE8: what the front-end asked a reply for.
bool FrontendRules::asks_for_reply(const Send& m) const {
  const bool reply_ack = protocol_features_ & uapi::bit(uapi::kPfReplyAck);
  if ((m.flags & uapi::kNeedReply) && reply_ack) return true;
  const RequestRule* row = find_request(m.request);
  if (!row) return false;
  switch (row->reply) {
    case ReplyRule::U64:
    case ReplyRule::VringState:
    case ReplyRule::Uffd:
      return true;
    case ReplyRule::TableWhenListening:
      return listening_;
    case ReplyRule::AckIfAsked:
      return false;
  }
  return false;
}

std::vector<Finding> FrontendRules::on_request(const Send& m, size_t index) {
  std::vector<Finding> out;
  if (outstanding_ > 0)
    out.push_back({"FE8", name_of(m.request) + " sent while the reply to " + outstanding_what_ +
                              " is outstanding"});
  const bool ack_due = std::exchange(awaiting_ack_, false);
  const bool reply_ack = protocol_features_ & uapi::bit(uapi::kPfReplyAck);
  if (ack_due && is_ack(m)) {  // the acknowledgement: only its flags are checked
    check_flags(m, out);
    if ((m.flags & uapi::kNeedReply) && reply_ack) note_asked(m, index);
    return out;
  }
  if (ack_due)
    out.push_back({"FE7", name_of(m.request) + " (size " + std::to_string(m.payload.size()) + ", " +
                              std::to_string(m.fds.size()) +
                              " fds) where the postcopy SET_MEM_TABLE acknowledgement (size 8, "
                              "u64 0, no fds) is due"});
  check_flags(m, out);
  check_wire(m, out);
  if (asks_for_reply(m)) note_asked(m, index);
  check_postcopy_order(m, out);  // after asks_for_reply: LISTEN's own table rule is for later
  return out;
}

void FrontendRules::note_asked(const Send& m, size_t index) {
  if (outstanding_++ == 0)
    outstanding_what_ = name_of(m.request) + " (message " + std::to_string(index) + ")";
}

void FrontendRules::on_reply_forwarded(const Reply& r) {
  if (outstanding_ > 0) --outstanding_;
  // FE7: a SET_MEM_TABLE reply with a table (not the u64 of R2) while listening is the
  // postcopy reply the front-end must acknowledge.
  if (r.request == uapi::kSetMemTable && r.size > 8 && listening_) awaiting_ack_ = true;
}

}  // namespace lockstep::monitor
