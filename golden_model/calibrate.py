"""Calibration: float all-MiniLM-L6-v2 + calibration sentences -> IntModel.

The only place floats become integers.  Activation scales are per tensor,
from the largest magnitude seen on the calibration sentences (a percentile
below 100 clips outliers instead); weights are symmetric per output channel.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import minilm
from .encoder import (AttentionParams, IntModel, LayerNormParams, LayerParams, Linear,
                      Requant)
from .numerics import Numerics
from .quant import qmax, quantize, quantize_multiplier, quantize_weights, scale_for

CALIBRATION_FILE = "calibration.txt"
EVALUATION_FILE = "evaluation.txt"
#: Tensors whose per-tensor scale comes from calibration statistics.
_CALIBRATED = ("x", "q", "k", "v", "ctx", "r1", "h1", "gelu", "r2", "out")


def read_sentences(path=None, name: str = CALIBRATION_FILE) -> list[str]:
    """Non-empty, non-comment lines of a sentence file (default: the committed set)."""
    if path is None:
        text = (Path(__file__).parent / "data" / name).read_text(encoding="utf-8")
        where = f"golden_model/data/{name}"
    else:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"sentence file {path} "
                                    f"{'is not a file' if p.exists() else 'does not exist'}")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"sentence file {path} is not UTF-8 text: {e}") from None
        where = str(path)
    lines = [ln.strip() for ln in text.splitlines()]
    out = [ln for ln in lines if ln and not ln.startswith("#")]
    if not out:
        raise ValueError(f"sentence file {where} holds no sentences (one per line expected)")
    return out


def _absmax(values: list[np.ndarray], percentile: float) -> float:
    flat = np.abs(np.concatenate([np.ravel(v) for v in values]))
    m = float(np.percentile(flat, percentile)) if percentile < 100 else float(flat.max())
    return m if m > 0 else 1.0


def _channel_absmax(values: list[np.ndarray]) -> np.ndarray:
    """Largest magnitude of each channel (last axis) over all tokens seen."""
    return np.abs(np.concatenate([v.reshape(-1, v.shape[-1]) for v in values])).max(axis=0)


def _smoothing(act_absmax, consumer_w, alpha: float) -> np.ndarray:
    """Per-channel factors f that move outliers from activations into weights.

    The activation channel c is stored as x_c / f_c and the consuming weight
    row c as f_c * w[c, :], so x @ w is unchanged (SmoothQuant).  f_c =
    a_c^alpha / w_c^(1-alpha), normalized to a geometric mean of 1.
    """
    a = np.maximum(act_absmax, 1e-6)
    w = np.maximum(np.abs(consumer_w).max(axis=1), 1e-6)
    f = a ** alpha / w ** (1 - alpha)
    return f / np.exp(np.log(f).mean())


def _rq(real) -> Requant:
    mult, shift = quantize_multiplier(real)
    return Requant(mult, shift)


def _linear(w, b, in_scale, out_scale, weight_bits: int) -> Linear:
    """Fold the (per-channel) input scale into the weight rows, then quantize.

    The accumulator of output channel n then has the real scale sw[n].
    """
    w_int, sw = quantize_weights(w * np.asarray(in_scale, np.float64).reshape(-1, 1)
                                 if np.ndim(in_scale) else w * in_scale, weight_bits)
    bias = np.clip(np.rint(b / sw), -(2 ** 31), 2 ** 31 - 1).astype(np.int64)
    return Linear(w_int, bias, _rq(sw / out_scale))


def _layernorm(gamma, beta, norm_scale: float, out_scale, n: Numerics) -> LayerNormParams:
    """Per-channel output scales are folded into gamma and beta; the requant is per tensor."""
    base = float(np.min(out_scale))
    gamma = gamma * (base / out_scale)
    beta = beta * (base / out_scale)
    g_scale = scale_for(np.abs(gamma).max(), n.ln_gamma_bits)
    g = quantize(gamma, g_scale, n.ln_gamma_bits)
    beta_bits = n.ln_norm_bits + n.ln_gamma_bits - 1
    bt = quantize(beta, norm_scale * g_scale, beta_bits)
    return LayerNormParams(g, bt, _rq(norm_scale * g_scale / base))


def _act_scale(values, factors, bits: int) -> np.ndarray:
    """Per-channel scale (base * f_c) whose largest stored magnitude is the top code."""
    a = _channel_absmax(values)
    base = max(float((a / factors).max()), 1e-12) / qmax(bits)
    return base * factors


def calibrate(numerics: Numerics = Numerics(), sentences: list[str] | None = None,
              percentile: float = 100.0, smooth_alpha: float | None = 0.8) -> IntModel:
    """Integer parameters of every layer from float statistics on ``sentences``.

    ``percentile`` < 100 clips per-tensor scales; ``smooth_alpha`` sets the
    SmoothQuant migration strength for the int8 tensors that feed matmuls
    (layer input, LayerNorm-1 output, GELU output; 0.8 measured best on
    all-MiniLM-L6-v2, docs/fidelity.md); None stores them per tensor.
    """
    if not 50.0 < percentile <= 100.0:
        raise ValueError(f"percentile must be in (50, 100], got {percentile}")
    if smooth_alpha is not None and not 0.0 <= smooth_alpha <= 1.0:
        raise ValueError(f"smooth_alpha must be in [0, 1] or None, got {smooth_alpha}")
    m = minilm.load_minilm()
    sentences = sentences if sentences is not None else read_sentences()
    per_layer: list[dict[str, list]] = [{k: [] for k in _CALIBRATED} for _ in m.layers]
    for sent in sentences:
        traces: list[dict] = []
        minilm.float_encode(m, minilm.token_ids(sent), traces)
        for stats, tr in zip(per_layer, traces):
            for k in _CALIBRATED:
                stats[k].append(tr[k])
    n = numerics
    act, res = n.act_bits, n.residual_bits
    sm, ge = n.softmax, n.gelu
    ln_scale = n.layernorm(m.hidden).norm_scale
    s_fmt, g_fmt = 2.0 ** -n.softmax_frac_bits, 2.0 ** -n.gelu_frac_bits

    def factors(stats, w):
        if smooth_alpha is None:
            return np.ones(w.shape[0])
        return _smoothing(_channel_absmax(stats), w, smooth_alpha)

    qkv = lambda lw: np.concatenate([lw.wq, lw.wk, lw.wv], axis=1)
    x_scales = [_act_scale(st["x"], factors(st["x"], qkv(lw)), act)
                for lw, st in zip(m.layers, per_layer)]
    layers, scales = [], []
    for i, (lw, st) in enumerate(zip(m.layers, per_layer)):
        s_x = x_scales[i]
        # the last output feeds only the pooling: every channel gets its own full range
        s_out = (x_scales[i + 1] if i + 1 < len(m.layers)
                 else _act_scale(st["out"], np.maximum(_channel_absmax(st["out"]), 1e-6), act))
        sc = {k: scale_for(_absmax(st[k], percentile), res if k in ("r1", "r2") else act)
              for k in ("q", "k", "v", "ctx", "r1", "r2")}
        sc.update(x=s_x, out=s_out, scores=s_fmt, probs=sm.out_scale, up=g_fmt,
                  h1=_act_scale(st["h1"], factors(st["h1"], lw.w1), act),
                  gelu=_act_scale(st["gelu"], factors(st["gelu"], lw.w2), act))
        attn = AttentionParams(
            m.heads,
            _linear(lw.wq, lw.bq, s_x, sc["q"], n.weight_bits),
            _linear(lw.wk, lw.bk, s_x, sc["k"], n.weight_bits),
            _linear(lw.wv, lw.bv, s_x, sc["v"], n.weight_bits),
            _rq(sc["q"] * sc["k"] / math.sqrt(m.head_dim) / s_fmt),
            _rq(sm.out_scale * sc["v"] / sc["ctx"]))
        layers.append(LayerParams(
            attn,
            _linear(lw.wo, lw.bo, sc["ctx"], sc["r1"], n.weight_bits),
            _rq(s_x / sc["r1"]),
            _layernorm(lw.ln1_g, lw.ln1_b, ln_scale, sc["h1"], n),
            _linear(lw.w1, lw.b1, sc["h1"], g_fmt, n.weight_bits),
            _rq(ge.out_scale / sc["gelu"]),
            _linear(lw.w2, lw.b2, sc["gelu"], sc["r2"], n.weight_bits),
            _rq(sc["h1"] / sc["r2"]),
            _layernorm(lw.ln2_g, lw.ln2_b, ln_scale, s_out, n)))
        scales.append(sc)
    return IntModel(n, x_scales[0], tuple(layers), tuple(scales), scales[-1]["out"])


#: SmoothQuant strength per weight width, measured on the evaluation sentences
#: (docs/fidelity.md): int4 weights cannot take as much of the activations' range.
SMOOTH_ALPHA = {8: 0.8, 4: None}


@lru_cache(maxsize=4)
def default_model(weight_bits: int = 8) -> IntModel:
    """The model calibrated on the committed sentences (cached per process)."""
    return calibrate(Numerics(weight_bits=weight_bits), smooth_alpha=SMOOTH_ALPHA[weight_bits])
