"""Weight files (.i2ig) through the C reader and writer.

The pure-Python reader/writer is i2igalip.weights; both follow
docs/weight-format.md and use the same value conventions:
tensors f32 -> float32, f16 -> float16, bf16 -> float32 (exact); metadata
INT -> int, FLOAT -> float, STRING -> str, arrays -> weights.IntArray /
FloatArray / StringArray.
"""
import collections
import ctypes

import numpy as np

from . import capi, weights
from ._handle import Handle, cstr, new_handle, path_arg

TensorInfo = collections.namedtuple("TensorInfo", "name dtype shape offset nbytes crc32")

_DTYPE_NAME = {capi.DTYPE_F32: "f32", capi.DTYPE_F16: "f16", capi.DTYPE_BF16: "bf16"}
_STORE = {"f32": capi.DTYPE_F32, "f16": capi.DTYPE_F16, "bf16": capi.DTYPE_BF16}


class Weights(Handle):
    """An open, validated weight file (i2ig_weights), tensor data memory-mapped.

        with Weights.open("model.i2ig") as w:
            w.metadata["generator.model_channels"]
            w.names()                  # tensor names in file order
            w["unet.out.2.weight"]     # numpy array
    """

    _free = "i2ig_weights_free"

    @classmethod
    def open(cls, path, verify_all=False):
        """Opens and validates a file; verify_all checks every tensor
        checksum now (else each on first access)."""
        h = new_handle()
        flags = capi.OPEN_VERIFY_ALL if verify_all else 0
        capi.check(capi.lib.i2ig_weights_open(path_arg(path), flags, ctypes.byref(h)))
        return cls(h)

    def verify(self):
        """Checks every tensor checksum (Error I2IG_ERR_CHECKSUM names the tensor)."""
        with self._lock:
            capi.check(capi.lib.i2ig_weights_verify(self._h))

    @property
    def format_version(self):
        with self._lock:
            return capi.lib.i2ig_weights_format_version(self._h)

    def __len__(self):
        with self._lock:
            return capi.lib.i2ig_weights_tensor_count(self._h)

    def info(self, key):
        """TensorInfo(name, dtype "f32"/"f16"/"bf16", shape, offset, nbytes,
        crc32) of a tensor given by index or name."""
        with self._lock:
            index = self._index(key)
            ti = capi.new(capi.TensorInfo)
            capi.check(capi.lib.i2ig_weights_tensor_info(self._h, index, ctypes.byref(ti)))
            return TensorInfo(ti.name.decode("utf-8"), _DTYPE_NAME.get(ti.dtype, "?"),
                              tuple(ti.shape[:ti.ndim]), ti.offset, ti.nbytes, ti.crc32)

    def _index(self, key):
        if isinstance(key, str):
            i = ctypes.c_size_t()
            capi.check(capi.lib.i2ig_weights_find(self._h, cstr(key, "name"), ctypes.byref(i)))
            return i.value
        return int(key)

    def names(self):
        return [self.info(i).name for i in range(len(self))]

    def __contains__(self, name):
        i = ctypes.c_size_t()
        with self._lock:
            return capi.lib.i2ig_weights_find(self._h, cstr(name, "name"), ctypes.byref(i)) == 0

    def __iter__(self):
        return iter(self.names())

    def raw(self, key):
        """A copy of a tensor's stored elements: float32, float16, or the
        uint16 bit patterns of bf16."""
        with self._lock:
            ti = self.info(key)
            p = ctypes.c_void_p()
            capi.check(capi.lib.i2ig_weights_tensor_data(self._h, self._index(key),
                                                         ctypes.byref(p)))
            dt = {"f32": np.float32, "f16": np.float16, "bf16": np.uint16}[ti.dtype]
            out = np.empty(ti.shape, dt)
            ctypes.memmove(out.ctypes.data, p.value, ti.nbytes)
        return out

    def tensor(self, key):
        """A tensor as numpy: f32 -> float32, f16 -> float16, bf16 -> float32."""
        a = self.raw(key)
        return weights.bf16_bits_to_f32(a).reshape(a.shape) if a.dtype == np.uint16 else a

    __getitem__ = tensor

    def read_f32(self, name, shape=None):
        """A tensor converted to float32 by the C reader, after it checked the
        shape (default: the stored one)."""
        shape = tuple(self.info(name).shape) if shape is None else tuple(shape)
        out = np.empty(shape, np.float32)
        dims = (ctypes.c_uint64 * max(1, len(shape)))(*shape)
        with self._lock:
            capi.check(capi.lib.i2ig_weights_read_f32(self._h, cstr(name, "name"), len(shape),
                                                      dims, out.ctypes.data_as(capi.c_float_p)))
        return out

    @property
    def metadata(self):
        """Every metadata entry, in file order, as a dict."""
        out = {}
        with self._lock:
            n = capi.lib.i2ig_weights_meta_count(self._h)
            for i in range(n):
                key, kind = ctypes.c_char_p(), ctypes.c_int()
                capi.check(capi.lib.i2ig_weights_meta_entry(self._h, i, ctypes.byref(key),
                                                            ctypes.byref(kind)))
                out[key.value.decode("utf-8")] = self._meta(key.value, kind.value)
        return out

    def meta(self, key):
        """One metadata value (Error I2IG_ERR_METADATA when absent)."""
        md = self.metadata
        if key in md:
            return md[key]
        with self._lock:
            return self._meta(cstr(key, "key"), 0)

    def _meta(self, key, kind):
        L, h, n = capi.lib, self._h, ctypes.c_size_t()
        if kind == capi.META_INT:
            v = ctypes.c_int64()
            capi.check(L.i2ig_weights_meta_int(h, key, ctypes.byref(v)))
            return v.value
        if kind == capi.META_FLOAT:
            v = ctypes.c_double()
            capi.check(L.i2ig_weights_meta_float(h, key, ctypes.byref(v)))
            return v.value
        if kind == capi.META_STRING:
            v = ctypes.c_char_p()
            capi.check(L.i2ig_weights_meta_string(h, key, ctypes.byref(v)))
            return v.value.decode("utf-8")
        if kind == capi.META_INT_ARRAY:
            v = ctypes.POINTER(ctypes.c_int64)()
            capi.check(L.i2ig_weights_meta_int_array(h, key, ctypes.byref(v), ctypes.byref(n)))
            return weights.IntArray(v[:n.value])
        if kind == capi.META_FLOAT_ARRAY:
            v = ctypes.POINTER(ctypes.c_double)()
            capi.check(L.i2ig_weights_meta_float_array(h, key, ctypes.byref(v), ctypes.byref(n)))
            return weights.FloatArray(v[:n.value])
        if kind == capi.META_STRING_ARRAY:
            v = ctypes.POINTER(ctypes.c_char_p)()
            capi.check(L.i2ig_weights_meta_string_array(h, key, ctypes.byref(v),
                                                        ctypes.byref(n)))
            return weights.StringArray(s.decode("utf-8") for s in v[:n.value])
        # Unknown kind: ask the typed getter that fails, for the C message.
        v = ctypes.c_int64()
        capi.check(L.i2ig_weights_meta_int(h, key, ctypes.byref(v)))
        return v.value


class WeightsWriter(Handle):
    """Collects metadata and tensors, then writes a weight file atomically
    through the C writer.

        with WeightsWriter() as w:
            w.set("model.kind", "generator")
            w.add_tensor("x", np.ones((2, 3)), store="f16")
            w.write("out.i2ig")
    """

    _free = "i2ig_weights_writer_free"

    def __init__(self):
        h = new_handle()
        capi.check(capi.lib.i2ig_weights_writer_create(ctypes.byref(h)))
        super().__init__(h)

    def set(self, key, value):
        """Sets a metadata entry; its type follows the same rules as
        weights.write(): int, float, str, or a list/array of one of them
        (IntArray/FloatArray/StringArray for empty ones)."""
        kind, v = weights._meta_type(key, value)
        k = cstr(key, "key")
        L = capi.lib
        with self._lock:
            h = self._h
            if kind == capi.META_INT:
                st = L.i2ig_weights_writer_set_int(h, k, v)
            elif kind == capi.META_FLOAT:
                st = L.i2ig_weights_writer_set_float(h, k, v)
            elif kind == capi.META_STRING:
                st = L.i2ig_weights_writer_set_string(h, k, cstr(v, "value"))
            elif kind == capi.META_INT_ARRAY:
                st = L.i2ig_weights_writer_set_int_array(h, k, (ctypes.c_int64 * len(v))(*v),
                                                         len(v))
            elif kind == capi.META_FLOAT_ARRAY:
                st = L.i2ig_weights_writer_set_float_array(h, k, (ctypes.c_double * len(v))(*v),
                                                           len(v))
            else:
                b = [cstr(x, "value") for x in v]
                st = L.i2ig_weights_writer_set_string_array(h, k, (ctypes.c_char_p * len(b))(*b),
                                                            len(b))
            capi.check(st)

    def add_tensor(self, name, array, store="f32"):
        """Adds a tensor (copied), stored as "f32", "f16" or "bf16" (f32 ->
        f16/bf16 rounds to nearest even in C). float16 input is passed as
        f16, anything else as float32."""
        if store not in _STORE:
            raise ValueError("store must be f32, f16 or bf16, not %r" % (store,))
        a = np.asarray(array)
        if a.dtype == np.float16:
            a, src = np.ascontiguousarray(a), capi.DTYPE_F16
        else:
            a, src = np.ascontiguousarray(a, dtype=np.float32), capi.DTYPE_F32
        shape = (ctypes.c_uint64 * max(1, a.ndim))(*a.shape)
        with self._lock:
            capi.check(capi.lib.i2ig_weights_writer_add_tensor(
                self._h, cstr(name, "name"), _STORE[store], a.ndim, shape, src,
                a.ctypes.data, 0))

    def write(self, path):
        """Writes the file atomically (temporary file, fsync, rename)."""
        with self._lock:
            capi.check(capi.lib.i2ig_weights_writer_write(self._h, path_arg(path)))
