"""The Python bindings (bindings/python/i2igalip) against independent references:
translation of real bundled slices bit for bit against the C tool `i2ig
translate`, images against tifffile, the C weight reader/writer against the
pure-Python one, encoder/discriminator results against raw ctypes calls,
errors against the C tool's messages, handle lifetime, and the GIL."""
import ctypes
import gc
import os
import subprocess
import threading
import time
import unittest
import zlib

import numpy as np
import tifffile

import bindings_util as u
import i2igalip
from i2igalip import capi, weights

SLICES = {  # scan: (slices, source domain, target domain)
    "t1": (u.T1, [30, 50, 70], "T1", "CT"),
    "ct": (u.CT, [40, 60], "CT", "T1"),
    "pd": (u.PD, [5, 12], "T1", "CT"),
}


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def setUpModule():
    global TMP, MODEL
    TMP = u.scratch()
    MODEL = u.tiny_model(TMP)


def tearDownModule():
    u.remove(TMP)


class Translation(unittest.TestCase):
    """Real bundled slices, every supported dtype, bit for bit against the tool."""

    def cases(self):
        for key, (path, idx, src, dst) in SLICES.items():
            stack = tifffile.imread(path)[idx]
            yield key, stack, src, dst
        pd = tifffile.imread(u.PD)[[5, 12]]
        yield "pd-u16", pd.astype(np.uint16), "T1", "CT"
        ct = tifffile.imread(u.CT)[[40]]
        yield "ct-f32", ct.astype(np.float32), "CT", "T1"

    def tool_translate(self, stack, src, dst, name):
        inp = os.path.join(TMP, name + "-in.tif")
        out = os.path.join(TMP, name + "-tool.tif")
        tifffile.imwrite(inp, stack, photometric="minisblack")
        u.run_tool("translate", "--model", MODEL, "--from", src, "--to", dst, "--threads", "2",
                   "--quiet", inp, out)
        res = tifffile.imread(out)
        return inp, res.reshape(stack.shape)

    def test_bit_identical_to_the_tool(self):
        with i2igalip.Generator.load(MODEL, threads=2) as g:
            self.assertEqual(g.domains, ["T1", "CT"])
            for name, stack, src, dst in self.cases():
                with self.subTest(case=name, dtype=str(stack.dtype)):
                    inp, ref = self.tool_translate(stack, src, dst, name)
                    self.assertEqual(ref.dtype, stack.dtype)
                    got = g.translate(stack, dst, source=src)
                    self.assertEqual(got.dtype, stack.dtype)
                    self.assertEqual(got.shape, stack.shape)
                    np.testing.assert_array_equal(got, ref)
                    # The output is a real translation, not the input.
                    self.assertFalse(np.array_equal(got, stack))
                    # Through Image handles, read by the C loader from the same file.
                    with i2igalip.Image.load(inp) as im, g.translate_image(im, dst, src) as res:
                        np.testing.assert_array_equal(res.to_numpy(), ref)
                    if name == "t1":
                        # A 2-D slice gives the stack's slice; a strided view works too.
                        np.testing.assert_array_equal(g.translate(stack[-1], dst, src), ref[-1])
                        rev = stack[::-1]
                        np.testing.assert_array_equal(g.translate(rev, dst, src), ref[::-1])

    def test_byte_order_and_source_default(self):
        stack = tifffile.imread(u.CT)[[50]]
        with i2igalip.Generator.load(MODEL, threads=2) as g:
            ref = g.translate(stack, "T1", "CT")
            big = stack.astype(">i2")
            np.testing.assert_array_equal(g.translate(big, "T1", "CT"), ref)
            # Two domains: the source may be left out.
            np.testing.assert_array_equal(g.translate(stack, "T1"), ref)

    def test_progress_and_cancel(self):
        stack = tifffile.imread(u.T1)[[20, 40, 60]]
        calls = []
        with i2igalip.Generator.load(MODEL, threads=2) as g:
            full = g.translate(stack, "CT", "T1", progress=lambda d, t: calls.append((d, t)))
            self.assertEqual(calls, [(1, 3), (2, 3), (3, 3)])
            np.testing.assert_array_equal(full, g.translate(stack, "CT", "T1"))
            seen = []
            with self.assertRaises(i2igalip.Cancelled) as cm:
                g.translate(stack, "CT", "T1", progress=lambda d, t: seen.append(d) or d == 2)
            self.assertEqual(seen, [1, 2])
            self.assertEqual(cm.exception.status, capi.ERR_CANCELLED)
            self.assertEqual(cm.exception.message, "translate: cancelled after 2 of 3 slices")
            self.assertIsInstance(cm.exception, i2igalip.Error)

            def boom(done, total):
                raise ZeroDivisionError("from the callback")
            with self.assertRaises(ZeroDivisionError):
                g.translate(stack, "CT", "T1", progress=boom)
            # The callback is removed afterwards: a plain call runs to the end.
            np.testing.assert_array_equal(g.translate(stack, "CT", "T1"), full)

    def test_forward_is_the_raw_model(self):
        x = np.random.default_rng(1).random((2, 64, 96), dtype=np.float32)
        with i2igalip.Generator.load(MODEL) as g:
            y = g.forward(x, "CT")
            self.assertEqual(y.shape, x.shape)
            ref = np.empty_like(x)
            p = capi.c_float_p
            capi.check(capi.lib.i2ig_generator_forward(g._h, x.ctypes.data_as(p), 2, 96, 64,
                                                       b"CT", ref.ctypes.data_as(p)))
            np.testing.assert_array_equal(y, ref)
            # One image alone takes the one-image path (label embedding folded
            # into a bias): the binding passes it through unchanged, and it agrees
            # with the batched result to rounding (the project-wide 1e-4 of the
            # largest output; the output of this random model is a small
            # difference of O(1) activations).
            one = np.empty_like(x[1])
            capi.check(capi.lib.i2ig_generator_forward(g._h, x[1].ctypes.data_as(p), 1, 96, 64,
                                                       b"CT", one.ctypes.data_as(p)))
            np.testing.assert_array_equal(g.forward(x[1], "CT"), one)
            np.testing.assert_allclose(one, ref[1], rtol=0, atol=1e-4 * np.abs(ref[1]).max())
            with self.assertRaises(i2igalip.Error) as cm:
                g.forward(x[:, :63], "CT")
            self.assertEqual(cm.exception.status, capi.ERR_SHAPE)

    def test_model_properties(self):
        with i2igalip.Generator.load(MODEL) as g:
            wf = weights.read(MODEL)
            self.assertEqual(g.parameter_count,
                             sum(a.size for n, a in wf.tensors.items() if n.startswith("unet.")))
            c = g.config
            self.assertEqual((c.model_channels, c.channel_mult, c.num_res_blocks, c.attention_ds,
                              c.head_channels, c.context_dim, c.num_classes),
                             (32, (1, 1, 1), 1, (4,), 32, 16, 2))
            self.assertEqual(g.size_multiple, 4)
            d = g.domain("CT")
            self.assertEqual((d.prompt, d.label), ("this is CT", 1))
            self.assertEqual(d.mapping, i2igalip.Mapping.window(-1024, 3071))
            self.assertEqual(g.domain("T1").mapping, i2igalip.Mapping.percentile(1, 99, 0, 255))
            paper = i2igalip.GeneratorConfig()
            self.assertEqual(paper.channel_mult, (1, 1, 2, 2, 4, 4))
            self.assertEqual(paper.attention_ds, (8, 16, 32))

    def test_add_domain_and_save(self):
        rng = np.random.default_rng(3)
        with i2igalip.Generator.load(MODEL) as g:
            ctx = rng.standard_normal((8, 16)).astype(np.float32)
            emb = rng.standard_normal(16).astype(np.float32)
            g.add_domain("PD", "this MRI is PD-weighted", 0, ctx, emb,
                         i2igalip.Mapping.percentile(0.5, 99.5, 0, 1000))
            self.assertEqual(g.domains, ["T1", "CT", "PD"])
            out = os.path.join(TMP, "three.i2ig")
            g.save(out)
            with self.assertRaises(ValueError):
                g.add_domain("X", "p", 0, ctx[:, :15], emb, i2igalip.Mapping.window(0, 1))
            with self.assertRaises(i2igalip.Error) as cm:
                g.add_domain("X", "p", 5, ctx, emb, i2igalip.Mapping.window(0, 1))
            self.assertEqual(cm.exception.status, capi.ERR_INVALID_ARGUMENT)
            self.assertEqual(cm.exception.message, "domain 'X': label 5 outside 0..1")
            pd = tifffile.imread(u.PD)[[8]]
            ref = g.translate(pd, "PD", "T1")
        with i2igalip.Generator.load(out) as g2:
            self.assertEqual(g2.domains, ["T1", "CT", "PD"])
            np.testing.assert_array_equal(g2.translate(pd, "PD", "T1"), ref)
        wf = weights.read(out)  # the pure-Python reader sees the domain we added
        self.assertIn("this MRI is PD-weighted", str(wf.meta))


class Errors(unittest.TestCase):
    def tool_message(self, path):
        r = u.run_tool("inspect", path, check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        prefix = "i2ig inspect: "
        line = r.stderr.strip().splitlines()[-1]
        self.assertTrue(line.startswith(prefix), line)
        status, detail = line[len(prefix):].split(": ", 1)
        return status, detail

    def malformed(self):
        good = read_bytes(MODEL)
        wf = weights.read(MODEL)
        last = max(wf.info.values(), key=lambda i: i.offset)
        flip = bytearray(good)
        flip[last.offset] ^= 0x40  # inside the last tensor's data: its checksum fails
        newer = bytearray(good)
        newer[8:12] = (2).to_bytes(4, "little")
        return {"truncated": (good[:5000], capi.ERR_TRUNCATED),
                "bad-magic": (b"GIF89a" + good[6:], capi.ERR_BAD_MAGIC),
                "checksum": (bytes(flip), capi.ERR_CHECKSUM),
                "version": (bytes(newer), capi.ERR_VERSION),
                "empty": (b"", capi.ERR_TRUNCATED)}

    def test_malformed_weight_files_raise_with_the_c_message(self):
        for name, (data, status) in self.malformed().items():
            path = os.path.join(TMP, "bad-%s.i2ig" % name)
            with open(path, "wb") as f:
                f.write(data)
            with self.subTest(file=name):
                tool_status, tool_detail = self.tool_message(path) if status != capi.ERR_CHECKSUM \
                    else (None, None)
                with self.assertRaises(i2igalip.Error) as cm:
                    i2igalip.Generator.load(path)
                e = cm.exception
                self.assertEqual(e.status, status, str(e))
                self.assertEqual(e.name, i2igalip.status_string(status))
                self.assertIn(path, e.message)
                self.assertEqual(str(e), "%s: %s" % (e.name, e.message))
                with self.assertRaises(i2igalip.Error) as cm2:
                    i2igalip.Weights.open(path, verify_all=True)
                self.assertEqual(cm2.exception.status, status)
                if tool_status is not None:
                    # The very message the C library gives the C tool.
                    self.assertEqual(tool_status, e.name)
                    self.assertEqual(tool_detail, e.message)
                    self.assertEqual(cm2.exception.message, e.message)
                else:
                    r = u.run_tool("inspect", "--verify", path, check=False)
                    self.assertIn(cm2.exception.message, r.stderr)
                    self.assertIn("tensor '", e.message)
                    with i2igalip.Weights.open(path) as w:  # lazy check: open succeeds
                        with self.assertRaises(i2igalip.Error) as cm3:
                            w.verify()
                        self.assertEqual(cm3.exception.status, capi.ERR_CHECKSUM)

    def test_input_errors(self):
        stack = tifffile.imread(u.T1)[[40]]
        with i2igalip.Generator.load(MODEL) as g:
            with self.assertRaises(i2igalip.Error) as cm:
                g.translate(stack, "MR", "T1")
            self.assertEqual(cm.exception.status, capi.ERR_UNKNOWN_DOMAIN)
            self.assertEqual(cm.exception.message, "unknown domain 'MR' (the model has: T1, CT)")
            bad = stack.astype(np.float32)
            bad[0, 100, 90] = np.nan
            with self.assertRaises(i2igalip.Error) as cm:
                g.translate(bad, "CT", "T1")
            self.assertEqual(cm.exception.status, capi.ERR_NOT_FINITE)
            self.assertEqual(cm.exception.message,
                             "translate: slice 0 pixel (90, 100) is not finite")
            with self.assertRaises(TypeError):
                g.translate(stack.astype(np.float64), "CT", "T1")
            with self.assertRaises(ValueError):
                g.translate(stack[None], "CT", "T1")
            with self.assertRaises(ValueError):
                g.translate(stack[:, :0], "CT", "T1")
            with self.assertRaises(ValueError):
                g.translate(stack, "C\0T", "T1")
        with self.assertRaises(i2igalip.Error) as cm:
            i2igalip.Generator.load(os.path.join(TMP, "does-not-exist.i2ig"))
        self.assertEqual(cm.exception.status, capi.ERR_IO)
        self.assertIn("does-not-exist.i2ig", cm.exception.message)

    def test_error_on_another_thread_keeps_its_own_message(self):
        # The detail message is thread-local in C: each thread reports its own.
        msgs = {}

        def fail(key, path):
            try:
                i2igalip.Generator.load(path)
            except i2igalip.Error as e:
                msgs[key] = e.message
        a = threading.Thread(target=fail, args=("a", os.path.join(TMP, "a-missing.i2ig")))
        b = threading.Thread(target=fail, args=("b", u.T1))
        a.start(), b.start(), a.join(), b.join()
        self.assertIn("a-missing.i2ig", msgs["a"])
        self.assertIn("mr-t1-colin27.tif", msgs["b"])


class Images(unittest.TestCase):
    def test_bundled_scans_against_tifffile(self):
        for path in (u.T1, u.CT, u.PD):
            with self.subTest(scan=os.path.basename(path)), i2igalip.Image.load(path) as im:
                ref = tifffile.imread(path)
                self.assertEqual(im.shape, ref.shape)
                self.assertEqual(im.dtype, ref.dtype)
                self.assertEqual(len(im), ref.shape[0])
                np.testing.assert_array_equal(im.to_numpy(), ref)
                np.testing.assert_array_equal(np.asarray(im), ref)
                with im.extract_slice(3) as s:
                    np.testing.assert_array_equal(s.to_numpy(squeeze=True), ref[3])

    def test_round_trip_every_dtype(self):
        rng = np.random.default_rng(5)
        arrays = {np.uint8: rng.integers(0, 256, (3, 20, 33)),
                  np.uint16: rng.integers(0, 65536, (2, 17, 9)),
                  np.int16: rng.integers(-32768, 32768, (1, 5, 7)),
                  np.float32: rng.standard_normal((4, 8, 8))}
        for dt, a in arrays.items():
            a = a.astype(dt)
            with self.subTest(dtype=np.dtype(dt).name):
                path = os.path.join(TMP, "rt-%s.tif" % np.dtype(dt).name)
                i2igalip.image.save(a, path, spacing=(0.5, 0.75))
                back = tifffile.imread(path)
                np.testing.assert_array_equal(back.reshape(a.shape), a)
                with i2igalip.Image.load(path) as im:
                    np.testing.assert_array_equal(im.to_numpy(), a)
                    self.assertAlmostEqual(im.spacing[0], 0.5, places=5)
                    self.assertAlmostEqual(im.spacing[1], 0.75, places=5)
        png = os.path.join(TMP, "slice.png")
        sl = arrays[np.uint16][0].astype(np.uint16)
        i2igalip.image.save(sl, png)
        from PIL import Image as PILImage
        np.testing.assert_array_equal(np.asarray(PILImage.open(png)).astype(np.uint16), sl)
        np.testing.assert_array_equal(i2igalip.image.load(png)[0], sl)

    def test_convert_and_errors(self):
        ct = tifffile.imread(u.CT)[[50]]
        with i2igalip.Image.from_array(ct) as im, im.convert("u8", -100, 200) as w:
            ref = np.clip(np.floor((ct.astype(np.float64) + 100) / 300 * 255 + 0.5), 0, 255)
            self.assertEqual(w.dtype, np.uint8)
            np.testing.assert_array_equal(w.to_numpy(), ref.astype(np.uint8))
            with self.assertRaises(i2igalip.Error) as cm:
                im.spacing = (-1, 1)
            self.assertEqual(cm.exception.status, capi.ERR_INVALID_ARGUMENT)
            with self.assertRaises(i2igalip.Error) as cm:
                im.save(os.path.join(TMP, "x.png"))  # int16 cannot be PNG
            self.assertNotEqual(cm.exception.message, "")
            with self.assertRaises(i2igalip.Error) as cm:
                im.extract_slice(1)
        with self.assertRaises(i2igalip.Error) as cm:
            i2igalip.Image.load(MODEL)
        self.assertEqual(cm.exception.status, capi.ERR_IMAGE_FORMAT)
        with self.assertRaises(i2igalip.Error) as cm:
            i2igalip.Image.load(u.CT, max_bytes=1000)
        self.assertEqual(cm.exception.status, capi.ERR_TOO_LARGE)

    def test_compare_against_scikit_image(self):
        from skimage.metrics import peak_signal_noise_ratio, structural_similarity
        ref = tifffile.imread(u.T1)[[40, 41]]
        test = np.clip(ref + np.random.default_rng(4).normal(0, 12, ref.shape), 0, 255).astype(np.uint8)
        got = i2igalip.image.compare(test, ref)
        self.assertEqual(len(got), 2)
        for z in range(2):
            a, b = test[z] / test[z].max(), ref[z] / ref[z].max()
            want = {"psnr": peak_signal_noise_ratio(b, a, data_range=1.0),
                    "ssim": structural_similarity(b, a, gaussian_weights=True, sigma=1.5,
                                                  use_sample_covariance=False, data_range=1.0),
                    "mae": np.abs(a - b).mean()}
            for k in want:
                self.assertAlmostEqual(got[z][k] / want[k], 1.0, delta=1e-6, msg=k)
        with i2igalip.Image.from_array(ref) as r, i2igalip.Image.from_array(ref[:, :20, :20]) as s:
            with self.assertRaises(i2igalip.Error) as cm:
                s.compare(r)
            self.assertNotEqual(cm.exception.message, "")
            with self.assertRaises(i2igalip.Error):
                r.compare(r, slice=2)


class WeightFiles(unittest.TestCase):
    def test_c_reader_matches_the_python_reader(self):
        wf = weights.read(MODEL)
        with i2igalip.Weights.open(MODEL, verify_all=True) as w:
            self.assertEqual(w.format_version, wf.version)
            self.assertEqual(w.metadata, wf.meta)
            self.assertEqual(list(w.metadata), list(wf.meta))
            self.assertEqual(w.names(), list(wf.tensors))
            raw = read_bytes(MODEL)
            for name, a in wf.tensors.items():
                ti = w.info(name)
                ref = wf.info[name]
                self.assertEqual((ti.dtype, ti.shape, ti.offset, ti.nbytes, ti.crc32),
                                 (wf.dtypes[name], tuple(ref.shape), ref.offset, ref.nbytes,
                                  ref.crc32))
                self.assertEqual(ti.crc32, zlib.crc32(raw[ti.offset:ti.offset + ti.nbytes]))
                np.testing.assert_array_equal(w[name], a)
                np.testing.assert_array_equal(w.read_f32(name), a.astype(np.float32))
            name = w.names()[0]
            with self.assertRaises(i2igalip.Error) as cm:
                w.read_f32(name, (3, 3))
            self.assertEqual(cm.exception.status, capi.ERR_SHAPE)
            self.assertIn(name, cm.exception.message)
            with self.assertRaises(i2igalip.Error) as cm:
                w.info("no.such.tensor")
            self.assertEqual(cm.exception.status, capi.ERR_MISSING_TENSOR)
            with self.assertRaises(i2igalip.Error) as cm:
                w.meta("no.such.key")
            self.assertEqual(cm.exception.status, capi.ERR_METADATA)
            self.assertNotIn("no.such.tensor", w)

    def test_c_writer_is_byte_identical_to_the_python_writer(self):
        rng = np.random.default_rng(9)
        meta = {"model.kind": "test", "n": -5, "x": 0.25, "ints": weights.IntArray([1, 2, 3]),
                "floats": weights.FloatArray([0.5, -1.0]),
                "names": weights.StringArray(["T1", "CT", "ünï"]),
                "empty": weights.IntArray()}
        tensors = {"a": rng.standard_normal((3, 4)).astype(np.float32),
                   "b": rng.standard_normal((5,)).astype(np.float32),
                   "c": rng.standard_normal((2, 2, 2)).astype(np.float32)}
        dtypes = {"a": "f32", "b": "f16", "c": "bf16"}
        py = os.path.join(TMP, "py.i2ig")
        cw = os.path.join(TMP, "c.i2ig")
        weights.write(py, meta, tensors, dtypes)
        with i2igalip.WeightsWriter() as w:
            for k, v in meta.items():
                w.set(k, v)
            for k, v in tensors.items():
                w.add_tensor(k, v, store=dtypes[k])
            w.write(cw)
            with self.assertRaises(i2igalip.Error) as cm:
                w.set("n", 1)
            self.assertEqual(cm.exception.status, capi.ERR_DUPLICATE)
        self.assertEqual(read_bytes(cw), read_bytes(py))
        with i2igalip.Weights.open(cw) as r:
            self.assertEqual(r.metadata, meta)
            self.assertEqual(r.info("c").dtype, "bf16")
            np.testing.assert_array_equal(r.raw("c"), weights.f32_to_bf16_bits(tensors["c"]))


class EncoderAndDiscriminator(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.enc_path = u.small_encoder(TMP)

    def test_encoder_matches_raw_ctypes(self):
        import encoder_api
        raw = encoder_api.Encoder(self.enc_path, threads=1)
        rng = np.random.default_rng(2)
        x = rng.random((2, 40, 36), dtype=np.float32)
        with i2igalip.Encoder.load(self.enc_path, threads=1) as e:
            info = e.info
            self.assertEqual((info["image_size"], info["vision_width"], info["n_taps"],
                              info["taps"], info["context_length"]),
                             (32, 64, 4, (0, 1, 2, 3), 16))
            got = e.encode_image(x)
            ref = raw.encode_image(x)
            for g, r in zip(got, ref):
                self.assertEqual(g.shape, r.shape)
                np.testing.assert_array_equal(g, r)
            only = e.encode_image(x[0], embedding=True, taps=False, cls=False)
            self.assertIsNone(only.taps)
            np.testing.assert_array_equal(only.embedding, ref[0][:1])
            d_emb = rng.standard_normal(got.embedding.shape).astype(np.float32)
            d_cls = rng.standard_normal(got.cls.shape).astype(np.float32)
            np.testing.assert_array_equal(e.image_grad(x, d_embedding=d_emb, d_cls=d_cls),
                                          raw.image_grad(x, d_emb, None, d_cls))
            for prompt in ("this MRI is T1-weighted", "this is pelvis ct"):
                ids, n = e.tokenize(prompt)
                rids, rn = raw.tokenize(prompt)
                self.assertEqual(n, rn)
                np.testing.assert_array_equal(ids, rids)
                ctx, emb = e.encode_text(prompt)
                rctx, remb = raw.encode_text(prompt)
                np.testing.assert_array_equal(ctx, rctx)
                np.testing.assert_array_equal(emb, remb)
            with self.assertRaises(i2igalip.Error) as cm:
                e.tokenize("word " * 40)
            self.assertEqual(cm.exception.status, capi.ERR_TEXT)
            with self.assertRaises(i2igalip.Error) as cm:
                e.tokenize(b"\xff\xfe")
            self.assertEqual(cm.exception.status, capi.ERR_TEXT)
        raw.close()

    def test_domain_by_prompt(self):
        with i2igalip.Encoder.load(self.enc_path) as e:
            cfg = i2igalip.GeneratorConfig(model_channels=32, channel_mult=(1, 1),
                                           num_res_blocks=1, attention_ds=(2,), context_dim=64,
                                           num_classes=2)
            with i2igalip.Generator.create(cfg, seed=11) as g:
                m = i2igalip.Mapping.percentile(1, 99, 0, 255)
                g.add_domain_encoded(e, "T1", "this MRI is T1-weighted", 0, m)
                ctx, emb = e.encode_text("this MRI is T2-weighted")
                g.add_domain("T2", "this MRI is T2-weighted", 1, ctx, emb, m)
                g.add_domain_encoded(e, "T2e", "this MRI is T2-weighted", 1, m)
                x = tifffile.imread(u.T1)[[50]]
                np.testing.assert_array_equal(g.translate(x, "T2", "T1"),
                                              g.translate(x, "T2e", "T1"))
                self.assertEqual(g.domain("T2e").prompt, "this MRI is T2-weighted")

    def test_discriminator_matches_raw_ctypes(self):
        cfg = i2igalip.DiscriminatorConfig(num_classes=2, n_taps=2, width=32, text_dim=16,
                                           cmap_dim=8)
        self.assertEqual(i2igalip.DiscriminatorConfig().cmap_dim, 64)
        rng = np.random.default_rng(4)
        f = rng.standard_normal((2, 2, 10, 32)).astype(np.float32)
        lab = np.array([1, 0], np.intc)
        txt = rng.standard_normal((2, 16)).astype(np.float32)
        with i2igalip.Discriminator.create(cfg, seed=3) as d:
            self.assertEqual(d.config, cfg)
            # Raw twin through the same C entry points.
            h = ctypes.c_void_p()
            capi.check(capi.lib.i2ig_discriminator_create(ctypes.byref(cfg._c), 3,
                                                          ctypes.byref(h)))
            p = capi.c_float_p
            ref = np.empty((2, 2, 10, 8), np.float32)
            capi.check(capi.lib.i2ig_discriminator_forward(
                h, f.ctypes.data_as(p), 2, 10, lab.ctypes.data_as(ctypes.POINTER(ctypes.c_int)),
                txt.ctypes.data_as(p), 1, ref.ctypes.data_as(p)))
            got = d.forward(f, lab, txt, update_state=True)
            np.testing.assert_array_equal(got, ref)
            g = rng.standard_normal(got.shape).astype(np.float32)
            rd = np.empty_like(f)
            capi.check(capi.lib.i2ig_discriminator_backward(
                h, f.ctypes.data_as(p), 2, 10, lab.ctypes.data_as(ctypes.POINTER(ctypes.c_int)),
                txt.ctypes.data_as(p), g.ctypes.data_as(p), rd.ctypes.data_as(p)))
            capi.lib.i2ig_discriminator_free(h)
            np.testing.assert_array_equal(d.backward(f, lab, txt, g), rd)
            self.assertEqual(d.parameter_count, capi.lib.i2ig_discriminator_parameter_count(
                d._h))
            path = os.path.join(TMP, "disc.i2ig")
            d.save(path)
            before = d.forward(f, lab, txt)
        with i2igalip.Discriminator.load(path) as d2:
            self.assertEqual(d2.config, cfg)
            np.testing.assert_array_equal(d2.forward(f, lab, txt), before)
            with self.assertRaises(ValueError):
                d2.forward(f[:, :1], lab, txt)


class Handles(unittest.TestCase):
    def test_close_with_and_gc(self):
        g = i2igalip.Generator.load(MODEL)
        fin = g._finalizer
        g.close()
        g.close()  # idempotent
        self.assertTrue(g.closed)
        with self.assertRaises(ValueError):
            g.domains
        with i2igalip.Generator.load(MODEL) as g2:
            self.assertFalse(g2.closed)
        self.assertTrue(g2.closed)
        self.assertFalse(fin.alive)
        g3 = i2igalip.Image.create("u8", 4, 4)
        fin3 = g3._finalizer
        del g3
        gc.collect()
        self.assertFalse(fin3.alive)  # released by the garbage collector

    def test_every_header_function_is_declared(self):
        header = read_bytes(os.path.join(u.SRC, "include", "i2igalip.h")).decode()
        import re
        names = set(re.findall(r"I2IG_API[^;(]*?\b(i2ig_\w+)\s*\(", header))
        self.assertGreater(len(names), 90)
        self.assertEqual(sorted(names - set(capi.declared())), [])
        self.assertEqual(sorted(set(capi.declared()) - names), [])
        # Every function is present unless it is a training one in an
        # inference-only build.
        training = bool(capi.lib.i2ig_build_features() & capi.FEATURE_TRAINING)
        absent = set(capi.missing())
        self.assertEqual(absent, set() if training else set(capi.TRAINING_FUNCTIONS))


class Gil(unittest.TestCase):
    """ctypes.CDLL releases the GIL around each foreign call: a Python thread
    keeps running while another one translates. The same call made through
    ctypes.PyDLL (which keeps the GIL) stalls it: the measurement can fail."""

    def measure(self, call):
        done = threading.Event()
        box = {}

        def work():
            t0 = time.perf_counter()
            box["status"] = call()
            box["seconds"] = time.perf_counter() - t0
            done.set()
        th = threading.Thread(target=work)
        last = time.perf_counter()
        gap, ticks = 0.0, 0
        th.start()
        while not done.is_set():
            time.sleep(0.002)  # needs the GIL back after each sleep
            now = time.perf_counter()
            gap, last = max(gap, now - last), now
            ticks += 1
        th.join()
        return box, gap, ticks

    def test_translate_releases_the_gil(self):
        stack = np.ascontiguousarray(tifffile.imread(u.CT)[30:34])
        out = np.empty_like(stack)
        with i2igalip.Generator.load(MODEL, threads=1) as g:
            def through(libh):
                return lambda: libh.i2ig_translate(g._h, b"CT", b"T1", capi.DTYPE_I16,
                                                   stack.ctypes.data, 256, 256, 4,
                                                   out.ctypes.data)
            box, gap, ticks = self.measure(through(capi.lib))
            self.assertEqual(box["status"], 0)
            print("CDLL: call %.2f s, main thread ran %d loop turns, longest stall %.3f s" %
                  (box["seconds"], ticks, gap))
            self.assertLess(gap, box["seconds"] / 3)
            self.assertGreater(ticks, 20)
            held = ctypes.PyDLL(capi.library_path)
            held.i2ig_translate.restype = ctypes.c_int
            held.i2ig_translate.argtypes = capi.lib.i2ig_translate.argtypes
            box2, gap2, ticks2 = self.measure(through(held))
            print("PyDLL: call %.2f s, longest stall %.3f s" % (box2["seconds"], gap2))
            self.assertEqual(box2["status"], 0)
            self.assertGreater(gap2, box2["seconds"] * 0.8)


class Installable(unittest.TestCase):
    """pyproject.toml installs the package with Debian's pip into a venv
    (system site packages for numpy, no network, no build isolation)."""

    def test_pip_install_into_a_venv(self):
        venv = os.path.join(TMP, "venv")
        subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv],
                       check=True)
        py = os.path.join(venv, "bin", "python")
        src = os.path.join(u.SRC, "bindings", "python")
        # Build from a copy: an in-tree build would leave build/ and
        # *.egg-info in the source folder.
        import shutil
        copy = os.path.join(TMP, "pkgsrc")
        shutil.copytree(src, copy, ignore=shutil.ignore_patterns("__pycache__", "build",
                                                                 "*.egg-info"))
        r = subprocess.run([py, "-m", "pip", "install", "--no-index", "--no-build-isolation",
                            "--quiet", copy], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        code = ("import i2igalip, sys; print(i2igalip.__file__); "
                "g = i2igalip.Generator.load(sys.argv[1]); print(g.domains)")
        r = subprocess.run([py, "-c", code, MODEL], capture_output=True, text=True, env=env,
                           cwd=TMP)
        self.assertEqual(r.returncode, 0, r.stderr)
        where, doms = r.stdout.splitlines()
        self.assertTrue(where.startswith(venv), where)
        self.assertEqual(doms, "['T1', 'CT']")


if __name__ == "__main__":
    unittest.main(verbosity=2)
