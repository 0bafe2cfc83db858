#!/usr/bin/env bash
# README command 2: install, build and pass the whole test suite (what .ci/run runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake --preset default
cmake --build build/default -j"$(nproc)"
ctest --preset default
# The same tests under AddressSanitizer + UBSan (no recovery), except the cfl label (its own
# sanitizer builds) and hostile (its RSS bound cannot hold under ASan's quarantine).
cmake --preset asan
cmake --build build/asan -j"$(nproc)"
ctest --preset asan
# The ThreadSanitizer suite (README "Threads"): about half a minute from an empty build/tsan.
bash tools/tsan.sh
# The two-minute soak (README "Soak"): both fuzz targets under ASan+UBSan and the daemon under
# hostile load at once; then its negative checks: a target fuzzing an impl mutant and a daemon
# that stops answering must each be reported as a finding (exit 1), or the soak could not see one.
bash tools/soak.sh 120
expect_soak_finding() {  # a soak over a deliberately broken variant must exit 1
  set +e
  bash tools/soak.sh 15 build/soak/negative.md "$@" >/dev/null
  local status=$?
  set -e
  if [[ $status -ne 1 ]]; then
    echo "test.sh: the soak did not report $* (exit $status, want 1)" >&2
    exit 1
  fi
}
expect_soak_finding --mutant vhost_postcopy=end-keeps-listening
# A daemon that stops answering is a finding even though the scheduler explains slow probes.
expect_soak_finding --daemon-inject stall
