"""Where one paper-configuration training step spends its time, and the least
time this machine could take for its arithmetic (not a test).

Runs our side of bench_train.py (same configuration, same synthetic encoder)
with oneDNN's verbose log on, and reads the log of every step after the
first: the floating-point operations of each convolution and matrix product
(2 x multiply-adds, from the shapes oneDNN prints), and the time oneDNN
reports for each primitive. It measures the machine's sgemm roof
(dnnl_sgemm 1024^3, as tools/bench/bench_layers does) before and after, and
prints:

  - FLOPs per step and the time they take at 100 % of the roof: no fp32
    implementation of this step with these algorithms (direct convolutions,
    plain matrix products) can be faster on this machine;
  - what our kernels reached, per primitive kind, and the most expensive
    shapes;
  - the part of the step spent outside oneDNN (our own kernels: GroupNorm,
    element-wise, Adam, spectral norm; the autograd walk; thread waits).

The verbose log makes oneDNN wait for every primitive and print a line, so
the step wall time printed here is somewhat above bench_train.py's.

usage: /usr/bin/python3 tools/bench/step_flops.py [--steps 3] [--threads 2] [--build build] [--top 15]
"""
import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_train  # noqa: E402  (after the path)


def flops(prim, desc):
    """2 x multiply-adds of a convolution or matmul from oneDNN's problem string."""
    if prim == "convolution":
        d = {k: int(v) for k, v in re.findall(r"([a-z]+)(\d+)", desc)}
        g = d.get("g", 1)
        return 2 * d["mb"] * (d["ic"] // g) * d["oc"] * d["oh"] * d["ow"] * d["kh"] * d["kw"]
    if prim == "matmul":
        a, b = ([int(x) for x in t.split("x")] for t in desc.split(":")[:2])
        batch = 1
        for x, y in zip(a[:-2], b[:-2]):
            batch *= max(x, y)
        return 2 * batch * a[-2] * a[-1] * b[-1]
    return 0


def parse(lines):
    """Per step (after the first): wall time, and per-kind / per-shape sums."""
    steps, cur = [], None
    for line in lines:
        if line.startswith("# step ") and line.rstrip().endswith("begins"):
            cur = {"kinds": collections.defaultdict(lambda: [0, 0.0, 0]),
                   "shapes": collections.defaultdict(lambda: [0, 0.0, 0])}
            continue
        if line.startswith("# step ") and " took " in line:
            cur["wall"] = float(line.split(" took ")[1].split()[0])
            steps.append(cur)
            cur = None
            continue
        if cur is None or not line.startswith("onednn_verbose,exec,"):
            continue
        f = line.rstrip().split(",")
        prim, prop, impl, desc, ms = f[3], f[5], f[4], f[-2], float(f[-1])
        n = flops(prim, desc)
        for table, key in ((cur["kinds"], (prim, prop)), (cur["shapes"], (prim, prop, impl, desc))):
            table[key][0] += 1
            table[key][1] += ms
            table[key][2] += n
    return steps[1:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(bench_train.ROOT, "build"))
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    if args.steps < 2:
        ap.error("--steps: at least 2 (the first step is left out)")
    roof0 = bench_train.sgemm_roof(args.threads)
    with tempfile.TemporaryDirectory(prefix="i2ig-step-flops-") as tmp:
        enc, ckpt = bench_train.make_encoder(tmp)
        env = bench_train.library_env(args.build)
        env["ONEDNN_VERBOSE"] = "1"
        cmd = [sys.executable, bench_train.__file__, "--side", "ours", "--threads", str(args.threads),
               "--steps", str(args.steps), "--encoder", enc, "--checkpoint", ckpt, "--mark-steps"]
        out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    roof1 = bench_train.sgemm_roof(args.threads)
    roof = max(roof0, roof1)
    steps = parse(out.splitlines())
    if not steps:
        sys.exit("step_flops.py: no step found in the verbose log")
    k = len(steps)

    def mean(table, key, i):
        return sum(s[table][key][i] for s in steps if key in s[table]) / k

    wall = statistics.median(s["wall"] for s in steps)
    kinds = sorted({key for s in steps for key in s["kinds"]}, key=lambda x: -mean("kinds", x, 1))
    total_ms = sum(mean("kinds", x, 1) for x in kinds)
    total_fl = sum(mean("kinds", x, 2) for x in kinds)
    print("# paper-configuration training step, ours, %d threads; steps 2-%d of %d (oneDNN verbose log)"
          % (args.threads, args.steps, args.steps))
    print("sgemm roof (dnnl_sgemm 1024^3): %.1f GFLOP/s before, %.1f after; roof = %.1f"
          % (roof0, roof1, roof))
    if min(roof0, roof1) < 0.85 * roof:
        print("WARNING: the roof moved by more than 15 %: the machine's speed changed during the run")
    print("step wall time with the verbose log: median %.2f s" % wall)
    print()
    print("%-22s %-18s %7s %9s %8s %8s %6s" % ("primitive", "pass", "calls", "ms/step", "GFLOP",
                                               "GFLOP/s", "%roof"))
    for x in kinds:
        n, ms, fl = (mean("kinds", x, i) for i in range(3))
        rate = "%8.0f %5.0f%%" % (fl / ms / 1e6, 100 * fl / ms / 1e6 / roof) if fl else "%8s %6s" % ("-", "-")
        print("%-22s %-18s %7.0f %9.1f %8.1f %s" % (x[0], x[1], n, ms, fl / 1e9, rate))
    print("%-22s %-18s %7s %9.1f %8.1f" % ("all oneDNN", "", "", total_ms, total_fl / 1e9))
    print("%-22s %-18s %7s %9.1f" % ("outside oneDNN", "", "", wall * 1e3 - total_ms))
    print()
    floor = total_fl / 1e9 / roof
    print("FLOPs per step: %.1f GFLOP (convolutions and matrix products)" % (total_fl / 1e9))
    print("at 100 %% of the roof they take %.2f s: the floor for an fp32 step with these algorithms "
          "on this machine" % floor)
    arith_s = sum(mean("kinds", x, 1) for x in kinds if mean("kinds", x, 2)) / 1e3
    print("our kernels took %.2f s for them (%.0f %% of the roof on average); the whole step %.2f s"
          % (arith_s, 100 * floor / arith_s, wall))
    print()
    print("most expensive shapes (ms per step, calls, GFLOP/s):")
    shapes = sorted({key for s in steps for key in s["shapes"]}, key=lambda x: -mean("shapes", x, 1))
    for x in shapes[:args.top]:
        n, ms, fl = (mean("shapes", x, i) for i in range(3))
        rate = "%6.0f" % (fl / ms / 1e6) if fl else "     -"
        print("  %8.1f %5.0f %s  %s %s %s %s" % (ms, n, rate, x[0], x[1], x[2], x[3]))


if __name__ == "__main__":
    main()
