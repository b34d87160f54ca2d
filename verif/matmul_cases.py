"""Matmul test cases: Hypothesis strategy, tile packing, golden expectation.

Independent of cocotb, so the packing can be unit-tested and reused by the
bench.  The expected result always comes from
:func:`golden_model.matmul.int_matmul`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from golden_model.matmul import beat_weights, int_matmul
from golden_model.widths import int_range
from rtl_gen.matmul import MatmulConfig
from golden_model.quant import MULT_BITS

from .strategies import int_arrays, pause_patterns, requant_params

#: the stream endpoints of the matmul DUT
ACT, WGT, PRM, OUT = "s_axis_act", "s_axis_wgt", "s_axis_prm", "m_axis"


@dataclass
class MatmulCase:
    x: np.ndarray       # [M, K] int8
    w: np.ndarray       # [K, N] int4/int8
    bias: np.ndarray    # [N] bias_bits
    mult: np.ndarray    # [N] [0, 2^31)
    shift: np.ndarray   # [N] [0, 62]
    pauses: dict        # endpoint -> pause pattern
    #: mixed Configs: [K] bool, beat k is int8 (s_axis_wgt_tuser = 1); None: all int4
    wide: np.ndarray | None = None

    def __repr__(self) -> str:
        np.set_printoptions(threshold=10_000, linewidth=120)
        wide = "" if self.wide is None else f"  wide={self.wide.astype(int).tolist()},\n"
        return (f"MatmulCase(M={self.x.shape[0]}, K={self.x.shape[1]}, N={self.w.shape[1]},\n"
                f"  x={self.x.tolist()},\n  w={self.w.tolist()},\n{wide}  bias={self.bias.tolist()},\n"
                f"  mult={self.mult.tolist()}, shift={self.shift.tolist()},\n"
                f"  pauses={self.pauses})")


def beat_modes(cfg: MatmulConfig, c: MatmulCase) -> np.ndarray | None:
    """Mixed Configs: each K step's s_axis_wgt_tuser (1 = int8 beat); else None."""
    if not cfg.mixed:
        return None
    K = c.x.shape[1]
    return np.zeros(K, dtype=bool) if c.wide is None else np.asarray(c.wide, dtype=bool)


def weights(cfg: MatmulConfig, c: MatmulCase) -> np.ndarray:
    """The weights the unit multiplies: ``c.w``, or for a mixed Config the low
    nibbles of its int4 beats (golden_model.matmul.beat_weights)."""
    modes = beat_modes(cfg, c)
    return c.w if modes is None else beat_weights(c.w, modes)


def expected(cfg: MatmulConfig, c: MatmulCase) -> np.ndarray:
    return int_matmul(c.x, weights(cfg, c), c.bias, c.mult, c.shift, out_bits=cfg.out_bits,
                      act_bits=cfg.act_bits, weight_bits=cfg.weight_bits, acc_bits=cfg.acc_bits)


def k_cap(cfg: MatmulConfig) -> int:
    """Longest K the everyday strategy draws besides k_max itself."""
    return min(cfg.k_max, 3 * cfg.rows + 6)


#: the identity requantizer: (acc * 2^30 + 2^29) >> 30 = acc
EXACT_MULT, EXACT_SHIFT = 1 << 30, 30


@st.composite
def _exact_case(draw, cfg: MatmulConfig, m: int, n: int) -> MatmulCase:
    """Operands small enough that every sum + bias fits the output, and the
    identity requantizer: each output is its accumulator, to the bit.  The other
    draws saturate or scale the sums down to 8 bits, where an accumulator a few
    units off (a dropped carry or borrow) rounds away."""
    omax = int_range(cfg.out_bits)[1]
    k = draw(st.integers(1, max(1, min(k_cap(cfg), omax // 2))))
    mag = max(1, math.isqrt(omax // 2 // k))
    x = draw(_small((m, k), mag, cfg.act_bits))
    w = draw(_small((k, n), mag, cfg.weight_bits))
    room = min(omax - k * mag * mag, int_range(cfg.bias_bits)[1])
    bias = np.asarray(draw(st.lists(st.integers(-room, room), min_size=n, max_size=n)),
                      dtype=np.int64)
    pauses = {ep: draw(pause_patterns()) for ep in (ACT, WGT, PRM, OUT)}
    return MatmulCase(x, w, bias, np.full(n, EXACT_MULT, dtype=np.int64),
                      np.full(n, EXACT_SHIFT, dtype=np.int64), pauses, draw(_wide_flags(cfg, k)))


def _small(shape, mag: int, bits: int):
    """An int64 array of values in [-mag, mag] (within ``bits``), edges favoured."""
    mag = min(mag, int_range(bits)[1])
    size = int(np.prod(shape))
    vals = st.one_of(st.sampled_from([-mag, mag, -1]), st.integers(-mag, mag))
    return st.lists(vals, min_size=size, max_size=size).map(
        lambda v: np.asarray(v, dtype=np.int64).reshape(shape))


def _ends(shape, bits: int):
    """An int64 array of values at the ends of ``bits`` (and -1, 0, 1 among them)."""
    lo, hi = int_range(bits)
    size = int(np.prod(shape))
    return st.lists(st.sampled_from([lo, lo, hi, -1, 0, 1]), min_size=size, max_size=size).map(
        lambda v: np.asarray(v, dtype=np.int64).reshape(shape))


@st.composite
def cases(draw, cfg: MatmulConfig, k_max_sim: int = 4096) -> MatmulCase:
    """A matmul within ``cfg``: 1..2 tiles a side (partial tiles included),
    K from 1 to k_cap with rare K = k_max runs of extreme values."""
    R, C, WB, BB = cfg.rows, cfg.cols, cfg.weight_bits, cfg.bias_bits
    m = draw(st.one_of(st.integers(1, 2 * R + 1), st.just(R)))
    n = draw(st.one_of(st.integers(1, 2 * C + 1), st.just(C)))
    # drawn last-of-ten so that shrinking (towards 0) leaves the extreme case
    extreme = cfg.k_max <= k_max_sim and draw(st.integers(0, 9)) == 9
    blo, bhi = int_range(BB)
    if extreme:
        # the accumulator's width edge: K = k_max of the largest |products|
        k = cfg.k_max
        xa = draw(st.sampled_from(int_range(cfg.act_bits)))
        # a mixed Config's int4 beats read -8 and 7 from these low nibbles
        wa = draw(st.sampled_from(int_range(WB) + ((-8, 7) if cfg.mixed else ())))
        x = np.full((m, k), xa, dtype=np.int64)
        w = np.full((k, n), wa, dtype=np.int64)
        bias = np.full((n,), draw(st.sampled_from([blo, bhi, 0])), dtype=np.int64)
    elif draw(st.integers(0, 3)) == 3:
        return draw(_exact_case(cfg, m, n))
    else:
        k = draw(st.one_of(st.integers(1, k_cap(cfg)), st.sampled_from([1, R, R + 1])))
        k = min(k, cfg.k_max)
        if draw(st.integers(0, 4)) == 4:
            # operands at their ends only: -128 x -128 = +2^14 is the one product
            # that needs the top bit of its field, and packed pairs borrow most there
            x = draw(_ends((m, k), cfg.act_bits))
            w = draw(_ends((k, n), WB))
        else:
            x = draw(int_arrays((m, k), cfg.act_bits))
            w = draw(int_arrays((k, n), WB))
        bias = draw(int_arrays((n,), BB, extra=(blo // 2, bhi // 2)))
    acc_log2 = max(1, int(k * (1 << (cfg.act_bits - 1)) * (1 << (WB - 1))).bit_length())
    mult, shift = draw(requant_params(n, acc_log2))
    pauses = {ep: draw(pause_patterns()) for ep in (ACT, WGT, PRM, OUT)}
    return MatmulCase(x, w, bias, mult, shift, pauses, draw(_wide_flags(cfg, k)))


def _wide_flags(cfg: MatmulConfig, k: int):
    """Mixed Configs: each beat int8 or int4 (all of one kind, or any mix)."""
    if not cfg.mixed:
        return st.none()
    flags = st.one_of(st.sampled_from([[False] * k, [True] * k]),
                      st.lists(st.booleans(), min_size=k, max_size=k))
    return flags.map(lambda v: np.asarray(v, dtype=bool))


# -- packing: the tile protocol of rtl_gen/matmul.py --------------------------

def _lanes(values, bits: int) -> int:
    word, mask = 0, (1 << bits) - 1
    for i, v in enumerate(values):
        word |= (int(v) & mask) << (i * bits)
    return word


def tiles(cfg: MatmulConfig, c: MatmulCase):
    """(m0, n0) of every tile, in the order the DUT sees them."""
    M, N = c.x.shape[0], c.w.shape[1]
    return [(m0, n0) for m0 in range(0, M, cfg.rows) for n0 in range(0, N, cfg.cols)]


def pack(cfg: MatmulConfig, c: MatmulCase):
    """Per tile: (act words [K], wgt words [K], prm word).  Partial tiles are
    padded with zero activations, zero weights and zero parameters."""
    R, C = cfg.rows, cfg.cols
    M, K = c.x.shape
    N = c.w.shape[1]
    xp = np.zeros((-(-M // R) * R, K), dtype=np.int64)
    xp[:M] = c.x
    wp = np.zeros((K, -(-N // C) * C), dtype=np.int64)
    wp[:, :N] = c.w
    bp, mp, sp = (np.zeros(wp.shape[1], dtype=np.int64) for _ in range(3))
    bp[:N], mp[:N], sp[:N] = c.bias, c.mult, c.shift
    bmask = (1 << cfg.bias_bits) - 1
    out = []
    for m0, n0 in tiles(cfg, c):
        act = [_lanes(xp[m0:m0 + R, k], cfg.act_bits) for k in range(K)]
        wgt = [_lanes(wp[k, n0:n0 + C], cfg.weight_bits) for k in range(K)]
        lanes = [(int(bp[j]) & bmask) | (int(mp[j]) << cfg.bias_bits)
                 | (int(sp[j]) << (cfg.bias_bits + MULT_BITS)) for j in range(n0, n0 + C)]
        out.append((act, wgt, _lanes(lanes, cfg.prm_lane_bits)))
    return out


def unpack(cfg: MatmulConfig, c: MatmulCase, frames: list[list[int]]) -> np.ndarray:
    """Assemble the [M, N] result from the output frames (one per tile, ROWS words)."""
    M, N = c.x.shape[0], c.w.shape[1]
    R, C, OB = cfg.rows, cfg.cols, cfg.out_bits
    y = np.zeros((-(-M // R) * R, -(-N // C) * C), dtype=np.int64)
    for (m0, n0), words in zip(tiles(cfg, c), frames):
        for r, word in enumerate(words):
            for j in range(C):
                v = (int(word) >> (j * OB)) & ((1 << OB) - 1)
                y[m0 + r, n0 + j] = v - (1 << OB) if v >> (OB - 1) else v
    return y[:M, :N]


def describe_mismatch(cfg: MatmulConfig, c: MatmulCase, exp: np.ndarray, got: np.ndarray) -> str:
    diff = np.argwhere(exp != got)
    i, j = (int(v) for v in diff[0])
    acc = int(c.x[i].astype(np.int64) @ weights(cfg, c)[:, j].astype(np.int64)) + int(c.bias[j])
    return (f"{len(diff)} of {exp.size} outputs differ; first at out[{i}, {j}] "
            f"(tile row {i % cfg.rows}, lane {j % cfg.cols}): expected {int(exp[i, j])}, "
            f"got {int(got[i, j])}  (acc = x[{i}] . w[:, {j}] + bias = {acc}, "
            f"mult = {int(c.mult[j])}, shift = {int(c.shift[j])})")


__all__ = ["MatmulCase", "cases", "pack", "unpack", "expected", "weights", "beat_modes",
           "tiles", "describe_mismatch",
           "k_cap", "ACT", "WGT", "PRM", "OUT"]
