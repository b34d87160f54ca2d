"""`qbert bench softmax`: measured latency and steady row period against the
SoftmaxConfig formulas over row lengths on both sides of the divide-bound
knee (B = div_cycles), and the Yosys resource count."""
import pytest

from rtl_gen.softmax import SoftmaxConfig, generate
from scripts import bench_softmax, flows

FLOW = flows.FLOWS["softmax"]


@pytest.mark.parametrize("kw,lengths", [
    (dict(lanes=4, max_len=96), [1, 5, 72, 73, 76, 77, 96]),
    (dict(lanes=2, max_len=32, div_bits_per_cycle=4), [1, 20, 21, 22, 23, 32]),
])
def test_bench_matches_formulas(tmp_path, kw, lengths):
    cfg = SoftmaxConfig(**kw)
    generate(cfg, tmp_path / "rtl")
    rows = bench_softmax.cycles(FLOW, cfg, tmp_path / "rtl", lengths)
    assert [r["n"] for r in rows] == lengths
    for r in rows:
        n = r["n"]
        assert r["latency"] == cfg.latency(n), r
        assert r["periods"] == [cfg.row_period(n)] * len(r["periods"]), r
        if cfg.beats(n) >= cfg.div_cycles:
            assert cfg.row_period(n) == cfg.beats(n)   # lanes scores a cycle


def test_bench_rejects_bad_lengths():
    with pytest.raises(ValueError, match="N\\[,N..\\]"):
        bench_softmax.parse_lengths("1;2", 64)
    with pytest.raises(ValueError, match="max_len=64"):
        bench_softmax.parse_lengths("0", 64)


@pytest.mark.slow
def test_synth_counts_resources(tmp_path):
    from scripts.bench_matmul import synth
    from rtl_gen.softmax import TOP, sources
    cfg = SoftmaxConfig(lanes=2, max_len=16)
    generate(cfg, tmp_path / "rtl")
    res = synth(tmp_path / "rtl", TOP, sources(tmp_path / "rtl"))
    # the exp polynomial and the output multiply of each lane
    assert res["DSP48E2"] >= cfg.lanes and res["LUT"] > 0 and res["FF"] > 0
