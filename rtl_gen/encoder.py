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

from golden_model.numerics import Numerics
from golden_model.weightfile import StreamShape, WeightFileError

from .config import ConfigError, UnitConfig, choice, rng

_NUM = Numerics()

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

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def stream_shape(self) -> StreamShape:
        """The weight stream this engine reads (golden_model.weightfile)."""
        return StreamShape(self.hidden, self.heads, self.ffn, self.array, self.weight_bits)

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
