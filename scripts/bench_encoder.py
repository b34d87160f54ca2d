"""`qbert bench encoder`: the cycle model against Verilator, the array's utilization,
and the BERT-base estimate against FQ-BERT (docs/encoder.md, "Performance").

1. Simulation: the cocotb test `encoder_cycles` runs synthetic layers of S = 1, a
   partial row group and max_seq with no stalls (each checked bit-exact) and
   reports the cycles from start_i to done_o; the cycle model
   (rtl_gen/encoder_cycles.py) is printed beside them.
2. The model for MiniLM and BERT-base at 128 tokens on arrays of 8, 16 and 32
   (BERT-base also on the mixed W4 array, dsp_pack 3): cycles per layer, utilization, and a 12-layer BERT-base inference against
   FQ-BERT's 43.89 ms at 214 MHz (9.39 M cycles), and the floor of any array of DSP
   multipliers within its 1751 DSPs, at W4 and W8 (:func:`dsp_floor`); the
   goal's Config (:data:`GOAL_CONFIG`, array 64); and where a BERT-base layer's
   cycles go on array 32 (:func:`phase_shares`).
3. Resources (unless --no-synth): Yosys synth_xilinx of every unit the engine
   instantiates, each at the engine's Config (the engine's own glue has no
   multipliers: its DSPs are the units' DSPs).
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

#: FQ-BERT on a ZCU102 (Liu et al. 2021): BERT-base, sequence 128, 43.89 ms at 214 MHz
FQBERT_MS, FQBERT_MHZ, FQBERT_DSP = 43.89, 214, 1751
FQBERT_CYCLES = round(FQBERT_MS * 1e-3 * FQBERT_MHZ * 1e6)
#: the issue's goal: at most a third of FQ-BERT's cycles
GOAL_CYCLES = FQBERT_CYCLES / 3
#: exact products of an int8 activation one DSP48E2 gives a cycle, by the other
#: operand's width (MatmulConfig.dsp_pack): three int8 x int4 share a 27-bit
#: operand, two int8 x int8; Q K^T and P V are always int8 x int8
MACS_PER_DSP = {4: 3, 8: 2}


def dsp_floor(seq: int = 128, layers: int = 12, dsp: int = FQBERT_DSP,
              weight_bits: int = 4) -> dict:
    """The fewest cycles any array of DSP multipliers can take for a BERT-base
    inference with ``weight_bits`` weights (FQ-BERT's are 4) within ``dsp`` DSPs:
    every DSP a packed multiplier busy every cycle, none left for the other
    units (docs/encoder.md, "Performance")."""
    from rtl_gen.encoder import EncoderConfig
    if weight_bits not in MACS_PER_DSP:
        raise ValueError(f"weight_bits must be one of {sorted(MACS_PER_DSP)}, got {weight_bits!r}")
    cfg = EncoderConfig.preset("bert-base", max_seq=seq)
    lin, att = layers * cfg.linear_macs(seq), layers * cfg.attention_macs(seq)
    p_lin, p_att = MACS_PER_DSP[weight_bits], MACS_PER_DSP[8]
    # DSP-cycles, in units of 1/(p_lin * p_att) to stay exact
    need = lin * p_att + att * p_lin
    return {"macs": lin + att, "linear_macs": lin, "attention_macs": att,
            "weight_bits": weight_bits, "macs_per_dsp": {"linear": p_lin, "attention": p_att},
            "floor_cycles": -(-need // (dsp * p_lin * p_att)), "goal_cycles": GOAL_CYCLES}


#: the arrays of the model table: the default (dsp_pack 2; its cycles are the same
#: at W8 and W4), BERT-base on the mixed array (W4, dsp_pack 3: 3 weight MACs a
#: DSP, attention at two cycles a beat), and the mixed array with 8 shared
#: requantizers (requant_lanes 8: about 4 DSPs each instead of one per column),
#: with the residual, GELU and requant units at 8 lanes too (post_lanes 8), and
#: with every unit narrower than the array (the softmax at 8 lanes, the LayerNorm
#: at 16); a unit's lanes past the array's are the array's (model_table)
VARIANTS = {"pack2": {}, "w4 mixed": {"weight_bits": 4, "dsp_pack": 3},
            "mixed rq8": {"weight_bits": 4, "dsp_pack": 3, "requant_lanes": 8},
            "mixed rq8 post8": {"weight_bits": 4, "dsp_pack": 3, "requant_lanes": 8,
                                "post_lanes": 8},
            "mixed narrow": {"weight_bits": 4, "dsp_pack": 3, "requant_lanes": 8, "post_lanes": 8,
                             "softmax_lanes": 8, "layernorm_lanes": 16}}


#: the Config docs/encoder.md measures the goal at: a 64 x 64 mixed array within
#: FQ-BERT's DSP budget (about 1,740 DSP48E2, the array's 1,408 estimated), 22
#: shared requantizers (an output row in 3 cycles), every other unit narrower
#: than the array, the softmax's divider at 4 bits a cycle
GOAL_CONFIG = {"array": 64, "weight_bits": 4, "dsp_pack": 3, "requant_lanes": 22, "post_lanes": 8,
               "softmax_lanes": 16, "layernorm_lanes": 16, "softmax_div_bits": 4}


def model_table(seq: int = 128, arrays=(8, 16, 32)) -> list[dict]:
    from rtl_gen.encoder import EncoderConfig
    from rtl_gen.encoder_cycles import layer_cycles
    rows = []
    for name, layers in (("minilm", 6), ("bert-base", 12)):
        for variant, kw in VARIANTS.items():
            if variant != "pack2" and name != "bert-base":
                continue
            for a in arrays:
                lanes = {f: min(v, a) for f, v in kw.items() if f.endswith("_lanes")}
                cfg = EncoderConfig.preset(name, array=a, max_seq=seq, **{**kw, **lanes})
                r = layer_cycles(cfg, seq)
                rows.append({"model": name, "variant": variant, "array": a, "seq": seq,
                             "layer_cycles": r.total, "inference_cycles": r.total * layers,
                             "utilization": round(r.utilization, 4)})
    return rows


#: the sequencer's phases (rtl_gen/encoder_cycles.layer_cycles) by what they do
PHASE_GROUPS = {
    "Q/K/V/out projections": ("LIN_q", "LIN_k", "LIN_v", "LIN_out"),
    "FFN up/down": ("LIN_up", "LIN_down"),
    "Q K^T and P V (array busy)": ("QK", "PV"),
    "attention, array idle (drains, softmax)": ("SM",),
    "LayerNorms (array idle)": ("LNP1", "LNV1", "LNP2", "LNV2"),
    "header, scalars, X load, done": ("START", "HDR", "SCAL", "LOADX", "DONE"),
}


def phase_shares(cfg, seq: int = 128) -> dict[str, int]:
    """A layer's cycles (cycle model) by :data:`PHASE_GROUPS`: what overlapping
    the softmax or the LayerNorms with the array could save at most."""
    from rtl_gen.encoder_cycles import layer_cycles
    ph = layer_cycles(cfg, seq).phases
    grouped = {g: sum(ph[p] for p in names) for g, names in PHASE_GROUPS.items()}
    assert sum(grouped.values()) == sum(ph.values()), sorted(ph)   # every phase in a group
    return grouped


def unit_resources(cfg) -> dict:
    """Yosys resources of every unit the engine instantiates, at the engine's Config."""
    from rtl_gen import gelu, layernorm, matmul, requant, residual, softmax
    from .synth import synth
    units = {"matmul": ({f"{matmul.TOP}.v": matmul.verilog(cfg.matmul)}, matmul.TOP),
             "softmax": (softmax.files(cfg.softmax), softmax.TOP),
             "layernorm": (layernorm.verilog_files(cfg.layernorm), layernorm.TOP),
             "gelu": ({f"{gelu.TOP}.v": gelu.verilog(cfg.gelu)}, gelu.TOP),
             "requant": ({f"{requant.TOP}.v": requant.verilog(cfg.requant)}, requant.TOP),
             "residual": ({f"{residual.TOP}.v": residual.verilog(cfg.residual)}, residual.TOP)}
    out = {}
    for name, (files, top) in units.items():
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for fn, text in files.items():
                (Path(d) / fn).write_text(text)
                paths.append(Path(d) / fn)
            out[name] = synth(top, paths)
            print(f"  {name}: {out[name]['LUT']} LUT, {out[name]['FF']} FF, "
                  f"{out[name]['DSP48E2']} DSP48E2 ({out[name]['seconds']} s)", flush=True)
    return out


def main(flow, cfg, rtl: Path, do_synth: bool = True) -> dict:
    from .flows import simulate
    t0 = time.time()
    res, info = simulate(flow, cfg, rtl, examples=1, seed=0, testcase="encoder_cycles")
    if not res.passed:
        raise RuntimeError("the bench simulation failed (see the log above)")
    print(f"\nencoder bench: {', '.join(f'{k}={v}' for k, v in cfg.to_params().items())} "
          f"(simulated in {time.time() - t0:.0f} s, every layer checked against encoder_layer)")
    print(f"{'S':>5} {'cycles':>10} {'model':>10} {'error':>8} {'MAC util':>9}")
    for r in info["cycles"]:
        util = cfg.macs(r["seq"]) / (r["cycles"] * cfg.array ** 2)
        print(f"{r['seq']:>5} {r['cycles']:>10} {r['model']:>10} "
              f"{100 * (r['model'] - r['cycles']) / r['cycles']:>+7.2f}% {100 * util:>8.1f}%")
    table = model_table()
    print(f"\ncycle model at 128 tokens (FQ-BERT, BERT-base on a ZCU102: {FQBERT_MS} ms at "
          f"{FQBERT_MHZ} MHz = {FQBERT_CYCLES:,} cycles):")
    print(f"{'model':>10} {'array':>14} {'cycles/layer':>13} {'inference':>12} {'util':>7} "
          f"{'vs FQ-BERT':>11}")
    for r in table:
        vs = f"{r['inference_cycles'] / FQBERT_CYCLES:.2f}x" if r["model"] == "bert-base" else ""
        arr = f"{r['array']} {r['variant']}"
        print(f"{r['model']:>10} {arr:>14} {r['layer_cycles']:>13,} "
              f"{r['inference_cycles']:>12,} {100 * r['utilization']:>6.1f}% {vs:>11}")
    from rtl_gen.encoder import EncoderConfig
    from rtl_gen.encoder_cycles import layer_cycles
    goal = layer_cycles(EncoderConfig.preset("bert-base", max_seq=128, **GOAL_CONFIG), 128)
    print(f"  bert-base, the goal's Config ({', '.join(f'{k}={v}' for k, v in GOAL_CONFIG.items())}): "
          f"{goal.total:,} cycles a layer, {12 * goal.total:,} an inference, "
          f"{100 * goal.utilization:.1f}% utilization, {12 * goal.total / GOAL_CYCLES:.3f}x the goal")
    shares = {}
    for variant, kw in VARIANTS.items():
        shares[variant] = phase_shares(EncoderConfig.preset("bert-base", array=32, max_seq=128, **kw))
    print(f"\nwhere a BERT-base layer's cycles go (128 tokens, array 32): "
          f"{', '.join(VARIANTS)}")
    for g in PHASE_GROUPS:
        print(f"  {g:<32}" + "".join(
            f" {sh[g]:>9,} {100 * sh[g] / sum(sh.values()):>5.1f}%" for sh in shares.values()))
    floors = {wb: dsp_floor(weight_bits=wb) for wb in (4, 8)}
    print(f"\ngoal: at most a third of FQ-BERT's cycles, {GOAL_CYCLES:,.0f}. Floor for DSP "
          f"multipliers alone ({FQBERT_DSP} DSPs, every one busy every cycle, at 100% utilization):")
    for wb, fl in floors.items():
        print(f"  W{wb}: {fl['linear_macs']:,} weight MACs at {fl['macs_per_dsp']['linear']} a DSP + "
              f"{fl['attention_macs']:,} attention MACs at {fl['macs_per_dsp']['attention']} = "
              f"{fl['floor_cycles']:,} cycles "
              f"({'above' if fl['floor_cycles'] > GOAL_CYCLES else 'within'} the goal)")
    out = {"config": cfg.to_params(), "cycles": info["cycles"], "model": table,
           "goal_config": {**GOAL_CONFIG, "layer_cycles": goal.total,
                           "inference_cycles": 12 * goal.total},
           "phases_bert_base_32": shares,
           "dsp_floor": {f"w{wb}": fl for wb, fl in floors.items()}}
    if do_synth:
        print("\nYosys synth_xilinx -family xcup of the units at this Config:")
        units = unit_resources(cfg)
        dsp = sum(u["DSP48E2"] for u in units.values())
        print(f"  engine DSP48E2 (sum of its units): {dsp} (FQ-BERT's ZCU102 budget: {FQBERT_DSP})")
        out["synth"] = units
    return out
