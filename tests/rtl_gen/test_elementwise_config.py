"""RequantConfig / ResidualConfig validation, lint of the generated RTL, and
the CLI's bad-input exit codes (nothing written)."""
import json

import pytest

from golden_model.numerics import Numerics
from rtl_gen.config import ConfigError
from rtl_gen.requant import RequantConfig, generate as gen_requant
from rtl_gen.residual import ResidualConfig, generate as gen_residual
from scripts import cli, flows


def test_defaults():
    r, s, num = RequantConfig(), ResidualConfig(), Numerics()
    assert (r.lanes, r.acc_bits, r.out_bits, r.latency) == (4, 32, 8, 3)
    assert (s.a_bits, s.b_bits, s.out_bits, s.latency) == (32, num.act_bits, num.residual_bits, 4)


@pytest.mark.parametrize("cls,kw,needle", [
    (RequantConfig, dict(lanes=0), "lanes must be an integer in [1, 32]"),
    (RequantConfig, dict(acc_bits=33), "acc_bits must be an integer in [2, 32]"),
    (RequantConfig, dict(out_bits=1), "out_bits must be an integer in [2, 32]"),
    (ResidualConfig, dict(lanes=0), "lanes must be an integer in [1, 32]"),
    (ResidualConfig, dict(a_bits=40), "a_bits must be an integer in [2, 32]"),
    (ResidualConfig, dict(b_bits=1), "b_bits must be an integer in [2, 32]"),
    (ResidualConfig, dict(out_bits=31), "out_bits must be an integer in [2, 30]"),
])
def test_bad_fields_name_field_and_range(cls, kw, needle):
    with pytest.raises(ConfigError) as e:
        cls(**kw)
    assert needle in str(e.value)


def test_json_roundtrip():
    for cfg in (RequantConfig(lanes=2, acc_bits=31), ResidualConfig(lanes=3, out_bits=12)):
        assert type(cfg).from_params(json.loads(cfg.to_json())["params"]) == cfg


@pytest.mark.parametrize("unit,gen,cfg", [
    ("requant", gen_requant, RequantConfig()),
    ("requant", gen_requant, RequantConfig(lanes=1, acc_bits=2, out_bits=32)),
    ("requant", gen_requant, RequantConfig(lanes=3, acc_bits=31, out_bits=2)),
    ("residual", gen_residual, ResidualConfig()),
    ("residual", gen_residual, ResidualConfig(lanes=1, a_bits=2, b_bits=32, out_bits=30)),
    ("residual", gen_residual, ResidualConfig(lanes=5, out_bits=2)),
])
def test_lint_clean(tmp_path, unit, gen, cfg):
    gen(cfg, tmp_path / "rtl")
    ok, out = flows.lint(flows.FLOWS[unit], tmp_path / "rtl")
    assert ok, out


@pytest.mark.parametrize("unit,argv,needle", [
    ("requant", ["-P", "lanes=0"], "lanes must be an integer in [1, 32]"),
    ("requant", ["-P", "acc_bits=64"], "acc_bits must be an integer in [2, 32]"),
    ("residual", ["-P", "lanes=0"], "lanes must be an integer in [1, 32]"),
    ("residual", ["-P", "out_bits=40"], "out_bits must be an integer in [2, 30]"),
    ("residual", ["-P", "rows=2"], "unknown parameter 'rows'"),
])
def test_cli_gen_bad_input_exit_2_nothing_written(tmp_path, capsys, unit, argv, needle):
    out = tmp_path / "rtl"
    assert cli.main(["gen", unit, *argv, "-o", str(out)]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_gen_and_lint_ok(tmp_path, capsys):
    for unit in ("requant", "residual"):
        out = tmp_path / unit
        assert cli.main(["gen", unit, "-P", "lanes=2", "-o", str(out)]) == 0
        assert cli.main(["lint", unit, "--rtl", str(out)]) == 0
        assert "clean" in capsys.readouterr().out
