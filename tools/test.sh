#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-debian.sh test
[ -f build/build.ninja ] || meson setup build --buildtype=release
meson compile -C build
meson test -C build --print-errorlogs --num-processes "$(nproc)" "$@"

# The same library built with AddressSanitizer + UndefinedBehaviorSanitizer
# (second build directory; docs/reliability.md) runs the whole suite again,
# with leak detection on for the Check suites. Left out, by name, with the
# reason printed: the RSS-based leak test (ASan's quarantine keeps freed
# memory, so RSS grows by design; LeakSanitizer covers leaks).
# I2IG_SKIP_SANITIZE=1 skips this part; so do test-name arguments.
if [ "${I2IG_SKIP_SANITIZE:-0}" = 1 ] || [ $# -gt 0 ]; then exit 0; fi
[ -f build-asan/build.ninja ] || meson setup build-asan --buildtype=debugoptimized \
  -Db_sanitize=address,undefined -Db_lundef=false
meson compile -C build-asan
skip='py_bindings_leak'
mapfile -t all < <(meson test -C build-asan --list 2>/dev/null | grep ' / ')
run=()
for t in "${all[@]}"; do
  name="${t##* / }"
  if [[ "$name" =~ ^($skip)$ ]]; then echo "sanitizer run: $name not run under ASan (see tools/test.sh)"
  else run+=("$name"); fi
done
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
meson test -C build-asan --print-errorlogs --num-processes "$(nproc)" "${run[@]}"
