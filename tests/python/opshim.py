"""ctypes access to the test-only operation shim (tests/shim/opshim.c)."""
import ctypes
import os

import numpy as np

MAXIN = 6


class IgtIO(ctypes.Structure):
    _fields_ = [
        ("nin", ctypes.c_int),
        ("inp", ctypes.POINTER(ctypes.c_float) * MAXIN),
        ("ndim", ctypes.c_int * MAXIN),
        ("shape", (ctypes.c_int64 * 6) * MAXIN),
        ("requires_grad", ctypes.c_int * MAXIN),
        ("in_grad", ctypes.POINTER(ctypes.c_float) * MAXIN),
        ("fp", ctypes.c_float * 8),
        ("ip", ctypes.c_int * 8),
        ("out", ctypes.POINTER(ctypes.c_float)),
        ("out_cap", ctypes.c_size_t),
        ("out_ndim", ctypes.c_int),
        ("out_shape", ctypes.c_int64 * 6),
        ("grad_out", ctypes.POINTER(ctypes.c_float)),
        ("state", ctypes.POINTER(ctypes.c_float) * 2),
        ("threads", ctypes.c_int),
        ("prims_first", ctypes.c_uint64),
        ("prims_second", ctypes.c_uint64),
        ("err", ctypes.c_char * 512),
    ]


_lib = None


def lib():
    global _lib
    if _lib is None:
        _lib = ctypes.CDLL(os.environ["I2IG_OPSHIM"])
        _lib.igt_run.argtypes = [ctypes.c_char_p, ctypes.POINTER(IgtIO)]
        _lib.igt_run.restype = ctypes.c_int
        _lib.igt_resize_matrix.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                           ctypes.POINTER(ctypes.c_float)]
    return _lib


def fptr(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


class Result:
    pass


def run(op, inputs, requires_grad=None, fp=(), ip=(), grad_out=None, out_numel=None,
        state=(), threads=2):
    """Runs op twice (see igt_run); returns output, input gradients and the
    number of primitives created by the second run."""
    inputs = [np.ascontiguousarray(x, dtype=np.float32) for x in inputs]
    if requires_grad is None:
        requires_grad = [True] * len(inputs)
    io = IgtIO()
    io.nin = len(inputs)
    grads = []
    for i, x in enumerate(inputs):
        io.inp[i] = fptr(x)
        io.ndim[i] = x.ndim
        for d, s in enumerate(x.shape):
            io.shape[i][d] = s
        io.requires_grad[i] = 1 if requires_grad[i] else 0
        g = np.zeros_like(x) if (requires_grad[i] and grad_out is not None) else None
        grads.append(g)
        if g is not None:
            io.in_grad[i] = fptr(g)
    for i, v in enumerate(fp):
        io.fp[i] = v
    for i, v in enumerate(ip):
        io.ip[i] = v
    cap = out_numel if out_numel is not None else 1 << 22
    out = np.zeros(cap, dtype=np.float32)
    io.out = fptr(out)
    io.out_cap = cap
    go = None
    if grad_out is not None:
        go = np.ascontiguousarray(grad_out, dtype=np.float32)
        io.grad_out = fptr(go)
    st = [np.ascontiguousarray(s, dtype=np.float32) for s in state]
    for k, s in enumerate(st):
        io.state[k] = fptr(s)
        io.ip[6 + k] = s.size
    io.threads = threads
    rc = lib().igt_run(op.encode(), ctypes.byref(io))
    if rc != 0:
        raise RuntimeError("%s: %s" % (op, io.err.decode()))
    shape = tuple(io.out_shape[d] for d in range(io.out_ndim))
    r = Result()
    r.out = out[: int(np.prod(shape))].reshape(shape).copy()
    r.grads = grads
    r.state = st
    r.prims_second = io.prims_second
    r.prims_first = io.prims_first
    return r


def resize_matrix(n_in, n_out, mode):
    m = np.zeros((n_out, n_in), dtype=np.float32)
    if lib().igt_resize_matrix(n_in, n_out, mode, fptr(m)) != 0:
        raise RuntimeError("resize_matrix failed")
    return m
