"""The generator (the translation U-Net shared by every domain pair) and
translation: numpy arrays in, numpy arrays out."""
import collections
import ctypes

import numpy as np

from . import capi
from ._config import GeneratorConfig
from ._handle import Handle, cstr, new_handle, path_arg
from .image import Image, pixel_dtype, pixels


class Mapping:
    """How a domain's native pixel values map to the generator's [0, 1].

    Mapping.window(lo, hi): fixed window, e.g. CT Hounsfield units.
    Mapping.percentile(p_lo, p_hi, lo, hi): per-slice percentiles in, the
    domain's typical range lo..hi out (MR).
    """

    WINDOW = capi.MAPPING_WINDOW
    PERCENTILE = capi.MAPPING_PERCENTILE

    def __init__(self, kind, lo, hi, p_lo=0.0, p_hi=0.0):
        self.kind, self.lo, self.hi, self.p_lo, self.p_hi = int(kind), float(lo), float(hi), \
            float(p_lo), float(p_hi)

    @classmethod
    def window(cls, lo, hi):
        return cls(cls.WINDOW, lo, hi)

    @classmethod
    def percentile(cls, p_lo, p_hi, lo, hi):
        return cls(cls.PERCENTILE, lo, hi, p_lo, p_hi)

    def to_c(self):
        m = capi.new(capi.IntensityMapping)
        m.kind, m.lo, m.hi, m.p_lo, m.p_hi = self.kind, self.lo, self.hi, self.p_lo, self.p_hi
        return m

    @classmethod
    def from_c(cls, m):
        return cls(m.kind, m.lo, m.hi, m.p_lo, m.p_hi)

    def __eq__(self, other):
        # The percentiles mean nothing for a window.
        def key(m):
            p = (m.p_lo, m.p_hi) if m.kind == Mapping.PERCENTILE else ()
            return (m.kind, m.lo, m.hi) + p
        return isinstance(other, Mapping) and key(self) == key(other)

    def __repr__(self):
        if self.kind == self.WINDOW:
            return "Mapping.window(%r, %r)" % (self.lo, self.hi)
        if self.kind == self.PERCENTILE:
            return "Mapping.percentile(%r, %r, %r, %r)" % (self.p_lo, self.p_hi, self.lo, self.hi)
        return "Mapping(%r, %r, %r, %r, %r)" % (self.kind, self.lo, self.hi, self.p_lo, self.p_hi)


def as_mapping(m):
    if isinstance(m, Mapping):
        return m.to_c()
    if isinstance(m, capi.IntensityMapping):
        return m
    raise TypeError("mapping must be an i2igalip.Mapping, not %s" % type(m).__name__)


Domain = collections.namedtuple("Domain", "name prompt label mapping")


def f32(a):
    """array-like -> C-contiguous native float32 array (copied if needed)."""
    return np.ascontiguousarray(a, dtype=np.float32)


def fptr(a):
    return None if a is None else a.ctypes.data_as(capi.c_float_p)


class _Progress:
    """Adapts a Python progress callable to i2ig_progress_fn.

    The callable gets (done, total) after each slice and returns a true
    value to cancel. An exception inside it cancels the C call and is
    re-raised by the binding afterwards (Ctrl-C during a long translation
    lands here too, at the next slice)."""

    def __init__(self, fn):
        self.fn = fn
        self.exc = None
        self.cfn = capi.ProgressFn(self._call)

    def _call(self, user, done, total):
        try:
            return 1 if self.fn(done, total) else 0
        except BaseException as e:  # noqa: B902 -- re-raised after the C call
            self.exc = e
            return 1


class Generator(Handle):
    """A generator model (i2ig_generator): weights, architecture and domains.

        g = Generator.load("model.i2ig")
        g.domains                      # ["T1", "CT"]
        ct = g.translate(t1_stack, "CT", source="T1")   # same dtype and shape
    """

    _free = "i2ig_generator_free"

    @classmethod
    def load(cls, path, threads=None):
        """Loads a model file (weights, architecture and domains)."""
        h = new_handle()
        capi.check(capi.lib.i2ig_generator_load(path_arg(path), ctypes.byref(h)))
        g = cls(h)
        if threads is not None:
            g.threads = threads
        return g

    @classmethod
    def create(cls, config=None, seed=40):
        """A randomly initialised generator (reference initialisation, seeded),
        without domains. config: a GeneratorConfig (default: the paper's)."""
        config = config if config is not None else GeneratorConfig()
        h = new_handle()
        capi.check(capi.lib.i2ig_generator_create(ctypes.byref(config._c), int(seed),
                                                  ctypes.byref(h)))
        return cls(h)

    def save(self, path):
        """Writes the model atomically with its domains."""
        with self._lock:
            capi.check(capi.lib.i2ig_generator_save(self._h, path_arg(path)))

    @property
    def threads(self):
        """Kernel threads (write-only in C: the value last set here, 1 by default)."""
        return getattr(self, "_threads", 1)

    @threads.setter
    def threads(self, n):
        with self._lock:
            capi.check(capi.lib.i2ig_generator_set_threads(self._h, int(n)))
        self._threads = int(n)

    def set_threads(self, n):
        self.threads = n

    @property
    def config(self):
        """The architecture, a GeneratorConfig."""
        c = capi.new(capi.GeneratorConfig)
        with self._lock:
            capi.check(capi.lib.i2ig_generator_get_config(self._h, ctypes.byref(c)))
        return GeneratorConfig._wrap(c)

    @property
    def parameter_count(self):
        with self._lock:
            return capi.lib.i2ig_generator_parameter_count(self._h)

    @property
    def size_multiple(self):
        """Width and height given to forward() must be multiples of this."""
        with self._lock:
            return capi.lib.i2ig_generator_size_multiple(self._h)

    @property
    def domains(self):
        """Domain names, in model order."""
        with self._lock:
            n = capi.lib.i2ig_generator_domain_count(self._h)
            return [capi.lib.i2ig_generator_domain_name(self._h, i).decode() for i in range(n)]

    def domain(self, name):
        """Domain(name, prompt, label, mapping) of a domain."""
        prompt, label, m = ctypes.c_char_p(), ctypes.c_int(), capi.new(capi.IntensityMapping)
        with self._lock:
            capi.check(capi.lib.i2ig_generator_domain_info(
                self._h, cstr(name, "domain"), ctypes.byref(prompt), ctypes.byref(label),
                ctypes.byref(m)))
            return Domain(name, prompt.value.decode("utf-8"), label.value, Mapping.from_c(m))

    def add_domain(self, name, prompt, label, context, text_embedding, mapping):
        """Adds (or replaces) a domain from its prompt's token states context
        (context_length x context_dim) and text embedding (embed_dim)."""
        ctx = f32(context)
        emb = f32(text_embedding).reshape(-1)
        dim = self.config.context_dim
        if ctx.ndim != 2 or ctx.shape[1] != dim:
            raise ValueError("context must be (context_length, %d), not %s" % (dim, ctx.shape))
        with self._lock:
            capi.check(capi.lib.i2ig_generator_add_domain(
                self._h, cstr(name, "name"), cstr(prompt, "prompt"), int(label), fptr(ctx),
                ctx.shape[0], fptr(emb), emb.size, ctypes.byref(as_mapping(mapping))))

    def add_domain_encoded(self, encoder, name, prompt, label, mapping):
        """Adds (or replaces) a domain whose prompt the encoder's text tower
        encodes: how a new domain is defined by a prompt."""
        with self._lock, encoder._lock:
            capi.check(capi.lib.i2ig_generator_add_domain_encoded(
                self._h, encoder._h, cstr(name, "name"), cstr(prompt, "prompt"), int(label),
                ctypes.byref(as_mapping(mapping))))

    def forward(self, images, target):
        """The raw model on float32 images in [0, 1]: (n, h, w) or (h, w),
        sides multiples of size_multiple; returns the same shape."""
        x = f32(images)
        if x.ndim not in (2, 3):
            raise ValueError("images must be (h, w) or (n, h, w), not %s" % (x.shape,))
        n, h, w = (1,) + x.shape if x.ndim == 2 else x.shape
        out = np.empty_like(x)
        with self._lock:
            capi.check(capi.lib.i2ig_generator_forward(self._h, fptr(x), n, w, h,
                                                       cstr(target, "target"), fptr(out)))
        return out

    def _with_progress(self, progress, call):
        """Runs call() with the progress callback installed, then removes it."""
        if progress is None:
            return call()
        p = _Progress(progress)
        capi.check(capi.lib.i2ig_generator_set_progress(self._h, p.cfn, None))
        try:
            status = call()
        finally:
            capi.lib.i2ig_generator_set_progress(self._h, capi.ProgressFn(), None)
        if p.exc is not None:
            raise p.exc
        return status

    def translate(self, array, target, source=None, progress=None):
        """Translates a 2-D slice (h, w) or a 3-D stack (slices, h, w) of
        uint8, uint16, int16 or float32 pixels in the source domain's native
        range to the target domain; returns a new array of the same dtype and
        shape. source may be None when the model has two domains.
        progress(done, total) is called after each slice; a true return value
        cancels (i2igalip.Cancelled)."""
        a, s, h, w = pixels(array)
        out = np.empty_like(a)
        with self._lock:
            st = self._with_progress(progress, lambda: capi.lib.i2ig_translate(
                self._h, cstr(source, "source"), cstr(target, "target"), pixel_dtype(a.dtype),
                a.ctypes.data, w, h, s, out.ctypes.data))
            capi.check(st)
        return out

    def translate_image(self, image, target, source=None, progress=None):
        """translate() on an Image handle; returns a new Image (same dtype,
        size and spacing)."""
        res = new_handle()
        with self._lock, image._lock:
            st = self._with_progress(progress, lambda: capi.lib.i2ig_translate_image(
                self._h, cstr(source, "source"), cstr(target, "target"), image._h,
                ctypes.byref(res)))
            capi.check(st)
        return Image(res)

    def __repr__(self):
        if self.closed:
            return "<i2igalip.Generator closed>"
        return "<i2igalip.Generator %d parameters, domains %s>" % (self.parameter_count,
                                                                  self.domains)
