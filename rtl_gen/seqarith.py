"""Iterative (one result bit a cycle) arithmetic submodules shared by generators.

* :func:`build_isqrt` -- exact floor square root, restoring digit by digit.
* :func:`build_divider` -- exact unsigned restoring division, following the
  shared divider contract (DESIGN.md / issue 4: ports clk, rst, start_i,
  num_i, den_i, ready_o, done_o, quot_o, rem_o).  It stands in until
  rtl_gen/divider.py (branch issue4-formal) lands; the ports are the same so
  the swap is a one-line change in the instantiating generator.

Both are handshake submodules: ``start_i`` is taken while ``ready_o`` is high,
``done_o`` pulses for one cycle when the result is valid, and the result is held
until the next start.  Latency (start accepted to ``done_o`` high) is the number
of result bits: :func:`isqrt_latency`, :func:`divider_latency`.
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


def divider_latency(num_bits: int) -> int:
    return num_bits


def divider_name(num_bits: int, den_bits: int) -> str:
    return f"qbert_seqdiv_n{num_bits}_d{den_bits}"


def build_divider(num_bits: int, den_bits: int):
    """quot_o = floor(num_i / den_i), rem_o = num_i mod den_i (unsigned), one
    quotient bit a cycle, MSB first (restoring).  den_i == 0 gives quot_o all
    ones.  num_i and den_i are sampled at start."""
    from veriloggen import AndList, Cat, If, Module, Mux, Not, Posedge, Slice

    N, D = num_bits, den_bits
    CW = max(1, N.bit_length())
    m = Module(divider_name(N, D))
    clk = m.Input("clk")
    rst = m.Input("rst")
    start = m.Input("start_i")
    num_i = m.Input("num_i", N)
    den_i = m.Input("den_i", D)
    ready = m.Output("ready_o")
    done = m.Output("done_o")
    quot_o = m.Output("quot_o", N)
    rem_o = m.Output("rem_o", D)

    # quo_q starts as the dividend and fills with quotient bits from the right
    quo_q = m.Reg("quo_q", N)
    rem_q = m.Reg("rem_q", D)
    den_q = m.Reg("den_q", D)
    cnt_q = m.Reg("cnt_q", CW)
    busy_q = m.Reg("busy_q")
    done_q = m.Reg("done_q")
    trial = m.Wire("trial", D + 1)
    take = m.Wire("take")
    diff = m.Wire("diff", D + 1)
    m.Assign(trial(Cat(rem_q, quo_q[N - 1])))
    m.Assign(take(trial >= Cat(_k(0, 1), den_q)))
    m.Assign(diff(trial - Cat(_k(0, 1), den_q)))
    # rem < den after every step (den != 0), so the kept D bits are exact
    rem_n = Mux(take, Slice(diff, D - 1, 0), Slice(trial, D - 1, 0))
    unused = m.Wire("unused_div_diff")
    m.Assign(unused(diff[D]))

    m.Always(Posedge(clk))(
        If(rst)(busy_q(0), done_q(0)).Else(
            done_q(0),
            If(AndList(start, Not(busy_q)))(
                quo_q(num_i), rem_q(0), den_q(den_i), cnt_q(0), busy_q(1),
            ).Elif(busy_q)(
                quo_q(Cat(Slice(quo_q, N - 2, 0), take) if N > 1 else take),
                rem_q(rem_n), cnt_q(cnt_q + 1),
                If(cnt_q == _k(N - 1, CW))(busy_q(0), done_q(1)),
            ),
        ))
    m.Assign(ready(Not(busy_q)))
    m.Assign(done(done_q))
    m.Assign(quot_o(quo_q))
    m.Assign(rem_o(rem_q))
    return m


__all__ = ["build_isqrt", "build_divider", "isqrt_latency", "divider_latency",
           "isqrt_root_bits", "isqrt_name", "divider_name"]
