"""Reading every supported layout, value for value against an independent
reference: Pillow's decoders for PNG/JPEG/BMP, tifffile and the numpy data a
TIFF was written from (by libtiff's own encoder through image_tiffgen)."""
import os
import shutil
import struct
import unittest
import zlib

import numpy as np
import tifffile
from PIL import Image

import test_image_common as c

RNG = np.random.default_rng(20260)


def png_bytes(arr, color, depth, interlace=False, extra_chunks=()):
    """A minimal independent PNG encoder (filter 0, optional Adam7) for the
    layouts Pillow cannot write: 16-bit colour, tRNS on grey, interlacing."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    h, w = arr.shape[:2]
    big = arr.astype(">u2" if depth == 16 else "u1")

    def rows(a):
        return b"".join(b"\0" + a[y].tobytes() for y in range(a.shape[0]))
    if not interlace:
        raw = rows(big)
    else:
        raw = b""
        for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
                               (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]:
            sub = big[y0::dy, x0::dx]
            if sub.size:
                raw += rows(sub)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 1 if interlace else 0)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    for t, d in extra_chunks:
        out += chunk(t, d)
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = c.scratch_dir()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def read_ok(self, path, dtype):
        got = c.load(path)
        self.assertEqual(got.status, c.OK, got.message)
        self.assertEqual(got.array.dtype, np.dtype(dtype))
        return got


class Png(Base):
    def test_grey_8_and_16(self):
        a8 = RNG.integers(0, 256, (37, 53), dtype=np.uint8)
        a16 = RNG.integers(0, 65536, (41, 29), dtype=np.uint16)
        Image.fromarray(a8).save(self.path("g8.png"))
        Image.fromarray(a16).save(self.path("g16.png"))
        for name, src, dt in [("g8.png", a8, np.uint8), ("g16.png", a16, np.uint16)]:
            ref = np.array(Image.open(self.path(name)))
            np.testing.assert_array_equal(ref, src)  # Pillow agrees with the source
            got = self.read_ok(self.path(name), dt)
            self.assertEqual(got.array.shape, (1,) + src.shape)
            np.testing.assert_array_equal(got.array[0], ref)
            self.assertEqual(got.spacing, (0.0, 0.0))

    def test_colour_types_by_luma(self):
        rgba = RNG.integers(0, 256, (31, 47, 4), dtype=np.uint8)
        cases = {
            "rgb.png": Image.fromarray(rgba[..., :3]),
            "rgba.png": Image.fromarray(rgba, "RGBA"),
            "pal.png": Image.fromarray(rgba[..., :3]).quantize(200),
        }
        for name, im in cases.items():
            with self.subTest(kind=name):
                im.save(self.path(name))
                ref = c.luma(np.array(Image.open(self.path(name)).convert("RGB")))
                got = self.read_ok(self.path(name), np.uint8)
                np.testing.assert_array_equal(got.array[0], ref)

    def test_palette_with_transparency_ignores_alpha(self):
        rgb = RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8)
        im = Image.fromarray(rgb).quantize(64)
        im.info["transparency"] = 3
        im.save(self.path("palt.png"), transparency=3)
        ref = c.luma(np.array(Image.open(self.path("palt.png")).convert("RGB")))
        np.testing.assert_array_equal(self.read_ok(self.path("palt.png"), np.uint8).array[0], ref)

    def test_grey_alpha_keeps_grey(self):
        la = RNG.integers(0, 256, (23, 19, 2), dtype=np.uint8)
        Image.fromarray(la, "LA").save(self.path("la.png"))
        ref = np.array(Image.open(self.path("la.png")))[..., 0]
        np.testing.assert_array_equal(ref, la[..., 0])
        np.testing.assert_array_equal(self.read_ok(self.path("la.png"), np.uint8).array[0], ref)

    def test_one_bit_scaled_to_255(self):
        bits = RNG.integers(0, 2, (17, 21), dtype=np.uint8).astype(bool)
        Image.fromarray(bits).save(self.path("b1.png"))
        ref = np.array(Image.open(self.path("b1.png")).convert("L"))
        np.testing.assert_array_equal(self.read_ok(self.path("b1.png"), np.uint8).array[0], ref)
        self.assertEqual(set(np.unique(ref)), {0, 255})

    def test_sixteen_bit_colour_and_grey_alpha(self):
        rgba = RNG.integers(0, 65536, (13, 22, 4), dtype=np.uint16)
        open(self.path("rgb16.png"), "wb").write(png_bytes(rgba[..., :3], 2, 16))
        open(self.path("rgba16.png"), "wb").write(png_bytes(rgba, 6, 16))
        open(self.path("la16.png"), "wb").write(png_bytes(rgba[..., :2], 4, 16))
        for name in ("rgb16.png", "rgba16.png"):
            got = self.read_ok(self.path(name), np.uint16)
            np.testing.assert_array_equal(got.array[0], c.luma(rgba))
        got = self.read_ok(self.path("la16.png"), np.uint16)
        np.testing.assert_array_equal(got.array[0], rgba[..., 0])

    def test_grey_with_trns_and_interlaced(self):
        g = RNG.integers(0, 256, (27, 35), dtype=np.uint8)
        trns = [(b"tRNS", struct.pack(">H", 7))]
        open(self.path("gt.png"), "wb").write(png_bytes(g, 0, 8, extra_chunks=trns))
        np.testing.assert_array_equal(self.read_ok(self.path("gt.png"), np.uint8).array[0], g)
        for depth, dt in [(8, np.uint8), (16, np.uint16)]:
            a = RNG.integers(0, 1 << depth, (29, 23), dtype=dt)
            p = self.path("i%d.png" % depth)
            open(p, "wb").write(png_bytes(a, 0, depth, interlace=True))
            np.testing.assert_array_equal(np.array(Image.open(p)), a)
            np.testing.assert_array_equal(self.read_ok(p, dt).array[0], a)
        rgb = RNG.integers(0, 65536, (18, 11, 3), dtype=np.uint16)
        open(self.path("irgb.png"), "wb").write(png_bytes(rgb, 2, 16, interlace=True))
        np.testing.assert_array_equal(self.read_ok(self.path("irgb.png"), np.uint16).array[0],
                                      c.luma(rgb))

    def test_phys_gives_spacing(self):
        g = RNG.integers(0, 256, (8, 8), dtype=np.uint8)
        phys = [(b"pHYs", struct.pack(">IIB", 2000, 4000, 1))]
        open(self.path("p.png"), "wb").write(png_bytes(g, 0, 8, extra_chunks=phys))
        got = self.read_ok(self.path("p.png"), np.uint8)
        self.assertAlmostEqual(got.spacing[0], 0.5)
        self.assertAlmostEqual(got.spacing[1], 0.25)
        unitless = [(b"pHYs", struct.pack(">IIB", 2000, 4000, 0))]
        open(self.path("q.png"), "wb").write(png_bytes(g, 0, 8, extra_chunks=unitless))
        self.assertEqual(self.read_ok(self.path("q.png"), np.uint8).spacing, (0.0, 0.0))


class Jpeg(Base):
    def smooth_rgb(self, h=96, w=128):
        yy, xx = np.mgrid[0:h, 0:w]
        return np.stack([(xx * 2) % 256, (yy * 2 + xx) % 256,
                         128 + 100 * np.sin(xx / 9) * np.cos(yy / 7)], -1).astype(np.uint8)

    def test_grey_within_one_of_libjpeg(self):
        for src in (self.smooth_rgb()[..., 1], RNG.integers(0, 256, (64, 72), dtype=np.uint8)):
            Image.fromarray(src).save(self.path("g.jpg"), quality=90)
            ref = np.array(Image.open(self.path("g.jpg"))).astype(int)
            got = self.read_ok(self.path("g.jpg"), np.uint8).array[0].astype(int)
            self.assertLessEqual(np.abs(got - ref).max(), 1)

    def test_colour_within_one_of_libjpeg_luma(self):
        # 4:4:4 and 4:2:0: stb_image and libjpeg-turbo differ by rounding only.
        for src in (self.smooth_rgb(), RNG.integers(0, 256, (64, 80, 3), dtype=np.uint8)):
            for sub in (0, 2):
                Image.fromarray(src).save(self.path("c.jpg"), quality=90, subsampling=sub)
                ref = c.luma(np.array(Image.open(self.path("c.jpg")).convert("RGB")))
                got = self.read_ok(self.path("c.jpg"), np.uint8).array[0].astype(int)
                self.assertLessEqual(np.abs(got - ref).max(), 1, "subsampling %d" % sub)

    def test_colour_422_edge_upsampling(self):
        # 4:2:2: the two decoders upsample the last chroma column differently;
        # everywhere else they agree within 1.
        Image.fromarray(self.smooth_rgb()).save(self.path("c.jpg"), quality=90, subsampling=1)
        ref = c.luma(np.array(Image.open(self.path("c.jpg")).convert("RGB")))
        got = self.read_ok(self.path("c.jpg"), np.uint8).array[0].astype(int)
        self.assertLessEqual(np.abs(got - ref)[:, :-2].max(), 1)

    def test_progressive(self):
        Image.fromarray(self.smooth_rgb()).save(self.path("p.jpg"), quality=85, progressive=True,
                                                subsampling=0)
        ref = c.luma(np.array(Image.open(self.path("p.jpg")).convert("RGB")))
        got = self.read_ok(self.path("p.jpg"), np.uint8).array[0].astype(int)
        self.assertLessEqual(np.abs(got - ref).max(), 1)


class Bmp(Base):
    def test_24_bit_32_bit_and_8_bit(self):
        rgba = RNG.integers(0, 256, (19, 33, 4), dtype=np.uint8)
        Image.fromarray(rgba[..., :3]).save(self.path("c24.bmp"))
        Image.fromarray(rgba, "RGBA").save(self.path("c32.bmp"))
        Image.fromarray(rgba[..., 0]).save(self.path("g8.bmp"))
        for name in ("c24.bmp", "c32.bmp"):
            with self.subTest(kind=name):
                ref = c.luma(np.array(Image.open(self.path(name)).convert("RGB")))
                np.testing.assert_array_equal(ref, c.luma(rgba))
                got = self.read_ok(self.path(name), np.uint8)
                np.testing.assert_array_equal(got.array[0], ref)
        np.testing.assert_array_equal(self.read_ok(self.path("g8.bmp"), np.uint8).array[0],
                                      rgba[..., 0])


class Tiff(Base):
    GREY = [(np.uint8, "uint", 8), (np.uint16, "uint", 16), (np.int16, "int", 16),
            (np.float32, "float", 32)]
    COMPRESSIONS = ["none", "lzw", "deflate", "zip", "packbits"]

    def data(self, dt, shape):
        if dt == np.float32:
            return (RNG.standard_normal(shape) * 1000).astype(np.float32)
        info = np.iinfo(dt)
        return RNG.integers(info.min, int(info.max) + 1, shape, dtype=dt)

    def test_grey_every_dtype_layout_and_compression(self):
        n = 0
        for dt, fmt, bits in self.GREY:
            src = self.data(dt, (2, 45, 38))  # 2 pages, odd sizes: edge strips/tiles
            for comp in self.COMPRESSIONS:
                for layout in ({"rps": 7}, {"tile": "16x32"}):
                    with self.subTest(dtype=np.dtype(dt).name, comp=comp, layout=layout):
                        p = self.path("t.tif")
                        c.tiffgen(p, src, w=38, h=45, pages=2, bits=bits, format=fmt,
                                  comp=comp, **layout)
                        if comp != "lzw":  # tifffile needs imagecodecs for LZW
                            np.testing.assert_array_equal(tifffile.imread(p), src)
                        got = self.read_ok(p, dt)
                        np.testing.assert_array_equal(got.array, src)
                        n += 1
        self.assertEqual(n, 40)

    def test_integer_predictor(self):
        for dt, fmt, bits in self.GREY[:3]:
            src = self.data(dt, (1, 30, 40))
            for comp in ("lzw", "deflate"):
                p = self.path("pr.tif")
                c.tiffgen(p, src, w=40, h=30, bits=bits, format=fmt, comp=comp, predictor=2,
                          rps=8)
                np.testing.assert_array_equal(self.read_ok(p, dt).array, src)

    def test_rgb_contig_and_separate(self):
        for dt, bits in ((np.uint8, 8), (np.uint16, 16)):
            for spp in (3, 4):
                src = self.data(dt, (1, 27, 34, spp))
                for planar in ("contig", "separate"):
                    for layout in ({"rps": 5}, {"tile": "16x16"}):
                        for comp in ("none", "deflate", "lzw"):
                            with self.subTest(bits=bits, spp=spp, planar=planar, layout=layout,
                                              comp=comp):
                                p = self.path("rgb.tif")
                                c.tiffgen(p, src, w=34, h=27, bits=bits, spp=spp, photo="rgb",
                                          planar=planar, extra=spp - 3, comp=comp, **layout)
                                if comp != "lzw":
                                    ref = tifffile.imread(p)
                                    if planar == "separate":  # tifffile: samples first
                                        ref = np.moveaxis(ref, 0, -1)
                                    np.testing.assert_array_equal(ref, src[0])
                                got = self.read_ok(p, dt)
                                np.testing.assert_array_equal(got.array[0], c.luma(src[0]))

    def test_grey_with_alpha_takes_grey(self):
        src = self.data(np.uint16, (1, 12, 14, 2))
        for planar in ("contig", "separate"):
            p = self.path("ga.tif")
            c.tiffgen(p, src, w=14, h=12, bits=16, spp=2, extra=1, planar=planar)
            np.testing.assert_array_equal(self.read_ok(p, np.uint16).array[0], src[0, ..., 0])

    def test_min_is_white_inverted(self):
        for dt, bits, top in ((np.uint8, 8, 255), (np.uint16, 16, 65535)):
            src = self.data(dt, (1, 21, 17))
            p = self.path("mw.tif")
            c.tiffgen(p, src, w=17, h=21, bits=bits, photo="miniswhite", comp="packbits")
            got = self.read_ok(p, dt)
            np.testing.assert_array_equal(got.array, (top - src.astype(np.int64)).astype(dt))

    def test_palette_by_luma_of_colormap(self):
        idx = self.data(np.uint8, (1, 25, 31))
        for cmap in (RNG.integers(0, 256, (3, 256)) * 257,       # 8-bit colours as v*257
                     RNG.integers(0, 65536, (3, 256))):           # arbitrary 16-bit entries
            p = self.path("pal.tif")
            c.tiffgen(p, idx, w=31, h=25, photo="palette", colormap=cmap, comp="lzw")
            # Pillow's own palette expansion agrees on the indices.
            np.testing.assert_array_equal(np.array(Image.open(p)), idx[0])
            rgb8 = (cmap.T.astype(np.int64) + 128) // 257  # documented: round(v / 257)
            expect = c.luma(rgb8)[idx[0]]
            np.testing.assert_array_equal(self.read_ok(p, np.uint8).array[0], expect)

    def test_multipage_and_skipped_thumbnail(self):
        src = self.data(np.uint16, (5, 16, 20))
        p = self.path("mp.tif")
        c.tiffgen(p, src, w=20, h=16, pages=5, bits=16, comp="deflate")
        self.assertEqual(len(tifffile.TiffFile(p).pages), 5)
        np.testing.assert_array_equal(self.read_ok(p, np.uint16).array, src)
        # Page 2 marked reduced-resolution (a thumbnail) is not a slice.
        c.tiffgen(p, src, w=20, h=16, pages=5, bits=16, subfile="2:1")
        got = self.read_ok(p, np.uint16)
        np.testing.assert_array_equal(got.array, src[[0, 1, 3, 4]])

    def test_resolution_units(self):
        src = self.data(np.uint8, (1, 4, 4))
        p = self.path("res.tif")
        for res, expect in (("20,40,3", (0.5, 0.25)), ("254,127,2", (0.1, 0.2)),
                            ("300,300,1", (0.0, 0.0))):
            c.tiffgen(p, src, w=4, h=4, res=res)
            got = self.read_ok(p, np.uint8)
            self.assertAlmostEqual(got.spacing[0], expect[0], places=6)
            self.assertAlmostEqual(got.spacing[1], expect[1], places=6)
        c.tiffgen(p, src, w=4, h=4)
        self.assertEqual(self.read_ok(p, np.uint8).spacing, (0.0, 0.0))

    def test_jpeg_ycbcr_converted_by_libtiff(self):
        yy, xx = np.mgrid[0:48, 0:64]
        src = np.stack([(xx * 4) % 256, (yy * 5) % 256, 128 + 0 * xx], -1).astype(np.uint8)[None]
        p = self.path("jy.tif")
        c.tiffgen(p, src, w=64, h=48, spp=3, photo="ycbcr", comp="jpeg", rps=16)
        ref = c.luma(np.array(Image.open(p).convert("RGB")))
        got = self.read_ok(p, np.uint8).array[0].astype(int)
        self.assertLessEqual(np.abs(got - ref).max(), 1)
        self.assertLess(np.abs(got - c.luma(src[0])).mean(), 3)  # lossy, but close

    def test_bigtiff_and_big_endian(self):
        for dt in (np.uint8, np.uint16, np.int16, np.float32):
            src = self.data(dt, (3, 10, 12))
            for kw in ({"bigtiff": True}, {"byteorder": ">"}, {"byteorder": ">", "compression": "zlib"}):
                with self.subTest(dtype=np.dtype(dt).name, kw=kw):
                    p = self.path("bt.tif")
                    tifffile.imwrite(p, src, photometric="minisblack", **kw)
                    np.testing.assert_array_equal(self.read_ok(p, dt).array, src)


if __name__ == "__main__":
    unittest.main(verbosity=2)
