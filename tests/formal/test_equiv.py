"""formal.equiv: requantizer and MAC PE proven equal to the golden formulas at full width;
every injected bug is caught by the property it breaks."""
import numpy as np
import pytest

from formal import equiv
from golden_model.matmul import acc_bits_for
from golden_model.quant import requantize

FULL = equiv.RequantSpec()      # acc 32, M 31, s in [0, 62]


def rq_job(spec=FULL, style="direct", bug="none", ref_split=0, **kw):
    src = {"dut.sv": equiv.requant_dut_sv(spec, style=style, bug=bug)}
    return equiv.requant_equiv_job(spec, src, ref_split=ref_split,
                                   name=f"rq_{style}_{bug}_{spec.label()}", **kw)


def test_full_width_is_the_golden_width():
    assert FULL.full_width and (FULL.acc_bits, FULL.mult_bits, FULL.shift_max) == (32, 31, 62)


def test_reference_matches_golden_model(run):
    r = run(equiv.requant_vectors_job(FULL))
    assert r.status == "PASS", r.summary()


def test_reference_vectors_can_fail(run):
    vecs = equiv.requant_vectors(FULL)
    i = next(i for i, v in enumerate(vecs) if v[3] not in (127, -128))
    a, m, s, y = vecs[i]
    vecs[i] = (a, m, s, y + 1)
    r = run(equiv.requant_vectors_job(FULL, vectors=vecs))
    assert r.status == "FAIL" and r.properties == [f"V{i} golden"], r.summary()


def test_vectors_cover_edges():
    vecs = equiv.requant_vectors(FULL)
    assert any(v[2] == 62 for v in vecs) and any(v[2] == 0 for v in vecs)
    assert any(v[0] == -2**31 for v in vecs) and any(v[1] == 2**31 - 1 for v in vecs)
    for a, m, s, y in vecs[:5]:
        assert y == requantize(np.array([a]), np.array([m]), np.array([s]), 8)[0]


def test_requant_direct_full_width(run):
    r = run(rq_job())
    assert r.status == "PASS", r.summary()


def test_requant_split_full_width_with_split_reference(run):
    # bit-level: split DUT == split reference; algebra: lemmas.split_product
    r = run(rq_job(style="split", ref_split=17))
    assert r.status == "PASS", r.summary()


@pytest.mark.parametrize("style, bug, ref_split", [
    ("direct", "round_minus_one", 0),
    ("direct", "sat_off_by_one", 0),
    ("direct", "logical_shift", 0),
    ("split", "split_wrong_offset", 17),
    ("split", "round_minus_one", 17),
])
def test_requant_bugs_fail(run, style, bug, ref_split):
    r = run(rq_job(style=style, bug=bug, ref_split=ref_split))
    assert r.status == "FAIL", r.summary()
    assert r.properties == ["E2 y_equal"], r.summary()


def test_requant_wrong_latency_fails(run):
    r = run(rq_job(latency=1))
    assert r.status == "FAIL" and "E1 valid_timing" in r.properties, r.summary()


@pytest.mark.parametrize("k_max, weight_bits", [(384, 8), (1536, 8), (1536, 4)])
def test_mac_pe_proven(run, k_max, weight_bits):
    spec = equiv.MacSpec(k_max=k_max, weight_bits=weight_bits)
    assert spec.acc_bits == acc_bits_for(k_max, 8, weight_bits, 32)
    r = run(equiv.mac_equiv_job(spec, {"pe.sv": equiv.mac_dut_sv(spec)}))
    assert r.status == "PASS", r.summary()


def test_mac_pe_small_bias_k_dominates(run):
    # with a 16-bit bias the K products dominate the width (24 bits at K = 384)
    spec = equiv.MacSpec(k_max=384, bias_bits=16)
    assert spec.acc_bits == 24
    r = run(equiv.mac_equiv_job(spec, {"pe.sv": equiv.mac_dut_sv(spec)}))
    assert r.status == "PASS", r.summary()


@pytest.mark.parametrize("bug", ["narrow_acc", "unsigned_weight", "clear_drops_bias"])
def test_mac_bugs_fail(run, bug):
    spec = equiv.MacSpec(k_max=384)
    dut_bits = spec.acc_bits - (1 if bug == "narrow_acc" else 0)
    r = run(equiv.mac_equiv_job(spec, {"pe.sv": equiv.mac_dut_sv(spec, bug=bug)},
                                dut_acc_bits=dut_bits, mode="bmc", depth=4))
    assert r.status == "FAIL", r.summary()
    assert "M5 acc_equal" in r.properties, r.summary()


def test_mac_claimed_width_one_short_fails(run):
    spec = equiv.MacSpec(k_max=384)
    r = run(equiv.mac_equiv_job(spec, {"pe.sv": equiv.mac_dut_sv(spec)},
                                claimed_acc_bits=spec.acc_bits - 1, mode="bmc", depth=4))
    assert r.status == "FAIL" and "M4 no_overflow" in r.properties, r.summary()


def test_mac_more_terms_than_k_max_is_excluded_by_assumption_only(run):
    """Without the k <= k_max environment bound the overflow is reachable: the
    no-overflow proof really depends on K, it is not vacuous."""
    spec = equiv.MacSpec(k_max=2, bias_bits=16)
    job = equiv.mac_equiv_job(spec, {"pe.sv": equiv.mac_dut_sv(spec)}, mode="bmc", depth=6)
    src = dict(job.sources)
    src["qbert_mac_equiv.sv"] = src["qbert_mac_equiv.sv"].replace("assume (k < 2);", "assume (1'b1);")
    r = run(job.__class__(job.name + "_unbounded_k", job.top, src, mode="bmc", depth=6))
    assert r.status == "FAIL" and ("M1 term_count" in r.properties or "M4 no_overflow" in r.properties), r.summary()


def test_spec_validation():
    with pytest.raises(ValueError, match="shift_max"):
        equiv.RequantSpec(shift_max=63)
    with pytest.raises(ValueError, match="weight_bits"):
        equiv.MacSpec(weight_bits=6)
    with pytest.raises(ValueError, match="bug"):
        equiv.requant_dut_sv(FULL, bug="nope")


@pytest.mark.parametrize("acc_bits", [29, 16])
def test_requant_reduced_acc_width(run, acc_bits):
    # the unit's accumulator is narrower than 32 bits (acc_bits_for): same proof at its width
    spec = equiv.RequantSpec(acc_bits=acc_bits)
    r = run(rq_job(spec))
    assert r.status == "PASS", r.summary()
    assert run(equiv.requant_vectors_job(spec)).status == "PASS"
