"""Images: 2-D slices and 3-D stacks of slices, as C handles and numpy arrays."""
import ctypes

import numpy as np

from . import capi
from ._handle import Handle, new_handle, path_arg

# numpy dtype <-> i2ig_dtype of pixels
_PIXEL = {np.dtype(np.uint8): capi.DTYPE_U8, np.dtype(np.uint16): capi.DTYPE_U16,
          np.dtype(np.int16): capi.DTYPE_I16, np.dtype(np.float32): capi.DTYPE_F32}
_NUMPY = {v: k for k, v in _PIXEL.items()}
_FORMATS = {None: capi.FORMAT_AUTO, "auto": capi.FORMAT_AUTO, "png": capi.FORMAT_PNG,
            "jpeg": capi.FORMAT_JPEG, "jpg": capi.FORMAT_JPEG, "bmp": capi.FORMAT_BMP,
            "tiff": capi.FORMAT_TIFF, "tif": capi.FORMAT_TIFF}


def pixel_dtype(dtype):
    """numpy dtype (or name: "u8", "uint16", np.float32...) -> i2ig_dtype."""
    if isinstance(dtype, str) and dtype in ("u8", "u16", "i16", "f32"):
        dtype = {"u8": np.uint8, "u16": np.uint16, "i16": np.int16, "f32": np.float32}[dtype]
    dt = np.dtype(dtype).newbyteorder("=")
    if dt not in _PIXEL:
        raise TypeError("pixels must be uint8, uint16, int16 or float32, not %s" % np.dtype(dtype))
    return _PIXEL[dt]


def numpy_dtype(code):
    """i2ig_dtype of pixels -> numpy dtype."""
    return _NUMPY[code]


def pixels(array, what="image"):
    """array-like -> (C-contiguous native-endian array, slices, height, width).

    2-D arrays are one slice (height x width), 3-D arrays a stack
    (slices x height x width). The dtype must be one of the pixel types:
    nothing is converted silently, because the output keeps the input's
    dtype and range."""
    a = np.asarray(array)
    pixel_dtype(a.dtype)
    if a.ndim not in (2, 3):
        raise ValueError("%s must be 2-D (height x width) or 3-D (slices x height x width), "
                         "not %d-D" % (what, a.ndim))
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    a = np.ascontiguousarray(a)
    s, h, w = (1,) + a.shape if a.ndim == 2 else a.shape
    if min(s, h, w) == 0:
        raise ValueError("%s is empty: shape %s" % (what, a.shape))
    return a, s, h, w


class Image(Handle):
    """A stack of slices held by the C library (i2ig_image).

    ``Image.load(path)`` reads PNG/JPEG/BMP/TIFF; ``Image.from_array(a)`` copies
    a numpy array (2-D slice or 3-D stack of uint8, uint16, int16 or float32);
    ``img.to_numpy()`` copies the pixels out as a (slices, height, width)
    array; ``img.save(path)`` writes PNG or TIFF atomically.
    """

    _free = "i2ig_image_free"

    @classmethod
    def load(cls, path, max_bytes=None):
        """Reads an image file (by content). max_bytes bounds the decoded size
        (default: the library's 1 GiB)."""
        h = new_handle()
        if max_bytes is None:
            capi.check(capi.lib.i2ig_image_load(path_arg(path), ctypes.byref(h)))
        else:
            capi.check(capi.lib.i2ig_image_load_limited(path_arg(path), int(max_bytes),
                                                        ctypes.byref(h)))
        return cls(h)

    @classmethod
    def create(cls, dtype, width, height, slices=1):
        """A zero-filled image."""
        h = new_handle()
        capi.check(capi.lib.i2ig_image_create(pixel_dtype(dtype), width, height, slices,
                                              ctypes.byref(h)))
        return cls(h)

    @classmethod
    def from_array(cls, array, spacing=None):
        """Copies a 2-D (height x width) or 3-D (slices x height x width)
        array; spacing = (x_mm, y_mm) optionally."""
        a, s, h, w = pixels(array)
        img = cls.create(a.dtype, w, h, s)
        ctypes.memmove(capi.lib.i2ig_image_data(img._h, 0), a.ctypes.data, a.nbytes)
        if spacing is not None:
            img.spacing = spacing
        return img

    @property
    def dtype(self):
        """numpy dtype of the pixels."""
        with self._lock:
            return numpy_dtype(capi.lib.i2ig_image_dtype(self._h))

    @property
    def width(self):
        with self._lock:
            return capi.lib.i2ig_image_width(self._h)

    @property
    def height(self):
        with self._lock:
            return capi.lib.i2ig_image_height(self._h)

    @property
    def slices(self):
        with self._lock:
            return capi.lib.i2ig_image_slices(self._h)

    @property
    def shape(self):
        """(slices, height, width)."""
        return (self.slices, self.height, self.width)

    def __len__(self):
        return self.slices

    @property
    def spacing(self):
        """Pixel spacing (x_mm, y_mm); 0 when unknown."""
        x, y = ctypes.c_double(), ctypes.c_double()
        with self._lock:
            capi.lib.i2ig_image_spacing(self._h, ctypes.byref(x), ctypes.byref(y))
        return (x.value, y.value)

    @spacing.setter
    def spacing(self, xy):
        x, y = xy
        with self._lock:
            capi.check(capi.lib.i2ig_image_set_spacing(self._h, float(x), float(y)))

    def to_numpy(self, squeeze=False):
        """A copy of the pixels, (slices, height, width); squeeze=True drops
        the slice axis of a single slice."""
        with self._lock:
            s, h, w = self.shape
            out = np.empty((s, h, w), self.dtype)
            ctypes.memmove(out.ctypes.data, capi.lib.i2ig_image_const_data(self._h, 0), out.nbytes)
        return out[0] if squeeze and s == 1 else out

    def __array__(self, dtype=None, copy=None):
        a = self.to_numpy()  # always a fresh copy
        return a if dtype is None else a.astype(dtype, copy=False)

    def save(self, path, format=None):
        """Writes the image atomically. format: None/"auto" (by extension),
        "png" (one u8/u16 slice) or "tiff" (any dtype, any slice count)."""
        try:
            fmt = _FORMATS[format.lower() if isinstance(format, str) else format]
        except KeyError:
            raise ValueError("unknown image format %r" % (format,)) from None
        with self._lock:
            capi.check(capi.lib.i2ig_image_save(self._h, path_arg(path), fmt))

    def extract_slice(self, index):
        """A new image holding a copy of one slice."""
        h = new_handle()
        with self._lock:
            capi.check(capi.lib.i2ig_image_extract_slice(self._h, index, ctypes.byref(h)))
        return Image(h)

    def convert(self, dtype, lo, hi):
        """A new image of dtype: values mapped linearly from [lo, hi] to the
        dtype's full range ([0, 1] for float32), clamped, rounded."""
        h = new_handle()
        with self._lock:
            capi.check(capi.lib.i2ig_image_convert(self._h, pixel_dtype(dtype), float(lo),
                                                   float(hi), ctypes.byref(h)))
        return Image(h)

    def compare(self, reference, slice=0):
        """PSNR (dB), SSIM and MAE of one slice against the same slice of a
        reference image of the same size, as I2I-Galip's evaluation computes
        them (each slice divided by its own maximum, data range 1, SSIM as
        scikit-image's structural_similarity with a Gaussian window, sigma
        1.5). Returns a dict with keys "psnr", "ssim", "mae"."""
        m = capi.new(capi.Metrics)
        # Both locks, taken in a fixed order so that a.compare(b) and
        # b.compare(a) on two threads cannot deadlock.
        first, second = sorted((self, reference), key=id)
        with first._lock, second._lock:
            capi.check(capi.lib.i2ig_image_compare(self._h, reference._h, slice, ctypes.byref(m)))
        return {"psnr": m.psnr, "ssim": m.ssim, "mae": m.mae}

    def __repr__(self):
        if self.closed:
            return "<i2igalip.Image closed>"
        return "<i2igalip.Image %d x %d x %d %s>" % (self.slices, self.height, self.width,
                                                     self.dtype)


def load(path, max_bytes=None):
    """Reads an image file into a numpy array (slices, height, width)."""
    with Image.load(path, max_bytes) as img:
        return img.to_numpy()


def save(array, path, format=None, spacing=None):
    """Writes a numpy array (2-D slice or 3-D stack) as PNG or TIFF."""
    with Image.from_array(array, spacing) as img:
        img.save(path, format)


def compare(test, reference):
    """Metrics of every slice of test (array or Image) against reference:
    a list of dicts {"psnr", "ssim", "mae"}; see Image.compare."""
    owned = []
    try:
        imgs = []
        for a in (test, reference):
            if isinstance(a, Image):
                imgs.append(a)
            else:
                owned.append(Image.from_array(a))
                imgs.append(owned[-1])
        return [imgs[0].compare(imgs[1], z) for z in range(imgs[0].slices)]
    finally:
        for img in owned:
            img.close()
