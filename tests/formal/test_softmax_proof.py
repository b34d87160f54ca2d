"""formal.softmax: the softmax exp stage proven equal to golden int_exp (and
its reference tied to numpy), bugs planted in the generated exp stage caught."""
import re

import pytest

from formal.equiv import exp_vectors, exp_vectors_job
from formal.lemmas import exp_poly_width
from formal.softmax import exp_job
from golden_model.softmax import int_exp
from rtl_gen.softmax import SoftmaxConfig

ONE_LANE = SoftmaxConfig(lanes=1, max_len=8)


def test_exp_vectors_cover_segment_edges():
    spec = ONE_LANE.spec
    ds = [d for d, _ in exp_vectors(spec)]
    assert 0 in ds and spec.x0 in ds and 30 * spec.x0 - 1 in ds and -(1 << (spec.diff_bits - 1)) in ds


def test_exp_reference_matches_numpy(run):
    r = run(exp_vectors_job(ONE_LANE.spec))
    assert r.status == "PASS", r.summary()


def test_exp_reference_vectors_can_fail(run):
    vecs = exp_vectors(ONE_LANE.spec)
    d, e = vecs[len(vecs) // 2]
    r = run(exp_vectors_job(ONE_LANE.spec, vectors=[(d, e + 1)]))
    assert r.status == "FAIL", r.summary()
    assert int(int_exp([d], ONE_LANE.spec)[0]) == e


def test_exp_width_lemma():
    assert exp_poly_width(ONE_LANE.spec).status == "PASS"
    assert exp_poly_width(SoftmaxConfig(in_bits=8, frac_bits=4, max_len=64).spec).status == "PASS"
    r = exp_poly_width(ONE_LANE.spec, bits=12)     # z needs ~19 bits
    assert r.status == "FAIL", r.summary()


def test_exp_stage_proven(run):
    r = run(exp_job(ONE_LANE))
    assert r.status == "PASS", r.summary()


def test_exp_stage_small_format_proven(run):
    r = run(exp_job(SoftmaxConfig(lanes=2, max_len=8, in_bits=8, frac_bits=4, out_bits=4)))
    assert r.status == "PASS", r.summary()


@pytest.mark.slow
def test_exp_stage_default_proven(run):
    r = run(exp_job(SoftmaxConfig()), timeout=1800)
    assert r.status == "PASS", r.summary()


def _sub(pattern, repl):
    def mutate(text):
        new, n = re.subn(pattern, repl, text, count=1)
        assert n == 1, f"mutation {pattern!r} did not apply: the generator changed"
        return new
    return mutate


EXP_MUTANTS = {
    # the segment edge d == x0 counted in the wrong segment
    "segment_edge": _sub(r"\(\$signed\(l0_dc\) <= \$signed\(17'h1ff4e\)\)\? 5'h1 :",
                         "($signed(l0_dc) < $signed(17'h1ff4e))? 5'h1 :"),
    # the polynomial's b constant one LSB short
    "poly_b": _sub(r"assign l0_rb = l0_r \+ 21'h2b5;", "assign l0_rb = l0_r + 21'h2b4;"),
    # shift by one less
    "shift_short": _sub(r"(assign l0_e = .*>> )l0_q;", r"\1(l0_q - 5'd1);"),
}


@pytest.mark.parametrize("name", sorted(EXP_MUTANTS))
def test_exp_mutant_fails(run, name):
    r = run(exp_job(ONE_LANE, mutate=EXP_MUTANTS[name], name=f"softmax_exp_mut_{name}"))
    assert r.status == "FAIL", r.summary()
    assert "X0 exp_equal" in r.properties, r.summary()


# ---- top level ------------------------------------------------------------

from formal.softmax import latency_bound, top_job  # noqa: E402

TINY = SoftmaxConfig(lanes=1, max_len=4, in_bits=4, frac_bits=2, out_bits=2, div_bits_per_cycle=4)


def test_latency_bound_is_the_config_formula():
    # first input beat -> first output beat of a max-length row = last -> last
    for cfg in (TINY, SoftmaxConfig()):
        assert latency_bound(cfg) == cfg.latency(cfg.max_len)


@pytest.mark.parametrize("cfg", [TINY, SoftmaxConfig(lanes=2, max_len=16, div_bits_per_cycle=1),
                                 SoftmaxConfig(lanes=2, max_len=6), SoftmaxConfig()],
                         ids=["tiny", "l2_n16_r1", "l2_n6_3_words", "default"])
def test_top_control_proven(run, cfg):
    # P1/P2, U1/U2, R1 row_length and the invariants: unbounded (k-induction)
    r = run(top_job(cfg, depth=3, latency=0))
    assert r.status == "PASS", r.summary()


def test_top_latency_bound_is_tight(run):
    # one cycle less than the formula is violated by a max-length row
    r = run(top_job(TINY, mode="bmc", depth=latency_bound(TINY) + 8, latency=latency_bound(TINY)))
    assert r.status == "FAIL" and "U3 latency" in r.properties, r.summary()
    assert r.trace is not None and r.trace.exists()


# ---- U3 unbounded: the timing lemmas (formal.softmax.timing_lemmas) ---------

from formal.softmax import latency_job  # noqa: E402

LATENCY_CFGS = {"tiny": TINY, "l2_n16_r1": SoftmaxConfig(lanes=2, max_len=16, div_bits_per_cycle=1),
                # a row buffer 3 words deep (not a power of two), one word deep
                "l2_n6_r2": SoftmaxConfig(lanes=2, max_len=6),
                "l1_n1_r1": SoftmaxConfig(lanes=1, max_len=1, in_bits=4, frac_bits=2, out_bits=2,
                                          div_bits_per_cycle=1),
                "default": SoftmaxConfig()}


@pytest.mark.parametrize("name", sorted(LATENCY_CFGS))
def test_top_latency_proven_unbounded(run, name):
    # U3 at the Config's own bound latency(max_len), every input sequence, by
    # 1-induction (default Config ~6 s)
    r = run(latency_job(LATENCY_CFGS[name]))
    assert r.status == "PASS", r.summary()


def test_top_latency_one_short_not_proven(run):
    # the lemmas cannot carry a bound one cycle shorter than the formula
    # (the reachable trace is test_top_latency_bound_is_tight's)
    r = run(latency_job(TINY, latency=latency_bound(TINY)))
    assert r.status in ("UNKNOWN", "FAIL") and "I9 latency_budget" in r.properties, r.summary()


def _slow_divider(cfg):
    """The divider's done one step late (its counter compared with steps, not steps - 1)."""
    from rtl_gen import divider
    from rtl_gen.softmax import EXP_TOP, exp_verilog
    S, CW = cfg.divider.steps, max(1, (cfg.divider.steps - 1).bit_length())
    text = divider.verilog(cfg.divider)
    old = f"if(cnt_q == {CW}'d{S - 1})"
    assert text.count(old) == 1, "mutation did not apply: the divider generator changed"
    return {f"{EXP_TOP}.v": exp_verilog(cfg), f"{cfg.divider.module_name}.v": text.replace(old, f"if(cnt_q == {CW}'d{S})")}


LATENCY_MUTANTS = {
    # the divider waits for the EXP write stage to go idle: one row alone keeps
    # its latency, a row followed back to back by a long one does not
    "div_start_waits_for_exp": dict(mutate=_sub(r"assign dv_start = dv_ready && !dv_act_q &&",
                                                "assign dv_start = dv_ready && !dv_act_q && !ew_valid_q &&")),
    # the divider one step slower than the DIV stage's div_cycles says
    "divider_one_step_slow": dict(submodules=_slow_divider(TINY)),
}


@pytest.mark.parametrize("name", sorted(LATENCY_MUTANTS))
def test_top_latency_mutant_fails(run, name):
    # BMC of the properties alone (no timing lemmas): a real trace on U3
    r = run(top_job(TINY, mode="bmc", depth=latency_bound(TINY) + 10, name=f"softmax_lat_mut_{name}",
                    **LATENCY_MUTANTS[name]))
    assert r.status == "FAIL" and "U3 latency" in r.properties, r.summary()
    assert r.trace is not None and r.trace.exists()
    # and the unbounded proof does not go through
    r = run(latency_job(TINY, name=f"softmax_lat_mut_{name}_ind", **LATENCY_MUTANTS[name]))
    assert r.status in ("UNKNOWN", "FAIL"), r.summary()


def test_top_covers(run):
    r = run(top_job(TINY, mode="cover", depth=2 * latency_bound(TINY)))
    assert r.status == "PASS", r.summary()


TOP_MUTANTS = {
    # name: (mutation of the generated top, properties of which one must fail)
    "last_beat_early": (_sub(r"assign or_at_last = or_ptr_q == or_last_q;",
                             "assign or_at_last = or_ptr_q + 2'h1 == or_last_q;"),
                        {"R1 row_length", "I5 out_pipe"}),
    "ignores_backpressure": (_sub(r"assign out_en = !m_axis_tvalid \|\| m_axis_tready;",
                                  "assign out_en = 1'b1;"), {"P2 hold"}),
    "bank_never_freed": (_sub(r"if\(out_valid_q && m_axis_tready && out_last_q && \(out_bank_q == 2'h0\)\)",
                              "if(out_valid_q && m_axis_tready && out_last_q && (out_bank_q == 2'h1))"),
                         {"I2 pending_banks", "U3 latency", "U1 no_spurious"}),
    "forced_end_early": (_sub(r"assign in_end = s_axis_tlast \|\| \(wr_ptr_q == 2'h3\);",
                              "assign in_end = s_axis_tlast || (wr_ptr_q == 2'h2);"),
                         {"R1 row_length", "I1 load_bank", "I3 bank_length"}),
    "accepts_into_busy_bank": (_sub(r"(bank3_state_q\) == 2'h0;\n  assign in_fire)", "bank3_state_q) != 2'h3;\n  assign in_fire"),
                               {"I2 pending_banks", "U2 bounded", "I3 bank_length", "U1 no_spurious"}),
    # holding no row, the unit refuses beats into bank 0 (the head's U3 assumes E1)
    "empty_refuses_bank0": (_sub(r"assign s_axis_tready = ", "assign s_axis_tready = (ld_bank_q != 2'h0) && "),
                            {"E1 empty_takes_beat"}),
}


@pytest.mark.parametrize("name", sorted(TOP_MUTANTS))
def test_top_mutant_fails(run, name):
    mutate, props = TOP_MUTANTS[name]
    r = run(top_job(TINY, mode="bmc", depth=2 * latency_bound(TINY), mutate=mutate,
                    name=f"softmax_top_mut_{name}"))
    assert r.status == "FAIL", r.summary()
    assert set(r.properties) & props, r.summary()


# ---- qbert prove softmax: the job list ------------------------------------

def test_softmax_jobs_cover_every_part(tmp_path):
    from formal.run import softmax_jobs
    from rtl_gen.softmax import generate
    cfg = SoftmaxConfig(lanes=2, max_len=8)
    jobs, lem = softmax_jobs(cfg)
    names = [j.name for j in jobs]
    assert names[:4] == ["softmax_top_control", "softmax_top_bmc", "softmax_top_latency",
                         "softmax_top_cover"]
    assert {"softmax_exp_lane0", "softmax_exp_lane1", f"softmax_exp_ref_vectors_i{cfg.in_bits}f{cfg.frac_bits}"} <= set(names)
    assert f"divider_n33_d{cfg.spec.sum_bits}_r{cfg.div_bits_per_cycle}" in names
    assert len(lem) == 2
    # --rtl: the Config comes from params.json; a different -P is refused
    generate(cfg, tmp_path / "rtl")
    jobs2, _ = softmax_jobs(None, tmp_path / "rtl")
    assert [j.name for j in jobs2] == names
    with pytest.raises(ValueError, match="was generated for"):
        softmax_jobs(SoftmaxConfig(), tmp_path / "rtl")
