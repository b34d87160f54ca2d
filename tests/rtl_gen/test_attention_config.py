"""AttentionConfig validation, the generator's file contract, lint, and the
CLI's bad-input exit codes."""
import pytest

from rtl_gen.attention import AttentionConfig, generate, sources, verilog
from rtl_gen.config import ConfigError
from scripts import cli, flows


def test_defaults_and_derived_units():
    cfg = AttentionConfig()
    assert (cfg.max_seq, cfg.head_dim, cfg.rows, cfg.cols, cfg.lanes) == (128, 64, 4, 4, 4)
    mc, sc = cfg.matmul, cfg.softmax
    assert (mc.rows, mc.cols, mc.k_max, mc.out_bits, mc.act_bits) == (4, 4, 128, 16, 8)
    assert (sc.lanes, sc.max_len, sc.in_bits, sc.out_bits) == (4, 128, 16, 7)
    assert cfg.ideal_cycles(128) == 128 * 128 * 64 // 16
    AttentionConfig(head_dim=32)


@pytest.mark.parametrize("kw,needle", [
    (dict(head_dim=30), "head_dim=30 must be a multiple of cols=4"),
    (dict(head_dim=64, cols=5, lanes=5, max_seq=120), "head_dim=64 must be a multiple of cols=5"),
    (dict(max_seq=513), "max_seq must be an integer in [1, 512]"),
    (dict(max_seq=130), "max_seq=130 must be a multiple of rows=4"),
    (dict(lanes=0), "lanes must be an integer in [1, 32]"),
    (dict(lanes=2), "lanes=2 must equal cols=4"),
    (dict(rows=0), "rows must be an integer in [1, 64]"),
    (dict(head_dim=0), "head_dim must be an integer in [1, 256]"),
    (dict(dsp_pack=3), "dsp_pack must be one of 1, 2"),
])
def test_bad_fields_name_field_and_range(kw, needle):
    with pytest.raises(ConfigError) as e:
        AttentionConfig(**kw)
    assert needle in str(e.value)


@pytest.mark.parametrize("s", [0, 6, 132, 256])
def test_run_time_seq_checked(s):
    with pytest.raises(ConfigError, match=r"S=\d+ must be in \[1, 128\] \(max_seq\)"):
        AttentionConfig().check_seq(s)


def test_generate_writes_units_and_top(tmp_path):
    out = tmp_path / "rtl"
    cfg = AttentionConfig(max_seq=8, head_dim=8, rows=2, cols=4, lanes=4)
    generate(cfg, out)
    div = cfg.softmax.divider.module_name
    names = ["qbert_matmul.v", "qbert_softmax_exp.v", f"{div}.v", "qbert_softmax.v", "qbert_attention.v"]
    assert [p.name for p in sources(out)] == names
    assert AttentionConfig.load(out) == cfg
    top = (out / "qbert_attention.v").read_text()
    # composed, not copied: the units are instances of their own modules
    assert "module qbert_matmul" not in top and "module qbert_softmax" not in top
    assert top.count("qbert_matmul\n  u_") == 2 and "qbert_softmax\n  u_softmax" in top


def test_verilog_style():
    v = verilog(AttentionConfig())
    assert "`default_nettype none" in v and "initial" not in v
    assert "always @(*)" not in v


@pytest.mark.parametrize("kw", [dict(max_seq=8, head_dim=8, rows=2, cols=4, lanes=4),
                                dict(max_seq=12, head_dim=6, rows=3, cols=1, lanes=1),
                                dict()])
def test_lint_clean(tmp_path, kw):
    generate(AttentionConfig(**kw), tmp_path / "rtl")
    ok, out = flows.lint(flows.FLOWS["attention"], tmp_path / "rtl")
    assert ok, out


@pytest.mark.parametrize("argv,needle", [
    (["-P", "head_dim=30"], "head_dim=30 must be a multiple of cols=4"),
    (["-P", "max_seq=1024"], "max_seq must be an integer in [1, 512]"),
    (["-P", "lanes=0"], "lanes must be an integer in [1, 32]"),
    (["-P", "nope=1"], "unknown parameter 'nope'"),
])
def test_cli_gen_bad_input_exit_2_nothing_written(tmp_path, capsys, argv, needle):
    out = tmp_path / "rtl"
    assert cli.main(["gen", "attention", *argv, "-o", str(out)]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []
