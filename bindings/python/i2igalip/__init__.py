"""Python bindings of libi2igalip: unsupervised medical image-to-image
translation (I2I-Galip) with numpy arrays in and out.

    import i2igalip
    with i2igalip.Generator.load("model.i2ig") as g:
        ct = g.translate(t1_stack, "CT", source="T1")   # uint8/uint16/int16/float32

Classes wrap the C handles of include/i2igalip.h: Image, Generator, Encoder,
Discriminator, Trainer, Weights (C reader) and WeightsWriter. Each releases
its handle on close(), at the end of a ``with`` block, or when garbage
collected. Every failing C call raises i2igalip.Error (.status, .name and
the library's detail message .message). Long calls release the GIL.

Submodules: capi (the raw ctypes declarations of every C function), weights
(a pure-Python reader/writer of .i2ig files, no C library needed).
The shared library is located through I2IG_LIBRARY, pkg-config or a build
tree next to the sources (see capi).
"""

import importlib

from . import weights  # noqa: F401  (pure Python: needs no C library)

__version__ = "0.2.0"

# The C library is opened on first use of a name that needs it, so that
# `from i2igalip import weights` (the converters, the format tests) never
# loads it.
_LAZY = {
    "Error": "capi", "Cancelled": "capi",
    "GeneratorConfig": "_config", "DiscriminatorConfig": "_config", "TrainConfig": "_config",
    "Weights": "cweights", "WeightsWriter": "cweights", "TensorInfo": "cweights",
    "Discriminator": "discriminator",
    "Encoder": "encoder", "ImageEncoding": "encoder", "TextEncoding": "encoder",
    "Generator": "generator", "Mapping": "generator", "Domain": "generator",
    "Image": "image",
    "Trainer": "trainer", "Losses": "trainer",
}
_SUBMODULES = ("capi", "image", "generator", "encoder", "discriminator", "trainer", "cweights")

__all__ = ["weights"] + list(_SUBMODULES) + list(_LAZY) + [
    "version", "library_version", "has_training", "status_string"]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module("." + name, __name__)
    if name in _LAZY:
        value = getattr(importlib.import_module("." + _LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError("module 'i2igalip' has no attribute %r" % name)


def __dir__():
    return sorted(set(globals()) | set(__all__))


def library_version():
    """Version of the loaded C library, "MAJOR.MINOR.PATCH"."""
    from . import capi
    return capi.lib.i2ig_version_string().decode()


version = library_version


def has_training():
    """True when the loaded library can train (I2IG_FEATURE_TRAINING and the
    training functions present)."""
    from . import capi
    return capi.has_training()


def status_string(status):
    """Stable English name of an i2ig_status value."""
    from . import capi
    return capi.lib.i2ig_status_string(int(status)).decode()
