#!/usr/bin/python3
"""Writes the seed corpora of the fuzz harnesses (tests/fuzz/corpus/NAME):
small valid inputs of every kind each parser accepts, made with independent
writers (numpy weight writer, Pillow, tifffile), so that the fuzzer starts
from deep inside the parsers. Committed; rerun to regenerate:

    /usr/bin/python3 tests/fuzz/make_seeds.py
"""

import io
import os
import sys

import numpy as np
import tifffile
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
from i2igalip import weights  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")


def put(kind, name, data):
    d = os.path.join(CORPUS, kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def weight_seeds(tmp):
    rng = np.random.default_rng(1)
    files = {
        "meta-all-types": ({"a.int": 7, "b.float": 0.25, "c.string": "T1 \u00e9",
                            "d.ints": weights.IntArray([1, 2, 3]),
                            "e.floats": weights.FloatArray([0.5, -1.0]),
                            "f.strings": weights.StringArray(["x", "", "\u8111"])},
                           {"t.f32": rng.standard_normal((2, 3)).astype(np.float32)}, {}),
        "dtypes": ({"model.kind": "generator"},
                   {"w.f16": rng.standard_normal((4,)).astype(np.float32),
                    "w.bf16": rng.standard_normal((2, 2, 2)).astype(np.float32),
                    "w.f32": rng.standard_normal((1, 1, 1, 1, 1, 1, 1, 3)).astype(np.float32)},
                   {"w.f16": "f16", "w.bf16": "bf16"}),
        "empty": ({}, {}, {}),
        "meta-only": ({"k": weights.StringArray([])}, {}, {}),
    }
    for name, (meta, tensors, dtypes) in files.items():
        p = os.path.join(tmp, name + ".i2ig")
        weights.write(p, meta, tensors, dtypes=dtypes)
        raw = open(p, "rb").read()
        # Option byte (fuzz_weights.c): 0 = as is, 3 = repair CRC and size, 7 = + verify all.
        for opt in (0, 3, 7):
            put("weights", "%s-%d" % (name, opt), bytes([opt]) + raw)


def image_seeds():
    g = (np.arange(48, dtype=np.uint32).reshape(6, 8) * 5).astype(np.uint8)
    rgb = np.stack([g, 255 - g, g // 2], axis=-1)

    def pil(img, fmt, **kw):
        b = io.BytesIO()
        img.save(b, fmt, **kw)
        return b.getvalue()

    put("image_stb", "grey8.png", pil(Image.fromarray(g), "PNG", dpi=(300, 300)))
    put("image_stb", "grey16.png", pil(Image.fromarray(g.astype(np.uint16) * 257), "PNG"))
    put("image_stb", "rgb.png", pil(Image.fromarray(rgb), "PNG"))
    put("image_stb", "rgba.png", pil(Image.fromarray(rgb).convert("RGBA"), "PNG"))
    put("image_stb", "palette.png", pil(Image.fromarray(rgb).convert("P"), "PNG"))
    put("image_stb", "bilevel.png", pil(Image.fromarray(g > 100), "PNG"))
    put("image_stb", "stored.png", pil(Image.fromarray(g), "PNG", compress_level=0))
    put("image_stb", "grey.jpg", pil(Image.fromarray(g), "JPEG", quality=90))
    put("image_stb", "rgb.jpg", pil(Image.fromarray(rgb), "JPEG", quality=75))
    put("image_stb", "progressive.jpg", pil(Image.fromarray(rgb), "JPEG", progressive=True))
    put("image_stb", "rgb24.bmp", pil(Image.fromarray(rgb), "BMP"))
    put("image_stb", "grey8.bmp", pil(Image.fromarray(g), "BMP"))
    put("image_stb", "bilevel.bmp", pil(Image.fromarray(g > 100).convert("1"), "BMP"))

    def tif(name, arr, **kw):
        b = io.BytesIO()
        tifffile.imwrite(b, arr, **kw)
        put("image_tiff", name, b.getvalue())

    tif("u8.tif", g)
    tif("u16-deflate.tif", g.astype(np.uint16) * 200, compression="zlib")
    tif("i16.tif", g.astype(np.int16) - 100)
    tif("f32.tif", g.astype(np.float32) / 7, resolution=(10, 10), resolutionunit="CENTIMETER")
    tif("stack.tif", np.stack([g, g[::-1], g[:, ::-1]]))
    tif("tiled.tif", np.tile(g, (3, 2)).astype(np.uint16), tile=(16, 16))
    tif("rgb-contig.tif", rgb, photometric="rgb")
    tif("rgb-planar.tif", np.moveaxis(rgb, -1, 0).copy(), photometric="rgb", planarconfig="separate")
    tif("miniswhite.tif", g, photometric="miniswhite")
    tif("bigtiff.tif", g, bigtiff=True)
    b = io.BytesIO()
    Image.fromarray(g).save(b, "TIFF", compression="packbits")
    put("image_tiff", "packbits.tif", b.getvalue())
    tif("be.tif", g.astype(np.uint16), byteorder=">")
    b = io.BytesIO()
    Image.fromarray(rgb).convert("P").save(b, "TIFF")
    put("image_tiff", "palette.tif", b.getvalue())
    b = io.BytesIO()
    Image.fromarray(g).save(b, "TIFF", compression="tiff_lzw")
    put("image_tiff", "lzw.tif", b.getvalue())


def text_seeds():
    prompts = ["this MRI is T1-weighted", "a CT scan of the pelvis.", "PD (proton density) flair",
               "unaffable r\u00e9sum\u00e9 \u8111 \u03c3", "[CLS] [MASK] [SEP] [PAD] x",
               "  \t\n  ", "", "T2w, 1.5T; TR=2000ms TE=80ms",
               "\u00c9\u0301\u0300 e\u0301 \uff21 \u2163", "a" * 120, "##a ##", "\x00hidden",
               "bad \xff utf8".encode("latin-1").decode("latin-1")]
    for i, p in enumerate(prompts):
        raw = p.encode("utf-8") if i != len(prompts) - 1 else b"bad \xff utf8 \xc3"
        put("wordpiece", "prompt-%02d" % i, raw)


def model_seeds():
    # fuzz_model.c: byte 0 = base model (bits 0-1), loader (bits 2-3: 3 = matching), run (bit 4);
    # then 12-byte edits (op, a, b, c, 8-byte value).
    for base in range(3):
        for loader in range(4):
            put("model", "base%d-loader%d" % (base, loader), bytes([base | loader << 2]))
        put("model", "base%d-run" % base, bytes([base | 3 << 2 | 1 << 4]))
        # one value changed to each "interesting" integer, one reshape, one NaN
        put("model", "base%d-edits" % base, bytes([base | 3 << 2]) +
            bytes([0, 3, 0, 1]) + (5).to_bytes(8, "little") +
            bytes([4, 7, 1, 0]) + (0x020102).to_bytes(8, "little") +
            bytes([6, 2, 0, 0]) + (3).to_bytes(8, "little"))


def main():
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        weight_seeds(tmp)
    image_seeds()
    text_seeds()
    model_seeds()
    for k in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, k))
        size = sum(os.path.getsize(os.path.join(CORPUS, k, f)) for f in files)
        print("%-10s %3d seeds, %6d bytes" % (k, len(files), size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
