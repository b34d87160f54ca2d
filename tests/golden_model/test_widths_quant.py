"""Declared widths, quantization primitives and requantization."""
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, strategies as st

from golden_model.quant import (MULT_BITS, SHIFT_MAX, quantize, quantize_multiplier,
                                quantize_weights, requantize)
from golden_model.widths import WidthError, bits_for, check, int_range, validate_bits
from verif.strategies import ints


def exact_requant(acc: int, m: int, s: int, out_bits: int) -> int:
    """floor(acc * M / 2^s + 1/2), saturated: the rational definition."""
    y = math.floor(Fraction(acc * m, 2 ** s) + Fraction(1, 2))
    lo, hi = int_range(out_bits)
    return min(max(y, lo), hi)


@st.composite
def requant_cases(draw):
    s = draw(st.one_of(st.sampled_from([0, 1, 2, 31, SHIFT_MAX - 1, SHIFT_MAX]),
                       st.integers(0, SHIFT_MAX)))
    m = draw(ints(MULT_BITS, signed=False, extra=(1 << 30,)))
    if s > 0 and draw(st.booleans()) and m:
        # a rounding tie: acc * M = odd * 2^(s-1), when such an acc exists
        k = draw(st.integers(-(1 << 20), 1 << 20))
        num = (2 * k + 1) << (s - 1)
        acc = num // m if num % m == 0 and abs(num // m) < 2 ** 31 else draw(ints(32))
    else:
        acc = draw(ints(32))
    out_bits = draw(st.sampled_from([8, 16, 17, 32]))
    return acc, m, s, out_bits


@given(requant_cases())
def test_requantize_is_exact_rational_rounding(case):
    acc, m, s, out_bits = case
    assert int(requantize(np.array([acc]), m, s, out_bits)[0]) == exact_requant(acc, m, s, out_bits)


def test_requantize_rounds_ties_up_and_saturates():
    # 5 * 1 / 2 = 2.5 -> 3; -5 / 2 = -2.5 -> -2 (half up); 1000 saturates at 127
    got = requantize(np.array([5, -5, 1000, -1000]), 1, 1, 8)
    assert got.tolist() == [3, -2, 127, -128]


def test_requantize_per_channel_broadcast():
    acc = np.array([[10, 10], [-10, -10]])
    got = requantize(acc, np.array([1, 3]), np.array([1, 2]), 8)
    assert got.tolist() == [[5, 8], [-5, -7]]


@given(st.floats(min_value=1e-12, max_value=2.0 ** 30, allow_nan=False))
def test_quantize_multiplier_is_accurate(real):
    m, s = quantize_multiplier(real)
    assert 0 <= s <= SHIFT_MAX and 0 < m < 2 ** MULT_BITS
    # relative 2^-30 while M keeps 31 bits; half an LSB of 2^-62 once s is capped
    assert abs(int(m) / 2.0 ** int(s) - real) <= max(real * 2.0 ** -30, 2.0 ** -63)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), 2.0 ** 31, 1e-30])
def test_quantize_multiplier_rejects_bad_scales(bad):
    with pytest.raises(ValueError, match="scale"):
        quantize_multiplier(bad)


def test_quantize_weights_is_symmetric_per_channel():
    w = np.array([[1.0, -0.5], [-2.0, 0.25]])
    for bits, q in ((8, 127), (4, 7)):
        w_int, scale = quantize_weights(w, bits)
        assert np.abs(w_int).max(axis=0).tolist() == [q, q]
        assert np.allclose(w_int * scale, w, atol=scale.max() / 2)
    with pytest.raises(ValueError, match="weight_bits must be 4 or 8"):
        quantize_weights(w, 5)


def test_quantize_rejects_bad_scale():
    for bad in (0, -2, float("nan")):
        with pytest.raises(ValueError, match="scale must be finite and > 0"):
            quantize([1.0], bad, 8)


@pytest.mark.parametrize("bits", [0, -1, 33, 1.5, True])
def test_validate_bits_names_the_parameter(bits):
    with pytest.raises(ValueError, match=r"out_bits must be an integer in \[2, 32\]"):
        requantize(np.array([1]), 1, 1, bits)


def test_check_fires_outside_declared_width():
    check("op", "t", np.array([-128, 127]), 8)
    with pytest.raises(WidthError, match=r"op: t = 128 is outside its declared 8-bit signed"):
        check("op", "t", np.array([0, 128]), 8)
    with pytest.raises(WidthError, match="= -1"):
        check("op", "t", np.array([-1]), 8, signed=False)
    with pytest.raises(WidthError, match="acc"):
        requantize(np.array([2 ** 31]), 1, 0, 8)


@given(st.integers(-(2 ** 40), 2 ** 40), st.integers(0, 2 ** 40))
def test_bits_for_is_minimal(a, b):
    lo, hi = min(a, b), max(a, b)
    n = bits_for(lo, hi)
    rlo, rhi = int_range(n)
    assert rlo <= lo and hi <= rhi
    if n > 1:
        plo, phi = int_range(n - 1)
        assert lo < plo or hi > phi


def test_validate_bits_accepts_range_ends():
    assert validate_bits("x", 1) == 1 and validate_bits("x", 32) == 32
