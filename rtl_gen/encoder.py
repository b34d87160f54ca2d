"""The encoder-layer engine: its Config (the sizes of the layer and the array).

One frozen :class:`EncoderConfig` drives the weight stream layout
(:mod:`golden_model.weightfile`, ``qbert model weights``), the engine's
generator (:func:`files`, the RTL in rtl_gen/encoder_engine.py), its testbench
(verif/encoder_tb.py), its proofs (formal/encoder.py) and its cycle model
(rtl_gen/encoder_cycles.py); docs/encoder.md.

The engine shares one ``array`` x ``array`` matmul array across all the layer's
matmuls (a square array: every activation buffer is banked by token row mod
``array`` with words of ``array`` elements, so the same buffer feeds the array
as activations and as weights, docs/encoder.md "Architecture").
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from golden_model.encoder import LayerParams
from golden_model.matmul import acc_bits_for
from golden_model.numerics import Numerics
from golden_model.weightfile import StreamShape, WeightFileError
from golden_model.widths import bits_for

from . import emit
from .config import ConfigError, UnitConfig, choice, rng
from .gelu import GeluConfig
from .layernorm import LayerNormConfig
from .matmul import MatmulConfig
from .requant import RequantConfig
from .residual import ResidualConfig
from .softmax import SoftmaxConfig

_NUM = Numerics()
#: the shared array's output width: residual_bits + 1, what residual_add's operand a is
MATMUL_OUT_BITS = _NUM.residual_bits + 1

TOP = "qbert_encoder"
#: the Config field that sets each unit's lanes (0: the array's)
UNIT_LANES = {"softmax": "softmax_lanes", "layernorm": "layernorm_lanes", "gelu": "post_lanes",
              "requant": "post_lanes", "residual": "post_lanes"}
#: named layer sizes (:meth:`EncoderConfig.preset`)
PRESETS = {
    "minilm": {"hidden": 384, "heads": 12, "ffn": 1536},
    "bert-base": {"hidden": 768, "heads": 12, "ffn": 3072},
}


def _unit_lanes(units: str, word: str):
    """A Config field: the lanes of ``units``, 0 = the array's."""
    return field(default=0, metadata=rng(
        0, 32, f"lanes of {units}: 0 = array; fewer (a divisor of array) take each {word} in "
               f"array / lanes beats"))


@dataclass(frozen=True)
class EncoderConfig(UnitConfig):
    UNIT = "encoder"

    hidden: int = field(default=384, metadata=rng(2, 4096, "hidden size D (MiniLM 384, BERT-base 768)"))
    heads: int = field(default=12, metadata=rng(1, 64, "attention heads (divides hidden)"))
    ffn: int = field(default=1536, metadata=rng(2, 16384, "FFN size (MiniLM 1536, BERT-base 3072)"))
    max_seq: int = field(default=128, metadata=rng(1, _NUM.max_seq, "longest sequence S (tokens)"))
    array: int = field(default=16, metadata=rng(
        1, 64, "MAC array rows = columns; also the lanes of the units unless their "
               "*_lanes fields say fewer (the softmax and the post-op units: at most 32)"))
    weight_bits: int = field(default=_NUM.weight_bits, metadata=choice(8, 4))
    bias_bits: int = field(default=28, metadata=rng(
        1, 32, "bias width the array adds (MiniLM needs 17 at W8); acc must fit 32 bits"))
    dsp_pack: int = field(default=2, metadata=choice(
        1, 2, 3, doc="the array's products per multiplier (MatmulConfig.dsp_pack): 2 halves "
                     "its DSP48E2s, one per two MACs; 3 (weight_bits=4 only) makes the array "
                     "mixed: three int4 weight MACs a DSP in the linear layers, Q K^T and P V "
                     "(two int8 activations) at two cycles a beat"))
    requant_lanes: int = field(default=0, metadata=rng(
        0, 32, "the array's requantizers (MatmulConfig.requant_lanes): 0 = one per column; "
               "fewer drain each output row in ceil(array / requant_lanes) cycles"))
    post_lanes: int = _unit_lanes("the units after the array (residual, GELU, requant)",
                                  "output row of the array")
    softmax_lanes: int = _unit_lanes("the softmax", "word of scores")
    layernorm_lanes: int = _unit_lanes("the LayerNorm", "token word (and LN record)")
    softmax_div_bits: int = field(default=2, metadata=choice(
        1, 2, 4, doc="quotient bits the softmax's divider retires a cycle "
                     "(SoftmaxConfig.div_bits_per_cycle): a row takes at least "
                     "ceil(33 / bits) + 2 cycles"))

    def _check(self) -> None:
        for name, what in (("post_lanes", "the units after the array take each output row"),
                           ("softmax_lanes", "the softmax takes each score word"),
                           ("layernorm_lanes", "the LayerNorm takes each token word")):
            lanes = getattr(self, name)
            if lanes and self.array % lanes:
                divisors = [d for d in range(1, self.array + 1) if self.array % d == 0]
                raise ConfigError(f"encoder: {name}={lanes} must divide array={self.array} (0 or "
                                  f"one of {divisors}): {what} in whole beats")
        if self.requant_lanes > self.array:
            raise ConfigError(f"encoder: requant_lanes={self.requant_lanes} must be <= "
                              f"array={self.array} (0: one requantizer per array column)")
        if self.dsp_pack == 3 and self.weight_bits != 4:
            raise ConfigError(
                f"encoder: dsp_pack=3 needs weight_bits=4 (the mixed array packs three int4 "
                f"weights a DSP; int8 weights would take two cycles a beat in every layer), got "
                f"weight_bits={self.weight_bits}; use dsp_pack 1 or 2 with int8 weights")
        if self.hidden % self.heads:
            raise ConfigError(f"encoder: heads={self.heads} must divide hidden={self.hidden}")
        for name, value in (("hidden", self.hidden), ("ffn", self.ffn),
                            ("head_dim (hidden/heads)", self.head_dim)):
            if value % self.array:
                raise ConfigError(f"encoder: {name}={value} must be a multiple of "
                                  f"array={self.array} (whole array blocks)")
        if self.max_seq % self.array:
            raise ConfigError(f"encoder: max_seq={self.max_seq} must be a multiple of "
                              f"array={self.array} (buffers hold whole row groups)")
        if self.weight_bits == 4 and self.array % 2:
            raise ConfigError(f"encoder: array={self.array} must be even with weight_bits=4 "
                              f"(a weight-stream beat packs the array's int4 weights two a byte)")
        bias_max = max((b for b in range(1, 33) if acc_bits_for(
            self.k_max, _NUM.act_bits, _NUM.act_bits, b) <= 32), default=0)
        if bias_max and self.bias_bits > bias_max:
            raise ConfigError(f"encoder: bias_bits={self.bias_bits} must be <= {bias_max} here: "
                              f"the array's 32-bit accumulator also sums K={self.k_max} products "
                              f"(the longest K-run: max of hidden, ffn, max_seq)")
        try:
            self.stream_shape
        except WeightFileError as e:
            raise ConfigError(f"encoder: {e}") from None
        try:
            self.matmul
        except ConfigError as e:
            raise ConfigError(f"encoder: the shared array: {e}") from None
        for unit, lanes_field in UNIT_LANES.items():
            try:
                getattr(self, unit)
            except ConfigError as e:
                raise ConfigError(f"encoder: the {unit} unit ({lanes_field}={getattr(self, lanes_field)}"
                                  f", 0 = array={self.array}): {e}; set {lanes_field} to a divisor "
                                  f"of array the unit allows") from None

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def stream_shape(self) -> StreamShape:
        """The weight stream this engine reads (golden_model.weightfile)."""
        return StreamShape(self.hidden, self.heads, self.ffn, self.array, self.weight_bits)

    @property
    def k_max(self) -> int:
        """Longest K-run of the layer: the FFN down projection (K = ffn), or P V (K = S)."""
        return max(self.hidden, self.ffn, self.max_seq)

    @property
    def matmul(self) -> MatmulConfig:
        """The one array every matmul of the layer runs on: out_bits 17, the widest
        consumer (the residual's operand, requantized to residual_bits + 1)."""
        return MatmulConfig(rows=self.array, cols=self.array, k_max=self.k_max,
                            act_bits=_NUM.act_bits, weight_bits=_NUM.act_bits,
                            bias_bits=self.bias_bits, out_bits=MATMUL_OUT_BITS,
                            dsp_pack=self.dsp_pack, requant_lanes=self.requant_lanes)

    # The array's weight lanes are int8 even at W4: Q K^T and P V multiply two
    # int8 activations on the same array; int4 weights are sign-extended (with
    # dsp_pack 3 the array reads their low nibbles, in int4 beats).

    @property
    def softmax_chunks(self) -> int:
        """Softmax beats per score word of the array (``softmax_lanes``, 0 = array)."""
        return self.array // self.softmax.lanes

    @property
    def softmax(self) -> SoftmaxConfig:
        return SoftmaxConfig(lanes=self.softmax_lanes or self.array, max_len=self.max_seq,
                             in_bits=_NUM.softmax_in_bits, frac_bits=_NUM.softmax_frac_bits,
                             out_bits=_NUM.softmax_out_bits, div_bits_per_cycle=self.softmax_div_bits)

    @property
    def layernorm_chunks(self) -> int:
        """LayerNorm beats per token word of the array (``layernorm_lanes``, 0 = array)."""
        return self.array // self.layernorm.lanes

    @property
    def layernorm(self) -> LayerNormConfig:
        return LayerNormConfig(hidden=self.hidden, lanes=self.layernorm_lanes or self.array)

    @property
    def post_beat_lanes(self) -> int:
        """Lanes of the residual, GELU and requant units (``post_lanes``, 0 = array):
        an output row of the array is array / post_beat_lanes beats of theirs."""
        return self.post_lanes or self.array

    @property
    def post_chunks(self) -> int:
        """Beats of a post-op unit per output row of the array."""
        return self.array // self.post_beat_lanes

    @property
    def gelu(self) -> GeluConfig:
        return GeluConfig(lanes=self.post_beat_lanes)

    @property
    def requant(self) -> RequantConfig:
        """The GELU output -> int8 requantizer (per channel)."""
        return RequantConfig(lanes=self.post_beat_lanes, acc_bits=self.gelu.out_bits, out_bits=_NUM.act_bits)

    @property
    def residual(self) -> ResidualConfig:
        return ResidualConfig(lanes=self.post_beat_lanes, a_bits=MATMUL_OUT_BITS, b_bits=_NUM.act_bits,
                              out_bits=_NUM.residual_bits)

    def check_layer(self, p: LayerParams, name: str = "layer") -> None:
        """``p`` has this Config's sizes and every bias fits bias_bits (the stream
        carries i32; the array adds bias_bits): a ConfigError naming what differs."""
        d, f, h = p.attn.q.w.shape[0], p.up.w.shape[1], p.attn.heads
        if (d, f, h) != (self.hidden, self.ffn, self.heads):
            raise ConfigError(f"encoder: Config hidden={self.hidden}, ffn={self.ffn}, "
                              f"heads={self.heads} does not match {name} (hidden={d}, ffn={f}, "
                              f"heads={h})")
        for lin, lp in (("q", p.attn.q), ("k", p.attn.k), ("v", p.attn.v), ("out", p.out),
                        ("up", p.up), ("down", p.down)):
            need = max(bits_for(int(np.min(lp.bias)), int(np.max(lp.bias))), 1)
            if need > self.bias_bits:
                raise ConfigError(f"encoder: {name}.{lin} has a bias of {need} bits, beyond "
                                  f"bias_bits={self.bias_bits}")

    def check_seq(self, s: int) -> None:
        """A run-time sequence length: 1..max_seq (any length; the engine pads row groups)."""
        if not 1 <= s <= self.max_seq:
            raise ConfigError(f"encoder: sequence length {s} must be in [1, {self.max_seq}] "
                              f"(max_seq)")

    def macs(self, s: int) -> int:
        """Multiply-accumulates of one layer on s tokens (the golden model's matmuls)."""
        return self.linear_macs(s) + self.attention_macs(s)

    def linear_macs(self, s: int) -> int:
        """The MACs with a weight operand (int4 or int8): Q, K, V, the output
        projection and the FFN."""
        d, f = self.hidden, self.ffn
        return s * (4 * d * d + 2 * d * f)

    def attention_macs(self, s: int) -> int:
        """The MACs of two int8 activations: Q K^T and P V of every head."""
        return 2 * s * s * self.hidden

    @classmethod
    def preset(cls, name: str, **overrides):
        """The Config of a named model (``minilm``, ``bert-base``) with field overrides."""
        if name not in PRESETS:
            raise ConfigError(f"encoder: unknown preset {name!r}; allowed: {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})


def verilog(cfg: EncoderConfig) -> str:
    from .encoder_engine import build
    return emit.verilog_text(build(cfg), cfg, "rtl_gen/encoder_engine.py",
                             "Ports, weight stream and passes: docs/encoder.md")


def files(cfg: EncoderConfig) -> dict[str, str]:
    """File name -> text: every unit the engine instantiates, then the engine."""
    from . import gelu, layernorm, matmul, requant, residual, softmax
    out = {f"{matmul.TOP}.v": matmul.verilog(cfg.matmul)}
    out.update(softmax.files(cfg.softmax))
    out.update(layernorm.verilog_files(cfg.layernorm))   # dividers named by their widths
    out[f"{gelu.TOP}.v"] = gelu.verilog(cfg.gelu)
    out[f"{requant.TOP}.v"] = requant.verilog(cfg.requant)
    out[f"{residual.TOP}.v"] = residual.verilog(cfg.residual)
    out[f"{TOP}.v"] = verilog(cfg)
    return out


def generate(cfg: EncoderConfig, out_dir: str | os.PathLike) -> Path:
    """Write every file of :func:`files`, ``files.f`` and ``params.json`` into
    ``out_dir`` (all or nothing; see :func:`rtl_gen.emit.write_outputs`)."""
    if not isinstance(cfg, EncoderConfig):
        raise ConfigError(f"generate wants an EncoderConfig, got {type(cfg).__name__}")
    return emit.write_outputs(cfg, out_dir, files(cfg))


def sources(rtl_dir: str | os.PathLike) -> list[Path]:
    return emit.sources(rtl_dir, "encoder")
