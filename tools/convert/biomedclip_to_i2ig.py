#!/usr/bin/python3
"""Converts BiomedCLIP's open_clip checkpoint into an .i2ig encoder file.

    /usr/bin/python3 tools/convert/biomedclip_to_i2ig.py \\
        open_clip_pytorch_model.bin vocab.txt biomedclip.i2ig [--dtype f32|f16]

Inputs are the two files of microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224
(the open_clip state dict and the PubMedBERT tokenizer's vocab.txt). Tensor names
in the output are the state-dict keys unchanged. The architecture is inferred
from the tensor shapes; what the shapes cannot tell (head counts, LayerNorm eps,
the text context length, the tapped blocks) comes from BiomedCLIP's
configuration, overridable by options. Every key is accounted for: a missing or
unknown key, or a tensor whose shape does not fit the inferred architecture,
stops the conversion with the complete list. Keys the encoder does not use are
listed in IGNORED and checked (position_ids must be 0..n-1).

Needs only torch and numpy (Debian's /usr/bin/python3), plus the pure-Python
weight-file writer in bindings/python/i2igalip/weights.py. The metadata keys
are documented in docs/encoder.md.
"""

import argparse
import datetime
import hashlib
import os
import re
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python"))
from i2igalip import weights  # noqa: E402

CONVERTER_VERSION = 1
RESIZE_MODE = "bicubic-antialias-shorter-side+center-crop"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# Present in the published checkpoint, not used by the encoder:
#  - logit_scale: the contrastive temperature (training only);
#  - the legacy BERT buffer position_ids (transformers < 4.31 saved it; it is
#    always 0..max_positions-1 and open_clip deletes it before loading);
#  - token_type_ids, a zero buffer some transformers versions save;
#  - logit_bias (SigLIP-style checkpoints).
IGNORED = ("logit_scale", "logit_bias", "text.transformer.embeddings.position_ids",
           "text.transformer.embeddings.token_type_ids")


class ConversionError(Exception):
    pass


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_state_dict(path):
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # a torch without weights_only
        sd = torch.load(path, map_location="cpu")
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not sd:
        raise ConversionError("%s: not an open_clip state dict" % path)
    if all(k.startswith("module.") for k in sd):  # saved from DistributedDataParallel
        sd = {k[len("module."):]: v for k, v in sd.items()}
    for k, v in sd.items():
        if not torch.is_tensor(v):
            raise ConversionError("%s: entry %r is a %s, not a tensor" % (path, k, type(v).__name__))
    return sd


def count_layers(sd, prefix):
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    ids = {int(m.group(1)) for m in (pat.match(k) for k in sd) if m}
    n = max(ids) + 1 if ids else 0
    if ids != set(range(n)):
        raise ConversionError("%s* layers are not numbered 0..%d: %s" % (prefix, n - 1, sorted(ids)))
    return n


def shape_of(sd, key):
    if key not in sd:
        raise ConversionError("missing tensor %r (needed to infer the architecture)" % key)
    return tuple(sd[key].shape)


def default_taps(depth):
    """BiomedCLIP/I2I-Galip: blocks 2, 5, 8, 11 of 12 -- the last of each quarter."""
    if depth % 4 == 0:
        q = depth // 4
        return [q * k - 1 for k in range(1, 5)]
    return [depth - 1]


def infer_architecture(sd, opt):
    a = {}
    c, ci, p, p2 = shape_of(sd, "visual.trunk.patch_embed.proj.weight")
    if ci != 3 or p != p2:
        raise ConversionError("visual.trunk.patch_embed.proj.weight: shape %s, expected Cx3xPxP"
                              % ((c, ci, p, p2),))
    npos = shape_of(sd, "visual.trunk.pos_embed")[1]
    grid = int(round((npos - 1) ** 0.5))
    if grid * grid + 1 != npos:
        raise ConversionError("visual.trunk.pos_embed: %d positions is not 1 + a square" % npos)
    a["vision.image_size"] = grid * p
    a["vision.patch_size"] = p
    a["vision.width"] = c
    a["vision.depth"] = count_layers(sd, "visual.trunk.blocks.")
    a["vision.heads"] = opt.vision_heads or c // 64
    a["vision.mlp_dim"] = shape_of(sd, "visual.trunk.blocks.0.mlp.fc1.weight")[0]
    a["vision.ln_eps"] = float(opt.vision_ln_eps)
    taps = opt.taps if opt.taps is not None else default_taps(a["vision.depth"])
    a["vision.taps"] = weights.IntArray(taps)
    a["vision.n_cls"] = opt.n_cls if opt.n_cls is not None else min(4, a["vision.depth"])
    a["encoder.embed_dim"] = shape_of(sd, "visual.head.proj.weight")[0]

    e = "text.transformer.embeddings."
    vocab, t = shape_of(sd, e + "word_embeddings.weight")
    a["text.context_length"] = opt.context_length
    a["text.width"] = t
    a["text.depth"] = count_layers(sd, "text.transformer.encoder.layer.")
    a["text.heads"] = opt.text_heads or t // 64
    a["text.mlp_dim"] = shape_of(sd, "text.transformer.encoder.layer.0.intermediate.dense.weight")[0]
    a["text.ln_eps"] = float(opt.text_ln_eps)
    a["text.max_positions"] = shape_of(sd, e + "position_embeddings.weight")[0]
    a["text.type_vocab"] = shape_of(sd, e + "token_type_embeddings.weight")[0]
    a["text.proj_hidden"] = shape_of(sd, "text.proj.0.weight")[0]
    a["text.pad_id"] = opt.pad_id
    a["_vocab_rows"] = vocab

    for key, val in a.items():
        if key.endswith(("width", "depth", "heads", "mlp_dim", "image_size", "embed_dim",
                         "max_positions", "type_vocab", "proj_hidden")) and val < 1:
            raise ConversionError("%s = %d" % (key, val))
    if a["vision.width"] % a["vision.heads"] or a["text.width"] % a["text.heads"]:
        raise ConversionError("width not a multiple of the head count (vision %d/%d, text %d/%d)"
                              % (a["vision.width"], a["vision.heads"], a["text.width"],
                                 a["text.heads"]))
    if not all(0 <= b < a["vision.depth"] for b in taps) or not 1 <= len(taps) <= 8:
        raise ConversionError("taps %s: 1..8 blocks of 0..%d" % (taps, a["vision.depth"] - 1))
    if not 1 <= a["vision.n_cls"] <= a["vision.depth"]:
        raise ConversionError("n_cls %d outside 1..%d" % (a["vision.n_cls"], a["vision.depth"]))
    if not 2 <= a["text.context_length"] <= a["text.max_positions"]:
        raise ConversionError("context length %d outside 2..%d (the position table)"
                              % (a["text.context_length"], a["text.max_positions"]))
    return a


def expected_shapes(a):
    """Every tensor the encoder reads, name -> shape, in file order."""
    c, m, p = a["vision.width"], a["vision.mlp_dim"], a["vision.patch_size"]
    tokens = (a["vision.image_size"] // p) ** 2
    s = {
        "visual.trunk.cls_token": (1, 1, c),
        "visual.trunk.pos_embed": (1, tokens + 1, c),
        "visual.trunk.patch_embed.proj.weight": (c, 3, p, p),
        "visual.trunk.patch_embed.proj.bias": (c,),
    }
    for i in range(a["vision.depth"]):
        b = "visual.trunk.blocks.%d." % i
        s.update({
            b + "norm1.weight": (c,), b + "norm1.bias": (c,),
            b + "attn.qkv.weight": (3 * c, c), b + "attn.qkv.bias": (3 * c,),
            b + "attn.proj.weight": (c, c), b + "attn.proj.bias": (c,),
            b + "norm2.weight": (c,), b + "norm2.bias": (c,),
            b + "mlp.fc1.weight": (m, c), b + "mlp.fc1.bias": (m,),
            b + "mlp.fc2.weight": (c, m), b + "mlp.fc2.bias": (c,),
        })
    s["visual.trunk.norm.weight"] = (c,)
    s["visual.trunk.norm.bias"] = (c,)
    s["visual.head.proj.weight"] = (a["encoder.embed_dim"], c)

    t, tm = a["text.width"], a["text.mlp_dim"]
    e = "text.transformer.embeddings."
    s.update({
        e + "word_embeddings.weight": (a["_vocab_rows"], t),
        e + "position_embeddings.weight": (a["text.max_positions"], t),
        e + "token_type_embeddings.weight": (a["text.type_vocab"], t),
        e + "LayerNorm.weight": (t,), e + "LayerNorm.bias": (t,),
    })
    for i in range(a["text.depth"]):
        l = "text.transformer.encoder.layer.%d." % i
        for part in ("query", "key", "value"):
            s[l + "attention.self.%s.weight" % part] = (t, t)
            s[l + "attention.self.%s.bias" % part] = (t,)
        s.update({
            l + "attention.output.dense.weight": (t, t), l + "attention.output.dense.bias": (t,),
            l + "attention.output.LayerNorm.weight": (t,),
            l + "attention.output.LayerNorm.bias": (t,),
            l + "intermediate.dense.weight": (tm, t), l + "intermediate.dense.bias": (tm,),
            l + "output.dense.weight": (t, tm), l + "output.dense.bias": (t,),
            l + "output.LayerNorm.weight": (t,), l + "output.LayerNorm.bias": (t,),
        })
    s["text.proj.0.weight"] = (a["text.proj_hidden"], t)
    s["text.proj.2.weight"] = (a["encoder.embed_dim"], a["text.proj_hidden"])
    return s


def check_keys(sd, want):
    missing = [k for k in want if k not in sd]
    unknown = sorted(k for k in sd if k not in want and k not in IGNORED)
    wrong = ["%s: %s, expected %s" % (k, "x".join(map(str, sd[k].shape)) or "scalar",
                                      "x".join(map(str, v)))
             for k, v in want.items() if k in sd and tuple(sd[k].shape) != v]
    problems = []
    if missing:
        problems.append("missing tensors (%d):\n  %s" % (len(missing), "\n  ".join(missing)))
    if unknown:
        problems.append("unknown tensors (%d):\n  %s" % (len(unknown), "\n  ".join(unknown)))
    if wrong:
        problems.append("wrong shapes (%d):\n  %s" % (len(wrong), "\n  ".join(wrong)))
    pid = sd.get("text.transformer.embeddings.position_ids")
    if pid is not None and not torch.equal(pid.reshape(-1).long(), torch.arange(pid.numel())):
        problems.append("text.transformer.embeddings.position_ids is not 0..n-1")
    tt = sd.get("text.transformer.embeddings.token_type_ids")
    if tt is not None and bool((tt != 0).any()):
        problems.append("text.transformer.embeddings.token_type_ids is not all zero")
    if problems:
        raise ConversionError("\n".join(problems))


def read_vocab(path, rows, pad_id):
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConversionError("%s: not UTF-8 (%s)" % (path, e))
    # HuggingFace's load_vocab: one token per line, trailing newline stripped.
    tokens = [t.rstrip("\n").rstrip("\r") for t in text.split("\n")]
    if tokens and tokens[-1] == "":
        tokens.pop()
    if len(tokens) != rows:
        raise ConversionError("%s has %d tokens, the word embeddings have %d rows"
                              % (path, len(tokens), rows))
    for special in ("[PAD]", "[UNK]", "[CLS]", "[SEP]"):
        if special not in tokens:
            raise ConversionError("%s: no %s token" % (path, special))
    if tokens[pad_id] != "[PAD]":
        raise ConversionError("%s: token %d is %r, the padding id must be [PAD]"
                              % (path, pad_id, tokens[pad_id]))
    return tokens


def build_date():
    """UTC date; SOURCE_DATE_EPOCH (reproducible builds) wins when set."""
    t = os.environ.get("SOURCE_DATE_EPOCH")
    ts = int(t) if t and t.isdigit() else time.time()
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def convert(ckpt, vocab_path, out, dtype="f32", opt=None):
    opt = opt or parse_args([ckpt, vocab_path, out])
    sd = load_state_dict(ckpt)
    arch = infer_architecture(sd, opt)
    want = expected_shapes(arch)
    check_keys(sd, want)
    vocab = read_vocab(vocab_path, arch["_vocab_rows"], arch["text.pad_id"])

    meta = {"model.kind": "encoder", "model.name": opt.name}
    meta.update({k: v for k, v in arch.items() if not k.startswith("_")})
    meta["text.vocab"] = weights.StringArray(vocab)
    meta["preprocess.mean"] = weights.FloatArray(CLIP_MEAN)
    meta["preprocess.std"] = weights.FloatArray(CLIP_STD)
    meta["preprocess.resize"] = RESIZE_MODE
    meta["provenance.source"] = os.path.basename(ckpt)
    meta["provenance.source_sha256"] = sha256_of(ckpt)
    meta["provenance.vocab"] = os.path.basename(vocab_path)
    meta["provenance.vocab_sha256"] = sha256_of(vocab_path)
    meta["provenance.converter"] = "biomedclip_to_i2ig.py %d" % CONVERTER_VERSION
    meta["provenance.date"] = build_date()
    meta["provenance.dtype"] = dtype

    tensors = {k: sd[k].detach().to(torch.float32).contiguous().numpy() for k in want}
    for k, v in tensors.items():
        if not np.isfinite(v).all():
            raise ConversionError("tensor %r holds NaN or infinite values" % k)
    weights.write(out, meta, tensors, dtypes={k: dtype for k in tensors})
    return meta


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint", help="open_clip_pytorch_model.bin")
    ap.add_argument("vocab", help="vocab.txt of the text tower's tokenizer")
    ap.add_argument("output", help="the .i2ig file to write")
    ap.add_argument("--dtype", choices=("f32", "f16"), default="f32",
                    help="stored element type of every tensor (default f32)")
    ap.add_argument("--context-length", type=int, default=256,
                    help="text tokens per prompt (BiomedCLIP: 256)")
    ap.add_argument("--vision-heads", type=int, default=0, help="default: width / 64")
    ap.add_argument("--text-heads", type=int, default=0, help="default: width / 64")
    ap.add_argument("--vision-ln-eps", type=float, default=1e-6, help="timm ViT: 1e-6")
    ap.add_argument("--text-ln-eps", type=float, default=1e-12, help="BERT: 1e-12")
    ap.add_argument("--taps", type=lambda s: [int(x) for x in s.split(",")], default=None,
                    help="tapped blocks, comma-separated (default: 2,5,8,11 for 12 blocks)")
    ap.add_argument("--n-cls", type=int, default=None,
                    help="class tokens of the last N blocks (default 4)")
    ap.add_argument("--pad-id", type=int, default=0, help="BERT pad_token_id (0)")
    ap.add_argument("--name", default="BiomedCLIP-PubMedBERT_256-vit_base_patch16_224",
                    help="model.name recorded in the file (information only)")
    return ap.parse_args(argv)


def main(argv=None):
    opt = parse_args(argv)
    try:
        meta = convert(opt.checkpoint, opt.vocab, opt.output, opt.dtype, opt)
    except (ConversionError, OSError) as e:
        print("biomedclip_to_i2ig: %s" % e, file=sys.stderr)
        return 1
    print("wrote %s: vision %dx%d/%d, %d blocks; text %d layers, %d tokens; %s"
          % (opt.output, meta["vision.image_size"], meta["vision.image_size"],
             meta["vision.patch_size"], meta["vision.depth"], meta["text.depth"],
             len(meta["text.vocab"]), opt.dtype))
    return 0


if __name__ == "__main__":
    sys.exit(main())
