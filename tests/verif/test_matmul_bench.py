"""`qbert bench matmul`: cycle counts against the ideal, and Yosys resources."""
import pytest

from rtl_gen.matmul import MatmulConfig, generate
from scripts import bench_matmul, flows

FLOW = flows.FLOWS["matmul"]


def test_bench_cycles_near_ideal(tmp_path):
    cfg = MatmulConfig(rows=2, cols=2, k_max=16)
    generate(cfg, tmp_path / "rtl")
    shapes = [(4, 16, 4), (5, 2, 3)]
    rows = bench_matmul.cycles(FLOW, cfg, tmp_path / "rtl", shapes)
    assert [(r["M"], r["K"], r["N"]) for r in rows] == shapes
    full, short = rows
    # K >= rows + 1: back-to-back tiles at one beat a cycle, plus a fill/drain tail
    assert full["ideal"] <= full["cycles"] <= full["ideal"] + 12
    # K = 2 < rows + 1: the array waits for the drain; still correct, never faster than ideal
    assert short["cycles"] >= short["ideal"]


def test_bench_rejects_bad_shapes():
    with pytest.raises(ValueError, match="M,K,N"):
        bench_matmul.parse_shapes("1,2")
    with pytest.raises(ValueError, match=">= 1"):
        bench_matmul.parse_shapes("0,2,2")


@pytest.mark.slow
def test_synth_counts_resources(tmp_path):
    cfg = MatmulConfig(rows=2, cols=2, k_max=16)
    generate(cfg, tmp_path / "rtl")
    res = bench_matmul.synth(tmp_path / "rtl", "qbert_matmul", [tmp_path / "rtl" / "qbert_matmul.v"])
    assert res["DSP48E2"] >= cfg.rows * cfg.cols and res["LUT"] > 0 and res["FF"] > 0


@pytest.mark.slow
def test_mixed_beats_cost_no_dsp(tmp_path):
    """Mixed beats put a mux in front of dsp_pack 3's multipliers: Yosys still maps
    each triple's multiply to one DSP48E2 (rows 2 x cols 6: 4 for the PEs, 24 for
    the six requantizers), as many as with int4 weights, fewer than dsp_pack 2."""
    dsp = {}
    for name, kw in {"mixed": dict(dsp_pack=3), "int4": dict(dsp_pack=3, weight_bits=4),
                     "pack2": dict(dsp_pack=2)}.items():
        rtl = tmp_path / name
        generate(MatmulConfig(rows=2, cols=6, **kw), rtl)
        dsp[name] = bench_matmul.synth(rtl, "qbert_matmul", [rtl / "qbert_matmul.v"])["DSP48E2"]
    assert dsp["mixed"] == dsp["int4"] == 28 < dsp["pack2"], dsp
