"""One attention head, composed from the matmul and softmax generators.

Computes ``ctx = attention_heads(q, k, v, scores_rq, ctx_rq)``
(:func:`golden_model.encoder.attention_heads`) for one head of S tokens
(S <= max_seq, a multiple of rows and of cols), bit-exact:

    scores = requantize(Q K^T, M_s, s_s, 16)       matmul instance ``u_qk``
    probs  = int_softmax(scores)                   softmax instance ``u_softmax``
    ctx    = requantize(P V, M_c, s_c, 8)          matmul instance ``u_pv``

Both matmul instances are the one ``qbert_matmul`` module of
:attr:`AttentionConfig.matmul` (int8 x int8, int16 out, K up to
max(head_dim, max_seq)); the P V result is saturated once more to int8 here,
which equals requantizing straight to int8 (sat8(sat16(y)) = sat8(y)).  The
softmax is ``qbert_softmax`` of :attr:`AttentionConfig.softmax` (used only
through its stream contract, docs/softmax.md).

Ports (docs/attention.md)
-------------------------
* ``seq_len_i`` (S), ``scores_mult_i``/``scores_shift_i`` (M_s, s_s),
  ``ctx_mult_i``/``ctx_shift_i`` (M_c, s_c): held stable from the first load
  beat of a head to its last output beat.
* ``s_axis_q``: S*head_dim/rows beats, for each group g of ``rows`` query
  rows, for k in 0..head_dim-1: lane r (int8) = Q[g*rows + r, k].
* ``s_axis_k``: S*head_dim/cols beats, for each block b of ``cols`` keys,
  for k: lane c = K[b*cols + c, k].
* ``s_axis_v``: S*head_dim/cols beats, for each block b of ``cols`` context
  columns, for j in 0..S-1: lane c = V[j, b*cols + c].
  The three load in parallel, each ends by count (``tlast`` is not needed and
  is ignored); the head starts when all three are in.
* ``m_axis``: per query row, head_dim/cols beats of ``cols`` int8 lanes (lane c
  of beat b = ctx[row, b*cols + c]), ``tlast`` on the row's last beat; rows in
  order.  After the last row the unit takes the next head's loads.

Dataflow: Q K^T of a group of ``rows`` query rows -> scores buffer (two banks)
-> softmax, row by row -> probs buffer (two banks) -> P V -> context registers
-> m_axis.  The two banks let the softmax of group g overlap the scores of
group g+1 and P V of group g; the two arrays run concurrently.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from golden_model.numerics import Numerics
from golden_model.quant import MULT_BITS

from . import emit, matmul, softmax
from .config import ConfigError, UnitConfig, choice, rng
from .matmul import SHIFT_BITS, MatmulConfig
from .softmax import SoftmaxConfig

TOP = "qbert_attention"
NUM = Numerics()
ACT = NUM.act_bits                  # int8 Q, K, V and context
SCORE = NUM.softmax_in_bits         # int16 scores
PROB = NUM.softmax_out_bits         # 7-bit unsigned probabilities


@dataclass(frozen=True)
class AttentionConfig(UnitConfig):
    UNIT = "attention"

    max_seq: int = field(default=128, metadata=rng(1, NUM.max_seq, "longest sequence S"))
    head_dim: int = field(default=64, metadata=rng(1, 256, "head dimension"))
    rows: int = field(default=4, metadata=rng(1, 64, "matmul array rows"))
    cols: int = field(default=4, metadata=rng(1, 32, "matmul array columns (= lanes: at most 32)"))
    lanes: int = field(default=4, metadata=rng(1, 32, "softmax lanes (scores per beat)"))
    dsp_pack: int = field(default=1, metadata=choice(
        1, 2, doc="products per multiplier of both matmul arrays (MatmulConfig.dsp_pack): 2 "
                  "halves their PEs' DSP48E2s; not 3: Q K^T and P V multiply two int8 "
                  "activations, which the mixed array of dsp_pack 3 takes at two cycles a beat, "
                  "fewer products a DSP than 2 gives"))

    def _check(self) -> None:
        if self.head_dim % self.cols:
            raise ConfigError(f"attention: head_dim={self.head_dim} must be a multiple of "
                              f"cols={self.cols} (the array width)")
        if self.lanes != self.cols:
            raise ConfigError(f"attention: lanes={self.lanes} must equal cols={self.cols} "
                              f"(a scores row streams to the softmax as the array wrote it)")
        for name in ("rows", "cols"):
            if self.max_seq % getattr(self, name):
                raise ConfigError(f"attention: max_seq={self.max_seq} must be a multiple of "
                                  f"{name}={getattr(self, name)}")

    @property
    def matmul(self) -> MatmulConfig:
        """The array both matmul instances share (bias unused: 1 bit, always 0)."""
        return MatmulConfig(rows=self.rows, cols=self.cols,
                            k_max=max(self.head_dim, self.max_seq), act_bits=ACT,
                            weight_bits=ACT, bias_bits=1, out_bits=SCORE, dsp_pack=self.dsp_pack)

    @property
    def softmax(self) -> SoftmaxConfig:
        return SoftmaxConfig(lanes=self.lanes, max_len=self.max_seq, in_bits=SCORE,
                             frac_bits=NUM.softmax_frac_bits, out_bits=PROB)

    @property
    def seq_bits(self) -> int:
        """Width of ``seq_len_i`` and of the row/column position counters."""
        return self.max_seq.bit_length()

    def check_seq(self, s: int) -> None:
        """A run-time S the unit takes: 1..max_seq, a multiple of rows and cols."""
        if not (1 <= s <= self.max_seq and s % self.rows == 0 and s % self.cols == 0):
            raise ConfigError(f"attention: S={s} must be in [1, {self.max_seq}] (max_seq) and a "
                              f"multiple of rows={self.rows} and cols={self.cols}")

    def unit_latencies(self) -> dict[str, int]:
        """Each unit's own proven bound, the cycles a pending output tile/row may
        take (not counting cycles its output is stalled): the matmul's
        ``drain_cycles`` (formal/matmul.py, under a parameter stream that never
        starves: the head ties s_axis_prm_tvalid to 1), the softmax's
        ``latency(max_seq)`` (formal/softmax.py).  Keys: the instances."""
        dm = self.matmul.drain_cycles
        return {"qk": dm, "sm": self.softmax.latency(self.max_seq), "pv": dm}

    def latency_terms(self, s: int) -> dict[str, int]:
        """The worst case of one head of S = ``s`` tokens, stage by stage, as if
        nothing overlapped (the terms of :meth:`head_latency`; the proof's budget
        lemma is the same sum over what is left, read off the head's registers):

        - ``qk_read``: the Q K^T feed's first memory read (its register fills);
        - ``qk_beats``, ``qk_drain``: every Q K^T beat, and each tile's drain
          (the unit's bound), one tile after another;
        - ``sm_read``: per query group, the cycle the scores bank turns full and
          the softmax feed reads its first word;
        - ``sm_beats``, ``sm_drain``: every softmax beat (S/lanes a row) and each
          row's bound;
        - ``pv_read``, ``pv_beats``, ``pv_drain``: the same for P V (per group
          head_dim/cols tiles of S beats);
        - ``out``: every output beat (S rows of head_dim/cols beats)."""
        self.check_seq(s)
        R, C, DH = self.rows, self.cols, self.head_dim
        ng, nkb, ncb = s // R, s // C, DH // C
        lat = self.unit_latencies()
        return {"qk_read": 1, "qk_beats": ng * nkb * DH, "qk_drain": ng * nkb * lat["qk"],
                "sm_read": ng, "sm_beats": s * (s // self.lanes), "sm_drain": s * lat["sm"],
                "pv_read": ng, "pv_beats": ng * ncb * s, "pv_drain": ng * ncb * lat["pv"],
                "out": s * ncb}

    def head_latency(self, s: int) -> int:
        """Worst-case cycles from the cycle after a head's last load beat (its three
        loads complete, ``loaded_q`` not yet set) to the cycle that takes its last
        output beat, for S = ``s``, not counting cycles in which m_axis is stalled:
        the sum of :meth:`latency_terms`.

        **Conditional on the units' own bounds** (:meth:`unit_latencies`), taken
        as given, and on "a unit holding nothing takes an offered beat" (E1 of
        the matmul's and the softmax's proofs).  The sum charges every stage as
        if it ran alone (each unit as slow as its bound lets it and refusing
        input while it holds a tile or row), so it is loose where the stages
        overlap (the two arrays run concurrently: about twice the real span at
        the default Config) and exact where they cannot (one token: 43 cycles,
        and one cycle less is violated).  ``qbert prove attention`` proves it
        by k-induction (formal/attention.py, budget lemma L1); the cocotb test
        ``attention_cycles`` checks the real units stay under it."""
        return sum(self.latency_terms(s).values())

    def ideal_cycles(self, s: int) -> int:
        """MAC cycles of one array for Q K^T (= those of P V): S*S*head_dim/(rows*cols)."""
        return s * s * self.head_dim // (self.rows * self.cols)


# --------------------------------------------------------------------------
# Veriloggen construction
# --------------------------------------------------------------------------

class _Builder:
    """Helpers bound to one module: constants, counters, muxes."""

    def __init__(self, m):
        import veriloggen as vg
        self.vg, self.m = vg, m

    def k(self, v: int, w: int):
        return self.vg.Int(v & ((1 << w) - 1), w, 10)

    def pick(self, sel, w: int, items):
        """items[sel] as a Mux chain (sel a w-bit expression)."""
        out = items[-1]
        for i in reversed(range(len(items) - 1)):
            out = self.vg.Mux(sel == self.k(i, w), items[i], out)
        return out


def _sat(b: _Builder, x, fw: int, tw: int):
    """Signed saturation of the fw-bit x to tw bits."""
    vg = b.vg
    hi = vg.Slice(x, fw - 1, tw - 1)
    fits = vg.OrList(hi == b.k(0, fw - tw + 1), hi == b.k(-1, fw - tw + 1))
    return vg.Mux(fits, vg.Slice(x, tw - 1, 0),
                  vg.Mux(x[fw - 1], b.k(1 << (tw - 1), tw), b.k((1 << (tw - 1)) - 1, tw)))


def build(cfg: AttentionConfig):
    """The Veriloggen Module of ``cfg`` (the matmul and softmax as stub instances)."""
    import veriloggen as vg
    from veriloggen import AndList, Cat, If, Module, Not, OrList, Posedge, Slice, StubModule

    R, C, L, DH, SM = cfg.rows, cfg.cols, cfg.lanes, cfg.head_dim, cfg.max_seq
    mc, sc = cfg.matmul, cfg.softmax
    SW = cfg.seq_bits
    NCB = DH // C                        # context column blocks
    RB, CBB = emit.clog2(R), emit.clog2(NCB)
    WB = emit.clog2(SM // C)             # word of a scores/probs row
    LB = emit.clog2(L)
    KB = emit.clog2(DH)
    QA, KA, VA = (emit.clog2(SM // R * DH), emit.clog2(SM // C * DH), emit.clog2(NCB * SM))

    m = Module(TOP)
    b = _Builder(m)
    k = b.k
    clk = m.Input("clk")
    rst = m.Input("rst")
    seq_len = m.Input("seq_len_i", SW)
    s_mult = m.Input("scores_mult_i", MULT_BITS)
    s_shift = m.Input("scores_shift_i", SHIFT_BITS)
    c_mult = m.Input("ctx_mult_i", MULT_BITS)
    c_shift = m.Input("ctx_shift_i", SHIFT_BITS)
    ld = {}
    for name, lanes in (("q", R), ("k", C), ("v", C)):
        ld[name] = dict(data=m.Input(f"s_axis_{name}_tdata", lanes * ACT),
                        valid=m.Input(f"s_axis_{name}_tvalid"),
                        ready=m.Output(f"s_axis_{name}_tready"),
                        last=m.Input(f"s_axis_{name}_tlast"))
    out_tdata = m.Output("m_axis_tdata", C * ACT)
    out_tvalid = m.Output("m_axis_tvalid")
    out_tready = m.Input("m_axis_tready")
    out_tlast = m.Output("m_axis_tlast")
    unused = []

    loaded = m.Reg("loaded_q")          # Q, K, V of the head are in; cleared after its last row
    head_end = m.Wire("head_end")

    # ---- loads: each stream fills its memory in beat order ------------------
    mem_q = m.Reg("q_mem", R * ACT, dims=SM // R * DH)
    mem_k = m.Reg("k_mem", C * ACT, dims=SM // C * DH)
    mem_v = m.Reg("v_mem", C * ACT, dims=NCB * SM)
    done = {}
    for name, mem, aw, step in (("q", mem_q, QA, R), ("k", mem_k, KA, C)):
        p = ld[name]
        d = done[name] = m.Reg(f"{name}_loaded_q")
        addr = m.Reg(f"{name}_ld_addr_q", aw)
        kk = m.Reg(f"{name}_ld_k_q", KB)
        base = m.Reg(f"{name}_ld_base_q", SW)   # first token of the beat's group/block
        fire = m.Wire(f"{name}_ld_fire")
        m.Assign(p["ready"](AndList(Not(loaded), Not(d))))
        m.Assign(fire(AndList(p["valid"], p["ready"])))
        m.Always(Posedge(clk))(If(fire)(mem[addr](p["data"])))
        m.Always(Posedge(clk))(
            If(OrList(rst, head_end))(d(0), addr(0), kk(0), base(0)).Elif(fire)(
                addr(addr + 1),
                If(kk == k(DH - 1, KB))(
                    kk(0),
                    If(base + k(step, SW) == seq_len)(d(1), addr(0), base(0))
                    .Else(base(base + k(step, SW))))
                .Else(kk(kk + 1))))
        unused.append(p["last"])
    p = ld["v"]
    d = done["v"] = m.Reg("v_loaded_q")
    v_addr = m.Reg("v_ld_addr_q", VA)
    v_blk = m.Reg("v_ld_blk_q", CBB)
    v_j = m.Reg("v_ld_j_q", SW)
    v_fire = m.Wire("v_ld_fire")
    m.Assign(p["ready"](AndList(Not(loaded), Not(d))))
    m.Assign(v_fire(AndList(p["valid"], p["ready"])))
    m.Always(Posedge(clk))(If(v_fire)(mem_v[v_addr](p["data"])))
    m.Always(Posedge(clk))(
        If(OrList(rst, head_end))(d(0), v_addr(0), v_blk(0), v_j(0)).Elif(v_fire)(
            v_addr(v_addr + 1),
            If(v_j + k(1, SW) == seq_len)(
                v_j(0),
                If(v_blk == k(NCB - 1, CBB))(d(1), v_addr(0), v_blk(0)).Else(v_blk(v_blk + 1)))
            .Else(v_j(v_j + 1))))
    unused.append(p["last"])
    m.Always(Posedge(clk))(
        If(OrList(rst, head_end))(loaded(0))
        .Elif(AndList(done["q"], done["k"], done["v"]))(loaded(1)))

    def prm_word(mult, shift):
        """C matmul parameter lanes {shift, mult, bias = 0}, byte padded."""
        lane = Cat(*([k(0, mc.prm_lane_bits - mc.prm_field_bits)]
                     if mc.prm_lane_bits > mc.prm_field_bits else []),
                   shift, mult, k(0, mc.bias_bits))
        return Cat(*[lane] * C)

    def matmul_inst(name, act, wgt, valid, act_ready, last, prm, out):
        wgt_ready, prm_ready, err = (m.Wire(f"{name}_{s}") for s in
                                     ("wgt_tready", "prm_tready", "err_tlast"))
        unused.extend([wgt_ready, prm_ready, err])
        m.Instance(StubModule(matmul.TOP), f"u_{name}", ports=[
            ("clk", clk), ("rst", rst),
            ("s_axis_act_tdata", act), ("s_axis_act_tvalid", valid),
            ("s_axis_act_tready", act_ready), ("s_axis_act_tlast", last),
            ("s_axis_wgt_tdata", wgt), ("s_axis_wgt_tvalid", valid),
            ("s_axis_wgt_tready", wgt_ready), ("s_axis_wgt_tlast", last),
            ("s_axis_prm_tdata", prm), ("s_axis_prm_tvalid", k(1, 1)),
            ("s_axis_prm_tready", prm_ready),
            ("m_axis_tdata", out["data"]), ("m_axis_tvalid", out["valid"]),
            ("m_axis_tready", out["ready"]), ("m_axis_tlast", out["last"]),
            ("err_tlast_o", err)])

    def stream(name, width):
        return dict(data=m.Wire(f"{name}_tdata", width), valid=m.Wire(f"{name}_tvalid"),
                    ready=m.Wire(f"{name}_tready"), last=m.Wire(f"{name}_tlast"))

    # ---- Q K^T feed: per group g, per key block, head_dim beats -------------
    # Memory reads are registered; a read happens only when the feed register
    # is empty or its beat is taken, so stalls need no skid buffer.
    qk_issued = m.Reg("qk_issued_q")    # every beat of the head read out
    qk_valid = m.Reg("qk_valid_q")
    qk_last = m.Reg("qk_last_q")
    qk_act = m.Reg("qk_act_q", R * ACT)
    qk_wgt = m.Reg("qk_wgt_q", C * ACT)
    qk_ready = m.Wire("qk_act_tready")
    qk_adv = m.Wire("qk_adv")
    qk_run = m.Wire("qk_run")
    qa, qbase, ka = m.Reg("qk_q_addr_q", QA), m.Reg("qk_q_base_q", QA), m.Reg("qk_k_addr_q", KA)
    qk_k, qk_col, qk_row = m.Reg("qk_k_q", KB), m.Reg("qk_col_q", SW), m.Reg("qk_row_q", SW)
    m.Assign(qk_adv(OrList(Not(qk_valid), qk_ready)))
    m.Assign(qk_run(AndList(loaded, Not(qk_issued))))
    m.Always(Posedge(clk))(If(AndList(qk_adv, qk_run))(qk_act(mem_q[qa]), qk_wgt(mem_k[ka])))
    m.Always(Posedge(clk))(
        If(OrList(rst, head_end))(
            qk_issued(0), qk_valid(0), qa(0), qbase(0), ka(0), qk_k(0), qk_col(0), qk_row(0))
        .Elif(qk_adv)(
            qk_valid(qk_run), qk_last(qk_k == k(DH - 1, KB)),
            If(qk_run)(
                If(qk_k == k(DH - 1, KB))(
                    qk_k(0),
                    If(qk_col + k(C, SW) == seq_len)(
                        qk_col(0), ka(0),
                        If(qk_row + k(R, SW) == seq_len)(qk_issued(1))
                        .Else(qk_row(qk_row + k(R, SW)), qa(qa + 1), qbase(qa + 1)))
                    .Else(qk_col(qk_col + k(C, SW)), ka(ka + 1), qa(qbase)))
                .Else(qk_k(qk_k + 1), qa(qa + 1), ka(ka + 1)))))
    qk_out = stream("qk_m_axis", C * SCORE)
    matmul_inst("qk", qk_act, qk_wgt, qk_valid, qk_ready, qk_last,
                prm_word(s_mult, s_shift), qk_out)

    # ---- scores buffer: two banks of rows x (max_seq / cols) words ----------
    mem_s = m.Reg("scores_mem", C * SCORE, dims=2 << (RB + WB))
    s_full = [m.Reg(f"scores_full{i}_q") for i in range(2)]
    s_wb, s_wr, s_ww, s_wcol = (m.Reg("scores_wr_bank_q"), m.Reg("scores_wr_row_q", RB),
                                m.Reg("scores_wr_word_q", WB), m.Reg("scores_wr_col_q", SW))
    s_fire, s_wend = m.Wire("scores_wr_fire"), m.Wire("scores_wr_end")
    m.Assign(qk_out["ready"](Not(b.pick(s_wb, 1, s_full))))
    m.Assign(s_fire(AndList(qk_out["valid"], qk_out["ready"])))
    m.Assign(s_wend(AndList(s_fire, qk_out["last"], s_wcol + k(C, SW) == seq_len)))
    m.Always(Posedge(clk))(If(s_fire)(mem_s[Cat(s_wb, s_wr, s_ww)](qk_out["data"])))
    m.Always(Posedge(clk))(
        If(rst)(s_wb(0), s_wr(0), s_ww(0), s_wcol(0)).Elif(s_fire)(
            If(qk_out["last"])(
                s_wr(0),
                If(s_wend)(s_ww(0), s_wcol(0), s_wb(Not(s_wb)))
                .Else(s_ww(s_ww + 1), s_wcol(s_wcol + k(C, SW))))
            .Else(s_wr(s_wr + 1))))

    # ---- softmax feed: the bank's rows in order, S / cols beats each --------
    sf_valid, sf_last = m.Reg("sf_valid_q"), m.Reg("sf_last_q")
    sf_data = m.Reg("sf_data_q", C * SCORE)
    s_rb, s_rr, s_rw, s_rcol = (m.Reg("scores_rd_bank_q"), m.Reg("scores_rd_row_q", RB),
                                m.Reg("scores_rd_word_q", WB), m.Reg("scores_rd_col_q", SW))
    sf_ready, sf_adv, sf_run, s_rend = (m.Wire(n) for n in
                                        ("sf_tready", "sf_adv", "sf_run", "scores_rd_end"))
    m.Assign(sf_adv(OrList(Not(sf_valid), sf_ready)))
    m.Assign(sf_run(b.pick(s_rb, 1, s_full)))
    row_end = s_rcol + k(C, SW) == seq_len
    m.Assign(s_rend(AndList(sf_adv, sf_run, row_end, s_rr == k(R - 1, RB))))
    m.Always(Posedge(clk))(If(AndList(sf_adv, sf_run))(sf_data(mem_s[Cat(s_rb, s_rr, s_rw)])))
    m.Always(Posedge(clk))(
        If(rst)(sf_valid(0), s_rb(0), s_rr(0), s_rw(0), s_rcol(0)).Elif(sf_adv)(
            sf_valid(sf_run), sf_last(row_end),
            If(sf_run)(
                If(row_end)(
                    s_rw(0), s_rcol(0),
                    If(s_rr == k(R - 1, RB))(s_rr(0), s_rb(Not(s_rb))).Else(s_rr(s_rr + 1)))
                .Else(s_rw(s_rw + 1), s_rcol(s_rcol + k(C, SW))))))
    for i in range(2):
        m.Always(Posedge(clk))(
            If(rst)(s_full[i](0))
            .Elif(AndList(s_wend, s_wb == k(i, 1)))(s_full[i](1))
            .Elif(AndList(s_rend, s_rb == k(i, 1)))(s_full[i](0)))

    sm_out = stream("sm_m_axis", sc.out_word_bits)
    sm_keep, err_len, err_keep = m.Wire("sm_tkeep", L), m.Wire("sm_err_len"), m.Wire("sm_err_keep")
    unused.extend([sm_keep, err_len, err_keep])
    m.Instance(StubModule(softmax.TOP), "u_softmax", ports=[
        ("clk", clk), ("rst", rst),
        ("s_axis_tdata", sf_data), ("s_axis_tkeep", k((1 << L) - 1, L)),
        ("s_axis_tvalid", sf_valid), ("s_axis_tready", sf_ready), ("s_axis_tlast", sf_last),
        ("m_axis_tdata", sm_out["data"]), ("m_axis_tkeep", sm_keep),
        ("m_axis_tvalid", sm_out["valid"]), ("m_axis_tready", sm_out["ready"]),
        ("m_axis_tlast", sm_out["last"]), ("err_len_o", err_len), ("err_keep_o", err_keep)])
    if sc.out_word_bits > L * PROB:
        unused.append(Slice(sm_out["data"], sc.out_word_bits - 1, L * PROB))

    # ---- probs buffer: one memory per array row, two banks each -------------
    mem_p = [m.Reg(f"probs{r}_mem", L * PROB, dims=2 << WB) for r in range(R)]
    p_full = [m.Reg(f"probs_full{i}_q") for i in range(2)]
    p_wb, p_wr, p_ww = m.Reg("probs_wr_bank_q"), m.Reg("probs_wr_row_q", RB), m.Reg("probs_wr_word_q", WB)
    p_fire, p_wend = m.Wire("probs_wr_fire"), m.Wire("probs_wr_end")
    m.Assign(sm_out["ready"](Not(b.pick(p_wb, 1, p_full))))
    m.Assign(p_fire(AndList(sm_out["valid"], sm_out["ready"])))
    m.Assign(p_wend(AndList(p_fire, sm_out["last"], p_wr == k(R - 1, RB))))
    for r in range(R):
        m.Always(Posedge(clk))(If(AndList(p_fire, p_wr == k(r, RB)))(
            mem_p[r][Cat(p_wb, p_ww)](Slice(sm_out["data"], L * PROB - 1, 0))))
    m.Always(Posedge(clk))(
        If(rst)(p_wb(0), p_wr(0), p_ww(0)).Elif(p_fire)(
            If(sm_out["last"])(
                p_ww(0),
                If(p_wr == k(R - 1, RB))(p_wr(0), p_wb(Not(p_wb))).Else(p_wr(p_wr + 1)))
            .Else(p_ww(p_ww + 1))))

    # ---- P V feed: per context block, S beats (probs column j, V row j) -----
    pv_valid, pv_last = m.Reg("pv_valid_q"), m.Reg("pv_last_q")
    pv_words = [m.Reg(f"pv_probs{r}_q", L * PROB) for r in range(R)]
    pv_lane_q = m.Reg("pv_lane_q", LB)
    pv_wgt = m.Reg("pv_wgt_q", C * ACT)
    p_rb, pv_j, pv_w, pv_l, pv_blk = (m.Reg("probs_rd_bank_q"), m.Reg("pv_j_q", SW),
                                     m.Reg("pv_word_q", WB), m.Reg("pv_lane_ctr_q", LB),
                                     m.Reg("pv_blk_q", CBB))
    pv_va = m.Reg("pv_v_addr_q", VA)
    pv_ready, pv_adv, pv_run, p_rend = (m.Wire(n) for n in
                                        ("pv_act_tready", "pv_adv", "pv_run", "probs_rd_end"))
    m.Assign(pv_adv(OrList(Not(pv_valid), pv_ready)))
    m.Assign(pv_run(b.pick(p_rb, 1, p_full)))
    j_end = pv_j + k(1, SW) == seq_len
    m.Assign(p_rend(AndList(pv_adv, pv_run, j_end, pv_blk == k(NCB - 1, CBB))))
    m.Always(Posedge(clk))(If(AndList(pv_adv, pv_run))(
        *[pv_words[r](mem_p[r][Cat(p_rb, pv_w)]) for r in range(R)],
        pv_lane_q(pv_l), pv_wgt(mem_v[pv_va])))
    m.Always(Posedge(clk))(
        If(rst)(pv_valid(0), p_rb(0), pv_j(0), pv_w(0), pv_l(0), pv_blk(0), pv_va(0)).Elif(pv_adv)(
            pv_valid(pv_run), pv_last(j_end),
            If(pv_run)(
                pv_va(pv_va + 1),
                If(j_end)(
                    pv_j(0), pv_w(0), pv_l(0),
                    If(pv_blk == k(NCB - 1, CBB))(pv_blk(0), pv_va(0), p_rb(Not(p_rb)))
                    .Else(pv_blk(pv_blk + 1)))
                .Else(
                    pv_j(pv_j + 1),
                    If(pv_l == k(L - 1, LB))(pv_l(0), pv_w(pv_w + 1)).Else(pv_l(pv_l + 1))))))
    for i in range(2):
        m.Always(Posedge(clk))(
            If(rst)(p_full[i](0))
            .Elif(AndList(p_wend, p_wb == k(i, 1)))(p_full[i](1))
            .Elif(AndList(p_rend, p_rb == k(i, 1)))(p_full[i](0)))
    # probabilities are unsigned PROB bits: zero-extended into the int8 act lanes
    pv_act = m.Wire("pv_act", R * ACT)
    m.Assign(pv_act(Cat(*[Cat(k(0, ACT - PROB), b.pick(pv_lane_q, LB, [
        Slice(pv_words[r], (i + 1) * PROB - 1, i * PROB) for i in range(L)]))
        for r in reversed(range(R))])))
    if L == 1:
        unused.append(pv_lane_q)   # one lane a word: nothing to select
    pv_out = stream("pv_m_axis", C * SCORE)
    matmul_inst("pv", pv_act, pv_wgt, pv_valid, pv_ready, pv_last,
                prm_word(c_mult, c_shift), pv_out)

    # ---- context registers: a group's rows x head_dim, then out row by row --
    ctx = [[m.Reg(f"ctx_r{r}_b{j}_q", C * ACT) for j in range(NCB)] for r in range(R)]
    ctx_full = m.Reg("ctx_full_q")
    c_wr, c_wb = m.Reg("ctx_wr_row_q", RB), m.Reg("ctx_wr_blk_q", CBB)
    c_fire = m.Wire("ctx_wr_fire")
    m.Assign(pv_out["ready"](Not(ctx_full)))
    m.Assign(c_fire(AndList(pv_out["valid"], pv_out["ready"])))
    ctx_word = m.Wire("ctx_word", C * ACT)
    lanes16 = []
    for c in range(C):
        w = m.Wire(f"pv_out_c{c}", SCORE)
        m.Assign(w(Slice(pv_out["data"], (c + 1) * SCORE - 1, c * SCORE)))
        lanes16.append(w)
    m.Assign(ctx_word(Cat(*[_sat(b, w, SCORE, ACT) for w in reversed(lanes16)])))
    for r in range(R):
        for j in range(NCB):
            m.Always(Posedge(clk))(
                If(AndList(c_fire, c_wr == k(r, RB), c_wb == k(j, CBB)))(ctx[r][j](ctx_word)))
    o_row, o_blk, o_base = m.Reg("out_row_q", RB), m.Reg("out_blk_q", CBB), m.Reg("out_base_q", SW)
    o_fire, o_gend = m.Wire("out_fire"), m.Wire("out_group_end")
    m.Assign(out_tvalid(ctx_full))
    m.Assign(out_tlast(o_blk == k(NCB - 1, CBB)))
    m.Assign(out_tdata(b.pick(o_row, RB, [b.pick(o_blk, CBB, ctx[r]) for r in range(R)])))
    m.Assign(o_fire(AndList(ctx_full, out_tready)))
    m.Assign(o_gend(AndList(o_fire, o_blk == k(NCB - 1, CBB), o_row == k(R - 1, RB))))
    m.Assign(head_end(AndList(o_gend, o_base + k(R, SW) == seq_len)))
    m.Always(Posedge(clk))(
        If(rst)(ctx_full(0), c_wr(0), c_wb(0), o_row(0), o_blk(0), o_base(0)).Else(
            If(c_fire)(
                If(pv_out["last"])(
                    c_wr(0),
                    If(c_wb == k(NCB - 1, CBB))(c_wb(0), ctx_full(1)).Else(c_wb(c_wb + 1)))
                .Else(c_wr(c_wr + 1))),
            If(o_fire)(
                If(o_blk == k(NCB - 1, CBB))(
                    o_blk(0),
                    If(o_row == k(R - 1, RB))(
                        o_row(0), ctx_full(0),
                        If(head_end)(o_base(0)).Else(o_base(o_base + k(R, SW))))
                    .Else(o_row(o_row + 1)))
                .Else(o_blk(o_blk + 1)))))

    # handshakes and status this head does not use (Verilator exempts unused_*)
    unused_w = m.Wire("unused_ports")
    m.Assign(unused_w(vg.Uxor(Cat(*unused))))
    return m


def verilog(cfg: AttentionConfig) -> str:
    return emit.verilog_text(build(cfg), cfg, "rtl_gen/attention.py",
                             "Ports, load order and latency: docs/attention.md",
                             seq_bits=cfg.seq_bits)


def generate(cfg: AttentionConfig, out_dir: str | os.PathLike) -> Path:
    """Write the matmul, softmax and attention RTL, ``files.f`` and ``params.json``
    into ``out_dir`` (all or nothing; see :func:`rtl_gen.emit.write_outputs`)."""
    if not isinstance(cfg, AttentionConfig):
        raise ConfigError(f"generate wants an AttentionConfig, got {type(cfg).__name__}")
    sc = cfg.softmax
    return emit.write_outputs(cfg, out_dir, {
        f"{matmul.TOP}.v": matmul.verilog(cfg.matmul),
        **softmax.files(sc),
        f"{TOP}.v": verilog(cfg)})


def sources(rtl_dir: str | os.PathLike) -> list[Path]:
    return emit.sources(rtl_dir, "attention")


__all__ = ["AttentionConfig", "generate", "build", "verilog", "sources", "TOP"]
