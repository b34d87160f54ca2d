"""Proof of the generated residual-add unit (``rtl_gen.residual``, top
``qbert_residual``).

Two requantizers a lane, each proven as in formal/requant.py (R1-R3, against
``qbert_requant_ref`` at out_bits + 1), then

- S1 ``residual_equal``: the output register equals sat_out(ya + yb) of the
  two requantized operands of the beat (golden_model.elementwise.residual_add:
  the sum of two (out_bits + 1)-bit values fits out_bits + 2 bits, then
  saturates to out_bits), four advances after the beat was taken;

plus the environment, m_axis protocol and frame properties of formal/requant.py
(P1/P2, U1/U2/U3, G6).  Environment: every shift field <= 62.
"""
from __future__ import annotations

from golden_model.widths import int_range

from . import axis, equiv
from .matmul import inject
from .requant import _word, frame_block, lane_block, tdata_operands
from .sby import SbyJob


def residual_block(cfg) -> str:
    from rtl_gen.requant import MULT_BITS, PRM_FIELD_BITS, SHIFT_BITS
    from rtl_gen.residual import A, B, PRM, PRM_LANE_BITS
    L, OB = cfg.lanes, cfg.out_bits
    lo, hi = int_range(OB)
    SW = OB + 2
    shifts = [(i * PRM_LANE_BITS + off + MULT_BITS + SHIFT_BITS - 1, i * PRM_LANE_BITS + off + MULT_BITS)
              for i in range(L) for off in (0, PRM_FIELD_BITS)]
    lines = ["`ifdef FORMAL"]
    lines += frame_block(cfg.latency, A, {A: _word(L * cfg.a_bits), B: _word(L * cfg.b_bits),
                                          PRM: L * PRM_LANE_BITS},
                         _word(L * OB), {PRM: shifts})
    for i in range(L):
        for op, port, bits, field in (("a", A, cfg.a_bits, 0), ("b", B, cfg.b_bits, PRM_FIELD_BITS)):
            spec = equiv.RequantSpec(acc_bits=bits, out_bits=OB + 1)
            ops = tdata_operands(port, i, bits, PRM, i * PRM_LANE_BITS + field)
            lines += [line.replace("qbert_requant_ref", f"qbert_requant_ref_{op}")
                      for line in lane_block(f"{op}_l{i}", spec, *ops)]
        n = f"l{i}"
        lines += [
            f"    wire signed [{SW - 1}:0] f_sum_{n} = $signed(f_y3_a_{n}) + $signed(f_y3_b_{n});",
            f"    reg signed [{OB - 1}:0] f_y4_{n};",
            f"    always @(posedge clk) if (en) f_y4_{n} <= (f_sum_{n} > {hi}) ? {OB}'sd{hi} : "
            f"(f_sum_{n} < {lo}) ? -{OB}'sd{-lo} : f_sum_{n}[{OB - 1}:0];",
            f"    always @(*) if (f_chk) assert (!v4_q || $signed(y_{n}_q) == f_y4_{n});  // S1 residual_equal",
        ]
    lines.append("`endif")
    return "\n".join(lines) + "\n"


def residual_job(cfg, rtl_text: str | None = None, *, engine: str = "smtbmc yices",
                 depth: int = 2, mode: str = "prove", name: str | None = None,
                 mutate=None) -> SbyJob:
    """SBY job for the generated ``qbert_residual`` of ``cfg`` (or ``rtl_text``)."""
    from rtl_gen.residual import TOP, verilog
    text = rtl_text if rtl_text is not None else verilog(cfg)
    if mutate is not None:
        text = mutate(text)
    sources = {f"{TOP}.sv": inject(text, TOP, residual_block(cfg)),
               axis.CHECKER_FILE: axis.CHECKER_SV}
    for op, bits in (("a", cfg.a_bits), ("b", cfg.b_bits)):
        spec = equiv.RequantSpec(acc_bits=bits, out_bits=cfg.out_bits + 1)
        sources[f"qbert_requant_ref_{op}.sv"] = equiv.requant_ref_sv(spec, name=f"qbert_requant_ref_{op}")
    label = f"l{cfg.lanes}_a{cfg.a_bits}_b{cfg.b_bits}_o{cfg.out_bits}"
    return SbyJob(name or f"residual_{label}", TOP, sources, mode=mode, depth=depth, engine=engine,
                  description=f"qbert_residual {label}: y == residual_add(a, b, ...), m_axis "
                              f"protocol, frames in == frames out")


def unit_jobs(cfg, text: str, engine: str = "smtbmc yices"):
    """The residual unit's proof, its cover, both references vs numpy vectors,
    and the width/rounding lemmas."""
    from . import lemmas
    from rtl_gen.requant import REQ_BITS
    specs = [equiv.RequantSpec(acc_bits=b, out_bits=cfg.out_bits + 1) for b in (cfg.a_bits, cfg.b_bits)]
    jobs = [residual_job(cfg, text, engine=engine),
            residual_job(cfg, text, engine=engine, mode="cover", depth=9,
                         name=f"residual_cover_l{cfg.lanes}")]
    jobs += [equiv.requant_vectors_job(s, engine=engine) for s in dict.fromkeys(specs)]
    lem = [lambda s=s: lemmas.requant_width(s.acc_bits, s.mult_bits, s.shift_max, REQ_BITS)
           for s in dict.fromkeys(specs)]
    return jobs, lem + [lambda: lemmas.round_half_up(specs[0].shift_max)]
