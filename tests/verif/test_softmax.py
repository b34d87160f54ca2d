"""Cocotb simulations of the softmax RTL against golden_model.softmax.

Small Configs (short max_len) keep the default run quick; every output
element is compared with int_softmax, the exp stage exhaustively with int_exp.
"""
import json
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from golden_model.softmax import int_exp, int_softmax
from rtl_gen.softmax import EXP_TOP, SoftmaxConfig, generate, generate_exp, sources
from scripts import flows
from verif import runner
from verif.softmax_cases import cases, expected, filler, keeps, pack, unpack

FLOW = flows.FLOWS["softmax"]

CONFIGS = {
    "l1_len16": SoftmaxConfig(lanes=1, max_len=16),
    "l4_len64": SoftmaxConfig(lanes=4, max_len=64),
    "l3_in12_out8": SoftmaxConfig(lanes=3, max_len=24, in_bits=12, frac_bits=6, out_bits=8,
                                  div_bits_per_cycle=4),
}


def _sim(cfg, rtl, examples, seed=20261122, testcase=None):
    return flows.simulate(FLOW, cfg, rtl, examples=examples, seed=seed, testcase=testcase,
                          repro=f"qbert sim softmax --rtl {rtl} --seed {seed} --examples {examples}")


@pytest.mark.parametrize("name", list(CONFIGS))
def test_softmax_bit_exact(tmp_path, name):
    cfg = CONFIGS[name]
    generate(cfg, tmp_path / "rtl")
    examples = settings().max_examples
    res, info = _sim(cfg, tmp_path / "rtl", examples)
    assert res.passed, f"simulation failed: see the log above ({res.results_xml})"
    # property, latency + throughput, over-long row, malformed tkeep, (skipped) bench
    assert res.tests == 5
    assert info["examples"] == examples and info["outputs"] > 0
    # the latency test measured 1 score, a partial second beat and max_len
    lat = {int(n): v for n, v in info["latency"].items()}
    assert set(lat) == {1, min(cfg.lanes + 1, cfg.max_len), cfg.max_len}
    for n, v in lat.items():
        assert v["first_out"] == cfg.latency(n)
        assert v["busy"] == cfg.latency(n) + cfg.beats(n)
    # back-to-back rows of max_len, pipeline full: one row per row_period
    assert info["row_period"] == {str(cfg.max_len): [cfg.row_period(cfg.max_len)] * 3}


def _exp_sim(tmp_path, cfg, lo=None):
    rtl = generate_exp(cfg, tmp_path / "exp")
    res, info = _exp_run(cfg, rtl, lo)
    return res, info


def _exp_run(cfg, rtl, lo=None):
    import os
    import tempfile
    fd, info_file = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    env = {"QBERT_INFO_FILE": info_file}
    if lo is not None:
        env["QBERT_EXP_LO"] = str(lo)
    res = runner.run("softmax_exp", sources=sources(rtl), toplevel=EXP_TOP,
                     test_module="verif.softmax_exp_tb", rtl_dir=rtl, params=cfg.to_params(),
                     extra_env=env)
    text = open(info_file).read()
    os.unlink(info_file)
    return res, json.loads(text or "{}")


def test_exp_stage_exhaustive(tmp_path):
    """Every d in [-2^16, 0] (all of diff_bits for 16-bit scores) through the
    exp lanes built by the unit's own code, against int_exp."""
    cfg = SoftmaxConfig(lanes=32)
    res, info = _exp_sim(tmp_path, cfg)
    assert res.passed, f"exp stage differs from int_exp: see the log above ({res.results_xml})"
    assert info["exp_inputs"] == (1 << 16) + 1


def test_exp_stage_exhaustive_other_format(tmp_path):
    cfg = CONFIGS["l3_in12_out8"]
    res, info = _exp_sim(tmp_path, cfg)
    assert res.passed
    assert info["exp_inputs"] == (1 << 12) + 1


def test_exp_check_can_fail(tmp_path):
    """A wrong polynomial constant c (off by one) in lane 0 is caught."""
    cfg = SoftmaxConfig(lanes=8)
    rtl = generate_exp(cfg, tmp_path / "exp")
    v = rtl / f"{EXP_TOP}.v"
    text = v.read_text()
    c = cfg.spec.c
    old = f"$signed(21'h{c:x});"
    assert text.count(old) == 8
    v.write_text(text.replace(old, f"$signed(21'h{c + 1:x});", 1))
    res, _ = _exp_run(cfg, rtl, lo=-2000)
    assert not res.passed and res.failed == 1


def test_broken_max_is_caught_and_reproduced(tmp_path, caught_and_reproduced):
    """The check can fail: invert the running-max compare (a plausible bug).
    `qbert sim --rtl` exits 1 and prints the shrunk case, the first differing
    element and a command line; that command reproduces the same minimal case."""
    cfg = CONFIGS["l1_len16"]
    generate(cfg, tmp_path / "rtl")
    v = tmp_path / "rtl" / "qbert_softmax.v"
    text = v.read_text()
    bad = text.replace("($signed(lmax_q) < $signed(", "($signed(lmax_q) > $signed(")
    assert bad != text
    v.write_text(bad)

    first = r"first at p\[\d+\]\[\d+\].*expected \d+, got \d+"
    caught_and_reproduced("softmax", tmp_path / "rtl", first, 40)


def test_broken_rounding_is_caught(tmp_path):
    """Drop the rounding term of the output stage in lane 0 (floor instead of
    round half up, I-BERT's original): the simulation goes red."""
    cfg = CONFIGS["l4_len64"]
    generate(cfg, tmp_path / "rtl")
    v = tmp_path / "rtl" / "qbert_softmax.v"
    text = v.read_text()
    k = 32 - cfg.out_bits
    bad = re.sub(rf"(assign l0_prod = .*) \+ 34'h{1 << (k - 1):x};", r"\1 + 34'h0;", text)
    assert bad != text
    v.write_text(bad)
    res, _ = _sim(cfg, tmp_path / "rtl", 30, seed=3, testcase="softmax_matches_golden")
    assert not res.passed and res.failed == 1


# -- the packing of the stream protocol, checked without a simulator ---------

@settings(max_examples=40)
@given(st.data())
def test_pack_unpack_roundtrip(data):
    """Lanes decoded as the RTL slices them give back the rows; an output word
    built lane by lane unpacks to the golden probabilities."""
    cfg = data.draw(st.sampled_from(list(CONFIGS.values())))
    c = data.draw(cases(cfg))
    L, IB, OB = cfg.lanes, cfg.in_bits, cfg.out_bits
    for row, p in zip(c.rows, expected(cfg, c)):
        words, kept = pack(cfg, row), keeps(cfg, len(row))
        assert len(words) == len(kept) == -(-len(row) // L)
        back = [((w >> (i * IB)) & ((1 << IB) - 1)) for w in words for i in range(L)]
        back = [v - (1 << IB) if v >> (IB - 1) else v for v in back]
        lanes_kept = [(k >> i) & 1 for k in kept for i in range(L)]
        assert lanes_kept == [1] * len(row) + [0] * (len(back) - len(row))
        assert back[:len(row)] == row.tolist()
        assert set(back[len(row):]) <= {filler(cfg)}
        assert all(k == (1 << L) - 1 for k in kept[:-1])
        assert 1 <= len(row) <= cfg.max_len
        out = [sum(int(v) << (i * OB) for i, v in enumerate(p[j:j + L])) for j in range(0, len(p), L)]
        np.testing.assert_array_equal(unpack(cfg, out, len(row)), int_softmax(row, cfg.spec))


def test_case_kinds_reach_the_corners():
    """The strategy does produce the rows the brief asks for (all equal, rows
    at the clamp, input edges, length 1 beat and max_len)."""
    from hypothesis import find
    from verif.softmax_cases import rows
    cfg = CONFIGS["l4_len64"]
    clamp = 30 * cfg.spec.x0
    find(rows(cfg), lambda r: len(set(r.tolist())) == 1 and len(r) == cfg.max_len)
    find(rows(cfg), lambda r: len(r) == cfg.lanes and r.min() == -32768)
    find(rows(cfg), lambda r: any(abs(int(v) - int(r.max()) - clamp) <= 1 for v in r)
         and any(int(v) - int(r.max()) < clamp for v in r))
    find(rows(cfg), lambda r: r.max() == 32767 and len(r) > cfg.lanes)
    find(rows(cfg), lambda r: len(r) == 1)
    # the divider's tie: an exp sum that is a power of two (remainder 0)
    find(rows(cfg), lambda r: bin(int(int_exp(r - r.max(), cfg.spec).sum())).count("1") == 1
         and len(r) > 2)
    find(rows(cfg), lambda r: len(r) % cfg.lanes and len(r) > cfg.lanes)


@pytest.mark.parametrize("cfg", [SoftmaxConfig(), CONFIGS["l3_in12_out8"],
                                 SoftmaxConfig(lanes=2, max_len=16, in_bits=8, frac_bits=4)],
                         ids=["default", "l3_in12_out8", "in8_frac4"])
def test_pow2sum_rows_reach_every_divider_step(cfg):
    """Rows whose exp sum is 2^t make the divider's compare tie at quotient bit
    32 - t; one element of the row must then change its output if the factor
    is one too small (a compare that takes > for >=, at that step of the
    divider's cycle), for every step of a cycle; and some element sits exactly
    on a rounding tie (a rounding constant one too small).  A mutation
    campaign's survivors at the default Config (max_len 512) motivated this."""
    from hypothesis import find
    from golden_model.softmax import DIV_BITS
    from verif.softmax_cases import rows
    spec, div = cfg.spec, cfg.divider
    k = DIV_BITS - spec.out_bits

    def outputs(e, factor):
        return np.minimum((e * factor + (1 << (k - 1))) >> k, (1 << spec.out_bits) - 1)

    def pow2(r):
        e = int_exp(r - r.max(), spec)
        s = int(e.sum())
        return (e, s) if s & (s - 1) == 0 else (e, 0)

    def at_step(step):
        def hit(r):
            e, s = pow2(r)
            if not s:
                return False
            j = DIV_BITS - (s.bit_length() - 1)          # the quotient's one bit
            f = (1 << DIV_BITS) // s
            return ((div.padded_bits - 1 - j) % div.bits_per_cycle == step
                    and (outputs(e, f - 1) != outputs(e, f)).any())
        return hit

    for step in range(div.bits_per_cycle):
        find(rows(cfg, "pow2sum"), at_step(step), settings=settings(max_examples=500))

    def exact_tie(r):
        e, s = pow2(r)
        return bool(s) and bool(((e * ((1 << DIV_BITS) // s)) % (1 << k) == 1 << (k - 1)).any())
    find(rows(cfg, "pow2sum"), exact_tie, settings=settings(max_examples=500))
