"""Proofs of the softmax unit (``rtl_gen.softmax``): its exp stage, its divider
and the top level ``qbert_softmax``.

Exp stage (:func:`exp_job`): the generated ``qbert_softmax_exp`` (the same
code builds the unit's EXP lanes) equals the combinational reference
:func:`formal.equiv.exp_ref_sv` (golden_model.softmax.int_exp line for line) on
every lane for every d <= 0 of diff_bits; the reference is tied to the numpy
model by :func:`formal.equiv.exp_vectors_job` and its arithmetic is shown not
to wrap by :func:`formal.lemmas.exp_poly_width`.

Divider: :mod:`formal.divider` at the widths the unit instantiates.

Top level (:func:`top_job`): AXI4-Stream P1/P2, U1/U2, R1 row_length and the
invariants I1-I5 by k-induction, the datapath cut free.  :func:`latency_job`
adds U3 (bounded latency, the bound :func:`latency_bound` =
SoftmaxConfig.latency(max_len)) and the timing lemmas I6-I9 that make it
1-inductive (:func:`timing_lemmas`), with no narrowing of the environment.
"""
from __future__ import annotations

import dataclasses

from . import axis, equiv
from .sby import SbyJob


def exp_job(cfg, exp_text: str | None = None, *, engine: str = "smtbmc yices", lane: int | None = None,
            mutate=None, name: str | None = None) -> SbyJob:
    """Exp stage of SoftmaxConfig ``cfg`` (generated, or ``exp_text``) == int_exp."""
    from rtl_gen.softmax import EXP_TOP, exp_verilog
    text = exp_text if exp_text is not None else exp_verilog(cfg)
    if mutate is not None:
        text = mutate(text)
    return equiv.exp_equiv_job(cfg.spec, cfg.lanes, {f"{EXP_TOP}.v": text}, EXP_TOP, engine=engine,
                               lane=lane, lane_bits=cfg.diff_bits, name=name)


# --------------------------------------------------------------------------
# Top level: protocol, rows in == rows out with the same length, latency
# --------------------------------------------------------------------------

def latency_bound(cfg) -> int:
    """Cycles (output not stalled) from a row's last input beat to its last output
    beat, worst case over row lengths: SoftmaxConfig.latency(n) - (B - 1) to the
    first output beat, + (B - 1) to the last, = latency(max_len) at B = depth.
    (qbert_axis_units asserts timer < LATENCY, so it gets this + 1.)"""
    return cfg.latency(cfg.max_len)


def top_block(cfg, *, latency: int | None = None, timing: bool = False) -> str:
    """Properties of ``qbert_softmax`` for SoftmaxConfig ``cfg``, injected before
    its ``endmodule`` (they name its internal bank registers for the invariants).

    Environment (assumed): reset in the first cycle; s_axis obeys AXI4-Stream
    (P1/P2 assumed).  m_axis_tready is free.  Proven (k-induction):

    - P1/P2 on m_axis (qbert_axis_check, asserted);
    - U1/U2/U3 (qbert_axis_units): no output row without an accepted input
      row, at most 4 rows in flight, and while a row is pending the next
      output row ends within ``latency`` cycles in which the output is not
      stalled (default :func:`latency_bound`); with ``timing``, the
      lemmas of :func:`timing_lemmas` that make U3 inductive;
    - R1 ``row_length``: output row k has as many beats as input row k (rows
      counted on the ports; a row ends at tlast or after max_len / LANES beats);
    - I1.. the invariants that make them inductive (bank states vs counters);
    - E1 ``empty_takes_beat``: holding no row, the unit takes an offered beat
      (s_axis_tready; the composed attention head assumes it of its abstract
      softmax, formal/attention.py).
    """
    from rtl_gen.softmax import BANKS
    from . import axis
    D = cfg.depth
    LW = max(2, (D + 1).bit_length())      # beats of a row, 1..D
    AW = max(1, (D - 1).bit_length())
    LAT = latency if latency is not None else latency_bound(cfg) + 1
    L = []
    a = L.append
    a("`ifdef FORMAL")
    a("    reg f_first = 1'b1;")
    a("    always @(posedge clk) f_first <= 1'b0;")
    a("    always @(*) if (f_first) assume (rst);")
    a("    wire f_chk = !rst && !f_first;")
    a("    " + axis.check_instance("f_in", "s_axis", axis.ROLE_ENV, cfg.in_word_bits).replace("\n", "\n    "))
    a("    " + axis.check_instance("f_out", "m_axis", axis.ROLE_DUT, cfg.out_word_bits).replace("\n", "\n    "))
    a("    " + axis.units_instance("f_units", "f_s", "m_axis", max_pending=BANKS, latency=LAT,
                                   pending="f_pending", timer="f_timer").replace("\n", "\n    "))
    a("    // ---- ghosts counted on the ports ----")
    a("    wire f_s_tvalid = s_axis_tvalid, f_s_tready = s_axis_tready;")
    a(f"    wire f_s_tlast = s_axis_tlast || g_in_beats == {LW}'d{D - 1};   // a row also ends at max_len")
    a("    wire f_in_fire = s_axis_tvalid && s_axis_tready;")
    a("    wire f_out_fire = m_axis_tvalid && m_axis_tready;")
    a("    reg [1:0] g_in_row = 2'd0, g_out_row = 2'd0;     // rows ended on each port, mod 4 (= bank)")
    a(f"    reg [{LW - 1}:0] g_in_beats = {LW}'d0, g_out_beats = {LW}'d0;")
    a(f"    reg [{LW - 1}:0] g_len0, g_len1, g_len2, g_len3;   // beats of the row in bank b")
    a(f"    wire [{LW - 1}:0] g_len_out = g_out_row == 2'd0 ? g_len0 : g_out_row == 2'd1 ? g_len1 : "
      "g_out_row == 2'd2 ? g_len2 : g_len3;")
    a("    always @(posedge clk) begin")
    a("        if (rst) begin")
    a(f"            g_in_row <= 2'd0; g_out_row <= 2'd0; g_in_beats <= {LW}'d0; g_out_beats <= {LW}'d0;")
    a("        end else begin")
    a("            if (f_in_fire) begin")
    a("                if (f_s_tlast) begin")
    a(f"                    g_in_beats <= {LW}'d0; g_in_row <= g_in_row + 2'd1;")
    for b in range(BANKS):
        a(f"                    if (g_in_row == 2'd{b}) g_len{b} <= g_in_beats + {LW}'d1;")
    a("                end else g_in_beats <= g_in_beats + 1'b1;")
    a("            end")
    a("            if (f_out_fire) begin")
    a(f"                if (m_axis_tlast) begin g_out_beats <= {LW}'d0; g_out_row <= g_out_row + 2'd1; end")
    a("                else g_out_beats <= g_out_beats + 1'b1;")
    a("            end")
    a("        end")
    a("    end")
    a("    always @(*) if (f_chk && f_out_fire) begin")
    a("        assert (!m_axis_tlast || g_out_beats + 1'b1 == g_len_out);   // R1 row_length: the row ends at its length")
    a("        assert (m_axis_tlast || g_out_beats + 1'b1 < g_len_out);     // R1 row_length: not before")
    a("    end")
    a("    // ---- invariants (I*) ----")
    nf = " + ".join(f"{{2'd0, bank{b}_state_q != 2'd0}}" for b in range(BANKS))
    a(f"    wire [2:0] f_busy_banks = {nf};")
    a("    always @(*) if (f_chk) begin")
    a("        assert (ld_bank_q == g_in_row);                                  // I1 load_bank")
    a(f"        assert ({{{LW - AW}'d0, wr_ptr_q}} == g_in_beats);                // I1 load_bank: beats")
    a(f"        assert (g_in_beats <= {LW}'d{D - 1});                            // I1 load_bank: range")
    a("        assert (f_pending == f_busy_banks);                              // I2 pending_banks")
    a("        assert (g_in_row - g_out_row == f_pending[1:0]);                 // I2 pending_banks: window")
    a("        assert (f_pending != 0 || s_axis_tready);                        // E1 empty_takes_beat")
    for b in range(BANKS):
        a(f"        assert (bank{b}_state_q == 2'd0 || {{{LW - AW}'d0, bank{b}_last_q}} + 1'b1 == g_len{b});  // I3 bank_length")
        a(f"        assert (bank{b}_state_q == 2'd0 || (g_len{b} != {LW}'d0 && g_len{b} <= {LW}'d{D}));  // I3 bank_length: range")
    a("    end")
    # ---- the stages: each works on a bank in the state it expects ----
    def st(bank):
        return "(" + " : ".join(f"{bank} == 2'd{b} ? bank{b}_state_q" for b in range(BANKS - 1)) + \
            f" : bank{BANKS - 1}_state_q)"

    def last(bank):
        return "(" + " : ".join(f"{bank} == 2'd{b} ? bank{b}_last_q" for b in range(BANKS - 1)) + \
            f" : bank{BANKS - 1}_last_q)"
    a(f"    reg [{AW - 1}:0] g_od_pos, g_out_pos;     // beat index of the od / out stage")
    a("    always @(posedge clk) if (out_en) begin g_od_pos <= or_ptr_q; g_out_pos <= g_od_pos; end")
    a("    always @(*) if (f_chk) begin")
    a(f"        assert (!er_act_q || {st('er_bank_q')} == 2'd1);                  // I4 stage_bank: EXP reads a LOADED bank")
    a(f"        assert (!ew_valid_q || {st('ew_bank_q')} == 2'd1);                // I4 stage_bank: EXP writes a LOADED bank")
    a(f"        assert (!dv_act_q || {st('dv_bank_q')} == 2'd2);                  // I4 stage_bank: DIV on an EXPED bank")
    a("        assert (dv_act_q || (dv_ready && !dv_done));                       // I4 stage_bank: the divider idles with DIV")
    a("        assert (!dv_act_q || !dv_ready || dv_done);                        // I4 stage_bank: and works while DIV does")
    a(f"        assert (!or_act_q || {st('or_bank_q')} == 2'd3);                  // I4 stage_bank: OUT reads a READY bank")
    a(f"        assert (!od_valid_q || {st('od_bank_q')} == 2'd3);                // I4 stage_bank")
    a(f"        assert (!out_valid_q || {st('out_bank_q')} == 2'd3);              // I4 stage_bank")
    for b in range(BANKS):
        a(f"        assert ((bank{b}_state_q != 2'd0) == (f_pending[2] || (2'd{b} - g_out_row) < f_pending[1:0]));  // I2 pending_banks: window")
    a(f"        assert (!or_act_q || (or_last_q == {last('or_bank_q')} && or_ptr_q <= or_last_q));  // I5 out_pipe: read stage")
    a(f"        assert (!od_valid_q || (od_last_q == (g_od_pos == {last('od_bank_q')}) && g_od_pos <= {last('od_bank_q')}));  // I5 out_pipe: data stage")
    a(f"        assert (!out_valid_q || (out_last_q == (g_out_pos == {last('out_bank_q')}) && g_out_pos <= {last('out_bank_q')}));  // I5 out_pipe: output")
    a(f"        assert (!out_valid_q || (out_bank_q == g_out_row && {{{LW - AW}'d0, g_out_pos}} == g_out_beats));  // I5 out_pipe: output is the current row")
    a(f"        assert (out_valid_q || g_out_beats == {LW}'d0);                   // I5 out_pipe: no gap inside a row")
    a("        assert (!(out_valid_q && !out_last_q) || (od_valid_q && od_bank_q == out_bank_q && g_od_pos == g_out_pos + 1'b1));  // I5 out_pipe: next beat")
    a("        assert (!(od_valid_q && !od_last_q) || (or_act_q && or_bank_q == od_bank_q && or_ptr_q == g_od_pos + 1'b1));  // I5 out_pipe: next beat")
    a(f"        assert (!(out_valid_q && out_last_q && od_valid_q) || (od_bank_q == out_bank_q + 2'd1 && g_od_pos == {AW}'d0));  // I5 out_pipe: next row")
    a(f"        assert (!(od_valid_q && od_last_q && or_act_q) || (or_bank_q == od_bank_q + 2'd1 && or_ptr_q == {AW}'d0));  // I5 out_pipe: next row")
    a(f"        assert (!(!out_valid_q && od_valid_q) || (od_bank_q == g_out_row && g_od_pos == {AW}'d0));  // I5 out_pipe: first beat")
    a(f"        assert (!(!od_valid_q && or_act_q) || (or_ptr_q == {AW}'d0 && or_bank_q == (out_valid_q ? out_bank_q + 2'd1 : g_out_row)));  // I5 out_pipe: first beat")
    a("        assert (or_act_q || or_bank_q == (od_valid_q ? od_bank_q + 2'd1 : out_valid_q ? out_bank_q + 2'd1 : g_out_row));  // I5 out_pipe: next bank")
    a("    end")
    if timing:
        a(timing_lemmas(cfg, LAT, st, last))
    a("    // non-vacuity (mode cover): a whole output row; one that waited out a stall with another row pending")
    a("    reg f_stalled = 1'b0;")
    a("    always @(posedge clk) if (rst) f_stalled <= 1'b0; else if (m_axis_tvalid && !m_axis_tready) f_stalled <= 1'b1;")
    a("    always @(*) if (f_chk) cover (f_out_fire && m_axis_tlast);                          // C1 row_out")
    a("    always @(*) if (f_chk) cover (f_stalled && f_out_fire && m_axis_tlast && f_pending == 2);  // C2 row_after_stall")
    a("`endif")
    return "\n".join(L) + "\n"


def timing_lemmas(cfg, latency: int, st, last) -> str:
    """The lemmas that make U3 (bound ``latency``, the checker's LATENCY) k-inductive.

    ``rem`` is the number of un-stalled cycles the oldest pending row (bank
    ``g_out_row``) still needs until its last output beat is taken, read off its
    bank state and the stage registers (B = its beats, last = B - 1, S the
    divider's steps, V = div_cycles = S + 2; a row whose last input beat was
    just taken has rem = 2B + V + 4, one less than latency(B)):

    ======== ====================================== ==============================
    state    where the row is                       rem
    ======== ====================================== ==============================
    LOADED   EXP not started (it starts now)        2*last + S + 8
    LOADED   EXP read stage at address p            2*last + S + 7 - p
    LOADED   EXP write stage on its last word       last + S + 6
    EXPED    DIV not started (it starts now)        last + S + 5
    EXPED    divider busy, step counter c           last + S + 4 - c
    EXPED    divider done                           last + 4
    READY    OUT not started (it starts now)        last + 3
    READY    OUT read stage at address p            last + 2 - p
    READY    last beat in the OUT data stage        1
    READY    last beat offered on m_axis            0
    ======== ====================================== ==============================

    Every un-stalled cycle lowers rem by one (the oldest row never waits for
    another row: every stage walks the banks in row order, and the rows before
    it are gone); a stall freezes the OUT stage, the only one it can be in then.
    The lemma: timer + rem <= latency - 1, so timer < latency.  What it needs:

    - I6 exp_walk: the EXP read stage's last address is its bank's, ptr <= last;
    - I7 stage_order: along the window of pending rows the bank states never
      rise (READY rows first, then EXPED, then LOADED), DIV works on the first
      row not READY, EXP on the first not EXPED (the one after, while the
      write stage finishes a row's last word);
    - I8 div_count: the divider's step counter (``u_div.cnt_q``, tied to the
      free wire ``f_dv_cnt`` by the job's ``connect``) stays below its step
      count while it is busy, and done_o only comes when it is not busy.
    """
    from rtl_gen import emit
    from rtl_gen.softmax import BANKS
    D, S = cfg.depth, cfg.divider.steps
    AW = max(1, (D - 1).bit_length())
    CN = emit.clog2(S)
    W = axis.counter_width(BANKS, latency)

    def n(state_ok) -> str:          # 3-bit count of the banks whose state passes
        return " + ".join(f"{{2'd0, {state_ok(f'bank{b}_state_q')}}}" for b in range(BANKS))

    def k(v: int) -> str:
        return f"{W}'d{v}"
    TW = W                           # the checker's timer width
    W = max(W, CN, AW)

    def zx(sig: str, w: int) -> str:     # zero-extended to W bits
        return sig if w == W else f"{{{W - w}'d0, {sig}}}"
    lo = zx("f_last_o", AW)
    L = [
        "    // ---- bounded latency: timing lemmas (no environment narrowing) ----",
        f"    wire [{CN - 1}:0] f_dv_cnt;   // = u_div.cnt_q (SBY script: connect -set)",
        f"    wire [2:0] f_n_ready = {n(lambda x: f'{x} == 2{chr(39)}d3')};",
        f"    wire [2:0] f_n_exped = {n(lambda x: f'{x}[1]')};     // EXPED or READY",
        "    wire f_ew_end = ew_valid_q && ew_last_q;",
        f"    wire [1:0] f_st_o = {st('g_out_row')};",
        f"    wire [{AW - 1}:0] f_last_o = {last('g_out_row')};",
        f"    wire [{W - 1}:0] f_rem =",
        f"        f_st_o == 2'd3 ? ((out_valid_q && out_last_q) ? {k(0)} : (od_valid_q && od_last_q) ? {k(1)} :",
        f"                          (or_act_q && or_bank_q == g_out_row) ? {lo} + {k(2)} - {zx('or_ptr_q', AW)} :",
        f"                          {lo} + {k(3)}) :",
        f"        f_st_o == 2'd2 ? ((dv_act_q && dv_done) ? {lo} + {k(4)} :",
        f"                          dv_act_q ? {lo} + {k(S + 4)} - {zx('f_dv_cnt', CN)} : {lo} + {k(S + 5)}) :",
        f"        (er_act_q && er_bank_q == g_out_row) ? {lo} + {lo} + {k(S + 7)} - {zx('er_ptr_q', AW)} :",
        f"        (f_ew_end && ew_bank_q == g_out_row) ? {lo} + {k(S + 6)} : {lo} + {lo} + {k(S + 8)};",
        "    // one bit wider than timer and rem: the sum must not wrap",
        f"    wire [{W}:0] f_budget = {{{W + 1 - TW}'d0, f_timer}} + {{1'b0, f_rem}};",
        "    always @(*) if (f_chk) begin",
        f"        assert (f_pending == 0 ? f_timer == {TW}'d0 : f_budget <= {W + 1}'d{latency - 1});  // I9 latency_budget",
        f"        assert (!er_act_q || (er_last_q == {last('er_bank_q')} && er_ptr_q <= er_last_q));  // I6 exp_walk",
        "        assert (dv_bank_q == g_out_row + f_n_ready[1:0]);                // I7 stage_order: DIV on the first row not READY",
        "        assert (er_bank_q == g_out_row + f_n_exped[1:0] + {1'b0, f_ew_end});  // I7 stage_order: EXP on the first not EXPED",
        "        assert (!f_ew_end || ew_bank_q == g_out_row + f_n_exped[1:0]);   // I7 stage_order: EXP write stage",
        "        assert (!dv_done || dv_ready);                                   // I8 div_count: done when idle",
        f"        assert (dv_ready || f_dv_cnt <= {CN}'d{S - 1});                     // I8 div_count: steps",
    ]
    for b in range(BANKS):
        pos = f"{{1'b0, 2'd{b} - g_out_row}}"
        L.append(f"        assert ((bank{b}_state_q == 2'd3) == ({pos} < f_n_ready));   // I7 stage_order: READY rows first")
        L.append(f"        assert (bank{b}_state_q[1] == ({pos} < f_n_exped));          // I7 stage_order: then EXPED")
    L.append("    end")
    return "\n".join(L)


#: Yosys commands after the datapath cut, for the timing lemmas: the divider's
#: step counter made visible in the top (Yosys has no hierarchical references)
DIV_COUNTER = ("flatten", "connect -set f_dv_cnt u_div.cnt_q")


#: Yosys commands after ``prep``: the datapath cut free (formal cut points).  The
#: top-level properties are about control (handshakes, beat counts, timing),
#: which does not read any data value (row lengths come from tlast and the
#: pointers; the divider runs a fixed number of cycles), so letting the exp
#: stage's outputs and every product take any value each cycle only adds
#: behaviours: a proof of the cut design holds for the real one.  The data
#: values are what the exp, divider and cocotb checks cover.
CUT_DATAPATH = ("cutpoint qbert_softmax_exp", "cutpoint qbert_softmax/t:$mul")


def top_job(cfg, rtl_text: str | None = None, submodules: dict | None = None, *,
            engine: str = "smtbmc yices", depth: int = 4, mode: str = "prove",
            latency: int | None = None, name: str | None = None, mutate=None,
            cut_datapath: bool = True, timing: bool = False) -> SbyJob:
    """SBY job for the generated ``qbert_softmax`` of ``cfg`` (or ``rtl_text``).
    ``submodules``: file name -> Verilog text of the modules it instantiates
    (default: the generated exp stage and divider)."""
    from rtl_gen import divider
    from rtl_gen.softmax import EXP_TOP, TOP, exp_verilog, verilog
    from . import axis
    from .matmul import inject
    text = rtl_text if rtl_text is not None else verilog(cfg)
    if mutate is not None:
        text = mutate(text)
    text = inject(text, TOP, top_block(cfg, latency=latency, timing=timing))
    if submodules is None:
        submodules = {f"{EXP_TOP}.v": exp_verilog(cfg),
                      f"{cfg.divider.module_name}.v": divider.verilog(cfg.divider)}
    sources = {**{n.rsplit(".", 1)[0] + ".sv": t for n, t in submodules.items()},
               f"{TOP}.sv": text, axis.CHECKER_FILE: axis.CHECKER_SV}
    label = f"l{cfg.lanes}_n{cfg.max_len}_i{cfg.in_bits}_r{cfg.div_bits_per_cycle}"
    return SbyJob(name or f"softmax_top_{label}", TOP, sources, mode=mode, depth=depth, engine=engine,
                  after_prep=(CUT_DATAPATH if cut_datapath else ()) + (DIV_COUNTER if timing else ()),
                  description=f"qbert_softmax {label}: AXI4-Stream rules, rows in == rows out "
                              f"with the same length"
                              + ("" if latency == 0 else f", last beat within "
                                 f"{latency or latency_bound(cfg) + 1} - 1 unstalled cycles"))


def latency_job(cfg, rtl_text: str | None = None, submodules: dict | None = None, *,
                engine: str = "smtbmc yices", depth: int = 1, mode: str = "prove",
                latency: int | None = None, name: str | None = None, mutate=None) -> SbyJob:
    """U3 unbounded: :func:`top_job` with the timing lemmas (:func:`timing_lemmas`),
    no narrowing of the environment.  ``latency``: the checker's LATENCY
    (default latency_bound(cfg) + 1: the last output beat within
    SoftmaxConfig.latency(max_len) un-stalled cycles)."""
    lat = latency if latency is not None else latency_bound(cfg) + 1
    job = top_job(cfg, rtl_text, submodules, engine=engine, depth=depth, mode=mode, latency=lat,
                  name=name, mutate=mutate, timing=True)
    return dataclasses.replace(job, name=name or job.name + "_latency", description=(
        job.description.split(":")[0] + f": U3 unbounded, the last output beat of the oldest "
        f"pending row within {lat - 1} un-stalled cycles of its last input beat or of the previous "
        f"row's last output beat (timing lemmas I6-I9; environment not narrowed: any input "
        f"timing, any m_axis_tready), with P1/P2, U1/U2, R1, I1-I5"))
