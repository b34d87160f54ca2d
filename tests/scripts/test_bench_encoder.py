"""scripts.bench_encoder: the BERT-base floor for DSP multipliers that
docs/encoder.md quotes, from the cycle model's own MAC count."""

from fractions import Fraction

import pytest

from rtl_gen.encoder import EncoderConfig
from scripts.bench_encoder import FQBERT_CYCLES, FQBERT_DSP, dsp_floor


@pytest.mark.parametrize("wb, per_dsp", [(4, 3), (8, 2)])
def test_dsp_floor_is_the_fewest_cycles_for_the_macs(wb, per_dsp):
    fl = dsp_floor(weight_bits=wb)
    bert = EncoderConfig.preset("bert-base")
    assert fl["macs"] == 12 * bert.macs(128)
    assert fl["attention_macs"] == 12 * 2 * 12 * 128 * 128 * 64     # Q K^T and P V of 12 heads
    # every DSP-cycle does per_dsp weight MACs or two int8 x int8 attention MACs
    dsp_cycles = Fraction(fl["linear_macs"], per_dsp) + Fraction(fl["attention_macs"], 2)
    assert fl["floor_cycles"] - 1 < dsp_cycles / FQBERT_DSP <= fl["floor_cycles"]
    assert fl["goal_cycles"] == FQBERT_CYCLES / 3


def test_dsp_floor_against_the_goal():
    """With FQ-BERT's int4 weights three to a DSP, the issue's goal (a third of
    FQ-BERT's cycles) is within reach of DSP multipliers; with int8 weights (two
    to a DSP) it is not."""
    assert dsp_floor(weight_bits=4)["floor_cycles"] < dsp_floor()["goal_cycles"]
    assert dsp_floor(weight_bits=8)["floor_cycles"] > dsp_floor()["goal_cycles"]


def test_dsp_floor_refuses_other_weight_widths():
    with pytest.raises(ValueError, match="weight_bits"):
        dsp_floor(weight_bits=6)


def test_model_table_has_the_mixed_array():
    """BERT-base on the mixed W4 array: the attention's beats take two cycles,
    so each layer costs more than on the dsp_pack 2 array, by less than the
    attention's share would double it."""
    from scripts.bench_encoder import model_table
    rows = {(r["model"], r["variant"], r["array"]): r for r in model_table()}
    for a in (8, 16, 32):
        plain, mixed = rows["bert-base", "pack2", a], rows["bert-base", "w4 mixed", a]
        assert plain["layer_cycles"] < mixed["layer_cycles"] < 1.05 * plain["layer_cycles"]
    assert not any(v == "w4 mixed" for m, v, _ in rows if m == "minilm")
    # 8 shared requantizers: the same at array 8, slower by the longer drain beyond
    shared = {a: rows["bert-base", "mixed rq8", a]["layer_cycles"] for a in (8, 16, 32)}
    assert shared[8] == rows["bert-base", "w4 mixed", 8]["layer_cycles"]
    for a in (16, 32):
        assert rows["bert-base", "w4 mixed", a]["layer_cycles"] < shared[a]
    # and the residual, GELU and requant at 8 lanes: the same at array 8, a row's
    # 4 beats behind a drain of 4 cycles a row at 32: within 0.1 %
    post = {a: rows["bert-base", "mixed rq8 post8", a]["layer_cycles"] for a in (8, 16, 32)}
    assert post[8] == shared[8]
    for a in (16, 32):
        assert shared[a] < post[a] < 1.001 * shared[a]
    # and the softmax at 8 lanes, the LayerNorm at 16: within 0.5 % at 32
    narrow = rows["bert-base", "mixed narrow", 32]["layer_cycles"]
    assert post[32] < narrow < 1.005 * post[32]


def test_phase_shares_group_every_cycle_of_the_layer():
    """The bench's breakdown of a BERT-base layer adds up to the cycle model's
    total; the mixed array changes the attention's matmuls (two cycles a beat),
    behind which the softmax then hides more."""
    from rtl_gen.encoder_cycles import layer_cycles
    from scripts.bench_encoder import phase_shares
    plain_cfg = EncoderConfig.preset("bert-base", array=32)
    mixed_cfg = EncoderConfig.preset("bert-base", array=32, weight_bits=4, dsp_pack=3)
    plain, mixed = phase_shares(plain_cfg), phase_shares(mixed_cfg)
    assert sum(plain.values()) == layer_cycles(plain_cfg, 128).total == 930_741
    assert sum(mixed.values()) == layer_cycles(mixed_cfg, 128).total == 950_139
    busy, idle = "Q K^T and P V (array busy)", "attention, array idle (drains, softmax)"
    # 12 heads x 4 row groups: Q K^T 4 tiles of K 64, P V 2 tiles of K 128; 2 cycles a beat mixed
    assert mixed[busy] == 2 * plain[busy] == 2 * 12 * 4 * (4 * 64 + 2 * 128)
    assert mixed[idle] < plain[idle]
    assert plain["FFN up/down"] > 0.6 * sum(plain.values())


def test_goal_config_meets_the_goal_in_the_model():
    """The Config docs/encoder.md reports the goal at: 12 layers at 128 tokens
    within a third of FQ-BERT's cycles (cycle model, validated against Verilator)."""
    from rtl_gen.encoder_cycles import layer_cycles
    from scripts.bench_encoder import GOAL_CONFIG, GOAL_CYCLES
    cfg = EncoderConfig.preset("bert-base", max_seq=128, **GOAL_CONFIG)
    assert 12 * layer_cycles(cfg, 128).total <= GOAL_CYCLES
