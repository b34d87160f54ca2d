"""qbert export: a real bundle through every gate, its verification, a refused
broken unit, and bad export Configs.  One small bundle is built per module."""
import json
import shutil
from pathlib import Path

import pytest

from rtl_gen.config import ConfigError
from scripts import bundle, export, export_config
from scripts.cli import main

SMALL = """\
[export]
name = "small"
sim_examples = 4
clock_mhz = 300

[matmul]
rows = 1
cols = 2
k_max = 16
"""


@pytest.fixture(scope="module")
def small_bundle(tmp_path_factory):
    d = tmp_path_factory.mktemp("export")
    (d / "small.toml").write_text(SMALL)
    assert main(["export", "--config", str(d / "small.toml"), "-o", str(d / "bundle")]) == 0
    return d / "bundle"


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "b"
    shutil.copytree(src, dst)
    return dst


def test_bundle_contents(small_bundle, tmp_path):
    b = small_bundle
    man = json.loads((b / "manifest.json").read_text())
    assert man["config"]["units"]["matmul"]["rows"] == 1
    assert {g["gate"] for g in man["gates"]} == {"lint", "sim", "formal", "synth", "bench"}
    assert all(g["passed"] for g in man["gates"])
    assert set(man["files"]) == set(bundle.bundle_files(b))
    for rel in ("rtl/matmul/qbert_matmul.v", "rtl/matmul/files.f", "vivado/synth.tcl", "vivado/package_ip.tcl",
                "vivado/constraints.xdc", "ipxact/qbert_matmul/component.xml", "small.core",
                "report.md", "report.html", "plots/resources.png", "config.toml"):
        assert (b / rel).is_file(), rel
    assert (b / "rtl/matmul/files.f").read_text().split() == ["qbert_matmul.v"]
    assert "set units {{matmul qbert_matmul}}" in (b / "vivado/synth.tcl").read_text()
    assert "      - rtl/matmul/qbert_matmul.v" in (b / "small.core").read_text()
    assert "create_clock -name clk -period 3.333 [get_ports clk]" in (b / "vivado/constraints.xdc").read_text()
    assert "synth_design -top $top -part $part -mode out_of_context" in (b / "vivado/synth.tcl").read_text()
    assert "ipx::infer_bus_interfaces xilinx.com:interface:axis_rtl:1.0" in (b / "vivado/package_ip.tcl").read_text()
    # the IP holds the signed-off RTL itself
    assert (b / "ipxact/qbert_matmul/hdl/qbert_matmul.v").read_text() == (b / "rtl/matmul/qbert_matmul.v").read_text()
    synth = next(g for g in man["gates"] if g["gate"] == "synth")
    assert synth["resources"]["LUT"] > 0 and synth["resources"]["DSP48E2"] > 0
    rep = (b / "report.md").read_text()
    assert f"| {synth['resources']['LUT']} |" in rep and "matmul_r1c2_k16_w8_b28_lat" in rep
    # config.toml round-trips to the same export Config
    (tmp_path / "small.toml").write_text(SMALL)
    assert export_config.load(b / "config.toml") == export_config.load(tmp_path / "small.toml")


def test_verify_ok(small_bundle, capsys):
    assert main(["export", "--verify", str(small_bundle)]) == 0
    assert "match manifest.json" in capsys.readouterr().out


def test_one_byte_change_in_any_file_fails_verify(small_bundle, tmp_path):
    b = _copy(small_bundle, tmp_path)
    for rel in bundle.bundle_files(b):
        p = b / rel
        data = p.read_bytes()
        p.write_bytes(bytes([data[0] ^ 1]) + data[1:])
        with pytest.raises(bundle.VerifyError, match=f"^{rel}: differs"):
            bundle.verify(b)
        p.write_bytes(data)
    assert bundle.verify(b) > 0


def test_added_and_removed_files_fail_verify(small_bundle, tmp_path, capsys):
    b = _copy(small_bundle, tmp_path)
    (b / "rtl" / "extra.v").write_text("module extra; endmodule\n")
    assert main(["export", "--verify", str(b)]) == 1
    assert "rtl/extra.v: added" in capsys.readouterr().err
    (b / "rtl" / "extra.v").unlink()
    (b / "report.html").unlink()
    assert main(["export", "--verify", str(b)]) == 1
    assert "report.html: removed" in capsys.readouterr().err
    (b / "manifest.json").unlink()
    assert main(["export", "--verify", str(b)]) == 1
    assert "manifest.json: missing" in capsys.readouterr().err


def test_broken_unit_is_refused_and_nothing_written(tmp_path, monkeypatch, capsys):
    """A mutant generator (rounding term of lane 0 dropped): lint passes, the
    simulation gate fails, export exits 1 naming it, and writes nothing."""
    import rtl_gen.matmul as gm
    real = gm.verilog

    def broken(cfg):
        text = real(cfg)
        bad = text.replace("assign rnd_c0 = (64'd1 << s2_shift_c0_q) >> 64'd1;", "assign rnd_c0 = 64'd0;")
        assert bad != text
        return bad
    monkeypatch.setattr(gm, "verilog", broken)
    (tmp_path / "small.toml").write_text(SMALL)
    out = tmp_path / "bundle"
    assert main(["export", "--config", str(tmp_path / "small.toml"), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "REFUSED, nothing written: gate sim failed for unit matmul" in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.toml"]   # no temp folder left


def test_existing_bundle_refused_without_force(small_bundle, tmp_path, capsys):
    out = tmp_path / "b"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    (tmp_path / "small.toml").write_text(SMALL)
    assert main(["export", "--config", str(tmp_path / "small.toml"), "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("text, where, what", [
    ("[export]\nname = 'x'\n[matmul\nrows = 1\n", ":", "not valid TOML"),
    ("[export]\nname = 'x'\n\n[dsp]\nrows = 1\n", ":4:", "unknown unit [dsp]"),
    ("[export]\nname = 'x'\n\n[encoder]\n", ":4:", "unit [encoder] cannot be signed off yet"),
    ("[export]\nname = 'x'\n\n[attention]\n", ":4:", "unit [attention] cannot be signed off yet"),
    ("[matmul]\nrows = 2\ncolz = 4\n", ":3:", "unknown parameter 'colz'"),
    ("[matmul]\nrows = 2\ncols = 99\n", ":3:", "cols must be an integer in [1, 64], got 99"),
    ("[matmul]\nrows = '2'\n", ":2:", "rows must be an integer in [1, 64]"),
    ("[export]\nclock_mhz = 0\n[matmul]\n", ":2:", "export.clock_mhz must be in [1, 1000]"),
    ("[export]\npart = 'zcu 102'\n[matmul]\n", ":2:", "export.part must be a Xilinx part name"),
    ("[export]\nspeed = 1\n[matmul]\n", ":2:", "unknown parameter export.speed"),
    ("[export]\nname = 'x'\n", "", "names no unit"),
])
def test_bad_export_config(tmp_path, capsys, text, where, what):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    out = tmp_path / "bundle"
    assert main(["export", "--config", str(cfg), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert what in err and f"{cfg}{where}" in err, err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]



def test_a_solver_not_on_path_is_refused_before_any_gate(tmp_path, monkeypatch, capsys):
    import formal.sby
    monkeypatch.setattr(formal.sby, "_tool_path", lambda: str(tmp_path / "no-tools"))
    (tmp_path / "small.toml").write_text(SMALL.replace("[export]\n", "[export]\nsolver = 'boolector'\n"))
    out = tmp_path / "bundle"
    assert main(["export", "--config", str(tmp_path / "small.toml"), "-o", str(out)]) == 2
    cap = capsys.readouterr()
    assert "formal engine 'smtbmc boolector' needs tools that are not on PATH" in cap.err
    assert "running the gates" not in cap.out and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.toml"]

def test_usage_errors(tmp_path, capsys):
    assert main(["export"]) == 2
    assert "needs -o DIR" in capsys.readouterr().err
    assert main(["export", "--verify", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")
    assert main(["export", "--verify", str(tmp_path / "afile")]) == 2
    assert "a file, not a bundle folder" in capsys.readouterr().err
    assert main(["export", "--verify", str(tmp_path), "-o", str(tmp_path / "x")]) == 2


def test_default_config_is_every_unit_with_proofs():
    from formal.run import UNITS_WITH_PROOFS
    from scripts.flows import FLOWS
    ec = export_config.default_config()
    assert list(ec.units) == [u for u in FLOWS if u in UNITS_WITH_PROOFS]
    assert all(c == FLOWS[u].config_class()() for u, c in ec.units.items())
    with pytest.raises(ConfigError, match="export.name"):
        export_config.ExportConfig(name="1bad", units=ec.units)
