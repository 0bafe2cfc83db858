// One monitored session as the monitor saw it: each front-end message as an op of the trace
// vocabulary (core/vhost/ops.h), what the back-end answered to it, every message in both
// directions in arrival order, and every violation. It prints as a readable program (the notes
// are the observed outcomes, violations are comments above the op after which they were seen)
// and records as that program plus its fuzz-input twin (core/vhost/codec.h), which
// `lockstep replay` runs against the model and the real back-end.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/vhost/ops.h"

namespace lockstep::monitor {

enum class Side : uint8_t { Frontend, Backend };
const char* to_string(Side side);  // "front-end", "back-end"

struct Violation {
  Side side = Side::Frontend;
  std::string rule;  // "FE8", "model:reply.flags"
  size_t index = 0;  // the front-end message (1-based) it was seen at or answers
  std::string op;    // that message's request name
  std::string text;
};

// One message on the wire, for the --json document.
struct WireMessage {
  Side from = Side::Frontend;
  size_t index = 0;  // the front-end message it is or answers
  double ms = 0;     // since the session began
  uint32_t request = 0, flags = 0, size = 0;
  std::vector<vhost::FdKind> fds;
  std::vector<uint8_t> payload;
};

class Session {
 public:
  explicit Session(std::string profile) : profile_(std::move(profile)) {}
  // Appends a front-end message; returns its index (1-based). `note` explains a substitution
  // made to express it as an op (an fd kind the front-end cannot attach in a trace).
  size_t add_request(const vhost::Send& op, const std::string& note = "");
  void add_disconnect();
  void add_reply(size_t index, const vhost::Reply& reply);  // observed, normalised
  void mark_closed(size_t index);                           // the back-end closed after it
  void add_violation(Violation v);
  void log(WireMessage m);
  double elapsed_ms() const;

  size_t size() const { return ops_.size(); }
  const std::vector<Violation>& violations() const { return violations_; }
  vhost::Trace trace() const;
  std::string program() const;
  // The session's own fields of the --json document.
  nlohmann::json json() const;
  // Writes `path` (the program) and its binary twin (path with .txt replaced by, or else
  // followed by, .bin). Returns what could not be written ("" when all was).
  std::string record(const std::string& path) const;

 private:
  std::string profile_;
  std::vector<vhost::Op> ops_;
  std::vector<vhost::Outcome> seen_;
  std::vector<std::string> op_notes_;  // substitutions, printed as comments
  std::vector<Violation> violations_;
  std::vector<WireMessage> messages_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// The line a violation is reported with on stderr.
std::string violation_line(const Violation& v);

}  // namespace lockstep::monitor
