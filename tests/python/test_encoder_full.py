"""The encoder at the full BiomedCLIP size (ViT-B/16 at 224, 86.2 M vision
parameters; PubMedBERT-base text tower, context 256, 30522 tokens) against the
PyTorch reference, on one 256x256 image (the reference input size: exercises the
antialiased 256 -> 224 resize) and one prompt.

Whole path as in test_encoder.py: synthetic checkpoint with the published key
names and shapes -> converter -> .i2ig -> C encoder (public API) vs
ref_biomedclip.py in float64. Bound: max |ours - ref| / max |ref| <= 1e-4.
"""
import shutil
import sys
import tempfile

import numpy as np
import torch

import encoder_api as ea
import ref_biomedclip as rb
from i2igalip import weights

TOL = 1e-4
failures = []
checked = 0


def report(name, errs, tol=TOL):
    global checked
    checked += 1
    bad = {k: v for k, v in errs.items()
           if (v is False) or (not isinstance(v, bool) and not v <= tol)}
    nums = [v for v in errs.values() if not isinstance(v, bool)]
    print("%-4s %-50s %s" % ("ok" if not bad else "FAIL", name,
                             "  ".join("%s %.2e" % (k, v) for k, v in errs.items()
                                       if not isinstance(v, bool)) if nums else ""))
    if bad:
        failures.append((name, bad))


def vision_parameters():
    """timm vit_base_patch16_224 without classifier + open_clip head, by hand."""
    c, m, p, t = 768, 3072, 16, 196
    block = 2 * 2 * c + (3 * c * c + 3 * c) + (c * c + c) + (m * c + m) + (c * m + c)
    return (c * 3 * p * p + c) + c + (t + 1) * c + 12 * block + 2 * c + 512 * c


def main():
    torch.set_num_threads(2)
    tmp = tempfile.mkdtemp(prefix="i2ig-encfull-")
    try:
        ckpt, vocab, path = ea.build(tmp, "full", seed=7)
        wf_info = weights.read(path)
        nvis = sum(a.size for k, a in wf_info.tensors.items() if k.startswith("visual."))
        del wf_info
        report("vision parameters = 86,191,872 (86.2 M)",
               {"count": nvis == vision_parameters() == 86191872})

        enc = ea.Encoder(path)
        i = enc.info
        got = (i.image_size, i.patch_size, i.vision_width, i.vision_depth, i.vision_heads,
               i.tokens, i.embed_dim, list(i.taps[:i.n_taps]), i.n_cls, i.context_length,
               i.text_width, i.text_depth, i.vocab_size)
        report("info: BiomedCLIP architecture", {"info": got == (
            224, 16, 768, 12, 12, 196, 512, [2, 5, 8, 11], 4, 256, 768, 12, 30522)})

        sd = torch.load(ckpt, map_location="cpu")
        ref = rb.BiomedCLIP(sd, **ea.FULL)
        rng = np.random.default_rng(3)
        # A smooth image with structure (not white noise) in [0, 1].
        yy, xx = np.mgrid[0:256, 0:256] / 255.0
        img = (0.5 + 0.3 * np.sin(6 * xx) * np.cos(4 * yy) + 0.1 * rng.random((256, 256)))
        x = img[None].astype(np.float32)

        e, t, c = enc.encode_image(x)
        xt = torch.tensor(x, dtype=torch.float64)[:, None].requires_grad_(True)
        re_, rt, rc = ref.encode_image(xt)
        rt = torch.stack(rt, 1)
        report("image 256x256: embedding, taps, cls", {
            "embedding": ea.relerr(e, re_.detach().numpy()),
            "taps": ea.relerr(t, rt.detach().numpy()),
            "cls": ea.relerr(c, rc.detach().numpy())})

        gs = [rng.standard_normal(s).astype(np.float32) for s in enc.shapes(1)]
        ours = enc.image_grad(x, *gs)
        loss = sum((o * torch.tensor(g, dtype=torch.float64)).sum()
                   for o, g in zip((re_, rt, rc), gs))
        loss.backward()
        report("image 256x256: input gradient",
               {"d_images": ea.relerr(ours, xt.grad[:, 0].numpy())})

        prompt = "this MRI is T2-weighted"
        ids, count = enc.tokenize(prompt)
        ctx, emb = enc.encode_text(prompt)
        rctx, remb = ref.encode_text(torch.tensor(ids)[None])
        report("text %r: context 256x768, embedding" % prompt, {
            "tokens": count == 8,
            "context": ea.relerr(ctx, rctx[0].numpy()),
            "embedding": ea.relerr(emb, remb[0].numpy())})
        enc.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d checks, %d failed" % (checked, len(failures)))
    for name, bad in failures:
        print("FAILED %s: %s" % (name, bad))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
