"""formal.divider: the generated divider proven (k-induction + the z3 composition
lemma), and bugs planted in the generator's real output each caught."""
import re

import pytest

from formal.divider import divider_job, divider_proof, unit_configs
from formal.lemmas import divider_composition
from rtl_gen.divider import DividerConfig

SMALL = [DividerConfig(5, 3, 1), DividerConfig(5, 3, 2), DividerConfig(7, 3, 4), DividerConfig(2, 6, 1)]


@pytest.mark.parametrize("cfg", SMALL, ids=lambda c: c.module_name)
def test_small_proven(run, cfg):
    r = run(divider_job(cfg))
    assert r.status == "PASS", r.summary()


def test_covers_reached(run):
    r = run(divider_job(DividerConfig(5, 3, 2), mode="cover", depth=12))
    assert r.status == "PASS", r.summary()


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_composition_lemma(bits):
    r = divider_composition(bits)
    assert r.status == "PASS", r.summary()


def test_composition_lemma_can_fail():
    # combining the consumed bits in the wrong order is not the dividend
    r = divider_composition(2, weight=lambda r, j: 2 ** j)
    assert r.status == "FAIL", r.summary()


def _sub(pattern, repl):
    def mutate(text):
        new, n = re.subn(pattern, repl, text)
        assert n >= 1, f"mutation {pattern!r} did not apply: the generator changed"
        return new
    return mutate


MUTANTS = {
    # name: (mutation of the generated Verilog, properties of which one must fail)
    "compare_strict": (_sub(r"assign take0 = trial0 >= ", "assign take0 = trial0 > "),
                       {"D7 step_exact", "D8 rem_lt_den", "D9 div_by_zero", "D10 result"}),
    "compare_strict_last": (_sub(r"assign take1 = trial1 >= ", "assign take1 = trial1 > "),
                            {"D7 step_exact", "D8 rem_lt_den", "D9 div_by_zero", "D10 result"}),
    "no_restore": (_sub(r"assign rem0 = \(take0\)\? diff0\[2:0\] : trial0\[2:0\];",
                        "assign rem0 = diff0[2:0];"),
                   {"D7 step_exact", "D8 rem_lt_den", "D9 div_by_zero", "D10 result"}),
    "one_step_short": (_sub(r"cnt_q == 2'd2\)", "cnt_q == 2'd1)"), {"D1 done_latency"}),
    "done_sticky": (_sub(r"done_q <= 1'd0;\n      if", "if"), {"D1 done_latency"}),
    "bit_order": (_sub(r"take0, take1 \}", "take1, take0 }"), {"D6 quotient_bits", "D10 result"}),
    "rem_not_kept": (_sub(r"rem_q <= rem1;", "rem_q <= rem0;"), {"D7 step_exact", "D8 rem_lt_den", "D9 div_by_zero"}),
    "start_while_busy": (_sub(r"assign accept = start_i && !busy_q;", "assign accept = start_i;"),
                         {"D1 done_latency", "D2 ready_idle", "D3 operands_kept", "D4 result_held"}),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_fails(run, name):
    mutate, props = MUTANTS[name]
    r = run(divider_job(DividerConfig(5, 3, 2), mode="bmc", depth=10, mutate=mutate,
                        name=f"divider_mut_{name}"))
    assert r.status == "FAIL", r.summary()
    assert set(r.properties) & props, r.summary()


def test_softmax_width_proven(run):
    # the width the softmax unit instantiates, in the default run (about 6 s)
    job, lemma = divider_proof(DividerConfig(33, 32, 2))
    r = run(job)
    assert r.status == "PASS", r.summary()
    assert lemma.status == "PASS", lemma.summary()


@pytest.mark.slow
@pytest.mark.parametrize("cfg", unit_configs(), ids=lambda c: c.module_name)
def test_unit_widths_proven(run, cfg):
    r = run(divider_job(cfg), timeout=3600)
    assert r.status == "PASS", r.summary()
