"""cocotb test module of the residual unit (run through verif/runner.py): the
Hypothesis property under random stalls, and a no-stall run that measures the
latency and the throughput."""
from __future__ import annotations

import os

import cocotb

from rtl_gen.residual import A, B, PRM, ResidualConfig
from verif.elementwise import check_property, elementwise_tb, measure_and_check
from verif.requant_cases import (long_residual_case, residual_cases, residual_describe, residual_expected,
                                 residual_words)
from verif.tb import write_info


def _tb(dut):
    cfg = ResidualConfig.load(os.environ["QBERT_RTL_DIR"])
    return cfg, elementwise_tb(dut)(dut, [A, B, PRM], cfg.lanes, cfg.out_bits)


@cocotb.test()
async def residual_matches_golden(dut):
    """Every output element equals golden_model.elementwise.residual_add, under random stalls."""
    cfg, tb = _tb(dut)
    write_info(await check_property(
        dut, "residual", tb, residual_cases(cfg), lambda c: residual_expected(cfg, c),
        lambda c: residual_words(cfg, c), lambda c, bad: residual_describe(cfg, c, bad)))


@cocotb.test()
async def residual_throughput(dut):
    """No stalls, 256 beats: bit-exact, documented latency, one beat a cycle."""
    cfg, tb = _tb(dut)
    c = long_residual_case(cfg)
    write_info(await measure_and_check(dut, tb, c, residual_words(cfg, c), residual_expected(cfg, c),
                                       cfg.latency))
