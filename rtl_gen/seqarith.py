"""The iterative exact integer square root submodule (one root bit a cycle).

:func:`build_isqrt` -- floor square root, restoring digit by digit, with the
handshake of the shared divider (rtl_gen/divider.py): ``start_i`` is taken
while ``ready_o`` is high, ``done_o`` pulses for one cycle when the result is
valid, and the result is held until the next start.  Latency (start accepted
to ``done_o`` high) is the number of root bits: :func:`isqrt_latency`.
"""
from __future__ import annotations


def _k(v: int, w: int):
    from veriloggen import Int
    return Int(v & ((1 << w) - 1), w, 10)


def isqrt_root_bits(x_bits: int) -> int:
    return (x_bits + 1) // 2


def isqrt_latency(x_bits: int) -> int:
    return isqrt_root_bits(x_bits)


def isqrt_name(x_bits: int) -> str:
    return f"qbert_isqrt_x{x_bits}"


def build_isqrt(x_bits: int):
    """root_o = floor(sqrt(x_i)); x_i unsigned x_bits (even-padded), root_o
    unsigned ceil(x_bits/2).

    Each step consumes the next two bits of x (MSB first):
    rem' = 4*rem + bits, trial = 4*root + 1, take = rem' >= trial,
    rem' -= trial if take, root' = 2*root + take.  Invariants (proved in
    formal/layernorm.py): root^2 + rem == consumed prefix of x, rem <= 2*root,
    so rem fits root_bits + 1 bits and rem' root_bits + 3.
    """
    from veriloggen import AndList, Cat, If, Module, Mux, Not, Posedge, Slice, Uxor

    RB = isqrt_root_bits(x_bits)
    XB = 2 * RB                      # x padded to whole digit pairs
    RW = RB + 3                      # rem' = 4*rem + 3 with rem <= 2*root < 2^(RB+1)
    CW = max(1, RB.bit_length())
    m = Module(isqrt_name(x_bits))
    clk = m.Input("clk")
    rst = m.Input("rst")
    start = m.Input("start_i")
    x_i = m.Input("x_i", x_bits)
    ready = m.Output("ready_o")
    done = m.Output("done_o")
    root_o = m.Output("root_o", RB)

    x_q = m.Reg("x_q", XB)           # unconsumed bits of x, MSB first
    rem_q = m.Reg("rem_q", RB + 1)
    root_q = m.Reg("root_q", RB)
    cnt_q = m.Reg("cnt_q", CW)
    busy_q = m.Reg("busy_q")
    done_q = m.Reg("done_q")

    rem_d = m.Wire("rem_d", RW)
    trial = m.Wire("trial", RW)
    take = m.Wire("take")
    rem_n = m.Wire("rem_n", RW)
    m.Assign(rem_d(Cat(rem_q, Slice(x_q, XB - 1, XB - 2))))
    m.Assign(trial(Cat(_k(0, 1), root_q, _k(1, 2))))
    m.Assign(take(rem_d >= trial))
    m.Assign(rem_n(Mux(take, rem_d - trial, rem_d)))
    # rem_n <= 2*root' < 2^(RB+1): its top two bits are always 0 (proved)
    unused = m.Wire("unused_rem_n")
    m.Assign(unused(Uxor(Slice(rem_n, RW - 1, RB + 1))))
    x_pad = x_i if XB == x_bits else Cat(_k(0, XB - x_bits), x_i)
    root_shift = Cat(Slice(root_q, RB - 2, 0), take) if RB > 1 else take

    m.Always(Posedge(clk))(
        If(rst)(busy_q(0), done_q(0)).Else(
            done_q(0),
            If(AndList(start, Not(busy_q)))(
                x_q(x_pad), rem_q(0), root_q(0), cnt_q(0), busy_q(1),
            ).Elif(busy_q)(
                x_q(Cat(Slice(x_q, XB - 3, 0), _k(0, 2)) if XB > 2 else _k(0, 2)),
                rem_q(Slice(rem_n, RB, 0)), root_q(root_shift), cnt_q(cnt_q + 1),
                If(cnt_q == _k(RB - 1, CW))(busy_q(0), done_q(1)),
            ),
        ))
    m.Assign(ready(Not(busy_q)))
    m.Assign(done(done_q))
    m.Assign(root_o(root_q))
    return m


__all__ = ["build_isqrt", "isqrt_latency", "isqrt_root_bits", "isqrt_name"]
