"""cocotb test module of the LayerNorm unit (run through verif/runner.py).

Environment (set by the runner): QBERT_RTL_DIR (the folder with params.json),
QBERT_EXAMPLES, QBERT_SEED, QBERT_REPRO (the command line that reproduces a
failure), QBERT_INFO_FILE (where the counts and the measured timing go).
"""
from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, SimTimeoutError, with_timeout

from golden_model.widths import int_range
from rtl_gen.layernorm import LayerNormConfig
from verif.layernorm_cases import (IN, OUT, PRM, LayerNormCase, cases, describe_mismatch,
                                   expected, pack, pack_params, pad_bits, unpack)
from verif.tb import CLOCK_NS, StreamTB, env_int, run_property, write_info


def _config() -> LayerNormConfig:
    return LayerNormConfig.load(os.environ["QBERT_RTL_DIR"])


class LayerNormTB(StreamTB):
    def __init__(self, dut, cfg: LayerNormConfig):
        super().__init__(dut)
        self.cfg = cfg
        self.src = self.source(IN)
        self.prm = self.source(PRM)
        self.out = self.sink(OUT)
        self.monitor_master(OUT)

    def budget(self, vectors: int, slow: int = 1) -> int:
        """Cycles a run of ``vectors`` may take before the DUT counts as hung."""
        cfg = self.cfg
        return ((3 * cfg.beats + cfg.scalar_cycles + 20) * (vectors + 2)) * (slow + 1) * 2 + 200

    async def load_params(self, c: LayerNormCase) -> None:
        from cocotbext.axi import AxiStreamFrame
        self.prm.send_nowait(AxiStreamFrame(pack_params(self.cfg, c.gamma, c.beta, c.mult,
                                                        c.shift)))
        await with_timeout(self.prm.wait(), self.budget(1, 12) * CLOCK_NS, "ns")

    async def recv_vectors(self, count: int, budget: int) -> list[np.ndarray]:
        cfg, got = self.cfg, []
        for t in range(count):
            try:
                f = await with_timeout(self.out.recv(), budget * CLOCK_NS, "ns")
            except SimTimeoutError:
                raise AssertionError(f"DUT hung: received {t} of {count} output vectors within "
                                     f"{budget} cycles") from None
            words = list(f.tdata)
            if len(words) != cfg.beats:
                raise AssertionError(f"output vector {t} has {len(words)} beats up to tlast, "
                                     f"expected {cfg.beats}")
            if pad_bits(cfg, words):
                raise AssertionError(f"output vector {t}: tdata pad bits above "
                                     f"lanes*out_bits are not 0")
            got.append(unpack(cfg, words))
        return got

    async def expect_quiet(self, expected_vectors: int) -> None:
        """No output beyond the expected vectors, no protocol violation."""
        cfg = self.cfg
        await ClockCycles(self.clk, 2 * cfg.beats + cfg.scalar_cycles + 16)
        if not self.out.empty():
            raise AssertionError(f"DUT sent {self.out.count()} output frame(s) beyond the "
                                 f"{expected_vectors} expected vectors")
        if self.violations:
            v, self.violations[:] = self.violations[0], []
            raise AssertionError(v)

    async def run_case(self, c: LayerNormCase) -> list[np.ndarray]:
        """Reset, load the parameters, stream every vector, collect one output frame
        per vector."""
        from cocotbext.axi import AxiStreamFrame
        self.set_pauses(c.pauses)
        await self.reset()
        self.violations.clear()
        await self.load_params(c)
        for v in c.vectors:
            self.src.send_nowait(AxiStreamFrame(pack(self.cfg, v)))
        slow = max([len(p) for p in c.pauses.values()] + [1])
        got = await self.recv_vectors(len(c.vectors), self.budget(len(c.vectors), slow))
        await self.expect_quiet(len(c.vectors))
        if int(self.dut.err_len_o.value):
            raise AssertionError("err_len_o set although every vector had H elements")
        return got


@cocotb.test()
async def layernorm_matches_golden(dut):
    """Every output element equals golden_model.layernorm.int_layernorm, under random stalls."""
    cfg = _config()
    tb = LayerNormTB(dut, cfg)
    examples = env_int("QBERT_EXAMPLES", 60)
    seed = env_int("QBERT_SEED", 0)
    repro = os.environ.get("QBERT_REPRO", f"qbert sim layernorm --seed {seed} --examples {examples}")
    stats = {"examples": 0, "outputs": 0}

    async def check(c: LayerNormCase) -> None:
        got = await tb.run_case(c)
        exp = expected(cfg, c)
        stats["examples"] += 1
        stats["outputs"] += sum(len(e) for e in exp)
        if any(not np.array_equal(e, g) for e, g in zip(exp, got)):
            raise AssertionError(describe_mismatch(cfg, c, exp, got))

    await run_property(cases(cfg), check, examples=examples, seed=seed, log=dut._log,
                       repro=repro)
    dut._log.info("layernorm: %d examples, %d output elements, all bit-exact",
                  stats["examples"], stats["outputs"])
    write_info(stats)


def _directed_case(cfg: LayerNormConfig, count: int, seed: int) -> LayerNormCase:
    rng = np.random.default_rng(seed)
    lo, hi = int_range(cfg.in_bits)
    vs = [rng.integers(lo // 4, hi // 4 + 1, cfg.hidden) for _ in range(count)]
    glo, ghi = int_range(cfg.gamma_bits)
    blo, bhi = int_range(cfg.beta_bits)
    return LayerNormCase(vs, rng.integers(glo, ghi + 1, cfg.hidden),
                         rng.integers(blo // 4, bhi // 4 + 1, cfg.hidden),
                         (1 << 30) + 12345, cfg.spec.affine_bits - cfg.out_bits + 29, {})


@cocotb.test()
async def layernorm_timing(dut):
    """Directed, no stalls: latency (first input beat accepted to first output beat
    valid) and drain (last input beat to last output beat, the bound the formal
    U3 proves) of a lone vector, and the period of back-to-back vectors; results
    are checked against the golden model too."""
    from cocotbext.axi import AxiStreamFrame
    cfg = _config()
    tb = LayerNormTB(dut, cfg)
    count = 4
    c = _directed_case(cfg, count, 7)
    tb.set_pauses({})
    await tb.reset()
    await tb.load_params(c)
    for v in c.vectors:
        tb.src.send_nowait(AxiStreamFrame(pack(cfg, v)))
    first_in = first_out = None
    ends, in_ends = [], []
    while len(ends) < count:
        await ReadOnly()   # the values the coming clock edge samples
        if int(dut.s_axis_tvalid.value) and int(dut.s_axis_tready.value):
            first_in = tb.cycle if first_in is None else first_in
            if int(dut.s_axis_tlast.value):
                in_ends.append(tb.cycle)
        if first_out is None and int(dut.m_axis_tvalid.value):
            first_out = tb.cycle
        if int(dut.m_axis_tvalid.value) and int(dut.m_axis_tlast.value):
            ends.append(tb.cycle)
        if tb.cycle - (first_in or tb.cycle) > tb.budget(count):
            raise AssertionError("DUT hung in the timing test")
        await RisingEdge(dut.clk)
    got = await tb.recv_vectors(count, tb.budget(count))
    exp = expected(cfg, c)
    assert all(np.array_equal(e, g) for e, g in zip(exp, got)), describe_mismatch(cfg, c, exp, got)
    periods = [b - a for a, b in zip(ends, ends[1:])]
    latency = first_out - first_in
    drain = ends[0] - in_ends[0]     # the first vector found the unit idle
    total = ends[-1] - first_in + 1
    dut._log.info("layernorm H=%d lanes=%d: latency %d cycles (formula %d), drain %d (formula %d), "
                  "vector period %s (formula %d), %d vectors in %d cycles: %.3f elements/cycle",
                  cfg.hidden, cfg.lanes, latency, cfg.latency(), drain, cfg.drain_cycles(), periods,
                  cfg.vector_period(), count, total, count * cfg.hidden / total)
    write_info({"latency": latency, "drain": drain, "periods": periods, "vectors": count,
                "cycles": total})
    assert latency == cfg.latency(), f"latency {latency} != documented {cfg.latency()}"
    assert drain == cfg.drain_cycles(), f"drain {drain} != documented {cfg.drain_cycles()}"
    assert periods == [cfg.vector_period()] * (count - 1), (
        f"vector period {periods} != documented {cfg.vector_period()}")


@cocotb.test()
async def layernorm_wrong_length_sets_error(dut):
    """Directed: a vector one beat short (tlast early) and one without tlast at
    H / LANES beats each raise the sticky err_len_o; a correct vector does not;
    every input vector still gives one output vector of H elements."""
    from cocotbext.axi import AxiStreamFrame
    cfg = _config()
    tb = LayerNormTB(dut, cfg)
    c = _directed_case(cfg, 2, 11)
    tb.set_pauses({})
    for variant in ("short", "long"):
        await tb.reset()
        await tb.load_params(c)
        tb.src.send_nowait(AxiStreamFrame(pack(cfg, c.vectors[0])))
        got = await tb.recv_vectors(1, tb.budget(1))
        exp = expected(cfg, LayerNormCase(c.vectors[:1], c.gamma, c.beta, c.mult, c.shift, {}))
        assert np.array_equal(got[0], exp[0]), "a correct vector before the bad one differs"
        assert not int(dut.err_len_o.value), "err_len_o set by a vector of the right length"
        words = pack(cfg, c.vectors[1])
        if variant == "short":
            if cfg.beats < 2:
                continue
            frames = [words[:-1]]
        else:
            # no tlast on beat H/LANES: the unit ends the vector there; the extra
            # beat (with tlast) is a short vector of its own: two outputs
            frames = [words + words[:1]]
        for f in frames:
            tb.src.send_nowait(AxiStreamFrame(f))
        n_out = 1 if variant == "short" else 2
        await tb.recv_vectors(n_out, tb.budget(n_out))
        await tb.expect_quiet(n_out)
        assert int(dut.err_len_o.value), f"err_len_o not set by a {variant} vector"
        await ClockCycles(tb.clk, 5)
        assert int(dut.err_len_o.value), "err_len_o is not sticky"
