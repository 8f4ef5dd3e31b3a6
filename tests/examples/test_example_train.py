"""The training examples: examples/train_mr_ct.c (built by meson) and
examples/python/train_and_plot.py, with a small synthetic encoder and the
--small configuration. The C example's exported model equals, tensor for
tensor, a Python Trainer run with the settings it documents; a second start
resumes from its checkpoint; SIGINT stops it cleanly with a checkpoint and a
model. The Python example writes its CSV (one row per step), a real PNG plot
(Debian's python3-matplotlib), a preview and a loadable model."""
import csv
import os
import signal
import subprocess
import sys
import unittest

import numpy as np
import tifffile

SRC = os.environ["I2IG_SOURCE_DIR"]
sys.path.insert(0, os.path.join(SRC, "tests", "python"))
import bindings_util as u  # noqa: E402
import i2igalip  # noqa: E402
from i2igalip import weights  # noqa: E402

EXAMPLE = os.environ["EXAMPLE_TRAIN"]
PY_EXAMPLE = os.path.join(SRC, "examples", "python", "train_and_plot.py")


def run(cmd):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True)


class TrainExamples(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = u.scratch()
        cls.enc = u.small_encoder(cls.tmp)
        cls.t1 = tifffile.imread(u.T1)[40:46]
        cls.ct = tifffile.imread(u.CT)[40:46]
        cls.t1_path = os.path.join(cls.tmp, "t1.tif")
        cls.ct_path = os.path.join(cls.tmp, "ct.tif")
        tifffile.imwrite(cls.t1_path, cls.t1, photometric="minisblack")
        tifffile.imwrite(cls.ct_path, cls.ct, photometric="minisblack")

    @classmethod
    def tearDownClass(cls):
        u.remove(cls.tmp)

    def python_twin(self, steps):
        """What train_mr_ct.c --small documents, through the Python bindings."""
        with i2igalip.Encoder.load(self.enc, threads=1) as enc:
            g = i2igalip.GeneratorConfig(context_dim=enc.info["text_width"], num_classes=2,
                                         channel_mult=(1, 1), num_res_blocks=1,
                                         attention_ds=(2,))
            c = i2igalip.TrainConfig(total_steps=steps, batch_size=1, crop_size=32, threads=1)
            with i2igalip.Trainer(enc, c, g) as t:
                t.add_domain("T1", "this MRI is T1-weighted", 0,
                             i2igalip.Mapping.percentile(0.5, 99.5, 0, 255), self.t1)
                t.add_domain("CT", "this is head ct", 1, i2igalip.Mapping.window(-1024, 3071),
                             self.ct)
                t.run()
                out = os.path.join(self.tmp, "twin-%d.i2ig" % steps)
                t.export_generator(out)
        return weights.read(out).tensors

    def test_c_example_trains_resumes_and_matches_python(self):
        model = os.path.join(self.tmp, "c-model.i2ig")
        ckpt = os.path.join(self.tmp, "c.ckpt")
        r = run([EXAMPLE, self.enc, self.t1_path, self.ct_path, 3, model, ckpt, "--small"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("step 3/3", r.stderr)
        self.assertIn("wrote %s after 3 steps" % model, r.stderr)
        got = weights.read(model).tensors
        ref = self.python_twin(3)
        self.assertEqual(list(got), list(ref))
        for name in ref:
            np.testing.assert_array_equal(got[name], ref[name], err_msg=name)
        with i2igalip.Generator.load(model) as g:
            self.assertEqual(g.domains, ["T1", "CT"])
        # A second start finds the checkpoint and resumes (already complete).
        r = run([EXAMPLE, self.enc, self.t1_path, self.ct_path, 3, model, ckpt, "--small"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("resumed %s at step 3" % ckpt, r.stderr)

    def test_c_example_stops_on_sigint_with_a_checkpoint(self):
        model = os.path.join(self.tmp, "sig-model.i2ig")
        ckpt = os.path.join(self.tmp, "sig.ckpt")
        p = subprocess.Popen([EXAMPLE, self.enc, self.t1_path, self.ct_path, "100000", model,
                              ckpt, "--small"], stderr=subprocess.PIPE, text=True)
        for line in p.stderr:
            if line.startswith("step 1/"):
                break
        p.send_signal(signal.SIGINT)
        rest = p.stderr.read()
        self.assertEqual(p.wait(120), 130, rest)
        self.assertIn("(stopped early)", rest)
        with i2igalip.Encoder.load(self.enc) as enc, \
                i2igalip.Trainer.load_checkpoint(ckpt, enc) as t:
            self.assertGreaterEqual(t.steps_done, 1)
            self.assertLess(t.steps_done, 100000)
        with i2igalip.Generator.load(model) as g:
            self.assertEqual(g.domains, ["T1", "CT"])

    def test_python_example_writes_csv_plot_preview_and_model(self):
        out = os.path.join(self.tmp, "py-out")
        r = run(["/usr/bin/python3", PY_EXAMPLE, self.enc, out, "--steps", 3, "--small",
                 "--t1", self.t1_path, "--ct", self.ct_path])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(out, "losses.csv")) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual([int(x["step"]) for x in rows], [1, 2, 3])
        self.assertTrue(all(np.isfinite(float(x["generator"])) for x in rows))
        from PIL import Image
        with Image.open(os.path.join(out, "losses.png")) as im:  # matplotlib is a test package
            self.assertEqual(im.format, "PNG")
            self.assertGreater(im.size[0], 300)
        prev = i2igalip.image.load(os.path.join(out, "preview.png"))
        self.assertEqual(prev.shape, (1, 32, 96))
        ref = self.python_twin(3)
        got = weights.read(os.path.join(out, "model.i2ig")).tensors
        self.assertEqual(list(got), list(ref))
        for name in ref:
            np.testing.assert_array_equal(got[name], ref[name], err_msg=name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
