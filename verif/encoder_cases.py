"""Cases of the encoder-layer engine: a layer's int8 input, its weight stream and
the golden output, and the packing of all three into AXI4-Stream words.

A beat of ``s_axis_x`` / ``m_axis_y`` is ``array`` int8 channels of one token
(token after token, channel blocks in order); a beat of ``s_axis_w`` is
``beat_bytes`` bytes of the weight stream, byte 0 in the low bits.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from golden_model.encoder import LayerParams, encoder_layer
from golden_model.numerics import Numerics
from golden_model.weightfile import layer_stream
from rtl_gen.encoder import EncoderConfig

X, W, Y = "s_axis_x", "s_axis_w", "m_axis_y"


@dataclass
class EncoderCase:
    x: np.ndarray                  # [S, hidden] int8 layer input
    params: LayerParams
    layer: int
    numerics: Numerics
    pauses: dict = field(default_factory=dict)
    stream: bytes = b""

    @property
    def seq(self) -> int:
        return self.x.shape[0]


def stream_of(cfg: EncoderConfig, c: EncoderCase) -> bytes:
    if not c.stream:
        c.stream = layer_stream(c.params, cfg.stream_shape, c.layer)
    return c.stream


def expected(c: EncoderCase) -> np.ndarray:
    return encoder_layer(c.x, c.params, c.numerics)


def pack_tokens(cfg: EncoderConfig, x: np.ndarray) -> list[int]:
    a = cfg.array
    u = (np.asarray(x, np.int64) & 0xFF).reshape(x.shape[0], -1, a)
    weights = [1 << (8 * i) for i in range(a)]
    return [sum(int(v) * w for v, w in zip(beat, weights)) for tok in u for beat in tok]


def unpack_tokens(cfg: EncoderConfig, words: list[int], seq: int) -> np.ndarray:
    a = cfg.array
    lanes = [[(w >> (8 * i)) & 0xFF for i in range(a)] for w in words]
    out = np.asarray(lanes, np.int64).reshape(seq, cfg.hidden)
    return np.where(out > 127, out - 256, out)


def stream_words(cfg: EncoderConfig, data: bytes) -> list[int]:
    bb = cfg.stream_shape.beat_bytes
    return [int.from_bytes(data[i:i + bb], "little") for i in range(0, len(data), bb)]


def minilm_case(cfg: EncoderConfig, text: str, layer: int,
                weights: str | None = None) -> EncoderCase:
    """all-MiniLM-L6-v2 layer ``layer`` on ``text``: its input is the golden
    model's output of the layers before it.  ``weights``: a weight stream file
    (what a DMA would send) to drive instead of the one the golden model writes;
    the expected output is computed from the parameters read back from it."""
    from golden_model.calibrate import default_model
    from golden_model.embed import quantize_input
    model = default_model(cfg.weight_bits)
    if not 0 <= layer < len(model.layers):
        raise ValueError(f"--layer {layer}: all-MiniLM-L6-v2 has layers 0..{len(model.layers) - 1}")
    from golden_model.minilm import MAX_TOKENS, token_count
    n = token_count(text)
    if n > MAX_TOKENS:     # the tokenizer would cut it: the RTL would run another sentence
        raise ValueError(f"--text has {n} tokens; all-MiniLM-L6-v2 takes at most {MAX_TOKENS} "
                         f"(its max_seq_length)")
    cfg.check_seq(n)
    x = quantize_input(model, text)
    for p in model.layers[:layer]:
        x = encoder_layer(x, p, model.numerics)
    p = model.layers[layer]
    cfg.check_layer(p, f"layer {layer}")
    if weights is None:
        return EncoderCase(x, p, layer, model.numerics)
    from pathlib import Path
    from golden_model.weightfile import WeightFileError, read_layer
    try:
        data = Path(weights).read_bytes()
    except OSError as e:
        raise WeightFileError(f"--weights {weights}: cannot read it ({e.strerror})") from None
    hdr, fp = read_layer(data, weights)
    if hdr.shape != cfg.stream_shape:
        raise WeightFileError(f"{weights}: built for {hdr.shape}, the engine reads "
                              f"{cfg.stream_shape}")
    if hdr.layer != layer:
        raise WeightFileError(f"{weights}: holds layer {hdr.layer}, --layer is {layer}")
    cfg.check_layer(fp, weights)
    return EncoderCase(x, fp, layer, model.numerics, stream=data)


def describe_mismatch(c: EncoderCase, exp: np.ndarray, got: np.ndarray) -> str:
    bad = np.argwhere(exp != got)
    t, ch = (int(v) for v in bad[0])
    return (f"{len(bad)} of {exp.size} output elements differ; first at token {t}, channel "
            f"{ch}: expected {int(exp[t, ch])}, got {int(got[t, ch])} (S={c.seq}, layer "
            f"{c.layer}); tokens with a mismatch: {sorted(set(bad[:, 0].tolist()))[:16]}")


# -- synthetic layers: random weights, scales calibrated on the case's own data --

def _rq(values, target: float, per_channel: bool):
    """A requantizer mapping max |values| (per tensor or per last-axis channel) to
    about ``target`` (above the output range on purpose when target is large)."""
    from golden_model.encoder import Requant
    from golden_model.quant import quantize_multiplier
    v = np.abs(np.asarray(values, np.float64))
    peak = v.reshape(-1, v.shape[-1]).max(axis=0) if per_channel else v.max()
    mult, shift = quantize_multiplier(target / np.maximum(peak, 1.0))
    return Requant(mult, shift) if per_channel else Requant(int(mult), int(shift))


def synthetic_case(cfg: EncoderConfig, x: np.ndarray, seed: int, overdrive: float,
                   pauses: dict | None = None) -> EncoderCase:
    """A layer of random integer weights (extremes mixed in) whose requantizers are
    calibrated on ``x`` itself, so every stage uses its range; ``overdrive`` > 1
    scales every target past the range to exercise saturation."""
    from golden_model.elementwise import residual_add
    from golden_model.encoder import (AttentionParams, LayerNormParams, LayerParams, Linear,
                                      attention_heads)
    from golden_model.gelu import int_gelu
    from golden_model.layernorm import int_layernorm, normalize
    from golden_model.matmul import matmul_acc
    from golden_model.quant import requantize
    from golden_model.widths import int_range
    rng = np.random.default_rng(seed)
    n = Numerics(weight_bits=cfg.weight_bits)
    d, f, h = cfg.hidden, cfg.ffn, cfg.heads
    wlo, whi = int_range(cfg.weight_bits)
    blo, bhi = int_range(min(cfg.bias_bits, 16))

    def weights(k, m):
        w = rng.integers(wlo, whi + 1, (k, m))
        w[rng.random((k, m)) < 0.1] = wlo                 # extremes mixed in
        return w

    def lin(xin, k, m, target, out_bits=8):
        w, b = weights(k, m), rng.integers(blo, bhi + 1, m)
        acc = matmul_acc(xin, w, b, act_bits=8, weight_bits=cfg.weight_bits)
        p = Linear(w, b, _rq(acc, target * overdrive, True))
        return p, acc

    hi8 = 127.0
    q, qa = lin(x, d, d, hi8)
    k, ka = lin(x, d, d, hi8)
    v, va = lin(x, d, d, hi8)
    s, dh = x.shape[0], d // h
    heads = lambda t: t.reshape(s, h, dh).transpose(1, 0, 2)
    q8, k8, v8 = (requantize(a, p.rq.mult, p.rq.shift, 8) for a, p in ((qa, q), (ka, k), (va, v)))
    sc_acc = matmul_acc(heads(q8), np.swapaxes(heads(k8), -1, -2), act_bits=8, weight_bits=8)
    scores = _rq(sc_acc, 6.0 * (1 << n.softmax_frac_bits) * overdrive, False)
    from golden_model.softmax import int_softmax
    probs = int_softmax(requantize(sc_acc, scores.mult, scores.shift, n.softmax_in_bits), n.softmax)
    ctx_acc = matmul_acc(probs, heads(v8), act_bits=n.softmax_out_bits + 1, weight_bits=8)
    ctx_rq = _rq(ctx_acc, hi8 * overdrive, False)
    ctx = attention_heads(heads(q8), heads(k8), heads(v8), scores, ctx_rq, n)
    ctx = ctx.transpose(1, 0, 2).reshape(s, d)
    half = float(1 << (n.residual_bits - 1))
    out, oa = lin(ctx, d, d, half)
    skip1 = _rq(x, half * overdrive, True)
    r1 = residual_add(oa, out.rq.mult, out.rq.shift, x, skip1.mult, skip1.shift,
                      out_bits=n.residual_bits, b_bits=8)
    spec = n.layernorm(d)
    glo, ghi = int_range(spec.gamma_bits)

    def ln_params(r):
        gamma = rng.integers(ghi // 4, ghi + 1, d) * rng.choice([1, 1, 1, -1], d)
        beta = rng.integers(-(1 << 20), 1 << 20, d)
        a = normalize(r, spec) * gamma + beta
        return LayerNormParams(gamma, beta, _rq(a, hi8 * overdrive, False))

    ln1 = ln_params(r1)
    h1 = int_layernorm(r1, ln1.gamma, ln1.beta, ln1.rq.mult, ln1.rq.shift, spec)
    up, ua = lin(h1, d, f, 4.0 * (1 << n.gelu_frac_bits))
    g = int_gelu(requantize(ua, up.rq.mult, up.rq.shift, n.gelu_in_bits), n.gelu)
    gelu_rq = _rq(g, hi8 * overdrive, True)
    g8 = requantize(g, gelu_rq.mult, gelu_rq.shift, 8, acc_bits=n.gelu.out_bits)
    down, da = lin(g8, f, d, half)
    skip2 = _rq(h1, half * overdrive, True)
    r2 = residual_add(da, down.rq.mult, down.rq.shift, h1, skip2.mult, skip2.shift,
                      out_bits=n.residual_bits, b_bits=8)
    ln2 = ln_params(r2)
    p = LayerParams(AttentionParams(h, q, k, v, scores, ctx_rq), out, skip1, ln1, up, gelu_rq,
                    down, skip2, ln2)
    return EncoderCase(np.asarray(x, np.int64), p, 0, n, pauses or {})


def cases(cfg: EncoderConfig, max_seq: int | None = None):
    """Hypothesis: S, the layer input (edges and constant rows mixed in), a layer
    seed, an overdrive (saturation everywhere) and stall patterns on all three ports."""
    from hypothesis import strategies as st
    from verif.strategies import int_arrays, pause_patterns

    @st.composite
    def case(draw):
        s = draw(st.integers(1, max_seq or cfg.max_seq))
        x = draw(int_arrays((s, cfg.hidden), 8))
        seed = draw(st.integers(0, 2 ** 16))
        overdrive = draw(st.sampled_from([1.0, 1.0, 0.5, 4.0]))
        pauses = {p: draw(pause_patterns()) for p in (X, W, Y)}
        return synthetic_case(cfg, x, seed, overdrive, pauses)

    return case()
