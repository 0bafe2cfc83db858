// DpdkTarget: a Target (core/run.h) that runs vhost-user traces against DPDK 22.11's
// librte_vhost, through the dpdk_vhost_peer program (peers/dpdk/dpdk_vhost_peer.c) over its real
// UNIX socket, driven by impl/vhost's Frontend.
//
// One peer process per DpdkPeer (started once, kept across traces: it takes ~1.3 s to start);
// every trace starts with a fresh connection. At each observation point the target sends a
// barrier (GET_FEATURES, which DPDK answers with no side effect) and reads until the barrier's
// reply, so every reply is collected without guessing timeouts, and a close is seen as EOF.
// The per-op mode observes after every op; the observed mode (check_trace's common path) only
// where the caller says (dpdk_campaign.cc: where the model's closed or fd counts change, and at
// the end). A trailing partial header is not followed by a barrier (it would complete it): DPDK
// reads the short header and closes, and the target reads to that EOF. The message after a
// postcopy SET_MEM_TABLE is taken as its ack: the target waits for the table reply instead
// (the observed mode only when the model predicts one; the per-op mode for a short timeout).
//
// Disconnects need no settling delay: a connection is released by closing it and taking the
// next one (connected, one barrier answered); DPDK's one event thread has then handled the
// closed connection's EOF and teardown (it handles a readable connection before it reads from
// one accepted after that connection became readable), so the peer's fds are counted then.
//
// WHAT IS COMPARED (the one documented place; DpdkProtocol::first_difference):
//   replies (count, request, flags, size, payload after normalise(), fd kinds), closed,
//   resources.uffds   = anon_inode:[userfaultfd] entries in /proc/PID/fd of the peer, minus
//                       the count when the trace started,
//   resources.held_fds = every non-socket entry of /proc/PID/fd (uffds, memfds, eventfds,
//                       files, ...), minus the count when the trace started (sockets are the
//                       listen socket and the connection, which the model does not count).
// NOT compared (DPDK's internals cannot be read from outside): resources.regions_mapped,
//   resources.regions_registered, resources.phase.
// After the trace (finish(): disconnect, the next connection answered) the peer's non-socket fd
// count must be back at its trace-start value plus the model's fds_left_open() (check_trace in
// dpdk_campaign.cc; run()'s own fd oracle looks at this process and is turned off).
//
// Ops the peer cannot take safely are never faked: first_unsupported() names them and step()
// throws peers::SkippedOp:
//   FailNext                     no fault injection into DPDK;
//   Send/RawBytes whose header size promises more payload than the write carries (<= 4096):
//                                DPDK's blocking read() stalls its only event thread.
#pragma once
#include <sys/types.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/vhost/codec.h"
#include "core/vhost/ops.h"
#include "impl/vhost/frontend.h"
#include "peers/skip.h"

namespace lockstep::peers::dpdk {

// vhost::Protocol with the comparison restricted to what the peer can observe (see above).
// Divergence signatures read "lockstep: divergence dpdk-peer/OP/FIELD".
struct DpdkProtocol : vhost::Protocol {
  static constexpr const char* kName = "dpdk-peer";
  static const char* first_difference(const vhost::Outcome& model, const vhost::Outcome& target);
};

std::optional<Skip> first_unsupported(const vhost::Trace& trace);
std::optional<std::string> unsupported(const vhost::Op& op);
// The op's write ends in 1..11 header bytes (DPDK reads them as a short header and closes).
bool ends_in_partial_header(const vhost::Op& op);

// Counts of one process's open fds by kind (readlink /proc/PID/fd/N).
struct FdCounts {
  int uffd = 0, memfd = 0, eventfd = 0, socket = 0, other = 0;
  int non_socket() const { return uffd + memfd + eventfd + other; }
  bool operator==(const FdCounts&) const = default;
};
FdCounts count_fds(pid_t pid);
std::string to_string(const FdCounts& c);  // "uffd=1 memfd=2 eventfd=0 socket=2 other=9"

struct DpdkEnvironment {
  std::string binary;       // the dpdk_vhost_peer path ("" = not built)
  std::string version;      // pkg-config --modversion libdpdk
  std::string kernel;       // uname -r
  std::string unavailable;  // why the peer cannot run here ("" = it can)
};
// binary: LOCKSTEP_DPDK_PEER from the environment, else the path compiled in, else "".
std::string default_peer_binary();
DpdkEnvironment probe_dpdk_environment();

// The dpdk_vhost_peer process: started in the constructor (throws std::runtime_error with the
// reason), SIGTERM + wait in the destructor.
class DpdkPeer {
 public:
  // `extra`: more arguments for the peer (the negative test's --leak-fd-per-connection).
  // eal = false runs another back-end with the same conventions (`--socket PATH`, "ready" on
  // stdout) without DPDK's --file-prefix: bench/bench_vhost_dpdk.cc runs lockstep-vhost-backend
  // so, to compare both under one process handling.
  explicit DpdkPeer(std::string binary = default_peer_binary(), std::vector<std::string> extra = {},
                    bool eal = true);
  ~DpdkPeer();
  DpdkPeer(const DpdkPeer&) = delete;
  DpdkPeer& operator=(const DpdkPeer&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& socket_path() const { return socket_; }
  const std::string& log_path() const { return log_; }
  bool alive();
  void restart();
  // Keeps the peer's fd table small, so counting it stays cheap: once the fds DPDK leaks pass
  // kSpareAfterHeldFds (or its uffds kSpareAfterUffds), a spare peer process is started in the
  // background, and the first refresh() after it is ready swaps it in and stops the old one.
  // Called between traces; never waits.
  void refresh();
  size_t replaced() const { return replaced_; }  // processes swapped in by refresh()
  static constexpr int kSpareAfterHeldFds = 48, kSpareAfterUffds = 32;

  // A connection DPDK has accepted and answered a barrier on; `quiet`: the peer's fds then
  // (every earlier connection's teardown complete). Throws std::runtime_error if DPDK does not
  // answer in 5 s.
  vhost::Frontend take_connection(FdCounts* quiet);
  // Closes `fe` (if still open) and returns the peer's fds once DPDK has handled the close.
  FdCounts release_connection(vhost::Frontend& fe);
  FdCounts fds() const { return count_fds(pid_); }
  // The fds counted when the last connection was taken or released.
  const FdCounts& quiet_fds() const { return standby_fds_; }

 private:
  struct Spare {};
  DpdkPeer(const DpdkPeer& like, Spare);  // spawned, not yet ready
  void start();
  void spawn();
  bool wait_ready(int timeout_ms);
  void stop();
  void open_standby();
  std::string binary_, dir_, socket_, log_;
  std::vector<std::string> extra_;
  bool eal_ = true;
  pid_t pid_ = -1;
  int ready_fd_ = -1;
  std::string ready_line_;
  vhost::Frontend standby_;
  FdCounts standby_fds_;
  int fresh_non_socket_ = -1;  // at the first connection of this process
  std::unique_ptr<DpdkPeer> spare_;
  size_t replaced_ = 0;
};

// Thrown by the observed mode when a trace needs the per-op mode.
struct NeedsPerOp : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class DpdkTarget {
 public:
  explicit DpdkTarget(DpdkPeer& peer) : peer_(peer) {}
  ~DpdkTarget() {
    try {
      finish();
    } catch (const std::exception&) {  // the peer died: the next check restarts it
    }
  }
  DpdkTarget(const DpdkTarget&) = delete;
  DpdkTarget& operator=(const DpdkTarget&) = delete;

  // The observed mode: the next step() observes (barrier, fd counts) only if `observe`;
  // `table`: whether the model answers the op with a postcopy memory table (a postcopy
  // SET_MEM_TABLE the model does not answer with one throws NeedsPerOp). Unobserved steps
  // leave their replies to the next observed one and res at zero.
  void plan_next(bool observe, bool table) {
    observe_ = observe;
    table_hint_ = table;
  }
  vhost::Outcome step(const vhost::Op& op);  // throws SkippedOp
  void finish();                             // disconnects; after() holds the peer's fds
  void reap() {}                             // DPDK's fds cannot be closed from outside

  // Peer fd counts when the trace started / after finish().
  const FdCounts& baseline() const { return baseline_; }
  const FdCounts& after() const { return after_; }

 private:
  void connect();
  void disconnect();
  void transmit(std::vector<uint8_t> bytes, const std::vector<vhost::FdSpec>& fds,
                vhost::Outcome& out);
  void await_table(vhost::Outcome& out);
  void collect(size_t barrier_replies_expected, bool barrier, int wait_ms, vhost::Outcome& out);

  DpdkPeer& peer_;
  vhost::Frontend fe_;
  bool started_ = false;
  bool listen_sent_ = false;         // a POSTCOPY_LISTEN went out on this connection
  bool awaiting_ack_ = false;        // the last reply was a postcopy memory table
  bool released_ = true;             // the connection is closed and DPDK has handled it
  size_t pending_get_features_ = 0;  // unobserved GET_FEATURES frames sent since the last barrier
  bool observe_ = true;
  std::optional<bool> table_hint_;  // unset: the per-op mode
  FdCounts baseline_, after_, last_;
};

}  // namespace lockstep::peers::dpdk
