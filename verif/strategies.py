"""Hypothesis strategies that mix a domain's edges into uniform draws.

Plain ``st.integers`` rarely hits saturation thresholds or rounding ties
(DESIGN.md: it missed an off-by-one at 128 in 300 examples), so every value
strategy here draws from the edges about a third of the time.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from golden_model.quant import MULT_BITS, SHIFT_MAX
from golden_model.widths import int_range


def edges_of(bits: int, signed: bool = True) -> list[int]:
    """min, min+1, -1, 0, 1, max-1, max of a ``bits``-wide integer (those in range)."""
    lo, hi = int_range(bits, signed)
    cand = {lo, lo + 1, -1, 0, 1, hi - 1, hi}
    return sorted(v for v in cand if lo <= v <= hi)


def ints(bits: int, signed: bool = True, extra: tuple[int, ...] = ()) -> st.SearchStrategy[int]:
    """Integers of a ``bits``-wide range, edges (and ``extra`` values) mixed in."""
    lo, hi = int_range(bits, signed)
    edges = edges_of(bits, signed) + [v for v in extra if lo <= v <= hi]
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi), st.integers(lo, hi))


#: the most elements :func:`int_arrays` draws one by one (shrinkable element-wise)
MAX_DRAWN = 2048


@st.composite
def int_arrays(draw, shape, bits: int, signed: bool = True, extra: tuple[int, ...] = ()):
    """An int64 array whose elements mix edges, uniform draws, and whole-array patterns
    (all equal, all max, all min) that element-wise draws almost never produce."""
    size = int(np.prod(shape))
    lo, hi = int_range(bits, signed)
    pattern = draw(st.sampled_from(["mixed", "mixed", "mixed", "constant", "max", "min"]))
    if pattern == "constant":
        vals = [draw(ints(bits, signed, extra))] * size
    elif pattern == "max":
        vals = [hi] * size
    elif pattern == "min":
        vals = [lo] * size
    elif size <= MAX_DRAWN:
        vals = draw(st.lists(ints(bits, signed, extra), min_size=size, max_size=size))
    else:
        # too many elements for Hypothesis to draw one by one (its buffer holds
        # 8 KiB of choices): the same mix from a drawn seed, edges at a drawn rate
        rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
        edges = np.asarray(edges_of(bits, signed) + [v for v in extra if lo <= v <= hi], np.int64)
        vals = rng.integers(lo, hi + 1, size, dtype=np.int64)
        at_edge = rng.random(size) < draw(st.sampled_from([0.0, 1 / 3, 0.9]))
        vals[at_edge] = rng.choice(edges, int(at_edge.sum()))
    return np.asarray(vals, dtype=np.int64).reshape(shape)


# -- shared by every unit's testbench ---------------------------------------

@st.composite
def pause_patterns(draw, max_len: int = 12) -> list[bool]:
    """An idle/backpressure pattern to cycle through (True = pause that cycle).

    Mixes never-pausing, rare, bursty and mostly-pausing patterns; every
    pattern has at least one non-pause cycle, so streams always progress.
    """
    kind = draw(st.sampled_from(["none", "none", "random", "burst", "heavy", "alternate"]))
    if kind == "none":
        return [False]
    if kind == "alternate":
        return [True, False]
    if kind == "burst":
        on = draw(st.integers(1, max_len - 1))
        off = draw(st.integers(1, max_len - on))
        return [False] * on + [True] * off
    pat = draw(st.lists(st.booleans(), min_size=1, max_size=max_len))
    if kind == "heavy":
        pat = [True] * (len(pat) + 2) + pat
    if all(pat):
        pat.append(False)
    return pat


@st.composite
def requant_params(draw, n: int, acc_log2: int = 24):
    """Per-channel (mult [n], shift [n]) for requantize, mixing:

    - edges: M in {0, 1, 2^30, 2^31-1}, s in {0, 1, 31, 32, 61, 62} and uniform;
    - ties: M = odd * 2^(s-1), so every odd acc lands exactly on a .5 (rounding ties);
    - scaled: M in [2^30, 2^31) with s that maps acc (~2^acc_log2) near the int8 range.
    """
    mode = draw(st.sampled_from(["edges", "ties", "scaled", "scaled", "mixed"]))

    def one(m):
        if m == "edges":
            mult = draw(st.one_of(st.sampled_from([0, 1, 1 << 30, (1 << MULT_BITS) - 1]),
                                  st.integers(0, (1 << MULT_BITS) - 1)))
            shift = draw(st.one_of(st.sampled_from([0, 1, 31, 32, SHIFT_MAX - 1, SHIFT_MAX]),
                                   st.integers(0, SHIFT_MAX)))
            return mult, shift
        if m == "ties":
            shift = draw(st.integers(1, MULT_BITS))
            odd = draw(st.integers(0, (1 << (MULT_BITS - shift + 1)) // 2 - 1)) * 2 + 1
            return odd << (shift - 1), shift
        lo = max(0, 31 + acc_log2 - 8 - 8)
        shift = draw(st.integers(lo, min(SHIFT_MAX, 31 + acc_log2 - 6)))
        return draw(st.integers(1 << 30, (1 << MULT_BITS) - 1)), shift

    pairs = [one(draw(st.sampled_from(["edges", "ties", "scaled"])) if mode == "mixed" else mode)
             for _ in range(n)]
    return (np.asarray([p[0] for p in pairs], dtype=np.int64),
            np.asarray([p[1] for p in pairs], dtype=np.int64))
