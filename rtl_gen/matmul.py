"""Quantized matmul unit: output-stationary ROWS x COLS MAC array + requantizer.

Computes, per tile, ``out[r, c] = requantize(sum_k x[r, k] * w[k, c] + bias[c],
mult[c], shift[c])`` exactly as :func:`golden_model.matmul.int_matmul` (round
half up by add-then-arithmetic-shift, saturate to out_bits: int8 or int16).

Tile protocol (docs/matmul.md)
------------------------------
A tile is ROWS output rows x COLS output channels over a K-run of 1..k_max.

* ``s_axis_act``: K beats; beat k carries the activation column x[0..ROWS-1, k],
  lane r in ``tdata[8r +: 8]`` (int8).  ``tlast`` on beat K-1 ends the tile.
* ``s_axis_wgt``: K beats in lockstep with ``s_axis_act``; beat k carries the
  weight row w[k, 0..COLS-1], lane c in ``tdata[WB*c +: WB]`` (int4/int8);
  ``tdata`` is padded to whole bytes (AXI4-Stream), the pad is ignored.
  ``tlast`` must equal the activation's ``tlast``; a disagreement sets the
  sticky ``err_tlast_o`` (the activation's ``tlast`` is the one obeyed).
  An act/wgt beat pair is taken in the cycle both are valid: one MAC per PE
  per cycle.
* Mixed Configs (weight_bits 8, dsp_pack 3) have ``s_axis_wgt_tuser``: 0 makes
  the beat int4 (each lane's low nibble, one cycle), 1 int8 (two cycles: the
  beat is taken in the second).
* ``s_axis_prm``: one beat per tile, any time before or during its K-run;
  lane c (PL = bias_bits + 37 bits rounded up to whole bytes) holds
  ``{shift[5:0], mult[30:0], bias[bias_bits-1:0]}`` in its low bits for output
  channel c of the tile (the pad above is ignored).
* ``m_axis``: ROWS beats per tile, beat r carries out[r, 0..COLS-1], lane c in
  ``tdata[OB*c +: OB]`` (signed out_bits: int8, or int16 where the attention
  head feeds scores to the softmax); ``tlast`` on row ROWS-1.

At the end of a K-run the accumulators move to a shadow bank (together with
the tile's parameters) in the cycle after the last beat, while the next tile's
first beat is already accumulating; the shadow bank drains one row a cycle
through a 3-stage requantizer (bias add, multiply, round/shift/saturate), or,
with ``requant_lanes`` < COLS shared requantizers, one row in ``row_cycles``
chunks of requant_lanes columns.  The array therefore runs at one beat a cycle
as long as K >= ``shadow_cycles`` + 1 (ROWS + 1 with a requantizer per column)
and the output is not stalled.  Any ``tvalid`` gap or ``tready`` stall just holds the
pipeline (the whole drain pipeline advances on ``!m_axis_tvalid |
m_axis_tready``).

Precondition: K <= k_max and bias within bias_bits (the accumulators are
sized by :func:`golden_model.matmul.acc_bits_for` for exactly that).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from golden_model.matmul import acc_bits_for
from golden_model.quant import MULT_BITS

from . import emit
from .config import ConfigError, UnitConfig, choice, rng
from .requant import SHIFT_BITS, requant_product_stage, requant_stages

TOP = "qbert_matmul"
#: the DSP48E2 multiplier's signed inputs (A, B): a packed weight operand must
#: fit the first and the activation the second
DSP_A_BITS, DSP_B_BITS = 27, 18


@dataclass(frozen=True)
class PackGroup:
    """Neighbouring columns whose PEs of a row share one multiplier (dsp_pack).

    The weights form one signed operand ``sum_i w[cols[i]] * 2^(shift*i)``
    (``operand_bits`` wide); each row multiplies it by its activation once and
    keeps the low ``product_bits`` bits of ``p = sum_i x*w[cols[i]] * 2^(shift*i)``.
    """
    cols: tuple
    shift: int
    operand_bits: int
    product_bits: int
    #: a mixed triple (weight_bits 8, dsp_pack 3): the shift of its int8 pair
    #: (first two columns) in an int8 beat's second cycle; 0 otherwise
    wide_shift: int = 0

    @property
    def name(self) -> str:
        return "_".join(f"c{c}" for c in self.cols)


@dataclass(frozen=True)
class MatmulConfig(UnitConfig):
    UNIT = "matmul"

    rows: int = field(default=4, metadata=rng(1, 64, "PE array rows (output rows per tile)"))
    cols: int = field(default=4, metadata=rng(1, 64, "PE array columns (output channels per tile)"))
    k_max: int = field(default=4096, metadata=rng(1, 1 << 20, "longest K-run"))
    act_bits: int = field(default=8, metadata=choice(8))
    weight_bits: int = field(default=8, metadata=choice(4, 8))
    bias_bits: int = field(default=28, metadata=rng(1, 32, "bias width (signed)"))
    out_bits: int = field(default=8, metadata=choice(
        8, 16, 17, doc="output width (signed); 16 feeds the softmax's score input (attention), "
                       "17 the residual add of the encoder engine"))
    dsp_pack: int = field(default=1, metadata=choice(
        1, 2, 3, doc="products per multiplier: 2 packs the weights of two neighbouring columns "
                     "into one 27-bit operand, so one DSP48E2 does both MACs of a row; 3 packs "
                     "three int4 weights; with weight_bits=8 the weight beats are mixed: "
                     "s_axis_wgt_tuser picks int4 (three a multiplier, one cycle) or int8 "
                     "(two cycles a beat) per beat (docs/matmul.md)"))
    requant_lanes: int = field(default=0, metadata=rng(
        0, 64, "requantizers (about 4 DSP48E2s each): 0 = one per column; fewer drain each "
               "output row through them in ceil(cols / requant_lanes) cycles"))

    def _check(self) -> None:
        if self.requant_lanes > self.cols:
            raise ConfigError(f"matmul: requant_lanes={self.requant_lanes} must be <= "
                              f"cols={self.cols} (0: one requantizer per column)")
        if self.acc_bits > 32:
            kmax = max_k(self.act_bits, self.weight_bits, self.bias_bits)
            hint = (f"k_max must be <= {kmax} for bias_bits={self.bias_bits}"
                    if kmax else f"bias_bits={self.bias_bits} alone fills 32 bits")
            raise ConfigError(
                f"matmul: k_max={self.k_max} with weight_bits={self.weight_bits} and "
                f"bias_bits={self.bias_bits} needs a {self.acc_bits}-bit accumulator, "
                f"beyond the 32 bits requantization takes: {hint}")

    @property
    def acc_bits(self) -> int:
        return acc_bits_for(self.k_max, self.act_bits, self.weight_bits, self.bias_bits)

    @property
    def prod_bits(self) -> int:
        return self.act_bits + self.weight_bits

    @property
    def mixed(self) -> bool:
        """int8 weight lanes on int4 triples (weight_bits 8, dsp_pack 3): each
        s_axis_wgt beat's tuser says whether it is int8 (1: two cycles) or int4
        (0: the low nibble of every lane, one cycle)."""
        return self.dsp_pack == 3 and self.weight_bits == 8

    @property
    def prm_field_bits(self) -> int:
        """Used bits of one parameter lane: {shift, mult, bias}."""
        return self.bias_bits + MULT_BITS + SHIFT_BITS

    @property
    def prm_lane_bits(self) -> int:
        """One parameter lane, padded to whole bytes."""
        return emit.bytes_width(self.prm_field_bits)

    @property
    def rq_lanes(self) -> int:
        """The requantizers: ``requant_lanes``, or one per column."""
        return self.requant_lanes or self.cols

    @property
    def row_cycles(self) -> int:
        """Cycles the drain takes per output row: ceil(cols / rq_lanes) chunks of
        rq_lanes columns, one a cycle."""
        return -(-self.cols // self.rq_lanes)

    @property
    def shadow_cycles(self) -> int:
        """Cycles the shadow bank is busy with a tile: ``rows * row_cycles``
        issues; a tile cannot move into it sooner (K-runs shorter than this
        plus one cycle make the array wait)."""
        return self.rows * self.row_cycles

    @property
    def drain_cycles(self) -> int:
        """Un-stalled cycles from the cycle that takes a tile's last act/wgt beat
        to the cycle that takes its last output beat, when the tile's parameter
        beat is in (or offered in that cycle) and the shadow bank is free: one to
        move the tile into the shadow bank, ``rows * row_cycles`` to issue its
        rows (a chunk of rq_lanes columns a cycle), three requantizer stages.
        Proven as a bound by ``qbert prove matmul`` (formal/matmul.py, U3
        latency) and measured by the cocotb test ``matmul_latency``."""
        return self.shadow_cycles + 4

    @property
    def pack_groups(self) -> tuple:
        """The :class:`PackGroup` s of a row, left to right.  dsp_pack 2: pairs
        (2j, 2j + 1); dsp_pack 3: triples (3j, 3j + 1, 3j + 2), and two columns
        left over form a pair.  A single last column keeps its own multiplier."""
        n = self.dsp_pack
        if n == 1:
            return ()
        groups = [tuple(range(c, c + n)) for c in range(0, self.cols - n + 1, n)]
        rest = self.cols % n
        if rest == 2:
            groups.append((self.cols - 2, self.cols - 1))
        return tuple(self._pack_group(g) for g in groups)

    def _pack_group(self, cols: tuple) -> PackGroup:
        PB, WB = self.prod_bits, self.weight_bits
        if len(cols) == 2:
            # a field of the product plus one bit: the low product's sign is the
            # borrow it takes from the high one
            s = PB + 1
            return PackGroup(cols, s, s + WB + 1, s + PB)
        # three int8 x int4 fields of 11 bits (one less than the product's 12):
        # x*w is in [-1016, 1024], inside [-1023, 1024], so a field read as that
        # range's representative is exact (docs/matmul.md, "DSP packing")
        pb4 = self.act_bits + 4
        s = pb4 - 1
        if not self.mixed:
            return PackGroup(cols, s, 2 * s + 4 + 1, 2 * s + pb4)
        # an int8 beat's second cycle packs the first two columns as a pair
        ws = PB + 1
        return PackGroup(cols, s, max(2 * s + 4 + 1, ws + WB + 1), max(2 * s + pb4, ws + PB), ws)

    @property
    def wgt_word_bits(self) -> int:
        """s_axis_wgt tdata: cols weight lanes, padded to whole bytes."""
        return emit.bytes_width(self.cols * self.weight_bits)


def max_k(act_bits: int, weight_bits: int, bias_bits: int) -> int:
    """Largest k_max whose accumulator still fits 32 bits (0 if none)."""
    lo, hi = 0, 1 << 24
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if acc_bits_for(mid, act_bits, weight_bits, bias_bits) <= 32:
            lo = mid
        else:
            hi = mid - 1
    return lo


# --------------------------------------------------------------------------
# Veriloggen construction
# --------------------------------------------------------------------------

def build(cfg: MatmulConfig):
    """The Veriloggen Module of ``cfg``."""
    from veriloggen import (AndList, Cat, If, Int, Module, Mux, Not, OrList, Posedge,
                            Signed, Slice, Uxor)

    R, C = cfg.rows, cfg.cols
    AB, WB, OB, BB = cfg.act_bits, cfg.weight_bits, cfg.out_bits, cfg.bias_bits
    A, PB, PL, PF = cfg.acc_bits, cfg.prod_bits, cfg.prm_lane_bits, cfg.prm_field_bits
    RB = emit.clog2(R)

    def k(v: int, w: int):
        return Int(v, w, 10)

    sext = emit.sext

    m = Module(TOP)
    clk = m.Input("clk")
    rst = m.Input("rst")
    act_tdata = m.Input("s_axis_act_tdata", R * AB)
    act_tvalid = m.Input("s_axis_act_tvalid")
    act_tready = m.Output("s_axis_act_tready")
    act_tlast = m.Input("s_axis_act_tlast")
    wgt_tdata = m.Input("s_axis_wgt_tdata", cfg.wgt_word_bits)
    wgt_tvalid = m.Input("s_axis_wgt_tvalid")
    wgt_tready = m.Output("s_axis_wgt_tready")
    wgt_tlast = m.Input("s_axis_wgt_tlast")
    # mixed: 1 = an int8 beat (two cycles), 0 = int4 (the lanes' low nibbles)
    wgt_tuser = m.Input("s_axis_wgt_tuser") if cfg.mixed else None
    prm_tdata = m.Input("s_axis_prm_tdata", C * PL)
    prm_tvalid = m.Input("s_axis_prm_tvalid")
    prm_tready = m.Output("s_axis_prm_tready")
    out_tdata = m.Output("m_axis_tdata", C * OB)
    out_tvalid = m.Output("m_axis_tvalid")
    out_tready = m.Input("m_axis_tready")
    out_tlast = m.Output("m_axis_tlast")
    err_tlast = m.Output("err_tlast_o")

    # ---- control of the array ------------------------------------------
    first_q = m.Reg("first_q")        # next beat starts a tile
    done_q = m.Reg("done_q")          # accumulators hold a finished tile
    prm_full_q = m.Reg("prm_full_q")
    prm_q = m.Reg("prm_q", C * PF)
    shd_full_q = m.Reg("shd_full_q")
    shd_row_q = m.Reg("shd_row_q", RB)
    shd_prm_q = m.Reg("shd_prm_q", C * PF)
    err_q = m.Reg("err_tlast_q")

    load_shd = m.Wire("load_shd")
    beat_ok = m.Wire("beat_ok")
    fire = m.Wire("fire")
    prm_fire = m.Wire("prm_fire")
    m.Assign(load_shd(AndList(done_q, prm_full_q, Not(shd_full_q))))
    m.Assign(beat_ok(OrList(Not(done_q), load_shd)))
    # mixed: an int8 beat's first cycle (wide_first) forms each triple's third
    # product (held in pfirst_*); the beat is taken in its second cycle.  The
    # first cycle waits for beat_ok too, so an int8 beat is exactly an int4 one
    # that takes two cycles (the engine's cycle model counts on it)
    take = beat_ok
    if cfg.mixed:
        wide_q = m.Reg("wide_q")
        wide_first = m.Wire("wide_first")
        wide_start = m.Wire("wide_start")
        take = m.Wire("take")
        m.Assign(wide_first(AndList(wgt_tuser, Not(wide_q))))
        m.Assign(take(AndList(beat_ok, Not(wide_first))))
        m.Assign(wide_start(AndList(act_tvalid, wgt_tvalid, wide_first, beat_ok)))
        m.Always(Posedge(clk))(
            If(rst)(wide_q(k(0, 1)))
            .Elif(wide_start)(wide_q(k(1, 1)))
            .Elif(fire)(wide_q(k(0, 1))))
    m.Assign(fire(AndList(act_tvalid, wgt_tvalid, take)))
    m.Assign(act_tready(AndList(wgt_tvalid, take)))
    m.Assign(wgt_tready(AndList(act_tvalid, take)))
    m.Assign(prm_tready(OrList(Not(prm_full_q), load_shd)))
    m.Assign(prm_fire(AndList(prm_tvalid, OrList(Not(prm_full_q), load_shd))))
    m.Assign(err_tlast(err_q))

    m.Always(Posedge(clk))(
        If(rst)(
            first_q(k(1, 1)), done_q(k(0, 1)), prm_full_q(k(0, 1)), err_q(k(0, 1)),
        ).Else(
            If(fire)(first_q(act_tlast)),
            done_q(OrList(AndList(fire, act_tlast), AndList(done_q, Not(load_shd)))),
            If(prm_fire)(prm_full_q(k(1, 1))).Elif(load_shd)(prm_full_q(k(0, 1))),
            If(AndList(fire, act_tlast != wgt_tlast))(err_q(k(1, 1))),
        ))
    # keep only the used bits of each byte-padded parameter lane
    prm_fields = m.Wire("prm_fields", C * PF)
    m.Assign(prm_fields(Cat(*[Slice(prm_tdata, c * PL + PF - 1, c * PL)
                              for c in reversed(range(C))])))
    pads = [Slice(prm_tdata, c * PL + PL - 1, c * PL + PF) for c in range(C) if PL > PF]
    if cfg.wgt_word_bits > C * WB:
        pads.append(Slice(wgt_tdata, cfg.wgt_word_bits - 1, C * WB))
    if pads:
        # byte padding of the AXI4-Stream words: ignored on purpose (Verilator
        # exempts *unused* names from UNUSED warnings)
        unused_pad = m.Wire("unused_pad")
        m.Assign(unused_pad(Uxor(Cat(*pads))))
    m.Always(Posedge(clk))(If(prm_fire)(prm_q(prm_fields)))
    m.Always(Posedge(clk))(If(load_shd)(shd_prm_q(prm_q)))

    # ---- the PE array ----------------------------------------------------
    acts, wgts = [], []
    for r in range(R):
        a = m.Wire(f"act_r{r}", AB)
        m.Assign(a(Slice(act_tdata, r * AB + AB - 1, r * AB)))
        acts.append(a)
    for c in range(C):
        w = m.Wire(f"wgt_c{c}", WB)
        m.Assign(w(Slice(wgt_tdata, c * WB + WB - 1, c * WB)))
        wgts.append(w)

    if cfg.mixed:
        # an int4 beat's weight is its lane's low nibble (wgt_e_*: the weight a
        # column outside the triples multiplies)
        in_triples = {c for g in cfg.pack_groups if len(g.cols) == 3 for c in g.cols}
        wide_wgts, nibs, wgts = wgts, [], list(wgts)
        for c, w in enumerate(wide_wgts):
            n = m.Wire(f"wgt_n_c{c}", 4)
            m.Assign(n(Slice(w, 3, 0)))
            nibs.append(n)
            if c not in in_triples:
                wgts[c] = m.Wire(f"wgt_e_c{c}", WB)
                m.Assign(wgts[c](Mux(wgt_tuser, w, sext(n, 4, WB))))
        packed = _mixed_products(m, cfg, clk, acts, wide_wgts, nibs, wgts, wgt_tuser, wide_q,
                                 wide_start)
    else:
        packed = _packed_products(m, cfg, acts, wgts)
    acc_q, shd_q = {}, {}
    for r in range(R):
        for c in range(C):
            t = f"r{r}_c{c}"
            prod = m.Wire(f"prod_{t}", PB)
            if (r, c) in packed:
                m.Assign(prod(packed[r, c]))
            else:
                # operands widened to the product width first: a product is only
                # as wide as its widest operand (DESIGN.md, Veriloggen pitfall)
                m.Assign(prod(Signed(sext(acts[r], AB, PB)) * Signed(sext(wgts[c], WB, PB))))
            acc = m.Reg(f"acc_{t}_q", A)
            acc_d = m.Wire(f"acc_{t}_d", A)
            m.Assign(acc_d(Mux(first_q, sext(prod, PB, A), acc + sext(prod, PB, A))))
            m.Always(Posedge(clk))(If(fire)(acc(acc_d)))
            shd = m.Reg(f"shd_{t}_q", A)
            m.Always(Posedge(clk))(If(load_shd)(shd(acc)))
            acc_q[r, c], shd_q[r, c] = acc, shd

    # ---- drain: 3-stage requantizer, whole pipeline advances on `en` -----
    out_valid_q = m.Reg("out_valid_q")
    out_last_q = m.Reg("out_last_q")
    s1_valid_q = m.Reg("s1_valid_q")
    s1_last_q = m.Reg("s1_last_q")
    s2_valid_q = m.Reg("s2_valid_q")
    s2_last_q = m.Reg("s2_last_q")
    en = m.Wire("en")
    issue = m.Wire("issue")
    row_last = m.Wire("row_last")
    m.Assign(en(OrList(Not(out_valid_q), out_tready)))
    m.Assign(issue(AndList(en, shd_full_q)))
    m.Assign(row_last(shd_row_q == k(R - 1, RB)))

    fields = {}

    def col_fields(c):
        """Column c's (bias, mult, shift) of the shadow bank's parameters."""
        if c not in fields:
            base = c * PF
            bias = m.Wire(f"bias_c{c}", BB)
            mult = m.Wire(f"mult_c{c}", MULT_BITS)
            shift = m.Wire(f"shift_c{c}", SHIFT_BITS)
            m.Assign(bias(Slice(shd_prm_q, base + BB - 1, base)))
            m.Assign(mult(Slice(shd_prm_q, base + BB + MULT_BITS - 1, base + BB)))
            m.Assign(shift(Slice(shd_prm_q, base + PF - 1, base + BB + MULT_BITS)))
            fields[c] = (bias, mult, shift)
        return fields[c]

    def shadow_row(c):
        """Column c's shadow accumulator of row ``shd_row_q``."""
        sel = shd_q[R - 1, c]
        for r in range(R - 2, -1, -1):
            sel = Mux(shd_row_q == k(r, RB), shd_q[r, c], sel)
        return sel

    if cfg.row_cycles == 1:
        m.Always(Posedge(clk))(
            If(rst)(
                shd_full_q(k(0, 1)), shd_row_q(k(0, RB)),
                s1_valid_q(k(0, 1)), s2_valid_q(k(0, 1)), out_valid_q(k(0, 1)),
            ).Else(
                If(load_shd)(shd_full_q(k(1, 1)), shd_row_q(k(0, RB)))
                .Elif(issue)(
                    If(row_last)(shd_full_q(k(0, 1)), shd_row_q(k(0, RB)))
                    .Else(shd_row_q(shd_row_q + k(1, RB)))),
                If(en)(s1_valid_q(shd_full_q), s2_valid_q(s1_valid_q), out_valid_q(s2_valid_q)),
            ))
        m.Always(Posedge(clk))(
            If(en)(s1_last_q(row_last), s2_last_q(s1_last_q), out_last_q(s2_last_q)))
        outs = []
        for c in range(C):
            bias, mult, shift = col_fields(c)
            # stage 1: select the row, add the bias (acc_bits holds sum + bias)
            row = m.Wire(f"row_c{c}", A)
            m.Assign(row(shadow_row(c)))
            s1_sum = m.Reg(f"s1_sum_c{c}_q", A)
            s1_mult = m.Reg(f"s1_mult_c{c}_q", MULT_BITS)
            s1_shift = m.Reg(f"s1_shift_c{c}_q", SHIFT_BITS)
            m.Always(Posedge(clk))(If(en)(
                s1_sum(row + sext(bias, BB, A)), s1_mult(mult), s1_shift(shift)))

            # stages 2 and 3: product, then round, shift and saturate
            o = requant_stages(m, clk, en, s1_sum, A, s1_mult, s1_shift, OB, f"c{c}")
            outs.append(o)
    else:
        outs = _shared_requantizers(m, cfg, clk, rst, en, issue, row_last, load_shd, shadow_row,
                                    col_fields, shd_full_q, shd_row_q, s1_valid_q, s1_last_q,
                                    s2_valid_q, s2_last_q, out_valid_q, out_last_q)

    m.Assign(out_tdata(Cat(*reversed(outs))))
    m.Assign(out_tvalid(out_valid_q))
    m.Assign(out_tlast(out_last_q))
    return m


def _shared_requantizers(m, cfg: MatmulConfig, clk, rst, en, issue, row_last, load_shd,
                         shadow_row, col_fields, shd_full_q, shd_row_q, s1_valid_q, s1_last_q,
                         s2_valid_q, s2_last_q, out_valid_q, out_last_q) -> list:
    """requant_lanes < cols: the drain issues each shadow row as ``row_cycles``
    chunks of rq_lanes columns (``shd_chunk_q``), chunk j's lane l is column
    j * rq_lanes + l; the lanes' third stage writes their columns' output
    registers ``out_c*_q``, and the row's beat is valid once its last chunk
    (``s2_end_q``) has written.  Returns the output registers, column order."""
    from veriloggen import AndList, If, Mux, Posedge
    R, C, A, BB, OB = cfg.rows, cfg.cols, cfg.acc_bits, cfg.bias_bits, cfg.out_bits
    RB, NL, NCH = emit.clog2(R), cfg.rq_lanes, cfg.row_cycles
    CB = emit.clog2(NCH)

    def k(v: int, w: int):
        from veriloggen import Int
        return Int(v, w, 10)

    shd_chunk_q = m.Reg("shd_chunk_q", CB)
    s1_chunk_q, s2_chunk_q = m.Reg("s1_chunk_q", CB), m.Reg("s2_chunk_q", CB)
    s1_end_q, s2_end_q = m.Reg("s1_end_q"), m.Reg("s2_end_q")
    chunk_last = m.Wire("chunk_last")
    m.Assign(chunk_last(shd_chunk_q == k(NCH - 1, CB)))
    m.Always(Posedge(clk))(
        If(rst)(
            shd_full_q(k(0, 1)), shd_row_q(k(0, RB)), shd_chunk_q(k(0, CB)),
            s1_valid_q(k(0, 1)), s2_valid_q(k(0, 1)), out_valid_q(k(0, 1)),
        ).Else(
            If(load_shd)(shd_full_q(k(1, 1)), shd_row_q(k(0, RB)), shd_chunk_q(k(0, CB)))
            .Elif(issue)(
                If(chunk_last)(
                    shd_chunk_q(k(0, CB)),
                    If(row_last)(shd_full_q(k(0, 1)), shd_row_q(k(0, RB)))
                    .Else(shd_row_q(shd_row_q + k(1, RB))))
                .Else(shd_chunk_q(shd_chunk_q + k(1, CB)))),
            If(en)(s1_valid_q(shd_full_q), s2_valid_q(s1_valid_q),
                   out_valid_q(AndList(s2_valid_q, s2_end_q))),
        ))
    m.Always(Posedge(clk))(
        If(en)(s1_last_q(AndList(row_last, chunk_last)), s2_last_q(s1_last_q),
               out_last_q(s2_last_q), s1_end_q(chunk_last), s2_end_q(s1_end_q),
               s1_chunk_q(shd_chunk_q), s2_chunk_q(s1_chunk_q)))

    def by_chunk(items):
        """items[j] for chunk ``shd_chunk_q`` = j (the last one for any chunk beyond)."""
        out = items[-1]
        for j in range(len(items) - 2, -1, -1):
            out = Mux(shd_chunk_q == k(j, CB), items[j], out)
        return out

    outs = [m.Reg(f"out_c{c}_q", OB) for c in range(C)]
    for lane in range(NL):
        cols = list(range(lane, C, NL))            # chunk j's column for this lane
        t = f"l{lane}"
        row, bias, mult, shift = (m.Wire(f"{n}_{t}", w) for n, w in (
            ("row", A), ("bias", BB), ("mult", MULT_BITS), ("shift", SHIFT_BITS)))
        m.Assign(row(by_chunk([shadow_row(c) for c in cols])))
        for i, w in enumerate((bias, mult, shift)):
            m.Assign(w(by_chunk([col_fields(c)[i] for c in cols])))
        s1_sum = m.Reg(f"s1_sum_{t}_q", A)
        s1_mult = m.Reg(f"s1_mult_{t}_q", MULT_BITS)
        s1_shift = m.Reg(f"s1_shift_{t}_q", SHIFT_BITS)
        m.Always(Posedge(clk))(If(en)(
            s1_sum(row + emit.sext(bias, BB, A)), s1_mult(mult), s1_shift(shift)))
        sat = requant_product_stage(m, clk, en, s1_sum, A, s1_mult, s1_shift, OB, t)
        for j, c in enumerate(cols):
            m.Always(Posedge(clk))(
                If(AndList(en, s2_valid_q, s2_chunk_q == k(j, CB)))(outs[c](sat)))
    return outs


def _packed_products(m, cfg: MatmulConfig, acts, wgts, groups=None) -> dict:
    """dsp_pack 2 or 3: (row, column) -> the PE's exact product, one multiplier
    per :class:`PackGroup` and row: ``p = x * wpack`` (Xilinx WP486), signed,
    kept to ``product_bits``.  Exact for every operand value (the formal Q1 and
    the testbenches compare each PE against the plain product).
    """
    out = {}
    WB = cfg.weight_bits
    for g in cfg.pack_groups if groups is None else groups:
        terms = [(wgts[c], WB, g.shift * i) for i, c in enumerate(g.cols)]
        pw = _operand(m, g, terms)
        for r, act in enumerate(acts):
            p = _multiplier(m, cfg, g, act, pw, r)
            fields = (_pair_fields(p, cfg.prod_bits, g.shift, g.product_bits)
                      if len(g.cols) == 2 else _triple_fields(m, g, p, f"r{r}_{g.name}"))
            for c, prod in zip(g.cols, fields):
                out[r, c] = prod
    return out


def _operand(m, g: PackGroup, terms, name: str = ""):
    """The signed operand ``sum w * 2^lo`` of ``terms`` (wire, bits, lo), operand_bits wide."""
    from veriloggen import Cat, Int
    OPB = g.operand_bits
    parts = [emit.sext(w, b, OPB - lo) if not lo else Cat(emit.sext(w, b, OPB - lo), Int(0, lo, 2))
             for w, b, lo in terms]
    pw = m.Wire(name or f"wpack_{g.name}", OPB)
    m.Assign(pw(sum(parts[1:], parts[0])))
    return pw


def _multiplier(m, cfg: MatmulConfig, g: PackGroup, act, pw, r: int):
    """Row r's multiplier of group g: ``sext(x) * sext(wpack)``, product_bits wide
    (formal/matmul.py checks every one is written exactly so)."""
    from veriloggen import Signed
    P = g.product_bits
    assert g.operand_bits <= DSP_A_BITS and cfg.act_bits <= DSP_B_BITS
    p = m.Wire(f"pprod_r{r}_{g.name}", P)
    m.Assign(p(Signed(emit.sext(act, cfg.act_bits, P)) * Signed(emit.sext(pw, g.operand_bits, P))))
    return p


def _mixed_products(m, cfg: MatmulConfig, clk, acts, wide_wgts, nibs, eff, wide, wide_q,
                    first) -> dict:
    """Mixed (weight_bits 8, dsp_pack 3): (row, column) -> the PE's exact product
    of the beat, int8 x int8 when ``wide`` (s_axis_wgt_tuser), else int8 x the
    lane's low nibble.  Pairs and single columns multiply the beat's effective
    weights (``wgt_e_c*``) as with dsp_pack 2; a triple's multiplier forms, in an
    int4 beat, its three int4 products at once, and in an int8 beat its third
    column's product in the first cycle (``first``: kept in ``pfirst_*``) and the
    first two as an int8 pair in the second (``wide_q``)."""
    from veriloggen import If, Mux, Posedge, Slice
    out = {}
    AB, WB = cfg.act_bits, cfg.weight_bits
    triples = [g for g in cfg.pack_groups if len(g.cols) == 3]
    out.update(_packed_products(m, cfg, acts, eff,
                                [g for g in cfg.pack_groups if len(g.cols) == 2]))
    for g in triples:
        c0, c1, c2 = g.cols
        narrow = _operand(m, g, [(nibs[c], 4, g.shift * i) for i, c in enumerate(g.cols)],
                          f"wnarrow_{g.name}")
        pair = _operand(m, g, [(wide_wgts[c0], WB, 0), (wide_wgts[c1], WB, g.wide_shift)],
                        f"wpair_{g.name}")
        third = _operand(m, g, [(wide_wgts[c2], WB, 0)], f"wthird_{g.name}")
        pw = m.Wire(f"wpack_{g.name}", g.operand_bits)
        m.Assign(pw(Mux(wide, Mux(wide_q, pair, third), narrow)))
        for r, act in enumerate(acts):
            p = _multiplier(m, cfg, g, act, pw, r)
            n0, n1, n2 = _triple_fields(m, g, p, f"r{r}_{g.name}")
            w0, w1 = _pair_fields(p, cfg.prod_bits, g.wide_shift, g.wide_shift + cfg.prod_bits)
            held = m.Reg(f"pfirst_r{r}_c{c2}_q", cfg.prod_bits)
            m.Always(Posedge(clk))(If(first)(held(Slice(p, cfg.prod_bits - 1, 0))))
            pb4 = AB + 4
            for c, wide_v, nar in ((c0, w0, n0), (c1, w1, n1), (c2, held, n2)):
                pn = m.Wire(f"pnarrow_r{r}_c{c}", pb4)
                m.Assign(pn(nar))
                out[r, c] = Mux(wide, wide_v, emit.sext(pn, pb4, cfg.prod_bits))
    return out


def _pair_fields(p, pb: int, s: int, P: int) -> list:
    """``p = x*w0 + x*w1 * 2^s`` with s = pb + 1: w0's product is the low pb
    bits; bit s - 1 is its sign, the borrow it took from w1's, which is
    ``p[s +: pb] + p[s-1]``."""
    from veriloggen import Cat, Int, Slice
    return [Slice(p, pb - 1, 0), Slice(p, P - 1, s) + Cat(Int(0, pb - 1, 2), p[s - 1])]


def _triple_fields(m, g: PackGroup, p, tag: str) -> list:
    """``p = x*w0 + x*w1 * 2^F + x*w2 * 2^2F`` with F = 11 (int8 x int4): each
    product is in [-1016, 1024], so the low F bits of a field determine it as
    the representative in [-1023, 1024]: negative exactly when the field's top
    bit is set and any bit below it is (``pneg``).  A negative field borrowed
    one from the field above: ``q = p[P-1:F] + pneg0`` undoes it for w1 and w2,
    and ``q[P-F-1:F] + pneg1`` for w2.  Each product is F + 1 = 12 bits."""
    from veriloggen import Cat, Int, Slice, Uor
    F = g.shift
    P = 2 * F + F + 1      # the three fields; a mixed group's multiplier may be wider

    def neg(v, name):
        w = m.Wire(f"pneg{name}_{tag}")
        m.Assign(w(v[F - 1] & Uor(Slice(v, F - 2, 0))))
        return w

    n0 = neg(p, 0)
    q = m.Wire(f"pq_{tag}", P - F)
    m.Assign(q(Slice(p, P - 1, F) + Cat(Int(0, P - F - 1, 2), n0)))
    n1 = neg(q, 1)
    return [Cat(n0, Slice(p, F - 1, 0)), Cat(n1, Slice(q, F - 1, 0)),
            Slice(q, P - F - 1, F) + Cat(Int(0, F, 2), n1)]


def verilog(cfg: MatmulConfig) -> str:
    return emit.verilog_text(build(cfg), cfg, "rtl_gen/matmul.py", "Tile protocol and numerics: docs/matmul.md",
                             acc_bits=cfg.acc_bits)


def generate(cfg: MatmulConfig, out_dir: str | os.PathLike) -> Path:
    """Write ``qbert_matmul.v``, ``files.f`` and ``params.json`` into ``out_dir``.

    All or nothing: the files are written into a temporary folder beside
    ``out_dir`` and renamed into place.  An existing ``out_dir`` is replaced
    only if it is empty or an earlier generator output (has params.json).
    """
    if not isinstance(cfg, MatmulConfig):
        raise ConfigError(f"generate wants a MatmulConfig, got {type(cfg).__name__}")
    return emit.write_outputs(cfg, out_dir, {f"{TOP}.v": verilog(cfg)})


def sources(rtl_dir: str | os.PathLike) -> list[Path]:
    """The Verilog files named by ``rtl_dir/files.f``."""
    return emit.sources(rtl_dir, "matmul")


__all__ = ["MatmulConfig", "generate", "build", "verilog", "sources", "TOP",
           "max_k"]
