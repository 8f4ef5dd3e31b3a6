"""Training from Python (i2igalip.Trainer over the C trainer) against the C
tool `i2ig train` (same data, same settings: the exported model bit for bit,
the per-step losses of its CSV digit for digit), and the trainer's own
contracts: run/step/cancel, checkpoint resume equal to the uninterrupted
run, the reduce hook (one call per model and step with every trainable
gradient; zeroed generator gradients leave the initial weights), preview
equal to the exported EMA model, errors with the C messages.

Skipped (exit 77) only when the library was built without
I2IG_FEATURE_TRAINING; a library that claims the feature but lacks a
training symbol fails."""
import csv
import os
import sys
import threading
import unittest

import numpy as np
import tifffile

import bindings_util as u
import i2igalip
from i2igalip import capi, weights

if not capi.lib.i2ig_build_features() & capi.FEATURE_TRAINING:
    print("SKIP: %s is an inference-only build (no I2IG_FEATURE_TRAINING)" % capi.library_path)
    sys.exit(77)

IDX = [40, 50, 60, 70]
SEED = 5
STEPS = 3
GEN_ARGS = dict(model_channels=32, channel_mult=(1, 1), num_res_blocks=1, attention_ds=(2,),
                num_classes=2)
DOMAINS = [("T1", "this MRI is T1-weighted", 0, i2igalip.Mapping.percentile(1, 99, 0, 255)),
           ("CT", "this is head ct", 1, i2igalip.Mapping.window(-1024, 3071))]


def setUpModule():
    global TMP, ENC, DATA, FILES
    TMP = u.scratch()
    ENC = u.small_encoder(TMP)
    DATA = {"T1": tifffile.imread(u.T1)[IDX], "CT": tifffile.imread(u.CT)[IDX]}
    FILES = {}
    for k, a in DATA.items():
        FILES[k] = os.path.join(TMP, k + ".tif")
        tifffile.imwrite(FILES[k], a, photometric="minisblack")


def tearDownModule():
    u.remove(TMP)


def tensors(path):
    return weights.read(path).tensors


class Training(unittest.TestCase):
    def setUp(self):
        self.enc = i2igalip.Encoder.load(ENC, threads=1)

    def tearDown(self):
        self.enc.close()

    def trainer(self, steps=STEPS, images=None):
        gcfg = i2igalip.GeneratorConfig(context_dim=self.enc.info["text_width"], **GEN_ARGS)
        tcfg = i2igalip.TrainConfig(total_steps=steps, batch_size=1, crop_size=32, threads=1,
                                    seed=SEED)
        t = i2igalip.Trainer(self.enc, tcfg, gcfg)
        for name, prompt, label, m in DOMAINS:
            t.add_domain(name, prompt, label, m, DATA[name] if images is None else images[name])
        return t

    def test_library_exports_the_trainer(self):
        self.assertTrue(i2igalip.has_training(), "missing: %s" % (capi.missing(),))

    def test_same_model_as_the_c_tool(self):
        tool_model = os.path.join(TMP, "tool.i2ig")
        log = os.path.join(TMP, "log")
        u.run_tool("train", "--encoder", ENC, "--out", tool_model, "--log", log,
                   "--sample-every", STEPS, "--quiet", "--steps", STEPS, "--batch", 1, "--crop", 32,
                   "--seed", SEED, "--threads", 1, "--model-channels", 32, "--channel-mult", "1,1",
                   "--res-blocks", 1, "--attention", 2, "--classes", 2,
                   "--domain", "T1=" + FILES["T1"], "--domain", "CT=" + FILES["CT"],
                   "--prompt", "T1=" + DOMAINS[0][1], "--prompt", "CT=" + DOMAINS[1][1],
                   "--label", "T1=0", "--label", "CT=1",
                   "--mapping", "T1=percentile:1:99:0:255", "--mapping", "CT=window:-1024:3071")
        seen = []
        # Data as Image handles loaded from the tool's files for one domain,
        # numpy arrays for the other: both paths feed the same pixels.
        with i2igalip.Image.load(FILES["CT"]) as ct_img, \
                self.trainer(images={"T1": DATA["T1"], "CT": ct_img}) as t:
            self.assertEqual(t.domains, ["T1", "CT"])
            self.assertEqual(t.run(progress=seen.append), STEPS)
            # The tool's sample grid at the last step: per direction, three
            # slices from the middles of three equal parts of the stack
            # (4 slices: 0, 2, 3), columns input | translation | cycle, the
            # same pixels as the bindings' preview of those slices.
            want = []
            for src, tgt in (("T1", "CT"), ("CT", "T1")):
                n = t.domain_slices(src)
                want += list(zip(*t.preview(src, tgt, slices=[(2 * k + 1) * n // 6 for k in range(3)])))
            py_model = os.path.join(TMP, "py.i2ig")
            t.export_generator(py_model)
        self.assertEqual([l.step for l in seen], list(range(1, STEPS + 1)))
        a, b = tensors(py_model), tensors(tool_model)
        self.assertEqual(list(a), list(b))
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        with open(os.path.join(log, "losses.csv")) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), STEPS)
        for l, row in zip(seen, rows):
            self.assertEqual(int(row["step"]), l.step)
            for k in ("generator", "discriminator", "adversarial", "cycle", "identity", "clip",
                      "encoding", "lr"):
                self.assertEqual(row[k], "%.8g" % getattr(l, k), (l.step, k))
        grid = i2igalip.image.load(os.path.join(log, "samples-%06d.png" % STEPS))
        side, gap = 32, 2
        self.assertEqual(grid.shape[-2:], (6 * (side + gap) + gap, 3 * (side + gap) + gap))
        grid = grid.reshape(grid.shape[-2:])
        for r, row in enumerate(want):
            for c, tile in enumerate(row):
                y, x = gap + r * (side + gap), gap + c * (side + gap)
                px = grid[y:y + side, x:x + side].astype(np.float64)
                # u8 of clip(v) * 255 rounded; one level of slack for the
                # rounding of a value that lands on a half.
                np.testing.assert_allclose(px, np.round(np.clip(tile, 0, 1) * 255), atol=1.0,
                                           err_msg="row %d column %d" % (r, c))
        # The losses are real numbers of the documented scale.
        self.assertTrue(all(np.isfinite(l.generator) and l.discriminator > 0 for l in seen))
        self.assertEqual(seen[0].lr, 2e-4)

    def reference_run(self):
        with self.trainer() as t:
            losses = [t.step() for _ in range(STEPS)]
            path = os.path.join(TMP, "ref-%d.i2ig" % os.getpid())
            t.export_generator(path)
        return losses, tensors(path)

    def test_cancel_resume_and_checkpoint_reproduce_the_run(self):
        ref_losses, ref = self.reference_run()
        self.assertEqual([l.step for l in ref_losses], [1, 2, 3])
        with self.trainer() as t:
            # progress returning True stops after that step.
            with self.assertRaises(i2igalip.Cancelled) as cm:
                t.run(progress=lambda l: l.step == 1)
            self.assertEqual(cm.exception.status, capi.ERR_CANCELLED)
            self.assertEqual(t.steps_done, 1)
            ckpt = os.path.join(TMP, "step1.ckpt")
            t.save_checkpoint(ckpt)
            # An Event polled after each step.
            ev = threading.Event()
            seen = []
            with self.assertRaises(i2igalip.Cancelled):
                t.run(progress=lambda l: seen.append(l) or ev.set(), cancel=ev)
            self.assertEqual(t.steps_done, 2)
            self.assertEqual(seen[0], ref_losses[1])
            t.run()
            self.assertEqual(t.steps_done, STEPS)
            out = os.path.join(TMP, "interrupted.i2ig")
            t.export_generator(out)
        got = tensors(out)
        for name in ref:
            np.testing.assert_array_equal(got[name], ref[name], err_msg=name)
        with i2igalip.Trainer.load_checkpoint(ckpt, self.enc) as t2:
            self.assertEqual(t2.steps_done, 1)
            self.assertEqual(t2.domains, ["T1", "CT"])
            self.assertEqual(t2.config.total_steps, STEPS)
            self.assertEqual(t2.config.seed, SEED)
            rest = []
            t2.run(progress=rest.append)
            self.assertEqual(rest, ref_losses[1:])
            out2 = os.path.join(TMP, "resumed.i2ig")
            t2.export_generator(out2)
        got2 = tensors(out2)
        for name in ref:
            np.testing.assert_array_equal(got2[name], ref[name], err_msg=name)

    def test_cancel_from_another_thread(self):
        with self.trainer(steps=50) as t:
            started = threading.Event()
            box = {}

            def work():
                try:
                    t.run(progress=lambda l: started.set())
                except i2igalip.Cancelled as e:
                    box["exc"] = e
            th = threading.Thread(target=work)
            th.start()
            self.assertTrue(started.wait(600))
            t.cancel()
            th.join(600)
            self.assertIn("exc", box)
            self.assertLess(t.steps_done, 50)
            self.assertGreaterEqual(t.steps_done, 1)

    def test_reduce_hook(self):
        calls = []
        with self.trainer() as t:
            def hook(model, grads):
                calls.append((model, grads.size, bool(np.isfinite(grads).all()),
                              float(np.abs(grads).sum())))
                if model == 0:
                    grads[:] = 0  # in place: the optimiser sees zeros
            t.set_reduce_hook(hook)
            t.step()
            noema = os.path.join(TMP, "zero-grad.i2ig")
            t.export_generator(noema, use_ema=False)

            def bad(model, grads):
                raise KeyError("from the hook")
            t.set_reduce_hook(bad)
            with self.assertRaises(KeyError):
                t.step()
            t.set_reduce_hook(None)
        gcfg = i2igalip.GeneratorConfig(context_dim=self.enc.info["text_width"], **GEN_ARGS)
        dcfg = i2igalip.DiscriminatorConfig(num_classes=2, n_taps=self.enc.info["n_taps"],
                                            width=self.enc.info["vision_width"],
                                            text_dim=self.enc.info["embed_dim"])
        with i2igalip.Generator.create(gcfg, seed=SEED) as g0, \
                i2igalip.Discriminator.create(dcfg) as d0:
            init = os.path.join(TMP, "init.i2ig")
            g0.save(init)
            self.assertEqual([(m, n) for m, n, _, _ in calls],
                             [(0, g0.parameter_count), (1, d0.parameter_count)])
        self.assertTrue(all(ok and s > 0 for _, _, ok, s in calls))
        # Zero gradients through Adam move nothing: the initial generator.
        a, b = tensors(noema), tensors(init)
        for name in b:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)

    def test_preview_and_export(self):
        with self.trainer() as t:
            t.step()
            x, y, c = t.preview("T1", "CT", 2)
            self.assertEqual(x.shape, (2, 32, 32))
            self.assertTrue(0 <= x.min() and x.max() <= 1)
            # Chosen slices: the same rows as the first n, in the order asked.
            n = t.domain_slices("T1")
            self.assertEqual(n, len(DATA["T1"]))
            x3, y3, c3 = t.preview("T1", "CT", 3)
            xs, ys, cs = t.preview("T1", "CT", slices=[2, 0, 2])
            for got, want in ((xs, x3), (ys, y3), (cs, c3)):
                np.testing.assert_array_equal(got, want[[2, 0, 2]])
            # The input is the centre of the chosen slice, mapped to [0, 1]
            # (percentiles 1..99 of the slice, numpy's linear rule).
            got = t.preview("T1", "CT", slices=[n - 1])[0][0]
            sl = DATA["T1"][n - 1].astype(np.float64)
            lo, hi = np.percentile(sl, (1, 99))
            h, w = sl.shape
            y0, x0 = -int((32 - h) / 2), -int((32 - w) / 2)  # C's division, towards zero
            want = np.clip((sl[y0:y0 + 32, x0:x0 + 32] - lo) / (hi - lo), 0, 1)
            np.testing.assert_allclose(got, want, atol=1e-6)
            with self.assertRaises(i2igalip.Error) as cm:
                t.preview("T1", "CT", slices=[n])
            self.assertEqual(cm.exception.status, capi.ERR_OUT_OF_RANGE)
            self.assertIn("slice %d" % n, cm.exception.message)
            with self.assertRaises(KeyError):
                t.domain_slices("MRA")
            path = os.path.join(TMP, "ema.i2ig")
            t.export_generator(path)
        with i2igalip.Generator.load(path) as g:
            self.assertEqual(g.domains, ["T1", "CT"])
            np.testing.assert_array_equal(g.forward(x, "CT"), y)
            np.testing.assert_array_equal(g.forward(y, "T1"), c)
            self.assertEqual(g.domain("CT").mapping, DOMAINS[1][3])
            self.assertEqual(g.domain("T1").prompt, DOMAINS[0][1])

    def test_errors_and_lifetime(self):
        gcfg = i2igalip.GeneratorConfig(context_dim=self.enc.info["text_width"], **GEN_ARGS)
        with self.assertRaises(i2igalip.Error) as cm:
            i2igalip.Trainer(self.enc, i2igalip.TrainConfig(total_steps=0), gcfg)
        self.assertEqual(cm.exception.status, capi.ERR_INVALID_ARGUMENT)
        self.assertIn("total_steps", cm.exception.message)
        t = i2igalip.Trainer(self.enc, i2igalip.TrainConfig(total_steps=2, batch_size=1,
                                                            crop_size=32), gcfg)
        with self.assertRaises(i2igalip.Error) as cm:
            t.step()  # one domain is not enough
        self.assertNotEqual(cm.exception.message, "")
        with self.assertRaises(i2igalip.Error) as cm:
            t.add_domain("T1", "p", 7, DOMAINS[0][3], DATA["T1"])
        self.assertEqual(cm.exception.status, capi.ERR_INVALID_ARGUMENT)
        with self.assertRaises(TypeError):
            t.add_domain("T1", "p", 0, DOMAINS[0][3], DATA["T1"].astype(np.float64))
        # The trainer keeps its borrowed encoder alive.
        enc = i2igalip.Encoder.load(ENC)
        t2 = i2igalip.Trainer(enc, i2igalip.TrainConfig(total_steps=1, batch_size=1,
                                                        crop_size=32), gcfg)
        for name, prompt, label, m in DOMAINS:
            t2.add_domain(name, prompt, label, m, DATA[name][:1])
        fin = enc._finalizer
        del enc
        import gc
        gc.collect()
        self.assertTrue(fin.alive)
        self.assertEqual(t2.step().step, 1)
        t2.close()
        t.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
