"""DividerConfig validation, derived timing, module naming, and lint of the
generated divider."""
import subprocess

import pytest

from rtl_gen import toolchain
from rtl_gen.config import ConfigError
from rtl_gen.divider import DividerConfig, build, verilog


@pytest.mark.parametrize("kw,needle", [
    (dict(num_bits=0), "num_bits must be an integer in [1, 64]"),
    (dict(num_bits=65), "num_bits must be an integer in [1, 64]"),
    (dict(den_bits=0), "den_bits must be an integer in [1, 64]"),
    (dict(den_bits=65), "den_bits must be an integer in [1, 64]"),
    (dict(bits_per_cycle=3), "bits_per_cycle must be one of 1, 2, 4"),
    (dict(bits_per_cycle=8), "bits_per_cycle must be one of 1, 2, 4"),
    (dict(num_bits=True), "num_bits must be an integer"),
])
def test_bad_fields_name_field_and_allowed(kw, needle):
    with pytest.raises(ConfigError, match="divider: ") as e:
        DividerConfig(**kw)
    assert needle in str(e.value)


@pytest.mark.parametrize("n,r,steps", [(33, 2, 17), (33, 1, 33), (33, 4, 9), (31, 4, 8), (1, 4, 1), (64, 4, 16)])
def test_latency_is_steps_plus_one(n, r, steps):
    cfg = DividerConfig(num_bits=n, den_bits=16, bits_per_cycle=r)
    assert cfg.steps == steps and cfg.latency == steps + 1 and cfg.padded_bits == steps * r


def test_module_name_and_override():
    cfg = DividerConfig(33, 32, 2)
    assert cfg.module_name == "qbert_div_n33_d32_r2"
    assert build(cfg).name == "qbert_div_n33_d32_r2"
    assert build(cfg, name="my_div").name == "my_div"
    text = verilog(cfg)
    for port in ("input wire clk", "input wire rst", "input wire start_i", "input wire [33-1:0] num_i",
                 "input wire [32-1:0] den_i", "output wire ready_o", "output wire done_o",
                 "output wire [33-1:0] quot_o", "output wire [32-1:0] rem_o"):
        assert port in text
    assert "`default_nettype none" in text and "initial" not in text


@pytest.mark.parametrize("n,d,r", [(33, 32, 2), (31, 16, 4), (32, 16, 1), (1, 1, 4), (64, 64, 4), (2, 7, 2)])
def test_lint_clean(tmp_path, n, d, r):
    cfg = DividerConfig(n, d, r)
    src = tmp_path / f"{cfg.module_name}.v"
    src.write_text(verilog(cfg))
    res = subprocess.run([toolchain.which("verilator"), "--lint-only", "-Wall", str(src)],
                         env=toolchain.tool_env(), capture_output=True, text=True)
    out = res.stdout + res.stderr
    assert res.returncode == 0 and "%Warning" not in out, out
