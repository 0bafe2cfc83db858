#include "peers/vhost/backend_target.h"

#include <chrono>
#include <cstring>

#include "core/overloaded.h"
#include "impl/vhost/wire.h"

namespace lockstep::peers::backend {
namespace {

namespace uapi = vhost::uapi;

uint8_t clamp8(int v) {
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// How the back-end will cut a byte string into messages: exactly 12 header bytes, then exactly
// `size` payload bytes with one blocking read.
struct Walk {
  std::vector<uint32_t> requests;  // complete frames, in order
  bool partial_tail = false;       // 1..11 header bytes at the end
  bool stalls = false;             // a size the write does not carry (the back-end blocks)
};

Walk walk(std::span<const uint8_t> b, uint32_t refused_at_header) {
  Walk w;
  size_t off = 0;
  while (off < b.size()) {
    if (b.size() - off < uapi::kHeaderSize) {
      w.partial_tail = true;
      break;
    }
    vhost::wire::Header h;
    std::memcpy(&h, b.data() + off, sizeof h);
    off += uapi::kHeaderSize;
    if (h.size > refused_at_header) break;  // closed at the header; the rest is never read
    if (h.size > b.size() - off) {
      w.stalls = true;
      break;
    }
    w.requests.push_back(h.request);
    off += h.size;
  }
  return w;
}

std::vector<uint8_t> bytes_of(const vhost::Op& op) {
  if (const auto* s = std::get_if<vhost::Send>(&op))
    return vhost::wire::frame({s->request, s->flags, s->header_size()}, s->payload);
  if (const auto* r = std::get_if<vhost::RawBytes>(&op)) return r->bytes;
  return {};
}

}  // namespace

// ---- comparison ------------------------------------------------------------------------------

const char* BackendProtocol::first_difference(const vhost::Outcome& m, const vhost::Outcome& t) {
  if (const char* field = vhost::first_wire_difference(m, t)) return field;
  if (m.res.uffds != t.res.uffds) return "resources.uffds";
  if (m.res.held_fds != t.res.held_fds) return "resources.held_fds";
  // regions_mapped, regions_registered and phase: not observable from outside the process.
  return nullptr;
}

std::optional<std::string> unsupported(const vhost::Op& op, const WireRules& rules) {
  if (std::holds_alternative<vhost::FailNext>(op))
    return "fail_next: no fault injection into the peer process";
  const Walk w = walk(bytes_of(op), rules.refused_at_header);
  if (w.stalls)
    return "a header size promising more payload than is sent (the peer blocks reading it)";
  if (w.partial_tail && !rules.partial_header_closes)
    return "a trailing partial header (the peer waits for the rest; a barrier would complete it)";
  return std::nullopt;
}

bool ends_in_partial_header(const vhost::Op& op) {
  return walk(bytes_of(op), ~uint32_t{0}).partial_tail;
}

std::optional<Skip> first_unsupported(const vhost::Trace& trace, const WireRules& rules) {
  for (size_t i = 0; i < trace.ops.size(); ++i)
    if (auto why = unsupported(trace.ops[i], rules)) return Skip{i, *why};
  return std::nullopt;
}

// ---- target ----------------------------------------------------------------------------------

void BackendTarget::connect() {
  FdCounts quiet;
  fe_ = peer_.take_connection(&quiet);
  if (!started_) baseline_ = quiet;
  started_ = true;
  listen_sent_ = false;
  awaiting_ack_ = false;
  pending_get_features_ = 0;
  released_ = false;
}

// Closes the connection (if the back-end has not) and counts the back-end's fds once it has
// handled it; PeerDied if the back-end is gone.
void BackendTarget::disconnect() {
  if (released_) return;
  released_ = true;
  last_ = peer_.release_connection(fe_);
}

vhost::Outcome BackendTarget::step(const vhost::Op& op) {
  position_ = steps_++;
  if (auto why = unsupported(op, rules_)) throw SkippedOp(*why);
  if (!started_) connect();
  vhost::Outcome out;
  std::visit(Overloaded{
                 [&](const vhost::Send& s) { transmit(bytes_of(op), s.fds, out); },
                 [&](const vhost::RawBytes& r) { transmit(r.bytes, {}, out); },
                 [&](const vhost::Disconnect&) { disconnect(); },
                 [&](const vhost::Connect&) {
                   disconnect();
                   connect();
                 },
                 [&](const vhost::FailNext&) {},
             },
             op);
  out.closed = !fe_.connected();
  if (!observe_) return out;
  if (out.closed) disconnect();  // the back-end closed it: counted once its teardown is done
  const FdCounts now = out.closed ? last_ : peer_.fds();
  out.res.uffds = clamp8(now.uffd - baseline_.uffd);
  out.res.held_fds = clamp8(now.non_socket() - baseline_.non_socket());
  return out;
}

void BackendTarget::transmit(std::vector<uint8_t> bytes, const std::vector<vhost::FdSpec>& fds,
                             vhost::Outcome& out) {
  if (!fe_.connected() || bytes.empty()) {
    if (observe_ && fe_.connected()) collect(pending_get_features_ + 1, true, 0, out);
    return;
  }
  const Walk w = walk(bytes, rules_.refused_at_header);
  const bool ack_was_pending = awaiting_ack_;
  awaiting_ack_ = false;
  for (uint32_t r : w.requests) {
    if (r == uapi::kPostcopyListen) listen_sent_ = true;
    pending_get_features_ += r == uapi::kGetFeatures;
  }
  // After LISTEN, SET_MEM_TABLE may be the postcopy one: the back-end answers with the table
  // and then blocks reading the ack, which a barrier would become.
  const bool maybe_table = listen_sent_ && !ack_was_pending && !w.requests.empty() &&
                           w.requests.back() == uapi::kSetMemTable;
  if (maybe_table && table_hint_ && !*table_hint_)
    throw NeedsPerOp("a postcopy SET_MEM_TABLE the model answers without a table");
  if (fe_.send_raw(bytes, fds) < 0) {  // EPIPE: the back-end had closed the connection
    collect(0, false, -1, out);
    return;
  }
  if (w.partial_tail) {  // the back-end reads the short header and closes
    collect(0, false, -1, out);
    return;
  }
  if (maybe_table) {
    await_table(out);
    if (awaiting_ack_ || !fe_.connected()) return;
  }
  if (observe_) collect(pending_get_features_ + 1, true, 0, out);
}

// The per-op mode waits 150 ms for a table that may not come; the observed mode waits for the
// table the model predicts (to EOF or the reply timeout).
void BackendTarget::await_table(vhost::Outcome& out) {
  collect(0, false, table_hint_ ? peer_.spec().reply_timeout_ms : 150, out);
  if (table_hint_ && !awaiting_ack_ && fe_.connected())
    throw std::runtime_error(peer_.spec().name + " sent no memory table in time");
}

// Reads replies. With a barrier: sends GET_FEATURES and reads until the barrier's reply (the
// `expected`-th GET_FEATURES reply), which is dropped; none in time is a hang. Without: reads
// for wait_ms (-1: to EOF, within the reply timeout), stopping early at EOF or at a postcopy
// memory table.
void BackendTarget::collect(size_t expected, bool barrier, int wait_ms, vhost::Outcome& out) {
  if (barrier && fe_.send(uapi::kGetFeatures, uapi::kVersion, {}) < 0) barrier = false;
  if (barrier) pending_get_features_ = 0;
  size_t seen = 0;
  const int limit = peer_.spec().reply_timeout_ms;
  const bool to_eof = !barrier && wait_ms < 0;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(to_eof ? limit : wait_ms);
  for (;;) {
    int timeout = limit;
    if (!barrier) {
      timeout = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     deadline - std::chrono::steady_clock::now())
                                     .count());
      if (timeout < 0) timeout = 0;
    }
    vhost::Frontend::Reply r;
    const auto got = fe_.recv(r, timeout);
    if (got == vhost::Frontend::Recv::kTimeout) {
      if (barrier)
        throw PeerHung(peer_.spec().name + " unresponsive (no barrier reply in " +
                       std::to_string(limit) + " ms)");
      if (to_eof) throw std::runtime_error(peer_.spec().name + " did not close in time");
      return;
    }
    if (got != vhost::Frontend::Recv::kReply) {
      fe_.close();
      return;
    }
    if (r.hdr.request == uapi::kGetFeatures && barrier && ++seen == expected) return;
    vhost::Reply reply;
    reply.request = r.hdr.request;
    reply.flags = r.hdr.flags;
    reply.size = r.hdr.size;
    reply.payload = std::move(r.payload);
    for (const auto& fd : r.fds) reply.fds.push_back(fd.kind);
    const bool table = reply.request == uapi::kSetMemTable && reply.size != 8;
    vhost::normalise(reply);
    out.replies.push_back(std::move(reply));
    if (table && !barrier) {
      awaiting_ack_ = true;
      return;
    }
  }
}

void BackendTarget::finish() {
  position_ = steps_;
  if (!started_) return;
  started_ = false;
  disconnect();
  after_ = last_;
}

}  // namespace lockstep::peers::backend
