"""The qbert command line: exit codes, messages, and no half-written outputs."""
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
