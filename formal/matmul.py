"""Proof of the generated matmul unit (``rtl_gen.matmul``, top ``qbert_matmul``).

Yosys' open-source frontend has no ``bind``, and the generator emits one flat
module, so the properties are *injected*: :func:`inject` pastes a
```ifdef FORMAL`` block before the module's ``endmodule``, where it can name
the unit's internal registers (``acc_r{r}_c{c}_q``, ``shd_*``, ``s1_*``,
``s2_*``, ``out_c{c}_q``, ``first_q``, ``done_q``, ``fire``, ``load_shd``,
``en`` ...).  If the generator renames them the job ERRORs; it can never pass
by accident.

Environment (assumed): reset in the first cycle; s_axis_act, s_axis_wgt and
s_axis_prm obey AXI4-Stream (``qbert_axis_check`` ROLE_ENV); no tile is longer
than k_max beats (the beat at position k_max carries tlast); every parameter
lane's shift is <= 62 (the golden model's domain).

Proven for every input sequence (k-induction), per PE (r, c) and column c:

- Q1 ``acc_equal``: after a tile's first beat, acc_r{r}_c{c}_q equals the exact
  (ghost, acc_bits + 3 bits, never wraps) sum of the tile's products: the acc_bits_for accumulator never wraps;
- Q2 ``acc_bound``: k*pmin <= sum <= k*pmax with k the tile's beat count, k <= k_max;
- Q3 ``shadow_equal``: the shadow bank holds the finished tile's exact sums;
- Q4 ``bias_add``: stage 1 holds row sum + bias exactly (no wrap in acc_bits);
- Q5 ``requant_equal``: every output lane equals
  ``qbert_requant_ref`` (= golden_model.quant.requantize) of the stage-1 sum,
  multiplier and shift; Q6 is the same one stage earlier (the induction lemma);
- P1/P2 on m_axis (reset, hold under stall) and U1/U2 between act tiles and
  output tiles (no spurious output tile, at most 5 in flight), with
  Q7 ``pending_map``: the unit counter equals the tiles held in the unit.
- E1 ``empty_takes_beat``: holding no tile, the unit takes an offered act+wgt
  beat (the composed attention head assumes it of its abstract matmuls,
  formal/attention.py).

U3 ``latency`` (:func:`latency_job`, its own job): with s_axis_prm kept valid,
the next pending output tile completes within ``drain_cycles + 1`` un-stalled
cycles.

Not covered here (the cocotb testbench checks them): that the parameter beat
paired with a tile is that tile's (a one-entry buffer), the row order of the
output beats.
"""
from __future__ import annotations

import re

from golden_model.widths import int_range
from rtl_gen.emit import clog2

from . import axis, equiv
from .sby import SbyJob

K_RE = re.compile(r"^\s*module\s+(\w+)", re.M)


def inject(text: str, module: str, block: str) -> str:
    """``text`` with ``block`` inserted before the ``endmodule`` of ``module``."""
    m = re.search(rf"^\s*module\s+{re.escape(module)}\b", text, re.M)
    if not m:
        raise ValueError(f"module {module!r} not found in the RTL text")
    end = re.compile(r"^\s*endmodule\b", re.M).search(text, m.end())
    if not end:
        raise ValueError(f"module {module!r} has no endmodule")
    return text[:end.start()] + "\n" + block.rstrip() + "\n" + text[end.start():]


PARTS = ("acc", "req")
#: the bounded-latency part: its own job, as it narrows the environment
LATENCY = "lat"


def formal_block(cfg, ghost_bits: int | None = None, cols=None, parts=PARTS,
                 bound: int | None = None) -> str:
    """The formal properties of ``qbert_matmul`` for a MatmulConfig ``cfg``.

    Ghost sums are ``ghost_bits`` wide (default acc_bits + 3: every ghost value is
    bounded by Q2/Q3 far inside it, so the ghosts never wrap and Q1/Q3/Q4 are real
    no-overflow checks of the acc_bits registers).

    ``cols``: the output columns whose PE and requantizer properties are
    asserted (default all).  The control, protocol and tile properties are in
    every block; a column's properties need nothing from the other columns, so
    one job per column is the same proof, cut into independent pieces.
    ``parts``: "acc" (Q1-Q4: accumulators, shadow, bias add) and/or "req"
    (Q5-Q6: requantization); each needs only the control properties; or
    ``(LATENCY,)`` alone: U3 with the bound ``bound`` (default drain_cycles + 1,
    the tight one) and its lemmas, see :func:`latency_lemmas`.
    """
    lat = tuple(parts) == (LATENCY,)
    if not lat and (not parts or any(p not in PARTS for p in parts)):
        raise ValueError(f"parts must be ({LATENCY!r},) or a non-empty subset of {PARTS}, "
                         f"got {parts!r}")
    R, C = cfg.rows, cfg.cols
    sel_cols = list(range(C)) if cols is None else sorted(set(cols))
    if not sel_cols or any(not 0 <= c < C for c in sel_cols):
        raise ValueError(f"cols must name columns in [0, {C - 1}], got {cols!r}")
    NL, NCH = cfg.rq_lanes, cfg.row_cycles
    if NCH > 1:     # a shared requantizer lane's properties take all of its columns
        sel_cols = sorted({cc for c in sel_cols for cc in range(c % NL, C, NL)})
    if lat:
        sel_cols = []
    AB, WB, OB, A = cfg.act_bits, cfg.weight_bits, cfg.out_bits, cfg.acc_bits
    K = cfg.k_max
    PL, PF = cfg.prm_lane_bits, cfg.prm_field_bits   # byte-padded lane, its used bits
    alo, ahi = int_range(AB)
    wlo, whi = int_range(WB)
    prods = [alo * wlo, alo * whi, ahi * wlo, ahi * whi]
    pmin, pmax = min(prods), max(prods)
    kw = max(2, (K + 1).bit_length())

    G = ghost_bits or A + 3
    if G < A + 2 or G > 64:
        raise ValueError(f"ghost_bits must be in [acc_bits + 2, 64], got {G}")

    def c64(v: int) -> str:
        return f"-{G}'sd{-v}" if v < 0 else f"{G}'sd{v}"

    L = []
    a = L.append
    a("`ifdef FORMAL")
    a("    // ---- environment ----")
    a("    reg f_first = 1'b1;")
    a("    always @(posedge clk) f_first <= 1'b0;")
    a("    always @(*) if (f_first) assume (rst);")
    a(f"    qbert_axis_check #(.DATA_W({R * AB}), .ROLE(1)) f_act (.clk(clk), .rst(rst), "
      ".tvalid(s_axis_act_tvalid), .tready(s_axis_act_tready), .tdata(s_axis_act_tdata), "
      ".tlast(s_axis_act_tlast), .tuser(1'b0));")
    wuser = "s_axis_wgt_tuser" if cfg.mixed else "1'b0"
    a(f"    qbert_axis_check #(.DATA_W({cfg.wgt_word_bits}), .ROLE(1)) f_wgt (.clk(clk), .rst(rst), "
      ".tvalid(s_axis_wgt_tvalid), .tready(s_axis_wgt_tready), .tdata(s_axis_wgt_tdata), "
      f".tlast(s_axis_wgt_tlast), .tuser({wuser}));")
    a(f"    qbert_axis_check #(.DATA_W({C * PL}), .ROLE(1)) f_prm (.clk(clk), .rst(rst), "
      ".tvalid(s_axis_prm_tvalid), .tready(s_axis_prm_tready), .tdata(s_axis_prm_tdata), "
      ".tlast(1'b0), .tuser(1'b0));")
    for c in range(C):
        a(f"    always @(*) if (s_axis_prm_tvalid) assume (s_axis_prm_tdata[{c * PL + PF - 1}:{c * PL + PF - 6}] <= 6'd62);")
    a(f"    reg [{kw - 1}:0] f_k = {kw}'d0;   // beats of the current (or last finished) tile")
    a(f"    wire [{kw - 1}:0] f_pos = first_q ? {kw}'d1 : f_k + {kw}'d1;")
    a(f"    always @(*) if (!rst && s_axis_act_tvalid && f_pos == {kw}'d{K}) assume (s_axis_act_tlast);")
    a("    always @(posedge clk) if (rst) f_k <= 0; else if (fire) f_k <= f_pos;")
    a(f"    wire signed [{G - 1}:0] f_k64 = {{{G - kw}'d0, f_k}};")
    a("    wire f_chk = !rst && !f_first;")
    L.extend(packed_products_block(cfg))
    a("    // ---- protocol and tiles ----")
    a(f"    qbert_axis_check #(.DATA_W({C * OB}), .ROLE(0)) f_out (.clk(clk), .rst(rst), "
      ".tvalid(m_axis_tvalid), .tready(m_axis_tready), .tdata(m_axis_tdata), "
      ".tlast(m_axis_tlast), .tuser(1'b0));")
    bound = (bound or cfg.drain_cycles + 1) if lat else 0
    a("    " + axis.units_instance("f_units", "s_axis_act", "m_axis", max_pending=5, latency=bound,
                                   pending="f_pending", timer="f_timer").replace("\n", "\n    "))
    if lat:
        a(latency_lemmas(cfg, bound))
    a("    // non-vacuity (mode cover): a whole output tile, and one that waited out a stall")
    a("    reg f_stalled = 1'b0;")
    a("    always @(posedge clk) if (rst) f_stalled <= 1'b0; else if (m_axis_tvalid && !m_axis_tready) f_stalled <= 1'b1;")
    a("    always @(*) if (f_chk) cover (m_axis_tvalid && m_axis_tready && m_axis_tlast);                 // C1 tile_out")
    a("    always @(*) if (f_chk) cover (f_stalled && m_axis_tvalid && m_axis_tready && m_axis_tlast && f_pending == 2);  // C2 two_tiles_after_stall")
    a("    always @(*) if (f_chk) begin")
    a("        assert (f_pending == done_q + shd_full_q + (s1_valid_q && s1_last_q) + "
      "(s2_valid_q && s2_last_q) + (out_valid_q && out_last_q));   // Q7 pending_map")
    a("        assert (f_pending != 0 || !(s_axis_act_tvalid && s_axis_wgt_tvalid) || "
      f"(s_axis_act_tready && s_axis_wgt_tready){' || wide_first' if cfg.mixed else ''});   "
      "// E1 empty_takes_beat (an int8 beat's first cycle waits)")
    if cfg.mixed:
        a("        assert (!wide_q || fire);   // M2 second_cycle_takes: an int8 beat takes two cycles, never more")
    # the encoder engine advances its act/wgt feed on act's tready alone: its
    # abstract matmul assumes this (formal/encoder.py, Abstract.lockstep)
    a("        assert (!(s_axis_act_tvalid && s_axis_wgt_tvalid) || "
      "s_axis_act_tready == s_axis_wgt_tready);   // E2 lockstep_ready")
    a(f"        assert (f_k <= {kw}'d{K});                                  // Q2 acc_bound: k <= k_max")
    a(f"        assert (first_q || (f_k != 0 && f_k < {kw}'d{K}));          // Q2 acc_bound: tile position")
    a("        assert (f_k != 0 || (first_q && !done_q && !shd_full_q && !s1_valid_q && !s2_valid_q && !out_valid_q));  // Q2 acc_bound: start")
    a("        assert (!done_q || first_q);                                  // Q2 acc_bound: tile end")
    if sel_cols:
        a(f"        assert (!prm_full_q || {' && '.join(f'prm_q[{c * PF + PF - 1}:{c * PF + PF - 6}] <= 6{chr(39)}d62' for c in sel_cols)});  // Q5 requant_equal: shift domain")
        a(f"        assert (!shd_full_q || {' && '.join(f'shd_prm_q[{c * PF + PF - 1}:{c * PF + PF - 6}] <= 6{chr(39)}d62' for c in sel_cols)});  // Q5 requant_equal: shift domain")
    a("    end")
    for r in range(R if "acc" in parts and sel_cols else 0):
        for c in sel_cols:
            t = f"r{r}_c{c}"
            a(f"    // PE {t}")
            a(f"    reg signed [{G - 1}:0] g_acc_{t} = {G}'sd0, g_shd_{t} = {G}'sd0;")
            # the spec's product, exact at act_bits + weight_bits (the shape a DUT multiplier has)
            a(f"    wire signed [{AB + WB - 1}:0] g_p_{t} = $signed(act_r{r}) * {beat_weight(cfg, c)};")
            a(f"    wire signed [{G - 1}:0] g_prod_{t} = g_p_{t};")
            a(f"    always @(posedge clk) if (rst) g_acc_{t} <= {G}'sd0; else if (fire) g_acc_{t} <= (first_q ? {G}'sd0 : g_acc_{t}) + g_prod_{t};")
            a(f"    always @(posedge clk) if (load_shd) g_shd_{t} <= g_acc_{t};")
            a("    always @(*) if (f_chk) begin")
            a(f"        assert (f_k == 0 || g_acc_{t} == $signed(acc_{t}_q));          // Q1 acc_equal")
            a(f"        assert (g_acc_{t} >= f_k64 * {c64(pmin)} && g_acc_{t} <= f_k64 * {c64(pmax)});  // Q2 acc_bound")
            a(f"        assert (!shd_full_q || g_shd_{t} == $signed(shd_{t}_q));       // Q3 shadow_equal")
            a(f"        assert (!shd_full_q || (g_shd_{t} >= {c64(K * pmin)} && g_shd_{t} <= {c64(K * pmax)}));  // Q3 shadow_equal: bound")
            a("    end")
    if NCH > 1:
        L.extend(shared_requant_block(cfg, sel_cols, parts, G))
        a("`endif")
        return "\n".join(L) + "\n"
    for c in sel_cols:
        sel = _row_select(R, c)
        if "acc" in parts:
            a(f"    // column {c}: bias add")
            a(f"    wire signed [{G - 1}:0] g_row_c{c} = {sel};")
            a(f"    reg signed [{G - 1}:0] g_s1_c{c} = {G}'sd0;")
            a(f"    always @(posedge clk) if (en) g_s1_c{c} <= g_row_c{c} + $signed(bias_c{c});")
            a(f"    always @(*) if (f_chk) assert (!s1_valid_q || g_s1_c{c} == $signed(s1_sum_c{c}_q));  // Q4 bias_add")
        if "req" in parts:
            a(f"    // column {c}: requantization")
            a(f"    wire signed [{OB - 1}:0] f_ref_c{c};")
            a(f"    wire signed [{A - 1}:0] f_s1_c{c} = s1_sum_c{c}_q;")
            a(f"    qbert_requant_ref f_req_c{c} (.acc(f_s1_c{c}), .mult(s1_mult_c{c}_q), "
              f".shift(s1_shift_c{c}_q), .y(f_ref_c{c}));")
            a(f"    reg [{OB - 1}:0] g_y2_c{c}, g_y3_c{c};")
            a(f"    always @(posedge clk) if (en) begin g_y2_c{c} <= f_ref_c{c}; g_y3_c{c} <= g_y2_c{c}; end")
            a("    always @(*) if (f_chk) begin")
            a(f"        assert (!s1_valid_q || s1_shift_c{c}_q <= 6'd62);                 // Q5 requant_equal: shift domain")
            a(f"        assert (!s2_valid_q || s2_shift_c{c}_q <= 6'd62);                 // Q5 requant_equal: shift domain")
            a(f"        assert (!s2_valid_q || sat_c{c} == g_y2_c{c});                   // Q6 requant_stage")
            a(f"        assert (!out_valid_q || out_c{c}_q == g_y3_c{c});                // Q5 requant_equal")
            a("    end")
    a("`endif")
    return "\n".join(L) + "\n"


def _row_select(R: int, c: int) -> str:
    """The ghost shadow accumulator of column c at row ``shd_row_q``."""
    rb = clog2(R)
    sel = f"g_shd_r{R - 1}_c{c}"
    for r in range(R - 2, -1, -1):
        sel = f"(shd_row_q == {rb}'d{r}) ? g_shd_r{r}_c{c} : ({sel})"
    return sel


def shared_requant_block(cfg, sel_cols, parts, G: int) -> list[str]:
    """Q4-Q6 when requantizers are shared (requant_lanes < cols): lane l takes
    column ``j * rq_lanes + l`` in chunk j of a row.  The chunk each stage
    holds is a ghost pipeline of ``shd_chunk_q``; the lane's sum, multiplier
    and shift are checked against the ghost shadow row and the column's
    parameters of that chunk (Q4), its output against qbert_requant_ref (Q6),
    and every output column against the reference of its own lane and chunk
    (Q5)."""
    R, C, A, OB = cfg.rows, cfg.cols, cfg.acc_bits, cfg.out_bits
    NL, NCH = cfg.rq_lanes, cfg.row_cycles
    cb = clog2(NCH)
    L = []
    a = L.append
    a("    // ---- shared requantizers: the chunk of each stage ----")
    a(f"    reg [{cb - 1}:0] g_ch1 = {cb}'d0, g_ch2 = {cb}'d0;")
    a("    always @(posedge clk) if (en) begin g_ch1 <= shd_chunk_q; g_ch2 <= g_ch1; end")
    a("    always @(*) if (f_chk) begin")
    a(f"        assert (shd_chunk_q <= {cb}'d{NCH - 1});                       // Q4 chunk range")
    a("        assert (!s1_valid_q || s1_chunk_q == g_ch1);                  // Q4 chunk pipeline")
    a("        assert (!s2_valid_q || s2_chunk_q == g_ch2);                  // Q4 chunk pipeline")
    a("        assert (!(s1_valid_q && s1_last_q) || s1_end_q);              // Q7 pending_map: row end")
    a("        assert (!(s2_valid_q && s2_last_q) || s2_end_q);              // Q7 pending_map: row end")
    # a row's chunks move through the stages back to back (issue, S1, S2 stall together)
    for j in range(1, NCH):
        a(f"        assert (!(shd_full_q && shd_chunk_q == {cb}'d{j}) || (s1_valid_q && g_ch1 == {cb}'d{j - 1}));  // Q5 chunk order")
        a(f"        assert (!(s1_valid_q && g_ch1 == {cb}'d{j}) || (s2_valid_q && g_ch2 == {cb}'d{j - 1}));  // Q5 chunk order")
    a("        assert (s1_end_q == (g_ch1 == " + f"{cb}'d{NCH - 1}) || !s1_valid_q);       // Q5 chunk order: row end")
    a("        assert (s2_end_q == (g_ch2 == " + f"{cb}'d{NCH - 1}) || !s2_valid_q);       // Q5 chunk order: row end")
    a("    end")
    # columns written since reset: a beat is valid only once every chunk has written
    a(f"    reg [{C - 1}:0] g_wr = {C}'d0;")
    a("    always @(posedge clk) if (rst) g_wr <= 0; else if (en && s2_valid_q) begin")
    for j in range(NCH):
        bits = " ".join(f"g_wr[{c}] <= 1'b1;" for c in range(j * NL, min(C, (j + 1) * NL)))
        a(f"        if (g_ch2 == {cb}'d{j}) begin {bits} end")
    a("    end")
    a("    always @(*) if (f_chk) begin")
    a(f"        assert (!out_valid_q || g_wr == {{{C}{{1'b1}}}});               // Q5 requant_equal: every chunk written")
    for j in range(1, NCH):
        a(f"        assert (!(s2_valid_q && g_ch2 == {cb}'d{j}) || g_wr[{j * NL - 1}:0] == {{{j * NL}{{1'b1}}}});  // Q5 chunk order: earlier chunks written")
    a("    end")

    def by_chunk(items, chunk="shd_chunk_q"):
        out = items[-1]
        for j in range(len(items) - 2, -1, -1):
            out = f"({chunk} == {cb}'d{j}) ? {items[j]} : ({out})"
        return out

    for lane in sorted({c % NL for c in sel_cols}):
        cols = list(range(lane, C, NL))
        t = f"l{lane}"
        if "acc" in parts:
            a(f"    // lane {lane}: bias add and parameters of its chunk's column {cols}")
            a(f"    wire signed [{G - 1}:0] g_row_{t} = "
              f"{by_chunk([f'({_row_select(R, c)})' for c in cols])};")
            a(f"    wire signed [{G - 1}:0] g_bias_{t} = "
              f"{by_chunk([f'$signed(bias_c{c})' for c in cols])};")
            a(f"    reg signed [{G - 1}:0] g_s1_{t} = {G}'sd0;")
            a(f"    reg [30:0] g_m1_{t} = 31'd0;")
            a(f"    reg [5:0] g_sh1_{t} = 6'd0;")
            a(f"    always @(posedge clk) if (en) begin g_s1_{t} <= g_row_{t} + g_bias_{t}; "
              f"g_m1_{t} <= {by_chunk([f'mult_c{c}' for c in cols])}; "
              f"g_sh1_{t} <= {by_chunk([f'shift_c{c}' for c in cols])}; end")
            a("    always @(*) if (f_chk) begin")
            a(f"        assert (!s1_valid_q || g_s1_{t} == $signed(s1_sum_{t}_q));    // Q4 bias_add")
            a(f"        assert (!s1_valid_q || (s1_mult_{t}_q == g_m1_{t} && s1_shift_{t}_q == g_sh1_{t}));  // Q4 param_select")
            a("    end")
        if "req" in parts:
            a(f"    // lane {lane}: requantization, and its columns' output registers")
            a(f"    wire signed [{OB - 1}:0] f_ref_{t};")
            a(f"    wire signed [{A - 1}:0] f_s1_{t} = s1_sum_{t}_q;")
            a(f"    qbert_requant_ref f_req_{t} (.acc(f_s1_{t}), .mult(s1_mult_{t}_q), "
              f".shift(s1_shift_{t}_q), .y(f_ref_{t}));")
            a(f"    reg [{OB - 1}:0] g_y2_{t};")
            a(f"    always @(posedge clk) if (en) g_y2_{t} <= f_ref_{t};")
            a("    always @(*) if (f_chk) begin")
            a(f"        assert (!s1_valid_q || s1_shift_{t}_q <= 6'd62);                 // Q5 requant_equal: shift domain")
            a(f"        assert (!s2_valid_q || s2_shift_{t}_q <= 6'd62);                 // Q5 requant_equal: shift domain")
            a(f"        assert (!s2_valid_q || sat_{t} == g_y2_{t});                   // Q6 requant_stage")
            a("    end")
            for j, c in enumerate(cols):
                a(f"    reg [{OB - 1}:0] g_y3_c{c};")
                a(f"    always @(posedge clk) if (en && s2_valid_q && g_ch2 == {cb}'d{j}) g_y3_c{c} <= g_y2_{t};")
                a(f"    always @(*) if (f_chk) assert (!g_wr[{c}] || out_c{c}_q == g_y3_c{c});  // Q5 requant_equal: since written")
                a(f"    always @(*) if (f_chk) assert (!out_valid_q || out_c{c}_q == g_y3_c{c});  // Q5 requant_equal")
    return L


def latency_lemmas(cfg, latency: int) -> str:
    """U3 latency for ``qbert_matmul``: the environment keeps s_axis_prm valid,
    and the invariant that makes U3 1-inductive: the un-stalled cycles already
    counted plus those the next output tile still needs stay below ``latency``.

    ``rem`` is the cycles until the first tile end in drain order completes (out
    register, S2, S1, the shadow bank at row ``shd_row_q``, a finished tile
    waiting in the accumulators); every un-stalled cycle lowers it by one.
    """
    R, NCH = cfg.rows, cfg.row_cycles
    rb, cb = clog2(R), clog2(NCH)
    cw = axis.counter_width(5, latency)
    # issues left in the shadow bank: (R - row) * NCH - chunk
    left = (f"{cw}'d{R + 2} - {{{{{cw - rb}{{1'b0}}}}, shd_row_q}}" if NCH == 1 else
            f"{cw}'d{R * NCH + 2} - {{{{{cw - rb}{{1'b0}}}}, shd_row_q}} * {cw}'d{NCH} - "
            f"{{{{{cw - cb}{{1'b0}}}}, shd_chunk_q}}")
    rem = (f"(out_valid_q && out_last_q) ? {cw}'d0 : (s2_valid_q && s2_last_q) ? {cw}'d1 : "
           f"(s1_valid_q && s1_last_q) ? {cw}'d2 : "
           f"shd_full_q ? {left} : "
           f"done_q ? {cw}'d{R * NCH + 3} : {cw}'d0")
    return "\n".join([
        "    // ---- bounded latency (environment: the parameter stream never starves) ----",
        "    // (AXI4-Stream P1 keeps every tvalid low in the first cycle after reset)",
        "    reg f_rst_q = 1'b1;",
        "    always @(posedge clk) f_rst_q <= rst;",
        "    always @(*) if (!rst && !f_rst_q) assume (s_axis_prm_tvalid);",
        "    always @(*) if (f_rst_q) assume (!s_axis_act_tvalid);   // = P1, on this register",
        f"    wire [{cw - 1}:0] f_rem = {rem};",
        "    // one bit wider than timer and rem: the sum must not wrap",
        f"    wire [{cw}:0] f_budget = {{1'b0, f_timer}} + {{1'b0, f_rem}};",
        "    always @(*) if (f_chk) begin",
        "        assert (!done_q || prm_full_q);                               // U3 latency: params in",
        f"        assert (f_pending == 0 ? f_timer == 0 : f_budget <= {cw + 1}'d{latency - 1});  // U3 latency: budget",
        f"        assert (!shd_full_q || shd_row_q <= {rb}'d{R - 1});               // U3 latency: row index",
        *([f"        assert (shd_chunk_q <= {cb}'d{NCH - 1});  "
           f"// U3 latency: chunk index"] if NCH > 1 else []),
        "    end",
    ])


def latency_job(cfg, rtl_text: str | None = None, *, engine: str = "smtbmc yices",
                depth: int = 1, mode: str = "prove", mutate=None, name: str | None = None,
                bound: int | None = None) -> SbyJob:
    """U3: with s_axis_prm always valid, the next output tile of the pending ones
    completes within ``bound`` (default drain_cycles + 1) un-stalled cycles of the
    cycle that takes its last act beat or of the previous output tile's end."""
    return matmul_job(cfg, rtl_text, engine=engine, depth=depth, mode=mode, mutate=mutate,
                      parts=(LATENCY,), name=name, bound=bound)


def beat_weight(cfg, c: int) -> str:
    """The spec's weight of column c in the current beat: the lane, or for a
    mixed Config in an int4 beat (tuser 0) its low nibble read as int4
    (golden_model.matmul.beat_weights)."""
    if not cfg.mixed:
        return f"$signed(wgt_c{c})"
    return f"$signed(s_axis_wgt_tuser ? wgt_c{c} : {{{{4{{wgt_c{c}[3]}}}}, wgt_c{c}[3:0]}})"


def _field_sum(terms, P: int) -> str:
    """``sum v * 2^lo`` mod 2^P of (value, bits, lo) terms, each sign-extended."""
    fields = []
    for v, bits, lo in terms:
        hi = P - bits - lo
        parts = ([f"{{{hi}{{{v}[{bits - 1}]}}}}"] if hi > 0 else []) + [v] + ([f"{lo}'d0"] if lo else [])
        fields.append("{" + ", ".join(parts) + "}")
    return " + ".join(reversed(fields))


def packed_products_block(cfg) -> list[str]:
    """dsp_pack 2 or 3: P0 ``pack_operand`` and the cut multipliers' assumption.

    Each packed multiplier's output ``pprod_r{r}_{group}`` is cut free in the
    job's script (:data:`CUT_PACKED`) and assumed equal to
    ``sum_i x*w[c_i] * 2^(shift*i)`` mod 2^P, the plain int8 products (the same
    terms the spec's ghosts use).  Sound: the RTL computes it as
    ``x * wpack`` (checked in the text by :func:`packed_drivers_check`), P0
    proves ``wpack == sum_i w[c_i] * 2^(shift*i)``, and x*(u + v) = x*u + x*v
    mod 2^P.  Without the cut, the odd column's Q1 asks the solver to split a
    8 x 26-bit product, a multiplier equivalence that did not finish in 30 minutes.

    Mixed Configs: a pair multiplies the beat's weights (:func:`beat_weight`);
    a triple's operand is its three int4 nibbles in an int4 beat, its third
    column's int8 weight in an int8 beat's first cycle and the first two as a
    pair in the second (``wide_q``), each with its own sum of products; and M1
    ``held_product``: in that second cycle the beat is the first cycle's
    (AXI4-Stream holds it) and ``pfirst_*`` its third column's products.
    """
    if not cfg.pack_groups:
        return []
    L = [f"    // ---- dsp_pack {cfg.dsp_pack}: packed operands (P0) and the cut multipliers ----"]
    for g in cfg.pack_groups:
        S, OPB, P = g.shift, g.operand_bits, g.product_bits
        wide3 = cfg.mixed and len(g.cols) == 3
        if wide3:
            nib = [f"f_nib_{g.name}_c{c}" for c in g.cols]
            for n, c in zip(nib, g.cols):
                L.append(f"    wire signed [3:0] {n} = wgt_c{c}[3:0];")
            c0, c1, c2 = g.cols
            modes = {"narrow": [(n, 4, S * i) for i, n in enumerate(nib)],
                     "pair": [(f"wgt_c{c0}", 8, 0), (f"wgt_c{c1}", 8, g.wide_shift)],
                     "third": [(f"wgt_c{c2}", 8, 0)]}
            sel = ("s_axis_wgt_tuser ? (wide_q ? {pair} : {third}) : {narrow}")
        else:
            modes = {"all": [(f"f_w_{g.name}_c{c}", cfg.weight_bits, S * i)
                             for i, c in enumerate(g.cols)]}
            for c in g.cols:
                L.append(f"    wire signed [{cfg.weight_bits - 1}:0] f_w_{g.name}_c{c} = "
                         f"{beat_weight(cfg, c)};")
            sel = "{all}"
        wsum = {k: " + ".join(f"($signed({v}) <<< {lo})" if lo else f"$signed({v})"
                              for v, _, lo in terms) for k, terms in modes.items()}
        L.append(f"    wire signed [{OPB - 1}:0] f_wpack_{g.name} = {sel.format(**wsum)};")
        L.append(f"    always @(*) assert ($signed(wpack_{g.name}) == f_wpack_{g.name});  // P0 pack_operand")
        for r in range(cfg.rows):
            pp = {}
            for k, terms in modes.items():
                pe = []
                for v, bits, lo in terms:
                    name = f"f_pe_r{r}_{k}_{v.replace('wgt_', '').replace('f_', '')}"
                    L.append(f"    wire signed [{cfg.act_bits + bits - 1}:0] {name} = "
                             f"$signed(act_r{r}) * $signed({v});")
                    pe.append((name, cfg.act_bits + bits, lo))
                pp[k] = "(" + _field_sum(pe, P) + ")"
            L.append(f"    wire [{P - 1}:0] f_pp_r{r}_{g.name} = {sel.format(**pp)};")
            L.append(f"    always @(*) assume (pprod_r{r}_{g.name} == f_pp_r{r}_{g.name});")
            if wide3:
                L.append(f"    always @(*) if (f_chk && wide_q) assert (s_axis_act_tvalid && "
                         f"s_axis_wgt_tvalid && s_axis_wgt_tuser && $signed(pfirst_r{r}_c{c2}_q) == "
                         f"$signed(act_r{r}) * $signed(wgt_c{c2}));  // M1 held_product")
    return L


#: the job script's cut for dsp_pack 2 and 3 (see packed_products_block)
CUT_PACKED = "cutpoint qbert_matmul/w:pprod_*"


def packed_driver_lines(cfg) -> list[str]:
    """The declaration and driver of every packed multiplier output as the
    generator writes them: ``sext(act_r) * sext(wpack)``, product_bits wide."""
    AB = cfg.act_bits
    out = []
    for g in cfg.pack_groups:
        w, OPB, P = f"wpack_{g.name}", g.operand_bits, g.product_bits
        for r in range(cfg.rows):
            name = f"pprod_r{r}_{g.name}"
            out.append(f"wire [{P}-1:0] {name};")
            out.append(f"assign {name} = $signed({{ {{ {P - AB}{{ act_r{r}[{AB - 1}] }} }}, act_r{r} }}) "
                       f"* $signed({{ {{ {P - OPB}{{ {w}[{OPB - 1}] }} }}, {w} }});")
    return out


def packed_drivers_check(cfg, text: str):
    """The cut of :func:`packed_products_block` is only sound for multipliers
    written ``sext(act_r) * sext(wpack)`` at full width: a result (status PASS
    or FAIL, in the unit's table) saying whether every packed multiplier of
    ``text`` is declared and driven exactly as :func:`packed_driver_lines` and
    there is no other.  With FAIL the unit's proof fails, whatever the jobs
    under the cut say."""
    import time
    from .sby import SbyResult
    start = time.monotonic()
    name = f"matmul_packed_drivers_r{cfg.rows}c{cfg.cols}"
    desc = "every packed multiplier is sext(act_r) * sext(wpack), as the cut assumes"
    lines = {ln.strip() for ln in text.splitlines()}
    bad = [w for w in packed_driver_lines(cfg) if w not in lines]
    n = sum(ln.startswith("assign pprod_") for ln in lines)
    want = len(cfg.pack_groups) * cfg.rows
    if n != want:
        bad.append(f"{n} packed products assigned, the Config has {want}")
    status = "FAIL" if bad else "PASS"
    detail = (f"not in the RTL: `{bad[0]}`" if bad else
              f"{n} packed multipliers checked in the RTL text")
    return SbyResult(name, status, time.monotonic() - start, mode="text", engine="python",
                     detail=detail, description=desc, failed=[name] if bad else [])


def matmul_job(cfg, rtl_text: str | None = None, *, engine: str = "smtbmc yices",
               depth: int = 1, mode: str = "prove", name: str | None = None,
               mutate=None, cols=None, parts=PARTS, bound: int | None = None) -> SbyJob:
    """SBY job for the generated ``qbert_matmul`` of ``cfg`` (or ``rtl_text``).

    ``mutate``: a function applied to the RTL text before the injection (the
    must-fail tests use it to plant a bug in the real generator's output).
    ``cols``: assert only these columns' PE/requant properties (see formal_block).
    """
    from rtl_gen.matmul import TOP, verilog
    text = rtl_text if rtl_text is not None else verilog(cfg)
    if mutate is not None:
        text = mutate(text)
    text = inject(text, TOP, formal_block(cfg, cols=cols, parts=parts, bound=bound))
    spec = equiv.RequantSpec(acc_bits=cfg.acc_bits, out_bits=cfg.out_bits)
    sources = {f"{TOP}.sv": text, axis.CHECKER_FILE: axis.CHECKER_SV,
               "qbert_requant_ref.sv": equiv.requant_ref_sv(spec)}
    label = f"r{cfg.rows}c{cfg.cols}_k{cfg.k_max}_w{cfg.weight_bits}_b{cfg.bias_bits}"
    if cols is not None:
        label += "_col" + "-".join(str(c) for c in sorted(set(cols)))
    if tuple(parts) != PARTS:
        label += "_" + "-".join(parts)
    if cfg.pack_groups:
        label += f"_pack{cfg.dsp_pack}"
    return SbyJob(name or f"matmul_{label}", TOP, sources, mode=mode, depth=depth, engine=engine,
                  after_prep=(CUT_PACKED,) if cfg.pack_groups else (),
                  description=f"qbert_matmul {label}: " + (
                      f"next output tile within {bound or cfg.drain_cycles + 1} un-stalled cycles "
                      f"(s_axis_prm kept valid), tiles in == tiles out" if tuple(parts) == (LATENCY,)
                      else "acc exact (no overflow), requant == golden, m_axis protocol, "
                           "tiles in == tiles out"))


def matmul_column_jobs(cfg, rtl_text: str | None = None, *, split_parts: bool = False,
                       **kw) -> list[SbyJob]:
    """One job per output column (and, with ``split_parts``, per part): together
    they are the whole proof of the unit (every property of every column, the
    control properties in each)."""
    parts = [(p,) for p in PARTS] if split_parts else [PARTS]
    return [matmul_job(cfg, rtl_text, cols=[c], parts=ps, **kw) for c in range(cfg.cols) for ps in parts]
