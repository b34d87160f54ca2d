"""LayerNorm test cases: Hypothesis strategy, beat packing, golden expectation.

Independent of cocotb.  The expected result always comes from
:func:`golden_model.layernorm.int_layernorm` (and :func:`normalize` plus the
intermediate scalars for the explanation of a mismatch).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from golden_model.layernorm import FACTOR_NUM_BITS, isqrt, int_layernorm, normalize
from golden_model.quant import MULT_BITS
from golden_model.widths import int_range
from rtl_gen.layernorm import LayerNormConfig

from .strategies import int_arrays, ints, pause_patterns, requant_params

#: the stream endpoints of the LayerNorm DUT
IN, PRM, OUT = "s_axis", "s_axis_prm", "m_axis"

KINDS = ("random", "constant", "near_constant", "outlier", "edges", "threshold", "narrow",
         "mean_tie", "pow2_std")
#: the kinds of a case aimed at exact ties (pow2_std twice as often: it has
#: a divider step per std to reach)
TIE_KINDS = ("pow2_std", "pow2_std", "mean_tie")


@dataclass
class LayerNormCase:
    vectors: list       # int64 arrays of H elements
    gamma: np.ndarray   # [H] gamma_bits signed
    beta: np.ndarray    # [H] affine_bits - 1 signed
    mult: int           # requantizer M, 31 bits unsigned
    shift: int          # requantizer s, 0..62
    pauses: dict        # endpoint -> pause pattern

    def __repr__(self) -> str:
        return ("LayerNormCase(\n"
                + "".join(f"  x[{i}] = {v.tolist()},\n" for i, v in enumerate(self.vectors))
                + f"  gamma = {self.gamma.tolist()},\n  beta = {self.beta.tolist()},\n"
                + f"  mult = {self.mult}, shift = {self.shift},\n  pauses = {self.pauses})")


def expected(cfg: LayerNormConfig, c: LayerNormCase) -> list[np.ndarray]:
    return [int_layernorm(v, c.gamma, c.beta, c.mult, c.shift, cfg.spec) for v in c.vectors]


@st.composite
def vectors(draw, cfg: LayerNormConfig, kind: str | None = None) -> np.ndarray:
    """One input vector of H elements mixing the domain's corners."""
    H, IB = cfg.hidden, cfg.in_bits
    lo, hi = int_range(IB)
    kind = kind or draw(st.sampled_from(KINDS))
    base = draw(ints(IB))
    if kind == "constant":                     # variance 0: std = max(1, 0)
        x = np.full(H, base)
    elif kind == "near_constant":              # V tiny: var = 0 or 1 with y != 0
        x = np.full(H, base)
        for _ in range(draw(st.integers(1, 3))):
            x[draw(st.integers(0, H - 1))] += draw(st.sampled_from([-3, -1, 1, 2]))
    elif kind == "outlier":
        spread = draw(st.sampled_from([0, 1, 3, 64]))
        x = np.clip(base + np.asarray(draw(st.lists(st.integers(-spread, spread), min_size=H,
                                                    max_size=H))), lo, hi)
        x[draw(st.integers(0, H - 1))] = draw(st.sampled_from([lo, hi, -base, base ^ 0x5a]))
    elif kind == "edges":                      # values at the input width's ends
        x = np.asarray(draw(st.lists(st.sampled_from([lo, lo + 1, -1, 0, 1, hi - 1, hi]),
                                     min_size=H, max_size=H)))
    elif kind == "threshold":
        x = _at_shift_threshold(draw, cfg, base)
    elif kind == "pow2_std":
        x = _pow2_std(draw, cfg, base)
    elif kind == "narrow":                     # small variance, rounding of the mean
        span = draw(st.sampled_from([1, 2, 5, 31]))
        x = np.clip(base + np.asarray(draw(st.lists(st.integers(-span, span), min_size=H,
                                                    max_size=H))), lo, hi)
    elif kind == "mean_tie":                   # sum / H on or next to a rounding tie
        x = np.clip(base + np.asarray(draw(st.lists(st.integers(-8, 8), min_size=H,
                                                    max_size=H))), lo, hi)
        target = H // 2 + draw(st.sampled_from([-1, 0, 1]))
        delta = (target - int(x.sum())) % H
        i = draw(st.integers(0, H - 1))
        x[i] += delta if x[i] + delta <= hi else delta - H
    else:
        x = draw(int_arrays((H,), IB))
    return np.clip(np.asarray(x, dtype=np.int64), lo, hi)


def _at_shift_threshold(draw, cfg: LayerNormConfig, base: int) -> np.ndarray:
    """A vector whose variance sum V is T * 2^var_shift + e, with T small or next
    to a perfect square and e at the ends of the shifted-out bits, so the shifted
    variance sits at the shift's and the isqrt's boundaries."""
    r = draw(st.integers(2, 64))
    # T = 0 with a non-zero rest: V > 0 but var = 0 (std = max(1, 0))
    target = draw(st.sampled_from([0, 1, 2, 3, 4, r * r - 1, r * r, r * r + 1]))
    return _with_var_sum(draw, cfg, base, (target << cfg.spec.var_shift) + _shifted_out(draw, cfg))


def _pow2_std(draw, cfg: LayerNormConfig, base: int) -> np.ndarray:
    """A vector whose std is a power of two 2^a, so factor = 2^(31 - a) exactly
    (the factor divider's compare ties at quotient bit 31 - a; a from a run of
    consecutive values reaches every step of its cycle), and one deviation y
    with y * factor exactly on the normalize rounding's tie where a allows it
    (n = j + 1/2 for a small j: identity parameters show it in the output)."""
    H, spec = cfg.hidden, cfg.spec
    d_max = (int_range(cfg.in_bits)[1] - int_range(cfg.in_bits)[0]) // 2
    var_max = (2 * (H // 2) * d_max * d_max) >> spec.var_shift
    a_hi = max(0, math.isqrt(var_max).bit_length() - 1)
    a_tie = 32 - spec.norm_shift                  # smallest a whose factor leaves a tie
    a = draw(st.sampled_from(range(min(max(0, a_tie), a_hi), a_hi + 1)))
    # V anywhere in [4^a, 4^a + 2^(a+1)] * 2^var_shift (isqrt(var) = 2^a): aim at
    # the top, stop within the interval
    var_top = (1 << (2 * a)) + (1 << (a + 1))     # (2^a + 1)^2 - 1
    lo_v, v = 1 << (2 * a + spec.var_shift), ((var_top + 1) << spec.var_shift) - 1
    first = None
    b = spec.norm_shift - 31 + a                  # y * 2^(31 - a) ties iff y = 2^(b-1) mod 2^b
    if b >= 1:
        # small, so n = y / std (about j + 1/2) is not saturated by the output
        first = (1 << (b - 1)) + (draw(st.integers(0, 3)) << b)
    return _with_var_sum(draw, cfg, base, v, first, d_max, slack=v - lo_v)


def _shifted_out(draw, cfg: LayerNormConfig) -> int:
    """The bits of V that var_shift drops: none, all ones, or any."""
    vs = cfg.spec.var_shift
    return draw(st.sampled_from([0, (1 << vs) - 1, draw(st.integers(0, (1 << vs) - 1))]))


def _with_var_sum(draw, cfg: LayerNormConfig, base: int, v: int,
                  first: int | None = None, d_max: int | None = None,
                  slack: int = 0) -> np.ndarray:
    """A vector (permuted) whose variance sum is in [v - slack, v] if H and
    in_bits allow: pairs mean +- d, the first d = ``first`` if given, then
    greedily the largest d left, at most ``d_max`` (each pair adds 2*d^2 and
    keeps the sum); an odd rest of 1 is one element + 1 (the rounded mean
    stays put for H >= 3)."""
    H = cfg.hidden
    lo, hi = int_range(cfg.in_bits)
    devs = []
    if first is not None and 2 * first * first <= v and H >= 2:
        devs, v = [first, -first], v - 2 * first * first
    while v > slack and len(devs) + 2 <= H:
        d = math.isqrt(v // 2) if d_max is None else min(math.isqrt(v // 2), d_max)
        if d == 0:
            devs.append(1)
            v -= 1
        else:
            devs += [d, -d]
            v -= 2 * d * d
    span = max([abs(d) for d in devs] + [0])
    mid = int(np.clip(base, lo + span, hi - span)) if hi - lo >= 2 * span else 0
    x = np.full(H, mid, dtype=np.int64)
    x[:len(devs)] += np.asarray(devs, dtype=np.int64)
    perm = draw(st.permutations(range(H)))
    return np.clip(x[list(perm)], lo, hi)


@st.composite
def params(draw, cfg: LayerNormConfig, identity: bool = False):
    """(gamma [H], beta [H], mult, shift) with edges mixed in.

    "identity" (always if ``identity``, else one time in four) makes
    out = round(n / 2^k) (gamma 1, beta 0, M = 2^30, s = 30 + k) so a
    one-LSB error of n (rounding, mean, std) shows in the output instead
    of vanishing in a coarse requantization."""
    H, s = cfg.hidden, cfg.spec
    if identity or draw(st.integers(0, 3)) == 0:
        k = draw(st.sampled_from([0, 0, 1, 2]))
        glo, ghi = int_range(cfg.gamma_bits)       # 2 does not fit gamma_bits=2
        gamma = np.full(H, draw(st.sampled_from([g for g in (1, 1, -1, 2) if glo <= g <= ghi])),
                        dtype=np.int64)
        beta = np.asarray(draw(st.lists(st.integers(-2, 2), min_size=H, max_size=H)),
                          dtype=np.int64)
        return gamma, beta, 1 << 30, 30 + k
    gamma = draw(int_arrays((H,), cfg.gamma_bits))
    beta = draw(int_arrays((H,), cfg.beta_bits))
    # a = n * gamma + beta is up to affine_bits; scale M, s so outputs use the range
    mult, shift = draw(requant_params(1, acc_log2=s.affine_bits - 3))
    return gamma, beta, int(mult[0]), int(shift[0])


@st.composite
def cases(draw, cfg: LayerNormConfig, max_vectors: int = 3) -> LayerNormCase:
    """1..max_vectors vectors back to back after one parameter load (sometimes
    BANKS + 2, so loading runs ahead of a stalled output and every bank is
    reused), with random input gaps and output stalls."""
    from rtl_gen.layernorm import BANKS
    n = draw(st.one_of(st.integers(1, max_vectors), st.just(BANKS + 2)))
    # one case in four aims at exact ties (the mean's and the normalize rounding's,
    # the factor divider's compare) with identity parameters, which show them
    ties = draw(st.integers(0, 3)) == 0
    kind = st.sampled_from(TIE_KINDS) if ties else st.none()
    vs = draw(st.lists(kind.flatmap(lambda k: vectors(cfg, k)), min_size=n, max_size=n))
    gamma, beta, mult, shift = draw(params(cfg, identity=ties))
    pauses = {ep: draw(pause_patterns()) for ep in (IN, PRM, OUT)}
    return LayerNormCase(vs, gamma, beta, mult, shift, pauses)


# -- packing: the stream protocol of rtl_gen/layernorm.py ---------------------

def _word(values, bits: int) -> int:
    w, mask = 0, (1 << bits) - 1
    for i, v in enumerate(values):
        w |= (int(v) & mask) << (i * bits)
    return w


def pack(cfg: LayerNormConfig, x: np.ndarray) -> list[int]:
    """The s_axis beats of one vector (tlast on the last one)."""
    L = cfg.lanes
    return [_word(x[j:j + L], cfg.in_bits) for j in range(0, len(x), L)]


def pack_params(cfg: LayerNormConfig, gamma, beta, mult: int, shift: int) -> list[int]:
    """The s_axis_prm beats: lanes of {beta, gamma}, {shift, mult} above them."""
    L, GB, PL = cfg.lanes, cfg.gamma_bits, cfg.prm_lane_bits
    top = (int(shift) << MULT_BITS | int(mult)) << (L * PL)
    lanes = [(int(b) & ((1 << cfg.beta_bits) - 1)) << GB | (int(g) & ((1 << GB) - 1))
             for g, b in zip(gamma, beta)]
    return [top | _word(lanes[j:j + L], PL) for j in range(0, cfg.hidden, L)]


def unpack(cfg: LayerNormConfig, words: list[int]) -> np.ndarray:
    """The outputs of one frame (lanes signed out_bits)."""
    L, OB = cfg.lanes, cfg.out_bits
    raw = np.asarray([(int(w) >> (i * OB)) & ((1 << OB) - 1) for w in words for i in range(L)],
                     dtype=np.int64)
    return np.where(raw >= 1 << (OB - 1), raw - (1 << OB), raw)


def pad_bits(cfg: LayerNormConfig, words: list[int]) -> int:
    """OR of the output words' pad bits above lanes*out_bits (must be 0)."""
    return int(np.bitwise_or.reduce([int(w) >> (cfg.lanes * cfg.out_bits) for w in words]))


def scalars(cfg: LayerNormConfig, x: np.ndarray) -> dict:
    """The per-vector intermediates the RTL's scalar stage computes."""
    s, H = cfg.spec, cfg.hidden
    total = int(x.sum())
    mean = (total + H // 2) // H
    vsum = int(((x - mean) ** 2).sum())
    var = vsum >> s.var_shift
    std = max(1, int(isqrt(np.asarray([var]))[0]))
    return {"sum": total, "mean": mean, "var_sum": vsum, "var": var, "std": std,
            "factor": (1 << FACTOR_NUM_BITS) // std}


def describe_mismatch(cfg: LayerNormConfig, c: LayerNormCase, exp: list[np.ndarray],
                      got: list[np.ndarray]) -> str:
    for vi, (e, g) in enumerate(zip(exp, got)):
        if e.shape != g.shape:
            return f"vector {vi}: expected {len(e)} outputs, got {len(g)}"
        diff = np.flatnonzero(e != g)
        if len(diff):
            i = int(diff[0])
            x = c.vectors[vi]
            n = normalize(x, cfg.spec)
            sc = ", ".join(f"{k} = {v}" for k, v in scalars(cfg, x).items())
            return (f"{len(diff)} of {len(e)} outputs of vector {vi} differ; first at "
                    f"out[{vi}][{i}] (beat {i // cfg.lanes}, lane {i % cfg.lanes}): expected "
                    f"{int(e[i])}, got {int(g[i])}  (x = {int(x[i])}, n = {int(n[i])}, "
                    f"gamma = {int(c.gamma[i])}, beta = {int(c.beta[i])}; {sc})")
    return "outputs equal"


__all__ = ["LayerNormCase", "cases", "vectors", "params", "pack", "pack_params", "unpack",
           "pad_bits", "expected", "scalars", "describe_mismatch", "IN", "PRM", "OUT", "KINDS"]
