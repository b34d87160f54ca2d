"""Streaming I-BERT integer softmax unit, bit-exact to golden_model.softmax.

Computes, per row, ``p = int_softmax(x, softmax_spec(in_bits, frac_bits,
out_bits, max_len))`` (docs/numerics.md "Softmax", docs/softmax.md).

Stream protocol
---------------
* ``s_axis``: a row of n scores arrives as n / LANES beats; beat j carries
  x[j*LANES .. j*LANES+LANES-1], lane i (signed in_bits) in
  ``tdata[in_bits*i +: in_bits]``; ``tdata`` is padded to whole bytes (the pad
  is ignored).  ``tlast`` marks the last beat of the row.  **The row length
  must be a multiple of LANES** (every lane of every beat is a score) and at
  most max_len; a row that reaches max_len / LANES beats without ``tlast`` is
  ended there (as if ``tlast`` were set).
* ``m_axis``: the row's n / LANES output beats, lane i (unsigned out_bits) in
  ``tdata[out_bits*i +: out_bits]``, pad bits 0; ``tlast`` on the last beat.

Architecture (double-buffered: one row loads while the previous one is processed)
-------------------------------------------------------------------------------
Two on-chip banks of max_len / LANES words.  The load side fills one bank
while the processing side (EXP, DIV, OUT) works on the other:

1. LOAD: accept beats at one a cycle into bank ``load_bank_q`` while tracking
   the row max (a compare tree over the lanes, then against the running max);
   on ``tlast`` the bank is marked full with its max and length and the load
   side moves to the other bank (``s_axis_tready`` is low only while that bank
   is still full, i.e. being processed).
2. EXP: read the row back (one word a cycle, registered read), compute per
   lane d = x - max, clamp at 30*x0, q = floor(d/x0) exactly as the number of
   j in 1..30 with d <= j*x0 (constant comparators, no divider), r = d - q*x0,
   z = (r + b)*r + c, e = z >> q; write e back over x and accumulate the sum.
3. DIV: factor = floor(2^32 / sum) by a restoring radix-2 divider, one
   dividend bit a cycle (33 cycles).
4. OUT: read e back, p = min((e*factor + 2^(k-1)) >> k, 2^out_bits - 1) per
   lane, stream out through a two-stage pipeline (read, output register) that
   holds on ``m_axis_tready`` low; any stall pattern is tolerated.  When the
   last beat is taken the bank is freed and processing moves to the other bank.

Latency and throughput (B = n / LANES beats, no stalls; measured by the
``softmax_latency`` cocotb test): the first output beat is valid 2*B + 37
cycles after the first input beat is accepted (B load, 1 to start, B + 1 EXP
read and write-back, 33 DIV, the rest state changes and the two read/output
stages), the last one B - 1 cycles later.  Back-to-back rows end every
2*B + 37 cycles (:meth:`SoftmaxConfig.row_period`): the processing side is
the bottleneck (EXP and OUT each read the row once); the input is not
stalled as long as the next row takes at least that long to arrive.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from golden_model.numerics import Numerics
from golden_model.softmax import DIV_BITS, N_CLAMP, SoftmaxSpec, softmax_spec
from golden_model.widths import bits_for

from .config import ConfigError, UnitConfig, rng
from . import emit

TOP = "qbert_softmax"
EXP_TOP = "qbert_softmax_exp"
_NUM = Numerics()
#: restoring division steps: one per bit of the dividend 2^DIV_BITS
DIV_STEPS = DIV_BITS + 1


@dataclass(frozen=True)
class SoftmaxConfig(UnitConfig):
    UNIT = "softmax"

    lanes: int = field(default=4, metadata=rng(1, 32, "scores per beat"))
    max_len: int = field(default=_NUM.max_seq, metadata=rng(1, 4096, "longest row (scores)"))
    in_bits: int = field(default=_NUM.softmax_in_bits, metadata=rng(4, 24, "score width (signed)"))
    frac_bits: int = field(default=_NUM.softmax_frac_bits,
                           metadata=rng(2, 12, "fractional bits of the scores"))
    out_bits: int = field(default=_NUM.softmax_out_bits,
                          metadata=rng(2, 15, "probability width (unsigned)"))

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
    def in_word_bits(self) -> int:
        return emit.bytes_width(self.lanes * self.in_bits)

    @property
    def out_word_bits(self) -> int:
        return emit.bytes_width(self.lanes * self.out_bits)

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

    def latency(self, n: int) -> int:
        """Cycles from the first input beat accepted to the first output beat valid."""
        return 2 * (n // self.lanes) + 37

    def row_period(self, n: int) -> int:
        """Cycles between the ends of back-to-back rows of n scores (no stalls)."""
        return 2 * (n // self.lanes) + 37


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


def build(cfg: SoftmaxConfig):
    """The Veriloggen Module of ``cfg``."""
    vg = _veri()
    from veriloggen import AndList, Cat, If, Module, Mux, Not, OrList, Posedge, Signed, Slice

    s = cfg.spec
    L, IB, OB, EB, SB, FB = cfg.lanes, cfg.in_bits, cfg.out_bits, s.exp_bits, s.sum_bits, s.factor_bits
    DW = cfg.diff_bits
    MEMW = max(IB, EB)
    DEPTH = cfg.depth
    AW = emit.clog2(DEPTH)
    K = DIV_BITS - OB
    PW = EB + FB + 1         # e * factor + 2^(K-1) (e * factor <= 2^DIV_BITS)
    CW = emit.clog2(DIV_STEPS)

    m = Module(TOP)
    clk = m.Input("clk")
    rst = m.Input("rst")
    in_tdata = m.Input("s_axis_tdata", cfg.in_word_bits)
    in_tvalid = m.Input("s_axis_tvalid")
    in_tready = m.Output("s_axis_tready")
    in_tlast = m.Input("s_axis_tlast")
    out_tdata = m.Output("m_axis_tdata", cfg.out_word_bits)
    out_tvalid = m.Output("m_axis_tvalid")
    out_tready = m.Input("m_axis_tready")
    out_tlast = m.Output("m_axis_tlast")

    S_IDLE, S_EXP, S_DIV, S_OUT = 0, 1, 2, 3
    state = m.Reg("state_q", 2)
    # double buffer: the load side fills bank load_bank_q while the processing
    # side (EXP, DIV, OUT) works on bank proc_bank_q
    load_bank = m.Reg("load_bank_q")
    proc_bank = m.Reg("proc_bank_q")
    full = [m.Reg(f"full{b}_q") for b in range(2)]
    lmax = m.Reg("lmax_q", IB)
    bank_max = [m.Reg(f"bank{b}_max_q", IB) for b in range(2)]
    bank_last = [m.Reg(f"bank{b}_last_q", AW) for b in range(2)]
    wr_ptr = m.Reg("wr_ptr_q", AW)
    last_ptr = m.Reg("last_ptr_q", AW)
    max_q = m.Reg("max_q", IB)
    rd_ptr = m.Reg("rd_ptr_q", AW)
    rd_act = m.Reg("rd_act_q")
    st_valid = m.Reg("st_valid_q")
    st_last = m.Reg("st_last_q")
    st_addr = m.Reg("st_addr_q", AW)
    rdatas = [m.Reg(f"rdata{b}_q", L * MEMW) for b in range(2)]
    sum_q = m.Reg("sum_q", SB)
    rem_q = m.Reg("rem_q", SB)
    quo_q = m.Reg("quo_q", FB)
    cnt_q = m.Reg("div_cnt_q", CW)
    out_valid = m.Reg("out_valid_q")
    out_last = m.Reg("out_last_q")
    out_data = m.Reg("out_data_q", L * OB)
    bufs = [m.Reg(f"buf{b}_mem", L * MEMW, dims=DEPTH) for b in range(2)]
    rdata = m.Wire("rdata", L * MEMW)
    m.Assign(rdata(Mux(proc_bank, rdatas[1], rdatas[0])))

    in_load = m.Wire("in_load")
    in_fire = m.Wire("in_fire")
    in_end = m.Wire("in_end")
    m.Assign(in_load(Not(Mux(load_bank, full[1], full[0]))))
    m.Assign(in_tready(in_load))
    m.Assign(in_fire(AndList(in_load, in_tvalid)))
    m.Assign(in_end(OrList(in_tlast, wr_ptr == _k(DEPTH - 1, AW))))
    if cfg.in_word_bits > L * IB:
        pad = m.Wire("unused_in_pad")
        m.Assign(pad(vg.Uxor(Slice(in_tdata, cfg.in_word_bits - 1, L * IB))))

    # ---- pass 1: row max over the lanes of a beat, then over the beats ------
    xs = []
    for i in range(L):
        x = m.Wire(f"in_x{i}", IB)
        m.Assign(x(Slice(in_tdata, i * IB + IB - 1, i * IB)))
        xs.append(x)
    level, n = xs, 0
    while len(level) > 1:
        nxt = []
        for a, b in zip(level[0::2], level[1::2]):
            w = m.Wire(f"bmax_{n}", IB)
            n += 1
            m.Assign(w(Mux(Signed(a) < Signed(b), b, a)))
            nxt.append(w)
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    beat_max = level[0]
    row_max = m.Wire("row_max_d", IB)
    m.Assign(row_max(Mux(OrList(wr_ptr == _k(0, AW), Signed(lmax) < Signed(beat_max)),
                         beat_max, lmax)))

    # ---- memory: write x (LOAD) or e (EXP); registered read (EXP, OUT) ------
    en = m.Wire("out_en")
    rd_en = m.Wire("rd_en")
    exp_wr = m.Wire("exp_wr")
    m.Assign(en(OrList(Not(out_valid), out_tready)))
    m.Assign(rd_en(OrList(state == _k(S_EXP, 2), AndList(state == _k(S_OUT, 2), en))))
    m.Assign(exp_wr(AndList(state == _k(S_EXP, 2), st_valid)))
    x_word = Cat(*[emit.sext(xs[i], IB, MEMW) for i in reversed(range(L))])

    # ---- pass 2: exp per lane from the read word ----------------------------
    es = []
    for i in range(L):
        xr = m.Wire(f"l{i}_x", IB)
        m.Assign(xr(Slice(rdata, i * MEMW + IB - 1, i * MEMW)))
        d = emit.sext(xr, IB, DW) - emit.sext(max_q, IB, DW)
        es.append(_exp_lane(m, cfg, f"l{i}", d))
    e_word = Cat(*[_zext(es[i], EB, MEMW) for i in reversed(range(L))])
    lane_sum = m.Wire("lane_sum", SB)
    total = _zext(es[0], EB, SB)
    for i in range(1, L):
        total = total + _zext(es[i], EB, SB)
    m.Assign(lane_sum(total))

    for b in range(2):
        m.Always(Posedge(clk))(
            If(AndList(in_fire, load_bank == _k(b, 1)))(bufs[b][wr_ptr](x_word))
            .Elif(AndList(exp_wr, proc_bank == _k(b, 1)))(bufs[b][st_addr](e_word)),
            If(AndList(rd_en, proc_bank == _k(b, 1)))(rdatas[b](bufs[b][rd_ptr])),
        )

    # ---- pass 3: restoring divider, factor = floor(2^32 / sum) --------------
    trial = m.Wire("div_trial", SB + 1)
    take = m.Wire("div_take")
    m.Assign(trial(Cat(rem_q, cnt_q == _k(0, CW))))   # dividend 2^32: only its MSB is 1
    m.Assign(take(trial >= _zext(sum_q, SB, SB + 1)))
    rem_d = m.Wire("div_rem_d", SB + 1)
    m.Assign(rem_d(Mux(take, trial - _zext(sum_q, SB, SB + 1), trial)))
    # rem < sum < 2^SB after every step, so the top bit of rem_d is 0; the
    # quotient fits factor_bits (sum >= c), so the bits shifted out of quo are 0
    unused_div = m.Wire("unused_div")
    m.Assign(unused_div(vg.Uxor(Cat(rem_d[SB], quo_q[FB - 1]))))

    # ---- pass 4: p = min((e * factor + 2^(K-1)) >> K, 2^OB - 1) -------------
    ps = []
    for i in range(L):
        er = m.Wire(f"l{i}_er", EB)
        m.Assign(er(Slice(rdata, i * MEMW + EB - 1, i * MEMW)))
        prod = m.Wire(f"l{i}_prod", PW)
        m.Assign(prod(_zext(er, EB, PW) * _zext(quo_q, FB, PW) + _k(1 << (K - 1), PW)))
        hi = Slice(prod, PW - 1, K + OB)
        p = m.Wire(f"l{i}_p", OB)
        m.Assign(p(Mux(hi == _k(0, PW - K - OB), Slice(prod, K + OB - 1, K), _k((1 << OB) - 1, OB))))
        low = m.Wire(f"unused_l{i}_prod")
        m.Assign(low(vg.Uxor(Slice(prod, K - 1, 0))))
        ps.append(p)

    m.Always(Posedge(clk))(
        If(rst)(
            state(_k(S_IDLE, 2)), wr_ptr(_k(0, AW)), rd_act(_k(0, 1)), st_valid(_k(0, 1)),
            out_valid(_k(0, 1)), load_bank(_k(0, 1)), proc_bank(_k(0, 1)),
            full[0](_k(0, 1)), full[1](_k(0, 1)),
        ).Else(
            If(in_fire)(
                lmax(row_max),
                If(in_end)(
                    wr_ptr(_k(0, AW)), load_bank(Not(load_bank)),
                    *[If(load_bank == _k(b, 1))(full[b](_k(1, 1)), bank_max[b](row_max),
                                                bank_last[b](wr_ptr)) for b in range(2)],
                ).Else(wr_ptr(wr_ptr + _k(1, AW))),
            ),
            If(AndList(state == _k(S_IDLE, 2), Mux(proc_bank, full[1], full[0])))(
                state(_k(S_EXP, 2)), max_q(Mux(proc_bank, bank_max[1], bank_max[0])),
                last_ptr(Mux(proc_bank, bank_last[1], bank_last[0])),
                rd_ptr(_k(0, AW)), rd_act(_k(1, 1)), sum_q(_k(0, SB))),
            If(rd_en)(
                st_valid(rd_act), st_last(rd_ptr == last_ptr), st_addr(rd_ptr),
                If(rd_act)(
                    If(rd_ptr == last_ptr)(rd_act(_k(0, 1)))
                    .Else(rd_ptr(rd_ptr + _k(1, AW)))),
            ),
            If(exp_wr)(
                sum_q(sum_q + lane_sum),
                If(st_last)(state(_k(S_DIV, 2)), rem_q(_k(0, SB)), quo_q(_k(0, FB)),
                            cnt_q(_k(0, CW)))),
            If(state == _k(S_DIV, 2))(
                rem_q(Slice(rem_d, SB - 1, 0)),
                quo_q(Cat(Slice(quo_q, FB - 2, 0), take) if FB > 1 else take),
                cnt_q(cnt_q + _k(1, CW)),
                If(cnt_q == _k(DIV_STEPS - 1, CW))(
                    state(_k(S_OUT, 2)), rd_ptr(_k(0, AW)), rd_act(_k(1, 1)))),
            If(AndList(state == _k(S_OUT, 2), en))(
                out_valid(st_valid), out_last(st_last)),
            If(AndList(state == _k(S_OUT, 2), out_valid, out_tready, out_last))(
                state(_k(S_IDLE, 2)), proc_bank(Not(proc_bank)),
                *[If(proc_bank == _k(b, 1))(full[b](_k(0, 1))) for b in range(2)]),
        ))
    m.Always(Posedge(clk))(
        If(AndList(state == _k(S_OUT, 2), en))(out_data(Cat(*reversed(ps)))))

    m.Assign(out_tvalid(out_valid))
    m.Assign(out_tlast(out_last))
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
    return _text(cfg, build(cfg))


def exp_verilog(cfg: SoftmaxConfig) -> str:
    return _text(cfg, build_exp(cfg))


def generate(cfg: SoftmaxConfig, out_dir: str | os.PathLike) -> Path:
    """Write ``qbert_softmax.v``, ``files.f`` and ``params.json`` into ``out_dir``
    (all or nothing; see :func:`rtl_gen.emit.write_outputs`)."""
    if not isinstance(cfg, SoftmaxConfig):
        raise ConfigError(f"generate wants a SoftmaxConfig, got {type(cfg).__name__}")
    return emit.write_outputs(cfg, out_dir, {f"{TOP}.v": verilog(cfg)})


def generate_exp(cfg: SoftmaxConfig, out_dir: str | os.PathLike) -> Path:
    """The exp-stage-only module (for the exhaustive exp check) in ``out_dir``."""
    return emit.write_outputs(cfg, out_dir, {f"{EXP_TOP}.v": exp_verilog(cfg)})


def sources(rtl_dir: str | os.PathLike) -> list[Path]:
    return emit.sources(rtl_dir, "softmax")


__all__ = ["SoftmaxConfig", "generate", "generate_exp", "build", "build_exp", "verilog",
           "exp_verilog", "sources", "TOP", "EXP_TOP"]
