#!/usr/bin/python3
"""Train a T1 MR <-> CT generator from Python and plot its losses.

    train_and_plot.py ENCODER.i2ig OUTDIR [--steps N] [--small] [--t1 STACK] [--ct STACK]

ENCODER.i2ig is BiomedCLIP converted with tools/convert/biomedclip_to_i2ig.py.
The unpaired data default to the bundled scans (examples/data). Writes to
OUTDIR:
  losses.csv      step, every loss term, learning rate
  losses.png      the loss curves (Debian's python3-matplotlib; without it
                  only the CSV is written, and the script says so)
  preview.png     a T1 slice, its CT translation and the cycle back to T1
  model.i2ig      the generator (EMA weights) for Generator.load / i2ig translate
  checkpoint.i2ig a full checkpoint, also written when Ctrl-C stops the run
--small trains a tiny generator on 32x32 crops: a smoke test in seconds.
"""
import argparse
import csv
import os
import sys
import time

import numpy as np

import i2igalip

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.normpath(os.path.join(HERE, "..", "data"))
TERMS = ("generator", "discriminator", "adversarial", "cycle", "identity", "clip", "encoding")


def plot(losses, path):
    """Loss curves with matplotlib (headless Agg backend); False without it."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    steps = [l.step for l in losses]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for k in ("generator", "discriminator"):
        axes[0].plot(steps, [getattr(l, k) for l in losses], label=k)
    for k in TERMS[2:]:
        axes[1].plot(steps, [getattr(l, k) for l in losses], label=k)
    axes[0].set_title("weighted totals")
    axes[1].set_title("unweighted terms")
    for ax in axes:
        ax.set_xlabel("step")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("encoder")
    ap.add_argument("outdir")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--t1", default=os.path.join(DATA, "mr-t1-colin27.tif"))
    ap.add_argument("--ct", default=os.path.join(DATA, "ct-head-invesalius.tif"))
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)
    os.makedirs(args.outdir, exist_ok=True)
    if not i2igalip.has_training():
        print("train_and_plot.py: this libi2igalip is an inference-only build", file=sys.stderr)
        return 1

    t1 = i2igalip.image.load(args.t1)  # (slices, h, w) numpy arrays
    ct = i2igalip.image.load(args.ct)
    threads = 1 if args.small else args.threads
    enc = i2igalip.Encoder.load(args.encoder, threads=threads)
    gcfg = i2igalip.GeneratorConfig(context_dim=enc.info["text_width"], num_classes=2)
    if args.small:
        gcfg.channel_mult, gcfg.num_res_blocks, gcfg.attention_ds = (1, 1), 1, (2,)
    tcfg = i2igalip.TrainConfig(total_steps=args.steps, batch_size=1 if args.small else 2,
                                crop_size=32 if args.small else 128, threads=threads)
    losses = []
    start = time.monotonic()

    def progress(l):
        losses.append(l)
        print("step %d/%d  G %.4f  D %.4f  %.1f s" % (l.step, args.steps, l.generator,
                                                       l.discriminator, time.monotonic() - start),
              file=sys.stderr)

    ckpt = os.path.join(args.outdir, "checkpoint.i2ig")
    with enc, i2igalip.Trainer(enc, tcfg, gcfg) as trainer:
        trainer.add_domain("T1", "this MRI is T1-weighted", 0,
                           i2igalip.Mapping.percentile(0.5, 99.5, 0, 255), t1)
        trainer.add_domain("CT", "this is head ct", 1, i2igalip.Mapping.window(-1024, 3071), ct)
        try:
            trainer.run(progress=progress)
        except KeyboardInterrupt:
            # Raised inside the progress callback: the step in flight is
            # complete and the trainer consistent.
            print("stopped after step %d" % trainer.steps_done, file=sys.stderr)
        trainer.save_checkpoint(ckpt)
        trainer.export_generator(os.path.join(args.outdir, "model.i2ig"))
        x, y, c = trainer.preview("T1", "CT", 1)

    with open(os.path.join(args.outdir, "losses.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(("step",) + TERMS + ("lr",))
        for l in losses:
            w.writerow([l.step] + ["%.8g" % getattr(l, k) for k in TERMS + ("lr",)])
    # Preview: input | translation | cycle, side by side, 8-bit grey.
    grid = np.concatenate([x[0], y[0], c[0]], axis=1)
    i2igalip.image.save(np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8),
                        os.path.join(args.outdir, "preview.png"))
    if plot(losses, os.path.join(args.outdir, "losses.png")):
        print("wrote %s/losses.png, losses.csv, preview.png, model.i2ig, checkpoint.i2ig" %
              args.outdir, file=sys.stderr)
    else:
        print("matplotlib is not available (Debian: apt install python3-matplotlib): wrote "
              "losses.csv without a plot", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
