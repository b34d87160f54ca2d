"""formal.attention: the attention head's glue proven with abstract units
(k-induction: AXI4-Stream on m_axis and the feeds, row framing, bank flags, one
output row per query row), a whole head reachable (cover), the head's latency
bound with the units' bounds assumed (BMC), and bugs planted in the generator's
real output each caught by the property they break."""

import pytest

from formal.attention import LATENCY, attention_job
from rtl_gen.attention import AttentionConfig, verilog

TINY = AttentionConfig(max_seq=4, head_dim=4, rows=2, cols=2, lanes=2)
#: larger: four query groups, eight key blocks, two context blocks
MID = AttentionConfig(max_seq=8, head_dim=8, rows=2, cols=2, lanes=2)
#: one token, 1x1 arrays: the head whose latency BMC covers a whole head in minutes
#: (head_latency 43 cycles; max_seq=2, head_dim=2 on 2x2 arrays, 75 cycles, does not
#: finish in 10 minutes)
NANO = AttentionConfig(max_seq=1, head_dim=1, rows=1, cols=1, lanes=1)


@pytest.mark.parametrize("cfg", [TINY, MID], ids=["s4_d4", "s8_d8"])
def test_proven_unbounded(run, cfg):
    r = run(attention_job(cfg, depth=2))
    assert r.status == "PASS", r.summary()


def test_tiny_head_completes(run):
    r = run(attention_job(TINY, mode="cover", depth=40))
    assert r.status == "PASS", r.summary()


def _latency_job(cfg, bound=None, **kw):
    t = cfg.head_latency(cfg.max_seq)
    return attention_job(cfg, mode="bmc", depth=t + 8, parts=(LATENCY,), bound=bound,
                         cut_memories=True, **kw)


@pytest.mark.slow
def test_nano_latency_bound_holds(run):
    r = run(_latency_job(NANO), timeout=1800)
    assert r.status == "PASS", r.summary()


@pytest.mark.slow
def test_nano_latency_bound_is_tight(run):
    """One cycle less than head_latency is violated by a reachable run."""
    t = NANO.head_latency(NANO.max_seq)
    r = run(_latency_job(NANO, bound=t - 1, name="attention_latency_one_short"), timeout=1800)
    assert r.status == "FAIL" and "U3 latency" in r.properties, r.summary()


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
    # a group drops its second row: the context moves on after row 0
    "group_drops_a_row": ("assign out_group_end = out_fire && (out_blk_q == 1'd1) && (out_row_q == 1'd1);",
                          "assign out_group_end = out_fire && (out_blk_q == 1'd1) && (out_row_q == 1'd0);",
                          {"A2 rows_per_head"}),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_fails(run, name):
    old, new, props = MUTANTS[name]
    text = verilog(TINY)
    assert text.count(old) == 1, f"mutation site {old!r}: the generator changed"
    # only the part the bug breaks: a smaller BMC (all parts: ~40 s a mutant)
    part = ("rows",) if "A2 rows_per_head" in props else ("feeds",) if "qk_feed" in name else ("glue",)
    r = run(attention_job(TINY, text.replace(old, new), mode="bmc", depth=30, parts=part,
                          name=f"attention_mut_{name}"))
    assert r.status == "FAIL", r.summary()
    assert set(r.properties) & props, r.summary()


@pytest.mark.slow
def test_rows_delayed_fail_latency(run):
    """The head starts its Q K^T only once the consumer is ready (m_axis_tready):
    every row is late by as long as the consumer idles, and the head misses
    head_latency (cycles with m_axis_tvalid low count)."""
    old = "if(q_loaded_q && k_loaded_q && v_loaded_q) begin"
    text = verilog(NANO)
    assert text.count(old) == 1, f"mutation site {old!r}: the generator changed"
    r = run(_latency_job(NANO, rtl_text=text.replace(old, old[:-7] + " && m_axis_tready) begin"),
                         name="attention_mut_start_waits_for_tready"), timeout=1800)
    assert r.status == "FAIL" and "U3 latency" in r.properties, r.summary()


def test_prove_jobs_say_what_they_cover():
    """qbert prove attention: the latency BMC only where a whole head fits its
    depth, and the prove job says so where it does not; the cover of a large
    Config runs on the smallest head of the same arrays."""
    from formal.attention import LATENCY_BMC_MAX, smallest_head
    from formal.run import attention_jobs
    jobs, _ = attention_jobs(AttentionConfig())
    assert [j.mode for j in jobs] == ["prove", "cover"]
    assert "NOT checked" in jobs[0].description and "max_seq=4, head_dim=4" in jobs[1].description
    assert smallest_head(AttentionConfig()) == AttentionConfig(max_seq=4, head_dim=4)
    jobs, _ = attention_jobs(NANO)
    assert [j.mode for j in jobs] == ["prove", "cover", "bmc"]
    assert NANO.head_latency(1) <= LATENCY_BMC_MAX and jobs[2].depth == NANO.head_latency(1) + 8


def test_head_latency_is_checked_config():
    with pytest.raises(Exception, match="S=3"):
        TINY.head_latency(3)
