"""Softmax test cases: Hypothesis strategy, beat packing, golden expectation.

Independent of cocotb.  The expected result always comes from
:func:`golden_model.softmax.int_softmax` (and :func:`int_exp` for the
explanation of a mismatch).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from golden_model.softmax import DIV_BITS, N_CLAMP, int_exp, int_softmax
from golden_model.widths import int_range
from rtl_gen.softmax import SoftmaxConfig

from .strategies import ints, pause_patterns

#: the stream endpoints of the softmax DUT
IN, OUT = "s_axis", "m_axis"

KINDS = ("random", "equal", "dominant", "clamp", "qedge", "scaled", "edges")


@dataclass
class SoftmaxCase:
    rows: list          # of int64 arrays, each of a multiple of lanes, <= max_len
    pauses: dict        # endpoint -> pause pattern

    def __repr__(self) -> str:
        return (f"SoftmaxCase(lengths={[len(r) for r in self.rows]},\n"
                + "".join(f"  row {i}: {r.tolist()},\n" for i, r in enumerate(self.rows))
                + f"  pauses={self.pauses})")


def expected(cfg: SoftmaxConfig, c: SoftmaxCase) -> list[np.ndarray]:
    return [int_softmax(r, cfg.spec) for r in c.rows]


@st.composite
def rows(draw, cfg: SoftmaxConfig, kind: str | None = None) -> np.ndarray:
    """One row: a whole number of beats, mixing the domain's corners."""
    L, spec = cfg.lanes, cfg.spec
    lo, hi = int_range(cfg.in_bits)
    beats = draw(st.one_of(st.integers(1, min(cfg.depth, 4)), st.integers(1, cfg.depth),
                           st.sampled_from([1, cfg.depth])))
    n = beats * L
    kind = kind or draw(st.sampled_from(KINDS))
    top = draw(ints(cfg.in_bits))
    clampd = N_CLAMP * spec.x0

    def clip(v):
        return np.clip(np.asarray(v, dtype=np.int64), lo, hi)

    if kind == "equal":
        x = np.full(n, top)
    elif kind == "dominant":
        rest = draw(st.lists(st.integers(lo, max(lo, top - 4 * abs(spec.x0))), min_size=n, max_size=n))
        x = np.asarray(rest)
        x[draw(st.integers(0, n - 1))] = top
    elif kind == "clamp":
        # scores around the clamp of the exp range: max + 30*x0 +- small
        top = draw(st.sampled_from([hi, top, max(top, lo - clampd)]))
        deltas = draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))
        x = clip([top + clampd + dd for dd in deltas])
        x[draw(st.integers(0, n - 1))] = top
    elif kind == "qedge":
        # scores at the range-reduction boundaries d = j*x0 and j*x0 +- 1
        js = draw(st.lists(st.integers(0, N_CLAMP + 1), min_size=n, max_size=n))
        dd = draw(st.lists(st.integers(-1, 1), min_size=n, max_size=n))
        top = draw(st.sampled_from([hi, top]))
        x = clip([top + j * spec.x0 + e for j, e in zip(js, dd)])
        x = np.minimum(x, top)
        x[draw(st.integers(0, n - 1))] = top
    elif kind == "scaled":
        span = draw(st.sampled_from([1, 2, 16, abs(spec.x0), 4 * abs(spec.x0),
                                     abs(clampd), 1 << cfg.in_bits]))
        x = clip(draw(st.lists(st.integers(top - span, top), min_size=n, max_size=n)))
    elif kind == "edges":
        x = np.asarray(draw(st.lists(st.sampled_from([lo, lo + 1, -1, 0, 1, hi - 1, hi]),
                                     min_size=n, max_size=n)))
    else:
        x = np.asarray(draw(st.lists(ints(cfg.in_bits), min_size=n, max_size=n)))
    return np.asarray(x, dtype=np.int64)


@st.composite
def cases(draw, cfg: SoftmaxConfig, max_rows: int = 3) -> SoftmaxCase:
    """1..max_rows rows back to back, with random input gaps and output stalls."""
    rs = draw(st.lists(rows(cfg), min_size=1, max_size=max_rows))
    pauses = {ep: draw(pause_patterns()) for ep in (IN, OUT)}
    return SoftmaxCase(rs, pauses)


# -- packing: the stream protocol of rtl_gen/softmax.py -----------------------

def _word(values, bits: int) -> int:
    w, mask = 0, (1 << bits) - 1
    for i, v in enumerate(values):
        w |= (int(v) & mask) << (i * bits)
    return w


def pack(cfg: SoftmaxConfig, row: np.ndarray) -> list[int]:
    """The s_axis beats of one row (tlast on the last one)."""
    L = cfg.lanes
    assert len(row) % L == 0 and 1 <= len(row) <= cfg.max_len
    return [_word(row[j:j + L], cfg.in_bits) for j in range(0, len(row), L)]


def unpack(cfg: SoftmaxConfig, words: list[int]) -> np.ndarray:
    """The probabilities of one output frame (lanes unsigned out_bits)."""
    L, OB = cfg.lanes, cfg.out_bits
    return np.asarray([(int(w) >> (i * OB)) & ((1 << OB) - 1) for w in words for i in range(L)],
                      dtype=np.int64)


def pad_bits(cfg: SoftmaxConfig, words: list[int]) -> int:
    """OR of the output words' pad bits above lanes*out_bits (must be 0)."""
    return int(np.bitwise_or.reduce([int(w) >> (cfg.lanes * cfg.out_bits) for w in words]))


def describe_mismatch(cfg: SoftmaxConfig, c: SoftmaxCase, exp: list[np.ndarray],
                      got: list[np.ndarray]) -> str:
    for ri, (e, g) in enumerate(zip(exp, got)):
        if e.shape != g.shape:
            return (f"row {ri}: expected {len(e)} outputs, got {len(g)}")
        diff = np.flatnonzero(e != g)
        if len(diff):
            i = int(diff[0])
            x = c.rows[ri]
            spec = cfg.spec
            ee = int_exp(x - x.max(), spec)
            total = int(ee.sum())
            return (f"{len(diff)} of {len(e)} outputs of row {ri} differ; first at p[{ri}][{i}] "
                    f"(beat {i // cfg.lanes}, lane {i % cfg.lanes}): expected {int(e[i])}, "
                    f"got {int(g[i])}  (x = {int(x[i])}, row max = {int(x.max())}, "
                    f"d = {int(x[i] - x.max())}, e = {int(ee[i])}, sum = {total}, "
                    f"factor = {(1 << DIV_BITS) // total})")
    return "outputs equal"


__all__ = ["SoftmaxCase", "cases", "rows", "pack", "unpack", "pad_bits", "expected",
           "describe_mismatch", "IN", "OUT", "KINDS"]
