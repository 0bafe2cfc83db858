// A vhost-user back-end run as a separate process on a UNIX socket, as every back-end process
// peer runs it (peers/dpdk: dpdk_vhost_peer on librte_vhost; peers/libvhost-user:
// qemu-storage-daemon on libvhost-user). What differs between peers is data (BackendSpec): the
// command line, how the process says it is ready, how long a reply may take; what is shared is
// here: spawn, one connection per trace, a barrier, the process's fds by kind from /proc/PID/fd,
// a spare process swapped in when the fd table grows, and telling a crash from a close.
//
// Connections: the process serves one connection at a time as the campaign sees it. The next
// connection (the standby) is opened only once the previous one is closed, and it is taken only
// after the back-end answered a barrier on it: DPDK's one event thread handles a readable
// connection before it reads from one accepted after that; qemu-storage-daemon accepts the next
// client only after the previous one's teardown (util/vhost-user-server.c vu_accept, "Only one
// vhost-user client is allowed"), so either way the previous connection's teardown is complete
// and the fds counted then are the quiet ones.
//
// Crash and hang: when a connection cannot be reopened (connect refused, EOF at the barrier) the
// process is waited for; if it has died, PeerDied names how (a signal or an exit status). A
// barrier the back-end does not answer within BackendSpec::reply_timeout_ms is PeerHung. Both
// are disagreements at the op that caused them (backend_campaign.h), not campaign failures.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "impl/vhost/frontend.h"

namespace lockstep::peers::backend {

// Counts of one process's open fds by kind (readlink /proc/PID/fd/N).
struct FdCounts {
  int uffd = 0, memfd = 0, eventfd = 0, socket = 0, other = 0;
  int non_socket() const { return uffd + memfd + eventfd + other; }
  bool operator==(const FdCounts&) const = default;
};
FdCounts count_fds(pid_t pid);
std::string to_string(const FdCounts& c);  // "uffd=1 memfd=2 eventfd=0 socket=2 other=9"

// How one back-end peer is started and talked to.
struct BackendSpec {
  std::string name;    // "dpdk_vhost_peer", "qemu-storage-daemon": messages and logs
  std::string binary;  // the program
  // Its arguments; "{socket}" becomes the socket path, "{prefix}" a name unique to the process.
  std::vector<std::string> args;
  // true: ready once the process prints a line starting "ready" on stdout; false: once its
  // socket accepts a connection (that connection becomes the first standby).
  bool ready_line = true;
  int start_timeout_ms = 15000;
  int reply_timeout_ms = 5000;  // a barrier not answered within it is a hang
  // Stopped with SIGTERM and a wait (DPDK removes its runtime files), else SIGKILL at once (a
  // process restarted after every tainting trace: qemu-storage-daemon keeps no state).
  bool graceful_stop = true;
};

// The process died: a disagreement at the op that caused it (signature …/OP/crash).
struct PeerDied : std::runtime_error {
  using std::runtime_error::runtime_error;  // what(): "killed by SIGSEGV", "exited with 1"
};
// The process did not answer a barrier in time (signature …/OP/hang).
struct PeerHung : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The back-end process: started in the constructor (throws std::runtime_error with the reason),
// SIGTERM + wait in the destructor.
class BackendProcess {
 public:
  explicit BackendProcess(BackendSpec spec);
  virtual ~BackendProcess();
  BackendProcess(const BackendProcess&) = delete;
  BackendProcess& operator=(const BackendProcess&) = delete;

  const BackendSpec& spec() const { return spec_; }
  pid_t pid() const { return pid_; }
  const std::string& socket_path() const { return socket_; }
  const std::string& log_path() const { return log_; }
  bool alive();
  void restart();
  // Keeps the back-end's fd table small, so counting it stays cheap: once the fds it leaks pass
  // kSpareAfterHeldFds (or its uffds kSpareAfterUffds), a spare process is started in the
  // background, and the first refresh() after it is ready swaps it in and stops the old one.
  // Called between traces; never waits.
  void refresh();
  size_t replaced() const { return replaced_; }  // processes swapped in by refresh()
  size_t restarts() const { return restarts_; }  // processes started again (died, hung, tainted)
  static constexpr int kSpareAfterHeldFds = 48, kSpareAfterUffds = 32;

  // A connection the back-end has accepted and answered a barrier on; `quiet`: its fds then
  // (every earlier connection's teardown complete). Throws PeerDied / PeerHung.
  vhost::Frontend take_connection(FdCounts* quiet);
  // Closes `fe` (if still open) and returns the back-end's fds once it has handled the close.
  FdCounts release_connection(vhost::Frontend& fe);
  FdCounts fds() const { return count_fds(pid_); }
  const FdCounts& quiet_fds() const { return standby_fds_; }
  // Sends a barrier (GET_FEATURES, answered with no side effect) on a fresh `fe` and reads to
  // its reply. false on EOF; PeerHung after spec().reply_timeout_ms.
  bool barrier(vhost::Frontend& fe);
  // When the process has gone (or goes within a short wait): how it ended.
  std::optional<std::string> death(int wait_ms);

 private:
  struct Spare {};
  BackendProcess(const BackendProcess& like, Spare);  // spawned, not yet ready
  void make_dir();
  void start();
  void spawn();
  bool wait_ready(int timeout_ms);
  bool try_socket();
  void stop();
  void open_standby();
  [[noreturn]] void lost(const std::string& what);
  BackendSpec spec_;
  std::string dir_, socket_, log_;
  pid_t pid_ = -1;
  std::optional<int> status_;  // the wait status, once reaped
  int ready_fd_ = -1;
  std::string ready_line_;
  vhost::Frontend standby_;
  bool standby_answered_ = false;
  FdCounts standby_fds_;
  int fresh_non_socket_ = -1;  // at the first connection of this process
  std::unique_ptr<BackendProcess> spare_;
  size_t replaced_ = 0, restarts_ = 0;
};

}  // namespace lockstep::peers::backend
