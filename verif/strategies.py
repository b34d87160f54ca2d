"""Hypothesis strategies that mix a domain's edges into uniform draws.

Plain ``st.integers`` rarely hits saturation thresholds or rounding ties
(DESIGN.md: it missed an off-by-one at 128 in 300 examples), so every value
strategy here draws from the edges about a third of the time.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

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
    else:
        vals = draw(st.lists(ints(bits, signed, extra), min_size=size, max_size=size))
    return np.asarray(vals, dtype=np.int64).reshape(shape)
