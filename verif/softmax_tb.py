"""cocotb test module of the softmax unit (run through verif/runner.py).

Environment (set by the runner): QBERT_RTL_DIR (the folder with params.json),
QBERT_EXAMPLES, QBERT_SEED, QBERT_REPRO (the command line that reproduces a
failure), QBERT_INFO_FILE (where the counts and the measured latency go),
QBERT_BENCH_LENGTHS / QBERT_BENCH_OUT (``qbert bench softmax`` only).
"""
from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, SimTimeoutError, with_timeout

from golden_model.softmax import int_softmax
from golden_model.widths import int_range
from rtl_gen.softmax import BANKS, SoftmaxConfig
from verif.softmax_cases import (IN, OUT, SoftmaxCase, cases, describe_mismatch, expected, keeps,
                                 pack, pad_bits, unpack)
from verif.tb import CLOCK_NS, StreamTB, env_int, run_property, write_info


def _config() -> SoftmaxConfig:
    return SoftmaxConfig.load(os.environ["QBERT_RTL_DIR"])


class SoftmaxTB(StreamTB):
    def __init__(self, dut, cfg: SoftmaxConfig):
        super().__init__(dut)
        self.cfg = cfg
        self.src = self.source(IN, lane_keep=True)
        self.out = self.sink(OUT, lane_keep=True)
        self.monitor_master(OUT)

    def send(self, row: np.ndarray, keep: list[int] | None = None) -> None:
        """Queue one row (tkeep per beat: :func:`keeps` unless given)."""
        from cocotbext.axi import AxiStreamFrame
        self.src.send_nowait(AxiStreamFrame(pack(self.cfg, row),
                                            tuser=keep or keeps(self.cfg, len(row))))

    async def recv(self, cycles: int, what: str):
        """The next output frame (tdata words, tkeep per beat) within ``cycles``."""
        try:
            f = await with_timeout(self.out.recv(), cycles * CLOCK_NS, "ns")
        except SimTimeoutError:
            raise AssertionError(f"DUT hung: no {what} within {cycles} cycles") from None
        words = list(f.tdata)
        # the sink compacts a tuser equal on every beat to one int
        kept = [f.tuser] * len(words) if isinstance(f.tuser, int) else list(f.tuser)
        return words, kept

    def errors(self) -> dict[str, int]:
        return {n: int(getattr(self.dut, n).value) for n in ("err_len_o", "err_keep_o")}

    async def run_case(self, c: SoftmaxCase) -> tuple[list[np.ndarray], int]:
        """Reset, stream every row, collect one output frame per row; (p rows, cycles).
        Checks beats and tkeep per row, zero pad and unkept lanes, no extra
        output, no error flag, and the AXI4-Stream hold rule."""
        cfg = self.cfg
        self.set_pauses(c.pauses)
        await self.reset()
        self.violations.clear()
        start = self.cycle
        for r in c.rows:
            self.send(r)
        slow = max([len(p) for p in c.pauses.values()] + [1])
        budget = (sum(cfg.latency(len(r)) + cfg.beats(len(r)) for r in c.rows) + 50) \
            * (slow + 1) * 2 + 200
        got = []
        for t, r in enumerate(c.rows):
            words, kept = await self.recv(budget, f"output row {t} of {len(c.rows)} "
                                                  f"(row lengths {[len(x) for x in c.rows]})")
            if len(words) != cfg.beats(len(r)):
                raise AssertionError(f"output row {t} has {len(words)} beats up to tlast, "
                                     f"expected {cfg.beats(len(r))} ({len(r)} scores)")
            if kept != keeps(cfg, len(r)):
                raise AssertionError(f"output row {t}: m_axis_tkeep per beat {kept}, expected "
                                     f"{keeps(cfg, len(r))} (the input's)")
            if pad_bits(cfg, words):
                raise AssertionError(f"output row {t}: tdata pad bits above lanes*out_bits "
                                     f"are not 0")
            if unpack(cfg, words)[len(r):].any():
                raise AssertionError(f"output row {t}: lanes without tkeep are not 0")
            got.append(unpack(cfg, words, len(r)))
        cycles = self.cycle - start
        await ClockCycles(self.clk, cfg.latency(cfg.max_len) + 8)
        if not self.out.empty():
            raise AssertionError(f"DUT sent {self.out.count()} output frame(s) beyond the "
                                 f"{len(c.rows)} expected rows")
        if any(self.errors().values()):
            raise AssertionError(f"error flag set by well-formed rows: {self.errors()}")
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
    write_info(stats)


async def _row_ends(tb: SoftmaxTB, rows: list, limit: int) -> list[int]:
    """Stream ``rows`` back to back (no stalls); the cycles their last output
    beats are taken.  Every row is checked against the golden model."""
    cfg, dut = tb.cfg, tb.dut
    tb.set_pauses({})
    await tb.reset()
    for r in rows:
        tb.send(r)
    ends, t0 = [], tb.cycle
    while len(ends) < len(rows):
        await ReadOnly()
        if (int(dut.m_axis_tvalid.value) and int(dut.m_axis_tready.value)
                and int(dut.m_axis_tlast.value)):
            ends.append(tb.cycle)
        if tb.cycle - t0 > limit:
            raise AssertionError(f"DUT hung: {len(ends)} of {len(rows)} rows out after {limit} "
                                 f"cycles")
        await RisingEdge(dut.clk)
    for r in rows:
        words, _ = await tb.recv(100, "output row")
        p, exp = unpack(cfg, words, len(r)), int_softmax(r, cfg.spec)
        assert np.array_equal(p, exp), describe_mismatch(cfg, SoftmaxCase([r], {}), [exp], [p])
    return ends


def steady_period(ends: list[int]) -> list[int]:
    """Cycles between row ends once the pipeline is full (the first BANKS rows
    pass through empty banks faster)."""
    periods = [b - a for a, b in zip(ends, ends[1:])]
    return periods[BANKS:]


def _mid_rows(cfg: SoftmaxConfig, rng, n: int, k: int) -> list:
    lo, hi = int_range(cfg.in_bits)
    return [rng.integers(lo // 8, hi // 8 + 1, n) for _ in range(k)]


@cocotb.test()
async def softmax_latency(dut):
    """Directed, no stalls: cycles from the first input beat accepted to the first
    output beat valid, and to the last, for rows of 1 score, lanes + 1 (a
    partial beat) and max_len; then rows of max_len back to back: the steady
    row period.  Checked against SoftmaxConfig.latency / row_period and the
    golden model."""
    cfg = _config()
    tb = SoftmaxTB(dut, cfg)
    rng = np.random.default_rng(7)
    lat = {}
    for n in sorted({1, min(cfg.lanes + 1, cfg.max_len), cfg.max_len}):
        row = _mid_rows(cfg, rng, n, 1)[0]
        tb.set_pauses({})
        await tb.reset()
        tb.send(row)
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
        words, _ = await tb.recv(100, "output row")
        p, exp = unpack(cfg, words, n), int_softmax(row, cfg.spec)
        assert np.array_equal(p, exp), describe_mismatch(cfg, SoftmaxCase([row], {}), [exp], [p])
        lat[n] = {"first_out": first_out - first_in, "busy": busy}
        dut._log.info("softmax latency, row of %d (%d beats): first output %d cycles after the "
                      "first input, row done after %d cycles (formula %d)", n, cfg.beats(n),
                      first_out - first_in, busy, cfg.latency(n))
        assert first_out - first_in == cfg.latency(n), (
            f"latency {first_out - first_in} != documented {cfg.latency(n)} for {n} scores")
    n, k = cfg.max_len, BANKS + 4
    ends = await _row_ends(tb, _mid_rows(cfg, rng, n, k), 20 * k * cfg.beats(n) + 1000)
    periods = steady_period(ends)
    dut._log.info("softmax back-to-back rows of %d: a row every %s cycles (formula %d)",
                  n, periods, cfg.row_period(n))
    assert periods == [cfg.row_period(n)] * len(periods), (
        f"row period {periods} != documented {cfg.row_period(n)}")
    write_info({"latency": lat, "row_period": {n: periods}})


@cocotb.test(skip=not os.environ.get("QBERT_BENCH_LENGTHS"))
async def softmax_bench(dut):
    """`qbert bench softmax`: for each row length in QBERT_BENCH_LENGTHS, the
    latency of one row and the steady period of BANKS + 4 rows back to back,
    no stalls (results checked against the golden model); to QBERT_BENCH_OUT."""
    cfg = _config()
    lengths = [int(v) for v in os.environ["QBERT_BENCH_LENGTHS"].split(",")]
    tb = SoftmaxTB(dut, cfg)
    rng = np.random.default_rng(11)
    out = []
    for n in lengths:
        k = BANKS + 4
        first = await _first_out(tb, n, rng)
        ends = await _row_ends(tb, _mid_rows(cfg, rng, n, k), 20 * k * cfg.beats(n) + 1000)
        periods = steady_period(ends)
        out.append({"n": n, "latency": first, "periods": periods})
    with open(os.environ["QBERT_BENCH_OUT"], "w") as f:
        json.dump(out, f)


async def _first_out(tb: SoftmaxTB, n: int, rng) -> int:
    """Cycles from the first input beat accepted to the first output beat valid."""
    dut = tb.dut
    tb.set_pauses({})
    await tb.reset()
    tb.send(_mid_rows(tb.cfg, rng, n, 1)[0])
    first_in = None
    while True:
        await ReadOnly()
        if first_in is None and int(dut.s_axis_tvalid.value) and int(dut.s_axis_tready.value):
            first_in = tb.cycle
        if int(dut.m_axis_tvalid.value):
            lat = tb.cycle - first_in
            break
        await RisingEdge(dut.clk)
    await tb.recv(20 * tb.cfg.beats(n) + 100, "output row")
    return lat


@cocotb.test()
async def softmax_overlong_row_is_cut(dut):
    """Directed: a row of max_len + lanes scores without tlast at max_len is
    ended at max_len (docs/softmax.md); the extra beat becomes a row of its own;
    err_len_o rises with the beat that overflows and stays up (sticky)."""
    from cocotbext.axi import AxiStreamFrame
    cfg = _config()
    tb = SoftmaxTB(dut, cfg)
    tb.set_pauses({})
    await tb.reset()
    assert tb.errors() == {"err_len_o": 0, "err_keep_o": 0}, "error flags not cleared by reset"
    rng = np.random.default_rng(3)
    x = _mid_rows(cfg, rng, cfg.max_len + cfg.lanes, 1)[0]
    full = (1 << cfg.lanes) - 1
    tb.src.send_nowait(AxiStreamFrame(pack(cfg, x), tuser=[full] * (cfg.depth + 1)))
    for part in (x[:cfg.max_len], x[cfg.max_len:]):
        words, _ = await tb.recv(10 * cfg.max_len + 500, "output row of the cut row")
        p, exp = unpack(cfg, words, len(part)), int_softmax(part, cfg.spec)
        assert np.array_equal(p, exp), describe_mismatch(cfg, SoftmaxCase([part], {}), [exp], [p])
    assert tb.errors() == {"err_len_o": 1, "err_keep_o": 0}, (
        f"err_len_o not set by a row longer than max_len: {tb.errors()}")
    await ClockCycles(tb.clk, 5)
    assert tb.errors()["err_len_o"] == 1, "err_len_o is not sticky"


@cocotb.test()
async def softmax_malformed_tkeep(dut):
    """Directed: a partial tkeep before tlast, or a non-contiguous one on the
    tlast beat, sets err_keep_o (sticky, reset clears it); the lanes without
    tkeep are still left out of the row (their output is 0, tkeep 0)."""
    from cocotbext.axi import AxiStreamFrame
    cfg = _config()
    L = cfg.lanes
    if L < 2 or cfg.depth < 2:
        return   # one lane or one beat a row: no malformed tkeep but 0 (checked below)
    tb = SoftmaxTB(dut, cfg)
    tb.set_pauses({})
    rng = np.random.default_rng(5)
    full = (1 << L) - 1
    for keep in ([full ^ 2, full], [full, 0b10], [full, 0]):
        await tb.reset()
        x = _mid_rows(cfg, rng, 2 * L, 1)[0]
        tb.src.send_nowait(AxiStreamFrame(pack(cfg, x), tuser=keep))
        words, kept = await tb.recv(10 * cfg.max_len + 500, "output row")
        mask = np.asarray([(k >> i) & 1 for k in keep for i in range(L)], dtype=bool)
        exp = np.zeros(2 * L, dtype=np.int64)
        exp[mask] = int_softmax(x[mask], cfg.spec)
        p = unpack(cfg, words)
        assert kept == keep, f"m_axis_tkeep {kept} != s_axis_tkeep {keep}"
        assert np.array_equal(p, exp), f"tkeep {keep}: got {p.tolist()}, expected {exp.tolist()}"
        assert tb.errors() == {"err_len_o": 0, "err_keep_o": 1}, (
            f"err_keep_o not set by tkeep {keep}: {tb.errors()}")
