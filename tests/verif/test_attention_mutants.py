"""Mutation check of the attention testbench: single-point bugs in the generated
qbert_attention.v (the composition: feeds, buffers, requantization glue, output
framing) must each make `qbert sim attention --rtl DIR` exit 1 with a report
that the printed command reproduces.  Each mutant is one Verilator build of
the whole head (one to two minutes on a loaded 2-core machine), so three run
by default and the rest under ``-m slow``.
"""
import pytest

from rtl_gen.attention import AttentionConfig, generate

CFG = AttentionConfig(max_seq=8, head_dim=8, rows=2, cols=4, lanes=4)
EXAMPLES = 40
DATA = r"context elements differ"
ANY = r"context elements differ|DUT hung|beyond the|beats up to tlast|AXI4-Stream requires"

#: name -> (original text, mutated text, what the report must say): each site occurs once.
#: Two stall-path mutants survive simulation at every Config small enough to
#: simulate here -- the Q K^T feed ignoring its stall, the scores bank written
#: while full: the banks and the softmax's own four rows hold a whole short
#: head, so u_qk's input is never stalled -- and are caught by the formal
#: proof instead (tests/formal/test_attention_proof.py, P2 hold and A3).
MUTANTS = {
    "ctx_saturation_value": ("(pv_out_c0[15])? 8'd128 : 8'd127", "(pv_out_c0[15])? 8'd128 : 8'd126",
                             DATA),
    "ctx_saturation_bound": ("(pv_out_c1[15:7] == 9'd0)", "(pv_out_c1[15:8] == 8'd0)", DATA),
    "probs_sign_extended": ("{ 1'd0, (pv_lane_q == 2'd0)? pv_probs0_q[6:0]",
                            "{ pv_probs0_q[6], (pv_lane_q == 2'd0)? pv_probs0_q[6:0]", DATA),
    "probs_lane_select": ("(pv_lane_q == 2'd2)? pv_probs1_q[20:14]",
                          "(pv_lane_q == 2'd2)? pv_probs1_q[27:21]", DATA),
    "query_group_not_rewound": ("qk_q_addr_q <= qk_q_base_q;", "qk_q_addr_q <= qk_q_addr_q;", DATA),
    "row_tlast_off_by_one": ("assign m_axis_tlast = out_blk_q == 1'd1;",
                             "assign m_axis_tlast = out_blk_q == 1'd0;", ANY),
    # found by a random mutation campaign: the hand-over from one head to the next
    # (caught since an example runs up to three heads back to back, no reset)
    "head_ends_a_group_early": ("(out_base_q + 4'd2 == seq_len_i);", "(out_base_q + 4'd4 == seq_len_i);",
                                ANY),
    "loads_not_released_at_head_end": ("    if(rst || head_end) begin\n      loaded_q <= 0;",
                                       "    if(rst) begin\n      loaded_q <= 0;", ANY),
    "issued_groups_not_cleared_at_head_end": (
        "    if(rst || head_end) begin\n      qk_issued_q <= 0;",
        "    if(rst) begin\n      qk_issued_q <= 0;", ANY),
    # extra query groups issued past the head: stray rows after its last one
    "query_group_step": ("qk_row_q <= qk_row_q + 4'd2;", "qk_row_q <= qk_row_q + 4'd1;", ANY),
    # the P V output taken while the context buffer is still full (long output stalls)
    "context_overwritten_while_full": ("assign pv_m_axis_tready = !ctx_full_q;",
                                       "assign pv_m_axis_tready = 1'b1;", ANY),
    # the head starts before V is in (a V stream that lags)
    "head_starts_without_v": ("if(q_loaded_q && k_loaded_q && v_loaded_q) begin",
                              "if(q_loaded_q && k_loaded_q) begin", ANY),
}


#: the mutant of the default run (the requantization glue; each mutant is a
#: Verilator build of the whole head); the others run under -m slow / tox -e mutants
DEFAULT = ("ctx_saturation_bound",)


@pytest.mark.parametrize("name", [n if n in DEFAULT else pytest.param(n, marks=pytest.mark.slow)
                                  for n in MUTANTS])
def test_mutant_is_caught(tmp_path, name, plant_mutant, caught_and_reproduced):
    old, new, pattern = MUTANTS[name]
    rtl = tmp_path / "rtl"
    generate(CFG, rtl)
    plant_mutant(rtl / "qbert_attention.v", old, new)
    caught_and_reproduced("attention", rtl, pattern, EXAMPLES)
