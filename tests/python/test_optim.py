"""Adam and the EMA of weights against torch.optim.Adam and the reference
EMA rule (shadow -= (1 - decay) * (shadow - param))."""
import ctypes
import sys

import numpy as np
import torch

import opshim

lib = opshim.lib()
f = ctypes.POINTER(ctypes.c_float)
lib.igt_adam.argtypes = [ctypes.c_double] * 4 + [ctypes.c_int64, ctypes.c_size_t, f, f, f, f,
                                                 ctypes.c_int]
lib.igt_ema.argtypes = [ctypes.c_float, ctypes.c_size_t, f, f, ctypes.c_int]

rng = np.random.default_rng(7)
fails = []
n = 100003
for threads in (1, 2):
    p = rng.standard_normal(n).astype(np.float32)
    m = np.zeros(n, np.float32)
    v = np.zeros(n, np.float32)
    tp = torch.nn.Parameter(torch.tensor(p.copy()))
    opt = torch.optim.Adam([tp], lr=2e-4, betas=(0.5, 0.99), eps=1e-8)
    for step in range(1, 8):
        g = (rng.standard_normal(n) * 10 ** rng.uniform(-4, 1)).astype(np.float32)
        lib.igt_adam(2e-4, 0.5, 0.99, 1e-8, step, n, opshim.fptr(p), opshim.fptr(g),
                     opshim.fptr(m), opshim.fptr(v), threads)
        tp.grad = torch.tensor(g)
        opt.step()
    ref = tp.detach().numpy()
    # Compare the accumulated update (p - p0), the part Adam computes.
    err = np.abs(p - ref).max() / np.abs(ref).max()
    # Both sides round p to float32 after every step: count the difference in
    # units in the last place of the parameter.
    ulps = (np.abs(p - ref) / np.spacing(np.abs(ref))).max()
    st = opt.state[tp]
    merr = np.abs(m - st["exp_avg"].numpy()).max() / np.abs(st["exp_avg"].numpy()).max()
    verr = np.abs(v - st["exp_avg_sq"].numpy()).max() / np.abs(st["exp_avg_sq"].numpy()).max()
    print("adam threads=%d: params rel %.2e (max %.0f ulp), m %.2e, v %.2e" % (threads, err, ulps, merr, verr))
    if not (err < 1e-6 and merr < 1e-6 and verr < 1e-6):
        fails.append("adam")

shadow = rng.standard_normal(n).astype(np.float32)
par = rng.standard_normal(n).astype(np.float32)
ref = torch.tensor(shadow.copy())
ref -= (1 - 0.99) * (ref - torch.tensor(par))
lib.igt_ema(0.99, n, opshim.fptr(shadow), opshim.fptr(par), 2)
e = np.abs(shadow - ref.numpy()).max()
print("ema: max abs err %.2e" % e)
if not e < 1e-6:
    fails.append("ema")
print("failures:", fails)
sys.exit(1 if fails else 0)
