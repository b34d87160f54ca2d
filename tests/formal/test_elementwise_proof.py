"""formal.requant / formal.residual: the generated units proven (k-induction)
and bugs planted in the generators' real output caught by the property they
break."""
import pytest

from formal.requant import requant_job
from formal.residual import residual_job
from rtl_gen.requant import RequantConfig
from rtl_gen.residual import ResidualConfig


def test_requant_default_proven(run):
    r = run(requant_job(RequantConfig()))
    assert r.status == "PASS", r.summary()


def test_residual_one_lane_proven(run):
    r = run(residual_job(ResidualConfig(lanes=1)))
    assert r.status == "PASS", r.summary()


def test_covers_reached(run):
    assert run(requant_job(RequantConfig(lanes=1), mode="cover", depth=8, name="rq_cover")).status == "PASS"
    assert run(residual_job(ResidualConfig(lanes=1), mode="cover", depth=9, name="rs_cover")).status == "PASS"


def _sub(old, new):
    def mutate(text):
        assert text.count(old) >= 1, f"mutation site {old!r}: the generator changed"
        return text.replace(old, new, 1)
    return mutate


@pytest.mark.parametrize("old,new,prop", [
    ("assign rnd_l0 = (64'd1 << s2_shift_l0_q) >> 64'd1;",
     "assign rnd_l0 = (64'd1 << s2_shift_l0_q) >> 64'd2;", "R2 requant_stage"),
    ("assign shift_l0 = prm_l0[36:31];", "assign shift_l0 = prm_l0[37:32];", "R1 operands"),
    ("out_l0_q <= sat_l0;", "out_l0_q <= s2_prod_l0_q[7:0];", "R3 requant_equal"),
    ("last3_q <= last2_q;", "last3_q <= last1_q;", "G6 pending_map"),
])
def test_requant_planted_bug_is_caught(run, old, new, prop):
    # a BMC deep enough for a beat to reach the output: the bug is reachable
    r = run(requant_job(RequantConfig(lanes=1), mutate=_sub(old, new), mode="bmc", depth=8))
    assert r.status == "FAIL", r.summary()
    assert any(prop in p for p in r.properties), (prop, r.properties)


def test_residual_planted_bug_is_caught(run):
    old = "{ { 1{ out_b_l0_q[16] } }, out_b_l0_q }"
    r = run(residual_job(ResidualConfig(lanes=1), mutate=_sub(old, "{ 1'b0, out_b_l0_q }"), mode="bmc", depth=8))
    assert r.status == "FAIL", r.summary()
    assert any("S1 residual_equal" in p for p in r.properties), r.properties
