#!/bin/sh
# Generator benchmark, ours and PyTorch's side by side in one run: the
# paper-configuration forward at 256^2 batch 1 (median), a 100-slice stack
# (slices/s), and the peak resident memory of `i2ig translate` on one 256^2
# slice with a paper-configuration model (/usr/bin/time -v).
#
# usage: tools/bench/run_generator.sh [threads] [build-dir] [stack]   (defaults: 2, build, 100)
set -eu
threads=${1:-2}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${2:-$root/build}
stack=${3:-100}
case $build in /*) ;; *) build=$PWD/$build ;; esac
[ -f "$build/build.ninja" ] || meson setup "$build" "$root" --buildtype=release
ninja -C "$build" tools/bench/bench_generator tools/i2ig/i2ig >/dev/null
[ -x /usr/bin/time ] || { echo "run_generator.sh: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/tools/bench/bench_generator" "$threads" 256 15 1 "$stack"
/usr/bin/python3 "$root/tools/bench/bench_generator_torch.py" "$threads" 256 15 "$stack"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/tools/i2ig/i2ig" create-model --out "$tmp/paper.i2ig" --domain T1:0:window:0:255 \
  --domain PD:2:window:0:255 >/dev/null
/usr/bin/python3 - "$tmp/slice.tif" <<'PY'
import sys, numpy as np, tifffile
tifffile.imwrite(sys.argv[1], (np.arange(256 * 256) % 251).astype(np.uint8).reshape(256, 256))
PY
/usr/bin/time -v "$build/tools/i2ig/i2ig" translate --model "$tmp/paper.i2ig" --from T1 --to PD \
  --threads "$threads" "$tmp/slice.tif" "$tmp/out.tif" 2>"$tmp/time.txt" >/dev/null
echo "i2ig translate one 256x256 slice (paper config): peak RSS $(awk -F': ' '/Maximum resident/ {printf "%.1f MB", $2/1024}' "$tmp/time.txt"), wall $(awk -F': ' '/Elapsed/ {print $2}' "$tmp/time.txt")"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
