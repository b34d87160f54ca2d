"""Fidelity of the integer model against the float model it was calibrated from."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import minilm
from .embed import cosine, quantize_input
from .encoder import IntModel, encode

#: Traced tensors in data-flow order (golden_model.encoder / minilm.float_layer).
TENSORS = ("q", "k", "v", "scores", "probs", "ctx", "r1", "h1", "up", "gelu", "r2", "out")


@dataclass(frozen=True)
class Fidelity:
    sentences: tuple[str, ...]
    cosines: np.ndarray          # per sentence
    cumulative: np.ndarray       # [layer, tensor] mean relative L2 error vs the float run
    local: np.ndarray            # [layer, tensor] same, float layer fed the int layer's input

    @property
    def mean(self) -> float:
        return float(self.cosines.mean())

    @property
    def min(self) -> float:
        return float(self.cosines.min())


def _rel(a, b) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def measure(model: IntModel, sentences: list[str], progress=None) -> Fidelity:
    """Cosine of int vs float embeddings, and per-layer, per-tensor relative errors.

    ``cumulative`` compares against the all-float run (errors compound);
    ``local`` runs each float layer on the integer layer's own (dequantized)
    input, so it isolates what each op of that layer loses.
    """
    m = minilm.load_minilm()
    n_layers = len(model.layers)
    cos = np.zeros(len(sentences))
    cum = np.zeros((n_layers, len(TENSORS)))
    loc = np.zeros_like(cum)
    for i, sent in enumerate(sentences):
        ids = minilm.token_ids(sent)
        ftr: list[dict] = []
        f_out = minilm.float_encode(m, ids, ftr)
        itr: list[dict] = []
        i_out = encode(model, quantize_input(model, sent), itr)
        cos[i] = cosine(i_out.mean(axis=0) * model.output_scale, f_out.mean(axis=0))
        for layer, (ft, it, sc) in enumerate(zip(ftr, itr, model.scales)):
            lt: dict = {}
            minilm.float_layer(m, m.layers[layer], it["x"] * sc["x"], lt)
            for j, k in enumerate(TENSORS):
                deq = it[k] * sc[k]
                cum[layer, j] += _rel(deq, ft[k]) / len(sentences)
                loc[layer, j] += _rel(deq, lt[k]) / len(sentences)
        if progress:
            progress(i + 1, len(sentences), sent, cos[i])
    return Fidelity(tuple(sentences), cos, cum, loc)


def format_table(errors: np.ndarray) -> str:
    """Markdown table: one row per layer, one column per traced tensor (percent)."""
    head = "| layer | " + " | ".join(TENSORS) + " |"
    rule = "|---" * (len(TENSORS) + 1) + "|"
    rows = [f"| {i} | " + " | ".join(f"{100 * e:.1f}" for e in row) + " |"
            for i, row in enumerate(errors)]
    return "\n".join([head, rule, *rows])


# --------------------------------------------------------------------------
# The integer softmax alone, on the attention scores of the integer pipeline
# --------------------------------------------------------------------------

#: columns of :func:`softmax_fidelity`'s table, per layer
SOFTMAX_STATS = ("rows", "mean_abs", "max_abs", "mean_tv", "max_tv", "kl", "top1", "mass_err")


def softmax_row_stats(scores, probs, frac_bits: int, out_bits: int) -> dict[str, np.ndarray]:
    """Per-row errors of integer probabilities ``probs`` (real = p * 2^-out_bits)
    against the float softmax of the same scores (real = x * 2^-frac_bits).

    abs: |p_int - p_float| per element (its mean and max over the row);
    tv: total variation distance 1/2 * sum |p_int - p_float|;
    kl: KL(p_float || p_int') with p_int' = p_int renormalized and its zeros
    raised to half an LSB (a quantized probability of 0 means "below 2^-out_bits");
    top1: argmax agreement (ties in the float row count as agreement);
    mass_err: sum(p_int) - 1.
    """
    x = np.asarray(scores, dtype=np.float64) * 2.0 ** -frac_bits
    x = x.reshape(-1, x.shape[-1])
    p_int = np.asarray(probs, dtype=np.float64).reshape(x.shape) * 2.0 ** -out_bits
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    p_f = e / e.sum(axis=-1, keepdims=True)
    err = np.abs(p_int - p_f)
    q = np.maximum(p_int, 2.0 ** -(out_bits + 1))
    q = q / q.sum(axis=-1, keepdims=True)
    kl = np.sum(p_f * (np.log(np.maximum(p_f, 1e-300)) - np.log(q)), axis=-1)
    am = p_int.argmax(axis=-1)
    top1 = p_f[np.arange(len(am)), am] >= p_f.max(axis=-1) * (1 - 1e-12)
    return {"mean_abs": err.mean(axis=-1), "max_abs": err.max(axis=-1), "tv": 0.5 * err.sum(axis=-1),
            "kl": kl, "top1": top1, "mass_err": p_int.sum(axis=-1) - 1.0}


def softmax_fidelity(model: IntModel, sentences: list[str], progress=None) -> np.ndarray:
    """[layer, SOFTMAX_STATS]: the integer softmax (golden_model.softmax, as the RTL
    computes it) against float softmax, on every attention row (all heads, all
    tokens) the integer pipeline produces for ``sentences``.  Both softmaxes see
    the same quantized scores, so this is the softmax's own error, not the
    pipeline's.  Means are over rows; max is the worst row."""
    n = model.numerics
    fb, ob = n.softmax.frac_bits, n.softmax.out_bits
    per_layer: list[list[dict]] = [[] for _ in model.layers]
    for i, sent in enumerate(sentences):
        traces: list[dict] = []
        encode(model, quantize_input(model, sent), traces)
        for layer, t in enumerate(traces):
            per_layer[layer].append(softmax_row_stats(t["scores"], t["probs"], fb, ob))
        if progress:
            progress(i + 1, len(sentences), sent)
    table = np.zeros((len(model.layers), len(SOFTMAX_STATS)))
    for layer, stats in enumerate(per_layer):
        cat = {k: np.concatenate([s[k] for s in stats]) for k in stats[0]}
        table[layer] = [len(cat["tv"]), cat["mean_abs"].mean(), cat["max_abs"].max(), cat["tv"].mean(),
                        cat["tv"].max(), cat["kl"].mean(), cat["top1"].mean(),
                        np.abs(cat["mass_err"]).mean()]
    return table


def format_softmax_table(table: np.ndarray) -> str:
    """Markdown table of :func:`softmax_fidelity` (probability errors in units of 1e-3)."""
    head = ("| layer | rows | mean abs err (1e-3) | max abs err (1e-3) | mean TV (1e-3) | "
            "max TV (1e-3) | mean KL (1e-3 nats) | top-1 agree (%) | mean abs mass err (1e-3) |")
    rule = "|---" * 9 + "|"
    rows = [f"| {i} | {int(r[0])} | {1e3 * r[1]:.3f} | {1e3 * r[2]:.2f} | {1e3 * r[3]:.2f} | "
            f"{1e3 * r[4]:.1f} | {1e3 * r[5]:.2f} | {100 * r[6]:.2f} | {1e3 * r[7]:.2f} |"
            for i, r in enumerate(table)]
    return "\n".join([head, rule, *rows])
