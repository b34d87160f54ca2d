"""`qbert bench attention`: cycles of one head against the matmul arrays' ideal,
and Yosys resources.

Cycles: the cocotb test `attention_cycles` runs one head of S = max_seq with no
stalls (checked against the golden model) and counts the cycles from the
first Q K^T beat to the last output row, and from the first load beat.  The
ideal of one array is S*S*head_dim/(rows*cols) MAC cycles for Q K^T (the same
for P V); the two arrays run concurrently, so the matmul-only floor is the
Q K^T of the whole head plus the P V of its last group of rows.

Resources: Yosys `synth_xilinx` (scripts/synth.py) of the whole head.
"""
from __future__ import annotations

import time
from pathlib import Path


def matmul_only(cfg) -> int:
    """Cycles the two arrays alone need at S = max_seq: all of Q K^T, then the
    last group's P V (S*head_dim/cols)."""
    s = cfg.max_seq
    return cfg.ideal_cycles(s) + s * cfg.head_dim // cfg.cols


def main(flow, cfg, rtl: Path, do_synth: bool = True) -> dict:
    from .bench_matmul import synth
    from .flows import simulate
    t0 = time.time()
    res, info = simulate(flow, cfg, rtl, examples=1, seed=0, testcase="attention_cycles")
    if not res.passed:
        raise RuntimeError("the bench simulation failed (see the log above)")
    c = info["cycles"]
    floor = matmul_only(cfg)
    c.update(matmul_only=floor, overhead=round(c["compute_cycles"] / floor - 1, 4),
             two_ops_one_array=2 * c["ideal_one_array"])
    print(f"\nattention bench: S={c['seq']} head_dim={cfg.head_dim} rows={cfg.rows} "
          f"cols={cfg.cols} lanes={cfg.lanes} (simulated in {time.time() - t0:.0f} s, "
          f"checked against attention_heads)")
    print(f"  first Q K^T beat to last output row: {c['compute_cycles']} cycles")
    print(f"  first load beat to last output row:  {c['total_cycles']} cycles")
    print(f"  matmul arrays alone (Q K^T of the head + P V of the last group): {floor} "
          f"-> softmax, buffers and control add {100 * c['overhead']:.1f} %")
    print(f"  (one array doing both products back to back would need {2 * c['ideal_one_array']})")
    print(f"  loads in to last output beat: {c['loads_in_to_last_beat']} cycles, bound "
          f"head_latency({c['seq']}) = {c['head_latency_bound']} (worst case with the units' "
          f"latency bounds, every stage serialized; qbert prove attention)")
    out = {"config": cfg.to_params(), "cycles": c}
    if do_synth:
        gm = flow.gen_module()
        r = synth(rtl, gm.TOP, gm.sources(rtl))
        print(f"Yosys synth_xilinx -family xcup: {r['LUT']} LUT, {r['FF']} FF, "
              f"{r['DSP48E2']} DSP48E2, {r['CARRY']} CARRY, {r['SRL']} SRL, "
              f"{r['BRAM']} BRAM, {r['LUTRAM']} LUTRAM ({r['seconds']} s)")
        out["synth"] = r
    return out
