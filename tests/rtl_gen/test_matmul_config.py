"""MatmulConfig validation, the shared Config base, the generator's file
contract, lint, and the CLI's bad-input exit codes."""
import json
from pathlib import Path
import subprocess
import sys

import pytest

from golden_model.matmul import acc_bits_for
from rtl_gen.config import ConfigError
from rtl_gen.matmul import MatmulConfig, generate, max_k, sources, verilog
from scripts import cli, flows


def test_defaults_and_derived_acc_bits():
    cfg = MatmulConfig()
    assert cfg.acc_bits == acc_bits_for(cfg.k_max, 8, cfg.weight_bits, cfg.bias_bits)
    assert cfg.acc_bits <= 32
    assert "acc_bits" not in cfg.to_params()


@pytest.mark.parametrize("field,value,needle", [
    ("rows", 0, "rows must be an integer in [1, 64]"),
    ("rows", -3, "rows must be an integer in [1, 64]"),
    ("cols", 65, "cols must be an integer in [1, 64]"),
    ("weight_bits", 6, "weight_bits must be one of 4, 8"),
    ("act_bits", 4, "act_bits must be one of 8"),
    ("rows", 2.0, "rows must be an integer"),
    ("rows", True, "rows must be an integer"),
    ("k_max", 0, "k_max must be an integer in [1,"),
    ("dsp_pack", 4, "dsp_pack must be one of 1, 2, 3"),
    ("requant_lanes", -1, "requant_lanes must be an integer in [0, 64]"),
    ("requant_lanes", 5, "requant_lanes=5 must be <= cols=4 (0: one requantizer per column)"),
])
def test_bad_fields_name_field_and_range(field, value, needle):
    with pytest.raises(ConfigError) as e:
        MatmulConfig(**{field: value})
    assert needle in str(e.value)


@pytest.mark.parametrize("cols,lanes,row_cycles", [(4, 0, 1), (4, 4, 1), (4, 2, 2), (5, 2, 3),
                                                   (32, 8, 4), (7, 1, 7)])
def test_shared_requantizers_drain_a_row_in_chunks(cols, lanes, row_cycles):
    cfg = MatmulConfig(rows=3, cols=cols, requant_lanes=lanes)
    assert cfg.rq_lanes == (lanes or cols) and cfg.row_cycles == row_cycles
    assert cfg.drain_cycles == 3 * row_cycles + 4


def test_k_max_beyond_32_bit_accumulator():
    limit = max_k(8, 8, 28)
    assert acc_bits_for(limit, 8, 8, 28) <= 32 < acc_bits_for(limit + 1, 8, 8, 28)
    MatmulConfig(k_max=limit)
    with pytest.raises(ConfigError, match=rf"k_max must be <= {limit}"):
        MatmulConfig(k_max=limit + 1)
    with pytest.raises(ConfigError, match="bias_bits=32 alone fills 32 bits"):
        MatmulConfig(bias_bits=32)


def test_overrides_convert_types_and_reject_unknown():
    cfg = MatmulConfig().with_overrides([("rows", "2"), ("weight_bits", "4"), ("k_max", "0x40")])
    assert (cfg.rows, cfg.weight_bits, cfg.k_max) == (2, 4, 64)
    with pytest.raises(ConfigError, match="unknown parameter 'depth'.*valid parameters: rows"):
        MatmulConfig().with_overrides([("depth", "3")])
    with pytest.raises(ConfigError, match="rows must be an integer in"):
        MatmulConfig().with_overrides([("rows", "two")])


def test_json_roundtrip_and_toml(tmp_path):
    cfg = MatmulConfig(rows=3, cols=2, k_max=99, weight_bits=4)
    assert MatmulConfig.from_params(json.loads(cfg.to_json())["params"]) == cfg
    t = tmp_path / "c.toml"
    t.write_text("[matmul]\nrows = 3\ncols = 2\nk_max = 99\nweight_bits = 4\n")
    assert MatmulConfig.from_toml(t) == cfg
    t.write_text("rows = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        MatmulConfig.from_toml(t)
    with pytest.raises(ConfigError, match="does not exist"):
        MatmulConfig.from_toml(tmp_path / "none.toml")


def test_generate_writes_three_files_and_replaces_atomically(tmp_path):
    out = tmp_path / "rtl"
    cfg = MatmulConfig(rows=2, cols=3, k_max=8)
    generate(cfg, out)
    assert sorted(p.name for p in out.iterdir()) == ["files.f", "params.json", "qbert_matmul.v"]
    assert MatmulConfig.load(out) == cfg
    assert [p.name for p in sources(out)] == ["qbert_matmul.v"]
    generate(MatmulConfig(rows=1, cols=1, k_max=8), out)
    assert MatmulConfig.load(out).rows == 1
    assert [p.name for p in tmp_path.iterdir()] == ["rtl"]  # no temp leftovers


def test_outputs_get_the_umask_mode_not_the_temp_files_private_one(tmp_path):
    import os
    from scripts.atomic import atomic_path
    old = os.umask(0o027)
    try:
        out = generate(MatmulConfig(rows=1, cols=1, k_max=8), tmp_path / "rtl")
        with atomic_path(tmp_path / "w.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "w.bin").stat().st_mode & 0o777 == 0o640


def test_generate_refuses_to_replace_a_foreign_folder(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty and was not written by"):
        generate(MatmulConfig(), tmp_path)
    assert cli.main(["gen", "matmul", "-o", str(tmp_path)]) == 2
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]



def _fail_nth_replace(monkeypatch, *fail: int):
    """os.replace failing (EPERM) on the given calls, 1-based: a folder that cannot move."""
    import errno
    import os
    real, calls = os.replace, []

    def replace(src, dst):
        calls.append((src, dst))
        if len(calls) in fail:
            raise PermissionError(errno.EPERM, "Operation not permitted")
        return real(src, dst)
    monkeypatch.setattr(os, "replace", replace)
    return calls


@pytest.mark.parametrize("fail", [(1,), (2,)], ids=["old_cannot_move", "new_cannot_move_in"])
def test_generate_over_an_unmovable_output_leaves_it_as_it_was(tmp_path, monkeypatch, fail):
    out = generate(MatmulConfig(rows=1, cols=1, k_max=8), tmp_path / "rtl")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    calls = _fail_nth_replace(monkeypatch, *fail)
    with pytest.raises(ConfigError, match=r"output folder .*rtl: cannot write it \(Operation not permitted\)"):
        generate(MatmulConfig(rows=2, cols=1, k_max=8), out)
    assert len(calls) == 3 if fail == (2,) else len(calls) == 1   # (2,): moved aside and back
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["rtl"]        # no temp or aside folder left


def test_generate_names_where_the_old_output_is_if_it_cannot_come_back(tmp_path, monkeypatch):
    out = generate(MatmulConfig(rows=1, cols=1, k_max=8), tmp_path / "rtl")
    _fail_nth_replace(monkeypatch, 2, 3)
    with pytest.raises(ConfigError, match="the previous output is kept in") as e:
        generate(MatmulConfig(rows=2, cols=1, k_max=8), out)
    kept = Path(str(e.value).split("kept in ")[1].rstrip(")"))
    assert (kept / "params.json").is_file() and not out.exists()


def test_swap_in_keeps_old_until_new_is_complete(tmp_path):
    from rtl_gen.emit import swap_in
    old, new = tmp_path / "out", tmp_path / "new"
    old.mkdir(); (old / "a").write_text("old")
    new.mkdir(); (new / "a").write_text("new")
    swap_in(new, old)
    assert (old / "a").read_text() == "new" and not new.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in old.iterdir()] == ["a"]


def test_single_file_outputs_refuse_a_folder_and_an_unwritable_parent(tmp_path, monkeypatch):
    import tempfile
    from scripts.atomic import atomic_path
    with pytest.raises(ConfigError, match="is a folder: give a file path"):
        with atomic_path(tmp_path):
            pass

    def mkstemp(*a, **k):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    with pytest.raises(ConfigError, match=r"w.bin: cannot write in .* \(Permission denied\)"):
        with atomic_path(tmp_path / "w.bin"):
            pass
    assert list(tmp_path.iterdir()) == []

def test_verilog_style():
    v = verilog(MatmulConfig())
    assert "`default_nettype none" in v
    assert "initial" not in v
    assert "always @(*)" not in v  # only clocked processes: no latches possible
    assert "$signed" in v and ">>>" in v


@pytest.mark.parametrize("cols, groups", [(1, ()), (2, ((0, 1),)), (3, ((0, 1, 2),)),
                                          (4, ((0, 1, 2),)), (5, ((0, 1, 2), (3, 4))),
                                          (6, ((0, 1, 2), (3, 4, 5)))])
def test_pack3_groups_triples_then_a_pair(cols, groups):
    """dsp_pack 3: columns in triples; two left over share a multiplier, one keeps its own."""
    cfg = MatmulConfig(cols=cols, weight_bits=4, dsp_pack=3)
    assert tuple(g.cols for g in cfg.pack_groups) == groups
    for g in cfg.pack_groups:
        assert g.operand_bits <= 27          # the DSP48E2's A input
        assert (g.shift, g.product_bits) == ((11, 34) if len(g.cols) == 3 else (13, 25))


@pytest.mark.parametrize("cols, groups", [(1, ()), (2, ((0, 1),)), (4, ((0, 1, 2),)),
                                          (5, ((0, 1, 2), (3, 4)))])
def test_mixed_triples_hold_an_int8_pair(cols, groups):
    """weight_bits 8 with dsp_pack 3 is mixed: the same groups as int4, a triple's
    operand and product wide enough for its int4 fields and for an int8 pair
    (the DSP48E2's 27-bit A input); pairs and single columns as with dsp_pack 2."""
    cfg = MatmulConfig(cols=cols, dsp_pack=3)
    assert cfg.mixed and not MatmulConfig(cols=cols, dsp_pack=3, weight_bits=4).mixed
    assert tuple(g.cols for g in cfg.pack_groups) == groups
    for g in cfg.pack_groups:
        assert g.operand_bits <= 27
        assert (g.shift, g.wide_shift, g.operand_bits, g.product_bits) == (
            (11, 17, 27, 34) if len(g.cols) == 3 else (17, 0, 26, 33))


def test_mixed_has_wgt_tuser_port():
    assert "input wire s_axis_wgt_tuser," in verilog(MatmulConfig(cols=4, dsp_pack=3))
    assert "tuser" not in verilog(MatmulConfig(cols=4, dsp_pack=3, weight_bits=4))


@pytest.mark.parametrize("kw", [dict(rows=1, cols=1, k_max=1), dict(), dict(weight_bits=4),
                                dict(rows=2, cols=5, k_max=100, dsp_pack=3),
                                dict(rows=2, cols=4, k_max=100, dsp_pack=3),
                                dict(rows=3, cols=5, k_max=100, bias_bits=14),
                                dict(rows=2, cols=5, k_max=100, weight_bits=4, dsp_pack=3),
                                dict(rows=3, cols=5, k_max=100, requant_lanes=2),
                                dict(rows=2, cols=4, k_max=100, dsp_pack=3, requant_lanes=1)])
def test_lint_clean(tmp_path, kw):
    generate(MatmulConfig(**kw), tmp_path / "rtl")
    ok, out = flows.lint(flows.FLOWS["matmul"], tmp_path / "rtl")
    assert ok, out


def test_lint_catches_a_width_bug(tmp_path):
    generate(MatmulConfig(rows=2, cols=2, k_max=8), tmp_path / "rtl")
    v = tmp_path / "rtl" / "qbert_matmul.v"
    v.write_text(v.read_text().replace("s1_mult_c0_q <= mult_c0;", "s1_mult_c0_q <= shift_c0;"))
    ok, out = flows.lint(flows.FLOWS["matmul"], tmp_path / "rtl")
    assert not ok and "WIDTH" in out


@pytest.mark.parametrize("argv,needle", [
    (["-P", "rows=0"], "rows must be an integer in [1, 64]"),
    (["-P", "cols=-2"], "cols must be an integer in [1, 64]"),
    (["-P", "weight_bits=2"], "weight_bits must be one of 4, 8"),
    (["-P", "k_max=1000000"], "k_max must be <="),
    (["-P", "nope=1"], "unknown parameter 'nope'"),
    (["-P", "dsp_pack=5"], "dsp_pack must be one of 1, 2, 3"),
])
def test_cli_gen_bad_input_exit_2_nothing_written(tmp_path, capsys, argv, needle):
    out = tmp_path / "rtl"
    assert cli.main(["gen", "matmul", *argv, "-o", str(out)]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_gen_and_lint_ok(tmp_path, capsys):
    out = tmp_path / "rtl"
    assert cli.main(["gen", "matmul", "-P", "rows=2", "-o", str(out)]) == 0
    assert MatmulConfig.load(out).rows == 2
    assert cli.main(["lint", "matmul", "--rtl", str(out)]) == 0
    assert "clean" in capsys.readouterr().out


def test_cli_sim_bad_rtl_dirs_exit_2(tmp_path, capsys):
    assert cli.main(["sim", "matmul", "--rtl", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["sim", "matmul", "--rtl", str(tmp_path)]) == 2
    assert "params.json is missing" in capsys.readouterr().err
    (tmp_path / "params.json").write_text("{not json")
    assert cli.main(["sim", "matmul", "--rtl", str(tmp_path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    (tmp_path / "params.json").write_text(json.dumps({"unit": "matmul", "params": {"rows": 0}}))
    assert cli.main(["lint", "matmul", "--rtl", str(tmp_path)]) == 2
    assert "rows must be" in capsys.readouterr().err
    generate(MatmulConfig(rows=2, cols=2, k_max=4), tmp_path / "g")
    (tmp_path / "g" / "qbert_matmul.v").unlink()
    assert cli.main(["sim", "matmul", "--rtl", str(tmp_path / "g")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["sim", "matmul", "--rtl", str(tmp_path / "g"), "-P", "rows=2"]) == 2
    assert cli.main(["sim", "matmul", "--examples", "0"]) == 2


def test_console_script_exit_code(tmp_path):
    r = subprocess.run([sys.executable, "-m", "scripts.cli", "gen", "matmul", "-P", "rows=0",
                        "-o", str(tmp_path / "x")], capture_output=True, text=True)
    assert r.returncode == 2 and "rows must be" in r.stderr


def test_cli_config_toml_then_overrides(tmp_path, capsys):
    t = tmp_path / "m.toml"
    t.write_text("[matmul]\nrows = 3\ncols = 2\nweight_bits = 4\n")
    out = tmp_path / "rtl"
    assert cli.main(["gen", "matmul", "--config", str(t), "-P", "cols=5", "-o", str(out)]) == 0
    assert MatmulConfig.load(out) == MatmulConfig(rows=3, cols=5, weight_bits=4)
    t.write_text("[matmul]\nrows = 0\n")
    assert cli.main(["gen", "matmul", "--config", str(t), "-o", str(tmp_path / "x")]) == 2
    assert "rows must be an integer in [1, 64]" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
