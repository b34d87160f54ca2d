"""cocotb test module of the GELU unit (run through verif/runner.py).

Environment (set by the runner): QBERT_RTL_DIR (the folder with params.json),
QBERT_EXAMPLES, QBERT_SEED, QBERT_REPRO, QBERT_INFO_FILE (counts, latency and
throughput go there).
"""
from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.triggers import with_timeout

from golden_model.gelu import int_gelu
from rtl_gen.gelu import IN, GeluConfig
from verif.elementwise import check_property, elementwise_tb, measure_stream, pack, unpack
from verif.gelu_cases import cases, describe, expected, words
from verif.tb import CLOCK_NS, write_info as _write_info


def _tb(dut):
    cfg = GeluConfig.load(os.environ["QBERT_RTL_DIR"])
    return cfg, elementwise_tb(dut)(dut, [IN], cfg.lanes, cfg.out_bits)


@cocotb.test()
async def gelu_matches_golden(dut):
    """Every output element equals golden_model.gelu.int_gelu, under random stalls."""
    cfg, tb = _tb(dut)
    stats = await check_property(dut, "gelu", tb, cases(cfg), lambda c: expected(cfg, c),
                                 lambda c: words(cfg, c), lambda c, bad: describe(cfg, c, bad))
    _write_info(stats)


@cocotb.test()
async def gelu_exhaustive(dut):
    """Every value of the input width once, in one frame with no stalls; measures
    the latency (first beat taken -> first result offered) and the throughput."""
    cfg, tb = _tb(dut)
    n = 1 << cfg.in_bits
    xs = np.arange(-(n // 2), n // 2, dtype=np.int64)
    xs = np.concatenate([xs, np.zeros((-n) % cfg.lanes, dtype=np.int64)])
    frame = pack(xs, cfg.lanes, cfg.in_bits)
    m = await measure_stream(tb, dut, {IN: [frame]}, 4 * len(frame) + 100)
    f = await with_timeout(tb.out.recv(), 100 * CLOCK_NS, "ns")
    got = unpack(list(f.tdata), cfg.lanes, cfg.out_bits)
    exp = int_gelu(xs, cfg.spec)
    bad = np.flatnonzero(got != exp)
    if len(bad):
        i = int(bad[0])
        raise AssertionError(f"gelu exhaustive: {len(bad)} of {n} inputs differ; first at "
                             f"x = {int(xs[i])}: expected int_gelu = {int(exp[i])}, got {int(got[i])}")
    per_cycle = len(frame) * cfg.lanes / (m["cycles"] - m["latency"])
    dut._log.info("gelu exhaustive: all %d inputs bit-exact; latency %d cycles, %d beats in "
                  "%d cycles (%.3f elements/cycle after the first result)", n, m["latency"],
                  len(frame), m["cycles"], per_cycle)
    assert m["latency"] == cfg.latency, f"latency {m['latency']} != documented {cfg.latency}"
    _write_info({"exhaustive_inputs": n, "latency": m["latency"], "cycles": m["cycles"],
                 "beats": len(frame), "elements_per_cycle": per_cycle})
