"""`qbert bench gelu|requant|residual`: latency and throughput measured in
simulation (the no-stall test of the unit's cocotb module, results checked
against the golden model), and Yosys `synth_xilinx -family xcup` resources
(scripts/bench_matmul.py's synth)."""
from __future__ import annotations

import time
from pathlib import Path

#: unit -> the cocotb test that streams without stalls and measures
MEASURE_TEST = {"gelu": "gelu_exhaustive", "requant": "requant_throughput",
                "residual": "residual_throughput"}


def measure(flow, cfg, rtl: Path) -> dict:
    from .flows import simulate
    res, info = simulate(flow, cfg, rtl, examples=1, seed=0, testcase=MEASURE_TEST[flow.unit])
    if not res.passed:
        raise RuntimeError(f"the {flow.unit} bench simulation failed (see the log above)")
    return info


def main(flow, cfg, rtl: Path, do_synth: bool = True) -> dict:
    from .bench_matmul import synth
    gm = flow.gen_module()
    t0 = time.time()
    info = measure(flow, cfg, rtl)
    params = ", ".join(f"{k}={v}" for k, v in cfg.to_params().items())
    print(f"\n{flow.unit} bench ({params}; simulated in {time.time() - t0:.0f} s, "
          f"outputs checked against the golden model)")
    print(f"  latency: {info['latency']} cycles from a beat taken to its result offered")
    print(f"  throughput: {info['beats']} beats in {info['cycles']} cycles = "
          f"{info['elements_per_cycle']:.2f} elements/cycle after the first result "
          f"(lanes={cfg.lanes})")
    out = {"config": cfg.to_params(), "latency": info["latency"], "cycles": info["cycles"],
           "beats": info["beats"], "elements_per_cycle": info["elements_per_cycle"]}
    if do_synth:
        res = synth(rtl, gm.TOP, gm.sources(rtl))
        print(f"  Yosys synth_xilinx -family xcup: {res['LUT']} LUT, {res['FF']} FF, "
              f"{res['DSP48E2']} DSP48E2, {res['CARRY']} CARRY, {res['SRL']} SRL, "
              f"{res['BRAM']} BRAM ({res['seconds']} s)")
        out["synth"] = res
    return out
