"""Unbounded proof of the generated divider (``rtl_gen.divider``).

Claim, for every dividend num < 2^num_bits and divisor den < 2^den_bits:
a start accepted in cycle t gives ``done_o`` exactly in cycle t + latency (and
at no other time), and then

    den != 0:  quot_o * den + rem_o == num  and  rem_o < den   (floor division)
    den == 0:  quot_o == all ones  and  rem_o == num mod 2^den_bits

with quot_o / rem_o held until the next start is accepted.

Brute force does not close at 33/32 bits (a 33x32 product in the property).
The proof is split as DESIGN.md describes:

- SBY (k-induction) proves bit-level facts with *linear* invariants over
  formal-only ghost registers, injected into the module (so it may name
  ``num_q``, ``rem_q``, ``den_q``, ``cnt_q``, ``busy_q``, ``take{j}``):
  ``g_quot`` collects the quotient bits the divider retires,
  ``g_qd`` is updated linearly, ``g_qd' = 2^r * g_qd + sum_j take_j * den * 2^(r-1-j)``
  (a mux and shifts of den, no multiplier); after k steps, with prefix_k the
  top k*r bits of the zero-padded dividend,
  ``g_qd + rem_q == prefix_k``, ``rem_q < den`` and the untouched dividend bits
  still sit on top of ``num_q``; at done ``g_qd + rem_o == num`` and
  ``quot_o == g_quot``.  Ghosts are wide enough that no sum wraps.
- z3 (:func:`formal.lemmas.divider_recurrence`) proves over unbounded integers
  that the recurrence keeps ``g_qd == g_quot * den``: together, quot * den +
  rem == num.
"""
from __future__ import annotations

from rtl_gen.divider import DividerConfig, verilog

from .matmul import inject
from .sby import SbyJob

#: the widths the units use: softmax factor = floor(2^32 / sum) (a 33-bit
#: dividend, sum < 2^31 in a 32-bit divisor port), layernorm floor(2^31 / std)
#: (31/32-bit numerator, 16-bit std)
UNIT_WIDTHS = {"softmax": (33, 32), "layernorm_n31": (31, 16), "layernorm_n32": (32, 16)}


def formal_block(cfg: DividerConfig) -> str:
    """The properties of the divider of ``cfg`` (a ```ifdef FORMAL`` block)."""
    N, D, R = cfg.num_bits, cfg.den_bits, cfg.bits_per_cycle
    P, S, LAT = cfg.padded_bits, cfg.steps, cfg.latency
    # g_qd <= prefix < 2^P, rem < 2^D and every term of a step is >= 0 and the
    # step's result <= the next prefix: no sum below wraps in G bits
    G = max(P, D) + 1
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
    a("    // ---- ghosts: the operands of the current division, its age, the linear q*d ----")
    a(f"    reg [{N - 1}:0] g_num; reg [{D - 1}:0] g_den;")
    a(f"    reg g_active = 1'b0; reg [{AW - 1}:0] g_age = {AW}'d0;")
    a(f"    reg [{G - 1}:0] g_qd; reg [{P - 1}:0] g_quot;")
    a(f"    reg g_held = 1'b0; reg [{N - 1}:0] g_hq; reg [{D - 1}:0] g_hr;")
    a(f"    wire [{P - 1}:0] g_nump = {pad};")
    a(f"    wire [{G - 1}:0] g_den_w = {{{G - D}'d0, g_den}};")
    step = " + ".join(f"(take{j} ? (g_den_w << {R - 1 - j}) : {G}'d0)" for j in range(R))
    bits = ", ".join(f"take{j}" for j in range(R))
    a("    always @(posedge clk) begin")
    a("        if (rst) begin")
    a("            g_active <= 1'b0; g_held <= 1'b0;")
    a("        end else begin")
    a("            if (start_i && ready_o) begin")
    a(f"                g_active <= 1'b1; g_age <= {AW}'d1; g_num <= num_i; g_den <= den_i;")
    a(f"                g_qd <= {G}'d0; g_quot <= {P}'d0;")
    a("            end else if (g_active) begin")
    a(f"                g_age <= g_age + {AW}'d1;")
    a(f"                if (g_age == {AW}'d{LAT}) g_active <= 1'b0;")
    a("            end")
    a("            if (busy_q) begin")
    a(f"                g_qd <= (g_qd << {R}) + {step};")
    a(f"                g_quot <= " + (f"{{g_quot[{P - R - 1}:0], {bits}}};" if P > R else f"{{{bits}}};"))
    a("            end")
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
    for k in range(S + 1):
        kr = k * R
        prefix = f"{{{G - kr}'d0, g_nump[{P - 1}:{P - kr}]}}" if kr else f"{G}'d0"
        rem = f"{{{G - D}'d0, rem_q}}"
        cond = f"busy_q && cnt_q == {CW}'d{k}" if k < S else "done_o"
        a(f"    // after {k} step(s)")
        a(f"    always @(*) if (f_chk && {cond}) begin")
        if k < S:
            a(f"        assert (num_q[{P - 1}:{kr}] == g_nump[{P - 1 - kr}:0]);          // D5 dividend_bits")
        if kr:
            a(f"        assert (num_q[{kr - 1}:0] == g_quot[{kr - 1}:0]);                 // D6 quotient_bits")
        if kr < P:
            a(f"        assert (g_quot[{P - 1}:{kr}] == {P - kr}'d0);                     // D6 quotient_bits: fresh")
        a(f"        assert (g_qd <= {prefix});                                          // D7 partial_sum: bound")
        a(f"        assert (g_den == {D}'d0 || g_qd + {rem} == {prefix});              // D7 partial_sum")
        a(f"        assert (g_den == {D}'d0 || rem_q < g_den);                          // D8 rem_lt_den")
        if kr:
            low = f"g_nump[{P - 1}:{P - kr}]"
            a(f"        assert (g_den != {D}'d0 || g_quot[{kr - 1}:0] == {{{kr}{{1'b1}}}});  // D9 div_by_zero: quot")
            a(f"        assert (g_den != {D}'d0 || {rem} == ({prefix} & {{{{{G - D}{{1'b0}}}}, {{{D}{{1'b1}}}}}}));  // D9 div_by_zero: rem")
        else:
            a(f"        assert (rem_q == {D}'d0);                                           // D7 partial_sum: start")
        a("    end")
    a("    // at done: the result in terms of the ports (g_qd == quot * den: lemmas.divider_recurrence)")
    a("    always @(*) if (f_chk && done_o) begin")
    a(f"        assert (g_quot[{N - 1}:0] == quot_o);                                   // D10 result: quot")
    a(f"        assert (g_den == {D}'d0 || g_qd + {{{G - D}'d0, rem_o}} == {{{G - N}'d0, g_num}});  // D10 result: q*d + r == n")
    a(f"        assert (g_den == {D}'d0 || rem_o < g_den);                              // D10 result: r < d")
    a(f"        assert (g_den != {D}'d0 || quot_o == {{{N}{{1'b1}}}});                  // D9 div_by_zero: quot")
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
