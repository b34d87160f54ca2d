"""formal.gelu: the generated qbert_gelu proven (k-induction) for the default
Config, and bugs planted in the generator's real output each caught by the
property they break."""
import re

import pytest

from formal.gelu import gelu_job, out_width_lemma, vectors_job
from rtl_gen.gelu import GeluConfig

ONE_LANE = GeluConfig(lanes=1)


def test_default_config_proven(run):
    """Every x of 16 bits in each of the 4 lanes, any stall pattern."""
    r = run(gelu_job(GeluConfig()))
    assert r.status == "PASS", r.summary()


def test_cover_and_vectors(run):
    assert run(gelu_job(ONE_LANE, mode="cover", depth=10, name="gelu_cover")).status == "PASS"
    r = run(vectors_job(GeluConfig()))
    assert r.status == "PASS", r.summary()
    assert out_width_lemma(GeluConfig()).status == "PASS"


def test_narrow_format_proven(run):
    r = run(gelu_job(GeluConfig(lanes=2, in_bits=8, frac_bits=4, erf_bits=6)))
    assert r.status == "PASS", r.summary()


def _sub(old, new):
    def mutate(text):
        assert text.count(old) == 1, f"mutation site {old!r}: the generator changed"
        return text.replace(old, new)
    return mutate


@pytest.mark.parametrize("old,new,prop", [
    ("assign l0_abs = (l0_x[15])?", "assign l0_abs = (l0_x[14])?", "G2 clip"),
    ("assign l0_tsh = $signed(l0_t) >>> 8'h9;", "assign l0_tsh = l0_t >> 8'h9;", "G4 erf"),
    ("l0_s3_q[15] } }, l0_s3_q });", "l0_s3_q[14] } }, l0_s3_q });", "G5 out"),
    ("l0_x3_q <= l0_x2_q;", "l0_x3_q <= l0_x1_q;", "G1 x_carried"),
    ("last4_q <= last3_q;", "last4_q <= last2_q;", "G6 pending_map"),
])
def test_planted_bug_is_caught(run, old, new, prop):
    # a BMC deep enough for a beat to reach the output: the bug is reachable
    r = run(gelu_job(ONE_LANE, mutate=_sub(old, new), mode="bmc", depth=8))
    assert r.status == "FAIL", r.summary()
    assert any(prop in p for p in r.properties), (prop, r.properties)


def test_vectors_job_can_fail(run):
    """A wrong expected value in the vectors job is reported (the check is live)."""
    import formal.gelu as fg
    good = fg.vectors(GeluConfig())
    bad = [(x, y + (1 if i == 3 else 0)) for i, (x, y) in enumerate(good)]
    orig = fg.vectors
    fg.vectors = lambda cfg, **kw: bad
    try:
        r = run(vectors_job(GeluConfig()))
    finally:
        fg.vectors = orig
    assert r.status == "FAIL"
    assert re.search(r"V3 golden", " ".join(r.properties + r.failed)), r.summary()


def test_qbert_prove_gelu_on_disk(tmp_path):
    """`qbert prove gelu --rtl DIR` proves the RTL on disk for the Config in its
    params.json, and a mutated file on disk fails with the property named."""
    from formal.run import all_passed, format_table, prove
    from rtl_gen.gelu import generate
    rtl = generate(ONE_LANE, tmp_path / "rtl")
    res = prove("gelu", None, rtl, "yices", workdir=tmp_path / "w")
    assert all_passed(res), format_table(res)
    assert [r.name for r in res][:2] == ["gelu_l1_i16f10e14", "gelu_cover_l1"]
    v = rtl / "qbert_gelu.v"
    v.write_text(v.read_text().replace("l0_x3_q <= l0_x2_q;", "l0_x3_q <= l0_x1_q;"))
    res = prove("gelu", None, rtl, "yices", workdir=tmp_path / "w")
    assert not all_passed(res) and "G1 x_carried" in format_table(res)
