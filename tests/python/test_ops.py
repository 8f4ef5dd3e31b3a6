"""Every differentiable operation of lib/nn against PyTorch (float64 reference),
forward and backward, plus a finite-difference check of each backward on
small shapes, plus "a second identical run creates no oneDNN primitive".

Error measure: max |ours - reference| / max |reference| over the tensor
(per output and per input gradient); the bound is 1e-4.
"""
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

import opshim

TOL = 1e-4
rng = np.random.default_rng(1234)
failures = []
checked = 0


def rnd(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def relerr(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    den = max(np.abs(b).max(), 1e-30)
    return float(np.abs(a - b).max() / den)


def nhwc_to_nchw(t):
    return t.permute(0, 3, 1, 2)


def nchw_to_nhwc(t):
    return t.permute(0, 2, 3, 1)


def check(name, op, inputs, ref, requires_grad=None, fp=(), ip=(), fd=True, state=(),
          tol=TOL, threads=2):
    """Runs op (forward + backward with a random output gradient) and
    compares with ref(*torch_inputs) computed in float64."""
    global checked
    if requires_grad is None:
        requires_grad = [True] * len(inputs)
    tin = [torch.tensor(x.astype(np.float64), requires_grad=bool(r))
           for x, r in zip(inputs, requires_grad)]
    tstate = [torch.tensor(s.astype(np.float64)) for s in state]
    tout = ref(*tin, *tstate) if state else ref(*tin)
    gout = rnd(*tout.shape)
    if any(requires_grad):
        tout.backward(torch.tensor(gout.astype(np.float64)))
    r = opshim.run(op, inputs, requires_grad, fp=fp, ip=ip, grad_out=gout,
                   state=[s.copy() for s in state], threads=threads)
    errs = {"out": relerr(r.out, tout.detach().numpy())}
    for i, (t, g) in enumerate(zip(tin, r.grads)):
        if g is not None:
            errs["d%d" % i] = relerr(g, t.grad.numpy())
    for k, s in enumerate(state):
        errs["state%d" % k] = relerr(r.state[k], tstate[k].numpy())
    if r.prims_second != 0:
        errs["primitives created on second run"] = float(r.prims_second)
    bad = {k: v for k, v in errs.items() if not v <= tol}
    worst = max(v for k, v in errs.items() if not k.startswith("prim"))
    if fd:
        fderr = fd_check(op, inputs, requires_grad, fp, ip, state, gout, r)
        errs["fd"] = fderr
        if not fderr <= 1e-2:
            bad["fd"] = fderr
    checked += 1
    status = "ok" if not bad else "FAIL"
    print("%-4s %-34s worst rel err %.2e%s" % (status, name, worst,
          "" if not fd else "  fd %.1e" % errs["fd"]))
    if bad:
        failures.append((name, bad))


def fd_check(op, inputs, requires_grad, fp, ip, state, gout, r):
    """Directional derivative of sum(out * gout) along a random direction,
    by central differences of our own forward, against the analytic
    gradient. Returns the worst relative error over the inputs."""
    worst = 0.0
    for i, x in enumerate(inputs):
        if not requires_grad[i] or r.grads[i] is None:
            continue
        d = rnd(*x.shape)
        h = 3e-3 * max(1.0, float(np.abs(x).max()))
        vals = []
        for s in (+1, -1):
            xs = [y.copy() for y in inputs]
            xs[i] = (x.astype(np.float64) + s * h * d).astype(np.float32)
            o = opshim.run(op, xs, [False] * len(xs), fp=fp, ip=ip,
                           state=[st.copy() for st in state]).out
            vals.append(float((o.astype(np.float64) * gout).sum()))
        fdv = (vals[0] - vals[1]) / (2 * h)
        an = float((r.grads[i].astype(np.float64) * d).sum())
        # Central differences carry an O(h^2) error from the third
        # derivative; when the random direction happens to be nearly
        # orthogonal to the gradient, that error dwarfs the tiny derivative.
        # Hence the floor: a thousandth of the largest value the derivative
        # along d could take (|grad| |d|).
        bound = float(np.linalg.norm(r.grads[i].astype(np.float64)) * np.linalg.norm(d))
        worst = max(worst, abs(fdv - an) / max(abs(an), abs(fdv), 1e-3 * bound, 1e-3))
    return worst


# ---- layers -------------------------------------------------------------------

def conv_ref(stride, pad):
    def f(x, w, b=None):
        return nchw_to_nhwc(F.conv2d(nhwc_to_nchw(x), w, b, stride=stride, padding=pad))
    return f


check("conv2d 3x3 pad1 bias N2 odd", "conv2d", [rnd(2, 9, 11, 5), rnd(7, 5, 3, 3), rnd(7)],
      conv_ref(1, 1), ip=(1, 1))
check("conv2d 1x1 no bias", "conv2d", [rnd(3, 6, 5, 8), rnd(4, 8, 1, 1)], conv_ref(1, 0),
      ip=(1, 0))
check("conv2d 16x16 stride16 (patch embed)", "conv2d",
      [rnd(2, 32, 48, 3), rnd(8, 3, 16, 16, scale=0.1), rnd(8)], conv_ref(16, 0), ip=(16, 0))
check("conv2d 3x3 32->32 at 16x16", "conv2d", [rnd(1, 16, 16, 32), rnd(32, 32, 3, 3, scale=0.1),
      rnd(32)], conv_ref(1, 1), ip=(1, 1), fd=False)
check("conv2d input grad only", "conv2d", [rnd(2, 5, 7, 3), rnd(4, 3, 3, 3), rnd(4)],
      conv_ref(1, 1), requires_grad=[True, False, False], ip=(1, 1))


def conv_residual_ref(x, w, b, r):
    return conv_ref(1, 1)(x, w, b) + r


# The forward-only path adds the convolution into the residual's buffer
# (oneDNN's sum post-op); with gradients it is a convolution and an add.
check("conv2d+residual 32->64 64x64, forward only", "conv2d_residual",
      [rnd(1, 64, 64, 32), rnd(64, 32, 3, 3, scale=0.1), rnd(64), rnd(1, 64, 64, 64)],
      conv_residual_ref, requires_grad=[False] * 4, ip=(1, 1), fd=False)
check("conv2d+residual N2 odd, forward only", "conv2d_residual",
      [rnd(2, 9, 11, 5), rnd(7, 5, 3, 3), rnd(7), rnd(2, 9, 11, 7)],
      conv_residual_ref, requires_grad=[False] * 4, ip=(1, 1), fd=False)
check("conv2d+residual 32->64 64x64, gradients", "conv2d_residual",
      [rnd(1, 64, 64, 32), rnd(64, 32, 3, 3, scale=0.1), rnd(64), rnd(1, 64, 64, 64)],
      conv_residual_ref, ip=(1, 1), fd=False)


def conv_shared_ref(s0, p0, s1, p1):
    """One weight and bias in two convolutions, outputs flattened and joined:
    the weight gradient sums two uses (ours sums them in oneDNN's blocked
    layout and un-blocks the sum once)."""
    def f(x0, w, b, x1):
        y0, y1 = conv_ref(s0, p0)(x0, w, b), conv_ref(s1, p1)(x1, w, b)
        return torch.cat([y0.reshape(1, -1), y1.reshape(1, -1)], 1)
    return f


check("conv2d one weight twice, strides 1, 2", "conv2d_shared",
      [rnd(2, 9, 11, 5), rnd(7, 5, 3, 3), rnd(7), rnd(1, 12, 10, 5)], conv_shared_ref(1, 1, 2, 1),
      ip=(1, 1, 2, 1))
check("conv2d one weight twice, 32->32", "conv2d_shared",
      [rnd(1, 8, 8, 32), rnd(32, 32, 3, 3, scale=0.1), rnd(32), rnd(3, 5, 6, 32)],
      conv_shared_ref(1, 1, 1, 1), ip=(1, 1, 1, 1), fd=False)
check("conv2d one weight twice, two layouts", "conv2d_shared",
      [rnd(1, 20, 20, 3), rnd(8, 3, 16, 16, scale=0.1), rnd(8), rnd(2, 32, 32, 3)],
      conv_shared_ref(1, 8, 16, 8), ip=(1, 8, 16, 8), fd=False)  # plain (ref) and hwio (gemm)


def conv1d_ref(x, w, b=None):
    k = w.shape[2]
    y = F.conv1d(F.pad(x.transpose(1, 2), (k // 2, k // 2), mode="circular"), w, b)
    return y.transpose(1, 2)


check("conv1d k9 circular", "conv1d_circular", [rnd(2, 13, 6), rnd(5, 6, 9, scale=0.3),
      rnd(5)], conv1d_ref)
check("conv1d k1", "conv1d_circular", [rnd(3, 7, 6), rnd(4, 6, 1), rnd(4)], conv1d_ref)
check("linear N2x7 bias", "linear", [rnd(2, 7, 10), rnd(6, 10), rnd(6)],
      lambda x, w, b: F.linear(x, w, b))
check("linear no bias", "linear", [rnd(5, 9), rnd(3, 9)], lambda x, w: F.linear(x, w))
check("bmm", "bmm", [rnd(3, 5, 7), rnd(3, 7, 4)], lambda a, b: torch.matmul(a, b),
      ip=(0,), fp=(1.0,))
check("bmm trans_b alpha", "bmm", [rnd(2, 3, 5, 6), rnd(2, 3, 4, 6)],
      lambda a, b: 0.25 * torch.matmul(a, b.transpose(-1, -2)), ip=(1,), fp=(0.25,))
check("embedding", "embedding", [rnd(5, 8)],
      lambda t: F.embedding(torch.tensor([3, 0, 3, 4]), t), ip=(4, 3, 0, 3, 4))
check("layernorm eps1e-6", "layernorm", [rnd(2, 5, 12), rnd(12), rnd(12)],
      lambda x, g, b: F.layer_norm(x, (12,), g, b, 1e-6), fp=(1e-6,))
check("layernorm 197x768 eps1e-12", "layernorm", [rnd(1, 197, 768), rnd(768), rnd(768)],
      lambda x, g, b: F.layer_norm(x, (768,), g, b, 1e-12), fp=(1e-12,), fd=False)


def gn_ref(groups, eps, silu):
    def f(x, g, b):
        y = nchw_to_nhwc(F.group_norm(nhwc_to_nchw(x), groups, g, b, eps))
        return F.silu(y) if silu else y
    return f


check("groupnorm 32 groups of 2", "groupnorm", [rnd(2, 6, 5, 64, scale=2) + 1, rnd(64), rnd(64)],
      gn_ref(32, 1e-5, False), ip=(32, 0), fp=(1e-5,))
check("groupnorm 32 of 1 + silu", "groupnorm", [rnd(1, 8, 8, 32), rnd(32), rnd(32)],
      gn_ref(32, 1e-5, True), ip=(32, 1), fp=(1e-5,))
check("groupnorm eps1e-6 128ch", "groupnorm", [rnd(2, 4, 4, 128), rnd(128), rnd(128)],
      gn_ref(32, 1e-6, False), ip=(32, 0), fp=(1e-6,))
# Far from zero mean: the backward takes sum(dy * xhat) as rs (sum(dy x) - mu sum(dy)).
# (No finite differences here: a float32 step on inputs near 50 is too coarse.)
check("groupnorm, inputs offset by 50", "groupnorm", [rnd(2, 5, 4, 64) + 50, rnd(64), rnd(64)],
      gn_ref(32, 1e-5, True), ip=(32, 1), fp=(1e-5,), fd=False)
# Without gradients the SiLU is fused into the normalisation pass (its own
# vectorised exp); wide inputs reach the clamped ends of that exp. 96
# channels run three register blocks of 32, 48 channels one block and a tail.
for nch, grp in ((96, 32), (48, 16)):
    check("groupnorm + fused silu %dch" % nch, "groupnorm",
          [rnd(2, 7, 5, nch, scale=40), rnd(nch), rnd(nch)], gn_ref(grp, 1e-5, True),
          requires_grad=[False] * 3, ip=(grp, 1), fp=(1e-5,), fd=False)
# With gradients too the SiLU stays fused: the backward recomputes the
# normalised values from the input and the saved statistics.
for nch, grp in ((96, 32), (48, 16)):
    check("groupnorm + fused silu, grads %dch" % nch, "groupnorm",
          [rnd(2, 5, 3, nch, scale=3) + 0.5, rnd(nch), rnd(nch)], gn_ref(grp, 1e-5, True),
          ip=(grp, 1), fp=(1e-5,))


def bnlocal_ref(x, g, b):
    # StyleGAN-T BatchNormLocal, each sample alone (x is N,T,C here)
    xc = x.transpose(1, 2)  # N,C,T
    mean = xc.mean(2, keepdim=True)
    var = xc.var(2, keepdim=True, unbiased=False)
    y = (xc - mean) / torch.sqrt(var + 1e-5)
    y = y * g[None, :, None] + b[None, :, None]
    return y.transpose(1, 2)


check("bnlocal", "bnlocal", [rnd(3, 11, 8), rnd(8), rnd(8)], bnlocal_ref, fp=(1e-5,))
check("gelu(erf)", "act", [rnd(3, 17)], lambda x: F.gelu(x), ip=(1,))
check("silu", "act", [rnd(3, 17)], lambda x: F.silu(x), ip=(2,))
check("leaky relu 0.2", "act", [rnd(3, 17)], lambda x: F.leaky_relu(x, 0.2), ip=(3,),
      fp=(0.2,), fd=False)
check("sigmoid", "act", [rnd(4, 5)], torch.sigmoid, ip=(4,))


def geglu_ref(x):
    a, g = x.chunk(2, dim=-1)
    return a * F.gelu(g)


check("geglu", "geglu", [rnd(2, 5, 16)], geglu_ref)
check("softmax", "softmax", [rnd(4, 13)], lambda x: F.softmax(x, -1))


def attn_ref(heads, scale):
    def f(q, k, v):
        b, t, c = q.shape
        d = c // heads
        qh = q.reshape(b, t, heads, d).transpose(1, 2)
        kh = k.reshape(b, k.shape[1], heads, d).transpose(1, 2)
        vh = v.reshape(b, v.shape[1], heads, d).transpose(1, 2)
        p = torch.softmax(torch.matmul(qh, kh.transpose(-1, -2)) * scale, -1)
        return torch.matmul(p, vh).transpose(1, 2).reshape(b, t, c)
    return f


check("cross-attention 3 heads T7 S5", "attention", [rnd(2, 7, 12), rnd(2, 5, 12), rnd(2, 5, 12)],
      attn_ref(3, 0.5), ip=(3,), fp=(0.5,))
check("self-attention 2x32-ch heads", "attention",
      [rnd(2, 9, 64), rnd(2, 9, 64), rnd(2, 9, 64)], attn_ref(2, 32 ** -0.5), ip=(2,),
      fp=(32 ** -0.5,))
def masked_attn_ref(heads, scale):
    def f(q, k, v, bias):
        b, t, c = q.shape
        d = c // heads
        qh = q.reshape(b, t, heads, d).transpose(1, 2)
        kh = k.reshape(b, k.shape[1], heads, d).transpose(1, 2)
        vh = v.reshape(b, v.shape[1], heads, d).transpose(1, 2)
        s = torch.matmul(qh, kh.transpose(-1, -2)) * scale + bias[:, None, None, :]
        return torch.matmul(torch.softmax(s, -1), vh).transpose(1, 2).reshape(b, t, c)
    return f


# BERT's padding mask: the last keys of each sample get torch.finfo(float32).min
mask = np.zeros((2, 6), np.float32)
mask[0, 4:] = np.finfo(np.float32).min
mask[1, 5:] = np.finfo(np.float32).min
check("masked self-attention (BERT padding)", "attention_masked",
      [rnd(2, 6, 8), rnd(2, 6, 8), rnd(2, 6, 8), mask], masked_attn_ref(2, 0.5),
      requires_grad=[True, True, True, False], ip=(2,), fp=(0.5,))
check("attention 64-ch heads, 197 tokens", "attention",
      [rnd(1, 197, 128), rnd(1, 197, 128), rnd(1, 197, 128)], attn_ref(2, 0.125), ip=(2,),
      fp=(0.125,), fd=False)
check("cross-attention 1024 x 256 ctx", "attention",
      [rnd(1, 1024, 64), rnd(1, 256, 64), rnd(1, 256, 64)], attn_ref(2, 32 ** -0.5), ip=(2,),
      fp=(32 ** -0.5,), fd=False)

# ---- resampling -----------------------------------------------------------------

check("avgpool2", "avgpool2", [rnd(2, 6, 10, 3)],
      lambda x: nchw_to_nhwc(F.avg_pool2d(nhwc_to_nchw(x), 2)))
check("upsample2 nearest", "upsample2", [rnd(2, 3, 5, 4)],
      lambda x: nchw_to_nhwc(F.interpolate(nhwc_to_nchw(x), scale_factor=2, mode="nearest")))


def resize_ref(oh, ow, aa):
    def f(x):
        return nchw_to_nhwc(F.interpolate(nhwc_to_nchw(x), size=(oh, ow), mode="bicubic",
                                          align_corners=False, antialias=aa))
    return f


check("bicubic 20x17 -> 13x11", "resize", [rnd(2, 20, 17, 3)], resize_ref(13, 11, False),
      ip=(13, 11, 1))
check("bicubic 7x9 -> 16x12 (up)", "resize", [rnd(1, 7, 9, 2)], resize_ref(16, 12, False),
      ip=(16, 12, 1))
check("bicubic antialias 20x17 -> 13x11", "resize", [rnd(2, 20, 17, 3)],
      resize_ref(13, 11, True), ip=(13, 11, 2))
check("bicubic antialias 256 -> 224", "resize", [rnd(1, 256, 256, 1)],
      resize_ref(224, 224, True), ip=(224, 224, 2), fd=False)
check("bicubic 256 -> 224", "resize", [rnd(1, 256, 256, 1)], resize_ref(224, 224, False),
      ip=(224, 224, 1), fd=False)

# ---- shape ----------------------------------------------------------------------

check("concat last", "concat", [rnd(2, 3, 4, 5), rnd(2, 3, 4, 7)],
      lambda a, b: torch.cat([a, b], -1))
check("slice last", "slice", [rnd(3, 10)], lambda x: x[:, 2:7], ip=(2, 5))
check("permute 0213", "permute", [rnd(2, 3, 4, 5)],
      lambda x: x.permute(0, 2, 1, 3).contiguous(), ip=(0, 2, 1, 3))
check("circular pad 3", "pad_circular", [rnd(2, 7, 3)],
      lambda x: F.pad(x.transpose(1, 2), (3, 3), mode="circular").transpose(1, 2), ip=(3,))
mean = (0.48145466, 0.4578275, 0.40821073)
std = (0.26862954, 0.26130258, 0.27577711)
scale = [1 / s for s in std]
shift = [-m / s for m, s in zip(mean, std)]
check("grey -> normalised RGB", "channel_expand", [rnd(2, 4, 5, 1)],
      lambda x: (x.repeat(1, 1, 1, 3) - torch.tensor(mean, dtype=torch.float64)) /
      torch.tensor(std, dtype=torch.float64), ip=(3,), fp=tuple(scale) + (0.0,) + tuple(shift))

# ---- arithmetic -----------------------------------------------------------------

check("add broadcast N11C", "add", [rnd(2, 4, 5, 6), rnd(2, 1, 1, 6)], lambda a, b: a + b)
check("add broadcast C", "add", [rnd(3, 5, 6), rnd(6)], lambda a, b: a + b)
check("mul broadcast", "mul", [rnd(2, 4, 5, 6), rnd(2, 1, 1, 6)], lambda a, b: a * b)
# every pattern of kept / reduced axes (cpu_reduce.c merges them), and sizes
# that split the reduction over both threads
check("add broadcast 1C1 (reduce outer and inner)", "add", [rnd(3, 5, 6), rnd(1, 5, 1)], lambda a, b: a + b)
check("add broadcast N1 (reduce inner)", "add", [rnd(4, 7, 9), rnd(4, 1, 1)], lambda a, b: a + b)
check("add broadcast 1H1C", "add", [rnd(3, 4, 5, 6), rnd(1, 4, 1, 6)], lambda a, b: a + b)
check("mul broadcast N11C, 2 chunks", "mul", [rnd(2, 64, 64, 8), rnd(2, 1, 1, 8)], lambda a, b: a * b)
check("add broadcast C, 2 chunks", "add", [rnd(9000, 16), rnd(16)], lambda a, b: a + b)
check("mul same shape", "mul", [rnd(3, 7), rnd(3, 7)], lambda a, b: a * b)
check("axpby residual/sqrt2", "axpby", [rnd(2, 5, 3), rnd(2, 5, 3)],
      lambda a, b: (a + b) / math.sqrt(2), fp=(1 / math.sqrt(2), 1 / math.sqrt(2)))
check("scale", "scale", [rnd(4, 3)], lambda x: 0.3 * x - 2, fp=(0.3, -2.0))
check("sum", "sum", [rnd(3, 4, 5)], lambda x: x.sum().reshape(1))
check("mean", "mean", [rnd(3, 4, 5)], lambda x: x.mean().reshape(1))
check("l1 loss", "l1", [rnd(2, 8, 8, 1), rnd(2, 8, 8, 1)], lambda a, b: F.l1_loss(a, b).reshape(1),
      fd=False)
check("mse loss", "mse", [rnd(2, 64, 12), rnd(2, 64, 12)], lambda a, b: F.mse_loss(a, b).reshape(1))
check("mse vs 1", "mse_const", [rnd(4, 5)],
      lambda a: F.mse_loss(a, torch.ones_like(a)).reshape(1), fp=(1.0,))


def cos_ref(a, b):
    eps = 1e-12
    return (a * b).sum(1) / torch.sqrt(((a * a).sum(1) + eps) * ((b * b).sum(1) + eps))


check("cosine rows (CosineEmbeddingLoss form)", "cos_rows", [rnd(4, 9), rnd(4, 9)], cos_ref)
# The same rows through F.cosine_similarity and F.normalize, the two other
# forms the reference uses, agree to float precision for non-tiny vectors.
a, b = torch.tensor(rnd(4, 9), dtype=torch.float64), torch.tensor(rnd(4, 9), dtype=torch.float64)
assert relerr(cos_ref(a, b).numpy(), F.cosine_similarity(a, b).numpy()) < 1e-12
assert relerr(cos_ref(a, b).numpy(), (F.normalize(a, dim=1) * F.normalize(b, dim=1)).sum(1).numpy()) < 1e-12


def spectral_ref(w, u, v):
    wm = w.reshape(w.shape[0], -1)
    with torch.no_grad():
        v2 = F.normalize(torch.mv(wm.t(), u), dim=0, eps=1e-12)
        u2 = F.normalize(torch.mv(wm, v2), dim=0, eps=1e-12)
        u.copy_(u2)
        v.copy_(v2)
    sigma = torch.dot(u, torch.mv(wm, v))
    return w / sigma


w0 = rnd(6, 4, 3)
u0 = F.normalize(torch.tensor(rnd(6)), dim=0).numpy()
v0 = F.normalize(torch.tensor(rnd(12)), dim=0).numpy()
# PyTorch treats u and v as constants in the backward pass, so the finite
# difference of a forward that runs the power iteration is not what it
# computes: the FD check uses 0 iterations (u, v fixed), where both agree.
check("spectral norm, 1 power iteration", "spectral", [w0], spectral_ref, ip=(1,),
      fp=(1e-12,), state=(u0, v0), fd=False)


def spectral_fixed_ref(w, u, v):
    wm = w.reshape(w.shape[0], -1)
    return w / torch.dot(u, torch.mv(wm, v))


check("spectral norm, u v fixed", "spectral", [w0], spectral_fixed_ref, ip=(0,),
      fp=(1e-12,), state=(u0, v0))

# The nn.utils.spectral_norm module itself, to pin the reference above.
conv = torch.nn.Conv1d(4, 6, 3).double()
with torch.no_grad():
    conv.weight.copy_(torch.tensor(w0.transpose(0, 1, 2).astype(np.float64)))
sn = torch.nn.utils.spectral_norm(conv, eps=1e-12)
with torch.no_grad():
    sn.weight_u.copy_(torch.tensor(u0.astype(np.float64)))
    sn.weight_v.copy_(torch.tensor(v0.astype(np.float64)))
sn.train()
sn(torch.zeros(1, 4, 5, dtype=torch.float64))
r = opshim.run("spectral", [w0], [False], ip=(1,), fp=(1e-12,), state=[u0.copy(), v0.copy()])
e = relerr(r.out, sn.weight.detach().numpy())
print("%-4s %-34s rel err %.2e" % ("ok" if e < TOL else "FAIL", "spectral vs nn.utils.spectral_norm", e))
if not e < TOL:
    failures.append(("spectral module", e))

# ---- determinism and the resize matrices ---------------------------------------------

x = rnd(1, 12, 12, 32)
w = rnd(32, 32, 3, 3, scale=0.1)
r1 = opshim.run("conv2d", [x, w], [False, False], ip=(1, 1))
r2 = opshim.run("conv2d", [x, w], [False, False], ip=(1, 1))
if not np.array_equal(r1.out, r2.out):
    failures.append(("determinism", "conv2d not bit-identical over runs"))
m = opshim.resize_matrix(256, 224, 2)
if not np.allclose(m.sum(1), 1.0, atol=1e-6):
    failures.append(("resize matrix", "antialias rows do not sum to 1"))

print("%d checks, %d failures" % (checked, len(failures)))
for f in failures:
    print("FAILED:", f)
sys.exit(1 if failures else 0)
