#!/usr/bin/env bash
# ABI gate: compares the public ABI of a built libi2igalip.so with the
# committed baseline (tools/abi/libi2igalip.abi, written by update.sh).
#
#   tools/abi/check.sh LIBRARY.so HEADER_DIR [BASELINE]
#
# Passes when the library only ADDS to the baseline (new functions, new
# types, enumerators appended). Fails on anything else the baseline's
# users would notice: a removed function, a changed signature, a changed
# layout of a public struct, a changed enumerator value -- unless
# I2IG_VERSION_MAJOR was bumped (the soname changes with it), in which case
# it passes and says to refresh the baseline with tools/abi/update.sh.
# Only types reachable from the public header count (--headers-dir); the
# handles are opaque, so their private layout does not (suppressions.txt).
set -euo pipefail
lib="$1"
hdr="$2"
here="$(cd "$(dirname "$0")" && pwd)"
base="${3:-$here/libi2igalip.abi}"
supp="$here/suppressions.txt"

for t in abidw abidiff; do
  command -v "$t" >/dev/null || { echo "abi: $t missing (apt-get install abigail-tools)"; exit 1; }
done
[ -f "$base" ] || { echo "abi: no baseline $base (run tools/abi/update.sh)"; exit 1; }
# Not `readelf | grep -q`: grep -q exits at the first match, readelf then
# dies of SIGPIPE and pipefail turns the match into a failure (flaky).
sections=$(readelf -S "$lib")
if ! grep -q '\.debug_info' <<<"$sections"; then
  echo "abi: $lib has no DWARF; the library is built with -g (lib/meson.build)"
  exit 1
fi

major=$(awk '/define I2IG_VERSION_MAJOR/ {print $3; exit}' "$hdr/i2igalip.h")
base_major=$(sed -n 's/.*soname=.libi2igalip\.so\.\([0-9]*\).*/\1/p' "$base" | head -n1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
abidw --headers-dir "$hdr" --no-corpus-path --drop-private-types --suppressions "$supp" "$lib" \
  > "$tmp/current.abi"

# Added functions and variables are compatible: left out of the report.
# Whatever remains (removed or changed) is an incompatible change.
set +e
abidiff --no-added-syms --no-unreferenced-symbols --suppressions "$supp" "$base" "$tmp/current.abi" \
  > "$tmp/report.txt" 2>&1
rc=$?
set -e
if [ $((rc & 3)) -ne 0 ]; then
  cat "$tmp/report.txt"
  echo "abi: abidiff failed (exit $rc)"
  exit 1
fi
added=$(abidiff --suppressions "$supp" "$base" "$tmp/current.abi" 2>/dev/null | sed -n 's/.*, \([0-9]*\) Added functions*.*/\1/p' | head -n1 || true)
if [ "$rc" -eq 0 ]; then
  echo "abi: compatible with the baseline (major $base_major); ${added:-0} functions added"
  exit 0
fi
cat "$tmp/report.txt"
if [ "$major" != "$base_major" ]; then
  echo "abi: incompatible changes, but I2IG_VERSION_MAJOR went $base_major -> $major:" \
       "allowed; refresh the baseline with tools/abi/update.sh"
  exit 0
fi
echo "abi: INCOMPATIBLE change to the public ABI without a major-version bump (still $major)."
echo "     Restore compatibility, or bump I2IG_VERSION_MAJOR and run tools/abi/update.sh."
exit 1
