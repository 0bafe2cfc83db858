// Waiting, bounded, for a child process the test started (tests/vhost/daemon_test.cc,
// tests/monitor/scripted_frontend_test.cc).
#pragma once
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

namespace lockstep::testing_support {

// Waits up to `ms` for the child `*pid` to exit by itself; its exit status, or -1 (still running,
// or it did not exit normally). *pid becomes -1 once the child is reaped.
inline int wait_child_exit(pid_t* pid, int ms) {
  for (int waited = 0; *pid > 0 && waited <= ms; waited += 10) {
    int status = 0;
    if (::waitpid(*pid, &status, WNOHANG) == *pid) {
      *pid = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    ::usleep(10000);
  }
  return -1;
}

}  // namespace lockstep::testing_support
