"""Sign-off gates: lint, simulation, proofs, synthesis, on exactly the files of a bundle.

Each gate returns a :class:`Gate`; :func:`run_gates` runs them unit by unit in
that order and stops at the first failure (the bundle is then refused).

========  ==================================================================
lint      ``verilator --lint-only -Wall`` clean (waivers: rtl_gen/lint_waivers.vlt)
sim       the unit's cocotb regression under Verilator: Hypothesis examples
          bit-exact against the golden model, plus its directed tests
          (latency, error flags)
formal    every SymbiYosys proof and z3 lemma of ``qbert prove UNIT``
synth     Yosys: no latch inferred, ``synth_xilinx`` of the top succeeds;
          its resources go into the report
bench     (units with a benchmark) cycles measured in Verilator with no
          stalls, outputs checked against the golden model; the latency and
          utilization figures of the report
========  ==================================================================
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

GATES = ("lint", "sim", "formal", "synth", "bench")


@dataclass
class Gate:
    unit: str
    name: str
    passed: bool
    seconds: float
    detail: str = ""                       # one line for the report and the console
    log: str = ""                          # the tool output worth showing on failure
    data: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"unit": self.unit, "gate": self.name, "passed": self.passed,
                "seconds": round(self.seconds, 1), "detail": self.detail, **self.data}


def lint_gate(flow, cfg, rtl: Path, ec) -> Gate:
    from scripts.flows import lint
    ok, out = lint(flow, rtl)
    return Gate(flow.unit, "lint", ok, 0.0,
                "verilator --lint-only -Wall: clean" if ok else "verilator reported warnings/errors",
                log=out)


def sim_gate(flow, cfg, rtl: Path, ec) -> Gate:
    from scripts.flows import simulate
    repro = f"qbert sim {flow.unit} --rtl {rtl} --seed {ec.seed} --examples {ec.sim_examples}"
    res, info = simulate(flow, cfg, rtl, examples=ec.sim_examples, seed=ec.seed, repro=repro)
    ok = res.passed and info.get("examples") == ec.sim_examples
    detail = (f"{info.get('examples', 0)} Hypothesis examples ({info.get('outputs', '?')} output "
              f"elements) bit-exact, {res.tests} cocotb tests, seed {ec.seed}")
    if not ok:
        detail = f"simulation FAILED ({res.results_xml}); reproduce: {repro}"
    return Gate(flow.unit, "sim", ok, 0.0, detail,
                data={"examples": info.get("examples", 0), "outputs": info.get("outputs", 0),
                      "cocotb_tests": res.tests, "seed": ec.seed})


def formal_gate(flow, cfg, rtl: Path, ec) -> Gate:
    from formal.run import UNITS_WITH_PROOFS, all_passed, format_table, prove
    if flow.unit not in UNITS_WITH_PROOFS:
        return Gate(flow.unit, "formal", False, 0.0,
                    f"unit {flow.unit} has no complete proofs (formal.run.UNITS_WITH_PROOFS)")
    results = prove(flow.unit, None, rtl, ec.solver, progress=lambda line: print(f"    {line}", flush=True))
    ok = all_passed(results)
    proofs = [{"name": r.name, "kind": r.mode, "status": r.status, "seconds": round(r.seconds, 1)}
              for r in results]
    bad = [r.name for r in results if not r.passed]
    detail = (f"{len(results)} proofs/lemmas passed ({ec.solver})" if ok
              else f"{len(bad)} of {len(results)} proofs failed: {', '.join(bad[:3])}")
    return Gate(flow.unit, "formal", ok, 0.0, detail, log=format_table(results),
                data={"proofs": proofs})


def synth_gate(flow, cfg, rtl: Path, ec) -> Gate:
    from scripts.synth import FAMILY, SynthError, synth
    gm = flow.gen_module()
    try:
        res = synth(gm.TOP, gm.sources(rtl))
    except SynthError as e:
        return Gate(flow.unit, "synth", False, 0.0, str(e).splitlines()[0], log=str(e))
    detail = (f"no latches; synth_xilinx -family {FAMILY}: {res['LUT']} LUT, {res['FF']} FF, "
              f"{res['DSP48E2']} DSP48E2, {res['BRAM']} RAMB")
    return Gate(flow.unit, "synth", True, 0.0, detail, data={"resources": res})


def matmul_bench(flow, cfg, rtl: Path) -> dict:
    """MAC-array utilization against K for a 2x2-tile matmul, and the latency facts."""
    from scripts.bench_matmul import cycles
    ks = sorted({k for k in (1, 2, cfg.rows + 1, 16, 64, 256) if k <= cfg.k_max})
    rows = cycles(flow, cfg, rtl, [(2 * cfg.rows, k, 2 * cfg.cols) for k in ks])
    points = [[r["M"], r["K"], r["N"], r["cycles"], round(100 * r["ideal"] / r["cycles"], 1)] for r in rows]
    return {"facts": [("peak MAC/cycle", cfg.rows * cfg.cols),
                      ("full rate when", f"K-run >= rows + 1 = {cfg.rows + 1}"),
                      ("last act beat -> last output beat (cycles)", cfg.drain_cycles)],
            "columns": ["M", "K", "N", "cycles", "utilization %"], "points": points,
            "curve": [(r["K"], u) for (_, _, _, _, u), r in zip(points, rows)],
            "curve_label": "MAC utilization vs K (4 tiles)"}


#: unit -> benchmark (flow, cfg, rtl) -> {"facts", "columns", "points", "curve", "curve_label"}
BENCHES: dict[str, Callable] = {"matmul": matmul_bench}


def bench_gate(flow, cfg, rtl: Path, ec) -> Gate:
    if flow.unit not in BENCHES:
        return Gate(flow.unit, "bench", True, 0.0, "no benchmark for this unit (nothing measured)")
    perf = BENCHES[flow.unit](flow, cfg, rtl)
    return Gate(flow.unit, "bench", True, 0.0,
                f"{len(perf.get('points', []))} measured cases, outputs bit-exact", data={"perf": perf})


GATE_FUNCS: dict[str, Callable] = {"lint": lint_gate, "sim": sim_gate, "formal": formal_gate,
                                   "synth": synth_gate, "bench": bench_gate}


def run_gates(units: dict, ec, say: Callable[[str], None] = print) -> list[Gate]:
    """Every gate of every unit; ``units`` maps unit -> (flow, cfg, rtl dir).

    Stops after the first failing gate (its Gate is the last in the list).
    """
    gates: list[Gate] = []
    for unit, (flow, cfg, rtl) in units.items():
        for name in GATES:
            say(f"[{unit}] {name} ...")
            t0 = time.time()
            try:
                g = GATE_FUNCS[name](flow, cfg, rtl, ec)
            except Exception as e:   # a tool that crashed is a failed gate, not a traceback
                g = Gate(unit, name, False, 0.0, f"{type(e).__name__}: {e}".splitlines()[0], log=str(e))
            g.seconds = time.time() - t0
            gates.append(g)
            say(f"[{unit}] {name}: {'PASS' if g.passed else 'FAIL'} in {g.seconds:.1f} s: {g.detail}")
            if not g.passed:
                return gates
    return gates
