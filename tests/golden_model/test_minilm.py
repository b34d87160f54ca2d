"""The real all-MiniLM-L6-v2: float reference, calibration, integer encoder."""
import numpy as np
import pytest

from golden_model import minilm
from golden_model.calibrate import (CALIBRATION_FILE, EVALUATION_FILE, calibrate, default_model,
                                    read_sentences)
from golden_model.embed import cosine, float_sentence_embedding, int_sentence_embedding
from golden_model.encoder import encode
from golden_model.embed import quantize_input
from golden_model.numerics import Numerics
from golden_model.widths import int_range

PAIR = ("A man is eating food.", "A man is eating a piece of bread.")


def test_float_reference_matches_the_published_similarity():
    a, b = (float_sentence_embedding(s) for s in PAIR)
    assert cosine(a, b) == pytest.approx(0.7553, abs=5e-4)


def test_tokenizer_does_not_pad():
    assert minilm.token_ids("Hello.").tolist() == [101, 7592, 1012, 102]


def test_int_model_is_faithful_on_held_out_sentences():
    model = default_model(8)
    sentences = read_sentences(name=EVALUATION_FILE)[:12]
    cos = [cosine(int_sentence_embedding(model, s), float_sentence_embedding(s)) for s in sentences]
    assert np.mean(cos) >= 0.99 and min(cos) >= 0.96, cos


def test_int_pair_similarity_tracks_float():
    model = default_model(8)
    a, b = (int_sentence_embedding(model, s) for s in PAIR)
    assert cosine(a, b) == pytest.approx(0.7553, abs=0.02)


def test_int_model_is_deterministic_and_stays_in_declared_widths():
    model = default_model(8)
    x = quantize_input(model, PAIR[1])
    traces: list = []
    out1 = encode(model, x, traces)
    out2 = encode(model, x.copy())
    assert (out1 == out2).all()
    lo, hi = int_range(model.numerics.act_bits)
    assert out1.min() >= lo and out1.max() <= hi
    assert len(traces) == 6 and traces[0]["probs"].max() <= 2 ** model.numerics.softmax_out_bits - 1


def test_int_params_are_integers_of_their_widths():
    model = default_model(4)
    for layer in model.layers:
        for lin in (layer.attn.q, layer.up, layer.down):
            assert lin.w.dtype == np.int64 and np.abs(lin.w).max() <= 7
            assert (lin.rq.mult < 2 ** 31).all() and (lin.rq.shift <= 62).all()


def test_committed_sentence_files_are_disjoint():
    assert not set(read_sentences(name=CALIBRATION_FILE)) & set(read_sentences(name=EVALUATION_FILE))


def test_calibrate_rejects_bad_arguments():
    with pytest.raises(ValueError, match="percentile"):
        calibrate(Numerics(), ["x"], percentile=0)
    with pytest.raises(ValueError, match="smooth_alpha"):
        calibrate(Numerics(), ["x"], smooth_alpha=2)
    with pytest.raises(ValueError, match="weight_bits must be 4 or 8"):
        Numerics(weight_bits=2)


def test_sentence_file_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_sentences(tmp_path / "nope.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n# only a comment\n")
    with pytest.raises(ValueError, match="empty.txt holds no sentences"):
        read_sentences(empty)
