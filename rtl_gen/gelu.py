"""Integer GELU unit (I-BERT i-GELU), bit-exact to golden_model.gelu.int_gelu.

Per element, with the constants b, c, erf_shift, one of
``gelu_spec(in_bits, frac_bits, erf_bits)`` (docs/numerics.md "GELU")::

    d   = min(|x|, -b) + b                  in [b, 0]
    sq  = d * d                             in [0, b^2], b^2 <= -c
    t   = sign(x) * (-c - sq)               (= sign(x) * -((min(|x|,-b)+b)^2 + c))
    s   = (t >>> erf_shift) + one           in [-1, 2*one + 1] (sum_bits)
    out = x * s                             signed out_bits

Stream protocol (docs/gelu.md): ``s_axis`` beats carry ``lanes`` signed
in_bits elements, ``m_axis`` beats the ``lanes`` signed out_bits results of
the same beat, ``tlast`` passed through; words padded to whole bytes.  The
unit is elementwise: any number of beats, no row length.

Pipeline (rtl_gen/pipeline.py: a hold pipeline, ``lanes`` elements a cycle,
latency 4 cycles from a beat taken to its result offered):

1. clip: d = min(|x|, -b) + b      (x carried along)
2. square: sq = d * d              (a DSP multiplier)
3. erf: s = (sign(x) * (-c - sq)) >>> erf_shift + one
4. out = x * s                     (a DSP multiplier; the output register)

For x = 0 the RTL takes sign(x) = +1 instead of 0: t differs, but out = 0 * s
= 0 either way (the proof and the exhaustive simulation compare ``out``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from golden_model.gelu import GeluSpec, gelu_spec
from golden_model.numerics import Numerics
from golden_model.widths import bits_for

from . import emit
from .config import ConfigError, UnitConfig, rng
from .pipeline import StreamIn, StreamPipe, const, zext

TOP = "qbert_gelu"
IN = "s_axis"
#: register stages from a beat taken to its result offered on m_axis
LATENCY = 4
_NUM = Numerics()


@dataclass(frozen=True)
class GeluConfig(UnitConfig, emit.LaneWords):
    UNIT = "gelu"

    lanes: int = field(default=4, metadata=rng(1, 32, "elements per beat"))
    in_bits: int = field(default=_NUM.gelu_in_bits, metadata=rng(4, 20, "input width (signed)"))
    frac_bits: int = field(default=_NUM.gelu_frac_bits,
                           metadata=rng(1, 18, "fractional bits of the input (<= in_bits - 2)"))
    erf_bits: int = field(default=_NUM.gelu_erf_bits,
                          metadata=rng(4, 16, "bits kept of the erf polynomial"))

    def _check(self) -> None:
        if self.frac_bits > self.in_bits - 2:
            raise ConfigError(f"gelu: frac_bits must be an integer in [1, in_bits - 2 = "
                              f"{self.in_bits - 2}] for in_bits={self.in_bits}, "
                              f"got {self.frac_bits}")
        try:
            self.spec
        except ValueError as e:
            raise ConfigError(f"gelu: in_bits/frac_bits/erf_bits: {e}") from None

    @property
    def spec(self) -> GeluSpec:
        return gelu_spec(self.in_bits, self.frac_bits, self.erf_bits)

    @property
    def out_bits(self) -> int:
        return self.spec.out_bits

    @property
    def abs_bits(self) -> int:
        """Signed width of |x|, -b and min(|x|, -b) + b."""
        return max(self.in_bits, bits_for(self.spec.b, -self.spec.b)) + 1

    @property
    def d_bits(self) -> int:
        """Signed width of d = min(|x|, -b) + b, in [b, 0]."""
        return bits_for(self.spec.b, 0)

    @property
    def sq_bits(self) -> int:
        """Unsigned width of sq = d * d, in [0, b^2]."""
        return bits_for(0, self.spec.b ** 2, signed=False)

    @property
    def latency(self) -> int:
        return LATENCY


def _lane(p: StreamPipe, cfg: GeluConfig, i: int):
    """The four stages of lane ``i``; returns its out_bits output register."""
    import veriloggen as vg
    from veriloggen import Mux, Signed, Slice
    s = cfg.spec
    IB, AB, DB, QB, TB, SB, OB = (cfg.in_bits, cfg.abs_bits, cfg.d_bits, cfg.sq_bits, s.t_bits,
                                  s.sum_bits, s.out_bits)
    n = f"l{i}"
    x = p.lane(IN, i, f"{n}_x")
    # 1. clip: |x| (AB bits holds -(-2^(IB-1))), min with -b, + b
    xw = p.wire(f"{n}_xw", AB, emit.sext(x, IB, AB))
    ax = p.wire(f"{n}_abs", AB, Mux(x[IB - 1], const(0, AB) - xw, xw))
    clip = p.wire(f"{n}_clip", AB, Mux(Signed(ax) < Signed(const(-s.b, AB)), ax, const(-s.b, AB)))
    d = p.wire(f"{n}_d", AB, clip + const(s.b, AB))
    p.unused(Slice(d, AB - 1, DB))   # d in [b, 0]: its top bits repeat the sign
    x1 = p.stage(f"{n}_x1_q", IB, x)
    d1 = p.stage(f"{n}_d1_q", DB, Slice(d, DB - 1, 0))
    # 2. square, operands widened to the product width (Veriloggen sizes a
    # product as its widest operand)
    PW = 2 * DB
    sq = p.wire(f"{n}_sq", PW, Signed(emit.sext(d1, DB, PW)) * Signed(emit.sext(d1, DB, PW)))
    p.unused(Slice(sq, PW - 1, QB))  # sq in [0, b^2]
    x2 = p.stage(f"{n}_x2_q", IB, x1)
    sq2 = p.stage(f"{n}_sq2_q", QB, Slice(sq, QB - 1, 0))
    # 3. erf: t = sign(x) * (-c - sq); s = (t >>> erf_shift) + one
    npoly = p.wire(f"{n}_npoly", TB, const(-s.c, TB) - zext(sq2, QB, TB))
    t = p.wire(f"{n}_t", TB, Mux(x2[IB - 1], const(0, TB) - npoly, npoly))
    tsh = p.wire(f"{n}_tsh", TB, vg.Sra(Signed(t), const(s.erf_shift, 8)))
    SW = max(TB, SB)                 # t >>> erf_shift + one without wrapping
    s_full = p.wire(f"{n}_s", SW, emit.sext(tsh, TB, SW) + const(s.one, SW))
    if SW > SB:
        p.unused(Slice(s_full, SW - 1, SB))   # s in [-1, 2*one + 1]
    x3 = p.stage(f"{n}_x3_q", IB, x2)
    s3 = p.stage(f"{n}_s3_q", SB, Slice(s_full, SB - 1, 0))
    # 4. out = x * s (exact in out_bits)
    prod = p.wire(f"{n}_prod", OB, Signed(emit.sext(x3, IB, OB)) * Signed(emit.sext(s3, SB, OB)))
    return p.stage(f"{n}_out_q", OB, prod)


def build(cfg: GeluConfig):
    """The Veriloggen Module of ``cfg``."""
    from veriloggen import Module
    m = Module(TOP)
    p = StreamPipe(m, [StreamIn(IN, cfg.lanes, cfg.in_bits)], cfg.lanes, cfg.out_bits, LATENCY)
    p.finish([_lane(p, cfg, i) for i in range(cfg.lanes)])
    return m


def verilog(cfg: GeluConfig) -> str:
    s = cfg.spec
    return emit.verilog_text(build(cfg), cfg, "rtl_gen/gelu.py",
                             "Stream protocol and numerics: docs/gelu.md", b=s.b, c=s.c,
                             erf_shift=s.erf_shift, one=s.one, out_bits=s.out_bits)


def generate(cfg: GeluConfig, out_dir: str | os.PathLike) -> Path:
    """Write ``qbert_gelu.v``, ``files.f`` and ``params.json`` into ``out_dir``
    (all or nothing; see :func:`rtl_gen.emit.write_outputs`)."""
    if not isinstance(cfg, GeluConfig):
        raise ConfigError(f"generate wants a GeluConfig, got {type(cfg).__name__}")
    return emit.write_outputs(cfg, out_dir, {f"{TOP}.v": verilog(cfg)})


def sources(rtl_dir: str | os.PathLike) -> list[Path]:
    return emit.sources(rtl_dir, "gelu")


__all__ = ["GeluConfig", "generate", "build", "verilog", "sources", "TOP", "LATENCY"]
