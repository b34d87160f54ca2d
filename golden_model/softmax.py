"""I-BERT integer softmax over rows of fixed-point scores.

The input is a row of scores in a fixed format (in_bits signed, frac_bits
fractional bits, so real = x * 2^-frac_bits); the requantization in front of
the unit maps the QK^T accumulators into that format.  Because the format is
fixed by the Config, every constant below is a compile-time constant of the RTL.

Per row (docs/numerics.md, "Softmax"):
  d  = x - max(x)                      (<= 0)
  d  = max(d, N_CLAMP * x0)            x0 = floor(-ln2 * 2^frac_bits)
  q  = floor(d / x0);  r = d - x0 * q  (q in [0, 30], r in (x0, 0])
  z  = (r + b) * r + c                 b = floor(B * 2^f), c = floor(C * 2^2f)
  e  = z >>> q                         (I-BERT: z << (30 - q); same up to 2^30)
  sum = sum(e);  factor = floor(2^DIV_BITS / sum)
  p  = min(floor(e * factor / 2^k + 1/2), 2^out_bits - 1)   k = DIV_BITS - out_bits

Departure from I-BERT: p rounds half up instead of flooring; flooring drops
half an LSB of probability mass per element, a bias that grows with the row.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .widths import bits_for, check, validate_bits

# I-BERT's second-order fit of exp on (-ln2, 0]: a * (x + b')^2 + c', written
# as (x + B) * x + C after dividing by a (HF transformers IntSoftmax).
POLY_A = 0.35815147
POLY_B = 0.96963238 / POLY_A
POLY_C = 1.0 / POLY_A
N_CLAMP = 30
DIV_BITS = 32


@dataclass(frozen=True)
class SoftmaxSpec:
    """Constants and declared widths of the integer softmax for one format."""
    in_bits: int
    frac_bits: int
    out_bits: int
    max_len: int
    x0: int           # floor(-ln2 * 2^f), negative
    b: int
    c: int
    z_min: int
    z_max: int

    @property
    def diff_bits(self) -> int:      # x - max
        return self.in_bits + 1

    @property
    def exp_bits(self) -> int:       # z and e, unsigned
        return bits_for(0, self.z_max, signed=False)

    @property
    def sum_bits(self) -> int:
        return bits_for(0, self.z_max * self.max_len, signed=False)

    @property
    def factor_bits(self) -> int:    # sum >= z_min (the row max contributes z(0))
        return bits_for(0, (1 << DIV_BITS) // self.c, signed=False)

    @property
    def out_scale(self) -> float:
        return 2.0 ** -self.out_bits


@lru_cache(maxsize=None)
def softmax_spec(in_bits: int = 16, frac_bits: int = 8, out_bits: int = 7,
                 max_len: int = 512) -> SoftmaxSpec:
    """Validate the format and derive every constant and width."""
    validate_bits("softmax in_bits", in_bits, 4, 24)
    validate_bits("softmax frac_bits", frac_bits, 2, 12)
    validate_bits("softmax out_bits", out_bits, 2, 15)
    if isinstance(max_len, bool) or not isinstance(max_len, int) or not 1 <= max_len <= 4096:
        raise ValueError(f"softmax max_len must be an integer in [1, 4096], got {max_len!r}")
    scale = 2.0 ** -frac_bits
    x0 = math.floor(-math.log(2) / scale)
    b = math.floor(POLY_B / scale)
    c = math.floor(POLY_C / scale ** 2)
    r = np.arange(x0 + 1, 1, dtype=np.int64)
    z = (r + b) * r + c
    spec = SoftmaxSpec(in_bits, frac_bits, out_bits, max_len, x0, b, c, int(z.min()), int(z.max()))
    if spec.z_min <= 0 or spec.sum_bits > DIV_BITS - 1:
        raise ValueError(f"softmax format in_bits={in_bits} frac_bits={frac_bits} "
                         f"max_len={max_len} leaves no room for the row sum")
    return spec


def int_exp(d, spec: SoftmaxSpec) -> np.ndarray:
    """e = z >>> q for d = x - max(x) <= 0 (the unit's exp stage)."""
    op = "softmax.exp"
    d = check(op, "d", d, spec.diff_bits)
    if np.any(d > 0):
        raise ValueError(f"{op}: input must be <= 0 (x - row max), got {int(d.max())}")
    d = np.maximum(d, N_CLAMP * spec.x0)
    q = d // spec.x0
    r = d - spec.x0 * q
    z = (r + spec.b) * r + spec.c
    check(op, "z", z, spec.exp_bits, signed=False)
    return z >> q


def int_softmax(x, spec: SoftmaxSpec | None = None, *, axis: int = -1) -> np.ndarray:
    """Integer softmax along ``axis``; out in [0, 2^out_bits - 1], real = out * 2^-out_bits."""
    spec = spec or softmax_spec()
    op = "softmax"
    x = check(op, "x", x, spec.in_bits)
    x = np.moveaxis(x, axis, -1)
    if x.shape[-1] == 0 or x.shape[-1] > spec.max_len:
        raise ValueError(f"{op}: row length must be in [1, {spec.max_len}], got {x.shape[-1]}")
    e = int_exp(x - x.max(axis=-1, keepdims=True), spec)
    total = check(op, "sum", e.sum(axis=-1, keepdims=True), spec.sum_bits, signed=False)
    factor = check(op, "factor", (np.int64(1) << DIV_BITS) // total, spec.factor_bits, signed=False)
    k = DIV_BITS - spec.out_bits
    p = (e * factor + (np.int64(1) << (k - 1))) >> k
    # e * factor <= 2^DIV_BITS, so p reaches 2^out_bits only for a row whose
    # mass sits (almost) all in one element: saturate that corner, not widen.
    p = np.minimum(p, (1 << spec.out_bits) - 1)
    return np.moveaxis(p, -1, axis)
