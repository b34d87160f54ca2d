"""Mutation check of the encoder testbench: single-point bugs in the generated
qbert_encoder.v (buffer addressing, the weight banks, a linear pass's blocks back to
back, head offsets, the residual and LayerNorm parameter glue, the softmax row length,
output framing) must each make `qbert sim encoder --rtl DIR` exit 1 with a report that
the printed command reproduces.  Each mutant is one Verilator build of a tiny engine;
one runs by default, the rest under ``-m slow`` (tox -e mutants).
"""
import pytest

from rtl_gen.encoder import EncoderConfig, generate

CFG = EncoderConfig(hidden=8, heads=2, ffn=16, max_seq=8, array=2)
EXAMPLES = 12
DATA = r"output elements differ"
ANY = r"output elements differ|DUT hung|output frame|AXI4-Stream requires|error flags"

#: name -> (original text, mutated text, what the report must say): each site occurs once
MUTANTS = {
    "residual_operand_not_identity": ("{ blk_pshift0, blk_pmult0, 6'd30,",
                                      "{ blk_pshift0, blk_pmult0, 6'd29,", DATA),
    "weights_read_from_the_loading_bank": ("wbuf_mem[{ compute_bank_q, feed_k_q",
                                           "wbuf_mem[{ load_bank_q, feed_k_q", ANY),
    "context_column_block_ignored": ("assign ctx_word = att_drain_head_word_q + dst_tile_q[2:0];",
                                     "assign ctx_word = att_drain_head_word_q + 3'd0;", DATA),
    "head_offset_step": ("head_word_q <= head_word_q + 3'd2;",
                         "head_word_q <= head_word_q + 3'd1;", DATA),
    "partial_group_dropped": ("groups_q <= x_group_q + 1;", "groups_q <= x_group_q;", ANY),
    "padded_key_in_softmax": ("{ { 1'd0, last_rows_q } > 3'd1, { 1'd0, last_rows_q } > 3'd0 }",
                              "{ 1'd1, { 1'd0, last_rows_q } > 3'd0 }", DATA),
    "layernorm_requant_swapped": ("(which_ln_q)? ln2_mult_q : ln1_mult_q",
                                  "(which_ln_q)? ln1_mult_q : ln2_mult_q", DATA),
    "residual_skip_source": ("assign res_b = (is_lin_out)?", "assign res_b = (!is_lin_out)?",
                             DATA),
    # found by a random mutation campaign (2026-11-23), caught since the testbench
    # checks busy_o, every checked header field, and layers without a reset between
    "busy_never_set": ("assign busy_o = !ph_idle;", "assign busy_o = 1'b0;", r"busy_o never high"),
    "output_tlast_early": ("assign m_axis_y_tlast = (ln_out_word_q == 2'd3)",
                           "assign m_axis_y_tlast = (ln_out_word_q == 2'd2)", ANY),
}

#: the mutant of the default run; the others run under -m slow / tox -e mutants
DEFAULT = ("padded_key_in_softmax",)

#: every unit narrower than the array (test_encoder's tiny_w4_mixed_narrow): the
#: beats of a row, a score word or a token word, and their collection into words
NARROW_CFG = EncoderConfig(hidden=12, heads=3, ffn=8, max_seq=8, array=4, weight_bits=4, dsp_pack=3,
                           requant_lanes=2, post_lanes=2, softmax_lanes=1, layernorm_lanes=2)
_RQ_PRM = ("assign rq_prm = { (post_mid_chunk_q == 1'd0)? { 3'd0, { blk_pshift1, blk_pmult1 } } : "
           "{ 3'd0, { blk_pshift3, blk_pmult3 } }, (post_mid_chunk_q == 1'd0)? { 3'd0, "
           "{ blk_pshift0, blk_pmult0 } } : { 3'd0, { blk_pshift2, blk_pmult2 } } };")
NARROW_MUTANTS = {
    "requant_multipliers_of_the_input_beat": (_RQ_PRM, _RQ_PRM.replace("post_mid_", "post_in_"), ANY),
    "b_word_left_after_one_beat": ("res_b_tready && (post_b_chunk_q == 1'd1)", "res_b_tready", ANY),
    "residual_row_beats_swapped": ("{ res_out_tdata[31:0], post_r_chunk0_q }",
                                   "{ post_r_chunk0_q, res_out_tdata[31:0] }", ANY),
    "softmax_beats_past_the_kept_lanes": ("sf_last_q && !sf_keep_q[1]", "1'b0", ANY),
    "probabilities_beat_in_the_wrong_slot": (
        "(p_chunk_q == 2'd1)? { { 1'd0, sm_out_tdata[6:0] } } : p_chunk1_q", "p_chunk1_q", ANY),
    "layernorm_parameter_beats_swapped": (
        "(ln_prm_chunk_q == 1'd0)? ln_prm_q[93:47] : ln_prm_q[187:141]",
        "(ln_prm_chunk_q == 1'd1)? ln_prm_q[93:47] : ln_prm_q[187:141]", ANY),
    "layernorm_output_beats_swapped": ("assign ln_out_word = { ln_out_tdata[15:0], ln_out_chunk0_q };",
                                       "assign ln_out_word = { ln_out_chunk0_q, ln_out_tdata[15:0] };",
                                       ANY),
    "y_beat_before_its_word_is_whole": (
        "assign m_axis_y_tvalid = ln_out_tvalid && ln_out_chunk_end && ln_to_y;",
        "assign m_axis_y_tvalid = ln_out_tvalid && ln_to_y;", ANY),
}


#: a linear pass's blocks back to back (test_encoder's overlap_odd_blocks): 3 blocks
#: a pass (the drain bank starts on bank 1 every other pass), and a drain long enough
#: (4 beats a row into the post-op units) that the next block's tiles are in
#: before the block before is written
OVERLAP_CFG = EncoderConfig(hidden=12, heads=3, ffn=8, max_seq=8, array=4, post_lanes=1,
                            requant_lanes=1)
OVERLAP_MUTANTS = {
    "post_multipliers_of_the_compute_bank": ("assign blk_pmult0 = (drain_bank_q)?",
                                             "assign blk_pmult0 = (compute_bank_q)?", DATA),
    "next_block_rows_not_held": ("mm_hold_q <= 1;", "mm_hold_q <= 0;", DATA),
    "block_two_ahead_of_its_drain": (
        " && ((blk_q == 3'd0) || (blk_q == drain_blk_q) || (blk_q == drain_blk_q + 3'd1))", "", DATA),
    "skip_operand_block_not_advanced": ("res_b_blk_q <= res_b_blk_q + 1;",
                                        "res_b_blk_q <= res_b_blk_q;", DATA),
    "bank_freed_is_the_compute_bank": ("if(drain_bank_q) begin\n          wbuf_full1_q <= 0;",
                                       "if(compute_bank_q) begin\n          wbuf_full1_q <= 0;", ANY),
    "drain_bank_not_the_first_blocks": ("drain_bank_q <= compute_bank_q;", "drain_bank_q <= 0;", ANY),
    # the attention's segments overlapping too far: a third one goes on while the
    # first is still written (at array 2 a tile's drain is too short for that)
    "three_segments_in_flight": ("assign att_room = (att_inflight_q != 2'd2) || att_seg_drained;",
                                 "assign att_room = 1'b1;", ANY),
}
#: the softmax beside the array: the scores and probabilities of two items, each
#: buffer in halves (at the tiny Config, where the softmax is the slower)
MUTANTS.update({
    "softmax_reads_the_half_being_written": ("assign s_rd_addr = (sm_on_q)? { sm_par_q,",
                                             "assign s_rd_addr = (sm_on_q)? { qk_par_q,", DATA),
    "pv_before_its_probabilities": ("assign pv_ready = (pv_par_q == 1'd0)? p_full0_q : p_full1_q;",
                                    "assign pv_ready = 1'b1;", DATA),
    "context_of_the_qk_item": ("assign ctx_word = att_drain_head_word_q + dst_tile_q[2:0];",
                               "assign ctx_word = head_word_q + dst_tile_q[2:0];", DATA),
    "values_of_the_qk_head": ("assign head_block = pv_head_word_q + feed_tile_q[2:0];",
                              "assign head_block = head_word_q + feed_tile_q[2:0];", DATA),
})
#: the weight loader ahead of the array across passes
MUTANTS.update({
    # the up projection's first block read from the LN1 records
    "up_blocks_loaded_before_ln1": ("? load_after_ln1 :", "? 1'b1 :", ANY),
    # a block of the down projection, loaded during the up projection, cut at its K
    "block_length_of_the_pass_on_the_array": ("== load_k)", "== lin_k)", ANY),
})
#: ... and where the array is the slower (head_dim 8: P V is 4 tiles), so the
#: softmax writes an item's probabilities while P V still reads the item before's
ATTENTION_CFG = EncoderConfig(hidden=16, heads=2, ffn=16, max_seq=8, array=2, softmax_div_bits=4)
ATTENTION_MUTANTS = {
    "probabilities_into_the_half_being_read": ("assign p_waddr = (sm_on_q)? { sm_par_q,",
                                               "assign p_waddr = (sm_on_q)? { pv_par_q,", DATA),
    "scores_kept_after_the_softmax": (
        "        end else begin\n          s_full0_q <= 0;\n          p_full0_q <= 1;",
        "        end else begin\n          p_full0_q <= 1;", DATA),
    # the segments overlap: one fed while the one before is written
    "write_side_retaken_at_every_start": ("if(seg_start_q && ph_att && att_none_left ||",
                                          "if(seg_start_q && ph_att ||", ANY),
    "context_address_of_the_fed_item": ("assign ctx_word = att_drain_head_word_q + dst_tile_q;",
                                        "assign ctx_word = pv_head_word_q + dst_tile_q;", DATA),
    "attention_ends_before_its_last_write": ("((pv_last_item)? att_none_left : att_room)", "att_room",
                                             ANY),
}
CONFIGS = {"tiny": (CFG, MUTANTS), "narrow": (NARROW_CFG, NARROW_MUTANTS),
           "overlap": (OVERLAP_CFG, OVERLAP_MUTANTS), "attention": (ATTENTION_CFG, ATTENTION_MUTANTS)}


def _mutant_params():
    """(Config, mutants) per mutant name: the tiny engine's, then the narrow units',
    the overlapped blocks', the attention's with the array the slower."""
    for which, (_, mutants) in CONFIGS.items():
        for n in mutants:
            yield pytest.param(which, n, id=n if which == "tiny" else f"{which}-{n}",
                               marks=() if which == "tiny" and n in DEFAULT else pytest.mark.slow)


@pytest.mark.parametrize("which,name", list(_mutant_params()))
def test_mutant_is_caught(tmp_path, which, name, plant_mutant, caught_and_reproduced):
    cfg, mutants = CONFIGS[which]
    old, new, pattern = mutants[name]
    rtl = tmp_path / "rtl"
    generate(cfg, rtl)
    plant_mutant(rtl / "qbert_encoder.v", old, new)
    caught_and_reproduced("encoder", rtl, pattern, EXAMPLES)


#: mutants a directed test owns (the layers one after another without a reset in
#: encoder_cycles, every checked header field in encoder_error_flags): name ->
#: (original, mutated, what the failure must say)
DIRECTED = {
    "header_ffn_unchecked": (" || (sr_next[255:240] != 16'd16)", "", "a wrong header ffn"),
    "done_not_cleared_by_start": ("seq_q <= seq_len_i;\n          done_q <= 0;",
                                  "seq_q <= seq_len_i;", "done_o high one cycle after start_i"),
    # the next layer's loader still past the down projection: it never loads
    "loader_not_restarted_by_start": ("done_q <= 0;\n          load_linear_q <= 0;", "done_q <= 0;",
                                      "DUT hung"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(DIRECTED))
def test_directed_mutant_is_caught(tmp_path, name, plant_mutant):
    import subprocess
    import sys
    old, new, needle = DIRECTED[name]
    rtl = tmp_path / "rtl"
    generate(CFG, rtl)
    plant_mutant(rtl / "qbert_encoder.v", old, new)
    r = subprocess.run([sys.executable, "-m", "scripts.cli", "sim", "encoder", "--rtl", str(rtl),
                        "--seed", "5"], capture_output=True, text=True, timeout=900)
    assert r.returncode == 1 and needle in r.stdout + r.stderr, r.stdout[-3000:] + r.stderr[-3000:]


#: the mixed array (dsp_pack 3): attention's beats sent as int4 (tuser 0), so
#: Q K^T and P V multiply the low nibbles of K and V
MIXED_CFG = EncoderConfig(hidden=12, heads=3, ffn=8, max_seq=8, array=4, weight_bits=4, dsp_pack=3)


@pytest.mark.slow
def test_mixed_attention_as_int4_beats_is_caught(tmp_path, plant_mutant, caught_and_reproduced):
    rtl = tmp_path / "rtl"
    generate(MIXED_CFG, rtl)
    plant_mutant(rtl / "qbert_encoder.v", "assign mm_wgt_tuser = !ph_lin;", "assign mm_wgt_tuser = 1'b0;")
    caught_and_reproduced("encoder", rtl, DATA, EXAMPLES)

