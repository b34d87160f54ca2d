"""`qbert bench layernorm`: measured latency and vector period match the Config's
formulas, and the throughput target (>= 0.95 * lanes) holds where the scalar
stage fits in a vector."""
import pytest

from rtl_gen.layernorm import LayerNormConfig, generate
from scripts import bench_layernorm, flows

FLOW = flows.FLOWS["layernorm"]


def test_bench_timing_matches_formulas(tmp_path):
    cfg = LayerNormConfig(hidden=384, lanes=8)
    generate(cfg, tmp_path / "rtl")
    r = bench_layernorm.timing(FLOW, cfg, tmp_path / "rtl")
    assert r["latency"] == cfg.latency() and r["period"] == cfg.vector_period()
    assert r["elements_per_cycle"] >= 0.95 * cfg.lanes


@pytest.mark.slow
def test_synth_counts_resources(tmp_path):
    from scripts.bench_matmul import synth
    from rtl_gen.layernorm import TOP, sources
    cfg = LayerNormConfig(hidden=8, lanes=2)
    generate(cfg, tmp_path / "rtl")
    res = synth(tmp_path / "rtl", TOP, sources(tmp_path / "rtl"))
    assert res["DSP48E2"] >= 2 and res["LUT"] > 0 and res["FF"] > 0
