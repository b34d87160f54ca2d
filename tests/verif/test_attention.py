"""Cocotb simulations of the attention head against golden_model.encoder.attention_heads.

A small Config keeps the default run quick (the MiniLM head, head_dim 32 on a
real sentence, included); the S = 128, head_dim = 64 cycle count is slow.
"""
import dataclasses

import pytest
from hypothesis import settings

from rtl_gen.attention import AttentionConfig, generate
from scripts import flows

FLOW = flows.FLOWS["attention"]
#: small enough to simulate quickly, head_dim 32 so the MiniLM head fits
CFG = AttentionConfig(max_seq=16, head_dim=32, rows=4, cols=4, lanes=4)


def _sim(cfg, rtl, examples, seed=20261122, testcase=None):
    return flows.simulate(FLOW, cfg, rtl, examples=examples, seed=seed, testcase=testcase,
                          repro=f"qbert sim attention --rtl {rtl} --seed {seed} --examples {examples}")


#: dsp_pack 2 is slow-marked (another build and run, ~2 min): the packed array
#: itself is simulated and proven in the matmul's own tests
@pytest.mark.parametrize("pack", [1, pytest.param(2, marks=pytest.mark.slow)], ids=["plain", "dsp_pack2"])
def test_attention_bit_exact_and_minilm_head(tmp_path, pack):
    """Hypothesis-drawn heads under stalls, all-MiniLM-L6-v2 layer 0 head 0 on a
    12-token sentence, and a directed S = max_seq head: one build, one run; also
    with both arrays' products two to a multiplier."""
    cfg = dataclasses.replace(CFG, dsp_pack=pack)
    generate(cfg, tmp_path / "rtl")
    examples = settings().max_examples
    res, info = _sim(cfg, tmp_path / "rtl", examples)
    assert res.passed, f"simulation failed: see the log above ({res.results_xml})"
    assert res.tests == 3 and info["examples"] == examples and info["outputs"] > 0
    assert info["minilm_outputs"] == 12 * 32
    c = info["cycles"]
    assert c["seq"] == 16 and c["compute_cycles"] >= c["ideal_one_array"]
    # the proof's latency bound (AttentionConfig.head_latency) holds for the real units
    assert 0 < c["loads_in_to_last_beat"] <= c["head_latency_bound"] == cfg.head_latency(16), c


@pytest.mark.slow
def test_attention_cycles_s128_dh64(tmp_path):
    """One head at S = 128, head_dim = 64 on 4x4 arrays: the softmax and the
    buffers add under 10 % to the matmul arrays' own cycles."""
    cfg = AttentionConfig()
    generate(cfg, tmp_path / "rtl")
    res, info = _sim(cfg, tmp_path / "rtl", 2, testcase="attention_cycles")
    assert res.passed
    c = info["cycles"]
    # the two arrays run concurrently: Q K^T of the whole head, then P V of the last group
    matmul_only = c["ideal_one_array"] + cfg.ideal_cycles(128) // (128 // cfg.rows)
    assert c["compute_cycles"] < 1.10 * matmul_only, c
    assert c["loads_in_to_last_beat"] <= c["head_latency_bound"] == cfg.head_latency(128), c
