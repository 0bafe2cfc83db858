#!/usr/bin/env bash
# The ThreadSanitizer suite (README "Threads"): configure and build the tsan preset (only the
# tests of label tsan) and run them. It passes when the stress tests finish with no TSan report
# and every "race" impl mutant is reported as a data race. Extra arguments go to ctest (e.g.
# -R mshv). Builds and test runs take $LOCKSTEP_BUILD_LOCK (default /tmp/lockstep-build.lock)
# when flock exists, so the suite can share a machine with other builds.
set -euo pipefail
cd "$(dirname "$0")/.."
lock=${LOCKSTEP_BUILD_LOCK:-/tmp/lockstep-build.lock}
locked() {
  if command -v flock >/dev/null; then flock "$lock" "$@"; else "$@"; fi
}
cmake --preset tsan
locked cmake --build --preset tsan
locked ctest --preset tsan "$@"
