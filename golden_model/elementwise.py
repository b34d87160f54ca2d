"""Residual add: both operands requantized to a common scale, then saturated."""
from __future__ import annotations

import numpy as np

from .quant import ACC_BITS_MAX, requantize
from .widths import saturate, validate_bits


def residual_add(a, mult_a, shift_a, b, mult_b, shift_b, *, out_bits: int = 16,
                 a_bits: int = ACC_BITS_MAX, b_bits: int = 8,
                 op: str = "residual_add") -> np.ndarray:
    """sat_out(requant(a) + requant(b)).

    Each operand is requantized (round half up) to out_bits + 1 bits at the
    common output scale, so the sum needs out_bits + 2 bits before the final
    saturation to out_bits.
    """
    validate_bits("out_bits", out_bits, 2, 30)
    ra = requantize(a, mult_a, shift_a, out_bits + 1, acc_bits=a_bits, op=op + ".a")
    rb = requantize(b, mult_b, shift_b, out_bits + 1, acc_bits=b_bits, op=op + ".b")
    return saturate(ra + rb, out_bits)
