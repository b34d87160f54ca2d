"""formal.matmul: the generated qbert_matmul proven (k-induction), and bugs planted in
the generator's real output each caught by the property they break."""
import re

import pytest

from formal.matmul import formal_block, inject, latency_job, matmul_column_jobs, matmul_job
from rtl_gen.matmul import MatmulConfig

SMALL = MatmulConfig(rows=1, cols=1, k_max=8)


def test_inject():
    text = "module a(); endmodule\nmodule b();\nendmodule\n"
    out = inject(text, "b", "// X")
    assert out.index("// X") > out.index("module b") and out.count("endmodule") == 2
    with pytest.raises(ValueError, match="not found"):
        inject(text, "c", "// X")


@pytest.mark.parametrize("depth", [1, 3])
def test_small_proven(run, depth):
    # the injected invariants are 1-inductive; depth 3 must agree
    r = run(matmul_job(SMALL, depth=depth))
    assert r.status == "PASS", r.summary()


def test_two_by_one_int4_proven(run):
    r = run(matmul_job(MatmulConfig(rows=2, cols=1, k_max=64, weight_bits=4)))
    assert r.status == "PASS", r.summary()


def _sub(pattern, repl):
    def mutate(text):
        new, n = re.subn(pattern, repl, text)
        assert n >= 1, f"mutation {pattern!r} did not apply: the generator changed"
        return new
    return mutate


MUTANTS = {
    # name: (mutation of the generated Verilog, property that must fail)
    "round_constant_2s": (_sub(r"(assign rnd_c0 = \(64'd1 << s2_shift_c0_q\)) >> 64'd1;", r"\1;"),
                          {"Q6 requant_stage", "Q5 requant_equal"}),
    "acc_subtracts": (_sub(r"acc_r0_c0_q \+ \{", "acc_r0_c0_q - {"), {"Q1 acc_equal"}),
    "bias_zero_extended": (_sub(r"row_c0 \+ \{ \{ 1\{ bias_c0\[27\] \} \}, bias_c0 \}", "row_c0 + { 1'b0, bias_c0 }"),
                           {"Q4 bias_add"}),
    "ignores_backpressure": (_sub(r"assign en = !out_valid_q \|\| m_axis_tready;", "assign en = 1'b1;"),
                             {"P2 hold"}),
    "spurious_rows": (_sub(r"s1_valid_q <= shd_full_q;", "s1_valid_q <= 1'b1;"),
                      {"U1 no_spurious", "Q7 pending_map"}),
    # an empty unit refuses the first beat of a tile (the head's U3 assumes E1)
    "empty_refuses_first_beat": (_sub(r"assign s_axis_act_tready = s_axis_wgt_tvalid && beat_ok;",
                                      "assign s_axis_act_tready = s_axis_wgt_tvalid && beat_ok && !first_q;"),
                                 {"E1 empty_takes_beat"}),
    # wgt's tready no longer waits for the tile's turn: act and wgt readies part
    # (the encoder engine feeds both from one register on act's tready: E2)
    "wgt_ready_ignores_turn": (_sub(r"assign s_axis_wgt_tready = s_axis_act_tvalid && beat_ok;",
                                    "assign s_axis_wgt_tready = s_axis_act_tvalid;"),
                               {"E2 lockstep_ready"}),
}


def test_column_jobs_cover_every_column():
    cfg = MatmulConfig(rows=2, cols=3, k_max=64)
    jobs = matmul_column_jobs(cfg)
    assert [j.name for j in jobs] == [f"matmul_r2c3_k64_w8_b28_col{c}" for c in range(3)]
    whole = formal_block(cfg)
    texts = [j.sources["qbert_matmul.sv"] for j in jobs]
    for tag in ("// Q1 acc_equal", "// Q3 shadow_equal", "// Q4 bias_add", "// Q6 requant_stage"):
        assert whole.count(tag) == sum(t.count(tag) for t in texts) > 0, tag
    for c in range(3):   # each column's output claim is in exactly one job
        assert [f"out_c{c}_q == g_y3_c{c}" in t for t in texts] == [i == c for i in range(3)]
    assert all("// Q7 pending_map" in t for t in texts)
    with pytest.raises(ValueError):
        formal_block(cfg, cols=[3])


def test_two_by_two_by_columns(run):
    for j in matmul_column_jobs(MatmulConfig(rows=2, cols=2, k_max=256)):
        r = run(j)
        assert r.status == "PASS", r.summary()


@pytest.mark.slow
@pytest.mark.parametrize("cfg", [MatmulConfig(rows=2, cols=2, k_max=4096), MatmulConfig()],
                         ids=["r2c2_k4096", "default_r4c4_k4096"])
def test_larger_configs_proven(run, cfg):
    for j in matmul_column_jobs(cfg):
        r = run(j, timeout=1800)
        assert r.status == "PASS", r.summary()


def test_not_vacuous(run):
    # the environment assumptions leave room for whole output tiles, with stalls
    r = run(matmul_job(SMALL, mode="cover", depth=14))
    assert r.status == "PASS", r.summary()


@pytest.mark.parametrize("cfg", [SMALL, MatmulConfig(rows=3, cols=2, k_max=16, weight_bits=4),
                                 MatmulConfig()], ids=["r1c1", "r3c2_int4", "default"])
def test_latency_proven(run, cfg):
    r = run(latency_job(cfg))
    assert r.status == "PASS", r.summary()


def test_latency_environment_not_vacuous(run):
    # the narrowed environment (s_axis_prm kept valid) still reaches whole tiles, with stalls
    r = run(latency_job(MatmulConfig(rows=2, cols=1, k_max=8), mode="cover", depth=16))
    assert r.status == "PASS", r.summary()


def test_latency_bound_is_tight(run):
    # one cycle less than drain_cycles + 1 is a real counterexample (BMC, not an induction artefact)
    cfg = MatmulConfig(rows=2, cols=1, k_max=8)
    r = run(latency_job(cfg, mode="bmc", depth=cfg.drain_cycles + 6, bound=cfg.drain_cycles))
    assert r.status == "FAIL", r.summary()
    assert "U3 latency" in r.properties, r.summary()


def test_latency_catches_a_stuck_drain(run):
    # the shadow bank is loaded only while the output is ready: a drain that waits on
    # the consumer before it even starts; the other properties still hold
    mutate = _sub(r"assign load_shd = done_q && prm_full_q && !shd_full_q;",
                  "assign load_shd = done_q && prm_full_q && !shd_full_q && m_axis_tready;")
    r = run(latency_job(SMALL, mode="bmc", depth=SMALL.drain_cycles + 8, mutate=mutate))
    assert r.status == "FAIL", r.summary()
    assert "U3 latency" in r.properties, r.summary()


# ---- dsp_pack 2 and 3: two or three products per multiplier ---------------
PACKED = MatmulConfig(rows=1, cols=3, k_max=8, dsp_pack=2)   # one pair and an odd column
# a triple (three int4 weights in one operand) and a single column
PACKED3 = MatmulConfig(rows=1, cols=4, k_max=8, dsp_pack=3, weight_bits=4)
# mixed: the same groups with int8 lanes, tuser picking int4 or int8 beats
MIXED = MatmulConfig(rows=1, cols=4, k_max=8, dsp_pack=3)


@pytest.mark.parametrize("cfg", [PACKED, PACKED3, pytest.param(MIXED, marks=pytest.mark.slow)],
                         ids=["pack2", "pack3", "mixed"])
def test_packed_proven(run, cfg):
    """Every column of a packed Config, the odd one that keeps its own multiplier
    included, is proven with the packed multipliers cut (formal.matmul
    packed_products_block); and the RTL's multipliers are the form the cut assumes."""
    from formal.matmul import packed_drivers_check
    from rtl_gen.matmul import verilog
    for job in matmul_column_jobs(cfg, depth=1):
        r = run(job)
        assert r.status == "PASS", r.summary()
    assert packed_drivers_check(cfg, verilog(cfg)).status == "PASS"


PACKED_MUTANTS = {
    # the odd column's product loses the borrow of a negative even product
    "borrow_dropped": (_sub(r"pprod_r0_c0_c1\[32:17\] \+ \{ 15'b0, pprod_r0_c0_c1\[16\] \}",
                            "pprod_r0_c0_c1[32:17] + 16'd0"), 1, {"Q1 acc_equal"}),
    # the odd weight zero-extended into the packed operand
    "odd_weight_zero_extended": (_sub(r"\{ \{ 1\{ wgt_c1\[7\] \} \}, wgt_c1 \}, 17'b0",
                                      "{ 1'b0, wgt_c1 }, 17'b0"), 0, {"P0 pack_operand"}),
}


PACKED3_MUTANTS = {
    # the middle field read as a plain signed field: wrong only for x*w = 1024
    "triple_rep_is_sign": (_sub(r"assign pneg1_r0_c0_c1_c2 = pq_r0_c0_c1_c2\[10\] & \|pq_r0_c0_c1_c2\[9:0\];",
                                "assign pneg1_r0_c0_c1_c2 = pq_r0_c0_c1_c2[10];"), 1, {"Q1 acc_equal"}),
    # the top field loses the middle field's borrow
    "triple_top_borrow_dropped": (_sub(r"pq_r0_c0_c1_c2\[22:11\] \+ \{ 11'b0, pneg1_r0_c0_c1_c2 \}",
                                       "pq_r0_c0_c1_c2[22:11]"), 2, {"Q1 acc_equal"}),
    # the top weight placed one bit low in the packed operand
    "triple_top_weight_shifted": (_sub(r"\{ \{ \{ 1\{ wgt_c2\[3\] \} \}, wgt_c2 \}, 22'b0 \}",
                                       "{ { { 2{ wgt_c2[3] } }, wgt_c2 }, 21'b0 }"), 0, {"P0 pack_operand"}),
}


MIXED_MUTANTS = {
    # an int8 beat's third product taken from the second cycle's operand (the pair)
    "mixed_third_from_the_pair": (_sub(r"assign prod_r0_c2 = \(s_axis_wgt_tuser\)\? pfirst_r0_c2_q",
                                       "assign prod_r0_c2 = (s_axis_wgt_tuser)? pprod_r0_c0_c1_c2[15:0]"),
                                  2, {"Q1 acc_equal"}),
    # the top nibble of an int4 beat zero-extended into the operand
    "mixed_top_nibble_zero_extended": (_sub(r"\{ \{ \{ 1\{ wgt_n_c2\[3\] \} \}, wgt_n_c2 \}, 22'b0 \}",
                                            "{ { 1'b0, wgt_n_c2 }, 22'b0 }"), 0, {"P0 pack_operand"}),
    # an int8 beat's second cycle that does not take it: a third cycle
    "mixed_second_cycle_waits": (_sub(r"assign take = beat_ok && !wide_first;",
                                      "assign take = beat_ok && !wide_first && !wide_q;"),
                                 0, {"M2 second_cycle_takes"}),
}


@pytest.mark.parametrize("name", [*sorted(PACKED_MUTANTS), *sorted(PACKED3_MUTANTS),
                                  *sorted(MIXED_MUTANTS)])
def test_packed_mutant_fails(run, name):
    cfg = PACKED3 if name in PACKED3_MUTANTS else MIXED if name in MIXED_MUTANTS else PACKED
    mutate, col, props = {**PACKED_MUTANTS, **PACKED3_MUTANTS, **MIXED_MUTANTS}[name]
    r = run(matmul_job(cfg, mode="bmc", depth=6, mutate=mutate, cols=[col],
                       name=f"matmul_packmut_{name}"))
    assert r.status == "FAIL", r.summary()
    assert set(r.properties) & props, r.summary()


def test_packed_driver_not_in_the_cut_form_fails():
    """A multiplier the cut's assumption does not describe (here: the packed
    operand's sign taken from the wrong bit) fails the unit's proof."""
    from formal.matmul import packed_drivers_check
    from rtl_gen.matmul import verilog
    text = verilog(PACKED)
    bad = text.replace("{ { 7{ wpack_c0_c1[25] } }, wpack_c0_c1 }", "{ { 7{ wpack_c0_c1[24] } }, wpack_c0_c1 }")
    assert bad != text
    r = packed_drivers_check(PACKED, bad)
    assert r.status == "FAIL" and "pprod_r0_c0_c1" in r.detail
    extra = text.replace("endmodule", "  wire [32:0] pprod_x;\n  assign pprod_x = 33'd0;\nendmodule")
    assert packed_drivers_check(PACKED, extra).status == "FAIL"


# ---- shared requantizers (requant_lanes < cols): a row drains in chunks ----
SHARED = MatmulConfig(rows=2, cols=3, k_max=4, requant_lanes=2)   # chunks {c0, c1}, {c2}


def test_shared_requantizers_proven(run):
    """Every column (whole lanes per job), and the latency bound drain_cycles + 1."""
    for job in matmul_column_jobs(SHARED):
        r = run(job)
        assert r.status == "PASS", r.summary()
    r = run(latency_job(SHARED))
    assert r.status == "PASS", r.summary()


def test_shared_latency_bound_is_tight(run):
    r = run(latency_job(SHARED, mode="bmc", depth=SHARED.drain_cycles + 6, bound=SHARED.drain_cycles))
    assert r.status == "FAIL", r.summary()
    assert "U3 latency" in r.properties, r.summary()


SHARED_MUTANTS = {
    # lane 0 adds column 0's bias in chunk 1 too (column 2's)
    "lane_bias_of_other_chunk": (_sub(r"assign bias_l0 = \(shd_chunk_q == 1'd0\)\? bias_c0 : bias_c2;",
                                      "assign bias_l0 = bias_c0;"), {"Q4 bias_add"}),
    "lane_mult_of_other_chunk": (_sub(r"assign mult_l0 = \(shd_chunk_q == 1'd0\)\? mult_c0 : mult_c2;",
                                      "assign mult_l0 = mult_c0;"), {"Q4 param_select"}),
    # column 2's output register written by chunk 0's lane-0 result
    "column_written_by_other_chunk": (
        _sub(r"(if\(en && s2_valid_q && \(s2_chunk_q == )1'd1(\)\) begin\n      out_c2_q)", r"\g<1>1'd0\2"),
        {"Q5 requant_equal"}),
    # a row's beat valid before its last chunk has written
    "beat_before_last_chunk": (_sub(r"out_valid_q <= s2_valid_q && s2_end_q;", "out_valid_q <= s2_valid_q;"),
                               {"Q5 requant_equal", "Q7 pending_map", "U1 no_spurious"}),
}


@pytest.mark.parametrize("name", sorted(MUTANTS) + sorted(SHARED_MUTANTS))
def test_mutant_fails(run, name):
    """Each planted bug is a BMC counterexample of the property it breaks (the
    shared-requantizer ones on SHARED, deeper for its longer drain)."""
    cfg, depth = (SHARED, 14) if name in SHARED_MUTANTS else (SMALL, 11)
    mutate, props = {**MUTANTS, **SHARED_MUTANTS}[name]
    r = run(matmul_job(cfg, mode="bmc", depth=depth, mutate=mutate, name=f"matmul_mut_{name}"))
    assert r.status == "FAIL", r.summary()
    assert set(r.properties) & props, r.summary()
