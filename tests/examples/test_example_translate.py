"""The translate examples (examples/translate_stack.c built by meson, and
examples/python/translate_stack.py) on bundled real scans: their output
files are byte-identical to what `i2ig translate` writes, for every pixel
type the scans give (u8 T1, i16 CT and PD, and the PD stack as u16 / f32)."""
import os
import subprocess
import sys
import unittest

import numpy as np
import tifffile

SRC = os.environ["I2IG_SOURCE_DIR"]
sys.path.insert(0, os.path.join(SRC, "tests", "python"))
import bindings_util as u  # noqa: E402

EXAMPLE = os.environ["EXAMPLE_TRANSLATE"]
PY_EXAMPLE = os.path.join(SRC, "examples", "python", "translate_stack.py")


def run(cmd):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True)


class TranslateExamples(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = u.scratch()
        cls.model = u.tiny_model(cls.tmp)
        cls.inputs = {}
        for name, path, idx, src, dst in (("t1", u.T1, [45, 55], "T1", "CT"),
                                          ("ct", u.CT, [50, 51], "CT", "T1"),
                                          ("pd", u.PD, [6, 7], "T1", "CT")):
            a = tifffile.imread(path)[idx]
            variants = {name: a}
            if name == "pd":
                variants["pd-u16"] = a.astype(np.uint16)
                variants["pd-f32"] = a.astype(np.float32)
            for k, v in variants.items():
                p = os.path.join(cls.tmp, k + ".tif")
                tifffile.imwrite(p, v, photometric="minisblack")
                cls.inputs[k] = (p, src, dst, v)

    @classmethod
    def tearDownClass(cls):
        u.remove(cls.tmp)

    def test_outputs_equal_the_tool(self):
        for k, (inp, src, dst, a) in self.inputs.items():
            with self.subTest(case=k):
                tool = os.path.join(self.tmp, k + "-tool.tif")
                c_out = os.path.join(self.tmp, k + "-c.tif")
                py_out = os.path.join(self.tmp, k + "-py.tif")
                u.run_tool("translate", "--quiet", "--threads", "2", "--model", self.model,
                           "--from", src, "--to", dst, inp, tool)
                r = run([EXAMPLE, self.model, inp, c_out, dst, src, 2])
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("wrote %s (%s -> %s)" % (c_out, src, dst), r.stderr)
                r = run(["/usr/bin/python3", PY_EXAMPLE, self.model, inp, py_out, "--to", dst,
                         "--from", src, "--threads", 2])
                self.assertEqual(r.returncode, 0, r.stderr)
                ref = tifffile.imread(tool)
                self.assertEqual(ref.dtype, a.dtype)
                self.assertEqual(ref.shape, a.shape)
                self.assertFalse(np.array_equal(ref, a))
                for out in (c_out, py_out):
                    np.testing.assert_array_equal(tifffile.imread(out), ref)
                    with open(out, "rb") as f1, open(tool, "rb") as f2:
                        self.assertEqual(f1.read(), f2.read(), out)

    def test_source_may_be_left_out_with_two_domains(self):
        inp, src, dst, _ = self.inputs["t1"]
        a = os.path.join(self.tmp, "a.tif")
        b = os.path.join(self.tmp, "b.tif")
        self.assertEqual(run([EXAMPLE, self.model, inp, a, dst, src]).returncode, 0)
        self.assertEqual(run([EXAMPLE, self.model, inp, b, dst]).returncode, 0)
        with open(a, "rb") as f1, open(b, "rb") as f2:
            self.assertEqual(f1.read(), f2.read())

    def test_errors_carry_the_library_message(self):
        inp = self.inputs["t1"][0]
        r = run([EXAMPLE, self.model, inp, os.path.join(self.tmp, "x.tif"), "MR"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("translate_stack: translate: unknown domain: unknown domain 'MR' "
                      "(the model has: T1, CT)", r.stderr)
        r = run(["/usr/bin/python3", PY_EXAMPLE, self.model, inp,
                 os.path.join(self.tmp, "y.tif"), "--to", "MR"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown domain: unknown domain 'MR' (the model has: T1, CT)", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "x.tif")))
        r = run([EXAMPLE, self.model])
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage:", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
