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
