"""Cocotb simulations of the matmul RTL against golden_model.matmul.int_matmul.

Each Config is generated, built (once per parameter set, under sim_build/)
and checked with Hypothesis under the active profile ('ci' by default).
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from golden_model.matmul import beat_weights, int_matmul
from rtl_gen.matmul import MatmulConfig, generate
from scripts import flows
from verif import runner
from verif.matmul_cases import beat_modes, cases, expected, pack, tiles, unpack

FLOW = flows.FLOWS["matmul"]

CONFIGS = {
    "2x2_k16": MatmulConfig(rows=2, cols=2, k_max=16),
    "default": MatmulConfig(),
    "3x5_int4": MatmulConfig(rows=3, cols=5, k_max=256, weight_bits=4),
    # two packed column pairs and an odd column that keeps its own multiplier
    "3x5_packed": MatmulConfig(rows=3, cols=5, k_max=64, dsp_pack=2),
    # int4: a column triple in one multiplier and a pair
    "3x5_pack3": MatmulConfig(rows=3, cols=5, k_max=64, weight_bits=4, dsp_pack=3),
    # mixed: int8 lanes on a triple and a pair, each beat int8 or int4 (tuser)
    "3x5_mixed": MatmulConfig(rows=3, cols=5, k_max=64, dsp_pack=3),
    # shared requantizers: each output row in 2 chunks of 2 columns, and in 3
    # chunks (the last one partial) under packing
    "3x4_rq2": MatmulConfig(rows=3, cols=4, k_max=16, requant_lanes=2),
    "2x5_packed_rq2": MatmulConfig(rows=2, cols=5, k_max=16, dsp_pack=2, requant_lanes=2),
}


def _sim(cfg, rtl, examples, seed=20261122):
    res, info = flows.simulate(FLOW, cfg, rtl, examples=examples, seed=seed,
                               repro=f"qbert sim matmul --rtl {rtl} --seed {seed} --examples {examples}")
    return res, info


@pytest.mark.parametrize("name", list(CONFIGS))
def test_matmul_bit_exact(tmp_path, name):
    cfg = CONFIGS[name]
    generate(cfg, tmp_path / "rtl")
    examples = settings().max_examples
    res, info = _sim(cfg, tmp_path / "rtl", examples)
    assert res.passed, f"simulation failed: see the log above ({res.results_xml})"
    # property, directed tlast check, latency, int8 beat rate (skipped unless mixed),
    # (skipped) bench
    assert res.tests == 5
    assert info["examples"] == examples and info["outputs"] > 0


def test_broken_rtl_is_caught_and_reproduced(tmp_path, caught_and_reproduced):
    """The check can fail: drop the rounding term of lane 0 (a plausible bug).
    `qbert sim --rtl` exits 1 and prints the shrunk case, the first differing
    element and a command line; that command reproduces the same minimal case."""
    cfg = CONFIGS["2x2_k16"]
    generate(cfg, tmp_path / "rtl")
    v = tmp_path / "rtl" / "qbert_matmul.v"
    text = v.read_text()
    bad = text.replace("assign rnd_c0 = (64'd1 << s2_shift_c0_q) >> 64'd1;", "assign rnd_c0 = 64'd0;")
    assert bad != text
    v.write_text(bad)

    first = r"first at out\[\d+, \d+\].*expected -?\d+, got -?\d+"
    # 100: at the fixture's seed, 60 examples stopped meeting a case whose rounding
    # shows once the operand draws gained ends-only tiles (9 of 10 seeds still do)
    caught_and_reproduced("matmul", tmp_path / "rtl", first, 100)


def test_icarus_runs_or_skips(tmp_path):
    try:
        runner.check_simulator("icarus")
    except runner.SimulatorMissing as e:
        pytest.skip(str(e))
    cfg = CONFIGS["2x2_k16"]
    generate(cfg, tmp_path / "rtl")
    res, _ = flows.simulate(FLOW, cfg, tmp_path / "rtl", examples=20, seed=1,
                            simulator="icarus", testcase="matmul_matches_golden")
    assert res.passed


# -- the packing of the tile protocol, checked without a simulator -----------

@settings(max_examples=40)
@given(st.data())
def test_pack_unpack_roundtrip(data):
    """An ideal array fed the packed words (lanes decoded as the RTL slices
    them) reproduces the golden result: the packing is the protocol."""
    cfg = data.draw(st.sampled_from(list(CONFIGS.values())))
    c = data.draw(cases(cfg, k_max_sim=64))
    R, C, WB, BB = cfg.rows, cfg.cols, cfg.weight_bits, cfg.bias_bits

    def lane(word, i, bits, signed=True):
        v = (word >> (i * bits)) & ((1 << bits) - 1)
        return v - (1 << bits) if signed and v >> (bits - 1) else v

    frames = []
    for act, wgt, prm in pack(cfg, c):
        x = np.array([[lane(a, r, 8) for a in act] for r in range(R)])
        w = np.array([[lane(g, j, WB) for j in range(C)] for g in wgt])
        if cfg.mixed:
            w = beat_weights(w, beat_modes(cfg, c))
        p = [lane(prm, j, cfg.prm_lane_bits, signed=False) for j in range(C)]
        bias = np.array([lane(v, 0, BB) for v in p])
        mult = np.array([(v >> BB) & ((1 << 31) - 1) for v in p])
        shift = np.array([v >> (BB + 31) for v in p])
        y = int_matmul(x, w, bias, mult, shift, weight_bits=WB, acc_bits=cfg.acc_bits)
        frames.append([sum((int(v) & 0xFF) << (8 * j) for j, v in enumerate(row)) for row in y])
    assert len(frames) == len(tiles(cfg, c))
    np.testing.assert_array_equal(unpack(cfg, c, frames), expected(cfg, c))


def test_build_dirs_keyed_by_params_and_sources(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate(CONFIGS["2x2_k16"], a)
    generate(CONFIGS["2x2_k16"], b)
    p = CONFIGS["2x2_k16"].to_params()
    key = lambda d, **kw: runner.build_key("matmul", [d / "qbert_matmul.v"], {**p, **kw},
                                           "verilator", False)
    assert key(a) == key(b)                      # same RTL and params: one build, reused
    assert key(a) != key(a, rows=3)              # another parameter set
    (b / "qbert_matmul.v").write_text((b / "qbert_matmul.v").read_text() + "// edited\n")
    assert key(a) != key(b)                      # hand-edited RTL is rebuilt
    assert runner.build_key("matmul", [a / "qbert_matmul.v"], p, "verilator", True) != key(a)



#: one simulation of the 2x2 Config in rtl (argv[1]); prints whether its build was reused
_SIM_ONE = """
import sys
from pathlib import Path
from rtl_gen.matmul import MatmulConfig
from scripts.flows import FLOWS, simulate
res, _ = simulate(FLOWS["matmul"], MatmulConfig.load(sys.argv[1]), Path(sys.argv[1]),
                  examples=1, seed=0)
print("RESULT", res.passed, res.reused_build)
"""


def test_parallel_runs_share_one_build(tmp_path):
    """Two workers (pytest-xdist) reaching the same parameter set at once: one
    builds, the other waits for it and reuses it, and both simulations pass."""
    import os
    import subprocess
    import sys
    generate(CONFIGS["2x2_k16"], tmp_path / "rtl")
    env = {**os.environ, "QBERT_SIM_BUILD": str(tmp_path / "build")}
    procs = [subprocess.Popen([sys.executable, "-c", _SIM_ONE, str(tmp_path / "rtl")], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    results = sorted(line for out in outs for line in out.splitlines() if line.startswith("RESULT"))
    assert results == ["RESULT True False", "RESULT True True"], outs[0][-2000:] + outs[1][-2000:]
    assert len(list((tmp_path / "build" / "matmul").iterdir())) == 2   # the build and its lock

def test_cli_icarus_missing_is_a_usage_error(capsys):
    from scripts import cli
    try:
        runner.check_simulator("icarus")
    except runner.SimulatorMissing:
        assert cli.main(["sim", "matmul", "--simulator", "icarus", "--examples", "1"]) == 2
        assert "iverilog is not on PATH" in capsys.readouterr().err
    else:
        pytest.skip("iverilog is installed: test_icarus_runs_or_skips covers it")


@pytest.mark.slow
def test_waves_written(tmp_path):
    cfg = CONFIGS["2x2_k16"]
    generate(cfg, tmp_path / "rtl")
    res, _ = flows.simulate(FLOW, cfg, tmp_path / "rtl", examples=3, seed=1, waves=True)
    assert res.passed
    dumps = list(res.build_dir.glob("dump.*"))
    assert dumps and dumps[0].stat().st_size > 0
