// `lockstep monitor`: a vhost-user proxy between a real front-end and a real back-end that
// runs the model on the live traffic. It accepts one front-end on `listen`, connects to the
// back-end at `connect`, and forwards every message both ways unaltered (fds passed through
// with SCM_RIGHTS; the monitor inspects its received copies and closes them once sent on).
// Meanwhile it checks
//   - the back-end: each reply against the reply (or close) the model under `profile` predicts
//     for the front-end's request, compared field by field as the differential runner does
//     (core/vhost/ops.h first_wire_difference);
//   - the front-end: the obligations of monitor/rules.def (FE1..FE8).
// Each violation is reported on stderr at once, with the session so far as a program.
// With a perturbation seed, replies reach the front-end after a seeded random delay
// (0..kMaxDelayMs) and some are written in two or three pieces, which widens the windows in
// which a front-end could send before it has its reply.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace lockstep::monitor {

inline constexpr int kMaxDelayMs = 20;    // a reply's delay under --perturb
inline constexpr int kMaxPieceGapMs = 2;  // between the pieces of a split reply
inline constexpr int kDrainMs = 2000;     // after the front-end's EOF, for the back-end's last

struct MonitorOptions {
  std::string listen;   // the socket the front-end connects to (created; removed at the end)
  std::string connect;  // the back-end's listening socket
  std::string profile = "spec";
  std::string record;  // "" = none
  std::optional<uint64_t> perturb;
};

struct MonitorResult {
  int exit_code = 0;       // 0 no violation, 1 a violation, 2 usage, 3 environment
  std::string error;       // for 2 and 3
  nlohmann::json session;  // the session's fields of the --json document (null before one began)
};

// Runs one session (until both sides have closed, or SIGINT/SIGTERM). Progress and violations
// go to stderr; nothing to stdout.
MonitorResult run_monitor(const MonitorOptions& options);

}  // namespace lockstep::monitor
