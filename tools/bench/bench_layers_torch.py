#!/usr/bin/python3
"""PyTorch twin of bench_layers: times the same layers with torch 1.13.

Reads the layer list from bench_layers' output (its "note" lines), so both
programs time exactly the same shapes, and prints rows in the same format:
    row <kind> <params> <pass> <flop> <median_ms> <min_ms> <reps> <foreign> <tries>
Each side runs in its native layout: PyTorch NCHW contiguous feature maps,
token tensors N,T,C; our program channels-last.

Run with Debian's /usr/bin/python3 (python3-torch). Debian's torch calls the
system BLAS: libopenblas0-pthread must be installed, or torch runs the
reference BLAS and looks ~5x slower than it is (checked below).

Usage: bench_layers_torch.py OURS_OUTPUT [--threads N] [--min-reps N] [--min-time S]
                             [--tries N]
"""
import argparse
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F


QUIET_SHARE = 0.05  # as in bench_layers.c: a more disturbed measurement is repeated


def cpu_sample():
    """(busy, total) clock ticks of all CPUs and this process's own ticks."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
    with open("/proc/self/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return busy, busy + v[3] + v[4], int(rest[11]) + int(rest[12])


def cpu_foreign(a, b):
    """Share of all CPUs other processes used between samples a and b."""
    total = b[1] - a[1]
    if total <= 0:
        return 0.0
    return max(0.0, ((b[0] - a[0]) - (b[2] - a[2])) / total)


def timed_reps(run, prep, reps):
    times = []
    for _ in range(reps):
        arg = prep() if prep else None
        t0 = time.perf_counter()
        run(arg)
        times.append(time.perf_counter() - t0)
    return times


def measure(run, prep=None, min_reps=10, min_time=0.25, tries=4):
    """Median and minimum (ms) of >= min_reps timed calls and >= min_time s,
    after three warm-up calls; prep runs untimed before each call. Repeated
    (up to tries times, the least disturbed kept) while other processes
    take more than QUIET_SHARE of the CPUs. Returns (median, min, reps,
    foreign share, tries)."""
    last = 0.0
    for _ in range(3):
        arg = prep() if prep else None
        t0 = time.perf_counter()
        run(arg)
        last = time.perf_counter() - t0
    reps = min_reps
    if last > 0 and min_time / last > reps:
        reps = math.ceil(min_time / last)
    reps = min(reps, 2000)
    best = None
    for k in range(tries):
        a = cpu_sample()
        times = timed_reps(run, prep, reps)
        foreign = cpu_foreign(a, cpu_sample())
        if best is None or foreign < best[3]:
            best = (1e3 * statistics.median(times), 1e3 * min(times), reps, foreign)
        if foreign <= QUIET_SHARE:
            break
    return best + (k + 1,)


def parse_params(s):
    return {k: int(v) for k, v in (kv.split("=") for kv in s.split(","))}


def rnd(*shape, scale=1.0):
    return (torch.rand(*shape) * 2 - 1) * scale


def attention(q, k, v, heads, scale):
    """What LDM's CrossAttention and timm's Attention do around their
    projections: split heads, softmax(q k^T * scale) v, merge heads."""
    b, t, c = q.shape
    s = k.shape[1]
    d = c // heads
    qh = q.view(b, t, heads, d).transpose(1, 2)
    kh = k.view(b, s, heads, d).transpose(1, 2)
    vh = v.view(b, s, heads, d).transpose(1, 2)
    p = (torch.matmul(qh, kh.transpose(-1, -2)) * scale).softmax(dim=-1)
    return torch.matmul(p, vh).transpose(1, 2).reshape(b, t, c)


def bench_conv(p, cfg):
    h, w, ci, co = p["h"], p["w"], p["ci"], p["co"]
    x = rnd(1, ci, h, w)
    wt = rnd(co, ci, 3, 3, scale=0.05)
    b = rnd(co, scale=0.1)
    dy = rnd(1, co, h, w)
    flop = 2.0 * h * w * co * ci * 9
    conv_bwd = torch.ops.aten.convolution_backward
    args = ([co], [1, 1], [1, 1], [1, 1], False, [0, 0], 1)
    out = []
    with torch.no_grad():
        out.append(("fwd", flop, measure(lambda _: F.conv2d(x, wt, b, padding=1), **cfg)))
        # The entry point autograd uses for a convolution's backward.
        out.append(("bwd_data", flop, measure(
            lambda _: conv_bwd(dy, x, wt, *args, [True, False, False]), **cfg)))
        out.append(("bwd_weights", flop, measure(
            lambda _: conv_bwd(dy, x, wt, *args, [False, True, True]), **cfg)))
    return out


def bench_linear(p, cfg):
    m, k, n = p["m"], p["k"], p["n"]
    x = rnd(m, k)
    wt = rnd(n, k, scale=0.05)
    b = rnd(n, scale=0.1)
    dy = rnd(m, n)
    flop = 2.0 * m * n * k
    with torch.no_grad():
        return [
            ("fwd", flop, measure(lambda _: F.linear(x, wt, b), **cfg)),
            # what addmm's backward computes for the input and the weight
            ("bwd_data", flop, measure(lambda _: dy.mm(wt), **cfg)),
            ("bwd_weights", flop, measure(lambda _: dy.t().mm(x), **cfg)),
        ]


def bench_autograd(fwd, inputs, dy, flop_fwd, flop_bwd, cfg):
    """Forward under no_grad; backward timed alone after an untimed forward
    that records the graph."""
    with torch.no_grad():
        f = measure(lambda _: fwd(*inputs), **cfg)
    leaves = [t.detach().requires_grad_(True) for t in inputs]

    def prep():
        return fwd(*leaves)

    b = measure(lambda y: torch.autograd.grad(y, leaves, dy), prep=prep, **cfg)
    return [("fwd", flop_fwd, f), ("bwd", flop_bwd, b)]


def bench_attn(p, cfg):
    t, s, heads, d = p["t"], p["s"], p["heads"], p["d"]
    c = heads * d
    q, k, v = rnd(1, t, c), rnd(1, s, c), rnd(1, s, c)
    dy = rnd(1, t, c)
    scale = d ** -0.5
    flop = 4.0 * t * s * c
    return bench_autograd(lambda a, b_, c_: attention(a, b_, c_, heads, scale), (q, k, v), dy,
                          flop, 2 * flop, cfg)


def bench_gnsilu(p, cfg):
    h, w, c, groups = p["h"], p["w"], p["c"], p["groups"]
    x, g, b = rnd(1, c, h, w), rnd(c), rnd(c)
    dy = rnd(1, c, h, w)
    return bench_autograd(lambda x_, g_, b_: F.silu(F.group_norm(x_, groups, g_, b_, 1e-5)),
                          (x, g, b), dy, 0, 0, cfg)


def bench_ln(p, cfg):
    rows, cols = p["rows"], p["cols"]
    x, g, b = rnd(1, rows, cols), rnd(cols), rnd(cols)
    dy = rnd(1, rows, cols)
    return bench_autograd(lambda x_, g_, b_: F.layer_norm(x_, (cols,), g_, b_, 1e-5),
                          (x, g, b), dy, 0, 0, cfg)


def bench_sgemm(cfg):
    a, b = rnd(1024, 1024), rnd(1024, 1024)
    c = dict(cfg)
    c["min_reps"] = max(c["min_reps"], 30)
    with torch.no_grad():
        return measure(lambda _: torch.mm(a, b), **c)


def blas_library():
    """The BLAS shared object torch's process has mapped (after one mm)."""
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if "blas" in path or "lapack" in path:
                libs.add(path)
    return sorted(libs)


BENCH = {"conv": bench_conv, "linear": bench_linear, "attn": bench_attn,
         "gnsilu": bench_gnsilu, "ln": bench_ln}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ours", help="output of bench_layers (supplies the layer list)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-reps", type=int, default=10)
    ap.add_argument("--min-time", type=float, default=0.25)
    ap.add_argument("--tries", type=int, default=4)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = {"min_reps": a.min_reps, "min_time": a.min_time, "tries": max(1, a.tries)}

    layers = []
    with open(a.ours) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if parts[0] == "note":
                layers.append((parts[1], parts[2]))
    if not layers:
        sys.exit("bench_layers_torch: no layer list ('note' lines) in " + a.ours)

    libs = blas_library()
    print("torch\t%s\tthreads=%d\tmkldnn=%s" % (torch.__version__, torch.get_num_threads(),
                                                 torch.backends.mkldnn.is_available()))
    print("blas\t%s" % (" ".join(libs) or "none mapped"))
    if not any("openblas" in p for p in libs):
        print("# WARNING: torch is not using OpenBLAS (install libopenblas0-pthread):"
              " its matmuls run the reference BLAS", file=sys.stderr)
    sys.stdout.flush()

    def row(kind, params, pass_, flop, m):
        print("row\t%s\t%s\t%s\t%.0f\t%.4f\t%.4f\t%d\t%.3f\t%d" % (kind, params, pass_, flop, *m))
        sys.stdout.flush()

    row("sgemm", "n=1024", "start", 2.0 * 1024 ** 3, bench_sgemm(cfg))
    for kind, params in layers:
        for pass_, flop, m in BENCH[kind](parse_params(params), cfg):
            row(kind, params, pass_, flop, m)
    row("sgemm", "n=1024", "end", 2.0 * 1024 ** 3, bench_sgemm(cfg))


if __name__ == "__main__":
    main()
