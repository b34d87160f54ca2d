"""formal.lemmas: each z3 lemma is proven, and a wrong variant of it is refuted."""
import pytest

from formal import lemmas


def test_split_product():
    assert lemmas.split_product(32, 31, 17).status == "PASS"


def test_split_product_wrong_offset_refuted():
    r = lemmas.split_product(32, 31, 17, offset=16)
    assert r.status == "FAIL" and r.properties == ["split identity"], r.summary()


def test_requant_width():
    assert lemmas.requant_width(32, 31, 62).status == "PASS"


def test_requant_width_narrow_product_refuted():
    # a 31-bit M with a 33-bit accumulator would not fit the 64-bit sum: the
    # lemma's claim depends on the widths
    r = lemmas.requant_width(33, 31, 62)
    assert r.status == "FAIL", r.summary()


def test_round_half_up():
    assert lemmas.round_half_up(62).status == "PASS"


@pytest.mark.parametrize("const", [lambda s: 2 ** (s - 1) - 1, lambda s: 2 ** (s - 1) + 1, lambda s: 0])
def test_wrong_rounding_constant_refuted(const):
    r = lemmas.round_half_up(62, constant=const)
    assert r.status == "FAIL", r.summary()


@pytest.mark.parametrize("k_max, wb, bb", [(384, 8, 32), (1536, 8, 32), (1536, 4, 32), (384, 8, 16), (4096, 4, 16)])
def test_mac_bound(k_max, wb, bb):
    r = lemmas.mac_bound(k_max, 8, wb, bb)
    assert r.status == "PASS", r.summary()


def test_mac_bound_narrower_width_refuted():
    from golden_model.matmul import acc_bits_for
    bits = acc_bits_for(384, 8, 8, 16)
    r = lemmas.mac_bound(384, 8, 8, 16, acc_bits=bits - 1)
    assert r.status == "FAIL" and r.properties == ["K <= 384 terms + bias fit 23 bits"], r.summary()


def test_mac_bound_wider_width_is_not_tight():
    from golden_model.matmul import acc_bits_for
    bits = acc_bits_for(384, 8, 8, 16)
    r = lemmas.mac_bound(384, 8, 8, 16, acc_bits=bits + 1)
    assert r.status == "FAIL" and "not enough" in r.properties[0], r.summary()


def test_requant_width_sum_register_too_narrow_refuted():
    # acc 29 x M 31 is 60 bits, but 2^61 (s = 62) needs 63: a 61-bit sum register wraps
    assert lemmas.requant_width(29, 31, 62, sum_bits=61).status == "FAIL"
    assert lemmas.requant_width(29, 31, 62).status == "PASS"      # max(60, 62) + 1
    assert lemmas.requant_width(29, 31, 62, sum_bits=64).status == "PASS"
