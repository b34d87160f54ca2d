"""Cocotb simulations of the requant and residual RTL against
golden_model.quant.requantize and golden_model.elementwise.residual_add:
Hypothesis frames (per-tensor and per-channel parameters, edges and rounding
ties mixed in) under random stalls, and a no-stall run measuring latency and
throughput."""
import pytest
from hypothesis import settings

from rtl_gen.requant import RequantConfig, generate as gen_requant
from rtl_gen.residual import ResidualConfig, generate as gen_residual
from scripts import flows

CASES = {
    "requant_default": ("requant", gen_requant, RequantConfig()),
    "requant_gelu_out": ("requant", gen_requant, RequantConfig(lanes=3, acc_bits=31)),
    "residual_default": ("residual", gen_residual, ResidualConfig()),
    "residual_narrow": ("residual", gen_residual, ResidualConfig(lanes=2, a_bits=20, b_bits=12,
                                                                 out_bits=9)),
}


def _sim(unit, cfg, rtl, examples, seed=20261122):
    return flows.simulate(flows.FLOWS[unit], cfg, rtl, examples=examples, seed=seed,
                          repro=f"qbert sim {unit} --rtl {rtl} --seed {seed} --examples {examples}")


@pytest.mark.parametrize("name", list(CASES))
def test_bit_exact(tmp_path, name):
    unit, gen, cfg = CASES[name]
    gen(cfg, tmp_path / "rtl")
    examples = settings().max_examples
    res, info = _sim(unit, cfg, tmp_path / "rtl", examples)
    assert res.passed, f"simulation failed: see the log above ({res.results_xml})"
    assert res.tests == 2 and info["examples"] == examples and info["outputs"] > 0
    assert info["latency"] == cfg.latency
    assert info["cycles"] == info["beats"] + cfg.latency
    assert info["elements_per_cycle"] == cfg.lanes


def test_broken_rounding_is_caught_and_reproduced(tmp_path, caught_and_reproduced):
    """Rounding constant 2^(s-1) replaced by 2^(s-2) in requant lane 1: exit 1, the
    shrunk case, a command that reproduces it."""
    cfg = RequantConfig(lanes=2)
    gen_requant(cfg, tmp_path / "rtl")
    v = tmp_path / "rtl" / "qbert_requant.v"
    old = "assign rnd_l1 = (64'd1 << s2_shift_l1_q) >> 64'd1;"
    text = v.read_text()
    assert text.count(old) == 1
    v.write_text(text.replace(old, old.replace(">> 64'd1", ">> 64'd2")))
    caught_and_reproduced("requant", tmp_path / "rtl",
                          r"first at y\[\d+\]\[\d+\].*expected requantize = -?\d+, got -?\d+", 60)


def test_broken_sum_saturation_is_caught_and_reproduced(tmp_path, caught_and_reproduced):
    """The residual's final saturation bound off by one in lane 0."""
    cfg = ResidualConfig(lanes=2)
    gen_residual(cfg, tmp_path / "rtl")
    v = tmp_path / "rtl" / "qbert_residual.v"
    text = v.read_text()
    old = "assign fits_sum_l0 = (sum_l0[17:15] == 3'd0)"
    assert text.count(old) == 1
    v.write_text(text.replace(old, "assign fits_sum_l0 = (sum_l0[17:16] == 2'd0)"))
    caught_and_reproduced("residual", tmp_path / "rtl",
                          r"first at y\[\d+\]\[\d+\].*expected residual_add = -?\d+, got -?\d+", 60)
