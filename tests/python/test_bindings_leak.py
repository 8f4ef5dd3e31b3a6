"""No leak through the bindings: 1,000 load/free cycles of each handle kind
(closed explicitly, by ``with`` and by the garbage collector), failing loads
included, leave the resident set size flat.

RSS is read from /proc/self/status after a warm-up of WARMUP cycles (which
fills the allocator's caches, oneDNN's primitive caches and Python's free
lists) and again after CYCLES more, each time after gc.collect() and
malloc_trim(0) (so that heap freed earlier cannot silently absorb a leak);
the growth must stay below LIMIT_KIB (1 MiB over 1,000 cycles: a leak of
1 KiB per cycle fails), far less than one leaked copy of anything these
handles own (the tiny model alone is 2 MB: leaking it would add 2 GB).
The last test is the control: the measure does see handles that are not
freed."""
import ctypes
import gc
import os
import unittest

import numpy as np
import tifffile

import bindings_util as u
import i2igalip

WARMUP = 100
CYCLES = 1000
LIMIT_KIB = 1024
_libc = ctypes.CDLL(None)


def settled_rss():
    gc.collect()
    _libc.malloc_trim(0)
    return u.rss_kib()


def setUpModule():
    global TMP, MODEL, BAD, STACK, ENC
    TMP = u.scratch()
    MODEL = u.tiny_model(TMP)
    BAD = os.path.join(TMP, "bad.i2ig")
    with open(MODEL, "rb") as f:
        data = f.read()
    with open(BAD, "wb") as f:
        f.write(data[:len(data) // 2])
    STACK = os.path.join(TMP, "pd2.tif")
    tifffile.imwrite(STACK, tifffile.imread(u.PD)[[4, 9]], photometric="minisblack")
    ENC = u.small_encoder(TMP)


def tearDownModule():
    u.remove(TMP)


class Leak(unittest.TestCase):
    def flat(self, name, cycle):
        for _ in range(WARMUP):
            cycle()
        before = settled_rss()
        for _ in range(CYCLES):
            cycle()
        after = settled_rss()
        print("%-28s RSS %7d KiB -> %7d KiB after %d cycles (%+d KiB)" %
              (name, before, after, CYCLES, after - before))
        self.assertLess(after - before, LIMIT_KIB, name)

    def test_zz_the_measure_sees_a_real_leak(self):
        # Control (runs last): 200 loads whose handles are kept must show.
        from i2igalip import capi
        kept = []
        before = settled_rss()
        for _ in range(200):
            h = ctypes.c_void_p()
            capi.check(capi.lib.i2ig_generator_load(MODEL.encode(), ctypes.byref(h)))
            kept.append(h)
        grown = settled_rss() - before
        for h in kept:
            capi.lib.i2ig_generator_free(h)
        print("control: 200 unfreed loads grow RSS by %d KiB" % grown)
        self.assertGreater(grown, 10 * LIMIT_KIB)

    def test_generator_load_close(self):
        def cycle():
            g = i2igalip.Generator.load(MODEL)
            g.domains
            g.close()
        self.flat("Generator load/close", cycle)

    def test_generator_load_gc(self):
        def cycle():
            i2igalip.Generator.load(MODEL).parameter_count  # dropped: freed by the GC
        self.flat("Generator load/GC", cycle)

    def test_generator_translate(self):
        x = tifffile.imread(u.T1)[50][:64, :64].copy()

        def cycle():
            with i2igalip.Generator.load(MODEL) as g:
                g.translate(x, "CT", "T1", progress=lambda d, t: False)
        self.flat("Generator load/translate", cycle)

    def test_failing_load(self):
        def cycle():
            try:
                i2igalip.Generator.load(BAD)
            except i2igalip.Error:
                pass
            else:
                raise AssertionError("a truncated model loaded")
        self.flat("Generator failing load", cycle)

    def test_image(self):
        def cycle():
            with i2igalip.Image.load(STACK) as im:
                im.to_numpy()
                with im.extract_slice(1) as s, s.convert("u8", 0, 1000):
                    pass
        self.flat("Image load/extract/convert", cycle)

    def test_weights(self):
        def cycle():
            with i2igalip.Weights.open(MODEL) as w:
                w.metadata
                w["unet.out.2.weight"]
        self.flat("Weights open/read", cycle)

    def test_encoder(self):
        x = np.full((1, 32, 32), 0.5, np.float32)

        def cycle():
            with i2igalip.Encoder.load(ENC) as e:
                e.encode_image(x)
                e.encode_text("this is ct")
        self.flat("Encoder load/encode", cycle)

    def test_discriminator(self):
        cfg = i2igalip.DiscriminatorConfig(num_classes=2, n_taps=2, width=32, text_dim=16,
                                           cmap_dim=8)

        def cycle():
            with i2igalip.Discriminator.create(cfg, seed=1):
                pass
        self.flat("Discriminator create/free", cycle)


if __name__ == "__main__":
    unittest.main(verbosity=2)
