"""Proofs of the generated LayerNorm unit (``rtl_gen.layernorm``).

1. ``isqrt`` -- the digit-by-digit square root submodule the unit instantiates
   (``qbert_isqrt_x32``, taken from the generated RTL), unbounded by
   k-induction at its full 32-bit width, split as DESIGN.md describes:

   * SBY (bit level, linear only): formal-only ghost registers g_x (the x
     taken at start), g_pre (the consumed digit pairs of x, MSB first) and
     g_sq, updated linearly as g_sq' = 4*g_sq + (take ? 4*root + 1 : 0) from
     the RTL's own ``take`` and ``root_q``.  Asserted every cycle of a run:
     g_sq + rem == g_pre, g_sq <= g_pre, rem <= 2*root, root < 2^cnt,
     g_pre == g_x >> (32 - 2*cnt), x_q == g_x << 2*cnt; and when ``done_o``:
     g_sq <= g_x < g_sq + 2*root + 1, ``root_o == root_q``, and done exactly
     16 cycles after start.  Nothing is multiplied, so nothing is bit-blasted
     into a multiplier.
   * z3 (:func:`isqrt_lemma`, unbounded integers): the recurrence keeps
     g_sq == root^2 (base: 0 == 0^2; step: 4*r^2 + t*(4r + 1) == (2r + t)^2),
     and g_sq == y^2, g_sq <= x < g_sq + 2y + 1 give y*y <= x < (y+1)*(y+1).

   Together: for every 32-bit x, root_o == floor(sqrt(x)).

2. ``layernorm_bounds`` (z3): for the Config's H and widths, nothing the unit
   accumulates or derives wraps: |sum| fits sum_bits, sum(x^2) fits
   var_sum_bits, the mean divider's dividend is in [0, 2^mean_num_bits), the
   quotient minus 2^(in-1) is in the in_bits range, the variance identity
   sum((x - m)^2) == Q - 2*m*S + k*m^2 holds at every step of the
   accumulation (so computing it modulo 2^var_sum_bits is exact), and
   y = x - mean fits in_bits + 1.

3. ``top`` (:func:`top_job`, k-induction on the whole ``qbert_layernorm``
   of the Config): m_axis obeys AXI4-Stream (reset, hold under stall), no
   output vector without an input vector and at most BANKS + 5 in flight
   (the shared ``qbert_axis_units`` counter), made inductive by the map
   "pending == banks in use + vector ends in the output pipeline".

4. ``latency`` (:func:`latency_job`, k-induction, datapath cut free): U3 --
   every pending vector's last output beat within ``drain_cycles()``
   un-stalled cycles of its last input beat (or of the previous vector's last
   output beat), bound ``u3_bound = drain_cycles() + 1`` of the shared
   ``qbert_axis_units`` -- and F1 -- H / lanes beats a vector, tlast on the
   last only (the shared ``qbert_axis_frame``); with U1 (no spurious) and U2
   that is exactly one output vector of H elements for every input vector.
   No environment narrowing beyond the top job's.  Inductive through one
   budget lemma, timer + rem < bound, where rem is the cycles the oldest
   pending vector still needs (its end in the output pipeline, its bank read
   out from rd_ptr, or its bank in the scalar FSM: the state's remaining
   cycles from :meth:`LayerNormConfig.scalar_schedule`, inside a wait read
   from the submodule's ``cnt_q``), plus the scalar FSM's view of the
   submodules' timing (busy with cnt_q < steps, or done, exactly in its wait
   state; idle elsewhere: the divider's D1 and the isqrt's L1/I2), the bank
   order (read, scalar and load banks in ring order, states SCALED* LOADED*
   FREE*) and the beat positions of the output pipeline.
"""
from __future__ import annotations


from golden_model.layernorm import VAR_BITS
from rtl_gen import seqarith

from . import axis
from .lemmas import _check, _in, _z3
from .matmul import inject
from .sby import SbyJob, SbyResult


def isqrt_formal_block(x_bits: int = VAR_BITS) -> str:
    """The ghost registers and assertions pasted into ``qbert_isqrt_x{x_bits}``."""
    RB = seqarith.isqrt_root_bits(x_bits)
    XB = 2 * RB
    G = XB + 2            # ghosts: < 2^XB, two spare bits so no sum can wrap
    CW = max(1, RB.bit_length())
    lat = seqarith.isqrt_latency(x_bits)
    pad = f"{{{XB - x_bits}'d0, x_i}}" if XB > x_bits else "x_i"
    return f"""
`ifdef FORMAL
    reg f_first = 1'b1;
    reg [{G - 1}:0] g_x, g_pre, g_sq;
    reg [7:0] g_age;                 // cycles since start was accepted (saturates)
    always @(*) if (f_first) assume (rst);
    always @(posedge clk) begin
        f_first <= 1'b0;
        if (rst) begin
            g_age <= 8'd255;
            g_x <= {G}'d0;
        end else if (start_i && !busy_q) begin
            g_x <= {{2'd0, {pad}}};
            g_pre <= {G}'d0;
            g_sq <= {G}'d0;
            g_age <= 8'd0;
        end else begin
            if (busy_q) begin
                g_pre <= (g_pre << 2) + {{{G - 2}'d0, x_q[{XB - 1}:{XB - 2}]}};
                g_sq <= (g_sq << 2) + (take ? ({{{G - RB}'d0, root_q}} << 2) + {G}'d1 : {G}'d0);
            end
            if (g_age != 8'd255) g_age <= g_age + 8'd1;
        end
    end
    wire [{G - 1}:0] f_rem = {{{G - RB - 1}'d0, rem_q}};
    wire [{G - 1}:0] f_root = {{{G - RB}'d0, root_q}};
    always @(*) if (!f_first && !rst) begin
        assert (!(busy_q && done_q));
        assert (ready_o == !busy_q);
        assert (g_x[{G - 1}:{XB}] == 2'd0);                                // I0 ghosts bounded
        if (busy_q) begin
            assert (cnt_q < {CW}'d{RB});                                 // I1
            assert ({{{G - CW}'d0, cnt_q}} == {{{G - 8}'d0, g_age}});    // I2 cycles = digits
            assert (g_sq + f_rem == g_pre);                              // I3 sq + rem == prefix
            assert (g_sq <= g_pre);                                      // I4 no wrap
            assert (f_rem <= (f_root << 1));                             // I5 rem <= 2 root
            assert ((f_root >> cnt_q) == {G}'d0);                        // I6 root < 2^cnt
            assert (g_pre == (g_x >> ({XB} - 2 * cnt_q)));               // I7 prefix of x
            assert (x_q == g_x[{XB - 1}:0] << (2 * cnt_q));              // I8 the rest of x
        end
        if (done_q) begin
            assert (g_age == 8'd{lat});                                  // L1 latency
            assert (cnt_q == {CW}'d{RB});
            assert (g_pre == g_x);
            assert (g_sq + f_rem == g_x);
            assert (g_sq <= g_x);
            assert (f_rem <= (f_root << 1));
            // with g_sq == root^2 (z3 lemma): root^2 <= x < (root + 1)^2
            assert (g_sq <= g_x && g_x < g_sq + (f_root << 1) + {G}'d1); // R1 floor sqrt
            assert (root_o == root_q);
        end
        if (g_age == 8'd{lat}) assert (done_q);                          // L2 done on time
        if (g_age < 8'd{lat}) assert (busy_q);                           // I9
    end
`endif
"""


def isqrt_job(x_bits: int = VAR_BITS, rtl_text: str | None = None, *,
              engine: str = "smtbmc yices", depth: int = 3, mutate=None) -> SbyJob:
    """SBY k-induction job of the isqrt submodule (generated, or ``rtl_text``)."""
    name = seqarith.isqrt_name(x_bits)
    if rtl_text is None:
        rtl_text = seqarith.build_isqrt(x_bits).to_verilog()
    if mutate is not None:
        rtl_text = mutate(rtl_text)
    text = inject(rtl_text, name, isqrt_formal_block(x_bits))
    return SbyJob(f"isqrt_x{x_bits}", name, {f"{name}.sv": text}, mode="prove", depth=depth,
                  engine=engine,
                  description=f"{name}: y*y <= x < (y+1)^2 for every {x_bits}-bit x "
                              f"(ghost + linear invariants; with isqrt_lemma), latency "
                              f"{seqarith.isqrt_latency(x_bits)}")


def isqrt_lemma() -> SbyResult:
    """The nonlinear step of the isqrt proof, over unbounded integers."""
    z3 = _z3()
    r, t, sq, x, rem = z3.Ints("root take sq x rem")
    claims = [
        ("base: sq = 0 == 0^2", [], z3.IntVal(0) == z3.IntVal(0) * z3.IntVal(0)),
        ("step: sq == r^2 -> 4 sq + t (4 r + 1) == (2 r + t)^2",
         [r >= 0, z3.Or(t == 0, t == 1), sq == r * r],
         4 * sq + t * (4 * r + 1) == (2 * r + t) * (2 * r + t)),
        ("final: sq == y^2, sq <= x < sq + 2 y + 1 -> y^2 <= x < (y+1)^2",
         [r >= 0, sq == r * r, sq <= x, x < sq + 2 * r + 1],
         z3.And(r * r <= x, x < (r + 1) * (r + 1))),
        ("the SBY invariants rem <= 2 root, sq + rem == x give the final bound",
         [r >= 0, rem >= 0, rem <= 2 * r, sq + rem == x], z3.And(sq <= x, x < sq + 2 * r + 1)),
    ]
    return _check("isqrt_lemma", "z3: the ghost recurrence keeps sq == root^2; the SBY bound is "
                  "y*y <= x < (y+1)^2", claims)


def layernorm_bounds(cfg) -> SbyResult:
    """No accumulator or intermediate of the unit wraps, for cfg's H and widths
    (z3 over unbounded integers; k is the number of elements accumulated)."""
    z3 = _z3()
    s = cfg.spec
    H, IB = cfg.hidden, cfg.in_bits
    lo, hi = -(1 << (IB - 1)), (1 << (IB - 1)) - 1
    k, S, Q, x, m, acc = z3.Ints("k S Q x m acc")
    half_sb = 1 << (s.sum_bits - 1)
    claims = [
        # the load accumulators after k <= H elements (inductive step on k)
        ("sum step stays in k*[lo, hi]",
         [k >= 0, k < H, S >= k * lo, S <= k * hi, _in(z3, x, lo, hi)],
         z3.And(S + x >= (k + 1) * lo, S + x <= (k + 1) * hi)),
        ("k*[lo, hi] fits sum_bits for k <= H",
         [k >= 0, k <= H, S >= k * lo, S <= k * hi], _in(z3, S, -half_sb, half_sb - 1)),
        ("sum(x^2) step stays in [0, k*lo^2]",
         [k >= 0, k < H, Q >= 0, Q <= k * lo * lo, _in(z3, x, lo, hi)],
         z3.And(Q + x * x >= 0, Q + x * x <= (k + 1) * lo * lo)),
        ("k*lo^2 fits var_sum_bits for k <= H",
         [k >= 0, k <= H, Q >= 0, Q <= k * lo * lo], Q < (1 << s.var_sum_bits)),
        # the mean divider's dividend and quotient
        ("mean dividend S + H/2 + H*2^(in-1) in [0, 2^mean_num_bits)",
         [S >= H * lo, S <= H * hi],
         _in(z3, S + H // 2 - H * lo, 0, (1 << cfg.mean_num_bits) - 1)),
        ("rounded mean in the input range",
         [S >= H * lo, S <= H * hi, m * H <= S + H // 2, S + H // 2 < (m + 1) * H],
         _in(z3, m, lo, hi)),
        # V = sum((x - m)^2) = Q - 2 m S + k m^2, step by step
        ("variance identity is inductive",
         [acc == Q - 2 * m * S + k * m * m],
         acc + (x - m) * (x - m) == (Q + x * x) - 2 * m * (S + x) + (k + 1) * m * m),
        ("centered value y = x - mean fits in_bits + 1",
         [_in(z3, x, lo, hi), _in(z3, m, lo, hi)], _in(z3, x - m, 2 * lo, -2 * lo - 1)),
        ("sum((x - m)^2) < 2^var_sum_bits (|y| <= 2^in - 1, k <= H)",
         [k >= 0, k <= H, acc >= 0, acc <= k * (2 * hi + 1) * (2 * hi + 1)],
         acc < (1 << s.var_sum_bits)),
    ]
    return _check(f"layernorm_bounds_h{H}_in{IB}",
                  f"z3: H={H}, in_bits={IB}: sum, sum of squares, mean dividend, mean, "
                  f"variance identity and centered value never wrap", claims)


#: the output pipeline, from the read issue to m_axis: (valid, last) registers
STAGES = (("r_valid_q", "r_last_q"), ("s1_valid_q", "s1_last_q"), ("s2_valid_q", "s2_last_q"),
          ("s3_valid_q", "s3_last_q"), ("out_valid_q", "out_last_q"))
#: scalar FSM wait state -> (submodule instance, its ready_o wire, its done_o wire)
WAITS = {"MEAN": ("u_mean_div", "unused_mdiv_ready", "mdiv_done"),
         "SQRT": ("u_isqrt", "unused_sqrt_ready", "sqrt_done"),
         "DIV": ("u_factor_div", "unused_fdiv_ready", "fdiv_done")}


#: data registers and memories of ``qbert_layernorm`` (after ``flatten``) that no
#: control decision reads: the latency job cuts them free (with every product).
#: Cutting only adds behaviours, so U3/F1 proven on the cut design hold for the
#: real one; the values are what the datapath proofs and the simulation check.
#: The output pipeline's own registers stay: P2 (hold under stall) reads them.
CUT_MEMORIES = ("buf_mem", "prm_mem", "bank_sum_q", "bank_sq_q", "bank_mean_q", "bank_factor_q")
CUT_REGS = ("sum_acc_q", "sq_acc_q", "sc_sum_q", "sc_sq_q", "sc_mean_q", "sc_ms_q", "sc_mm_q",
            "sc_var_q", "sc_std_q", "u_mean_div.num_q", "u_mean_div.den_q", "u_mean_div.rem_q",
            "u_factor_div.num_q", "u_factor_div.den_q", "u_factor_div.rem_q", "u_isqrt.x_q",
            "u_isqrt.rem_q", "u_isqrt.root_q")


def _wait_counters(cfg) -> dict:
    """instance -> (width of its cnt_q, busy cycles per run): the submodules'
    timing, as their own proofs state it (divider D1, isqrt L1/I2)."""
    from rtl_gen import emit
    rb = seqarith.isqrt_root_bits(VAR_BITS)
    return {"u_mean_div": (emit.clog2(cfg.mean_divider.steps), cfg.mean_divider.steps),
            "u_isqrt": (max(1, rb.bit_length()), seqarith.isqrt_latency(VAR_BITS)),
            "u_factor_div": (emit.clog2(cfg.factor_divider.steps), cfg.factor_divider.steps)}


def u3_bound(cfg) -> int:
    """LATENCY of ``qbert_axis_units`` (timer < LATENCY): one more than the
    un-stalled cycles from a vector's last input beat to its last output beat."""
    return cfg.drain_cycles() + 1


def _latency_lines(cfg, bound: int, cw: int, lemmas: bool) -> list[str]:
    """U3 and the output framing (F1), with the lemmas that make them inductive.

    ``f_rem``: un-stalled cycles until the oldest pending vector's last output
    beat is taken: its end in the output pipeline (4 - stage), else its bank
    read out from ``rd_ptr`` (beats - rd_ptr + 4), else its bank in the scalar
    stage (``f_sc_rem`` + beats + 5, the FSM's remaining cycles to DONE from
    :meth:`LayerNormConfig.scalar_schedule`, the waits read from the
    submodules' ``cnt_q``).  Every un-stalled cycle lowers it by one, a stalled
    one never raises it, and the lemma is timer + f_rem < bound.
    """
    from rtl_gen.layernorm import BANKS, SCALAR_STATES
    assert BANKS == 4, "the bank-order lemmas index banks modulo 4 with 2 bits"
    B = cfg.beats
    PB = max(1, (B - 1).bit_length())
    FB = max(1, B.bit_length())                # f_obeat, the framing counter
    RW = max(cw, (bound + 2 * B + 64).bit_length()) + 1
    W = FB + 4                                 # beat sums: f_obeat + up to 5 in flight
    sched = cfg.scalar_schedule()
    assert [s for s, _ in sched] == list(SCALAR_STATES)
    counters = _wait_counters(cfg)
    L = ["    // ---- U3 bounded latency, F1 output framing ----",
         "    " + axis.frame_instance("f_frame", "m_axis", beats=B, beat="f_obeat").replace("\n", "\n    ")]
    for inst, (w, _) in counters.items():
        L.append(f"    wire [{w - 1}:0] f_cnt_{inst};   // = {inst}.cnt_q (connected by the job's script)")
    if not lemmas:
        return L
    later, acc = {}, 0
    for s, c in reversed(sched):
        later[s] = acc
        acc += c
    sc_rem = f"{RW}'d0"
    for code, (s, c) in reversed(list(enumerate(sched))):
        if s in WAITS:
            inst, ready, _ = WAITS[s]
            w = counters[inst][0]
            val = (f"(!{ready} ? {RW}'d{later[s] + c - 1} - {{{RW - w}'d0, f_cnt_{inst}}} "
                   f": {RW}'d{later[s]})")
        else:
            val = f"{RW}'d{later[s]}"
        sc_rem = f"(sc_state_q == 4'd{code}) ? {val} : {sc_rem}"
    rem = (f"bank_state_q[rd_bank_q] == 2'd2 ? {RW}'d{B + 4} - {{{RW - PB}'d0, rd_ptr_q}} : "
           f"bank_state_q[rd_bank_q] == 2'd1 ? f_sc_rem + {RW}'d{B + 5} : {RW}'d0")
    for k, (v, l) in enumerate(STAGES):
        rem = f"({v} && {l}) ? {RW}'d{len(STAGES) - 1 - k} : {rem}"
    L += [f"    wire [{RW - 1}:0] f_sc_rem = {sc_rem};",
          f"    wire [{RW - 1}:0] f_rem = {rem};",
          f"    wire [{RW - 1}:0] f_budget = {{{RW - cw}'d0, f_timer}} + f_rem;"]
    # the banks seen from the read side: f_b{i} = state of bank rd_bank + i
    for i in range(BANKS):
        L.append(f"    wire [1:0] f_b{i} = bank_state_q[rd_bank_q + 2'd{i}];")
    used = " + ".join(f"{{1'b0, f_b{i} != 2'd0}}" for i in range(BANKS))
    scaled = " + ".join(f"{{1'b0, f_b{i} == 2'd2}}" for i in range(BANKS))
    L += [f"    wire [1:0] f_used = {used};    // mod 4: 4 banks in use wrap to 0",
          f"    wire [1:0] f_scaled = {scaled};"]
    # framing: each valid stage's beat index counts on from the beats already out
    ahead = []
    fw = f"{{{W - FB}'d0, f_obeat}}"
    frame_asserts = []
    for v, l in reversed(STAGES):
        pos = " + ".join([fw] + [f"{{{W - 1}'d0, {a}}}" for a in ahead])
        frame_asserts.append(f"        assert (!{v} || {l} == ((({pos}) % {W}'d{B}) == {W}'d{B - 1}));  // F1 frame_last: stage {v}")
        ahead.append(v)
    in_flight = " + ".join([fw] + [f"{{{W - 1}'d0, {v}}}" for v, _ in STAGES])
    L.append("    always @(*) if (!f_first && !rst) begin")
    for s, (inst, ready, done) in WAITS.items():
        code = SCALAR_STATES.index(s)
        w, busy = counters[inst]
        L.append(f"        assert (sc_state_q == 4'd{code} ? ((!{ready} && !{done} && f_cnt_{inst} <= {w}'d{busy - 1}) "
                 f"|| ({ready} && {done})) : ({ready} && !{done}));  // U3 latency: {inst} timing")
    for i in range(BANKS):
        L.append(f"        assert (f_b{i} != 2'd3);                                   // U3 latency: bank states")
    for i in range(1, BANKS):
        L.append(f"        assert ((f_b{i} == 2'd0 || f_b{i - 1} != 2'd0) && (f_b{i} != 2'd2 || f_b{i - 1} == 2'd2));  // U3 latency: bank order")
    L += [
        "        assert (ld_bank_q == rd_bank_q + f_used);                  // U3 latency: load bank",
        "        assert (sc_bank_q == rd_bank_q + f_scaled);                // U3 latency: scalar bank",
        f"        assert (rd_ptr_q <= {PB}'d{B - 1} && ld_ptr_q <= {PB}'d{B - 1});  // U3 latency: pointers",
        "        assert (rd_ptr_q == 0 || f_b0 == 2'd2);                      // U3 latency: read bank",
        f"        assert (f_pending == 0 ? f_timer == 0 : f_budget <= {RW}'d{bound - 1});  // U3 latency: budget",
        *frame_asserts,
        f"        assert ({{{W - PB}'d0, rd_ptr_q}} == ({in_flight}) % {W}'d{B});  // F1 frame_last: read pointer",
        "    end",
    ]
    return L


def top_formal_block(cfg, bound: int = 0, lemmas: bool = True, no_stall: bool = False) -> str:
    """Properties of ``qbert_layernorm`` (injected: they name its registers).

    Environment: reset first; s_axis and s_axis_prm obey AXI4-Stream
    (assumed); every vector is well formed (tlast exactly on beat H/lanes).
    Asserted: m_axis P1/P2 (reset, hold under stall), U1 no output vector
    without an input vector, U2 at most BANKS + 5 vectors in the unit, with the
    invariant that makes them inductive: the pending count equals the banks
    in use plus the vector ends in the output pipeline.  With ``bound`` > 0
    also U3 (the next pending vector's last output beat within ``bound - 1``
    un-stalled cycles) and F1 (H / lanes beats a vector, tlast exactly on the
    last), see :func:`_latency_lines`; ``lemmas`` False leaves out every
    invariant that only serves the induction (for BMC runs, where a planted
    bug must show on the property itself).  ``no_stall`` narrows the
    environment to one deterministic run (vectors of zeros back to back from
    reset, m_axis_tready high, no parameter load): only for BMC runs
    that must FAIL, as a trace of the narrowed environment is one of the full
    environment, and the search is much shorter.
    """
    from rtl_gen.layernorm import BANKS
    B, PB = cfg.beats, max(1, (cfg.beats - 1).bit_length())
    cw = axis.counter_width(BANKS + len(STAGES), bound)
    in_use = " + ".join(f"{{{cw - 1}'d0, bank_state_q[{b}] != 2'd0}}" for b in range(BANKS))
    in_pipe = " + ".join(f"{{{cw - 1}'d0, {v} && {l}}}" for v, l in STAGES)
    lines = [
        "`ifdef FORMAL",
        "    reg f_first = 1'b1;",
        "    always @(posedge clk) f_first <= 1'b0;",
        "    always @(*) if (f_first) assume (rst);",
        "    " + axis.check_instance("f_in", "s_axis", axis.ROLE_ENV, cfg.in_word_bits).replace("\n", "\n    "),
        "    " + axis.check_instance("f_prm", "s_axis_prm", axis.ROLE_ENV, cfg.prm_word_bits).replace("\n", "\n    "),
        "    " + axis.check_instance("f_out", "m_axis", axis.ROLE_DUT, cfg.out_word_bits).replace("\n", "\n    "),
        f"    always @(*) if (!rst && s_axis_tvalid) assume (s_axis_tlast == (ld_ptr_q == {PB}'d{B - 1}));",
        f"    always @(*) if (!rst && s_axis_prm_tvalid) assume (s_axis_prm_tlast == (prm_ptr_q == {PB}'d{B - 1}));",
        "    " + axis.units_instance("f_units", "s_axis", "m_axis", max_pending=BANKS + len(STAGES),
                                    latency=bound, pending="f_pending", timer="f_timer").replace("\n", "\n    "),
    ]
    if no_stall:
        lines.append("    always @(*) assume (m_axis_tready && !s_axis_prm_tvalid && s_axis_tdata == 0);   // narrowed (BMC must-fail runs only)")
        lines += ["    reg f_rst_q = 1'b1;   // AXI4-Stream P1: tvalid low in the cycle after reset",
                  "    always @(posedge clk) f_rst_q <= rst;",
                  "    always @(*) if (!f_first) assume (!rst);",
                  "    always @(*) if (!f_rst_q) assume (s_axis_tvalid);"]
    lines += [
        "    always @(*) if (!f_first && !rst) begin",
        "        assert (!err_len_o);                          // well-formed input: no error",
    ]
    if lemmas:
        lines += [
            f"        assert (f_pending == {in_use} + {in_pipe});   // pending map",
            "        assert (sc_state_q == 4'd0 || bank_state_q[sc_bank_q] == 2'd1);",
            "        assert (sc_state_q <= 4'd9);",
        ]
    lines.append("    end")
    if bound:
        lines += _latency_lines(cfg, bound, cw, lemmas)
        lines += [
            "    // non-vacuity (mode cover): a whole output vector, and one that waited out a stall",
            "    reg f_stalled = 1'b0;",
            "    always @(posedge clk) if (rst) f_stalled <= 1'b0; else if (m_axis_tvalid && !m_axis_tready) f_stalled <= 1'b1;",
            "    always @(*) if (!f_first && !rst) cover (m_axis_tvalid && m_axis_tready && m_axis_tlast);  // C1 vector_out",
        ]
        if not no_stall:   # the narrowed environment never stalls
            lines.append("    always @(*) if (!f_first && !rst) cover (f_stalled && m_axis_tvalid && m_axis_tready "
                         "&& m_axis_tlast && f_pending == 2);  // C2 vector_after_stall")
    lines.append("`endif")
    return "\n".join(lines) + "\n"


def _top_sources(cfg, rtl_files, mutate, block: str) -> dict:
    from rtl_gen.layernorm import TOP, verilog_files
    files = dict(rtl_files or verilog_files(cfg))
    text = files.pop(f"{TOP}.v")
    if mutate is not None:
        text = mutate(text)
    srcs = {f"{TOP}.sv": inject(text, TOP, block), axis.CHECKER_FILE: axis.CHECKER_SV}
    srcs.update({k[:-2] + ".sv": v for k, v in files.items()})
    return srcs


def top_job(cfg, rtl_files: dict | None = None, *, engine: str = "smtbmc yices",
            depth: int = 3, mode: str = "prove", mutate=None) -> SbyJob:
    """SBY job of the top (small Configs: the banks are real memories)."""
    from rtl_gen.layernorm import TOP
    srcs = _top_sources(cfg, rtl_files, mutate, top_formal_block(cfg))
    label = f"h{cfg.hidden}_l{cfg.lanes}"
    return SbyJob(f"layernorm_top_{label}", TOP, srcs, mode=mode, depth=depth, engine=engine,
                  description=f"{TOP} {label}: m_axis AXI4-Stream rules, no output vector "
                              f"without an input vector, at most BANKS + 5 in flight")


def latency_job(cfg, rtl_files: dict | None = None, *, engine: str = "smtbmc yices",
                depth: int = 1, mode: str = "prove", mutate=None, bound: int | None = None,
                lemmas: bool | None = None, name: str | None = None, skip: int = 0,
                no_stall: bool = False) -> SbyJob:
    """U3 + F1 (+ P1/P2, U1, U2) on ``qbert_layernorm``: every vector's last output
    beat within ``cfg.drain_cycles()`` un-stalled cycles of its last input beat
    (or of the previous vector's last output beat), H / lanes beats a vector
    with tlast exactly on the last.  No environment narrowing beyond the top
    job's (well-formed vectors).

    The submodules' ``cnt_q`` are joined to the top's ``f_cnt_*`` wires after
    ``flatten`` (Yosys reads no hierarchical names), and every product and the
    data registers :data:`CUT_MEMORIES` / :data:`CUT_REGS` are cut free: no
    control decision reads data, so this only adds behaviours.
    ``lemmas`` (default: mode == "prove") keeps the induction lemmas; BMC runs
    leave them out so a bug shows on U3/F1 itself.  ``skip`` (BMC): steps
    whose assertions are not checked (SBY ``skip``; proving that nothing fails
    in every early step is what makes a deep BMC slow); ``no_stall``: see
    :func:`top_formal_block`.
    """
    from rtl_gen.layernorm import TOP
    bound = bound or u3_bound(cfg)
    lemmas = (mode == "prove") if lemmas is None else lemmas
    if no_stall and mode == "prove":
        raise ValueError("no_stall narrows the environment: for BMC must-fail runs only")
    srcs = _top_sources(cfg, rtl_files, mutate,
                        top_formal_block(cfg, bound=bound, lemmas=lemmas, no_stall=no_stall))
    connects = tuple(f"connect -set f_cnt_{inst} \\{inst}.cnt_q" for inst in _wait_counters(cfg))
    script = (*(f"read -formal -sv {f}" for f in srcs), f"hierarchy -top {TOP}", "proc", "flatten",
              *connects, f"prep -top {TOP}", f"cutpoint {TOP}/t:$mul {TOP}/t:$sshr {TOP}/t:$shl",
              "cutpoint " + " ".join(f"{TOP}/c:{m}" for m in CUT_MEMORIES),
              "cutpoint " + " ".join(f"{TOP}/w:{r}" for r in CUT_REGS),
              # the bank states as flip-flops, not an SMT array (much faster deep BMC)
              "memory_map", "opt_clean")
    label = f"h{cfg.hidden}_l{cfg.lanes}"
    return SbyJob(name or f"layernorm_latency_{label}", TOP, srcs, mode=mode, depth=depth,
                  engine=engine, script=script, options={"skip": str(skip)} if skip else {},
                  description=f"{TOP} {label}: every vector out within {bound - 1} un-stalled "
                              f"cycles of its last input beat (U3, bound drain_cycles + 1 = "
                              f"{bound}), {cfg.beats} beats a vector with tlast on the last "
                              f"(F1), m_axis rules, U1/U2; datapath cut free")


def layernorm_jobs(cfg=None, rtl_dir=None, engine: str = "smtbmc yices"):
    """Every proof of the unit: (SBY jobs, z3 lemmas).  With ``rtl_dir`` the
    submodules are read from the RTL on disk and the Config from its params.json
    (``cfg`` must then be None or equal); else generated from ``cfg``."""
    from rtl_gen.layernorm import LayerNormConfig, sources, verilog_files
    from . import divider as fdivider
    from .lemmas import divider_composition

    if rtl_dir is not None:
        disk = LayerNormConfig.load(rtl_dir)
        if cfg is not None and cfg != disk:
            raise ValueError(f"--rtl {rtl_dir} was generated for {disk}, not for the given Config")
        cfg = disk
        files = {p.name: p.read_text() for p in sources(rtl_dir)}
        where = f"RTL in {rtl_dir}"
    else:
        cfg = cfg if cfg is not None else LayerNormConfig()
        files = verilog_files(cfg)
        where = "RTL generated from the Config"

    def text_of(module: str) -> str:
        name = f"{module}.v"
        if name not in files:
            raise ValueError(f"{where}: {name} (module {module}) is missing")
        return files[name]

    import dataclasses
    jobs = [isqrt_job(VAR_BITS, text_of(seqarith.isqrt_name(VAR_BITS)), engine=engine),
            top_job(cfg, files, engine=engine), latency_job(cfg, files, engine=engine)]
    for dc in dict.fromkeys((cfg.mean_divider, cfg.factor_divider)):
        jobs.append(fdivider.divider_job(dc, text_of(dc.module_name), engine=engine))
    jobs = [dataclasses.replace(j, description=f"{j.description} [{where}]") for j in jobs]
    # the divider lemma first: its last claim is nonlinear and z3 (one global
    # context per process) timed out on it after the bounds lemma had run
    lem = [lambda: divider_composition(cfg.div_bits_per_cycle), isqrt_lemma,
           lambda: layernorm_bounds(cfg)]
    return jobs, lem


__all__ = ["isqrt_formal_block", "isqrt_job", "isqrt_lemma", "latency_job", "layernorm_bounds", "layernorm_jobs", "u3_bound",
           "top_formal_block", "top_job"]
