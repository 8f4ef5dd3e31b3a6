#!/usr/bin/env bash
# Refreshes the committed ABI baseline from a build, deliberately:
#
#   tools/abi/update.sh [BUILD_DIR]      (default: build)
#
# Run it (and commit tools/abi/libi2igalip.abi) when the ABI changed on
# purpose: after bumping I2IG_VERSION_MAJOR for an incompatible change, or
# to record additions so that later removals of them are caught. The build
# must be a default one (training enabled), so that every public function
# is in the baseline.
set -euo pipefail
cd "$(dirname "$0")/../.."
bd="${1:-build}"
lib="$bd/lib/libi2igalip.so"
[ -f "$lib" ] || { echo "abi: $lib not built (ninja -C $bd)"; exit 1; }
abidw --headers-dir include --no-corpus-path --drop-private-types \
  --suppressions tools/abi/suppressions.txt "$lib" > tools/abi/libi2igalip.abi
n=$(grep -c '<elf-symbol name=.i2ig_' tools/abi/libi2igalip.abi || true)
echo "abi: baseline tools/abi/libi2igalip.abi written from $lib ($n exported functions)"
