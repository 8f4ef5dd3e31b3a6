#!/usr/bin/python3
"""Writes a random checkpoint shaped like BiomedCLIP's open_clip_pytorch_model.bin.

The published checkpoint (microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224)
cannot be downloaded by the build or the tests, so they run the whole conversion
path on this stand-in: the same state-dict keys, the same shapes (at the full
size, or at a small size for fast tests), the same extra entries the real file
carries (logit_scale and the legacy BERT position_ids buffer), random weights,
and a vocab.txt whose first entries are BERT's special tokens.

    /usr/bin/python3 tools/convert/make_synthetic_biomedclip.py OUTDIR [--size full|small]

writes OUTDIR/open_clip_pytorch_model.bin and OUTDIR/vocab.txt.
"""

import argparse
import os
import sys

import torch

# name -> (vision width, depth, mlp, image, patch, embed, text width, depth, mlp,
#          max positions, vocabulary size)
SIZES = {
    "full": dict(v_width=768, v_depth=12, v_mlp=3072, image=224, patch=16, embed=512,
                 t_width=768, t_depth=12, t_mlp=3072, max_pos=512, vocab=30522, types=2),
    # The bundled demo model's encoder: small enough to train on 2 cores in
    # minutes, a real ViT-with-taps / BERT structure (random weights).
    "demo": dict(v_width=128, v_depth=4, v_mlp=256, image=64, patch=8, embed=64,
                 t_width=128, t_depth=2, t_mlp=256, max_pos=32, vocab=160, types=2),
    "small": dict(v_width=64, v_depth=4, v_mlp=128, image=32, patch=8, embed=48,
                  t_width=64, t_depth=2, t_mlp=128, max_pos=24, vocab=160, types=2),
}

# Whole words of the test prompts and a few pieces, so that tokenization of
# "this MRI is T1-weighted" and friends needs no [UNK].
WORDS = ["this", "is", "mri", "ct", "pelvis", "pelvic", "weighted", "t1", "t2", "pd", "flair",
         "brain", "head", "scan", "image", "of", "a", "the", "and", "-", ",", ".", "t", "1", "2",
         "##1", "##2", "##s", "##ed", "##ing", "magnetic", "resonance", "tomography", "computed"]


def vocabulary(n):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
    i = 0
    while len(vocab) < n:
        vocab.append("[unused%d]" % i)
        i += 1
    return vocab[:n]


def state_dict(s, gen):
    """Every key of the real checkpoint, in its order, with random values."""
    sd = {}

    def lin(name, out_f, in_f, bias=True):
        # std 1/sqrt(fan_in): activations keep their scale through depth, so
        # attention and GELU see values of order one (a harder test than
        # near-zero weights).
        sd[name + ".weight"] = torch.randn(out_f, in_f, generator=gen) / in_f ** 0.5
        if bias:
            sd[name + ".bias"] = 0.1 * torch.randn(out_f, generator=gen)

    def norm(name, c):
        sd[name + ".weight"] = 1.0 + 0.2 * torch.randn(c, generator=gen)
        sd[name + ".bias"] = 0.1 * torch.randn(c, generator=gen)

    c, p = s["v_width"], s["patch"]
    grid = s["image"] // p
    sd["logit_scale"] = torch.tensor(4.6052)
    sd["visual.trunk.cls_token"] = 0.5 * torch.randn(1, 1, c, generator=gen)
    sd["visual.trunk.pos_embed"] = 0.5 * torch.randn(1, grid * grid + 1, c, generator=gen)
    sd["visual.trunk.patch_embed.proj.weight"] = (
        torch.randn(c, 3, p, p, generator=gen) / (3 * p * p) ** 0.5)
    sd["visual.trunk.patch_embed.proj.bias"] = 0.1 * torch.randn(c, generator=gen)
    for i in range(s["v_depth"]):
        b = "visual.trunk.blocks.%d." % i
        norm(b + "norm1", c)
        lin(b + "attn.qkv", 3 * c, c)
        lin(b + "attn.proj", c, c)
        norm(b + "norm2", c)
        lin(b + "mlp.fc1", s["v_mlp"], c)
        lin(b + "mlp.fc2", c, s["v_mlp"])
    norm("visual.trunk.norm", c)
    lin("visual.head.proj", s["embed"], c, bias=False)

    t = s["t_width"]
    e = "text.transformer.embeddings."
    sd[e + "position_ids"] = torch.arange(s["max_pos"]).expand((1, -1)).clone()
    sd[e + "word_embeddings.weight"] = torch.randn(s["vocab"], t, generator=gen)
    sd[e + "position_embeddings.weight"] = 0.5 * torch.randn(s["max_pos"], t, generator=gen)
    sd[e + "token_type_embeddings.weight"] = 0.5 * torch.randn(s["types"], t, generator=gen)
    norm(e + "LayerNorm", t)
    for i in range(s["t_depth"]):
        l = "text.transformer.encoder.layer.%d." % i
        lin(l + "attention.self.query", t, t)
        lin(l + "attention.self.key", t, t)
        lin(l + "attention.self.value", t, t)
        lin(l + "attention.output.dense", t, t)
        norm(l + "attention.output.LayerNorm", t)
        lin(l + "intermediate.dense", s["t_mlp"], t)
        lin(l + "output.dense", t, s["t_mlp"])
        norm(l + "output.LayerNorm", t)
    hidden = (t + s["embed"]) // 2
    lin("text.proj.0", hidden, t, bias=False)
    lin("text.proj.2", s["embed"], hidden, bias=False)
    return sd


def make(outdir, size="small", seed=0):
    """Writes the checkpoint and vocabulary; returns their paths."""
    s = SIZES[size]
    gen = torch.Generator().manual_seed(seed)
    os.makedirs(outdir, exist_ok=True)
    ckpt = os.path.join(outdir, "open_clip_pytorch_model.bin")
    vocab = os.path.join(outdir, "vocab.txt")
    torch.save(state_dict(s, gen), ckpt)
    with open(vocab, "w", encoding="utf-8") as f:
        f.write("\n".join(vocabulary(s["vocab"])) + "\n")
    return ckpt, vocab


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--size", choices=sorted(SIZES), default="small")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    ckpt, vocab = make(a.outdir, a.size, a.seed)
    print("wrote %s and %s" % (ckpt, vocab))
    return 0


if __name__ == "__main__":
    sys.exit(main())
