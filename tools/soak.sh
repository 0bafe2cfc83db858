#!/usr/bin/env bash
# tools/soak.sh SECONDS [REPORT] [tools/soak.py options]: builds the fuzz targets (preset fuzz:
# clang, libFuzzer, ASan+UBSan) and the daemon with its hostile load (preset default), then
# soaks them all at once for SECONDS of wall time (tools/soak.py says what runs and what it
# writes). REPORT defaults to build/soak/soak.md; the committed long run is docs/soak.md.
# Exit status: 0 no finding, 1 a finding, 2 usage, 3 a binary could not be built.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
  echo "usage: tools/soak.sh SECONDS [REPORT] [--nice N] [--pause P] [--mutant TARGET=NAME] [--daemon-inject stall] [--cpu-seconds C] [--work DIR]" >&2
  exit 2
fi
seconds=$1
shift
report=build/soak/soak.md
if [[ $# -gt 0 && $1 != --* ]]; then
  report=$1
  shift
fi
build() {
  [[ -f build/$1/build.ninja ]] || cmake --preset "$1" >/dev/null
  cmake --build "build/$1" --target "${@:2}" >/dev/null
}
build fuzz fuzz_mshv_device fuzz_vhost_postcopy || exit 3
build default lockstep-vhost-backend vhost_hostile || exit 3
exec python3 tools/soak.py --seconds "$seconds" --report "$report" "$@"
