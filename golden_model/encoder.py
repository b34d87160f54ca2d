"""The integer encoder: attention, a full BERT layer, and mean pooling.

All parameters are integers (made by golden_model.calibrate); the functions
here use only integer ops from the unit models, so this is the spec the
composed RTL pipelines are checked against.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .elementwise import residual_add
from .gelu import int_gelu
from .layernorm import int_layernorm
from .matmul import matmul_acc
from .numerics import Numerics
from .quant import requantize
from .softmax import int_softmax


@dataclass(frozen=True)
class Requant:
    """Multiplier(s) and shift(s) of one requantization (scalar or per channel)."""
    mult: np.ndarray
    shift: np.ndarray


@dataclass(frozen=True)
class Linear:
    w: np.ndarray        # [K, N], weight_bits signed
    bias: np.ndarray     # [N], int32, at the accumulator's scale
    rq: Requant          # per output channel


@dataclass(frozen=True)
class LayerNormParams:
    gamma: np.ndarray    # [H], gamma_bits signed
    beta: np.ndarray     # [H], at the scale of n * gamma
    rq: Requant          # per tensor


@dataclass(frozen=True)
class AttentionParams:
    heads: int
    q: Linear
    k: Linear
    v: Linear
    scores: Requant      # Q K^T accumulators -> softmax input format
    ctx: Requant         # P V accumulators -> act_bits


@dataclass(frozen=True)
class LayerParams:
    attn: AttentionParams
    out: Linear          # its rq maps the accumulators to the residual scale
    skip1: Requant       # layer input -> residual scale
    ln1: LayerNormParams
    up: Linear           # its rq maps to the GELU input format
    gelu: Requant        # GELU output -> act_bits
    down: Linear         # its rq maps to the residual scale
    skip2: Requant       # ln1 output -> residual scale
    ln2: LayerNormParams


@dataclass(frozen=True)
class IntModel:
    numerics: Numerics
    input_scale: float           # float embeddings -> int8, the only float step in
    layers: tuple[LayerParams, ...]
    scales: tuple[dict, ...]     # per layer: real scale of every traced tensor
    output_scale: float


def linear(x, p: Linear, out_bits: int, n: Numerics, op: str) -> np.ndarray:
    acc = linear_acc(x, p, n, op)
    return requantize(acc, p.rq.mult, p.rq.shift, out_bits, op=op)


def linear_acc(x, p: Linear, n: Numerics, op: str) -> np.ndarray:
    return matmul_acc(x, p.w, p.bias, act_bits=n.act_bits, weight_bits=n.weight_bits, op=op)


def attention(x, p: AttentionParams, n: Numerics, trace: dict | None = None) -> np.ndarray:
    """Multi-head attention on int8 tokens x [S, D]: the int8 context [S, D]."""
    s, d = x.shape
    dh = d // p.heads
    heads = lambda t: t.reshape(s, p.heads, dh).transpose(1, 0, 2)
    q = linear(x, p.q, n.act_bits, n, "attention.q")
    k = linear(x, p.k, n.act_bits, n, "attention.k")
    v = linear(x, p.v, n.act_bits, n, "attention.v")
    qh, kh, vh = heads(q), heads(k), heads(v)
    inner: dict = {}
    ctx = attention_heads(qh, kh, vh, p.scores, p.ctx, n, inner)
    ctx = ctx.transpose(1, 0, 2).reshape(s, d)
    if trace is not None:
        trace.update(q=qh, k=kh, v=vh, scores=inner["scores"], probs=inner["probs"], ctx=ctx)
    return ctx


def attention_heads(qh, kh, vh, scores_rq: Requant, ctx_rq: Requant, n: Numerics,
                    trace: dict | None = None) -> np.ndarray:
    """Scaled dot-product attention of int8 heads q, k, v [..., S, dh] (a leading
    head axis or none): the int8 context [..., S, dh].  The spec of one RTL
    attention head (rtl_gen/attention.py); ``trace`` gets scores and probs."""
    scores_acc = matmul_acc(qh, np.swapaxes(kh, -1, -2), act_bits=n.act_bits,
                            weight_bits=n.act_bits, op="attention.qk")
    scores = requantize(scores_acc, scores_rq.mult, scores_rq.shift, n.softmax_in_bits,
                        op="attention.scores")
    probs = int_softmax(scores, n.softmax)
    ctx_acc = matmul_acc(probs, vh, act_bits=n.softmax_out_bits + 1, weight_bits=n.act_bits,
                         op="attention.pv")
    if trace is not None:
        trace.update(scores=scores, probs=probs)
    return requantize(ctx_acc, ctx_rq.mult, ctx_rq.shift, n.act_bits, op="attention.ctx")


def encoder_layer(x, p: LayerParams, n: Numerics, trace: dict | None = None) -> np.ndarray:
    """One post-LN BERT layer on int8 tokens x [S, D]; returns int8 [S, D]."""
    ctx = attention(x, p.attn, n, trace)
    hidden = x.shape[1]
    r1 = residual_add(linear_acc(ctx, p.out, n, "layer.out"), p.out.rq.mult, p.out.rq.shift,
                      x, p.skip1.mult, p.skip1.shift, out_bits=n.residual_bits,
                      b_bits=n.act_bits, op="layer.residual1")
    ln = n.layernorm(hidden)
    h1 = int_layernorm(r1, p.ln1.gamma, p.ln1.beta, p.ln1.rq.mult, p.ln1.rq.shift, ln)
    up = linear(h1, p.up, n.gelu_in_bits, n, "layer.up")
    g = int_gelu(up, n.gelu)
    g8 = requantize(g, p.gelu.mult, p.gelu.shift, n.act_bits, acc_bits=n.gelu.out_bits,
                    op="layer.gelu_rq")
    r2 = residual_add(linear_acc(g8, p.down, n, "layer.down"), p.down.rq.mult, p.down.rq.shift,
                      h1, p.skip2.mult, p.skip2.shift, out_bits=n.residual_bits,
                      b_bits=n.act_bits, op="layer.residual2")
    out = int_layernorm(r2, p.ln2.gamma, p.ln2.beta, p.ln2.rq.mult, p.ln2.rq.shift, ln)
    if trace is not None:
        trace.update(x=x, r1=r1, h1=h1, up=up, gelu=g8, r2=r2, out=out)
    return out


def encode(model: IntModel, x_int, traces: list | None = None) -> np.ndarray:
    """Run every layer on int8 tokens; ``traces`` receives one dict per layer."""
    for p in model.layers:
        t = {} if traces is not None else None
        x_int = encoder_layer(x_int, p, model.numerics, t)
        if traces is not None:
            traces.append(t)
    return x_int


def mean_pool(x_int) -> tuple[np.ndarray, int]:
    """Integer column sums and the token count; the embedding is sums / count * scale."""
    x_int = np.asarray(x_int, dtype=np.int64)
    return x_int.sum(axis=0), x_int.shape[0]
