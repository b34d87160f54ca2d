"""Cycle model of the encoder-layer engine (rtl_gen/encoder_engine.py).

``layer_cycles(cfg, s)`` predicts the cycles from ``start_i`` to ``done_o`` for
one layer of ``s`` tokens when every stream is ready every cycle, phase by
phase, from the same schedule the sequencer runs (docs/encoder.md, "Cycle
model"). It is validated against Verilator by tests/verif/test_encoder.py and
``qbert bench encoder`` (within 5%); it extrapolates to Configs too large to
simulate (BERT-base on a ZCU102-sized array).

Each term names the RTL behaviour it counts; the unit latencies come from the
units' own Configs (the numbers their proofs and benches use).
"""
from __future__ import annotations

from dataclasses import dataclass

from . import gelu, requant, residual
from .encoder import EncoderConfig


#: cycles between a bank's last weight beat and the array seeing it full, between a
#: drained block and its bank taking the next block's first beat, the WAIT step of
#: every block, and the entry cycle of a linear pass that the first load overlaps
#: (read off the RTL's registers; checked against Verilator, docs/encoder.md)
LOADED_SEEN, BANK_FREE, LIN_STEP, LIN_ENTRY = 1, 1, 1, 1


@dataclass(frozen=True)
class LayerCycles:
    phases: dict          # phase -> cycles (the sequencer's phases; LIN split per layer)
    macs: int
    array: int

    @property
    def total(self) -> int:
        return sum(self.phases.values())

    @property
    def utilization(self) -> float:
        """MACs over the array's peak (array^2 MACs a cycle) for the whole layer."""
        return self.macs / (self.total * self.array ** 2)


def _tiles(cfg: EncoderConfig, tiles: int, k: int) -> int:
    """Cycles to issue ``tiles`` tiles of a K-run of k: one beat a cycle, but a tile
    cannot end before the previous one has moved out of the accumulators, which
    takes the shadow bank's drain (array rows + 1)."""
    return k + (tiles - 1) * max(k, cfg.array + 1)


def _segment(cfg: EncoderConfig, tiles: int, k: int, post: int) -> int:
    """A pass segment: its start pulse and feed register (2), the tiles, the last
    tile through the matmul drain, the post-op's pipeline (``post``), and the
    cycle the sequencer sees the last row written."""
    return 2 + _tiles(cfg, tiles, k) + cfg.matmul.drain_cycles + post + 1


def layer_cycles(cfg: EncoderConfig, s: int) -> LayerCycles:
    cfg.check_seq(s)
    a = cfg.array
    g = -(-s // a)
    d, f, dh = cfg.hidden, cfg.ffn, cfg.head_dim
    dw, fw, dhw = d // a, f // a, dh // a
    rb = cfg.stream_shape.record_beats
    prm, ln_rec = rb(20 * a), rb(8 * a)
    ph = {"START": 1, "HDR": rb(22), "SCAL": rb(32), "LOADX": s * dw}

    def linear(name: str, k: int, blocks: int, post: int) -> None:
        """Two weight banks: block n loads (its PRM record and K rows, one beat a
        cycle) once block n-2 has drained; it computes once loaded and block n-1
        has drained."""
        load, seg = prm + k, _segment(cfg, g, k, post) + LIN_STEP
        load_end, comp_end = [], []
        for n in range(blocks):
            free = comp_end[n - 2] + BANK_FREE if n >= 2 else 0
            load_end.append(max(load_end[-1] if load_end else 0, free) + load)
            start = max(load_end[-1] + LOADED_SEEN, comp_end[-1] if comp_end else 0)
            comp_end.append(start + seg)
        ph[f"LIN_{name}"] = comp_end[-1] - LIN_ENTRY

    for name in ("q", "k", "v"):
        linear(name, d, dw, 0)
    sm = cfg.softmax
    beats = sm.beats(s)
    # softmax of the group's rows: the first row's latency, then one row a row_period,
    # then the last row's beats out; + the start pulse, the feed register and the
    # sequencer's check
    sm_rows = 2 + sm.latency(s) + (a - 1) * sm.row_period(s) + beats + 1
    heads_groups = cfg.heads * g
    ph["QK"] = heads_groups * _segment(cfg, g, dh, 0)
    ph["SM"] = heads_groups * sm_rows
    ph["PV"] = heads_groups * _segment(cfg, dhw, s, 0)
    res_post = residual.LATENCY
    linear("out", d, dw, res_post)
    ln = cfg.layernorm
    lnp = dw * (ln_rec + 1)
    # start pulse, feed register, the first vector's latency, one vector a period,
    # the last vector's beats out, the sequencer's check
    lnv = 2 + ln.latency() + (s - 1) * ln.vector_period() + ln.beats + 1
    ph["LNP1"], ph["LNV1"] = lnp, lnv
    linear("up", d, fw, gelu.LATENCY + requant.LATENCY)
    linear("down", f, dw, res_post)
    ph["LNP2"], ph["LNV2"] = lnp, lnv
    ph["DONE"] = 1        # done_o is registered: high the cycle after the last output
    return LayerCycles(ph, cfg.macs(s), a)
