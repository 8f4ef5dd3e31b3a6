"""The encoder refuses bad files and bad calls with the right status and a
message that says what and where, and never crashes.

Files: tensor of the wrong shape, missing tensor, missing or malformed
metadata, another model kind, not a weight file, no file. Calls: empty
images, images over the size limit (refused before the pixels are touched:
the test passes a one-float buffer), NaN/Inf pixels, prompts longer than the
context, invalid UTF-8, NULL arguments.
"""
import ctypes
import os
import shutil
import sys
import tempfile

import numpy as np

import encoder_api as ea
from i2igalip import weights

failures = []
checked = 0
_TMP = []


def expect(name, fn, status, *needles):
    """fn() must raise EncoderError with status and a message holding every needle."""
    global checked
    checked += 1
    try:
        fn()
        got, msg = "I2IG_OK", ""
    except ea.EncoderError as e:
        got, msg = e.status, e.msg
    ok = got == status and all(n in msg for n in needles)
    print("%-4s %-58s %s: %s" % ("ok" if ok else "FAIL", name, got, msg[:110]))
    if not ok:
        failures.append((name, "got %s %r, want %s with %s" % (got, msg, status, needles)))


def truth(name, cond):
    global checked
    checked += 1
    print("%-4s %s" % ("ok" if cond else "FAIL", name))
    if not cond:
        failures.append((name, "false"))


def rewrite(src, dst, meta_fn=None, tensors_fn=None):
    wf = weights.read(src)
    meta = dict(wf.meta)
    tensors = dict(wf.tensors)
    if meta_fn:
        meta_fn(meta)
    if tensors_fn:
        tensors_fn(tensors)
    weights.write(dst, meta, tensors)
    return dst


def main():
    tmp = tempfile.mkdtemp(prefix="i2ig-encbad-")
    _TMP.append(tmp)
    _, _, good = ea.build(tmp, "small")
    L = ea.lib()
    p = lambda n: os.path.join(tmp, n)  # noqa: E731

    # ---- files -----------------------------------------------------------------------
    def shape_fn(t):
        t["visual.trunk.blocks.1.mlp.fc1.weight"] = t["visual.trunk.blocks.1.mlp.fc1.weight"][:127]
    f = rewrite(good, p("shape.i2ig"), tensors_fn=shape_fn)
    expect("tensor of the wrong shape", lambda: ea.Encoder(f), "I2IG_ERR_SHAPE",
           f, "'visual.trunk.blocks.1.mlp.fc1.weight'", "127x64", "128x64")

    def missing_fn(t):
        del t["text.transformer.encoder.layer.1.attention.self.key.bias"]
    f = rewrite(good, p("missing.i2ig"), tensors_fn=missing_fn)
    expect("missing tensor", lambda: ea.Encoder(f), "I2IG_ERR_MISSING_TENSOR",
           f, "text.transformer.encoder.layer.1.attention.self.key.bias")

    def pos_fn(t):
        t["text.transformer.embeddings.position_embeddings.weight"] = np.zeros((30, 64), np.float32)
    f = rewrite(good, p("pos.i2ig"), tensors_fn=pos_fn)
    expect("position table disagreeing with metadata", lambda: ea.Encoder(f), "I2IG_ERR_SHAPE",
           "position_embeddings", "30x64", "24x64")

    for key in ("vision.heads", "text.vocab", "vision.taps", "preprocess.std", "encoder.embed_dim"):
        f = rewrite(good, p("nometa.i2ig"), meta_fn=lambda m, k=key: m.pop(k))
        expect("metadata %s missing" % key, lambda: ea.Encoder(f), "I2IG_ERR_METADATA", f, key)

    f = rewrite(good, p("type.i2ig"), meta_fn=lambda m: m.update({"vision.depth": "4"}))
    expect("metadata of the wrong type", lambda: ea.Encoder(f), "I2IG_ERR_METADATA",
           "vision.depth", "string")
    f = rewrite(good, p("heads.i2ig"), meta_fn=lambda m: m.update({"vision.heads": 5}))
    expect("heads not dividing the width", lambda: ea.Encoder(f), "I2IG_ERR_METADATA",
           "64", "5 heads")
    f = rewrite(good, p("tap.i2ig"), meta_fn=lambda m: m.update({"vision.taps": [1, 4]}))
    expect("tap outside the blocks", lambda: ea.Encoder(f), "I2IG_ERR_METADATA", "tap 4")
    f = rewrite(good, p("ctx.i2ig"), meta_fn=lambda m: m.update({"text.context_length": 25}))
    expect("context longer than the position table", lambda: ea.Encoder(f), "I2IG_ERR_METADATA",
           "context length 25")
    f = rewrite(good, p("huge.i2ig"), meta_fn=lambda m: m.update({"vision.width": 1 << 40}))
    expect("absurd width", lambda: ea.Encoder(f), "I2IG_ERR_METADATA", "vision.width")
    f = rewrite(good, p("bigmlp.i2ig"), meta_fn=lambda m: m.update({"vision.mlp_dim": 60000}))
    expect("metadata claiming big tensors: refused by shape, nothing allocated",
           lambda: ea.Encoder(f), "I2IG_ERR_SHAPE", "mlp.fc1.weight", "60000x64")
    f = rewrite(good, p("kind.i2ig"), meta_fn=lambda m: m.update({"model.kind": "generator"}))
    expect("another model kind", lambda: ea.Encoder(f), "I2IG_ERR_MODEL_MISMATCH", "generator")
    f = rewrite(good, p("resize.i2ig"), meta_fn=lambda m: m.update({"preprocess.resize": "nearest"}))
    expect("unknown preprocessing", lambda: ea.Encoder(f), "I2IG_ERR_UNSUPPORTED", "nearest")

    def vocab_fn(m):
        v = list(m["text.vocab"])
        v[0], v[1] = v[1], v[0]
        m["text.vocab"] = weights.StringArray(v)
    f = rewrite(good, p("pad.i2ig"), meta_fn=vocab_fn)
    expect("padding id not [PAD]", lambda: ea.Encoder(f), "I2IG_ERR_METADATA", "[PAD]")
    with open(p("junk.i2ig"), "wb") as fh:
        fh.write(b"this is not a weight file" * 10)
    expect("not a weight file", lambda: ea.Encoder(p("junk.i2ig")), "I2IG_ERR_BAD_MAGIC")
    expect("no such file", lambda: ea.Encoder(p("absent.i2ig")), "I2IG_ERR_IO", "absent.i2ig")

    # ---- calls ----------------------------------------------------------------------------
    enc = ea.Encoder(good)
    h = enc.h
    one = np.zeros(1, np.float32)
    out = np.zeros(1 << 16, np.float32)
    call = lambda *a: ea.check(L.i2ig_encoder_encode_image(h, *a))  # noqa: E731
    expect("zero images", lambda: call(ea.fp(one), 0, 4, 4, ea.fp(out), None, None),
           "I2IG_ERR_INVALID_ARGUMENT", "empty")
    expect("zero width", lambda: call(ea.fp(one), 1, 0, 4, ea.fp(out), None, None),
           "I2IG_ERR_INVALID_ARGUMENT", "empty")
    expect("zero height (gradient)", lambda: ea.check(L.i2ig_encoder_image_grad(
        h, ea.fp(one), 1, 4, 0, ea.fp(out), None, None, ea.fp(out))), "I2IG_ERR_INVALID_ARGUMENT")
    expect("side over 16384, one-float buffer", lambda: call(ea.fp(one), 1, 16385, 1, ea.fp(out),
                                                             None, None),
           "I2IG_ERR_TOO_LARGE", "16384")
    expect("2^30 pixels exceeded, one-float buffer", lambda: call(ea.fp(one), 5, 16384, 16384,
                                                                  ea.fp(out), None, None),
           "I2IG_ERR_TOO_LARGE")
    expect("batch over 4096", lambda: call(ea.fp(one), 5000, 1, 1, ea.fp(out), None, None),
           "I2IG_ERR_TOO_LARGE", "4096")
    expect("gradient: side over 16384", lambda: ea.check(L.i2ig_encoder_image_grad(
        h, ea.fp(one), 1, 1, 100000, ea.fp(out), None, None, ea.fp(out))), "I2IG_ERR_TOO_LARGE")
    for bad, word in ((np.nan, "NaN"), (np.inf, "infinite"), (-np.inf, "infinite")):
        x = np.full((2, 9, 7), 0.5, np.float32)
        x[1, 4, 3] = bad
        expect("pixel %s" % bad, lambda: enc.encode_image(x), "I2IG_ERR_NOT_FINITE",
               word, "image 1", "x 3", "y 4")
        expect("pixel %s (gradient)" % bad,
               lambda: enc.image_grad(x, np.ones(enc.shapes(2)[0], np.float32)),
               "I2IG_ERR_NOT_FINITE")
    x = np.full((1, 8, 8), 0.5, np.float32)
    truth("no outputs wanted: OK", L.i2ig_encoder_encode_image(h, ea.fp(x), 1, 8, 8, None, None,
                                                              None) == 0)
    expect("NULL images", lambda: call(None, 1, 8, 8, ea.fp(out), None, None),
           "I2IG_ERR_INVALID_ARGUMENT", "NULL")
    expect("NULL encoder", lambda: ea.check(L.i2ig_encoder_encode_image(
        None, ea.fp(x), 1, 8, 8, ea.fp(out), None, None)), "I2IG_ERR_INVALID_ARGUMENT")
    expect("NULL d_images", lambda: ea.check(L.i2ig_encoder_image_grad(
        h, ea.fp(x), 1, 8, 8, ea.fp(out), None, None, None)), "I2IG_ERR_INVALID_ARGUMENT")

    # text
    expect("prompt longer than the context", lambda: enc.encode_text("the brain " * 8),
           "I2IG_ERR_TEXT")
    expect("tokenize: prompt longer than the context", lambda: enc.tokenize("a " * 15),
           "I2IG_ERR_TEXT")
    expect("invalid UTF-8 (lone continuation byte)", lambda: enc.encode_text(b"this \x80 mri"),
           "I2IG_ERR_TEXT")
    expect("invalid UTF-8 (truncated sequence)", lambda: enc.tokenize(b"mri \xe2\x82"),
           "I2IG_ERR_TEXT")
    expect("invalid UTF-8 (overlong encoding)", lambda: enc.tokenize(b"\xc0\xaf"),
           "I2IG_ERR_TEXT")
    ids = (ctypes.c_int32 * 16)()
    expect("tokenize: NULL prompt", lambda: ea.check(L.i2ig_encoder_tokenize(h, None, ids, None)),
           "I2IG_ERR_INVALID_ARGUMENT")
    expect("tokenize: NULL ids", lambda: ea.check(L.i2ig_encoder_tokenize(h, b"mri", None, None)),
           "I2IG_ERR_INVALID_ARGUMENT")
    expect("tokenize: NULL encoder", lambda: ea.check(L.i2ig_encoder_tokenize(None, b"mri", ids,
                                                                             None)),
           "I2IG_ERR_INVALID_ARGUMENT")
    expect("encode_text: NULL prompt", lambda: ea.check(L.i2ig_encoder_encode_text(
        h, None, ea.fp(out), None)), "I2IG_ERR_INVALID_ARGUMENT")
    truth("encode_text: no outputs wanted: OK",
          L.i2ig_encoder_encode_text(h, b"this mri", None, None) == 0)

    # handle functions
    hp = ctypes.c_void_p()
    expect("load: NULL path", lambda: ea.check(L.i2ig_encoder_load(None, ctypes.byref(hp))),
           "I2IG_ERR_INVALID_ARGUMENT")
    expect("load: NULL out", lambda: ea.check(L.i2ig_encoder_load(good.encode(), None)),
           "I2IG_ERR_INVALID_ARGUMENT")
    expect("set_threads 0", lambda: ea.check(L.i2ig_encoder_set_threads(h, 0)),
           "I2IG_ERR_INVALID_ARGUMENT", "0 threads")
    expect("set_threads NULL", lambda: ea.check(L.i2ig_encoder_set_threads(None, 2)),
           "I2IG_ERR_INVALID_ARGUMENT")
    info = ea.Info()
    info.struct_size = 8
    expect("get_info: struct_size too small", lambda: ea.check(L.i2ig_encoder_get_info(
        h, ctypes.byref(info))), "I2IG_ERR_INVALID_ARGUMENT", "struct_size")
    expect("get_info: NULL info", lambda: ea.check(L.i2ig_encoder_get_info(h, None)),
           "I2IG_ERR_INVALID_ARGUMENT")
    L.i2ig_encoder_free(None)
    truth("free(NULL) is a no-op", True)
    # The handle still works after all of that.
    e1 = enc.encode_image(np.full((1, 32, 32), 0.5, np.float32))[0]
    truth("handle usable after failed calls", bool(np.isfinite(e1).all()))
    enc.close()

    print("%d checks, %d failed" % (checked, len(failures)))
    for name, why in failures:
        print("FAILED %s: %s" % (name, why))
    return 1 if failures else 0


if __name__ == "__main__":
    _rc = 1
    try:
        _rc = main()
    finally:
        for _d in _TMP:
            shutil.rmtree(_d, ignore_errors=True)
    sys.exit(_rc)
