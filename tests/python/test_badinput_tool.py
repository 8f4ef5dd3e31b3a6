"""`i2ig translate` with bad inputs and failures half-way: the output file
appears only complete or not at all.

A small random generator from `i2ig create-model` (not a trained model: only
the file handling is under test) translates a real bundled slice stack while
the tool is made to fail: the output file may not grow past 4 KiB
(RLIMIT_FSIZE, the disk-full error EFBIG), the process is killed with
SIGKILL in the middle of a stack, the target domain is unknown, the input is
not an image. Each run must end with a non-zero exit and a message, no file
under the output name, and (except after SIGKILL, which no process survives
to clean up) no temporary file either. Also checks the successful run's
output with tifffile (same shape and dtype as the input).
"""
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np
import tifffile

TOOL = os.environ.get("I2IG_TOOL")
DATA = os.environ.get("I2IG_DATA_DIR", "examples/data")
TMP = tempfile.mkdtemp(prefix="i2ig-badtool-")


def tool(*args, limit_fsize=None, timeout=300):
    def pre():
        if limit_fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_fsize, limit_fsize))
    return subprocess.run([TOOL] + [str(a) for a in args], capture_output=True, text=True,
                          preexec_fn=pre, timeout=timeout, env=dict(os.environ, OMP_NUM_THREADS="1"))


def model_path():
    p = os.path.join(TMP, "model.i2ig")
    if not os.path.exists(p):
        r = tool("create-model", "--out", p, "--model-channels", "32", "--channel-mult", "1,1,1,2",
                 "--res-blocks", "1", "--attention", "8", "--head-channels", "32",
                 "--context-dim", "8", "--context-length", "4", "--embed-dim", "4",
                 "--classes", "2", "--domain", "CT:0:window:-1024:3071",
                 "--domain", "PD:1:percentile:1:99:0:1100")
        assert r.returncode == 0, r.stderr
    return p


def stack(n):
    """The central 64 x 64 pixels of the first n slices of the bundled CT head
    (int16, Hounsfield units): real data, small enough for sanitizer builds."""
    p = os.path.join(TMP, "ct%d.tif" % n)
    if not os.path.exists(p):
        a = tifffile.imread(os.path.join(DATA, "ct-head-invesalius.tif"), key=range(n))
        a = a.reshape(n, *a.shape[-2:])[:, 96:160, 96:160]
        tifffile.imwrite(p, np.ascontiguousarray(a), photometric="minisblack")
    return p


class TranslateFailures(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=TMP)

    def out(self, name="out.tif"):
        return os.path.join(self.dir, name)

    def assert_nothing_left(self, allow_temp=False):
        left = os.listdir(self.dir)
        if allow_temp:
            left = [f for f in left if not f.startswith("out.")]
        else:
            self.assertEqual(left, [])
        self.assertFalse(os.path.exists(self.out()))

    def test_success_is_complete(self):
        r = tool("translate", "--model", model_path(), "--from", "CT", "--to", "PD", "--quiet",
                 stack(3), self.out())
        self.assertEqual(r.returncode, 0, r.stderr)
        a = tifffile.imread(self.out())
        src = tifffile.imread(stack(3))
        self.assertEqual((a.shape, a.dtype), (src.shape, src.dtype))
        self.assertEqual(os.listdir(self.dir), ["out.tif"])

    def test_disk_full_leaves_no_output(self):
        r = tool("translate", "--model", model_path(), "--from", "CT", "--to", "PD", "--quiet",
                 stack(8), self.out(), limit_fsize=4096)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("file too large", r.stderr.lower())  # EFBIG, named by the library
        self.assertEqual(os.listdir(self.dir), [])

    def test_disk_full_keeps_previous_output(self):
        with open(self.out(), "wb") as f:
            f.write(b"previous")
        r = tool("translate", "--model", model_path(), "--from", "CT", "--to", "PD", "--quiet",
                 stack(8), self.out(), limit_fsize=4096)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(open(self.out(), "rb").read(), b"previous")
        self.assertEqual(os.listdir(self.dir), ["out.tif"])

    def test_killed_half_way_leaves_no_output(self):
        p = subprocess.Popen([TOOL, "translate", "--model", model_path(), "--from", "CT", "--to",
                              "PD", stack(100), self.out()],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=dict(os.environ, OMP_NUM_THREADS="1"))
        time.sleep(1.0)
        still_running = p.poll() is None
        p.kill()
        p.wait()
        self.assertTrue(still_running, "the stack finished in under a second: kill came too late")
        self.assertFalse(os.path.exists(self.out()))
        self.assert_nothing_left(allow_temp=True)

    def test_unknown_domain(self):
        r = tool("translate", "--model", model_path(), "--from", "CT", "--to", "PET", "--quiet",
                 stack(1), self.out())
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("PET", r.stderr)
        self.assertIn("PD", r.stderr)  # the known names are listed
        self.assert_nothing_left()

    def test_input_not_an_image(self):
        bad = os.path.join(TMP, "notes.txt")
        with open(bad, "w") as f:
            f.write("not an image\n")
        r = tool("translate", "--model", model_path(), "--from", "CT", "--to", "PD", "--quiet",
                 bad, self.out())
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("notes.txt", r.stderr)
        self.assert_nothing_left()

    def test_model_not_a_model(self):
        r = tool("translate", "--model", stack(1), "--to", "PD", "--quiet", stack(1), self.out())
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("weight file", r.stderr)
        self.assert_nothing_left()


if __name__ == "__main__":
    if not TOOL:
        sys.exit("I2IG_TOOL must name the built i2ig tool (run through meson test)")
    try:
        prog = unittest.main(exit=False, verbosity=2)
        ok = prog.result.wasSuccessful()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(0 if ok else 1)
