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
                                 SoftmaxConfig()], ids=["tiny", "l2_n16_r1", "default"])
def test_top_control_proven(run, cfg):
    # P1/P2, U1/U2, R1 row_length and the invariants: unbounded (k-induction)
    r = run(top_job(cfg, depth=3, latency=0))
    assert r.status == "PASS", r.summary()


def test_top_latency_bounded(run):
    # U3 with the Config's formula: bounded, one max-length row and stalls deep
    r = run(top_job(TINY, mode="bmc", depth=latency_bound(TINY) + 10))
    assert r.status == "PASS", r.summary()


@pytest.mark.slow
def test_top_latency_bounded_two_rows(run):
    # two max-length rows and stalls deep (about 4.5 min)
    r = run(top_job(TINY, mode="bmc", depth=2 * latency_bound(TINY) + 6), timeout=1800)
    assert r.status == "PASS", r.summary()


def test_top_latency_bound_is_tight(run):
    # one cycle less than the formula is violated by a max-length row
    r = run(top_job(TINY, mode="bmc", depth=latency_bound(TINY) + 8, latency=latency_bound(TINY)))
    assert r.status == "FAIL" and "U3 latency" in r.properties, r.summary()


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
    assert names[:4] == ["softmax_top_control", "softmax_top_bmc", "softmax_top_latency_short_rows",
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
