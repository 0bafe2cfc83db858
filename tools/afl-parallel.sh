#!/usr/bin/env bash
# A parallel AFL++ campaign on one machine, for when one fuzzer process is not enough but a
# ClusterFuzzLite or OSS-Fuzz deployment is more than needed (docs/continuous-fuzzing.md).
#
#   tools/afl-parallel.sh SECONDS [N] [TARGET]      TARGET: mshv_device (default), vhost_postcopy
#
# Builds the afl and afl-cmplog presets, then runs N afl-fuzz instances (default: one per core)
# for SECONDS over corpus/TARGET/ with fuzz/fuzz_TARGET.dict: one main (-M) and N-1 secondaries
# (-S), the first secondary with the CMPLOG binary (-c; the main when N is 1). Then it prints
# afl-whatsup's totals, lists crashes, and minimises every queue plus the shipped corpus with
# afl-cmin into OUT/merge/: the inputs not yet in corpus/TARGET/, named afl-<sha1>.bin, ready to
# copy there. OUT is build/afl-parallel/TARGET (AFL_PARALLEL_OUT overrides); it is recreated.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:?usage: tools/afl-parallel.sh SECONDS [N] [TARGET]}"
instances="${2:-$(nproc)}"
name="${3:-mshv_device}"
target="fuzz_$name"
out="${AFL_PARALLEL_OUT:-build/afl-parallel/$name}"
[ -d "corpus/$name" ] || { echo "afl-parallel: no corpus/$name" >&2; exit 2; }
[ "$instances" -ge 1 ] || { echo "afl-parallel: N must be at least 1" >&2; exit 2; }

for preset in afl afl-cmplog; do
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" --target "$target" >/dev/null
done
binary="build/afl/fuzz/$target"
cmplog_binary="build/afl-cmplog/fuzz/$target"

rm -rf "$out" && mkdir -p "$out"
# No UI (the instances run in the background); no CPU binding (the machine may be shared); a
# crash is found by the fork server either way, whatever /proc/sys/kernel/core_pattern says.
export AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
# afl-fuzz starts each fork server in a session of its own, and a persistent-mode child can be
# left stopped when afl-fuzz exits (seen with CMPLOG), outside the instance's process group. So
# the fork servers are noted while the instances run, and what is left in their sessions that
# runs one of this build's targets is ended too.
pids=() servers=()
stop_instances() {
  local pid session
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  for session in $(printf '%s\n' "${servers[@]}" | sort -u); do
    for pid in $(pgrep -s "$session" || true); do
      [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == "$PWD/build/afl"* ]] && kill -KILL "$pid"
    done
  done
  return 0
}
trap stop_instances EXIT
for ((i = 0; i < instances; i++)); do
  role=(-S "secondary$i")
  [ "$i" -eq 0 ] && role=(-M main)
  cmplog=()
  if [ "$i" -eq 1 ] || [ "$instances" -eq 1 ]; then cmplog=(-c "$cmplog_binary"); fi
  # Each instance leads a process group of its own, ended with it.
  setsid afl-fuzz "${role[@]}" "${cmplog[@]}" -i "corpus/$name" -o "$out/sync" \
    -x "fuzz/$target.dict" -V "$seconds" -- "$binary" >"$out/instance$i.log" 2>&1 &
  pids+=($!)
done
echo "afl-parallel: $instances instances of $target for ${seconds}s (logs: $out/instance*.log)"
while [ -n "$(jobs -rp)" ]; do
  for pid in "${pids[@]}"; do servers+=($(pgrep -P "$pid" || true)); done
  sleep 2
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
stop_instances
[ "$status" -eq 0 ] || { echo "afl-parallel: an afl-fuzz instance failed; see its log" >&2; }

# -d: the instances have stopped; their stats still count. (tput complains without a terminal.)
afl-whatsup -s -d "$out/sync" 2>/dev/null | sed -n '/Summary/,$p'
for stats in "$out"/sync/*/fuzzer_stats; do
  awk -v instance="$(basename "$(dirname "$stats")")" -F' *: *' '
    { value[$1] = $2 }
    END { printf "  %-12s %10s execs  %9s execs/s  stability %s  crashes %s\n", instance,
          value["execs_done"], value["execs_per_sec"], value["stability"], value["saved_crashes"] }
  ' "$stats"
done
crashes=$(find "$out/sync" -path '*/crashes/id:*' -type f | wc -l)
echo "afl-parallel: $crashes crashing inputs"
if [ "$crashes" -gt 0 ]; then
  find "$out/sync" -path '*/crashes/id:*' -type f | head -5
  echo "afl-parallel: replay one with: build/default/tools/lockstep replay FILE"
fi

# Every queue (instances share names, so each is copied under its instance's prefix) plus the
# shipped corpus, minimised to the inputs that keep the union's coverage.
mkdir -p "$out/all" "$out/merge"
cp "corpus/$name"/* "$out/all/"
for queue in "$out"/sync/*/queue; do
  instance="$(basename "$(dirname "$queue")")"
  for input in "$queue"/id:*; do
    [ -f "$input" ] && cp "$input" "$out/all/$instance-$(basename "$input" | tr ':,' '__')"
  done
done
afl-cmin -i "$out/all" -o "$out/cmin" -- "$binary" >"$out/cmin.log" 2>&1 ||
  { tail -20 "$out/cmin.log" >&2; exit 1; }
known="$(sha1sum "corpus/$name"/* | cut -d' ' -f1)"
for input in "$out/cmin"/*; do
  sum="$(sha1sum "$input" | cut -d' ' -f1)"
  grep -qx "$sum" <<<"$known" || cp "$input" "$out/merge/afl-$sum.bin"
done
echo "afl-parallel: $(ls "$out/cmin" | wc -l) inputs keep the coverage of $(ls "$out/all" | wc -l);" \
  "$(ls "$out/merge" | wc -l) are new: cp $out/merge/*.bin corpus/$name/"
exit "$status"
