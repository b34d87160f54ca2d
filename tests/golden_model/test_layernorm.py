"""Integer LayerNorm and its exact floor square root."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from golden_model.layernorm import VAR_BITS, int_layernorm, isqrt, layernorm_spec, normalize
from golden_model.quant import quantize_multiplier, requantize
from golden_model.widths import WidthError
from verif.strategies import int_arrays, ints

SPEC = layernorm_spec(hidden=16)


def square_edges(bits):
    top = math.isqrt(2 ** bits - 1)
    ks = [0, 1, 2, 3, top - 1, top]
    return tuple(v for k in ks for v in (k * k - 1, k * k, k * k + 1) if 0 <= v < 2 ** bits)


def test_isqrt_exhaustive_16_bits():
    x = np.arange(2 ** 16)
    assert (isqrt(x, 16) == [math.isqrt(int(v)) for v in x]).all()


@given(st.lists(ints(VAR_BITS, signed=False, extra=square_edges(VAR_BITS)), min_size=1, max_size=64))
def test_isqrt_exact_at_full_width(xs):
    assert isqrt(np.array(xs), VAR_BITS).tolist() == [math.isqrt(v) for v in xs]


@given(st.integers(1, 62), st.data())
def test_isqrt_exact_at_every_width(bits, data):
    xs = data.draw(st.lists(ints(bits, signed=False, extra=square_edges(bits)), min_size=1, max_size=16))
    assert isqrt(np.array(xs), bits).tolist() == [math.isqrt(v) for v in xs]


def test_isqrt_rejects_values_outside_its_width():
    with pytest.raises(WidthError, match="isqrt: x = 4294967296"):
        isqrt(np.array([2 ** 32]), 32)


@st.composite
def vectors(draw, spec=SPEC):
    kind = draw(st.sampled_from(["any", "constant", "outlier", "scaled", "ends"]))
    h = spec.hidden
    if kind == "constant":
        return np.full(h, draw(ints(spec.in_bits)), np.int64)
    if kind == "ends":
        return np.asarray(draw(st.lists(st.sampled_from([-2 ** 15, 2 ** 15 - 1]), min_size=h, max_size=h)))
    if kind == "scaled":
        sigma = draw(st.sampled_from([300, 3000, 10000]))
        seed = draw(st.integers(0, 2 ** 32 - 1))
        x = np.random.default_rng(seed).normal(0, sigma, h)
        return np.clip(np.rint(x), -2 ** 15, 2 ** 15 - 1).astype(np.int64)
    x = draw(int_arrays((h,), spec.in_bits))
    if kind == "outlier":
        x = np.zeros(h, np.int64) + draw(st.integers(-5, 5))
        x[draw(st.integers(0, h - 1))] = draw(st.sampled_from([-2 ** 15, 2 ** 15 - 1]))
    return x


@given(vectors())
def test_normalize_within_stated_error_of_float(x):
    n = normalize(x, SPEC) * SPEC.norm_scale
    xf = x.astype(np.float64)
    sigma = xf.std()
    if sigma == 0:
        assert (n == 0).all()
        return
    z = (xf - xf.mean()) / sigma
    # mean rounding (1/2 LSB), floor isqrt of the shifted variance, rounding of n
    bound = 0.005 + (0.5 + 2 ** (SPEC.var_shift / 2 + 1)) / sigma * math.sqrt(SPEC.hidden)
    assert np.abs(n - z).max() <= bound


@given(vectors(), st.integers(0, 2 ** 32 - 1))
def test_layernorm_affine_within_error_of_float(x, seed):
    rng = np.random.default_rng(seed)
    gamma_f, beta_f = rng.uniform(0.2, 2.0, SPEC.hidden), rng.uniform(-1, 1, SPEC.hidden)
    g_scale = gamma_f.max() / 32767
    gamma = np.rint(gamma_f / g_scale).astype(np.int64)
    beta = np.rint(beta_f / (SPEC.norm_scale * g_scale)).astype(np.int64)
    out_scale = 4.0 / 127
    m, s = quantize_multiplier(SPEC.norm_scale * g_scale / out_scale)
    out = int_layernorm(x, gamma, beta, m, s, SPEC) * out_scale
    xf = x.astype(np.float64)
    sigma = xf.std()
    z = (xf - xf.mean()) / sigma if sigma else np.zeros_like(xf)
    ref = np.clip(z * gamma_f + beta_f, -128 * out_scale, 127 * out_scale)
    bound = out_scale / 2 + 2 * (0.005 + (0.5 + 2 ** (SPEC.var_shift / 2 + 1)) / max(sigma, 1e-9) * 4) + 1e-3
    assert np.abs(out - ref).max() <= bound


def test_constant_vector_gives_beta():
    beta = np.arange(16) * 1000 - 8000
    out = int_layernorm(np.full(16, 77), np.full(16, 5), beta, 1 << 30, 31, SPEC)
    assert (out == requantize(beta, 1 << 30, 31, 8)).all()


def test_normalized_width_holds_at_the_worst_case():
    # one element at +max, the rest at -max: the largest |y| / std there is
    for hidden in (2, 16, 384, 768):
        spec = layernorm_spec(hidden=hidden)
        x = np.full(hidden, -2 ** 15)
        x[0] = 2 ** 15 - 1
        normalize(x, spec)            # raises WidthError if the n bound were wrong


def test_layernorm_rejects_bad_config():
    with pytest.raises(ValueError, match="hidden"):
        layernorm_spec(hidden=0)
    with pytest.raises(ValueError, match="in_bits"):
        layernorm_spec(in_bits=33)
    with pytest.raises(ValueError, match="hidden=16"):
        normalize(np.zeros(8, np.int64), SPEC)
