"""Files written by the C library, read back by independent readers (Pillow,
tifffile) and checked byte by byte where the format pins the bytes."""
import os
import shutil
import struct
import unittest
import zlib

import numpy as np
import tifffile
from PIL import Image

import test_image_common as c

RNG = np.random.default_rng(777)


def png_chunks(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, out = 8, []
    while pos < len(data):
        n, t = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]
        assert crc == zlib.crc32(t + body), t
        out.append((t, body))
        pos += 12 + n
    return out


class Write(unittest.TestCase):
    def setUp(self):
        self.tmp = c.scratch_dir()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def test_png_8_and_16_bit_read_by_pillow(self):
        yy, xx = np.mgrid[0:57, 0:83]
        cases = [
            RNG.integers(0, 256, (57, 83), dtype=np.uint8),
            ((xx * 3 + yy * 5) % 256).astype(np.uint8),  # smooth: every filter type wins somewhere
            RNG.integers(0, 65536, (31, 45), dtype=np.uint16),
            (xx * 700 + yy * 300).astype(np.uint16),
            np.array([[0, 65535], [256, 255]], np.uint16),  # byte order shows
            np.full((1, 1), 200, np.uint8),
        ]
        for i, a in enumerate(cases):
            with self.subTest(case=i, dtype=a.dtype.name):
                p = self.path("w%d.png" % i)
                self.assertEqual(c.save(a, p), c.OK, c.last_error())
                with Image.open(p) as im:
                    im.load()
                    self.assertEqual(im.size, (a.shape[1], a.shape[0]))
                    self.assertNotIn("dpi", im.info)  # no spacing, no pHYs
                    np.testing.assert_array_equal(np.array(im).astype(np.int64), a)
                chunks = png_chunks(p)
                ihdr = struct.unpack(">IIBBBBB", chunks[0][1])
                self.assertEqual(ihdr, (a.shape[1], a.shape[0], a.dtype.itemsize * 8, 0, 0, 0, 0))
                # The inflated rows hold the samples big-endian (PNG spec).
                raw = zlib.decompress(b"".join(b for t, b in chunks if t == b"IDAT"))
                self.assertEqual(len(raw), a.shape[0] * (1 + a.nbytes // a.shape[0]))
                self.assertEqual([t for t, _ in chunks], [b"IHDR", b"IDAT", b"IEND"])
                back = c.load(p)
                np.testing.assert_array_equal(back.array[0], a)

    def test_png_phys_when_spacing_known(self):
        a = RNG.integers(0, 256, (10, 12), dtype=np.uint8)
        p = self.path("s.png")
        self.assertEqual(c.save(a, p, spacing=(0.5, 0.25)), c.OK)
        phys = [b for t, b in png_chunks(p) if t == b"pHYs"]
        self.assertEqual(phys, [struct.pack(">IIB", 2000, 4000, 1)])
        with Image.open(p) as im:
            self.assertAlmostEqual(im.info["dpi"][0], 2000 * 0.0254, places=3)
            self.assertAlmostEqual(im.info["dpi"][1], 4000 * 0.0254, places=3)
        self.assertEqual(c.load(p).spacing, (0.5, 0.25))

    def test_tiff_every_dtype_read_by_tifffile(self):
        for dt in (np.uint8, np.uint16, np.int16, np.float32):
            for slices in (1, 4):
                with self.subTest(dtype=np.dtype(dt).name, slices=slices):
                    if dt == np.float32:
                        a = RNG.standard_normal((slices, 70, 33)).astype(dt)
                        a[0, 0, :3] = [np.inf, -np.inf, -0.0]
                    else:
                        info = np.iinfo(dt)
                        a = RNG.integers(info.min, int(info.max) + 1, (slices, 70, 33), dtype=dt)
                    p = self.path("t.tiff")
                    self.assertEqual(c.save(a, p, spacing=(0.8, 1.25)), c.OK, c.last_error())
                    with tifffile.TiffFile(p) as tf:
                        self.assertEqual(len(tf.pages), slices)
                        pg = tf.pages[0]
                        self.assertEqual(pg.dtype, np.dtype(dt))
                        self.assertEqual(pg.compression, 8)
                        self.assertEqual(pg.photometric, 1)
                        self.assertEqual(int(pg.tags["SampleFormat"].value),
                                         {np.int16: 2, np.float32: 3}.get(dt, 1))
                        self.assertEqual(int(pg.tags["ResolutionUnit"].value), 3)
                        xr, yr = pg.tags["XResolution"].value, pg.tags["YResolution"].value
                        self.assertAlmostEqual(10 * xr[1] / xr[0], 0.8, places=6)
                        self.assertAlmostEqual(10 * yr[1] / yr[0], 1.25, places=6)
                        back = tf.asarray().reshape(a.shape)
                    np.testing.assert_array_equal(back, a)
                    got = c.load(p)
                    np.testing.assert_array_equal(got.array, a)
                    self.assertAlmostEqual(got.spacing[0], 0.8, places=6)
                    # Pillow reads the first page too (libtiff underneath).
                    if dt != np.int16:
                        with Image.open(p) as im:
                            np.testing.assert_array_equal(np.array(im), a[0])

    def test_tiff_without_spacing_has_no_resolution_unit(self):
        p = self.path("n.tif")
        self.assertEqual(c.save(np.zeros((3, 3), np.uint8), p), c.OK)
        with tifffile.TiffFile(p) as tf:
            self.assertNotIn("ResolutionUnit", tf.pages[0].tags)
        self.assertEqual(c.load(p).spacing, (0.0, 0.0))

    def test_format_choice_and_refusals(self):
        u8 = np.zeros((4, 5), np.uint8)
        for name, magic in (("a.PNG", b"\x89PNG"), ("b.Tif", b"II*\0"), ("c.TIFF", b"II*\0")):
            self.assertEqual(c.save(u8, self.path(name)), c.OK)
            self.assertEqual(open(self.path(name), "rb").read(4), magic)
        self.assertEqual(c.save(u8, self.path("d.bin"), c.FORMAT_PNG), c.OK)
        self.assertEqual(open(self.path("d.bin"), "rb").read(4), b"\x89PNG")
        for name in ("e.jpg", "noext", "f.png.bak", "dir.png/g"):
            self.assertEqual(c.save(u8, self.path(name)), c.INVALID_ARGUMENT, name)
        self.assertEqual(c.save(u8, self.path("h.jpg"), c.FORMAT_JPEG), c.UNSUPPORTED)
        self.assertEqual(c.save(u8, self.path("h.bmp"), c.FORMAT_BMP), c.UNSUPPORTED)
        self.assertEqual(c.save(u8, self.path("h.x"), 99), c.INVALID_ARGUMENT)
        self.assertEqual(c.save(np.zeros((4, 5), np.int16), self.path("i.png")), c.UNSUPPORTED)
        self.assertIn("i2ig_image_convert", c.last_error())
        self.assertEqual(c.save(np.zeros((4, 5), np.float32), self.path("f.png")), c.UNSUPPORTED)
        self.assertEqual(c.save(np.zeros((2, 4, 5), np.uint8), self.path("m.png")), c.UNSUPPORTED)
        self.assertIn("i2ig_image_extract_slice", c.last_error())
        # Nothing was left behind by the refusals (no partial or temp files).
        left = sorted(os.listdir(self.tmp))
        self.assertEqual(left, ["a.PNG", "b.Tif", "c.TIFF", "d.bin"])

    def test_overwrite_replaces_whole_file(self):
        p = self.path("o.tif")
        big = RNG.integers(0, 65536, (6, 64, 64), dtype=np.uint16)
        self.assertEqual(c.save(big, p), c.OK)
        small = np.ones((2, 3), np.uint8)
        self.assertEqual(c.save(small, p), c.OK)
        np.testing.assert_array_equal(tifffile.imread(p), small)
        self.assertEqual(os.listdir(self.tmp), ["o.tif"])
        # The finished file gets ordinary permissions, not mkstemp's 0600.
        mask = os.umask(0)
        os.umask(mask)
        self.assertEqual(os.stat(p).st_mode & 0o777, 0o666 & ~mask)

    def test_unwritable_destination(self):
        a = np.zeros((4, 4), np.uint8)
        self.assertEqual(c.save(a, self.path("missing/x.tif")), c.IO)
        self.assertEqual(c.save(a, self.path("missing/x.png")), c.IO)
        open(self.path("file"), "w").close()
        self.assertEqual(c.save(a, self.path("file/x.png")), c.IO)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["file"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
