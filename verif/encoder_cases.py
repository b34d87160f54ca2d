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


def minilm_case(cfg: EncoderConfig, text: str, layer: int) -> EncoderCase:
    """all-MiniLM-L6-v2 layer ``layer`` on ``text``: its input is the golden
    model's output of the layers before it."""
    from golden_model.calibrate import default_model
    from golden_model.embed import quantize_input
    model = default_model(cfg.weight_bits)
    if not 0 <= layer < len(model.layers):
        raise ValueError(f"--layer {layer}: all-MiniLM-L6-v2 has layers 0..{len(model.layers) - 1}")
    x = quantize_input(model, text)
    cfg.check_seq(x.shape[0])
    for p in model.layers[:layer]:
        x = encoder_layer(x, p, model.numerics)
    p = model.layers[layer]
    cfg.check_layer(p, f"layer {layer}")
    return EncoderCase(x, p, layer, model.numerics)


def describe_mismatch(c: EncoderCase, exp: np.ndarray, got: np.ndarray) -> str:
    bad = np.argwhere(exp != got)
    t, ch = (int(v) for v in bad[0])
    return (f"{len(bad)} of {exp.size} output elements differ; first at token {t}, channel "
            f"{ch}: expected {int(exp[t, ch])}, got {int(got[t, ch])} (S={c.seq}, layer "
            f"{c.layer}); tokens with a mismatch: {sorted(set(bad[:, 0].tolist()))[:16]}")
