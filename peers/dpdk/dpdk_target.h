// DpdkTarget: a Target (core/run.h) that runs vhost-user traces against DPDK 22.11's
// librte_vhost, through the dpdk_vhost_peer program (peers/dpdk/dpdk_vhost_peer.c) over its real
// UNIX socket, driven by impl/vhost's Frontend.
//
// One peer process per DpdkPeer (started once, kept across traces: it takes ~1.3 s to start);
// every trace starts with a fresh connection. After each op the target sends a barrier
// (GET_FEATURES, which DPDK answers with no side effect) and reads until the barrier's reply,
// so every reply the op caused is collected without guessing timeouts, and a close is seen as
// EOF. Where a barrier would change what DPDK does (a trailing partial header would be
// completed by it; the message after a postcopy SET_MEM_TABLE is taken as its ack), the target
// waits a short timeout instead.
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
// After the trace (finish(): disconnect, wait for DPDK to settle) the peer's non-socket fd
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
  explicit DpdkPeer(std::string binary = default_peer_binary());
  ~DpdkPeer();
  DpdkPeer(const DpdkPeer&) = delete;
  DpdkPeer& operator=(const DpdkPeer&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& socket_path() const { return socket_; }
  const std::string& log_path() const { return log_; }
  bool alive();
  void restart();

 private:
  void start();
  void stop();
  std::string binary_, dir_, socket_, log_;
  pid_t pid_ = -1;
};

class DpdkTarget {
 public:
  explicit DpdkTarget(DpdkPeer& peer) : peer_(peer) {}
  ~DpdkTarget() { finish(); }
  DpdkTarget(const DpdkTarget&) = delete;
  DpdkTarget& operator=(const DpdkTarget&) = delete;

  vhost::Outcome step(const vhost::Op& op);  // throws SkippedOp
  void finish();                             // disconnects and waits for DPDK to settle
  void reap() {}                             // DPDK's fds cannot be closed from outside

  // Peer fd counts when the trace started / now.
  const FdCounts& baseline() const { return baseline_; }
  FdCounts current() const { return count_fds(peer_.pid()); }

 private:
  void connect();
  void disconnect();
  FdCounts settle() const;
  void transmit(std::vector<uint8_t> bytes, const std::vector<vhost::FdSpec>& fds,
                vhost::Outcome& out);
  void collect(size_t barrier_replies_expected, bool barrier, int wait_ms, vhost::Outcome& out);

  DpdkPeer& peer_;
  vhost::Frontend fe_;
  bool started_ = false;
  bool listen_sent_ = false;   // a POSTCOPY_LISTEN went out on this connection
  bool awaiting_ack_ = false;  // the last reply was a postcopy memory table
  FdCounts baseline_;
};

}  // namespace lockstep::peers::dpdk
