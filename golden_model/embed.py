"""Sentence embeddings through the integer pipeline (``qbert model minilm-embed``)."""
from __future__ import annotations

import numpy as np

from . import minilm
from .encoder import IntModel, encode, mean_pool
from .quant import quantize


def quantize_input(model: IntModel, sentence: str) -> np.ndarray:
    """Token ids -> float embeddings + LayerNorm -> int8 (the float/int boundary)."""
    m = minilm.load_minilm()
    x = minilm.embed(m, minilm.token_ids(sentence))
    return quantize(x, model.input_scale, model.numerics.act_bits)


def int_sentence_embedding(model: IntModel, sentence: str, traces: list | None = None) -> np.ndarray:
    """Mean-pooled integer token states, dequantized to float32 [hidden]."""
    out = encode(model, quantize_input(model, sentence), traces)
    sums, count = mean_pool(out)
    return (sums * (model.output_scale / count)).astype(np.float32)


def float_sentence_embedding(sentence: str) -> np.ndarray:
    m = minilm.load_minilm()
    return minilm.float_sentence_embedding(m, minilm.token_ids(sentence))


def cosine(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
