"""Mutation check of the GELU testbench: single-point bugs in the generated
Verilog must each make `qbert sim gelu --rtl DIR` exit 1, with the shrunk
case and a command line that reproduces it (``caught_and_reproduced``).

One lane keeps each Verilator build small, but each mutant is still a build
and two simulations (1-2 minutes on the shared 2-core machine; all ten took
21 minutes): slow-marked.  The default run keeps one broken-RTL check
(tests/verif/test_gelu.py, logical shift) and the proof's planted bugs
(tests/formal/test_gelu_proof.py)."""
import pytest

from rtl_gen.gelu import GeluConfig, generate

CFG = GeluConfig(lanes=1)
EXAMPLES = 60
FIRST = r"first at out\[\d+\]\[\d+\].*x = -?\d+: expected int_gelu = -?\d+, got -?\d+"

#: name -> (original text, mutated text, what the report must show); each
#: original occurs exactly once in the generated RTL
MUTANTS = {
    "abs_wrong_sign_bit": ("assign l0_abs = (l0_x[15])?", "assign l0_abs = (l0_x[14])?", FIRST),
    "square_zero_extended": ("assign l0_sq = $signed({ { 13{ l0_d1_q[12] } }, l0_d1_q }) *",
                             "assign l0_sq = $signed({ 13'h0, l0_d1_q }) *", FIRST),
    # c off by one is an equivalent mutant here (no d has d^2 = 284 mod 512):
    # off by 2^erf_shift moves every t' by one
    "erf_constant_c_off_by_512": ("assign l0_npoly = 24'h6ecd1c -", "assign l0_npoly = 24'h6ecf1c -",
                                  FIRST),
    "logical_shift": ("assign l0_tsh = $signed(l0_t) >>> 8'h9;", "assign l0_tsh = l0_t >> 8'h9;",
                      FIRST),
    "one_off_by_one": ("assign l0_s = l0_tsh + 24'h3766;", "assign l0_s = l0_tsh + 24'h3765;", FIRST),
    "sign_select_swapped": ("(l0_x2_q[15])? 24'h0 - l0_npoly : l0_npoly;",
                            "(l0_x2_q[15])? l0_npoly : 24'h0 - l0_npoly;", FIRST),
    "x_skips_a_stage": ("l0_x3_q <= l0_x2_q;", "l0_x3_q <= l0_x1_q;", FIRST),
    "output_register_ignores_stall": ("    if(en) begin\n      l0_out_q <= l0_prod;",
                                      "    if(1'b1) begin\n      l0_out_q <= l0_prod;",
                                      r"AXI4-Stream requires|first at out"),
    "tlast_skips_a_stage": ("last4_q <= last3_q;", "last4_q <= last2_q;",
                            r"beats up to tlast|DUT hung"),
    "tready_ignores_stall": ("assign s_axis_tready = en;", "assign s_axis_tready = 1'b1;",
                             r"beats up to tlast|first at out|DUT hung"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_is_caught(tmp_path, name, plant_mutant, caught_and_reproduced):
    old, new, report = MUTANTS[name]
    rtl = tmp_path / "rtl"
    generate(CFG, rtl)
    plant_mutant(rtl / "qbert_gelu.v", old, new)
    caught_and_reproduced("gelu", rtl, report, EXAMPLES)
