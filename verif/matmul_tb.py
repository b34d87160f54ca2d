"""cocotb test module of the matmul unit (run through verif/runner.py).

Environment (set by the runner): QBERT_RTL_DIR (the folder with params.json),
QBERT_EXAMPLES, QBERT_SEED, QBERT_REPRO (the command line that reproduces a
failure), QBERT_BENCH_SHAPES (``M,K,N;...`` for the cycle benchmark).
"""
from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, with_timeout
from cocotb.triggers import SimTimeoutError

from rtl_gen.matmul import MatmulConfig
from verif.matmul_cases import (ACT, EXACT_MULT, EXACT_SHIFT, OUT, PRM, WGT, MatmulCase,
                                beat_modes, cases, describe_mismatch, expected, pack, tiles,
                                unpack)
from verif.tb import CLOCK_NS, StreamTB, env_int, run_property


def _config() -> MatmulConfig:
    return MatmulConfig.load(os.environ["QBERT_RTL_DIR"])


class MatmulTB(StreamTB):
    def __init__(self, dut, cfg: MatmulConfig):
        super().__init__(dut)
        self.cfg = cfg
        self.act, self.wgt, self.prm = self.source(ACT), self.source(WGT), self.source(PRM)
        self.out = self.sink(OUT)
        self.monitor_master(OUT)

    async def run_case(self, c: MatmulCase) -> tuple[np.ndarray, int]:
        """Reset, stream every tile, collect every output frame; returns (y, cycles)."""
        from cocotbext.axi import AxiStreamFrame
        cfg = self.cfg
        self.set_pauses(c.pauses)
        await self.reset()
        self.violations.clear()
        packed = pack(cfg, c)
        modes = beat_modes(cfg, c)
        user = None if modes is None else [int(v) for v in modes]
        start = self.cycle
        for act, wgt, prm in packed:
            self.act.send_nowait(AxiStreamFrame(act))
            self.wgt.send_nowait(AxiStreamFrame(wgt, tuser=user))
            self.prm.send_nowait(AxiStreamFrame([prm]))
        K = c.x.shape[1]
        slow = max([len(p) for p in c.pauses.values()] + [1])  # worst pause pattern stretch
        # an int8 beat of a mixed Config takes two cycles
        budget = (len(packed) * (2 * K + cfg.rows + 8) + 50) * (slow + 1) * 2 + 200
        frames = []
        for t in range(len(packed)):
            try:
                f = await with_timeout(self.out.recv(), budget * CLOCK_NS, "ns")
            except SimTimeoutError:
                raise AssertionError(
                    f"DUT hung: received {t} of {len(packed)} output tiles within "
                    f"{budget} cycles (K={K}, tiles={len(packed)})") from None
            words = list(f.tdata)
            if len(words) != cfg.rows:
                raise AssertionError(f"output tile {t} has {len(words)} beats up to tlast, "
                                     f"expected {cfg.rows} (one per array row)")
            frames.append(words)
        cycles = self.cycle - start
        await ClockCycles(self.clk, cfg.rows + 8)
        if not self.out.empty():
            extra = self.out.count()
            raise AssertionError(f"DUT sent {extra} output beat(s)/frame(s) beyond the "
                                 f"{len(packed)} expected tiles")
        if int(self.dut.err_tlast_o.value):
            raise AssertionError("err_tlast_o set: act/wgt tlast disagreed")
        if self.violations:
            v, self.violations[:] = self.violations[0], []
            raise AssertionError(v)
        return unpack(cfg, c, frames), cycles

    async def send_tile(self, c: MatmulCase, user: list[int] | None = None) -> None:
        """One tile of a directed test: its parameter beat, 4 cycles, then the
        act and wgt frames (``user``: the wgt beats' tuser)."""
        from cocotbext.axi import AxiStreamFrame
        (act, wgt, prm), = pack(self.cfg, c)
        self.prm.send_nowait(AxiStreamFrame([prm]))
        await ClockCycles(self.clk, 4)
        self.act.send_nowait(AxiStreamFrame(act))
        self.wgt.send_nowait(AxiStreamFrame(wgt, tuser=user))

    async def watch(self, limit: int, stop: str, what: str) -> dict:
        """Sample the handshakes each cycle (what the coming edge takes) until
        ``stop`` ("act_last": the act's tlast beat taken, "out_last": the
        output's) and return the cycles of "act_valid" (first act tvalid),
        "act_last" and "out_last" seen so far; a hang after ``limit`` cycles
        fails, naming ``what``."""
        dut, seen = self.dut, {}
        for _ in range(limit):
            await ReadOnly()
            if int(dut.s_axis_act_tvalid.value):
                seen.setdefault("act_valid", self.cycle)
                if int(dut.s_axis_act_tready.value) and int(dut.s_axis_act_tlast.value):
                    seen["act_last"] = self.cycle
            if (int(dut.m_axis_tvalid.value) and int(dut.m_axis_tready.value)
                    and int(dut.m_axis_tlast.value)):
                seen["out_last"] = self.cycle
            if stop in seen:
                return seen
            await RisingEdge(self.clk)
        raise AssertionError(f"DUT hung in {what}")

    async def expect_tile(self, c: MatmulCase, within: int = 100) -> None:
        """The next output frame is the golden result of the one-tile case ``c``."""
        f = await with_timeout(self.out.recv(), within * CLOCK_NS, "ns")
        y, exp = unpack(self.cfg, c, [list(f.tdata)]), expected(self.cfg, c)
        assert np.array_equal(exp, y), describe_mismatch(self.cfg, c, exp, y)


@cocotb.test()
async def matmul_matches_golden(dut):
    """Every output element equals golden_model.matmul.int_matmul, under random stalls."""
    cfg = _config()
    tb = MatmulTB(dut, cfg)
    examples = env_int("QBERT_EXAMPLES", 60)
    seed = env_int("QBERT_SEED", 0)
    repro = os.environ.get("QBERT_REPRO", f"qbert sim matmul --seed {seed} --examples {examples}")
    stats = {"examples": 0, "outputs": 0, "macs": 0}

    verbose = bool(os.environ.get("QBERT_VERBOSE"))

    async def check(c: MatmulCase) -> None:
        try:
            y, cycles = await tb.run_case(c)
            exp = expected(cfg, c)
            stats["examples"] += 1
            stats["outputs"] += exp.size
            stats["macs"] += c.x.shape[0] * c.x.shape[1] * c.w.shape[1]
            if not np.array_equal(exp, y):
                raise AssertionError(describe_mismatch(cfg, c, exp, y))
        except AssertionError as e:
            if verbose:
                dut._log.info("example M,K,N=%s,%s,%s: FAIL %s %r", c.x.shape[0], c.x.shape[1],
                              c.w.shape[1], e, c)
            raise
        if verbose:
            dut._log.info("example M,K,N=%s,%s,%s: ok in %d cycles", c.x.shape[0],
                          c.x.shape[1], c.w.shape[1], cycles)

    await run_property(cases(cfg), check, examples=examples, seed=seed, log=dut._log,
                       repro=repro)
    dut._log.info("matmul: %d examples, %d output elements, all bit-exact",
                  stats["examples"], stats["outputs"])
    info = os.environ.get("QBERT_INFO_FILE")
    if info:
        with open(info, "w") as f:
            json.dump(stats, f)


@cocotb.test()
async def matmul_tlast_mismatch_sets_error(dut):
    """Directed: wgt tlast one beat early raises the sticky err_tlast_o, the
    activation's tlast is obeyed (one output tile, of the whole K = 3, as
    docs/matmul.md says); a reset clears the flag."""
    from cocotbext.axi import AxiStreamFrame
    cfg = _config()
    tb = MatmulTB(dut, cfg)
    tb.set_pauses({})
    await tb.reset()
    assert int(dut.err_tlast_o.value) == 0
    k = 3
    rng = np.random.default_rng(7)
    wlo = -(1 << (cfg.weight_bits - 1))
    c = MatmulCase(rng.integers(-128, 128, (cfg.rows, k)),
                   rng.integers(wlo, -wlo, (k, cfg.cols)), np.zeros(cfg.cols, dtype=np.int64),
                   np.full(cfg.cols, EXACT_MULT, dtype=np.int64),
                   np.full(cfg.cols, EXACT_SHIFT, dtype=np.int64), {})
    (act, wgt, prm), = pack(cfg, c)
    modes = beat_modes(cfg, c)
    user = None if modes is None else [int(v) for v in modes]
    tb.prm.send_nowait(AxiStreamFrame([prm]))
    tb.act.send_nowait(AxiStreamFrame(act))
    # tlast on beat 0 instead of beat 2
    tb.wgt.send_nowait(AxiStreamFrame(wgt[:1], tuser=None if user is None else user[:1]))
    tb.wgt.send_nowait(AxiStreamFrame(wgt[1:], tuser=None if user is None else user[1:]))
    try:
        f = await with_timeout(tb.out.recv(), (4 * k + 4 * cfg.rows + 50) * CLOCK_NS, "ns")
    except SimTimeoutError:
        raise AssertionError("no output tile after a tlast disagreement") from None
    assert int(dut.err_tlast_o.value) == 1, "err_tlast_o not set by a tlast disagreement"
    words = list(f.tdata)
    assert len(words) == cfg.rows, (f"the output tile after a tlast disagreement has "
                                    f"{len(words)} beats, expected {cfg.rows}")
    y, exp = unpack(cfg, c, [words]), expected(cfg, c)
    if not np.array_equal(y, exp):
        raise AssertionError("after a tlast disagreement the tile is not the act's K = 3 "
                             "one: " + describe_mismatch(cfg, c, exp, y))
    await ClockCycles(dut.clk, 2 * k + cfg.rows + 10)
    assert tb.out.empty(), "an extra output after a tlast disagreement (wgt tlast obeyed?)"
    await tb.reset()
    assert int(dut.err_tlast_o.value) == 0, "reset did not clear err_tlast_o"


@cocotb.test()
async def matmul_latency(dut):
    """Directed, no stalls: cycles from the cycle that takes a tile's last act/wgt
    beat to the cycle that takes its last output beat equal MatmulConfig.drain_cycles
    (its parameter beat sent first, the shadow bank free)."""
    cfg = _config()
    tb = MatmulTB(dut, cfg)
    tb.set_pauses({})
    await tb.reset()
    k = 3
    rng = np.random.default_rng(3)
    c = MatmulCase(rng.integers(-128, 128, (cfg.rows, k)), rng.integers(-8, 8, (k, cfg.cols)),
                   np.zeros(cfg.cols, dtype=np.int64), np.full(cfg.cols, 1 << 30, dtype=np.int64),
                   np.full(cfg.cols, 36, dtype=np.int64), {})
    await tb.send_tile(c)
    seen = await tb.watch(k + 4 * cfg.rows + 50, "out_last", "the latency test")
    drain = seen["out_last"] - seen["act_last"]
    await tb.expect_tile(c)
    dut._log.info("matmul drain: last output beat %d cycles after the last input beat "
                  "(drain_cycles = %d)", drain, cfg.drain_cycles)
    assert drain == cfg.drain_cycles, f"drain {drain} cycles != documented {cfg.drain_cycles}"


def _mixed() -> bool:
    """Whether the Config under test is mixed (read at import, as cocotb's skip wants)."""
    try:
        return _config().mixed
    except (KeyError, OSError, ValueError):
        return False


@cocotb.test(skip=not _mixed())
async def matmul_int8_beat_cycles(dut):
    """Directed, mixed Configs, no stalls: a tile of K int8 beats (tuser 1) is
    taken in 2K cycles and one of K int4 beats in K, both bit-exact: the rate
    the engine's cycle model assumes (docs/matmul.md, "Mixed weight beats")."""
    cfg = _config()
    tb = MatmulTB(dut, cfg)
    tb.set_pauses({})
    await tb.reset()
    k = cfg.rows + 3
    rng = np.random.default_rng(5)
    for wide in (True, False):
        c = MatmulCase(rng.integers(-128, 128, (cfg.rows, k)), rng.integers(-128, 128, (k, cfg.cols)),
                       np.zeros(cfg.cols, dtype=np.int64), np.full(cfg.cols, 1 << 30, dtype=np.int64),
                       np.full(cfg.cols, 36, dtype=np.int64), {}, np.full(k, wide))
        await tb.send_tile(c, user=[int(wide)] * k)
        seen = await tb.watch(4 * k + 20, "act_last", "the int8 beat test")
        span = seen["act_last"] - seen["act_valid"] + 1
        await tb.expect_tile(c)
        want = 2 * k if wide else k
        dut._log.info("%s beats: K = %d taken in %d cycles", "int8" if wide else "int4", k, span)
        assert span == want, f"{'int8' if wide else 'int4'} tile of K={k} took {span} cycles, not {want}"
        await ClockCycles(dut.clk, cfg.rows + 8)


@cocotb.test(skip=not os.environ.get("QBERT_BENCH_SHAPES"))
async def matmul_bench(dut):
    """Cycles of back-to-back tiles with no stalls, checked against the golden model."""
    cfg = _config()
    tb = MatmulTB(dut, cfg)
    rng = np.random.default_rng(1)
    results = []
    for shape in os.environ["QBERT_BENCH_SHAPES"].split(";"):
        M, K, N = (int(v) for v in shape.split(","))
        wlo, whi = -(1 << (cfg.weight_bits - 1)), (1 << (cfg.weight_bits - 1)) - 1
        c = MatmulCase(rng.integers(-128, 128, (M, K)), rng.integers(wlo, whi + 1, (K, N)),
                       rng.integers(-1000, 1000, N), np.full(N, 1 << 30, dtype=np.int64),
                       np.full(N, 38, dtype=np.int64), {})
        y, cycles = await tb.run_case(c)
        exp = expected(cfg, c)
        assert np.array_equal(exp, y), describe_mismatch(cfg, c, exp, y)
        ideal = M * K * N / (cfg.rows * cfg.cols)
        results.append({"M": M, "K": K, "N": N, "cycles": cycles, "ideal": ideal,
                        "tiles": len(tiles(cfg, c))})
        dut._log.info("bench %s: %d cycles, ideal %.0f (%.1f%%)", shape, cycles, ideal,
                      100 * ideal / cycles)
    out = os.environ.get("QBERT_BENCH_OUT")
    if out:
        with open(out, "w") as f:
            json.dump(results, f)
