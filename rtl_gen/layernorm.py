"""Streaming integer LayerNorm unit, bit-exact to golden_model.layernorm.

Computes, per vector of H elements, ``out = int_layernorm(x, gamma, beta, M, s,
layernorm_spec(H, in_bits, norm_bits, gamma_bits, out_bits))``
(docs/numerics.md "LayerNorm", docs/layernorm.md).

Stream protocol
---------------
* ``s_axis_prm`` (parameters, loaded while the unit is idle): H / LANES beats;
  beat j, lane i (PL = gamma_bits + affine_bits - 1 bits) holds
  ``{beta[k], gamma[k]}`` (k = j*LANES + i) at ``tdata[PL*i +: PL]``; above the
  lanes every beat carries ``{shift[5:0], mult[30:0]}`` (the per-tensor
  requantizer, latched from every beat: the last one wins).  ``tlast`` on the
  last beat.  ``tready`` is high only while no vector is in the unit, and while
  a parameter load is in progress the vector input is held off.
* ``s_axis``: a vector is H / LANES beats, lane i (signed in_bits) in
  ``tdata[in_bits*i +: in_bits]``; ``tlast`` on the last beat.
* ``m_axis``: H / LANES beats per vector, lane i (signed out_bits) in
  ``tdata[out_bits*i +: out_bits]``, ``tlast`` on the last beat.
* ``err_len_o`` (sticky until ``rst``): a vector or parameter load whose
  ``tlast`` is not on beat H / LANES.  A vector without ``tlast`` there ends
  there anyway; a short one is processed as a (meaningless) whole vector, so
  there is still one output vector per input vector.

Architecture (four banks: load, scalar, read out in parallel)
--------------------------------------------------------------
1. LOAD (one beat a cycle): store the beat into the load bank and accumulate
   S = sum(x) and Q = sum(x^2) (the lanes' squares in parallel).
2. SCALAR (one vector at a time, overlapped with the others): rounded mean =
   floor((S + H/2 + H*2^(in-1)) / H) - 2^(in-1) by the shared divider
   (rtl_gen/divider.py, div_bits_per_cycle quotient bits a cycle);
   V = sum((x - mean)^2) = Q - 2*mean*S + H*mean^2 (exact integer identity,
   computed modulo 2^var_sum_bits, which holds V); var = V >> var_shift;
   std = max(1, isqrt(var)) by the digit-by-digit isqrt; factor = floor(2^31 /
   std) by a second instance of the shared divider.
3. OUT (one beat a cycle, 5-stage pipeline that holds on ``m_axis_tready``
   low): y = x - mean, n = (y * factor + 2^(ns-1)) >>> ns, a = n * gamma +
   beta, requantize(a, M, s).
Vectors follow each other without a bubble as long as the scalar stage
(:attr:`LayerNormConfig.scalar_cycles`) is shorter than a vector's H / LANES
beats; otherwise it sets the pace (:meth:`LayerNormConfig.vector_period`).
A vector's last output beat leaves at most
:meth:`LayerNormConfig.drain_cycles` un-stalled cycles after its last input
beat (proven unbounded, formal/layernorm.py; recorded in the top's header).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from golden_model.layernorm import FACTOR_NUM_BITS, VAR_BITS, LayerNormSpec, layernorm_spec
from golden_model.numerics import Numerics
from golden_model.quant import MULT_BITS

from . import emit, seqarith
from .config import ConfigError, UnitConfig, choice, rng
from .divider import DividerConfig, build as build_divider
from .requant import SHIFT_BITS, requant_stages

TOP = "qbert_layernorm"
_NUM = Numerics()
#: banks of H / LANES words: one loading, one in the scalar stage, one read out, one spare
BANKS = 4
#: pipeline registers from the read issue to m_axis: read, n, affine, product, output
OUT_STAGES = 5
#: the scalar stage's FSM states in order (the index is the code in sc_state_q);
#: MEAN, SQRT and DIV wait for a submodule started in the *_GO state before them
SCALAR_STATES = ("IDLE", "MEAN_GO", "MEAN", "VAR1", "VAR2", "SQRT_GO", "SQRT", "DIV_GO", "DIV", "DONE")


@dataclass(frozen=True)
class LayerNormConfig(UnitConfig, emit.LaneWords):
    UNIT = "layernorm"

    hidden: int = field(default=_NUM.layernorm(384).hidden,
                        metadata=rng(2, 8192, "vector length H (MiniLM: 384, BERT-base: 768)"))
    lanes: int = field(default=4, metadata=rng(1, 64, "elements per beat"))
    in_bits: int = field(default=_NUM.residual_bits, metadata=rng(2, 24, "input width (signed)"))
    norm_bits: int = field(default=_NUM.ln_norm_bits,
                           metadata=rng(4, 24, "normalized value width (signed)"))
    gamma_bits: int = field(default=_NUM.ln_gamma_bits, metadata=rng(2, 24, "gamma width (signed)"))
    out_bits: int = field(default=_NUM.act_bits, metadata=rng(2, 24, "output width (signed)"))
    div_bits_per_cycle: int = field(default=4, metadata=choice(
        1, 2, 4, doc="quotient bits the mean and factor dividers retire per cycle"))

    def _check(self) -> None:
        if self.hidden % self.lanes:
            raise ConfigError(f"layernorm: hidden={self.hidden} must be a multiple of "
                              f"lanes={self.lanes} (vectors are whole beats)")
        try:
            self.spec
        except ValueError as e:
            raise ConfigError(f"layernorm: hidden/in_bits/norm_bits/gamma_bits/out_bits: {e}") from None

    @property
    def spec(self) -> LayerNormSpec:
        return layernorm_spec(self.hidden, self.in_bits, self.norm_bits, self.gamma_bits,
                              self.out_bits)

    @property
    def beats(self) -> int:
        """Beats per vector."""
        return self.hidden // self.lanes

    @property
    def beta_bits(self) -> int:
        return self.spec.affine_bits - 1

    @property
    def prm_lane_bits(self) -> int:
        return self.gamma_bits + self.beta_bits

    @property
    def prm_word_bits(self) -> int:
        return emit.bytes_width(self.lanes * self.prm_lane_bits + MULT_BITS + SHIFT_BITS)

    @property
    def mean_num_bits(self) -> int:
        """Unsigned S + H/2 + H*2^(in-1) < H*2^in."""
        return (self.hidden * (1 << self.in_bits) - 1).bit_length()

    @property
    def mean_divider(self) -> DividerConfig:
        """floor(dividend / H): the rounded mean, offset by 2^(in-1)."""
        return DividerConfig(self.mean_num_bits, self.hidden.bit_length(), self.div_bits_per_cycle)

    @property
    def factor_divider(self) -> DividerConfig:
        """floor(2^31 / std), std < 2^16."""
        return DividerConfig(FACTOR_NUM_BITS + 1, seqarith.isqrt_root_bits(VAR_BITS),
                             self.div_bits_per_cycle)

    def scalar_schedule(self) -> tuple[tuple[str, int], ...]:
        """(state, cycles) of the scalar FSM for one vector, in order: every state
        one cycle except the waits, which last from the submodule's start (in the
        *_GO state) to its done_o: a divider's ``latency``, and the isqrt's
        ``isqrt_latency`` busy cycles plus its done cycle."""
        waits = {"MEAN": self.mean_divider.latency, "DIV": self.factor_divider.latency,
                 "SQRT": seqarith.isqrt_latency(VAR_BITS) + 1}
        return tuple((s, waits.get(s, 1)) for s in SCALAR_STATES)

    @property
    def scalar_cycles(self) -> int:
        """Cycles the scalar stage spends on one vector (IDLE seeing the loaded
        bank to DONE, both included)."""
        return sum(c for _, c in self.scalar_schedule())

    def latency(self) -> int:
        """Cycles from the first input beat accepted to the first output beat valid
        (no stalls, unit idle)."""
        return self.beats + self.scalar_cycles + OUT_STAGES

    def drain_cycles(self) -> int:
        """Un-stalled cycles from the cycle that accepts a vector's last input beat
        to the cycle whose handshake takes its last output beat, for a vector that
        finds the unit idle (the worst case: formal/layernorm.py proves U3 with the
        bound ``drain_cycles() + 1`` for every pending vector).  Equal to
        :meth:`latency` (in and out are both ``beats`` beats a cycle)."""
        return self.beats + self.scalar_cycles + OUT_STAGES

    def vector_period(self) -> int:
        """Cycles between back-to-back vectors in steady state (no stalls)."""
        return max(self.beats, self.scalar_cycles)


# --------------------------------------------------------------------------
# Veriloggen construction
# --------------------------------------------------------------------------

def _k(v: int, w: int):
    from veriloggen import Int
    return Int(v & ((1 << w) - 1), w, 10)


def _zext(sig, fw: int, tw: int):
    from veriloggen import Cat
    return sig if tw == fw else Cat(_k(0, tw - fw), sig)


def _lane_sum(m, name: str, terms, width: int):
    w = m.Wire(name, width)
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    m.Assign(w(total))
    return w


def build(cfg: LayerNormConfig):
    """The Veriloggen Module of ``cfg`` (with its isqrt and two divider submodules)."""
    from veriloggen import AndList, Cat, If, Module, Mux, Not, OrList, Posedge, Signed, Slice, Uxor

    s = cfg.spec
    L, H, IB, NB, GB, OB = cfg.lanes, cfg.hidden, cfg.in_bits, cfg.norm_bits, cfg.gamma_bits, cfg.out_bits
    BB, AB, PL = cfg.beta_bits, s.affine_bits, cfg.prm_lane_bits
    SB, QB = s.sum_bits, s.var_sum_bits
    MB = cfg.mean_num_bits
    B = cfg.beats
    PB = emit.clog2(B)                 # beat pointer
    KB = 2                             # bank index (BANKS = 4)
    RB = seqarith.isqrt_root_bits(VAR_BITS)
    FB = FACTOR_NUM_BITS + 1           # factor <= 2^31
    YB = IB + 1                        # y = x - mean
    YFB = YB + FB + 1                  # y * factor (factor zero-extended) + rounding
    NS = s.norm_shift
    WQ = max(QB, VAR_BITS)

    m = Module(TOP)
    clk = m.Input("clk")
    rst = m.Input("rst")
    in_tdata = m.Input("s_axis_tdata", cfg.in_word_bits)
    in_tvalid = m.Input("s_axis_tvalid")
    in_tready = m.Output("s_axis_tready")
    in_tlast = m.Input("s_axis_tlast")
    prm_tdata = m.Input("s_axis_prm_tdata", cfg.prm_word_bits)
    prm_tvalid = m.Input("s_axis_prm_tvalid")
    prm_tready = m.Output("s_axis_prm_tready")
    prm_tlast = m.Input("s_axis_prm_tlast")
    out_tdata = m.Output("m_axis_tdata", cfg.out_word_bits)
    out_tvalid = m.Output("m_axis_tvalid")
    out_tready = m.Input("m_axis_tready")
    out_tlast = m.Output("m_axis_tlast")
    err_len = m.Output("err_len_o")

    FREE, LOADED, SCALED = 0, 1, 2
    bank_state = m.Reg("bank_state_q", 2, dims=BANKS)
    bank_sum = m.Reg("bank_sum_q", SB, dims=BANKS)
    bank_sq = m.Reg("bank_sq_q", QB, dims=BANKS)
    bank_mean = m.Reg("bank_mean_q", IB, dims=BANKS)
    bank_factor = m.Reg("bank_factor_q", FB, dims=BANKS)
    buf_mem = m.Reg("buf_mem", L * IB, dims=BANKS << PB)
    prm_mem = m.Reg("prm_mem", L * PL, dims=1 << PB)
    err_q = m.Reg("err_len_q")

    # ---- parameters: gamma/beta memory, M and s registers -----------------
    prm_active = m.Reg("prm_active_q")
    prm_ptr = m.Reg("prm_ptr_q", PB)
    mult_q = m.Reg("mult_q", MULT_BITS)
    shift_q = m.Reg("shift_q", SHIFT_BITS)
    busy = m.Wire("busy")
    prm_fire = m.Wire("prm_fire")
    prm_end = m.Wire("prm_end")
    m.Assign(prm_tready(OrList(prm_active, Not(busy))))
    m.Assign(prm_fire(AndList(prm_tvalid, OrList(prm_active, Not(busy)))))
    m.Assign(prm_end(OrList(prm_tlast, prm_ptr == _k(B - 1, PB))))
    prm_top = L * PL
    if cfg.prm_word_bits > prm_top + MULT_BITS + SHIFT_BITS:
        pad = m.Wire("unused_prm_pad")
        m.Assign(pad(Uxor(Slice(prm_tdata, cfg.prm_word_bits - 1, prm_top + MULT_BITS + SHIFT_BITS))))

    # ---- load: x into the load bank, S and Q accumulate --------------------
    ld_bank = m.Reg("ld_bank_q", KB)
    ld_ptr = m.Reg("ld_ptr_q", PB)
    sum_acc = m.Reg("sum_acc_q", SB)
    sq_acc = m.Reg("sq_acc_q", QB)
    in_ok = m.Wire("in_ok")
    in_fire = m.Wire("in_fire")
    in_end = m.Wire("in_end")
    m.Assign(in_ok(AndList(bank_state[ld_bank] == _k(FREE, 2), Not(prm_active),
                           Not(AndList(prm_tvalid, Not(busy))))))
    m.Assign(in_tready(in_ok))
    m.Assign(in_fire(AndList(in_ok, in_tvalid)))
    m.Assign(in_end(OrList(in_tlast, ld_ptr == _k(B - 1, PB))))
    if cfg.in_word_bits > L * IB:
        pad = m.Wire("unused_in_pad")
        m.Assign(pad(Uxor(Slice(in_tdata, cfg.in_word_bits - 1, L * IB))))
    xs, sqs = [], []
    for i in range(L):
        x = m.Wire(f"in_x{i}", IB)
        m.Assign(x(Slice(in_tdata, i * IB + IB - 1, i * IB)))
        xs.append(emit.sext(x, IB, SB))
        sq = m.Wire(f"in_sq{i}", 2 * IB)
        m.Assign(sq(Signed(emit.sext(x, IB, 2 * IB)) * Signed(emit.sext(x, IB, 2 * IB))))
        sqs.append(_zext(sq, 2 * IB, QB))
    beat_sum = _lane_sum(m, "beat_sum", xs, SB)
    beat_sq = _lane_sum(m, "beat_sq", sqs, QB)
    first = ld_ptr == _k(0, PB)
    sum_d = m.Wire("sum_d", SB)
    sq_d = m.Wire("sq_d", QB)
    m.Assign(sum_d(Mux(first, _k(0, SB), sum_acc) + beat_sum))
    m.Assign(sq_d(Mux(first, _k(0, QB), sq_acc) + beat_sq))

    # ---- scalar stage: mean, variance, isqrt, factor ----------------------
    S_IDLE, S_MEAN_GO, S_MEAN, S_VAR1, S_VAR2, S_SQRT_GO, S_SQRT, S_DIV_GO, S_DIV, S_DONE = range(
        len(SCALAR_STATES))
    SW = 4
    sc_state = m.Reg("sc_state_q", SW)
    sc_bank = m.Reg("sc_bank_q", KB)
    sc_sum = m.Reg("sc_sum_q", SB)
    sc_sq = m.Reg("sc_sq_q", QB)
    sc_mean = m.Reg("sc_mean_q", IB)
    sc_ms = m.Reg("sc_ms_q", WQ)       # mean * S   (mod 2^WQ)
    sc_mm = m.Reg("sc_mm_q", WQ)       # mean^2     (mod 2^WQ)
    sc_var = m.Reg("sc_var_q", VAR_BITS)
    sc_std = m.Reg("sc_std_q", RB)

    def at(st):
        return sc_state == _k(st, SW)

    mdiv_done = m.Wire("mdiv_done")
    mdiv_quot = m.Wire("mdiv_quot", MB)
    mdiv_rem = m.Wire("unused_mdiv_rem", max(1, H.bit_length()))
    mdiv_ready = m.Wire("unused_mdiv_ready")
    mean_num = m.Wire("mean_num", MB)
    # S + H/2 + H*2^(in-1) is in [H/2, H*2^in): unsigned, MB bits
    mean_full = m.Wire("mean_full", MB + 1)
    m.Assign(mean_full(emit.sext(sc_sum, SB, MB + 1) + _k(H // 2 + H * (1 << (IB - 1)), MB + 1)))
    m.Assign(mean_num(Slice(mean_full, MB - 1, 0)))
    unused_mf = m.Wire("unused_mean_full")
    m.Assign(unused_mf(mean_full[MB]))
    mdiv = build_divider(cfg.mean_divider)
    m.Instance(mdiv, "u_mean_div", ports=[
        ("clk", clk), ("rst", rst), ("start_i", at(S_MEAN_GO)), ("num_i", mean_num),
        ("den_i", _k(H, H.bit_length())), ("ready_o", mdiv_ready), ("done_o", mdiv_done),
        ("quot_o", mdiv_quot), ("rem_o", mdiv_rem)])
    if MB > IB:
        hi = m.Wire("unused_mdiv_quot_hi", MB - IB)
        m.Assign(hi(Slice(mdiv_quot, MB - 1, IB)))
    mean_d = m.Wire("mean_d", IB)
    # quot < 2^in; mean = quot - 2^(in-1): flip the top bit
    m.Assign(mean_d(Cat(Not(mdiv_quot[IB - 1]), Slice(mdiv_quot, IB - 2, 0)) if IB > 1
                    else Not(mdiv_quot[0])))

    # V = Q - 2*mean*S + H*mean^2, exact modulo 2^WQ (V itself < 2^QB)
    mean_w = emit.sext(sc_mean, IB, WQ)
    var_sum = m.Wire("var_sum", WQ)
    m.Assign(var_sum(_zext(sc_sq, QB, WQ) - sc_ms - sc_ms
                     + sc_mm * _k(H, WQ)))
    var_d = m.Wire("var_d", VAR_BITS)
    m.Assign(var_d(Slice(var_sum, s.var_shift + VAR_BITS - 1, s.var_shift)))
    if WQ > s.var_shift + VAR_BITS or s.var_shift:
        parts = []
        if s.var_shift:
            parts.append(Slice(var_sum, s.var_shift - 1, 0))
        if WQ > s.var_shift + VAR_BITS:
            parts.append(Slice(var_sum, WQ - 1, s.var_shift + VAR_BITS))
        unused_v = m.Wire("unused_var_sum")
        m.Assign(unused_v(Uxor(Cat(*parts))))

    sq_done = m.Wire("sqrt_done")
    sq_root = m.Wire("sqrt_root", RB)
    sq_ready = m.Wire("unused_sqrt_ready")
    isq = seqarith.build_isqrt(VAR_BITS)
    m.Instance(isq, "u_isqrt", ports=[
        ("clk", clk), ("rst", rst), ("start_i", at(S_SQRT_GO)), ("x_i", sc_var),
        ("ready_o", sq_ready), ("done_o", sq_done), ("root_o", sq_root)])

    fdiv_done = m.Wire("fdiv_done")
    fdiv_quot = m.Wire("fdiv_quot", FB)
    fdiv_rem = m.Wire("unused_fdiv_rem", RB)
    fdiv_ready = m.Wire("unused_fdiv_ready")
    fdiv = build_divider(cfg.factor_divider)
    m.Instance(fdiv, "u_factor_div", ports=[
        ("clk", clk), ("rst", rst), ("start_i", at(S_DIV_GO)),
        ("num_i", _k(1 << FACTOR_NUM_BITS, FB)), ("den_i", sc_std), ("ready_o", fdiv_ready),
        ("done_o", fdiv_done), ("quot_o", fdiv_quot), ("rem_o", fdiv_rem)])

    # ---- read out: 5 stages advancing on `en` ------------------------------
    rd_bank = m.Reg("rd_bank_q", KB)
    rd_ptr = m.Reg("rd_ptr_q", PB)
    en = m.Wire("en")
    issue = m.Wire("issue")
    rd_last = m.Wire("rd_last")
    can_issue = m.Wire("can_issue")
    m.Assign(can_issue(bank_state[rd_bank] == _k(SCALED, 2)))
    out_valid = m.Reg("out_valid_q")
    m.Assign(en(OrList(Not(out_valid), out_tready)))
    m.Assign(issue(AndList(en, can_issue)))
    m.Assign(rd_last(rd_ptr == _k(B - 1, PB)))
    valids = [m.Reg(f"{n}_valid_q") for n in ("r", "s1", "s2", "s3")] + [out_valid]
    lasts = [m.Reg(f"{n}_last_q") for n in ("r", "s1", "s2", "s3", "out")]
    r_data = m.Reg("r_data_q", L * IB)
    r_prm = m.Reg("r_prm_q", L * PL)
    r_mean = m.Reg("r_mean_q", IB)
    r_factor = m.Reg("r_factor_q", FB)
    m.Always(Posedge(clk))(
        If(in_fire)(buf_mem[Cat(ld_bank, ld_ptr)](Slice(in_tdata, L * IB - 1, 0))),
        If(prm_fire)(prm_mem[prm_ptr](Slice(prm_tdata, L * PL - 1, 0))),
        If(en)(r_data(buf_mem[Cat(rd_bank, rd_ptr)]), r_prm(prm_mem[rd_ptr]),
               r_mean(bank_mean[rd_bank]), r_factor(bank_factor[rd_bank]),
               *[lasts[t + 1](lasts[t]) for t in range(4)], lasts[0](rd_last)),
    )
    outs = []
    for i in range(L):
        x = m.Wire(f"l{i}_x", IB)
        m.Assign(x(Slice(r_data, i * IB + IB - 1, i * IB)))
        g = m.Wire(f"l{i}_gamma", GB)
        m.Assign(g(Slice(r_prm, i * PL + GB - 1, i * PL)))
        bt = m.Wire(f"l{i}_beta", BB)
        m.Assign(bt(Slice(r_prm, i * PL + PL - 1, i * PL + GB)))
        # stage 1: y = x - mean, n = (y * factor + 2^(ns-1)) >>> ns
        y = m.Wire(f"l{i}_y", YB)
        m.Assign(y(emit.sext(x, IB, YB) - emit.sext(r_mean, IB, YB)))
        yf = m.Wire(f"l{i}_yf", YFB)
        m.Assign(yf(Signed(emit.sext(y, YB, YFB)) * Signed(_zext(r_factor, FB, YFB))
                    + _k(1 << (NS - 1), YFB)))
        n = m.Reg(f"s1_n{i}_q", NB)
        g1 = m.Reg(f"s1_gamma{i}_q", GB)
        b1 = m.Reg(f"s1_beta{i}_q", BB)
        m.Always(Posedge(clk))(If(en)(n(Slice(yf, NS + NB - 1, NS)), g1(g), b1(bt)))
        # |n| < 2^(norm_bits-1) (golden_model.layernorm bound): the bits above
        # are sign copies, the bits below are the dropped fraction
        unused_yf = m.Wire(f"unused_l{i}_yf")
        m.Assign(unused_yf(Uxor(Cat(Slice(yf, YFB - 1, NS + NB), Slice(yf, NS - 1, 0)))))
        # stage 2: a = n * gamma + beta (affine_bits holds it for every n, gamma, beta)
        a = m.Reg(f"s2_a{i}_q", AB)
        m.Always(Posedge(clk))(If(en)(a(
            Signed(emit.sext(n, NB, AB)) * Signed(emit.sext(g1, GB, AB)) + emit.sext(b1, BB, AB))))
        # stages 3-4: requantize(a, M, s) (M and s only change while the unit is empty)
        outs.append(requant_stages(m, clk, en, a, AB, mult_q, shift_q, OB, f"l{i}"))

    m.Always(Posedge(clk))(
        If(rst)(
            *[bank_state[b](_k(FREE, 2)) for b in range(BANKS)],
            ld_bank(_k(0, KB)), ld_ptr(_k(0, PB)), sc_state(_k(S_IDLE, SW)), sc_bank(_k(0, KB)),
            rd_bank(_k(0, KB)), rd_ptr(_k(0, PB)), prm_active(_k(0, 1)), prm_ptr(_k(0, PB)),
            err_q(_k(0, 1)), *[v(_k(0, 1)) for v in valids],
        ).Else(
            # parameters
            If(prm_fire)(
                mult_q(Slice(prm_tdata, prm_top + MULT_BITS - 1, prm_top)),
                shift_q(Slice(prm_tdata, prm_top + MULT_BITS + SHIFT_BITS - 1, prm_top + MULT_BITS)),
                If(prm_end)(
                    prm_active(_k(0, 1)), prm_ptr(_k(0, PB)),
                    If(prm_tlast != (prm_ptr == _k(B - 1, PB)))(err_q(_k(1, 1))),
                ).Else(prm_active(_k(1, 1)), prm_ptr(prm_ptr + _k(1, PB))),
            ),
            # load
            If(in_fire)(
                sum_acc(sum_d), sq_acc(sq_d),
                If(in_end)(
                    ld_ptr(_k(0, PB)), ld_bank(ld_bank + _k(1, KB)),
                    bank_sum[ld_bank](sum_d), bank_sq[ld_bank](sq_d),
                    bank_state[ld_bank](_k(LOADED, 2)),
                    If(in_tlast != (ld_ptr == _k(B - 1, PB)))(err_q(_k(1, 1))),
                ).Else(ld_ptr(ld_ptr + _k(1, PB))),
            ),
            # scalar stage
            If(AndList(at(S_IDLE), bank_state[sc_bank] == _k(LOADED, 2)))(
                sc_sum(bank_sum[sc_bank]), sc_sq(bank_sq[sc_bank]), sc_state(_k(S_MEAN_GO, SW))),
            If(at(S_MEAN_GO))(sc_state(_k(S_MEAN, SW))),
            If(AndList(at(S_MEAN), mdiv_done))(sc_mean(mean_d), sc_state(_k(S_VAR1, SW))),
            If(at(S_VAR1))(
                sc_ms(mean_w * emit.sext(sc_sum, SB, WQ)), sc_mm(mean_w * mean_w),
                sc_state(_k(S_VAR2, SW))),
            If(at(S_VAR2))(sc_var(var_d), sc_state(_k(S_SQRT_GO, SW))),
            If(at(S_SQRT_GO))(sc_state(_k(S_SQRT, SW))),
            If(AndList(at(S_SQRT), sq_done))(
                sc_std(Mux(sq_root == _k(0, RB), _k(1, RB), sq_root)), sc_state(_k(S_DIV_GO, SW))),
            If(at(S_DIV_GO))(sc_state(_k(S_DIV, SW))),
            If(AndList(at(S_DIV), fdiv_done))(sc_state(_k(S_DONE, SW))),
            If(at(S_DONE))(
                bank_mean[sc_bank](sc_mean), bank_factor[sc_bank](fdiv_quot),
                bank_state[sc_bank](_k(SCALED, 2)), sc_bank(sc_bank + _k(1, KB)),
                sc_state(_k(S_IDLE, SW))),
            # read out
            If(issue)(
                If(rd_last)(rd_ptr(_k(0, PB)), rd_bank(rd_bank + _k(1, KB)),
                            bank_state[rd_bank](_k(FREE, 2)))
                .Else(rd_ptr(rd_ptr + _k(1, PB)))),
            If(en)(valids[0](can_issue), *[valids[t + 1](valids[t]) for t in range(4)]),
        ))

    busy_terms = [bank_state[b] != _k(FREE, 2) for b in range(BANKS)]
    m.Assign(busy(OrList(ld_ptr != _k(0, PB), *busy_terms, *valids)))
    m.Assign(err_len(err_q))
    m.Assign(out_tvalid(out_valid))
    m.Assign(out_tlast(lasts[4]))
    word = Cat(*reversed(outs))
    if cfg.out_word_bits > L * OB:
        word = Cat(_k(0, cfg.out_word_bits - L * OB), word)
    m.Assign(out_tdata(word))
    return m


def verilog_files(cfg: LayerNormConfig) -> dict[str, str]:
    """File name -> text: the submodules (one module a file, so Verilator's
    file-name rule holds), then the top."""
    s = cfg.spec
    top = build(cfg)
    files = {}
    for name, sub in top.get_modules().items():
        if name == TOP:
            continue
        files[f"{sub.name}.v"] = emit.verilog_text(
            sub, cfg, "rtl_gen/layernorm.py", f"Submodule of {TOP}: docs/layernorm.md")
    files[f"{TOP}.v"] = emit.verilog_text(
        top, cfg, "rtl_gen/layernorm.py", "Stream protocol and numerics: docs/layernorm.md",
        var_shift=s.var_shift, norm_shift=s.norm_shift, affine_bits=s.affine_bits,
        drain_cycles=cfg.drain_cycles())
    return {name: emit.only_module(text, name[:-2]) for name, text in files.items()}


def verilog(cfg: LayerNormConfig) -> str:
    """The top module's file text."""
    return verilog_files(cfg)[f"{TOP}.v"]


def generate(cfg: LayerNormConfig, out_dir: str | os.PathLike) -> Path:
    """Write the submodules, ``qbert_layernorm.v``, ``files.f`` and ``params.json``
    into ``out_dir`` (all or nothing; see :func:`rtl_gen.emit.write_outputs`)."""
    if not isinstance(cfg, LayerNormConfig):
        raise ConfigError(f"generate wants a LayerNormConfig, got {type(cfg).__name__}")
    return emit.write_outputs(cfg, out_dir, verilog_files(cfg))


def sources(rtl_dir: str | os.PathLike) -> list[Path]:
    return emit.sources(rtl_dir, "layernorm")


__all__ = ["LayerNormConfig", "generate", "build", "verilog", "sources", "TOP", "BANKS",
           "OUT_STAGES", "SCALAR_STATES"]
