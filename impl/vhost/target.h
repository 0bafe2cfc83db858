// The Target adapter (core/run.h) for our vhost-user back-end, in-process: a socketpair, a
// Frontend on one end and a Backend on the other, in one thread. step(Send) sends the frame
// (non-blocking; if the socket fills up, the back-end is run and its replies drained in
// between), runs the back-end until it has processed everything that arrived, and collects
// every reply it sent, non-blockingly. The Outcome = those replies (normalised) + whether the
// connection is down + the back-end's resources: its fd counts (uffds, held_fds) from an fd
// census this harness takes after every op (core/fd_census.h: the fds the process holds beyond
// those open before the trace, minus the harness's own socket end, minus the back-end's socket
// end while it is connected), never from Backend::stats(); the mapping state (regions, phase)
// from stats(). The census reads the whole process, so one ImplTarget steps at a time (as the
// MSHV device layer requires of its target). Never includes model/.
#pragma once
#include <memory>
#include <string_view>
#include <vector>

#include "core/fd_census.h"
#include "core/vhost/ops.h"
#include "impl/vhost/backend.h"
#include "impl/vhost/frontend.h"

namespace lockstep::vhost {

class ImplTarget {
 public:
  // "spec" (or a backend_profiles() name) and a Mutant id (impl/vhost/mutants.def, by name
  // through impl/mutants.h); std::invalid_argument for any other profile or mutant.
  explicit ImplTarget(std::string_view profile = "spec", int mutant = 0);
  ImplTarget(ImplTarget&&) = default;
  ImplTarget& operator=(ImplTarget&&) = default;
  ~ImplTarget();

  // A trace starts connected: the first step of a trace opens the connection (so the
  // socketpair is created after run()'s "before" fd snapshot and closed by finish()).
  Outcome step(const Op& op);
  // Closes the front-end's end; the back-end sees EOF and releases everything (rule D1).
  void finish();
  // Closes what outlives a session: only uffds leaked by a mutant back-end.
  void reap();

  // For tests: the current back-end (nullptr before the first step and after finish()).
  Backend* backend() { return be_.get(); }

 private:
  void connect();
  void disconnect();
  void transmit(std::span<const uint8_t> bytes, std::span<const FdSpec> fds, Outcome& out);
  void pump(Outcome& out);
  void drain(Outcome& out);
  void adopt_leaked();
  void count_fds(Resources& res);

  BackendOptions options_;
  std::unique_ptr<Backend> be_;
  Frontend fe_;
  bool started_ = false;
  uint64_t replies_read_ = 0;
  std::vector<UniqueFd> leaked_;
  FdCensus census_;
  std::vector<FdEntry> baseline_;  // fds open before the trace, from floor_ up
  int floor_ = 0;
  FdIdentity front_id_, back_id_;  // the socketpair's ends, read when this harness made them
};

}  // namespace lockstep::vhost
