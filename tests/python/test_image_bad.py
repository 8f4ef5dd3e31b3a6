"""Hostile and broken input: each case is a real file on disk, checked for
the exact status. Also: the library prints nothing, leaks no descriptor and
refuses forged sizes before allocating anything large."""
import os
import shutil
import struct
import subprocess
import sys
import textwrap
import time
import unittest
import zlib

import numpy as np
import tifffile
from PIL import Image

import test_image_common as c

SHORT, LONG = 3, 4


def tiff_bytes(pages, blob, big_endian=False):
    """A hand-made classic TIFF: pages is a list of {tag: (type, [values])};
    the value "BLOB" stands for the offset of blob, which follows the header."""
    e = ">" if big_endian else "<"
    out = bytearray((b"MM\0*" if big_endian else b"II*\0") + struct.pack(e + "I", 0))
    blob_off = len(out)
    out += blob + (b"\0" if len(blob) % 2 else b"")
    link, ifds = 4, []
    for tags in pages:
        ifds.append(len(out))
        struct.pack_into(e + "I", out, link, len(out))
        ents = sorted(tags.items())
        out += struct.pack(e + "H", len(ents))
        for tag, (typ, vals) in ents:
            v = blob_off if vals[0] == "BLOB" else vals[0]
            out += struct.pack(e + "HHI", tag, typ, 1)
            out += struct.pack(e + "HH", v, 0) if typ == SHORT else struct.pack(e + "I", v)
        link = len(out)
        out += struct.pack(e + "I", 0)
    return bytes(out), ifds


def grey_page(w, h, nbytes, bits=8, comp=1, fmt=1, spp=1, photo=1):
    return {256: (LONG, [w]), 257: (LONG, [h]), 258: (SHORT, [bits]), 259: (SHORT, [comp]),
            262: (SHORT, [photo]), 273: (LONG, ["BLOB"]), 277: (SHORT, [spp]),
            278: (LONG, [h]), 279: (LONG, [nbytes]), 339: (SHORT, [fmt])}


def png_chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))


def forged_png(w, h, depth=8, color=0, idat=None):
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64) if idat is None else idat
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) +
            png_chunk(b"IEND", b""))


# Runs a load in a fresh interpreter and reports status, wall time and the
# growth of the peak resident size: "allocates nothing large" made measurable.
_PROBE = textwrap.dedent("""
    import ctypes, os, resource, sys, time
    sys.path.insert(0, %r)
    import test_image_common as c
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    r = c.load(sys.argv[1])
    dt = time.perf_counter() - t
    grow = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(r.status, dt, grow)
""") % os.path.dirname(os.path.abspath(__file__))


class Bad(unittest.TestCase):
    def setUp(self):
        self.tmp = c.scratch_dir()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def put(self, name, data):
        p = os.path.join(self.tmp, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def status(self, path, expect, limit=None, contains=None):
        got = c.load(path, limit)
        self.assertEqual(got.status, expect, "%s: %s" % (os.path.basename(path), got.message))
        self.assertTrue(got.message, "a failure must leave a message")
        if contains:
            self.assertIn(contains, got.message)
        return got.message

    def probe(self, path):
        out = subprocess.run([sys.executable, "-c", _PROBE, path], check=True,
                             capture_output=True, text=True, env=os.environ)
        self.assertEqual(out.stderr, "")
        st, dt, grow_kib = out.stdout.split()
        return int(st), float(dt), int(grow_kib)

    # --- files that are not images at all ---------------------------------
    def test_not_images(self):
        self.status(self.put("empty.png", b""), c.IMAGE_FORMAT, contains="empty")
        rnd = np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes()
        self.status(self.put("random.tif", b"\x01\x02" + rnd), c.IMAGE_FORMAT)
        self.status(os.path.join(self.tmp, "does-not-exist.png"), c.IO)
        os.mkdir(os.path.join(self.tmp, "folder.tif"))
        self.status(os.path.join(self.tmp, "folder.tif"), c.IO, contains="directory")
        Image.new("L", (4, 4)).save(os.path.join(self.tmp, "x.gif"))
        self.status(os.path.join(self.tmp, "x.gif"), c.UNSUPPORTED, contains="GIF")
        self.status(self.put("x.dcm", b"\0" * 128 + b"DICM" + b"\0" * 64), c.UNSUPPORTED,
                    contains="DICOM")

    # --- truncation ---------------------------------------------------------
    def cuts(self, data, name, expect=c.IMAGE_FORMAT, points=None):
        points = points or sorted({1, 4, 9, 20, 40, len(data) // 4, len(data) // 2,
                                   3 * len(data) // 4, len(data) - 13, len(data) - 5,
                                   len(data) - 1})
        for cut in points:
            with self.subTest(file=name, cut=cut):
                self.status(self.put(name, data[:cut]), expect)

    def test_truncated_png(self):
        a = np.random.default_rng(1).integers(0, 65536, (40, 50), dtype=np.uint16)
        p = os.path.join(self.tmp, "full.png")
        Image.fromarray(a).save(p)
        self.cuts(open(p, "rb").read(), "cut.png")

    def test_truncated_jpeg(self):
        a = np.random.default_rng(2).integers(0, 256, (40, 50, 3), dtype=np.uint8)
        for prog in (False, True):
            p = os.path.join(self.tmp, "full.jpg")
            Image.fromarray(a).save(p, quality=90, progressive=prog)
            self.cuts(open(p, "rb").read(), "cut.jpg")

    def test_truncated_bmp(self):
        a = np.random.default_rng(4).integers(0, 256, (40, 50, 3), dtype=np.uint8)
        p = os.path.join(self.tmp, "full.bmp")
        Image.fromarray(a).save(p)
        data = open(p, "rb").read()
        # Rows are padded to 4 bytes: 50 RGB pixels = 150 bytes + 2 padding.
        # A file missing only the last row's padding still holds every pixel
        # (stb_image does not need it), so the cuts stop inside the pixels.
        self.cuts(data, "cut.bmp", points=[1, 4, 20, 40, 54, 55, 1000, len(data) // 2,
                                           len(data) - 3, len(data) - 152])
        self.assertEqual(c.load(self.put("pad.bmp", data[:-2])).status, c.OK)

    def test_truncated_tiff_every_byte(self):
        # Our own multi-page file and tifffile's: every cut point is refused,
        # none silently yields a shorter stack.
        a = np.arange(3 * 20 * 30, dtype=np.int16).reshape(3, 20, 30)
        ours = os.path.join(self.tmp, "ours.tif")
        self.assertEqual(c.save(a, ours, spacing=(0.5, 0.5)), c.OK)
        theirs = os.path.join(self.tmp, "theirs.tif")
        tifffile.imwrite(theirs, a, photometric="minisblack", compression="zlib")
        for src in (ours, theirs):
            data = open(src, "rb").read()
            accepted = []
            for cut in range(1, len(data)):
                r = c.load(self.put("cut.tif", data[:cut]))
                if r.status == c.OK:
                    accepted.append(cut)
                else:
                    self.assertEqual(r.status, c.IMAGE_FORMAT, "cut %d: %s" % (cut, r.message))
            self.assertEqual(accepted, [], os.path.basename(src))

    # --- corrupt data -------------------------------------------------------
    def test_corrupt_png_zlib_and_crc(self):
        good = zlib.compress(np.arange(400, dtype=np.uint8).tobytes() + b"\0" * 20)
        broken = bytearray(good)
        broken[2] ^= 0xFF  # first deflate block header
        msg = self.status(self.put("z.png", forged_png(20, 20, idat=bytes(broken))), c.IMAGE_FORMAT)
        self.assertIn("zlib", msg)
        data = bytearray(forged_png(20, 20))
        data[45] ^= 0x55  # inside IDAT, CRC left as is
        self.status(self.put("crc.png", bytes(data)), c.IMAGE_FORMAT, contains="CRC")
        # A zlib stream inflating far beyond what 20x20 needs (a zlib bomb).
        bomb = zlib.compress(b"\0" * (50 << 20), 9)
        self.status(self.put("zb.png", forged_png(20, 20, idat=bomb)), c.IMAGE_FORMAT,
                    contains="inflates beyond")

    def test_corrupt_jpeg_reports_stb_reason(self):
        a = np.random.default_rng(5).integers(0, 256, (32, 32), dtype=np.uint8)
        p = os.path.join(self.tmp, "ok.jpg")
        Image.fromarray(a).save(p)
        data = bytearray(open(p, "rb").read())
        sof = data.find(b"\xff\xc0")
        data[sof + 9] = 7  # component count 7 in SOF0
        self.status(self.put("bad.jpg", bytes(data)), c.IMAGE_FORMAT, contains="stb_image:")

    def test_corrupt_tiff_strip(self):
        payload = zlib.compress(np.arange(64 * 64, dtype=np.uint16).astype("<u2").tobytes())
        bad = payload[:10] + bytes(b ^ 0xA5 for b in payload[10:40]) + payload[40:]
        data, _ = tiff_bytes([grey_page(64, 64, len(bad), bits=16, comp=8)], bad)
        self.status(self.put("zs.tif", data), c.IMAGE_FORMAT)
        good, _ = tiff_bytes([grey_page(64, 64, len(payload), bits=16, comp=8)], payload)
        r = c.load(self.put("ok.tif", good))
        self.assertEqual(r.status, c.OK, r.message)  # the control really decodes
        np.testing.assert_array_equal(r.array[0].ravel(), np.arange(64 * 64, dtype=np.uint16))

    # --- declared sizes -----------------------------------------------------
    def test_zero_dimensions(self):
        self.status(self.put("w0.png", forged_png(0, 10)), c.DIMENSIONS)
        self.status(self.put("h0.png", forged_png(10, 0)), c.DIMENSIONS)
        for w, h in ((0, 8), (8, 0)):
            data, _ = tiff_bytes([grey_page(w, h, 64)], b"\0" * 64)
            self.status(self.put("z.tif", data), c.DIMENSIONS)
        # ...also on a later page of a stack.
        data, _ = tiff_bytes([grey_page(8, 8, 64), grey_page(8, 0, 64)], b"\0" * 64)
        self.status(self.put("z2.tif", data), c.DIMENSIONS, contains="page 1")
        bmp = bytearray(open(self.bmp_path(), "rb").read())
        struct.pack_into("<i", bmp, 18, 0)
        self.status(self.put("w0.bmp", bytes(bmp)), c.DIMENSIONS)

    def bmp_path(self):
        p = os.path.join(self.tmp, "base.bmp")
        Image.new("RGB", (6, 5), (10, 20, 30)).save(p)
        return p

    def test_forged_png_ihdr_refused_fast_and_small(self):
        p = self.put("huge.png", forged_png(100000, 100000))
        self.status(p, c.TOO_LARGE)
        st, dt, grow_kib = self.probe(p)
        self.assertEqual(st, c.TOO_LARGE)
        self.assertLess(dt, 0.05)
        self.assertLess(grow_kib, 4096)  # far from the 10 GB the header claims

    def test_tiff_bomb_pages_refused_fast_and_small(self):
        blob = zlib.compress(b"\0" * (1 << 20), 9)
        # 1000 pages of 50000 x 50000 pixels in a ~115 kB file.
        data, _ = tiff_bytes([grey_page(50000, 50000, len(blob), comp=8)] * 1000, blob)
        self.assertLess(len(data), 200000)
        p = self.put("bomb.tif", data)
        self.status(p, c.TOO_LARGE)
        st, dt, grow_kib = self.probe(p)
        self.assertEqual((st, dt < 0.5, grow_kib < 8192), (c.TOO_LARGE, True, True),
                         (dt, grow_kib))
        # Pages small enough one by one (2000 x 2000, 1 row per strip would be
        # tidier, one strip is enough): refused once the stack passes the limit.
        data, _ = tiff_bytes([grey_page(2000, 2000, len(blob), comp=8)] * 1000, blob)
        p = self.put("bomb2.tif", data)
        msg = self.status(p, c.TOO_LARGE)
        self.assertIn("exceed the decoded-size limit", msg)
        st, dt, grow_kib = self.probe(p)
        self.assertEqual((st, dt < 0.5, grow_kib < 8192), (c.TOO_LARGE, True, True),
                         (dt, grow_kib))

    def test_explicit_limit_is_exact(self):
        a = np.zeros((2, 30, 40), np.uint16)
        p = os.path.join(self.tmp, "l.tif")
        self.assertEqual(c.save(a, p), c.OK)
        self.assertEqual(c.load(p, limit=a.nbytes).status, c.OK)
        self.status(p, c.TOO_LARGE, limit=a.nbytes - 1)
        q = os.path.join(self.tmp, "l.png")
        self.assertEqual(c.save(a[0], q), c.OK)
        self.assertEqual(c.load(q, limit=a[0].nbytes).status, c.OK)
        self.status(q, c.TOO_LARGE, limit=a[0].nbytes - 1)
        rgb = os.path.join(self.tmp, "rgb.png")
        Image.new("RGB", (10, 10)).save(rgb)
        # The limit bounds the decoder's buffer: three channels of 100 pixels.
        self.assertEqual(c.load(rgb, limit=300).status, c.OK)
        self.status(rgb, c.TOO_LARGE, limit=299)
        self.status(p, c.INVALID_ARGUMENT, limit=0)

    def test_page_cap_and_loops(self):
        blob = b"\0" * 4
        data, ifds = tiff_bytes([grey_page(2, 2, 4)] * 2, blob)
        looped = bytearray(data)
        struct.pack_into("<I", looped, ifds[1] + 2 + 10 * 12, ifds[0])
        self.status(self.put("loop.tif", bytes(looped)), c.IMAGE_FORMAT, contains="loops")
        self_loop = bytearray(data)
        struct.pack_into("<I", self_loop, ifds[1] + 2 + 10 * 12, ifds[1])
        self.status(self.put("self.tif", bytes(self_loop)), c.IMAGE_FORMAT, contains="loops")
        data, _ = tiff_bytes([grey_page(1, 1, 1)] * 65537, b"\0")
        self.status(self.put("many.tif", data), c.TOO_LARGE, contains="65536")

    # --- valid TIFF of kinds we do not read ---------------------------------
    def test_unsupported_tiff_kinds(self):
        d = os.path.join(self.tmp, "u.tif")
        cases = [
            (dict(bits=1), np.zeros((1, 8, 8), np.uint8)[..., :1], "1-bit"),
            (dict(bits=4), np.zeros((1, 8, 4), np.uint8), "4-bit"),
            (dict(bits=12), np.zeros((1, 8, 12), np.uint8), "12-bit"),
            (dict(bits=8, format="int"), np.zeros((1, 8, 8), np.int8), "signed"),
            (dict(bits=32, format="int"), np.zeros((1, 8, 8), np.int32), "32-bit"),
            (dict(bits=32, format="uint"), np.zeros((1, 8, 8), np.uint32), "32-bit"),
            (dict(bits=64, format="float"), np.zeros((1, 8, 8), np.float64), "64-bit"),
            (dict(bits=16, format="float"), np.zeros((1, 8, 8), np.float16), "16-bit"),
            (dict(bits=32, format="complexint"), np.zeros((1, 8, 8), np.int32), "complex"),
            (dict(bits=64, format="complexfloat"), np.zeros((1, 8, 8), np.complex64), "complex"),
            (dict(bits=8, spp=4, photo="separated"), np.zeros((1, 8, 8, 4), np.uint8), "CMYK"),
            (dict(bits=8, spp=5, extra=2, photo="rgb"), np.zeros((1, 8, 8, 5), np.uint8), "5 samples"),
            (dict(bits=16, format="int", photo="miniswhite"), np.zeros((1, 8, 8), np.int16), "min-is-white"),
            (dict(bits=16, spp=3, photo="rgb", format="int"), np.zeros((1, 8, 8, 3), np.int16), "RGB"),
            (dict(bits=32, spp=3, photo="rgb", format="float"), np.zeros((1, 8, 8, 3), np.float32), "RGB"),
        ]
        for keys, arr, word in cases:
            with self.subTest(keys=keys):
                c.tiffgen(d, arr, w=8, h=8, **keys)
                self.status(d, c.UNSUPPORTED, contains=word)
        # Complex and 32-bit integer written by another writer, too.
        tifffile.imwrite(d, np.zeros((8, 8), np.complex64))
        self.status(d, c.UNSUPPORTED, contains="complex")
        tifffile.imwrite(d, np.zeros((8, 8), np.int32))
        self.status(d, c.UNSUPPORTED, contains="32-bit")

    def test_pages_that_differ(self):
        d = os.path.join(self.tmp, "mix.tif")
        with tifffile.TiffWriter(d) as tw:
            tw.write(np.zeros((8, 8), np.uint16))
            tw.write(np.zeros((8, 8), np.uint16))
            tw.write(np.zeros((8, 9), np.uint16))
        self.status(d, c.UNSUPPORTED, contains="page 2")
        with tifffile.TiffWriter(d) as tw:
            tw.write(np.zeros((8, 8), np.uint16))
            tw.write(np.zeros((8, 8), np.int16))
        self.status(d, c.UNSUPPORTED, contains="page 1")

    # --- the library's manners ----------------------------------------------
    def test_silent_and_no_descriptor_leak(self):
        # Every bad file again in a child process: nothing on stderr/stdout
        # (libtiff's default handlers would print), no descriptor left open.
        blob = zlib.compress(b"\0" * 1000)
        paths = [
            self.put("a.tif", tiff_bytes([grey_page(64, 64, len(blob), comp=8)], blob)[0]),
            self.put("b.tif", b"II*\0\x08\0\0\0\xff\xff"),
            self.put("c.tif", tiff_bytes([grey_page(8, 8, 64, bits=1)], b"\0" * 64)[0]),
            self.put("d.png", forged_png(20, 20, idat=b"garbage")),
            self.put("e.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 50),
            self.put("f.tif", tiff_bytes([{**grey_page(8, 8, 64), 273: (LONG, [99999])}],
                                         b"\0" * 64)[0]),
        ]
        script = textwrap.dedent("""
            import os, sys
            sys.path.insert(0, %r)
            import test_image_common as c
            before = len(os.listdir('/proc/self/fd'))
            codes = []
            for _ in range(20):
                codes = [c.load(p).status for p in sys.argv[1:]]
            after = len(os.listdir('/proc/self/fd'))
            print(before == after, all(s != 0 for s in codes), codes)
        """) % os.path.dirname(os.path.abspath(__file__))
        out = subprocess.run([sys.executable, "-c", script] + paths, capture_output=True,
                             text=True, check=True)
        self.assertEqual(out.stderr, "")
        self.assertTrue(out.stdout.startswith("True True"), out.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
