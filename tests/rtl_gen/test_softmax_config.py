"""SoftmaxConfig validation, the generator's file contract, lint, and the
CLI's bad-input exit codes."""
import json

import pytest

from golden_model.numerics import Numerics
from golden_model.softmax import softmax_spec
from rtl_gen.config import ConfigError
from rtl_gen.softmax import SoftmaxConfig, generate, sources, verilog
from scripts import cli, flows


def test_defaults_come_from_numerics():
    cfg, num = SoftmaxConfig(), Numerics()
    assert (cfg.in_bits, cfg.frac_bits, cfg.out_bits, cfg.max_len) == (
        num.softmax_in_bits, num.softmax_frac_bits, num.softmax_out_bits, num.max_seq)
    assert cfg.spec == num.softmax == softmax_spec()
    assert cfg.depth == cfg.max_len // cfg.lanes
    assert cfg.in_word_bits == 64 and cfg.out_word_bits == 32


@pytest.mark.parametrize("kw,needle", [
    (dict(lanes=0), "lanes must be an integer in [1, 32]"),
    (dict(lanes=33), "lanes must be an integer in [1, 32]"),
    (dict(max_len=0), "max_len must be an integer in [1, 4096]"),
    (dict(max_len=4097), "max_len must be an integer in [1, 4096]"),
    (dict(in_bits=3), "in_bits must be an integer in [4, 24]"),
    (dict(in_bits=25), "in_bits must be an integer in [4, 24]"),
    (dict(frac_bits=1), "frac_bits must be an integer in [2, 12]"),
    (dict(out_bits=16), "out_bits must be an integer in [2, 15]"),
    (dict(out_bits=1), "out_bits must be an integer in [2, 15]"),
    (dict(div_bits_per_cycle=3), "div_bits_per_cycle must be one of 1, 2, 4"),
    (dict(lanes=2.0), "lanes must be an integer"),
    (dict(lanes=True), "lanes must be an integer"),
    (dict(lanes=3, max_len=16), "max_len=16 must be a multiple of lanes=3"),
    (dict(max_len=4096, frac_bits=12), "leaves no room for the row sum"),
])
def test_bad_fields_name_field_and_range(kw, needle):
    with pytest.raises(ConfigError) as e:
        SoftmaxConfig(**kw)
    assert needle in str(e.value)


def test_overrides_and_json_roundtrip(tmp_path):
    cfg = SoftmaxConfig().with_overrides([("lanes", "8"), ("max_len", "0x40")])
    assert (cfg.lanes, cfg.max_len) == (8, 64)
    assert SoftmaxConfig.from_params(json.loads(cfg.to_json())["params"]) == cfg
    t = tmp_path / "s.toml"
    t.write_text("[softmax]\nlanes = 8\nmax_len = 64\n")
    assert SoftmaxConfig.from_toml(t) == cfg
    with pytest.raises(ConfigError, match="unknown parameter 'rows'"):
        SoftmaxConfig().with_overrides([("rows", "3")])


def test_generate_writes_three_files(tmp_path):
    out = tmp_path / "rtl"
    cfg = SoftmaxConfig(lanes=2, max_len=8)
    generate(cfg, out)
    div = cfg.divider.module_name
    assert div == "qbert_div_n33_d21_r2"      # 2^32 / a sum of up to 8 exps (21 bits)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["files.f", "params.json", "qbert_softmax.v", "qbert_softmax_exp.v", f"{div}.v"])
    assert SoftmaxConfig.load(out) == cfg
    assert [p.name for p in sources(out)] == ["qbert_softmax_exp.v", f"{div}.v", "qbert_softmax.v"]
    assert [p.name for p in tmp_path.iterdir()] == ["rtl"]


def test_verilog_style():
    v = verilog(SoftmaxConfig())
    assert "`default_nettype none" in v
    assert "initial" not in v
    assert "always @(*)" not in v  # only clocked processes: no latches possible
    assert "$signed" in v
    s = SoftmaxConfig().spec
    assert f"x0={s.x0}, b={s.b}, c={s.c}" in v


@pytest.mark.parametrize("kw", [dict(), dict(lanes=1, max_len=1), dict(lanes=1, max_len=16),
                                dict(lanes=3, max_len=48, in_bits=24, frac_bits=4),
                                dict(lanes=2, max_len=2, in_bits=4, frac_bits=12, out_bits=15),
                                dict(lanes=32, max_len=1024),
                                dict(lanes=32, max_len=4096, frac_bits=4),
                                dict(lanes=4, max_len=4, div_bits_per_cycle=1),
                                dict(lanes=5, max_len=40, div_bits_per_cycle=4)])
def test_lint_clean(tmp_path, kw):
    generate(SoftmaxConfig(**kw), tmp_path / "rtl")
    ok, out = flows.lint(flows.FLOWS["softmax"], tmp_path / "rtl")
    assert ok, out


def test_lint_catches_a_width_bug(tmp_path):
    generate(SoftmaxConfig(lanes=2, max_len=8), tmp_path / "rtl")
    v = tmp_path / "rtl" / "qbert_softmax.v"
    text = v.read_text()
    bad = text.replace("lmax_q <= row_max_d;", "lmax_q <= sum_q;", 1)
    assert bad != text
    v.write_text(bad)
    ok, out = flows.lint(flows.FLOWS["softmax"], tmp_path / "rtl")
    assert not ok and "WIDTH" in out


@pytest.mark.parametrize("argv,needle", [
    (["-P", "lanes=0"], "lanes must be an integer in [1, 32]"),
    (["-P", "max_len=0"], "max_len must be an integer in [1, 4096]"),
    (["-P", "max_len=5000"], "max_len must be an integer in [1, 4096]"),
    (["-P", "in_bits=30"], "in_bits must be an integer in [4, 24]"),
    (["-P", "out_bits=0"], "out_bits must be an integer in [2, 15]"),
    (["-P", "lanes=3"], "must be a multiple of lanes=3"),
    (["-P", "nope=1"], "unknown parameter 'nope'"),
    (["-P", "div_bits_per_cycle=8"], "div_bits_per_cycle must be one of 1, 2, 4"),
])
def test_cli_gen_bad_input_exit_2_nothing_written(tmp_path, capsys, argv, needle):
    out = tmp_path / "rtl"
    assert cli.main(["gen", "softmax", *argv, "-o", str(out)]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_gen_and_lint_ok(tmp_path, capsys):
    out = tmp_path / "rtl"
    assert cli.main(["gen", "softmax", "-P", "lanes=8", "-P", "max_len=64", "-o", str(out)]) == 0
    assert SoftmaxConfig.load(out).lanes == 8
    assert cli.main(["lint", "softmax", "--rtl", str(out)]) == 0
    assert "clean" in capsys.readouterr().out


def test_cli_sim_bad_rtl_dirs_exit_2(tmp_path, capsys):
    assert cli.main(["sim", "softmax", "--rtl", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    generate(SoftmaxConfig(lanes=2, max_len=8), tmp_path / "g")
    assert cli.main(["sim", "matmul", "--rtl", str(tmp_path / "g")]) == 2
    assert "describes unit 'softmax', not 'matmul'" in capsys.readouterr().err
    (tmp_path / "g" / "qbert_softmax.v").unlink()
    assert cli.main(["sim", "softmax", "--rtl", str(tmp_path / "g")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_bench_softmax_bad_lengths_exit_2(capsys):
    assert cli.main(["bench", "softmax", "-P", "max_len=64", "--lengths", "65"]) == 2
    assert "every row length must be in [1, max_len=64], got 65" in capsys.readouterr().err
    assert cli.main(["bench", "softmax", "--lengths", "a"]) == 2
    assert "--lengths wants N[,N..]" in capsys.readouterr().err
    assert cli.main(["bench", "matmul", "--lengths", "8"]) == 2
    assert "--lengths belongs to `qbert bench softmax`" in capsys.readouterr().err
