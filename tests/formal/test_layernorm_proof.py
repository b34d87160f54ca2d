"""formal.layernorm: the 32-bit isqrt proven unbounded (ghost + linear invariants
in SBY, the nonlinear step in z3), the no-overflow bounds, and bugs planted in
the generator's real isqrt output each caught."""
import re

import pytest

from formal import layernorm as fln
from formal.run import all_passed, prove
from rtl_gen.layernorm import LayerNormConfig, generate


@pytest.mark.parametrize("x_bits", [8, 32])
def test_isqrt_proven(run, x_bits):
    r = run(fln.isqrt_job(x_bits))
    assert r.status == "PASS", r.summary()


def test_isqrt_lemma():
    assert fln.isqrt_lemma().status == "PASS"


@pytest.mark.parametrize("kw", [dict(), dict(hidden=768), dict(hidden=8192, in_bits=24,
                                                               norm_bits=12, gamma_bits=20)])
def test_bounds_lemma(kw):
    r = fln.layernorm_bounds(LayerNormConfig(**kw))
    assert r.status == "PASS", r.summary()


def test_bounds_lemma_can_fail(monkeypatch):
    """One bit less for the sum of squares than the spec declares does not hold."""
    cfg = LayerNormConfig(hidden=384)
    spec = cfg.spec
    import dataclasses
    short = dataclasses.replace(spec, in_bits=spec.in_bits - 1)   # var_sum_bits - 2
    monkeypatch.setattr(LayerNormConfig, "spec", property(lambda self: short))
    r = fln.layernorm_bounds(cfg)
    assert r.status == "FAIL", r.summary()


def _sub(old, new):
    def mutate(text):
        assert text.count(old) == 1, f"mutation site {old!r} not found once: the generator changed"
        return text.replace(old, new)
    return mutate


#: single-point bugs in the generated isqrt; each must keep the proof from passing
MUTANTS = {
    "compare_strict": _sub("assign take = rem_d >= trial;", "assign take = rem_d > trial;"),
    "trial_constant": _sub("assign trial = { 1'd0, root_q, 2'd1 };",
                           "assign trial = { 1'd0, root_q, 2'd0 };"),
    "digit_pair_order": _sub("assign rem_d = { rem_q, x_q[31:30] };",
                             "assign rem_d = { rem_q, x_q[30], x_q[31] };"),
    "one_step_short": _sub("if(cnt_q == 5'd15) begin", "if(cnt_q == 5'd14) begin"),
}


@pytest.mark.parametrize("name", list(MUTANTS))
def test_isqrt_mutant_not_proven(run, name):
    r = run(fln.isqrt_job(32, mutate=MUTANTS[name]))
    assert r.status in ("FAIL", "UNKNOWN"), r.summary()


@pytest.mark.parametrize("kw", [dict(hidden=2, lanes=1), dict()])
def test_top_protocol_and_units_proven(run, kw):
    r = run(fln.top_job(LayerNormConfig(**kw)))
    assert r.status == "PASS", r.summary()


TOP_MUTANTS = {
    # the bank is read out again and again: output vectors without input vectors
    "bank_never_freed": _sub("          bank_state_q[rd_bank_q] <= 2'd0;\n", ""),
    "tvalid_withdrawn": _sub("assign m_axis_tvalid = out_valid_q;",
                             "assign m_axis_tvalid = out_valid_q && (m_axis_tready || !s_axis_tvalid);"),
    "stall_ignored": _sub("assign en = !out_valid_q || m_axis_tready;", "assign en = 1'b1;"),
}


@pytest.mark.parametrize("name", list(TOP_MUTANTS))
def test_top_mutant_not_proven(run, name):
    r = run(fln.top_job(LayerNormConfig(hidden=8, lanes=2), mutate=TOP_MUTANTS[name]))
    assert r.status in ("FAIL", "UNKNOWN"), r.summary()


def test_prove_layernorm_on_disk(tmp_path):
    """`qbert prove layernorm --rtl DIR`: the isqrt, both dividers, the lemmas."""
    cfg = LayerNormConfig(hidden=8, lanes=2)
    generate(cfg, tmp_path / "rtl")
    res = prove("layernorm", None, tmp_path / "rtl", "yices", workdir=tmp_path / "work")
    assert all_passed(res), [r.summary() for r in res]
    names = [r.name for r in res]
    assert "isqrt_x32" in names and "layernorm_top_h8_l2" in names and any(re.match(r"divider_n\d+_d16_r4", n) for n in names)
    assert "layernorm_latency_h8_l2" in names
    # a broken isqrt on disk fails the same command
    v = tmp_path / "rtl" / "qbert_isqrt_x32.v"
    v.write_text(MUTANTS["compare_strict"](v.read_text()))
    # and a top with tlast one beat early fails the latency/framing job
    top = tmp_path / "rtl" / "qbert_layernorm.v"
    top.write_text(FRAME_MUTANTS["tlast_early"](top.read_text()))
    res = prove("layernorm", None, tmp_path / "rtl", "yices", workdir=tmp_path / "work2")
    assert not all_passed(res)
    assert [r.status for r in res if r.name == "isqrt_x32"] != ["PASS"]
    assert [r.status for r in res if r.name == "layernorm_latency_h8_l2"] != ["PASS"]


# ---- U3 bounded latency and F1 output framing (formal.layernorm.latency_job) ----

TINY = LayerNormConfig(hidden=2, lanes=1)
#: 3 beats a vector: a read pointer of 2 bits can run one beat past the end
FRAMED = LayerNormConfig(hidden=6, lanes=2)


def _bmc(cfg, mode="bmc", **kw):
    """A deterministic run (zeros back to back from reset, no stall; a trace of it
    is one of the full environment) deep enough for the first vector's last
    output beat and a few cycles more."""
    d = cfg.drain_cycles()
    return fln.latency_job(cfg, mode=mode, depth=d + cfg.beats + 8, skip=d - 4 if mode == "bmc" else 0,
                           no_stall=True, **kw)


def test_drain_cycles_is_the_scalar_schedule():
    for cfg in (TINY, FRAMED, LayerNormConfig(), LayerNormConfig(hidden=768, div_bits_per_cycle=1)):
        sched = dict(cfg.scalar_schedule())
        assert sched["MEAN"] == cfg.mean_divider.latency and sched["DIV"] == cfg.factor_divider.latency
        assert cfg.drain_cycles() == cfg.beats + sum(sched.values()) + 5 == cfg.latency()
        assert fln.u3_bound(cfg) == cfg.drain_cycles() + 1


@pytest.mark.parametrize("cfg", [TINY, FRAMED], ids=["h2_l1", "h6_l2"])
def test_latency_and_framing_proven(run, cfg):
    r = run(fln.latency_job(cfg))
    assert r.status == "PASS", r.summary()


@pytest.mark.slow
@pytest.mark.parametrize("hidden", [384, 768])
def test_latency_and_framing_proven_full_size(run, hidden):
    r = run(fln.latency_job(LayerNormConfig(hidden=hidden)))
    assert r.status == "PASS", r.summary()


def test_latency_environment_not_vacuous(run):
    # a whole output vector, and one that waited out a stall with another pending
    r = run(fln.latency_job(TINY, mode="cover", depth=TINY.drain_cycles() + 16))
    assert r.status == "PASS", r.summary()


def test_latency_bound_holds_in_bmc(run):
    # the deterministic run of the must-fail checks below reaches a vector out ...
    r = run(_bmc(TINY, mode="cover"))
    assert r.status == "PASS", r.summary()
    # ... and passes with the real bound
    r = run(_bmc(TINY))
    assert r.status == "PASS", r.summary()


def test_latency_bound_is_tight(run):
    # drain_cycles (one cycle less than the bound): a reachable counterexample with a
    # trace, in the full environment (BMC from reset, every step checked)
    d = TINY.drain_cycles()
    r = run(fln.latency_job(TINY, mode="bmc", depth=d + 8, bound=d))
    assert r.status == "FAIL" and r.trace, r.summary()
    assert "U3 latency" in r.properties, r.summary()


@pytest.mark.slow
def test_latency_bound_is_tight_full_size(run):
    cfg = LayerNormConfig()
    r = run(_bmc(cfg, bound=cfg.drain_cycles()))
    assert r.status == "FAIL" and r.trace, r.summary()
    assert "U3 latency" in r.properties, r.summary()


def test_latency_one_short_is_not_proven(run):
    r = run(fln.latency_job(TINY, bound=TINY.drain_cycles()))
    assert r.status in ("FAIL", "UNKNOWN"), r.summary()


#: single-point bugs in the generated top for U3 (a stage one cycle late) and F1
LATENCY_MUTANTS = {
    # the isqrt started in the first SQRT cycle instead of SQRT_GO: one cycle late
    "isqrt_start_late": _sub(".start_i(sc_state_q == 4'd5),", ".start_i(sc_state_q == 4'd6),"),
}
FRAME_MUTANTS = {
    # tlast taken from the stage before the output register: one beat early
    "tlast_early": _sub("assign m_axis_tlast = out_last_q;", "assign m_axis_tlast = s3_last_q;"),
    # the read-out runs one beat past the vector's end: one beat too many
    "beat_too_many": _sub("assign rd_last = rd_ptr_q == 2'd2;", "assign rd_last = rd_ptr_q == 2'd3;"),
}


@pytest.mark.parametrize("name", list(LATENCY_MUTANTS))
def test_latency_mutant_fails_u3(run, name):
    r = run(_bmc(TINY, mutate=LATENCY_MUTANTS[name]))
    assert r.status == "FAIL" and r.trace, r.summary()
    assert "U3 latency" in r.properties, r.summary()


@pytest.mark.parametrize("name", list(FRAME_MUTANTS))
def test_frame_mutant_fails_f1(run, name):
    r = run(_bmc(FRAMED, mutate=FRAME_MUTANTS[name]))
    assert r.status == "FAIL" and r.trace, r.summary()
    assert "F1 frame_last" in r.properties, r.summary()
