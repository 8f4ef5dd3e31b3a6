"""Shared helpers of the test_image_* suites (no tests here).

Reaches the C library only through its public API with ctypes: the path of
libi2igalip.so comes from I2IG_LIBRARY, the test helper image_tiffgen (a
libtiff writer for layouts our own writer never makes) from I2IG_BUILD_DIR.
"""
import ctypes
import os
import subprocess
import tempfile

import numpy as np

# Pinned status values of include/i2igalip.h.
OK = 0
INVALID_ARGUMENT = 1
IO = 3
DIMENSIONS = 11
DTYPE = 12
IMAGE_FORMAT = 17
UNSUPPORTED = 18
TOO_LARGE = 19

FORMAT_AUTO, FORMAT_PNG, FORMAT_JPEG, FORMAT_BMP, FORMAT_TIFF = 0, 1, 2, 3, 4

_DTYPES = {4: np.uint8, 5: np.uint16, 6: np.int16, 1: np.float32}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}

_build = os.environ.get("I2IG_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
LIB_PATH = os.environ.get("I2IG_LIBRARY", os.path.join(_build, "lib", "libi2igalip.so"))
TIFFGEN = os.path.join(_build, "tests", "unit", "image_tiffgen")
DATA_DIR = os.environ.get("I2IG_DATA_DIR",
                          os.path.join(os.path.dirname(__file__), "..", "..", "examples", "data"))

lib = ctypes.CDLL(LIB_PATH)
_vp, _sz = ctypes.c_void_p, ctypes.c_size_t
lib.i2ig_last_error.restype = ctypes.c_char_p
lib.i2ig_image_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(_vp)]
lib.i2ig_image_load_limited.argtypes = [ctypes.c_char_p, ctypes.c_uint64, ctypes.POINTER(_vp)]
lib.i2ig_image_save.argtypes = [_vp, ctypes.c_char_p, ctypes.c_int]
lib.i2ig_image_create.argtypes = [ctypes.c_int, _sz, _sz, _sz, ctypes.POINTER(_vp)]
lib.i2ig_image_free.argtypes = [_vp]
lib.i2ig_image_free.restype = None
for _f in ("width", "height", "slices"):
    getattr(lib, "i2ig_image_" + _f).argtypes = [_vp]
    getattr(lib, "i2ig_image_" + _f).restype = _sz
lib.i2ig_image_dtype.argtypes = [_vp]
lib.i2ig_image_data.argtypes = [_vp, _sz]
lib.i2ig_image_data.restype = _vp
lib.i2ig_image_spacing.argtypes = [_vp, ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double)]
lib.i2ig_image_spacing.restype = None
lib.i2ig_image_set_spacing.argtypes = [_vp, ctypes.c_double, ctypes.c_double]


def last_error():
    return lib.i2ig_last_error().decode("utf-8", "replace")


class Loaded:
    """Result of a load: status, message, pixels (slices, rows, cols), spacing."""

    def __init__(self, status, message, array=None, spacing=(0.0, 0.0)):
        self.status, self.message, self.array, self.spacing = status, message, array, spacing


def load(path, limit=None):
    h = _vp()
    p = os.fsencode(path)
    st = lib.i2ig_image_load(p, ctypes.byref(h)) if limit is None else \
        lib.i2ig_image_load_limited(p, limit, ctypes.byref(h))
    if st != OK:
        assert not h.value, "failed load must leave *out NULL"
        return Loaded(st, last_error())
    try:
        dt = np.dtype(_DTYPES[lib.i2ig_image_dtype(h)])
        s, r, c = lib.i2ig_image_slices(h), lib.i2ig_image_height(h), lib.i2ig_image_width(h)
        n = s * r * c * dt.itemsize
        buf = (ctypes.c_ubyte * n).from_address(lib.i2ig_image_data(h, 0))
        arr = np.frombuffer(bytes(buf), dtype=dt).reshape(s, r, c)
        sx, sy = ctypes.c_double(), ctypes.c_double()
        lib.i2ig_image_spacing(h, ctypes.byref(sx), ctypes.byref(sy))
        return Loaded(st, "", arr, (sx.value, sy.value))
    finally:
        lib.i2ig_image_free(h)


def save(arr, path, fmt=FORMAT_AUTO, spacing=None):
    """Saves a (slices, rows, cols) or (rows, cols) array; returns the status."""
    arr = np.ascontiguousarray(arr)
    if arr.ndim == 2:
        arr = arr[None]
    h = _vp()
    st = lib.i2ig_image_create(_CODES[arr.dtype], arr.shape[2], arr.shape[1], arr.shape[0],
                               ctypes.byref(h))
    assert st == OK, last_error()
    try:
        ctypes.memmove(lib.i2ig_image_data(h, 0), arr.ctypes.data, arr.nbytes)
        if spacing:
            assert lib.i2ig_image_set_spacing(h, spacing[0], spacing[1]) == OK
        return lib.i2ig_image_save(h, os.fsencode(path), fmt)
    finally:
        lib.i2ig_image_free(h)


def luma(rgb):
    """The documented rule Y = 0.299 R + 0.587 G + 0.114 B, rounded half up,
    computed independently of the C code with exact integer arithmetic."""
    rgb = rgb.astype(np.int64)
    return (299 * rgb[..., 0] + 587 * rgb[..., 1] + 114 * rgb[..., 2] + 500) // 1000


def tiffgen(out, data, **keys):
    """Writes data (pages, rows, cols[, samples]) with libtiff's encoder through
    the image_tiffgen helper; keys as documented in image_tiffgen.c."""
    data = np.ascontiguousarray(data)
    with tempfile.NamedTemporaryFile(suffix=".raw", delete=False) as f:
        f.write(data.tobytes())
        raw = f.name
    args = [TIFFGEN, out, raw]
    extra_files = []
    for k, v in keys.items():
        if k == "colormap":
            with tempfile.NamedTemporaryFile(suffix=".cmap", delete=False) as f:
                f.write(np.ascontiguousarray(v, dtype=np.uint16).tobytes())
                extra_files.append(f.name)
                v = f.name
        args.append("%s=%s" % (k, v))
    try:
        subprocess.run(args, check=True, capture_output=True)
    finally:
        for p in [raw] + extra_files:
            os.unlink(p)


def scratch_dir():
    return tempfile.mkdtemp(prefix="i2ig-image-")
