"""Integer matmul: exact against int64 numpy, accumulator widths, bad input."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from golden_model.matmul import acc_bits_for, int_matmul, matmul_acc
from golden_model.quant import requantize
from golden_model.widths import WidthError, int_range
from verif.strategies import int_arrays


@st.composite
def matmul_cases(draw):
    wb = draw(st.sampled_from([8, 4]))
    m, k, n = (draw(st.integers(1, 6)) for _ in range(3))
    x = draw(int_arrays((m, k), 8))
    w = draw(int_arrays((k, n), wb))
    bias = draw(int_arrays((n,), 32))
    return wb, x, w, bias


@given(matmul_cases())
def test_matmul_acc_equals_int64_numpy(case):
    wb, x, w, bias = case
    ref = np.einsum("mk,kn->mn", x.astype(object), w.astype(object)) + bias.astype(object)
    lo, hi = int_range(32)
    if ref.min() < lo or ref.max() > hi:
        with pytest.raises(WidthError, match="acc"):
            matmul_acc(x, w, bias, weight_bits=wb)
    else:
        assert (matmul_acc(x, w, bias, weight_bits=wb) == ref.astype(np.int64)).all()


def test_matmul_is_exact_at_full_scale_k():
    # K = 1536 (MiniLM FFN) of -128 * -128 is the largest MiniLM dot product
    x = np.full((2, 1536), -128)
    w = np.full((1536, 3), -128)
    assert (matmul_acc(x, w) == 1536 * 128 * 128).all()


@given(st.integers(1, 4096), st.sampled_from([4, 8]))
def test_acc_bits_for_holds_the_extremes(k, wb):
    bits = acc_bits_for(k, 8, wb, 32)
    lo, hi = int_range(bits)
    wlo, whi = int_range(wb)
    assert k * -128 * wlo + 2 ** 31 - 1 <= hi
    assert k * min(-128 * whi, 127 * wlo) - 2 ** 31 >= lo
    assert bits == 1 or k * -128 * wlo + 2 ** 31 - 1 > int_range(bits - 1)[1]
    assert acc_bits_for(k, 8, wb, 32) <= acc_bits_for(k + 1, 8, wb, 32)


def test_int_matmul_is_matmul_then_requant():
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (4, 16))
    w = rng.integers(-8, 8, (16, 5))
    bias = rng.integers(-1000, 1000, 5)
    mult, shift = rng.integers(2 ** 30, 2 ** 31, 5), rng.integers(30, 40, 5)
    got = int_matmul(x, w, bias, mult, shift, weight_bits=4)
    assert (got == requantize(x @ w + bias, mult, shift, 8)).all()


def test_matmul_rejects_bad_input():
    with pytest.raises(ValueError, match=r"weight_bits must be an integer in \[2, 16\]"):
        matmul_acc(np.zeros((1, 1), int), np.zeros((1, 1), int), weight_bits=17)
    with pytest.raises(WidthError, match="w = 8"):
        matmul_acc(np.zeros((1, 1), int), np.full((1, 1), 8), weight_bits=4)
    with pytest.raises(ValueError, match="inner dimensions"):
        matmul_acc(np.zeros((1, 2), int), np.zeros((3, 1), int))
    with pytest.raises(ValueError, match="k_max"):
        acc_bits_for(0)


def test_beat_weights_int4_rows_take_the_low_nibble():
    """A mixed matmul's int4 beat reads each int8 lane's low four bits as int4."""
    from golden_model.matmul import beat_weights
    w = np.array([[-128, 127, -8, 7, 8, -9, -1, 0], [-128, 127, -8, 7, 8, -9, -1, 0]])
    got = beat_weights(w, [True, False])
    np.testing.assert_array_equal(got[0], w[0])
    np.testing.assert_array_equal(got[1], [0, -1, -8, 7, -8, 7, -1, 0])
    allw = np.arange(-128, 128).reshape(1, -1)
    nib = beat_weights(allw, [False])[0]
    assert nib.min() == -8 and nib.max() == 7
    np.testing.assert_array_equal(nib & 0xF, allw[0] & 0xF)


def test_beat_weights_bad_input_names_it():
    from golden_model.matmul import beat_weights
    with pytest.raises(ValueError, match="one flag per row"):
        beat_weights(np.zeros((3, 2), dtype=np.int64), [True, False])
    with pytest.raises(WidthError, match="beat_weights: w = 300"):
        beat_weights(np.full((1, 1), 300), [True])
