// The exit codes of every `lockstep` command and of lockstep-vhost-backend, documented in
// README ("Exit codes"). CLI11's own parse-error codes are mapped onto kUsage in main().
#pragma once

namespace lockstep::tools {

enum ExitCode : int {
  kOk = 0,           // success: everything checked agreed
  kFinding = 1,      // a divergence, an fd leak, a failed or vacuous proof, a peer finding
  kUsage = 2,        // bad usage or unreadable/malformed input (the message names file:line:col)
  kEnvironment = 3,  // the machine lacks what the command needs (/dev/kvm, DPDK, QEMU)
};

}  // namespace lockstep::tools
