"""The projected multi-domain discriminator heads on frozen encoder features."""
import ctypes

import numpy as np

from . import capi
from ._config import DiscriminatorConfig
from ._handle import Handle, new_handle, path_arg
from .cweights import Weights


def _p(a):
    return a.ctypes.data_as(capi.c_float_p)


class Discriminator(Handle):
    """Discriminator heads (i2ig_discriminator).

        d = Discriminator.create(DiscriminatorConfig(), seed=1)
        logits = d.forward(taps, labels, text_embeddings, update_state=True)
    """

    _free = "i2ig_discriminator_free"

    def __init__(self, handle, config):
        super().__init__(handle)
        self._config = config

    @classmethod
    def create(cls, config=None, seed=0):
        """A randomly initialised discriminator (PyTorch's default
        initialisation of the reference modules, seeded)."""
        config = config if config is not None else DiscriminatorConfig()
        h = new_handle()
        capi.check(capi.lib.i2ig_discriminator_create(ctypes.byref(config._c), int(seed),
                                                      ctypes.byref(h)))
        return cls(h, DiscriminatorConfig(**config.as_dict()))

    @classmethod
    def load(cls, path):
        """Loads a discriminator file (or the discriminator of a checkpoint)."""
        h = new_handle()
        capi.check(capi.lib.i2ig_discriminator_load(path_arg(path), ctypes.byref(h)))
        try:
            # The C API has no getter for the configuration: the file says it.
            with Weights.open(path) as w:
                md = w.metadata
            cfg = DiscriminatorConfig(**{k: md["discriminator." + k] for k in
                                         DiscriminatorConfig()._names()})
        except BaseException:
            capi.lib.i2ig_discriminator_free(h)
            raise
        return cls(h, cfg)

    @property
    def config(self):
        """The architecture (a copy), a DiscriminatorConfig."""
        return DiscriminatorConfig(**self._config.as_dict())

    def save(self, path):
        with self._lock:
            capi.check(capi.lib.i2ig_discriminator_save(self._h, path_arg(path)))

    @property
    def threads(self):
        return getattr(self, "_threads", 1)

    @threads.setter
    def threads(self, n):
        with self._lock:
            capi.check(capi.lib.i2ig_discriminator_set_threads(self._h, int(n)))
        self._threads = int(n)

    def set_threads(self, n):
        self.threads = n

    @property
    def parameter_count(self):
        with self._lock:
            return capi.lib.i2ig_discriminator_parameter_count(self._h)

    def _args(self, features, labels, text):
        c = self._config
        f = np.ascontiguousarray(features, dtype=np.float32)
        if f.ndim != 4 or f.shape[1] != c.n_taps or f.shape[3] != c.width:
            raise ValueError("features must be (n, %d, tokens, %d), not %s" %
                             (c.n_taps, c.width, f.shape))
        n, tokens = f.shape[0], f.shape[2]
        lab = np.ascontiguousarray(np.broadcast_to(labels, (n,)), dtype=np.intc)
        t = np.ascontiguousarray(text, dtype=np.float32)
        if t.ndim == 1:
            t = np.ascontiguousarray(np.broadcast_to(t, (n, t.size)))
        if t.shape != (n, c.text_dim):
            raise ValueError("text must be (%d, %d), not %s" % (n, c.text_dim, t.shape))
        return f, n, tokens, lab, t

    def logits_shape(self, n, tokens):
        c = self._config
        return (n, c.n_taps, tokens, 1 if c.sum_channels else c.cmap_dim)

    def forward(self, features, labels, text, update_state=False):
        """Logits (n, n_taps, tokens, cmap_dim) (last axis 1 with
        sum_channels) for features (n, n_taps, tokens, width), labels (n,)
        (or one label for all) and target text embeddings (n, text_dim).
        update_state runs one spectral-norm power iteration per head first."""
        f, n, tokens, lab, t = self._args(features, labels, text)
        out = np.empty(self.logits_shape(n, tokens), np.float32)
        with self._lock:
            capi.check(capi.lib.i2ig_discriminator_forward(
                self._h, _p(f), n, tokens, lab.ctypes.data_as(ctypes.POINTER(ctypes.c_int)),
                _p(t), 1 if update_state else 0, _p(out)))
        return out

    def backward(self, features, labels, text, d_logits):
        """Gradient with respect to the features given the gradient with
        respect to the logits (stored spectral-norm state)."""
        f, n, tokens, lab, t = self._args(features, labels, text)
        g = np.ascontiguousarray(d_logits, dtype=np.float32)
        if g.shape != self.logits_shape(n, tokens):
            raise ValueError("d_logits must be %s, not %s" % (self.logits_shape(n, tokens),
                                                              g.shape))
        out = np.empty_like(f)
        with self._lock:
            capi.check(capi.lib.i2ig_discriminator_backward(
                self._h, _p(f), n, tokens, lab.ctypes.data_as(ctypes.POINTER(ctypes.c_int)),
                _p(t), _p(g), _p(out)))
        return out
