"""Proof of the composed attention head (``rtl_gen.attention``, top ``qbert_attention``).

The units' own proofs stand for their insides: ``qbert_matmul`` and
``qbert_softmax`` are replaced by *abstract units* with the same ports whose
every output is free (``$anyseq``) except that their m_axis obeys the
AXI4-Stream rules (assumed, as the units' proofs establish).  What is proven
is the head's own glue -- feeds, banks, context registers, output framing --
for every behaviour of the units and every input sequence (k-induction).

Environment (assumed): reset in the first cycle; s_axis_q/k/v obey AXI4-Stream;
``seq_len_i`` is a legal S (1..max_seq, a multiple of rows and cols) and, with
the requantization inputs, stable outside reset.

Properties (injected before ``endmodule`` of qbert_attention, naming its registers):

- P1/P2 on m_axis (reset, hold under stall); bounded (BMC): also on the
  head's three feeds into the units (Q K^T act+wgt, softmax input, P V act+wgt);
- A1 ``row_framing``: every output row is head_dim/cols beats, ``tlast`` on
  the last (a ghost beat counter equals the unit's block counter);
- A2 ``rows_per_head``: a head emits at most S rows, and exactly S before the
  unit takes the next head's loads (ghost row counter, checked when
  ``s_axis_q_tready`` rises again);
- A3 ``bank_flags``: the writer of each two-bank buffer never writes a full
  bank (scores, probs) and the context registers are not written while full.

Not proven here: bounded latency of the composition (needs the units'
latency bounds as assumptions on the abstract units; the cocotb test
``attention_cycles`` measures it) and the data (bit-exactness is the cocotb
testbench's).
"""
from __future__ import annotations

from . import axis
from .matmul import inject
from .sby import SbyJob


def _stub(name: str, ports: list[tuple[str, str, int]], s_prefix: str, m_prefix: str,
          m_data_w: int) -> str:
    """An abstract unit: outputs $anyseq, except that its m_axis is assumed to obey
    AXI4-Stream and to end no more units (tlast beats) than its input ended
    (the units' own P1/P2 and U1)."""
    decl = ",\n".join(f"    {d} wire [{w - 1}:0] {n}" for d, n, w in ports)
    body = "".join(f"    (* anyseq *) reg [{w - 1}:0] f_{n};\n    assign {n} = f_{n};\n"
                   for d, n, w in ports if d == "output")
    s, mm = s_prefix, m_prefix
    body += (f"    wire f_in_done = {s}_tvalid && {s}_tready && {s}_tlast;\n"
             f"    wire f_out_done = {mm}_tvalid && {mm}_tready && {mm}_tlast;\n"
             "    reg [5:0] f_pending = 6'd0;\n"
             "    always @(posedge clk) if (rst) f_pending <= 6'd0;\n"
             "        else f_pending <= f_pending + {5'd0, f_in_done} - {5'd0, f_out_done};\n"
             "    always @(*) if (!rst) assume (!f_out_done || f_pending != 6'd0 || f_in_done);\n")
    return (f"module {name} (\n{decl}\n);\n{body}"
            + "    " + axis.check_instance("f_m_chk", m_prefix, axis.ROLE_ENV, m_data_w)
            + "endmodule\n")


def stubs(cfg) -> str:
    mc, sc = cfg.matmul, cfg.softmax
    mm = [("input", "clk", 1), ("input", "rst", 1),
          ("input", "s_axis_act_tdata", mc.rows * mc.act_bits), ("input", "s_axis_act_tvalid", 1),
          ("output", "s_axis_act_tready", 1), ("input", "s_axis_act_tlast", 1),
          ("input", "s_axis_wgt_tdata", mc.wgt_word_bits), ("input", "s_axis_wgt_tvalid", 1),
          ("output", "s_axis_wgt_tready", 1), ("input", "s_axis_wgt_tlast", 1),
          ("input", "s_axis_prm_tdata", mc.cols * mc.prm_lane_bits),
          ("input", "s_axis_prm_tvalid", 1), ("output", "s_axis_prm_tready", 1),
          ("output", "m_axis_tdata", mc.cols * mc.out_bits), ("output", "m_axis_tvalid", 1),
          ("input", "m_axis_tready", 1), ("output", "m_axis_tlast", 1),
          ("output", "err_tlast_o", 1)]
    sm = [("input", "clk", 1), ("input", "rst", 1),
          ("input", "s_axis_tdata", sc.in_word_bits), ("input", "s_axis_tkeep", sc.lanes),
          ("input", "s_axis_tvalid", 1), ("output", "s_axis_tready", 1),
          ("input", "s_axis_tlast", 1),
          ("output", "m_axis_tdata", sc.out_word_bits), ("output", "m_axis_tkeep", sc.lanes),
          ("output", "m_axis_tvalid", 1), ("input", "m_axis_tready", 1),
          ("output", "m_axis_tlast", 1), ("output", "err_len_o", 1), ("output", "err_keep_o", 1)]
    return ("`default_nettype none\n`ifdef FORMAL\n"
            + _stub("qbert_matmul", mm, "s_axis_act", "m_axis", mc.cols * mc.out_bits)
            + _stub("qbert_softmax", sm, "s_axis", "m_axis", sc.out_word_bits)
            + "`endif\n`default_nettype wire\n")


#: property groups: "glue" (P1/P2 on m_axis, A1, A3: k-inductive), "rows" (A2)
#: and "feeds" (P1/P2 on the feeds into the units): bounded
PARTS = ("glue", "rows", "feeds")


def formal_block(cfg, parts=PARTS) -> str:
    R, C, DH, S = cfg.rows, cfg.cols, cfg.head_dim, cfg.max_seq
    SW = cfg.seq_bits
    ncb = DH // C
    cbb = max(1, (ncb - 1).bit_length())
    legal = " || ".join(f"seq_len_i == {SW}'d{s}" for s in range(1, S + 1)
                        if s % R == 0 and s % C == 0)
    a = []
    a.append("`ifdef FORMAL")
    a.append("    reg f_first = 1'b1, f_past = 1'b0;")
    a.append("    always @(posedge clk) begin f_first <= 1'b0; f_past <= 1'b1; end")
    a.append("    always @(*) if (f_first) assume (rst);")
    a.append("    wire f_chk = !rst && !f_first;")
    for p, w in (("s_axis_q", R * 8), ("s_axis_k", C * 8), ("s_axis_v", C * 8)):
        a.append("    " + axis.check_instance(f"f_{p}_chk", p, axis.ROLE_ENV, w))
    if "glue" in parts:
        a.append("    " + axis.check_instance("f_m_axis_chk", "m_axis", axis.ROLE_DUT, C * 8))
    if "feeds" in parts:
        # the head's own feeds into the units are AXI4-Stream masters too
        for p, valid, ready, data, last, w in (
                ("f_qk", "qk_valid_q", "qk_act_tready", "{qk_act_q, qk_wgt_q}", "qk_last_q",
                 (R + C) * 8),
                ("f_sf", "sf_valid_q", "sf_tready", "sf_data_q", "sf_last_q", cfg.softmax.in_word_bits),
                ("f_pv", "pv_valid_q", "pv_act_tready", "{pv_act, pv_wgt_q}", "pv_last_q",
                 (R + C) * 8)):
            a.append(f"    wire f_{p[2:]}_v = {valid}, f_{p[2:]}_r = {ready}, f_{p[2:]}_l = {last};")
            a.append(f"    wire [{w - 1}:0] f_{p[2:]}_d = {data};")
            a.append(f"    qbert_axis_check #(.DATA_W({w}), .USER_W(1), .ROLE({axis.ROLE_DUT})) "
                     f"{p}_chk (.clk(clk), .rst(rst), .tvalid(f_{p[2:]}_v), .tready(f_{p[2:]}_r), "
                     f".tdata(f_{p[2:]}_d), .tlast(f_{p[2:]}_l), .tuser(1'b0));")
    a.append(f"    always @(*) assume ({legal});")
    a.append(f"    reg [{SW - 1}:0] f_seq_q;")
    a.append("    always @(posedge clk) f_seq_q <= seq_len_i;")
    a.append("    always @(*) if (f_past && !rst) assume (seq_len_i == f_seq_q);")
    # ghost counters of the output stream
    a.append(f"    reg [{cbb - 1}:0] f_beats = {cbb}'d0;")
    a.append(f"    reg [{SW}:0] f_rows = {SW + 1}'d0;")
    a.append("    reg f_qready_q = 1'b0, f_rst_q = 1'b1;")
    a.append("    wire f_out_fire = m_axis_tvalid && m_axis_tready;")
    a.append("    wire f_rise = s_axis_q_tready && !f_qready_q;   // the unit takes a new head")
    a.append("    always @(posedge clk) begin")
    a.append("        f_qready_q <= s_axis_q_tready;")
    a.append("        f_rst_q <= rst;")
    a.append(f"        if (rst) begin f_beats <= {cbb}'d0; f_rows <= {SW + 1}'d0; end")
    a.append("        else begin")
    a.append(f"            if (f_out_fire) f_beats <= m_axis_tlast ? {cbb}'d0 : f_beats + {cbb}'d1;")
    a.append(f"            if (f_rise) f_rows <= {SW + 1}'d0;")
    a.append(f"            else if (f_out_fire && m_axis_tlast) f_rows <= f_rows + {SW + 1}'d1;")
    a.append("        end")
    a.append("    end")
    a.append("    always @(*) if (f_chk) begin")
    if "glue" in parts:
        a.append("        assert (f_beats == out_blk_q);                                       // A1 row_framing")
        a.append(f"        assert (!m_axis_tvalid || m_axis_tlast == (f_beats == {cbb}'d{ncb - 1}));  // A1 row_framing")
        a.append("        assert (!(scores_wr_fire && (scores_wr_bank_q ? scores_full1_q : scores_full0_q)));  // A3 bank_flags")
        a.append("        assert (!(probs_wr_fire && (probs_wr_bank_q ? probs_full1_q : probs_full0_q)));      // A3 bank_flags")
        a.append("        assert (!(ctx_wr_fire && ctx_full_q));                                 // A3 bank_flags")
    if "rows" in parts:
        a.append("        assert (f_rows <= {1'b0, seq_len_i});                               // A2 rows_per_head")
        a.append("        if (!f_rise) assert (f_rows == {1'b0, out_base_q} + out_row_q);          // A2 rows_per_head: map")
        a.append("        if (f_rise) assert (out_base_q == 0 && out_row_q == 0 && !ctx_full_q);   // A2 rows_per_head: a new head starts clean")
        a.append("        if (f_rise && !f_rst_q) assert (f_rows == {1'b0, seq_len_i});        // A2 rows_per_head")
        a.append(f"        assert (out_blk_q <= {cbb}'d{ncb - 1} && out_row_q <= {max(1, (R - 1).bit_length())}'d{R - 1});  // A2 rows_per_head: ranges")
        a.append(f"        assert (out_base_q % {R} == 0 && out_base_q < seq_len_i);            // A2 rows_per_head: ranges")
    a.append("    end")
    a.append("`endif")
    return "\n".join(a) + "\n"


def attention_job(cfg, rtl_text: str | None = None, *, engine: str = "smtbmc yices",
                  depth: int = 4, mode: str = "prove", name: str | None = None,
                  parts=("glue",)) -> SbyJob:
    """SBY job for the generated ``qbert_attention`` of ``cfg`` (or ``rtl_text``:
    the attention file's text) with abstract matmul and softmax units."""
    from rtl_gen.attention import TOP, verilog
    text = rtl_text if rtl_text is not None else verilog(cfg)
    text = inject(text, TOP, formal_block(cfg, parts))
    if mode == "cover":
        text = inject(text, TOP, "`ifdef FORMAL\n    always @(*) if (f_chk) cover (f_rows == "
                      "{1'b0, seq_len_i} && seq_len_i != 0 && s_axis_q_tready && !f_qready_q);\n`endif\n")
    sources = {"qbert_attention.v": text, "qbert_attention_units.sv": stubs(cfg),
               axis.CHECKER_FILE: axis.CHECKER_SV}
    tag = "_".join(parts)
    return SbyJob(name or f"attention_{tag}_{mode}_s{cfg.max_seq}_d{cfg.head_dim}", TOP, sources,
                  mode=mode, depth=depth, engine=engine,
                  description=f"attention head ({', '.join(parts)}): " + {
                      ("glue",): "AXI4-Stream on m_axis, row framing, bank flags",
                      ("rows",): "rows per head",
                      ("feeds",): "AXI4-Stream on the feeds into the units"
                  }.get(tuple(parts), ", ".join(parts))
                  + " (abstract matmul/softmax units)")
