#!/usr/bin/env bash
# README command 1: install, build, then the main job: a bounded differential campaign per
# protocol (the shipped corpus replayed, then random and mutated inputs) with a summary table.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_PROTOCOL="${SECONDS_PER_PROTOCOL:-20}"
bash tools/install-deps.sh
cmake --preset default
cmake --build build/default -j"$(nproc)"
status=0
./build/default/tools/lockstep run mshv --seconds "$SECONDS_PER_PROTOCOL" || status=1
exit $status
