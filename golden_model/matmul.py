"""Integer matmul with int32 bias and per-output-channel requantization.

x [M, K] (act_bits signed) @ w [K, N] (weight_bits signed) + bias [N]
(acc_bits signed) accumulates exactly, then each output channel n is
requantized with its own (mult[n], shift[n]).
"""
from __future__ import annotations

import numpy as np

from .quant import ACC_BITS_MAX, requantize
from .widths import bits_for, check, validate_bits, int_range

#: float64 holds every integer below 2^53 exactly, so a BLAS product whose
#: every partial sum stays below that is the exact integer result.
_FLOAT64_EXACT = 1 << 53


def acc_bits_for(k_max: int, act_bits: int = 8, weight_bits: int = 8,
                 bias_bits: int = 32) -> int:
    """Accumulator width that holds any K <= k_max dot product plus a bias.

    The RTL sizes its accumulators from this, so they cannot overflow.
    """
    if isinstance(k_max, bool) or not isinstance(k_max, (int, np.integer)) or k_max < 1:
        raise ValueError(f"k_max must be a positive integer, got {k_max!r}")
    alo, ahi = int_range(act_bits)
    wlo, whi = int_range(weight_bits)
    pmax = max(alo * wlo, ahi * whi)
    pmin = min(alo * whi, ahi * wlo)
    blo, bhi = int_range(bias_bits)
    return bits_for(k_max * pmin + blo, k_max * pmax + bhi)


def matmul_acc(x, w, bias=None, *, act_bits: int = 8, weight_bits: int = 8,
               acc_bits: int = ACC_BITS_MAX, op: str = "matmul") -> np.ndarray:
    """Exact integer x @ w + bias as int64, checked to fit ``acc_bits``."""
    validate_bits("act_bits", act_bits, 2, 16)
    # 4 or 8 for weights (Numerics); attention multiplies two activations here
    validate_bits("weight_bits", weight_bits, 2, 16)
    xa = check(op, "x", x, act_bits)
    wa = check(op, "w", w, weight_bits)
    if wa.ndim < 2 or xa.shape[-1] != wa.shape[-2]:
        raise ValueError(f"{op}: inner dimensions differ: x {xa.shape} @ w {wa.shape}")
    k = wa.shape[-2]
    bound = k * (1 << (act_bits - 1)) * (1 << (weight_bits - 1))
    if bound < _FLOAT64_EXACT:
        acc = np.rint(xa.astype(np.float64) @ wa.astype(np.float64)).astype(np.int64)
    else:  # pragma: no cover - only for act widths the model never uses
        acc = xa @ wa
    if bias is not None:
        acc = acc + check(op, "bias", bias, 32)
    return check(op, "acc", acc, acc_bits)


def int_matmul(x, w, bias, mult, shift, *, out_bits: int = 8, act_bits: int = 8,
               weight_bits: int = 8, acc_bits: int = ACC_BITS_MAX,
               op: str = "matmul") -> np.ndarray:
    """Requantized integer matmul: sat(((x @ w + bias) * M[n] + 2^(s[n]-1)) >>> s[n])."""
    acc = matmul_acc(x, w, bias, act_bits=act_bits, weight_bits=weight_bits,
                     acc_bits=acc_bits, op=op)
    return requantize(acc, mult, shift, out_bits, acc_bits=acc_bits, op=op)


def beat_weights(w, wide) -> np.ndarray:
    """The weights a mixed matmul multiplies (rtl_gen MatmulConfig.mixed: int8
    weight lanes on int4 triples): row k of int8 ``w`` [K, N] as given where
    ``wide[k]`` (an int8 beat), else each weight's low nibble read as int4
    (an int4 beat takes a lane's low four bits and ignores the rest)."""
    wa = check("beat_weights", "w", w, 8)
    flags = np.asarray(wide, dtype=bool)
    if wa.ndim != 2 or flags.shape != (wa.shape[0],):
        raise ValueError(f"beat_weights: wide must hold one flag per row of w {wa.shape}, "
                         f"got shape {flags.shape}")
    nib = ((wa & 0xF) ^ 0x8) - 0x8
    return np.where(flags[:, None], wa, nib)
