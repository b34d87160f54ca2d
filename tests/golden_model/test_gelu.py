"""Integer GELU: every input of the default width against float GELU."""
import math

import numpy as np
import pytest
from scipy.special import erf

from golden_model.gelu import gelu_spec, int_gelu
from golden_model.widths import WidthError


@pytest.mark.parametrize("frac_bits", [8, 10, 12])
def test_gelu_exhaustive_within_stated_error(frac_bits):
    spec = gelu_spec(16, frac_bits)
    x = np.arange(-2 ** 15, 2 ** 15)
    got = int_gelu(x, spec) * spec.out_scale
    xf = x * 2.0 ** -frac_bits
    ref = xf / 2 * (1 + erf(xf / math.sqrt(2)))
    # I-BERT's erf polynomial is within ~0.018 of GELU; quantization adds < 1e-3
    assert np.abs(got - ref).max() <= 0.02
    assert got[x == 0] == 0


def test_gelu_is_identity_and_zero_at_the_ends():
    spec = gelu_spec()
    big = np.array([2 ** 15 - 1, -2 ** 15])
    got = int_gelu(big, spec) * spec.out_scale
    xf = big * 2.0 ** -spec.frac_bits
    assert abs(got[0] - xf[0]) <= 0.02 * abs(xf[0]) and abs(got[1]) <= 0.02


def test_gelu_checks_input_and_config():
    with pytest.raises(WidthError, match="gelu: x = 32768"):
        int_gelu(np.array([32768]))
    with pytest.raises(ValueError, match="gelu in_bits"):
        gelu_spec(in_bits=0)
