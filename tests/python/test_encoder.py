"""The encoder handle at a small configuration against the PyTorch reference.

Whole path: a synthetic checkpoint with BiomedCLIP's key names
(tools/convert/make_synthetic_biomedclip.py) -> the converter
(tools/convert/biomedclip_to_i2ig.py, run as a program) -> .i2ig -> the C
encoder through its public API (ctypes), compared with ref_biomedclip.py
(float64) on the same state dict.

Small configuration: vision 32x32 input, patch 8 (16 tokens), width 64, 4
blocks all tapped, 4 heads, mlp 128, embedding 48; text 2 layers, width 64, 4
heads, context 16, vocabulary 160.

Error measure: max |ours - ref| / max |ref| per output; bound 1e-4.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

import encoder_api as ea
import ref_biomedclip as rb
from i2igalip import weights

TOL = 1e-4
rng = np.random.default_rng(20240917)
failures = []
checked = 0
_TMP = []


def report(name, errs, tol=TOL):
    """errs: dict label -> relative error (or bool for exact checks)."""
    global checked
    checked += 1
    bad = {k: v for k, v in errs.items()
           if (v is False) or (not isinstance(v, bool) and not v <= tol)}
    nums = [v for v in errs.values() if not isinstance(v, bool)]
    worst = max(nums) if nums else 0.0
    print("%-4s %-58s worst %.2e" % ("ok" if not bad else "FAIL", name, worst))
    if bad:
        failures.append((name, bad))
    return worst


worst_by_output = {}


def note(kind, err):
    worst_by_output[kind] = max(worst_by_output.get(kind, 0.0), err)


def ref_image(ref, x, grads=None):
    xt = torch.tensor(x, dtype=torch.float64)[:, None]
    if grads is not None:
        xt.requires_grad_(True)
    emb, taps, cls = ref.encode_image(xt)
    taps = torch.stack(taps, 1)
    if grads is None:
        return emb.detach().numpy(), taps.detach().numpy(), cls.detach().numpy()
    loss = 0
    for out, g in zip((emb, taps, cls), grads):
        if g is not None:
            loss = loss + (out * torch.tensor(g, dtype=torch.float64)).sum()
    if isinstance(loss, int):
        return np.zeros_like(x)
    loss.backward()
    return xt.grad[:, 0].numpy()


def main():
    tmp = tempfile.mkdtemp(prefix="i2ig-enc-")
    _TMP.append(tmp)
    ckpt, vocab, path = ea.build(tmp, "small")
    enc = ea.Encoder(path)
    sd = torch.load(ckpt, map_location="cpu")
    ref = rb.BiomedCLIP(sd, **ea.SMALL)

    # ---- architecture as loaded ---------------------------------------------------
    i = enc.info
    got = (i.image_size, i.patch_size, i.vision_width, i.vision_depth, i.vision_heads, i.tokens,
           i.embed_dim, i.n_taps, list(i.taps[:i.n_taps]), i.n_cls, i.context_length,
           i.text_width, i.text_depth, i.vocab_size)
    want = (32, 8, 64, 4, 4, 16, 48, 4, [0, 1, 2, 3], 4, 16, 64, 2, 160)
    report("info matches the small configuration", {"info": got == want})

    # ---- image outputs: sizes that exercise resize and crop -------------------------
    cases = [(1, 32, 32, "no resize"), (2, 40, 40, "downscale"), (3, 37, 45, "odd, crop width"),
             (2, 50, 33, "crop height"), (1, 20, 24, "upscale"), (1, 3, 5, "tiny"),
             (2, 64, 65, "2x down, odd crop")]
    for n, h, w, why in cases:
        x = rng.random((n, h, w)).astype(np.float32)
        e, t, c = enc.encode_image(x)
        re_, rt, rc = ref_image(ref, x)
        errs = {"embedding": ea.relerr(e, re_), "taps": ea.relerr(t, rt), "cls": ea.relerr(c, rc)}
        for k, v in errs.items():
            note(k, v)
        report("image n=%d %dx%d (%s)" % (n, h, w, why), errs)

    # Subsets of outputs: same numbers as the full call.
    x = rng.random((2, 48, 40)).astype(np.float32)
    full = enc.encode_image(x)
    only = [enc.encode_image(x, want=tuple(j == k for k in range(3)))[j] for j in range(3)]
    report("single outputs equal the full call", {
        "embedding": bool(np.array_equal(only[0], full[0])),
        "taps": bool(np.array_equal(only[1], full[1])),
        "cls": bool(np.array_equal(only[2], full[2]))})
    # Batch: each image as if alone.
    alone = [enc.encode_image(x[k:k + 1]) for k in range(2)]
    report("batch of 2 equals two single calls", {
        "embedding": ea.relerr(full[0], np.concatenate([a[0] for a in alone])),
        "taps": ea.relerr(full[1], np.concatenate([a[1] for a in alone])),
        "cls": ea.relerr(full[2], np.concatenate([a[2] for a in alone]))}, tol=1e-5)

    # ---- input gradient ----------------------------------------------------------------
    shapes = enc.shapes
    for n, h, w, which in [(1, 32, 32, "all"), (2, 40, 36, "all"), (3, 45, 37, "all"),
                           (2, 36, 36, "embedding"), (2, 36, 36, "taps"), (1, 36, 36, "cls"),
                           (1, 21, 19, "all")]:
        x = rng.random((n, h, w)).astype(np.float32)
        gs = [rng.standard_normal(s).astype(np.float32) for s in shapes(n)]
        if which != "all":
            gs = [g if k == which else None for g, k in zip(gs, ("embedding", "taps", "cls"))]
        ours = enc.image_grad(x, *gs)
        err = ea.relerr(ours, ref_image(ref, x, gs))
        note("input gradient", err)
        report("input gradient n=%d %dx%d (d_%s)" % (n, h, w, which), {"d_images": err})
    x = rng.random((1, 32, 32)).astype(np.float32)
    report("input gradient with no output gradient is zero",
           {"zero": bool(np.array_equal(enc.image_grad(x), np.zeros_like(x)))})

    # Finite differences of our own forward along a random direction.
    x = (0.2 + 0.6 * rng.random((1, 36, 36))).astype(np.float32)
    gs = [rng.standard_normal(s) for s in shapes(1)]
    d = rng.standard_normal(x.shape)
    an = float((enc.image_grad(x, *gs).astype(np.float64) * d).sum())

    def central(hstep):
        vals = []
        for sgn in (1, -1):
            outs = enc.encode_image((x + sgn * hstep * d).astype(np.float32))
            vals.append(sum(float((o.astype(np.float64) * g).sum()) for o, g in zip(outs, gs)))
        return (vals[0] - vals[1]) / (2 * hstep)

    # Richardson extrapolation cancels the h^2 term (random weights make
    # the tower far from linear at the scale of a few 1e-3).
    fd = (4 * central(2e-3) - central(4e-3)) / 3
    report("input gradient vs finite differences", {"fd": abs(fd - an) / max(abs(an), 1e-3)},
           tol=5e-3)

    # ---- text ---------------------------------------------------------------------------
    # Ids by hand from the synthetic vocabulary: [PAD] 0 [UNK] 1 [CLS] 2 [SEP] 3, then the
    # word list of make_synthetic_biomedclip.WORDS from id 5.
    words = make_words()
    for prompt, toks in [("this MRI is T1-weighted", ["this", "mri", "is", "t1", "-", "weighted"]),
                         ("  This is PELVIS ct. ", ["this", "is", "pelvis", "ct", "."]),
                         ("", []),
                         ("the brain " * 7, ["the", "brain"] * 7)]:
        ids, count = enc.tokenize(prompt)
        want_ids = [2] + [words[t] for t in toks] + [3]
        want_ids += [0] * (16 - len(want_ids))
        report("tokenize %r" % prompt[:30], {"ids": ids.tolist() == want_ids,
                                             "count": count == len(toks) + 2})
        ctx, emb = enc.encode_text(prompt)
        rctx, remb = ref.encode_text(torch.tensor(ids)[None])
        errs = {"context": ea.relerr(ctx, rctx[0].numpy()),
                "embedding": ea.relerr(emb, remb[0].numpy())}
        note("text context", errs["context"])
        note("text embedding", errs["embedding"])
        report("text %r" % prompt[:30], errs)

    # ---- f16 file: the reference sees the same rounded weights -------------------------
    _, _, path16 = ea.build(tmp, "small", dtype="f16")
    wf = weights.read(path16)
    report("f16 file stores every tensor as f16",
           {"f16": all(v == "f16" for v in wf.dtypes.values())})
    enc16 = ea.Encoder(path16)
    sd16 = {k: (v.half().float() if v.is_floating_point() else v) for k, v in sd.items()}
    ref16 = rb.BiomedCLIP(sd16, **ea.SMALL)
    x = rng.random((2, 44, 40)).astype(np.float32)
    e, t, c = enc16.encode_image(x)
    re_, rt, rc = ref_image(ref16, x)
    gs = [rng.standard_normal(s).astype(np.float32) for s in shapes(2)]
    ctx, emb = enc16.encode_text("this MRI is T2-weighted")
    ids, _ = enc16.tokenize("this MRI is T2-weighted")
    rctx, remb = ref16.encode_text(torch.tensor(ids)[None])
    report("f16 weights: image, gradient, text", {
        "embedding": ea.relerr(e, re_), "taps": ea.relerr(t, rt), "cls": ea.relerr(c, rc),
        "d_images": ea.relerr(enc16.image_grad(x, *gs), ref_image(ref16, x, gs)),
        "context": ea.relerr(ctx, rctx[0].numpy()), "text embedding": ea.relerr(emb, remb[0].numpy())})
    enc16.close()

    # ---- other taps: blocks 1 and 2 only, class tokens of 3 blocks -------------------------
    # Asking for the taps alone stops the tower after block 2.
    tdir = os.path.join(tmp, "taps")
    os.makedirs(tdir)
    _, _, path_t = ea.build(tdir, "small", extra=["--taps", "2,1", "--n-cls", "3"])
    enc_t = ea.Encoder(path_t)
    ref_t = rb.BiomedCLIP(sd, **dict(ea.SMALL, taps=[2, 1], n_cls=3))
    x = rng.random((2, 30, 41)).astype(np.float32)
    e, t, c = enc_t.encode_image(x)
    re_, rt, rc = ref_image(ref_t, x)
    t_only = enc_t.encode_image(x, want=(False, True, False))[1]
    gs = [rng.standard_normal(s).astype(np.float32) for s in enc_t.shapes(2)]
    report("taps (2, 1), 3 class tokens; taps alone", {
        "info": (enc_t.info.n_taps, list(enc_t.info.taps[:2]), enc_t.info.n_cls) == (2, [2, 1], 3),
        "embedding": ea.relerr(e, re_), "taps": ea.relerr(t, rt), "cls": ea.relerr(c, rc),
        "taps alone": ea.relerr(t_only, rt),
        "d_images (taps only)": ea.relerr(enc_t.image_grad(x, None, gs[1], None),
                                          ref_image(ref_t, x, [None, gs[1], None])),
        "d_images": ea.relerr(enc_t.image_grad(x, *gs), ref_image(ref_t, x, gs))})
    enc_t.close()

    # ---- threads: same numbers with 1 thread ---------------------------------------------
    enc1 = ea.Encoder(path, threads=1)
    x = rng.random((2, 40, 40)).astype(np.float32)
    a, b = enc.encode_image(x), enc1.encode_image(x)
    report("1 thread vs 2 threads", {k: ea.relerr(p, q) for k, p, q in
                                     zip(("embedding", "taps", "cls"), a, b)}, tol=1e-5)
    enc1.close()

    # ---- converter output: names, metadata, provenance -------------------------------------
    wf = weights.read(path)
    keys = set(k for k in sd if k not in ("logit_scale", "text.transformer.embeddings.position_ids"))
    with open(vocab, encoding="utf-8") as f:
        vocab_lines = f.read().split("\n")[:-1]
    m = wf.meta
    report("converter: tensor names are the state-dict keys", {"names": set(wf.tensors) == keys})
    report("converter: tensors equal the checkpoint", {
        "values": all(np.array_equal(wf.tensors[k], sd[k].numpy()) for k in keys)})
    report("converter: metadata", {
        "kind": m["model.kind"] == "encoder",
        "arch": (m["vision.image_size"], m["vision.patch_size"], m["vision.width"],
                 m["vision.depth"], m["vision.heads"], m["vision.mlp_dim"], list(m["vision.taps"]),
                 m["vision.n_cls"], m["encoder.embed_dim"]) == (32, 8, 64, 4, 4, 128,
                                                                 [0, 1, 2, 3], 4, 48),
        "text": (m["text.context_length"], m["text.width"], m["text.depth"], m["text.heads"],
                 m["text.mlp_dim"], m["text.max_positions"], m["text.type_vocab"],
                 m["text.proj_hidden"], m["text.pad_id"]) == (16, 64, 2, 4, 128, 24, 2, 56, 0),
        "eps": (m["vision.ln_eps"], m["text.ln_eps"]) == (1e-6, 1e-12),
        "vocab": list(m["text.vocab"]) == vocab_lines,
        "mean": list(m["preprocess.mean"]) == [0.48145466, 0.4578275, 0.40821073],
        "std": list(m["preprocess.std"]) == [0.26862954, 0.26130258, 0.27577711],
        "sha256": m["provenance.source_sha256"] == hashlib.sha256(open(ckpt, "rb").read()).hexdigest(),
        "source": m["provenance.source"] == "open_clip_pytorch_model.bin",
        "vocab sha256": m["provenance.vocab_sha256"] == hashlib.sha256(open(vocab, "rb").read()).hexdigest(),
    })

    # ---- converter refusals -------------------------------------------------------------
    def run_conv(sd_mod, vocab_path=vocab, extra=()):
        p = os.path.join(tmp, "mod.bin")
        torch.save(sd_mod, p)
        r = subprocess.run([sys.executable, os.path.join(ea.CONVERT, "biomedclip_to_i2ig.py"), p,
                            vocab_path, os.path.join(tmp, "mod.i2ig")] + ea.SMALL_OPTS + list(extra),
                           capture_output=True, text=True)
        return r.returncode, r.stderr

    mod = dict(sd)
    del mod["visual.trunk.blocks.2.attn.proj.bias"]
    del mod["text.proj.2.weight"]
    mod["visual.trunk.blocks.2.extra.weight"] = torch.zeros(3)
    mod["text.transformer.pooler.dense.weight"] = torch.zeros(64, 64)
    rc, err = run_conv(mod)
    report("converter refuses missing and unknown keys, listing all", {
        "status": rc == 1,
        "missing": "visual.trunk.blocks.2.attn.proj.bias" in err and "text.proj.2.weight" in err,
        "unknown": "visual.trunk.blocks.2.extra.weight" in err
                   and "text.transformer.pooler.dense.weight" in err})
    mod = dict(sd)
    mod["visual.trunk.blocks.1.mlp.fc2.weight"] = torch.zeros(64, 100)
    rc, err = run_conv(mod)
    report("converter refuses a wrong shape", {
        "status": rc == 1, "named": "visual.trunk.blocks.1.mlp.fc2.weight: 64x100, expected 64x128" in err})
    mod = dict(sd)
    mod["text.transformer.embeddings.position_ids"] = torch.zeros(1, 24, dtype=torch.long)
    rc, err = run_conv(mod)
    report("converter checks position_ids", {"status": rc == 1, "named": "position_ids" in err})
    short_vocab = os.path.join(tmp, "short.txt")
    with open(short_vocab, "w") as f:
        f.write("\n".join(vocab_lines[:-1]) + "\n")
    rc, err = run_conv(dict(sd), short_vocab)
    report("converter refuses a vocabulary of the wrong size",
           {"status": rc == 1, "named": "159 tokens" in err and "160 rows" in err})
    rc, err = run_conv(dict(sd), extra=["--taps", "1,7"])
    report("converter refuses taps outside the blocks", {"status": rc == 1, "named": "taps" in err})

    enc.close()
    print("%d checks, %d failed" % (checked, len(failures)))
    print("worst relative error per output: " +
          ", ".join("%s %.2e" % kv for kv in sorted(worst_by_output.items())))
    for name, bad in failures:
        print("FAILED %s: %s" % (name, bad))
    return 1 if failures else 0


def make_words():
    import make_synthetic_biomedclip as ms
    vocab = ms.vocabulary(ms.SIZES["small"]["vocab"])
    return {t: k for k, t in enumerate(vocab)}


if __name__ == "__main__":
    _rc = 1
    try:
        _rc = main()
    finally:
        for _d in _TMP:
            shutil.rmtree(_d, ignore_errors=True)
    sys.exit(_rc)
