"""Equivalence proofs: datapath RTL == a combinational reference built from the
golden model's formulas, proven unbounded (k-induction with SymbiYosys).

Two datapaths, each with a documented port contract so that any Verilog module
honouring it (the toy generators here, or the matmul unit's submodules) can be
proven with the same job:

Requantizer (``golden_model.quant.requantize``)::

    module <top> (input clk, rst, in_valid,
                  input  signed [ACC_BITS-1:0] acc,      // accumulator
                  input         [MULT_BITS-1:0] mult,    // M, unsigned
                  input         [SHIFT_BITS-1:0] shift,  // s in [0, SHIFT_MAX]
                  output out_valid,
                  output signed [OUT_BITS-1:0] y);       // sat(((acc*M) + 2^(s-1)) >>> s)

  fixed latency ``latency`` cycles from in_valid to out_valid, no
  backpressure, synchronous active-high reset clears the valid pipeline.

MAC processing element (``golden_model.matmul.matmul_acc``, one output)::

    module <top> (input clk, rst, clr, en,
                  input  signed [ACT_BITS-1:0] a,
                  input  signed [WEIGHT_BITS-1:0] w,
                  input  signed [BIAS_BITS-1:0] bias,
                  output signed [ACC_BITS-1:0] acc);
    // acc' = (clr ? bias : acc) + (en ? a*w : 0);  rst: acc' = 0

Proof structure (see DESIGN.md, "Toolchain facts"): the SBY part is bit-level
equivalence plus linear invariants over ghost registers; any algebra it relies
on (distributivity of a split product, the MAC bound for every K <= k_max, the
meaning of the rounding constant) is a z3 lemma in :mod:`formal.lemmas`.
"""
from __future__ import annotations

import dataclasses

from golden_model.matmul import acc_bits_for
from golden_model.quant import ACC_BITS_MAX, MULT_BITS, SHIFT_MAX, requantize
from golden_model.widths import int_range, validate_bits

from .sby import SbyJob

# --------------------------------------------------------------------------
# Requantizer
# --------------------------------------------------------------------------

REQUANT_BUGS = {
    "none": "correct",
    "round_minus_one": "rounding constant 2^(s-1) - 1 (rounds ties down)",
    "sat_off_by_one": "upper saturation bound 2^(out-1) - 2",
    "logical_shift": ">> instead of >>> (negative products)",
    "split_wrong_offset": "split product recombined with the high part shifted one bit short",
}


@dataclasses.dataclass(frozen=True)
class RequantSpec:
    """Widths of one requantizer.  Defaults are the golden model's full widths."""
    acc_bits: int = ACC_BITS_MAX
    mult_bits: int = MULT_BITS
    shift_bits: int = 6
    shift_max: int = SHIFT_MAX
    out_bits: int = 8

    def __post_init__(self):
        validate_bits("acc_bits", self.acc_bits, 2, ACC_BITS_MAX)
        validate_bits("mult_bits", self.mult_bits, 1, MULT_BITS)
        validate_bits("shift_bits", self.shift_bits, 1, 6)
        validate_bits("out_bits", self.out_bits, 2, 32)
        if not 0 <= self.shift_max <= min(SHIFT_MAX, (1 << self.shift_bits) - 1):
            raise ValueError(f"shift_max must be in [0, {min(SHIFT_MAX, (1 << self.shift_bits) - 1)}], "
                             f"got {self.shift_max}")

    @property
    def full_width(self) -> bool:
        return (self.acc_bits, self.mult_bits, self.shift_max) == (ACC_BITS_MAX, MULT_BITS, SHIFT_MAX)

    def label(self) -> str:
        return f"acc{self.acc_bits}_m{self.mult_bits}_s{self.shift_max}_o{self.out_bits}"


def requant_ref_sv(spec: RequantSpec, name: str = "qbert_requant_ref", split: int = 0) -> str:
    """Combinational reference, line for line ``golden_model.quant.requantize``.

    int64 arithmetic as the numpy model: prod = a*m; rounded = (prod + ((1<<s)>>1)) >>> s;
    saturate.  With ``split`` > 0 the product is written as
    (a*(m>>split))*2^split + a*(m mod 2^split): equal by :func:`formal.lemmas.split_product`.
    """
    lo, hi = int_range(spec.out_bits)
    if split:
        if not 0 < split < spec.mult_bits:
            raise ValueError(f"split must be in (0, {spec.mult_bits}), got {split}")
        prod = (f"(($signed(acc) * $signed({{1'b0, mult[{spec.mult_bits - 1}:{split}]}})) <<< {split}) + "
                f"($signed(acc) * $signed({{1'b0, mult[{split - 1}:0]}}))")
    else:
        # the exact product at its natural width (acc+mult bits), then widened to
        # int64: the same $mul cell shape as a DUT's, so Yosys can share them
        prod = "prod_n"
    return f"""`default_nettype none
module {name} (
    input  wire signed [{spec.acc_bits - 1}:0] acc,
    input  wire        [{spec.mult_bits - 1}:0] mult,
    input  wire        [{spec.shift_bits - 1}:0] shift,
    output wire signed [{spec.out_bits - 1}:0] y
);
    // golden_model.quant.requantize, in int64 like the numpy model
    wire signed [{spec.acc_bits + spec.mult_bits - 1}:0] prod_n = $signed(acc) * $signed({{1'b0, mult}});
    wire signed [63:0] prod    = {prod};
    wire signed [63:0] half    = (64'sd1 <<< shift) >>> 1;
    wire signed [63:0] rounded = (prod + half) >>> shift;
    assign y = (rounded > {hi}) ? {spec.out_bits}'sd{hi} :
               (rounded < {lo}) ? -{spec.out_bits}'sd{-lo} : rounded[{spec.out_bits - 1}:0];
endmodule
`default_nettype wire
"""


def requant_dut_sv(spec: RequantSpec, *, style: str = "direct", split: int = 17,
                   bug: str = "none", name: str = "qbert_requant") -> str:
    """A two-stage pipelined requantizer honouring the port contract (latency 2).

    ``style="direct"``: one ``*`` (Yosys $mul).  ``style="split"``: the product
    built from two partial products acc*M[hi] and acc*M[lo] (the DSP48-style
    split at bit ``split``), recombined in stage 2.  ``bug`` injects one of
    :data:`REQUANT_BUGS` for the must-fail tests.
    """
    if bug not in REQUANT_BUGS:
        raise ValueError(f"bug must be one of {', '.join(REQUANT_BUGS)}, got {bug!r}")
    if style not in ("direct", "split"):
        raise ValueError(f"style must be direct or split, got {style!r}")
    A, M, S, O = spec.acc_bits, spec.mult_bits, spec.shift_bits, spec.out_bits
    pw = A + M          # exact signed product width
    sw = max(pw, spec.shift_max) + 1   # product + rounding constant 2^(s-1) (lemmas.requant_width)
    lo, hi = int_range(O)
    hi_sat = hi - 1 if bug == "sat_off_by_one" else hi
    rnd = f"({{{{{sw - 1}{{1'b0}}}}, 1'b1}} << (s1 - 1'b1))"
    if bug == "round_minus_one":
        rnd = f"({rnd} - 1'b1)"
    shr = ">>" if bug == "logical_shift" else ">>>"
    if style == "direct":
        stage1_decl = f"    reg signed [{pw - 1}:0] prod;\n"
        stage1 = "        prod <= $signed(acc) * $signed({1'b0, mult});\n"
        prod = "prod"
    else:
        if not 0 < split < M:
            raise ValueError(f"split must be in (0, {M}), got {split}")
        off = split - 1 if bug == "split_wrong_offset" else split
        stage1_decl = (f"    reg signed [{A + M - split}:0] p_hi;\n"
                       f"    reg signed [{A + split}:0] p_lo;\n")
        stage1 = (f"        p_hi <= $signed(acc) * $signed({{1'b0, mult[{M - 1}:{split}]}});\n"
                  f"        p_lo <= $signed(acc) * $signed({{1'b0, mult[{split - 1}:0]}});\n")
        prod = f"((p_hi_x <<< {off}) + p_lo_x)"
        stage1_decl += (f"    wire signed [{pw - 1}:0] p_hi_x = p_hi;\n"
                        f"    wire signed [{pw - 1}:0] p_lo_x = p_lo;\n")
    return f"""`default_nettype none
module {name} (
    input  wire clk,
    input  wire rst,
    input  wire in_valid,
    input  wire signed [{A - 1}:0] acc,
    input  wire        [{M - 1}:0] mult,
    input  wire        [{S - 1}:0] shift,
    output reg  out_valid,
    output reg  signed [{O - 1}:0] y
);
{stage1_decl}    reg [{S - 1}:0] s1;
    reg v1;
    wire signed [{sw - 1}:0] prod_w = {prod};
    wire signed [{sw - 1}:0] rnd = (s1 == {S}'d0) ? {sw}'sd0 : {rnd};
    wire signed [{sw - 1}:0] sum = prod_w + rnd;
    wire signed [{sw - 1}:0] shifted = sum {shr} s1;
    always @(posedge clk) begin
        if (rst) begin
            v1 <= 1'b0;
            out_valid <= 1'b0;
        end else begin
            v1 <= in_valid;
            out_valid <= v1;
        end
{stage1}        s1 <= shift;
        if (shifted > {hi_sat}) y <= {O}'sd{hi_sat};
        else if (shifted < {lo}) y <= -{O}'sd{-lo};
        else y <= shifted[{O - 1}:0];
    end
endmodule
`default_nettype wire
"""


def requant_harness_sv(spec: RequantSpec, dut_top: str, latency: int,
                       ref_top: str = "qbert_requant_ref") -> str:
    """Top ``qbert_requant_equiv``: DUT vs reference delayed by ``latency`` cycles."""
    if latency < 1:
        raise ValueError(f"latency must be >= 1, got {latency}")
    A, M, S, O = spec.acc_bits, spec.mult_bits, spec.shift_bits, spec.out_bits
    regs = "".join(f"    reg v{i} = 1'b0;\n    reg signed [{O - 1}:0] r{i};\n" for i in range(1, latency + 1))
    shifts = "".join(f"        r{i} <= r{i - 1};\n" for i in range(2, latency + 1))
    vshift = "".join(f"            v{i} <= v{i - 1};\n" for i in range(2, latency + 1))
    vclr = "".join(f"            v{i} <= 1'b0;\n" for i in range(1, latency + 1))
    L = latency
    return f"""`default_nettype none
module qbert_requant_equiv (
    input wire clk,
    input wire rst,
    input wire in_valid,
    input wire signed [{A - 1}:0] acc,
    input wire        [{M - 1}:0] mult,
    input wire        [{S - 1}:0] shift
);
    wire out_valid;
    wire signed [{O - 1}:0] y, y_ref;
    {dut_top} dut (.clk(clk), .rst(rst), .in_valid(in_valid), .acc(acc), .mult(mult),
                   .shift(shift), .out_valid(out_valid), .y(y));
    {ref_top} ref0 (.acc(acc), .mult(mult), .shift(shift), .y(y_ref));
`ifdef FORMAL
    reg first = 1'b1;
    always @(posedge clk) first <= 1'b0;
    always @(*) begin
        if (first) assume (rst);
        assume (shift <= {spec.shift_max});
    end
    // the reference result travels {L} cycles beside the DUT's pipeline
{regs}    always @(posedge clk) begin
        r1 <= y_ref;
{shifts}        if (rst) begin
{vclr}        end else begin
            v1 <= in_valid;
{vshift}        end
    end
    always @(*) if (!first) begin
        assert (out_valid == v{L});                  // E1 valid_timing
        if (v{L}) assert (y == r{L});                // E2 y_equal: y == requantize(acc, M, s)
    end
`endif
endmodule
`default_nettype wire
"""


def requant_equiv_job(spec: RequantSpec, dut_sources: dict, dut_top: str = "qbert_requant", *,
                      latency: int = 2, engine: str = "smtbmc yices", ref_split: int = 0,
                      mode: str = "prove", name: str | None = None) -> SbyJob:
    """SBY job: ``dut_top`` (port contract above) == requantize, all inputs, unbounded."""
    sources = dict(dut_sources)
    sources["qbert_requant_ref.sv"] = requant_ref_sv(spec, split=ref_split)
    sources["qbert_requant_equiv.sv"] = requant_harness_sv(spec, dut_top, latency)
    form = f"split{ref_split}" if ref_split else "direct"
    return SbyJob(name or f"requant_equiv_{spec.label()}_{form}", "qbert_requant_equiv", sources,
                  mode=mode, depth=latency + 2, engine=engine,
                  description=f"requant == golden formula ({spec.label()}, reference product {form})")


def requant_vectors(spec: RequantSpec, n_random: int = 24, seed: int = 3) -> list[tuple[int, int, int, int]]:
    """(acc, M, s, y) from ``golden_model.quant.requantize``: edges plus random draws."""
    import numpy as np
    rng = np.random.default_rng(seed)
    alo, ahi = int_range(spec.acc_bits)
    mhi = (1 << spec.mult_bits) - 1
    accs = [alo, alo + 1, -1, 0, 1, ahi - 1, ahi, -3, 3, -(1 << (spec.acc_bits // 2))]
    mults = [0, 1, mhi, 1 << (spec.mult_bits - 1), mhi - 1]
    shifts = sorted({0, 1, 2, spec.shift_max, max(0, spec.shift_max - 1), min(spec.shift_max, 31)})
    vec = [(a, m, s) for a in accs for m in mults[:3] for s in shifts[:3]]
    vec += [(a, m, s) for a in accs[:4] for m in mults for s in shifts]
    # rounding ties: acc*M = (2k+1) * 2^(s-1) for both signs
    for s in range(1, min(spec.shift_max, spec.acc_bits - 2) + 1, 5):
        for a in (3 << (s - 1), -(3 << (s - 1)), 1 << (s - 1), -(1 << (s - 1))):
            if alo <= a <= ahi:
                vec.append((a, 1, s))
    for _ in range(n_random):
        vec.append((int(rng.integers(alo, ahi + 1)), int(rng.integers(0, mhi + 1)),
                    int(rng.integers(0, spec.shift_max + 1))))
    out = []
    for a, m, s in vec:
        y = int(requantize(np.array([a]), np.array([m]), np.array([s]), spec.out_bits,
                           acc_bits=spec.acc_bits)[0])
        out.append((a, m, s, y))
    return out


def requant_vectors_job(spec: RequantSpec, *, engine: str = "smtbmc yices", split: int = 0,
                        vectors: list | None = None) -> SbyJob:
    """Ties the Verilog reference to the numpy golden model on concrete vectors.

    One instance of the reference per vector with constant inputs, asserting the
    golden model's output; a one-step BMC (everything folds to constants).
    """
    vecs = vectors if vectors is not None else requant_vectors(spec)
    A, M, S, O = spec.acc_bits, spec.mult_bits, spec.shift_bits, spec.out_bits
    body = []
    for i, (a, m, s, y) in enumerate(vecs):
        av = f"-{A}'sd{-a}" if a < 0 else f"{A}'sd{a}"
        yv = f"-{O}'sd{-y}" if y < 0 else f"{O}'sd{y}"
        body.append(f"    wire signed [{O - 1}:0] y{i};\n"
                    f"    qbert_requant_ref r{i} (.acc({av}), .mult({M}'d{m}), .shift({S}'d{s}), .y(y{i}));\n"
                    f"    always @(*) assert (y{i} == {yv});  // V{i} golden: acc={a} M={m} s={s}\n")
    top = ("`default_nettype none\nmodule qbert_requant_vectors (input wire clk);\n`ifdef FORMAL\n"
           + "".join(body) + "`endif\nendmodule\n`default_nettype wire\n")
    sources = {"qbert_requant_ref.sv": requant_ref_sv(spec, split=split),
               "qbert_requant_vectors.sv": top}
    return SbyJob(f"requant_ref_vectors_{spec.label()}", "qbert_requant_vectors", sources,
                  mode="bmc", depth=1, engine=engine,
                  description=f"reference == golden_model.requantize on {len(vecs)} vectors")


# --------------------------------------------------------------------------
# MAC processing element
# --------------------------------------------------------------------------

MAC_BUGS = {
    "none": "correct",
    "narrow_acc": "accumulator one bit narrower than acc_bits_for(k_max)",
    "unsigned_weight": "weight zero-extended instead of sign-extended",
    "clear_drops_bias": "clr loads 0 instead of the bias",
}


@dataclasses.dataclass(frozen=True)
class MacSpec:
    """One MAC PE: int8 activations x int8/int4 weights, bias, up to k_max terms."""
    k_max: int = 384
    act_bits: int = 8
    weight_bits: int = 8
    bias_bits: int = 32

    def __post_init__(self):
        if isinstance(self.k_max, bool) or not isinstance(self.k_max, int) or not 1 <= self.k_max <= 1 << 20:
            raise ValueError(f"k_max must be an integer in [1, 2^20], got {self.k_max!r}")
        validate_bits("act_bits", self.act_bits, 2, 16)
        if self.weight_bits not in (4, 8):
            raise ValueError(f"weight_bits must be 4 or 8, got {self.weight_bits!r}")
        validate_bits("bias_bits", self.bias_bits, 2, 32)

    @property
    def acc_bits(self) -> int:
        return acc_bits_for(self.k_max, self.act_bits, self.weight_bits, self.bias_bits)

    @property
    def product_range(self) -> tuple[int, int]:
        alo, ahi = int_range(self.act_bits)
        wlo, whi = int_range(self.weight_bits)
        prods = [alo * wlo, alo * whi, ahi * wlo, ahi * whi]
        return min(prods), max(prods)

    def label(self) -> str:
        return f"a{self.act_bits}w{self.weight_bits}b{self.bias_bits}_k{self.k_max}"


def mac_dut_sv(spec: MacSpec, *, bug: str = "none", name: str = "qbert_mac_pe") -> str:
    """A MAC PE honouring the port contract, accumulator sized by acc_bits_for."""
    if bug not in MAC_BUGS:
        raise ValueError(f"bug must be one of {', '.join(MAC_BUGS)}, got {bug!r}")
    acc = spec.acc_bits - (1 if bug == "narrow_acc" else 0)
    A, W, B = spec.act_bits, spec.weight_bits, spec.bias_bits
    wext = "$signed({1'b0, w})" if bug == "unsigned_weight" else "w"
    base = f"{acc}'sd0" if bug == "clear_drops_bias" else "bias"
    return f"""`default_nettype none
module {name} (
    input  wire clk,
    input  wire rst,
    input  wire clr,
    input  wire en,
    input  wire signed [{A - 1}:0] a,
    input  wire signed [{W - 1}:0] w,
    input  wire signed [{B - 1}:0] bias,
    output reg  signed [{acc - 1}:0] acc
);
    wire signed [{A + W - 1}:0] prod = a * {wext};
    wire signed [{acc - 1}:0] base = clr ? {base} : acc;
    always @(posedge clk) begin
        if (rst) acc <= {acc}'sd0;
        else acc <= base + (en ? prod : {A + W}'sd0);
    end
endmodule
`default_nettype wire
"""


def mac_harness_sv(spec: MacSpec, dut_top: str, dut_acc_bits: int,
                   claimed_acc_bits: int | None = None) -> str:
    """Top ``qbert_mac_equiv``: DUT vs a wide ghost accumulator with a term counter.

    Ghosts: ``g_acc`` (64-bit, the spec value, never wraps), ``g_bias`` (the
    bias loaded by the last clr) and ``k`` (terms accumulated since it).  The
    environment never accumulates more than k_max terms after a clr.  Asserted
    every cycle (all linear): k <= k_max; k*pmin <= g_acc - g_bias <= k*pmax;
    g_acc within the acc_bits_for range (no overflow); DUT acc == g_acc.
    """
    A, W, B = spec.act_bits, spec.weight_bits, spec.bias_bits
    pmin, pmax = spec.product_range
    alo, ahi = int_range(claimed_acc_bits or spec.acc_bits)
    kw = max(2, (spec.k_max + 1).bit_length() + 1)
    G = 64

    def c(v: int) -> str:
        return f"-{G}'sd{-v}" if v < 0 else f"{G}'sd{v}"
    return f"""`default_nettype none
module qbert_mac_equiv (
    input wire clk,
    input wire rst,
    input wire clr,
    input wire en,
    input wire signed [{A - 1}:0] a,
    input wire signed [{W - 1}:0] w,
    input wire signed [{B - 1}:0] bias
);
    wire signed [{dut_acc_bits - 1}:0] acc;
    {dut_top} dut (.clk(clk), .rst(rst), .clr(clr), .en(en), .a(a), .w(w), .bias(bias), .acc(acc));
`ifdef FORMAL
    reg first = 1'b1;
    always @(posedge clk) first <= 1'b0;
    reg signed [{G - 1}:0] g_acc = 0, g_bias = 0;
    reg [{kw - 1}:0] k = 0;
    wire signed [{G - 1}:0] term = a * w;                  // the spec's product, 64-bit
    wire signed [{G - 1}:0] g_base = clr ? bias : g_acc;
    wire signed [{G - 1}:0] g_acc_x = acc;                 // DUT value, sign-extended
    wire signed [{G - 1}:0] k_x = {{{{{G - kw}{{1'b0}}}}, k}};
    always @(*) begin
        if (first) assume (rst);
        // the matmul never sums more than k_max terms into one output
        if (!rst && en && !clr) assume (k < {spec.k_max});
    end
    always @(posedge clk) begin
        if (rst) begin
            g_acc <= 0; g_bias <= 0; k <= 0;
        end else begin
            g_acc <= g_base + (en ? term : 0);
            if (clr) begin g_bias <= bias; k <= en ? 1 : 0; end
            else if (en) k <= k + 1'b1;
        end
    end
    always @(*) if (!first) begin
        assert (k <= {spec.k_max});                                     // M1 term_count
        assert (g_acc - g_bias >= k_x * {c(pmin)});                     // M2 acc_bound: k*pmin <= acc - bias
        assert (g_acc - g_bias <= k_x * {c(pmax)});                     // M2 acc_bound: acc - bias <= k*pmax
        assert (g_bias >= {c(int_range(B)[0])} && g_bias <= {c(int_range(B)[1])});  // M3 bias_range
        assert (g_acc >= {c(alo)} && g_acc <= {c(ahi)});               // M4 no_overflow: acc fits acc_bits_for(k_max)
        assert (g_acc_x == g_acc);                                      // M5 acc_equal: DUT acc == spec
    end
`endif
endmodule
`default_nettype wire
"""


def mac_equiv_job(spec: MacSpec, dut_sources: dict, dut_top: str = "qbert_mac_pe", *,
                  dut_acc_bits: int | None = None, engine: str = "smtbmc yices",
                  mode: str = "prove", depth: int = 3, name: str | None = None,
                  claimed_acc_bits: int | None = None) -> SbyJob:
    """SBY job: MAC PE == spec and no overflow for any K <= k_max, unbounded.

    ``claimed_acc_bits`` replaces acc_bits_for(k_max) in the no-overflow
    assertion M4 (to show that one bit fewer is not enough).
    """
    sources = dict(dut_sources)
    sources["qbert_mac_equiv.sv"] = mac_harness_sv(spec, dut_top, dut_acc_bits or spec.acc_bits,
                                                   claimed_acc_bits)
    return SbyJob(name or f"mac_equiv_{spec.label()}", "qbert_mac_equiv", sources, mode=mode,
                  depth=depth, engine=engine,
                  description=f"MAC PE == acc+a*w, no overflow for K <= {spec.k_max} "
                              f"(acc {spec.acc_bits} bits, {spec.label()})")


# --------------------------------------------------------------------------
# Softmax exp stage
# --------------------------------------------------------------------------
#
# Port contract (``rtl_gen.softmax.build_exp``, module qbert_softmax_exp):
#
#     module <top> (input  [LANES*DIFF_BITS-1:0] d_i,   // lane i: signed d = x - max <= 0
#                   output [LANES*EXP_BITS-1:0]  e_o);  // lane i: int_exp(d), unsigned
#
# combinational.  The reference is golden_model.softmax.int_exp line for line,
# with the quotient by a divide (the DUT counts comparator hits instead).

def exp_ref_width(spec) -> int:
    """Signed width of the reference's arithmetic: holds d (diff_bits) and every
    value r, r + b, (r + b) * r, z takes for r in (x0, 0]
    (:func:`formal.lemmas.exp_poly_width` proves it over the integers), so the
    reference computes the numpy model's int64 integers exactly."""
    from golden_model.widths import bits_for
    from golden_model.softmax import N_CLAMP
    bound = (abs(spec.x0) + abs(spec.b)) * abs(spec.x0) + abs(spec.c)
    return max(spec.diff_bits, bits_for(N_CLAMP * spec.x0, 0), bits_for(-bound, bound))


def _sconst(v: int, w: int) -> str:
    return f"-{w}'sd{-v}" if v < 0 else f"{w}'sd{v}"


def exp_ref_sv(spec, name: str = "qbert_softmax_exp_ref", lane_bits: int | None = None) -> str:
    """Combinational ``int_exp`` of one value (golden_model.softmax), in W-bit signed
    integers; ``d`` is ``lane_bits`` wide (default diff_bits), its value in the
    golden model's domain [-2^(diff_bits-1), 0]."""
    from golden_model.softmax import N_CLAMP
    from golden_model.widths import bits_for
    DW, EB, W = lane_bits or spec.diff_bits, spec.exp_bits, exp_ref_width(spec)
    CW = max(DW, bits_for(N_CLAMP * spec.x0, 0))    # d and the clamp bound 30*x0
    k = lambda v: _sconst(v, W)  # noqa: E731
    kd = lambda v: _sconst(v, CW)  # noqa: E731
    return f"""`default_nettype none
module {name} (
    input  wire signed [{DW - 1}:0] d,
    output wire        [{EB - 1}:0] e
);
    // golden_model.softmax.int_exp: clamp, q = d // x0, r = d - x0*q, z = (r + b)*r + c, z >> q
    wire signed [{CW - 1}:0] dx = d;
    wire signed [{CW - 1}:0] dc = (dx < {kd(N_CLAMP * spec.x0)}) ? {kd(N_CLAMP * spec.x0)} : dx;
    // dc <= 0 and x0 < 0: the quotient is >= 0, so Verilog's truncating / is floor
    wire signed [{CW - 1}:0] q = dc / {kd(spec.x0)};
    wire signed [{CW - 1}:0] rd = dc - {kd(spec.x0)} * q;   // in (x0, 0]
    wire signed [{W - 1}:0] r = rd;
    wire signed [{W - 1}:0] z = (r + {k(spec.b)}) * r + {k(spec.c)};
    wire signed [{W - 1}:0] ez = z >>> q;
    assign e = ez[{EB - 1}:0];
endmodule
`default_nettype wire
"""


def exp_harness_sv(spec, lanes: int, dut_top: str, ref_top: str = "qbert_softmax_exp_ref",
                   check_lanes=None, lane_bits: int | None = None) -> str:
    """Top ``qbert_softmax_exp_equiv``: lanes ``check_lanes`` (default all) of the
    DUT (``lane_bits`` per lane of d_i, default diff_bits) == the reference, for
    every d in [-2^(diff_bits-1), 0] (the only assumption: d is x - row max)."""
    DW, EB, L = lane_bits or spec.diff_bits, spec.exp_bits, lanes
    dlo = 1 << (spec.diff_bits - 1)
    lines = []
    for i in (range(L) if check_lanes is None else check_lanes):
        lines.append(f"    wire [{EB - 1}:0] e_ref{i};\n"
                     f"    {ref_top} ref{i} (.d(d_i[{i * DW + DW - 1}:{i * DW}]), .e(e_ref{i}));\n"
                     f"    always @(*) begin\n"
                     f"        assume ($signed(d_i[{i * DW + DW - 1}:{i * DW}]) <= 0);\n"
                     f"        assume ($signed(d_i[{i * DW + DW - 1}:{i * DW}]) >= -{DW}'sd{dlo});\n"
                     f"        assert (e_o[{i * EB + EB - 1}:{i * EB}] == e_ref{i});   // X{i} exp_equal\n"
                     f"        assert (e_ref{i} <= {EB}'d{spec.z_max});   // X{i} exp_equal: range\n"
                     f"    end\n")
    return f"""`default_nettype none
module qbert_softmax_exp_equiv (
    input wire clk,
    input wire [{L * DW - 1}:0] d_i
);
    wire [{L * EB - 1}:0] e_o;
    {dut_top} dut (.d_i(d_i), .e_o(e_o));
`ifdef FORMAL
{"".join(lines)}`endif
endmodule
`default_nettype wire
"""


def exp_equiv_job(spec, lanes: int, dut_sources: dict, dut_top: str = "qbert_softmax_exp", *,
                  engine: str = "smtbmc yices", mode: str = "bmc", lane: int | None = None,
                  lane_bits: int | None = None, name: str | None = None) -> SbyJob:
    """SBY job: the exp stage == int_exp on lane ``lane`` (default every lane), every
    d <= 0.  The circuit is combinational (no state), so one BMC step covers
    every input: it is the whole, unbounded proof."""
    sources = dict(dut_sources)
    sources["qbert_softmax_exp_ref.sv"] = exp_ref_sv(spec, lane_bits=lane_bits)
    sources["qbert_softmax_exp_equiv.sv"] = exp_harness_sv(
        spec, lanes, dut_top, check_lanes=None if lane is None else [lane], lane_bits=lane_bits)
    label = f"i{spec.in_bits}f{spec.frac_bits}_l{lanes}" + ("" if lane is None else f"_lane{lane}")
    return SbyJob(name or f"softmax_exp_equiv_{label}", "qbert_softmax_exp_equiv", sources,
                  mode=mode, depth=1, engine=engine,
                  description=f"softmax exp stage == golden int_exp, all d <= 0 ({label})")


def exp_vectors(spec, n_random: int = 24, seed: int = 5) -> list[tuple[int, int]]:
    """(d, int_exp(d)): the segment edges j*x0 +- 1, the clamp, the range ends, random draws."""
    import numpy as np
    from golden_model.softmax import N_CLAMP, int_exp
    lo = -(1 << (spec.diff_bits - 1))
    ds = {0, -1, lo, lo + 1}
    for j in range(1, N_CLAMP + 2):
        ds.update({j * spec.x0 - 1, j * spec.x0, j * spec.x0 + 1})
    rng = np.random.default_rng(seed)
    ds.update(int(v) for v in rng.integers(lo, 1, n_random))
    ds = sorted(d for d in ds if lo <= d <= 0)
    es = int_exp(np.array(ds, dtype=np.int64), spec)
    return [(d, int(e)) for d, e in zip(ds, es)]


def exp_vectors_job(spec, *, engine: str = "smtbmc yices", vectors: list | None = None) -> SbyJob:
    """Ties the Verilog exp reference to the numpy golden model on concrete vectors."""
    vecs = vectors if vectors is not None else exp_vectors(spec)
    DW, EB = spec.diff_bits, spec.exp_bits
    body = "".join(f"    wire [{EB - 1}:0] e{i};\n"
                   f"    qbert_softmax_exp_ref r{i} (.d({_sconst(d, DW)}), .e(e{i}));\n"
                   f"    always @(*) assert (e{i} == {EB}'d{e});  // V{i} golden: d={d}\n"
                   for i, (d, e) in enumerate(vecs))
    top = ("`default_nettype none\nmodule qbert_softmax_exp_vectors (input wire clk);\n`ifdef FORMAL\n"
           + body + "`endif\nendmodule\n`default_nettype wire\n")
    return SbyJob(f"softmax_exp_ref_vectors_i{spec.in_bits}f{spec.frac_bits}", "qbert_softmax_exp_vectors",
                  {"qbert_softmax_exp_ref.sv": exp_ref_sv(spec), "qbert_softmax_exp_vectors.sv": top},
                  mode="bmc", depth=1, engine=engine,
                  description=f"exp reference == golden_model.int_exp on {len(vecs)} vectors")
