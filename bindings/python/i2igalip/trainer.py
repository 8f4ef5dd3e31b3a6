"""Training from Python: a thin layer over the C trainer (i2ig_trainer_*).

Only in libraries built with I2IG_FEATURE_TRAINING; elsewhere creating a
Trainer raises Error(I2IG_ERR_NOT_BUILT).

    enc = Encoder.load("biomedclip.i2ig")
    cfg = TrainConfig(total_steps=1000, batch_size=2, crop_size=128)
    with Trainer(enc, cfg, GeneratorConfig()) as t:
        t.add_domain("T1", "this MRI is T1-weighted", 0, Mapping.percentile(1, 99, 0, 255), t1)
        t.add_domain("CT", "this is head ct", 1, Mapping.window(-1024, 3071), ct)
        t.run(progress=lambda l: print(l.step, l.generator))
        t.export_generator("model.i2ig")
"""
import collections
import ctypes

import numpy as np

from . import capi
from ._config import GeneratorConfig, TrainConfig
from ._handle import Handle, cstr, new_handle, path_arg
from .generator import as_mapping
from .image import Image

Losses = collections.namedtuple(
    "Losses", "step generator discriminator adversarial cycle identity clip encoding lr")


def _losses(c):
    return Losses(c.step, c.generator, c.discriminator, c.adversarial, c.cycle, c.identity,
                  c.clip, c.encoding, c.lr)


def available():
    """True when the loaded library can train (feature bit and symbols)."""
    return capi.has_training()


def _need_training():
    if not capi.lib.i2ig_build_features() & capi.FEATURE_TRAINING:
        raise capi.Error(capi.ERR_NOT_BUILT, "%s is an inference-only build (no "
                         "I2IG_FEATURE_TRAINING)" % capi.library_path)
    absent = [n for n in capi.TRAINING_FUNCTIONS if not capi.has(n)]
    if absent:
        raise capi.Error(capi.ERR_NOT_BUILT, "%s reports I2IG_FEATURE_TRAINING but lacks %s" %
                         (capi.library_path, ", ".join(absent)))


class Trainer(Handle):
    """Unpaired multi-domain training of a new generator (i2ig_trainer).

    The encoder is borrowed by the C trainer: this object keeps it alive and
    takes its lock during training calls."""

    _free = "i2ig_trainer_free"

    def __init__(self, encoder, config=None, generator_config=None):
        _need_training()
        config = config if config is not None else TrainConfig()
        generator_config = generator_config if generator_config is not None \
            else GeneratorConfig()
        h = new_handle()
        with encoder._lock:
            capi.check(capi.lib.i2ig_trainer_create(ctypes.byref(config._c),
                                                    ctypes.byref(generator_config._c),
                                                    encoder._h, ctypes.byref(h)))
        self._init(h, encoder)

    def _init(self, h, encoder):
        Handle.__init__(self, h, keep=(encoder,))
        self.encoder = encoder
        self._cancel = ctypes.c_int(0)
        self._reduce = None

    @classmethod
    def load_checkpoint(cls, path, encoder):
        """Resumes from a checkpoint, with the encoder it was made with."""
        _need_training()
        h = new_handle()
        with encoder._lock:
            capi.check(capi.lib.i2ig_trainer_load_checkpoint(path_arg(path), encoder._h,
                                                             ctypes.byref(h)))
        t = cls.__new__(cls)
        t._init(h, encoder)
        return t

    def _locked(self):
        return _Both(self._lock, self.encoder._lock)

    def add_domain(self, name, prompt, label, mapping, images):
        """Adds a domain with its unpaired images: a numpy array (2-D slice
        or 3-D stack), an Image, or a list of them; every slice is one
        training sample (native values, mapped to [0, 1] by mapping). The
        prompt is encoded by the encoder; the pixels are copied."""
        if isinstance(images, (np.ndarray, Image)):
            images = [images]
        owned, handles = [], []
        try:
            for im in images:
                if not isinstance(im, Image):
                    im = Image.from_array(im)
                    owned.append(im)
                handles.append(im)
            arr = (ctypes.c_void_p * max(1, len(handles)))(*[im._h.value for im in handles])
            with self._locked():
                capi.check(capi.lib.i2ig_trainer_add_domain(
                    self._h, cstr(name, "name"), cstr(prompt, "prompt"), int(label),
                    ctypes.byref(as_mapping(mapping)), arr, len(handles)))
        finally:
            for im in owned:
                im.close()

    def step(self):
        """One training step; returns its Losses."""
        losses = capi.new(capi.TrainLosses)
        with self._locked():
            st = capi.lib.i2ig_trainer_step(self._h, ctypes.byref(losses))
            self._reraise()
            capi.check(st)
        return _losses(losses)

    def _reraise(self):
        """Raises the exception a reduce hook raised during the last call."""
        if self._reduce is not None and self._reduce[1]["exc"] is not None:
            exc, self._reduce[1]["exc"] = self._reduce[1]["exc"], None
            raise exc

    def cancel(self):
        """Asks a running run() (in another thread) to stop after its current
        step; it then raises Cancelled. Safe from any thread."""
        self._cancel.value = 1

    def run(self, progress=None, cancel=None):
        """Runs steps until total_steps. progress(losses) is called after each
        step; a true return value stops the run. cancel: an object with
        is_set() (threading.Event) polled after each step; Trainer.cancel()
        from another thread works too. A stopped run raises
        i2igalip.Cancelled after a complete step: the trainer stays
        consistent and a checkpoint can be written. Returns the steps done."""
        state = {"exc": None}

        def call(user, losses):
            try:
                stop = bool(progress(_losses(losses.contents))) if progress else False
                return 1 if stop or (cancel is not None and cancel.is_set()) else 0
            except BaseException as e:  # noqa: B902 -- re-raised below
                state["exc"] = e
                return 1

        cfn = capi.TrainProgressFn(call) if (progress or cancel is not None) \
            else capi.TrainProgressFn()
        self._cancel.value = 0
        with self._locked():
            st = capi.lib.i2ig_trainer_run(self._h, cfn, None, ctypes.byref(self._cancel))
            if state["exc"] is not None:
                raise state["exc"]
            self._reraise()
            capi.check(st)
        return self.steps_done

    def set_reduce_hook(self, fn):
        """fn(model, gradients) with model 0 (generator) or 1
        (discriminator) and gradients a float32 numpy view of every
        trainable gradient, to be modified in place (e.g. averaged across
        processes) before the optimiser uses them. None removes the hook.
        An exception in fn fails the step and is re-raised."""
        if fn is None:
            with self._lock:
                capi.check(capi.lib.i2ig_trainer_set_reduce_hook(self._h, capi.ReduceFn(), None))
            self._reduce = None
            return
        state = {"exc": None}

        def call(user, model, grads, count):
            try:
                view = np.ctypeslib.as_array(grads, shape=(count,))
                fn(model, view)
                return capi.OK
            except BaseException as e:  # noqa: B902 -- re-raised by _reraise
                state["exc"] = e
                return capi.ERR_INVALID_ARGUMENT

        cfn = capi.ReduceFn(call)
        with self._lock:
            capi.check(capi.lib.i2ig_trainer_set_reduce_hook(self._h, cfn, None))
        self._reduce = (cfn, state)

    @property
    def steps_done(self):
        with self._lock:
            return capi.lib.i2ig_trainer_steps_done(self._h)

    @property
    def config(self):
        """The TrainConfig in use (as created, or as stored in a checkpoint)."""
        c = capi.new(capi.TrainConfig)
        with self._lock:
            capi.check(capi.lib.i2ig_trainer_get_config(self._h, ctypes.byref(c)))
        return TrainConfig._wrap(c)

    @property
    def domains(self):
        """Training domain names, in the order they were added."""
        with self._lock:
            n = capi.lib.i2ig_trainer_domain_count(self._h)
            return [capi.lib.i2ig_trainer_domain_name(self._h, i).decode() for i in range(n)]

    def domain_slices(self, name):
        """Slices in the training domain `name` (every slice of every image
        added to it)."""
        with self._lock:
            names = self.domains
            if name not in names:
                raise KeyError("no training domain %r (have %s)" % (name, ", ".join(names)))
            return capi.lib.i2ig_trainer_domain_slices(self._h, names.index(name))

    def preview(self, source, target, n=1, use_ema=True, slices=None):
        """(input, translation, cycle): slices of the source pool (centred,
        padded to the training patch side), their translation to target and
        the cycle back, each (n, side, side) in [0, 1]. The first n slices,
        or with `slices` those (indices in the order the domain's slices
        were added; n is then their count). Uses no training randomness."""
        side = ctypes.c_size_t()
        src, tgt = cstr(source, "source"), cstr(target, "target")
        if slices is not None:
            idx = np.ascontiguousarray(slices, dtype=np.uintp).reshape(-1)
            n = idx.size
        with self._locked():
            capi.check(capi.lib.i2ig_trainer_preview(self._h, src, tgt, n, int(bool(use_ema)),
                                                     ctypes.byref(side), None, None, None))
            outs = [np.empty((n, side.value, side.value), np.float32) for _ in range(3)]
            ptrs = [o.ctypes.data_as(capi.c_float_p) for o in outs]
            if slices is None:
                capi.check(capi.lib.i2ig_trainer_preview(
                    self._h, src, tgt, n, int(bool(use_ema)), ctypes.byref(side), *ptrs))
            else:
                capi.check(capi.lib.i2ig_trainer_preview_slices(
                    self._h, src, tgt, idx.ctypes.data_as(ctypes.POINTER(ctypes.c_size_t)), n,
                    int(bool(use_ema)), ctypes.byref(side), *ptrs))
        return tuple(outs)

    def save_checkpoint(self, path):
        """Writes a full checkpoint atomically (resuming reproduces the
        uninterrupted run bit for bit with the same thread count)."""
        with self._lock:
            capi.check(capi.lib.i2ig_trainer_save_checkpoint(self._h, path_arg(path)))

    def export_generator(self, path, use_ema=True):
        """Writes the generator as a model file for Generator.load(): the EMA
        weights (default, what inference should use) or the trained ones."""
        with self._lock:
            capi.check(capi.lib.i2ig_trainer_export_generator(self._h, path_arg(path),
                                                              1 if use_ema else 0))


class _Both:
    """Takes two locks in a fixed order (trainer, then encoder)."""

    def __init__(self, a, b):
        self.a, self.b = a, b

    def __enter__(self):
        self.a.acquire()
        self.b.acquire()

    def __exit__(self, *exc):
        self.b.release()
        self.a.release()
