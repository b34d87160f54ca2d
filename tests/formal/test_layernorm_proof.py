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
    # a broken isqrt on disk fails the same command
    v = tmp_path / "rtl" / "qbert_isqrt_x32.v"
    v.write_text(MUTANTS["compare_strict"](v.read_text()))
    res = prove("layernorm", None, tmp_path / "rtl", "yices", workdir=tmp_path / "work2")
    assert not all_passed(res)
    assert [r.status for r in res if r.name == "isqrt_x32"] != ["PASS"]
