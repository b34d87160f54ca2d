"""I-BERT integer GELU (i-GELU) on a fixed-point input.

gelu(x) = x/2 * (1 + erf(x/sqrt2)), erf by I-BERT's clipped second-order
polynomial erf(u) ~ sign(u) * (A * (min(|u|, -B) + B)^2 + 1), A = -0.2888,
B = -1.769.  The input format is fixed by the Config (in_bits signed,
frac_bits fractional bits), so every constant is a compile-time constant.

docs/numerics.md "GELU":
  S_e = 2^-f / SQRT2                     (the erf argument is x / SQRT2)
  b   = floor(B / S_e);  c = floor(1 / (A * S_e^2))      (both negative)
  t   = sign(x) * -((min(|x|, -b) + b)^2 + c)    erf(x/sqrt2) ~ t * |A| * S_e^2
  t'  = t >>> erf_shift                  (floor; erf_shift keeps ~erf_bits bits)
  one = floor(1 / (|A| * S_e^2 * 2^erf_shift))
  out = x * (t' + one)                   real = out * 2^-f * |A| * S_e^2 * 2^erf_shift / 2

Departure from I-BERT: t is floored in positive scale (I-BERT floors the
negative-scaled value), so erf is rounded toward -inf in both signs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .widths import bits_for, check, validate_bits

ERF_A = -0.2888
ERF_B = -1.769
SQRT2 = 1.4142  # I-BERT's constant, kept so the polynomial is I-BERT's


@dataclass(frozen=True)
class GeluSpec:
    in_bits: int
    frac_bits: int
    erf_bits: int
    b: int            # negative
    c: int            # negative
    erf_shift: int
    one: int

    @property
    def t_bits(self) -> int:
        return bits_for(self.c, -self.c)

    @property
    def sum_bits(self) -> int:       # t' + one, in [0, 2*one]
        return bits_for(-1, 2 * self.one + 1)

    @property
    def out_bits(self) -> int:
        lo = -(1 << (self.in_bits - 1))
        return bits_for(lo * (2 * self.one + 1), -lo * (2 * self.one + 1))

    @property
    def erf_scale(self) -> float:
        return abs(ERF_A) * 2.0 ** (-2 * self.frac_bits) / 2 * 2.0 ** self.erf_shift

    @property
    def out_scale(self) -> float:
        """Real value of one LSB of out."""
        return 2.0 ** -self.frac_bits * self.erf_scale / 2


@lru_cache(maxsize=None)
def gelu_spec(in_bits: int = 16, frac_bits: int = 10, erf_bits: int = 14) -> GeluSpec:
    validate_bits("gelu in_bits", in_bits, 4, 20)
    validate_bits("gelu frac_bits", frac_bits, 1, in_bits - 2 if in_bits > 3 else 1)
    validate_bits("gelu erf_bits", erf_bits, 4, 16)
    s_erf = 2.0 ** -frac_bits / SQRT2
    b = math.floor(ERF_B / s_erf)
    c = math.floor((1.0 / ERF_A) / s_erf ** 2)
    erf_shift = max(0, abs(c).bit_length() - erf_bits)
    one = math.floor(1.0 / (abs(ERF_A) * s_erf ** 2 * 2.0 ** erf_shift))
    return GeluSpec(in_bits, frac_bits, erf_bits, b, c, erf_shift, one)


def int_gelu(x, spec: GeluSpec | None = None) -> np.ndarray:
    """Integer GELU; the result's LSB is ``spec.out_scale`` (requantize after)."""
    spec = spec or gelu_spec()
    op = "gelu"
    x = check(op, "x", x, spec.in_bits)
    clipped = np.minimum(np.abs(x), -spec.b)
    poly = (clipped + spec.b) ** 2 + spec.c                 # <= 0
    t = check(op, "t", np.sign(x) * -poly, spec.t_bits)
    t = t >> spec.erf_shift
    s = check(op, "erf_plus_one", t + spec.one, spec.sum_bits)
    return check(op, "out", x * s, spec.out_bits)
