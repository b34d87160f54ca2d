"""Declared bit widths and the run-time checks that enforce them.

Every op in the golden model declares the width of each input, output and
intermediate.  The RTL generators size their registers from the same numbers,
so a value that leaves its declared width is a spec bug, not a rounding detail:
``check`` raises :class:`WidthError` naming the op, the tensor and the value.
"""
from __future__ import annotations

import numpy as np

#: Widest integer the model declares; int64 arithmetic keeps every declared
#: product of two such values exact.
MAX_DECLARED_BITS = 62


class WidthError(ArithmeticError):
    """A value left the bit width its op declares for it."""

    def __init__(self, op: str, name: str, value: int, bits: int, signed: bool):
        lo, hi = int_range(bits, signed)
        kind = "signed" if signed else "unsigned"
        super().__init__(
            f"{op}: {name} = {value} is outside its declared {bits}-bit {kind} "
            f"range [{lo}, {hi}]")
        self.op, self.name, self.value, self.bits, self.signed = op, name, value, bits, signed


def validate_bits(name: str, bits: int, lo: int = 1, hi: int = 32) -> int:
    """Return ``bits`` if it is an int in [lo, hi], else raise ValueError naming ``name``."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not lo <= bits <= hi:
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {bits!r}")
    return int(bits)


def int_range(bits: int, signed: bool = True) -> tuple[int, int]:
    """Inclusive range of a ``bits``-wide two's-complement (or unsigned) integer."""
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def bits_for(lo: int, hi: int, signed: bool = True) -> int:
    """Smallest width whose range holds every integer in [lo, hi]."""
    if not signed:
        if lo < 0:
            raise ValueError(f"unsigned range cannot hold {lo}")
        return max(1, int(hi).bit_length())
    return 1 + max(int(-lo - 1).bit_length() if lo < 0 else 0, int(hi).bit_length())


def check(op: str, name: str, arr, bits: int, signed: bool = True) -> np.ndarray:
    """Return ``arr`` as int64 after checking every element fits ``bits``.

    Raises :class:`WidthError` with the first offending value.
    """
    a = np.asarray(arr)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{op}: {name} must be an integer array, got dtype {a.dtype}")
    a = a.astype(np.int64, copy=False)
    lo, hi = int_range(bits, signed)
    if a.size:
        bad = (a < lo) | (a > hi)
        if bad.any():
            raise WidthError(op, name, int(a[bad].flat[0]), bits, signed)
    return a


def saturate(arr, bits: int, signed: bool = True) -> np.ndarray:
    """Clamp to the range of a ``bits``-wide integer (the RTL's saturation)."""
    lo, hi = int_range(bits, signed)
    return np.clip(np.asarray(arr, dtype=np.int64), lo, hi)
