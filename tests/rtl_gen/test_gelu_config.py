"""GeluConfig validation, the generator's file contract, lint, and the CLI's
bad-input exit codes."""
import json

import pytest

from golden_model.gelu import gelu_spec
from golden_model.numerics import Numerics
from rtl_gen.config import ConfigError
from rtl_gen.gelu import GeluConfig, generate, sources, verilog
from scripts import cli, flows


def test_defaults_come_from_numerics():
    cfg, num = GeluConfig(), Numerics()
    assert (cfg.in_bits, cfg.frac_bits, cfg.erf_bits) == (
        num.gelu_in_bits, num.gelu_frac_bits, num.gelu_erf_bits)
    assert cfg.spec == num.gelu == gelu_spec()
    assert cfg.out_bits == 31 and cfg.in_word_bits == 64 and cfg.out_word_bits == 128


@pytest.mark.parametrize("kw,needle", [
    (dict(lanes=0), "lanes must be an integer in [1, 32]"),
    (dict(lanes=33), "lanes must be an integer in [1, 32]"),
    (dict(in_bits=3), "in_bits must be an integer in [4, 20]"),
    (dict(in_bits=21), "in_bits must be an integer in [4, 20]"),
    (dict(frac_bits=0), "frac_bits must be an integer in [1, 18]"),
    (dict(frac_bits=15), "frac_bits must be an integer in [1, in_bits - 2 = 14]"),
    (dict(erf_bits=3), "erf_bits must be an integer in [4, 16]"),
    (dict(erf_bits=17), "erf_bits must be an integer in [4, 16]"),
    (dict(lanes=2.0), "lanes must be an integer"),
    (dict(lanes=True), "lanes must be an integer"),
])
def test_bad_fields_name_field_and_range(kw, needle):
    with pytest.raises(ConfigError) as e:
        GeluConfig(**kw)
    assert needle in str(e.value)


def test_overrides_and_json_roundtrip(tmp_path):
    cfg = GeluConfig().with_overrides([("lanes", "8"), ("in_bits", "0xc"), ("frac_bits", "6")])
    assert (cfg.lanes, cfg.in_bits, cfg.frac_bits) == (8, 12, 6)
    assert GeluConfig.from_params(json.loads(cfg.to_json())["params"]) == cfg
    t = tmp_path / "g.toml"
    t.write_text("[gelu]\nlanes = 8\nin_bits = 12\nfrac_bits = 6\n")
    assert GeluConfig.from_toml(t) == cfg


def test_generate_writes_three_files(tmp_path):
    out = tmp_path / "rtl"
    cfg = GeluConfig(lanes=2)
    generate(cfg, out)
    assert sorted(p.name for p in out.iterdir()) == ["files.f", "params.json", "qbert_gelu.v"]
    assert GeluConfig.load(out) == cfg
    assert [p.name for p in sources(out)] == ["qbert_gelu.v"]


def test_verilog_style():
    v = verilog(GeluConfig())
    assert "`default_nettype none" in v and "initial" not in v
    assert "always @(*)" not in v  # only clocked processes: no latches possible
    s = GeluConfig().spec
    assert f"b={s.b}, c={s.c}, erf_shift={s.erf_shift}, one={s.one}" in v


@pytest.mark.parametrize("kw", [dict(), dict(lanes=1), dict(lanes=32),
                                dict(lanes=3, in_bits=20, frac_bits=18),
                                dict(in_bits=4, frac_bits=1, erf_bits=4),
                                dict(lanes=2, in_bits=8, frac_bits=6, erf_bits=16)])
def test_lint_clean(tmp_path, kw):
    generate(GeluConfig(**kw), tmp_path / "rtl")
    ok, out = flows.lint(flows.FLOWS["gelu"], tmp_path / "rtl")
    assert ok, out


def test_lint_catches_a_width_bug(tmp_path):
    generate(GeluConfig(lanes=1), tmp_path / "rtl")
    v = tmp_path / "rtl" / "qbert_gelu.v"
    text = v.read_text()
    bad = text.replace("l0_s3_q <= l0_s[15:0];", "l0_s3_q <= l0_s;", 1)
    assert bad != text
    v.write_text(bad)
    ok, out = flows.lint(flows.FLOWS["gelu"], tmp_path / "rtl")
    assert not ok and "WIDTH" in out


@pytest.mark.parametrize("argv,needle", [
    (["-P", "lanes=0"], "lanes must be an integer in [1, 32]"),
    (["-P", "in_bits=30"], "in_bits must be an integer in [4, 20]"),
    (["-P", "in_bits=8"], "frac_bits must be an integer in [1, in_bits - 2 = 6]"),
    (["-P", "erf_bits=2"], "erf_bits must be an integer in [4, 16]"),
    (["-P", "nope=1"], "unknown parameter 'nope'"),
])
def test_cli_gen_bad_input_exit_2_nothing_written(tmp_path, capsys, argv, needle):
    out = tmp_path / "rtl"
    assert cli.main(["gen", "gelu", *argv, "-o", str(out)]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_gen_and_lint_ok(tmp_path, capsys):
    out = tmp_path / "rtl"
    assert cli.main(["gen", "gelu", "-P", "lanes=8", "-o", str(out)]) == 0
    assert GeluConfig.load(out).lanes == 8
    assert cli.main(["lint", "gelu", "--rtl", str(out)]) == 0
    assert "clean" in capsys.readouterr().out
