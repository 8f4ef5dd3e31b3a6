"""The C generator against the PyTorch re-implementation of the reference
U-Net (tests/python/ref_i2igalip.py): parameter names and count, forward and
backward (input and every parameter gradient), on random weights, for a
small configuration and the paper configuration.

The C side creates a randomly initialised model and saves it; the reference
loads that file with load_state_dict(strict=True), so names and shapes are
checked by PyTorch itself. The reference runs in float64.
"""
import ctypes
import os
import sys
import tempfile

import numpy as np
import torch

from i2igalip import capi, weights
import opshim
import ref_i2igalip as ref

TOL = 1e-4
rng = np.random.default_rng(2024)
fails = []
tmp = tempfile.mkdtemp(prefix="i2ig-gen-")

shim = opshim.lib()
f = ctypes.POINTER(ctypes.c_float)
shim.igt_generator_grad.argtypes = [ctypes.c_char_p, ctypes.c_int, f, ctypes.c_int, ctypes.c_int,
                                    ctypes.c_int, ctypes.POINTER(ctypes.c_int), f, ctypes.c_int, f,
                                    f, f, f, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                    ctypes.c_size_t]


def relerr(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def report(name, err, tol=TOL):
    ok = err <= tol
    print("%-4s %-60s %.2e" % ("ok" if ok else "FAIL", name, err))
    if not ok:
        fails.append(name)


def make_c_model(cfg_kwargs, seed, n_domains=2, ctx_len=8):
    c = capi.GeneratorConfig()
    c.struct_size = ctypes.sizeof(c)
    capi.check(capi.lib.i2ig_generator_config_init(ctypes.byref(c)))
    c.model_channels = cfg_kwargs["model_channels"]
    c.n_levels = len(cfg_kwargs["channel_mult"])
    for i, m in enumerate(cfg_kwargs["channel_mult"]):
        c.channel_mult[i] = m
    c.num_res_blocks = cfg_kwargs["num_res_blocks"]
    c.n_attention = len(cfg_kwargs["attention_resolutions"])
    for i, d in enumerate(cfg_kwargs["attention_resolutions"]):
        c.attention_ds[i] = d
    c.head_channels = cfg_kwargs["num_head_channels"]
    c.context_dim = cfg_kwargs["context_dim"]
    c.num_classes = cfg_kwargs["num_classes"]
    h = ctypes.c_void_p()
    capi.check(capi.lib.i2ig_generator_create(ctypes.byref(c), seed, ctypes.byref(h)))
    ctxs = []
    for d in range(n_domains):
        ctx = rng.standard_normal((ctx_len, c.context_dim)).astype(np.float32)
        emb = rng.standard_normal(16).astype(np.float32)
        m = capi.IntensityMapping(ctypes.sizeof(capi.IntensityMapping), capi.MAPPING_WINDOW,
                                  0.0, 1.0, 0.0, 100.0)
        capi.check(capi.lib.i2ig_generator_add_domain(
            h, ("D%d" % d).encode(), b"prompt", d, opshim.fptr(ctx), ctx_len, opshim.fptr(emb),
            16, ctypes.byref(m)))
        ctxs.append(ctx)
    return h, ctxs


def well_conditioned(wf):
    """Replaces the reference initialisation (conv gain 0.02, which makes
    every residual branch tiny, so gradients become sums of near-cancelling
    terms) by weights of unit-scale activations, so that per-tensor relative
    errors measure the arithmetic rather than float32 cancellation."""
    out = {}
    for k, v in wf.tensors.items():
        if not k.startswith("unet."):
            out[k] = v
            continue
        if v.ndim >= 2 and "label_emb" not in k:
            fan_in = int(np.prod(v.shape[1:]))
            out[k] = (rng.standard_normal(v.shape) / np.sqrt(fan_in)).astype(np.float32)
        elif k.endswith("weight") and v.ndim == 1:
            out[k] = (1 + 0.1 * rng.standard_normal(v.shape)).astype(np.float32)
        else:
            out[k] = (0.1 * rng.standard_normal(v.shape)).astype(np.float32)
    return out


def check_init(label, wf, cfg_kwargs):
    """The C initialisation against what the reference's init_weights() draws
    (distribution parameters read off a freshly initialised reference model)."""
    model = ref.UNetModel(**cfg_kwargs)
    model.init_weights()
    bad = []
    for name, p in model.state_dict().items():
        ours = wf.tensors["unet." + name].astype(np.float64)
        theirs = p.numpy().astype(np.float64)
        if np.all(theirs == theirs.flat[0]):  # constants: norms 1/0, zeroed biases
            if not np.all(ours == theirs.flat[0]):
                bad.append(name)
        elif ours.size >= 256:
            # same spread (std within 15%) and no constant tensor on our side
            so, st = ours.std(), theirs.std()
            if not (abs(so - st) <= 0.15 * st):
                bad.append("%s std %.3g vs %.3g" % (name, so, st))
    print("%-4s %s initialisation matches the reference's distributions (%d tensors)"
          % ("ok" if not bad else "FAIL", label, len(model.state_dict())))
    if bad:
        fails.append(label + " init: " + ", ".join(bad[:5]))


def check_config(label, cfg_kwargs, n, side, seed):
    h0, ctxs = make_c_model(cfg_kwargs, seed)
    count = capi.lib.i2ig_generator_parameter_count(h0)
    path0 = os.path.join(tmp, label.replace(" ", "_") + "-init.i2ig")
    capi.check(capi.lib.i2ig_generator_save(h0, path0.encode()))
    capi.lib.i2ig_generator_free(h0)
    wf = weights.read(path0)
    check_init(label, wf, cfg_kwargs)
    path = os.path.join(tmp, label.replace(" ", "_") + ".i2ig")
    weights.write(path, wf.meta, well_conditioned(wf), wf.dtypes)
    h = ctypes.c_void_p()
    capi.check(capi.lib.i2ig_generator_load(path.encode(), ctypes.byref(h)))
    wf = weights.read(path)
    state = {k[len("unet."):]: torch.tensor(v.astype(np.float64)) for k, v in wf.tensors.items()
             if k.startswith("unet.")}
    model = ref.UNetModel(**cfg_kwargs).double()
    model.load_state_dict(state, strict=True)  # names and shapes must match exactly
    torch_count = sum(p.numel() for p in model.parameters())
    print("%s: parameters C %d, PyTorch %d" % (label, count, torch_count))
    if count != torch_count:
        fails.append(label + " parameter count")

    # forward through the public API (target D1, label 1)
    x = rng.uniform(0, 1, (n, side, side)).astype(np.float32)
    out = np.zeros_like(x)
    capi.check(capi.lib.i2ig_generator_forward(h, opshim.fptr(x), n, side, side, b"D1",
                                               opshim.fptr(out)))
    xt = torch.tensor(x[:, None].astype(np.float64), requires_grad=True)
    ctx = torch.tensor(np.repeat(ctxs[1][None], n, 0).astype(np.float64))
    y = torch.tensor([1] * n)
    ref_out, _ = model(xt, context=ctx, y=y)
    report("%s forward %dx%d N=%d" % (label, side, side, n), relerr(out, ref_out.detach().numpy()[:, 0]))

    # forward + backward with mixed labels per sample, through the test shim
    labels = np.array([i % 2 for i in range(n)], dtype=np.int32)
    ctx_np = np.stack([ctxs[l] for l in labels]).astype(np.float32)
    gout = rng.standard_normal((n, side, side, 1)).astype(np.float32)
    xin = x[..., None].copy()
    outc = np.zeros_like(xin)
    gx = np.zeros_like(xin)
    gp = np.zeros(count, np.float32)
    names = ctypes.create_string_buffer(1 << 20)
    err = ctypes.create_string_buffer(512)
    rc = shim.igt_generator_grad(path.encode(), 2, opshim.fptr(xin), n, side, side,
                                 labels.ctypes.data_as(ctypes.POINTER(ctypes.c_int)),
                                 opshim.fptr(ctx_np), ctx_np.shape[1], opshim.fptr(gout),
                                 opshim.fptr(outc), opshim.fptr(gx), opshim.fptr(gp), names,
                                 len(names), err, len(err))
    if rc:
        fails.append(label + " shim: " + err.value.decode())
        return
    model.zero_grad()
    xt = torch.tensor(xin.transpose(0, 3, 1, 2).astype(np.float64), requires_grad=True)
    ref_out, _ = model(xt, context=torch.tensor(ctx_np.astype(np.float64)),
                       y=torch.tensor(labels.astype(np.int64)))
    ref_out.backward(torch.tensor(gout.transpose(0, 3, 1, 2).astype(np.float64)))
    report("%s forward, mixed labels" % label, relerr(outc, ref_out.detach().numpy().transpose(0, 2, 3, 1)))
    report("%s input gradient" % label, relerr(gx, xt.grad.numpy().transpose(0, 2, 3, 1)))
    params = dict(model.named_parameters())
    grads = {}
    off = 0
    for name in names.value.decode().split("\n")[:-1]:
        p = params[name]
        grads[name] = gp[off:off + p.numel()].reshape(p.shape)
        off += p.numel()
    # Some gradients are zero in exact arithmetic: a conv bias followed by a
    # GroupNorm whose groups hold one channel each (32 channels, 32 groups)
    # is cancelled by the normalisation. Both sides then hold rounding noise,
    # so those are checked against the model's gradient scale instead.
    scale = max(float(p.grad.abs().max()) for p in params.values() if p.grad is not None)
    worst, worst_name, zero_worst, nzero = 0.0, "", 0.0, 0
    for name, g in grads.items():
        rg = params[name].grad
        rg = np.zeros(g.shape) if rg is None else rg.numpy()
        if np.abs(rg).max() <= 1e-6 * scale:
            nzero += 1
            zero_worst = max(zero_worst, float(np.abs(g).max()) / scale)
            continue
        e = relerr(g, rg)
        if e > worst:
            worst, worst_name = e, name
    report("%s worst parameter gradient of %d (%s)" % (label, len(grads) - nzero, worst_name), worst)
    report("%s %d exactly-zero gradients: max |ours| / gradient scale" % (label, nzero), zero_worst,
           tol=1e-5)
    capi.lib.i2ig_generator_free(h)


torch.set_num_threads(2)
check_config("small config", ref.small_unet_kwargs(), n=2, side=16, seed=5)
paper = dict(in_channels=1, model_channels=32, out_channels=1, num_res_blocks=2,
             attention_resolutions=(8, 16, 32), channel_mult=(1, 1, 2, 2, 4, 4), num_classes=3,
             num_head_channels=32, context_dim=768)
check_config("paper config", paper, n=1, side=32, seed=6)
print("failures:", fails)
sys.exit(1 if fails else 0)
