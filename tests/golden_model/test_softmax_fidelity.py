"""golden_model.fidelity's softmax table: the statistics are right on rows with
known answers, and the table on the real model is produced (slow)."""
import numpy as np
import pytest

from golden_model.fidelity import SOFTMAX_STATS, format_softmax_table, softmax_row_stats, softmax_fidelity
from golden_model.softmax import int_softmax, softmax_spec


def _float_probs(x, fb):
    e = np.exp(x * 2.0 ** -fb - (x * 2.0 ** -fb).max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_exact_probabilities_have_zero_error():
    # scores whose float softmax is exactly representable: two equal scores, the rest far below
    fb, ob = 8, 7
    x = np.array([[0, 0, -30000, -30000]])
    p = np.array([[64, 64, 0, 0]])
    s = softmax_row_stats(x, p, fb, ob)
    assert s["max_abs"][0] < 1e-20 and s["tv"][0] < 1e-20 and s["top1"][0] and abs(s["mass_err"][0]) < 1e-12
    # the two zeros raised to half an LSB cost log(1 + 2^-7) of KL
    assert s["kl"][0] == pytest.approx(np.log(1 + 2.0 ** -7), rel=1e-6)


def test_errors_are_measured():
    fb, ob = 8, 7
    x = np.array([[0, -100, -200, -400]])
    pf = _float_probs(x, fb)[0]
    wrong = np.array([[0, 0, 0, 128]])          # all mass on the smallest score
    s = softmax_row_stats(x, wrong, fb, ob)
    assert s["max_abs"][0] == pytest.approx(max(abs(pf[0]), abs(1 - pf[3])))
    assert s["tv"][0] == pytest.approx(0.5 * (pf[0] + pf[1] + pf[2] + 1 - pf[3]))
    assert not s["top1"][0] and s["kl"][0] > 1


def test_integer_softmax_is_close_on_random_rows():
    spec = softmax_spec()
    rng = np.random.default_rng(1)
    x = rng.integers(-3000, 3000, size=(64, 128))
    s = softmax_row_stats(x, int_softmax(x, spec), spec.frac_bits, spec.out_bits)
    assert s["max_abs"].max() < 2 ** -spec.out_bits       # within one output LSB
    assert s["top1"].mean() > 0.95


@pytest.mark.slow
def test_table_on_minilm():
    from golden_model.calibrate import EVALUATION_FILE, default_model, read_sentences
    model = default_model(8)
    t = softmax_fidelity(model, read_sentences(name=EVALUATION_FILE)[:2])
    assert t.shape == (len(model.layers), len(SOFTMAX_STATS))
    assert (t[:, 6] > 0.9).all() and (t[:, 1] < 2 ** -model.numerics.softmax.out_bits).all()
    assert "| 0 |" in format_softmax_table(t)
