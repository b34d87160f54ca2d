"""Integer LayerNorm with an exact floor square root (I-BERT, made exact).

Per vector x of H elements (in_bits signed), docs/numerics.md "LayerNorm":
  sum    = sum(x)                                   in_bits + clog2(H)
  mean   = floor((sum + floor(H/2)) / H)            rounded mean
  y      = x - mean                                 in_bits + 1
  var    = sum(y^2) >> var_shift                    < 2^32 (var_shift from H, in_bits)
  std    = max(1, isqrt(var))                       16 bits, floor sqrt
  factor = floor(2^31 / std)                        32 bits unsigned
  n      = (y * factor + 2^(ns-1)) >>> ns           norm_bits signed (|n| bound proven)
  a      = n * g + beta                             norm_bits + gamma_bits
  out    = requantize(a, M, s, out_bits)

The reference I-BERT code takes a float sqrt; here isqrt is the digit-by-digit
integer algorithm the RTL implements, one result bit per step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .quant import requantize
from .widths import check, validate_bits

VAR_BITS = 32
FACTOR_NUM_BITS = 31


def isqrt(x, bits: int = VAR_BITS) -> np.ndarray:
    """Floor square root of every element of ``x`` (unsigned, ``bits`` wide).

    Restoring digit-by-digit: one root bit per step, no floats.
    """
    validate_bits("isqrt bits", bits, 1, 62)
    rem = check("isqrt", "x", x, bits, signed=False).copy()
    root = np.zeros_like(rem)
    for k in range((bits + 1) // 2 - 1, -1, -1):
        trial = (root << (k + 1)) + (np.int64(1) << (2 * k))  # (2*root*2^k + 4^k)
        take = rem >= trial
        rem = np.where(take, rem - trial, rem)
        root = np.where(take, root | (np.int64(1) << k), root)
    return root


@dataclass(frozen=True)
class LayerNormSpec:
    """Constants and declared widths of the integer LayerNorm for one shape."""
    hidden: int
    in_bits: int
    norm_bits: int
    gamma_bits: int
    out_bits: int
    var_shift: int
    norm_shift: int

    @property
    def sum_bits(self) -> int:
        return self.in_bits + math.ceil(math.log2(self.hidden))

    @property
    def centered_bits(self) -> int:
        return self.in_bits + 1

    @property
    def var_sum_bits(self) -> int:   # unsigned: y^2 < 2^(2*in_bits)
        return 2 * self.in_bits + math.ceil(math.log2(self.hidden))

    @property
    def affine_bits(self) -> int:
        return self.norm_bits + self.gamma_bits

    @property
    def norm_scale(self) -> float:
        """Real value of one LSB of n, in units of the normalized (z-score) value."""
        return math.sqrt(self.hidden) * 2.0 ** (self.norm_shift - FACTOR_NUM_BITS - self.var_shift / 2)


@lru_cache(maxsize=None)
def layernorm_spec(hidden: int = 384, in_bits: int = 16, norm_bits: int = 16,
                   gamma_bits: int = 16, out_bits: int = 8) -> LayerNormSpec:
    if isinstance(hidden, bool) or not isinstance(hidden, int) or not 2 <= hidden <= 8192:
        raise ValueError(f"layernorm hidden must be an integer in [2, 8192], got {hidden!r}")
    validate_bits("layernorm in_bits", in_bits, 2, 24)
    validate_bits("layernorm norm_bits", norm_bits, 4, 24)
    validate_bits("layernorm gamma_bits", gamma_bits, 2, 24)
    validate_bits("layernorm out_bits", out_bits, 2, 24)
    if norm_bits + gamma_bits > 32:
        raise ValueError(f"layernorm norm_bits + gamma_bits must be <= 32, got {norm_bits + gamma_bits}")
    var_sum_bits = 2 * in_bits + math.ceil(math.log2(hidden))
    var_shift = max(0, var_sum_bits - VAR_BITS)
    # |y| / std < 2^(var_shift/2 + 1) (docs/numerics.md), so |y * factor| <
    # 2^(var_shift/2 + 32); one more bit absorbs the rounding term.
    norm_shift = math.ceil(var_shift / 2) + FACTOR_NUM_BITS + 3 - norm_bits
    if norm_shift < 1:
        raise ValueError(f"layernorm norm_bits={norm_bits} is wider than the normalized value needs")
    return LayerNormSpec(hidden, in_bits, norm_bits, gamma_bits, out_bits, var_shift, norm_shift)


def normalize(x, spec: LayerNormSpec) -> np.ndarray:
    """The integer z-score n of each row (last axis), norm_bits signed."""
    op = "layernorm"
    x = check(op, "x", x, spec.in_bits)
    if x.shape[-1] != spec.hidden:
        raise ValueError(f"{op}: last axis must be hidden={spec.hidden}, got {x.shape[-1]}")
    total = check(op, "sum", x.sum(axis=-1, keepdims=True), spec.sum_bits)
    mean = (total + spec.hidden // 2) // spec.hidden
    y = check(op, "y", x - mean, spec.centered_bits)
    var_sum = check(op, "var_sum", (y * y).sum(axis=-1, keepdims=True), spec.var_sum_bits, signed=False)
    var = check(op, "var", var_sum >> spec.var_shift, VAR_BITS, signed=False)
    std = np.maximum(isqrt(var, VAR_BITS), 1)
    factor = (np.int64(1) << FACTOR_NUM_BITS) // std
    n = (y * factor + (np.int64(1) << (spec.norm_shift - 1))) >> spec.norm_shift
    return check(op, "n", n, spec.norm_bits)


def int_layernorm(x, gamma, beta, mult, shift, spec: LayerNormSpec) -> np.ndarray:
    """out = requantize(normalize(x) * gamma + beta, M, s, out_bits).

    gamma: [H] gamma_bits signed; beta: [H] affine_bits - 1 signed; M, s per tensor.
    """
    op = "layernorm"
    n = normalize(x, spec)
    g = check(op, "gamma", gamma, spec.gamma_bits)
    bt = check(op, "beta", beta, spec.affine_bits - 1)
    a = check(op, "affine", n * g + bt, spec.affine_bits)
    return requantize(a, mult, shift, spec.out_bits, acc_bits=spec.affine_bits, op=op)
