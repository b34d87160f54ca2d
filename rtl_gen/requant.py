"""Requantize-only unit: int32 -> int8 (widths from the Config), bit-exact to
golden_model.quant.requantize, and the requantizer stages every unit shares.

Per element: ``y = sat_out_bits(((acc * M) + 2^(s-1)) >>> s)`` (round half
up; s = 0 adds nothing), M unsigned 31 bits, s in [0, 62].

Stream protocol (docs/elementwise.md): two input streams joined beat for beat
(rtl_gen/pipeline.py):

* ``s_axis``: ``lanes`` signed acc_bits elements a beat, ``tlast`` passed through;
* ``s_axis_prm``: one beat per ``s_axis`` beat, lane i (PRM_LANE_BITS = 40
  bits, whole bytes) holding ``{shift[5:0], mult[30:0]}`` in its low 37 bits
  for element i of the paired beat (no tlast).  Per-tensor scaling repeats one
  (M, s); per-channel scaling sends each element's channel's (M, s), as the
  golden model broadcasts ``mult``/``shift`` over the last axis;
* ``m_axis``: ``lanes`` signed out_bits results, ``tlast`` of the acc beat.

Pipeline (latency 3): acc, M, s registered (a DSP's input registers), the
exact product acc * M (a DSP multiplier), then + 2^(s-1), arithmetic shift,
saturate into the output register.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from golden_model.quant import ACC_BITS_MAX, MULT_BITS

from . import emit
from .config import ConfigError, UnitConfig, rng
from .pipeline import StreamIn, StreamPipe

TOP = "qbert_requant"
IN, PRM = "s_axis", "s_axis_prm"
SHIFT_BITS = 6
#: the used bits {shift, mult} of a parameter lane, and the lane padded to bytes
PRM_FIELD_BITS = SHIFT_BITS + MULT_BITS
PRM_LANE_BITS = emit.bytes_width(PRM_FIELD_BITS)
#: Width of the rounding/shift datapath: holds acc*M (<= 63 bits) plus the
#: rounding term 2^(s-1) <= 2^61 without wrapping.
REQ_BITS = 64
LATENCY = 3


@dataclass(frozen=True)
class RequantConfig(UnitConfig):
    UNIT = "requant"

    lanes: int = field(default=4, metadata=rng(1, 32, "elements per beat"))
    acc_bits: int = field(default=ACC_BITS_MAX, metadata=rng(2, ACC_BITS_MAX, "input width (signed)"))
    out_bits: int = field(default=8, metadata=rng(2, 32, "output width (signed, saturated)"))

    @property
    def latency(self) -> int:
        return LATENCY


def product(m, name: str, acc, acc_bits: int, mult):
    """Wire ``name`` = acc * M exactly (acc_bits + 31 bits): signed acc times
    the unsigned 31-bit multiplier, both widened to the product width first."""
    from veriloggen import Int, Cat, Signed
    pw = acc_bits + MULT_BITS
    w = m.Wire(name, pw)
    m.Assign(w(Signed(emit.sext(acc, acc_bits, pw)) *
               Signed(Cat(Int(0, pw - MULT_BITS, 10), mult))))
    return w


def round_shift_saturate(m, sfx: str, prod, prod_bits: int, shift, out_bits: int):
    """Wire ``sat_{sfx}`` = sat_out_bits((prod + 2^(s-1)) >>> s), 2^(s-1) = 0
    for s = 0: golden_model.quant.requantize after its product.  ``prod`` is
    signed prod_bits (<= 63), ``shift`` 6 bits (<= 62)."""
    from veriloggen import Int, Signed, Sll, Sra, Srl
    k = lambda v, w: Int(v, w, 10)  # noqa: E731
    rnd = m.Wire(f"rnd_{sfx}", REQ_BITS)
    m.Assign(rnd(Srl(Sll(k(1, REQ_BITS), shift), k(1, REQ_BITS))))
    biased = m.Wire(f"biased_{sfx}", REQ_BITS)
    m.Assign(biased(emit.sext(prod, prod_bits, REQ_BITS) + rnd))
    shr = m.Wire(f"shr_{sfx}", REQ_BITS)
    m.Assign(shr(Sra(Signed(biased), shift)))
    return saturate(m, sfx, shr, REQ_BITS, out_bits)


def saturate(m, sfx: str, val, val_bits: int, out_bits: int):
    """Wire ``sat_{sfx}``: the signed ``val`` clamped to out_bits
    ([-2^(out_bits-1), 2^(out_bits-1) - 1])."""
    from veriloggen import Int, Mux, OrList, Slice
    k = lambda v, w: Int(v, w, 10)  # noqa: E731
    OB = out_bits
    # in range iff bits [top:OB-1] are all equal (all 0s or all 1s)
    hi = Slice(val, val_bits - 1, OB - 1)
    fits = m.Wire(f"fits_{sfx}")
    m.Assign(fits(OrList(hi == k(0, val_bits - OB + 1),
                         hi == Int((1 << (val_bits - OB + 1)) - 1, val_bits - OB + 1, 16))))
    sat = m.Wire(f"sat_{sfx}", OB)
    m.Assign(sat(Mux(fits, Slice(val, OB - 1, 0),
                     Mux(val[val_bits - 1], Int(1 << (OB - 1), OB, 16),
                         Int((1 << (OB - 1)) - 1, OB, 16)))))
    return sat


def requant_lane(p: StreamPipe, sfx: str, acc, acc_bits: int, prm_lane, out_bits: int):
    """Three pipeline stages of one requantizer on ``p``: stage 1 registers acc,
    M and s (a DSP's input registers), stage 2 holds acc * M and s, stage 3 the
    saturated result (returned).  Registering the multiplier's operands keeps
    the product's inputs the same signals as the proof's reference
    (formal/requant.py), as in the matmul drain."""
    from veriloggen import Slice
    mult = p.wire(f"mult_{sfx}", MULT_BITS, Slice(prm_lane, MULT_BITS - 1, 0))
    shift = p.wire(f"shift_{sfx}", SHIFT_BITS, Slice(prm_lane, PRM_FIELD_BITS - 1, MULT_BITS))
    acc1 = p.stage(f"s1_acc_{sfx}_q", acc_bits, acc)
    mult1 = p.stage(f"s1_mult_{sfx}_q", MULT_BITS, mult)
    shift1 = p.stage(f"s1_shift_{sfx}_q", SHIFT_BITS, shift)
    pw = acc_bits + MULT_BITS
    prod = product(p.m, f"prod_{sfx}", acc1, acc_bits, mult1)
    prod2 = p.stage(f"s2_prod_{sfx}_q", pw, prod)
    shift2 = p.stage(f"s2_shift_{sfx}_q", SHIFT_BITS, shift1)
    sat = round_shift_saturate(p.m, sfx, prod2, pw, shift2, out_bits)
    return p.stage(f"out_{sfx}_q", out_bits, sat)


def build(cfg: RequantConfig):
    """The Veriloggen Module of ``cfg``."""
    from veriloggen import Module, Slice
    m = Module(TOP)
    L = cfg.lanes
    p = StreamPipe(m, [StreamIn(IN, L, cfg.acc_bits), StreamIn(PRM, L, PRM_LANE_BITS)],
                   L, cfg.out_bits, LATENCY)
    outs = []
    for i in range(L):
        acc = p.lane(IN, i, f"acc_l{i}")
        prm = p.lane(PRM, i, f"prm_l{i}")
        p.unused(Slice(prm, PRM_LANE_BITS - 1, PRM_FIELD_BITS))
        outs.append(requant_lane(p, f"l{i}", acc, cfg.acc_bits, prm, cfg.out_bits))
    p.finish(outs)
    return m


def verilog(cfg: RequantConfig) -> str:
    return emit.verilog_text(build(cfg), cfg, "rtl_gen/requant.py",
                             "Stream protocol and numerics: docs/elementwise.md")


def generate(cfg: RequantConfig, out_dir: str | os.PathLike) -> Path:
    """Write ``qbert_requant.v``, ``files.f`` and ``params.json`` into ``out_dir``."""
    if not isinstance(cfg, RequantConfig):
        raise ConfigError(f"generate wants a RequantConfig, got {type(cfg).__name__}")
    return emit.write_outputs(cfg, out_dir, {f"{TOP}.v": verilog(cfg)})


def sources(rtl_dir: str | os.PathLike) -> list[Path]:
    return emit.sources(rtl_dir, "requant")


__all__ = ["RequantConfig", "generate", "build", "verilog", "sources", "TOP", "LATENCY",
           "round_shift_saturate", "saturate", "product", "requant_lane", "PRM_LANE_BITS"]


def requant_product_stage(m, clk, en, acc, acc_bits: int, mult, shift, out_bits: int, sfx: str):
    """Register ``req_prod_{sfx} -> s2_prod_{sfx}_q`` (and the shift), then the
    combinational ``sat_{sfx}``: the requantizer's first pipeline stage, which
    advances on ``en``; returns ``sat_{sfx}`` (out_bits signed, valid one ``en``
    cycle after ``acc``, ``mult``, ``shift``)."""
    from veriloggen import If, Posedge
    pw = acc_bits + MULT_BITS
    prod = product(m, f"req_prod_{sfx}", acc, acc_bits, mult)
    s2_prod = m.Reg(f"s2_prod_{sfx}_q", pw)
    s2_shift = m.Reg(f"s2_shift_{sfx}_q", SHIFT_BITS)
    m.Always(Posedge(clk))(If(en)(s2_prod(prod), s2_shift(shift)))
    return round_shift_saturate(m, sfx, s2_prod, pw, s2_shift, out_bits)


def requant_stages(m, clk, en, acc, acc_bits: int, mult, shift, out_bits: int, sfx: str):
    """Registers ``req_prod_{sfx} -> s2_prod_{sfx}_q`` then ``sat_{sfx} -> out_{sfx}_q``:
    the requantizer as two pipeline stages that advance on ``en`` (matmul, layernorm).

    ``acc``: acc_bits signed; ``mult``: 31 bits unsigned; ``shift``: 6 bits
    unsigned, all valid in the cycle ``en`` takes them.  Returns the out_bits
    signed output register (valid two ``en`` cycles later).
    """
    from veriloggen import If, Posedge
    sat = requant_product_stage(m, clk, en, acc, acc_bits, mult, shift, out_bits, sfx)
    o = m.Reg(f"out_{sfx}_q", out_bits)
    m.Always(Posedge(clk))(If(en)(o(sat)))
    return o
