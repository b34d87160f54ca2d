"""The encoder-layer engine: its Config (the sizes of the layer and the array).

One frozen :class:`EncoderConfig` drives the weight stream layout
(:mod:`golden_model.weightfile`, ``qbert model weights``) and, once built, the
engine's generator, testbench, proofs and cycle model (docs/encoder.md; the
RTL is issue 7's work in progress: ``qbert gen encoder`` still says so).

The engine shares one ``array`` x ``array`` matmul array across all the layer's
matmuls (a square array: every activation buffer is banked by token row mod
``array`` with words of ``array`` elements, so the same buffer feeds the array
as activations and as weights, docs/encoder.md "Buffers").
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from golden_model.encoder import LayerParams
from golden_model.numerics import Numerics
from golden_model.weightfile import StreamShape, WeightFileError
from golden_model.widths import bits_for

from .config import ConfigError, UnitConfig, choice, rng
from .matmul import MatmulConfig

_NUM = Numerics()
#: the shared array's output width: residual_bits + 1, what residual_add's operand a is
MATMUL_OUT_BITS = _NUM.residual_bits + 1

#: named layer sizes (:meth:`EncoderConfig.preset`)
PRESETS = {
    "minilm": {"hidden": 384, "heads": 12, "ffn": 1536},
    "bert-base": {"hidden": 768, "heads": 12, "ffn": 3072},
}


@dataclass(frozen=True)
class EncoderConfig(UnitConfig):
    UNIT = "encoder"

    hidden: int = field(default=384, metadata=rng(2, 4096, "hidden size D (MiniLM 384, BERT-base 768)"))
    heads: int = field(default=12, metadata=rng(1, 64, "attention heads (divides hidden)"))
    ffn: int = field(default=1536, metadata=rng(2, 16384, "FFN size (MiniLM 1536, BERT-base 3072)"))
    max_seq: int = field(default=128, metadata=rng(1, _NUM.max_seq, "longest sequence S (tokens)"))
    array: int = field(default=16, metadata=rng(1, 64, "MAC array rows = columns"))
    weight_bits: int = field(default=_NUM.weight_bits, metadata=choice(8, 4))
    bias_bits: int = field(default=28, metadata=rng(
        1, 32, "bias width the array adds (MiniLM needs 17 at W8); acc must fit 32 bits"))

    def _check(self) -> None:
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
        try:
            self.stream_shape
        except WeightFileError as e:
            raise ConfigError(f"encoder: {e}") from None
        try:
            self.matmul
        except ConfigError as e:
            raise ConfigError(f"encoder: the shared array: {e}") from None

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
                            act_bits=_NUM.act_bits, weight_bits=self.weight_bits,
                            bias_bits=self.bias_bits, out_bits=MATMUL_OUT_BITS)

    def check_layer(self, p: LayerParams, name: str = "layer") -> None:
        """Every bias of ``p`` fits bias_bits (the stream carries i32; the array adds
        bias_bits): a ConfigError naming the linear layer otherwise."""
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
        d, f = self.hidden, self.ffn
        return s * (4 * d * d + 2 * d * f) + 2 * s * s * d

    @classmethod
    def preset(cls, name: str, **overrides):
        """The Config of a named model (``minilm``, ``bert-base``) with field overrides."""
        if name not in PRESETS:
            raise ConfigError(f"encoder: unknown preset {name!r}; allowed: {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})
