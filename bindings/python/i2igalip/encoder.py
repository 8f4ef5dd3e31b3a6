"""The frozen BiomedCLIP encoder: ViT vision tower and BERT text tower."""
import collections
import ctypes

import numpy as np

from . import capi
from ._handle import Handle, cstr, new_handle, path_arg

ImageEncoding = collections.namedtuple("ImageEncoding", "embedding taps cls")
TextEncoding = collections.namedtuple("TextEncoding", "context embedding")


def _images(images):
    x = np.ascontiguousarray(images, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.size == 0:
        raise ValueError("images must be (h, w) or (n, h, w), not %s" % (np.shape(images),))
    return x


def _grad(g, shape, what):
    if g is None:
        return None
    g = np.ascontiguousarray(g, dtype=np.float32)
    if g.size != int(np.prod(shape)):
        raise ValueError("%s must have shape %s, not %s" % (what, shape, g.shape))
    return g


def _p(a):
    return None if a is None else a.ctypes.data_as(capi.c_float_p)


class Encoder(Handle):
    """A BiomedCLIP encoder file (converted with tools/convert/biomedclip_to_i2ig.py).

        enc = Encoder.load("biomedclip.i2ig")
        e = enc.encode_image(slices)          # ImageEncoding(embedding, taps, cls)
        ctx, emb = enc.encode_text("this MRI is T2-weighted")
    """

    _free = "i2ig_encoder_free"

    @classmethod
    def load(cls, path, threads=None):
        h = new_handle()
        capi.check(capi.lib.i2ig_encoder_load(path_arg(path), ctypes.byref(h)))
        e = cls(h)
        if threads is not None:
            e.threads = threads
        return e

    @property
    def threads(self):
        return getattr(self, "_threads", 1)

    @threads.setter
    def threads(self, n):
        with self._lock:
            capi.check(capi.lib.i2ig_encoder_set_threads(self._h, int(n)))
        self._threads = int(n)

    def set_threads(self, n):
        self.threads = n

    @property
    def info(self):
        """Architecture: a dict (image_size, patch_size, vision_width, ...,
        taps as a tuple, context_length, text_width, vocab_size)."""
        i = capi.new(capi.EncoderInfo)
        with self._lock:
            capi.check(capi.lib.i2ig_encoder_get_info(self._h, ctypes.byref(i)))
        d = {n: getattr(i, n) for n, _ in capi.EncoderInfo._fields_ if n != "struct_size"}
        d["taps"] = tuple(i.taps[:i.n_taps])
        return d

    def _shapes(self, n):
        i = self.info
        return ((n, i["embed_dim"]), (n, i["n_taps"], i["tokens"], i["vision_width"]),
                (n, i["n_cls"], i["vision_width"]))

    def encode_image(self, images, embedding=True, taps=True, cls=True):
        """Encodes float32 images in [0, 1], (h, w) or (n, h, w), as
        BiomedCLIP's preprocessing does. Returns ImageEncoding(embedding
        (n, embed_dim), taps (n, n_taps, tokens, width), cls (n, n_cls,
        width)); an output not asked for is None."""
        x = _images(images)
        n, h, w = x.shape
        outs = [np.empty(s, np.float32) if want else None
                for s, want in zip(self._shapes(n), (embedding, taps, cls))]
        with self._lock:
            capi.check(capi.lib.i2ig_encoder_encode_image(self._h, _p(x), n, w, h,
                                                          *map(_p, outs)))
        return ImageEncoding(*outs)

    def image_grad(self, images, d_embedding=None, d_taps=None, d_cls=None):
        """Gradient of a loss with respect to the images, given its gradients
        with respect to encode_image()'s outputs (None = zero). Returns an
        (n, h, w) float32 array."""
        x = _images(images)
        n, h, w = x.shape
        shapes = self._shapes(n)
        grads = [_grad(g, s, name) for g, s, name in
                 zip((d_embedding, d_taps, d_cls), shapes, ("d_embedding", "d_taps", "d_cls"))]
        out = np.empty_like(x)
        with self._lock:
            capi.check(capi.lib.i2ig_encoder_image_grad(self._h, _p(x), n, w, h,
                                                        *map(_p, grads), _p(out)))
        return out

    def tokenize(self, prompt):
        """WordPiece ids of a prompt, padded to context_length: (ids as an
        int32 array, number of tokens before padding)."""
        ids = np.zeros(self.info["context_length"], np.int32)
        n = ctypes.c_size_t()
        with self._lock:
            capi.check(capi.lib.i2ig_encoder_tokenize(
                self._h, cstr(prompt, "prompt"),
                ids.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), ctypes.byref(n)))
        return ids, n.value

    def encode_text(self, prompt, context=True, embedding=True):
        """TextEncoding(context (context_length, text_width), embedding
        (embed_dim,)) of a prompt; an output not asked for is None."""
        i = self.info
        ctx = np.empty((i["context_length"], i["text_width"]), np.float32) if context else None
        emb = np.empty(i["embed_dim"], np.float32) if embedding else None
        with self._lock:
            capi.check(capi.lib.i2ig_encoder_encode_text(self._h, cstr(prompt, "prompt"),
                                                         _p(ctx), _p(emb)))
        return TextEncoding(ctx, emb)
