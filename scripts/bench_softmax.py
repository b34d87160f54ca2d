"""`qbert bench softmax`: sustained scores/cycle and latency against row length.

Cycles: the cocotb test `softmax_bench` streams, for each row length n, one
row alone (cycles from the first input beat accepted to the first output
beat valid) and then BANKS + 4 rows back to back with no stalls (cycles
between the ends of successive rows once the pipeline is full); every row is
checked against the golden model.  Verilator, deterministic: the same Config
gives the same counts.  The ideal is one beat (``lanes`` scores) a cycle.

Resources: Yosys `synth_xilinx` as for matmul (scripts/bench_matmul.py synth).
"""
from __future__ import annotations

import time
from pathlib import Path

DEFAULT_LENGTHS = (1, 16, 64, 128, 384, 512)


def parse_lengths(text: str, max_len: int) -> list[int]:
    try:
        lengths = [int(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"--lengths wants N[,N..], got {text!r}") from None
    bad = [n for n in lengths if not 1 <= n <= max_len]
    if bad:
        raise ValueError(f"--lengths: every row length must be in [1, max_len={max_len}], "
                         f"got {bad[0]}")
    return lengths


def cycles(flow, cfg, rtl: Path, lengths) -> list[dict]:
    from .flows import simulate_bench
    env = {"QBERT_BENCH_LENGTHS": ",".join(str(n) for n in lengths)}
    return simulate_bench(flow, cfg, rtl, "softmax_bench", env)


def main(flow, cfg, rtl: Path, lengths, do_synth: bool = True) -> dict:
    from .bench_matmul import synth_report
    gm = flow.gen_module()
    lengths = [n for n in lengths if n <= cfg.max_len]
    t0 = time.time()
    rows = cycles(flow, cfg, rtl, lengths)
    sim_s = time.time() - t0
    print(f"\nsoftmax bench: lanes={cfg.lanes} max_len={cfg.max_len} in_bits={cfg.in_bits} "
          f"out_bits={cfg.out_bits} div_bits_per_cycle={cfg.div_bits_per_cycle} "
          f"(simulated in {sim_s:.0f} s, results checked against int_softmax)")
    print(f"{'n':>5} {'beats':>5} {'latency':>8} {'(formula)':>9} {'period':>7} {'(formula)':>9} "
          f"{'scores/cycle':>12} {'of lanes':>8}")
    for r in rows:
        n, per = r["n"], r["periods"][-1]
        r["scores_per_cycle"] = n / per
        print(f"{n:>5} {cfg.beats(n):>5} {r['latency']:>8} {cfg.latency(n):>9} {per:>7} "
              f"{cfg.row_period(n):>9} {n / per:>12.2f} {100 * n / per / cfg.lanes:>7.1f}%")
    out = {"config": cfg.to_params(), "rows": rows}
    if do_synth:
        out["synth"] = synth_report(rtl, gm)   # LUTRAM: the four banks (RAM64M8 etc.)
    return out
