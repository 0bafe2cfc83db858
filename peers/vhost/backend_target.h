// BackendTarget: a Target (core/run.h) that runs vhost-user traces against a back-end process
// (backend_process.h) over its real UNIX socket, driven by impl/vhost's Frontend. Every peer that
// is a back-end process (peers/dpdk, peers/libvhost-user) runs its traces through it.
//
// Every trace starts with a fresh connection. At each observation point the target sends a
// barrier (GET_FEATURES, which the back-ends answer with no side effect) and reads until the
// barrier's reply, so every reply is collected without guessing timeouts, and a close is seen as
// EOF. The per-op mode observes after every op; the observed mode (backend_campaign.h) only where
// the caller says. A trailing partial header is not followed by a barrier (it would complete
// it): a back-end that closes on a short header is read to that EOF, one that waits for the rest
// cannot take the op (unsupported()). The message after a postcopy SET_MEM_TABLE is taken as its
// ack: the target waits for the table reply instead (the observed mode only when the model
// predicts one; the per-op mode for a short timeout).
//
// Disconnects need no settling delay: a connection is released by closing it and taking the
// next one (connected, one barrier answered), which the back-end answers only after the closed
// connection's teardown (backend_process.h), so the back-end's fds are counted then.
//
// WHAT IS COMPARED (the one documented place; BackendProtocol::first_difference):
//   replies (count, request, flags, size, payload after normalise(), fd kinds), closed,
//   resources.uffds   = anon_inode:[userfaultfd] entries in /proc/PID/fd of the back-end, minus
//                       the count when the trace started,
//   resources.held_fds = every non-socket entry of /proc/PID/fd (uffds, memfds, eventfds,
//                       files, ...), minus the count when the trace started (sockets are the
//                       listen socket and the connection, which the model does not count).
// NOT compared (the back-end's internals cannot be read from outside): resources.regions_mapped,
//   resources.regions_registered, resources.phase.
// After the trace (finish(): disconnect, the next connection answered) the back-end's non-socket
// fd count must be back at its trace-start value plus the model's fds_left_open()
// (backend_campaign.h check_trace; run()'s own fd oracle looks at this process and is off).
//
// A crash or a hang of the back-end is not an outcome: step() throws PeerDied / PeerHung
// (backend_process.h) and position() says at which op.
//
// Ops the back-end cannot take safely are never faked: first_unsupported() names them and step()
// throws peers::SkippedOp:
//   FailNext                     no fault injection into a foreign process;
//   Send/RawBytes whose header size promises more payload than the write carries (up to
//                                BackendSpec::refused_at_header): the back-end blocks reading it,
//                                and the barrier would become its payload;
//   a trailing partial header    where the back-end waits for the rest (!partial_header_closes).
#pragma once
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/vhost/codec.h"
#include "core/vhost/ops.h"
#include "impl/vhost/frontend.h"
#include "peers/skip.h"
#include "peers/vhost/backend_process.h"

namespace lockstep::peers::backend {

// vhost::Protocol with the comparison restricted to what a back-end process shows from outside
// (see above). A peer names its signatures: struct DpdkProtocol : BackendProtocol { kName }.
struct BackendProtocol : vhost::Protocol {
  static const char* first_difference(const vhost::Outcome& model, const vhost::Outcome& target);
};

// How a back-end cuts a write into messages: exactly 12 header bytes, then exactly `size`
// payload bytes (DPDK read_vhost_message; libvhost-user vu_message_read).
struct WireRules {
  uint32_t refused_at_header = 4096;  // a larger size is refused at the header, nothing read on
  bool partial_header_closes = true;  // 1..11 trailing header bytes: read and closed
};

std::optional<std::string> unsupported(const vhost::Op& op, const WireRules& rules);
std::optional<Skip> first_unsupported(const vhost::Trace& trace, const WireRules& rules);
// The op's write ends in 1..11 header bytes.
bool ends_in_partial_header(const vhost::Op& op);

// Thrown by the observed mode when a trace needs the per-op mode.
struct NeedsPerOp : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class BackendTarget {
 public:
  BackendTarget(BackendProcess& peer, WireRules rules) : peer_(peer), rules_(rules) {}
  ~BackendTarget() {
    try {
      finish();
    } catch (const std::exception&) {  // the back-end died: the next check restarts it
    }
  }
  BackendTarget(const BackendTarget&) = delete;
  BackendTarget& operator=(const BackendTarget&) = delete;

  // The observed mode: the next step() observes (barrier, fd counts) only if `observe`;
  // `table`: whether the model answers the op with a postcopy memory table (a postcopy
  // SET_MEM_TABLE the model does not answer with one throws NeedsPerOp). Unobserved steps
  // leave their replies to the next observed one and res at zero.
  void plan_next(bool observe, bool table) {
    observe_ = observe;
    table_hint_ = table;
  }
  vhost::Outcome step(const vhost::Op& op);  // throws SkippedOp, PeerDied, PeerHung
  void finish();                             // disconnects; after() holds the back-end's fds
  void reap() {}                             // a foreign process's fds cannot be closed

  // The op being handled (the number of ops once finish() began): where a throw happened.
  size_t position() const { return position_; }
  // Back-end fd counts when the trace started / after finish().
  const FdCounts& baseline() const { return baseline_; }
  const FdCounts& after() const { return after_; }

 private:
  void connect();
  void disconnect();
  void transmit(std::vector<uint8_t> bytes, const std::vector<vhost::FdSpec>& fds,
                vhost::Outcome& out);
  void await_table(vhost::Outcome& out);
  void collect(size_t barrier_replies_expected, bool barrier, int wait_ms, vhost::Outcome& out);

  BackendProcess& peer_;
  WireRules rules_;
  vhost::Frontend fe_;
  bool started_ = false;
  bool listen_sent_ = false;         // a POSTCOPY_LISTEN went out on this connection
  bool awaiting_ack_ = false;        // the last reply was a postcopy memory table
  bool released_ = true;             // the connection is closed and the back-end handled it
  size_t pending_get_features_ = 0;  // unobserved GET_FEATURES frames sent since the last barrier
  size_t steps_ = 0, position_ = 0;
  bool observe_ = true;
  std::optional<bool> table_hint_;  // unset: the per-op mode
  FdCounts baseline_, after_, last_;
};

}  // namespace lockstep::peers::backend
