"""f32 -> f16 / bf16 rounding of both writers, against numpy and torch.

Values: every f16 value and every midpoint between neighbours (as float32),
every bf16 neighbourhood around random exponents, 200k random float32 bit
patterns (all exponents, NaNs with arbitrary payloads) and the special values.
References: numpy's float16 cast (round to nearest even) and torch's bfloat16
cast. NaN: the references disagree on payloads, so for NaN only "stays NaN,
same sign" is checked against them; the C and Python writers must agree on
every bit, NaN payloads included.
"""
import os
import subprocess
import tempfile
import unittest

import numpy as np
import torch

from i2igalip import weights as W

BUILD = os.environ.get("I2IG_BUILD_DIR",
                       os.path.join(os.path.dirname(__file__), "..", "..", "build"))
COPY = os.path.join(BUILD, "tests", "unit", "weights_copy")


def test_values():
    rng = np.random.default_rng(2025)
    h = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    f16 = h.view(np.float16).astype(np.float32)
    fin = np.sort(np.unique(f16[np.isfinite(f16)]))
    mids = fin[:-1] + (fin[1:] - fin[:-1]) / np.float32(2)  # exact: one more bit needed
    near = np.concatenate([np.nextafter(mids, np.float32(np.inf)),
                           np.nextafter(mids, np.float32(-np.inf))])
    # bf16 neighbourhoods: x = top 16 bits + low half at and around the midpoint.
    top = rng.integers(0, 1 << 16, 20000, dtype=np.uint64).astype(np.uint32) << 16
    low = np.array([0x0000, 0x7FFF, 0x8000, 0x8001, 0xFFFF], np.uint32)
    bneigh = (top[:, None] | low[None, :]).reshape(-1).view(np.float32)
    rand = rng.integers(0, 1 << 32, 200000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 65504, 65519.996, 65520,
                        65536, 1e-8, 2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -25, 2.0 ** -14,
                        np.finfo(np.float32).max, np.finfo(np.float32).tiny, 1.0 + 2.0 ** -8,
                        1.0 + 3 * 2.0 ** -8, 1.0 + 2.0 ** -11, 3.0e38], np.float32)
    special_bits = np.array([0x7F800001, 0xFF800001, 0x7FA02000, 0x7FFFFFFF, 0xFFC00000,
                             0x00000001, 0x807FFFFF], np.uint32).view(np.float32)
    return np.concatenate([f16, mids, near, bneigh, rand, special, special_bits])


def torch_bf16_bits(x):
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(torch.bfloat16)
    return t.view(torch.int16).numpy().view(np.uint16)


class Conversion(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="i2ig-conv-")
        cls.x = test_values()
        cls.nan = np.isnan(cls.x)
        cls.sign = np.signbit(cls.x)
        d = cls.tmp.name
        cls.src = os.path.join(d, "f32.i2ig")
        W.write(cls.src, {}, {"x": cls.x})
        cls.py = {}
        cls.c = {}
        cls.c_path = {}
        for dt in ("f16", "bf16"):
            p = os.path.join(d, "py_%s.i2ig" % dt)
            W.write(p, {}, {"x": cls.x}, {"x": dt})
            cls.py[dt] = cls.raw_bits(p)
            q = os.path.join(d, "c_%s.i2ig" % dt)
            subprocess.run([COPY, cls.src, q, "--store", dt], check=True)
            cls.c[dt] = cls.raw_bits(q)
            cls.c_path[dt] = q

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @staticmethod
    def raw_bits(path):
        wf = W.read(path)
        a = wf.tensors["x"]
        if wf.dtypes["x"] == "bf16":
            return (a.view(np.uint32) >> 16).astype(np.uint16)
        return a.view(np.uint16)

    def check_against(self, got, ref, exp_mask, name):
        ok = ~self.nan
        bad = np.nonzero(got[ok] != ref[ok])[0]
        self.assertEqual(bad.size, 0, "%s: first mismatches at %s: x=%s got=%s want=%s" % (
            name, bad[:3], self.x[ok][bad[:3]], got[ok][bad[:3]], ref[ok][bad[:3]]))
        nan_out = (got & exp_mask) == exp_mask
        frac = got & ~np.uint16(exp_mask | 0x8000)
        self.assertTrue(np.all(nan_out[self.nan] & (frac[self.nan] != 0)), name + ": NaN lost")
        self.assertTrue(np.array_equal((got[self.nan] >> 15) == 1, self.sign[self.nan]),
                        name + ": NaN sign lost")

    def test_f16_python_matches_numpy(self):
        with np.errstate(over="ignore"):
            ref = self.x.astype(np.float16).view(np.uint16)
        self.check_against(self.py["f16"], ref, 0x7C00, "python f16")

    def test_f16_c_matches_numpy(self):
        with np.errstate(over="ignore"):
            ref = self.x.astype(np.float16).view(np.uint16)
        self.check_against(self.c["f16"], ref, 0x7C00, "C f16")

    def test_bf16_python_matches_torch(self):
        self.check_against(self.py["bf16"], torch_bf16_bits(self.x), 0x7F80, "python bf16")

    def test_bf16_c_matches_torch(self):
        self.check_against(self.c["bf16"], torch_bf16_bits(self.x), 0x7F80, "C bf16")

    def test_c_and_python_agree_on_every_bit(self):
        for dt in ("f16", "bf16"):
            np.testing.assert_array_equal(self.c[dt], self.py[dt], err_msg=dt)
            # Same bits in the same layout: the whole files are identical.
            p = os.path.join(self.tmp.name, "py_%s.i2ig" % dt)
            with open(p, "rb") as a, open(self.c_path[dt], "rb") as b:
                self.assertEqual(a.read(), b.read(), dt)

    def test_c_reads_half_back_exactly(self):
        # C read_f32 of the f16 / bf16 files, stored again as f32.
        for dt in ("f16", "bf16"):
            out = os.path.join(self.tmp.name, "back_%s.i2ig" % dt)
            subprocess.run([COPY, self.c_path[dt], out, "--store", "f32"], check=True)
            got = W.read(out).tensors["x"]
            stored = self.c[dt]
            if dt == "f16":
                ref = stored.view(np.float16).astype(np.float32)
            else:
                ref = (stored.astype(np.uint32) << 16).view(np.float32)
            ok = ~np.isnan(ref)
            np.testing.assert_array_equal(got.view(np.uint32)[ok], ref.view(np.uint32)[ok])
            self.assertTrue(np.all(np.isnan(got[~ok])))
            # Exact widening keeps NaN payloads: narrowing again gives the same bits.
            again = os.path.join(self.tmp.name, "again_%s.i2ig" % dt)
            subprocess.run([COPY, out, again, "--store", dt], check=True)
            np.testing.assert_array_equal(self.raw_bits(again), stored)

    def test_helpers_exposed(self):
        x = np.array([1.0, 1.0 + 2.0 ** -8, -2.5], np.float32)
        np.testing.assert_array_equal(W.f32_to_bf16_bits(x), [0x3F80, 0x3F80, 0xC020])
        np.testing.assert_array_equal(W.f32_to_f16_bits(x), [0x3C00, 0x3C04, 0xC100])
        np.testing.assert_array_equal(W.bf16_bits_to_f32(np.array([0xC020], np.uint16)), [-2.5])


if __name__ == "__main__":
    unittest.main(verbosity=2)
