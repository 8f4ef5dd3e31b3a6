"""Pure-Python (numpy) reader and writer of .i2ig weight files, format version 1.

The format is specified in docs/weight-format.md. This module and the C
library (lib/weights) are two independent implementations of it: for the same
content they write byte-identical files, and they reject the same malformed
files with the same status.

Reading::

    wf = weights.read("model.i2ig")
    wf.version          # format version of the file (1)
    wf.meta             # dict key -> value, in file order
    wf.tensors          # dict name -> numpy array, in file order
    wf.dtypes           # dict name -> stored dtype: "f32", "f16" or "bf16"
    wf.info[name]       # TensorInfo(dtype, shape, offset, nbytes, crc32)

Tensor arrays: f32 -> numpy.float32, f16 -> numpy.float16, bf16 -> numpy.float32
(exact: every bf16 value is a float32 whose low 16 bits are zero; numpy has no
bfloat16 type). ``write(path, wf.meta, wf.tensors, wf.dtypes)`` rewrites a file
bit for bit.

Metadata values: INT -> int, FLOAT -> float, STRING -> str, INT_ARRAY ->
IntArray, FLOAT_ARRAY -> FloatArray, STRING_ARRAY -> StringArray (three list
subclasses that remember their element type, so that even an empty array
keeps its type through a round trip; they compare equal to plain lists).

Writing::

    weights.write("model.i2ig", meta, tensors, dtypes={"w": "f16"})

``meta`` maps str keys to: int (also bool and numpy integers) -> INT; float
(numpy floats) -> FLOAT; str -> STRING; a list or tuple of ints -> INT_ARRAY,
of numbers with at least one float -> FLOAT_ARRAY, of str -> STRING_ARRAY; a
1-D numpy array by its dtype (integer or bool -> INT_ARRAY, floating ->
FLOAT_ARRAY, unicode -> STRING_ARRAY). An empty list or tuple has no element
type: pass IntArray(), FloatArray() or StringArray() (or a typed empty numpy
array) instead; a plain empty list raises TypeError.

``tensors`` maps str names to array-likes of 1 to 8 dimensions, each >= 1.
Values are converted to float32 first (float16 input is kept as is), then
stored as ``dtypes[name]`` ("f32", "f16" or "bf16"); the default is "f16" for
float16 arrays and "f32" otherwise. float32 -> f16/bf16 rounds to nearest,
ties to even; a NaN stays a NaN of the same sign (top mantissa bits kept, the
quiet bit set if they are all zero), exactly as the C writer does.

The file is written atomically: to a temporary file in the same folder,
fsync, os.replace, fsync of the folder; on any error the temporary file is
removed and a previous file under the same name is left untouched.

Errors: malformed files raise a WeightFileError (a ValueError) subclass whose
``status`` names the matching C status (e.g. "I2IG_ERR_CHECKSUM") and whose
message starts with the file path. A missing file or a folder raises the usual
OSError (FileNotFoundError, IsADirectoryError).
"""

import collections
import errno
import mmap
import os
import stat
import struct
import tempfile
import zlib

import numpy as np

__all__ = [
    "FORMAT_VERSION", "read", "write", "WeightFile", "TensorInfo",
    "IntArray", "FloatArray", "StringArray",
    "f32_to_f16_bits", "f32_to_bf16_bits", "bf16_bits_to_f32",
    "WeightFileError", "BadMagicError", "VersionError", "TruncatedError",
    "OutOfRangeError", "OverlapError", "DuplicateError", "AlignmentError",
    "DimensionsError", "DtypeError", "ChecksumError", "MetadataError",
    "UnsupportedError",
]

FORMAT_VERSION = 1
MAGIC = b"\x89I2IG\r\n\x1a"
HEADER_SIZE = 64
DEFAULT_ALIGNMENT = 64
MAX_DIMS = 8

# i2ig_dtype values and element sizes of the three weight types.
_DTYPE_CODE = {"f32": 1, "f16": 2, "bf16": 3}
_DTYPE_NAME = {v: k for k, v in _DTYPE_CODE.items()}
_DTYPE_SIZE = {1: 4, 2: 2, 3: 2}

# i2ig_meta_type values.
META_INT, META_FLOAT, META_STRING = 1, 2, 3
META_INT_ARRAY, META_FLOAT_ARRAY, META_STRING_ARRAY = 4, 5, 6
_META_NAMES = {1: "int", 2: "float", 3: "string", 4: "int array", 5: "float array",
               6: "string array"}

# Smallest possible entries (see lib/weights/format.h).
_MIN_META_ENTRY = 4 + 1 + 4 + 8
_MIN_TENSOR_ENTRY = 4 + 1 + 4 + 4 + 8 + 8 + 8 + 4

# Header: magic, version, header_size, alignment, flags, meta_count,
# tensor_count, index_size, data_offset, file_size, reserved, index_crc32.
_HEADER = struct.Struct("<8sIIIIIIQQQII")
assert _HEADER.size == HEADER_SIZE


# --------------------------------------------------------------------------
# Errors


class WeightFileError(ValueError):
    """A malformed weight file. ``status`` names the C library's status."""

    status = "I2IG_ERR_METADATA"

    def __init__(self, path, detail):
        super().__init__("%s: %s" % (path, detail))
        self.path = path
        self.detail = detail


class BadMagicError(WeightFileError):
    status = "I2IG_ERR_BAD_MAGIC"


class VersionError(WeightFileError):
    status = "I2IG_ERR_VERSION"


class TruncatedError(WeightFileError):
    status = "I2IG_ERR_TRUNCATED"


class OutOfRangeError(WeightFileError):
    status = "I2IG_ERR_OUT_OF_RANGE"


class OverlapError(WeightFileError):
    status = "I2IG_ERR_OVERLAP"


class DuplicateError(WeightFileError):
    status = "I2IG_ERR_DUPLICATE"


class AlignmentError(WeightFileError):
    status = "I2IG_ERR_ALIGNMENT"


class DimensionsError(WeightFileError):
    status = "I2IG_ERR_DIMENSIONS"


class DtypeError(WeightFileError):
    status = "I2IG_ERR_DTYPE"


class ChecksumError(WeightFileError):
    status = "I2IG_ERR_CHECKSUM"


class MetadataError(WeightFileError):
    status = "I2IG_ERR_METADATA"


class UnsupportedError(WeightFileError):
    status = "I2IG_ERR_UNSUPPORTED"


# --------------------------------------------------------------------------
# Typed metadata arrays


class IntArray(list):
    """A list stored as INT_ARRAY (int64 elements)."""


class FloatArray(list):
    """A list stored as FLOAT_ARRAY (float64 elements)."""


class StringArray(list):
    """A list stored as STRING_ARRAY (UTF-8 strings)."""


TensorInfo = collections.namedtuple("TensorInfo", "dtype shape offset nbytes crc32")


class WeightFile:
    """Content of a weight file returned by read()."""

    def __init__(self, path, version, alignment, meta, tensors, dtypes, info):
        self.path = path
        self.version = version
        self.alignment = alignment
        self.meta = meta
        self.tensors = tensors
        self.dtypes = dtypes
        self.info = info

    def __repr__(self):
        return "WeightFile(%r, version=%d, %d metadata, %d tensors)" % (
            self.path, self.version, len(self.meta), len(self.tensors))


# --------------------------------------------------------------------------
# Half-precision conversions (bit-exact twins of lib/weights/half.c)


def f32_to_f16_bits(x):
    """float32 array -> uint16 f16 bit patterns (nearest, ties to even)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        h = x.astype(np.float16).view(np.uint16)
    nan = np.isnan(x)
    if nan.any():
        u = x.view(np.uint32)[nan]
        m = (u >> 13) & 0x3FF
        m = np.where(m == 0, 0x200, m)
        h = h.copy()
        h[nan] = (((u >> 16) & 0x8000) | 0x7C00 | m).astype(np.uint16)
    return h


def f32_to_bf16_bits(x):
    """float32 array -> uint16 bf16 bit patterns (nearest, ties to even)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    # Non-NaN values never wrap: the largest is -inf, 0xff800000.
    r = ((u + np.uint32(0x7FFF) + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    if nan.any():
        hn = (u[nan] >> 16).astype(np.uint16)
        r[nan] = np.where((hn & 0x7F) == 0, hn | 0x40, hn)
    return r


def bf16_bits_to_f32(b):
    """uint16 bf16 bit patterns -> float32 array (exact)."""
    return (np.asarray(b, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


# --------------------------------------------------------------------------
# Reader


def _utf8(raw):
    """Decoded text, or None if raw is not valid UTF-8 or holds a NUL."""
    if b"\0" in raw:
        return None
    try:
        return raw.decode("utf-8")  # strict: refuses overlongs and surrogates
    except UnicodeDecodeError:
        return None


class _Cursor:
    """Reads the index; positions are file offsets as in the C reader."""

    def __init__(self, buf, pos, end, path):
        self.buf, self.pos, self.end, self.path = buf, pos, end, path

    def need(self, n, where, field):
        if n > self.end - self.pos:
            raise OutOfRangeError(
                self.path, "%s: %s (%d bytes at offset %d) runs past the end of the index at "
                "offset %d" % (where, field, n, self.pos, self.end))

    def u32(self):
        v = struct.unpack_from("<I", self.buf, self.pos)[0]
        self.pos += 4
        return v

    def u64(self):
        v = struct.unpack_from("<Q", self.buf, self.pos)[0]
        self.pos += 8
        return v

    def text(self, n, where, field, allow_empty):
        if n == 0 and not allow_empty:
            raise MetadataError(self.path, "%s: empty %s" % (where, field))
        self.need(n, where, field)
        s = _utf8(bytes(self.buf[self.pos:self.pos + n]))
        if s is None:
            raise MetadataError(
                self.path, "%s: %s is not valid UTF-8 or contains a NUL byte" % (where, field))
        self.pos += n
        return s

    def count(self, where):
        self.need(8, where, "element count")
        n = self.u64()
        if n > (self.end - self.pos) // 8:
            raise DimensionsError(
                self.path, "%s: %d elements cannot fit in the %d bytes left of the index"
                % (where, n, self.end - self.pos))
        return n


def _parse_meta(c, i):
    where = "metadata entry %d" % i
    c.need(4, where, "key length")
    key = c.text(c.u32(), where, "key", False)
    where = "metadata '%s'" % key[:200]
    c.need(4, where, "type")
    t = c.u32()
    if t not in _META_NAMES:
        raise MetadataError(c.path, "%s: unknown metadata type %d (known: 1..6)" % (where, t))
    if t == META_INT:
        c.need(8, where, "value")
        return key, struct.unpack("<q", struct.pack("<Q", c.u64()))[0]
    if t == META_FLOAT:
        c.need(8, where, "value")
        return key, struct.unpack("<d", struct.pack("<Q", c.u64()))[0]
    if t == META_STRING:
        c.need(8, where, "string length")
        return key, c.text(c.u64(), where, "value", True)
    if t in (META_INT_ARRAY, META_FLOAT_ARRAY):
        n = c.count(where)
        fmt = "<%d%s" % (n, "q" if t == META_INT_ARRAY else "d")
        vals = struct.unpack_from(fmt, c.buf, c.pos)
        c.pos += 8 * n
        return key, (IntArray if t == META_INT_ARRAY else FloatArray)(vals)
    n = c.count(where)
    out = StringArray()
    for k in range(n):
        elem = "%s element %d" % (where, k)
        c.need(8, elem, "string length")
        out.append(c.text(c.u64(), elem, "value", True))
    return key, out


def _parse_tensor(c, i, alignment, data_offset, file_size):
    where = "tensor entry %d" % i
    c.need(4, where, "name length")
    name = c.text(c.u32(), where, "name", False)
    where = "tensor '%s'" % name[:200]
    c.need(8, where, "dtype and ndim")
    dtype = c.u32()
    if dtype not in _DTYPE_SIZE:
        raise DtypeError(c.path, "%s: dtype %d is not a weight type (f32 = 1, f16 = 2, bf16 = 3)"
                         % (where, dtype))
    ndim = c.u32()
    if not 1 <= ndim <= MAX_DIMS:
        raise DimensionsError(c.path, "%s: %d dimensions (must be 1..%d)" % (where, ndim, MAX_DIMS))
    c.need(8 * ndim, where, "shape")
    shape = []
    count = 1
    for d in range(ndim):
        s = c.u64()
        if s == 0:
            raise DimensionsError(c.path, "%s: dimension %d is 0" % (where, d))
        count *= s
        if count >= 1 << 64:
            raise DimensionsError(c.path, "%s: element count overflows 64 bits" % where)
        shape.append(s)
    c.need(20, where, "offset, size and checksum")
    offset, nbytes, crc = c.u64(), c.u64(), c.u32()
    expect = count * _DTYPE_SIZE[dtype]
    if expect >= 1 << 64:
        raise DimensionsError(c.path, "%s: byte size overflows 64 bits" % where)
    if nbytes != expect:
        raise DimensionsError(c.path, "%s: size %d bytes, but shape %s of %s needs %d" % (
            where, nbytes, "x".join(map(str, shape)), _DTYPE_NAME[dtype], expect))
    if offset % alignment:
        raise AlignmentError(c.path, "%s: offset %d is not a multiple of the alignment %d"
                             % (where, offset, alignment))
    if offset < data_offset or offset > file_size or nbytes > file_size - offset:
        raise OutOfRangeError(c.path, "%s: %d bytes at offset %d lie outside the data area "
                              "[%d, %d)" % (where, nbytes, offset, data_offset, file_size))
    return name, TensorInfo(_DTYPE_NAME[dtype], tuple(shape), offset, nbytes, crc)


def _validate(buf, size, path):
    """Checks header and index in the C reader's order; returns
    (version, alignment, meta dict, info dict)."""
    pre = min(size, len(MAGIC))
    if bytes(buf[:pre]) != MAGIC[:pre]:
        got = " ".join("%02x" % b for b in bytes(buf[:pre]))
        raise BadMagicError(path, "not an .i2ig weight file (starts with %s, expected "
                            "89 49 32 49 47 0d 0a 1a)" % got)
    if size < HEADER_SIZE:
        raise TruncatedError(path, "file is %d bytes, shorter than the %d-byte header"
                             % (size, HEADER_SIZE))
    (_, version, header_size, alignment, flags, meta_count, tensor_count, index_size,
     data_offset, file_size, reserved, stored_crc) = _HEADER.unpack_from(buf, 0)
    if version == 0:
        raise VersionError(path, "format version 0 is invalid (versions start at 1)")
    if version > FORMAT_VERSION:
        raise VersionError(path, "format version %d is newer than this library supports (%d); "
                           "use a newer libi2igalip" % (version, FORMAT_VERSION))
    if index_size > size - HEADER_SIZE:
        raise TruncatedError(path, "the %d-byte index runs past the end of the file (%d bytes)"
                             % (index_size, size))
    crc = zlib.crc32(buf[HEADER_SIZE:HEADER_SIZE + index_size], zlib.crc32(buf[:60]))
    if crc != stored_crc:
        raise ChecksumError(path, "header/index checksum mismatch (stored %08x, computed %08x): "
                            "the file is corrupt" % (stored_crc, crc))
    if header_size != HEADER_SIZE:
        raise UnsupportedError(path, "header size %d (version 1 headers are %d bytes)"
                               % (header_size, HEADER_SIZE))
    if flags:
        raise UnsupportedError(path, "unknown header flags 0x%08x" % flags)
    if reserved:
        raise UnsupportedError(path, "reserved header bytes 56..59 are not zero")
    if alignment < DEFAULT_ALIGNMENT or alignment & (alignment - 1):
        raise AlignmentError(path, "alignment %d is not a power of two >= %d"
                             % (alignment, DEFAULT_ALIGNMENT))
    if file_size > size:
        raise TruncatedError(path, "file is %d bytes but its header says %d (truncated)"
                             % (size, file_size))
    if file_size < size:
        raise OutOfRangeError(path, "file is %d bytes but its header says %d (unexpected "
                              "trailing bytes)" % (size, file_size))
    if data_offset % alignment:
        raise AlignmentError(path, "data offset %d is not a multiple of the alignment %d"
                             % (data_offset, alignment))
    if data_offset < HEADER_SIZE + index_size or data_offset > file_size:
        raise OutOfRangeError(path, "data offset %d is not between the end of the index (%d) "
                              "and the end of the file (%d)"
                              % (data_offset, HEADER_SIZE + index_size, file_size))
    if meta_count * _MIN_META_ENTRY + tensor_count * _MIN_TENSOR_ENTRY > index_size:
        raise DimensionsError(path, "%d metadata entries and %d tensors cannot fit in a %d-byte "
                              "index" % (meta_count, tensor_count, index_size))

    c = _Cursor(buf, HEADER_SIZE, HEADER_SIZE + index_size, path)
    entries = [_parse_meta(c, i) for i in range(meta_count)]
    tensors = [_parse_tensor(c, i, alignment, data_offset, file_size)
               for i in range(tensor_count)]
    if c.pos != c.end:
        raise OutOfRangeError(path, "the index is %d bytes but its entries end after %d"
                              % (index_size, c.pos - HEADER_SIZE))
    meta = {}
    for key, value in entries:
        if key in meta:
            raise DuplicateError(path, "metadata key '%s' appears more than once" % key)
        meta[key] = value
    info = {}
    for name, ti in tensors:
        if name in info:
            raise DuplicateError(path, "tensor name '%s' appears more than once" % name)
        info[name] = ti
    by_offset = sorted(info.items(), key=lambda kv: kv[1].offset)
    for (na, a), (nb, b) in zip(by_offset, by_offset[1:]):
        if a.offset + a.nbytes > b.offset:
            raise OverlapError(path, "tensors '%s' (bytes %d..%d) and '%s' (bytes %d..%d) overlap"
                               % (na, a.offset, a.offset + a.nbytes, nb, b.offset,
                                  b.offset + b.nbytes))
    return version, alignment, meta, info


def _tensor_array(buf, ti):
    count = ti.nbytes // _DTYPE_SIZE[_DTYPE_CODE[ti.dtype]]
    if ti.dtype == "f32":
        a = np.frombuffer(buf, dtype="<f4", count=count, offset=ti.offset).astype(np.float32)
    elif ti.dtype == "f16":
        a = np.frombuffer(buf, dtype="<f2", count=count, offset=ti.offset).astype(np.float16)
    else:
        a = bf16_bits_to_f32(np.frombuffer(buf, dtype="<u2", count=count, offset=ti.offset))
    return a.reshape(ti.shape)


def read(path):
    """Reads and fully validates a weight file, every tensor checksum included."""
    path = os.fspath(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory, not a weight file", path)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "is not a regular file", path)
        size = st.st_size
        if size == 0:
            raise TruncatedError(path, "empty file (a weight file starts with a %d-byte header)"
                                 % HEADER_SIZE)
        mm = mmap.mmap(fd, size, access=mmap.ACCESS_READ)
    finally:
        os.close(fd)
    try:
        buf = memoryview(mm)
        try:
            version, alignment, meta, info = _validate(buf, size, path)
            tensors, dtypes = {}, {}
            for name, ti in info.items():
                crc = zlib.crc32(buf[ti.offset:ti.offset + ti.nbytes])
                if crc != ti.crc32:
                    raise ChecksumError(path, "tensor '%s': checksum mismatch (stored %08x, "
                                        "computed %08x): the tensor data is corrupt"
                                        % (name, ti.crc32, crc))
                tensors[name] = _tensor_array(buf, ti)
                dtypes[name] = ti.dtype
        finally:
            buf.release()
    finally:
        mm.close()
    return WeightFile(path, version, alignment, meta, tensors, dtypes, info)


# --------------------------------------------------------------------------
# Writer


def _name_bytes(name, what):
    if not isinstance(name, str):
        raise TypeError("%s must be a str, not %s" % (what, type(name).__name__))
    if not name:
        raise ValueError("empty %s" % what)
    if "\0" in name:
        raise ValueError("%s %r contains a NUL character" % (what, name))
    try:
        raw = name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("%s %r is not encodable as UTF-8" % (what, name)) from None
    if len(raw) > 0xFFFFFFFF:
        raise ValueError("%s longer than 4 GiB" % what)
    return raw


def _text_bytes(key, s):
    if "\0" in s:
        raise ValueError("metadata %r: string contains a NUL character" % key)
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("metadata %r: string is not encodable as UTF-8" % key) from None


def _int64(key, v):
    v = int(v)
    if not -(1 << 63) <= v < (1 << 63):
        raise ValueError("metadata %r: %d does not fit in int64" % (key, v))
    return v


def _is_int(v):
    return isinstance(v, (bool, int, np.integer, np.bool_))


def _is_float(v):
    return isinstance(v, (float, np.floating))


def _meta_type(key, v):
    """(meta type, normalised value) of a Python value."""
    if isinstance(v, IntArray):
        return META_INT_ARRAY, [_int64(key, x) for x in v]
    if isinstance(v, FloatArray):
        return META_FLOAT_ARRAY, [float(x) for x in v]
    if isinstance(v, StringArray):
        return META_STRING_ARRAY, [str(x) for x in v]
    if _is_int(v):
        return META_INT, _int64(key, v)
    if _is_float(v):
        return META_FLOAT, float(v)
    if isinstance(v, str):
        return META_STRING, v
    if isinstance(v, np.ndarray):
        if v.ndim != 1:
            raise TypeError("metadata %r: arrays must be 1-D, got shape %s" % (key, v.shape))
        if v.dtype.kind in "biu":
            return META_INT_ARRAY, [_int64(key, x) for x in v.tolist()]
        if v.dtype.kind == "f":
            return META_FLOAT_ARRAY, [float(x) for x in v.tolist()]
        if v.dtype.kind == "U":
            return META_STRING_ARRAY, [str(x) for x in v.tolist()]
        raise TypeError("metadata %r: cannot store a numpy array of %s" % (key, v.dtype))
    if isinstance(v, (list, tuple)):
        if not v:
            raise TypeError("metadata %r: an empty list has no element type; use IntArray(), "
                            "FloatArray() or StringArray()" % key)
        if all(isinstance(x, str) for x in v):
            return META_STRING_ARRAY, list(v)
        if all(_is_int(x) for x in v):
            return META_INT_ARRAY, [_int64(key, x) for x in v]
        if all(_is_int(x) or _is_float(x) for x in v):
            return META_FLOAT_ARRAY, [float(x) for x in v]
        raise TypeError("metadata %r: list elements must be all str, all int or all numbers" % key)
    raise TypeError("metadata %r: cannot store a value of type %s" % (key, type(v).__name__))


def _meta_entry(key, value):
    kb = _name_bytes(key, "metadata key")
    t, v = _meta_type(key, value)
    out = [struct.pack("<I", len(kb)), kb, struct.pack("<I", t)]
    if t == META_INT:
        out.append(struct.pack("<q", v))
    elif t == META_FLOAT:
        out.append(struct.pack("<d", v))
    elif t == META_STRING:
        b = _text_bytes(key, v)
        out += [struct.pack("<Q", len(b)), b]
    elif t in (META_INT_ARRAY, META_FLOAT_ARRAY):
        out.append(struct.pack("<Q%d%s" % (len(v), "q" if t == META_INT_ARRAY else "d"),
                               len(v), *v))
    else:
        out.append(struct.pack("<Q", len(v)))
        for s in v:
            b = _text_bytes(key, s)
            out += [struct.pack("<Q", len(b)), b]
    return b"".join(out)


def _check_tensor(name, a, dtype):
    """Stored dtype name of array a, after checking that it can be stored."""
    if a.dtype.kind not in "fiub":
        raise TypeError("tensor %r: cannot store elements of %s" % (name, a.dtype))
    if not 1 <= a.ndim <= MAX_DIMS:
        raise ValueError("tensor %r: %d dimensions (must be 1..%d; reshape a scalar to (1,))"
                         % (name, a.ndim, MAX_DIMS))
    if 0 in a.shape:
        raise ValueError("tensor %r: shape %s has a zero dimension" % (name, a.shape))
    if dtype is None:
        dtype = "f16" if a.dtype == np.float16 else "f32"
    if dtype not in _DTYPE_CODE:
        raise ValueError("tensor %r: dtype %r (use 'f32', 'f16' or 'bf16')" % (name, dtype))
    return dtype


def _stored(a, dtype):
    """Little-endian stored elements of a (1-D) in the stored dtype."""
    if dtype == "f16" and a.dtype == np.float16:
        out = a.astype("<f2")
    else:
        x = a.astype(np.float32)
        if dtype == "f32":
            out = x.astype("<f4")
        elif dtype == "f16":
            out = f32_to_f16_bits(x).astype("<u2")
        else:
            out = f32_to_bf16_bits(x).astype("<u2")
    return np.ascontiguousarray(out).reshape(-1)


def _align_up(v, a):
    return (v + a - 1) // a * a


def write(path, meta, tensors, dtypes=None, alignment=DEFAULT_ALIGNMENT):
    """Writes a weight file atomically (see the module documentation).

    alignment: tensor data alignment, a power of two >= 64; files written with
    the default 64 are byte-identical to those of the C writer."""
    path = os.fspath(path)
    alignment = int(alignment)
    if alignment < DEFAULT_ALIGNMENT or alignment & (alignment - 1) or alignment >= 1 << 32:
        raise ValueError("alignment %d is not a power of two >= 64" % alignment)
    dtypes = dict(dtypes or {})
    unknown = set(dtypes) - set(tensors)
    if unknown:
        raise ValueError("dtypes names tensors that are not given: %s" % sorted(unknown))
    if len(meta) > 0xFFFFFFFF or len(tensors) > 0xFFFFFFFF:
        raise ValueError("too many entries")

    meta_index = b"".join(_meta_entry(k, v) for k, v in meta.items())
    # Validate every tensor (and learn its size) before creating any file.
    plan = []
    for name, arr in tensors.items():
        nb = _name_bytes(name, "tensor name")
        a = np.asarray(arr)
        plan.append((name, nb, a, _check_tensor(name, a, dtypes.get(name))))
    tensor_index_size = sum(4 + len(nb) + 4 + 4 + 8 * a.ndim + 8 + 8 + 4 for _, nb, a, _ in plan)
    index_size = len(meta_index) + tensor_index_size
    data_offset = _align_up(HEADER_SIZE + index_size, alignment)

    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp.", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(bytes(data_offset))
            pos = data_offset
            entries = []
            for name, nb, a, dtype in plan:
                out, shape, code = _stored(a, dtype), a.shape, _DTYPE_CODE[dtype]
                off = _align_up(pos, alignment)
                f.write(bytes(off - pos))
                f.write(out.data)
                crc = zlib.crc32(out.data)
                entries.append(struct.pack("<I", len(nb)) + nb +
                               struct.pack("<II%dQQQI" % len(shape), code, len(shape), *shape,
                                           off, out.nbytes, crc))
                pos = off + out.nbytes
            index = meta_index + b"".join(entries)
            assert len(index) == index_size
            head = _HEADER.pack(MAGIC, FORMAT_VERSION, HEADER_SIZE, alignment, 0, len(meta),
                                len(tensors), index_size, data_offset, pos, 0, 0)
            crc = zlib.crc32(index, zlib.crc32(head[:60]))
            f.seek(0)
            f.write(head[:60] + struct.pack("<I", crc) + index)
            f.flush()
            os.fsync(f.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dfd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
