"""cocotb test module of the encoder-layer engine (run through verif/runner.py).

Environment (set by the runner): QBERT_RTL_DIR (the folder with params.json),
QBERT_EXAMPLES, QBERT_SEED, QBERT_REPRO, QBERT_INFO_FILE; QBERT_ENC_MAX_SEQ caps the
S of the synthetic layers (default two row groups); QBERT_ENC_TEXT and
QBERT_ENC_LAYER give the MiniLM case (QBERT_ENC_WEIGHTS: its weight stream file); QBERT_ENC_PROFILE=1 counts cycles per phase.
"""
from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge

from rtl_gen.encoder import EncoderConfig
from verif.encoder_cases import (W, X, Y, EncoderCase, cases, describe_mismatch, expected,
                                 minilm_case, pack_tokens, stream_of, stream_words, synthetic_case,
                                 unpack_tokens)
from verif.tb import StreamTB, env_int, run_property, write_info

ERRORS = ("err_seq_o", "err_hdr_o", "err_w_short_o", "err_w_long_o", "err_unit_o")


def _config() -> EncoderConfig:
    return EncoderConfig.load(os.environ["QBERT_RTL_DIR"])


class EncoderTB(StreamTB):
    def __init__(self, dut, cfg: EncoderConfig):
        super().__init__(dut)
        self.cfg = cfg
        self.x, self.w = self.source(X), self.source(W)
        self.y = self.sink(Y)
        self.monitor_master(Y)
        dut.start_i.value = 0
        dut.seq_len_i.value = 0

    def budget(self, c: EncoderCase) -> int:
        cfg = self.cfg
        slow = max([len(p) for p in c.pauses.values()] + [1])
        work = (4 * cfg.macs(c.seq) // cfg.array ** 2 + 4 * cfg.stream_shape.total_beats
                + 400 * c.seq + 50_000)
        return work * (slow + 1)

    async def _profile(self):
        """Cycles spent in each sequencer phase (and linear layer): for the cycle model."""
        from rtl_gen.encoder_engine import LINEARS, PHASES
        dut = self.dut
        while True:
            await RisingEdge(self.clk)
            ph = PHASES[int(dut.phase_q.value)]
            if ph == "LIN":
                ph = "LIN_" + LINEARS[int(dut.linear_q.value)]
            self.phases[ph] = self.phases.get(ph, 0) + 1
            if int(dut.done_o.value):
                return

    def errors(self) -> dict:
        return {e: int(getattr(self.dut, e).value) for e in ERRORS}

    async def run_case(self, c: EncoderCase, reset: bool = True) -> tuple[np.ndarray, int]:
        """Reset (unless ``reset`` is False: a layer right after the previous one),
        start, stream the input and the weights; the output [S, D] and the cycles
        from start to done.  busy_o must be seen high while the layer runs and
        low after done_o."""
        from cocotbext.axi import AxiStreamFrame
        cfg, dut = self.cfg, self.dut
        self.set_pauses(c.pauses)
        if reset:
            await self.reset()
        self.violations.clear()
        dut.seq_len_i.value = c.seq
        dut.start_i.value = 1
        await RisingEdge(self.clk)
        dut.start_i.value = 0
        start = self.cycle
        self.phases = {}
        if os.environ.get("QBERT_ENC_PROFILE"):
            cocotb.start_soon(self._profile())
        self.x.send_nowait(AxiStreamFrame(pack_tokens(cfg, c.x)))
        self.w.send_nowait(AxiStreamFrame(stream_words(cfg, stream_of(cfg, c))))
        budget, busy_seen = self.budget(c), False
        # one edge before looking at done_o: the start edge clears a previous layer's
        # done_o, and a read right after that edge may still see it
        await RisingEdge(self.clk)
        if int(dut.done_o.value):
            raise AssertionError("done_o high one cycle after start_i: the start did not "
                                 "clear the previous layer's done_o")
        while not int(dut.done_o.value):
            if self.cycle - start > budget:
                raise AssertionError(f"DUT hung: no done_o within {budget} cycles; errors "
                                     f"{self.errors()}, output frames so far {self.y.count()}")
            busy_seen |= bool(int(dut.busy_o.value))
            await RisingEdge(self.clk)
        cycles = self.cycle - start
        for _ in range(20):
            await RisingEdge(self.clk)
        if not busy_seen or int(dut.busy_o.value):
            raise AssertionError("busy_o " + ("still high after done_o" if busy_seen
                                               else "never high while the layer ran"))
        frames = []
        while not self.y.empty():
            frames.append(self.y.recv_nowait())
        beats = c.seq * cfg.hidden // cfg.array
        if len(frames) != 1 or len(frames[0].tdata) != beats:
            raise AssertionError(f"expected one output frame of {beats} beats (tlast on the "
                                 f"last), got frames of {[len(f.tdata) for f in frames]} beats")
        errs = {k: v for k, v in self.errors().items() if v}
        if errs:
            raise AssertionError(f"error flags raised on a well-formed layer: {errs}")
        if self.violations:
            raise AssertionError(self.violations[0])
        return unpack_tokens(cfg, list(frames[0].tdata), c.seq), cycles


@cocotb.test()
async def encoder_matches_golden(dut):
    """Synthetic layers (random weights, calibrated scales, saturation mixed in) under
    random stalls on every port: every output element equals encoder_layer."""
    cfg = _config()
    tb = EncoderTB(dut, cfg)
    examples = env_int("QBERT_EXAMPLES", 10)
    seed = env_int("QBERT_SEED", 0)
    repro = os.environ.get("QBERT_REPRO", f"qbert sim encoder --seed {seed} --examples {examples}")
    stats = {"examples": 0, "outputs": 0, "macs": 0}

    async def check(c: EncoderCase) -> None:
        got, _ = await tb.run_case(c)
        exp = expected(c)
        if not np.array_equal(exp, got):
            raise AssertionError(describe_mismatch(c, exp, got))
        stats["examples"] += 1
        stats["outputs"] += int(exp.size)
        stats["macs"] += cfg.macs(c.seq)

    # whole layers: S up to two row groups (at least 8) unless QBERT_ENC_MAX_SEQ says otherwise
    max_seq = min(cfg.max_seq, env_int("QBERT_ENC_MAX_SEQ", max(2 * cfg.array, 8)))
    await run_property(cases(cfg, max_seq), check, examples=examples, seed=seed, log=dut._log,
                       repro=repro)
    dut._log.info("encoder: %d synthetic layers, %d outputs bit-exact", stats["examples"],
                  stats["outputs"])
    write_info(stats)


@cocotb.test()
async def encoder_cycles(dut):
    """No stalls: the cycles of a layer at S = 1, a partial group and max_seq against
    the cycle model (rtl_gen/encoder_cycles.py), each checked bit-exact too, and
    within ``layer_bound`` (the liveness proof's bound, every unit at its proven
    worst case)."""
    from rtl_gen.encoder_cycles import layer_bound, layer_cycles
    cfg = _config()
    tb = EncoderTB(dut, cfg)
    rng = np.random.default_rng(5)
    rows = []
    for i, s in enumerate(sorted({1, max(1, cfg.max_seq - cfg.array // 2), cfg.max_seq})):
        c = synthetic_case(cfg, rng.integers(-128, 128, (s, cfg.hidden)), s, 1.0)
        # the layers one after another without a reset: the next start must clear done_o
        got, cycles = await tb.run_case(c, reset=i == 0)
        exp = expected(c)
        if not np.array_equal(exp, got):
            raise AssertionError(describe_mismatch(c, exp, got))
        model, bound = layer_cycles(cfg, s).total, layer_bound(cfg, s).total
        if cycles > bound:
            raise AssertionError(f"S={s}: {cycles} cycles, beyond layer_bound {bound} (L1's bound)")
        rows.append({"seq": s, "cycles": cycles, "model": model, "bound": bound, **(
            {"phases": tb.phases} if tb.phases else {})})
        dut._log.info("encoder S=%d: %d cycles, model %d (%+.2f%%)", s, cycles, model,
                      100 * (model - cycles) / cycles)
    write_info({"cycles": rows})


@cocotb.test()
async def encoder_error_flags(dut):
    """A sequence length outside 1..max_seq, a bad header, a short and a long weight
    stream each raise their sticky flag (and only the expected ones)."""
    from cocotbext.axi import AxiStreamFrame
    cfg = _config()
    tb = EncoderTB(dut, cfg)
    c = synthetic_case(cfg, np.zeros((1, cfg.hidden), np.int64), 1, 1.0)
    words = stream_words(cfg, stream_of(cfg, c))

    async def start(seq):
        await tb.reset()
        dut.seq_len_i.value = seq
        dut.start_i.value = 1
        await RisingEdge(tb.clk)
        dut.start_i.value = 0
        for _ in range(3):
            await RisingEdge(tb.clk)

    async def expect(flags, what, cycles=0):
        for _ in range(cycles):
            await RisingEdge(tb.clk)
        got = {k for k, v in tb.errors().items() if v}
        if got != set(flags):
            raise AssertionError(f"{what}: error flags {sorted(got)}, expected {sorted(flags)}")

    for bad in (0, cfg.max_seq + 1):
        if bad < 1 << len(dut.seq_len_i):
            await start(bad)
            await expect({"err_seq_o"}, f"seq_len_i={bad}")
            if int(dut.busy_o.value):
                raise AssertionError(f"seq_len_i={bad}: the engine started anyway")
    data = stream_of(cfg, c)
    # every header field the engine checks (golden_model.weightfile: byte offset, name)
    for off, field in ((0, "magic"), (4, "version"), (8, "hidden"), (10, "heads"), (12, "ffn"),
                       (14, "cols"), (16, "weight_bits"), (18, "total beats")):
        await start(1)
        bad = bytearray(data)
        bad[off] ^= 0x01
        tb.w.send_nowait(AxiStreamFrame(stream_words(cfg, bytes(bad))))  # the rest waits for X
        await expect({"err_hdr_o"}, f"a wrong header {field}", cfg.stream_shape.record_beats(22) + 12)
    # tlast on beat 5 of many, or on the last of the records the engine reads
    # before X (HDR, SCAL) when they are fewer (wide beats: array 64)
    rb = cfg.stream_shape.record_beats
    short = min(5, rb(22) + rb(32))
    for name, frame in (("err_w_short_o", words[:short]),
                        ("err_w_long_o", None)):
        await start(1)
        if frame is None:                                     # every beat, no tlast at the end
            tb.x.send_nowait(AxiStreamFrame(pack_tokens(cfg, c.x)))
            frame = words + [0]
            budget = tb.budget(c)
            tb.w.send_nowait(AxiStreamFrame(frame))
            while not int(dut.err_w_long_o.value) and budget:
                await RisingEdge(tb.clk)
                budget -= 1
            await expect({name}, "a stream longer than the layer", 2)
        else:
            tb.w.send_nowait(AxiStreamFrame(frame))
            await expect({name}, "a stream ending early", short + 12)


@cocotb.test()
async def encoder_minilm(dut):
    """One all-MiniLM-L6-v2 layer on a real sentence, every output element bit-exact."""
    cfg = _config()
    text = os.environ.get("QBERT_ENC_TEXT", "A man is eating food.")
    layer = env_int("QBERT_ENC_LAYER", 0)
    tb = EncoderTB(dut, cfg)
    c = minilm_case(cfg, text, layer, os.environ.get("QBERT_ENC_WEIGHTS") or None)
    got, cycles = await tb.run_case(c)
    exp = expected(c)
    if not np.array_equal(exp, got):
        raise AssertionError(describe_mismatch(c, exp, got))
    macs = cfg.macs(c.seq)
    dut._log.info("encoder layer %d, S=%d: %d outputs bit-exact in %d cycles (%d MACs, %.1f%% "
                  "of the array's %d MAC/cycle)", layer, c.seq, exp.size, cycles, macs,
                  100 * macs / (cycles * cfg.array ** 2), cfg.array ** 2)
    write_info({"minilm": {"layer": layer, "seq": c.seq, "outputs": int(exp.size),
                           "cycles": cycles, "macs": macs, "phases": tb.phases}})
