#include "monitor/session.h"

#include <fstream>

#include "core/vhost/codec.h"

namespace lockstep::monitor {

using namespace vhost;

const char* to_string(Side side) {
  return side == Side::Frontend ? "front-end" : "back-end";
}

std::string violation_line(const Violation& v) {
  return std::string("lockstep monitor: violation: ") + to_string(v.side) + " " + v.rule +
         " at message " + std::to_string(v.index) + (v.op.empty() ? "" : " (" + v.op + ")") + ": " +
         v.text;
}

size_t Session::add_request(const Send& op, const std::string& note) {
  ops_.push_back(op);
  seen_.emplace_back();
  op_notes_.push_back(note);
  return ops_.size();
}

void Session::add_disconnect() {
  ops_.push_back(Disconnect{});
  Outcome eof;
  eof.closed = true;
  seen_.push_back(eof);
  op_notes_.emplace_back();
}

void Session::add_reply(size_t index, const Reply& reply) {
  if (index >= 1 && index <= seen_.size()) seen_[index - 1].replies.push_back(reply);
}

void Session::mark_closed(size_t index) {
  if (index >= 1 && index <= seen_.size()) seen_[index - 1].closed = true;
}

void Session::add_violation(Violation v) {
  violations_.push_back(std::move(v));
}

void Session::log(WireMessage m) {
  messages_.push_back(std::move(m));
}

double Session::elapsed_ms() const {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_)
      .count();
}

// The notes are what the back-end did (reply_text); a Disconnect's outcome is the model's own.
vhost::Trace Session::trace() const {
  vhost::Trace t;
  t.profile = profile_;
  t.ops = ops_;
  for (size_t i = 0; i < ops_.size(); ++i) {
    t.notes.push_back(std::holds_alternative<Disconnect>(ops_[i]) ? "" : reply_text(seen_[i]));
    if (!op_notes_[i].empty()) t.verbatim.push_back({i, false, "# " + op_notes_[i]});
  }
  for (const Violation& v : violations_)
    t.verbatim.push_back({std::min(v.index, ops_.size()), false,
                          std::string("# violation: ") + to_string(v.side) + " " + v.rule +
                              " at message " + std::to_string(v.index) + ": " + v.text});
  std::stable_sort(
      t.verbatim.begin(), t.verbatim.end(),
      [](const VerbatimLine& a, const VerbatimLine& b) { return a.before_op < b.before_op; });
  return t;
}

std::string Session::program() const {
  return print_text(trace());
}

nlohmann::json Session::json() const {
  nlohmann::json messages = nlohmann::json::array(), violations = nlohmann::json::array();
  for (const WireMessage& m : messages_) {
    nlohmann::json fds = nlohmann::json::array();
    for (FdKind k : m.fds) fds.push_back(vhost::to_string(k));
    std::string hex;
    for (uint8_t b : m.payload)
      hex += "0123456789abcdef"[b >> 4], hex += "0123456789abcdef"[b & 15];
    messages.push_back({{"from", to_string(m.from)},
                        {"index", m.index},
                        {"ms", m.ms},
                        {"request", request_text(m.request)},
                        {"flags", m.flags},
                        {"size", m.size},
                        {"fds", fds},
                        {"payload", hex}});
  }
  for (const Violation& v : violations_)
    violations.push_back({{"side", to_string(v.side)},
                          {"rule", v.rule},
                          {"index", v.index},
                          {"op", v.op},
                          {"message", v.text}});
  return {{"protocol", "vhost"},
          {"profile", profile_},
          {"messages", messages},
          {"violations", violations},
          {"program", program()}};
}

std::string Session::record(const std::string& path) const {
  {
    std::ofstream text(path, std::ios::binary | std::ios::trunc);
    text << program();
    if (!text) return path + ": cannot write";
  }
  std::string twin = path;
  if (twin.size() > 4 && twin.ends_with(".txt")) twin.resize(twin.size() - 4);
  twin += ".bin";
  std::vector<uint8_t> bytes;
  try {
    vhost::Trace t = trace();
    t.notes.clear();
    t.verbatim.clear();
    bytes = encode_input(t);
  } catch (const std::exception& e) {
    return twin + ": no binary twin: " + e.what();
  }
  std::ofstream bin(twin, std::ios::binary | std::ios::trunc);
  bin.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!bin) return twin + ": cannot write";
  return "";
}

}  // namespace lockstep::monitor
