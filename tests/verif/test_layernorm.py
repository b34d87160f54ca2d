"""Cocotb simulations of the LayerNorm RTL against golden_model.layernorm.

Every output element is compared with int_layernorm; the directed tests pin
the documented latency and vector period and the sticky length error.  That
the checks can fail: tests/verif/test_layernorm_mutants.py.
"""
import numpy as np
import pytest
from hypothesis import Phase, given, settings, strategies as st

from golden_model.layernorm import int_layernorm
from rtl_gen.layernorm import LayerNormConfig, generate
from scripts import flows
from verif.layernorm_cases import (cases, expected, pack, pack_params, scalars, unpack,
                                   vectors)

FLOW = flows.FLOWS["layernorm"]

CONFIGS = {
    "h8_l2": LayerNormConfig(hidden=8, lanes=2),
    "h384_l4": LayerNormConfig(),
    "h6_l3_in8_out5": LayerNormConfig(hidden=6, lanes=3, in_bits=8, out_bits=5),
}


def _sim(cfg, rtl, examples, seed=20261122, testcase=None):
    return flows.simulate(FLOW, cfg, rtl, examples=examples, seed=seed, testcase=testcase,
                          repro=f"qbert sim layernorm --rtl {rtl} --seed {seed} --examples {examples}")


@pytest.mark.parametrize("name", list(CONFIGS))
def test_layernorm_bit_exact(tmp_path, name):
    cfg = CONFIGS[name]
    generate(cfg, tmp_path / "rtl")
    examples = settings().max_examples
    res, info = _sim(cfg, tmp_path / "rtl", examples)
    assert res.passed, f"simulation failed: see the log above ({res.results_xml})"
    assert res.tests == 3  # property, directed timing, wrong-length error
    assert info["examples"] == examples and info["outputs"] > 0
    assert info["latency"] == cfg.latency()
    assert info["drain"] == cfg.drain_cycles()
    assert info["periods"] == [cfg.vector_period()] * (info["vectors"] - 1)


@pytest.mark.slow
@pytest.mark.parametrize("kw", [dict(hidden=768, lanes=8), dict(hidden=768, lanes=4),
                                dict(hidden=384, lanes=8)])
def test_layernorm_bit_exact_bert_sizes(tmp_path, kw):
    cfg = LayerNormConfig(**kw)
    generate(cfg, tmp_path / "rtl")
    res, info = _sim(cfg, tmp_path / "rtl", 100)
    assert res.passed and info["examples"] == 100


# -- the packing of the stream protocol, checked without a simulator ---------

@settings(max_examples=30)
@given(st.data())
def test_pack_unpack_roundtrip(data):
    """Lanes decoded as the RTL slices them give back x, gamma, beta, M and s;
    an output word built lane by lane unpacks to the golden outputs."""
    cfg = data.draw(st.sampled_from(list(CONFIGS.values())))
    c = data.draw(cases(cfg))
    L, IB, GB, BB, PL = cfg.lanes, cfg.in_bits, cfg.gamma_bits, cfg.beta_bits, cfg.prm_lane_bits

    def sx(v, b):
        return v - (1 << b) if v >> (b - 1) else v

    for x, out in zip(c.vectors, expected(cfg, c)):
        words = pack(cfg, x)
        assert len(words) == cfg.beats
        assert [sx((w >> (i * IB)) & ((1 << IB) - 1), IB) for w in words for i in range(L)] == x.tolist()
        ow = [sum((int(v) & ((1 << cfg.out_bits) - 1)) << (i * cfg.out_bits)
                  for i, v in enumerate(out[j:j + L])) for j in range(0, len(out), L)]
        np.testing.assert_array_equal(unpack(cfg, ow),
                                      int_layernorm(x, c.gamma, c.beta, c.mult, c.shift, cfg.spec))
    pw = pack_params(cfg, c.gamma, c.beta, c.mult, c.shift)
    lanes = [(w >> (i * PL)) & ((1 << PL) - 1) for w in pw for i in range(L)]
    assert [sx(v & ((1 << GB) - 1), GB) for v in lanes] == c.gamma.tolist()
    assert [sx(v >> GB, BB) for v in lanes] == c.beta.tolist()
    assert all((w >> (L * PL)) == (c.shift << 31 | c.mult) for w in pw)
    assert all(w < 1 << cfg.prm_word_bits for w in pw)


def _drawn(strategy, n: int) -> list:
    """n examples of ``strategy`` as Hypothesis generates them (no shrinking)."""
    out = []

    @settings(max_examples=n, database=None, phases=[Phase.generate], derandomize=True)
    @given(strategy)
    def collect(x):
        out.append(x)

    collect()
    return out


def test_case_kinds_reach_the_corners():
    """The strategy produces the vectors the brief asks for: constant (variance
    0), one outlier, values at the input width's ends, the shifted variance at a
    perfect square and next to it, a tiny and a large std."""
    import math
    cfg = LayerNormConfig(hidden=64, lanes=4)
    lo, hi = -(1 << 15), (1 << 15) - 1
    xs = _drawn(vectors(cfg), 300)
    sc = [scalars(cfg, x) for x in xs]

    def one_outlier(x):
        vals, counts = np.unique(x, return_counts=True)
        return len(vals) == 2 and counts.min() == 1 and np.ptp(x) > 1000

    assert any(len(set(x.tolist())) == 1 for x in xs)
    assert any(x.min() == lo and x.max() == hi for x in xs)
    assert any(one_outlier(x) for x in _drawn(vectors(cfg, "outlier"), 100))
    thr = [scalars(cfg, x)["var"] for x in _drawn(vectors(cfg, "threshold"), 150)]
    for off in (-1, 0, 1):
        assert any(v > 4 and math.isqrt(v - off) ** 2 == v - off for v in thr), off
    assert any(s["var"] in (1, 2, 3) for s in sc)
    assert any(s["std"] > 20000 for s in sc)


# (Configs where std = 2^a reaches as many a with a tie as the divider has steps:
# with in_bits 16, a <= 14, and a tie needs a >= 32 - norm_shift)
@pytest.mark.parametrize("cfg", [LayerNormConfig(), LayerNormConfig(hidden=768, lanes=8),
                                 LayerNormConfig(hidden=16, lanes=4, div_bits_per_cycle=2)],
                         ids=["default", "h768", "h16_r2"])
def test_pow2_std_vectors_reach_every_divider_step(cfg):
    """Vectors whose std is 2^a make the factor divider's compare tie at
    quotient bit 31 - a; for every step of its cycle some such vector's n must
    change if the factor is one too small (a compare taking > for >=), and some
    n = (y * factor + 2^(ns-1)) >> ns must sit exactly on its rounding tie (a
    rounding constant one too small); each with n small enough that the
    identity parameters do not saturate it in the output.  Found by a
    mutation campaign at the default Config, where both mutants survived."""
    from golden_model.layernorm import FACTOR_NUM_BITS
    from verif.layernorm_cases import scalars
    spec, div = cfg.spec, cfg.factor_divider
    ns = spec.norm_shift
    steps, ties = set(), 0
    for x in _drawn(vectors(cfg, "pow2_std"), 200):
        sc = scalars(cfg, x)
        std, f = sc["std"], sc["factor"]
        if std & (std - 1):
            continue
        y = x - sc["mean"]
        half = 1 << (ns - 1)
        n = (y * f + half) >> ns
        shows = np.abs(n) < (1 << (cfg.out_bits - 1)) - 1    # not saturated by identity params
        if (((y * (f - 1) + half) >> ns != n) & shows).any():
            j = FACTOR_NUM_BITS - (std.bit_length() - 1)    # the quotient's one bit
            steps.add((div.padded_bits - 1 - j) % div.bits_per_cycle)
        ties += bool((((y * f) % (1 << ns) == half) & shows).any())
    assert steps == set(range(div.bits_per_cycle)), steps
    assert ties > 0
