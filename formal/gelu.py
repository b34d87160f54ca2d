"""Proof of the generated GELU unit (``rtl_gen.gelu``, top ``qbert_gelu``).

The reference is golden_model.gelu.int_gelu written as Verilog, line for line,
in three steps (every intermediate at a width that cannot wrap):

    qbert_gelu_clip: d = min(|x|, -b) + b
    (product)        sq = d * d
    qbert_gelu_erf:  s = (sign(x) * -(sq + c)) >>> erf_shift + one
    (product)        out = x * s
    qbert_gelu_ref:  their composition, x -> out

The properties are injected into the generated module
(:func:`formal.matmul.inject`) so they can name its stage registers
(``l{i}_x{k}_q``, ``l{i}_d1_q``, ``l{i}_sq2_q``, ``l{i}_s3_q``,
``l{i}_out_q``, ``v{k}_q``, ``last{k}_q``); a renamed register makes the job
ERROR, never pass.

Environment (assumed): reset in the first cycle; s_axis obeys AXI4-Stream.
Inputs are otherwise free: every x of in_bits in every lane, any stall.

Proven for every input sequence (k-induction), per lane: while stage k holds
a beat (v{k}_q),

- G1 ``x_carried``: x{k} is the x of the beat taken k advances ago (a ghost
  chain from s_axis);
- G2 ``clip``: d1 == qbert_gelu_clip(x1), compared at the reference's full
  width (so d in [b, 0] and the RTL's d_bits hold it);
- G3 ``square``: sq2 == d*d of the d stage 1 held, the whole product (its
  bits above sq_bits are 0: no truncation);
- G4 ``erf``: s3 == qbert_gelu_erf(x2, sq2) of what stage 2 held, at the
  reference's full width (so s fits sum_bits), except x = 0 where the RTL
  takes sign(0) = +1 (out = 0 * s = 0 either way);
- G5 ``out``: out == x * s of what stage 3 held, exact in out_bits;
- P1/P2 on m_axis (reset, hold under stall), U1/U2 between input frames and
  output frames (no spurious frame, at most 4 in flight), U3 every accepted
  frame leaves within LATENCY + 1 un-stalled cycles; G6 ``pending_map``: the
  frames in flight are the tlast beats in the pipeline (and the U3 timer is
  bounded by the oldest one's stage).

So each stage computes its line of int_gelu from what the previous stage
held; their composition is qbert_gelu_ref, which :func:`vectors_job` ties to
the numpy golden model (clip and sign edges, range ends, random x) and the
exhaustive simulation (verif/gelu_tb.py ``gelu_exhaustive``) ties, with the
RTL, to int_gelu for every x.  The end-to-end equality out == ref(x) as one
SBY property does not close at 16 bits (a 16 x 16 product compared with a
differently built one: over 15 minutes with yices), which is why the proof
is cut at the products: each product is compared with the spec's product of
the same operands.
"""
from __future__ import annotations

from golden_model.gelu import int_gelu
from golden_model.widths import int_range

from . import axis
from .matmul import inject
from .sby import SbyJob

REF_TOP = "qbert_gelu_ref"


def _lit(v: int, w: int) -> str:
    return f"-{w}'sd{-v}" if v < 0 else f"{w}'sd{v}"


def _widths(cfg) -> tuple[int, int]:
    """(W, PW): the reference's width for |x|, d, t and s, and for d*d, sq + c, t."""
    W = max(cfg.abs_bits, cfg.spec.t_bits) + 2
    return W, 2 * W


def _product(a: str, a_bits: int, b: str, b_bits: int, bits: int) -> str:
    """a * b (signed), exact in ``bits``: both operands sign-extended first."""
    def ext(v, w):
        return v if w == bits else f"{{{{{bits - w}{{{v}[{w - 1}]}}}}, {v}}}"
    return f"$signed({ext(a, a_bits)}) * $signed({ext(b, b_bits)})"


def ref_sv(cfg) -> str:
    """``qbert_gelu_clip``, ``qbert_gelu_erf`` and their composition
    ``qbert_gelu_ref`` (x -> d, sq, s, out): golden_model.gelu.int_gelu."""
    s = cfg.spec
    IB, OB, SB = cfg.in_bits, s.out_bits, s.sum_bits
    W, PW = _widths(cfg)
    return f"""`default_nettype none
// golden_model.gelu.int_gelu, b={s.b} c={s.c} erf_shift={s.erf_shift} one={s.one}
module qbert_gelu_clip (
    input  wire signed [{IB - 1}:0] x,
    output wire signed [{W - 1}:0] d       // min(|x|, -b) + b
);
    wire signed [{W - 1}:0] xw = x;
    wire signed [{W - 1}:0] ax = (xw < 0) ? -xw : xw;
    wire signed [{W - 1}:0] clipped = (ax < {_lit(-s.b, W)}) ? ax : {_lit(-s.b, W)};
    assign d = clipped + {_lit(s.b, W)};
endmodule

module qbert_gelu_erf (
    input  wire signed [{IB - 1}:0] x,
    input  wire signed [{PW - 1}:0] sq,
    output wire signed [{PW - 1}:0] s      // (sign(x) * -(sq + c)) >>> erf_shift + one
);
    wire signed [{PW - 1}:0] poly = sq + {_lit(s.c, PW)};
    wire signed [{PW - 1}:0] t = (x > 0) ? -poly : (x < 0) ? poly : {PW}'sd0;
    assign s = (t >>> {s.erf_shift}) + {_lit(s.one, PW)};
endmodule

module {REF_TOP} (
    input  wire signed [{IB - 1}:0] x,
    output wire signed [{W - 1}:0] d,
    output wire signed [{PW - 1}:0] sq,
    output wire signed [{PW - 1}:0] s,
    output wire signed [{OB - 1}:0] out
);
    qbert_gelu_clip clip (.x(x), .d(d));
    assign sq = d * d;
    qbert_gelu_erf erf (.x(x), .sq(sq), .s(s));
    wire signed [{SB - 1}:0] s_n = s[{SB - 1}:0];
    assign out = x * s_n;                   // exact: |x * s| < 2^(out_bits-1)
endmodule
`default_nettype wire
"""


def formal_block(cfg) -> str:
    """The injected properties of ``qbert_gelu`` for a GeluConfig ``cfg``."""
    s = cfg.spec
    L, IB, OB, SB, DB, QB = cfg.lanes, cfg.in_bits, s.out_bits, s.sum_bits, cfg.d_bits, cfg.sq_bits
    D = cfg.latency
    W, PW = _widths(cfg)
    SQW = 2 * DB          # the product d*d of a d_bits value
    lines: list[str] = []
    a = lines.append
    a("`ifdef FORMAL")
    a("    reg f_first = 1'b1;")
    a("    always @(posedge clk) f_first <= 1'b0;")
    a("    always @(*) if (f_first) assume (rst);")
    a("    wire f_chk = !rst && !f_first;")
    a("    " + axis.check_instance("f_in", "s_axis", axis.ROLE_ENV, cfg.in_word_bits)
      .replace("\n", "\n    "))
    a("    " + axis.check_instance("f_out", "m_axis", axis.ROLE_DUT, cfg.out_word_bits)
      .replace("\n", "\n    "))
    a("    " + axis.units_instance("f_units", "s_axis", "m_axis", max_pending=D, latency=D + 1,
                                   pending="f_pending", timer="f_timer").replace("\n", "\n    "))
    frames = " + ".join(f"(v{k}_q && last{k}_q)" for k in range(1, D + 1))
    a(f"    always @(*) if (f_chk) assert (f_pending == {frames});   // G6 pending_map")
    # U3 is k-inductive with: the latency timer never exceeds the stage of the
    # oldest frame end in the pipeline (both advance once per un-stalled cycle)
    a("    always @(*) if (f_chk) assert (f_pending != 0 || f_timer == 0);   // G6 pending_map: idle timer")
    for k in range(1, D + 1):
        newer = "".join(f" && !(v{j}_q && last{j}_q)" for j in range(k + 1, D + 1))
        a(f"    always @(*) if (f_chk && v{k}_q && last{k}_q{newer}) assert (f_timer <= {k});  // G6 pending_map: timer")
    a("    always @(*) if (f_chk) cover (m_axis_tvalid && m_axis_tready && m_axis_tlast);  // C1 frame_out")
    for i in range(L):
        n = f"l{i}"
        a(f"    // lane {i}")
        a(f"    reg [{IB - 1}:0] " + ", ".join(f"f_{n}_g{k}" for k in range(1, D)) + ";")
        a(f"    always @(posedge clk) if (en) begin f_{n}_g1 <= s_axis_tdata[{i * IB + IB - 1}:{i * IB}]; "
          + " ".join(f"f_{n}_g{k} <= f_{n}_g{k - 1};" for k in range(2, D)) + " end")
        a(f"    wire signed [{W - 1}:0] f_{n}_d1;")
        a(f"    qbert_gelu_clip f_{n}_clip (.x({n}_x1_q), .d(f_{n}_d1));")
        a(f"    reg [{SQW - 1}:0] f_{n}_sq2;")
        a(f"    always @(posedge clk) if (en) f_{n}_sq2 <= {_product(f'{n}_d1_q', DB, f'{n}_d1_q', DB, SQW)};")
        a(f"    wire signed [{PW - 1}:0] f_{n}_s2;")
        a(f"    qbert_gelu_erf f_{n}_erf (.x({n}_x2_q), .sq({{{PW - QB}'d0, {n}_sq2_q}}), .s(f_{n}_s2));")
        a(f"    reg signed [{PW - 1}:0] f_{n}_s3;")
        a(f"    reg [{IB - 1}:0] f_{n}_x3;")
        a(f"    always @(posedge clk) if (en) begin f_{n}_s3 <= f_{n}_s2; f_{n}_x3 <= {n}_x2_q; end")
        a(f"    reg [{OB - 1}:0] f_{n}_out4;")
        a(f"    always @(posedge clk) if (en) f_{n}_out4 <= {_product(f'{n}_x3_q', IB, f'{n}_s3_q', SB, OB)};")
        a("    always @(*) if (f_chk) begin")
        for k in range(1, D):
            a(f"        assert (!v{k}_q || {n}_x{k}_q == f_{n}_g{k});            // G1 x_carried")
        a(f"        assert (!v1_q || $signed({n}_d1_q) == f_{n}_d1);           // G2 clip")
        a(f"        assert (!v2_q || {{{SQW - QB}'d0, {n}_sq2_q}} == f_{n}_sq2);   // G3 square")
        a(f"        assert (!v3_q || $signed({n}_s3_q) == f_{n}_s3 || f_{n}_x3 == 0);  // G4 erf")
        a(f"        assert (!v4_q || {n}_out_q == f_{n}_out4);                   // G5 out")
        a("    end")
    a("`endif")
    return "\n".join(lines) + "\n"


def gelu_job(cfg, rtl_text: str | None = None, *, engine: str = "smtbmc yices", depth: int = 2,
             mode: str = "prove", name: str | None = None, mutate=None) -> SbyJob:
    """SBY job for the generated ``qbert_gelu`` of ``cfg`` (or ``rtl_text``)."""
    from rtl_gen.gelu import TOP, verilog
    text = rtl_text if rtl_text is not None else verilog(cfg)
    if mutate is not None:
        text = mutate(text)
    text = inject(text, TOP, formal_block(cfg))
    sources = {f"{TOP}.sv": text, axis.CHECKER_FILE: axis.CHECKER_SV, f"{REF_TOP}.sv": ref_sv(cfg)}
    label = f"l{cfg.lanes}_i{cfg.in_bits}f{cfg.frac_bits}e{cfg.erf_bits}"
    return SbyJob(name or f"gelu_{label}", TOP, sources, mode=mode, depth=depth, engine=engine,
                  description=f"qbert_gelu {label}: every stage == its line of int_gelu for "
                              f"every x, m_axis protocol, frames in == frames out")


def vectors(cfg, n_random: int = 32, seed: int = 5) -> list[tuple[int, int]]:
    """(x, int_gelu(x)): the clip and sign edges, the range ends, random x."""
    import numpy as np
    lo, hi = int_range(cfg.in_bits)
    nb = -cfg.spec.b
    xs = {lo, lo + 1, -1, 0, 1, hi - 1, hi}
    xs |= {v for k in (nb - 1, nb, nb + 1) for v in (k, -k) if lo <= v <= hi}
    rng = np.random.default_rng(seed)
    xs |= {int(v) for v in rng.integers(lo, hi + 1, n_random)}
    xs = sorted(xs)
    return list(zip(xs, (int(v) for v in int_gelu(np.asarray(xs), cfg.spec))))


def vectors_job(cfg, *, engine: str = "smtbmc yices") -> SbyJob:
    """The Verilog reference == golden_model.gelu.int_gelu on :func:`vectors` (a one-step BMC)."""
    IB, OB = cfg.in_bits, cfg.spec.out_bits
    W, PW = _widths(cfg)
    body = []
    for k, (x, y) in enumerate(vectors(cfg)):
        body.append(f"    wire signed [{OB - 1}:0] y{k};\n"
                    f"    wire signed [{W - 1}:0] d{k};\n    wire signed [{PW - 1}:0] q{k}, s{k};\n"
                    f"    {REF_TOP} r{k} (.x({_lit(x, IB)}), .d(d{k}), .sq(q{k}), .s(s{k}), .out(y{k}));\n"
                    f"    always @(*) assert (y{k} == {_lit(y, OB)});  // V{k} golden: x={x}\n")
    top = ("`default_nettype none\nmodule qbert_gelu_vectors (input wire clk);\n`ifdef FORMAL\n"
           + "".join(body) + "`endif\nendmodule\n`default_nettype wire\n")
    return SbyJob(f"gelu_ref_vectors_i{IB}f{cfg.frac_bits}e{cfg.erf_bits}", "qbert_gelu_vectors",
                  {f"{REF_TOP}.sv": ref_sv(cfg), "qbert_gelu_vectors.sv": top}, mode="bmc", depth=1,
                  engine=engine, description=f"gelu reference == int_gelu on {len(vectors(cfg))} vectors")


def out_width_lemma(cfg):
    """z3: for every x of in_bits and s in [-1, 2*one + 1] (G4's range of the
    erf sum), x * s fits out_bits: the product G5 compares is the exact one."""
    from .lemmas import _check, _z3
    z3 = _z3()
    s = cfg.spec
    lo, hi = int_range(cfg.in_bits)
    olo, ohi = int_range(s.out_bits)
    x, e = z3.Ints("x e")
    hyps = [x >= lo, x <= hi, e >= -1, e <= 2 * s.one + 1]
    return _check(f"gelu_out_width_i{cfg.in_bits}_o{s.out_bits}",
                  f"x * s fits out_bits={s.out_bits} for x in in_bits, s in [-1, 2*one+1]",
                  [("out_width", hyps, z3.And(x * e >= olo, x * e <= ohi))])


def unit_jobs(cfg, text: str, engine: str = "smtbmc yices"):
    """Every proof of the GELU unit: the injected stage properties (prove), a
    whole frame out after a stall (cover), the reference vs int_gelu vectors, and
    the product-width lemma."""
    jobs = [gelu_job(cfg, text, engine=engine),
            gelu_job(cfg, text, engine=engine, mode="cover", depth=10,
                     name=f"gelu_cover_l{cfg.lanes}"),
            vectors_job(cfg, engine=engine)]
    return jobs, [lambda: out_width_lemma(cfg)]
