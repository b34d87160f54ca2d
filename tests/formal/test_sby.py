"""formal.sby: job text, verdicts (PASS/FAIL/UNKNOWN/ERROR/TIMEOUT), traces, tool errors."""
import pytest

from formal.sby import SbyJob, check_tools, engine_for
from rtl_gen.toolchain import ToolMissing

COUNTER = """
module counter (input wire clk, input wire rst, output reg [3:0] n);
    always @(posedge clk) if (rst || n == 4'd{lim}) n <= 4'd0; else n <= n + 4'd1;
`ifdef FORMAL
    reg first = 1'b1;
    always @(posedge clk) first <= 1'b0;
    always @(*) if (first) assume (rst);
    always @(*) if (!first) assert (n <= 4'd{bound});   // C1 bound
    always @(*) if (!first) cover (n == 4'd{lim});
`endif
endmodule
"""


def job(lim=9, bound=9, mode="prove", depth=4, engine="smtbmc yices"):
    return SbyJob("counter", "counter", {"counter.sv": COUNTER.format(lim=lim, bound=bound)},
                  mode=mode, depth=depth, engine=engine)


def test_sby_text():
    text = job().sby_text()
    assert "mode prove" in text and "depth 4" in text and "smtbmc yices" in text
    assert "read -formal -sv counter.sv" in text and "prep -top counter" in text


def test_after_prep_follows_the_default_script():
    import dataclasses
    text = dataclasses.replace(job(), after_prep=("cutpoint counter/w:c", "opt_clean"),
                               defines={"F_X": None}).sby_text()
    script = text.split("[script]\n")[1].split("\n\n")[0].splitlines()
    assert script == ["read -formal -sv -DF_X counter.sv", "prep -top counter",
                      "cutpoint counter/w:c", "opt_clean"]
    with pytest.raises(ValueError, match="after_prep"):
        SbyJob("x", "x", {"x.sv": ""}, script=("prep -top x",), after_prep=("opt_clean",))


def test_pass(run):
    r = run(job())
    assert r.status == "PASS", r.summary()
    assert r.trace is None and r.workdir is None      # removed when it passes


def test_fail_has_trace_and_property(run):
    r = run(job(bound=7, mode="bmc", depth=12))
    assert r.status == "FAIL", r.summary()
    assert r.trace is not None and r.trace.exists() and r.trace.suffix == ".vcd"
    assert r.properties == ["C1 bound"]
    assert "counterexample trace" in r.summary()


def test_prove_finds_reachable_failure(run):
    r = run(job(bound=7, depth=12))
    assert r.status == "FAIL", r.summary()


def test_not_inductive_is_unknown_not_pass(run):
    # n <= 12 holds (n never exceeds 9), but from an unreachable n = 13 the
    # induction step breaks it: depth 2 is not enough -> UNKNOWN, never PASS
    r = run(job(lim=9, bound=12, depth=2))
    assert r.status == "UNKNOWN", r.summary()
    assert not r.passed


def test_cover(run):
    assert run(job(mode="cover", depth=12)).status == "PASS"
    r = run(job(mode="cover", depth=5))                 # n == 9 needs 10 steps
    assert r.status == "FAIL", r.summary()


def test_syntax_error_is_error(run):
    r = run(SbyJob("broken", "broken", {"broken.sv": "module broken(; endmodule\n"}, depth=2))
    assert r.status == "ERROR", r.summary()
    assert "syntax error" in r.detail


def test_z3_engine(run):
    r = run(job(engine="smtbmc z3"))
    assert r.status == "PASS", r.summary()


def test_timeout(run):
    from formal.equiv import RequantSpec, requant_dut_sv, requant_equiv_job
    spec = RequantSpec()
    # full-width split multiplier against the direct product: does not close in seconds
    j = requant_equiv_job(spec, {"dut.sv": requant_dut_sv(spec, style="split")}, name="rq_slow")
    r = run(j, timeout=8)
    assert r.status == "TIMEOUT", r.summary()


def test_bad_job_parameters():
    with pytest.raises(ValueError, match="mode"):
        SbyJob("x", "x", {"x.sv": ""}, mode="proof")
    with pytest.raises(ValueError, match="depth"):
        SbyJob("x", "x", {"x.sv": ""}, depth=0)
    with pytest.raises(ValueError, match="solver"):
        engine_for("cvc9")
    assert engine_for("z3") == "smtbmc z3"


def test_missing_tool_is_clear(monkeypatch):
    with pytest.raises(ToolMissing, match="yosys-abc"):
        check_tools("abc pdr")
    monkeypatch.setattr("formal.sby._tool_path", lambda: "/nonexistent")
    with pytest.raises(ToolMissing, match="yowasp-sby"):
        check_tools("smtbmc yices")


def _procs_under(root) -> list[int]:
    """Processes whose working folder is under ``root`` (SBY and its solvers)."""
    from pathlib import Path
    found = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and str(root) in str((d / "cwd").resolve()):
                found.append(int(d.name))
        except OSError:
            continue
    return found


SLOW_PROOF = """
from formal.equiv import RequantSpec, requant_dut_sv, requant_equiv_job
from formal.run import run_all
from formal.sby import sigterm_exits
spec = RequantSpec()
job = requant_equiv_job(spec, {"dut.sv": requant_dut_sv(spec, style="split")}, name="rq_slow")
with sigterm_exits():
    run_all([job], [], timeout=600, progress=lambda line: print(line, flush=True))
"""


@pytest.mark.skipif(not __import__("pathlib").Path("/proc").is_dir(), reason="needs /proc")
def test_sigterm_stops_the_solvers(tmp_path):
    """A proof run stopped by SIGTERM (kill, a CI timeout) exits 143 and leaves
    no SBY or solver process behind (without sigterm_exits they are orphaned)."""
    import os
    import signal
    import subprocess
    import sys
    import time
    env = dict(os.environ, QBERT_FORMAL_DIR=str(tmp_path))
    p = subprocess.Popen([sys.executable, "-c", SLOW_PROOF], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(_procs_under(tmp_path)) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)       # SBY and at least one solver running
        assert _procs_under(tmp_path), "the proof never started"
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=60) == 128 + signal.SIGTERM
        time.sleep(1)
        assert _procs_under(tmp_path) == []
    finally:
        for pid in _procs_under(tmp_path):
            os.kill(pid, signal.SIGKILL)
        p.kill()
