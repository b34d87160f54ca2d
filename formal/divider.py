"""Unbounded proof of the generated divider (``rtl_gen.divider``).

Claim, for every dividend num < 2^num_bits and divisor den < 2^den_bits:
a start accepted in cycle t gives ``done_o`` exactly in cycle t + latency (and
at no other time), and then

    den != 0:  quot_o * den + rem_o == num  and  rem_o < den   (floor division)
    den == 0:  quot_o == all ones  and  rem_o == num mod 2^den_bits

with quot_o / rem_o held until the next start is accepted.

Brute force does not close at 33/32 bits (a 33x32 product in the property),
and neither did a ghost register carrying quot*den linearly (the invariant
ghost + rem == consumed dividend is a wide-adder identity that bit-blasting
SAT handles badly: 12/8 bits with 4 steps a cycle ran out of 2 minutes).  The
proof is split as DESIGN.md describes, into narrow bit-level facts and
integer algebra:

- SBY (k-induction, injected into the module so it may name ``num_q``,
  ``rem_q``, ``den_q``, ``cnt_q``, ``busy_q``, ``take{j}``, ``rem{j}``) proves
  for every busy cycle each restoring step exactly, at den_bits + 2 bits where
  nothing wraps: 2*rem_j + bit_j == rem_{j+1} + take_j*den and rem_{j+1} < den
  (D7, D8); that the bits consumed are the dividend's, top first (D5,
  against the ghost copy ``g_num``); that the quotient register collects the
  takes in order (D6, ghost ``g_quot``); that rem starts at 0; the timing
  (D1, D2: done exactly ``latency`` cycles after start and never otherwise,
  ready exactly when idle), the operands and results held (D3, D4); division
  by zero (D9) and at done rem < den and quot_o == the collected takes (D10).
- z3 (:func:`formal.lemmas.divider_composition`) proves over unbounded
  integers that exact steps compose: quot*den + rem == consumed dividend after
  every cycle, hence quot*den + rem == num at done, which with rem < den is
  floor division.
"""
from __future__ import annotations

from rtl_gen.divider import DividerConfig, verilog

from .matmul import inject
from .lemmas import divider_composition
from .sby import SbyJob, SbyResult

#: the widths the units use: softmax factor = floor(2^32 / sum) (a 33-bit
#: dividend, sum < 2^31 in a 32-bit divisor port), layernorm floor(2^31 / std)
#: (31/32-bit numerator, 16-bit std)
UNIT_WIDTHS = {"softmax": (33, 32), "layernorm_n31": (31, 16), "layernorm_n32": (32, 16)}


def formal_block(cfg: DividerConfig) -> str:
    """The properties of the divider of ``cfg`` (a ```ifdef FORMAL`` block)."""
    N, D, R = cfg.num_bits, cfg.den_bits, cfg.bits_per_cycle
    P, S, LAT = cfg.padded_bits, cfg.steps, cfg.latency
    CW = max(1, (S - 1).bit_length())
    AW = max(CW + 1, LAT.bit_length())
    pad = f"{{{P - N}'d0, g_num}}" if P > N else "g_num"
    L = []
    a = L.append
    a("`ifdef FORMAL")
    a("    reg f_first = 1'b1;")
    a("    always @(posedge clk) f_first <= 1'b0;")
    a("    always @(*) if (f_first) assume (rst);")
    a("    wire f_chk = !rst && !f_first;")
    a("    // ---- ghosts: the operands of the current division, its age, its quotient bits ----")
    a(f"    reg [{N - 1}:0] g_num; reg [{D - 1}:0] g_den;")
    a(f"    reg g_active = 1'b0; reg [{AW - 1}:0] g_age = {AW}'d0;")
    a(f"    reg [{P - 1}:0] g_quot;")
    a(f"    reg g_held = 1'b0; reg [{N - 1}:0] g_hq; reg [{D - 1}:0] g_hr;")
    a(f"    wire [{P - 1}:0] g_nump = {pad};")
    bits = ", ".join(f"take{j}" for j in range(R))
    a("    always @(posedge clk) begin")
    a("        if (rst) begin")
    a("            g_active <= 1'b0; g_held <= 1'b0;")
    a("        end else begin")
    a("            if (start_i && ready_o) begin")
    a(f"                g_active <= 1'b1; g_age <= {AW}'d1; g_num <= num_i; g_den <= den_i; g_quot <= {P}'d0;")
    a("            end else if (g_active) begin")
    a(f"                g_age <= g_age + {AW}'d1;")
    a(f"                if (g_age == {AW}'d{LAT}) g_active <= 1'b0;")
    a("            end")
    a("            if (busy_q) g_quot <= " + (f"{{g_quot[{P - R - 1}:0], {bits}}};" if P > R else f"{{{bits}}};"))
    a("            g_held <= (done_o || g_held) && !(start_i && ready_o);")
    a("            if (done_o) begin g_hq <= quot_o; g_hr <= rem_o; end")
    a("        end")
    a("    end")
    a("    always @(*) if (f_chk) begin")
    a(f"        assert (done_o == (g_active && g_age == {AW}'d{LAT}));            // D1 done_latency")
    a(f"        assert (ready_o == !(g_active && g_age <= {AW}'d{S}));            // D2 ready_idle")
    a(f"        assert (!g_active || (g_age >= {AW}'d1 && g_age <= {AW}'d{LAT}));  // D1 done_latency: age")
    a(f"        assert (busy_q == (g_active && g_age <= {AW}'d{S}));             // D1 done_latency: busy")
    a(f"        assert (!busy_q || {{{AW - CW}'d0, cnt_q}} == g_age - {AW}'d1);   // D1 done_latency: count")
    a("        assert (!busy_q || den_q == g_den);                               // D3 operands_kept")
    a("        assert (!(g_held && !done_o) || (quot_o == g_hq && rem_o == g_hr));  // D4 result_held")
    a("        assert (!g_held || !busy_q);                                      // D4 result_held: idle")
    a("    end")
    a("    // one restoring step j of a busy cycle, exactly (D+2 bits: nothing wraps):")
    a("    // 2*rem_j + bit_j == rem_{j+1} + take_j*den and rem_{j+1} < den")
    for j in range(R):
        rin = "rem_q" if j == 0 else f"rem{j - 1}"
        a(f"    wire [{D + 1}:0] f_lhs{j} = {{1'b0, {rin}, num_q[{P - 1 - j}]}};")
        a(f"    wire [{D + 1}:0] f_rhs{j} = {{2'b0, rem{j}}} + (take{j} ? {{2'b0, den_q}} : {D + 2}'d0);")
        a(f"    always @(*) if (f_chk && busy_q && den_q != {D}'d0) begin")
        a(f"        assert (f_lhs{j} == f_rhs{j});                                  // D7 step_exact")
        a(f"        assert (rem{j} < den_q);                                        // D8 rem_lt_den")
        a("    end")
    for k in range(S + 1):
        kr = k * R
        cond = f"busy_q && cnt_q == {CW}'d{k}" if k < S else "done_o"
        a(f"    // after {k} step(s)")
        a(f"    always @(*) if (f_chk && {cond}) begin")
        if k < S:
            a(f"        assert (num_q[{P - 1}:{kr}] == g_nump[{P - 1 - kr}:0]);          // D5 dividend_bits")
        if kr:
            a(f"        assert (num_q[{kr - 1}:0] == g_quot[{kr - 1}:0]);                 // D6 quotient_bits")
        if kr < P:
            a(f"        assert (g_quot[{P - 1}:{kr}] == {P - kr}'d0);                     // D6 quotient_bits: fresh")
        a(f"        assert (g_den == {D}'d0 || rem_q < g_den);                          // D8 rem_lt_den")
        if kr:
            if kr >= D:
                low = f"g_nump[{P - kr + D - 1}:{P - kr}]"
            else:
                low = f"{{{D - kr}'d0, g_nump[{P - 1}:{P - kr}]}}"
            a(f"        assert (g_den != {D}'d0 || g_quot[{kr - 1}:0] == {{{kr}{{1'b1}}}});  // D9 div_by_zero: quot")
            a(f"        assert (g_den != {D}'d0 || rem_q == {low});                     // D9 div_by_zero: rem")
        else:
            a(f"        assert (rem_q == {D}'d0);                                       // D7 step_exact: start")
        a("    end")
    a("    // at done, in terms of the ports (quot*den + rem == num: lemmas.divider_composition)")
    a("    always @(*) if (f_chk && done_o) begin")
    a(f"        assert (g_quot[{N - 1}:0] == quot_o);                                  // D10 result: quot")
    a(f"        assert (g_den == {D}'d0 || rem_o < g_den);                             // D10 result: r < d")
    a(f"        assert (g_den != {D}'d0 || quot_o == {{{N}{{1'b1}}}});                 // D9 div_by_zero: quot")
    a("    end")
    a("    // non-vacuity (mode cover): a division by nonzero completes, and back to back")
    a("    always @(*) if (f_chk) cover (done_o && g_den != 0 && quot_o != 0);    // C1 done")
    a("    always @(*) if (f_chk) cover (done_o && start_i);                      // C2 back_to_back")
    a("`endif")
    return "\n".join(L) + "\n"


def divider_job(cfg: DividerConfig, rtl_text: str | None = None, *, engine: str = "smtbmc yices",
                depth: int = 1, mode: str = "prove", name: str | None = None, mutate=None) -> SbyJob:
    """SBY job for the generated divider of ``cfg`` (or ``rtl_text``, a module
    named ``cfg.module_name``).  ``mutate`` edits the RTL text first (must-fail tests)."""
    top = cfg.module_name
    text = rtl_text if rtl_text is not None else verilog(cfg)
    if mutate is not None:
        text = mutate(text)
    text = inject(text, top, formal_block(cfg))
    label = f"n{cfg.num_bits}_d{cfg.den_bits}_r{cfg.bits_per_cycle}"
    return SbyJob(name or f"divider_{label}", top, {f"{top}.sv": text}, mode=mode, depth=depth,
                  engine=engine,
                  description=f"{top}: q*d + r == n, r < d (d != 0), done exactly {cfg.latency} "
                              f"cycles after start, result held")


def unit_configs(bits=(1, 2, 4)) -> list[DividerConfig]:
    """The divider configurations the units instantiate, for every bits_per_cycle."""
    return [DividerConfig(n, d, r) for n, d in UNIT_WIDTHS.values() for r in bits]


def divider_proof(cfg: DividerConfig, **kw) -> tuple[SbyJob, SbyResult]:
    """The whole proof of one divider: its SBY job (to run) and the z3 lemma's
    result (already run, it takes well under a second)."""
    return divider_job(cfg, **kw), divider_composition(cfg.bits_per_cycle)
