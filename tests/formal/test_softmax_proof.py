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
