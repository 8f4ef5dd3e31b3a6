#!/usr/bin/python3
"""Converts a generator trained with the reference I2I-Galip code into an .i2ig model.

    /usr/bin/python3 tools/convert/i2igalip_to_i2ig.py results/ixi/epoch_ema95 \\
        --encoder biomedclip.i2ig -o ixi-t1-t2-pd.i2ig \\
        --domain T1 --percentile 0.5 99.5 0 255 \\
        --domain T2 --percentile 0.5 99.5 0 255 \\
        --domain PD --percentile 0.5 99.5 0 255

The reference train.py saves plain state dicts of its UNetModel,
``torch.save(generator.state_dict(), "epoch_N")`` and
``torch.save(ema_model.model.state_dict(), "epoch_emaN")``; either or both can be
given (positionally, recognised by those names, or with --ema / --raw). The EMA
weights are converted unless --weights raw says otherwise. Every tensor maps one
to one to "unet.<reference key>"; a missing, unknown or wrongly shaped tensor
stops the conversion with the complete list. The architecture is read from the
tensor shapes; what they cannot tell (the attention head width) comes from
train.py's defaults or from the options, and options that contradict the shapes
are refused.

Each domain is named on the command line (--domain NAME followed by its
--prompt, --label and one intensity mapping, --window or --percentile). Prompt
and label default to the reference's for its domain names (T1, T2, PD, Flair,
ct, mri). Each prompt's token states and text embedding are computed with the
text tower of a converted BiomedCLIP file (--encoder, made by
biomedclip_to_i2ig.py) through libi2igalip, so the model is self-contained.
Finally the written file is loaded back with i2ig_generator_load().

Needs torch and numpy (Debian's /usr/bin/python3), libi2igalip (found as
bindings/python/i2igalip/capi.py finds it: $I2IG_LIBRARY, pkg-config, ./build)
and the pure-Python weight-file writer. See docs/convert.md.
"""

import argparse
import collections
import ctypes
import datetime
import hashlib
import math
import os
import re
import sys
import time
import zipfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python"))
from i2igalip import weights  # noqa: E402

CONVERTER_VERSION = 1
PROG = "i2igalip_to_i2ig"

# train.py's defaults for what the tensor shapes cannot tell.
TRAIN_DEFAULTS = dict(in_channels=1, out_channels=1, model_channels=32,
                      channel_mult=[1, 1, 2, 2, 4, 4], num_res_blocks=2,
                      attention_resolutions=[8, 16, 32], num_head_channels=32,
                      context_dim=768, num_classes=3)
# Fixed by the reference code (GroupNorm32, Normalize, nn.LayerNorm defaults).
GROUPS, GN_EPS, ST_GN_EPS, LN_EPS = 32, 1e-5, 1e-6, 1e-5
# libi2igalip's limits (lib/generator/unet.c, ig_unet_check_cfg).
MAX_LEVELS = 8

# The reference's prompts and labels (data/singlecoil_data.py: training
# prompts "this MRI is <contrast>-weighted" with T1=0, T2=1, anything else 2;
# pelvis "this is pelvis <contrast>" with ct=0, mri=1).
REFERENCE_DOMAINS = {
    "T1": ("this MRI is T1-weighted", 0),
    "T2": ("this MRI is T2-weighted", 1),
    "PD": ("this MRI is PD-weighted", 2),
    "Flair": ("this MRI is Flair-weighted", 2),
    "ct": ("this is pelvis ct", 0),
    "mri": ("this is pelvis mri", 1),
}

UNET_ROOTS = ("label_emb.", "input_blocks.", "middle_block.", "output_blocks.", "out.")
# Prefixes wrappers add to every key: DataParallel / DistributedDataParallel
# ("module.") and torch.compile ("_orig_mod.").
WRAPPER_PREFIXES = ("module.", "_orig_mod.")


class ConversionError(Exception):
    pass


# ---- reading the checkpoint -----------------------------------------------------------

def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _describe(obj):
    if torch.is_tensor(obj):
        return "a single tensor of shape %s" % "x".join(map(str, obj.shape))
    if isinstance(obj, (list, tuple)):
        return "a %s of %d items" % (type(obj).__name__, len(obj))
    return "a %s object" % type(obj).__name__


def _list_keys(keys, n=6):
    keys = list(keys)
    shown = ", ".join(repr(k) for k in keys[:n])
    return shown + (", ... (%d keys)" % len(keys) if len(keys) > n else "")


def load_checkpoint(path):
    """The state dict in a reference checkpoint, as an ordered dict of tensors.
    Returns (state dict, notes) where notes lists what was adapted."""
    if not os.path.isfile(path):
        raise ConversionError("%s: no such file" % path)
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89I2IG"):
        raise ConversionError("%s is already an .i2ig weight file" % path)
    try:
        # weights_only: a checkpoint is data; never run code from a pickle.
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # a torch older than 1.13
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 -- torch raises many kinds here
        cls = re.search(r"Unsupported class ([\w.]+)", str(e))
        if cls:
            raise ConversionError(
                "%s holds a pickled %s object, not a plain state dict. train.py saves "
                "generator.state_dict(); load the object in the reference code and save its "
                "state_dict() (this converter never runs code from a pickle)" % (path, cls.group(1)))
        detail = re.search(r"Unpickler error: (.*)", str(e))
        msg = detail.group(1) if detail else (str(e).strip() or type(e).__name__)
        if zipfile.is_zipfile(path):
            # torch.save's format, holding more than tensors and containers
            # (an optimizer's float hyper-parameters, custom objects, ...).
            raise ConversionError(
                "%s is a PyTorch file but not a plain state dict of tensors (%s); train.py "
                "saves generator.state_dict()" % (path, msg[-200:]))
        raise ConversionError("%s: not a PyTorch checkpoint (%s)" % (path, msg[-200:]))
    notes = []
    if not isinstance(obj, dict):
        raise ConversionError("%s holds %s, not a state dict (a dict of tensors, as train.py "
                              "saves with torch.save(generator.state_dict(), ...))"
                              % (path, _describe(obj)))
    if not obj:
        raise ConversionError("%s holds an empty dict, not a generator state dict" % path)
    if "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
        notes.append("took the 'state_dict' entry")
    if "state" in obj and "param_groups" in obj:
        raise ConversionError("%s is an optimizer state dict (keys 'state', 'param_groups'), "
                              "not the generator's" % path)
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not torch.is_tensor(v)]
    if bad:
        what = ", ".join("%r: %s" % (k, _describe(obj[k])) for k in bad[:6])
        nested = [k for k in bad if isinstance(obj[k], dict)]
        hint = (" (a training checkpoint holding several state dicts? nested dicts: %s)"
                % _list_keys(nested)) if nested else ""
        raise ConversionError("%s: not a state dict of tensors: %s%s" % (path, what, hint))
    sd = collections.OrderedDict(obj)
    for prefix in WRAPPER_PREFIXES:
        if sd and all(k.startswith(prefix) for k in sd):
            sd = collections.OrderedDict((k[len(prefix):], v) for k, v in sd.items())
            notes.append("removed the '%s' prefix of every key" % prefix)
    identify(sd, path)
    return sd, notes


def identify(sd, path):
    """Refuses state dicts of other models with a message naming what they are."""
    keys = list(sd)
    unet = [k for k in keys if k.startswith(UNET_ROOTS)]
    if unet:
        return
    if any(k.startswith(("heads.", "feat_modulator.")) for k in keys):
        raise ConversionError(
            "%s is a discriminator state dict (ProjectedDiscriminator: %s), not the generator. "
            "train.py saves the generator as epoch_N and its EMA as epoch_emaN" % (path, _list_keys(keys, 3)))
    if any(k.startswith(("visual.", "text.")) for k in keys):
        raise ConversionError(
            "%s is a CLIP (open_clip / BiomedCLIP) checkpoint (%s), not the generator; convert it "
            "with biomedclip_to_i2ig.py and pass it as --encoder" % (path, _list_keys(keys, 3)))
    raise ConversionError("%s: no generator tensors (label_emb.*, input_blocks.*, middle_block.*, "
                          "output_blocks.*, out.*) among its %d entries: %s"
                          % (path, len(keys), _list_keys(keys)))


# ---- architecture ---------------------------------------------------------------------

def _indices(sd, root):
    pat = re.compile(re.escape(root) + r"(\d+)\.")
    return sorted({int(m.group(1)) for m in (pat.match(k) for k in sd) if m})


def _shape(sd, key):
    return tuple(sd[key].shape) if key in sd else None


def infer_architecture(sd):
    """What the tensor shapes say: a dict of the hyper-parameters found, and a
    dict saying which tensor each was read from."""
    found, source = {}, {}

    def put(name, value, key):
        found[name] = value
        source[name] = key

    s = _shape(sd, "input_blocks.0.0.weight")
    if s and len(s) == 4:
        put("model_channels", s[0], "input_blocks.0.0.weight")
        put("in_channels", s[1], "input_blocks.0.0.weight")
    s = _shape(sd, "out.2.weight")
    if s and len(s) == 4:
        put("out_channels", s[0], "out.2.weight")
    s = _shape(sd, "label_emb.weight")
    if s and len(s) == 2:
        put("num_classes", s[0], "label_emb.weight")
    for k in sd:
        if k.endswith("transformer_blocks.0.attn2.to_k.weight") and sd[k].dim() == 2:
            put("context_dim", sd[k].shape[1], k)
            break

    # Levels and blocks per level: the last output block of every level but
    # the first ends with an up-sampling ResBlock (output_blocks.J.1 or .2).
    n_out = len(_indices(sd, "output_blocks."))
    ups = sorted({int(m.group(1)) for m in
                  (re.match(r"output_blocks\.(\d+)\.([12])\.in_layers\.", k) for k in sd) if m})
    if ups:
        nrb = ups[0]
        if nrb >= 1 and n_out % (nrb + 1) == 0:
            levels = n_out // (nrb + 1)
            if ups == [nrb + j * (nrb + 1) for j in range(levels - 1)]:
                put("num_res_blocks", nrb, "output_blocks.%d (the first up-sampling block)" % nrb)
                found["_levels"] = levels
    elif n_out >= 2:
        put("num_res_blocks", n_out - 1, "output_blocks.* (one level)")
        found["_levels"] = 1
    if "_levels" in found and "model_channels" in found:
        nrb, mc = found["num_res_blocks"], found["model_channels"]
        mult, attn = [], []
        for level in range(found["_levels"]):
            first = 1 + level * (nrb + 1)
            key = "input_blocks.%d.0.out_layers.3.weight" % first
            s = _shape(sd, key)
            if not s or s[0] % mc:
                mult = None
                break
            mult.append(s[0] // mc)
            if "input_blocks.%d.1.norm.weight" % first in sd:
                attn.append(2 ** level)
        if mult:
            put("channel_mult", mult, "input_blocks.*.0.out_layers.3.weight")
            put("attention_resolutions", attn, "input_blocks.*.1 (SpatialTransformer)")
    found.pop("_levels", None)
    return found, source


def unsupported_options(sd):
    """Reference options this library does not implement, recognised by
    their tensors (each changes the network, not just its size)."""
    hints = []
    ks = list(sd)
    if any(k.endswith(("running_mean", "running_var", "num_batches_tracked")) for k in ks):
        hints.append("norm_type 'batchnorm' (running statistics such as %r): only GroupNorm "
                     "(the default 'groupnorm') is implemented"
                     % next(k for k in ks if k.endswith(("running_mean", "running_var",
                                                         "num_batches_tracked"))))
    d = [k for k in ks if re.search(r"^(input|output)_blocks\.\d+\.\d+\.(op|conv)\.weight$", k)]
    if d:
        hints.append("resblock_updown=False (stand-alone down/up-sampling convolutions such as "
                     "%r): only ResBlock up/down-sampling (train.py's default) is implemented" % d[0])
    if any(".transformer_blocks.1." in k for k in ks):
        hints.append("transformer_depth > 1 (%r): only depth 1 is implemented"
                     % next(k for k in ks if ".transformer_blocks.1." in k))
    q = [k for k in ks if k.endswith(".qkv.weight")]
    if q:
        hints.append("use_spatial_transformer=False (self-attention blocks such as %r): the "
                     "generator needs the cross-attention SpatialTransformer" % q[0])
    for k in ks:
        m = re.match(r"(.*)\.emb_layers\.1\.weight$", k)
        if m and (m.group(1) + ".out_layers.3.weight") in sd and sd[k].dim() == 2 and \
                sd[k].shape[0] == 2 * sd[m.group(1) + ".out_layers.3.weight"].shape[0]:
            hints.append("use_scale_shift_norm=True (%r has twice the channels): only the "
                         "additive label embedding (the default) is implemented" % k)
            break
    if any(k.startswith("id_predictor.") for k in ks):
        hints.append("n_embed (an id_predictor head): not part of I2I-Galip")
    return hints


def resolve_architecture(sd, explicit, source_name):
    """Hyper-parameters: shapes first, explicit options checked against them,
    train.py's defaults for the rest. Returns (arch, origin)."""
    found, where = infer_architecture(sd)
    arch, origin, conflicts = {}, {}, []
    for name, default in TRAIN_DEFAULTS.items():
        given = explicit.get(name)
        if name in found:
            arch[name], origin[name] = found[name], "checkpoint"
            if given is not None and given != found[name]:
                conflicts.append("--%s %s, but %s says %s (%s)"
                                 % (name.replace("_", "-"), _fmt(given), source_name,
                                    _fmt(found[name]), where[name]))
        elif given is not None:
            arch[name], origin[name] = given, "option"
        else:
            arch[name], origin[name] = default, "train.py default"
    if explicit.get("num_heads") is not None:
        # train.py --num_heads N (with --num_head_channels -1): N heads at every
        # attention level; representable when that gives one head width.
        widths = {arch["model_channels"] * arch["channel_mult"][lv] // explicit["num_heads"]
                  for lv in range(len(arch["channel_mult"])) if 2 ** lv in arch["attention_resolutions"]}
        widths.add(arch["model_channels"] * arch["channel_mult"][-1] // explicit["num_heads"])
        if len(widths) != 1:
            raise ConversionError("--num-heads %d gives heads of %s channels at the attention "
                                  "levels; libi2igalip needs one head width"
                                  % (explicit["num_heads"], sorted(widths)))
        hw = widths.pop()
        if explicit.get("num_head_channels") not in (None, hw):
            raise ConversionError("--num-heads %d means heads of %d channels, not --num-head-"
                                  "channels %d" % (explicit["num_heads"], hw,
                                                   explicit["num_head_channels"]))
        arch["num_head_channels"], origin["num_head_channels"] = hw, "option (--num-heads)"
    if conflicts:
        raise ConversionError("options contradict the checkpoint:\n  " + "\n  ".join(conflicts))
    check_architecture(arch)
    return arch, origin


def _fmt(v):
    return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)


def check_architecture(a):
    problems = []
    if not 1 <= a["in_channels"] <= 16 or not 1 <= a["out_channels"] <= 16:
        problems.append("in/out channels %d/%d outside 1..16" % (a["in_channels"], a["out_channels"]))
    if not 1 <= len(a["channel_mult"]) <= MAX_LEVELS:
        problems.append("%d levels (1..%d)" % (len(a["channel_mult"]), MAX_LEVELS))
    if not 1 <= a["num_res_blocks"] <= 8:
        problems.append("num_res_blocks %d outside 1..8" % a["num_res_blocks"])
    if not 1 <= a["num_classes"] <= 1024:
        problems.append("num_classes %d outside 1..1024" % a["num_classes"])
    if not 1 <= a["context_dim"] <= 8192:
        problems.append("context_dim %d outside 1..8192" % a["context_dim"])
    mc = a["model_channels"]
    if not 1 <= mc <= 4096 or mc % GROUPS:
        problems.append("model_channels %d: must be a multiple of %d (GroupNorm32)" % (mc, GROUPS))
    levels = len(a["channel_mult"])
    for ds in a["attention_resolutions"]:
        if ds < 1 or ds & (ds - 1) or ds >= 2 ** levels:
            problems.append("attention at down-sampling factor %d: not one of the %d levels "
                            "(1..%d)" % (ds, levels, 2 ** (levels - 1)))
    hc = a["num_head_channels"]
    for lv, m in enumerate(a["channel_mult"]):
        if not 1 <= m <= 64:
            problems.append("channel_mult[%d] = %d outside 1..64" % (lv, m))
            continue
        ch = m * mc
        if (2 ** lv in a["attention_resolutions"] or lv == levels - 1) and (hc < 1 or ch % hc):
            problems.append("%d channels at level %d do not split into heads of %d" % (ch, lv, hc))
    if problems:
        raise ConversionError("unsupported architecture: " + "; ".join(problems))


def expected_shapes(a):
    """Every tensor of the reference UNetModel for these hyper-parameters, in
    the order of its state dict (networks/unet.py with resblock_updown=True,
    use_spatial_transformer=True, transformer depth 1, no scale-shift norm)."""
    mc, emb, ctx = a["model_channels"], 4 * a["model_channels"], a["context_dim"]
    mults, nrb, attn = a["channel_mult"], a["num_res_blocks"], set(a["attention_resolutions"])
    s = collections.OrderedDict()

    def res(p, cin, cout):
        s[p + ".in_layers.0.weight"] = (cin,)
        s[p + ".in_layers.0.bias"] = (cin,)
        s[p + ".in_layers.2.weight"] = (cout, cin, 3, 3)
        s[p + ".in_layers.2.bias"] = (cout,)
        s[p + ".emb_layers.1.weight"] = (cout, emb)
        s[p + ".emb_layers.1.bias"] = (cout,)
        s[p + ".out_layers.0.weight"] = (cout,)
        s[p + ".out_layers.0.bias"] = (cout,)
        s[p + ".out_layers.3.weight"] = (cout, cout, 3, 3)
        s[p + ".out_layers.3.bias"] = (cout,)
        if cin != cout:
            s[p + ".skip_connection.weight"] = (cout, cin, 1, 1)
            s[p + ".skip_connection.bias"] = (cout,)

    def st(p, ch):
        t = p + ".transformer_blocks.0."
        s[p + ".norm.weight"] = (ch,)
        s[p + ".norm.bias"] = (ch,)
        s[p + ".proj_in.weight"] = (ch, ch, 1, 1)
        s[p + ".proj_in.bias"] = (ch,)
        for which, kv in (("attn1", ch), ("ff", None), ("attn2", ctx)):
            if which == "ff":
                s[t + "ff.net.0.proj.weight"] = (8 * ch, ch)
                s[t + "ff.net.0.proj.bias"] = (8 * ch,)
                s[t + "ff.net.2.weight"] = (ch, 4 * ch)
                s[t + "ff.net.2.bias"] = (ch,)
                continue
            s[t + which + ".to_q.weight"] = (ch, ch)
            s[t + which + ".to_k.weight"] = (ch, kv)
            s[t + which + ".to_v.weight"] = (ch, kv)
            s[t + which + ".to_out.0.weight"] = (ch, ch)
            s[t + which + ".to_out.0.bias"] = (ch,)
        for i in (1, 2, 3):
            s[t + "norm%d.weight" % i] = (ch,)
            s[t + "norm%d.bias" % i] = (ch,)
        s[p + ".proj_out.weight"] = (ch, ch, 1, 1)
        s[p + ".proj_out.bias"] = (ch,)

    s["label_emb.weight"] = (a["num_classes"], emb)
    s["input_blocks.0.0.weight"] = (mc, a["in_channels"], 3, 3)
    s["input_blocks.0.0.bias"] = (mc,)
    chans, ch, ds, k = [mc], mc, 1, 1
    for level, mult in enumerate(mults):
        for _ in range(nrb):
            res("input_blocks.%d.0" % k, ch, mult * mc)
            ch = mult * mc
            if ds in attn:
                st("input_blocks.%d.1" % k, ch)
            chans.append(ch)
            k += 1
        if level != len(mults) - 1:
            res("input_blocks.%d.0" % k, ch, ch)
            chans.append(ch)
            k += 1
            ds *= 2
    res("middle_block.0", ch, ch)
    st("middle_block.1", ch)
    res("middle_block.2", ch, ch)
    j = 0
    for level in reversed(range(len(mults))):
        for i in range(nrb + 1):
            ich = chans.pop()
            res("output_blocks.%d.0" % j, ch + ich, mc * mults[level])
            ch = mc * mults[level]
            idx = 1
            if ds in attn:
                st("output_blocks.%d.1" % j, ch)
                idx = 2
            if level and i == nrb:
                res("output_blocks.%d.%d" % (j, idx), ch, ch)
                ds //= 2
            j += 1
    s["out.0.weight"] = (ch,)
    s["out.0.bias"] = (ch,)
    s["out.2.weight"] = (a["out_channels"], mc, 3, 3)
    s["out.2.bias"] = (a["out_channels"],)
    return s


def _shape_str(shape):
    return "x".join(map(str, shape)) if shape else "scalar"


def check_tensors(sd, want, source_name):
    missing = [k for k in want if k not in sd]
    unknown = [k for k in sd if k not in want]
    wrong = ["%s: %s, expected %s" % (k, _shape_str(tuple(sd[k].shape)), _shape_str(v))
             for k, v in want.items() if k in sd and tuple(sd[k].shape) != tuple(v)]
    types = ["%s: %s" % (k, str(sd[k].dtype).replace("torch.", ""))
             for k in want if k in sd and not sd[k].is_floating_point()]
    problems = []
    if missing:
        problems.append("missing tensors (%d):\n  %s" % (len(missing), "\n  ".join(missing)))
    if unknown:
        problems.append("unknown tensors (%d):\n  %s" % (len(unknown), "\n  ".join(unknown)))
    if wrong:
        problems.append("wrong shapes (%d):\n  %s" % (len(wrong), "\n  ".join(wrong)))
    if types:
        problems.append("not floating point (%d):\n  %s" % (len(types), "\n  ".join(types)))
    if problems:
        hints = unsupported_options(sd)
        if hints:
            problems.append("the checkpoint looks trained with options libi2igalip does not "
                            "implement:\n  " + "\n  ".join(hints))
        raise ConversionError("%s does not match the I2I-Galip generator:\n%s"
                              % (source_name, "\n".join(problems)))
    for k in want:
        if not bool(torch.isfinite(sd[k]).all()):
            raise ConversionError("%s: tensor %r holds NaN or infinite values" % (source_name, k))


def dtype_summary(sd, keys):
    names = {str(sd[k].dtype).replace("torch.", "") for k in keys}
    short = {"float32": "f32", "float16": "f16", "bfloat16": "bf16", "float64": "f64"}
    return "+".join(sorted(short.get(n, n) for n in names))


# ---- encoder (libi2igalip through ctypes) -----------------------------------------------

class EncoderInfo(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t)] + [
        (n, ctypes.c_int) for n in ("image_size", "patch_size", "vision_width", "vision_depth",
                                    "vision_heads", "tokens", "embed_dim", "n_taps")] + [
        ("taps", ctypes.c_int * 8)] + [
        (n, ctypes.c_int) for n in ("n_cls", "context_length", "text_width", "text_depth",
                                    "vocab_size")]


def _library():
    from i2igalip import capi  # finds and loads libi2igalip
    lib, vp, fp = capi.lib, ctypes.c_void_p, ctypes.POINTER(ctypes.c_float)
    decls = {
        "i2ig_encoder_load": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(vp)]),
        "i2ig_encoder_free": (None, [vp]),
        "i2ig_encoder_get_info": (ctypes.c_int, [vp, ctypes.POINTER(EncoderInfo)]),
        "i2ig_encoder_encode_text": (ctypes.c_int, [vp, ctypes.c_char_p, fp, fp]),
    }
    for name, (res, args) in decls.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    return capi


def _capi_error(capi, what):
    return ConversionError("%s: %s" % (what, capi.lib.i2ig_last_error().decode("utf-8", "replace")))


def encode_prompts(encoder_path, prompts, context_dim, source_name):
    """{prompt: (context L x W float32, embedding E float32)} from the
    encoder's text tower."""
    capi = _library()
    lib = capi.lib
    h = ctypes.c_void_p()
    if lib.i2ig_encoder_load(encoder_path.encode(), ctypes.byref(h)) != 0:
        raise _capi_error(capi, "cannot load the encoder %s" % encoder_path)
    try:
        info = EncoderInfo()
        info.struct_size = ctypes.sizeof(info)
        if lib.i2ig_encoder_get_info(h, ctypes.byref(info)) != 0:
            raise _capi_error(capi, encoder_path)
        if info.text_width != context_dim:
            raise ConversionError(
                "the encoder %s has a %d-wide text tower, but the generator in %s cross-attends "
                "to %d-wide prompt tokens (attn2.to_k/to_v weights); use the encoder the model "
                "was trained with" % (encoder_path, info.text_width, source_name, context_dim))
        out = {}
        fp = ctypes.POINTER(ctypes.c_float)
        for p in prompts:
            ctx = np.zeros((info.context_length, info.text_width), np.float32)
            emb = np.zeros(info.embed_dim, np.float32)
            if lib.i2ig_encoder_encode_text(h, p.encode("utf-8"), ctx.ctypes.data_as(fp),
                                            emb.ctypes.data_as(fp)) != 0:
                raise ConversionError("cannot encode the prompt %r: %s" % (
                    p, lib.i2ig_last_error().decode("utf-8", "replace")))
            out[p] = (ctx, emb)
        return out, info
    finally:
        lib.i2ig_encoder_free(h)


def verify_model(path, n_params, domains):
    """Loads the written model with the C library: what i2ig translate does."""
    capi = _library()
    h = ctypes.c_void_p()
    if capi.lib.i2ig_generator_load(path.encode(), ctypes.byref(h)) != 0:
        raise _capi_error(capi, "the written model does not load")
    try:
        got = capi.lib.i2ig_generator_parameter_count(h)
        if got != n_params:
            raise ConversionError("the written model has %d parameters, the checkpoint %d"
                                  % (got, n_params))
        names = [capi.lib.i2ig_generator_domain_name(h, i).decode()
                 for i in range(capi.lib.i2ig_generator_domain_count(h))]
        if names != [d["name"] for d in domains]:
            raise ConversionError("the written model has domains %s" % names)
    finally:
        capi.lib.i2ig_generator_free(h)


# ---- domains ---------------------------------------------------------------------------

def check_domains(domains, num_classes):
    if not domains:
        raise ConversionError("no domains: name each with --domain NAME and its mapping "
                              "(--window LO HI or --percentile PLO PHI LO HI)")
    seen = set()
    for d in domains:
        name = d["name"]
        if not (1 <= len(name) <= 64 and all(33 <= ord(c) <= 126 for c in name)):
            raise ConversionError("domain name %r: 1..64 printable ASCII characters without "
                                  "spaces" % name)
        if name in seen:
            raise ConversionError("domain %r given twice" % name)
        seen.add(name)
        ref = REFERENCE_DOMAINS.get(name)
        if d.get("prompt") is None:
            if not ref:
                raise ConversionError("domain %r: give its --prompt (defaults exist only for the "
                                      "reference's %s)" % (name, ", ".join(REFERENCE_DOMAINS)))
            d["prompt"] = ref[0]
        if d.get("label") is None:
            if not ref:
                raise ConversionError("domain %r: give its --label" % name)
            d["label"] = ref[1]
        if not 0 <= d["label"] < num_classes:
            raise ConversionError("domain %r: label %d outside 0..%d (the checkpoint has %d "
                                  "label embeddings)" % (name, d["label"], num_classes - 1,
                                                         num_classes))
        m = d.get("mapping")
        if m is None:
            raise ConversionError("domain %r: give its intensity mapping, --window LO HI or "
                                  "--percentile PLO PHI LO HI" % name)
        kind, lo, hi, plo, phi = m
        if not all(math.isfinite(v) for v in (lo, hi, plo, phi)) or not hi > lo:
            raise ConversionError("domain %r: the mapping needs finite LO < HI (got %g, %g)"
                                  % (name, lo, hi))
        if kind == "percentile" and not 0 <= plo < phi <= 100:
            raise ConversionError("domain %r: percentiles must satisfy 0 <= PLO < PHI <= 100 "
                                  "(got %g, %g)" % (name, plo, phi))
        try:
            d["prompt"].encode("utf-8")
        except UnicodeEncodeError:
            raise ConversionError("domain %r: the prompt is not valid text" % name)


# ---- conversion ------------------------------------------------------------------------

def build_date():
    """UTC date; SOURCE_DATE_EPOCH (reproducible builds) wins when set."""
    t = os.environ.get("SOURCE_DATE_EPOCH")
    ts = int(t) if t and t.isdigit() else time.time()
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def classify_inputs(opt):
    """{'ema': path, 'raw': path} from the positional files (by the names
    train.py gives them) and --ema / --raw."""
    files = {}
    if opt.ema:
        files["ema"] = opt.ema
    if opt.raw:
        files["raw"] = opt.raw
    unnamed = []
    for p in opt.checkpoints:
        base = os.path.basename(p)
        kind = "ema" if re.fullmatch(r"epoch_ema\d+", base) else \
            "raw" if re.fullmatch(r"epoch_\d+", base) else None
        if kind is None:
            unnamed.append(p)
        elif kind in files:
            raise ConversionError("two %s checkpoints: %s and %s" % (kind, files[kind], p))
        else:
            files[kind] = p
    if len(unnamed) > 1 or (unnamed and files):
        raise ConversionError("cannot tell which of %s holds the EMA weights: name them with "
                              "--ema FILE and --raw FILE" % ", ".join(opt.checkpoints))
    if unnamed:
        files[opt.weights or "ema"] = unnamed[0]
    if not files:
        raise ConversionError("no checkpoint given")
    which = opt.weights
    if which is None:
        if "ema" not in files:
            raise ConversionError(
                "only the raw (trained) weights were given (%s); inference should use the EMA "
                "weights train.py saves next to them as epoch_emaN. Give that file, or pass "
                "--weights raw to convert the raw ones" % files["raw"])
        which = "ema"
    if which not in files:
        raise ConversionError("--weights %s, but no %s checkpoint was given" % (which, which))
    return files, which


def convert(opt):
    files, which = classify_inputs(opt)
    loaded = {}
    for kind, path in files.items():
        loaded[kind] = load_checkpoint(path)
    sd, notes = loaded[which]
    src = files[which]
    explicit = {k: getattr(opt, k) for k in list(TRAIN_DEFAULTS) + ["num_heads"]}
    arch, origin = resolve_architecture(sd, explicit, src)
    want = expected_shapes(arch)
    check_tensors(sd, want, src)
    for kind, (other, _) in loaded.items():
        if kind == which:
            continue
        try:
            check_tensors(other, want, files[kind])
        except ConversionError as e:
            raise ConversionError("the %s and %s checkpoints are not the same model: %s"
                                  % (which, kind, e))
    check_domains(opt.domains, arch["num_classes"])
    encoded, einfo = encode_prompts(opt.encoder, sorted({d["prompt"] for d in opt.domains}),
                                    arch["context_dim"], src)

    meta = collections.OrderedDict()
    meta["model.kind"] = "generator"
    meta["generator.weights"] = which
    meta["generator.in_channels"] = arch["in_channels"]
    meta["generator.out_channels"] = arch["out_channels"]
    meta["generator.model_channels"] = arch["model_channels"]
    meta["generator.channel_mult"] = weights.IntArray(arch["channel_mult"])
    meta["generator.num_res_blocks"] = arch["num_res_blocks"]
    meta["generator.attention_ds"] = weights.IntArray(arch["attention_resolutions"])
    meta["generator.head_channels"] = arch["num_head_channels"]
    meta["generator.context_dim"] = arch["context_dim"]
    meta["generator.num_classes"] = arch["num_classes"]
    meta["generator.groups"] = GROUPS
    meta["generator.gn_eps"] = GN_EPS
    meta["generator.st_gn_eps"] = ST_GN_EPS
    meta["generator.ln_eps"] = LN_EPS
    ds = opt.domains
    meta["domains.names"] = weights.StringArray([d["name"] for d in ds])
    meta["domains.prompts"] = weights.StringArray([d["prompt"] for d in ds])
    meta["domains.labels"] = weights.IntArray([d["label"] for d in ds])
    meta["domains.mapping"] = weights.StringArray([d["mapping"][0] for d in ds])
    for i, key in enumerate(("lo", "hi", "p_lo", "p_hi")):
        meta["domains." + key] = weights.FloatArray([float(d["mapping"][1 + i]) for d in ds])
    meta["provenance.source"] = os.path.basename(src)
    meta["provenance.source_sha256"] = sha256_of(src)
    meta["provenance.source_format"] = "I2I-Galip train.py UNetModel state dict"
    meta["provenance.source_dtype"] = dtype_summary(sd, want)
    for kind in ("ema", "raw"):
        if kind in files:
            meta["provenance.%s_file" % kind] = os.path.basename(files[kind])
            meta["provenance.%s_sha256" % kind] = sha256_of(files[kind])
    if notes:
        meta["provenance.adapted"] = "; ".join(notes)
    meta["provenance.head_channels"] = origin["num_head_channels"]
    meta["provenance.encoder"] = os.path.basename(opt.encoder)
    meta["provenance.encoder_sha256"] = sha256_of(opt.encoder)
    meta["provenance.converter"] = "%s.py %d" % (PROG, CONVERTER_VERSION)
    meta["provenance.date"] = build_date()

    tensors = collections.OrderedDict()
    for k in want:
        tensors["unet." + k] = sd[k].detach().to(torch.float32).contiguous().numpy()
    for d in ds:
        ctx, emb = encoded[d["prompt"]]
        tensors["domains.%s.context" % d["name"]] = ctx
        tensors["domains.%s.text_embedding" % d["name"]] = emb
    dtypes = {k: (opt.dtype if k.startswith("unet.") else "f32") for k in tensors}
    weights.write(opt.output, meta, tensors, dtypes)
    n_params = sum(int(np.prod(v)) for v in want.values())
    if not opt.no_verify:
        try:
            verify_model(opt.output, n_params, ds)
        except ConversionError:
            os.unlink(opt.output)
            raise
    return dict(arch=arch, origin=origin, which=which, source=src, notes=notes,
                n_params=n_params, domains=ds, encoder=einfo)


# ---- command line ----------------------------------------------------------------------

class _DomainAction(argparse.Action):
    """--domain starts a domain; --prompt, --label, --window, --percentile
    fill in the one named last."""

    def __call__(self, parser, ns, values, option_string=None):
        domains = getattr(ns, "domains", None)
        if domains is None:
            domains = []
            setattr(ns, "domains", domains)
        if self.dest == "domain":
            domains.append({"name": values})
            return
        if not domains:
            parser.error("%s must follow a --domain NAME" % option_string)
        d = domains[-1]
        if self.dest in ("window", "percentile") and "mapping" in d:
            parser.error("domain %r: one mapping only" % d["name"])
        if self.dest in d:
            parser.error("domain %r: %s given twice" % (d["name"], option_string))
        if self.dest == "window":
            d["mapping"] = ("window", values[0], values[1], 0.0, 100.0)
        elif self.dest == "percentile":
            d["mapping"] = ("percentile", values[2], values[3], values[0], values[1])
        else:
            d[self.dest] = values


def _int_list(s):
    try:
        return [int(x) for x in s.split(",") if x.strip() != ""]
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a comma-separated list of integers" % s)


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog=PROG + ".py", description=__doc__.split("\n")[0],
        epilog="Hyper-parameter options take train.py's names (--channel_mult 1,1,2,2,4,4 and "
               "--channel-mult 1,1,2,2,4,4 both work). See docs/convert.md.")
    ap.add_argument("checkpoints", nargs="*", metavar="CHECKPOINT",
                    help="epoch_emaN and/or epoch_N written by train.py")
    ap.add_argument("--ema", help="the EMA state dict (train.py: epoch_emaN)")
    ap.add_argument("--raw", help="the trained state dict (train.py: epoch_N)")
    ap.add_argument("--weights", choices=("ema", "raw"), default=None,
                    help="which weights to convert (default: ema)")
    ap.add_argument("--encoder", required=True,
                    help="BiomedCLIP .i2ig file (biomedclip_to_i2ig.py) whose text tower encodes "
                         "the prompts")
    ap.add_argument("-o", "--output", required=True, help="the .i2ig model to write")
    ap.add_argument("--dtype", choices=("f32", "f16", "bf16"), default="f32",
                    help="stored element type of the U-Net weights (default f32; prompt "
                         "contexts stay f32)")
    ap.add_argument("--no-verify", action="store_true",
                    help="skip loading the written file back with libi2igalip")
    g = ap.add_argument_group("domains (repeat --domain for each; the options after it "
                              "describe it)")
    g.add_argument("--domain", action=_DomainAction, metavar="NAME", dest="domain",
                   help="starts a domain: its name, used by i2ig translate --from/--to")
    g.add_argument("--prompt", action=_DomainAction, dest="prompt",
                   help="the text prompt it was trained with (default for T1/T2/PD/Flair/ct/mri: "
                        "the reference's)")
    g.add_argument("--label", action=_DomainAction, type=int, dest="label",
                   help="its class label, the label-embedding row (reference: T1=0, T2=1, "
                        "PD/Flair=2; pelvis ct=0, mri=1)")
    g.add_argument("--window", action=_DomainAction, nargs=2, type=float, metavar=("LO", "HI"),
                   dest="window", help="fixed window: LO..HI <-> [0,1] (e.g. CT in HU)")
    g.add_argument("--percentile", action=_DomainAction, nargs=4, type=float,
                   metavar=("PLO", "PHI", "LO", "HI"), dest="percentile",
                   help="per-slice percentiles PLO..PHI -> [0,1]; output [0,1] -> LO..HI")
    h = ap.add_argument_group("hyper-parameters (read from the checkpoint where its shapes "
                              "tell them; given ones are checked against it)")
    for name, typ, what in (
            ("in_channels", int, "image channels in (1)"),
            ("out_channels", int, "image channels out (1)"),
            ("model_channels", int, "base channels (32)"),
            ("channel_mult", _int_list, "channel multipliers per level (1,1,2,2,4,4)"),
            ("num_res_blocks", int, "ResBlocks per level (2)"),
            ("attention_resolutions", _int_list,
             "down-sampling factors with a SpatialTransformer (8,16,32)"),
            ("num_head_channels", int,
             "channels per attention head (32); NOT visible in the checkpoint"),
            ("num_heads", int, "train.py --num_heads (heads per level) instead of "
                               "--num_head_channels"),
            ("context_dim", int, "prompt token width (768)"),
            ("num_classes", int, "label embeddings (3)")):
        h.add_argument("--" + name.replace("_", "-"), "--" + name, dest=name, type=typ,
                       default=None, help=what)
    opt = ap.parse_args(argv)
    opt.domains = getattr(opt, "domains", None) or []
    return opt


def main(argv=None):
    opt = parse_args(argv)
    try:
        r = convert(opt)
    except (ConversionError, OSError) as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 1
    a = r["arch"]
    print("wrote %s from %s (%s weights): %d parameters" % (opt.output, r["source"], r["which"],
                                                            r["n_params"]))
    for note in r["notes"]:
        print("  note: %s" % note)
    print("  model_channels %d, channel_mult %s, num_res_blocks %d, attention at %s, "
          "context_dim %d, num_classes %d, in/out %d/%d"
          % (a["model_channels"], _fmt(a["channel_mult"]), a["num_res_blocks"],
             _fmt(a["attention_resolutions"]) or "-", a["context_dim"], a["num_classes"],
             a["in_channels"], a["out_channels"]))
    print("  head_channels %d (%s; not stored in the checkpoint)"
          % (a["num_head_channels"], r["origin"]["num_head_channels"]))
    for d in r["domains"]:
        kind, lo, hi, plo, phi = d["mapping"]
        m = ("window %g..%g" % (lo, hi)) if kind == "window" else \
            ("percentile %g..%g -> %g..%g" % (plo, phi, lo, hi))
        print("  domain %-8s label %d  %-28s %s" % (d["name"], d["label"], '"%s"' % d["prompt"], m))
    return 0


if __name__ == "__main__":
    sys.exit(main())
