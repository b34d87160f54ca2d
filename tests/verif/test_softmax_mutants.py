"""Mutation check of the softmax testbench: single-point bugs in the generated
Verilog must each be caught by simulation: a mutant of the top or of the
divider it instantiates makes `qbert sim softmax --rtl DIR` exit 1; a mutant of the exp submodule
(qbert_softmax_exp) makes its exhaustive check (every d of diff_bits against
int_exp, verif/softmax_exp_tb.py) fail.  (An exp off by one moves a 7-bit
probability only at rare rounding ties, so the random unit-level run is not
the check that owns the exp stage; the exhaustive one is.)

Each mutant needs its own Verilator build; with the small Config below and
100 examples the set runs in a few minutes on 2 cores (quoted in docs/softmax.md).
"""
import os
import subprocess
import sys

import pytest

from rtl_gen.softmax import EXP_TOP, TOP, SoftmaxConfig, generate

CFG = SoftmaxConfig(lanes=4, max_len=16)
EXAMPLES, SEED = 100, int(os.environ.get("QBERT_MUTANT_SEED", "4242"))

#: name -> (file, original text, mutated text): the original occurs exactly once
MUTANTS = {
    # an operator: the row sum subtracts a beat's lanes
    "sum_operator": (TOP, "assign row_sum_d = sum_q + lane_sum;",
                     "assign row_sum_d = sum_q - lane_sum;"),
    # a constant of the polynomial, lane 0 only: c + 1
    "poly_constant_c": (EXP_TOP, "assign l0_z = $signed(l0_rb) * $signed(l0_r) + $signed(21'h2cac8);",
                        "assign l0_z = $signed(l0_rb) * $signed(l0_r) + $signed(21'h2cac9);"),
    # the other constant of the polynomial, lane 0 only: b - 1
    "poly_constant_b": (EXP_TOP, "assign l0_rb = l0_r + 21'h2b5;", "assign l0_rb = l0_r + 21'h2b4;"),
    # the shared divider's compare (its first step of a cycle): >= becomes >
    # (wrong when a trial equals the sum: rows whose exp sum is a power of two)
    "divider_compare": (CFG.divider.module_name, "assign take0 = trial0 >= { 1'd0, den_q };",
                        "assign take0 = trial0 > { 1'd0, den_q };"),
    # the divider's second step of a cycle: >= becomes > (the sums 2^t with t of
    # the other parity than the first step's)
    "divider_compare_step1": (CFG.divider.module_name, "assign take1 = trial1 >= { 1'd0, den_q };",
                              "assign take1 = trial1 > { 1'd0, den_q };"),
    # the output rounds half down, lane 1 only (wrong only where e * factor sits
    # exactly on a rounding tie)
    "output_round_half_down": (
        TOP, "assign l1_prod = { 16'h0, l1_er } * { 19'h0, od_factor_q } + 34'h1000000;",
        "assign l1_prod = { 16'h0, l1_er } * { 19'h0, od_factor_q } + 34'hffffff;"),
    # the max update: the lane compare tree keeps the smaller of lanes 0 and 1
    "lane_max_compare": (TOP, "assign bmax_0 = ($signed(in_kx0) < $signed(in_kx1))? in_kx1 : in_kx0;",
                         "assign bmax_0 = ($signed(in_kx0) > $signed(in_kx1))? in_kx1 : in_kx0;"),
    # the output shift: lane 0 takes its bits one place too low
    "output_shift": (TOP, "assign l0_p = (l0_prod[33:32] == 2'h0)? l0_prod[31:25] : 7'h7f;",
                     "assign l0_p = (l0_prod[33:32] == 2'h0)? l0_prod[30:24] : 7'h7f;"),
    # a lane past the end of the row (tkeep low) takes part in the max
    "tkeep_ignored_in_max": (TOP, "assign in_kx3 = (s_axis_tkeep[3])? in_x3 : 16'h8000;",
                             "assign in_kx3 = in_x3;"),
    # the row sum is not cleared between rows
    "sum_not_cleared": (TOP, "sum_q <= (ew_last_q)? 22'h0 : row_sum_d;", "sum_q <= row_sum_d;"),
    # the output register moves on under backpressure (only the AXI monitor and
    # lost beats show it)
    "output_register_ignores_stall": (
        TOP, "    if(out_en) begin\n      out_data_q <=", "    if(1'b1) begin\n      out_data_q <="),
    # bank 0 is freed by any output beat taken, not only the row's last
    "bank_freed_early": (TOP, "if(out_valid_q && m_axis_tready && out_last_q && (out_bank_q == 2'h0))",
                         "if(out_valid_q && m_axis_tready && (out_bank_q == 2'h0))"),
    # the over-long-row flag is never raised
    "err_len_never_set": (TOP, "err_len_q <= 1'h1;", "err_len_q <= 1'h0;"),
}

#: run only under `pytest -m slow` (tox -e mutants, tox -e fuzz), to keep the
#: default run short (each mutant is a Verilator build); all of them together
#: cover the brief's operator, polynomial constant, divider compare, max
#: update, output shift and the bank hand-off
SLOW = {"poly_constant_b", "tkeep_ignored_in_max", "sum_not_cleared",
        "output_register_ignores_stall", "err_len_never_set",
        # in tox -e mutants only, to keep the default run short
        "poly_constant_c", "lane_max_compare", "bank_freed_early",
        "divider_compare_step1", "output_round_half_down"}

#: what the failure report must say, where one particular check must catch it
NEEDLE = {"err_len_never_set": "err_len_o not set by a row longer than max_len"}


def _sim(rtl):
    return subprocess.run([sys.executable, "-m", "scripts.cli", "sim", "softmax", "--rtl", str(rtl),
                           "--examples", str(EXAMPLES), "--seed", str(SEED)],
                          capture_output=True, text=True, timeout=900)


def _exp_exhaustive(rtl):
    from verif import runner
    return runner.run("softmax_exp", sources=[rtl / f"{EXP_TOP}.v"], toplevel=EXP_TOP,
                      test_module="verif.softmax_exp_tb", rtl_dir=rtl, params=CFG.to_params())


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in MUTANTS])
def test_mutant_is_caught(tmp_path, name, plant_mutant):
    rtl = tmp_path / "rtl"
    generate(CFG, rtl)
    top, old, new = MUTANTS[name]
    plant_mutant(rtl / f"{top}.v", old, new)
    if top == EXP_TOP:
        res = _exp_exhaustive(rtl)
        assert not res.passed and res.failed == 1, f"mutant {name} survived the exhaustive exp check"
        return
    r = _sim(rtl)
    assert r.returncode == 1, (f"mutant {name} survived (exit {r.returncode}):\n"
                               f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    assert "reproduce with:" in r.stderr
    if name in NEEDLE:
        assert NEEDLE[name] in r.stdout + r.stderr


def test_unmutated_passes_same_runs(tmp_path):
    """The same runs on the unmutated RTL pass (the mutants fail for the mutation)."""
    rtl = tmp_path / "rtl"
    generate(CFG, rtl)
    r = _sim(rtl)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert _exp_exhaustive(rtl).passed
