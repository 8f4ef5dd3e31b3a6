#!/usr/bin/python3
"""Translate an image stack to another domain with the Python bindings.

    translate_stack.py MODEL.i2ig INPUT OUTPUT.tif --to CT [--from T1] [--threads N]

The stack goes through numpy: read with i2igalip.image.load (PNG, JPEG, BMP
or multi-page TIFF -> a (slices, height, width) array of uint8, uint16, int16
or float32), translated with Generator.translate (same dtype and shape out),
written with i2igalip.image.save (TIFF, one page per slice). Any numpy array
of those dtypes works the same way, e.g. one read with tifffile or pydicom.

Run from a source tree without installing anything:
    PYTHONPATH=bindings/python I2IG_LIBRARY=build/lib/libi2igalip.so.0 \\
        /usr/bin/python3 examples/python/translate_stack.py model.i2ig \\
        examples/data/mr-t1-colin27.tif t1-as-ct.tif --to CT --from T1
"""
import argparse
import sys
import time

import numpy as np

import i2igalip


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--to", required=True, help="target domain")
    ap.add_argument("--from", dest="source", help="source domain (optional with two domains)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    stack = i2igalip.image.load(args.input)  # numpy (slices, height, width)
    print("%s: %d slice(s) of %dx%d %s, values %s..%s" % (
        args.input, stack.shape[0], stack.shape[2], stack.shape[1], stack.dtype, stack.min(),
        stack.max()), file=sys.stderr)

    start = time.monotonic()

    def progress(done, total):
        print("\rslice %d/%d  %.1f s" % (done, total, time.monotonic() - start), end="",
              file=sys.stderr)
        return False  # True would cancel (i2igalip.Cancelled)

    try:
        with i2igalip.Generator.load(args.model, threads=args.threads) as g:
            print("model: %d parameters, domains %s" % (g.parameter_count, g.domains),
                  file=sys.stderr)
            out = g.translate(stack, args.to, source=args.source, progress=progress)
    except i2igalip.Error as e:
        # e.status (int), e.name, e.message: the library's own detail.
        print("\ntranslate_stack.py: %s" % e, file=sys.stderr)
        return 1
    print(file=sys.stderr)
    assert out.dtype == stack.dtype and out.shape == stack.shape
    i2igalip.image.save(out, args.output, format="tiff")
    print("wrote %s: values %s..%s, mean %.1f" % (args.output, out.min(), out.max(),
                                                  float(np.mean(out))), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
