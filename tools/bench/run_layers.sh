#!/bin/sh
# Layer benchmark of the compute core, ours and PyTorch's side by side:
# builds bench_layers, runs it, runs bench_layers_torch.py on the same layer
# list, prints one combined table (tools/bench/README.md explains it).
#
# usage: tools/bench/run_layers.sh [threads] [build-dir]    (defaults: 2, build)
# The raw outputs and the table are kept in <build-dir>/bench-layers/.
set -eu

threads=${1:-2}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${2:-$root/build}
py=/usr/bin/python3   # Debian's interpreter with python3-torch
case $build in /*) ;; *) build=$PWD/$build ;; esac

if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root"
fi
ninja -C "$build" tools/bench/bench_layers >/dev/null

# Torch on the reference BLAS would be ~5x slower than it can be.
if ! ls /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 >/dev/null 2>&1; then
    echo "run_layers.sh: libopenblas0-pthread is missing (apt-get install libopenblas0-pthread)" >&2
    exit 1
fi

# The machine is shared: wait (up to IG_BENCH_WAIT seconds, default 900)
# until other processes leave the CPUs mostly idle; every measurement also
# records and retries disturbances itself.
busy_share() {
    a=$(head -1 /proc/stat); sleep 3; b=$(head -1 /proc/stat)
    echo "$a $b" | awk '{ busy = ($13+$14+$15+$18+$19+$20) - ($2+$3+$4+$7+$8+$9);
        total = busy + ($16+$17) - ($5+$6); printf "%.2f", (total > 0 ? busy / total : 0) }'
}
waited=0
while :; do
    share=$(busy_share)
    if awk "BEGIN { exit !($share < 0.10) }"; then break; fi
    if [ "$waited" -ge "${IG_BENCH_WAIT:-900}" ]; then
        echo "# other processes still use $share of the CPUs; running anyway" >&2
        break
    fi
    echo "# other processes use $share of the CPUs; waiting for a quiet machine" >&2
    sleep 12
    waited=$((waited + 15))
done

out=$build/bench-layers
mkdir -p "$out"
stamp=$(date +%Y%m%d-%H%M%S)
ours=$out/ours-$stamp.tsv
torch=$out/torch-$stamp.tsv
table=$out/table-$stamp.txt

start="$(date -Is) load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# bench_layers ($threads threads) -> $ours" >&2
"$build/tools/bench/bench_layers" "$threads" >"$ours"
echo "# bench_layers_torch.py ($threads threads) -> $torch" >&2
"$py" "$root/tools/bench/bench_layers_torch.py" --threads "$threads" "$ours" >"$torch"
{
    echo "Run: start $start; end $(date -Is) load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "Raw: $ours, $torch"
    "$py" "$root/tools/bench/layers_table.py" "$ours" "$torch"
} | tee "$table"
