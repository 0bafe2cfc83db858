#!/bin/bash -eu
# Builds lockstep's fuzz targets under the OSS-Fuzz build contract, for ClusterFuzzLite
# (.clusterfuzzlite/) and OSS-Fuzz (the same file in oss-fuzz/projects/lockstep/).
#
# In:  $CC $CXX $CFLAGS $CXXFLAGS (compilers and every sanitizer and coverage flag),
#      $LIB_FUZZING_ENGINE (how to link the engine), $SANITIZER $FUZZING_ENGINE (name the build),
#      $SRC/lockstep (the checkout), $WORK (scratch, kept between builds).
# Out: $OUT/<target> for each fuzz/fuzz_*.cc, with <target>_seed_corpus.zip (corpus/<name>/),
#      <target>.dict and <target>.options.
#
# The CMake build adds no sanitizer or engine flag of its own (LOCKSTEP_FUZZ_ONLY) and needs no
# third-party library: only cmake >= 3.25, ninja and zip.
src="$SRC/lockstep"
build="$WORK/lockstep-${FUZZING_ENGINE:-libfuzzer}-${SANITIZER:-address}"

cmake -G Ninja -S "$src" -B "$build" \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
  -DLOCKSTEP_FUZZ_ONLY=ON -DLOCKSTEP_LIB_FUZZING_ENGINE="$LIB_FUZZING_ENGINE"

targets=()
for source in "$src"/fuzz/fuzz_*.cc; do
  targets+=("$(basename "$source" .cc)")
done
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"

for target in "${targets[@]}"; do
  name="${target#fuzz_}"
  cp "$build/fuzz/$target" "$src/fuzz/$target.dict" "$src/fuzz/$target.options" "$OUT/"
  rm -f "$OUT/${target}_seed_corpus.zip"
  (cd "$src/corpus/$name" && zip -q -X -r "$OUT/${target}_seed_corpus.zip" .)
done
