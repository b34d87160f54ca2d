"""Residual-add unit, bit-exact to golden_model.elementwise.residual_add.

Per element: ``y = sat_out(requant(a, Ma, sa) + requant(b, Mb, sb))`` where
each requant rounds half up and saturates to out_bits + 1 bits at the common
output scale (golden_model.quant.requantize), so the sum needs out_bits + 2
bits before the final saturation to out_bits.

Stream protocol (docs/elementwise.md): three input streams joined beat for
beat (rtl_gen/pipeline.py):

* ``s_axis_a``: ``lanes`` signed a_bits elements (e.g. the int32 accumulators
  of the sublayer's output matmul), ``tlast`` passed through;
* ``s_axis_b``: ``lanes`` signed b_bits elements (the skip path, e.g. int8);
* ``s_axis_prm``: lane i (80 bits) = ``{sb[5:0], Mb[30:0], sa[5:0], Ma[30:0]}``
  in its low 74 bits, for element i of the paired beats (per-tensor or
  per-channel, as the requant unit);
* ``m_axis``: ``lanes`` signed out_bits sums, ``tlast`` of the a beat.

Pipeline (latency 4): two requantizers a lane (rtl_gen/requant.py, shared
with the requant unit: operand registers, DSP product, round/shift/saturate
to out_bits + 1), then the add and the final saturation into the output
register.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from golden_model.numerics import Numerics
from golden_model.quant import ACC_BITS_MAX

from . import emit
from .config import ConfigError, UnitConfig, rng
from .pipeline import StreamIn, StreamPipe
from .requant import PRM_FIELD_BITS, requant_lane, saturate

TOP = "qbert_residual"
A, B, PRM = "s_axis_a", "s_axis_b", "s_axis_prm"
PRM_LANE_BITS = emit.bytes_width(2 * PRM_FIELD_BITS)
LATENCY = 4
_NUM = Numerics()


@dataclass(frozen=True)
class ResidualConfig(UnitConfig):
    UNIT = "residual"

    lanes: int = field(default=4, metadata=rng(1, 32, "elements per beat"))
    a_bits: int = field(default=ACC_BITS_MAX, metadata=rng(2, ACC_BITS_MAX, "operand a width (signed)"))
    b_bits: int = field(default=_NUM.act_bits, metadata=rng(2, ACC_BITS_MAX, "operand b width (signed)"))
    out_bits: int = field(default=_NUM.residual_bits,
                          metadata=rng(2, 30, "output width (signed, saturated)"))

    @property
    def latency(self) -> int:
        return LATENCY


def build(cfg: ResidualConfig):
    """The Veriloggen Module of ``cfg``."""
    from veriloggen import Module, Slice
    m = Module(TOP)
    L, OB = cfg.lanes, cfg.out_bits
    RB = OB + 1               # each requantized operand
    SW = OB + 2               # their sum
    p = StreamPipe(m, [StreamIn(A, L, cfg.a_bits), StreamIn(B, L, cfg.b_bits),
                       StreamIn(PRM, L, PRM_LANE_BITS)], L, OB, LATENCY)
    outs = []
    for i in range(L):
        a = p.lane(A, i, f"a_l{i}")
        b = p.lane(B, i, f"b_l{i}")
        prm = p.lane(PRM, i, f"prm_l{i}")
        p.unused(Slice(prm, PRM_LANE_BITS - 1, 2 * PRM_FIELD_BITS))
        prm_b = p.wire(f"prm_b_l{i}", PRM_FIELD_BITS,
                       Slice(prm, 2 * PRM_FIELD_BITS - 1, PRM_FIELD_BITS))
        ra = requant_lane(p, f"a_l{i}", a, cfg.a_bits, prm, RB)
        rb = requant_lane(p, f"b_l{i}", b, cfg.b_bits, prm_b, RB)
        total = p.wire(f"sum_l{i}", SW, emit.sext(ra, RB, SW) + emit.sext(rb, RB, SW))
        sat = saturate(m, f"sum_l{i}", total, SW, OB)
        outs.append(p.stage(f"y_l{i}_q", OB, sat))
    p.finish(outs)
    return m


def verilog(cfg: ResidualConfig) -> str:
    return emit.verilog_text(build(cfg), cfg, "rtl_gen/residual.py",
                             "Stream protocol and numerics: docs/elementwise.md")


def generate(cfg: ResidualConfig, out_dir: str | os.PathLike) -> Path:
    """Write ``qbert_residual.v``, ``files.f`` and ``params.json`` into ``out_dir``."""
    if not isinstance(cfg, ResidualConfig):
        raise ConfigError(f"generate wants a ResidualConfig, got {type(cfg).__name__}")
    return emit.write_outputs(cfg, out_dir, {f"{TOP}.v": verilog(cfg)})


def sources(rtl_dir: str | os.PathLike) -> list[Path]:
    return emit.sources(rtl_dir, "residual")


__all__ = ["ResidualConfig", "generate", "build", "verilog", "sources", "TOP", "LATENCY"]
