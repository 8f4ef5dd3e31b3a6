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

from . import weights  # noqa: F401  (pure Python: must stay importable on its own)
try:
    from . import capi
except OSError as _e:
    # No shared library: the pure-Python weights module still works; every
    # other name raises the loader's error when used.
    _load_error = _e
else:
    _load_error = None
    from .capi import Cancelled, Error
    from ._config import DiscriminatorConfig, GeneratorConfig, TrainConfig
    from .cweights import TensorInfo, Weights, WeightsWriter
    from .discriminator import Discriminator
    from .encoder import Encoder, ImageEncoding, TextEncoding
    from .generator import Domain, Generator, Mapping
    from .image import Image
    from .trainer import Losses, Trainer


def __getattr__(name):
    if _load_error is not None and name in __all__:
        raise ImportError("i2igalip.%s needs the C library: %s" % (name, _load_error))
    raise AttributeError("module 'i2igalip' has no attribute %r" % name)


__version__ = "0.1.0"

__all__ = ["weights", "capi", "Error", "Cancelled", "GeneratorConfig", "DiscriminatorConfig",
           "TrainConfig", "Weights", "WeightsWriter", "TensorInfo", "Discriminator", "Encoder",
           "ImageEncoding", "TextEncoding", "Generator", "Mapping", "Domain", "Image", "Trainer",
           "Losses", "version", "library_version", "has_training", "status_string"]


def library_version():
    """Version of the loaded C library, "MAJOR.MINOR.PATCH"."""
    return capi.lib.i2ig_version_string().decode()


version = library_version


def has_training():
    """True when the loaded library can train (I2IG_FEATURE_TRAINING and the
    training functions present)."""
    return capi.has_training()


def status_string(status):
    """Stable English name of an i2ig_status value."""
    return capi.lib.i2ig_status_string(int(status)).decode()
