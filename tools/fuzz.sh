#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz) with clang + ASan + UBSan and
# runs each for a chosen time.
#
#   tools/fuzz.sh [SECONDS] [HARNESS...]    default: 60 s each, every harness
#   FUZZ_JOBS=2 tools/fuzz.sh 1800 weights  two processes on one harness
#   FUZZ_RUNS=10000000 tools/fuzz.sh 1800   stop at 10 million executions
#                                           or 30 minutes, whichever first
#
# Harnesses: weights image_stb image_tiff wordpiece model. Each starts from
# the committed seeds (tests/fuzz/corpus/NAME) plus what earlier runs found
# (build-fuzz/corpus/NAME, kept between runs, not committed). A crash, leak
# or timeout stops the harness, leaves the reproducer in
# build-fuzz/artifacts/NAME/ and makes the script exit non-zero. The last
# lines of each log (build-fuzz/logs/NAME.log) give executions, coverage
# and corpus size.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
all=(weights image_stb image_tiff wordpiece model)
harnesses=("${@:-${all[@]}}")
bd=build-fuzz

if [ ! -f "$bd/build.ninja" ]; then
  CC=clang meson setup "$bd" -Dfuzzing=true -Dtests=false -Db_sanitize=address,undefined \
    -Db_lundef=false -Dbuildtype=debugoptimized >/dev/null
fi
ninja -C "$bd" $(printf 'tests/fuzz/fuzz_%s ' "${harnesses[@]}") >/dev/null

# UBSan findings are errors, not warnings; allocations above 2 GiB are
# findings (-malloc_limit_mb), as is any input running over 10 s.
# tests/fuzz/ubsan.supp: UB in third-party code that is not a memory error.
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/fuzz/ubsan.supp
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export OMP_NUM_THREADS=1
status=0
for h in "${harnesses[@]}"; do
  corpus="$bd/corpus/$h"
  mkdir -p "$corpus" "$bd/artifacts/$h" "$bd/logs"
  seeds="tests/fuzz/corpus/$h"
  dict=()
  [ -f "tests/fuzz/$h.dict" ] && dict=(-dict="tests/fuzz/$h.dict")
  jobs=()
  [ -n "${FUZZ_JOBS:-}" ] && jobs=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
  [ -n "${FUZZ_RUNS:-}" ] && jobs+=(-runs="$FUZZ_RUNS")
  echo "fuzz: $h for ${secs}s"
  if ! "$bd/tests/fuzz/fuzz_$h" "$corpus" "$seeds" "${dict[@]}" "${jobs[@]}" \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -malloc_limit_mb=2048 \
      -max_len=1048576 -print_final_stats=1 -artifact_prefix="$bd/artifacts/$h/" \
      >"$bd/logs/$h.log" 2>&1; then
    echo "fuzz: $h FOUND SOMETHING: see $bd/logs/$h.log and $bd/artifacts/$h/"
    status=1
  fi
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)' "$bd/logs/$h.log" || true
done
exit $status
