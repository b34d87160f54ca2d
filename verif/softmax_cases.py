"""Softmax test cases: Hypothesis strategy, beat packing, golden expectation.

Independent of cocotb.  The expected result always comes from
:func:`golden_model.softmax.int_softmax` (and :func:`int_exp` for the
explanation of a mismatch).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from hypothesis import strategies as st

from golden_model.softmax import DIV_BITS, N_CLAMP, int_exp, int_softmax
from golden_model.widths import int_range
from rtl_gen.softmax import BANKS, SoftmaxConfig

from .strategies import ints, pause_patterns

#: the stream endpoints of the softmax DUT
IN, OUT = "s_axis", "m_axis"

KINDS = ("random", "equal", "dominant", "clamp", "qedge", "scaled", "edges", "pow2sum")


@lru_cache(maxsize=None)
def _exp_table(spec) -> tuple[np.ndarray, np.ndarray]:
    """(e, d): every value e = int_exp(d) for d in [30*x0, 0], ascending in e,
    with the largest d giving it; d only as low as the scores reach (diff_bits:
    a narrow in_bits never gets to the clamp)."""
    d = np.arange(max(N_CLAMP * spec.x0, -(1 << (spec.diff_bits - 1))), 1, dtype=np.int64)
    e = int_exp(d, spec)
    uniq, first = np.unique(e[::-1], return_index=True)   # d descending: largest d first
    return uniq, d[::-1][first]


def pow2_sum_diffs(spec, n: int, target: int) -> list[int]:
    """d values (<= 0, the first 0) of a row of n scores whose exp sum is
    ``target`` if n allows (greedy: the largest e that still fits, each
    step, after one element whose output a factor one too small changes);
    the rest of the row at the clamp (e = 0).  A sum that is a power of two
    makes the divider's remainder exactly 0: its compare's tie."""
    es, ds = _exp_table(spec)
    out, rem = [0], target - int(es[-1])
    # e * factor / 2^k lands in [m + 1/2, m + 1/2 + e / 2^k): its output rounds
    # up, and down with factor - 1 (a divider off by one at its tie); exactly
    # on m + 1/2 if there is one such e, so a rounding constant off by one shows
    k = DIV_BITS - spec.out_bits
    half, frac = 1 << (k - 1), (es * ((1 << DIV_BITS) // target)) % (1 << k)
    fits = (frac >= half) & (frac - half < es) & (es <= rem)
    tie = np.flatnonzero(fits & (frac == half))
    tie = tie if len(tie) else np.flatnonzero(fits)
    if len(tie) and len(out) < n:
        out.append(int(ds[tie[-1]]))
        rem -= int(es[tie[-1]])
    while rem > 0 and len(out) < n:
        i = int(np.searchsorted(es, rem, side="right")) - 1
        out.append(int(ds[i]))
        rem -= int(es[i])
    return out + [N_CLAMP * spec.x0 - 1] * (n - len(out))


@dataclass
class SoftmaxCase:
    rows: list          # of int64 arrays, each of 1..max_len scores
    pauses: dict        # endpoint -> pause pattern

    def __repr__(self) -> str:
        return (f"SoftmaxCase(lengths={[len(r) for r in self.rows]},\n"
                + "".join(f"  row {i}: {r.tolist()},\n" for i, r in enumerate(self.rows))
                + f"  pauses={self.pauses})")


def expected(cfg: SoftmaxConfig, c: SoftmaxCase) -> list[np.ndarray]:
    return [int_softmax(r, cfg.spec) for r in c.rows]


@st.composite
def rows(draw, cfg: SoftmaxConfig, kind: str | None = None) -> np.ndarray:
    """One row of 1..max_len scores (the last beat may be partial), mixing the
    domain's corners: lengths 1, lanes, max_len, short and any."""
    L, spec = cfg.lanes, cfg.spec
    lo, hi = int_range(cfg.in_bits)
    n = draw(st.one_of(st.integers(1, min(cfg.max_len, 4 * L)), st.integers(1, cfg.max_len),
                       st.sampled_from(sorted({1, L, cfg.max_len}))))
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
        top = draw(st.sampled_from([hi, top, min(hi, max(top, lo - clampd))]))
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
    elif kind == "pow2sum":
        # the exp sum a power of two: factor = 2^32 / sum exactly
        # a top whose clamp distance stays in range, if the input range has one
        top = draw(st.integers(min(hi, max(lo, lo - clampd + 1)), hi))
        n = max(n, min(cfg.max_len, 8))      # room for the greedy sum
        # targets 2^t for t at every step of a divider cycle: the quotient's one
        # bit, where the compare ties, is bit 32 - t
        steps = max(3, cfg.div_bits_per_cycle)
        target = 1 << (int(spec.c).bit_length() + draw(st.integers(0, steps - 1)))
        ds = pow2_sum_diffs(spec, n, target)
        x = clip([top + dd for dd in draw(st.permutations(ds))])
    elif kind == "edges":
        x = np.asarray(draw(st.lists(st.sampled_from([lo, lo + 1, -1, 0, 1, hi - 1, hi]),
                                     min_size=n, max_size=n)))
    else:
        x = np.asarray(draw(st.lists(ints(cfg.in_bits), min_size=n, max_size=n)))
    return np.asarray(x, dtype=np.int64)


@st.composite
def cases(draw, cfg: SoftmaxConfig, max_rows: int = BANKS + 2) -> SoftmaxCase:
    """1..max_rows rows back to back, with random input gaps and output stalls
    (more rows than banks: under output stalls every bank fills and the
    input must wait for a bank to be freed)."""
    rs = draw(st.lists(rows(cfg), min_size=1, max_size=max_rows))
    pauses = {ep: draw(pause_patterns()) for ep in (IN, OUT)}
    return SoftmaxCase(rs, pauses)


# -- packing: the stream protocol of rtl_gen/softmax.py -----------------------

def _word(values, bits: int) -> int:
    w, mask = 0, (1 << bits) - 1
    for i, v in enumerate(values):
        w |= (int(v) & mask) << (i * bits)
    return w


#: what the lanes past the end of a row carry: the largest score, which would
#: be the row max (and dominate the sum) if the unit did not honour tkeep
def filler(cfg: SoftmaxConfig) -> int:
    return int_range(cfg.in_bits)[1]


def keeps(cfg: SoftmaxConfig, n: int) -> list[int]:
    """The per-lane tkeep of the beats of a row of n scores: all lanes, except
    the low n % lanes lanes of a partial last beat."""
    L = cfg.lanes
    full = (1 << L) - 1
    k = [full] * cfg.beats(n)
    if n % L:
        k[-1] = (1 << (n % L)) - 1
    return k


def pack(cfg: SoftmaxConfig, row: np.ndarray) -> list[int]:
    """The s_axis tdata of one row's beats (tlast on the last one); the lanes
    past the end of a partial last beat carry :func:`filler`."""
    L = cfg.lanes
    assert len(row) >= 1
    padded = np.concatenate([row, np.full((-len(row)) % L, filler(cfg), dtype=np.int64)])
    return [_word(padded[j:j + L], cfg.in_bits) for j in range(0, len(padded), L)]


def unpack(cfg: SoftmaxConfig, words: list[int], n: int | None = None) -> np.ndarray:
    """The probabilities of one output frame (lanes unsigned out_bits); the
    first n (default all lanes of every beat)."""
    L, OB = cfg.lanes, cfg.out_bits
    p = np.asarray([(int(w) >> (i * OB)) & ((1 << OB) - 1) for w in words for i in range(L)],
                   dtype=np.int64)
    return p if n is None else p[:n]


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


__all__ = ["SoftmaxCase", "cases", "rows", "pack", "keeps", "filler", "unpack", "pad_bits",
           "expected",
           "describe_mismatch", "pow2_sum_diffs", "IN", "OUT", "KINDS"]
