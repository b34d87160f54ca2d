"""The testbenches' case strategies at any valid Config, not only the tested ones.

`qbert sim UNIT -P ...` draws its inputs from these strategies and computes the
expected output with the golden model; at a corner Config (narrow scores with
many fractional bits, a 2-bit gamma) a strategy once drew values outside the
Config's own ranges and the run crashed instead of testing.  Here Hypothesis
draws the Config too (each field from its declared range, capped so the
golden model stays quick), then a case, then its expected output: no
simulator needed.
"""
import dataclasses

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from rtl_gen.config import ConfigError
from scripts.flows import FLOWS
from verif import (attention_cases, gelu_cases, layernorm_cases, matmul_cases, requant_cases,
                   softmax_cases)

#: caps on fields whose range would make one golden-model example slow
CAPS = {"lanes": 8, "hidden": 96, "max_len": 64, "rows": 5, "cols": 6, "k_max": 64,
        "max_seq": 16, "head_dim": 16}


@st.composite
def configs(draw, unit: str):
    """A valid Config of ``unit``: each field its range's ends, its default or any value."""
    cls = FLOWS[unit].config_class()
    params = {}
    for f in dataclasses.fields(cls):
        md = f.metadata
        if "choices" in md:
            params[f.name] = draw(st.sampled_from(md["choices"]))
        elif "lo" in md:
            lo, hi = md["lo"], min(md["hi"], CAPS.get(f.name, md["hi"]))
            params[f.name] = draw(st.one_of(st.sampled_from([lo, hi]), st.integers(lo, hi)))
    try:
        return cls(**params)
    except ConfigError:
        assume(False)


#: unit -> (its case strategy, expected output of (cfg, case))
STRATEGIES = {
    "softmax": (softmax_cases.cases, softmax_cases.expected),
    "layernorm": (layernorm_cases.cases, layernorm_cases.expected),
    "gelu": (gelu_cases.cases, gelu_cases.expected),
    "requant": (requant_cases.requant_cases, requant_cases.requant_expected),
    "residual": (requant_cases.residual_cases, requant_cases.residual_expected),
    "matmul": (lambda cfg: matmul_cases.cases(cfg, k_max_sim=64), matmul_cases.expected),
    "attention": (attention_cases.cases, lambda cfg, c: attention_cases.expected(c)),
}


@pytest.mark.parametrize("unit", sorted(STRATEGIES))
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_cases_and_expected_outputs_exist_at_any_config(unit, data):
    cases, expected = STRATEGIES[unit]
    cfg = data.draw(configs(unit), label="config")
    case = data.draw(cases(cfg), label="case")
    assert expected(cfg, case) is not None


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_encoder_case_at_minilm_sizes(data):
    """The encoder's input at MiniLM sizes (up to 128 tokens of 384): past what
    Hypothesis draws element by element (``int_arrays`` draws it from a seed),
    every value an int8, and the edges mixed in at a drawn rate."""
    import numpy as np
    from rtl_gen.encoder import EncoderConfig
    from verif.strategies import MAX_DRAWN, int_arrays
    x = data.draw(int_arrays((data.draw(st.integers(6, 128)), 384), 8))
    assert x.size > MAX_DRAWN and x.dtype == np.int64
    assert x.min() >= -128 and x.max() <= 127
    assert EncoderConfig.preset("minilm").hidden == x.shape[1]
