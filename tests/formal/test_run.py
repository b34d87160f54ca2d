"""formal.run: prove() over kit RTL and over an --rtl folder, and the result table."""
import json

import pytest

from formal import equiv, run as frun


def test_prove_kit(tmp_path):
    lines = []
    res = frun.prove("kit", {"k_max": 384}, None, "yices", workdir=tmp_path, progress=lines.append)
    assert frun.all_passed(res), frun.format_table(res)
    names = [r.name for r in res]
    assert any(n.startswith("requant_direct_acc32_m31_s62") for n in names)
    assert any(n.startswith("mac_equiv_a8w8b32_k384") for n in names)
    assert any(n.startswith("lemma_mac_bound") for n in names)
    assert all("kit RTL" in r.description for r in res if r.mode != "z3" and "vectors" not in r.name)
    table = frun.format_table(res)
    assert "property" in table and f"{len(res)}/{len(res)} properties proven" in table
    assert len(lines) >= len(res)


def _rtl_dir(tmp_path, requant_bug="none", with_mac=True, split=0):
    d = tmp_path / "rtl"
    d.mkdir()
    rq = equiv.RequantSpec()
    mac = equiv.MacSpec(k_max=1536)
    style = "split" if split else "direct"
    (d / "my_requant.sv").write_text(equiv.requant_dut_sv(rq, style=style, bug=requant_bug, name="my_requant",
                                                          split=split or 17))
    files = ["my_requant.sv"]
    if with_mac:
        (d / "qbert_mac_pe.sv").write_text(equiv.mac_dut_sv(mac))
        files.append("qbert_mac_pe.sv")
    (d / "filelist.f").write_text("\n".join(files) + "\n")
    (d / "params.json").write_text(json.dumps(
        {"formal": {"requant": {"top": "my_requant", "latency": 2, "split": split},
                    "mac_pe": {"top": "qbert_mac_pe"}}}))
    return d


def test_prove_rtl_dir(tmp_path):
    res = frun.prove_contract(_rtl_dir(tmp_path, split=17), None, "yices", workdir=tmp_path / "w",
                              progress=lambda s: None)
    assert frun.all_passed(res), frun.format_table(res)
    assert any("my_requant" in r.name for r in res)
    assert any(r.name.startswith("lemma_split_product") for r in res)


def test_prove_rtl_dir_failure_reports_trace(tmp_path, capsys):
    res = frun.prove_contract(_rtl_dir(tmp_path, requant_bug="round_minus_one"), None, "yices",
                              workdir=tmp_path / "w", progress=lambda s: None)
    assert not frun.all_passed(res)
    bad = [r for r in res if not r.passed]
    assert [r.name for r in bad] == ["requant_my_requant_acc32_m31_s62_o8"]
    table = frun.format_table(res)
    assert "FAIL" in table and "counterexample trace:" in table and "E2 y_equal" in table
    assert bad[0].trace.exists()


def test_prove_rtl_dir_missing_module(tmp_path):
    with pytest.raises(ValueError, match="qbert_mac_pe"):
        frun.prove_contract(_rtl_dir(tmp_path, with_mac=False), None, "yices", workdir=tmp_path / "w")


def test_prove_errors(tmp_path):
    with pytest.raises(ValueError, match="no proofs for unit"):
        frun.prove("nosuchunit")
    with pytest.raises(ValueError, match="beyond what the proof unrolls"):
        frun.prove("encoder")      # the default Config is far too big to unroll
    with pytest.raises(FileNotFoundError):
        frun.prove_contract(tmp_path / "nope")
    with pytest.raises(ValueError, match="does not exist"):
        frun.prove("matmul", None, tmp_path / "nope")
    with pytest.raises(ValueError, match="solver"):
        frun.prove("matmul", None, None, "cvc9")


def test_main_exit_status(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("QBERT_FORMAL_DIR", str(tmp_path / "w"))
    rc = frun.main(["--contract", str(_rtl_dir(tmp_path, requant_bug="sat_off_by_one"))])
    assert rc == 1
    out = capsys.readouterr().out
    assert "counterexample trace:" in out
    assert frun.main(["encoder"]) == 2


def test_prove_matmul_generated_rtl(tmp_path):
    from rtl_gen.matmul import MatmulConfig, generate
    cfg = MatmulConfig(rows=1, cols=2, k_max=16, weight_bits=4)
    rtl = generate(cfg, tmp_path / "rtl")
    res = frun.prove("matmul", None, rtl, "yices", workdir=tmp_path / "w", progress=lambda s: None)
    assert frun.all_passed(res), frun.format_table(res)
    assert [r.name for r in res[:2]] == ["matmul_r1c2_k16_w4_b28_col0", "matmul_r1c2_k16_w4_b28_col1"]
    assert res[0].mode == "prove"
    assert any(r.mode == "cover" for r in res)
    assert any(r.name == "lemma_mac_bound_a8w4b28_k16_acc29" for r in res)
    assert any(r.name == "matmul_r1c2_k16_w4_b28_lat" and r.mode == "prove" for r in res)
    with pytest.raises(ValueError, match="generated for"):
        frun.prove("matmul", MatmulConfig(rows=2, cols=2, k_max=16), rtl, "yices")


def test_prove_matmul_mutated_rtl_on_disk_fails(tmp_path):
    from rtl_gen.matmul import MatmulConfig, generate
    rtl = generate(MatmulConfig(rows=1, cols=1, k_max=8), tmp_path / "rtl")
    v = rtl / "qbert_matmul.v"
    text = v.read_text()
    assert "assign rnd_c0 = (64'd1 << s2_shift_c0_q) >> 64'd1;" in text
    v.write_text(text.replace("(64'd1 << s2_shift_c0_q) >> 64'd1;", "(64'd1 << s2_shift_c0_q) >> 64'd2;"))
    res = frun.prove("matmul", None, rtl, "yices", workdir=tmp_path / "w", progress=lambda s: None)
    assert not frun.all_passed(res)
    assert not res[0].passed and res[0].status in ("FAIL", "UNKNOWN"), frun.format_table(res)
