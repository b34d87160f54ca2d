"""Proof of the generated requantize-only unit (``rtl_gen.requant``, top
``qbert_requant``), and the per-requantizer properties the residual unit's
proof (formal/residual.py) reuses.

The reference is ``qbert_requant_ref`` of :mod:`formal.equiv`
(golden_model.quant.requantize in int64, tied to the numpy model by
``requant_vectors_job``); the properties are injected into the generated
module (:func:`formal.matmul.inject`) and name its registers
(``s1_acc_{sfx}_q``, ``s1_mult_{sfx}_q``, ``s1_shift_{sfx}_q``, ``sat_{sfx}``,
``out_{sfx}_q``, ``v{k}_q``, ``last{k}_q``).

Environment (assumed): reset in the first cycle; every input stream obeys
AXI4-Stream; every parameter lane's shift is <= 62 (the golden model's domain).

Proven for every input sequence (k-induction), per requantizer ``sfx``:

- R1 ``operands``: stage 1 holds the acc, M and s of the beat taken (ghost
  registers fed from the tdata bits the stream protocol assigns them);
- R2 ``requant_stage``: the round/shift/saturate output of stage 2 equals
  qbert_requant_ref of stage 1's operands;
- R3 ``requant_equal``: the output register equals requantize(acc, M, s) of
  the beat taken 3 advances ago;
- P1/P2 on m_axis, U1/U2/U3 (frames in == frames out, bounded latency) with
  G6 ``pending_map`` as in formal/gelu.py.
"""
from __future__ import annotations

from . import axis, equiv
from .matmul import inject
from .sby import SbyJob


def frame_block(depth: int, s_prefix: str, in_words: dict[str, int], out_word_bits: int,
                shift_fields: dict[str, list[tuple[int, int]]]) -> list[str]:
    """Environment, m_axis protocol and frame-counting properties of an
    elementwise unit (rtl_gen/pipeline.py) with ``depth`` stages; every input
    stream (prefix -> tdata width) is assumed to obey AXI4-Stream, and the
    ``shift_fields`` (prefix -> [(hi, lo)] bit ranges of a 6-bit shift) <= 62."""
    a = []
    a.append("    reg f_first = 1'b1;")
    a.append("    always @(posedge clk) f_first <= 1'b0;")
    a.append("    always @(*) if (f_first) assume (rst);")
    a.append("    wire f_chk = !rst && !f_first;")
    for k, (prefix, w) in enumerate(in_words.items()):
        last = f"{prefix}_tlast" if prefix == s_prefix else "1'b0"
        a.append(f"    qbert_axis_check #(.DATA_W({w}), .ROLE({axis.ROLE_ENV})) f_in{k} (.clk(clk), "
                 f".rst(rst), .tvalid({prefix}_tvalid), .tready({prefix}_tready), "
                 f".tdata({prefix}_tdata), .tlast({last}), .tuser(1'b0));")
    for prefix, fields in shift_fields.items():
        for hi, lo in fields:
            a.append(f"    always @(*) if ({prefix}_tvalid) assume ({prefix}_tdata[{hi}:{lo}] <= 6'd62);")
    a.append("    " + axis.check_instance("f_out", "m_axis", axis.ROLE_DUT, out_word_bits)
             .replace("\n", "\n    "))
    a.append("    " + axis.units_instance("f_units", s_prefix, "m_axis", max_pending=depth,
                                          latency=depth + 1, pending="f_pending",
                                          timer="f_timer").replace("\n", "\n    "))
    frames = " + ".join(f"(v{k}_q && last{k}_q)" for k in range(1, depth + 1))
    a.append(f"    always @(*) if (f_chk) assert (f_pending == {frames});   // G6 pending_map")
    # U3 is k-inductive with: the latency timer never exceeds the stage of the
    # oldest frame end in the pipeline (both advance once per un-stalled cycle)
    a.append("    always @(*) if (f_chk) assert (f_pending != 0 || f_timer == 0);   // G6 pending_map: idle timer")
    for k in range(1, depth + 1):
        newer = "".join(f" && !(v{j}_q && last{j}_q)" for j in range(k + 1, depth + 1))
        a.append(f"    always @(*) if (f_chk && v{k}_q && last{k}_q{newer}) assert (f_timer <= {k});  // G6 pending_map: timer")
    a.append("    always @(*) if (f_chk) cover (m_axis_tvalid && m_axis_tready && m_axis_tlast);  // C1 frame_out")
    return a


def lane_block(sfx: str, spec: equiv.RequantSpec, acc: str, mult: str, shift: str,
               out_stage: int = 3) -> list[str]:
    """R1-R3 of the requantizer ``sfx`` (rtl_gen.requant.requant_lane) whose
    input-lane wires are ``acc``, ``mult``, ``shift``.  The ghost result
    ``f_y{out_stage}_{sfx}`` travels with the beat to ``out_stage``."""
    A, O = spec.acc_bits, spec.out_bits
    n = sfx
    a = [f"    // requantizer {sfx}",
         f"    reg [{A - 1}:0] f_acc_{n}; reg [30:0] f_mult_{n}; reg [5:0] f_shift_{n};",
         f"    always @(posedge clk) if (en) begin f_acc_{n} <= {acc}; f_mult_{n} <= {mult}; "
         f"f_shift_{n} <= {shift}; end",
         f"    wire signed [{O - 1}:0] f_ref_{n};",
         f"    qbert_requant_ref f_req_{n} (.acc(s1_acc_{n}_q), .mult(s1_mult_{n}_q), "
         f".shift(s1_shift_{n}_q), .y(f_ref_{n}));",
         f"    reg [{O - 1}:0] " + ", ".join(f"f_y{k}_{n}" for k in range(2, out_stage + 1)) + ";",
         f"    always @(posedge clk) if (en) begin f_y2_{n} <= f_ref_{n}; "
         + " ".join(f"f_y{k}_{n} <= f_y{k - 1}_{n};" for k in range(3, out_stage + 1)) + " end",
         "    always @(*) if (f_chk) begin",
         f"        assert (!v1_q || (s1_acc_{n}_q == f_acc_{n} && s1_mult_{n}_q == f_mult_{n} "
         f"&& s1_shift_{n}_q == f_shift_{n}));   // R1 operands",
         f"        assert (!v1_q || s1_shift_{n}_q <= 6'd62);                     // R1 operands: shift domain",
         f"        assert (!v2_q || sat_{n} == f_y2_{n});                          // R2 requant_stage",
         f"        assert (!v3_q || out_{n}_q == f_y3_{n});                        // R3 requant_equal",
         "    end"]
    return a


def requant_block(cfg) -> str:
    from rtl_gen.requant import IN, PRM, PRM_LANE_BITS, MULT_BITS, SHIFT_BITS
    spec = equiv.RequantSpec(acc_bits=cfg.acc_bits, out_bits=cfg.out_bits)
    L = cfg.lanes
    prm_w = L * PRM_LANE_BITS
    shifts = [(i * PRM_LANE_BITS + MULT_BITS + SHIFT_BITS - 1, i * PRM_LANE_BITS + MULT_BITS)
              for i in range(L)]
    lines = ["`ifdef FORMAL"]
    lines += frame_block(cfg.latency, IN, {IN: _word(L * cfg.acc_bits), PRM: prm_w},
                         _word(L * cfg.out_bits), {PRM: shifts})
    for i in range(L):
        # ghosts straight from tdata (the protocol), not from the DUT's lane wires
        lines += lane_block(f"l{i}", spec, *tdata_operands(IN, i, cfg.acc_bits, PRM,
                                                           i * PRM_LANE_BITS))
    lines.append("`endif")
    return "\n".join(lines) + "\n"


def tdata_operands(data: str, lane: int, bits: int, prm: str, field_lo: int) -> tuple[str, str, str]:
    """(acc, M, s) of a lane as slices of the input tdata words: the
    element ``lane`` of stream ``data`` and the {s, M} field at bit ``field_lo``
    of stream ``prm`` (rtl_gen/requant.py's layout)."""
    lo = lane * bits
    return (f"{data}_tdata[{lo + bits - 1}:{lo}]", f"{prm}_tdata[{field_lo + 30}:{field_lo}]",
            f"{prm}_tdata[{field_lo + 36}:{field_lo + 31}]")


def _word(bits: int) -> int:
    from rtl_gen.emit import bytes_width
    return bytes_width(bits)


def requant_job(cfg, rtl_text: str | None = None, *, engine: str = "smtbmc yices",
                depth: int = 2, mode: str = "prove", name: str | None = None,
                mutate=None) -> SbyJob:
    """SBY job for the generated ``qbert_requant`` of ``cfg`` (or ``rtl_text``)."""
    from rtl_gen.requant import TOP, verilog
    text = rtl_text if rtl_text is not None else verilog(cfg)
    if mutate is not None:
        text = mutate(text)
    spec = equiv.RequantSpec(acc_bits=cfg.acc_bits, out_bits=cfg.out_bits)
    sources = {f"{TOP}.sv": inject(text, TOP, requant_block(cfg)),
               axis.CHECKER_FILE: axis.CHECKER_SV,
               "qbert_requant_ref.sv": equiv.requant_ref_sv(spec)}
    label = f"l{cfg.lanes}_a{cfg.acc_bits}_o{cfg.out_bits}"
    return SbyJob(name or f"requant_{label}", TOP, sources, mode=mode, depth=depth, engine=engine,
                  description=f"qbert_requant {label}: y == requantize(acc, M, s), m_axis "
                              f"protocol, frames in == frames out")


def unit_jobs(cfg, text: str, engine: str = "smtbmc yices"):
    """The requant unit's proof, its cover, the reference vs numpy vectors and
    the width/rounding lemmas."""
    from . import lemmas
    from rtl_gen.requant import REQ_BITS
    spec = equiv.RequantSpec(acc_bits=cfg.acc_bits, out_bits=cfg.out_bits)
    jobs = [requant_job(cfg, text, engine=engine),
            requant_job(cfg, text, engine=engine, mode="cover", depth=8,
                        name=f"requant_cover_l{cfg.lanes}"),
            equiv.requant_vectors_job(spec, engine=engine)]
    return jobs, [lambda: lemmas.requant_width(spec.acc_bits, spec.mult_bits, spec.shift_max, REQ_BITS),
                  lambda: lemmas.round_half_up(spec.shift_max)]
