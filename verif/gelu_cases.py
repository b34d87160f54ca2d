"""GELU test cases: Hypothesis strategy and golden expectation.

Independent of cocotb; the expected result always comes from
:func:`golden_model.gelu.int_gelu`.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from golden_model.gelu import int_gelu
from golden_model.widths import int_range
from rtl_gen.gelu import IN, GeluConfig

from .elementwise import StreamCase, frame_lengths, pack, pauses_for
from .strategies import ints

OUT = "m_axis"


def edges(cfg: GeluConfig) -> tuple[int, ...]:
    """The values where the formula changes: the clip bound |x| = -b (and +-1),
    the sign change around 0, and the neighbours of the input range's ends."""
    nb = -cfg.spec.b
    return tuple(v for k in (nb - 1, nb, nb + 1, 2, 3) for v in (k, -k))


@st.composite
def cases(draw, cfg: GeluConfig, max_frames: int = 3) -> StreamCase:
    """Frames of elements mixing the input edges, clip bounds and uniform draws,
    with random input gaps and output stalls."""
    lo, hi = int_range(cfg.in_bits)
    values = ints(cfg.in_bits, extra=edges(cfg))
    frames = []
    for beats in draw(frame_lengths(max_frames)):
        n = beats * cfg.lanes
        kind = draw(st.sampled_from(["mixed", "mixed", "near_clip", "constant"]))
        if kind == "near_clip":
            nb = -cfg.spec.b
            xs = draw(st.lists(st.sampled_from([s * (nb + d) for s in (1, -1) for d in range(-3, 4)]),
                               min_size=n, max_size=n))
            xs = np.clip(xs, lo, hi)
        elif kind == "constant":
            xs = [draw(values)] * n
        else:
            xs = draw(st.lists(values, min_size=n, max_size=n))
        frames.append(np.asarray(xs, dtype=np.int64))
    return StreamCase({IN: frames}, pauses_for(draw, (IN, OUT)))


def expected(cfg: GeluConfig, c: StreamCase) -> list[np.ndarray]:
    return [int_gelu(f, cfg.spec) for f in c.frames[IN]]


def words(cfg: GeluConfig, c: StreamCase) -> dict:
    return {IN: [pack(f, cfg.lanes, cfg.in_bits) for f in c.frames[IN]]}


def describe(cfg: GeluConfig, c: StreamCase, where: tuple) -> str:
    fi, i, e, g = where
    if i is None:
        return f"output frame {fi}: expected {e} elements, got {g}"
    x = int(c.frames[IN][fi][i])
    return (f"first at out[{fi}][{i}] (beat {i // cfg.lanes}, lane {i % cfg.lanes}): "
            f"x = {x}: expected int_gelu = {e}, got {g}")


__all__ = ["cases", "expected", "words", "describe", "edges", "OUT"]
