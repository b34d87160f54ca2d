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
