"""Integer softmax: exp stage exhaustively, rows as properties, error vs float."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from golden_model.softmax import N_CLAMP, int_exp, int_softmax, softmax_spec
from golden_model.widths import WidthError
from verif.strategies import int_arrays

SPEC = softmax_spec()


def float_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_exp_stage_is_monotone_and_close_over_its_whole_domain():
    d = -np.arange(0, 2 ** SPEC.in_bits + 1)          # every x - max of 16-bit scores
    e = int_exp(d, SPEC)
    assert (np.diff(e) <= 0).all(), "exp must not increase as d decreases"
    assert e[0] == SPEC.c and (e >= 0).all()
    live = d > N_CLAMP * SPEC.x0
    ref = np.exp(d[live] * 2.0 ** -SPEC.frac_bits) * SPEC.c
    err = np.abs(e[live] - ref)
    # I-BERT's polynomial is within 0.2% of exp on (-ln2, 0], x0 = floor(-ln2 * 2^f)
    # misplaces each halving by < 1 LSB of d (0.3% here): within one halving 0.5%,
    # and never more than 0.5% of the row maximum's exp
    near = d[live] > 2 * SPEC.x0
    assert (err[near] <= 0.005 * ref[near] + 1).all()
    assert (err <= 0.005 * SPEC.c + 1).all()


@st.composite
def rows(draw, max_len=SPEC.max_len):
    n = draw(st.one_of(st.sampled_from([1, 2, max_len]), st.integers(1, 64)))
    kind = draw(st.sampled_from(["any", "dominant", "clamp", "near"]))
    if kind == "near":   # a realistic spread: within a few units of each other
        base = draw(st.integers(-20000, 20000))
        spread = draw(st.sampled_from([0, 1, 64, 512, 2048]))
        offs = draw(st.lists(st.integers(-spread, spread), min_size=n, max_size=n))
        return np.clip(base + np.asarray(offs, np.int64), -2 ** 15, 2 ** 15 - 1)
    x = draw(int_arrays((n,), SPEC.in_bits))
    if kind == "dominant":
        x[draw(st.integers(0, n - 1))] = 2 ** 15 - 1
    elif kind == "clamp":  # around the exp range's clamp at 30 * x0
        x = np.clip(x.max() + N_CLAMP * SPEC.x0 + np.asarray(
            draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))), -2 ** 15, x.max())
        x[0] = x.max()
    return x


@given(rows())
def test_rows_preserve_order(x):
    p = int_softmax(x, SPEC)
    order = np.argsort(x, kind="stable")
    assert (np.diff(p[order]) >= 0).all()


@given(rows())
def test_rows_sum_to_full_scale_within_bound(x):
    p = int_softmax(x, SPEC)
    full, n = 2 ** SPEC.out_bits, len(x)
    # each p rounds by <= 1/2; the floored factor loses < sum / 2^25 < 4; saturation 1
    assert full - n / 2 - 5 <= p.sum() <= full + n / 2
    assert p.min() >= 0 and p.max() <= full - 1


@given(rows())
def test_rows_stay_within_stated_error_of_float(x):
    p = int_softmax(x, SPEC) * 2.0 ** -SPEC.out_bits
    f = float_softmax(x * 2.0 ** -SPEC.frac_bits)
    assert np.abs(p - f).max() <= 1.25 * 2.0 ** -SPEC.out_bits


def test_all_equal_row_is_uniform():
    p = int_softmax(np.full(8, 1234), SPEC)
    assert (p == 16).all()
    assert int_softmax(np.array([5]), SPEC).tolist() == [127]  # the saturated corner


def test_softmax_checks_its_input():
    with pytest.raises(WidthError, match="softmax: x = 32768"):
        int_softmax(np.array([0, 32768]), SPEC)
    with pytest.raises(ValueError, match="row length"):
        int_softmax(np.zeros(SPEC.max_len + 1, np.int64), SPEC)
    with pytest.raises(ValueError, match="max_len"):
        softmax_spec(max_len=0)
    with pytest.raises(ValueError, match="frac_bits"):
        softmax_spec(frac_bits=0)
