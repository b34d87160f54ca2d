"""Mutation check of the matmul testbench: single-point bugs in the generated
Verilog must each make `qbert sim matmul --rtl DIR` exit 1 (a mismatch).

Each mutant needs its own Verilator build (~15-30 s); nine run in the default
regression, all 23 under `-m slow` (`tox -e mutants`, `tox -e fuzz`).
"""
import os
import subprocess
import sys

import pytest

from rtl_gen.matmul import MatmulConfig, generate

CFG = MatmulConfig(rows=3, cols=2, k_max=16)
EXAMPLES, SEED = 200, int(os.environ.get("QBERT_MUTANT_SEED", "4242"))

#: name -> (original text, mutated text): each must occur exactly once
MUTANTS = {
    "acc_operator": ("acc_r1_c0_q + {", "acc_r1_c0_q - {"),
    "rounding_constant": ("assign rnd_c0 = (64'd1 << s2_shift_c0_q) >> 64'd1;",
                          "assign rnd_c0 = (64'd1 << s2_shift_c0_q) >> 64'd2;"),
    "row_last_off_by_one": ("assign row_last = shd_row_q == 2'd2;",
                            "assign row_last = shd_row_q == 2'd1;"),
    "saturation_bound": ("(shr_c0[63:7] == 57'd0) || (shr_c0[63:7] == 57'h1ffffffffffffff)",
                         "(shr_c0[63:8] == 56'd0) || (shr_c0[63:7] == 57'h1ffffffffffffff)"),
    "saturation_value": ("8'h7f", "8'h7e"),
    "shift_sign_cast": ("assign shr_c1 = $signed(biased_c1) >>> s2_shift_c1_q;",
                        "assign shr_c1 = biased_c1 >>> s2_shift_c1_q;"),
    "bias_sign_extension": ("{ { 1{ bias_c1[27] } }, bias_c1 }", "{ 1'b0, bias_c1 }"),
    "handshake_ignores_wgt_valid": ("assign s_axis_act_tready = s_axis_wgt_tvalid && beat_ok;",
                                    "assign s_axis_act_tready = beat_ok;"),
    "shadow_overwrite_under_backpressure": (
        "assign load_shd = done_q && prm_full_q && !shd_full_q;",
        "assign load_shd = done_q && prm_full_q;"),
    "output_register_ignores_stall": ("    if(en) begin\n      out_c0_q <= sat_c0;",
                                      "    if(1'b1) begin\n      out_c0_q <= sat_c0;"),
    "tlast_error_never_set": ("err_tlast_q <= 1'd1;", "err_tlast_q <= 1'd0;"),
    # a tile ends on the weights' tlast, not the activations' (docs/matmul.md: the
    # act's tlast is obeyed when the two disagree)
    "tile_end_on_wgt_tlast": ("done_q <= fire && s_axis_act_tlast ||",
                              "done_q <= fire && s_axis_wgt_tlast ||"),
    # the shadow bank never empties: the tile is sent again and again
    "shadow_never_released": ("          shd_full_q <= 1'd0;\n          shd_row_q <= 2'd0;",
                              "          shd_row_q <= 2'd0;"),
    # data stays right (a beat is only taken with tready); only the AXI monitor sees it
    "tvalid_withdrawn_while_stalled": (
        "assign m_axis_tvalid = out_valid_q;",
        "assign m_axis_tvalid = out_valid_q && (m_axis_tready || !s_axis_act_tvalid);"),
}

#: dsp_pack 2 (two products per multiplier): mutants of the packing, on PACK_CFG
PACK_CFG = MatmulConfig(rows=2, cols=3, k_max=16, dsp_pack=2)
PACK_MUTANTS = {
    # the odd column's product loses the borrow a negative even product takes
    "pack_borrow_dropped": ("pprod_r1_c0_c1[32:17] + { 15'b0, pprod_r1_c0_c1[16] }",
                            "pprod_r1_c0_c1[32:17] + 16'd0"),
    # the odd column's weight zero-extended into the packed operand
    "pack_weight_zero_extended": ("{ { 1{ wgt_c1[7] } }, wgt_c1 }, 17'b0", "{ 1'b0, wgt_c1 }, 17'b0"),
    # the even column's product read one bit too high
    "pack_low_slice_off_by_one": ("assign prod_r0_c0 = pprod_r0_c0_c1[15:0];",
                                  "assign prod_r0_c0 = pprod_r0_c0_c1[16:1];"),
}

#: dsp_pack 3 (three int4 products per multiplier): mutants of the triple's fields
PACK3_CFG = MatmulConfig(rows=2, cols=3, k_max=16, weight_bits=4, dsp_pack=3)
PACK3_MUTANTS = {
    # the low field read as a plain signed 11-bit field: wrong only for x*w = 1024
    # (x = -128, w = -8), which the representative in [-1023, 1024] keeps exact
    "pack3_rep_is_sign": ("assign pneg0_r0_c0_c1_c2 = pprod_r0_c0_c1_c2[10] & |pprod_r0_c0_c1_c2[9:0];",
                          "assign pneg0_r0_c0_c1_c2 = pprod_r0_c0_c1_c2[10];"),
    # the top field loses the middle field's borrow
    "pack3_top_borrow_dropped": ("pq_r1_c0_c1_c2[22:11] + { 11'b0, pneg1_r1_c0_c1_c2 }",
                                 "pq_r1_c0_c1_c2[22:11] + 12'd0"),
}

#: mixed (int8 lanes on a triple and a single column, tuser picks int8 or int4
#: per beat): mutants of the two modes, on MIXED_CFG
MIXED_CFG = MatmulConfig(rows=2, cols=4, k_max=16, dsp_pack=3)
MIXED_MUTANTS = {
    # an int8 beat taken in its first cycle: the third column's product is stale
    "mixed_int8_beat_in_one_cycle": ("assign take = beat_ok && !wide_first;",
                                     "assign take = beat_ok;"),
    # the second cycle's operand (the pair) used for the third column too
    "mixed_held_product_unused": ("assign prod_r1_c2 = (s_axis_wgt_tuser)? pfirst_r1_c2_q",
                                  "assign prod_r1_c2 = (s_axis_wgt_tuser)? pprod_r1_c0_c1_c2[15:0]"),
    # the single column's int4 weight zero-extended from its nibble
    "mixed_nibble_zero_extended": ("{ { 4{ wgt_n_c3[3] } }, wgt_n_c3 }", "{ 4'd0, wgt_n_c3 }"),
    # the int8 pair's second product loses the first's borrow
    "mixed_pair_borrow_dropped": ("pprod_r0_c0_c1_c2[32:17] + { 15'b0, pprod_r0_c0_c1_c2[16] }",
                                  "pprod_r0_c0_c1_c2[32:17] + 16'd0"),
}

#: what the failure report must say, where one particular check must catch it
NEEDLE = {"tlast_error_never_set": "err_tlast_o not set by a tlast disagreement",
          "tvalid_withdrawn_while_stalled": "AXI4-Stream requires",
          "shadow_never_released": "output beat(s)/frame(s) beyond the",
          "tile_end_on_wgt_tlast": "after a tlast disagreement"}


#: the default run's mutants (an operator, the rounding edge, an off-by-one
#: compare, a saturation bound, a handshake, a stall); the rest (each a Verilator
#: build) run under -m slow / tox -e mutants
DEFAULT = ("acc_operator", "rounding_constant", "row_last_off_by_one", "saturation_bound",
           "handshake_ignores_wgt_valid", "output_register_ignores_stall", "pack_borrow_dropped",
           "pack3_rep_is_sign", "mixed_int8_beat_in_one_cycle")
CFGS = {**{n: CFG for n in MUTANTS}, **{n: PACK_CFG for n in PACK_MUTANTS},
        **{n: PACK3_CFG for n in PACK3_MUTANTS}, **{n: MIXED_CFG for n in MIXED_MUTANTS}}
ALL = {**MUTANTS, **PACK_MUTANTS, **PACK3_MUTANTS, **MIXED_MUTANTS}


@pytest.mark.parametrize("name", [n if n in DEFAULT else pytest.param(n, marks=pytest.mark.slow)
                                  for n in ALL])
def test_mutant_is_caught(tmp_path, name, plant_mutant):
    rtl = tmp_path / "rtl"
    generate(CFGS[name], rtl)
    old, new = ALL[name]
    # "8'h7f": the first lane's positive saturation value only
    plant_mutant(rtl / "qbert_matmul.v", old, new, first_only=old == "8'h7f")
    r = subprocess.run([sys.executable, "-m", "scripts.cli", "sim", "matmul", "--rtl", str(rtl),
                        "--examples", str(EXAMPLES), "--seed", str(SEED)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 1, f"mutant {name} survived (exit {r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    assert "reproduce with:" in r.stderr
    if name in NEEDLE:
        assert NEEDLE[name] in r.stdout + r.stderr
    else:
        assert "MISMATCH" in r.stderr


@pytest.mark.parametrize("cfg", [CFG, PACK_CFG, PACK3_CFG, MIXED_CFG],
                         ids=["plain", "packed", "packed3", "mixed"])
def test_unmutated_passes_same_run(tmp_path, cfg):
    """The same run on the unmutated RTL exits 0 (the mutants fail for the mutation)."""
    rtl = tmp_path / "rtl"
    generate(cfg, rtl)
    r = subprocess.run([sys.executable, "-m", "scripts.cli", "sim", "matmul", "--rtl", str(rtl),
                        "--examples", str(EXAMPLES), "--seed", str(SEED)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
