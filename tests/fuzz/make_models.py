#!/usr/bin/python3
"""Writes models/encoder-tiny.i2ig, the small valid encoder the model-loading
fuzzer (fuzz_model.c) mutates: BiomedCLIP's layout and key names through the
real converter, at a toy size (2 ViT blocks of width 16, 1 BERT layer, 8
text tokens, 48-word vocabulary) so that each fuzz input loads in well
under a millisecond. Committed; rerun only if the encoder file layout
changes:

    /usr/bin/python3 tests/fuzz/make_models.py
"""

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [os.path.join(ROOT, "tools", "convert"), os.path.join(ROOT, "bindings", "python")]

import biomedclip_to_i2ig as conv  # noqa: E402
import make_synthetic_biomedclip as ms  # noqa: E402

ms.SIZES["tiny"] = dict(v_width=16, v_depth=2, v_mlp=32, image=16, patch=8, embed=8,
                        t_width=16, t_depth=1, t_mlp=32, max_pos=12, vocab=48, types=2)


def main():
    os.environ.setdefault("SOURCE_DATE_EPOCH", "1767225600")
    out = os.path.join(HERE, "models", "encoder-tiny.i2ig")
    with tempfile.TemporaryDirectory() as tmp:
        ckpt, vocab = ms.make(tmp, "tiny", seed=3)
        opt = conv.parse_args([ckpt, vocab, out, "--context-length", "8", "--vision-heads", "2",
                               "--text-heads", "2", "--taps", "0,1", "--n-cls", "2"])
        conv.convert(ckpt, vocab, out, "f32", opt)
    print("wrote", out, os.path.getsize(out), "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
