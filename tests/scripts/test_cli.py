"""The qbert command line: exit codes, messages, and no half-written outputs."""
import re
import subprocess
import sys

import numpy as np
import pytest

from golden_model.embed import cosine, float_sentence_embedding
from scripts.cli import main
from scripts.units import PENDING


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_embed_writes_one_row_per_sentence(tmp_path, capsys):
    out = tmp_path / "emb.npy"
    code, stdout, _ = run(capsys, "model", "minilm-embed", "A man is eating food.", "Hello.", "-o", str(out))
    assert code == 0 and "2 x 384" in stdout
    emb = np.load(out)
    assert emb.shape == (2, 384) and emb.dtype == np.float32
    assert cosine(emb[0], float_sentence_embedding("A man is eating food.")) > 0.98
    assert [p.name for p in tmp_path.iterdir()] == ["emb.npy"]


def test_embed_says_when_a_sentence_is_cut(tmp_path, capsys):
    """Over 256 tokens the model reads the first 256 (sentence-transformers does the
    same): the embedding is written, and stderr says which sentence was cut."""
    long = " ".join(["word"] * 300) + "."
    code, _, err = run(capsys, "model", "minilm-embed", "Hello.", long, "-o", str(tmp_path / "e.npy"))
    assert code == 0
    assert "note: sentence 2 has 303 tokens; all-MiniLM-L6-v2 reads its first 256" in err
    assert "sentence 1 has" not in err


def test_embed_reads_a_sentence_file(tmp_path, capsys):
    src = tmp_path / "s.txt"
    src.write_text("First sentence.\n\n# comment\nSecond one.\n")
    code, _, _ = run(capsys, "model", "minilm-embed", "--input", str(src), "-o", str(tmp_path / "e.npy"),
                     "--weight-bits", "4")
    assert code == 0 and np.load(tmp_path / "e.npy").shape == (2, 384)


@pytest.mark.parametrize("argv, message", [
    (["--input", "{tmp}/missing.txt"], "missing.txt does not exist"),
    (["--input", "{tmp}/empty.txt"], "empty.txt holds no sentences"),
    ([], "no sentences"),
    (["", "x"], "empty"),
])
def test_embed_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, argv, message):
    (tmp_path / "empty.txt").write_text("\n")
    out = tmp_path / "out.npy"
    argv = [a.format(tmp=tmp_path) for a in argv]
    code, _, err = run(capsys, "model", "minilm-embed", *argv, "-o", str(out))
    assert code == 2 and message in err
    assert not out.exists()


def test_embed_output_folder_must_exist(tmp_path, capsys):
    code, _, err = run(capsys, "model", "minilm-embed", "Hi.", "-o", str(tmp_path / "no" / "e.npy"))
    assert code == 2 and "does not exist" in err


@pytest.mark.parametrize("cmd", ("gen", "sim", "prove", "lint", "bench"))
def test_units_not_built_yet_exit_2(capsys, monkeypatch, cmd):
    """Every unit is built now; the mechanism stays for the next one (a unit
    marked pending here)."""
    monkeypatch.setitem(PENDING, "encoder", 7)
    code, _, err = run(capsys, cmd, "encoder", *(["-o", "x"] if cmd == "gen" else []))
    assert code == 2 and "not built yet" in err and "issue #7" in err


@pytest.mark.parametrize("argv", [["gen", "conv", "-o", "x"], ["bench", "nope"],
                                  ["model", "minilm-embed", "x", "-o", "y.npy", "--weight-bits", "2"],
                                  ["gen", "matmul", "-P", "rows", "-o", "x"]])
def test_unknown_names_and_malformed_options_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2


@pytest.mark.parametrize("value", ["0", "-5", "soon", "inf", "nan"])
def test_prove_timeout_must_be_positive_seconds(capsys, value):
    from formal.run import main as formal_main
    for entry, argv in ((main, ["prove", "gelu"]), (formal_main, ["gelu"])):
        with pytest.raises(SystemExit) as e:
            entry([*argv, "--timeout", value])
        assert e.value.code == 2
        assert "--timeout" in capsys.readouterr().err


def test_prove_encoder_refuses_a_large_config_before_generating(capsys, monkeypatch):
    import scripts.flows as flows
    monkeypatch.setattr(flows, "_rtl_config", lambda *a: pytest.fail("RTL generated before the refusal"))
    code, _, err = run(capsys, "prove", "encoder")
    assert code == 2 and "done_bound" in err and "-P array=2" in err


def test_console_script_is_installed_and_reports_usage_errors():
    r = subprocess.run([sys.executable, "-m", "scripts.cli", "gen", "conv", "-o", "x"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "invalid choice: 'conv'" in r.stderr


# ---- bad paths and config files: exit 2, one line naming the path, nothing written ----

def _toml(tmp_path, text):
    p = tmp_path / "c.toml"
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("text, message", [
    (None, r"c\.toml is a folder, not a TOML file"),
    ("rows = 2\n[matmul]\ncols = 2\n", r"top-level key\(s\) rows beside the \[matmul\] table"),
    ("matmul = 3\n", r"'matmul' must be a table \[matmul\]"),
    ("[[matmul]]\nrows = 2\n", r"'matmul' must be a table \[matmul\]"),
    ("[softmax]\nlanes = 2\n", r"has table\(s\) softmax but no \[matmul\]"),
])
def test_bad_config_files_name_the_file_and_the_fix(tmp_path, capsys, text, message):
    if text is None:
        (tmp_path / "c.toml").mkdir()
        path = str(tmp_path / "c.toml")
    else:
        path = _toml(tmp_path, text)
    code, _, err = run(capsys, "gen", "matmul", "--config", path, "-o", str(tmp_path / "out"))
    assert code == 2 and "Traceback" not in err
    assert re.search(message, err), err
    assert not (tmp_path / "out").exists()


def test_a_unit_table_among_others_is_taken(tmp_path, capsys):
    path = _toml(tmp_path, "[export]\nname = 'x'\n[matmul]\nrows = 2\ncols = 2\n")
    code, out, _ = run(capsys, "gen", "matmul", "--config", path, "-o", str(tmp_path / "out"))
    assert code == 0 and "rows=2, cols=2" in out


def test_leading_zero_decimal_params_are_decimal(tmp_path, capsys):
    code, out, _ = run(capsys, "gen", "matmul", "-P", "rows=08", "-P", "cols=0x2",
                       "-o", str(tmp_path / "out"))
    assert code == 0 and "rows=8, cols=2" in out


def test_single_file_output_onto_a_folder_exits_2(tmp_path, capsys):
    (tmp_path / "e.npy").mkdir()
    code, _, err = run(capsys, "model", "minilm-embed", "Hello.", "-o", str(tmp_path / "e.npy"))
    assert code == 2 and "e.npy is a folder: give a file path" in err
    code, _, err = run(capsys, "model", "weights", "--layer", "0", "-o", str(tmp_path / "e.npy"))
    assert code == 2 and "e.npy is a folder: give a file path" in err
    assert [p.name for p in tmp_path.iterdir()] == ["e.npy"] and not any((tmp_path / "e.npy").iterdir())


def test_unreadable_paths_exit_2_naming_the_path(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    code, _, err = run(capsys, "lint", "matmul", "--rtl", str(tmp_path / "afile"))
    assert code == 2 and "afile is a file, not a folder" in err
    code, _, err = run(capsys, "model", "minilm-embed", "--input", str(tmp_path), "-o",
                       str(tmp_path / "e.npy"))
    assert code == 2 and "is not a file" in err


def test_weights_refuse_a_config_whose_weight_bits_differ(tmp_path, capsys):
    path = _toml(tmp_path, "weight_bits = 4\n")
    code, _, err = run(capsys, "model", "weights", "--layer", "0", "--config", path,
                       "-o", str(tmp_path / "w.bin"))
    assert code == 2 and "has weight_bits=4 but --weight-bits is 8: pass --weight-bits 4" in err
    assert not (tmp_path / "w.bin").exists()


@pytest.mark.parametrize("params, message", [
    (["weight_bits=4", "array=3", "hidden=12", "heads=2", "ffn=12", "max_seq=3"],
     "array=3 must be even with weight_bits=4"),
    (["bias_bits=32"], "bias_bits=32 must be <= 31"),
])
def test_encoder_errors_name_encoder_parameters(tmp_path, capsys, params, message):
    argv = [a for p in params for a in ("-P", p)]
    code, _, err = run(capsys, "gen", "encoder", *argv, "-o", str(tmp_path / "out"))
    assert code == 2 and message in err


def test_sim_minilm_refuses_a_text_the_tokenizer_would_cut(capsys):
    code, _, err = run(capsys, "sim", "encoder", "--model", "minilm", "--layer", "0",
                       "-P", "max_seq=512", "--text", "word " * 300)
    assert code == 2 and "--text has 302 tokens; all-MiniLM-L6-v2 takes at most 256" in err
    code, _, err = run(capsys, "sim", "encoder", "--model", "minilm", "--layer", "0",
                       "--text", "word " * 200)
    assert code == 2 and "sequence length 202" in err
    code, _, err = run(capsys, "sim", "encoder", "--model", "minilm", "--layer", "0",
                       "--text", "hello", "--examples", "3")
    assert code == 2 and "--examples does not apply to --model minilm" in err


def test_generated_rtl_is_replaced_only_when_it_differs(tmp_path, monkeypatch):
    """`qbert sim/lint/bench UNIT -P ..` regenerate into one folder per Config; a
    second process simulating the same Config must not see it vanish mid-run."""
    import argparse
    import verif.runner
    from scripts import flows
    monkeypatch.setattr(verif.runner, "SIM_BUILD", tmp_path)
    args = argparse.Namespace(rtl=None, params=[("lanes", "1")], config=None)
    _, rtl, generated = flows._rtl_config(flows.FLOWS["gelu"], args)
    inode = rtl.stat().st_ino
    assert generated and flows._rtl_config(flows.FLOWS["gelu"], args)[1] == rtl
    assert rtl.stat().st_ino == inode                        # identical: left in place
    v = next(rtl.glob("*.v"))
    good = v.read_text()
    v.write_text(good + "// stale\n")
    flows._rtl_config(flows.FLOWS["gelu"], args)
    assert rtl.stat().st_ino != inode and v.read_text() == good   # differs: replaced
    assert sorted(p.name for p in rtl.parent.iterdir()) == [f".{rtl.name}.lock", rtl.name]  # no temp left
