// Ctrl-C during a long command: the first SIGINT/SIGTERM asks the command to stop at the next
// trace boundary, so it still prints its summary and writes its findings; a second one kills.
#pragma once
#include <atomic>
#include <csignal>

namespace lockstep::tools {

inline std::atomic<bool>& interrupt_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}

inline void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = [](int) { interrupt_flag().store(true); };
  sa.sa_flags = SA_RESETHAND;  // the second signal takes the default action
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

inline bool interrupted() {
  return interrupt_flag().load(std::memory_order_relaxed);
}

}  // namespace lockstep::tools
