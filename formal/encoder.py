"""Proof of the encoder-layer engine (``rtl_gen.encoder_engine``, top ``qbert_encoder``).

The units' own proofs stand for their insides: ``qbert_matmul``,
``qbert_softmax``, ``qbert_layernorm``, ``qbert_gelu``, ``qbert_requant`` and
``qbert_residual`` are replaced by *abstract units* (:func:`stubs`) with the
ports of the generated unit files (read from the RTL, not retyped) whose
outputs are free (``$anyseq``) except that, as assumptions:

- their m_axis obeys AXI4-Stream P1/P2 (the units' own proofs);
- they offer an output only while an input unit is pending (no more units
  out than in: the units' U1).  A unit is a tile (matmul: an act tlast with
  its parameter beat), a row (softmax), a vector (layernorm) or a beat (the
  elementwise units, which take their two operands in pairs);
- their output units have the frame the engine counts: ``array`` beats a
  matmul tile, as many beats as the input row for softmax, H/lanes beats a
  LayerNorm vector (row framing: simulation and the units' proofs);
- only in the *live* job (``F_LIVE``): their inputs are always ready (but a
  mixed matmul's, dsp_pack 3, in an int8 beat's first cycle: it takes such a
  beat in two, its M1/M2) and the next pending output unit completes within
  the unit's latency bound (:func:`unit_latency`; not counting cycles the
  engine stalls it).

Environment (assumed): reset in the first cycle; s_axis_x and s_axis_w obey
AXI4-Stream; start_i and seq_len_i free (a bad length only sets err_seq_o).
In the live job: s_axis_x/s_axis_w always valid, m_axis_y always ready,
start_i high from reset until the engine takes it, seq_len_i legal (1..max_seq).

Properties (injected before ``endmodule`` of qbert_encoder, naming its wires):

- P1/P2 on m_axis_y (formal/axis.py ``qbert_axis_check``);
- B1 ``written_<buf>``: every buffer read that feeds a datapath (``<buf>_rd_en``)
  reads an address written since the layer started, in every bank (all banks
  are read at one address; asserted for all of them, also where a read
  consumes one bank); ghost bits per bank and address, cleared when start_i
  is taken.
  The banks of X and H1 hold only the S real tokens (LOADX and the first
  LayerNorm write tokens < S); the padded rows of their last row group are
  read by the array (whole groups) but never reach the output, so for X and
  H1 the property covers the rows whose token index is < S;
- L1 ``done_in_bound`` (live job): a started layer is back in IDLE with
  ``done_o`` within :func:`done_bound` cycles (``rtl_gen.encoder_cycles.
  layer_bound``: the cycle model's schedule with every unit at its proven
  bound), and L1 ``stage_in_bound``: every stage of the sequencer ends within
  its cumulative share of that bound (:func:`milestones`).

L1 and B1 over the whole layer, in the live environment, are proven stage by
stage (:func:`stage_job`): the control-only live BMC from reset (``control_only=True``:
the buffer memories cut, no stream checkers; the sequencer reads no data)
runs through the first :data:`HANDOFF` stages and asserts the state in which
the next stage begins (:func:`boundary`, the B1 ghost bits of the buffers
complete by then, :func:`written`); each later stage's job assumes its
boundary state in its first cycle, every other register free, and asserts its
own bound, B1, and the next stage's boundary state when it leaves.  Each job
is short (the longest stage, the attention, is ~80 cycles at the proof
Config), where the single whole-layer BMC (473 cycles) did not complete.
``F_WORST`` pins the abstract units to their latest answers (one
deterministic worst-case trace: the bound's exactness and the must-fail
checks).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import axis
from .matmul import inject
from .sby import SbyJob

#: activation buffers of the engine; the ones whose padded rows stay unwritten
BUFFERS = ("x", "q", "k", "v", "c", "h1", "g", "r", "s", "p")
REAL_TOKENS_ONLY = ("x", "h1")
#: counter widths of the ghost logic (a layer at the proof's Configs is < 2^12 cycles)
CW = 12

_PORT_RE = re.compile(r"^\s*(input|output)\s+(?:wire|reg)?\s*(?:\[(\d+)(?:-1)?:0\]\s*)?(\w+)\s*,?\s*$")


def ports(text: str, module: str) -> list[tuple[str, str, int]]:
    """(direction, name, width) of ``module``'s ports in Veriloggen's ANSI header."""
    m = re.search(rf"^\s*module\s+{re.escape(module)}\b(.*?)\);", text, re.M | re.S)
    if not m:
        raise ValueError(f"module {module!r} not found in the RTL text")
    out = []
    for line in m.group(1).splitlines():
        p = _PORT_RE.match(line)
        if p:
            hi = p.group(2)
            width = 1 if hi is None else (int(hi) if "-1" in line.split("]")[0] else int(hi) + 1)
            out.append((p.group(1), p.group(3), width))
    if not out:
        raise ValueError(f"module {module!r}: no ports parsed")
    return out


@dataclass(frozen=True)
class Abstract:
    """How an abstract unit counts units and frames its output."""
    module: str
    data_in: str                 # the input whose units the output answers
    paired: tuple[str, ...]      # inputs that must deliver too (counted in beats)
    per_beat: bool               # elementwise: a unit is one beat
    out_beats: int | None        # beats of an output unit (None: the input row's)
    latency: int                 # live job: timer bound (cycles, exclusive)
    #: inputs taken together: with both valid, their readies are equal (the
    #: matmul's E2 lockstep_ready, proven by qbert prove matmul)
    lockstep: tuple[str, ...] = ()

    @property
    def instance(self) -> str:
        """The engine's instance of the unit (``qbert_matmul`` -> ``u_matmul``)."""
        return "u_" + self.module[len("qbert_"):]


def unit_latency(cfg) -> dict[str, int]:
    """The abstract units' latency bounds by module (U3 semantics: while a unit is
    pending, the next output unit completes within this many un-stalled cycles):
    the proven bounds of ``rtl_gen.encoder_cycles.unit_bounds``, the same numbers
    ``layer_bound`` charges."""
    from rtl_gen.encoder_cycles import unit_bounds
    return {f"qbert_{u}": v for u, v in unit_bounds(cfg).items()}


def abstracts(cfg) -> list[Abstract]:
    lat = unit_latency(cfg)
    return [Abstract("qbert_matmul", "s_axis_act", ("s_axis_prm",), False, cfg.array, lat["qbert_matmul"],
                     lockstep=("s_axis_act", "s_axis_wgt")),
            Abstract("qbert_softmax", "s_axis", (), False, None, lat["qbert_softmax"]),
            Abstract("qbert_layernorm", "s_axis", (), False, cfg.layernorm.beats, lat["qbert_layernorm"]),
            Abstract("qbert_gelu", "s_axis", (), True, None, lat["qbert_gelu"]),
            Abstract("qbert_requant", "s_axis", (), True, None, lat["qbert_requant"]),
            Abstract("qbert_residual", "s_axis_a", ("s_axis_b",), True, None, lat["qbert_residual"])]


def _stub(a: Abstract, port_list: list[tuple[str, str, int]]) -> str:
    decl = ",\n".join(f"    {d} wire [{w - 1}:0] {n}" for d, n, w in port_list)
    widths = {n: w for _, n, w in port_list}
    L = [f"module {a.module} (\n{decl}\n);"]
    L += [f"    (* anyseq *) reg [{w - 1}:0] f_{n};\n    assign {n} = f_{n};"
          for d, n, w in port_list if d == "output"]
    one = f"{{{CW - 1}'d0, 1'b1}}"

    def end(prefix, beat):
        last = "" if beat else f" && {prefix}_tlast"
        return f"{prefix}_tvalid && {prefix}_tready{last}"
    counts = [("in", end(a.data_in, a.per_beat))] + [(f"g{i}", end(p, True)) for i, p in enumerate(a.paired)]
    counts.append(("out", end("m_axis", a.per_beat)))
    for n, e in counts:
        L.append(f"    wire f_{n}_end = {e};")
        L.append(f"    reg [{CW - 1}:0] f_n_{n} = {CW}'d0;")
        L.append(f"    always @(posedge clk) if (rst) f_n_{n} <= {CW}'d0; "
                 f"else if (f_{n}_end) f_n_{n} <= f_n_{n} + {one};")
    avail = "f_n_in"
    for i in range(len(a.paired)):
        avail = f"(f_n_g{i} < {avail} ? f_n_g{i} : {avail})"
    # hierconn: once flattened, the engine's formal block can name these
    # (``u_layernorm.f_pending``, LN_INSTANCE) in its invariants (:func:`y_invariants`)
    L.append(f"    (* hierconn, keep *) wire [{CW - 1}:0] f_pending = {avail} - f_n_out;")
    L.append("    // no output without a pending unit: no more units out than in (the unit's U1)")
    L.append("    always @(*) if (!rst) assume (!m_axis_tvalid || f_pending != 0);")
    if not a.per_beat:
        L.append(f"    (* hierconn, keep *) reg [{CW - 1}:0] f_beat = {CW}'d0;")
        L.append(f"    always @(posedge clk) if (rst) f_beat <= {CW}'d0; else if (m_axis_tvalid && m_axis_tready) "
                 f"f_beat <= m_axis_tlast ? {CW}'d0 : f_beat + {one};")
        if a.out_beats is None:      # the output row is as long as the input row
            s = a.data_in
            L.append(f"    reg [{CW - 1}:0] f_in_beat = {CW}'d0, f_in_len = {CW}'d0;")
            L.append(f"    always @(posedge clk) if (rst) begin f_in_beat <= {CW}'d0; f_in_len <= {CW}'d0; end")
            L.append(f"        else if ({s}_tvalid && {s}_tready) begin")
            L.append(f"            f_in_beat <= {s}_tlast ? {CW}'d0 : f_in_beat + {one};")
            L.append(f"            if ({s}_tlast) f_in_len <= f_in_beat + {one};")
            L.append("        end")
            L.append("    always @(*) if (!rst && m_axis_tvalid) assume (m_axis_tlast == (f_beat + "
                     f"{one} == f_in_len));   // framing")
        else:
            L.append(f"    always @(*) if (!rst && m_axis_tvalid) assume (m_axis_tlast == "
                     f"(f_beat == {CW}'d{a.out_beats - 1}));   // framing")
    if a.lockstep:
        valid = " && ".join(f"{p}_tvalid" for p in a.lockstep)
        same = " && ".join(f"{a.lockstep[0]}_tready == {p}_tready" for p in a.lockstep[1:])
        L.append(f"    always @(*) if ({valid}) assume ({same});   // the unit's E2 lockstep_ready")
    L += _feed_checks(port_list)
    readies = [n for d, n, _ in port_list if d == "output" and n.startswith("s_axis_") and n.endswith("_tready")]
    # a mixed matmul (s_axis_wgt_tuser) takes an int8 beat in its second cycle
    # (its M1/M2, qbert prove matmul): f_wq is the beat's first cycle done
    mixed = "s_axis_wgt_tuser" in widths
    if mixed:
        L.append("    reg f_wq = 1'b0;")
        L.append("    always @(posedge clk) if (rst) f_wq <= 1'b0; else if (s_axis_act_tvalid && "
                 "s_axis_wgt_tvalid && s_axis_wgt_tuser && !f_wq) f_wq <= 1'b1; "
                 "else if (s_axis_act_tvalid && s_axis_act_tready) f_wq <= 1'b0;")
    L.append("`ifdef F_LIVE")
    lock = ("s_axis_act_tready", "s_axis_wgt_tready") if mixed else ()
    L.append(f"    always @(*) assume ({' && '.join(r for r in readies if r not in lock)});"
             "   // inputs always ready")
    if mixed:
        L.append("    always @(*) assume ((s_axis_act_tvalid && s_axis_wgt_tvalid && s_axis_wgt_tuser "
                 "&& !f_wq) ? !s_axis_act_tready : s_axis_act_tready);   // but an int8 beat's first cycle")
    L.append(f"    reg [{CW - 1}:0] f_timer = {CW}'d0;")
    L.append(f"    always @(posedge clk) if (rst || f_out_end || f_pending == {CW}'d0) f_timer <= {CW}'d0;")
    L.append(f"        else if (!(m_axis_tvalid && !m_axis_tready)) f_timer <= f_timer + {one};")
    L.append(f"    always @(*) if (!rst) assume (f_timer < {CW}'d{a.latency});   // answers within its bound")
    # between stages (:func:`boundary`): nothing pending, no unit half out, every
    # input counted as often as the output (the counters' values themselves only
    # matter through their differences, so a stage job may start them at 0)
    quiet = [f"f_pending == {CW}'d0", f"f_timer == {CW}'d0", "f_n_out == f_n_in",
             *(["!f_wq"] if mixed else []),
             *(f"f_n_g{i} == f_n_in" for i in range(len(a.paired))),
             *([] if a.per_beat else [f"f_beat == {CW}'d0"]),
             *([f"f_in_beat == {CW}'d0"] if not a.per_beat and a.out_beats is None else [])]
    L.append(f"    (* hierconn, keep *) wire f_quiet = {' && '.join(quiet)};")
    # F_WORST: the latest answer the bound allows, deterministically: the beats of
    # the next output unit back to back, the last one in the bound's last cycle
    n = f"{CW}'d1" if a.per_beat else (f"{CW}'d{a.out_beats}" if a.out_beats else "f_in_len")
    beat = f"{CW}'d0" if a.per_beat else "f_beat"
    L.append("`ifdef F_WORST")
    L.append(f"    always @(*) if (!rst) assume (m_axis_tvalid == (f_pending != {CW}'d0 && "
             f"f_timer + {n} >= {CW}'d{a.latency} + {beat}));")
    L.append("`endif")
    L.append("`endif")
    L.append("    " + axis.check_instance("f_m_chk", "m_axis", axis.ROLE_ENV, widths["m_axis_tdata"]).rstrip())
    L.append("endmodule")
    return "\n".join(L) + "\n"


def _feed_checks(port_list: list[tuple[str, str, int]]) -> list[str]:
    """The engine drives every input stream of the unit as AXI4-Stream (P1/P2:
    tvalid, tdata, tlast and tkeep held while stalled), asserted: the units'
    own proofs assume exactly that of their inputs, so without it the
    composition "the units' proofs stand for their insides" would not follow.
    Only in the jobs that define ``F_FEEDS`` (:func:`feeds_job`): held tdata
    pulls the datapath into every check, which would slow the other jobs, and
    they are not inductive as the m_axis_y invariants stand."""
    widths = {n: w for _, n, w in port_list}
    L = ["`ifdef F_FEEDS"]
    for n in widths:
        if not (n.startswith("s_axis") and n.endswith("_tvalid")):
            continue
        p = n[:-len("_tvalid")]
        # the side band held with the beat: a softmax row's tkeep, a mixed
        # matmul's int8/int4 tuser
        keep = next((s for s in (f"{p}_tkeep", f"{p}_tuser") if s in widths), None)
        L.append("    " + axis.check_instance(
            f"f_feed_{p}", p, axis.ROLE_DUT, widths[f"{p}_tdata"], user_w=widths.get(keep, 1),
            tlast=None if f"{p}_tlast" in widths else "1'b0", tuser=keep).rstrip())
    L.append("`endif")
    return L


def stubs(cfg, unit_texts: str) -> str:
    """The abstract units, their ports read from ``unit_texts`` (the generated unit files)."""
    body = "".join(_stub(a, ports(unit_texts, a.module)) for a in abstracts(cfg))
    return "`default_nettype none\n`ifdef FORMAL\n" + body + "`endif\n`default_nettype wire\n"


# ---------------------------------------------------------------------------
# the engine's properties


def done_bound(cfg, s: int) -> int:
    """Cycles from start_i taken to IDLE with done_o, for s tokens, in the live
    environment: ``rtl_gen.encoder_cycles.layer_bound`` (the cycle model's
    schedule with every unit at its proven bound)."""
    from rtl_gen.encoder_cycles import layer_bound
    return layer_bound(cfg, s).total


#: f_cycles counts the busy cycles before the current one, from 0 in the cycle
#: after start_i is taken; the cycle model counts from the start cycle: a stage
#: whose cumulative phases end at c has its last cycle at f_cycles == c - 2 (the
#: worst-case trace, F_WORST, matches the model at every stage, docs/encoder.md)
MILESTONE_SLACK = 1
#: the sequencer's stages in order: (phases of ``layer_bound`` the stage ends,
#: the RTL condition "the engine is in this stage")
STAGES = ((("START", "HDR"), "ph_hdr"), (("SCAL",), "ph_scal"), (("LOADX",), "ph_loadx"),
          (("LIN_q",), "ph_lin && is_lin_q"), (("LIN_k",), "ph_lin && is_lin_k"),
          (("LIN_v",), "ph_lin && is_lin_v"), (("QK", "SM", "PV"), "(ph_qk || ph_pv)"),
          (("LIN_out",), "ph_lin && is_lin_out"), (("LNP1",), "ph_lnp && !which_ln_q"),
          (("LNV1",), "ph_lnv && !which_ln_q"), (("LIN_up",), "ph_lin && is_lin_up"),
          (("LIN_down",), "ph_lin && is_lin_down"), (("LNP2",), "ph_lnp && which_ln_q"),
          (("LNV2",), "ph_lnv && which_ln_q"))


def milestones(cfg, s: int, short: bool = False) -> list[tuple[str, int]]:
    """(RTL condition, bound) per stage: while the engine is in the stage,
    fewer than ``bound`` cycles have passed since start_i was taken -- the
    stages' cumulative ``layer_bound`` phases (the last one: the whole layer)."""
    from rtl_gen.encoder_cycles import layer_bound
    ph = layer_bound(cfg, s).phases
    out, cum = [], 0
    for names, cond in STAGES:
        cum += sum(ph[n] for n in names)
        out.append((cond, cum - MILESTONE_SLACK - short))
    assert cum + ph["DONE"] == done_bound(cfg, s)
    return out


#: the stage-wise proof of L1 (:func:`stage_job`): one BMC from reset through
#: the first HANDOFF stages (:func:`stages_depth`), then one BMC per later stage
#: from the state in which the stage begins (:func:`boundary`)
HANDOFF = 4


def boundary(cfg, s: int, k: int) -> list[str]:
    """What holds in the first cycle of stage ``k`` (an index into :data:`STAGES`;
    ``len(STAGES)``: the cycle after the layer, IDLE with done, whatever S the
    next layer has) in every live trace of ``s`` tokens, from the linear q
    projection (stage 3) on.  A stage
    job assumes it of its first cycle (every other register free) and asserts
    the next stage's when it leaves its own stage, so each is proven where it
    is used.

    Held between stages: S, its row groups and the last group's rows; the
    weight loader as :func:`loader` says; no feed register holding a beat (nor the post-op row
    buffer); the softmax idle; every abstract unit quiet (``f_quiet``).  Counters that a stage's
    start pulse clears before they are read stay free."""
    if not 3 <= k <= len(STAGES):
        raise ValueError(f"boundary: stage {k} is not one of 3..{len(STAGES)}")
    A = cfg.array
    g = -(-s // A)
    quiet = ["!feed_valid_q", "!res_b_valid_q", "!sf_valid_q", "!ln_in_valid_q", "!ln_prm_valid_q",
             "!sm_on_q", "!sm_start_q",
             *(f"\\{a.instance}.f_quiet " for a in abstracts(cfg)),
             # post-op units narrower than the array: their row buffer empty
             *(["!post_row_valid_q"] if cfg.post_chunks > 1 else [])]
    if k == len(STAGES):       # the next layer may have another S: none of it kept
        return ["ph_idle", "done_q", *quiet, loader(cfg, None)]
    out = [STAGES[k][1], f"seq_q == {s}", f"groups_q == {g}", f"last_rows_q == {s - (g - 1) * A}",
           "!done_q", *quiet]
    first = STAGES[k][0][0]         # the stage's first phase of layer_bound
    # the next linear pass's (at the attention, the out projection's; at LN1, the up's)
    nxt = {"QK": "out", "LNP1": "up", "LNV1": "up", "LNP2": None, "LNV2": None}.get(
        first, first[4:])
    out.append(loader(cfg, nxt, idle=first.startswith("LN")))
    if first.startswith("LIN_"):
        out += ["step_wait", "blk_q == 0", "!seg_start_q"]
    elif first == "QK":
        out += ["ph_qk", "head_q == 0", "head_word_q == 0", "att_group_q == 0", "seg_start_q",
                # the array's P V item, the softmax's, their buffers' halves: none yet
                "pv_head_word_q == 0", "pv_group_q == 0", "!qk_par_q", "!sm_par_q", "!pv_par_q",
                "att_first_q", "!qk_all_done_q", "!s_full0_q", "!s_full1_q", "!p_full0_q",
                "!p_full1_q",
                # no segment being written: the first one's rows count from 0 (the
                # attention's start pulses leave the counts to the write side)
                "att_inflight_q == 0", "dst_row_q == 0", "dst_tile_q == 0"]
    elif first.startswith("LNP"):
        out += ["ln_rec_q == 0", "!seg_start_q"]
    else:
        assert first.startswith("LNV"), first
        out += ["seg_start_q"]
    return out


def loader(cfg, nxt: str | None, idle: bool = False) -> str:
    """The weight loader at a stage's first cycle, before the linear pass ``nxt``
    (None: after the down projection) takes its first block: 0, 1 or 2 of the
    layer's blocks from that one on loaded into the banks (the compute bank
    first), the loader between two blocks or part way into the next (its PRM
    record or its K rows), never into the up projection's before LNV1
    (``idle``: an LN stage, the loader between blocks with nothing loaded)."""
    from rtl_gen.encoder_engine import LINEARS, LOADED
    blocks = {n: (cfg.ffn if n == "up" else cfg.hidden) // cfg.array for n in LINEARS}
    first = {n: sum(blocks[m] for m in LINEARS[:i]) for i, n in enumerate(LINEARS)}
    total = sum(blocks.values())
    at = total if nxt is None else first[nxt]
    # the up projection's blocks follow the LN1 records in the stream
    last = at if idle else (first["up"] if at < first["up"] else total)
    prm = cfg.stream_shape.record_beats(20 * cfg.array)
    full = {0: "!wbuf_full0_q && !wbuf_full1_q",
            1: "(compute_bank_q ? wbuf_full1_q && !wbuf_full0_q : wbuf_full0_q && !wbuf_full1_q)",
            2: "wbuf_full0_q && wbuf_full1_q"}
    between = "!load_weights_q && rec_beat_q == 0"
    states = []
    for p in range(at, min(at + 2, last) + 1):
        lin = next((i for i, n in reversed(list(enumerate(LINEARS))) if first[n] <= p), 0)
        name = LINEARS[lin]
        pos = (f"load_linear_q == {LOADED} && load_blocks_q == 0" if p == total else
               f"load_linear_q == {lin} && load_blocks_q == {p - first[name]}")
        k = cfg.ffn if name == "down" and p < total else cfg.hidden
        busy = p == at + 2 or p == last
        where = between if busy else (f"(!load_weights_q && rec_beat_q < {prm} || "
                                      f"load_weights_q && rec_beat_q == 0 && wbuf_wr_k_q < {k})")
        bank = "load_bank_q == compute_bank_q" if (p - at) % 2 == 0 else "load_bank_q != compute_bank_q"
        states.append(f"({pos} && {full[p - at]} && {bank} && {where})")
    return "(" + " || ".join(states) + ")"


#: the first stage boundary by which each buffer read in a later stage is
#: written whole (S and P are written and read within the attention stage)
COMPLETE_AT = {"x": 3, "q": 4, "k": 5, "v": 6, "c": 7, "r": 8, "h1": 10, "g": 11}


def written(cfg, s: int, k: int, engine_text: str) -> dict[tuple[str, int], int]:
    """The addresses every live trace of ``s`` tokens has written by the first
    cycle of stage ``k``, as B1 ghost-bit masks by (buffer, bank): every buffer
    of :data:`COMPLETE_AT` complete by then, whole (its row groups, its words;
    X and H1 the S real tokens only).  A stage job starts its ghost bits at
    exactly these (fewer bits than a real trace may have: a stronger B1), and
    the job before asserts them."""
    from rtl_gen.emit import clog2
    A = cfg.array
    groups = -(-s // A)
    gb = clog2(cfg.max_seq // A)
    words = {"g": cfg.ffn // A}
    out = {}
    for name, at in COMPLETE_AT.items():
        if k < at:
            continue
        wb = addr_bits(engine_text, name) - gb
        for r in range(A):
            mask = 0
            for g in range(groups):
                if name in REAL_TOKENS_ONLY and g * A + r >= s:
                    continue
                for w in range(words.get(name, cfg.hidden // A)):
                    mask |= 1 << ((g << wb) | w)
            out[name, r] = mask
    return out


def stages_depth(cfg, s: int, stages: int = 4) -> int:
    """BMC depth that proves the first ``stages`` stage bounds for every trace:
    in the live environment (one layer) a stage is left in order and never
    entered again, so a violation of a
    stage's bound b shows by the cycle in which f_cycles reaches b (start_i is
    taken in cycle 1, f_cycles is 0 in cycle 2: cycle b + 2, depth b + 3)."""
    return milestones(cfg, s)[stages - 1][1] + 3


def addr_bits(engine_text: str, name: str) -> int:
    """Width of the buffer's read address wire in the engine's RTL."""
    m = re.search(rf"^\s*wire\s+\[(\d+)-1:0\]\s+{name}_rd_addr;", engine_text, re.M)
    if not m:
        raise ValueError(f"qbert_encoder: no wire {name}_rd_addr (the generator renamed it?)")
    return int(m.group(1))


def y_invariants(cfg) -> list[str]:
    """What makes P1/P2 on m_axis_y k-inductive (depth :data:`Y_DEPTH`): the
    LayerNorm's output is m_axis_y, so m_axis_y keeps a beat offered exactly when
    the abstract LayerNorm has a token pending, and the sequencer leaves LNV only
    when every token is out.  Each is asserted (so proven with the rest):

    * I0/I1: the phase register holds a phase, and a started layer's S is legal;
    * I2: the LayerNorm parameter word is offered in LNP only;
    * I3: outside LNV (and in its first cycle) the LayerNorm has nothing pending
      and the feed register is empty; I4: the word counters stay below a token's
      words, and the unit's output beat is 0 between tokens;
    * I5: in LNV, tokens out + tokens pending in the unit + a last word in the
      feed register = tokens read, at most S; the feed is done exactly at S; a
      non-last word in the feed register belongs to a token not yet counted;
      the engine's output word counter is the unit's output beat.

    The unit's counters (``f_pending``, ``f_beat`` of its stub) are reached
    through Yosys ``hierconn`` wires, so the job flattens the design."""
    from rtl_gen.encoder_engine import LN_INSTANCE, PHASES
    DW, SM, NL = cfg.hidden // cfg.array, cfg.max_seq, cfg.layernorm_chunks
    assert cfg.layernorm.beats == DW * NL, "the LayerNorm's beats per token: the words' beats"
    cw = f"[{CW - 1}:0]"
    # a LayerNorm narrower than the array: a word is NL of its beats; the engine's
    # output beat is its word and chunk counters
    out_beat = "ln_out_word_q" if NL == 1 else f"(ln_out_word_q * {NL} + ln_out_chunk_q)"
    chunks = [] if NL == 1 else [
        f"        assert (ln_out_chunk_q <= {NL - 1} && ln_in_chunk_q <= {NL - 1});   // I4 words",
        "        if (!ln_in_valid_q) assert (ln_in_chunk_q == 0);   // I4 words"]
    return [
        "    // ---- invariants of m_axis_y (y_invariants): the LayerNorm stub's counters ----",
        f"    (* hierconn, keep *) wire {cw} \\{LN_INSTANCE}.f_pending ;",
        f"    (* hierconn, keep *) wire {cw} \\{LN_INSTANCE}.f_beat ;",
        f"    wire {cw} fi_ln_pend = \\{LN_INSTANCE}.f_pending ;",
        f"    wire {cw} fi_ln_beat = \\{LN_INSTANCE}.f_beat ;",
        f"    wire {cw} fi_l_tok = ln_in_tokens_q;",
        f"    wire {cw} fi_o_tok = ln_out_tokens_q;",
        f"    wire {cw} fi_l_hold = ln_in_valid_q && ln_in_last_q;",
        "    always @(*) if (f_chk) begin",
        f"        assert (phase_q <= {len(PHASES) - 1});   // I0 phase",
        f"        if (!ph_idle) assert (seq_q != 0 && seq_q <= {SM});   // I1 seq",
        "        if (ln_prm_valid_q) assert (ph_lnp);   // I2 ln_prm",
        "        if (!ph_lnv || seg_start_q) assert (fi_ln_pend == 0 && !ln_in_valid_q);   // I3 ln_idle",
        f"        assert (fi_ln_beat <= {DW * NL - 1} && ln_out_word_q <= {DW - 1} "
        f"&& ln_in_word_q <= {DW - 1});   // I4 words",
        *chunks,
        "        if (fi_ln_pend == 0) assert (fi_ln_beat == 0);   // I4 words",
        "        if (ph_lnv && !seg_start_q) begin",
        "            assert (fi_o_tok + fi_ln_pend + fi_l_hold == fi_l_tok);   // I5 ln_tokens",
        "            assert (fi_ln_pend <= fi_l_tok && ln_in_tokens_q <= seq_q);   // I5 ln_tokens",
        "            assert (ln_in_done_q == (ln_in_tokens_q == seq_q));   // I5 ln_tokens",
        "            if (ln_in_valid_q && !ln_in_last_q) assert (ln_in_tokens_q < seq_q);   // I5 ln_tokens",
        f"            assert (fi_o_tok <= seq_q && {out_beat} == fi_ln_beat);   // I5 ln_tokens",
        "        end",
        "    end"]


def formal_block(cfg, engine_text: str, *, live_seq: int | None = None, stall_y: bool = False,
                 control_only: bool = False, short: str | None = None, stages: bool = True,
                 b1: bool | None = None, y_inv: bool = False, entry: int | None = None,
                 handoff: int | None = None) -> str:
    """The engine's properties; ``live_seq``: the live environment and L1;
    ``stall_y``: the live environment with m_axis_y stalling freely (no L1);
    ``control_only``: L1 alone (no B1 ghost bits, no stream checkers: the
    sequencer never reads data, so the L1 job carries none); ``short``: the
    must-fail checks, L1's bounds one cycle short: ``"stages"`` every stage's,
    ``"layer"`` the whole layer's only; ``stages``: assert the stage bounds too
    (each is a hard query at its stage's end, so the whole-layer job asserts
    the layer's bound only); ``b1``: carry the buffers' ghost bits and assert
    B1 (default: unless ``control_only``); ``y_inv``: assert :func:`y_invariants` (the k-induction of P1/P2);
    ``entry``: a stage job (:func:`stage_job`): no reset, the first cycle is the
    first of stage ``entry`` (:func:`boundary` assumed, f_cycles at the previous
    stage's bound), only that stage's bound asserted; ``len(STAGES)``: the
    next layer, started in the first cycle from the state the last one ended
    in (as the BMC from reset otherwise); ``handoff``: assert
    :func:`boundary` of stage ``handoff`` in the cycle the engine enters it from
    the stage before."""
    if short not in (None, "stages", "layer"):
        raise ValueError(f"short must be None, 'stages' or 'layer', got {short!r}")
    if (entry is not None or handoff is not None) and (live_seq is None or not control_only or stall_y):
        raise ValueError("entry/handoff: stage jobs are control-only live jobs (live_seq, control_only)")
    A = cfg.array
    from rtl_gen.emit import clog2
    DWB = clog2(cfg.hidden // A)          # address = {group, word}: the engine's word field
    SW = cfg.max_seq.bit_length()
    a = ["`ifdef FORMAL",
         "    reg f_first = 1'b1;",
         "    always @(posedge clk) f_first <= 1'b0;",
         "    always @(*) if (f_first) assume (rst);" if entry is None else
         "    always @(*) assume (!rst);   // a stage job: no reset, the stage's first cycle",
         "    wire f_chk = !rst && !f_first;",
         "    wire f_go = ph_idle && start_i;      // a layer starts: its ghost bits clear"]
    if not control_only:
        a += ["    " + axis.check_instance("f_x_chk", "s_axis_x", axis.ROLE_ENV, A * 8).rstrip(),
              "    " + axis.check_instance("f_w_chk", "s_axis_w", axis.ROLE_ENV,
                                          cfg.stream_shape.beat_bytes * 8).rstrip(),
              "    " + axis.check_instance("f_y_chk", "m_axis_y", axis.ROLE_DUT, A * 8).rstrip()]
    if y_inv:
        a += y_invariants(cfg)
    again = entry == len(STAGES)
    start = {} if entry is None or again else written(cfg, live_seq, entry, engine_text)
    for name in BUFFERS if (not control_only if b1 is None else b1) else ():
        for r in range(A):
            g = f"f_wr_{name}{r}"
            n = 1 << addr_bits(engine_text, name)
            a.append(f"    reg [{n - 1}:0] {g} = {n}'h{start.get((name, r), 0):x};")
            a.append(f"    always @(posedge clk) if (rst || f_go) {g} <= 0;")
            a.append(f"        else if ({name}_we && {name}_wbank == {r}) {g}[{name}_waddr] <= 1'b1;")
        for r in range(A):
            live = "1'b1"
            if name in REAL_TOKENS_ONLY:
                # token of bank r in the read group: group * A + r (address = {group, word})
                grp = f"({name}_rd_addr >> {DWB})"
                live = f"({grp} * {A} + {r} < seq_q)"
            a.append(f"    always @(*) if (f_chk && {name}_rd_en && {live}) "
                     f"assert (f_wr_{name}{r}[{name}_rd_addr]);   // B1 written_{name}")
    if live_seq is not None:
        # the model's total counts the start cycle and the done cycle: the last
        # busy cycle has f_cycles == total - 3
        bound = done_bound(cfg, live_seq) - 2 - (short == "layer")
        # a stage job's first cycle: the stage entered with f_cycles at most the
        # previous stage's bound; f_cycles feeds nothing, so starting it at that
        # bound proves the stage's (it is the latest entry)
        begin = 0 if entry is None or again else milestones(cfg, live_seq)[entry - 1][1]
        a += ["`ifdef F_LIVE",
              f"    reg f_started = 1'b{int(entry is not None and not again)};",
              f"    reg [{CW - 1}:0] f_cycles = {CW}'d{begin};",
              "    always @(posedge clk) if (rst) f_started <= 1'b0; else if (f_go) f_started <= 1'b1;",
              f"    always @(posedge clk) if (rst || f_go) f_cycles <= {CW}'d0; "
              f"else if (busy_o && f_cycles != {{{CW}{{1'b1}}}}) f_cycles <= f_cycles + {CW}'d1;",
              "    // one reset, at the start: a later reset would excuse any hang",
              "    always @(*) if (!f_first) assume (!rst);",
              f"    reg f_rst_q = 1'b{int(entry is None)};",
              "    always @(posedge clk) f_rst_q <= rst;",
              "    // always valid, except in the cycle after reset (P1 of s_axis_x/w)",
              "    always @(*) if (!rst && !f_rst_q) assume (s_axis_x_tvalid && s_axis_w_tvalid);",
              "    always @(*) if (!rst) begin",
              *([] if stall_y else ["        assume (m_axis_y_tready);"]),
              "        assume (start_i == !f_started);",
              f"        assume (seq_len_i == {SW}'d{live_seq});",
              "    end"]
        if not stall_y:
            a += [f"    always @(*) if (f_chk && f_started) assert (!busy_o || f_cycles < {CW}'d{bound});"
                  "   // L1 done_in_bound",
                  "    always @(*) if (f_chk && f_started && !busy_o) assert (done_o);   // L1 done_in_bound"]
            ms = milestones(cfg, live_seq, short == "stages")
            a += [] if not stages else [f"    always @(*) if (f_chk && f_started && {c}) assert (f_cycles < {CW}'d{b});"
                  "   // L1 stage_in_bound" for i, (c, b) in enumerate(ms)
                  if entry in (None, i, len(STAGES))]
        if entry is not None or handoff is not None:
            # the stubs' f_quiet, reached once flattened (control-only jobs flatten)
            a += [f"    (* hierconn, keep *) wire \\{u.instance}.f_quiet ;" for u in abstracts(cfg)]
        if entry is not None:
            a += [f"    always @(*) if (f_first) assume ({c});   // the stage's first cycle"
                  for c in boundary(cfg, live_seq, entry)]
        if handoff is not None:
            a += _handoff(cfg, live_seq, handoff, entry is not None and not again,
                          engine_text if b1 else None)
        a.append("`endif")
    a.append("`endif")
    return "\n".join(a) + "\n"


def _handoff(cfg, s: int, k: int, from_entry: bool, ghost_text: str | None) -> list[str]:
    """Assert :func:`boundary` of stage k when the engine leaves stage k - 1, and
    with ``ghost_text`` (the engine's text: the job carries B1's ghost bits)
    the addresses :func:`written` by then."""
    prev = STAGES[k - 1][1]
    L = [f"    reg f_prev_q = 1'b{int(from_entry)};   // in stage {k - 1} last cycle",
         f"    always @(posedge clk) f_prev_q <= !rst && {prev};",
         "    wire f_left = f_chk && f_prev_q && !(" + prev + ");"]
    L += [f"    always @(*) if (f_left) assert ({c});   // L1 handoff_{k}" for c in boundary(cfg, s, k)]
    for (n, r), m in ({} if ghost_text is None else written(cfg, s, k, ghost_text)).items():
        mask = f"{1 << addr_bits(ghost_text, n)}'h{m:x}"
        L.append(f"    always @(*) if (f_left) assert ((f_wr_{n}{r} & {mask}) == {mask});   // B1 handoff_{k}")
    return L


#: depth of the free-environment BMC (cycles from reset; measured, docs/encoder.md)
GLUE_DEPTH = 64
#: depth of the k-induction of P1/P2 on m_axis_y (:func:`y_invariants`)
Y_DEPTH = 4
#: depth of the live BMCs in ``qbert prove encoder`` (a prefix of the layer:
#: HDR, SCALARS, LOADX, the Q/K/V projections, Q K^T and, at S=1, the first
#: P V read, cycle 128: the slow test_softmax_phase_skipped fails if the
#: prefix stops reaching it); ``whole_layer`` unrolls the bound
LIVE_DEPTH = 136


def check_size(cfg) -> None:
    """The live jobs unroll a whole layer: refuse a Config whose bound does not
    fit the ghost counters (CW bits), naming the sizes that do close."""
    worst = done_bound(cfg, cfg.max_seq)
    if worst >= (1 << CW) - 1:
        raise ValueError(
            f"prove encoder: a layer at this Config may take {worst} cycles (done_bound), beyond "
            f"what the proof unrolls (< {(1 << CW) - 1}); prove a tiny Config, e.g. "
            "-P array=2 -P hidden=2 -P heads=1 -P ffn=2 -P max_seq=2 -P bias_bits=20 "
            "(docs/encoder.md, Formal)")


def prove_jobs(cfg, engine_text: str, unit_texts: str, *, engine: str = "smtbmc yices",
               whole_layer: bool = False) -> list[SbyJob]:
    """What ``qbert prove encoder`` runs: P1/P2 on m_axis_y by k-induction
    (:func:`y_stream_job`), the free-environment BMC, one live
    BMC per sequence length 1..max_seq, LIVE_DEPTH cycles (P1/P2 and B1 over a
    prefix of the layer), and per sequence length L1 over the whole layer,
    stage by stage: the control-only live BMC from reset through the first
    HANDOFF stages (:func:`stages_depth`), which also proves the state in which
    stage HANDOFF begins (:func:`boundary`), then one :func:`stage_job` per
    later stage, and one for the next layer's first stages (from the state a
    layer ends in); with B1 in all of them.  ``whole_layer`` adds P1/P2 and B1 over a whole layer (the
    ghost bits carried: hours), also at S=1 with m_axis_y stalling freely.
    The units' input streams (:func:`feeds_job`) are not in it: that BMC takes
    tens of minutes to the first matmul stall (cycle 56) and runs in the slow
    tests.
    Not vacuous: SBY's smtbmc runs with --presat, so every step's assumptions
    are checked satisfiable (a contradiction ends the job PREUNSAT, not PASS),
    the live environment has one reset only, and every stage job's bound one
    cycle short fails (tests/formal/test_encoder_proof.py)."""
    jobs = [y_stream_job(cfg, engine_text, unit_texts, engine=engine),
            encoder_job(cfg, engine_text, unit_texts, engine=engine, depth=GLUE_DEPTH)]
    seqs = range(1, cfg.max_seq + 1)
    for s in seqs:
        jobs.append(encoder_job(cfg, engine_text, unit_texts, engine=engine, live_seq=s, depth=LIVE_DEPTH))
    for s in seqs:
        jobs.append(encoder_job(cfg, engine_text, unit_texts, engine=engine, live_seq=s,
                                depth=stages_depth(cfg, s), control_only=True, handoff=HANDOFF, b1=True))
        jobs += [stage_job(cfg, engine_text, unit_texts, s, k, engine=engine)
                 for k in range(HANDOFF, len(STAGES) + 1)]
    if whole_layer:
        for s in seqs:
            jobs.append(encoder_job(cfg, engine_text, unit_texts, engine=engine, live_seq=s,
                                    depth=done_bound(cfg, s) + 3))
        jobs.append(encoder_job(cfg, engine_text, unit_texts, engine=engine,
                                depth=done_bound(cfg, 1) + 3, live_seq=1, stall_y=True))
    return jobs


#: control-only jobs: every buffer memory's read data is free (Yosys cutpoint on
#: the $mem_v2 cells): the sequencer never reads buffer data
CUT_MEMORIES = ("cutpoint qbert_encoder/t:$mem_v2",)
#: and the rest of the datapath: flattened, the data logic that only fed the
#: abstract units' (unread) data inputs goes; the weight stream's record
#: register only feeds the data and err_hdr_o, so its value is free
CONTROL_ONLY = ("flatten", *(c.replace("qbert_encoder/", "") for c in CUT_MEMORIES),
                "cutpoint w:sr_q", "opt_clean")


def y_stream_job(cfg, engine_text: str, unit_texts: str, *, engine: str = "smtbmc yices",
                 depth: int = Y_DEPTH, name: str | None = None) -> SbyJob:
    """P1/P2 on m_axis_y in every reachable state of the free environment:
    k-induction with :func:`y_invariants`, no B1 ghost bits (which are not
    inductive), the design flattened so the invariants reach the LayerNorm
    stub's counters."""
    from rtl_gen.encoder import TOP
    text = inject(engine_text, TOP, formal_block(cfg, engine_text, b1=False, y_inv=True))
    sources = _sources(cfg, text, unit_texts)
    return SbyJob(name or f"encoder_y_prove{depth}_{_label(cfg)}", TOP, sources, mode="prove",
                  depth=depth, engine=engine, after_prep=("flatten",),
                  description="encoder engine: AXI4-Stream on m_axis_y (P1/P2) in every reachable "
                              "state, free environment (k-induction, abstract units)")


def feeds_job(cfg, engine_text: str, unit_texts: str, *, engine: str = "smtbmc yices",
              depth: int = GLUE_DEPTH, name: str | None = None) -> SbyJob:
    """The engine drives every unit's input streams as AXI4-Stream
    (:func:`_feed_checks`, the obligation the units' own proofs assume), in the
    free environment, BMC from reset; no B1 ghost bits."""
    from rtl_gen.encoder import TOP
    text = inject(engine_text, TOP, formal_block(cfg, engine_text, b1=False))
    sources = _sources(cfg, text, unit_texts)
    return SbyJob(name or f"encoder_feeds_bmc{depth}_{_label(cfg)}", TOP, sources, mode="bmc",
                  depth=depth, engine=engine, defines={"F_FEEDS": None},
                  description="encoder engine: every unit's input streams driven as AXI4-Stream "
                              "(P1/P2), free environment (abstract units)")


def stage_depth(cfg, s: int, k: int) -> int:
    """BMC depth of stage k's job: its first cycle has f_cycles at the previous
    stage's bound, and a trace still in the stage shows by the step in which
    f_cycles reaches the stage's own bound."""
    ms = milestones(cfg, s)
    return ms[k][1] - ms[k - 1][1] + 1


def stage_job(cfg, engine_text: str, unit_texts: str, s: int, k: int, *,
              engine: str = "smtbmc yices", short: bool = False, name: str | None = None) -> SbyJob:
    """L1 and B1 for stage ``k`` (HANDOFF <= k < len(STAGES)) of a layer of
    ``s`` tokens, from every state in which the stage can begin
    (:func:`boundary`, proven by the job of the stage before, or by the BMC
    from reset for HANDOFF): the stage ends within its share of
    ``layer_bound``, reads only what is written, and hands over in the next
    stage's boundary state (the last stage: IDLE with done_o, within the
    layer's bound).  ``k = len(STAGES)``: the next layer, started from the
    state in which a layer ends (any S before), through its first HANDOFF
    stages into stage HANDOFF's boundary, as the BMC from reset does for the
    first layer.  Control-only live environment with the ghost bits of B1, a
    BMC of :func:`stage_depth` steps.  ``short``: the stage's bound one cycle
    short (must fail: the stage can take its whole share, so the job is not
    vacuous)."""
    from rtl_gen.encoder import TOP
    if not HANDOFF <= k <= len(STAGES):
        raise ValueError(f"stage_job: stage {k} is not one of {HANDOFF}..{len(STAGES)}")
    again = k == len(STAGES)
    text = inject(engine_text, TOP, formal_block(cfg, engine_text, live_seq=s, control_only=True,
                                                 short="stages" if short else None, entry=k,
                                                 handoff=HANDOFF if again else k + 1, b1=True))
    depth = stages_depth(cfg, s, HANDOFF) if again else stage_depth(cfg, s, k)
    tag = "_short" if short else ""
    what = (f"a next layer of S={s} through its first {HANDOFF} stages, from the state a layer ends in"
            if again else f"stage {k} ({' '.join(STAGES[k][0])}) of a layer of S={s}")
    return SbyJob(name or f"encoder_live_s{s}_{'again' if again else f'stage{k}'}{tag}_bmc{depth}_{_label(cfg)}",
                  TOP, _sources(cfg, text, unit_texts), mode="bmc", depth=depth, engine=engine,
                  defines={"F_LIVE": None}, after_prep=CONTROL_ONLY,
                  description=f"encoder engine: {what} within layer_bound's shares, reading only what is "
                              "written (L1, B1, abstract units)")


def _sources(cfg, engine_text: str, unit_texts: str) -> dict[str, str]:
    """A job's files: the engine with its formal block, the abstract units, the checker."""
    from rtl_gen.encoder import TOP
    return {f"{TOP}.v": engine_text, "qbert_encoder_units.sv": stubs(cfg, unit_texts),
            axis.CHECKER_FILE: axis.CHECKER_SV}


def _label(cfg) -> str:
    return f"a{cfg.array}_d{cfg.hidden}_h{cfg.heads}_f{cfg.ffn}_s{cfg.max_seq}"


def encoder_job(cfg, engine_text: str, unit_texts: str, *, engine: str = "smtbmc yices",
                mode: str = "bmc", depth: int = 40, live_seq: int | None = None,
                stall_y: bool = False, control_only: bool = False, worst: bool = False,
                short: str | None = None, stages: bool = True, handoff: int | None = None,
                b1: bool | None = None, name: str | None = None) -> SbyJob:
    """SBY job for the engine text ``engine_text`` (qbert_encoder.v) with abstract
    units built from ``unit_texts``.  ``live_seq``: the live job (L1, narrowed
    environment, sequence length live_seq).  ``control_only``: L1 alone, every
    buffer memory cut (:data:`CUT_MEMORIES`: the read data free); ``worst``:
    the abstract units answer at their bound, deterministically (F_WORST: the
    worst-case trace, with ``mode="cover"``); ``short``, ``handoff``, ``b1``: see
    :func:`formal_block`."""
    from rtl_gen.encoder import TOP
    text = inject(engine_text, TOP, formal_block(cfg, engine_text, live_seq=live_seq, stall_y=stall_y,
                                                 control_only=control_only, short=short, stages=stages,
                                                 handoff=handoff, b1=b1))
    if mode == "cover":
        started = "f_started && " if live_seq is not None else ""
        text = inject(text, TOP, f"`ifdef FORMAL\n    always @(*) if (f_chk) cover ({started}done_o && ph_idle "
                                 "&& !err_seq_o);\n`endif\n")
    sources = _sources(cfg, text, unit_texts)
    label = _label(cfg)
    kind = f"live{'_stall' if stall_y else ''}_s{live_seq}" if live_seq is not None else "glue"
    if live_seq is None:
        desc = "AXI4-Stream on m_axis_y (P1/P2), buffers read only where written (B1)"
    elif mode == "cover":
        desc = f"a layer of S={live_seq} ends with done_o in the live environment (non-vacuity)"
    elif stall_y:
        desc = f"P1/P2 on m_axis_y and B1 through a layer of S={live_seq}, m_axis_y stalling"
    elif control_only:
        desc = (f"done within layer_bound and every stage within its share (L1), live environment, "
                f"S={live_seq}, buffer data free")
    else:
        desc = f"done within done_bound (L1), P1/P2 on m_axis_y and B1, live environment, S={live_seq}"
    if short:
        kind += f"_short_{short}"
    if live_seq is not None and not stall_y and not stages:
        kind += "_layer"
    defines = {"F_LIVE": None} if live_seq is not None else {}
    if worst:
        defines["F_WORST"] = None
        kind += "_worst"
    if control_only:
        kind += "_ctl"
    return SbyJob(name or f"encoder_{kind}_{mode}{depth}_{label}", TOP, sources, mode=mode, depth=depth,
                  engine=engine, defines=defines, after_prep=CONTROL_ONLY if control_only else (),
                  description=f"encoder engine: {desc} (abstract units)")
