"""Python and C weight-file implementations against each other.

Python writes -> C reads and rewrites -> the bytes are identical, and the
reverse; values the C writer produced from a formula are recomputed here with
numpy (and torch for bf16) and compared bit for bit. Also: metadata typing
rules, writer argument checks and atomic replacement in the Python writer.
"""
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import unittest

import numpy as np
import torch

from i2igalip import weights as W

BUILD = os.environ.get("I2IG_BUILD_DIR",
                       os.path.join(os.path.dirname(__file__), "..", "..", "build"))
COPY = os.path.join(BUILD, "tests", "unit", "weights_copy")


def c_copy(src, dst, *extra):
    r = subprocess.run([COPY, src, dst, *extra], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("weights_copy failed: " + r.stderr)


def bits(a):
    a = np.ascontiguousarray(a)
    return a.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize])


def torch_bf16_bits(x):
    """bf16 bits of float32 values by torch's own rounding (NaN not compared)."""
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(torch.bfloat16)
    return t.view(torch.int16).numpy().view(np.uint16)


def full_content():
    rng = np.random.default_rng(40)
    meta = {
        "model.name": "i2i-galip unet \u2713",
        "model.channels": 32,
        "int.min": -(1 << 63),
        "int.max": (1 << 63) - 1,
        "flag": True,
        "np.int": np.int64(-5),
        "eps": 1e-5,
        "neg.zero": -0.0,
        "inf": float("inf"),
        "np.float": np.float32(0.1),
        "empty.str": "",
        "mult": [1, 1, 2, 2, 4, 4],
        "mixed": (1, 2.5),
        "np.ints": np.array([3, -4], dtype=np.int32),
        "np.floats": np.array([0.5, -1e300]),
        "np.strs": np.array(["T1", "T2"]),
        "prompts": ["this MRI is T1-weighted", "this MRI is T2-weighted", "\u03b1\U0001f9e0"],
        "no.ints": W.IntArray(),
        "no.floats": W.FloatArray(),
        "no.strs": W.StringArray(),
        "one.float": W.FloatArray([2]),
        "empty.np": np.zeros(0, dtype=np.float64),
    }
    tensors = {
        "enc.w": rng.standard_normal((8, 3, 3, 3)).astype(np.float32),
        "enc.b": rng.standard_normal(8).astype(np.float32),
        "half": rng.standard_normal((5, 7)).astype(np.float16),
        "brain": (rng.standard_normal((2, 3, 4)) * 100).astype(np.float32),
        "from.f64": rng.standard_normal((3, 3)),
        "from.int": np.arange(12, dtype=np.int64).reshape(3, 4),
        "eight.dims": np.ones((1, 2, 1, 2, 1, 2, 1, 2), np.float32),
        "half.as.bf16": np.array([1, 65504, -0.0, np.inf], np.float16),
    }
    dtypes = {"brain": "bf16", "from.int": "f16", "half.as.bf16": "bf16"}
    return meta, tensors, dtypes


class RoundTrip(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="i2ig-weights-")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def assert_same_bytes(self, a, b):
        with open(a, "rb") as fa, open(b, "rb") as fb:
            da, db = fa.read(), fb.read()
        self.assertEqual(len(da), len(db))
        diff = [i for i in range(len(da)) if da[i] != db[i]][:5]
        self.assertEqual(diff, [], "first differing offsets")

    def test_python_write_c_rewrite_identical(self):
        meta, tensors, dtypes = full_content()
        W.write(self.path("py.i2ig"), meta, tensors, dtypes)
        c_copy(self.path("py.i2ig"), self.path("c.i2ig"))
        self.assert_same_bytes(self.path("py.i2ig"), self.path("c.i2ig"))
        # ... and Python rewriting what it read gives the same bytes again.
        wf = W.read(self.path("c.i2ig"))
        W.write(self.path("py2.i2ig"), wf.meta, wf.tensors, wf.dtypes)
        self.assert_same_bytes(self.path("py.i2ig"), self.path("py2.i2ig"))

    def test_python_values_read_back(self):
        meta, tensors, dtypes = full_content()
        W.write(self.path("v.i2ig"), meta, tensors, dtypes)
        wf = W.read(self.path("v.i2ig"))
        self.assertEqual(wf.version, 1)
        self.assertEqual(list(wf.meta), list(meta))  # insertion order kept
        self.assertEqual(wf.meta["flag"], 1)
        self.assertIs(type(wf.meta["flag"]), int)
        self.assertEqual(wf.meta["int.min"], -(1 << 63))
        self.assertEqual(wf.meta["int.max"], (1 << 63) - 1)
        self.assertEqual(wf.meta["np.float"], float(np.float32(0.1)))
        self.assertEqual(str(wf.meta["neg.zero"]), "-0.0")
        self.assertEqual(wf.meta["mixed"], [1.0, 2.5])
        self.assertIsInstance(wf.meta["mixed"], W.FloatArray)
        self.assertIsInstance(wf.meta["mult"], W.IntArray)
        self.assertEqual(wf.meta["np.ints"], [3, -4])
        self.assertEqual(wf.meta["np.strs"], ["T1", "T2"])
        self.assertIsInstance(wf.meta["prompts"], W.StringArray)
        self.assertEqual(wf.meta["prompts"][2], "\u03b1\U0001f9e0")
        for key, cls in (("no.ints", W.IntArray), ("no.floats", W.FloatArray),
                         ("no.strs", W.StringArray), ("empty.np", W.FloatArray)):
            self.assertEqual(wf.meta[key], [])
            self.assertIsInstance(wf.meta[key], cls)
        self.assertEqual(list(wf.tensors), list(tensors))
        np.testing.assert_array_equal(wf.tensors["enc.w"], tensors["enc.w"])
        self.assertEqual(wf.tensors["enc.w"].dtype, np.float32)
        self.assertEqual(wf.tensors["half"].dtype, np.float16)
        np.testing.assert_array_equal(bits(wf.tensors["half"]), bits(tensors["half"]))
        self.assertEqual(wf.dtypes["brain"], "bf16")
        self.assertEqual(wf.tensors["brain"].dtype, np.float32)
        np.testing.assert_array_equal(
            bits(wf.tensors["brain"]) >> 16, torch_bf16_bits(tensors["brain"]))
        np.testing.assert_array_equal(wf.tensors["from.f64"],
                                      tensors["from.f64"].astype(np.float32))
        self.assertEqual(wf.tensors["from.int"].dtype, np.float16)
        np.testing.assert_array_equal(wf.tensors["from.int"], tensors["from.int"])
        self.assertEqual(wf.tensors["eight.dims"].shape, (1, 2, 1, 2, 1, 2, 1, 2))
        np.testing.assert_array_equal(wf.tensors["half.as.bf16"],
                                      np.array([1, 65536, -0.0, np.inf], np.float32))
        info = wf.info["enc.b"]
        self.assertEqual((info.dtype, info.shape, info.nbytes), ("f32", (8,), 32))
        self.assertEqual(info.offset % 64, 0)

    def test_c_make_python_reads_reference_values(self):
        subprocess.run([COPY, "--make", self.path("c.i2ig")], check=True)
        wf = W.read(self.path("c.i2ig"))
        self.assertEqual(wf.meta, {
            "model.name": "unet-test \u2713", "model.channels": 32, "min": -(1 << 63),
            "model.eps": 1e-5, "model.mult": [1, 1, 2, 2, 4, 4],
            "loss.weights": [10.0, 1.0, 0.5, -0.0], "domains": ["T1", "T2", "PD", ""],
            "empty.ints": [], "empty.strings": []})
        self.assertIsInstance(wf.meta["empty.ints"], W.IntArray)
        self.assertIsInstance(wf.meta["empty.strings"], W.StringArray)
        self.assertEqual(str(wf.meta["loss.weights"][3]), "-0.0")
        # The helper's formula, in float32 arithmetic (one IEEE division).
        i = np.arange(105, dtype=np.int64)
        ref = ((i * 7919) % 20011 - 10005).astype(np.float32) / np.float32(3)
        self.assertEqual(wf.dtypes, {"w.f32": "f32", "w.f16": "f16", "w.bf16": "bf16"})
        np.testing.assert_array_equal(bits(wf.tensors["w.f32"]), bits(ref.reshape(3, 5, 7)))
        np.testing.assert_array_equal(bits(wf.tensors["w.f16"]), bits(ref.astype(np.float16)))
        np.testing.assert_array_equal(bits(wf.tensors["w.bf16"]).reshape(-1) >> 16,
                                      torch_bf16_bits(ref))
        # And Python rewriting it reproduces the C file exactly.
        W.write(self.path("py.i2ig"), wf.meta, wf.tensors, wf.dtypes)
        self.assert_same_bytes(self.path("c.i2ig"), self.path("py.i2ig"))

    def test_alignment_option(self):
        t = {"a": np.ones(3, np.float32), "b": np.ones(5, np.float32)}
        W.write(self.path("al.i2ig"), {"k": 1}, t, alignment=4096)
        wf = W.read(self.path("al.i2ig"))
        self.assertEqual(wf.alignment, 4096)
        self.assertEqual([wf.info[n].offset for n in t], [4096, 8192])
        self.assertEqual(os.path.getsize(self.path("al.i2ig")), 8192 + 20)
        # The C reader accepts any valid alignment; its writer uses 64.
        c_copy(self.path("al.i2ig"), self.path("al64.i2ig"))
        wf64 = W.read(self.path("al64.i2ig"))
        self.assertEqual(wf64.alignment, 64)
        np.testing.assert_array_equal(wf64.tensors["b"], t["b"])
        for bad in (0, 32, 96, 1 << 32):
            with self.assertRaises(ValueError):
                W.write(self.path("x.i2ig"), {}, t, alignment=bad)

    def test_writer_argument_checks(self):
        p = self.path("bad.i2ig")
        bad_meta = [
            ({"k": []}, TypeError), ({"k": ()}, TypeError), ({"k": [1, "a"]}, TypeError),
            ({"k": None}, TypeError), ({"k": {"a": 1}}, TypeError), ({"k": 1 << 63}, ValueError),
            ({"k": [-(1 << 63) - 1]}, ValueError), ({"": 1}, ValueError), ({"a\0b": 1}, ValueError),
            ({"k": "a\0b"}, ValueError), ({"\udc80": 1}, ValueError), ({1: 1}, TypeError),
            ({"k": np.zeros((2, 2))}, TypeError), ({"k": np.array([1j])}, TypeError),
        ]
        for meta, exc in bad_meta:
            with self.assertRaises(exc, msg=repr(meta)):
                W.write(p, meta, {})
        bad_tensors = [
            ({"t": np.float32(1)}, None, ValueError), ({"t": np.zeros((2, 0))}, None, ValueError),
            ({"t": np.zeros((1,) * 9)}, None, ValueError), ({"t": np.array(["a"])}, None, TypeError),
            ({"t": np.ones(2)}, {"t": "f64"}, ValueError), ({"t": np.ones(2)}, {"u": "f16"}, ValueError),
            ({"": np.ones(2)}, None, ValueError), ({"t": np.array([1j])}, None, TypeError),
        ]
        for tensors, dtypes, exc in bad_tensors:
            with self.assertRaises(exc, msg=repr(tensors)):
                W.write(p, {}, tensors, dtypes)
        self.assertFalse(os.path.exists(p))
        self.assertEqual(os.listdir(self.dir), [])

    def test_failed_write_keeps_old_file(self):
        p = self.path("old.i2ig")
        W.write(p, {"arch": "old"}, {"w": np.arange(10, dtype=np.float32)})
        with open(p, "rb") as f:
            old = f.read()
        # A child with a 16 KiB file-size limit fails half-way through 1 MiB.
        code = textwrap.dedent("""
            import errno, resource, signal, sys
            import numpy as np
            from i2igalip import weights as W
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))
            try:
                W.write(sys.argv[1], {"arch": "new"}, {"w": np.ones(1 << 18, np.float32)})
            except OSError as e:
                sys.exit(0 if e.errno == errno.EFBIG else 3)
            sys.exit(4)
            """)
        r = subprocess.run([sys.executable, "-c", code, p], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(p, "rb") as f:
            self.assertEqual(f.read(), old)
        self.assertEqual(os.listdir(self.dir), ["old.i2ig"])
        self.assertEqual(W.read(p).meta["arch"], "old")

    def test_written_file_mode_follows_umask(self):
        p = self.path("mode.i2ig")
        old = os.umask(0o027)
        try:
            W.write(p, {}, {"w": np.ones(1, np.float32)})
        finally:
            os.umask(old)
        self.assertEqual(os.stat(p).st_mode & 0o777, 0o640)


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    unittest.main(verbosity=2)
