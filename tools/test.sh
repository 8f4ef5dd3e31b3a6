#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-debian.sh test
[ -f build/build.ninja ] || meson setup build --buildtype=release
meson compile -C build
meson test -C build --print-errorlogs --num-processes "$(nproc)" "$@"
