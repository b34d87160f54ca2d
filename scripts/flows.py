"""gen / sim / lint for every built unit, driven by the unit's Config.

A unit registers a :class:`Flow` (its Config class, generator, top module
and cocotb test module); the CLI commands below are the same for all units.
"""
from __future__ import annotations

import importlib
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rtl_gen.config import ConfigError, UnitConfig
from rtl_gen.emit import swap_in

REPO = Path(__file__).resolve().parents[1]
WAIVERS = REPO / "rtl_gen" / "lint_waivers.vlt"
DEFAULT_EXAMPLES = 100
#: units whose examples are whole layers: fewer by default
DEFAULT_EXAMPLES_OF = {"encoder": 5}


@dataclass(frozen=True)
class Flow:
    unit: str
    config_cls: str        # "module:Class"
    generator: str         # module with generate(cfg, dir), sources(dir), TOP
    test_module: str       # cocotb test module

    def config_class(self) -> type[UnitConfig]:
        mod, cls = self.config_cls.split(":")
        return getattr(importlib.import_module(mod), cls)

    def gen_module(self):
        return importlib.import_module(self.generator)


FLOWS = {
    "matmul": Flow("matmul", "rtl_gen.matmul:MatmulConfig", "rtl_gen.matmul", "verif.matmul_tb"),
    "softmax": Flow("softmax", "rtl_gen.softmax:SoftmaxConfig", "rtl_gen.softmax",
                    "verif.softmax_tb"),
    "layernorm": Flow("layernorm", "rtl_gen.layernorm:LayerNormConfig", "rtl_gen.layernorm",
                      "verif.layernorm_tb"),
    "gelu": Flow("gelu", "rtl_gen.gelu:GeluConfig", "rtl_gen.gelu", "verif.gelu_tb"),
    "requant": Flow("requant", "rtl_gen.requant:RequantConfig", "rtl_gen.requant",
                    "verif.requant_tb"),
    "residual": Flow("residual", "rtl_gen.residual:ResidualConfig", "rtl_gen.residual",
                     "verif.residual_tb"),
    "attention": Flow("attention", "rtl_gen.attention:AttentionConfig", "rtl_gen.attention",
                      "verif.attention_tb"),
    "encoder": Flow("encoder", "rtl_gen.encoder:EncoderConfig", "rtl_gen.encoder",
                    "verif.encoder_tb"),
}


def config_from_args(flow: Flow, params, config_file) -> UnitConfig:
    """Default Config, then --config FILE.toml, then -P overrides (in that order)."""
    cls = flow.config_class()
    cfg = cls.from_toml(config_file) if config_file else cls()
    return cfg.with_overrides(params or [])


def _rtl_config(flow: Flow, args, cfg: UnitConfig | None = None) -> tuple[UnitConfig, Path, bool]:
    """(Config, RTL folder, generated here?) for sim/lint/bench/prove; ``cfg``: the
    Config (of -P/--config, or of --rtl DIR) when the caller has it already."""
    if getattr(args, "rtl", None):
        if args.params or args.config:
            raise ConfigError("--rtl verifies the Config recorded in DIR/params.json; "
                              "do not combine it with -P or --config")
        cfg = cfg or flow.config_class().load(args.rtl)
        flow.gen_module().sources(args.rtl)  # files.f and the files it names exist
        return cfg, Path(args.rtl), False
    cfg = cfg or config_from_args(flow, args.params, args.config)
    from verif.runner import SIM_BUILD, folder_lock
    import hashlib
    key = hashlib.sha256(cfg.to_json().encode()).hexdigest()[:16]
    rtl = SIM_BUILD / flow.unit / f"rtl_{key}"
    rtl.parent.mkdir(parents=True, exist_ok=True)
    # fresh RTL every time, but moved in only if it differs: another process may be
    # simulating the same Config from this folder
    with folder_lock(rtl), tempfile.TemporaryDirectory(dir=rtl.parent, prefix=".gen_") as tmp:
        new = flow.gen_module().generate(cfg, Path(tmp) / "rtl")
        if not _same_files(new, rtl):
            swap_in(new, rtl)
    return cfg, rtl, True


def _same_files(a: Path, b: Path) -> bool:
    """Folders ``a`` and ``b`` hold the same files, byte for byte."""
    import filecmp
    names = sorted(p.name for p in a.iterdir())
    if not b.is_dir() or sorted(p.name for p in b.iterdir()) != names:
        return False
    match, _, _ = filecmp.cmpfiles(a, b, names, shallow=False)
    return len(match) == len(names)


def cmd_gen(flow: Flow, args) -> int:
    cfg = config_from_args(flow, args.params, args.config)
    out = flow.gen_module().generate(cfg, args.output)
    files = flow.gen_module().sources(out)
    extra = {k: getattr(cfg, k) for k in ("acc_bits",) if hasattr(cfg, k)}
    print(f"wrote {out}: {', '.join(p.name for p in files)}, files.f, params.json "
          f"({', '.join(f'{k}={v}' for k, v in {**cfg.to_params(), **extra}.items())})")
    return 0


def lint(flow: Flow, rtl: Path) -> tuple[bool, str]:
    from rtl_gen import toolchain
    gm = flow.gen_module()
    srcs = [str(p) for p in gm.sources(rtl)]
    cmd = [toolchain.which("verilator"), "--lint-only", "-Wall", "--top-module", gm.TOP]
    if WAIVERS.is_file():
        cmd.append(str(WAIVERS))
    r = subprocess.run(cmd + srcs, env=toolchain.tool_env(), capture_output=True, text=True)
    out = (r.stdout + r.stderr).strip()
    return r.returncode == 0 and "%Warning" not in out and "%Error" not in out, out


def cmd_lint(flow: Flow, args) -> int:
    cfg, rtl, _ = _rtl_config(flow, args)
    ok, out = lint(flow, rtl)
    if ok:
        print(f"lint {flow.unit}: clean (verilator --lint-only -Wall) on {rtl}")
        return 0
    print(out)
    print(f"lint {flow.unit}: FAILED on {rtl}")
    return 1


def _repro(flow: Flow, args, cfg: UnitConfig, rtl: Path, generated: bool, seed: int,
           examples: int) -> str:
    parts = ["qbert", "sim", flow.unit]
    if generated:
        for k, v in cfg.to_params().items():
            parts += ["-P", f"{k}={v}"]
    else:
        parts += ["--rtl", str(Path(rtl).resolve())]
    parts += ["--seed", str(seed), "--examples", str(examples)]
    if args.simulator != "verilator":
        parts += ["--simulator", args.simulator]
    return shlex.join(parts)


def simulate(flow: Flow, cfg: UnitConfig, rtl: Path, *, examples: int, seed: int,
             simulator: str = "verilator", waves: bool = False, repro: str = "",
             testcase: str | None = None, extra_env: dict | None = None):
    """Run the unit's cocotb test on ``rtl``; returns (SimResult, info dict)."""
    from verif import runner
    gm = flow.gen_module()
    fd, info_file = tempfile.mkstemp(prefix="qbert_sim_", suffix=".json")
    os.close(fd)
    try:
        env = {"QBERT_EXAMPLES": str(examples), "QBERT_SEED": str(seed),
               "QBERT_REPRO": repro, "QBERT_INFO_FILE": info_file, **(extra_env or {})}
        res = runner.run(flow.unit, sources=gm.sources(rtl), toplevel=gm.TOP,
                         test_module=flow.test_module, rtl_dir=rtl, params=cfg.to_params(),
                         simulator=simulator, waves=waves, extra_env=env, testcase=testcase)
        try:
            info = json.loads(Path(info_file).read_text() or "{}")
        except json.JSONDecodeError:
            info = {}
    finally:
        Path(info_file).unlink(missing_ok=True)
    return res, info


def simulate_bench(flow: Flow, cfg: UnitConfig, rtl: Path, testcase: str, env: dict) -> list:
    """Run the unit's cocotb bench test ``testcase`` (it writes a JSON list to
    $QBERT_BENCH_OUT); returns that list, or raises if the simulation failed."""
    fd, out = tempfile.mkstemp(prefix="qbert_bench_", suffix=".json")
    os.close(fd)
    try:
        Path(out).write_text("[]")
        res, _ = simulate(flow, cfg, rtl, examples=1, seed=0, testcase=testcase,
                          extra_env={**env, "QBERT_BENCH_OUT": out})
        data = json.loads(Path(out).read_text())
    finally:
        Path(out).unlink(missing_ok=True)
    if not res.passed:
        raise RuntimeError("the bench simulation failed (see the log above)")
    return data


def cmd_prove(flow: Flow, args) -> int:
    """SymbiYosys proofs of the unit's RTL (fresh, or --rtl DIR) and the z3 lemmas."""
    from formal.run import all_passed, check_provable, format_table, prove

    cfg = None
    if not getattr(args, "rtl", None):      # a Config the proofs refuse: before generating
        cfg = config_from_args(flow, args.params, args.config)
        check_provable(flow.unit, cfg)
    _, rtl, _ = _rtl_config(flow, args, cfg)
    results = prove(flow.unit, None, rtl, args.solver, timeout=args.timeout)
    print(format_table(results))
    passed = all_passed(results)
    print(f"prove {flow.unit}: {'PASS' if passed else 'FAILED'} on {rtl}")
    return 0 if passed else 1


#: units whose `qbert sim` runs a subset of their cocotb tests (the rest have their own command)
SIM_TESTS = {"encoder": ["encoder_matches_golden", "encoder_cycles", "encoder_error_flags"]}


def cmd_sim_minilm(flow: Flow, args) -> int:
    """``qbert sim encoder --model minilm --layer L --text T``: one real layer, bit-exact;
    the cycle count is the last line."""
    from verif import runner
    from verif.encoder_cases import minilm_case
    if args.layer is None or not args.text or not args.text.strip():
        raise ConfigError("qbert sim encoder --model minilm needs --layer L and a non-empty --text")
    if args.examples is not None:
        raise ConfigError("--examples does not apply to --model minilm: it simulates the one "
                          "sentence --text gives")
    runner.check_simulator(args.simulator)
    cfg = (flow.config_class().load(args.rtl) if getattr(args, "rtl", None)
           else config_from_args(flow, args.params, args.config))
    weights = str(Path(args.weights).resolve()) if args.weights else ""
    # a bad layer, too many tokens or a bad weight file: exit 2 here, before any RTL
    c = minilm_case(cfg, args.text, args.layer, weights or None)
    cfg, rtl, _ = _rtl_config(flow, args, cfg)
    print(f"sim encoder: all-MiniLM-L6-v2 layer {args.layer}, {c.seq} tokens, on {rtl}"
          + (f", weights from {args.weights}" if weights else ""), flush=True)
    res, info = simulate(flow, cfg, rtl, examples=1, seed=0, simulator=args.simulator,
                         waves=args.waves, testcase="encoder_minilm",
                         extra_env={"QBERT_ENC_TEXT": args.text, "QBERT_ENC_LAYER": str(args.layer),
                                    "QBERT_ENC_WEIGHTS": weights})
    if not res.passed or "minilm" not in info:
        print("sim encoder: FAIL (see the log above)", file=sys.stderr)
        return 1
    r = info["minilm"]
    print(f"sim encoder: PASS, {r['outputs']} output elements bit-exact vs "
          f"golden_model.encoder.encoder_layer; {r['macs']} MACs, "
          f"{100 * r['macs'] / (r['cycles'] * cfg.array ** 2):.1f}% of the array's peak")
    print(f"cycles: {r['cycles']}")
    return 0


def cmd_sim(flow: Flow, args) -> int:
    from verif import runner
    if flow.unit == "encoder" and args.model:
        return cmd_sim_minilm(flow, args)
    if args.model or args.layer is not None or args.text or getattr(args, "weights", None):
        raise ConfigError(f"--model/--layer/--text/--weights belong to `qbert sim encoder --model minilm`"
                          f"{'' if flow.unit == 'encoder' else f', not {flow.unit}'}")
    if args.examples is not None and args.examples < 1:
        raise ConfigError(f"--examples must be >= 1, got {args.examples}")
    runner.check_simulator(args.simulator)
    cfg, rtl, generated = _rtl_config(flow, args)
    examples = args.examples or DEFAULT_EXAMPLES_OF.get(flow.unit, DEFAULT_EXAMPLES)
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    repro = _repro(flow, args, cfg, rtl, generated, seed, examples)
    print(f"sim {flow.unit}: {rtl} ({', '.join(f'{k}={v}' for k, v in cfg.to_params().items())}), "
          f"{examples} examples, seed {seed}", flush=True)
    start = time.perf_counter()
    res, info = simulate(flow, cfg, rtl, examples=examples, seed=seed, simulator=args.simulator,
                         waves=args.waves, repro=repro, testcase=SIM_TESTS.get(flow.unit))
    wall = time.perf_counter() - start
    if args.waves:
        dumps = sorted(res.build_dir.glob("dump.*"))
        print(f"waves: {dumps[0] if dumps else res.build_dir}")
    if res.passed:
        print(f"sim {flow.unit}: PASS, {info.get('examples', '?')} examples, "
              f"{info.get('outputs', '?')} output elements bit-exact vs the golden model "
              f"(seed {seed})")
        if info.get("macs"):
            print(f"sim {flow.unit}: {info['macs']} MACs checked in {wall:.1f} s wall time "
                  f"({info['macs'] / wall:,.0f} MACs/s, build included)")
        return 0
    print(f"sim {flow.unit}: FAIL (seed {seed}); reproduce with:\n  {repro}", file=sys.stderr)
    return 1
