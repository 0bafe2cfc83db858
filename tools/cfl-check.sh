#!/usr/bin/env bash
# Runs .clusterfuzzlite/build.sh the way OSS-Fuzz and ClusterFuzzLite do, then checks what it
# built, for three jobs: libFuzzer + ASan, libFuzzer + UBSan, AFL++ + ASan.
#
#   tools/cfl-check.sh SCRATCH [JOB...]        JOB: libfuzzer-address libfuzzer-undefined
#                                                   afl-address (default: all three)
#
# Per job, in SCRATCH/<job>/: $SRC (src/lockstep -> this checkout), a fresh $OUT (out/) and a
# $WORK (work/) kept between runs, so a second run rebuilds only what changed. build.sh runs in
# a clean environment holding only what OSS-Fuzz's `compile` exports: CC, CXX, CFLAGS and
# CXXFLAGS (-stdlib=libc++, the sanitizer's flags and, for libFuzzer, -fsanitize=fuzzer-no-link),
# LIB_FUZZING_ENGINE, SANITIZER, FUZZING_ENGINE, SRC, OUT, WORK. Then, as OSS-Fuzz's build check
# does, every target in $OUT must
#   - come with <target>_seed_corpus.zip, <target>.dict and <target>.options;
#   - run its unzipped seed corpus and exit 0: libFuzzer for RUNS (default 2000) mutations with
#     the .options arguments, an AFL++ binary once per seed file;
#   - crash with the expected signature on a deliberately broken implementation
#     (LOCKSTEP_IMPL_MUTANT, fuzz_vhost_postcopy).
#
# One difference from OSS-Fuzz: Debian's libFuzzer runtime is built against libstdc++ (OSS-Fuzz's
# carries its own libc++), so libFuzzer jobs here link -fsanitize=fuzzer plus libstdc++.so.6.
# ccache is used when it is on PATH (CMAKE_<LANG>_COMPILER_LAUNCHER).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="${1:?usage: tools/cfl-check.sh SCRATCH [JOB...]}"
shift
jobs=("$@")
[ ${#jobs[@]} -gt 0 ] || jobs=(libfuzzer-address libfuzzer-undefined afl-address)
RUNS="${RUNS:-2000}"
mkdir -p "$scratch"
scratch="$(cd "$scratch" && pwd)"

# OSS-Fuzz's base-builder defaults (SANITIZER_FLAGS_*; UBSan without checks clang 14 lacks).
base_flags="-O1 -fno-omit-frame-pointer -gline-tables-only -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"
asan_flags="-fsanitize=address -fsanitize-address-use-after-scope"
ubsan_checks="array-bounds,bool,builtin,enum,float-divide-by-zero,function,integer-divide-by-zero,null,object-size,return,returns-nonnull-attribute,shift,signed-integer-overflow,unreachable,vla-bound,vptr"
ubsan_flags="-fsanitize=$ubsan_checks,unsigned-integer-overflow -fno-sanitize-recover=$ubsan_checks"
afl_driver="$(dpkg -L afl++ 2>/dev/null | grep '/libAFLDriver\.a$' || true)"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-silence_unsigned_overflow=1:print_stacktrace=1}"

fail() {
  echo "cfl-check: FAIL: $*" >&2
  exit 1
}

# build JOB: runs build.sh for one job in a clean environment.
build() {
  local job="$1" engine="${1%%-*}" sanitizer="${1#*-}" dir="$scratch/$1"
  local cc cxx engine_link coverage="" sanitizer_flags
  case "$sanitizer" in
    address) sanitizer_flags="$asan_flags" ;;
    undefined) sanitizer_flags="$ubsan_flags" ;;
    *) fail "unknown sanitizer in job $job" ;;
  esac
  case "$engine" in
    libfuzzer)
      cc=clang-14 cxx=clang++-14 coverage="-fsanitize=fuzzer-no-link"
      engine_link="-fsanitize=fuzzer -l:libstdc++.so.6" ;;
    afl)
      [ -n "$afl_driver" ] || fail "afl++ is not installed (no libAFLDriver.a)"
      cc=afl-clang-fast cxx=afl-clang-fast++ engine_link="$afl_driver" ;;
    *) fail "unknown engine in job $job" ;;
  esac
  mkdir -p "$dir/src" "$dir/work"
  ln -sfn "$root" "$dir/src/lockstep"
  rm -rf "$dir/out" && mkdir -p "$dir/out"
  local cflags="$base_flags $sanitizer_flags $coverage"
  local launcher=()
  if command -v ccache >/dev/null; then
    launcher=(CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache
              "CCACHE_DIR=${CCACHE_DIR:-${HOME:-$scratch}/.cache/ccache}" "CCACHE_BASEDIR=${CCACHE_BASEDIR:-}")
  fi
  echo "cfl-check: $job: build.sh (CC=$cc, LIB_FUZZING_ENGINE=$engine_link)"
  (cd "$dir/src/lockstep" &&
    env -i PATH="$PATH" HOME="${HOME:-$scratch}" "${launcher[@]}" AFL_QUIET=1 \
      ASAN_OPTIONS=detect_leaks=0 CC="$cc" CXX="$cxx" CCC="$cxx" \
      CFLAGS="$cflags" CXXFLAGS="$cflags -stdlib=libc++" LIB_FUZZING_ENGINE="$engine_link" \
      SANITIZER="$sanitizer" FUZZING_ENGINE="$engine" ARCHITECTURE=x86_64 FUZZING_LANGUAGE=c++ \
      SRC="$dir/src" OUT="$dir/out" WORK="$dir/work" \
      bash -eu "$root/.clusterfuzzlite/build.sh") >"$dir/build.log" 2>&1 ||
    { tail -40 "$dir/build.log" >&2; fail "$job: build.sh failed (log: $dir/build.log)"; }
}

# libfuzzer_args OPTIONS_FILE: the [libfuzzer] section as arguments (dict relative to $OUT).
libfuzzer_args() {
  local out="$(dirname "$1")"
  awk -v out="$out" '
    /^\[/ { section = $0; next }
    section == "[libfuzzer]" && /=/ {
      split($0, kv, "="); key = kv[1]; value = kv[2]
      gsub(/[ \t]/, "", key); gsub(/[ \t]/, "", value)
      if (key == "dict") value = out "/" value
      printf "-%s=%s\n", key, value
    }' "$1"
}

# check_target JOB TARGET: artefacts, seed corpus run, mutant crash.
check_target() {
  local job="$1" target="$2" engine="${1%%-*}" dir="$scratch/$1"
  local out="$dir/out" seeds="$dir/seeds/$target"
  for artefact in "${target}_seed_corpus.zip" "$target.dict" "$target.options"; do
    [ -s "$out/$artefact" ] || fail "$job: $target: no $artefact in \$OUT"
  done
  rm -rf "$seeds" "$dir/new/$target" && mkdir -p "$seeds" "$dir/new/$target"
  unzip -q "$out/${target}_seed_corpus.zip" -d "$seeds"
  local count
  count=$(find "$seeds" -type f | wc -l)
  [ "$count" -gt 0 ] || fail "$job: $target: empty seed corpus"
  local log="$dir/$target.run.log"
  if [ "$engine" = libfuzzer ]; then
    mapfile -t args < <(libfuzzer_args "$out/$target.options")
    "$out/$target" "${args[@]}" -runs="$RUNS" -seed=1 "$dir/new/$target" "$seeds" >"$log" 2>&1 ||
      { tail -40 "$log" >&2; fail "$job: $target: the seed corpus run failed (log: $log)"; }
  else
    for seed in "$seeds"/*; do
      "$out/$target" "$seed" >>"$log" 2>&1 ||
        { tail -40 "$log" >&2; fail "$job: $target: $seed failed (log: $log)"; }
    done
  fi
  echo "cfl-check: $job: $target: $count seeds ran clean"
}

# check_mutant JOB: the broken back-end must crash with its signature.
check_mutant() {
  local job="$1" engine="${1%%-*}" dir="$scratch/$1" target=fuzz_vhost_postcopy
  local mutant=end-keeps-uffd signature="lockstep: divergence vhost/POSTCOPY_END/resources.uffds"
  local log="$dir/mutant.log" seeds="$dir/seeds/$target" status=0
  : >"$log"
  if [ "$engine" = libfuzzer ]; then
    LOCKSTEP_IMPL_MUTANT=$mutant "$dir/out/$target" -runs=0 \
      -artifact_prefix="$dir/" "$seeds" >"$log" 2>&1 || status=$?
  else
    for seed in "$seeds"/*; do
      LOCKSTEP_IMPL_MUTANT=$mutant "$dir/out/$target" "$seed" >>"$log" 2>&1 || status=$?
    done
  fi
  [ "$status" -ne 0 ] || fail "$job: $mutant did not crash $target (log: $log)"
  grep -qF "$signature" "$log" || fail "$job: $mutant crashed without '$signature' (log: $log)"
  echo "cfl-check: $job: $mutant crashes $target with '$signature'"
}

for job in "${jobs[@]}"; do
  build "$job"
  targets=()
  for binary in "$scratch/$job/out"/*; do
    name="$(basename "$binary")"
    [[ -f "$binary" && -x "$binary" && "$name" != *.* ]] && targets+=("$name")
  done
  [ ${#targets[@]} -ge 2 ] || fail "$job: build.sh left ${#targets[@]} fuzz targets in \$OUT"
  for target in "${targets[@]}"; do check_target "$job" "$target"; done
  check_mutant "$job"
done
echo "cfl-check: ${#jobs[@]} jobs passed"
