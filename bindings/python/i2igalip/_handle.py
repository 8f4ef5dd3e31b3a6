"""Ownership of C handles: one base class for every wrapper object.

A handle is released exactly once: by close() (also called by ``with``), or
by the garbage collector through weakref.finalize when the Python object
dies, or at interpreter exit (finalizers run in reverse order of creation, so
a trainer goes before the encoder it borrows, which it also keeps alive).

The C library allows one thread at a time per handle. The GIL is released
during calls, so two Python threads could otherwise enter the same handle at
once: every call takes the handle's lock (different handles stay parallel).
"""
import ctypes
import threading
import weakref

from . import capi


class Handle:
    """Base of the wrappers: ._h is the live C pointer (a c_void_p)."""

    _free = None  # name of the C function releasing the handle

    def __init__(self, handle, keep=()):
        if not handle:
            raise ValueError("NULL handle")
        self._handle = ctypes.c_void_p(handle.value if isinstance(handle, ctypes.c_void_p)
                                       else handle)
        self._lock = threading.RLock()
        self._keep = tuple(keep)  # objects the C handle borrows
        self._finalizer = weakref.finalize(self, _release, getattr(capi.lib, self._free),
                                           self._handle.value, self._keep)

    @property
    def _h(self):
        if not self._finalizer.alive:
            raise ValueError("operation on a closed %s" % type(self).__name__)
        return self._handle

    @property
    def closed(self):
        return not self._finalizer.alive

    def close(self):
        """Releases the C handle now (idempotent)."""
        with self._lock:
            self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else "0x%x" % self._handle.value
        return "<i2igalip.%s %s>" % (type(self).__name__, state)


def _release(free, pointer, keep):
    # keep is unused: holding it here keeps borrowed objects alive until the
    # borrower is released.
    free(pointer)


def new_handle():
    """An out-parameter for *_create / *_load."""
    return ctypes.c_void_p()


def cstr(s, what="string"):
    """str or bytes -> NUL-free UTF-8 bytes for a const char * argument."""
    if s is None:
        return None
    if isinstance(s, str):
        b = s.encode("utf-8")
    elif isinstance(s, (bytes, bytearray)):
        b = bytes(s)
    elif hasattr(s, "__fspath__"):
        return cstr(s.__fspath__(), what)
    else:
        raise TypeError("%s must be str or bytes, not %s" % (what, type(s).__name__))
    if b"\0" in b:
        raise ValueError("%s contains a NUL character" % what)
    return b


def path_arg(p):
    """A filesystem path (str, bytes, os.PathLike) -> bytes for C."""
    import os
    return cstr(os.fsencode(p), "path")
