"""Attention-head test cases: Hypothesis strategy, the MiniLM case, stream
packing (docs/attention.md), golden expectation.

Independent of cocotb.  The expected context always comes from
:func:`golden_model.encoder.attention_heads`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from hypothesis import strategies as st

from golden_model.encoder import Requant, attention_heads
from golden_model.quant import MULT_BITS, SHIFT_MAX
from rtl_gen.attention import ACT, SCORE, AttentionConfig, NUM

from .strategies import int_arrays, pause_patterns, requant_params

#: the stream endpoints of the attention DUT
Q, K, V, OUT = "s_axis_q", "s_axis_k", "s_axis_v", "m_axis"
#: the MiniLM case: all-MiniLM-L6-v2, layer 0, head 0, on this sentence (12 tokens
#: with [CLS] and [SEP]: a multiple of the rows and cols the test Configs use)
MINILM_SENTENCE = "The quick brown fox jumps over the lazy dog."


@dataclass
class AttentionCase:
    q: np.ndarray        # [S, dh] int8
    k: np.ndarray        # [S, dh] int8
    v: np.ndarray        # [S, dh] int8
    s_mult: int          # scores requantization
    s_shift: int
    c_mult: int          # context requantization
    c_shift: int
    pauses: dict         # endpoint -> pause pattern
    #: (q, k, v) of heads that follow back to back without a reset, with the
    #: same S and requantizations (the run-time inputs stay put)
    more: tuple = ()

    @property
    def seq(self) -> int:
        return self.q.shape[0]

    def heads(self) -> list:
        """This head, then one AttentionCase per head of ``more``."""
        return [self] + [replace(self, q=q, k=k, v=v, more=()) for q, k, v in self.more]

    def __repr__(self) -> str:
        np.set_printoptions(threshold=100_000, linewidth=120)
        more = "".join(f"  then head {i}: q={q.tolist()},\n    k={k.tolist()},\n    "
                       f"v={v.tolist()},\n" for i, (q, k, v) in enumerate(self.more, 1))
        return (f"AttentionCase(S={self.seq}, dh={self.q.shape[1]},\n  q={self.q.tolist()},\n"
                f"  k={self.k.tolist()},\n  v={self.v.tolist()},\n{more}"
                f"  scores_rq=({self.s_mult}, {self.s_shift}), ctx_rq=({self.c_mult}, "
                f"{self.c_shift}),\n  pauses={self.pauses})")


def expected(c: AttentionCase, trace: dict | None = None) -> np.ndarray:
    return attention_heads(c.q, c.k, c.v, Requant(np.int64(c.s_mult), np.int64(c.s_shift)),
                           Requant(np.int64(c.c_mult), np.int64(c.c_shift)), NUM, trace)


def seq_step(cfg: AttentionConfig) -> int:
    """S must be a multiple of this (rows and cols)."""
    return math.lcm(cfg.rows, cfg.cols)


@st.composite
def _scaled(draw, acc_log2: int, lo: int, hi: int):
    """(M, s) mapping |acc| ~ 2^acc_log2 to about 2^t, t in [lo, hi]."""
    t = draw(st.integers(lo, hi))
    shift = max(0, min(SHIFT_MAX, MULT_BITS + acc_log2 - t))
    return draw(st.integers(1 << 30, (1 << MULT_BITS) - 1)), shift


def _rq(draw, acc_log2: int, lo: int, hi: int) -> tuple[int, int]:
    if draw(st.integers(0, 4)) == 0:   # edges, ties, anything (requant_params)
        m, s = draw(requant_params(1, acc_log2))
        return int(m[0]), int(s[0])
    return draw(_scaled(acc_log2, lo, hi))


@st.composite
def cases(draw, cfg: AttentionConfig, max_seq: int | None = None) -> AttentionCase:
    """A head: S a multiple of rows and cols up to max_seq (or the Config's),
    Q/K/V with edges and whole-array patterns mixed in, requantizations that
    land scores across the softmax's range (from all-equal rows to one-hot) and
    contexts across int8 (saturating sometimes), stall patterns on every port."""
    step = seq_step(cfg)
    top = min(max_seq or cfg.max_seq, cfg.max_seq) // step
    s = step * draw(st.one_of(st.integers(1, max(1, top)), st.sampled_from([1, top])))
    dh = cfg.head_dim
    q, k, v = (draw(int_arrays((s, dh), ACT)) for _ in range(3))
    qk_log2 = (dh * (1 << 14)).bit_length()
    s_mult, s_shift = _rq(draw, qk_log2, 2, SCORE)          # scores: 2^2 .. 2^16 (saturates)
    # context: scaled from this head's own P V accumulators so that the largest
    # lands between 2^5 and 2^10: values across int8, saturating, and in the
    # int16 bits just above int8 that a wrong saturation bound would let through
    trace: dict = {}
    expected(AttentionCase(q, k, v, s_mult, s_shift, 0, 0, {}), trace)
    pv = trace["probs"] @ v
    pv_log2 = max(1, int(np.abs(pv).max()).bit_length())
    c_mult, c_shift = _rq(draw, pv_log2, 5, 10)
    if draw(st.booleans()) and pv.any():
        # aim one accumulator at int8's saturation edges (127/128, -128/-129)
        # and at 2^8 (the int16 bits just above int8)
        a = draw(st.sampled_from(sorted({int(x) for x in pv.ravel() if x})))
        t = draw(st.sampled_from([127, 128, 129, 255, 256, 257])) * (1 if a > 0 else -1)
        c_shift = max(0, min(SHIFT_MAX, 30 - abs(t).bit_length() + abs(a).bit_length()))
        c_mult = min((1 << MULT_BITS) - 1, round(abs(t) * (1 << c_shift) / abs(a)))
    pauses = {ep: draw(pause_patterns()) for ep in (Q, K, V)}
    # the output sometimes stalled for long runs (tens of cycles a beat): the context
    # buffer stays full while the next group's P V finishes, which must then wait
    pauses[OUT] = draw(st.one_of(pause_patterns(), pause_patterns(max_len=32),
                                 st.sampled_from([40, 120]).map(lambda n: [True] * n + [False])))
    # heads back to back, no reset between: the hand-over from one head to the next
    # (their Q/K/V from a drawn seed: one integer each keeps the shrinking quick)
    seeds = draw(st.lists(st.integers(0, 1 << 16), max_size=2))
    rngs = [np.random.default_rng(sd) for sd in seeds]
    more = tuple(tuple(r.integers(-128, 128, (s, dh)) for _ in range(3)) for r in rngs)
    return AttentionCase(q, k, v, s_mult, s_shift, c_mult, c_shift, pauses, more)


def minilm_case() -> AttentionCase:
    """Q, K, V of all-MiniLM-L6-v2 layer 0 head 0 on :data:`MINILM_SENTENCE`,
    with the calibrated requantizations (golden model, default numerics)."""
    from golden_model.calibrate import default_model
    from golden_model.embed import quantize_input
    from golden_model.encoder import encoder_layer

    model = default_model(8)
    layer = model.layers[0]
    trace: dict = {}
    encoder_layer(quantize_input(model, MINILM_SENTENCE), layer, model.numerics, trace)
    sc, cx = layer.attn.scores, layer.attn.ctx
    c = AttentionCase(trace["q"][0], trace["k"][0], trace["v"][0], int(np.ravel(sc.mult)[0]),
                      int(np.ravel(sc.shift)[0]), int(np.ravel(cx.mult)[0]),
                      int(np.ravel(cx.shift)[0]), {})
    # the head's context in the layer's own trace is what the unit must produce
    dh = c.q.shape[1]
    assert np.array_equal(expected(c), trace["ctx"][:, :dh]), "attention_heads != encoder trace"
    return c


# -- packing: the load order of rtl_gen/attention.py ---------------------------

def _lanes(values, bits: int) -> int:
    word, mask = 0, (1 << bits) - 1
    for i, val in enumerate(values):
        word |= (int(val) & mask) << (i * bits)
    return word


def pack(cfg: AttentionConfig, c: AttentionCase) -> dict[str, list[int]]:
    """The beats of s_axis_q, s_axis_k and s_axis_v."""
    R, C, S, dh = cfg.rows, cfg.cols, c.seq, cfg.head_dim
    return {
        Q: [_lanes(c.q[g:g + R, j], ACT) for g in range(0, S, R) for j in range(dh)],
        K: [_lanes(c.k[b:b + C, j], ACT) for b in range(0, S, C) for j in range(dh)],
        V: [_lanes(c.v[j, b:b + C], ACT) for b in range(0, dh, C) for j in range(S)],
    }


def unpack_row(cfg: AttentionConfig, words: list[int]) -> np.ndarray:
    """One output row (head_dim / cols beats) as int8 [head_dim]."""
    vals = [(int(w) >> (i * ACT)) & 0xFF for w in words for i in range(cfg.cols)]
    return np.asarray([v - 256 if v >= 128 else v for v in vals], dtype=np.int64)


def describe_mismatch(c: AttentionCase, exp: np.ndarray, got: np.ndarray) -> str:
    diff = np.argwhere(exp != got)
    i, j = (int(v) for v in diff[0])
    tr: dict = {}
    expected(c, tr)
    return (f"{len(diff)} of {exp.size} context elements differ; first at ctx[{i}, {j}]: "
            f"expected {int(exp[i, j])}, got {int(got[i, j])} (S={c.seq}; scores row {i} "
            f"max {int(tr['scores'][i].max())} min {int(tr['scores'][i].min())}, probs row "
            f"{i} sum {int(tr['probs'][i].sum())})")


__all__ = ["AttentionCase", "cases", "minilm_case", "pack", "unpack_row", "expected",
           "describe_mismatch", "seq_step", "Q", "K", "V", "OUT", "MINILM_SENTENCE"]
