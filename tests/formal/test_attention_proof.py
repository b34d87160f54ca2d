"""formal.attention: the attention head's glue proven with abstract units
(k-induction), a whole head reachable (cover), and bugs planted in the
generator's real output each caught by the property they break."""

import pytest

from formal.attention import attention_job
from rtl_gen.attention import AttentionConfig, verilog

TINY = AttentionConfig(max_seq=4, head_dim=4, rows=2, cols=2, lanes=2)


def test_tiny_proven(run):
    r = run(attention_job(TINY))
    assert r.status == "PASS", r.summary()


def test_tiny_rows_per_head_bounded(run):
    r = run(attention_job(TINY, mode="bmc", depth=40, parts=("rows",)))
    assert r.status == "PASS", r.summary()


def test_tiny_feeds_bounded(run):
    r = run(attention_job(TINY, mode="bmc", depth=20, parts=("feeds",)))
    assert r.status == "PASS", r.summary()


def test_tiny_head_completes(run):
    r = run(attention_job(TINY, mode="cover", depth=40))
    assert r.status == "PASS", r.summary()


MUTANTS = {
    # name: (original, mutated, properties one of which must fail)
    "output_ignores_stall": ("assign out_fire = ctx_full_q && m_axis_tready;",
                             "assign out_fire = ctx_full_q;", {"P2 hold", "A1 row_framing"}),
    "row_tlast_early": ("assign m_axis_tlast = out_blk_q == 1'd1;",
                        "assign m_axis_tlast = out_blk_q == 1'd0;", {"A1 row_framing"}),
    "ctx_overwritten_while_full": ("assign pv_m_axis_tready = !ctx_full_q;",
                                   "assign pv_m_axis_tready = 1'b1;", {"A3 bank_flags", "P2 hold"}),
    # the two stall-path bugs the simulation cannot reach (test_attention_mutants.py)
    "qk_feed_ignores_stall": ("assign qk_adv = !qk_valid_q || qk_act_tready;",
                              "assign qk_adv = 1'b1;", {"P2 hold"}),
    "scores_bank_overwritten": (
        "assign qk_m_axis_tready = !((scores_wr_bank_q == 1'd0)? scores_full0_q : scores_full1_q);",
        "assign qk_m_axis_tready = 1'b1;", {"A3 bank_flags"}),
    "head_ends_a_group_late": ("(out_base_q + 3'd2 == seq_len_i)", "(out_base_q == seq_len_i)",
                               {"A2 rows_per_head"}),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_fails(run, name):
    old, new, props = MUTANTS[name]
    text = verilog(TINY)
    assert text.count(old) == 1, f"mutation site {old!r}: the generator changed"
    parts = ("rows",) if "A2 rows_per_head" in props else ("feeds",) if "qk_feed" in name else ("glue",)
    r = run(attention_job(TINY, text.replace(old, new), mode="bmc", depth=30, parts=parts,
                          name=f"attention_mut_{name}"))
    assert r.status == "FAIL", r.summary()
    assert set(r.properties) & props, r.summary()
