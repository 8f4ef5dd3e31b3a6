"""The C discriminator against the PyTorch re-implementation of the reference
(ProjectedDiscriminator of networks/stylegan_disc.py in ref_i2igalip.py):
names and parameter count, logits, spectral-norm state after the power
iteration, feature gradient and every parameter gradient, in training mode
(one power iteration per head call, every sample through its label's heads
on its own), for a small configuration and the reference size (768 wide,
9-tap circular residual convolution, 64-d projection, 196 tokens).
The C side creates and saves a random model; the reference loads that file.
The reference runs in float64."""
import copy
import ctypes
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

from i2igalip import capi, weights
import opshim
import ref_i2igalip as ref

TOL = 1e-4
rng = np.random.default_rng(99)
fails = []
tmp = tempfile.mkdtemp(prefix="i2ig-disc-")
shim = opshim.lib()
f = ctypes.POINTER(ctypes.c_float)
shim.igt_disc_grad.argtypes = [ctypes.c_char_p, ctypes.c_int, f, ctypes.c_int, ctypes.c_int,
                               ctypes.POINTER(ctypes.c_int), f, f, f, f, f, f, ctypes.c_char_p,
                               ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]


def relerr(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def report(name, err, tol=TOL):
    ok = err <= tol
    print("%-4s %-62s %.2e" % ("ok" if ok else "FAIL", name, err))
    if not ok:
        fails.append(name)


def kink_margin(model, feats, text, lab):
    """Smallest |input| of any LeakyReLU of the heads, relative to that
    input's spread. Where it is below float32 resolution, float32 and
    float64 may take different branches of the kink (slope 1 vs 0.2), and
    BatchNormLocal's backward then spreads that one element's difference
    over its whole channel: a real difference of the function, not an
    error. The test draws data away from the kink."""
    probe = copy.deepcopy(model)
    probe.train()
    margins = []

    def hook(mod, inp, out):
        v = inp[0].detach()
        margins.append(float(v.abs().min() / v.std()))

    for mod in probe.modules():
        if isinstance(mod, torch.nn.LeakyReLU):
            mod.inplace = False
            mod.register_forward_hook(hook)
    with torch.no_grad():
        probe(torch.tensor(feats.astype(np.float64).transpose(0, 1, 3, 2)),
              F.normalize(torch.tensor(text.astype(np.float64)), dim=-1).unsqueeze(1),
              class_label=torch.tensor(lab.astype(np.int64)))
    return min(margins)


def check(label, classes, taps, width, text_dim, cmap, tokens, labels):
    c = capi.DiscriminatorConfig()
    c.struct_size = ctypes.sizeof(c)
    capi.check(capi.lib.i2ig_discriminator_config_init(ctypes.byref(c)))
    c.num_classes, c.n_taps, c.width, c.text_dim, c.cmap_dim = classes, taps, width, text_dim, cmap
    h = ctypes.c_void_p()
    capi.check(capi.lib.i2ig_discriminator_create(ctypes.byref(c), 11, ctypes.byref(h)))
    count = capi.lib.i2ig_discriminator_parameter_count(h)
    path = os.path.join(tmp, label.replace(" ", "_") + ".i2ig")
    capi.check(capi.lib.i2ig_discriminator_save(h, path.encode()))
    capi.lib.i2ig_discriminator_free(h)
    wf = weights.read(path)
    model = ref.ProjectedDiscriminator(c_dim=text_dim, embed_dim=width, num_of_disc_feats=taps,
                                       num_of_classes=classes, cmap_dim=cmap).double()
    state = {k[len("disc."):]: torch.tensor(v.astype(np.float64)) for k, v in wf.tensors.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    # the reference's unused feat_modulator is the only thing we do not have
    if unexpected or any(not m.startswith("feat_modulator.") for m in missing):
        fails.append("%s names: missing %s unexpected %s" % (label, missing[:4], unexpected[:4]))
        return
    torch_count = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("feat_modulator"))
    print("%s: parameters C %d, PyTorch %d (%d per head)" % (label, count, torch_count,
                                                            torch_count // (classes * taps)))
    if count != torch_count:
        fails.append(label + " parameter count")
    n = len(labels)
    lab = np.array(labels, dtype=np.int32)
    for attempt in range(20):
        feats = rng.standard_normal((n, taps, tokens, width)).astype(np.float32)
        text = rng.standard_normal((n, text_dim)).astype(np.float32)
        if kink_margin(model, feats, text, lab) > 5e-6:
            break
    else:
        fails.append(label + ": no draw kept LeakyReLU inputs away from the kink")

    # reference, training mode
    model.train()
    xt = torch.tensor(feats.astype(np.float64).transpose(0, 1, 3, 2), requires_grad=True)
    tt = F.normalize(torch.tensor(text.astype(np.float64)), dim=-1).unsqueeze(1)
    ref_out = model(xt, tt, class_label=torch.tensor(lab.astype(np.int64)))  # n, taps*cmap*T
    gout = rng.standard_normal(ref_out.shape)
    ref_out.backward(torch.tensor(gout))
    # ours: n, taps, T, cmap  <->  reference n, taps, cmap, T
    out = np.zeros((n, taps, tokens, cmap), np.float32)
    gfeat = np.zeros_like(feats)
    gp = np.zeros(count, np.float32)
    nstate = sum(v.size for k, v in wf.tensors.items() if k.endswith("_u") or k.endswith("_v"))
    st_after = np.zeros(nstate, np.float32)
    names = ctypes.create_string_buffer(1 << 20)
    err = ctypes.create_string_buffer(512)
    go = np.ascontiguousarray(gout.reshape(n, taps, cmap, tokens).transpose(0, 1, 3, 2), np.float32)
    tn = np.ascontiguousarray(tt[:, 0].numpy(), np.float32)
    rc = shim.igt_disc_grad(path.encode(), 2, opshim.fptr(feats), n, tokens,
                            lab.ctypes.data_as(ctypes.POINTER(ctypes.c_int)), opshim.fptr(tn),
                            opshim.fptr(go), opshim.fptr(out), opshim.fptr(gfeat), opshim.fptr(gp),
                            opshim.fptr(st_after), names, len(names), err, len(err))
    if rc:
        fails.append(label + ": " + err.value.decode())
        return
    ours = out.transpose(0, 1, 3, 2).reshape(n, -1)
    report("%s logits (%d samples, labels %s)" % (label, n, labels), relerr(ours, ref_out.detach().numpy()))
    report("%s feature gradient" % label, relerr(gfeat, xt.grad.numpy().transpose(0, 1, 3, 2)))
    params = dict(model.named_parameters())
    # A convolution bias right before BatchNormLocal is cancelled by it: its
    # gradient is zero in exact arithmetic and rounding noise on both sides,
    # so those are checked against the model's gradient scale instead.
    scale = max(float(p.grad.abs().max()) for p in params.values() if p.grad is not None)
    off, worst, worst_name, unused, zero_worst, nzero = 0, 0.0, "", 0, 0.0, 0
    for name in names.value.decode().split("\n")[:-1]:
        p = params[name]
        g = gp[off:off + p.numel()].reshape(p.shape)
        off += p.numel()
        if p.grad is None:  # heads of labels not in the batch
            unused += 1
            if np.abs(g).max() != 0:
                worst, worst_name = float("inf"), name
            continue
        if float(p.grad.abs().max()) <= 1e-9 * scale:
            nzero += 1
            zero_worst = max(zero_worst, float(np.abs(g).max()) / scale)
            continue
        e = relerr(g, p.grad.numpy())
        if e > worst:
            worst, worst_name = e, name
    report("%s %d exactly-zero gradients: max |ours| / gradient scale" % (label, nzero), zero_worst, tol=1e-6)
    report("%s worst parameter gradient (%s; %d unused zero)" % (label, worst_name, unused), worst)
    # spectral-norm state after the power iterations, in file order
    buffers = dict(model.named_buffers())
    off, serr = 0, 0.0
    for k in wf.tensors:
        if k.endswith("_u") or k.endswith("_v"):
            b = buffers[k[len("disc."):]].numpy()
            serr = max(serr, relerr(st_after[off:off + b.size], b.reshape(-1)))
            off += b.size
    report("%s spectral-norm u, v after the call" % label, serr)

    # public API: forward with state update, backward with the stored state
    hd = ctypes.c_void_p()
    capi.check(capi.lib.i2ig_discriminator_load(path.encode(), ctypes.byref(hd)))
    capi.check(capi.lib.i2ig_discriminator_set_threads(hd, 2))
    out2 = np.zeros_like(out)
    capi.check(capi.lib.i2ig_discriminator_forward(hd, opshim.fptr(feats), n, tokens,
               lab.ctypes.data_as(ctypes.POINTER(ctypes.c_int)), opshim.fptr(text), 1,
               opshim.fptr(out2)))
    report("%s public forward = shim forward" % label, relerr(out2, out), tol=0)
    capi.lib.i2ig_discriminator_free(hd)


torch.set_num_threads(2)
check("small", classes=2, taps=2, width=32, text_dim=16, cmap=8, tokens=13, labels=[1, 0, 1])
# At the reference width with 196 tokens the heads hold 1.2 M LeakyReLU inputs and
# one of them lies within float32 resolution of the kink in nearly every draw;
# 49 tokens keep the draw-away-from-the-kink loop short. The width, kernel and
# projection sizes are the reference's.
check("reference size", classes=3, taps=4, width=768, text_dim=512, cmap=64, tokens=49, labels=[2, 0])
print("failures:", fails)
sys.exit(1 if fails else 0)
