"""cocotb test module of the exp stage alone (rtl_gen.softmax.build_exp).

Exhaustive: every d in [QBERT_EXP_LO, 0] (default the whole diff_bits range
of the Config, e.g. [-2^16, 0] for 16-bit scores) through the combinational
exp lanes, LANES values at a time, each compared with
golden_model.softmax.int_exp.
"""
from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.triggers import Timer

from golden_model.softmax import int_exp
from rtl_gen.softmax import SoftmaxConfig
from verif.tb import env_int


@cocotb.test()
async def exp_stage_exhaustive(dut):
    cfg = SoftmaxConfig.load(os.environ["QBERT_RTL_DIR"])
    spec = cfg.spec
    L, DW, EB = cfg.lanes, cfg.diff_bits, spec.exp_bits
    lo = env_int("QBERT_EXP_LO", -(1 << (spec.diff_bits - 1)))
    ds = np.arange(lo, 1, dtype=np.int64)
    exp = int_exp(ds, spec)
    pad = (-len(ds)) % L
    dpad = np.concatenate([ds, np.zeros(pad, dtype=np.int64)])
    mask = (1 << DW) - 1
    bad = []
    for j in range(0, len(dpad), L):
        word = 0
        for i in range(L):
            word |= (int(dpad[j + i]) & mask) << (i * DW)
        dut.d_i.value = word
        await Timer(1, unit="ns")
        out = dut.e_o.value.to_unsigned()
        for i in range(L):
            k = j + i
            if k < len(ds):
                e = (out >> (i * EB)) & ((1 << EB) - 1)
                if e != int(exp[k]):
                    bad.append((int(ds[k]), int(exp[k]), e))
    if bad:
        d, e, g = bad[0]
        raise AssertionError(f"exp stage: {len(bad)} of {len(ds)} inputs differ; first at d = {d}: "
                             f"expected int_exp = {e}, got {g}")
    dut._log.info("exp stage: all %d inputs d in [%d, 0] equal int_exp", len(ds), lo)
    info = os.environ.get("QBERT_INFO_FILE")
    if info:
        with open(info, "w") as f:
            f.write(f'{{"exp_inputs": {len(ds)}}}')
