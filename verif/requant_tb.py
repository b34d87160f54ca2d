"""cocotb test module of the requant unit (run through verif/runner.py): the
Hypothesis property under random stalls, and a no-stall run that measures the
latency and the throughput."""
from __future__ import annotations

import os

import cocotb

from rtl_gen.requant import IN, PRM, RequantConfig
from verif.elementwise import check_property, elementwise_tb, measure_and_check
from verif.requant_cases import (long_requant_case, requant_cases, requant_describe, requant_expected,
                                 requant_words)
from verif.tb import write_info


def _tb(dut):
    cfg = RequantConfig.load(os.environ["QBERT_RTL_DIR"])
    return cfg, elementwise_tb(dut)(dut, [IN, PRM], cfg.lanes, cfg.out_bits)


@cocotb.test()
async def requant_matches_golden(dut):
    """Every output element equals golden_model.quant.requantize, under random stalls."""
    cfg, tb = _tb(dut)
    write_info(await check_property(
        dut, "requant", tb, requant_cases(cfg), lambda c: requant_expected(cfg, c),
        lambda c: requant_words(cfg, c), lambda c, bad: requant_describe(cfg, c, bad)))


@cocotb.test()
async def requant_throughput(dut):
    """No stalls, 256 beats: bit-exact, documented latency, one beat a cycle."""
    cfg, tb = _tb(dut)
    c = long_requant_case(cfg)
    write_info(await measure_and_check(dut, tb, c, requant_words(cfg, c), requant_expected(cfg, c),
                                       cfg.latency))
