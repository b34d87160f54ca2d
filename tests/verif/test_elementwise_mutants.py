"""Mutation check of the requant and residual testbenches: single-point bugs
in the generated Verilog must each make `qbert sim UNIT --rtl DIR` exit 1
with the shrunk case and a reproducing command (``caught_and_reproduced``).

Each mutant is a Verilator build (1-3 minutes on a loaded 2-core machine):
slow-marked; the default run keeps one broken-RTL check per unit
(tests/verif/test_elementwise.py)."""
import pytest

from rtl_gen.requant import RequantConfig, generate as gen_requant
from rtl_gen.residual import ResidualConfig, generate as gen_residual

EXAMPLES = 60
RQ = r"first at y\[\d+\]\[\d+\].*expected requantize = -?\d+, got -?\d+"
RS = r"first at y\[\d+\]\[\d+\].*expected residual_add = -?\d+, got -?\d+"

#: name -> (unit, original, mutated, report pattern); one lane each
MUTANTS = {
    "requant_shift_sign_cast": (
        "requant", "assign shr_l0 = $signed(biased_l0) >>> s2_shift_l0_q;",
        "assign shr_l0 = biased_l0 >>> s2_shift_l0_q;", RQ),
    "requant_mult_sign_extended": (
        "requant", "$signed({ 32'd0, s1_mult_l0_q })",
        "$signed({ { 32{ s1_mult_l0_q[30] } }, s1_mult_l0_q })", RQ),
    "requant_saturation_value": ("requant", "8'h7f", "8'h7e", RQ),
    "requant_shift_field_off_by_one": (
        "requant", "assign shift_l0 = prm_l0[36:31];", "assign shift_l0 = prm_l0[37:32];", RQ),
    "requant_prm_tready_ignores_acc": (
        "requant", "assign s_axis_prm_tready = en && s_axis_tvalid;",
        "assign s_axis_prm_tready = en;", RQ + r"|DUT hung"),
    "residual_b_uses_a_params": (
        "residual", "assign prm_b_l0 = prm_l0[73:37];", "assign prm_b_l0 = prm_l0[36:0];", RS),
    "residual_sum_zero_extends_b": (
        "residual", "{ { 1{ out_b_l0_q[16] } }, out_b_l0_q }", "{ 1'b0, out_b_l0_q }", RS),
    "residual_operand_saturates_at_out_bits": (
        "residual", "assign fits_a_l0 = (shr_a_l0[63:16] == 48'd0)",
        "assign fits_a_l0 = (shr_a_l0[63:15] == 49'd0)", RS),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_is_caught(tmp_path, name, plant_mutant, caught_and_reproduced):
    unit, old, new, report = MUTANTS[name]
    rtl = tmp_path / "rtl"
    if unit == "requant":
        gen_requant(RequantConfig(lanes=1), rtl)
    else:
        gen_residual(ResidualConfig(lanes=1), rtl)
    # "8'h7f", the positive saturation value: lane 0's
    plant_mutant(rtl / f"qbert_{unit}.v", old, new, first_only=old == "8'h7f")
    caught_and_reproduced(unit, rtl, report, EXAMPLES)
