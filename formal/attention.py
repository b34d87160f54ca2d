"""Proof of the composed attention head (``rtl_gen.attention``, top ``qbert_attention``).

The units' own proofs stand for their insides: ``qbert_matmul`` and
``qbert_softmax`` are replaced by *abstract units* with the same ports whose
every output is free (``$anyseq``), except what their own proofs establish,
assumed here: their m_axis obeys AXI4-Stream (P1/P2), and U1/U2 between their
input and output tiles/rows (``qbert_axis_units`` with ROLE_ENV, on the head's
wires: :func:`unit_contracts`).  What is proven is the head's own glue --
feeds, banks, context registers, output framing -- for every behaviour of the
units and every input sequence.

Environment (assumed): reset in the first cycle; s_axis_q/k/v obey AXI4-Stream;
``seq_len_i`` is a legal S (1..max_seq, a multiple of rows and cols) and stable
outside reset.

Properties (injected before ``endmodule`` of qbert_attention, naming its
registers), all proven by k-induction at depth 2 (:data:`PARTS`):

- P1/P2 on m_axis (reset, hold under stall) and on the head's three feeds into
  the units (Q K^T act+wgt, softmax input, P V act+wgt);
- A1 ``row_framing``: every output row is head_dim/cols beats, ``tlast`` on
  the last (a ghost beat counter equals the unit's block counter);
- A2 ``rows_per_head``: one output row per query row: a head's rows come only
  while its loads are in, it emits at most S rows and ends (releases its loads)
  with the S-th.  Made inductive by per-head ghost counts of the tiles/rows
  that crossed every hand-over, each tied to the writer's and reader's position
  registers, the banks' full flags and the abstract units' pending counts
  (:func:`rows_invariants`): all zero outside a head, so every stage is
  provably empty after the head's last row;
- A3 ``bank_flags``: the writer of each two-bank buffer never writes a full
  bank (scores, probs) and the context registers are not written while full.

U3 ``latency`` (:func:`latency_job`, its own job): the units are given their
proven latency bounds as further assumptions (U3 with :func:`unit_latency`,
and E1 "a unit holding nothing takes an offered beat", proven in
formal/matmul.py and formal/softmax.py); then a head's last output row comes
within ``AttentionConfig.head_latency(S)`` cycles (not counting m_axis stalls)
of the cycle its loads complete.  The bound is conditional on the units'
bounds.  k-inductive (depth 1) with the budget lemma L1
(:func:`latency_budget`): timer + the head's worst case left <=
head_latency(S) + 1, stated per stage.  ``qbert prove`` splits it
(:func:`latency_jobs`): one job per legal S and per stage lemma, and one per S
for U3 from the stage lemmas.  At the default Config S = 128's jobs close in
2-32 s each, where one job for all of it gave no verdict in 18 minutes; the
hardest are the softmax and P V lemmas at large S, slowest where S/4 is odd
(S = 92's softmax lemma: 1,208 s with yices, 296 s with z3, so the softmax
lemmas run on z3: :data:`LATENCY_SOLVERS`).  ``qbert prove`` runs the split up
to :data:`LATENCY_PROVE_MAX_GROUPS` query groups: the default Config, every
one of its 32 legal S proven.

Not proven here: the data (bit-exactness is the cocotb testbench's).
"""
from __future__ import annotations

from . import axis
from .matmul import inject
from .sby import SbyJob


def _stub(name: str, ports: list[tuple[str, str, int]], m_prefix: str, m_data_w: int) -> str:
    """An abstract unit: every output $anyseq, except that its m_axis is assumed to
    obey AXI4-Stream (the unit's own P1/P2).  Its unit contract (U1/U2, and U3
    with the input-side rule for the latency job) is assumed in the head's formal
    block, where the counters can be tied to the head's registers
    (:func:`unit_contracts`)."""
    decl = ",\n".join(f"    {d} wire [{w - 1}:0] {n}" for d, n, w in ports)
    body = "".join(f"    (* anyseq *) reg [{w - 1}:0] f_{n};\n    assign {n} = f_{n};\n"
                   for d, n, w in ports if d == "output")
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
            + _stub("qbert_matmul", mm, "m_axis", mc.cols * mc.out_bits)
            + _stub("qbert_softmax", sm, "m_axis", sc.out_word_bits)
            + "`endif\n`default_nettype wire\n")


#: the abstract units: (instance, input valid/ready/last in the head, output stream prefix)
UNITS = (("qk", "qk_valid_q", "qk_act_tready", "qk_last_q", "qk_m_axis"),
         ("sm", "sf_valid_q", "sf_tready", "sf_last_q", "sm_m_axis"),
         ("pv", "pv_valid_q", "pv_act_tready", "pv_last_q", "pv_m_axis"))

#: tiles (rows) a unit holds at most: the matmul's U2 (formal/matmul.py), the softmax's banks
MAX_PENDING = {"qk": 5, "sm": 4, "pv": 5}


def unit_latency(cfg, unit: str) -> int:
    """The U3 bound (``qbert_axis_units`` LATENCY: timer < LATENCY) each abstract unit
    is given, the one its own proof establishes: the matmul's ``drain_cycles + 1``
    (formal/matmul.py latency_job, under a parameter stream that never starves:
    the head ties s_axis_prm_tvalid to 1), the softmax's
    ``latency_bound + 1`` = ``SoftmaxConfig.latency(max_len) + 1`` (formal/softmax.py)."""
    from .softmax import latency_bound
    return latency_bound(cfg.softmax) + 1 if unit == "sm" else cfg.matmul.drain_cycles + 1


def unit_contracts(cfg, latency: bool = False) -> list[str]:
    """Each abstract unit's contract, assumed: U1 (no output tile/row without an
    accepted input one), U2 (at most MAX_PENDING held); with ``latency`` also U3
    (the next pending output within :func:`unit_latency` un-stalled cycles) and
    the input-side rule "a unit holding nothing takes an offered beat" (matmul:
    its Q7 pending map gives !done_q, so beat_ok; softmax: its I2 pending map
    gives every bank FREE, so s_axis_tready).  Counters: ``f_<unit>_pending``."""
    a = []
    for u, valid, ready, last, out in UNITS:
        a.append(f"    wire f_{u}_in_tvalid = {valid}, f_{u}_in_tready = {ready}, f_{u}_in_tlast = {last};")
        a.append("    " + axis.units_instance(
            f"f_{u}_units", f"f_{u}_in", out, max_pending=MAX_PENDING[u],
            latency=unit_latency(cfg, u) if latency else 0, pending=f"f_{u}_pending",
            timer=f"f_{u}_timer", role=axis.ROLE_ENV).replace("\n", "\n    ").rstrip())
        if latency:
            a.append(f"    always @(*) if (!rst && {valid} && f_{u}_pending == 0) assume ({ready});"
                     "   // an empty unit takes the beat")
    return a


#: property groups: "glue" (P1/P2 on m_axis, A1, A3), "rows" (A2 and the
#: invariants that make it inductive), "feeds" (P1/P2 on the feeds into the units)
PARTS = ("glue", "rows", "feeds")
#: the head's bounded latency (U3 at the composed ports): its own job, as it
#: narrows the units' behaviour to their latency bounds
LATENCY = "latency"
#: the most query groups (max_seq / rows) for which ``qbert prove`` runs the
#: latency proof (:func:`latency_jobs`): the default Config's 32, where every
#: job has closed (S <= 64 in seconds to 2 minutes a job, the largest S' softmax
#: and P V lemmas in up to 15 minutes loaded; docs/attention.md, "Formal"); larger
#: heads are untried, and their prove job says the bound was NOT checked
LATENCY_PROVE_MAX_GROUPS = 32


def head_latency_block(cfg, bound: int | None = None, seq: int | None = None,
                       lemma: str | None = None) -> list[str]:
    """U3 at the composed ports: from the cycle a head's loads are complete (the
    cycle after its last load beat: one input "unit") to the cycle that takes its
    last output beat (one output "unit"), at most head_latency(S) cycles in which
    m_axis is not stalled.  qbert_axis_units asserts timer < LATENCY with LATENCY
    = head_latency(max_seq) + 1; a second assertion gives every legal S its own
    head_latency(S) + 1.  ``bound`` replaces head_latency(max_seq) (the must-fail
    test: one cycle short).  ``lemma`` (:data:`LEMMAS`): a stage's lemma job
    carries the head's timer but does not check U3."""
    R = cfg.rows
    SW = cfg.seq_bits
    per_seq = latency_bounds(cfg, bound, seq)
    S = max(per_seq)
    top = per_seq[S]
    cw = axis.counter_width(1, top + 1)
    a = ["    // ---- U3 at the composed ports: loads in -> the head's last row out ----",
         "    // the head's loads complete: the first cycle with all three load counters done",
         "    wire f_ld_all = q_loaded_q && k_loaded_q && v_loaded_q;",
         "    reg f_ld_all_q = 1'b0;",
         "    always @(posedge clk) f_ld_all_q <= !rst && f_ld_all;",
         "    wire f_hd_in_tvalid = f_ld_all && !f_ld_all_q;",
         "    wire f_hd_in_tready = 1'b1, f_hd_in_tlast = 1'b1;",
         "    wire f_hd_out_tvalid = m_axis_tvalid, f_hd_out_tready = m_axis_tready;",
         f"    wire f_hd_out_tlast = m_axis_tlast && out_row_q == {max(1, (R - 1).bit_length())}'d{R - 1} "
         f"&& out_base_q + {SW}'d{R} == seq_len_i;",
         "    " + axis.units_instance("f_head", "f_hd_in", "f_hd_out", max_pending=1,
                                     latency=top + 1 if checks_u3(lemma) else 0,
                                     pending="f_hd_pending", timer="f_hd_timer").replace("\n", "\n    ").rstrip()]
    if bound is None and len(per_seq) > 1 and checks_u3(lemma):
        per_s = " : ".join(f"seq_len_i == {SW}'d{s} ? {cw}'d{t + 1}" for s, t in per_seq.items() if s != S)
        a.append(f"    always @(*) if (f_chk) assert (f_hd_timer < ({per_s} : {cw}'d{top + 1}));"
                 "   // U3 latency: head_latency(S)")
    return a


#: the parts of the U3 proof that can run as jobs of their own (``lemma`` of
#: :func:`latency_job`): each stage's budget lemma alone (U3 not checked), and
#: "sum": U3 and the charges (the head's timer is the sum of the stages'
#: charges) with the stage lemmas assumed -- proven by the stage jobs, which
#: assume nothing of each other or of U3, so the split is not circular
STAGES = ("qk", "sm", "pv", "out")
LEMMAS = STAGES + ("sum",)


def checks_u3(lemma: str | None) -> bool:
    """Whether the job of ``lemma`` (None: the whole proof in one job) asserts U3."""
    if lemma not in (None, *LEMMAS):
        raise ValueError(f"lemma must be None or one of {', '.join(LEMMAS)}, got {lemma!r}")
    return lemma in (None, "sum")


def legal_seqs(cfg, seq: int | None = None) -> list[int]:
    """The S a proof covers: every legal one (1..max_seq, a multiple of rows and
    cols), or only ``seq`` (one job of a per-S split: :func:`latency_jobs`)."""
    if seq is not None:
        cfg.check_seq(seq)
        return [seq]
    return [s for s in range(1, cfg.max_seq + 1) if s % cfg.rows == 0 and s % cfg.cols == 0]


def latency_bounds(cfg, bound: int | None = None, seq: int | None = None) -> dict[int, int]:
    """head_latency(S) for every S of :func:`legal_seqs` (``bound`` instead: that one
    bound for the largest)."""
    legal = legal_seqs(cfg, seq)
    if bound is not None:
        return {legal[-1]: bound}
    return {s: cfg.head_latency(s) for s in legal}


def ghost_width(cfg) -> int:
    """Width of the per-head ghost counts: holds every tile/row count of a head."""
    ng_max, nkb_max = cfg.max_seq // cfg.rows, cfg.max_seq // cfg.cols
    return max(ng_max * nkb_max, ng_max * (cfg.head_dim // cfg.cols), cfg.max_seq, 8).bit_length() + 2


def latency_budget(cfg, bound: int | None = None, seq: int | None = None,
                   lemma: str | None = None) -> list[str]:
    """L1 ``latency_budget``, the lemma that makes U3 k-inductive: while a head is
    in (``loaded_q``), f_hd_timer + rem <= head_latency(S) + 1, where rem is the
    head's worst case left, read off the registers term by term as
    ``AttentionConfig.latency_terms`` charges it at the start (inclusive: the
    current cycle counts), stated per stage (:func:`stage_charges`):

    - ``qk_read``: the Q K^T feed's register not yet filled;
    - ``<u>_beats``: the beats the unit has not taken yet (read positions minus
      the beat in the feed register);
    - ``<u>_drain``: the unit's bound for every tile/row not yet fully taken;
    - ``<u>_unit``: what the abstract unit still holds, pending x (its bound + 1)
      - its own U3 timer (the first pending output ends within bound + 1 - timer
      cycles, each further one within bound + 1 of the previous);
    - ``<u>_read``: groups whose bank the feed has not started reading;
    - ``out``: output beats not yet taken.

    Every cycle m_axis is not stalled lowers rem by at least one (the stage
    nearest the output that is not waiting on a full bank makes progress:
    takes a beat, fills its register, or its unit's timer ticks), a stalled one
    does not raise it; a tile's last beat moves its drain into the unit term.
    Supporting invariants: an idle unit's timer is 0 (the checker's), a feed
    that started a bank keeps its register full until the bank is done, the
    Q K^T feed's register is full from its first read to its last.
    ``bound`` (must-fail tests) only sizes the arithmetic: the shorter bound
    itself is U3's (:func:`head_latency_block`).  ``lemma``: which of the stage
    lemmas are asserted (:func:`stage_charges`)."""
    R, C, DH = cfg.rows, cfg.cols, cfg.head_dim
    NCB = DH // C
    SW, GW = cfg.seq_bits, ghost_width(cfg)
    RB, CBB = max(1, (R - 1).bit_length()), max(1, (NCB - 1).bit_length())
    KB = max(1, (DH - 1).bit_length())
    per_seq = latency_bounds(cfg, bound, seq)
    W = (4 * max(per_seq.values()) + 16).bit_length()
    lat = cfg.unit_latencies()

    def x(sig: str, n: int) -> str:
        """``sig`` (n bits) zero-extended to W bits."""
        return f"{{{{{W - n}{{1'b0}}}}, {sig}}}"

    def k(v: int) -> str:
        return f"{W}'d{v}"

    def unit(u: str) -> str:
        cw = axis.counter_width(MAX_PENDING[u], unit_latency(cfg, u))
        return f"{x(f'f_{u}_pending', cw)} * {k(unit_latency(cfg, u))} - {x(f'f_{u}_timer', cw)}"

    legal = legal_seqs(cfg, seq)

    def by_s(f) -> str:
        """A case split over the legal S: every product with an S-dependent count
        becomes a product with a constant (linear for the solver)."""
        out = f"({f(legal[-1])})"
        for s in reversed(legal[:-1]):
            out = f"(seq_len_i == {SW}'d{s} ? ({f(s)}) : {out})"
        return out

    sm_rows = f"{x('g_sg_r', GW)} * {k(R)} + {x('scores_rd_row_q', RB)}"       # softmax rows read
    pv_tiles = f"{x('g_pg_r', GW)} * {k(NCB)} + {x('pv_blk_q', CBB)}"          # P V tiles read
    terms = {
        "qk_read": x("loaded_q && !qk_valid_q && !qk_issued_q", 1),
        "qk_beats": f"(l_qk_tiles - l_qk_rd_tiles) * {k(DH)} - {x('qk_k_q', KB)} + {x('qk_valid_q', 1)}",
        "qk_drain": f"(l_qk_tiles - {x('g_qk_in', GW)}) * {k(lat['qk'])}",
        "qk_unit": unit("qk"),
        "sm_read": f"l_ng - {x('g_sg_r', GW)} - {x('scores_rd_row_q != 0 || scores_rd_col_q != 0', 1)}",
        "sm_beats": by_s(lambda s: f"({k(s)} - ({sm_rows})) * {k(s // cfg.lanes)}")
                    + f" - {x('scores_rd_col_q', SW)} / {k(C)} + {x('sf_valid_q', 1)}",
        "sm_drain": f"(l_seq - {x('g_sm_in', GW)}) * {k(lat['sm'])}",
        "sm_unit": unit("sm"),
        "pv_read": f"l_ng - {x('g_pg_r', GW)} - {x('pv_j_q != 0 || pv_blk_q != 0', 1)}",
        "pv_beats": by_s(lambda s: f"({k(s // R * NCB)} - ({pv_tiles})) * {k(s)}")
                    + f" - {x('pv_j_q', SW)} + {x('pv_valid_q', 1)}",
        "pv_drain": f"(l_ng * {k(NCB)} - {x('g_pv_in', GW)}) * {k(lat['pv'])}",
        "pv_unit": unit("pv"),
        "out": f"(l_seq - {x('g_rows', GW)}) * {k(NCB)} - {x('out_blk_q', CBB)}",
    }
    hw = axis.counter_width(1, max(per_seq.values()) + 1)
    A = "// L1 latency_budget"
    a = ["    // ---- L1: the head's worst case left (AttentionConfig.latency_terms, inclusive) ----",
         f"    wire [{W - 1}:0] l_seq = {x('seq_len_i', SW)}, l_ng = {by_s(lambda s: k(s // R))};",
         f"    wire [{W - 1}:0] l_qk_tiles = {by_s(lambda s: k(s // R * (s // C)))};",
         f"    wire [{W - 1}:0] l_qk_rd_tiles = qk_issued_q ? l_qk_tiles : "
         + by_s(lambda s: f"{x('qk_row_q', SW)} / {k(R)} * {k(s // C)}") + f" + {x('qk_col_q', SW)} / {k(C)};"]
    a += [f"    wire [{W - 1}:0] l_{n} = {e};" for n, e in terms.items()]
    a += ["    always @(*) if (f_chk) begin",
          f"        assert ((f_hd_pending != 0) == loaded_q && f_hd_pending <= 1 && loaded_q == (f_ld_all && f_ld_all_q));   {A}: a head is in",
          f"        assert (loaded_q || f_hd_timer == 0);   {A}: idle",
          f"        assert (l_qk_rd_tiles <= l_qk_tiles && {x('g_qk_in', GW)} <= l_qk_tiles && {x('g_sm_in', GW)} <= l_seq "
          f"&& {x('g_pv_in', GW)} <= l_ng * {k(NCB)} && {x('g_rows', GW)} <= l_seq && {x('g_pg_w', GW)} <= l_ng);   {A}: counts",
          *[f"        assert (f_{u}_pending != 0 || f_{u}_timer == 0);   {A}: idle unit" for u in ("qk", "sm", "pv")],
          f"        assert ((scores_rd_row_q == 0 && scores_rd_col_q == 0) || sf_valid_q);   {A}: feeds",
          f"        assert ((pv_j_q == 0 && pv_blk_q == 0) || pv_valid_q);   {A}: feeds",
          f"        assert (!loaded_q || qk_issued_q || qk_valid_q || (qk_row_q == 0 && qk_col_q == 0 && qk_k_q == 0));   {A}: feeds",
          "    end"]
    return a + stage_charges(cfg, terms, by_s, k, x, W, hw, lemma)


def stage_charges(cfg, terms, by_s, k, x, W, hw, lemma: str | None = None) -> list[str]:
    """L1 cut per stage (Q K^T, softmax, P V, output): each cycle that counts
    for the head's U3 timer is charged to one stage, the one nearest the output
    that can make progress (``charge``); per stage, the cycles charged + its
    terms left <= its terms at the start (``AttentionConfig.latency_terms``
    grouped by stage; the loads' pulse cycle is Q K^T's), and the head's timer
    is the sum of the charges.  One lemma over the whole sum (timer + all
    terms left <= head_latency(S) + 1) is the same claim but left the solver
    relating two 13-term adder trees across the step: no verdict in 10 minutes
    at four query groups, where this closes in about a minute.  Each stage's
    lemma is inductive on its own, so ``lemma`` can split them further: only
    that stage's lemma asserted, or ("sum") the charges asserted with every
    stage's lemma assumed; None: all of them asserted in one job."""
    stages = STAGES
    A = "// L1 latency_budget"
    charge = {
        "out": "ctx_full_q",
        "pv": "!ctx_full_q && (f_pv_pending != 0 || pv_valid_q || pv_run)",
        "sm": "!ctx_full_q && !(f_pv_pending != 0 || pv_valid_q || pv_run) && (f_sm_pending != 0 || sf_valid_q || sf_run)",
    }
    charge["qk"] = f"!({charge['out']}) && !({charge['pv']}) && !({charge['sm']})"

    def start(st: str, s: int) -> int:
        t = sum(v for n, v in cfg.latency_terms(s).items() if n.split("_")[0] == st)
        return t + 1 if st == "qk" else t     # the cycle of the loads' pulse: charged to Q K^T

    a = ["    // ---- L1 per stage: cycles charged + terms left <= terms at the start ----",
         "    wire f_hd_tick = !rst && !(m_axis_tvalid && !m_axis_tready) && (f_hd_in_tvalid || loaded_q) && !head_end;"]
    for st in stages:
        a.append(f"    reg [{W - 1}:0] c_{st} = {k(0)};")
        a.append(f"    always @(posedge clk) if (rst || head_end) c_{st} <= {k(0)}; "
                 f"else if (f_hd_tick && (f_hd_in_tvalid ? {'1' if st == 'qk' else '0'} : ({charge[st]}))) c_{st} <= c_{st} + {k(1)};")
        a.append(f"    wire [{W - 1}:0] l_rem_{st} = {' + '.join(f'l_{n}' for n in terms if n.split('_')[0] == st)};")
        a.append(f"    wire [{W - 1}:0] l_start_{st} = {by_s(lambda s: k(start(st, s)))};")

    def verb(st: str) -> str | None:
        return "assume" if lemma == "sum" else "assert" if lemma in (None, st) else None

    a += ["    always @(*) if (f_chk) begin",
          *([f"        assert ({x('f_hd_timer', hw)} == {' + '.join(f'c_{st}' for st in stages)});   {A}: charges"]
            if checks_u3(lemma) else []),
          *[f"        {verb(st)} (c_{st} <= l_start_{st} && (!loaded_q || ({{1'b0, c_{st}}} + {{1'b0, l_rem_{st}}} <= {{1'b0, l_start_{st}}})));   {A}: stage {st}"
            for st in stages if verb(st)],
          *[f"        {verb(st)} (loaded_q || c_{st} == 0);   {A}: stage {st}" for st in stages if verb(st)],
          "    end"]
    return a


def rows_invariants(cfg, seq: int | None = None) -> list[str]:
    """A2 and its induction lemmas: per-head ghost counts of the tiles/rows that
    crossed every hand-over (reset at rst and at the head's end), each tied to the
    position registers of the writer and reader around it and to the abstract
    units' pending counts.  All of them are zero outside a head, so after the
    head's last row every stage is provably empty."""
    R, C, DH = cfg.rows, cfg.cols, cfg.head_dim
    NCB = DH // C
    SW = cfg.seq_bits
    GW = ghost_width(cfg)
    RB, CBB = max(1, (R - 1).bit_length()), max(1, (NCB - 1).bit_length())
    KB = max(1, (DH - 1).bit_length())

    def z(n):
        return f"{{{{{GW - n}{{1'b0}}}}, " if GW > n else "{"

    def g(x, n):
        """x (n bits) zero-extended to the ghost width."""
        return f"{z(n)}{x}}}"

    # pinned to a constant in a per-S job (seq_len_i == seq is assumed there):
    # the divisions below fold
    f_seq = f"{GW}'d{seq}" if seq is not None else g("seq_len_i", SW)
    counts = {  # ghost: the event it counts
        "g_qk_in": "f_qk_in_tvalid && f_qk_in_tready && f_qk_in_tlast",
        "g_qk_out": "scores_wr_fire && qk_m_axis_tlast",
        "g_sg_w": "scores_wr_end",
        "g_sg_r": "scores_rd_end",
        "g_sm_in": "f_sm_in_tvalid && f_sm_in_tready && f_sm_in_tlast",
        "g_sm_out": "probs_wr_fire && sm_m_axis_tlast",
        "g_pg_w": "probs_wr_end",
        "g_pg_r": "probs_rd_end",
        "g_pv_in": "f_pv_in_tvalid && f_pv_in_tready && f_pv_in_tlast",
        "g_pv_out": "ctx_wr_fire && pv_m_axis_tlast",
        "g_rows": "out_fire && m_axis_tlast",
    }
    a = ["    // ---- A2: per-head ghost counts (reset at rst and at the head's end) ----",
         f"    wire [{GW - 1}:0] f_seq = {f_seq};",
         f"    wire [{GW - 1}:0] f_ng = f_seq / {GW}'d{R}, f_nkb = f_seq / {GW}'d{C};   // groups, key blocks"]
    for name, ev in counts.items():
        a.append(f"    reg [{GW - 1}:0] {name} = {GW}'d0;")
        a.append(f"    always @(posedge clk) if (rst || head_end) {name} <= {GW}'d0; "
                 f"else if ({ev}) {name} <= {name} + {GW}'d1;")

    for u, *_ in UNITS:
        cw = axis.counter_width(MAX_PENDING[u], 0)
        a.append(f"    wire [{GW - 1}:0] f_{u}_pend = {z(cw)}f_{u}_pending}};")
    sfull = "({1'b0, scores_full0_q} + {1'b0, scores_full1_q})"
    pfull = "({1'b0, probs_full0_q} + {1'b0, probs_full1_q})"
    a.append(f"    wire [{GW - 1}:0] f_qk_read = qk_issued_q ? f_ng * f_nkb : {g('qk_row_q', SW)} / {GW}'d{R} * f_nkb "
             f"+ {g('qk_col_q', SW)} / {GW}'d{C};   // Q K^T tiles read out of the memories")
    qk_read = "f_qk_read"
    A = "// A2 rows_per_head: "
    a += [
        "    always @(*) if (f_chk) begin",
        # A2 proper
        f"        assert (g_rows == {g('out_base_q', SW)} + {g('out_row_q', RB)});   {A}rows out this head",
        f"        assert (g_rows < f_seq);                                  {A}at most S rows",
        f"        if (head_end) assert (g_rows + {GW}'d1 == f_seq);          {A}the head ends with its S-th row",
        "        assert (!m_axis_tvalid || (loaded_q && q_loaded_q && k_loaded_q && v_loaded_q));"
        f"  {A}rows only while the head's loads are in",
        f"        assert (!loaded_q || (q_loaded_q && k_loaded_q && v_loaded_q));  {A}loads",
        f"        assert (loaded_q || ({' && '.join(f'{n} == 0' for n in counts)}));  {A}nothing outside a head",
        f"        assert (loaded_q || (!qk_issued_q && qk_row_q == 0 && qk_col_q == 0 && qk_k_q == 0));  {A}nothing outside a head",
        f"        assert (!(s_axis_q_tready || s_axis_k_tready || s_axis_v_tready) || !loaded_q);  {A}loads",
        # ranges
        f"        assert (out_blk_q <= {CBB}'d{NCB - 1} && out_row_q <= {RB}'d{R - 1});  {A}ranges",
        f"        assert (out_base_q % {R} == 0 && out_base_q < seq_len_i);  {A}ranges",
        f"        assert (ctx_full_q || (out_row_q == 0 && out_blk_q == 0));  {A}ranges",
        f"        assert (qk_row_q % {R} == 0 && qk_row_q < seq_len_i && qk_col_q % {C} == 0 && qk_col_q < seq_len_i);  {A}ranges",
        f"        assert (qk_k_q <= {KB}'d{DH - 1});  {A}ranges",
        f"        assert (!qk_issued_q || (qk_col_q == 0 && qk_k_q == 0 && qk_row_q + {SW}'d{R} == seq_len_i));  {A}ranges",
        f"        assert (scores_wr_col_q % {C} == 0 && scores_wr_col_q < seq_len_i);  {A}ranges",
        f"        assert (scores_rd_col_q % {C} == 0 && scores_rd_col_q < seq_len_i && scores_rd_row_q <= {RB}'d{R - 1});  {A}ranges",
        f"        assert (probs_wr_row_q <= {RB}'d{R - 1});  {A}ranges",
        f"        assert (pv_j_q < seq_len_i && pv_blk_q <= {CBB}'d{NCB - 1} && ctx_wr_blk_q <= {CBB}'d{NCB - 1});  {A}ranges",
        f"        assert (!ctx_full_q || ctx_wr_blk_q == 0);  {A}ranges",
        # feeds: the register holds the last beat of a tile iff the position wrapped
        f"        assert (!qk_valid_q || loaded_q);  {A}feeds",
        f"        assert (!qk_valid_q || qk_last_q == (qk_k_q == 0));  {A}feeds",
        f"        assert (!sf_valid_q || sf_last_q == (scores_rd_col_q == 0));  {A}feeds",
        f"        assert (!pv_valid_q || pv_last_q == (pv_j_q == 0));  {A}feeds",
        f"        assert (!(scores_rd_row_q != 0 || scores_rd_col_q != 0) || (scores_rd_bank_q ? scores_full1_q : scores_full0_q));  {A}feeds",
        f"        assert (!(pv_j_q != 0 || pv_blk_q != 0) || (probs_rd_bank_q ? probs_full1_q : probs_full0_q));  {A}feeds",
        # counts at every hand-over
        f"        assert (g_qk_in + {{{{{GW - 1}{{1'b0}}}}, qk_valid_q && qk_last_q}} == {qk_read});  {A}Q K^T tiles fed",
        f"        assert (g_qk_out <= g_qk_in && g_qk_in - g_qk_out == f_qk_pend);  {A}u_qk holds",
        f"        assert (g_qk_out == g_sg_w * f_nkb + {g('scores_wr_col_q', SW)} / {GW}'d{C});  {A}scores written",
        f"        assert (g_sg_r <= g_sg_w && g_sg_w - g_sg_r == {g(sfull, 2)});  {A}scores banks",
        f"        assert (g_sg_w - g_sg_r != {GW}'d1 || ((scores_wr_bank_q != scores_rd_bank_q) && (scores_rd_bank_q ? scores_full1_q : scores_full0_q)));  {A}scores banks",
        f"        assert (g_sg_w - g_sg_r == {GW}'d1 || scores_wr_bank_q == scores_rd_bank_q);  {A}scores banks",
        f"        assert (g_sm_in + {{{{{GW - 1}{{1'b0}}}}, sf_valid_q && sf_last_q}} == g_sg_r * {GW}'d{R} + {g('scores_rd_row_q', RB)});  {A}softmax rows fed",
        f"        assert (g_sm_out <= g_sm_in && g_sm_in - g_sm_out == f_sm_pend);  {A}u_softmax holds",
        f"        assert (g_sm_out == g_pg_w * {GW}'d{R} + {g('probs_wr_row_q', RB)});  {A}probs written",
        f"        assert (g_pg_r <= g_pg_w && g_pg_w - g_pg_r == {g(pfull, 2)});  {A}probs banks",
        f"        assert (g_pg_w - g_pg_r != {GW}'d1 || ((probs_wr_bank_q != probs_rd_bank_q) && (probs_rd_bank_q ? probs_full1_q : probs_full0_q)));  {A}probs banks",
        f"        assert (g_pg_w - g_pg_r == {GW}'d1 || probs_wr_bank_q == probs_rd_bank_q);  {A}probs banks",
        f"        assert (g_pv_in + {{{{{GW - 1}{{1'b0}}}}, pv_valid_q && pv_last_q}} == g_pg_r * {GW}'d{NCB} + {g('pv_blk_q', CBB)});  {A}P V tiles fed",
        f"        assert (g_pv_out <= g_pv_in && g_pv_in - g_pv_out == f_pv_pend);  {A}u_pv holds",
        f"        assert (g_pv_out == ({g('out_base_q', SW)} / {GW}'d{R} + {{{{{GW - 1}{{1'b0}}}}, ctx_full_q}}) * {GW}'d{NCB} + {g('ctx_wr_blk_q', CBB)});  {A}context written",
        f"        assert (g_sg_w <= f_ng);  {A}bounds",
        "    end",
    ]
    return a


def formal_block(cfg, parts=PARTS, bound: int | None = None, seq: int | None = None,
                 lemma: str | None = None) -> str:
    R, C, DH = cfg.rows, cfg.cols, cfg.head_dim
    SW = cfg.seq_bits
    ncb = DH // C
    cbb = max(1, (ncb - 1).bit_length())
    legal = " || ".join(f"seq_len_i == {SW}'d{s}" for s in legal_seqs(cfg, seq))
    a = []
    a.append("`ifdef FORMAL")
    a.append("    reg f_first = 1'b1;")
    a.append("    always @(posedge clk) f_first <= 1'b0;")
    a.append("    always @(*) if (f_first) assume (rst);")
    a.append("    wire f_chk = !rst && !f_first;")
    for p, w in (("s_axis_q", R * 8), ("s_axis_k", C * 8), ("s_axis_v", C * 8)):
        a.append("    " + axis.check_instance(f"f_{p}_chk", p, axis.ROLE_ENV, w))
    a.append(f"    always @(*) assume ({legal});")
    a.append(f"    reg [{SW - 1}:0] f_seq_q;")
    a.append("    reg f_past = 1'b0;")
    a.append("    always @(posedge clk) begin f_seq_q <= seq_len_i; f_past <= 1'b1; end")
    a.append("    always @(*) if (f_past && !rst) assume (seq_len_i == f_seq_q);")
    a.extend(unit_contracts(cfg, latency=LATENCY in parts))
    if LATENCY in parts:
        a.extend(head_latency_block(cfg, bound, seq, lemma))
    proven_from = len(a)
    if "glue" in parts:
        a.append("    " + axis.check_instance("f_m_axis_chk", "m_axis", axis.ROLE_DUT, C * 8))
        a.append(f"    reg [{cbb - 1}:0] f_beats = {cbb}'d0;   // beats of the current output row")
        a.append("    always @(posedge clk) if (rst) f_beats <= 0; "
                 f"else if (m_axis_tvalid && m_axis_tready) f_beats <= m_axis_tlast ? {cbb}'d0 : f_beats + {cbb}'d1;")
        a.append("    always @(*) if (f_chk) begin")
        a.append("        assert (f_beats == out_blk_q);                                       // A1 row_framing")
        a.append(f"        assert (!m_axis_tvalid || m_axis_tlast == (f_beats == {cbb}'d{ncb - 1}));  // A1 row_framing")
        a.append("        assert (!(scores_wr_fire && (scores_wr_bank_q ? scores_full1_q : scores_full0_q)));  // A3 bank_flags")
        a.append("        assert (!(probs_wr_fire && (probs_wr_bank_q ? probs_full1_q : probs_full0_q)));      // A3 bank_flags")
        a.append("        assert (!(ctx_wr_fire && ctx_full_q));                                 // A3 bank_flags")
        a.append("    end")
    if "feeds" in parts:
        # the head's own feeds into the units are AXI4-Stream masters too
        for p, valid, ready, data, last, w in (
                ("f_qk", "qk_valid_q", "qk_act_tready", "{qk_act_q, qk_wgt_q}", "qk_last_q",
                 (R + C) * 8),
                ("f_sf", "sf_valid_q", "sf_tready", "sf_data_q", "sf_last_q", cfg.softmax.in_word_bits),
                ("f_pv", "pv_valid_q", "pv_act_tready", "{pv_act, pv_wgt_q}", "pv_last_q",
                 (R + C) * 8)):
            a.append(f"    wire [{w - 1}:0] {p}_d = {data};")
            a.append(f"    qbert_axis_check #(.DATA_W({w}), .USER_W(1), .ROLE({axis.ROLE_DUT})) "
                     f"{p}_chk (.clk(clk), .rst(rst), .tvalid({valid}), .tready({ready}), "
                     f".tdata({p}_d), .tlast({last}), .tuser(1'b0));")
    if "rows" in parts:
        a.extend(rows_invariants(cfg, seq))
    if LATENCY in parts:
        # the glue/rows/feeds properties are proven (k-induction, the PARTS job)
        # for every behaviour of the units; the latency job narrows the units to
        # their bounds, so they hold there too and enter as assumptions: the
        # induction then has only L1 and U3 to carry
        a[proven_from:] = [ln.replace("assert (", "assume (").replace(f".ROLE({axis.ROLE_DUT})", f".ROLE({axis.ROLE_ENV})")
                           for ln in a[proven_from:]]
        if "rows" in parts:
            a.extend(latency_budget(cfg, bound, seq, lemma))
    a.append("`endif")
    return "\n".join(a) + "\n"


#: control-only jobs: every buffer memory's read data is free (Yosys cutpoint on
#: the $mem_v2 cells): the head's control never reads data, so a proof with free
#: data holds for the real data, and the solver carries no SMT arrays
CUT_MEMORIES = ("cutpoint qbert_attention/t:$mem_v2",)


def attention_job(cfg, rtl_text: str | None = None, *, engine: str = "smtbmc yices",
                  depth: int = 2, mode: str = "prove", name: str | None = None,
                  parts=PARTS, bound: int | None = None, cut_memories: bool = False,
                  seq: int | None = None, lemma: str | None = None) -> SbyJob:
    """SBY job for the generated ``qbert_attention`` of ``cfg`` (or ``rtl_text``:
    the attention file's text) with abstract matmul and softmax units.
    ``parts``: :data:`PARTS` (k-inductive at depth 2) or ``(LATENCY,)`` (BMC over
    a whole head); ``bound`` replaces head_latency(max_seq) in the latency part;
    ``cut_memories``: the buffers' read data free (:data:`CUT_MEMORIES`);
    ``seq``: only S = seq (``seq_len_i`` assumed equal to it: one job of a per-S split);
    ``lemma``: one part of the latency proof (:data:`LEMMAS`)."""
    from rtl_gen.attention import TOP, verilog
    text = rtl_text if rtl_text is not None else verilog(cfg)
    text = inject(text, TOP, formal_block(cfg, parts, bound, seq, lemma))
    if mode == "cover":
        text = inject(text, TOP, "`ifdef FORMAL\n    always @(*) if (f_chk) cover (head_end);\n`endif\n")
    sources = {"qbert_attention.v": text, "qbert_attention_units.sv": stubs(cfg),
               axis.CHECKER_FILE: axis.CHECKER_SV}
    tag = "_".join(parts)
    return SbyJob(name or f"attention_{tag}_{mode}_s{cfg.max_seq}_d{cfg.head_dim}", TOP, sources,
                  mode=mode, depth=depth, engine=engine,
                  after_prep=CUT_MEMORIES if cut_memories else (),
                  description=f"attention head ({', '.join(parts)}): " + {
                      ("glue",): "AXI4-Stream on m_axis, row framing, bank flags",
                      ("rows",): "rows per head",
                      ("feeds",): "AXI4-Stream on the feeds into the units",
                      PARTS: "AXI4-Stream on m_axis and the feeds, row framing, one row per "
                             "query row, bank flags",
                      (LATENCY,): "loads in -> last row within AttentionConfig.head_latency(S), "
                                  "the units' latency bounds assumed",
                  }.get(tuple(parts), ", ".join(parts))
                  + " (abstract matmul/softmax units)")


def latency_job(cfg, rtl_text: str | None = None, *, engine: str = "smtbmc yices",
                depth: int = 1, mode: str = "prove", name: str | None = None,
                bound: int | None = None, seq: int | None = None, lemma: str | None = None) -> SbyJob:
    """U3 unbounded (k-induction, depth 1): the head's last row within
    ``AttentionConfig.head_latency(S)`` un-stalled cycles of its loads, the
    units' bounds and E1 assumed, by the budget lemma L1 (:func:`latency_budget`).
    The glue/rows/feeds properties (A1-A3, P1/P2) enter as assumptions: the
    :data:`PARTS` job proves them for every behaviour of the units, so
    ``qbert prove attention`` runs both on the same RTL.  Memories cut.
    ``seq``: for S = seq only; ``lemma``: one part of the proof
    (:data:`LEMMAS`; None: all of it).  :func:`latency_jobs` splits both ways."""
    import dataclasses
    tag = (f"_S{seq}" if seq is not None else "") + (f"_{lemma}" if lemma is not None else "")
    job = attention_job(cfg, rtl_text, engine=engine, depth=depth, mode=mode, parts=PARTS + (LATENCY,),
                        bound=bound, cut_memories=True, seq=seq, lemma=lemma,
                        name=name or f"attention_latency_{mode}_s{cfg.max_seq}_d{cfg.head_dim}{tag}")
    s = legal_seqs(cfg, seq)[-1]
    t = bound if bound is not None else cfg.head_latency(s)
    which = f"S = {seq}: {t}" if seq is not None else f"every legal S; S = {s}: {t}"
    if lemma in STAGES:
        what = (f"L1 budget lemma of the {lemma} stage alone ({which}): its charged cycles + its "
                f"worst case left <= its share of head_latency(S)")
    else:
        what = (f"U3 unbounded: loads in -> last row within head_latency(S) ({which}) un-stalled cycles"
                + (", the stage lemmas L1 assumed (each proven by its own job)" if lemma == "sum"
                   else ", budget lemma L1"))
    return dataclasses.replace(job, description=(
        f"attention head {what}; the units' latency bounds and E1 assumed, A1-A3/P1/P2 assumed "
        f"(proven by the glue job)"))


#: the solver each latency lemma closes fastest with (``latency_jobs`` without
#: an engine; ``qbert prove --solver`` overrides): at the default Config z3
#: closes the softmax lemma of S = 92 in 296 s where yices needed 1,208 s; on
#: the P V lemma neither is steadily faster (docs/attention.md, "Formal")
LATENCY_SOLVERS = {"qk": "yices", "sm": "z3", "pv": "yices", "out": "yices", "sum": "yices"}


def latency_jobs(cfg, rtl_text: str | None = None, *, engine: str | None = None) -> list[SbyJob]:
    """U3 for every legal S, split into small k-inductions: per S (``seq_len_i``
    is stable through a head, assumed in every job, so the per-S jobs together
    cover every legal S; each has constant counts where one joint job has a case
    split over every S) and per part of the proof (:data:`LEMMAS`: each stage's
    lemma, then U3 from them).  At the default Config the S = 128 jobs close in
    2-32 s each, where one job for every S and lemma gave no verdict in 18 min;
    S = 92's softmax lemma: 1,208 s with yices, 296 s with z3.
    ``engine``: every job's SBY engine; None: each lemma's of
    :data:`LATENCY_SOLVERS`."""
    from .sby import engine_for
    if rtl_text is None:
        from rtl_gen.attention import verilog
        rtl_text = verilog(cfg)       # once, not once a job
    return [latency_job(cfg, rtl_text, engine=engine or engine_for(LATENCY_SOLVERS[lm]), seq=s, lemma=lm)
            for s in legal_seqs(cfg) for lm in LEMMAS]


def smallest_head(cfg):
    """The same arrays and softmax lanes with the smallest head they take
    (max_seq = lcm(rows, cols), head_dim = cols): a whole head of it fits in a
    40-cycle cover, one of the default Config needs ~70 000 cycles."""
    import dataclasses
    import math
    return dataclasses.replace(cfg, max_seq=math.lcm(cfg.rows, cfg.cols), head_dim=cfg.cols)


def cover_job(cfg, rtl_text: str | None = None, *, engine: str = "smtbmc yices",
              where: str = "RTL generated from the Config") -> SbyJob:
    """Non-vacuity: a whole head ends within 40 cycles.  On ``cfg`` itself when it
    is its own :func:`smallest_head`, else on the RTL generated for that (the same
    arrays, the smallest head): a head of a larger Config is out of cover depth."""
    small = smallest_head(cfg)
    if small == cfg:
        job = attention_job(cfg, rtl_text, engine=engine, mode="cover", depth=40)
        note = where
    else:
        job = attention_job(small, engine=engine, mode="cover", depth=40)
        note = (f"RTL generated for max_seq={small.max_seq}, head_dim={small.head_dim} (the same "
                f"arrays): a whole head of the Config is out of cover depth")
    import dataclasses
    return dataclasses.replace(job, description=f"{job.description} [{note}; non-vacuity: a whole head ends]")

