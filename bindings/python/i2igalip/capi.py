"""Low-level ctypes declarations of the libi2igalip C API.

The friendly layer (numpy arrays, context managers) builds on this module;
tests use it directly. The shared library is found, in order, through the
I2IG_LIBRARY environment variable (a path), pkg-config (libdir of
i2igalip), a meson build tree next to the sources (build/lib), then the
system loader (ctypes.util.find_library).
"""
import ctypes
import ctypes.util
import os
import subprocess

_here = os.path.dirname(os.path.abspath(__file__))


def _candidates():
    env = os.environ.get("I2IG_LIBRARY")
    if env:
        yield env
    try:
        libdir = subprocess.run(["pkg-config", "--variable=libdir", "i2igalip"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        if libdir:
            yield os.path.join(libdir, "libi2igalip.so.0")
    except (OSError, subprocess.SubprocessError):
        pass
    root = os.path.normpath(os.path.join(_here, "..", "..", ".."))
    for build in ("build", "builddir"):
        yield os.path.join(root, build, "lib", "libi2igalip.so.0")
    found = ctypes.util.find_library("i2igalip")
    if found:
        yield found


def _load():
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append("%s: %s" % (path, e))
    raise OSError("libi2igalip not found (set I2IG_LIBRARY): " + "; ".join(errors))


lib = _load()

c_float_p = ctypes.POINTER(ctypes.c_float)


class Error(Exception):
    """A failing libi2igalip call: .status (int), .name and the detail message."""

    def __init__(self, status, message):
        self.status = status
        self.name = lib.i2ig_status_string(status).decode()
        self.message = message
        super().__init__("%s: %s" % (self.name, message))


def check(status):
    if status != 0:
        raise Error(status, lib.i2ig_last_error().decode("utf-8", "replace"))


# Status codes (pinned in include/i2igalip.h).
OK = 0
ERR_INVALID_ARGUMENT = 1
ERR_OUT_OF_MEMORY = 2
ERR_IO = 3
ERR_BAD_MAGIC = 4
ERR_VERSION = 5
ERR_TRUNCATED = 6
ERR_OUT_OF_RANGE = 7
ERR_OVERLAP = 8
ERR_DUPLICATE = 9
ERR_ALIGNMENT = 10
ERR_DIMENSIONS = 11
ERR_DTYPE = 12
ERR_CHECKSUM = 13
ERR_MISSING_TENSOR = 14
ERR_SHAPE = 15
ERR_METADATA = 16
ERR_IMAGE_FORMAT = 17
ERR_UNSUPPORTED = 18
ERR_TOO_LARGE = 19
ERR_NOT_FINITE = 20
ERR_UNKNOWN_DOMAIN = 21
ERR_TEXT = 22
ERR_MODEL_MISMATCH = 23
ERR_BACKEND = 24
ERR_CANCELLED = 25
ERR_NOT_BUILT = 26
ERR_INTERNAL = 27

DTYPE_F32, DTYPE_F16, DTYPE_BF16, DTYPE_U8, DTYPE_U16, DTYPE_I16 = 1, 2, 3, 4, 5, 6
MAPPING_WINDOW, MAPPING_PERCENTILE = 1, 2


class GeneratorConfig(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t),
                ("in_channels", ctypes.c_int), ("out_channels", ctypes.c_int),
                ("model_channels", ctypes.c_int), ("n_levels", ctypes.c_int),
                ("channel_mult", ctypes.c_int * 8), ("num_res_blocks", ctypes.c_int),
                ("n_attention", ctypes.c_int), ("attention_ds", ctypes.c_int * 8),
                ("head_channels", ctypes.c_int), ("context_dim", ctypes.c_int),
                ("num_classes", ctypes.c_int)]


class IntensityMapping(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("kind", ctypes.c_int),
                ("lo", ctypes.c_double), ("hi", ctypes.c_double),
                ("p_lo", ctypes.c_double), ("p_hi", ctypes.c_double)]


class DiscriminatorConfig(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("num_classes", ctypes.c_int),
                ("n_taps", ctypes.c_int), ("width", ctypes.c_int), ("text_dim", ctypes.c_int),
                ("cmap_dim", ctypes.c_int), ("kernel_size", ctypes.c_int),
                ("sum_channels", ctypes.c_int)]


ProgressFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t)

_vp = ctypes.c_void_p
_s = ctypes.c_size_t
_cp = ctypes.c_char_p
_i = ctypes.c_int
_st = ctypes.c_int

_decls = {
    "i2ig_version": (ctypes.c_uint, []),
    "i2ig_version_string": (_cp, []),
    "i2ig_build_features": (ctypes.c_uint, []),
    "i2ig_status_string": (_cp, [_i]),
    "i2ig_last_error": (_cp, []),
    # images
    "i2ig_image_load": (_st, [_cp, ctypes.POINTER(_vp)]),
    "i2ig_image_create": (_st, [_i, _s, _s, _s, ctypes.POINTER(_vp)]),
    "i2ig_image_save": (_st, [_vp, _cp, _i]),
    "i2ig_image_free": (None, [_vp]),
    "i2ig_image_dtype": (_i, [_vp]),
    "i2ig_image_width": (_s, [_vp]),
    "i2ig_image_height": (_s, [_vp]),
    "i2ig_image_slices": (_s, [_vp]),
    "i2ig_image_data": (_vp, [_vp, _s]),
    # generator
    "i2ig_generator_config_init": (_st, [ctypes.POINTER(GeneratorConfig)]),
    "i2ig_generator_create": (_st, [ctypes.POINTER(GeneratorConfig), ctypes.c_uint64,
                                    ctypes.POINTER(_vp)]),
    "i2ig_generator_load": (_st, [_cp, ctypes.POINTER(_vp)]),
    "i2ig_generator_free": (None, [_vp]),
    "i2ig_generator_save": (_st, [_vp, _cp]),
    "i2ig_generator_set_threads": (_st, [_vp, _i]),
    "i2ig_generator_get_config": (_st, [_vp, ctypes.POINTER(GeneratorConfig)]),
    "i2ig_generator_parameter_count": (_s, [_vp]),
    "i2ig_generator_size_multiple": (_s, [_vp]),
    "i2ig_generator_add_domain": (_st, [_vp, _cp, _cp, _i, c_float_p, _s, c_float_p, _s,
                                        ctypes.POINTER(IntensityMapping)]),
    "i2ig_generator_domain_count": (_s, [_vp]),
    "i2ig_generator_domain_name": (_cp, [_vp, _s]),
    "i2ig_generator_domain_info": (_st, [_vp, _cp, ctypes.POINTER(_cp), ctypes.POINTER(_i),
                                         ctypes.POINTER(IntensityMapping)]),
    "i2ig_generator_forward": (_st, [_vp, c_float_p, _s, _s, _s, _cp, c_float_p]),
    "i2ig_generator_set_progress": (_st, [_vp, ProgressFn, _vp]),
    # discriminator
    "i2ig_discriminator_config_init": (_st, [ctypes.POINTER(DiscriminatorConfig)]),
    "i2ig_discriminator_create": (_st, [ctypes.POINTER(DiscriminatorConfig), ctypes.c_uint64,
                                        ctypes.POINTER(_vp)]),
    "i2ig_discriminator_load": (_st, [_cp, ctypes.POINTER(_vp)]),
    "i2ig_discriminator_save": (_st, [_vp, _cp]),
    "i2ig_discriminator_free": (None, [_vp]),
    "i2ig_discriminator_set_threads": (_st, [_vp, _i]),
    "i2ig_discriminator_parameter_count": (_s, [_vp]),
    "i2ig_discriminator_forward": (_st, [_vp, c_float_p, _s, _s, ctypes.POINTER(_i), c_float_p,
                                         _i, c_float_p]),
    "i2ig_discriminator_backward": (_st, [_vp, c_float_p, _s, _s, ctypes.POINTER(_i), c_float_p,
                                          c_float_p, c_float_p]),
    "i2ig_translate": (_st, [_vp, _cp, _cp, _i, _vp, _s, _s, _s, _vp]),
    "i2ig_translate_image": (_st, [_vp, _cp, _cp, _vp, ctypes.POINTER(_vp)]),
}

for _name, (_res, _args) in _decls.items():
    _f = getattr(lib, _name, None)
    if _f is None:
        continue  # absent from this build (e.g. training in an inference-only library)
    _f.restype = _res
    _f.argtypes = _args
