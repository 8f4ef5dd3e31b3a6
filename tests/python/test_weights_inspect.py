"""`i2ig inspect` output against values computed here from the content and
the spec's layout rules (offsets, sizes, CRC-32 of the stored bytes)."""
import os
import re
import subprocess
import tempfile
import unittest
import zlib

import numpy as np

from i2igalip import weights as W

TOOL = os.environ.get("I2IG_TOOL", os.path.join(
    os.environ.get("I2IG_BUILD_DIR", "build"), "tools", "i2ig", "i2ig"))


class Inspect(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="i2ig-inspect-")
        cls.path = os.path.join(cls.tmp.name, "model.i2ig")
        rng = np.random.default_rng(7)
        cls.meta = {
            "arch": "i2i-galip",
            "channels": 32,
            "eps": 1e-5,
            "ten": 10.0,
            "mult": [1, 1, 2, 2, 4, 4],
            "long": list(range(100)),
            "prompts": ["this MRI is T1-weighted", "this MRI is T2-weighted"],
            "quote": 'say "hi"\n',
        }
        cls.tensors = {
            "unet.in.weight": rng.standard_normal((32, 1, 3, 3)).astype(np.float32),
            "unet.in.bias": rng.standard_normal(32).astype(np.float16),
            "emb": rng.standard_normal((3, 128)).astype(np.float32),
        }
        cls.dtypes = {"emb": "bf16"}
        W.write(cls.path, cls.meta, cls.tensors, cls.dtypes)
        r = subprocess.run([TOOL, "inspect", cls.path, "--verify"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        cls.out = r.stdout

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def line(self, start):
        found = [l for l in self.out.splitlines() if l.strip().startswith(start)]
        self.assertEqual(len(found), 1, "%r in\n%s" % (start, self.out))
        return found[0].strip()

    def test_header(self):
        self.assertEqual(self.line("format version:"), "format version: 1")
        self.assertEqual(self.line("file size:"),
                         "file size:      %d bytes" % os.path.getsize(self.path))
        self.assertEqual(self.line("file:"), "file:           " + self.path)

    def test_metadata(self):
        self.assertIn("metadata (8 entries):", self.out)
        cols = lambda s: re.split(r"\s{2,}", self.line(s), maxsplit=2)
        self.assertEqual(cols("arch "), ["arch", "string", '"i2i-galip"'])
        self.assertEqual(cols("channels "), ["channels", "int", "32"])
        self.assertEqual(cols("eps "), ["eps", "float", "1e-05"])
        self.assertEqual(cols("ten "), ["ten", "float", "10"])
        self.assertEqual(cols("mult "), ["mult", "int[]", "[1, 1, 2, 2, 4, 4]"])
        self.assertEqual(cols("long "), ["long", "int[]", "[0, 1, 2, 3, 4, 5, 6, 7, ... (100 values)]"])
        self.assertEqual(cols("prompts "), ["prompts", "string[]",
                                            '["this MRI is T1-weighted", "this MRI is T2-weighted"]'])
        self.assertEqual(cols("quote "), ["quote", "string", r'"say \"hi\"\n"'])

    def test_tensor_table(self):
        # Expected layout from the spec: index size, then aligned offsets.
        idx = sum(4 + len(k) + 4 + {int: 8, float: 8}.get(type(v), 0) +
                  (8 + len(v.encode()) if isinstance(v, str) else 0) +
                  (8 + sum(8 + len(s.encode()) for s in v) if isinstance(v, list) and
                   isinstance(v[0], str) else 0) +
                  (8 + 8 * len(v) if isinstance(v, list) and not isinstance(v[0], str) else 0)
                  for k, v in self.meta.items())
        idx += sum(4 + len(n) + 4 + 4 + 8 * a.ndim + 20 for n, a in self.tensors.items())
        off = (64 + idx + 63) // 64 * 64
        total_params = total_bytes = 0
        for name, a in self.tensors.items():
            dt = self.dtypes.get(name, "f16" if a.dtype == np.float16 else "f32")
            if dt == "f32":
                raw = a.astype("<f4").tobytes()
            elif dt == "f16":
                raw = a.astype("<f2").tobytes()
            else:
                raw = W.f32_to_bf16_bits(a).astype("<u2").tobytes()
            want = [name, dt, "x".join(map(str, a.shape)), str(off), str(len(raw)),
                    "%08x" % zlib.crc32(raw)]
            self.assertEqual(self.line(name + " ").split(), want)
            total_params += a.size
            total_bytes += len(raw)
            off = (off + len(raw) + 63) // 64 * 64
        self.assertEqual(self.line("totals:"),
                         "totals: 3 tensors, %d parameters, %d bytes of tensor data"
                         % (total_params, total_bytes))
        self.assertEqual(self.line("checksums:"), "checksums: all 3 tensors verified")


if __name__ == "__main__":
    unittest.main(verbosity=2)
