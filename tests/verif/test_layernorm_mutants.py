"""Mutation check of the LayerNorm testbench: single-point bugs in the generated
Verilog must each make `qbert sim layernorm --rtl DIR` exit 1.

Each mutant needs its own Verilator build and run (~50 s here).  The default
run takes four (isqrt compare, variance shift -- also reproduced from its
report --, normalization rounding, the sticky length error); seven more
(rounded mean, variance identity, std guard, gamma sign, a lane's square, bank
handshake both ways, the normalize's rounding tie, the factor divider's
compare tie) run under -m slow.  All thirteen were seen caught.
"""
import os
import subprocess
import sys

import pytest

from rtl_gen.layernorm import LayerNormConfig, generate

# H = 8 (var_shift = 3, norm_shift = 20): a 4-beat vector, quick to build and run.
# 16-bit outputs: with gamma = 1, M = 2^30, s = 30 (the cases' "identity" mode)
# the output is n itself, so a one-LSB error of n cannot hide in the requantizer
CFG = LayerNormConfig(hidden=8, lanes=2, out_bits=16)
EXAMPLES, SEED = 100, int(os.environ.get("QBERT_MUTANT_SEED", "4242"))
TOP, ISQRT = "qbert_layernorm.v", "qbert_isqrt_x32.v"
FACTOR_DIV = f"{CFG.factor_divider.module_name}.v"

#: name -> (file, original text, mutated text): the original occurs exactly once
MUTANTS = {
    "isqrt_compare": (ISQRT, "assign take = rem_d >= trial;", "assign take = rem_d > trial;"),
    "variance_shift": (TOP, "assign var_d = var_sum[34:3];", "assign var_d = var_sum[33:2];"),
}
SLOW_MUTANTS = {
    "norm_rounding_dropped": (TOP, "assign l0_yf = $signed({ { 33{ l0_y[16] } }, l0_y }) * "
                                   "$signed({ 18'd0, r_factor_q }) + 50'd524288;",
                              "assign l0_yf = $signed({ { 33{ l0_y[16] } }, l0_y }) * "
                              "$signed({ 18'd0, r_factor_q }) + 50'd0;"),
    "length_error_never_set": (TOP, "            err_len_q <= 1'd1;\n          end \n        end else begin\n          ld_ptr_q",
                               "            err_len_q <= 1'd0;\n          end \n        end else begin\n          ld_ptr_q"),
    # floor((S + H*2^15) / H) instead of floor((S + H/2 + H*2^15) / H)
    "mean_not_rounded": (TOP, "sc_sum_q } + 20'd262148;", "sc_sum_q } + 20'd262144;"),
    "variance_identity_h": (TOP, "sc_mm_q * 35'd8;", "sc_mm_q * 35'd7;"),
    "std_zero_guard": (TOP, "(sqrt_root == 16'd0)? 16'd1 : sqrt_root",
                       "(sqrt_root == 16'd0)? 16'd0 : sqrt_root"),
    "gamma_sign_extension": (TOP, "$signed({ { 16{ s1_gamma0_q[15] } }, s1_gamma0_q })",
                             "$signed({ 16'd0, s1_gamma0_q })"),
    "square_of_one_lane_dropped": (TOP, "assign beat_sq = { 3'd0, in_sq0 } + { 3'd0, in_sq1 };",
                                   "assign beat_sq = { 3'd0, in_sq0 };"),
    # the load side overwrites a bank still waiting to be normalized
    "load_ignores_bank_state": (TOP, "assign in_ok = (bank_state_q[ld_bank_q] == 2'd0) && ",
                                "assign in_ok = "),
    # a read-out bank is never freed: it is read out again and again
    "bank_never_freed": (TOP, "          bank_state_q[rd_bank_q] <= 2'd0;\n", ""),
    # the normalize rounds half down (wrong only where y * factor sits exactly on
    # the tie: a power-of-two std, the cases' "pow2_std" vectors)
    "norm_round_half_down": (TOP, "assign l1_yf = $signed({ { 33{ l1_y[16] } }, l1_y }) * "
                                  "$signed({ 18'd0, r_factor_q }) + 50'd524288;",
                             "assign l1_yf = $signed({ { 33{ l1_y[16] } }, l1_y }) * "
                             "$signed({ 18'd0, r_factor_q }) + 50'd524287;"),
    # the factor divider's second step of a cycle takes > for >= (wrong only at a
    # power-of-two std whose quotient bit falls on that step)
    "factor_divider_step1": (FACTOR_DIV, "assign take1 = trial1 >= { 1'd0, den_q };",
                             "assign take1 = trial1 > { 1'd0, den_q };"),
}
# Protocol-only mutants (tvalid withdrawn under stall, the pipeline ignoring
# tready) are caught by the k-induction proof of the top: tests/formal/test_layernorm_proof.py.

#: what the failure report must say, where one particular check must catch it
NEEDLE = {"length_error_never_set": "err_len_o not set by a",
          "bank_never_freed": "output frame(s) beyond the"}


def _mutant_rtl(tmp_path, name, table, plant):
    fname, old, new = table[name]
    rtl = tmp_path / "rtl"
    generate(CFG, rtl)
    plant(rtl / fname, old, new)
    return rtl


def _sim(rtl):
    return subprocess.run([sys.executable, "-m", "scripts.cli", "sim", "layernorm", "--rtl",
                           str(rtl), "--examples", str(EXAMPLES), "--seed", str(SEED)],
                          capture_output=True, text=True, timeout=900)


def _check_caught(name, r):
    assert r.returncode == 1, (f"mutant {name} survived (exit {r.returncode}):\n"
                               f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    assert "reproduce with:" in r.stderr
    if name in NEEDLE:
        assert NEEDLE[name] in r.stdout + r.stderr
    else:
        assert "MISMATCH" in r.stderr


@pytest.mark.parametrize("name", [n for n in MUTANTS if n != "variance_shift"])
def test_mutant_is_caught(tmp_path, name, plant_mutant):
    _check_caught(name, _sim(_mutant_rtl(tmp_path, name, MUTANTS, plant_mutant)))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW_MUTANTS))
def test_slow_mutant_is_caught(tmp_path, name, plant_mutant):
    _check_caught(name, _sim(_mutant_rtl(tmp_path, name, SLOW_MUTANTS, plant_mutant)))


def test_variance_shift_mutant_is_caught_and_reproduced(tmp_path, plant_mutant,
                                                       caught_and_reproduced):
    """The variance shift one bit short: the report names the first differing
    output and its scalars, and its command line reproduces the same case."""
    rtl = _mutant_rtl(tmp_path, "variance_shift", MUTANTS, plant_mutant)
    caught_and_reproduced("layernorm", rtl, r"first at out\[\d+\]\[\d+\].*var = \d+", EXAMPLES)


def test_unmutated_passes_same_run(tmp_path):
    """The same run on the unmutated RTL exits 0 (the mutants fail for the mutation)."""
    rtl = tmp_path / "rtl"
    generate(CFG, rtl)
    r = _sim(rtl)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
