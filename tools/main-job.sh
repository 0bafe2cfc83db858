#!/usr/bin/env bash
# README command 1: install, build, then the main job, which ends with one screen
# (`lockstep summary`, tools/summary.h) rendered from the --json documents of:
#   - per protocol, a bounded differential campaign (`lockstep run`: the shipped corpus replayed,
#     then random and mutated inputs for SECONDS_PER_PROTOCOL seconds, default 20);
#   - the Z3 proofs of both models' invariants, every profile and negative variant (`lockstep
#     prove`), shown as one matrix per protocol;
#   - each real peer (`lockstep peer kvm|dpdk`) for PEER_SECONDS seconds (default 3) where it can
#     run (KVM where /dev/kvm opens, DPDK where it is installed); the others say why not.
# Exit code (tools/exit_codes.h): 0 everything checked agreed; 1 a finding (a divergence, an fd
# leak, an unexpected proof result, a peer disagreement the expectations file does not explain);
# 2 a command failed (bad usage, or it wrote no readable document); 3 a campaign or the proofs
# could not run here (a peer that cannot run here is only reported); 130 after Ctrl-C (the
# summary still shows what ran). The documents go to a temporary directory removed at exit, or
# are kept in MAIN_JOB_JSON_DIR when that is set.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_PROTOCOL="${SECONDS_PER_PROTOCOL:-20}"
PEER_SECONDS="${PEER_SECONDS:-3}"
bash tools/install-deps.sh
cmake --preset default
cmake --build build/default -j"$(nproc)"
lockstep=./build/default/tools/lockstep

if [ -n "${MAIN_JOB_JSON_DIR:-}" ]; then
  docs="$MAIN_JOB_JSON_DIR"
  mkdir -p "$docs"
else
  docs="$(mktemp -d -t lockstep-main-job.XXXXXX)"
  trap 'rm -rf "$docs"' EXIT
fi
# Ctrl-C: the running command stops at a trace boundary and still writes its document; the
# commands after it are skipped and the summary covers what ran.
interrupted=0
trap 'interrupted=1' INT TERM

# step NAME ARGS...: `lockstep ARGS... --json` into $docs/NAME.json. Its exit code is in the
# document, which the summary reads: the script goes on whatever it was.
step() {
  local name="$1"
  shift
  [ "$interrupted" = 0 ] || return 0
  echo "main job: lockstep $*" >&2
  "$lockstep" "$@" --json > "$docs/$name.json" || true
}
for protocol in mshv vhost; do
  step "run-$protocol" run "$protocol" --seconds "$SECONDS_PER_PROTOCOL"
done
step prove prove
for peer in kvm dpdk; do
  step "peer-$peer" peer "$peer" --seconds "$PEER_SECONDS"
done

echo >&2
status=0
"$lockstep" summary "$docs"/*.json || status=$?
[ "$interrupted" = 0 ] || exit 130
exit "$status"
