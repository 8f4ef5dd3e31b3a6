"""Python side of libi2igalip.

weights: pure-Python (numpy) reader and writer of .i2ig weight files.
"""

from . import weights  # noqa: F401

__all__ = ["weights"]
