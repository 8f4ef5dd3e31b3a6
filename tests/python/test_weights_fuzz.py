"""Differential fuzzing of the two weight-file readers.

A valid file is mutated at random (bytes set or flipped, 64-bit fields set to
edge values, bytes cut out or inserted; the index CRC recomputed most of the
time so that the checks behind it are reached). The C reader (through
`i2ig inspect --verify`) and the Python reader must give the same verdict for
every mutated file, and the C tool must never crash. Fixed seeds: the run is
reproducible; a disagreement leaves its file in I2IG_FUZZ_KEEP if set.
"""
import os
import random
import shutil
import struct
import subprocess
import tempfile
import unittest

from i2igalip import weights as W
from test_weights_malformed import C_STATUS, TOOL, base_content, fix_crc

ROUNDS = int(os.environ.get("I2IG_FUZZ_ROUNDS", "600"))


def mutate(rng, base):
    b = bytearray(base)
    for _ in range(rng.choice([1, 1, 2, 3, 8])):
        # Mostly the header and index (the first 400 bytes), sometimes anywhere.
        pos = rng.randrange(len(b)) if rng.random() < 0.3 else rng.randrange(min(len(b), 400))
        kind = rng.random()
        if kind < 0.5:
            b[pos] = rng.randrange(256)
        elif kind < 0.7:
            b[pos] ^= 1 << rng.randrange(8)
        elif kind < 0.85 and pos + 8 <= len(b):
            struct.pack_into("<Q", b, pos, rng.choice(
                [0, 1, 2 ** 32 - 1, 2 ** 63, 2 ** 64 - 1, rng.randrange(2 ** 64), rng.randrange(2000)]))
        elif kind < 0.95:
            del b[pos:pos + rng.randrange(1, 16)]
        else:
            b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
    if rng.random() < 0.8 and len(b) >= 64:
        try:
            fix_crc(b)
        except struct.error:  # index_size now points past the end
            pass
    return b


class Fuzz(unittest.TestCase):
    def test_readers_agree(self):
        with tempfile.TemporaryDirectory(prefix="i2ig-fuzz-") as d:
            base_path = os.path.join(d, "base.i2ig")
            W.write(base_path, *base_content())
            with open(base_path, "rb") as f:
                base = f.read()
            rng = random.Random(20250601)
            verdicts = {}
            disagreements = []
            for it in range(ROUNDS):
                b = mutate(rng, base)
                p = os.path.join(d, "case.i2ig")
                with open(p, "wb") as f:
                    f.write(b)
                try:
                    W.read(p)
                    py = "ok"
                except W.WeightFileError as e:
                    py = C_STATUS[type(e)]
                r = subprocess.run([TOOL, "inspect", p, "--verify"], capture_output=True, text=True)
                if r.returncode == 0:
                    c = "ok"
                else:
                    self.assertEqual(r.returncode, 1, "C crashed on round %d: %s" % (it, r.stderr))
                    self.assertTrue(r.stderr.startswith("i2ig inspect: "), r.stderr)
                    c = r.stderr[len("i2ig inspect: "):].split(":")[0]
                verdicts[c] = verdicts.get(c, 0) + 1
                if py != c:
                    disagreements.append((it, py, c, r.stderr.strip()))
                    keep = os.environ.get("I2IG_FUZZ_KEEP")
                    if keep:
                        shutil.copy(p, os.path.join(keep, "disagree_%d.i2ig" % it))
            self.assertEqual(disagreements, [])
            # The mutations must reach deep checks, not just the checksum.
            self.assertGreaterEqual(len(verdicts), 8, verdicts)
            print("verdicts over %d mutated files: %s" % (ROUNDS, verdicts))


if __name__ == "__main__":
    unittest.main(verbosity=2)
