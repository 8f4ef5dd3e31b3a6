"""Malformed weight files: the Python reader and the C reader (through
`i2ig inspect`) must both reject every forged file, with the same status.

Each case writes a valid file with the Python writer, patches bytes at field
offsets located by the small index walker below (written from the spec, not
from i2igalip.weights), recomputes the index CRC-32 where the intended check
comes after the checksum, and expects an exact exception class whose message
starts with the path, and `i2ig inspect: <C status string>: <path>: ...`.
"""
import os
import struct
import subprocess
import tempfile
import unittest
import zlib

import numpy as np

from i2igalip import weights as W

TOOL = os.environ.get("I2IG_TOOL", os.path.join(
    os.environ.get("I2IG_BUILD_DIR", "build"), "tools", "i2ig", "i2ig"))

# i2ig_status_string() of the statuses a weight file can produce.
C_STATUS = {
    W.BadMagicError: "not a weight file (bad magic)",
    W.VersionError: "format version newer than supported",
    W.TruncatedError: "truncated file",
    W.OutOfRangeError: "offset or size out of range",
    W.OverlapError: "overlapping tensors",
    W.DuplicateError: "duplicate name",
    W.AlignmentError: "bad alignment",
    W.DimensionsError: "absurd dimensions or size overflow",
    W.DtypeError: "unknown or unsupported data type",
    W.ChecksumError: "checksum mismatch",
    W.MetadataError: "missing or malformed metadata",
    W.UnsupportedError: "unsupported kind of input",
}

# Header field offsets (spec, "Header").
VERSION, HEADER_SIZE, ALIGNMENT, FLAGS = 8, 12, 16, 20
META_COUNT, TENSOR_COUNT, INDEX_SIZE, DATA_OFFSET, FILE_SIZE, RESERVED, CRC = \
    24, 28, 32, 40, 48, 56, 60


def u32(b, o):
    return struct.unpack_from("<I", b, o)[0]


def u64(b, o):
    return struct.unpack_from("<Q", b, o)[0]


def put32(b, o, v):
    struct.pack_into("<I", b, o, v)


def put64(b, o, v):
    struct.pack_into("<Q", b, o, v)


def fix_crc(b):
    n = u64(b, INDEX_SIZE)
    put32(b, CRC, zlib.crc32(bytes(b[64:64 + n]), zlib.crc32(bytes(b[:60]))))


def meta_entries(b):
    """Start offsets of the metadata entries."""
    p, out = 64, []
    for _ in range(u32(b, META_COUNT)):
        out.append(p)
        p += 4 + u32(b, p)
        t = u32(b, p)
        p += 4
        if t in (1, 2):
            p += 8
        elif t == 3:
            p += 8 + u64(b, p)
        elif t in (4, 5):
            p += 8 + 8 * u64(b, p)
        else:
            n = u64(b, p)
            p += 8
            for _ in range(n):
                p += 8 + u64(b, p)
    return out, p


def tensor_fields(b, idx):
    """Field offsets of tensor entry idx."""
    _, p = meta_entries(b)
    for i in range(idx + 1):
        f = {"name": p + 4}
        f["dtype"] = f["name"] + u32(b, p)
        f["ndim"] = f["dtype"] + 4
        f["dims"] = f["ndim"] + 4
        f["offset"] = f["dims"] + 8 * u32(b, f["ndim"])
        f["nbytes"] = f["offset"] + 8
        f["crc"] = f["nbytes"] + 8
        p = f["crc"] + 4
    return f


A, B, C = 0, 1, 2  # tensors: a f32 4x40, b f16 [4], c bf16 3x1
ARCH, K1, K2, FA, SA = range(5)


def base_content():
    meta = {"arch": "unet", "k1": 7, "k2": 8, "fa": [1.5, 2.5], "sa": ["x", "yz"]}
    tensors = {"a": (np.arange(160, dtype=np.float32) * 0.25 - 7).reshape(4, 40),
               "b": np.array([1, 2, 3, 4], np.float16),
               "c": np.array([[1], [-2], [0.5]], np.float32)}
    return meta, tensors, {"c": "bf16"}


def align64(v):
    return (v + 63) // 64 * 64


def tf(b, t, field):
    return tensor_fields(b, t)[field]


def me(b, i):
    return meta_entries(b)[0][i]


def cut(n):
    def patch(b):
        del b[n:]
    return patch


def set32(off_fn, value):
    def patch(b):
        put32(b, off_fn(b), value)
    return patch


def set64(off_fn, value_fn):
    def patch(b):
        put64(b, off_fn(b), value_fn(b))
    return patch


def setbyte(off_fn, value):
    def patch(b):
        b[off_fn(b)] = value
    return patch


def xorbyte(off_fn, mask):
    def patch(b):
        b[off_fn(b)] ^= mask
    return patch


def many(*patches):
    def patch(b):
        for p in patches:
            p(b)
    return patch


def array_count(extra):
    """'fa' count of (room left after the count field) // 8 + extra."""
    def patch(b):
        at = me(b, FA) + 10
        room = 64 + u64(b, INDEX_SIZE) - (at + 8)
        put64(b, at, room // 8 + extra)
    return patch


def text_file(b):
    b[:] = b"hello, this is not a weight file at all ...\n"


def trailing(b):
    b += bytes(64)


def surrogate(b):
    p = me(b, ARCH) + 4 + 4 + 4 + 8
    b[p:p + 4] = b"u\xed\xa0\x80"


# name -> (patch, recompute the index crc?, expected error)
CASES = {
    "magic": (setbyte(lambda b: 1, ord("X")), False, W.BadMagicError),
    "magic_last": (setbyte(lambda b: 7, 0x1B), True, W.BadMagicError),
    "text": (text_file, False, W.BadMagicError),
    "version2": (set32(lambda b: VERSION, 2), True, W.VersionError),
    "version2_nocrc": (set32(lambda b: VERSION, 2), False, W.VersionError),
    "version_max": (set32(lambda b: VERSION, 0xFFFFFFFF), True, W.VersionError),
    "version0": (set32(lambda b: VERSION, 0), True, W.VersionError),
    "cut5": (cut(5), False, W.TruncatedError),
    "cut8": (cut(8), False, W.TruncatedError),
    "cut40_header": (cut(40), False, W.TruncatedError),
    "cut63": (cut(63), False, W.TruncatedError),
    "cut84_index": (cut(84), False, W.TruncatedError),
    "cut_data": (lambda b: cut(u64(b, DATA_OFFSET) + 10)(b), False, W.TruncatedError),
    "cut_last_byte": (lambda b: cut(len(b) - 1)(b), False, W.TruncatedError),
    "empty": (cut(0), False, W.TruncatedError),
    "offset_past_end": (set64(lambda b: tf(b, C, "offset"),
                              lambda b: align64(u64(b, FILE_SIZE)) + 64), True, W.OutOfRangeError),
    "offset_in_header": (set64(lambda b: tf(b, C, "offset"), lambda b: 0), True,
                         W.OutOfRangeError),
    "size_past_end": (many(set64(lambda b: tf(b, C, "dims"), lambda b: 300),
                           set64(lambda b: tf(b, C, "nbytes"), lambda b: 600)), True,
                      W.OutOfRangeError),
    "overlap_same": (set64(lambda b: tf(b, B, "offset"), lambda b: u64(b, tf(b, A, "offset"))),
                     True, W.OverlapError),
    "overlap_partial": (set64(lambda b: tf(b, C, "offset"),
                              lambda b: u64(b, tf(b, A, "offset")) + 64), True, W.OverlapError),
    "dup_tensor": (setbyte(lambda b: tf(b, B, "name"), ord("a")), True, W.DuplicateError),
    "dup_meta": (setbyte(lambda b: me(b, K2) + 5, ord("1")), True, W.DuplicateError),
    "align96": (set32(lambda b: ALIGNMENT, 96), True, W.AlignmentError),
    "align32": (set32(lambda b: ALIGNMENT, 32), True, W.AlignmentError),
    "align0": (set32(lambda b: ALIGNMENT, 0), True, W.AlignmentError),
    "unaligned_tensor": (set64(lambda b: tf(b, B, "offset"),
                               lambda b: u64(b, tf(b, B, "offset")) + 8), True, W.AlignmentError),
    "unaligned_data": (set64(lambda b: DATA_OFFSET, lambda b: u64(b, DATA_OFFSET) + 8), True,
                       W.AlignmentError),
    "dim0": (set64(lambda b: tf(b, A, "dims") + 8, lambda b: 0), True, W.DimensionsError),
    "ndim9": (set32(lambda b: tf(b, A, "ndim"), 9), True, W.DimensionsError),
    "ndim0": (set32(lambda b: tf(b, A, "ndim"), 0), True, W.DimensionsError),
    "count_overflow": (many(set64(lambda b: tf(b, A, "dims"), lambda b: 1 << 33),
                            set64(lambda b: tf(b, A, "dims") + 8, lambda b: 1 << 32)), True,
                       W.DimensionsError),
    "bytes_overflow": (many(set64(lambda b: tf(b, A, "dims"), lambda b: 1 << 31),
                            set64(lambda b: tf(b, A, "dims") + 8, lambda b: 1 << 31)), True,
                       W.DimensionsError),
    "nbytes_more": (set64(lambda b: tf(b, A, "nbytes"), lambda b: 644), True, W.DimensionsError),
    "nbytes_less": (set64(lambda b: tf(b, B, "nbytes"), lambda b: 6), True, W.DimensionsError),
    "tensor_count_huge": (set32(lambda b: TENSOR_COUNT, 0xFFFFFFFF), True, W.DimensionsError),
    "meta_count_huge": (set32(lambda b: META_COUNT, 1 << 30), True, W.DimensionsError),
    "array_count_huge": (set64(lambda b: me(b, FA) + 10, lambda b: 1 << 60), True,
                         W.DimensionsError),
    "array_count_plus1": (array_count(1), True, W.DimensionsError),
    "array_count_exact": (array_count(0), True, W.OutOfRangeError),
    "string_array_count_huge": (set64(lambda b: me(b, SA) + 10, lambda b: (1 << 64) - 1), True,
                                W.DimensionsError),
    "dtype0": (set32(lambda b: tf(b, B, "dtype"), 0), True, W.DtypeError),
    "dtype_u8": (set32(lambda b: tf(b, B, "dtype"), 4), True, W.DtypeError),
    "dtype_i16": (set32(lambda b: tf(b, B, "dtype"), 6), True, W.DtypeError),
    "dtype99": (set32(lambda b: tf(b, B, "dtype"), 99), True, W.DtypeError),
    "meta_type0": (set32(lambda b: me(b, K1) + 6, 0), True, W.MetadataError),
    "meta_type7": (set32(lambda b: me(b, K1) + 6, 7), True, W.MetadataError),
    "name_utf8": (setbyte(lambda b: tf(b, B, "name"), 0xFF), True, W.MetadataError),
    "name_nul": (setbyte(lambda b: tf(b, B, "name"), 0), True, W.MetadataError),
    "key_overlong": (many(setbyte(lambda b: me(b, K1) + 4, 0xC1),
                          setbyte(lambda b: me(b, K1) + 5, 0xB1)), True, W.MetadataError),
    "value_surrogate": (surrogate, True, W.MetadataError),
    "key_empty": (set32(lambda b: me(b, ARCH), 0), True, W.MetadataError),
    "string_array_nul": (setbyte(lambda b: me(b, SA) + 26, 0), True, W.MetadataError),
    "crc_name": (xorbyte(lambda b: tf(b, C, "name"), 1), False, W.ChecksumError),
    "crc_file_size": (xorbyte(lambda b: FILE_SIZE, 0x40), False, W.ChecksumError),
    "crc_stored": (xorbyte(lambda b: CRC + 3, 0x80), False, W.ChecksumError),
    "reserved": (setbyte(lambda b: RESERVED + 2, 1), True, W.UnsupportedError),
    "flags": (set32(lambda b: FLAGS, 1), True, W.UnsupportedError),
    "flags_high": (set32(lambda b: FLAGS, 0x80000000), True, W.UnsupportedError),
    "header_size": (set32(lambda b: HEADER_SIZE, 72), True, W.UnsupportedError),
    "trailing": (trailing, False, W.OutOfRangeError),
    "data_offset_in_index": (set64(lambda b: DATA_OFFSET, lambda b: 64), True, W.OutOfRangeError),
    "data_offset_past_end": (set64(lambda b: DATA_OFFSET,
                                   lambda b: align64(u64(b, FILE_SIZE)) + 64), True,
                             W.OutOfRangeError),
    "index_unused_bytes": (set32(lambda b: TENSOR_COUNT, 2), True, W.OutOfRangeError),
    "key_len_huge": (set32(lambda b: me(b, ARCH), 0xFFFFFFF0), True, W.OutOfRangeError),
}


class Malformed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="i2ig-bad-")
        cls.base = os.path.join(cls.tmp.name, "base.i2ig")
        W.write(cls.base, *base_content())
        with open(cls.base, "rb") as f:
            cls.base_bytes = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def forge(self, name, patch, crc):
        b = bytearray(self.base_bytes)
        patch(b)
        if crc:
            fix_crc(b)
        path = os.path.join(self.tmp.name, "bad_%s.i2ig" % name)
        with open(path, "wb") as f:
            f.write(b)
        return path

    def inspect(self, path, *args):
        return subprocess.run([TOOL, "inspect", path, *args], capture_output=True, text=True)

    def test_base_is_valid(self):
        wf = W.read(self.base)
        self.assertEqual(list(wf.tensors), ["a", "b", "c"])
        self.assertEqual(self.inspect(self.base, "--verify").returncode, 0)

    def test_cases(self):
        for name, (patch, crc, exc) in CASES.items():
            with self.subTest(case=name):
                path = self.forge(name, patch, crc)
                with self.assertRaises(exc) as cm:
                    W.read(path)
                self.assertIs(type(cm.exception), exc, str(cm.exception))
                self.assertIsInstance(cm.exception, ValueError)
                self.assertTrue(str(cm.exception).startswith(path + ": "), str(cm.exception))
                self.assertEqual(cm.exception.path, path)
                r = self.inspect(path)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                want = "i2ig inspect: %s: %s: " % (C_STATUS[exc], path)
                self.assertTrue(r.stderr.startswith(want), "C says: " + r.stderr)

    def test_messages_name_the_problem(self):
        expect = {
            "version2": ["version 2", "(1)"], "dup_tensor": ["tensor name 'a'"],
            "dup_meta": ["'k1'"], "overlap_same": ["'a'", "'b'"], "dim0": ["tensor 'a'"],
            "dtype99": ["tensor 'b'", "dtype 99"], "meta_type7": ["metadata 'k1'", "type 7"],
            "trailing": ["trailing"], "align96": ["alignment 96"],
        }
        for name, words in expect.items():
            patch, crc, exc = CASES[name]
            path = self.forge(name, patch, crc)
            with self.assertRaises(exc) as cm:
                W.read(path)
            c_msg = self.inspect(path).stderr
            for w in words:
                self.assertIn(w, str(cm.exception))
                self.assertIn(w, c_msg)

    def test_overlap_by_two_bytes(self):
        # p: 33 f16 = 66 bytes; q moved to p + 64 shares its last 2 bytes.
        path = os.path.join(self.tmp.name, "bad_overlap2.i2ig")
        W.write(path, {}, {"p": np.zeros(33, np.float16), "q": np.zeros(1, np.float32)})
        with open(path, "rb") as f:
            b = bytearray(f.read())
        p_off = u64(b, tf(b, 0, "offset"))
        self.assertEqual(u64(b, tf(b, 1, "offset")), p_off + 128)
        put64(b, tf(b, 1, "offset"), p_off + 64)
        fix_crc(b)
        with open(path, "wb") as f:
            f.write(b)
        with self.assertRaises(W.OverlapError) as cm:
            W.read(path)
        self.assertIn("'p'", str(cm.exception))
        r = self.inspect(path)
        self.assertTrue(r.stderr.startswith("i2ig inspect: overlapping tensors: " + path), r.stderr)

    def test_tensor_checksum(self):
        b = bytearray(self.base_bytes)
        b[u64(b, tf(b, B, "offset")) + 1] ^= 0x10
        path = os.path.join(self.tmp.name, "bad_tensor_crc.i2ig")
        with open(path, "wb") as f:
            f.write(b)
        with self.assertRaises(W.ChecksumError) as cm:
            W.read(path)
        self.assertTrue(str(cm.exception).startswith(path + ": tensor 'b': checksum mismatch"))
        # C: the index is fine, so a plain inspect works; --verify catches it.
        self.assertEqual(self.inspect(path).returncode, 0)
        r = self.inspect(path, "--verify")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("i2ig inspect: checksum mismatch: %s: tensor 'b'"
                                            % path), r.stderr)

    def test_not_files(self):
        d = os.path.join(self.tmp.name, "folder.i2ig")
        os.mkdir(d)
        with self.assertRaises(IsADirectoryError):
            W.read(d)
        r = self.inspect(d)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("i2ig inspect: input/output error: %s: " % d))
        missing = os.path.join(self.tmp.name, "missing.i2ig")
        with self.assertRaises(FileNotFoundError):
            W.read(missing)
        r = self.inspect(missing)
        self.assertEqual(r.returncode, 1)
        self.assertIn(missing, r.stderr)
        self.assertEqual(self.inspect(missing, "--bogus").returncode, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
