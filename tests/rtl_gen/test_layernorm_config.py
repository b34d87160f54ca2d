"""LayerNormConfig validation, the generator's file contract, lint, and the
CLI's bad-input exit codes."""
import json

import pytest

from golden_model.numerics import Numerics
from rtl_gen.config import ConfigError
from rtl_gen.layernorm import LayerNormConfig, generate, sources, verilog
from scripts import cli, flows


def test_defaults_come_from_numerics():
    cfg, num = LayerNormConfig(), Numerics()
    assert cfg.spec == num.layernorm(384)
    assert (cfg.hidden, cfg.in_bits, cfg.out_bits) == (384, num.residual_bits, num.act_bits)
    assert cfg.beats == 96 and cfg.in_word_bits == 64 and cfg.out_word_bits == 32
    # {beta 31, gamma 16} x 4 lanes + mult 31 + shift 6, whole bytes
    assert cfg.prm_lane_bits == 47 and cfg.prm_word_bits == 232
    # the scalar stage fits in a vector's beats: no bubble between tokens
    assert cfg.scalar_cycles <= cfg.beats and cfg.vector_period() == cfg.beats


@pytest.mark.parametrize("kw,needle", [
    (dict(lanes=0), "lanes must be an integer in [1, 64]"),
    (dict(lanes=65), "lanes must be an integer in [1, 64]"),
    (dict(hidden=0), "hidden must be an integer in [2, 8192]"),
    (dict(hidden=8193), "hidden must be an integer in [2, 8192]"),
    (dict(in_bits=25), "in_bits must be an integer in [2, 24]"),
    (dict(in_bits=1), "in_bits must be an integer in [2, 24]"),
    (dict(norm_bits=3), "norm_bits must be an integer in [4, 24]"),
    (dict(out_bits=25), "out_bits must be an integer in [2, 24]"),
    (dict(lanes=2.0), "lanes must be an integer"),
    (dict(hidden=True), "hidden must be an integer"),
    (dict(hidden=384, lanes=5), "hidden=384 must be a multiple of lanes=5"),
    (dict(norm_bits=20), "norm_bits + gamma_bits must be <= 32"),
])
def test_bad_fields_name_field_and_range(kw, needle):
    with pytest.raises(ConfigError) as e:
        LayerNormConfig(**kw)
    assert needle in str(e.value)


def test_overrides_and_json_roundtrip(tmp_path):
    cfg = LayerNormConfig().with_overrides([("lanes", "8"), ("hidden", "768")])
    assert (cfg.lanes, cfg.hidden) == (8, 768)
    assert LayerNormConfig.from_params(json.loads(cfg.to_json())["params"]) == cfg
    t = tmp_path / "l.toml"
    t.write_text("[layernorm]\nlanes = 8\nhidden = 768\n")
    assert LayerNormConfig.from_toml(t) == cfg


def test_generate_writes_one_module_per_file(tmp_path):
    out = tmp_path / "rtl"
    cfg = LayerNormConfig(hidden=8, lanes=2)
    generate(cfg, out)
    names = [p.name for p in sources(out)]
    assert names[-1] == "qbert_layernorm.v" and "qbert_isqrt_x32.v" in names
    assert sorted(p.name for p in out.iterdir()) == sorted(names + ["files.f", "params.json"])
    for p in sources(out):
        text = p.read_text()
        assert text.count("\nmodule ") == 1 and f"module {p.stem}\n" in text
    assert LayerNormConfig.load(out) == cfg


def test_verilog_style():
    v = verilog(LayerNormConfig())
    assert "`default_nettype none" in v and "initial" not in v
    assert "always @(*)" not in v
    assert "$signed" in v and "var_shift=9, norm_shift=23" in v


@pytest.mark.parametrize("kw", [dict(), dict(hidden=768, lanes=8), dict(hidden=2, lanes=1),
                                dict(hidden=6, lanes=3, in_bits=8, out_bits=5),
                                dict(hidden=8192, lanes=64, in_bits=24, norm_bits=12,
                                     gamma_bits=20, out_bits=16),
                                dict(hidden=12, lanes=12, in_bits=2, norm_bits=4,
                                     gamma_bits=2, out_bits=2)])
def test_lint_clean(tmp_path, kw):
    generate(LayerNormConfig(**kw), tmp_path / "rtl")
    ok, out = flows.lint(flows.FLOWS["layernorm"], tmp_path / "rtl")
    assert ok, out


def test_lint_catches_a_width_bug(tmp_path):
    generate(LayerNormConfig(hidden=8, lanes=2), tmp_path / "rtl")
    v = tmp_path / "rtl" / "qbert_layernorm.v"
    text = v.read_text()
    bad = text.replace("sc_var_q <= var_d;", "sc_var_q <= var_sum;", 1)
    assert bad != text
    v.write_text(bad)
    ok, out = flows.lint(flows.FLOWS["layernorm"], tmp_path / "rtl")
    assert not ok and "WIDTH" in out


@pytest.mark.parametrize("argv,needle", [
    (["-P", "lanes=0"], "lanes must be an integer in [1, 64]"),
    (["-P", "hidden=0"], "hidden must be an integer in [2, 8192]"),
    (["-P", "hidden=385"], "hidden=385 must be a multiple of lanes=4"),
    (["-P", "in_bits=30"], "in_bits must be an integer in [2, 24]"),
    (["-P", "gamma_bits=20"], "norm_bits + gamma_bits must be <= 32"),
    (["-P", "nope=1"], "unknown parameter 'nope'"),
])
def test_cli_gen_bad_input_exit_2_nothing_written(tmp_path, capsys, argv, needle):
    out = tmp_path / "rtl"
    assert cli.main(["gen", "layernorm", *argv, "-o", str(out)]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_gen_and_lint_ok(tmp_path, capsys):
    out = tmp_path / "rtl"
    assert cli.main(["gen", "layernorm", "-P", "hidden=768", "-P", "lanes=8", "-o", str(out)]) == 0
    assert LayerNormConfig.load(out).hidden == 768
    assert cli.main(["lint", "layernorm", "--rtl", str(out)]) == 0
    assert "clean" in capsys.readouterr().out
