"""cocotb test module of the softmax unit (run through verif/runner.py).

Environment (set by the runner): QBERT_RTL_DIR (the folder with params.json),
QBERT_EXAMPLES, QBERT_SEED, QBERT_REPRO (the command line that reproduces a
failure), QBERT_INFO_FILE (where the counts and the measured latency go).
"""
from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, SimTimeoutError, with_timeout

from golden_model.widths import int_range
from rtl_gen.softmax import DIV_STEPS, SoftmaxConfig
from verif.softmax_cases import (IN, OUT, SoftmaxCase, cases, describe_mismatch, expected, pack,
                                 pad_bits, unpack)
from verif.tb import CLOCK_NS, StreamTB, env_int, run_property, write_info as _write_info


def _config() -> SoftmaxConfig:
    return SoftmaxConfig.load(os.environ["QBERT_RTL_DIR"])


class SoftmaxTB(StreamTB):
    def __init__(self, dut, cfg: SoftmaxConfig):
        super().__init__(dut)
        self.cfg = cfg
        self.src = self.source(IN)
        self.out = self.sink(OUT)
        self.monitor_master(OUT)

    async def run_case(self, c: SoftmaxCase) -> tuple[list[np.ndarray], int]:
        """Reset, stream every row, collect one output frame per row; (p rows, cycles)."""
        from cocotbext.axi import AxiStreamFrame
        cfg = self.cfg
        self.set_pauses(c.pauses)
        await self.reset()
        self.violations.clear()
        start = self.cycle
        for r in c.rows:
            self.src.send_nowait(AxiStreamFrame(pack(cfg, r)))
        slow = max([len(p) for p in c.pauses.values()] + [1])
        beats = sum(len(r) // cfg.lanes for r in c.rows)
        budget = (3 * beats + (DIV_STEPS + 16) * len(c.rows) + 50) * (slow + 1) * 2 + 200
        got = []
        for t, r in enumerate(c.rows):
            try:
                f = await with_timeout(self.out.recv(), budget * CLOCK_NS, "ns")
            except SimTimeoutError:
                raise AssertionError(
                    f"DUT hung: received {t} of {len(c.rows)} output rows within {budget} "
                    f"cycles (row lengths {[len(x) for x in c.rows]})") from None
            words = list(f.tdata)
            if len(words) != len(r) // cfg.lanes:
                raise AssertionError(f"output row {t} has {len(words)} beats up to tlast, "
                                     f"expected {len(r) // cfg.lanes}")
            if pad_bits(cfg, words):
                raise AssertionError(f"output row {t}: tdata pad bits above lanes*out_bits "
                                     f"are not 0")
            got.append(unpack(cfg, words))
        cycles = self.cycle - start
        await ClockCycles(self.clk, 2 * cfg.depth + DIV_STEPS + 8)
        if not self.out.empty():
            raise AssertionError(f"DUT sent {self.out.count()} output frame(s) beyond the "
                                 f"{len(c.rows)} expected rows")
        if self.violations:
            v, self.violations[:] = self.violations[0], []
            raise AssertionError(v)
        return got, cycles


@cocotb.test()
async def softmax_matches_golden(dut):
    """Every output element equals golden_model.softmax.int_softmax, under random stalls."""
    cfg = _config()
    tb = SoftmaxTB(dut, cfg)
    examples = env_int("QBERT_EXAMPLES", 60)
    seed = env_int("QBERT_SEED", 0)
    repro = os.environ.get("QBERT_REPRO", f"qbert sim softmax --seed {seed} --examples {examples}")
    stats = {"examples": 0, "outputs": 0}

    async def check(c: SoftmaxCase) -> None:
        got, _ = await tb.run_case(c)
        exp = expected(cfg, c)
        stats["examples"] += 1
        stats["outputs"] += sum(len(e) for e in exp)
        if any(not np.array_equal(e, g) for e, g in zip(exp, got)):
            raise AssertionError(describe_mismatch(cfg, c, exp, got))

    await run_property(cases(cfg), check, examples=examples, seed=seed, log=dut._log,
                       repro=repro)
    dut._log.info("softmax: %d examples, %d output elements, all bit-exact",
                  stats["examples"], stats["outputs"])
    _write_info(stats)


@cocotb.test()
async def softmax_latency(dut):
    """Directed, no stalls: cycles from the first input beat accepted to the first
    output beat valid, and the cycles a row occupies the unit, for 1 beat and for
    max_len; checked against the golden model too."""
    from cocotbext.axi import AxiStreamFrame
    cfg = _config()
    tb = SoftmaxTB(dut, cfg)
    rng = np.random.default_rng(7)
    lo, hi = int_range(cfg.in_bits)
    lo, hi = lo // 8, hi // 8     # mid-range scores
    lat = {}
    for beats in sorted({1, cfg.depth}):
        n = beats * cfg.lanes
        row = rng.integers(lo, hi + 1, n)
        tb.set_pauses({})
        await tb.reset()
        tb.src.send_nowait(AxiStreamFrame(pack(cfg, row)))
        first_in = first_out = None
        while True:
            await ReadOnly()   # the values the coming clock edge samples
            if first_in is None and int(dut.s_axis_tvalid.value) and int(dut.s_axis_tready.value):
                first_in = tb.cycle
            if first_out is None and int(dut.m_axis_tvalid.value):
                first_out = tb.cycle
            if int(dut.m_axis_tvalid.value) and int(dut.m_axis_tlast.value):
                busy = tb.cycle - first_in + 1
                break
            if tb.cycle - (first_in or tb.cycle) > 10 * n + 200:
                raise AssertionError("DUT hung in the latency test")
            await RisingEdge(dut.clk)
        f = await with_timeout(tb.out.recv(), 100 * CLOCK_NS, "ns")
        p = unpack(cfg, list(f.tdata))
        exp = expected(cfg, SoftmaxCase([row], {}))[0]
        assert np.array_equal(p, exp), describe_mismatch(cfg, SoftmaxCase([row], {}), [exp], [p])
        lat[n] = {"first_out": first_out - first_in, "busy": busy}
        dut._log.info("softmax latency, row of %d (%d beats): first output %d cycles after the "
                      "first input, row done after %d cycles (formula %d)", n, beats,
                      first_out - first_in, busy, cfg.latency(n))
        assert first_out - first_in == cfg.latency(n), (
            f"latency {first_out - first_in} != documented {cfg.latency(n)} for {beats} beats")
    # back to back, no stalls: cycles between the ends of successive rows
    n = cfg.max_len
    rows = [rng.integers(lo, hi + 1, n) for _ in range(3)]
    tb.set_pauses({})
    await tb.reset()
    for r in rows:
        tb.src.send_nowait(AxiStreamFrame(pack(cfg, r)))
    ends = []
    while len(ends) < len(rows):
        await ReadOnly()
        if (int(dut.m_axis_tvalid.value) and int(dut.m_axis_tready.value)
                and int(dut.m_axis_tlast.value)):
            ends.append(tb.cycle)
        if tb.cycle > 20 * n + 500:
            raise AssertionError("DUT hung in the throughput test")
        await RisingEdge(dut.clk)
    for r in rows:
        f = await with_timeout(tb.out.recv(), 100 * CLOCK_NS, "ns")
        p = unpack(cfg, list(f.tdata))
        exp = expected(cfg, SoftmaxCase([r], {}))[0]
        assert np.array_equal(p, exp), describe_mismatch(cfg, SoftmaxCase([r], {}), [exp], [p])
    periods = [b - a for a, b in zip(ends, ends[1:])]
    dut._log.info("softmax back-to-back rows of %d: a row every %s cycles (formula %d)",
                  n, periods, cfg.row_period(n))
    assert periods == [cfg.row_period(n)] * (len(rows) - 1), (
        f"row period {periods} != documented {cfg.row_period(n)}")
    _write_info({"latency": lat, "row_period": {n: periods}})


@cocotb.test()
async def softmax_overlong_row_is_cut(dut):
    """Directed: a row of max_len + lanes scores without tlast at max_len is
    ended at max_len (docs/softmax.md); the extra beat becomes a row of its own."""
    from cocotbext.axi import AxiStreamFrame
    cfg = _config()
    tb = SoftmaxTB(dut, cfg)
    tb.set_pauses({})
    await tb.reset()
    rng = np.random.default_rng(3)
    lo, hi = int_range(cfg.in_bits)
    x = rng.integers(lo // 8, hi // 8 + 1, cfg.max_len + cfg.lanes)
    tb.src.send_nowait(AxiStreamFrame(pack(cfg, x[:cfg.max_len]) + pack(cfg, x[cfg.max_len:])))
    for part in (x[:cfg.max_len], x[cfg.max_len:]):
        f = await with_timeout(tb.out.recv(), (10 * cfg.max_len + 500) * CLOCK_NS, "ns")
        p = unpack(cfg, list(f.tdata))
        exp = expected(cfg, SoftmaxCase([part], {}))[0]
        assert np.array_equal(p, exp), describe_mismatch(cfg, SoftmaxCase([part], {}), [exp], [p])
