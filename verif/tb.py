"""A small cocotb testbench kit shared by every unit's test module.

:class:`StreamTB` owns the clock and the synchronous active-high reset, makes
cocotbext-axi AXI4-Stream sources and sinks (one word per beat: the unit packs
several lanes into one ``tdata`` word itself), applies Hypothesis-drawn
idle/backpressure patterns to them, and resets the DUT and the stream models
between examples.

:func:`run_property` is the Hypothesis-inside-cocotb bridge (DESIGN.md): a plain
``@given`` property runs in a thread via ``cocotb.task.bridge`` and drives the
DUT through ``cocotb.task.resume``; Hypothesis keeps full shrinking, and the
DUT is reset before every example so a failed example leaves nothing behind.

This module imports cocotb: only import it inside a simulation.
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import sys
import traceback
from typing import Awaitable, Callable, Sequence

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamSink, AxiStreamSource
from hypothesis import HealthCheck, Phase, given, seed as hseed, settings
from hypothesis.database import DirectoryBasedExampleDatabase

CLOCK_NS = 10


class _LaneKeepBus(AxiStreamBus):
    """An AXI4-Stream bus whose ``tkeep`` has one bit per lane of ``tdata``
    (lanes need not be bytes): cocotbext-axi carries it as ``tuser``."""
    _optional_signals = {"tvalid": "tvalid", "tready": "tready", "tlast": "tlast",
                         "tuser": "tkeep"}


class StreamTB:
    """Clock, reset and AXI4-Stream endpoints around one DUT."""

    def __init__(self, dut, clk: str = "clk", rst: str = "rst"):
        self.dut = dut
        self.clk = getattr(dut, clk)
        self.rst = getattr(dut, rst)
        self.sources: dict[str, AxiStreamSource] = {}
        self.sinks: dict[str, AxiStreamSink] = {}
        self.cycle = 0
        self.violations: list[str] = []
        cocotb.start_soon(Clock(self.clk, CLOCK_NS, unit="ns").start())
        cocotb.start_soon(self._count())

    async def _count(self):
        while True:
            await RisingEdge(self.clk)
            self.cycle += 1

    def _quiet(self, ep):
        ep.log.setLevel(logging.WARNING)
        return ep

    def _bus(self, prefix: str, lane_keep: bool) -> AxiStreamBus:
        if lane_keep:
            return _LaneKeepBus.from_prefix(self.dut, prefix)
        return AxiStreamBus.from_prefix(self.dut, prefix)

    def source(self, prefix: str, lane_keep: bool = False) -> AxiStreamSource:
        """A source of one word a beat.  ``lane_keep``: the DUT's ``tkeep`` has a
        bit per lane (not per byte); it is driven from the frame's ``tuser``
        (an int per beat), so lanes of any width pack as the unit packs them."""
        bus = self._bus(prefix, lane_keep)
        src = self._quiet(AxiStreamSource(bus, self.clk, self.rst, byte_lanes=1))
        self.sources[prefix] = src
        return src

    def sink(self, prefix: str, lane_keep: bool = False) -> AxiStreamSink:
        """A sink of one word a beat; ``lane_keep``: a per-lane ``tkeep`` lands in
        the received frame's ``tuser`` (see :meth:`source`)."""
        bus = self._bus(prefix, lane_keep)
        snk = self._quiet(AxiStreamSink(bus, self.clk, self.rst, byte_lanes=1))
        self.sinks[prefix] = snk
        return snk

    def monitor_master(self, prefix: str) -> None:
        """Check a DUT master port against the AXI4-Stream handshake rule: once
        ``tvalid`` is high it stays high, with ``tdata``/``tlast``/``tkeep`` unchanged, until
        ``tready``.  Violations are collected in :attr:`violations`."""
        valid = getattr(self.dut, f"{prefix}_tvalid")
        ready = getattr(self.dut, f"{prefix}_tready")
        data = getattr(self.dut, f"{prefix}_tdata")
        last = getattr(self.dut, f"{prefix}_tlast", None)
        keep = getattr(self.dut, f"{prefix}_tkeep", None)

        async def watch():
            held = None  # (tdata, tlast) of a beat offered but not yet taken
            while True:
                await RisingEdge(self.clk)
                await ReadOnly()
                if int(self.rst.value):
                    held = None
                    continue
                v = int(valid.value)
                now = (int(data.value), int(last.value) if last is not None else 0,
                       int(keep.value) if keep is not None else 0)
                if held is not None and (not v or now != held):
                    self.violations.append(
                        f"{prefix}: at cycle {self.cycle} a beat offered but not taken was "
                        f"{'withdrawn' if not v else 'changed'} (AXI4-Stream requires "
                        f"tvalid/tdata/tlast/tkeep stable until tready)")
                held = now if v and not int(ready.value) else None

        cocotb.start_soon(watch())

    def set_pauses(self, patterns: dict[str, Sequence[bool]]) -> None:
        """Cycle each endpoint through its pause pattern (True = idle/stall that cycle).

        A source pauses by dropping ``tvalid`` (idle gaps), a sink by dropping
        ``tready`` (backpressure).  Endpoints missing from ``patterns`` never pause.
        """
        for name, ep in {**self.sources, **self.sinks}.items():
            pat = list(patterns.get(name, ()))
            if pat and any(pat):
                ep.set_pause_generator(itertools.cycle(pat))
            else:
                # clear_pause_generator() leaves the last drawn pause level in
                # place (cocotbext-axi 0.1.28): an endpoint could stay paused
                # forever, so un-pause explicitly.
                ep.clear_pause_generator()
                ep.pause = False

    async def reset(self, cycles: int = 3) -> None:
        """Assert ``rst`` for ``cycles`` clocks; empties every stream model's queue."""
        for ep in self.sources.values():
            ep.clear()
        for ep in self.sinks.values():
            ep.clear()
        await RisingEdge(self.clk)
        self.rst.value = 1
        await ClockCycles(self.clk, cycles)
        self.rst.value = 0
        await RisingEdge(self.clk)
        for ep in self.sinks.values():
            ep.clear()

    async def settle(self, cycles: int = 8) -> None:
        await ClockCycles(self.clk, cycles)
        await ReadOnly()
        await RisingEdge(self.clk)


def run_property(strategy, check: Callable[[object], Awaitable[None]], *, examples: int,
                 seed: int, log: logging.Logger, repro: str) -> Awaitable[None]:
    """Hypothesis-check ``check(example)`` on examples drawn from ``strategy``.

    Returns an awaitable; await it from the cocotb test.  On a failure, logs the
    minimal failing example and its error, the seed and the command ``repro``
    that reproduces it, then raises AssertionError (the test fails).
    """

    # tox -e fuzz sets QBERT_HYPOTHESIS_DB: failing examples are saved there and
    # replayed first on the next run; everyday runs keep no database.
    db_path = os.environ.get("QBERT_HYPOTHESIS_DB")
    database = DirectoryBasedExampleDatabase(db_path) if db_path else None
    phases = [Phase.explicit] + ([Phase.reuse] if database else []) + [Phase.generate, Phase.shrink]

    @settings(max_examples=examples, deadline=None, database=database, print_blob=True,
              report_multiple_bugs=False, suppress_health_check=list(HealthCheck), phases=phases)
    @hseed(seed)
    @given(strategy)
    def prop(example):
        cocotb.task.resume(check)(example)

    async def run():
        import warnings
        from hypothesis.errors import HypothesisSideeffectWarning
        # cocotb's pytest assertion rewriting makes Hypothesis believe it is
        # still initializing plugins; lazy strategy evaluation here is intended.
        warnings.filterwarnings("ignore", category=HypothesisSideeffectWarning)
        try:
            await cocotb.task.bridge(prop)()
        except Exception as e:  # the minimal failing example's error
            notes = "\n".join(getattr(e, "__notes__", []))
            msg = (f"\n======== MISMATCH (minimal failing case after shrinking) ========\n"
                   f"{type(e).__name__}: {e}\n{notes}\n"
                   f"seed: {seed}\nreproduce: {repro}\n"
                   f"=================================================================")
            print(msg, file=sys.stderr, flush=True)
            if not isinstance(e, AssertionError):
                traceback.print_exception(e, file=sys.stderr)
            raise AssertionError(f"property failed (seed {seed}); reproduce: {repro}") from None

    return run()


def env_int(name: str, default: int) -> int:
    v = os.environ.get(name)
    return default if v in (None, "") else int(v)


def write_info(update: dict) -> None:
    """Merge ``update`` into the JSON file $QBERT_INFO_FILE (counts, measured
    cycles) that `qbert sim` and the tests read back."""
    info = os.environ.get("QBERT_INFO_FILE")
    if not info:
        return
    try:
        with open(info) as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError):
        data = {}
    data.update(update)
    with open(info, "w") as f:
        json.dump(data, f)
