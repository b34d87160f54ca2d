"""Iterative unsigned restoring divider: quot = floor(num / den), rem = num - quot*den.

A generic submodule that other generators instantiate (``m.Instance``): the
softmax unit's factor = floor(2^32 / sum) and layernorm's floor(2^31 / std).

Ports (``clk``, ``rst`` synchronous active-high)::

    input                 start_i   accepted when ready_o is high
    input  [num_bits-1:0] num_i     dividend, unsigned
    input  [den_bits-1:0] den_i     divisor, unsigned
    output                ready_o   idle: can take start_i this cycle
    output                done_o    one-cycle pulse: quot_o/rem_o are valid
    output [num_bits-1:0] quot_o    floor(num / den)
    output [den_bits-1:0] rem_o     num - quot * den (< den)

Timing: a start accepted in cycle t (start_i && ready_o) gives done_o high in
cycle t + :attr:`DividerConfig.latency` (= steps + 1, steps = ceil(num_bits /
bits_per_cycle)); ready_o is low from t + 1 until the done cycle, in which a
new start may already be accepted (one division every latency cycles).
quot_o and rem_o hold their value from the done cycle until the next start is
accepted.  num_i and den_i are sampled only in the start cycle.

Division by zero: den_i == 0 gives quot_o = all ones and rem_o =
num_i mod 2^den_bits (every trial subtraction of 0 succeeds; the remainder
register keeps the low den_bits of the dividend).

Algorithm: the dividend is zero-padded on top to steps * bits_per_cycle bits
and held in ``num_q``, a shift register that retires bits_per_cycle dividend
bits from its top each cycle while the quotient bits shift in at its bottom;
each retired bit is one restoring step rem' = 2*rem + bit, minus den if that
does not go negative (bits_per_cycle such steps chained per cycle).  rem < den
after every step, so rem fits den_bits and the trial 2*rem + bit den_bits + 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .config import UnitConfig, choice, rng
from . import emit


@dataclass(frozen=True)
class DividerConfig(UnitConfig):
    UNIT = "divider"

    num_bits: int = field(default=33, metadata=rng(1, 64, "unsigned dividend width"))
    den_bits: int = field(default=32, metadata=rng(1, 64, "unsigned divisor width"))
    bits_per_cycle: int = field(default=2, metadata=choice(1, 2, 4, doc="quotient bits retired per cycle"))

    @property
    def steps(self) -> int:
        """Cycles of division (bits_per_cycle quotient bits each)."""
        return -(-self.num_bits // self.bits_per_cycle)

    @property
    def padded_bits(self) -> int:
        """Width of the dividend/quotient shift register (num_bits rounded up)."""
        return self.steps * self.bits_per_cycle

    @property
    def latency(self) -> int:
        """Cycles from the start accepted to done_o high."""
        return self.steps + 1

    @property
    def module_name(self) -> str:
        return f"qbert_div_n{self.num_bits}_d{self.den_bits}_r{self.bits_per_cycle}"


def _k(v: int, w: int):
    from veriloggen import Int
    return Int(v, w, 10)


def build(cfg: DividerConfig, name: str | None = None):
    """The divider of ``cfg`` as a Veriloggen Module (named ``name`` or
    :attr:`DividerConfig.module_name`)."""
    from veriloggen import AndList, Cat, If, Module, Mux, Not, Posedge, Slice, Uxor

    N, D, R = cfg.num_bits, cfg.den_bits, cfg.bits_per_cycle
    P, S = cfg.padded_bits, cfg.steps
    CW = emit.clog2(S)

    m = Module(name or cfg.module_name)
    clk = m.Input("clk")
    rst = m.Input("rst")
    start = m.Input("start_i")
    num_i = m.Input("num_i", N)
    den_i = m.Input("den_i", D)
    ready_o = m.Output("ready_o")
    done_o = m.Output("done_o")
    quot_o = m.Output("quot_o", N)
    rem_o = m.Output("rem_o", D)

    busy = m.Reg("busy_q")
    done = m.Reg("done_q")
    cnt = m.Reg("cnt_q", CW)
    num_q = m.Reg("num_q", P)     # remaining dividend bits on top, quotient bits below
    den_q = m.Reg("den_q", D)
    rem_q = m.Reg("rem_q", D)

    accept = m.Wire("accept")
    m.Assign(accept(AndList(start, Not(busy))))

    # bits_per_cycle chained restoring steps on the top dividend bits of num_q
    rem = rem_q
    qbits, msbs = [], []
    for j in range(R):
        trial = m.Wire(f"trial{j}", D + 1)
        m.Assign(trial(Cat(rem, num_q[P - 1 - j])))
        take = m.Wire(f"take{j}")
        m.Assign(take(trial >= Cat(_k(0, 1), den_q)))
        diff = m.Wire(f"diff{j}", D + 1)
        m.Assign(diff(trial - Cat(_k(0, 1), den_q)))
        nxt = m.Wire(f"rem{j}", D)
        # take: trial - den < den fits D bits; else trial = 2*rem + bit < den too
        m.Assign(nxt(Mux(take, Slice(diff, D - 1, 0), Slice(trial, D - 1, 0))))
        qbits.append(take)
        msbs += [trial[D], diff[D]]
        rem = nxt
    # the MSBs of trial and diff are 0 whenever they are kept (rem < den)
    unused = m.Wire("unused_step_msbs")
    m.Assign(unused(Uxor(Cat(*msbs))))
    shifted = Cat(Slice(num_q, P - R - 1, 0), *qbits) if P > R else Cat(*qbits)
    num_in = Cat(_k(0, P - N), num_i) if P > N else num_i

    m.Always(Posedge(clk))(
        If(rst)(busy(_k(0, 1)), done(_k(0, 1)), cnt(_k(0, CW)))
        .Else(
            done(_k(0, 1)),
            If(accept)(
                busy(_k(1, 1)), cnt(_k(0, CW)), num_q(num_in), den_q(den_i), rem_q(_k(0, D)),
            ).Elif(busy)(
                num_q(shifted), rem_q(rem), cnt(cnt + _k(1, CW)),
                If(cnt == _k(S - 1, CW))(busy(_k(0, 1)), done(_k(1, 1))),
            ),
        ))

    m.Assign(ready_o(Not(busy)))
    m.Assign(done_o(done))
    m.Assign(quot_o(Slice(num_q, N - 1, 0)))
    m.Assign(rem_o(rem_q))
    if P > N:
        # quot <= num < 2^num_bits: the padding bits of the quotient are 0
        pad = m.Wire("unused_quot_pad")
        m.Assign(pad(Uxor(Slice(num_q, P - 1, N))))
    return m


def verilog(cfg: DividerConfig, name: str | None = None) -> str:
    """The divider as a standalone Verilog file."""
    return emit.verilog_text(build(cfg, name), cfg, "rtl_gen/divider.py",
                             "Ports and timing: rtl_gen/divider.py docstring", latency=cfg.latency)


__all__ = ["DividerConfig", "build", "verilog"]
