"""Quantization primitives: the float-to-integer boundary and requantization.

Everything here that takes a float runs at calibration time only; after it,
the integer path uses :func:`requantize` and nothing else to change scale.

Conventions (docs/numerics.md, "Quantization"):

- Symmetric quantization everywhere, zero point 0.  A ``b``-bit tensor uses
  [-(2^(b-1)-1), 2^(b-1)-1]; the most negative code is never produced by
  quantization (so int4 weights are in [-7, 7]).
- A positive real scale r becomes a multiplier M in [2^30, 2^31) and a shift s
  in [0, 62] with r ~= M * 2^-s (M < 2^30 only when s hits 62).
- Requantization rounds half up: y = sat(((acc * M) + 2^(s-1)) >>> s).
"""
from __future__ import annotations


import numpy as np

from .widths import check, saturate, validate_bits

#: Requantization operands: ``acc`` up to 32 bits signed, ``M`` 31 bits unsigned
#: (an int32 that is never negative), ``s`` 6 bits unsigned.
MULT_BITS = 31
SHIFT_MAX = 62
ACC_BITS_MAX = 32


def _scale_array(name: str, scale) -> np.ndarray:
    s = np.asarray(scale, dtype=np.float64)
    if s.size == 0 or not np.all(np.isfinite(s)) or not np.all(s > 0):
        bad = s[~(np.isfinite(s) & (s > 0))].flat[0] if s.size else "empty"
        raise ValueError(f"{name} must be finite and > 0, got {bad}")
    return s


def qmax(bits: int) -> int:
    """Largest code of a symmetric ``bits``-wide quantizer (2^(bits-1) - 1)."""
    return (1 << (validate_bits("bits", bits, 2, 32) - 1)) - 1


def scale_for(absmax, bits: int) -> np.ndarray | float:
    """Scale that maps ``absmax`` to the largest symmetric ``bits``-bit code."""
    a = _scale_array("absmax", absmax)
    out = a / qmax(bits)
    return float(out) if out.ndim == 0 else out


def quantize(x, scale, bits: int) -> np.ndarray:
    """Round-to-nearest-even of ``x / scale``, saturated to the symmetric range."""
    s = _scale_array("scale", scale)
    q = qmax(bits)
    return np.clip(np.rint(np.asarray(x, dtype=np.float64) / s), -q, q).astype(np.int64)


def quantize_weights(w, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel quantization of a ``[K, N]`` weight.

    Returns ``(w_int [K, N], scale [N])``; channel n's scale is
    max|w[:, n]| / (2^(bits-1) - 1).  An all-zero channel gets scale 1.
    """
    if bits not in (4, 8):
        raise ValueError(f"weight_bits must be 4 or 8, got {bits!r}")
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"weights must be 2-D [K, N], got shape {w.shape}")
    absmax = np.abs(w).max(axis=0)
    scale = np.where(absmax > 0, absmax, qmax(bits)) / qmax(bits)
    return quantize(w, scale, bits), scale


def quantize_multiplier(real) -> tuple[np.ndarray, np.ndarray]:
    """Turn positive real scale(s) into integer (M, s) with real ~= M * 2^-s.

    M is in [2^30, 2^31) where the shift allows; s is in [0, 62].  Raises
    ValueError for a scale that is not finite and > 0, >= 2^31 (shift would be
    negative), or so small that M would round to 0.
    """
    r = _scale_array("scale", real)
    mant, exp = np.frexp(r)                      # r = mant * 2^exp, mant in [0.5, 1)
    shift = MULT_BITS - exp.astype(np.int64)
    mult = np.rint(mant * (1 << MULT_BITS)).astype(np.int64)
    carry = mult == (1 << MULT_BITS)             # mantissa rounded up to 1.0
    mult = np.where(carry, 1 << (MULT_BITS - 1), mult)
    shift = np.where(carry, shift - 1, shift)
    if np.any(shift < 0):
        raise ValueError(f"scale must be < 2^31 to fit a multiplier and a shift >= 0, got {r.max()}")
    deep = shift > SHIFT_MAX
    if np.any(deep):
        mult = np.where(deep, np.rint(r * 2.0 ** SHIFT_MAX).astype(np.int64), mult)
        shift = np.minimum(shift, SHIFT_MAX)
        if np.any(mult == 0):
            raise ValueError(f"scale must be >= 2^-63 to be representable, got {r.min()}")
    return mult, shift


def requantize(acc, mult, shift, out_bits: int, *, acc_bits: int = ACC_BITS_MAX,
               op: str = "requantize") -> np.ndarray:
    """y = sat_out_bits(((acc * M) + 2^(s-1)) >>> s): round half up, then saturate.

    ``acc``: acc_bits signed.  ``mult``: [0, 2^31) (broadcast, e.g. per output
    channel on the last axis).  ``shift``: [0, 62]; s = 0 adds no rounding term.
    The product needs acc_bits + 31 bits (<= 63, exact in int64).
    """
    validate_bits("out_bits", out_bits, 2, 32)
    validate_bits("acc_bits", acc_bits, 2, ACC_BITS_MAX)
    a = check(op, "acc", acc, acc_bits)
    m = check(op, "multiplier", mult, MULT_BITS, signed=False)
    s = check(op, "shift", shift, 6, signed=False)
    if np.any(s > SHIFT_MAX):
        raise ValueError(f"{op}: shift must be in [0, {SHIFT_MAX}], got {int(s.max())}")
    prod = a * m
    rounded = (prod + ((np.int64(1) << s) >> 1)) >> s
    return saturate(rounded, out_bits)
