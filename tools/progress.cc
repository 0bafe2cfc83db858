#include "tools/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <utility>

// term.h defines macros named after every terminfo capability (lines, columns, cr, ...): it
// comes last, and only this file includes it.
#include <curses.h>
#include <term.h>

namespace lockstep::tools {
namespace {

// The terminal's capabilities, looked up once per process; empty when stderr is no terminal
// terminfo can drive.
struct Terminal {
  const char* cr = nullptr;  // carriage_return
  const char* el = nullptr;  // clr_eol
  bool ok() const { return cr && el; }
  Terminal() {
    int err = 0;
    if (!isatty(STDERR_FILENO) || setupterm(nullptr, STDERR_FILENO, &err) != OK) return;
    auto cap = [](const char* name) -> const char* {
      const char* s = tigetstr(name);
      return s == reinterpret_cast<const char*>(-1) ? nullptr : s;
    };
    cr = cap("cr");
    el = cap("el");
  }
  ~Terminal() {
    if (cur_term) del_curterm(cur_term);
  }
};

const Terminal& terminal() {
  static const Terminal t;
  return t;
}

int put_stderr(int c) {
  return std::fputc(c, stderr);
}

// The width to stay within, so that the line never wraps (a wrapped line cannot be redrawn).
size_t columns_of_stderr() {
  winsize ws{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  const int n = tigetnum("cols");
  return n > 0 ? static_cast<size_t>(n) : 80;
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, s < 100 ? "%.1f s" : "%.0f s", s);
  return buf;
}

}  // namespace

Progress::Progress(std::string label)
    : label_(std::move(label)), enabled_(terminal().ok()), start_(Clock::now()) {}

void Progress::phase(std::string name, std::string unit, size_t total) {
  phase_ = std::move(name);
  unit_ = std::move(unit);
  total_ = total;
  deadline_ = {};
  done_ = 0;
  start_ = Clock::now();
}

void Progress::phase_until(std::string name, std::string unit, Deadline deadline) {
  phase(std::move(name), std::move(unit), 0);
  deadline_ = deadline;
}

void Progress::update(size_t done) {
  done_ = done;
  if (!enabled_) return;
  const auto now = Clock::now();
  if (shown_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  draw(now);
}

std::string Progress::line(Clock::time_point now) const {
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? done_ / elapsed : 0;
  std::string l = label_ + ": " + phase_ + " " + std::to_string(done_);
  if (total_) l += "/" + std::to_string(total_);
  char buf[48];
  std::snprintf(buf, sizeof buf, " %s, %.0f/s, ", unit_.c_str(), rate);
  l += buf + seconds(elapsed) + " elapsed";
  if (deadline_ != Deadline{}) {
    l += ", " + seconds(std::max(0.0, std::chrono::duration<double>(deadline_ - now).count())) +
         " left";
  } else if (total_ && done_ && rate > 0) {
    l += ", ~" + seconds((total_ - std::min(done_, total_)) / rate) + " left";
  }
  return l;
}

void Progress::draw(Clock::time_point now) {
  std::string l = line(now);
  const size_t width = columns_of_stderr();
  if (l.size() >= width) l.resize(width - 1);  // ASCII only: bytes are columns
  tputs(terminal().cr, 1, put_stderr);
  tputs(terminal().el, 1, put_stderr);
  std::fputs(l.c_str(), stderr);
  std::fflush(stderr);
  shown_ = true;
  last_draw_ = now;
}

void Progress::clear() {
  if (!enabled_ || !shown_) return;
  tputs(terminal().cr, 1, put_stderr);
  tputs(terminal().el, 1, put_stderr);
  std::fflush(stderr);
  shown_ = false;
}

}  // namespace lockstep::tools
