// Progress of a long command (`lockstep run`, `peer`, `prove`) on stderr: one line redrawn in
// place, at most ten times a second, with the phase, what is done (of how many, when known), the
// rate, the elapsed and the remaining time. Only when stderr is a terminal whose terminfo entry
// has a carriage return and a clear-to-end-of-line (ncurses' setupterm/tigetstr/tputs): a pipe, a
// log file or a dumb terminal gets no progress at all, so what a script reads is unchanged.
#pragma once
#include <chrono>
#include <cstddef>
#include <string>

namespace lockstep::tools {

class Progress {
 public:
  using Clock = std::chrono::steady_clock;
  // A deadline as the commands compute it (start + duration<double>(seconds)).
  using Deadline = std::chrono::time_point<Clock, std::chrono::duration<double>>;

  // `label` heads the line: "lockstep run mshv".
  explicit Progress(std::string label);
  ~Progress() { clear(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  bool enabled() const { return enabled_; }
  // A phase of `total` items (the remaining time follows from the rate), or one that ends at
  // `deadline`. `unit` names the items: "traces", "rows".
  void phase(std::string name, std::string unit, size_t total);
  void phase_until(std::string name, std::string unit, Deadline deadline);
  // `done` items of the phase so far; redraws if the last draw is 100 ms old or more.
  void update(size_t done);
  // Erases the line, so other output starts at column 0; the next update draws it again.
  void clear();

  // The line as drawn (without terminal control), for the given moment: the tests read it.
  std::string line(Clock::time_point now) const;

 private:
  void draw(Clock::time_point now);

  std::string label_, phase_, unit_;
  bool enabled_ = false, shown_ = false;
  size_t done_ = 0, total_ = 0;  // total_ 0: a phase bounded by its deadline (or unbounded)
  Clock::time_point start_, last_draw_{};
  Deadline deadline_{};
};

}  // namespace lockstep::tools
