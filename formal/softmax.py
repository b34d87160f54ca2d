"""Proofs of the softmax unit (``rtl_gen.softmax``): its exp stage, its divider
and the top level ``qbert_softmax``.

Exp stage (:func:`exp_job`): the generated ``qbert_softmax_exp`` (the same
code builds the unit's EXP lanes) equals the combinational reference
:func:`formal.equiv.exp_ref_sv` (golden_model.softmax.int_exp line for line) on
every lane for every d <= 0 of diff_bits; the reference is tied to the numpy
model by :func:`formal.equiv.exp_vectors_job` and its arithmetic is shown not
to wrap by :func:`formal.lemmas.exp_poly_width`.

Divider: :mod:`formal.divider` at the widths the unit instantiates.
"""
from __future__ import annotations

from . import equiv
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


def top_block(cfg, *, latency: int | None = None) -> str:
    """Properties of ``qbert_softmax`` for SoftmaxConfig ``cfg``, injected before
    its ``endmodule`` (they name its internal bank registers for the invariants).

    Environment (assumed): reset in the first cycle; s_axis obeys AXI4-Stream
    (P1/P2 assumed).  m_axis_tready is free.  Proven (k-induction):

    - P1/P2 on m_axis (qbert_axis_check, asserted);
    - U1/U2/U3 (qbert_axis_units): no output row without an accepted input
      row, at most 4 rows in flight, and while a row is pending the next
      output row ends within ``latency`` cycles in which the output is not
      stalled (default :func:`latency_bound`);
    - R1 ``row_length``: output row k has as many beats as input row k (rows
      counted on the ports; a row ends at tlast or after max_len / LANES beats);
    - I1.. the invariants that make them inductive (bank states vs counters).
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
    a("        assert (f_pending == f_busy_banks);                              // I2 pending_banks")
    a("        assert (g_in_row - g_out_row == f_pending[1:0]);                 // I2 pending_banks: window")
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
    a("    // non-vacuity (mode cover): a whole output row; one that waited out a stall with another row pending")
    a("    reg f_stalled = 1'b0;")
    a("    always @(posedge clk) if (rst) f_stalled <= 1'b0; else if (m_axis_tvalid && !m_axis_tready) f_stalled <= 1'b1;")
    a("    always @(*) if (f_chk) cover (f_out_fire && m_axis_tlast);                          // C1 row_out")
    a("    always @(*) if (f_chk) cover (f_stalled && f_out_fire && m_axis_tlast && f_pending == 2);  // C2 row_after_stall")
    a("`endif")
    return "\n".join(L) + "\n"


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
            cut_datapath: bool = True) -> SbyJob:
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
    text = inject(text, TOP, top_block(cfg, latency=latency))
    if submodules is None:
        submodules = {f"{EXP_TOP}.v": exp_verilog(cfg),
                      f"{cfg.divider.module_name}.v": divider.verilog(cfg.divider)}
    sources = {**{n.rsplit(".", 1)[0] + ".sv": t for n, t in submodules.items()},
               f"{TOP}.sv": text, axis.CHECKER_FILE: axis.CHECKER_SV}
    label = f"l{cfg.lanes}_n{cfg.max_len}_i{cfg.in_bits}_r{cfg.div_bits_per_cycle}"
    script = None
    if cut_datapath:
        script = tuple(f"read -formal -sv {f}" for f in sources) + (f"prep -top {TOP}",) + CUT_DATAPATH
    return SbyJob(name or f"softmax_top_{label}", TOP, sources, mode=mode, depth=depth, engine=engine,
                  script=script,
                  description=f"qbert_softmax {label}: AXI4-Stream rules, rows in == rows out "
                              f"with the same length"
                              + ("" if latency == 0 else f", last beat within "
                                 f"{latency or latency_bound(cfg) + 1} - 1 unstalled cycles"))
