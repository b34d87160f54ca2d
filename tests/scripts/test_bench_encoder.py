"""scripts.bench_encoder: the BERT-base floor for DSP multipliers that
docs/encoder.md quotes, from the cycle model's own MAC count."""

from rtl_gen.encoder import EncoderConfig
from scripts.bench_encoder import FQBERT_CYCLES, FQBERT_DSP, MACS_PER_DSP, dsp_floor


def test_dsp_floor_is_the_fewest_cycles_for_the_macs():
    fl = dsp_floor()
    per_cycle = FQBERT_DSP * MACS_PER_DSP
    assert fl["macs"] == 12 * EncoderConfig.preset("bert-base").macs(128)
    # the fewest whole cycles that hold every MAC at every DSP's two a cycle
    assert (fl["floor_cycles"] - 1) * per_cycle < fl["macs"] <= fl["floor_cycles"] * per_cycle
    assert fl["goal_cycles"] == FQBERT_CYCLES / 3


def test_dsp_floor_is_above_the_goal():
    """The issue's goal (a third of FQ-BERT's cycles) is out of reach of DSP
    multipliers alone within FQ-BERT's budget; half the layers would fit it."""
    assert dsp_floor()["floor_cycles"] > dsp_floor()["goal_cycles"]
    assert dsp_floor(layers=6)["floor_cycles"] < dsp_floor()["goal_cycles"]
