#!/usr/bin/env bash
# README command 1: install, build, then the main job:
#   - per protocol, a bounded differential campaign (the shipped corpus replayed, then random
#     and mutated inputs for SECONDS_PER_PROTOCOL seconds) ending in a summary table;
#   - the Z3 proofs of both models' invariants, every profile and negative variant.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_PROTOCOL="${SECONDS_PER_PROTOCOL:-20}"
bash tools/install-deps.sh
cmake --preset default
cmake --build build/default -j"$(nproc)"
status=0
for protocol in mshv vhost; do
  ./build/default/tools/lockstep run "$protocol" --seconds "$SECONDS_PER_PROTOCOL" || status=1
done
./build/default/tools/lockstep prove || status=1   # both protocols, one run
exit $status
