"""ctypes access to the public encoder API of libi2igalip (for the encoder
tests), plus helpers that build encoder files from synthetic checkpoints."""
import ctypes
import os
import subprocess
import sys

import numpy as np

SRC = os.environ.get("I2IG_SOURCE_DIR",
                     os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CONVERT = os.path.join(SRC, "tools", "convert")
sys.path.insert(0, CONVERT)
sys.path.insert(0, os.path.join(SRC, "bindings", "python"))

import biomedclip_to_i2ig  # noqa: E402
import make_synthetic_biomedclip  # noqa: E402

STATUS = dict(enumerate([
    "I2IG_OK", "I2IG_ERR_INVALID_ARGUMENT", "I2IG_ERR_OUT_OF_MEMORY", "I2IG_ERR_IO",
    "I2IG_ERR_BAD_MAGIC", "I2IG_ERR_VERSION", "I2IG_ERR_TRUNCATED", "I2IG_ERR_OUT_OF_RANGE",
    "I2IG_ERR_OVERLAP", "I2IG_ERR_DUPLICATE", "I2IG_ERR_ALIGNMENT", "I2IG_ERR_DIMENSIONS",
    "I2IG_ERR_DTYPE", "I2IG_ERR_CHECKSUM", "I2IG_ERR_MISSING_TENSOR", "I2IG_ERR_SHAPE",
    "I2IG_ERR_METADATA", "I2IG_ERR_IMAGE_FORMAT", "I2IG_ERR_UNSUPPORTED", "I2IG_ERR_TOO_LARGE",
    "I2IG_ERR_NOT_FINITE", "I2IG_ERR_UNKNOWN_DOMAIN", "I2IG_ERR_TEXT", "I2IG_ERR_MODEL_MISMATCH",
    "I2IG_ERR_BACKEND", "I2IG_ERR_CANCELLED", "I2IG_ERR_NOT_BUILT", "I2IG_ERR_INTERNAL"]))
CODE = {v: k for k, v in STATUS.items()}

F32P = ctypes.POINTER(ctypes.c_float)


class Info(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t)] + [
        (n, ctypes.c_int) for n in ("image_size", "patch_size", "vision_width", "vision_depth",
                                    "vision_heads", "tokens", "embed_dim", "n_taps")] + [
        ("taps", ctypes.c_int * 8)] + [
        (n, ctypes.c_int) for n in ("n_cls", "context_length", "text_width", "text_depth",
                                    "vocab_size")]


_lib = None


def lib():
    global _lib
    if _lib is None:
        L = ctypes.CDLL(os.environ["I2IG_LIBRARY"])
        vp = ctypes.c_void_p
        L.i2ig_encoder_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(vp)]
        L.i2ig_encoder_free.argtypes = [vp]
        L.i2ig_encoder_free.restype = None
        L.i2ig_encoder_set_threads.argtypes = [vp, ctypes.c_int]
        L.i2ig_encoder_get_info.argtypes = [vp, ctypes.POINTER(Info)]
        sz = ctypes.c_size_t
        L.i2ig_encoder_encode_image.argtypes = [vp, F32P, sz, sz, sz, F32P, F32P, F32P]
        L.i2ig_encoder_image_grad.argtypes = [vp, F32P, sz, sz, sz, F32P, F32P, F32P, F32P]
        L.i2ig_encoder_tokenize.argtypes = [vp, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int32),
                                            ctypes.POINTER(sz)]
        L.i2ig_encoder_encode_text.argtypes = [vp, ctypes.c_char_p, F32P, F32P]
        L.i2ig_last_error.restype = ctypes.c_char_p
        for f in ("i2ig_encoder_load", "i2ig_encoder_set_threads", "i2ig_encoder_get_info",
                  "i2ig_encoder_encode_image", "i2ig_encoder_image_grad",
                  "i2ig_encoder_tokenize", "i2ig_encoder_encode_text"):
            getattr(L, f).restype = ctypes.c_int
        _lib = L
    return _lib


def last_error():
    return lib().i2ig_last_error().decode("utf-8", "replace")


def fp(a):
    return None if a is None else a.ctypes.data_as(F32P)


class EncoderError(Exception):
    def __init__(self, status, msg):
        super().__init__("%s: %s" % (STATUS.get(status, status), msg))
        self.status = STATUS.get(status, status)
        self.msg = msg


def check(st):
    if st != 0:
        raise EncoderError(st, last_error())


class Encoder:
    def __init__(self, path, threads=2):
        self.h = None
        h = ctypes.c_void_p()
        check(lib().i2ig_encoder_load(path.encode(), ctypes.byref(h)))
        self.h = h
        check(lib().i2ig_encoder_set_threads(self.h, threads))
        info = Info()
        info.struct_size = ctypes.sizeof(Info)
        check(lib().i2ig_encoder_get_info(self.h, ctypes.byref(info)))
        self.info = info

    def close(self):
        if self.h:
            lib().i2ig_encoder_free(self.h)
            self.h = None

    def __del__(self):
        self.close()

    def shapes(self, n):
        i = self.info
        return ((n, i.embed_dim), (n, i.n_taps, i.tokens, i.vision_width),
                (n, i.n_cls, i.vision_width))

    def encode_image(self, images, want=(True, True, True)):
        """images: n x h x w float32. Returns (embedding, taps, cls)."""
        images = np.ascontiguousarray(images, dtype=np.float32)
        n, h, w = images.shape
        outs = [np.zeros(s, np.float32) if k else None for s, k in zip(self.shapes(n), want)]
        check(lib().i2ig_encoder_encode_image(self.h, fp(images), n, w, h, *map(fp, outs)))
        return outs

    def image_grad(self, images, d_emb=None, d_taps=None, d_cls=None):
        images = np.ascontiguousarray(images, dtype=np.float32)
        n, h, w = images.shape
        grads = [None if g is None else np.ascontiguousarray(g, dtype=np.float32)
                 for g in (d_emb, d_taps, d_cls)]
        out = np.full(images.shape, np.nan, np.float32)
        check(lib().i2ig_encoder_image_grad(self.h, fp(images), n, w, h, *map(fp, grads),
                                            fp(out)))
        return out

    def tokenize(self, prompt):
        ids = (ctypes.c_int32 * self.info.context_length)()
        n = ctypes.c_size_t()
        data = prompt if isinstance(prompt, bytes) else prompt.encode("utf-8")
        check(lib().i2ig_encoder_tokenize(self.h, data, ids, ctypes.byref(n)))
        return np.array(ids[:], dtype=np.int64), n.value

    def encode_text(self, prompt):
        i = self.info
        ctx = np.zeros((i.context_length, i.text_width), np.float32)
        emb = np.zeros(i.embed_dim, np.float32)
        data = prompt if isinstance(prompt, bytes) else prompt.encode("utf-8")
        check(lib().i2ig_encoder_encode_text(self.h, data, fp(ctx), fp(emb)))
        return ctx, emb


# Converter options of the small test configuration (heads are not in the
# checkpoint; the default width/64 would give one head).
SMALL_OPTS = ["--vision-heads", "4", "--text-heads", "4", "--context-length", "16"]
SMALL = dict(vision_heads=4, text_heads=4, context_length=16, taps=[0, 1, 2, 3], n_cls=4,
             image_size=32)
FULL = dict(vision_heads=12, text_heads=12, context_length=256, taps=[2, 5, 8, 11], n_cls=4,
            image_size=224)


def build(tmpdir, size, dtype="f32", seed=0, extra=()):
    """Synthetic checkpoint -> converter (as a separate process, the way users
    run it) -> .i2ig. Returns (checkpoint path, vocab path, .i2ig path)."""
    ckpt, vocab = make_synthetic_biomedclip.make(os.path.join(tmpdir, size), size, seed)
    out = os.path.join(tmpdir, "%s-%s.i2ig" % (size, dtype))
    opts = (SMALL_OPTS if size == "small" else []) + ["--dtype", dtype] + list(extra)
    r = subprocess.run([sys.executable, os.path.join(CONVERT, "biomedclip_to_i2ig.py"), ckpt,
                        vocab, out] + opts, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("converter failed: " + r.stderr)
    return ckpt, vocab, out


def relerr(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))
