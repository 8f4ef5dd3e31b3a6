#!/usr/bin/python3
"""Joins bench_layers' and bench_layers_torch.py's outputs into one table:
time, GFLOP/s, share of the sgemm roof, speed against PyTorch, and the
targets of the compute core with pass/fail.

Usage: layers_table.py OURS_OUTPUT TORCH_OUTPUT
"""
import sys

# Targets of the compute-core issue: share of the sgemm roof, and faster
# than PyTorch (speed = torch time / our time > 1).
ROOF_TARGET = {"conv": 0.60, "linear": 0.70}
SPEED_TARGET = {"conv", "linear", "attn"}


def read(path):
    rows, notes, meta = {}, {}, {}
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if p[0] == "row":
                kind, params, pass_ = p[1], p[2], p[3]
                rows[(kind, params, pass_)] = {
                    "flop": float(p[4]), "ms": float(p[5]), "min": float(p[6]), "reps": int(p[7])}
            elif p[0] == "note":
                notes[(p[1], p[2])] = (int(p[3]), p[4])
            elif not p[0].startswith("#") and len(p) > 1:
                meta[p[0]] = p[1:]
    return rows, notes, meta


def gflops(r):
    return r["flop"] / (r["ms"] * 1e6) if r["flop"] > 0 else None


def label(kind, params):
    d = dict(kv.split("=") for kv in params.split(","))
    if kind == "conv":
        return "conv3x3 %sx%s %s->%s" % (d["h"], d["w"], d["ci"], d["co"])
    if kind == "linear":
        return "mm %sx%s.%sx%s" % (d["m"], d["k"], d["k"], d["n"])
    if kind == "attn":
        return "attn %sx%s h%s d%s" % (d["t"], d["s"], d["heads"], d["d"])
    if kind == "gnsilu":
        return "GN(%s)+SiLU %sx%sx%s" % (d["groups"], d["h"], d["w"], d["c"])
    return "LayerNorm %sx%s" % (d["rows"], d["cols"])


def info_only(kind, params):
    """Layers reported without a target: norms, and the generator's input
    and output convolutions with a single channel on one side (memory-bound
    by construction: 1 of 32 lanes of a vector carries data)."""
    if kind in ("gnsilu", "ln"):
        return True
    if kind == "conv":
        d = dict(kv.split("=") for kv in params.split(","))
        return d["ci"] == "1" or d["co"] == "1"
    return False


def verdict(kind, params, share, speed):
    if info_only(kind, params):
        return "info", None
    fails = []
    target = ROOF_TARGET.get(kind)
    if target is not None and share is not None and share < target:
        fails.append("roof %.0f%% < %.0f%% (%.0f pts short)" % (100 * share, 100 * target,
                                                                100 * (target - share)))
    if kind in SPEED_TARGET and speed is not None and speed <= 1.0:
        fails.append("torch %.2fx (ours %.0f%% slower)" % (speed, 100 * (1 / speed - 1)))
    tgt = []
    if target is not None:
        tgt.append(">=%.0f%%" % (100 * target))
    if kind in SPEED_TARGET:
        tgt.append(">1x")
    return " ".join(tgt), ("FAIL: " + "; ".join(fails)) if fails else "PASS"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    ours, notes, meta = read(sys.argv[1])
    torch_rows, _, tmeta = read(sys.argv[2])

    roofs = [gflops(ours[k]) for k in ours if k[0] == "sgemm"]
    roof = max(roofs)
    troofs = [gflops(torch_rows[k]) for k in torch_rows if k[0] == "sgemm"]
    print("Layer benchmark: batch 1, fp32, %s threads; medians (ms) after warm-up"
          % meta.get("threads", ["?"])[0])
    print("Roof: dnnl_sgemm 1024^3 (ig_k_sgemm) median at start / end of our run: %s GFLOP/s;"
          " roof = %.1f GFLOP/s (the higher: the conservative choice)"
          % (" / ".join("%.1f" % r for r in roofs), roof))
    if troofs:
        print("      torch.mm 1024^3 at start / end of the torch run: %s GFLOP/s"
              % " / ".join("%.1f" % r for r in troofs))
    if "torch" in tmeta:
        print("PyTorch: %s; BLAS: %s" % (" ".join(tmeta["torch"]), " ".join(tmeta.get("blas", []))))
    print("speed = torch median / our median (> 1: ours faster); %roof = our GFLOP/s / roof;"
          " min = fastest repetition;\nn = occurrences per generator forward (ViT: per"
          " encoder pass)")
    print()
    if min(roofs) < 0.85 * roof or (troofs and min(troofs) < 0.85 * max(troofs)):
        print("WARNING: the roof moved by more than 15% during the run: the machine was busy;"
              " compare the min columns")
    hdr = ("%-26s %-11s %3s %8s %8s %7s %6s %8s %8s %7s %7s %-10s %s"
           % ("layer", "pass", "n", "ours ms", "min", "GFLOP/s", "%roof", "torch ms", "min",
              "GFLOP/s", "speed", "target", "result"))
    print(hdr)
    print("-" * len(hdr))
    tally = {}
    totals = {}
    last_kind = None
    for (kind, params, pass_), r in ours.items():
        if kind == "sgemm":
            continue
        if last_kind is not None and kind != last_kind:
            print()
        last_kind = kind
        t = torch_rows.get((kind, params, pass_))
        g = gflops(r)
        share = g / roof if g else None
        speed = t["ms"] / r["ms"] if t else None
        tgt, res = verdict(kind, params, share, speed)
        count = notes.get((kind, params), (1, ""))[0]
        reps = "" if r["reps"] >= 10 else "  [%d timed call: slow path]" % r["reps"]
        print("%-26s %-11s %3d %8.3f %8.3f %7s %6s %8s %8s %7s %7s %-10s %s%s" % (
            label(kind, params), pass_, count, r["ms"], r["min"], "%.1f" % g if g else "-",
            "%.0f%%" % (100 * share) if share else "-", "%.3f" % t["ms"] if t else "-",
            "%.3f" % t["min"] if t else "-",
            "%.1f" % gflops(t) if t and gflops(t) else "-",
            "%.2fx" % speed if speed else "-", tgt, res or "", reps))
        if res is not None:
            cat = tally.setdefault(kind, [0, 0])
            cat[0 if res == "PASS" else 1] += 1
        if t:
            tot = totals.setdefault((kind, pass_), [0.0, 0.0, 0.0])
            tot[0] += count * r["ms"]
            tot[1] += count * t["ms"]
            tot[2] += count * r["flop"]
    print()
    print("Weighted totals (sum of n x median; what one generator forward / ViT pass spends):")
    for (kind, pass_), (o, t, f) in totals.items():
        if kind in ("conv", "linear", "attn"):
            print("  %-10s %-11s ours %9.2f ms (%6.1f GFLOP/s, %3.0f%% roof)  torch %9.2f ms"
                  "  speed %.2fx" % (kind, pass_, o, f / (o * 1e6), 100 * f / (o * 1e6) / roof,
                                     t, t / o))
    print()
    print("Targets: " + ", ".join("%s %d pass / %d fail" % (k, v[0], v[1])
                                  for k, v in tally.items()))
    if "prims" in meta:
        first, second = (int(x) for x in meta["prims"])
        print("oneDNN primitives: %d created by the timed pass; whole list run again: %d new -> %s"
              % (first, second, "PASS" if second == 0 else "FAIL"))
    print()
    print("Where each convolution occurs (L0..L5 = 256..8; 'down Lk' / 'up Lk' = the resampling"
          " ResBlock after level k / closing decoder level k):")
    for (kind, params), (count, note) in notes.items():
        if kind == "conv":
            print("  %-26s x%-2d %s" % (label(kind, params), count, note))


if __name__ == "__main__":
    main()
