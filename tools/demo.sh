#!/usr/bin/env bash
# The demo command: installs what is missing, builds, and runs the main job on
# the bundled real scans, writing what it made to demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-debian.sh build
[ -f build/build.ninja ] || meson setup build --buildtype=release
meson compile -C build
exec ./build/tools/i2ig/i2ig demo --data examples/data --out demo-output "$@"
