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
# Share of the CPUs other processes may take during a measurement before
# its row is marked as disturbed (the programs retry above 5 %).
NOISY = 0.10


def read(path):
    rows, notes, meta = {}, {}, {}
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if p[0] == "row":
                rows[(p[1], p[2], p[3])] = {
                    "flop": float(p[4]), "ms": float(p[5]), "min": float(p[6]), "reps": int(p[7]),
                    "foreign": float(p[8]), "tries": int(p[9])}
            elif p[0] == "note":
                notes[(p[1], p[2])] = (int(p[3]), p[4])
            elif not p[0].startswith("#") and len(p) > 1:
                meta[p[0]] = p[1:]
    return rows, notes, meta


def gflops(r):
    return r["flop"] / (r["ms"] * 1e6) if r and r["flop"] > 0 else None


def params_of(params):
    return dict(kv.split("=") for kv in params.split(","))


def label(kind, params):
    d = params_of(params)
    if kind == "conv":
        return "conv3x3 %sx%s %s->%s" % (d["h"], d["w"], d["ci"], d["co"])
    if kind == "linear":
        return "mm %sx%s.%sx%s" % (d["m"], d["k"], d["k"], d["n"])
    if kind == "attn":
        return "attn %sx%s h%s d%s" % (d["t"], d["s"], d["heads"], d["d"])
    if kind == "gnsilu":
        return "GN(%s)+SiLU %sx%sx%s" % (d["groups"], d["h"], d["w"], d["c"])
    return "LayerNorm %sx%s" % (d["rows"], d["cols"])


def info_only(kind, params, pass_):
    """Layers reported without a target: norms, the un-blocking of a
    convolution's weight gradient into PyTorch order (once per weight and
    backward pass, not per use; PyTorch has no such step), and the
    generator's input and output convolutions with a single channel on one
    side (memory-bound by construction: one of 16 vector lanes carries
    data)."""
    if kind in ("gnsilu", "ln") or pass_ == "unblock":
        return True
    if kind == "conv":
        d = params_of(params)
        return d["ci"] == "1" or d["co"] == "1"
    return False


def verdict(kind, params, pass_, share, speed):
    """(target text, result text) or (target, None) for info rows."""
    if info_only(kind, params, pass_):
        return "info", None
    target = ROOF_TARGET.get(kind)
    tgt = []
    if target is not None:
        tgt.append(">=%.0f%%" % (100 * target))
    if kind in SPEED_TARGET:
        tgt.append(">1x")
    fails = []
    if target is not None and share is not None and share < target:
        fails.append("roof %.0f%% (%.0f pts short)" % (100 * share, 100 * (target - share)))
    if kind in SPEED_TARGET and speed is not None and speed <= 1.0:
        fails.append("torch %.2fx (%.0f%% slower)" % (speed, 100 * (1 / speed - 1)))
    return " ".join(tgt), ("FAIL " + "; ".join(fails)) if fails else "PASS"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    ours, notes, meta = read(sys.argv[1])
    theirs, _, tmeta = read(sys.argv[2])

    roof_rows = [ours[k] for k in ours if k[0] == "sgemm"]
    roofs = [gflops(r) for r in roof_rows]
    roof = max(roofs)
    troofs = [gflops(theirs[k]) for k in theirs if k[0] == "sgemm"]
    print("Layer benchmark: batch 1, fp32, %s threads; %s"
          % (meta.get("threads", ["?"])[0], meta.get("weights", ["?"])[0]))
    print("Roof: dnnl_sgemm 1024^3 (ig_k_sgemm) median at start / end of our run: %s GFLOP/s;"
          " roof = %.1f GFLOP/s (the higher one)" % (" / ".join("%.1f" % r for r in roofs), roof))
    if troofs:
        print("      torch.mm 1024^3 (OpenBLAS) at start / end of the torch run: %s GFLOP/s"
              % " / ".join("%.1f" % r for r in troofs))
    if "torch" in tmeta:
        print("PyTorch %s; BLAS: %s" % (" ".join(tmeta["torch"]), " ".join(tmeta.get("blas", []))))
    print("Columns: medians (ms) of >= 10 repetitions after warm-up and the fastest repetition"
          " (min);\n  %roof = our GFLOP/s / roof; speed = torch median / our median (> 1: ours"
          " faster);\n  busy = share of the CPUs other processes took during the kept"
          " measurement, ours/torch\n  (> 10 % marks the row '~': its numbers are disturbed);"
          " n = occurrences per generator\n  forward (ViT rows: per encoder pass)")
    if min(roofs) < 0.85 * roof or any(r["foreign"] > NOISY for r in roof_rows):
        print("WARNING: the roof measurements were disturbed by other processes")
    print()
    hdr = ("%-25s %-11s %2s %8s %8s %6s %5s %8s %8s %6s %6s %7s %-9s %s"
           % ("layer", "pass", "n", "ours ms", "min", "GF/s", "%roof", "torch ms", "min",
              "GF/s", "speed", "busy%", "target", "result"))
    print(hdr)
    print("-" * len(hdr))
    tally, totals, noisy = {}, {}, 0
    last_kind = None
    for (kind, params, pass_), r in ours.items():
        if kind == "sgemm":
            continue
        if last_kind is not None and kind != last_kind:
            print()
        last_kind = kind
        t = theirs.get((kind, params, pass_))
        g = gflops(r)
        share = g / roof if g else None
        speed = t["ms"] / r["ms"] if t else None
        tgt, res = verdict(kind, params, pass_, share, speed)
        count = notes.get((kind, params), (1, ""))[0]
        disturbed = r["foreign"] > NOISY or (t and t["foreign"] > NOISY)
        noisy += bool(disturbed)
        extra = "" if r["reps"] >= 10 else "  [%d timed call: slow path]" % r["reps"]
        print("%-25s %-11s %2d %8.3f %8.3f %6s %5s %8s %8s %6s %6s %3.0f/%-3s %-9s %s%s%s" % (
            label(kind, params), pass_, count, r["ms"], r["min"], "%.0f" % g if g else "-",
            "%.0f%%" % (100 * share) if share else "-", "%.3f" % t["ms"] if t else "-",
            "%.3f" % t["min"] if t else "-", "%.0f" % gflops(t) if gflops(t) else "-",
            "%.2fx" % speed if speed else "-", 100 * r["foreign"],
            "%.0f" % (100 * t["foreign"]) if t else "-", tgt, "~" if disturbed else "",
            res or "", extra))
        if res is not None:
            cat = tally.setdefault(kind, [0, 0])
            cat[0 if res == "PASS" else 1] += 1
        if t:
            tot = totals.setdefault((kind, pass_), [0.0, 0.0, 0.0])
            tot[0] += count * r["ms"]
            tot[1] += count * t["ms"]
            tot[2] += count * r["flop"]
    print()
    print("Weighted totals (sum of n x median: what one generator forward / ViT pass spends"
          " in these layers):")
    for (kind, pass_), (o, t, f) in totals.items():
        if kind in ("conv", "linear", "attn"):
            print("  %-7s %-11s ours %8.2f ms (%4.0f GFLOP/s, %3.0f%% roof)   torch %8.2f ms"
                  "   speed %.2fx" % (kind, pass_, o, f / (o * 1e6), 100 * f / (o * 1e6) / roof,
                                      t, t / o))
    print()
    print("Targets: " + ", ".join("%s %d pass / %d fail" % (k, v[0], v[1])
                                  for k, v in tally.items())
          + "; %d rows disturbed by other processes (~)" % noisy)
    if "prims" in meta:
        first, second = (int(x) for x in meta["prims"])
        print("oneDNN primitives: %d created by the timed pass; whole list run again: %d new -> %s"
              % (first, second, "PASS" if second == 0 else "FAIL"))
    print()
    print("Where each convolution occurs (L0..L5 = 256..8; 'down Lk' / 'up Lk' = the resampling"
          " ResBlock\nafter level k / closing decoder level k; 'first' / 'second' = the ResBlock's"
          " first / second conv):")
    for (kind, params), (count, note) in notes.items():
        if kind == "conv":
            print("  %-25s x%-2d %s" % (label(kind, params), count, note))


if __name__ == "__main__":
    main()
