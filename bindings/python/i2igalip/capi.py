"""Low-level ctypes declarations of the libi2igalip C API.

Every function of include/i2igalip.h is declared here with its exact
argument and result types; the friendly layer (numpy arrays, context
managers: the rest of this package) builds on it and tests use it directly.

The shared library is the one named by the I2IG_LIBRARY environment variable
(a path; nothing else is tried when it is set), else the first found through
pkg-config (libdir of i2igalip), a meson build tree next to the sources
(build/lib), then the system loader (ctypes.util.find_library).

The library is opened with ctypes.CDLL, so every call releases the GIL for
its duration (ctypes.PyDLL would keep it); callbacks (progress, reduce hook)
take it back while they run.

Functions missing from the loaded library (the training functions of an
inference-only build) are simply not declared: ``has(name)`` tells whether
a function exists, ``missing()`` lists the absent ones.
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
        return  # an explicit choice: no silent fallback to another copy
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
            return ctypes.CDLL(path), path
        except OSError as e:
            errors.append("%s: %s" % (path, e))
    raise OSError("libi2igalip not found (set I2IG_LIBRARY): " + "; ".join(errors))


lib, library_path = _load()

c_float_p = ctypes.POINTER(ctypes.c_float)


class Error(Exception):
    """A failing libi2igalip call.

    .status  the i2ig_status value (int, see the ERR_* constants)
    .name    its stable English name (i2ig_status_string)
    .message the C library's detail message (i2ig_last_error), e.g.
             "weights.i2ig: tensor 'x': shape 1x32x3x3 expected 1x64x3x3"
    """

    def __init__(self, status, message):
        self.status = status
        self.name = lib.i2ig_status_string(status).decode()
        self.message = message
        super().__init__("%s: %s" % (self.name, message))

    @property
    def detail(self):
        return self.message


class Cancelled(Error):
    """I2IG_ERR_CANCELLED: a progress callback or a cancel flag stopped the call."""


def error(status, message=None):
    """The exception for a status: the last C detail message unless given."""
    if message is None:
        message = lib.i2ig_last_error().decode("utf-8", "replace")
    cls = Cancelled if status == ERR_CANCELLED else Error
    return cls(status, message)


def check(status):
    """Raises Error (Cancelled for I2IG_ERR_CANCELLED) unless status is I2IG_OK.
    Must run on the thread that made the failing call: the detail message is
    thread-local in the C library."""
    if status != 0:
        raise error(status)


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

FEATURE_TRAINING = 0x1
WEIGHTS_FORMAT_VERSION = 1
MAX_DIMS = 8
OPEN_VERIFY_ALL = 0x1
ADD_BORROW = 0x1
IMAGE_DEFAULT_MAX_BYTES = 1 << 30

DTYPE_F32, DTYPE_F16, DTYPE_BF16, DTYPE_U8, DTYPE_U16, DTYPE_I16 = 1, 2, 3, 4, 5, 6
META_INT, META_FLOAT, META_STRING, META_INT_ARRAY, META_FLOAT_ARRAY, META_STRING_ARRAY = \
    1, 2, 3, 4, 5, 6
FORMAT_AUTO, FORMAT_PNG, FORMAT_JPEG, FORMAT_BMP, FORMAT_TIFF = 0, 1, 2, 3, 4
MAPPING_WINDOW, MAPPING_PERCENTILE = 1, 2


class TensorInfo(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("name", ctypes.c_char_p),
                ("dtype", ctypes.c_int), ("ndim", ctypes.c_uint32),
                ("shape", ctypes.c_uint64 * MAX_DIMS), ("offset", ctypes.c_uint64),
                ("nbytes", ctypes.c_uint64), ("crc32", ctypes.c_uint32)]


class EncoderInfo(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t)] + [
        (n, ctypes.c_int) for n in ("image_size", "patch_size", "vision_width", "vision_depth",
                                    "vision_heads", "tokens", "embed_dim", "n_taps")] + [
        ("taps", ctypes.c_int * 8)] + [
        (n, ctypes.c_int) for n in ("n_cls", "context_length", "text_width", "text_depth",
                                    "vocab_size")]


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


class TrainConfig(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("batch_size", ctypes.c_int),
                ("crop_size", ctypes.c_int), ("flip", ctypes.c_int), ("seed", ctypes.c_uint64),
                ("lr_generator", ctypes.c_double), ("lr_discriminator", ctypes.c_double),
                ("beta1", ctypes.c_double), ("beta2", ctypes.c_double),
                ("total_steps", ctypes.c_int64), ("decay_start", ctypes.c_int64),
                ("ema_decay", ctypes.c_double), ("w_adversarial", ctypes.c_double),
                ("w_cycle", ctypes.c_double), ("w_identity", ctypes.c_double),
                ("w_clip", ctypes.c_double), ("w_encoding", ctypes.c_double),
                ("threads", ctypes.c_int)]


class Metrics(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("psnr", ctypes.c_double),
                ("ssim", ctypes.c_double), ("mae", ctypes.c_double)]


class TrainLosses(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("step", ctypes.c_int64)] + [
        (n, ctypes.c_double) for n in ("generator", "discriminator", "adversarial", "cycle",
                                       "identity", "clip", "encoding", "lr")]


def new(struct):
    """A zeroed struct of that type with struct_size set, as the C API wants."""
    s = struct()
    s.struct_size = ctypes.sizeof(struct)
    return s


# Callback types. i2ig_progress_fn(user, done, total) -> non-zero cancels.
ProgressFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t)
# i2ig_train_progress_fn(user, losses) -> non-zero stops the run.
TrainProgressFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(TrainLosses))
# i2ig_reduce_fn(user, model, gradients, count) -> i2ig_status.
ReduceFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, c_float_p,
                            ctypes.c_size_t)

_vp = ctypes.c_void_p
_pvp = ctypes.POINTER(ctypes.c_void_p)
_s = ctypes.c_size_t
_ps = ctypes.POINTER(ctypes.c_size_t)
_cp = ctypes.c_char_p
_pcp = ctypes.POINTER(ctypes.c_char_p)
_i = ctypes.c_int
_pi = ctypes.POINTER(ctypes.c_int)
_u = ctypes.c_uint
_u64 = ctypes.c_uint64
_pu64 = ctypes.POINTER(ctypes.c_uint64)
_i64 = ctypes.c_int64
_d = ctypes.c_double
_pd = ctypes.POINTER(ctypes.c_double)
_st = ctypes.c_int
_f = c_float_p

_decls = {
    # version, features, status
    "i2ig_version": (_u, []),
    "i2ig_version_string": (_cp, []),
    "i2ig_build_features": (_u, []),
    "i2ig_status_string": (_cp, [_i]),
    "i2ig_last_error": (_cp, []),
    "i2ig_dtype_size": (_s, [_i]),
    "i2ig_dtype_name": (_cp, [_i]),
    # weight-file reader
    "i2ig_weights_open": (_st, [_cp, _u, _pvp]),
    "i2ig_weights_free": (None, [_vp]),
    "i2ig_weights_verify": (_st, [_vp]),
    "i2ig_weights_format_version": (ctypes.c_uint32, [_vp]),
    "i2ig_weights_tensor_count": (_s, [_vp]),
    "i2ig_weights_tensor_info": (_st, [_vp, _s, ctypes.POINTER(TensorInfo)]),
    "i2ig_weights_find": (_st, [_vp, _cp, _ps]),
    "i2ig_weights_tensor_data": (_st, [_vp, _s, _pvp]),
    "i2ig_weights_read_f32": (_st, [_vp, _cp, ctypes.c_uint32, _pu64, _f]),
    "i2ig_weights_meta_count": (_s, [_vp]),
    "i2ig_weights_meta_entry": (_st, [_vp, _s, _pcp, _pi]),
    "i2ig_weights_meta_int": (_st, [_vp, _cp, ctypes.POINTER(_i64)]),
    "i2ig_weights_meta_float": (_st, [_vp, _cp, _pd]),
    "i2ig_weights_meta_string": (_st, [_vp, _cp, _pcp]),
    "i2ig_weights_meta_int_array": (_st, [_vp, _cp, ctypes.POINTER(ctypes.POINTER(_i64)), _ps]),
    "i2ig_weights_meta_float_array": (_st, [_vp, _cp, ctypes.POINTER(_pd), _ps]),
    "i2ig_weights_meta_string_array": (_st, [_vp, _cp, ctypes.POINTER(_pcp), _ps]),
    # weight-file writer
    "i2ig_weights_writer_create": (_st, [_pvp]),
    "i2ig_weights_writer_free": (None, [_vp]),
    "i2ig_weights_writer_set_int": (_st, [_vp, _cp, _i64]),
    "i2ig_weights_writer_set_float": (_st, [_vp, _cp, _d]),
    "i2ig_weights_writer_set_string": (_st, [_vp, _cp, _cp]),
    "i2ig_weights_writer_set_int_array": (_st, [_vp, _cp, ctypes.POINTER(_i64), _s]),
    "i2ig_weights_writer_set_float_array": (_st, [_vp, _cp, _pd, _s]),
    "i2ig_weights_writer_set_string_array": (_st, [_vp, _cp, _pcp, _s]),
    "i2ig_weights_writer_add_tensor": (_st, [_vp, _cp, _i, ctypes.c_uint32, _pu64, _i, _vp,
                                             _u]),
    "i2ig_weights_writer_write": (_st, [_vp, _cp]),
    # images
    "i2ig_image_create": (_st, [_i, _s, _s, _s, _pvp]),
    "i2ig_image_free": (None, [_vp]),
    "i2ig_image_load": (_st, [_cp, _pvp]),
    "i2ig_image_load_limited": (_st, [_cp, _u64, _pvp]),
    "i2ig_image_save": (_st, [_vp, _cp, _i]),
    "i2ig_image_dtype": (_i, [_vp]),
    "i2ig_image_width": (_s, [_vp]),
    "i2ig_image_height": (_s, [_vp]),
    "i2ig_image_slices": (_s, [_vp]),
    "i2ig_image_data": (_vp, [_vp, _s]),
    "i2ig_image_const_data": (_vp, [_vp, _s]),
    "i2ig_image_spacing": (None, [_vp, _pd, _pd]),
    "i2ig_image_set_spacing": (_st, [_vp, _d, _d]),
    "i2ig_image_extract_slice": (_st, [_vp, _s, _pvp]),
    "i2ig_image_convert": (_st, [_vp, _i, _d, _d, _pvp]),
    "i2ig_image_compare": (_st, [_vp, _vp, _s, ctypes.POINTER(Metrics)]),
    # encoder
    "i2ig_encoder_load": (_st, [_cp, _pvp]),
    "i2ig_encoder_free": (None, [_vp]),
    "i2ig_encoder_set_threads": (_st, [_vp, _i]),
    "i2ig_encoder_get_info": (_st, [_vp, ctypes.POINTER(EncoderInfo)]),
    "i2ig_encoder_encode_image": (_st, [_vp, _f, _s, _s, _s, _f, _f, _f]),
    "i2ig_encoder_image_grad": (_st, [_vp, _f, _s, _s, _s, _f, _f, _f, _f]),
    "i2ig_encoder_tokenize": (_st, [_vp, _cp, ctypes.POINTER(ctypes.c_int32), _ps]),
    "i2ig_encoder_encode_text": (_st, [_vp, _cp, _f, _f]),
    # generator and translation
    "i2ig_generator_config_init": (_st, [ctypes.POINTER(GeneratorConfig)]),
    "i2ig_generator_create": (_st, [ctypes.POINTER(GeneratorConfig), _u64, _pvp]),
    "i2ig_generator_load": (_st, [_cp, _pvp]),
    "i2ig_generator_free": (None, [_vp]),
    "i2ig_generator_save": (_st, [_vp, _cp]),
    "i2ig_generator_set_threads": (_st, [_vp, _i]),
    "i2ig_generator_get_config": (_st, [_vp, ctypes.POINTER(GeneratorConfig)]),
    "i2ig_generator_parameter_count": (_s, [_vp]),
    "i2ig_generator_size_multiple": (_s, [_vp]),
    "i2ig_generator_add_domain": (_st, [_vp, _cp, _cp, _i, _f, _s, _f, _s,
                                        ctypes.POINTER(IntensityMapping)]),
    "i2ig_generator_add_domain_encoded": (_st, [_vp, _vp, _cp, _cp, _i,
                                                ctypes.POINTER(IntensityMapping)]),
    "i2ig_generator_domain_count": (_s, [_vp]),
    "i2ig_generator_domain_name": (_cp, [_vp, _s]),
    "i2ig_generator_domain_info": (_st, [_vp, _cp, _pcp, _pi, ctypes.POINTER(IntensityMapping)]),
    "i2ig_generator_forward": (_st, [_vp, _f, _s, _s, _s, _cp, _f]),
    "i2ig_generator_set_progress": (_st, [_vp, ProgressFn, _vp]),
    "i2ig_translate": (_st, [_vp, _cp, _cp, _i, _vp, _s, _s, _s, _vp]),
    "i2ig_translate_image": (_st, [_vp, _cp, _cp, _vp, _pvp]),
    # discriminator
    "i2ig_discriminator_config_init": (_st, [ctypes.POINTER(DiscriminatorConfig)]),
    "i2ig_discriminator_create": (_st, [ctypes.POINTER(DiscriminatorConfig), _u64, _pvp]),
    "i2ig_discriminator_load": (_st, [_cp, _pvp]),
    "i2ig_discriminator_save": (_st, [_vp, _cp]),
    "i2ig_discriminator_free": (None, [_vp]),
    "i2ig_discriminator_set_threads": (_st, [_vp, _i]),
    "i2ig_discriminator_parameter_count": (_s, [_vp]),
    "i2ig_discriminator_forward": (_st, [_vp, _f, _s, _s, _pi, _f, _i, _f]),
    "i2ig_discriminator_backward": (_st, [_vp, _f, _s, _s, _pi, _f, _f, _f]),
    # training (absent from inference-only builds)
    "i2ig_train_config_init": (_st, [ctypes.POINTER(TrainConfig)]),
    "i2ig_trainer_create": (_st, [ctypes.POINTER(TrainConfig), ctypes.POINTER(GeneratorConfig),
                                  _vp, _pvp]),
    "i2ig_trainer_free": (None, [_vp]),
    "i2ig_trainer_add_domain": (_st, [_vp, _cp, _cp, _i, ctypes.POINTER(IntensityMapping),
                                      _pvp, _s]),
    "i2ig_trainer_step": (_st, [_vp, ctypes.POINTER(TrainLosses)]),
    "i2ig_trainer_run": (_st, [_vp, TrainProgressFn, _vp, _pi]),
    "i2ig_trainer_set_reduce_hook": (_st, [_vp, ReduceFn, _vp]),
    "i2ig_trainer_steps_done": (_i64, [_vp]),
    "i2ig_trainer_get_config": (_st, [_vp, ctypes.POINTER(TrainConfig)]),
    "i2ig_trainer_domain_count": (_s, [_vp]),
    "i2ig_trainer_domain_name": (_cp, [_vp, _s]),
    "i2ig_trainer_preview": (_st, [_vp, _cp, _cp, _s, _i, _ps, _f, _f, _f]),
    "i2ig_trainer_domain_slices": (_s, [_vp, _s]),
    "i2ig_trainer_preview_slices": (_st, [_vp, _cp, _cp, _ps, _s, _i, _ps, _f, _f, _f]),
    "i2ig_trainer_save_checkpoint": (_st, [_vp, _cp]),
    "i2ig_trainer_load_checkpoint": (_st, [_cp, _vp, _pvp]),
    "i2ig_trainer_export_generator": (_st, [_vp, _cp, _i]),
}

TRAINING_FUNCTIONS = tuple(n for n in _decls if n.startswith(("i2ig_train", "i2ig_trainer")))

_missing = []
for _name, (_res, _args) in _decls.items():
    _fn = getattr(lib, _name, None)
    if _fn is None:
        _missing.append(_name)  # absent from this build (e.g. an inference-only library)
        continue
    _fn.restype = _res
    _fn.argtypes = _args


def declared():
    """Names of every C function this module declares."""
    return tuple(_decls)


def has(name):
    """True when the loaded library exports the function name."""
    return name in _decls and name not in _missing


def missing():
    """Declared functions absent from the loaded library."""
    return tuple(_missing)


def has_training():
    """True when the library was built with I2IG_FEATURE_TRAINING and
    exports every training function."""
    return bool(lib.i2ig_build_features() & FEATURE_TRAINING) and \
        not any(n in _missing for n in TRAINING_FUNCTIONS)
