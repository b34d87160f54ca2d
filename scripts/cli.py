"""``qbert``: the command line of qbert-rtl (contract: ../shared/DESIGN.md).

Exit status: 0 pass, 1 a mismatch or failed check, 2 bad usage or configuration.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from formal.sby import PROVE_TIMEOUT, positive_seconds, sigterm_exits

from .units import PENDING, UNITS

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit status 2."""


def _param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def _unit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("unit", choices=UNITS, help="the unit")
    p.add_argument("-P", dest="params", action="append", type=_param, default=[],
                   metavar="NAME=VALUE", help="override one Config field (repeatable)")
    p.add_argument("--config", type=Path, help="TOML file of Config fields")


def _not_built(unit: str, command: str) -> int:
    raise UsageError(f"qbert {command} {unit}: the {unit} unit is not built yet "
                     f"(issue #{PENDING[unit]}); built units: "
                     f"{', '.join(u for u in UNITS if u not in PENDING) or 'none yet'}")


def cmd_unit(args) -> int:
    if args.unit in PENDING:
        return _not_built(args.unit, args.command)
    from . import flows
    flow = flows.FLOWS[args.unit]
    handler = {"gen": flows.cmd_gen, "sim": flows.cmd_sim, "lint": flows.cmd_lint,
               "prove": flows.cmd_prove}.get(args.command)
    if handler is None:
        raise UsageError(f"qbert {args.command} {args.unit}: not available yet "
                         f"(the {args.command} flow of {args.unit} is built in another issue)")
    return handler(flow, args)


def cmd_embed(args) -> int:
    from golden_model.calibrate import default_model, read_sentences
    from golden_model.embed import int_sentence_embedding
    import numpy as np
    from .atomic import atomic_path

    if args.input and args.sentences:
        raise UsageError("give sentences either with --input FILE or as arguments, not both")
    if args.input:
        sentences = read_sentences(args.input)
    elif args.sentences:
        sentences = args.sentences
        if any(not s.strip() for s in sentences):
            raise UsageError("a sentence argument is empty")
    else:
        raise UsageError("no sentences: give --input FILE or SENTENCE arguments")
    out = Path(args.output)
    if out.suffix != ".npy":
        raise UsageError(f"-o must name a .npy file, got {out}")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise UsageError(f"output folder {out.parent} does not exist")
    model = default_model(args.weight_bits)
    rows = []
    for i, s in enumerate(sentences, 1):
        _note_truncation(s, i)
        rows.append(int_sentence_embedding(model, s))
        if len(sentences) > 1:
            print(f"[{i}/{len(sentences)}] {s[:60]}", file=sys.stderr)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.stack(rows))
    print(f"wrote {out}: {len(rows)} x {rows[0].shape[0]} float32 "
          f"(W{args.weight_bits}A8 integer pipeline, mean-pooled)")
    return EXIT_OK


def _note_truncation(sentence: str, i: int) -> None:
    """Tell the user (stderr) that sentence i is cut to the model's token limit."""
    from golden_model.minilm import truncation_note
    note = truncation_note(sentence, f"sentence {i}")
    if note:
        print(note, file=sys.stderr)


def cmd_fidelity(args) -> int:
    from golden_model.calibrate import EVALUATION_FILE, default_model, read_sentences
    from golden_model.fidelity import format_table, measure

    sentences = read_sentences(args.input) if args.input else read_sentences(name=EVALUATION_FILE)
    model = default_model(args.weight_bits)
    for i, s in enumerate(sentences, 1):
        _note_truncation(s, i)
    progress = lambda i, n, s, c: print(f"[{i}/{n}] cos={c:.4f}  {s[:60]}", file=sys.stderr)
    fid = measure(model, sentences, progress)
    print(f"W{args.weight_bits}A8 on {len(sentences)} sentences: "
          f"mean cosine {fid.mean:.4f}, min {fid.min:.4f} "
          f"({fid.sentences[int(fid.cosines.argmin())]!r})")
    print("\nRelative L2 error per layer and tensor (%), all-float reference (cumulative):\n")
    print(format_table(fid.cumulative))
    print("\nSame, each float layer fed the integer layer's input (local):\n")
    print(format_table(fid.local))
    return EXIT_OK


def cmd_softmax_fidelity(args) -> int:
    from golden_model.calibrate import EVALUATION_FILE, default_model, read_sentences
    from golden_model.fidelity import format_softmax_table, softmax_fidelity

    sentences = read_sentences(args.input) if args.input else read_sentences(name=EVALUATION_FILE)
    model = default_model(args.weight_bits)
    progress = lambda i, n, s: print(f"[{i}/{n}] {s[:60]}", file=sys.stderr)
    table = softmax_fidelity(model, sentences, progress)
    sm = model.numerics.softmax
    print(f"Integer softmax (in {sm.in_bits} bits, {sm.frac_bits} fractional; out {sm.out_bits} bits) "
          f"vs float softmax of the same scores, every attention row of W{args.weight_bits}A8 "
          f"all-MiniLM-L6-v2 on {len(sentences)} sentences:\n")
    print(format_softmax_table(table))
    return EXIT_OK


def cmd_weights(args) -> int:
    """Write one layer's weight stream (golden_model.weightfile) for the encoder engine."""
    from golden_model.calibrate import default_model
    from golden_model.weightfile import layer_stream
    from rtl_gen.encoder import EncoderConfig
    from .atomic import atomic_path

    cfg, from_file = EncoderConfig.preset("minilm"), {}
    if args.config:
        from_file = EncoderConfig.toml_params(args.config)
        cfg = EncoderConfig.from_params(from_file)
    if any(name == "weight_bits" for name, _ in args.params):
        raise UsageError("give the weight width with --weight-bits (it picks the calibrated "
                         "model too), not -P weight_bits")
    if "weight_bits" in from_file and cfg.weight_bits != args.weight_bits:
        raise UsageError(f"--config {args.config} has weight_bits={cfg.weight_bits} but --weight-bits "
                         f"is {args.weight_bits}: pass --weight-bits {cfg.weight_bits} (it picks "
                         f"the calibrated model too)")
    cfg = cfg.with_overrides([*args.params, ("weight_bits", str(args.weight_bits))])
    model = default_model(args.weight_bits)
    if not 0 <= args.layer < len(model.layers):
        raise UsageError(f"--layer {args.layer}: all-MiniLM-L6-v2 has layers 0..{len(model.layers) - 1}")
    shape = cfg.stream_shape
    cfg.check_layer(model.layers[args.layer], f"all-MiniLM-L6-v2 layer {args.layer}")
    out = Path(args.output)
    with atomic_path(out) as tmp:
        tmp.write_bytes(layer_stream(model.layers[args.layer], shape, args.layer))
    print(f"wrote {out}: layer {args.layer} of W{args.weight_bits}A8 all-MiniLM-L6-v2, "
          f"{shape.total_beats} beats of {shape.beat_bytes} bytes (array={shape.cols})")
    return EXIT_OK


def _bench_matmul(flow, cfg, rtl, args) -> None:
    from .bench_matmul import DEFAULT_SHAPES, main as bench, parse_shapes
    shapes = parse_shapes(args.shapes) if args.shapes else list(DEFAULT_SHAPES)
    bench(flow, cfg, rtl, shapes, do_synth=not args.no_synth)


def _bench_softmax(flow, cfg, rtl, args) -> None:
    from .bench_softmax import DEFAULT_LENGTHS, main as bench, parse_lengths
    lengths = parse_lengths(args.lengths, cfg.max_len) if args.lengths else list(DEFAULT_LENGTHS)
    bench(flow, cfg, rtl, lengths, do_synth=not args.no_synth)


def _bench_plain(module: str):
    def run(flow, cfg, rtl, args) -> None:
        import importlib
        importlib.import_module(f"scripts.{module}").main(flow, cfg, rtl, do_synth=not args.no_synth)
    return run


#: unit -> its benchmark (flow, Config, RTL folder, CLI args); `model` is separate
UNIT_BENCHES = {
    "matmul": _bench_matmul,
    "softmax": _bench_softmax,
    "layernorm": _bench_plain("bench_layernorm"),
    "gelu": _bench_plain("bench_elementwise"),
    "requant": _bench_plain("bench_elementwise"),
    "residual": _bench_plain("bench_elementwise"),
    "attention": _bench_plain("bench_attention"),
    "encoder": _bench_plain("bench_encoder"),
}


def cmd_bench(args) -> int:
    benched = ("model",) + tuple(UNIT_BENCHES)   # the targets with a benchmark
    targets = args.targets or [t for t in ("model",) + UNITS if t in benched]
    for t in targets:
        if t in PENDING:
            _not_built(t, "bench")
        if t not in benched:
            raise UsageError(f"qbert bench {t}: no benchmark for {t} yet (its latency and "
                             f"throughput are measured by `qbert sim {t}`); benchmarks: "
                             f"{', '.join(benched)}")
    if (args.params or args.config) and (len(targets) != 1 or targets == ["model"]):
        raise UsageError("-P/--config in qbert bench apply to one unit: give exactly one, e.g. "
                         "`qbert bench matmul -P rows=8`")
    if args.shapes and "matmul" not in targets:
        raise UsageError("--shapes belongs to `qbert bench matmul`")
    if args.lengths and "softmax" not in targets:
        raise UsageError("--lengths belongs to `qbert bench softmax`")
    if "model" in targets:
        from .bench_model import main as bench_model
        bench_model(tokens=args.tokens, repeats=args.repeats)
    from . import flows
    args.rtl = None
    for unit in (t for t in targets if t in UNIT_BENCHES):
        flow = flows.FLOWS[unit]
        cfg, rtl, _ = flows._rtl_config(flow, args)
        UNIT_BENCHES[unit](flow, cfg, rtl, args)
    return EXIT_OK


def cmd_export(args) -> int:
    from .export import main as export_main
    return export_main(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qbert", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = sub.add_parser("gen", help="generate RTL, filelist and params.json for a unit")
    _unit_args(g)
    g.add_argument("-o", dest="output", type=Path, required=True, help="output folder")
    g.set_defaults(func=cmd_unit)

    s = sub.add_parser("sim", help="simulate a unit against the golden model")
    _unit_args(s)
    s.add_argument("--rtl", type=Path, help="verify RTL already on disk (DIR/params.json)")
    s.add_argument("--examples", type=int, help="Hypothesis examples")
    s.add_argument("--seed", type=int, help="Hypothesis seed (a failure prints the one to reuse)")
    s.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator",
                   help="HDL simulator (default verilator)")
    s.add_argument("--waves", action="store_true", help="dump waveforms into the build folder")
    s.add_argument("--model", choices=("minilm",),
                   help="encoder: run one real all-MiniLM-L6-v2 layer (with --layer, --text)")
    s.add_argument("--layer", type=int, help="encoder with --model: the layer to run (0..5)")
    s.add_argument("--text", help="with --model: the sentence to tokenize and run")
    s.add_argument("--weights", type=Path, help="encoder: a weight stream file (qbert model weights) "
                                                "to drive instead of the golden model's")
    s.set_defaults(func=cmd_unit)

    pr = sub.add_parser("prove", help="run the SymbiYosys proofs of a unit")
    _unit_args(pr)
    pr.add_argument("--rtl", type=Path, help="prove RTL already on disk (DIR/params.json)")
    pr.add_argument("--solver", choices=("z3", "yices", "boolector"), default=None,
                    help="SMT solver of every SBY job (default: per unit and job the one that "
                         "closes it fastest: z3 for matmul and the attention head's softmax "
                         "latency lemmas, yices otherwise)")
    pr.add_argument("--timeout", type=positive_seconds, default=PROVE_TIMEOUT, metavar="SECONDS",
                    help=f"limit of each SBY job (default {PROVE_TIMEOUT:g}); a job past it counts "
                         "as not proven")
    pr.set_defaults(func=cmd_unit)

    li = sub.add_parser("lint", help="verilator --lint-only -Wall on a unit's RTL")
    _unit_args(li)
    li.add_argument("--rtl", type=Path, help="lint RTL already on disk (DIR/params.json)")
    li.set_defaults(func=cmd_unit)

    mo = sub.add_parser("model", help="run the golden integer model")
    msub = mo.add_subparsers(dest="model_command", required=True, metavar="MODEL_COMMAND")
    for name, func, hlp in (
            ("minilm-embed", cmd_embed, "integer sentence embeddings of all-MiniLM-L6-v2"),
            ("fidelity", cmd_fidelity, "cosine and per-layer error of the integer model vs float"),
            ("softmax-fidelity", cmd_softmax_fidelity,
             "per-layer error of the integer softmax vs float softmax on real attention scores")):
        e = msub.add_parser(name, help=hlp)
        e.add_argument("--input", type=Path, help="file of sentences, one per line")
        e.add_argument("--weight-bits", type=int, choices=(8, 4), default=8)
        e.set_defaults(func=func)
        if name == "minilm-embed":
            e.add_argument("sentences", nargs="*", metavar="SENTENCE")
            e.add_argument("-o", dest="output", required=True, help="output .npy file")

    w = msub.add_parser("weights", help="write one layer's weight stream for the encoder engine "
                                        "(docs/encoder.md)")
    w.add_argument("--layer", type=int, required=True, help="layer index (0..5)")
    w.add_argument("--weight-bits", type=int, choices=(8, 4), default=8)
    w.add_argument("-P", dest="params", action="append", type=_param, default=[],
                   metavar="NAME=VALUE", help="encoder Config field (array=..)")
    w.add_argument("--config", type=Path, help="TOML file of encoder Config fields")
    w.add_argument("-o", dest="output", required=True, help="output file (.bin)")
    w.set_defaults(func=cmd_weights)

    b = sub.add_parser("bench", help="benchmarks (cycle counts, speed ratios)")
    b.add_argument("targets", nargs="*", choices=("model",) + UNITS, metavar="TARGET",
                   help=f"model or a unit ({', '.join(UNITS)}); default all built")
    b.add_argument("--tokens", type=int, default=128, help="tokens for the model benchmark")
    b.add_argument("--repeats", type=int, default=3)
    b.add_argument("-P", dest="params", action="append", type=_param, default=[],
                   metavar="NAME=VALUE", help="override one Config field of the benched unit")
    b.add_argument("--config", type=Path, help="TOML file of Config fields")
    b.add_argument("--shapes", help="matmul: M,K,N[;M,K,N..] (default 128,384,384;128,768,768)")
    b.add_argument("--lengths", help="softmax: row lengths N[,N..] (default 1,16,64,128,384,512)")
    b.add_argument("--no-synth", action="store_true",
                   help="skip the Yosys resource count")
    b.set_defaults(func=cmd_bench)

    x = sub.add_parser("export", help="write a signed-off RTL bundle for Vivado (docs/export.md)")
    x.add_argument("--config", type=Path, help="export TOML: [export] settings and one table per unit "
                                               "(default: every unit with proofs, default Configs)")
    x.add_argument("-o", dest="output", type=Path, help="bundle folder (written only if every gate passes)")
    x.add_argument("--verify", type=Path, metavar="DIR", help="check DIR against its manifest.json")
    x.add_argument("--force", action="store_true", help="replace an existing bundle folder")
    x.set_defaults(func=cmd_export)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from golden_model.minilm import ModelNotInstalled
    from rtl_gen.toolchain import ToolMissing
    from verif.runner import SimulatorMissing
    try:
        with sigterm_exits():
            return args.func(args)
    except (UsageError, ValueError, FileNotFoundError, ModelNotInstalled, ToolMissing,
            SimulatorMissing) as e:
        print(f"qbert: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:   # a path the user gave that cannot be read or written
        where = " -> ".join(str(f) for f in (e.filename, e.filename2) if f is not None)
        print(f"qbert: error: {where or 'a file'}: {e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
