"""The requantizer pipeline every generator shares (docs/numerics.md
"Requantization"): y = sat_out(((acc * M) + 2^(s-1)) >>> s), round half up.

Two register stages that advance on ``en``: the exact product acc * M
(acc_bits + 31 bits, signed x unsigned), then add the rounding term, shift
arithmetically and saturate to out_bits.  Signal names carry ``sfx`` so several
lanes can share one module.
"""
from __future__ import annotations

from golden_model.quant import MULT_BITS

from . import emit

SHIFT_BITS = 6
#: Width of the rounding/shift datapath: holds acc*M (acc_bits + 31 <= 63
#: bits) plus the rounding term 2^(s-1) <= 2^61 without wrapping.
REQ_BITS = 64


def requant_stages(m, clk, en, acc, acc_bits: int, mult, shift, out_bits: int, sfx: str):
    """Registers ``req_prod -> s2_prod_{sfx}_q`` then ``sat -> out_{sfx}_q``.

    ``acc``: acc_bits signed; ``mult``: 31 bits unsigned; ``shift``: 6 bits
    unsigned, all valid in the cycle ``en`` takes them.  Returns the out_bits
    signed output register (valid two ``en`` cycles later).
    """
    from veriloggen import Cat, If, Int, Mux, OrList, Posedge, Signed, Slice, Sll, Sra, Srl

    def k(v: int, w: int):
        return Int(v, w, 10)

    A, OB = acc_bits, out_bits
    PW = A + MULT_BITS  # exact width of acc * mult
    # stage 2: exact product, signed acc x unsigned 31-bit multiplier
    prod = m.Wire(f"req_prod_{sfx}", PW)
    m.Assign(prod(Signed(emit.sext(acc, A, PW)) * Signed(Cat(k(0, PW - MULT_BITS), mult))))
    s2_prod = m.Reg(f"s2_prod_{sfx}_q", PW)
    s2_shift = m.Reg(f"s2_shift_{sfx}_q", SHIFT_BITS)
    m.Always(Posedge(clk))(If(en)(s2_prod(prod), s2_shift(shift)))

    # stage 3: + 2^(s-1) (0 for s = 0), arithmetic shift, saturate
    rnd = m.Wire(f"rnd_{sfx}", REQ_BITS)
    m.Assign(rnd(Srl(Sll(k(1, REQ_BITS), s2_shift), k(1, REQ_BITS))))
    biased = m.Wire(f"biased_{sfx}", REQ_BITS)
    m.Assign(biased(emit.sext(s2_prod, PW, REQ_BITS) + rnd))
    shr = m.Wire(f"shr_{sfx}", REQ_BITS)
    m.Assign(shr(Sra(Signed(biased), s2_shift)))
    # in range iff bits [63:OB-1] are all equal (all 0s or all 1s)
    hi = Slice(shr, REQ_BITS - 1, OB - 1)
    fits = m.Wire(f"fits_{sfx}")
    m.Assign(fits(OrList(hi == k(0, REQ_BITS - OB + 1),
                         hi == Int((1 << (REQ_BITS - OB + 1)) - 1, REQ_BITS - OB + 1, 16))))
    sat = m.Wire(f"sat_{sfx}", OB)
    m.Assign(sat(Mux(fits, Slice(shr, OB - 1, 0),
                     Mux(shr[REQ_BITS - 1], Int(1 << (OB - 1), OB, 16),
                         Int((1 << (OB - 1)) - 1, OB, 16)))))
    o = m.Reg(f"out_{sfx}_q", OB)
    m.Always(Posedge(clk))(If(en)(o(sat)))
    return o
