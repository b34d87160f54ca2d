"""formal.axis: each AXI4-Stream property passes on a correct slice and fails on its bug."""
import pytest

from formal import axis, toys


def slice_job(bug="none", mode="prove", depth=None, **kw):
    kw.setdefault("max_pending", 2)
    kw.setdefault("latency", 2)
    if mode == "prove":
        kw.setdefault("invariants", toys.slice_invariants())
    return axis.harness_job(f"axis_slice_{bug}_{mode}", {"toy_slice.sv": toys.reg_slice(8, bug)},
                            "toy_slice", 8, 8, mode=mode, depth=depth or (4 if mode == "prove" else 12), **kw)


def test_correct_slice_proven(run):
    r = run(slice_job())
    assert r.status == "PASS", r.summary()


def test_correct_slice_not_vacuous(run):
    # the environment can complete an output unit (assumptions are satisfiable)
    r = run(slice_job(mode="cover", cover_unit=True, depth=8, invariants=()))
    assert r.status == "PASS", r.summary()


@pytest.mark.parametrize("bug, prop", [
    ("unstable_data", "P2 hold"),
    ("drop_valid", "P2 hold"),
    ("valid_after_reset", "P1 reset"),
    ("double_last", "U1 no_spurious"),
    ("slow", "U3 latency"),
])
def test_broken_slice_fails_its_property(run, bug, prop):
    r = run(slice_job(bug, mode="bmc"))
    assert r.status == "FAIL", r.summary()
    assert prop in r.properties, r.summary()
    assert r.trace is not None and r.trace.exists()


def test_pending_bound(run):
    """Two slices in series hold two unit ends: MAX_PENDING 2 holds, 1 is caught."""
    src = {"toy_slice.sv": toys.reg_slice(8), "toy_two.sv": toys.two_slices(8)}

    def job(n):
        return axis.harness_job(f"axis_two_{n}", src, "toy_two", 8, 8, mode="bmc", depth=10,
                                max_pending=n)
    assert run(job(2)).status == "PASS"
    r = run(job(1))
    assert r.status == "FAIL" and r.properties == ["U2 bounded"], r.summary()


def test_roles(run):
    """The pass-through's m_axis obeys the protocol iff its s_axis does."""
    src = {"toy_wire.sv": toys.passthrough(8)}

    def job(role, mode="prove"):
        # failing runs in bmc mode: one engine, every assertion failing at the
        # first failing step is listed (prove mode races base case and induction)
        return axis.harness_job(f"axis_wire_{role}", src, "toy_wire", 8, 8, depth=3 if mode == "prove" else 4,
                                max_pending=1, s_role=role, mode=mode)
    env = run(job(axis.ROLE_ENV))          # assumed on the input: proven
    assert env.status == "PASS", env.summary()
    free = run(job(None, "bmc"))           # unconstrained input: the output breaks the protocol
    assert free.status == "FAIL" and free.properties and \
        set(free.properties) <= {"P1 reset", "P2 hold"}, free.summary()
    asserted = run(job(axis.ROLE_DUT, "bmc"))   # asserted on a free input: fails there too
    assert asserted.status == "FAIL" and any("s_chk" in f for f in asserted.failed), asserted.summary()


def test_instance_text():
    t = axis.check_instance("c", "m_axis", axis.ROLE_DUT, 32)
    assert ".ROLE(0)" in t and ".tdata(m_axis_tdata)" in t
    with pytest.raises(ValueError):
        axis.check_instance("c", "m_axis", 2, 32)
    assert "qbert_axis_units" in axis.units_instance("u", "s_axis", "m_axis", max_pending=3, latency=5)
