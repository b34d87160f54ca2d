"""The model-wide numeric formats: one frozen record of every width choice.

The unit Configs in rtl_gen/ take their defaults from here, so the integer
model and the RTL cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass

from .gelu import GeluSpec, gelu_spec
from .layernorm import LayerNormSpec, layernorm_spec
from .softmax import SoftmaxSpec, softmax_spec
from .widths import validate_bits


@dataclass(frozen=True)
class Numerics:
    """Bit widths of the integer encoder (docs/numerics.md, "Formats")."""
    weight_bits: int = 8          # 8 (W8A8) or 4 (W4A8, FQ-BERT), symmetric per channel
    act_bits: int = 8             # matmul inputs, symmetric per tensor
    residual_bits: int = 16       # residual stream / LayerNorm input
    softmax_in_bits: int = 16     # scores fed to softmax, fixed point
    softmax_frac_bits: int = 8
    softmax_out_bits: int = 7     # probabilities in [0, 127] * 2^-7: an int8 for P @ V
    gelu_in_bits: int = 16        # FFN pre-activation, fixed point
    gelu_frac_bits: int = 10
    gelu_erf_bits: int = 14
    ln_norm_bits: int = 16
    ln_gamma_bits: int = 16
    max_seq: int = 512

    def __post_init__(self):
        if self.weight_bits not in (4, 8):
            raise ValueError(f"weight_bits must be 4 or 8, got {self.weight_bits!r}")
        validate_bits("act_bits", self.act_bits, 2, 8)
        validate_bits("residual_bits", self.residual_bits, self.act_bits, 24)
        # building the specs validates the remaining fields
        self.softmax, self.gelu, self.layernorm(384)

    @property
    def softmax(self) -> SoftmaxSpec:
        return softmax_spec(self.softmax_in_bits, self.softmax_frac_bits,
                            self.softmax_out_bits, self.max_seq)

    @property
    def gelu(self) -> GeluSpec:
        return gelu_spec(self.gelu_in_bits, self.gelu_frac_bits, self.gelu_erf_bits)

    def layernorm(self, hidden: int) -> LayerNormSpec:
        return layernorm_spec(hidden, self.residual_bits, self.ln_norm_bits,
                              self.ln_gamma_bits, self.act_bits)
