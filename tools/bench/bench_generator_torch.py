"""PyTorch side of the generator benchmark (tools/bench/run_generator.sh):
the paper-configuration U-Net of the reference code (the re-implementation the
tests check us against, tests/python/ref_i2igalip.py), fp32, eval mode,
no_grad, batch 1; median forward time, and 100 slices one after another.

usage: /usr/bin/python3 tools/bench/bench_generator_torch.py [threads] [side] [reps] [stack]
"""
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "python"))
import ref_i2igalip as ref  # noqa: E402


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    side = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    stack = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = ref.UNetModel().eval()
    model.init_weights()
    x = torch.rand(1, 1, side, side)
    ctx = torch.rand(1, 256, 768) - 0.5
    y = torch.tensor([1])
    times = []
    with torch.no_grad():
        for r in range(reps + 2):
            s = time.perf_counter()
            model(x, context=ctx, y=y)
            times.append(time.perf_counter() - s)
        med = statistics.median(times[2:])
        print("torch %s generator forward %dx%d batch 1 threads %d: first %.1f ms, median %.1f ms "
              "(min %.1f, max %.1f) over %d runs" % (torch.__version__, side, side, threads,
                                                     times[0] * 1e3, med * 1e3, min(times[2:]) * 1e3,
                                                     max(times[2:]) * 1e3, reps))
        if stack:
            xs = torch.rand(stack, 1, 1, side, side)
            s = time.perf_counter()
            for k in range(stack):
                model(xs[k], context=ctx, y=y)
            el = time.perf_counter() - s
            print("torch stack of %d slices %dx%d threads %d: %.2f s, %.2f slices/s"
                  % (stack, side, side, threads, el, stack / el))


if __name__ == "__main__":
    main()
