// The front-end's obligations (monitor/rules.def, rows FE1..FE8) as a checker that sees the
// session the way the monitor does: every front-end message as it is read, every back-end
// message as it is forwarded to the front-end. It keeps only what the front-end has said
// (protocol features, postcopy phase) and what it has been shown (replies forwarded), never
// what the back-end thinks: a front-end's obligations do not depend on the back-end's state.
//
// FE8 is sound under delay: a message read while a reply the front-end asked for has not yet
// been forwarded was necessarily written before the front-end could have seen that reply.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/vhost/ops.h"

namespace lockstep::monitor {

struct FrontendRule {
  std::string_view id;       // "FE1"
  std::string_view section;  // vhost-user.rst section
  std::string_view text;
};
inline constexpr FrontendRule kFrontendRules[] = {
#define LOCKSTEP_FE_RULE(id, section, text) {#id, section, text},
#include "monitor/rules.def"
#undef LOCKSTEP_FE_RULE
};
// The table as markdown (README "Monitor" embeds it; tests/monitor keeps the two equal).
std::string frontend_rules_markdown();

struct Finding {
  std::string rule;  // "FE3", or for the back-end "model:reply.flags"
  std::string text;
};

class FrontendRules {
 public:
  // The front-end's message number `index` (1-based), as read. Findings, empty when it keeps
  // every rule.
  std::vector<Finding> on_request(const vhost::Send& m, size_t index);
  // A back-end message, forwarded to the front-end in full.
  void on_reply_forwarded(const vhost::Reply& r);
  // The front-end asked for a reply that has not been forwarded yet.
  bool reply_outstanding() const { return outstanding_ > 0; }

 private:
  static void check_flags(const vhost::Send& m, std::vector<Finding>& out);
  static void check_wire(const vhost::Send& m, std::vector<Finding>& out);
  void note_asked(const vhost::Send& m, size_t index);
  void check_postcopy_order(const vhost::Send& m, std::vector<Finding>& out);
  bool asks_for_reply(const vhost::Send& m) const;

  uint64_t protocol_features_ = 0;  // the front-end's SET_PROTOCOL_FEATURES value
  bool advised_ = false, listening_ = false;
  bool awaiting_ack_ = false;     // FE7: the postcopy table reply has been forwarded
  size_t outstanding_ = 0;        // FE8: replies asked for and not yet forwarded
  std::string outstanding_what_;  // "GET_FEATURES (message 1)", the oldest one
};

}  // namespace lockstep::monitor
