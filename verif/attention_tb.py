"""cocotb test module of the attention head (run through verif/runner.py).

Environment (set by the runner): QBERT_RTL_DIR (the folder with params.json),
QBERT_EXAMPLES, QBERT_SEED, QBERT_REPRO, QBERT_INFO_FILE; QBERT_ATTN_MAX_SEQ
caps the S the property draws (default: the Config's max_seq).
"""
from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge

from rtl_gen.attention import AttentionConfig
from verif.attention_cases import (OUT, Q, K, V, AttentionCase, cases, describe_mismatch,
                                   expected, minilm_case, pack, unpack_row)
from verif.tb import StreamTB, env_int, run_property, write_info


def _config() -> AttentionConfig:
    return AttentionConfig.load(os.environ["QBERT_RTL_DIR"])


def _out_pace(c: AttentionCase) -> int:
    """The length of the output's pause pattern: at most that many stalled cycles a beat."""
    return len(c.pauses.get(OUT, [False]))


class AttentionTB(StreamTB):
    def __init__(self, dut, cfg: AttentionConfig):
        super().__init__(dut)
        self.cfg = cfg
        self.srcs = {p: self.source(p) for p in (Q, K, V)}
        self.out = self.sink(OUT)
        self.monitor_master(OUT)

    def budget(self, c: AttentionCase) -> int:
        """Cycles a head may take: both arrays' work, the loads, a softmax
        latency per row, slowed by the longest input pause pattern; plus its
        output beats at the output's pace (a long output stall would otherwise
        stretch every hang this waits out, and its shrinking)."""
        cfg, s = self.cfg, c.seq
        slow_in = max([len(p) for ep, p in c.pauses.items() if ep != OUT] + [1])
        slow_out = _out_pace(c)
        work = (2 * cfg.ideal_cycles(s) + 3 * s * cfg.head_dim // min(cfg.rows, cfg.cols)
                + s * (2 * s // cfg.lanes + 60) + 500)
        out_beats = s * cfg.head_dim // cfg.cols
        return 2 * (work * (slow_in + 1) + out_beats * (slow_out + 1))

    async def run_case(self, c: AttentionCase) -> tuple[list[np.ndarray], int]:
        """Reset, load Q/K/V of every head of ``c`` (back to back, no reset between),
        collect S output rows a head; ([ctx [S, dh] per head], cycles)."""
        from cocotb.triggers import ClockCycles
        from cocotbext.axi import AxiStreamFrame
        cfg, dut = self.cfg, self.dut
        cfg.check_seq(c.seq)
        dut.seq_len_i.value = c.seq
        dut.scores_mult_i.value, dut.scores_shift_i.value = c.s_mult, c.s_shift
        dut.ctx_mult_i.value, dut.ctx_shift_i.value = c.c_mult, c.c_shift
        self.set_pauses(c.pauses)
        await self.reset()
        self.violations.clear()
        start = self.cycle
        heads = c.heads()
        for h in heads:
            for port, words in pack(cfg, h).items():
                self.srcs[port].send_nowait(AxiStreamFrame(words))
        budget, rows = self.budget(c) * len(heads), []
        per_row = cfg.head_dim // cfg.cols
        while len(rows) < c.seq * len(heads):
            # one frame per query row; poll so that a hang is reported, not waited out
            while self.out.empty():
                if self.cycle - start > budget:
                    raise AssertionError(f"DUT hung: received {len(rows)} of "
                                         f"{c.seq * len(heads)} output rows ({len(heads)} "
                                         f"head(s) of S={c.seq}) within {budget} cycles")
                await RisingEdge(self.clk)
            f = self.out.recv_nowait()
            words = list(f.tdata)
            if len(words) != per_row:
                raise AssertionError(f"output row {len(rows)} has {len(words)} beats up to "
                                     f"tlast, expected {per_row}")
            rows.append(unpack_row(cfg, words))
        cycles = self.cycle - start
        self.end_cycle = self.cycle
        # a stray row (another query group, a head that does not end) is computed
        # within a head's latency bound and then taken at the output's pace
        await ClockCycles(self.clk, cfg.head_latency(c.seq) + 2 * per_row * (_out_pace(c) + 1) + 20)
        if not self.out.empty():
            raise AssertionError(f"DUT sent {self.out.count()} output frame(s) beyond the "
                                 f"{c.seq * len(heads)} expected rows")
        if self.violations:
            v, self.violations[:] = self.violations[0], []
            raise AssertionError(v)
        return [np.asarray(rows[i:i + c.seq]) for i in range(0, len(rows), c.seq)], cycles


async def _check(tb: AttentionTB, c: AttentionCase, stats: dict) -> int:
    got, cycles = await tb.run_case(c)
    stats["examples"] = stats.get("examples", 0) + 1
    for i, (h, g) in enumerate(zip(c.heads(), got)):
        exp = expected(h)
        stats["outputs"] = stats.get("outputs", 0) + exp.size
        stats["macs"] = stats.get("macs", 0) + 2 * c.seq * c.seq * tb.cfg.head_dim
        if not np.array_equal(exp, g):
            head = f"head {i} of {len(got)} back to back: " if len(got) > 1 else ""
            raise AssertionError(head + describe_mismatch(h, exp, g))
    return cycles


@cocotb.test()
async def attention_matches_golden(dut):
    """Every context element equals golden_model.encoder.attention_heads, under
    random stalls on every port."""
    cfg = _config()
    tb = AttentionTB(dut, cfg)
    examples = env_int("QBERT_EXAMPLES", 20)
    seed = env_int("QBERT_SEED", 0)
    repro = os.environ.get("QBERT_REPRO", f"qbert sim attention --seed {seed} --examples {examples}")
    stats: dict = {}

    async def check(c: AttentionCase) -> None:
        await _check(tb, c, stats)

    strategy = cases(cfg, env_int("QBERT_ATTN_MAX_SEQ", cfg.max_seq))
    await run_property(strategy, check, examples=examples, seed=seed, log=dut._log, repro=repro)
    dut._log.info("attention: %d examples, %d context elements, all bit-exact",
                  stats["examples"], stats["outputs"])
    write_info(stats)


@cocotb.test()
async def attention_minilm(dut):
    """all-MiniLM-L6-v2 layer 0 head 0 on a real sentence, bit-exact (needs
    head_dim 32 and S = 12 within the Config; skipped otherwise)."""
    cfg = _config()
    if cfg.head_dim != 32 or cfg.max_seq < 12 or 12 % cfg.rows or 12 % cfg.cols:
        dut._log.info("attention_minilm: Config cannot hold the MiniLM head; skipped")
        return
    tb = AttentionTB(dut, cfg)
    stats: dict = {}
    c = minilm_case()
    await _check(tb, c, stats)
    dut._log.info("attention_minilm: S=%d, %d context elements bit-exact", c.seq, stats["outputs"])
    write_info({"minilm_outputs": stats["outputs"]})


async def _head_span(dut, seq: int, out: list) -> None:
    """Cycles from the one in which the head's three loads are complete but
    ``loaded_q`` is not yet set to the one that takes the head's last output beat
    (the span :meth:`AttentionConfig.head_latency` bounds); appended to ``out``."""
    cycle, pulse, rows = 0, None, 0
    while True:
        await RisingEdge(dut.clk)
        await ReadOnly()
        cycle += 1
        if pulse is None and all(int(getattr(dut, f"{n}_loaded_q").value) for n in "qkv") \
                and not int(dut.loaded_q.value):
            pulse = cycle
        if int(dut.m_axis_tvalid.value) and int(dut.m_axis_tready.value) and int(dut.m_axis_tlast.value):
            rows += 1
            if rows == seq:
                out.append(cycle - pulse)
                return


@cocotb.test()
async def attention_cycles(dut):
    """Directed, no stalls, S = max_seq: cycles from the head's first load beat to
    its last output beat, and from the first Q K^T beat (loads done) to it,
    against one array's ideal S*S*head_dim/(rows*cols); checked bit-exact too.
    The span from the loads being in to the last output beat must be within
    ``AttentionConfig.head_latency`` (the bound ``qbert prove attention`` proves
    by k-induction for the head with the units' latency bounds assumed, on
    Configs of at most formal.attention.LATENCY_PROVE_MAX_GROUPS query groups)."""
    cfg = _config()
    tb = AttentionTB(dut, cfg)
    s = cfg.max_seq
    rng = np.random.default_rng(11)
    q, k, v = (rng.integers(-128, 128, (s, cfg.head_dim)) for _ in range(3))
    c = AttentionCase(q, k, v, 1 << 30, 31 + 3, 1 << 30, 31 + 7, {})
    first_mac, span = [], []

    async def watch():
        while not first_mac:
            await RisingEdge(dut.clk)
            await ReadOnly()
            if int(dut.u_qk.s_axis_act_tvalid.value) and int(dut.u_qk.s_axis_act_tready.value):
                first_mac.append(tb.cycle)

    cocotb.start_soon(watch())
    stats: dict = {}
    span_task = cocotb.start_soon(_head_span(dut, s, span))
    total = await _check(tb, c, stats)
    await span_task
    compute = tb.end_cycle - first_mac[0]
    ideal = cfg.ideal_cycles(s)
    bound = cfg.head_latency(s)
    info = {"seq": s, "head_dim": cfg.head_dim, "total_cycles": total,
            "compute_cycles": compute, "ideal_one_array": ideal,
            "loads_in_to_last_beat": span[0], "head_latency_bound": bound}
    dut._log.info("attention cycles, S=%d dh=%d: %d from the first load beat, %d from the "
                  "first Q K^T beat to the last output row; ideal of one array %d each for "
                  "Q K^T and P V; loads in to the last beat %d (bound head_latency %d)",
                  s, cfg.head_dim, total, compute, ideal, span[0], bound)
    write_info({"cycles": info})
    assert span[0] <= bound, (f"loads in to the last output beat took {span[0]} cycles, over "
                              f"AttentionConfig.head_latency({s}) = {bound}")
