"""Requant and residual test cases: Hypothesis strategies, beat packing of the
parameter stream, golden expectation (golden_model.quant.requantize and
golden_model.elementwise.residual_add).  Independent of cocotb."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from golden_model.elementwise import residual_add
from golden_model.quant import MULT_BITS, requantize
from rtl_gen import requant as rq, residual as rs
from rtl_gen.requant import RequantConfig
from rtl_gen.residual import ResidualConfig

from .elementwise import StreamCase, frame_lengths, pack, pauses_for
from .strategies import int_arrays, requant_params

OUT = "m_axis"


def prm_field(mult, shift) -> np.ndarray:
    """{shift[5:0], mult[30:0]} of every element (the parameter lane's low 37 bits)."""
    return (np.asarray(shift, dtype=np.int64) << MULT_BITS) | np.asarray(mult, dtype=np.int64)


@st.composite
def params(draw, n: int, acc_bits: int, per_tensor: bool):
    """(mult, shift) of n elements: one pair for all (per tensor) or one each."""
    acc_log2 = max(1, acc_bits - 8)
    if per_tensor:
        m, s = draw(requant_params(1, acc_log2))
        return np.repeat(m, n), np.repeat(s, n)
    return draw(requant_params(n, acc_log2))


@st.composite
def _frames(draw, lanes: int, streams: dict, n_params: int, max_frames: int = 3):
    """Frames of every data stream (name -> bits) and of n_params (M, s) sets."""
    frames = {name: [] for name in streams}
    prms = [[] for _ in range(n_params)]
    per_tensor = draw(st.booleans())
    for beats in draw(frame_lengths(max_frames, max_beats=12)):
        n = beats * lanes
        for name, bits in streams.items():
            frames[name].append(draw(int_arrays((n,), bits)))
        for k in range(n_params):
            prms[k].append(draw(params(n, max(streams.values()), per_tensor)))
    return frames, prms


@st.composite
def requant_cases(draw, cfg: RequantConfig) -> StreamCase:
    frames, (prm,) = draw(_frames(cfg.lanes, {rq.IN: cfg.acc_bits}, 1))
    frames[rq.PRM] = prm
    return StreamCase(frames, pauses_for(draw, (rq.IN, rq.PRM, OUT)))


def requant_expected(cfg: RequantConfig, c: StreamCase) -> list[np.ndarray]:
    return [requantize(acc, m, s, cfg.out_bits, acc_bits=cfg.acc_bits)
            for acc, (m, s) in zip(c.frames[rq.IN], c.frames[rq.PRM])]


def requant_words(cfg: RequantConfig, c: StreamCase) -> dict:
    L = cfg.lanes
    return {rq.IN: [pack(f, L, cfg.acc_bits) for f in c.frames[rq.IN]],
            rq.PRM: [pack(prm_field(m, s), L, rq.PRM_LANE_BITS) for m, s in c.frames[rq.PRM]]}


def requant_describe(cfg: RequantConfig, c: StreamCase, where: tuple) -> str:
    fi, i, e, g = where
    if i is None:
        return f"output frame {fi}: expected {e} elements, got {g}"
    m, s = c.frames[rq.PRM][fi]
    return (f"first at y[{fi}][{i}] (beat {i // cfg.lanes}, lane {i % cfg.lanes}): "
            f"acc = {int(c.frames[rq.IN][fi][i])}, M = {int(m[i])}, s = {int(s[i])}: "
            f"expected requantize = {e}, got {g}")


@st.composite
def _cancel_frames(draw, cfg: ResidualConfig, max_frames: int = 3):
    """Operands whose requantized values straddle the out_bits + 1 saturation
    with opposite signs (a scaled by 1, b by 2^k so it spans +-2^out_bits):
    the sum cancels, so a wrong operand saturation shows in the result."""
    top = 1 << cfg.out_bits
    k = max(0, cfg.out_bits + 1 - cfg.b_bits)
    alo, ahi = -(1 << (cfg.a_bits - 1)), (1 << (cfg.a_bits - 1)) - 1
    blo, bhi = -(1 << (cfg.b_bits - 1)), (1 << (cfg.b_bits - 1)) - 1
    frames = {rs.A: [], rs.B: [], rs.PRM: []}
    for beats in draw(frame_lengths(max_frames, max_beats=8)):
        n = beats * cfg.lanes
        # magnitudes around the operand saturation at 2^out_bits (Hypothesis
        # alone prefers small integers)
        big = st.one_of(st.integers(top // 2, 2 * top), st.integers(-2 * top, -top // 2))
        a = draw(st.lists(big.map(lambda v: min(max(v, alo), ahi)), min_size=n, max_size=n))
        b = draw(st.lists(st.integers(blo, bhi), min_size=n, max_size=n))
        frames[rs.A].append(np.asarray(a, dtype=np.int64))
        frames[rs.B].append(np.asarray(b, dtype=np.int64))
        one = np.ones(n, dtype=np.int64)
        frames[rs.PRM].append((one, 0 * one, one << k, 0 * one))
    return frames


@st.composite
def residual_cases(draw, cfg: ResidualConfig) -> StreamCase:
    if draw(st.integers(0, 3)) == 0:
        frames = draw(_cancel_frames(cfg))
    else:
        frames, (pa, pb) = draw(_frames(cfg.lanes, {rs.A: cfg.a_bits, rs.B: cfg.b_bits}, 2))
        frames[rs.PRM] = [(ma, sa, mb, sb) for (ma, sa), (mb, sb) in zip(pa, pb)]
    return StreamCase(frames, pauses_for(draw, (rs.A, rs.B, rs.PRM, OUT)))


def residual_expected(cfg: ResidualConfig, c: StreamCase) -> list[np.ndarray]:
    return [residual_add(a, ma, sa, b, mb, sb, out_bits=cfg.out_bits, a_bits=cfg.a_bits,
                         b_bits=cfg.b_bits)
            for a, b, (ma, sa, mb, sb) in zip(c.frames[rs.A], c.frames[rs.B], c.frames[rs.PRM])]


def residual_words(cfg: ResidualConfig, c: StreamCase) -> dict:
    L, F = cfg.lanes, rq.PRM_FIELD_BITS
    return {rs.A: [pack(f, L, cfg.a_bits) for f in c.frames[rs.A]],
            rs.B: [pack(f, L, cfg.b_bits) for f in c.frames[rs.B]],
            # Python ints: the 74-bit lane does not fit int64
            rs.PRM: [pack([(int(fb) << F) | int(fa) for fa, fb in
                           zip(prm_field(ma, sa), prm_field(mb, sb))], L, rs.PRM_LANE_BITS)
                     for ma, sa, mb, sb in c.frames[rs.PRM]]}


def residual_describe(cfg: ResidualConfig, c: StreamCase, where: tuple) -> str:
    fi, i, e, g = where
    if i is None:
        return f"output frame {fi}: expected {e} elements, got {g}"
    ma, sa, mb, sb = (int(v[i]) for v in c.frames[rs.PRM][fi])
    a, b = int(c.frames[rs.A][fi][i]), int(c.frames[rs.B][fi][i])
    return (f"first at y[{fi}][{i}] (beat {i // cfg.lanes}, lane {i % cfg.lanes}): "
            f"a = {a} (Ma = {ma}, sa = {sa}), b = {b} (Mb = {mb}, sb = {sb}): "
            f"expected residual_add = {e}, got {g}")


def long_requant_case(cfg: RequantConfig, beats: int = 256, seed: int = 1) -> StreamCase:
    """Two frames of random accumulators, per-channel (M, s) near the int8 range."""
    rng = np.random.default_rng(seed)
    lo, hi = -(1 << (cfg.acc_bits - 1)), (1 << (cfg.acc_bits - 1)) - 1
    frames, prms = [], []
    for n in (beats // 2 * cfg.lanes, (beats - beats // 2) * cfg.lanes):
        frames.append(rng.integers(lo, hi + 1, n))
        prms.append((rng.integers(1 << 30, 1 << 31, n), rng.integers(0, 63, n)))
    return StreamCase({rq.IN: frames, rq.PRM: prms}, {})


def long_residual_case(cfg: ResidualConfig, beats: int = 256, seed: int = 2) -> StreamCase:
    rng = np.random.default_rng(seed)
    frames = {rs.A: [], rs.B: [], rs.PRM: []}
    for n in (beats // 2 * cfg.lanes, (beats - beats // 2) * cfg.lanes):
        for name, bits in ((rs.A, cfg.a_bits), (rs.B, cfg.b_bits)):
            frames[name].append(rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), n))
        frames[rs.PRM].append(tuple(rng.integers(lo, hi, n) for lo, hi in
                                    ((1 << 30, 1 << 31), (0, 63), (1 << 30, 1 << 31), (0, 63))))
    return StreamCase(frames, {})
