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

    def test_no_model_summary(self):
        # Not a model file: no summary, the tables follow the header directly.
        self.assertNotIn("model:", self.out)
        self.assertIn("file size:      %d bytes\n\nmetadata (" % os.path.getsize(self.path), self.out)


def generator_meta(**over):
    """Metadata of a generator model file, as lib/generator/generator_file.c
    and tools/convert/i2igalip_to_i2ig.py write it."""
    m = {
        "model.kind": "generator",
        "generator.weights": "ema",
        "generator.in_channels": 1,
        "generator.out_channels": 1,
        "generator.model_channels": 32,
        "generator.channel_mult": [1, 1, 2, 2, 4, 4],
        "generator.num_res_blocks": 2,
        "generator.attention_ds": [8, 16, 32],
        "generator.head_channels": 32,
        "generator.context_dim": 768,
        "generator.num_classes": 3,
        "generator.groups": 32,
        "generator.gn_eps": 1e-5,
        "generator.st_gn_eps": 1e-6,
        "generator.ln_eps": 1e-5,
        "domains.names": ["T1", "Flair", "CT"],
        "domains.prompts": ["this MRI is T1-weighted", "this MRI is Flair-weighted",
                            'say "ct"'],
        "domains.labels": [0, 2, 1],
        "domains.mapping": ["percentile", "percentile", "window"],
        "domains.lo": [0.0, 0.0, -1024.0],
        "domains.hi": [255.0, 4095.0, 3071.0],
        "domains.p_lo": [0.5, 1.0, 0.0],
        "domains.p_hi": [99.5, 99.0, 100.0],
        "provenance.source": "epoch_ema95",
        "provenance.source_sha256": "ab" * 32,
        "provenance.converter": "i2igalip_to_i2ig.py 1",
        "provenance.date": "2026-01-02T03:04:05Z",
    }
    m.update(over)
    return {k: v for k, v in m.items() if v is not None}


class InspectGenerator(unittest.TestCase):
    """The model summary printed before the tables for a generator file."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="i2ig-inspect-gen-")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def inspect(self, name, meta, tensors):
        path = os.path.join(self.tmp.name, name)
        W.write(path, meta, tensors)
        r = subprocess.run([TOOL, "inspect", path], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        head, sep, tables = r.stdout.partition("\nmetadata (")
        self.assertEqual(sep, "\nmetadata (", r.stdout)  # the raw tables still follow
        self.assertIn("\ntensors (%d):" % len(tensors), tables)
        return head.split("\n")

    def test_summary(self):
        rng = np.random.default_rng(3)
        tensors = {
            "unet.label_emb.weight": rng.standard_normal((3, 128)).astype(np.float32),
            "unet.out.2.weight": rng.standard_normal((1, 32, 3, 3)).astype(np.float16),
            "domains.T1.context": np.zeros((256, 768), np.float32),
            "domains.T1.text_embedding": np.zeros(512, np.float32),
            "domains.Flair.context": np.zeros((256, 768), np.float32),
            "domains.Flair.text_embedding": np.zeros(512, np.float32),
            "domains.CT.context": np.zeros((16, 768), np.float32),
        }
        lines = self.inspect("gen.i2ig", generator_meta(), tensors)
        want = [
            "",
            "model:            generator (I2I-Galip U-Net)",
            "  weights:          ema (exponential moving average of the trained weights)",
            "  parameters:       %d in 2 unet.* tensors" % (3 * 128 + 32 * 9),
            "  in_channels:      1",
            "  out_channels:     1",
            "  model_channels:   32",
            "  channel_mult:     [1, 1, 2, 2, 4, 4]",
            "  num_res_blocks:   2",
            "  attention at ds:  [8, 16, 32]",
            "  head_channels:    32",
            "  context_dim:      768",
            "  num_classes:      3",
            "  size multiple:    32 (width and height are padded to it)",
            "",
            "domains (3):",
            '  T1     label 0  "this MRI is T1-weighted"',
            "         percentile 0.5..99.5 of each slice -> [0,1] -> 0..255",
            "         prompt context 256x768, text embedding 512",
            '  Flair  label 2  "this MRI is Flair-weighted"',
            "         percentile 1..99 of each slice -> [0,1] -> 0..4095",
            "         prompt context 256x768, text embedding 512",
            '  CT     label 1  "say \\"ct\\""',
            "         window -1024..3071 -> [0,1] -> -1024..3071",
            "         prompt context 16x768, text embedding missing",
            "",
            "provenance:",
            '  source           "epoch_ema95"',
            '  source_sha256    "%s"' % ("ab" * 32),
            '  converter        "i2igalip_to_i2ig.py 1"',
            '  date             "2026-01-02T03:04:05Z"',
            "",
        ]
        self.assertEqual(lines[3:], want)

    def test_incomplete_metadata(self):
        # Missing or mistyped keys show "?"; inspect still succeeds.
        meta = generator_meta(**{"generator.weights": "raw", "generator.context_dim": "768",
                                 "generator.channel_mult": None, "domains.labels": None,
                                 "domains.p_hi": [99.5], "provenance.source": None,
                                 "provenance.source_sha256": None,
                                 "provenance.converter": None, "provenance.date": None})
        lines = self.inspect("partial.i2ig", meta, {"x": np.zeros(2, np.float32)})
        text = "\n".join(lines)
        self.assertIn("  weights:          raw (the trained weights themselves, not their EMA)", lines)
        self.assertIn("  parameters:       0 in 0 unet.* tensors", lines)
        self.assertIn("  context_dim:      ?", lines)
        self.assertIn("  channel_mult:     ?", lines)
        self.assertIn("  size multiple:    ?", lines)
        self.assertIn('  T1     label ?  "this MRI is T1-weighted"', lines)
        self.assertIn("         percentile 1..? of each slice -> [0,1] -> 0..4095", lines)
        self.assertIn("         prompt context missing, text embedding missing", lines)
        self.assertTrue(text.endswith("provenance:\n  none recorded\n"), text)
        # No domain names at all.
        meta = generator_meta(**{"domains.names": None})
        lines = self.inspect("nodomains.i2ig", meta, {"x": np.zeros(2, np.float32)})
        self.assertIn("domains: ? (no 'domains.names' metadata)", lines)


if __name__ == "__main__":
    unittest.main(verbosity=2)
