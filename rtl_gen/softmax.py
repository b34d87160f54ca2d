"""Streaming I-BERT integer softmax unit, bit-exact to golden_model.softmax.

Computes, per row, ``p = int_softmax(x, softmax_spec(in_bits, frac_bits,
out_bits, max_len))`` (docs/numerics.md "Softmax", docs/softmax.md).

Stream protocol
---------------
* ``s_axis``: a row of n scores (1 <= n <= max_len) arrives as ceil(n / LANES)
  beats; beat j carries x[j*LANES .. j*LANES+LANES-1], lane i (signed in_bits)
  in ``tdata[in_bits*i +: in_bits]``; ``tdata`` is padded to whole bytes (the
  pad is ignored).  ``tlast`` marks the last beat of the row.
  ``s_axis_tkeep`` has one bit per lane (not per byte): all ones before
  ``tlast``, lanes 0..k-1 (k >= 1) on the ``tlast`` beat.  A lane without
  tkeep is not a score (left out of the max and the sum; its output is 0).
  Any other tkeep raises the sticky ``err_keep_o`` (the lanes are still
  masked as given).  A row that reaches max_len / LANES beats without
  ``tlast`` is ended there and raises the sticky ``err_len_o``.
* ``m_axis``: the row's beats, lane i (unsigned out_bits) in
  ``tdata[out_bits*i +: out_bits]``, pad bits 0; ``m_axis_tkeep`` repeats the
  input's; ``tlast`` on the last beat.

Architecture: four stages over four rotating banks
--------------------------------------------------
Four banks of max_len / LANES words (a word: LANES lanes of
max(in_bits, exp_bits) bits and the beat's tkeep).  Row r lives in bank
r mod 4; each bank's state (FREE, LOADED, EXPED, READY) says which stage
takes it next, and each stage walks the banks in order:

1. LOAD: beats into the FREE bank ``ld_bank_q`` at one a cycle, the running
   max over the kept lanes; at the row's end the bank is LOADED.
2. EXP (``er_*`` read stage, ``ew_*`` write stage): read the row back, per
   lane d = x - max through ``qbert_softmax_exp`` (clamp, range reduction,
   polynomial, shift), e written back over x, the row sum accumulated; the
   read stage starts the next LOADED bank right after the last address of
   the current one, so rows follow without a bubble.  Then EXPED.
3. DIV: factor = floor(2^32 / sum) by the shared divider
   (:mod:`rtl_gen.divider`, instance ``u_div``, :attr:`SoftmaxConfig.divider`);
   then READY.
4. OUT (``or_*`` read, ``od_*`` data, ``out_*`` register, all held while an
   offered beat is not taken): p = min((e*factor + 2^(k-1)) >> k,
   2^out_bits - 1); the bank is FREE when its last beat is taken.

Latency and throughput (B = ceil(n / LANES), V = div_cycles =
ceil(33 / div_bits_per_cycle) + 2, no stalls; measured by the
``softmax_latency`` cocotb test and ``qbert bench softmax``): the first output
beat is valid 2*B + V + 5 cycles after the first input beat is accepted
(:meth:`SoftmaxConfig.latency`), the last one B - 1 cycles later; back to
back, a row ends every max(B, V) cycles (:meth:`SoftmaxConfig.row_period`):
LANES scores a cycle for rows of at least V*LANES scores (76 at the defaults).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from golden_model.numerics import Numerics
from golden_model.softmax import DIV_BITS, N_CLAMP, SoftmaxSpec, softmax_spec
from golden_model.widths import bits_for

from .config import ConfigError, UnitConfig, choice, rng
from . import divider, emit

TOP = "qbert_softmax"
EXP_TOP = "qbert_softmax_exp"
_NUM = Numerics()
#: rotating buffer banks, one per stage (LOAD, EXP, DIV, OUT), and the bank
#: states, i.e. which stage may use the bank next
BANKS, BANK_BITS = 4, 2
S_FREE, S_LOADED, S_EXPED, S_READY = 0, 1, 2, 3


@dataclass(frozen=True)
class SoftmaxConfig(UnitConfig, emit.LaneWords):
    UNIT = "softmax"

    lanes: int = field(default=4, metadata=rng(1, 32, "scores per beat"))
    max_len: int = field(default=_NUM.max_seq, metadata=rng(1, 4096, "longest row (scores)"))
    in_bits: int = field(default=_NUM.softmax_in_bits, metadata=rng(4, 24, "score width (signed)"))
    frac_bits: int = field(default=_NUM.softmax_frac_bits,
                           metadata=rng(2, 12, "fractional bits of the scores"))
    out_bits: int = field(default=_NUM.softmax_out_bits,
                          metadata=rng(2, 15, "probability width (unsigned)"))
    div_bits_per_cycle: int = field(default=2, metadata=choice(
        1, 2, 4, doc="quotient bits the reciprocal divider retires a cycle"))

    def _check(self) -> None:
        if self.max_len % self.lanes:
            raise ConfigError(f"softmax: max_len={self.max_len} must be a multiple of "
                              f"lanes={self.lanes} (rows are whole beats)")
        try:
            self.spec
        except ValueError as e:
            raise ConfigError(f"softmax: in_bits/frac_bits/out_bits/max_len: {e}") from None

    @property
    def spec(self) -> SoftmaxSpec:
        return softmax_spec(self.in_bits, self.frac_bits, self.out_bits, self.max_len)

    @property
    def depth(self) -> int:
        """Buffer words (beats of the longest row)."""
        return self.max_len // self.lanes

    @property
    def diff_bits(self) -> int:
        """Signed width of d = x - max and of its clamp bound N_CLAMP * x0."""
        return max(self.spec.diff_bits, bits_for(N_CLAMP * self.spec.x0, 0))

    @property
    def poly_bits(self) -> int:
        """Signed width holding r, r + b, (r + b) * r and z without wrapping."""
        s = self.spec
        bound = (abs(s.x0) + abs(s.b)) * abs(s.x0) + abs(s.c)
        return max(self.diff_bits, bits_for(-bound, bound)) + 1

    @property
    def lane_word_bits(self) -> int:
        """Bits a lane takes in a buffer word: x (signed in_bits), later e (exp_bits)."""
        return max(self.in_bits, self.spec.exp_bits)

    @property
    def divider(self) -> divider.DividerConfig:
        """The shared divider instantiated for factor = floor(2^32 / sum):
        dividend 2^32 (33 bits), divisor the row sum (sum_bits)."""
        return divider.DividerConfig(num_bits=DIV_BITS + 1, den_bits=self.spec.sum_bits,
                                     bits_per_cycle=self.div_bits_per_cycle)

    @property
    def div_cycles(self) -> int:
        """Cycles the DIV stage takes a row: the start cycle, the divider's
        latency (ceil(33 / div_bits_per_cycle) + 1), then the hand-off."""
        return self.divider.latency + 1

    def beats(self, n: int) -> int:
        """Input (and output) beats of a row of n scores."""
        return -(-n // self.lanes)

    def latency(self, n: int) -> int:
        """Cycles from the first input beat accepted to the first output beat
        valid, for a row of n scores, no stalls: B load, 1 hand-off, B + 1 EXP
        (read, write-back), div_cycles DIV, then the OUT read, data and
        output registers."""
        return 2 * self.beats(n) + self.div_cycles + 5

    def row_period(self, n: int) -> int:
        """Cycles between the ends of back-to-back rows of n scores, no stalls,
        once the pipeline is full: LOAD, EXP and OUT take B cycles a row and
        hand over without a bubble, DIV div_cycles; the slowest sets the pace
        (measured for 1..512 scores by `qbert bench softmax`)."""
        return max(self.beats(n), self.div_cycles)


# --------------------------------------------------------------------------
# Veriloggen construction
# --------------------------------------------------------------------------

def _veri():
    import veriloggen as vg
    return vg


def _k(v: int, w: int):
    """A w-bit constant (two's complement bit pattern for negative v)."""
    return _veri().Int(v & ((1 << w) - 1), w, 16)


def _zext(sig, fw: int, tw: int):
    vg = _veri()
    return sig if tw == fw else vg.Cat(_k(0, tw - fw), sig)


def _exp_lane(m, cfg: SoftmaxConfig, name: str, d):
    """e = int_exp(d) for one lane; ``d`` is a diff_bits-wide signed expression
    (<= 0).  Returns the exp_bits-wide unsigned wire e."""
    vg = _veri()
    s = cfg.spec
    DW, MW, EB = cfg.diff_bits, cfg.poly_bits, s.exp_bits
    clamp = N_CLAMP * s.x0
    dw = m.Wire(f"{name}_d", DW)
    m.Assign(dw(d))
    dc = m.Wire(f"{name}_dc", DW)
    m.Assign(dc(vg.Mux(vg.Signed(dw) < vg.Signed(_k(clamp, DW)), _k(clamp, DW), dw)))
    # q = floor(d / x0) = #{j in 1..N_CLAMP : d <= j*x0} (x0 < 0), as a priority
    # chain from j = N_CLAMP down; off = q * x0
    q = m.Wire(f"{name}_q", 5)
    off = m.Wire(f"{name}_off", DW)
    qsel, osel = _k(0, 5), _k(0, DW)
    for j in range(1, N_CLAMP + 1):
        hit = vg.Signed(dc) <= vg.Signed(_k(j * s.x0, DW))
        qsel = vg.Mux(hit, _k(j, 5), qsel)
        osel = vg.Mux(hit, _k(j * s.x0, DW), osel)
    m.Assign(q(qsel))
    m.Assign(off(osel))
    r = m.Wire(f"{name}_r", MW)
    m.Assign(r(emit.sext(dc, DW, MW) - emit.sext(off, DW, MW)))
    rb = m.Wire(f"{name}_rb", MW)
    m.Assign(rb(r + _k(s.b, MW)))
    # operands and result all MW wide: the product cannot be cut short
    z = m.Wire(f"{name}_z", MW)
    m.Assign(z(vg.Signed(rb) * vg.Signed(r) + vg.Signed(_k(s.c, MW))))
    e = m.Wire(f"{name}_e", EB)
    m.Assign(e(vg.Srl(vg.Slice(z, EB - 1, 0), q)))
    # z is in [z_min, z_max] by construction: its bits above exp_bits are 0
    unused = m.Wire(f"unused_{name}_z")
    m.Assign(unused(vg.Uxor(vg.Slice(z, MW - 1, EB))))
    return e


def build_exp(cfg: SoftmaxConfig):
    """A combinational module of LANES exp stages (d_i -> e_o), built by the same
    code as the unit's EXP pass: the exhaustive check of the exp stage runs on it."""
    vg = _veri()
    L, DW, EB = cfg.lanes, cfg.diff_bits, cfg.spec.exp_bits
    m = vg.Module(EXP_TOP)
    d_i = m.Input("d_i", L * DW)
    e_o = m.Output("e_o", L * EB)
    es = []
    for i in range(L):
        d = m.Wire(f"l{i}_din", DW)
        m.Assign(d(vg.Slice(d_i, i * DW + DW - 1, i * DW)))
        es.append(_exp_lane(m, cfg, f"l{i}", d))
    m.Assign(e_o(vg.Cat(*reversed(es))))
    return m


def _pick(sel, items):
    """items[sel] as a Mux chain (sel a BANK_BITS-wide expression)."""
    vg = _veri()
    out = items[-1]
    for k in reversed(range(len(items) - 1)):
        out = vg.Mux(sel == _k(k, BANK_BITS), items[k], out)
    return out


def _lane_max_tree(m, xs, IB: int):
    """Signed max of ``xs`` by a compare tree; wires bmax_<n>."""
    vg = _veri()
    level, n = xs, 0
    while len(level) > 1:
        nxt = []
        for a, b in zip(level[0::2], level[1::2]):
            w = m.Wire(f"bmax_{n}", IB)
            n += 1
            m.Assign(w(vg.Mux(vg.Signed(a) < vg.Signed(b), b, a)))
            nxt.append(w)
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


class _BankWalker:
    """The read side of a stage (EXP, OUT): walks the banks in order, one
    address a cycle from 0 to the row's last word, and starts the next bank
    (``ready(bank)``) in the cycle after the current row's last address, so
    rows follow without a bubble.  Registers <pfx>_act_q, <pfx>_bank_q,
    <pfx>_ptr_q, <pfx>_last_q (ptr and last: clog2(depth) bits, unsigned)."""

    def __init__(self, m, pfx: str, aw: int, ready):
        vg = _veri()
        self.aw = aw
        self.act, self.bank = m.Reg(f"{pfx}_act_q"), m.Reg(f"{pfx}_bank_q", BANK_BITS)
        self.ptr, self.last = m.Reg(f"{pfx}_ptr_q", aw), m.Reg(f"{pfx}_last_q", aw)
        self.at_last = m.Wire(f"{pfx}_at_last")
        self.cand = m.Wire(f"{pfx}_cand", BANK_BITS)     # the bank a start would take
        self.start = m.Wire(f"{pfx}_start")
        m.Assign(self.at_last(self.ptr == self.last))
        m.Assign(self.cand(vg.Mux(self.act, self.bank + _k(1, BANK_BITS), self.bank)))
        m.Assign(self.start(vg.AndList(vg.OrList(vg.Not(self.act), self.at_last),
                                       ready(self.cand))))

    def reset(self) -> list:
        return [self.act(_k(0, 1)), self.bank(_k(0, BANK_BITS))]

    def step(self, blast, *loads):
        """One cycle: start (loading the bank's last word and ``loads``) or
        advance; the bank pointer moves on after the last address."""
        vg = _veri()
        return vg.If(self.start)(
            self.act(_k(1, 1)), self.bank(self.cand), self.ptr(_k(0, self.aw)),
            self.last(_pick(self.cand, blast)), *loads,
        ).Elif(self.act)(
            vg.If(self.at_last)(self.act(_k(0, 1)), self.bank(self.bank + _k(1, BANK_BITS)))
            .Else(self.ptr(self.ptr + _k(1, self.aw))))


def build(cfg: SoftmaxConfig):
    """The Veriloggen Module of ``cfg`` (instantiates ``qbert_softmax_exp``)."""
    vg = _veri()
    from veriloggen import AndList, Cat, If, Module, Mux, Not, OrList, Posedge, Signed, Slice

    s = cfg.spec
    L, IB, OB, EB, SB, FB = cfg.lanes, cfg.in_bits, cfg.out_bits, s.exp_bits, s.sum_bits, s.factor_bits
    DW = cfg.diff_bits
    MEMW = cfg.lane_word_bits
    WW = L * MEMW + L             # buffer word: lanes, then one keep bit a lane
    DEPTH = cfg.depth
    AW = emit.clog2(DEPTH)
    K = DIV_BITS - OB
    PW = EB + FB + 1              # e * factor + 2^(K-1) (e * factor <= 2^DIV_BITS)
    NB = BANKS
    ONES = _k((1 << L) - 1, L)

    m = Module(TOP)
    clk = m.Input("clk")
    rst = m.Input("rst")
    in_tdata = m.Input("s_axis_tdata", cfg.in_word_bits)
    in_tkeep = m.Input("s_axis_tkeep", L)
    in_tvalid = m.Input("s_axis_tvalid")
    in_tready = m.Output("s_axis_tready")
    in_tlast = m.Input("s_axis_tlast")
    out_tdata = m.Output("m_axis_tdata", cfg.out_word_bits)
    out_tkeep = m.Output("m_axis_tkeep", L)
    out_tvalid = m.Output("m_axis_tvalid")
    out_tready = m.Input("m_axis_tready")
    out_tlast = m.Output("m_axis_tlast")
    err_len_o = m.Output("err_len_o")
    err_keep_o = m.Output("err_keep_o")

    # per bank: its stage (FREE -> LOADED -> EXPED -> READY -> FREE) and what
    # the next stage needs: row max, last word, row sum, factor
    bstate = [m.Reg(f"bank{b}_state_q", 2) for b in range(NB)]
    bmax = [m.Reg(f"bank{b}_max_q", IB) for b in range(NB)]
    blast = [m.Reg(f"bank{b}_last_q", AW) for b in range(NB)]
    bsum = [m.Reg(f"bank{b}_sum_q", SB) for b in range(NB)]
    bfactor = [m.Reg(f"bank{b}_factor_q", FB) for b in range(NB)]
    bufs = [m.Reg(f"buf{b}_mem", WW, dims=DEPTH) for b in range(NB)]
    rdatas = [m.Reg(f"rdata{b}_q", WW) for b in range(NB)]

    def is_state(bank, st):
        return _pick(bank, bstate) == _k(st, 2)

    # ---- LOAD: beats into bank ld_bank_q, running max over the kept lanes ----
    ld_bank = m.Reg("ld_bank_q", BANK_BITS)
    wr_ptr = m.Reg("wr_ptr_q", AW)
    lmax = m.Reg("lmax_q", IB)
    err_len = m.Reg("err_len_q")
    err_keep = m.Reg("err_keep_q")
    in_fire, in_end, keep_bad = m.Wire("in_fire"), m.Wire("in_end"), m.Wire("keep_bad")
    m.Assign(in_tready(is_state(ld_bank, S_FREE)))
    m.Assign(in_fire(AndList(in_tready, in_tvalid)))
    m.Assign(in_end(OrList(in_tlast, wr_ptr == _k(DEPTH - 1, AW))))
    # a beat before tlast keeps every lane; the tlast beat keeps lanes 0..k-1, k >= 1
    thermo = AndList((in_tkeep & (in_tkeep + _k(1, L))) == _k(0, L), in_tkeep[0])
    m.Assign(keep_bad(Mux(in_tlast, Not(thermo), in_tkeep != ONES)))
    if cfg.in_word_bits > L * IB:
        pad = m.Wire("unused_in_pad")
        m.Assign(pad(vg.Uxor(Slice(in_tdata, cfg.in_word_bits - 1, L * IB))))
    xs, xk = [], []
    for i in range(L):
        x = m.Wire(f"in_x{i}", IB)
        m.Assign(x(Slice(in_tdata, i * IB + IB - 1, i * IB)))
        xs.append(x)
        kx = m.Wire(f"in_kx{i}", IB)     # a lane without tkeep cannot be the max
        m.Assign(kx(Mux(in_tkeep[i], x, _k(-(1 << (IB - 1)), IB))))
        xk.append(kx)
    beat_max = _lane_max_tree(m, xk, IB)
    row_max = m.Wire("row_max_d", IB)
    m.Assign(row_max(Mux(OrList(wr_ptr == _k(0, AW), Signed(lmax) < Signed(beat_max)),
                         beat_max, lmax)))
    x_word = Cat(in_tkeep, *[emit.sext(xs[i], IB, MEMW) for i in reversed(range(L))])

    # ---- EXP: read stage (er_*) issues addresses, write stage (ew_*) computes --
    exp_rd = _BankWalker(m, "er", AW, lambda b: is_state(b, S_LOADED))
    er_max = m.Reg("er_max_q", IB)
    ew_valid, ew_bank = m.Reg("ew_valid_q"), m.Reg("ew_bank_q", BANK_BITS)
    ew_addr, ew_last, ew_max = m.Reg("ew_addr_q", AW), m.Reg("ew_last_q"), m.Reg("ew_max_q", IB)
    sum_q = m.Reg("sum_q", SB)
    erd = m.Wire("exp_rdata", WW)
    m.Assign(erd(_pick(ew_bank, rdatas)))
    ds = []
    for i in range(L):
        xr = m.Wire(f"l{i}_x", IB)
        m.Assign(xr(Slice(erd, i * MEMW + IB - 1, i * MEMW)))
        d = m.Wire(f"l{i}_d", DW)
        m.Assign(d(emit.sext(xr, IB, DW) - emit.sext(ew_max, IB, DW)))
        ds.append(d)
    d_all, e_all = m.Wire("exp_d", L * DW), m.Wire("exp_e", L * EB)
    m.Assign(d_all(Cat(*reversed(ds))))
    m.Instance(build_exp(cfg), "u_exp", ports=[("d_i", d_all), ("e_o", e_all)])
    ekeep = m.Wire("exp_keep", L)
    m.Assign(ekeep(Slice(erd, WW - 1, L * MEMW)))
    es = []
    for i in range(L):
        e = m.Wire(f"l{i}_e", EB)       # a lane without tkeep adds 0 and outputs 0
        m.Assign(e(Mux(ekeep[i], Slice(e_all, i * EB + EB - 1, i * EB), _k(0, EB))))
        es.append(e)
    e_word = Cat(ekeep, *[_zext(es[i], EB, MEMW) for i in reversed(range(L))])
    if MEMW > IB:
        hi_x = m.Wire("unused_exp_xhi")
        m.Assign(hi_x(vg.Uxor(Cat(*[Slice(erd, i * MEMW + MEMW - 1, i * MEMW + IB)
                                    for i in range(L)]))))
    lane_sum = m.Wire("lane_sum", SB)
    total = _zext(es[0], EB, SB)
    for i in range(1, L):
        total = total + _zext(es[i], EB, SB)
    m.Assign(lane_sum(total))
    row_sum = m.Wire("row_sum_d", SB)
    m.Assign(row_sum(sum_q + lane_sum))

    # ---- DIV: factor = floor(2^32 / sum), div_bits_per_cycle bits a cycle ------
    dcfg = cfg.divider
    dv_act, dv_bank = m.Reg("dv_act_q"), m.Reg("dv_bank_q", BANK_BITS)
    dv_start, dv_ready, dv_done = m.Wire("dv_start"), m.Wire("dv_ready"), m.Wire("dv_done")
    dv_quot, dv_rem = m.Wire("dv_quot", dcfg.num_bits), m.Wire("dv_rem", dcfg.den_bits)
    m.Assign(dv_start(AndList(dv_ready, Not(dv_act), is_state(dv_bank, S_EXPED))))
    m.Instance(divider.build(dcfg), "u_div", ports=[
        ("clk", clk), ("rst", rst), ("start_i", dv_start),
        ("num_i", _k(1 << DIV_BITS, dcfg.num_bits)), ("den_i", _pick(dv_bank, bsum)),
        ("ready_o", dv_ready), ("done_o", dv_done), ("quot_o", dv_quot), ("rem_o", dv_rem)])
    # the row sum >= c, so 2^32 / sum fits factor_bits: the quotient's top bits
    # are 0; the remainder is not needed
    unused_div = m.Wire("unused_div")
    m.Assign(unused_div(vg.Uxor(Cat(Slice(dv_quot, dcfg.num_bits - 1, FB), dv_rem))))

    # ---- OUT: read stage (or_*), data stage (od_*), output register; all hold
    # while an offered beat is not taken -------------------------------------
    en = m.Wire("out_en")
    m.Assign(en(OrList(Not(out_tvalid), out_tready)))
    out_rd = _BankWalker(m, "or", AW, lambda b: is_state(b, S_READY))
    or_factor = m.Reg("or_factor_q", FB)
    od_valid, od_bank, od_last = m.Reg("od_valid_q"), m.Reg("od_bank_q", BANK_BITS), m.Reg("od_last_q")
    od_factor = m.Reg("od_factor_q", FB)
    out_valid, out_last, out_bank = m.Reg("out_valid_q"), m.Reg("out_last_q"), m.Reg("out_bank_q", BANK_BITS)
    out_data, out_keep = m.Reg("out_data_q", L * OB), m.Reg("out_keep_q", L)
    ord_ = m.Wire("out_rdata", WW)
    m.Assign(ord_(_pick(od_bank, rdatas)))
    ps = []
    for i in range(L):
        er = m.Wire(f"l{i}_er", EB)
        m.Assign(er(Slice(ord_, i * MEMW + EB - 1, i * MEMW)))
        prod = m.Wire(f"l{i}_prod", PW)
        m.Assign(prod(_zext(er, EB, PW) * _zext(od_factor, FB, PW) + _k(1 << (K - 1), PW)))
        p = m.Wire(f"l{i}_p", OB)
        hi = Slice(prod, PW - 1, K + OB)
        m.Assign(p(Mux(hi == _k(0, PW - K - OB), Slice(prod, K + OB - 1, K), _k((1 << OB) - 1, OB))))
        low = m.Wire(f"unused_l{i}_prod")
        m.Assign(low(vg.Uxor(Slice(prod, K - 1, 0))))
        ps.append(p)
    if MEMW > EB:
        hi_e = m.Wire("unused_out_ehi")
        m.Assign(hi_e(vg.Uxor(Cat(*[Slice(ord_, i * MEMW + MEMW - 1, i * MEMW + EB)
                                    for i in range(L)]))))

    # ---- the banks: one write port (LOAD or EXP write-back), one registered
    # read port (EXP or OUT); a bank belongs to one stage at a time ----------
    for b in range(NB):
        kb = _k(b, BANK_BITS)
        ld_w, ex_w = AndList(in_fire, ld_bank == kb), AndList(ew_valid, ew_bank == kb)
        ex_r, out_r = AndList(exp_rd.act, exp_rd.bank == kb), AndList(out_rd.act, en, out_rd.bank == kb)
        m.Always(Posedge(clk))(
            If(ld_w)(bufs[b][wr_ptr](x_word)).Elif(ex_w)(bufs[b][ew_addr](e_word)),
            If(ex_r)(rdatas[b](bufs[b][exp_rd.ptr])).Elif(out_r)(rdatas[b](bufs[b][out_rd.ptr])),
        )

    bank_updates = []
    for b in range(NB):
        kb = _k(b, BANK_BITS)
        bank_updates.append(
            If(rst)(bstate[b](_k(S_FREE, 2))).Else(
                If(AndList(in_fire, in_end, ld_bank == kb))(
                    bstate[b](_k(S_LOADED, 2)), bmax[b](row_max), blast[b](wr_ptr)),
                If(AndList(ew_valid, ew_last, ew_bank == kb))(
                    bstate[b](_k(S_EXPED, 2)), bsum[b](row_sum)),
                If(AndList(dv_done, dv_bank == kb))(bstate[b](_k(S_READY, 2)), bfactor[b](Slice(dv_quot, FB - 1, 0))),
                If(AndList(out_valid, out_tready, out_last, out_bank == kb))(
                    bstate[b](_k(S_FREE, 2)))))
    m.Always(Posedge(clk))(*bank_updates)

    m.Always(Posedge(clk))(
        If(rst)(
            ld_bank(_k(0, BANK_BITS)), wr_ptr(_k(0, AW)), err_len(_k(0, 1)), err_keep(_k(0, 1)),
            *exp_rd.reset(), ew_valid(_k(0, 1)), sum_q(_k(0, SB)),
            dv_act(_k(0, 1)), dv_bank(_k(0, BANK_BITS)),
            *out_rd.reset(), od_valid(_k(0, 1)), out_valid(_k(0, 1)),
        ).Else(
            # LOAD
            If(in_fire)(
                lmax(row_max),
                If(AndList(Not(in_tlast), wr_ptr == _k(DEPTH - 1, AW)))(err_len(_k(1, 1))),
                If(keep_bad)(err_keep(_k(1, 1))),
                If(in_end)(wr_ptr(_k(0, AW)), ld_bank(ld_bank + _k(1, BANK_BITS)))
                .Else(wr_ptr(wr_ptr + _k(1, AW)))),
            # EXP read stage: start the next loaded bank right after the last
            # address of the current one (no bubble between rows)
            exp_rd.step(blast, er_max(_pick(exp_rd.cand, bmax))),
            ew_valid(exp_rd.act), ew_bank(exp_rd.bank), ew_addr(exp_rd.ptr),
            ew_last(AndList(exp_rd.act, exp_rd.at_last)), ew_max(er_max),
            If(ew_valid)(sum_q(Mux(ew_last, _k(0, SB), row_sum))),
            # DIV
            If(dv_start)(dv_act(_k(1, 1))),
            If(dv_done)(dv_act(_k(0, 1)), dv_bank(dv_bank + _k(1, BANK_BITS))),
            # OUT
            If(en)(
                out_rd.step(blast, or_factor(_pick(out_rd.cand, bfactor))),
                od_valid(out_rd.act), od_bank(out_rd.bank), od_last(AndList(out_rd.act, out_rd.at_last)),
                od_factor(or_factor),
                out_valid(od_valid), out_last(od_last), out_bank(od_bank)),
        ))
    m.Always(Posedge(clk))(
        If(en)(out_data(Cat(*reversed(ps))), out_keep(Slice(ord_, WW - 1, L * MEMW))))

    m.Assign(out_tvalid(out_valid))
    m.Assign(out_tlast(out_last))
    m.Assign(out_tkeep(out_keep))
    m.Assign(err_len_o(err_len))
    m.Assign(err_keep_o(err_keep))
    if cfg.out_word_bits > L * OB:
        m.Assign(out_tdata(Cat(_k(0, cfg.out_word_bits - L * OB), out_data)))
    else:
        m.Assign(out_tdata(out_data))
    return m


def _text(cfg: SoftmaxConfig, module) -> str:
    s = cfg.spec
    return emit.verilog_text(module, cfg, "rtl_gen/softmax.py",
                             "Stream protocol and numerics: docs/softmax.md", x0=s.x0, b=s.b,
                             c=s.c, sum_bits=s.sum_bits, factor_bits=s.factor_bits)


def verilog(cfg: SoftmaxConfig) -> str:
    """The top module alone: its submodules (:func:`exp_verilog`, the shared
    divider) are files of their own."""
    text = _text(cfg, build(cfg))
    subs = re.compile(rf"^module (?!{TOP}\b)\w+\b.*?^endmodule\n", re.S | re.M)
    assert len(subs.findall(text)) == 2
    return subs.sub("", text)


def exp_verilog(cfg: SoftmaxConfig) -> str:
    return _text(cfg, build_exp(cfg))


def generate(cfg: SoftmaxConfig, out_dir: str | os.PathLike) -> Path:
    """Write ``qbert_softmax_exp.v``, the divider (e.g. ``qbert_div_n33_d27_r2.v``),
    ``qbert_softmax.v``, ``files.f`` and ``params.json`` into ``out_dir``
    (all or nothing; see :func:`rtl_gen.emit.write_outputs`)."""
    if not isinstance(cfg, SoftmaxConfig):
        raise ConfigError(f"generate wants a SoftmaxConfig, got {type(cfg).__name__}")
    return emit.write_outputs(cfg, out_dir, files(cfg))


def files(cfg: SoftmaxConfig) -> dict[str, str]:
    """File name -> Verilog text of the unit, submodules first (what a composing
    generator writes beside its own top)."""
    return {f"{EXP_TOP}.v": exp_verilog(cfg),
            f"{cfg.divider.module_name}.v": divider.verilog(cfg.divider),
            f"{TOP}.v": verilog(cfg)}


def generate_exp(cfg: SoftmaxConfig, out_dir: str | os.PathLike) -> Path:
    """The exp-stage-only module (for the exhaustive exp check) in ``out_dir``."""
    return emit.write_outputs(cfg, out_dir, {f"{EXP_TOP}.v": exp_verilog(cfg)})


def sources(rtl_dir: str | os.PathLike) -> list[Path]:
    return emit.sources(rtl_dir, "softmax")


__all__ = ["SoftmaxConfig", "generate", "files", "generate_exp", "build", "build_exp", "verilog",
           "exp_verilog", "sources", "TOP", "EXP_TOP"]
