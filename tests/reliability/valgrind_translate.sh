#!/usr/bin/env bash
# `i2ig translate` under valgrind memcheck: a small random generator from
# `i2ig create-model` translates a 32 x 32 crop of a real bundled CT slice
# (TIFF in, TIFF out) and a PNG. Any invalid read/write, use of
# uninitialised memory, or definitely/indirectly lost block fails.
#   valgrind_translate.sh I2IG_TOOL DATA_DIR
set -euo pipefail
tool="$1"
data="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=2
"$tool" create-model --out "$tmp/model.i2ig" --model-channels 32 --channel-mult 1,1,1,2 \
  --res-blocks 1 --attention 8 --head-channels 32 --context-dim 8 --context-length 4 \
  --embed-dim 4 --classes 2 --domain CT:0:window:-1024:3071 \
  --domain T1:1:percentile:1:99:0:255 >/dev/null
/usr/bin/python3 - "$data" "$tmp" <<'PY'
import sys, numpy as np, tifffile
from PIL import Image
data, tmp = sys.argv[1], sys.argv[2]
ct = tifffile.imread(data + "/ct-head-invesalius.tif", key=54)[112:144, 112:144]
tifffile.imwrite(tmp + "/ct.tif", np.ascontiguousarray(ct), photometric="minisblack")
t1 = tifffile.imread(data + "/mr-t1-colin27.tif", key=50)[96:128, 76:108]
Image.fromarray(np.ascontiguousarray(t1)).save(tmp + "/t1.png")
PY
# oneDNN writes JIT code into anonymous memory: --smc-check=all-non-file;
# its vector tail reads are suppressed (onednn-jit.supp says why).
vg=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
    --show-leak-kinds=definite,indirect --smc-check=all-non-file
    --suppressions="$(dirname "$0")/onednn-jit.supp" -q)
status=0
for args in "--from CT --to T1 $tmp/ct.tif $tmp/out.tif" "--from T1 --to CT $tmp/t1.png $tmp/out.png"; do
  # shellcheck disable=SC2086
  if ! "${vg[@]}" "$tool" translate --model "$tmp/model.i2ig" --quiet $args >"$tmp/log" 2>&1; then
    cat "$tmp/log"
    echo "valgrind: translate $args: FAILED"
    status=1
  else
    echo "valgrind: translate $args: clean"
  fi
done
/usr/bin/python3 -c "import tifffile,sys; a=tifffile.imread(sys.argv[1]); assert a.shape==(32,32) and a.dtype.name=='int16', (a.shape,a.dtype)" "$tmp/out.tif"
exit $status
