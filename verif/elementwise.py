"""What the elementwise units' testbenches share (gelu, requant, residual).

Independent of cocotb except :class:`ElementwiseTB` (import cocotb only inside
a simulation: that class is built lazily by :func:`elementwise_tb`).

A case is a list of *frames* (a frame is the beats up to and including one
``tlast``) per input stream plus pause patterns; the unit maps every beat to
one output beat and passes ``tlast`` through, so the expected output is the
golden function of each beat, frame by frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from .strategies import pause_patterns


def pack(values, lanes: int, bits: int) -> list[int]:
    """Beats of ``values`` (a multiple of ``lanes``): lane i in tdata[bits*i +: bits]."""
    v = [int(x) for x in (values.ravel() if isinstance(values, np.ndarray) else values)]
    assert len(v) % lanes == 0, (len(v), lanes)
    mask = (1 << bits) - 1
    words = []
    for j in range(0, len(v), lanes):
        w = 0
        for i, x in enumerate(v[j:j + lanes]):
            w |= (x & mask) << (i * bits)
        words.append(w)
    return words


def unpack(words, lanes: int, bits: int, signed: bool = True) -> np.ndarray:
    """The lanes of ``words`` (inverse of :func:`pack`), as int64."""
    mask, out = (1 << bits) - 1, []
    for w in words:
        for i in range(lanes):
            x = (int(w) >> (i * bits)) & mask
            out.append(x - (1 << bits) if signed and x >> (bits - 1) else x)
    return np.asarray(out, dtype=np.int64)


def pad_bits(words, used_bits: int) -> int:
    """OR of the words' bits above ``used_bits`` (output pad must be 0)."""
    r = 0
    for w in words:
        r |= int(w) >> used_bits
    return r


@st.composite
def frame_lengths(draw, max_frames: int = 3, max_beats: int = 24) -> list[int]:
    """Beats per frame: single beats, short and longer frames back to back."""
    return draw(st.lists(st.one_of(st.just(1), st.integers(1, 4), st.integers(1, max_beats)),
                         min_size=1, max_size=max_frames))


def pauses_for(draw, endpoints) -> dict:
    return {ep: draw(pause_patterns()) for ep in endpoints}


@dataclass
class StreamCase:
    """Input frames per stream (name -> list of element arrays, one per frame,
    each a multiple of lanes long) and the pause pattern of every endpoint."""
    frames: dict
    pauses: dict

    def __repr__(self) -> str:
        lines = ["StreamCase("]
        for name, fr in self.frames.items():
            for k, f in enumerate(fr):
                lines.append(f"  {name} frame {k}: {np.asarray(f).tolist()},")
        lines.append(f"  pauses={self.pauses})")
        return "\n".join(lines)


def first_mismatch(exp: list[np.ndarray], got: list[np.ndarray], lanes: int) -> tuple | None:
    """(frame, index, expected, got) of the first differing element, or None."""
    for fi, (e, g) in enumerate(zip(exp, got)):
        if e.shape != g.shape:
            return fi, None, len(e), len(g)
        diff = np.flatnonzero(e != g)
        if len(diff):
            i = int(diff[0])
            return fi, i, int(e[i]), int(g[i])
    return None


def elementwise_tb(dut, out_prefix: str = "m_axis"):
    """A StreamTB that sends a StreamCase and collects the output frames."""
    from cocotb.triggers import ClockCycles, SimTimeoutError, with_timeout
    from cocotbext.axi import AxiStreamFrame
    from .tb import CLOCK_NS, StreamTB

    class ElementwiseTB(StreamTB):
        def __init__(self, dut, in_prefixes: list[str], out_lanes: int, out_bits: int,
                     out_signed: bool = True):
            super().__init__(dut)
            self.srcs = {p: self.source(p) for p in in_prefixes}
            self.out = self.sink(out_prefix)
            self.out_lanes, self.out_bits, self.out_signed = out_lanes, out_bits, out_signed
            self.monitor_master(out_prefix)

        async def run_case(self, c: StreamCase, words: dict) -> list[np.ndarray]:
            """Reset, send ``words`` (stream -> list of frames of tdata words),
            collect one output frame per input frame of the first stream."""
            self.set_pauses(c.pauses)
            await self.reset()
            self.violations.clear()
            first = next(iter(words))
            for p, frames in words.items():
                if p == first:
                    for f in frames:
                        self.srcs[p].send_nowait(AxiStreamFrame(f))
                else:   # no tlast on the other streams: one frame of every beat
                    self.srcs[p].send_nowait(AxiStreamFrame([w for f in frames for w in f]))
            nframes = len(words[first])
            beats = sum(len(f) for f in words[first])
            slow = max([len(v) for v in c.pauses.values()] + [1])
            budget = (beats + 20) * (slow + 1) * 2 * len(words) + 100
            got = []
            for t in range(nframes):
                try:
                    f = await with_timeout(self.out.recv(), budget * CLOCK_NS, "ns")
                except SimTimeoutError:
                    raise AssertionError(f"DUT hung: received {t} of {nframes} output frames "
                                         f"within {budget} cycles") from None
                ws = list(f.tdata)
                want = len(words[first][t])
                if len(ws) != want:
                    raise AssertionError(f"output frame {t} has {len(ws)} beats up to tlast, "
                                         f"expected {want} (tlast not passed through)")
                used = self.out_lanes * self.out_bits
                if pad_bits(ws, used):
                    raise AssertionError(f"output frame {t}: tdata pad bits above {used} are not 0")
                got.append(unpack(ws, self.out_lanes, self.out_bits, self.out_signed))
            await ClockCycles(self.clk, 12)
            if not self.out.empty():
                raise AssertionError(f"DUT sent {self.out.count()} output frame(s) beyond the "
                                     f"{nframes} expected")
            if self.violations:
                v, self.violations[:] = self.violations[0], []
                raise AssertionError(v)
            return got

    return ElementwiseTB


async def measure_stream(tb, dut, frames_words: dict, timeout_cycles: int,
                         in_prefix: str = "s_axis") -> dict:
    """No stalls: send the frames, and count cycles from the first input beat taken
    to the first output beat offered (latency) and to the last output beat taken."""
    from cocotb.triggers import ReadOnly, RisingEdge
    from cocotbext.axi import AxiStreamFrame
    tb.set_pauses({})
    await tb.reset()
    first = next(iter(frames_words))
    for p, frames in frames_words.items():
        for f in frames if p == first else [[w for f in frames for w in f]]:
            tb.srcs[p].send_nowait(AxiStreamFrame(f))
    total = sum(len(f) for f in frames_words[first])
    first_in = first_out = None
    taken = 0
    start = tb.cycle
    while taken < total:
        await ReadOnly()
        if first_in is None and int(getattr(dut, f"{in_prefix}_tvalid").value) \
                and int(getattr(dut, f"{in_prefix}_tready").value):
            first_in = tb.cycle
        if int(dut.m_axis_tvalid.value):
            if first_out is None:
                first_out = tb.cycle
            if int(dut.m_axis_tready.value):
                taken += 1
        if tb.cycle - start > timeout_cycles:
            raise AssertionError(f"DUT hung: {taken} of {total} output beats in {timeout_cycles} cycles")
        await RisingEdge(dut.clk)
    return {"beats": total, "latency": first_out - first_in, "cycles": tb.cycle - first_in}


async def check_property(dut, unit: str, tb, strategy, expected, words, describe) -> dict:
    """The Hypothesis property every elementwise unit runs: each drawn case's
    output frames equal ``expected(case)`` (a list of arrays, one per frame);
    ``describe(case, (frame, index, expected, got))`` explains a mismatch.
    Returns the counts (examples, output elements)."""
    from .tb import env_int, run_property
    import os
    examples = env_int("QBERT_EXAMPLES", 60)
    seed = env_int("QBERT_SEED", 0)
    repro = os.environ.get("QBERT_REPRO", f"qbert sim {unit} --seed {seed} --examples {examples}")
    stats = {"examples": 0, "outputs": 0}

    async def check(c: StreamCase) -> None:
        got = await tb.run_case(c, words(c))
        exp = expected(c)
        stats["examples"] += 1
        stats["outputs"] += sum(len(e) for e in exp)
        bad = first_mismatch(exp, got, tb.out_lanes)
        if bad:
            raise AssertionError(describe(c, bad))

    await run_property(strategy, check, examples=examples, seed=seed, log=dut._log, repro=repro)
    dut._log.info("%s: %d examples, %d output elements, all bit-exact", unit,
                  stats["examples"], stats["outputs"])
    return stats


async def measure_and_check(dut, tb, case: StreamCase, words: dict, expected: list,
                            latency: int) -> dict:
    """No stalls: stream ``case`` (one frame per input frame), check every output
    against ``expected`` and the documented ``latency``, and return the measured
    latency, cycles and elements per cycle after the first result."""
    from cocotb.triggers import with_timeout
    from .tb import CLOCK_NS
    first = next(iter(words))
    beats = sum(len(f) for f in words[first])
    m = await measure_stream(tb, dut, words, 4 * beats + 100, in_prefix=first)
    got = []
    for _ in words[first]:
        f = await with_timeout(tb.out.recv(), 100 * CLOCK_NS, "ns")
        got.append(unpack(list(f.tdata), tb.out_lanes, tb.out_bits, tb.out_signed))
    bad = first_mismatch(expected, got, tb.out_lanes)
    assert bad is None, f"no-stall run: first mismatch (frame, index, expected, got) = {bad}"
    assert m["latency"] == latency, f"latency {m['latency']} != documented {latency}"
    per_cycle = beats * tb.out_lanes / (m["cycles"] - m["latency"])
    dut._log.info("no stalls: latency %d cycles, %d beats in %d cycles (%.3f elements/cycle "
                  "after the first result)", m["latency"], beats, m["cycles"], per_cycle)
    return {**m, "elements_per_cycle": per_cycle}
