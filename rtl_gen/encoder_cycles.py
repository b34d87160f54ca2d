"""Cycle model of the encoder-layer engine (rtl_gen/encoder_engine.py).

``layer_cycles(cfg, s)`` predicts the cycles from ``start_i`` to ``done_o`` for
one layer of ``s`` tokens when every stream is ready every cycle, phase by
phase, from the same schedule the sequencer runs (docs/encoder.md, "Cycle
model").  ``layer_bound(cfg, s)`` is the same schedule with every unit at its
proven worst case (:func:`unit_bounds`): the bound of the engine's liveness
proof L1 (formal/encoder.py) and of the testbench's measured cycles.
``layer_cycles`` is validated against Verilator by tests/verif/test_encoder.py
and ``qbert bench encoder`` (within 5%); it extrapolates to Configs too large
to simulate (BERT-base on a ZCU102-sized array).

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
#: cycles from a block's last beat to the next block's WAIT step seeing it may go
#: on (the feed register empties, the sequencer steps TILES -> WAIT); the cycles of
#: drain the matmul's pipeline does while its output waits for the block before to
#: be written (fitted: exact on 8 Configs with post-op units, 1 cycle a pass off on 2)
BLOCK_GAP, POST_HOLD = 2, 8
#: the attention's segments (:func:`_attention`): the first one's start, the cycles
#: from a segment's last write to the one two after it going on, to its item's
#: softmax seeing the scores, from the softmax's end to P V's feed, from the last
#: write to the attention's end (read off the RTL; checked against Verilator)
ATT_START, ATT_GAP, ATT_ROOM, ATT_SM_SEEN, ATT_PV_READY, ATT_END = -1, 1, 0, 0, -1, 1


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


def _tiles(cfg: EncoderConfig, tiles: int, k: int, post: bool = False) -> int:
    """Cycles to issue ``tiles`` tiles of a K-run of k: one beat a cycle, but a tile
    cannot end before the previous one has moved out of the accumulators, which
    waits for the shadow bank's drain (MatmulConfig.shadow_cycles: array rows,
    each in row_cycles chunks of the shared requantizers; with a post-op, each
    :func:`_row_gap`) + 1."""
    shadow = cfg.array * _row_gap(cfg, post)
    return k + (tiles - 1) * max(k, shadow + 1)


def _row_gap(cfg: EncoderConfig, post: bool) -> int:
    """Cycles between the array's output rows: its drain's row_cycles, or, into
    post-op units of post_chunks beats a row (``post_lanes``), the post_chunks
    cycles the engine's row buffer takes to send a row out if that is longer
    (the drain pipeline holds while its output waits for the buffer)."""
    return max(cfg.matmul.row_cycles, cfg.post_chunks if post else 1)


def unit_bounds(cfg: EncoderConfig) -> dict[str, int]:
    """Each unit's proven latency bound (U3: while an input unit is pending, the
    next output unit completes within this many un-stalled cycles after the
    later of its input's end and the previous output's end): matmul
    ``drain_cycles + 1`` (qbert prove matmul), softmax ``latency(max_len) + 1``
    (qbert prove softmax), layernorm ``drain_cycles() + 1`` (qbert prove
    layernorm), gelu/requant/residual ``LATENCY + 1`` (their proofs)."""
    sc = cfg.softmax
    return {"matmul": cfg.matmul.drain_cycles + 1, "softmax": sc.latency(sc.max_len) + 1,
            "layernorm": cfg.layernorm.drain_cycles() + 1, "gelu": gelu.LATENCY + 1,
            "requant": requant.LATENCY + 1, "residual": residual.LATENCY + 1}


def _chain(in_ends: list[int], bound: int) -> list[int]:
    """Output-unit ends of a unit at its bound: each output unit ends ``bound``
    cycles after the later of its input's end and the previous output's end."""
    out: list[int] = []
    for e in in_ends:
        out.append(max(e, out[-1] if out else e) + bound)
    return out


def _beats(ends: list[int], beats: int) -> list[int]:
    """The beats of units ending at ``ends``, back to back up to each end."""
    return [t - beats + 1 + b for t in ends for b in range(beats)]


def _segment(cfg: EncoderConfig, tiles: int, k: int, post: tuple[str, ...],
             worst: bool = False, int8: bool = False) -> int:
    """A pass segment: its start pulse and feed register (2), the tiles, the last
    tile through the matmul drain, the post-op units (``post``, in order), and
    the cycle the sequencer sees the last row written.  ``worst``: every unit at
    its bound (the abstract units of the proof take every beat at once, so the
    tiles issue back to back, K cycles each, and a beat-wise post-op answers
    beat after beat).  ``int8``: the attention's beats on a mixed array
    (dsp_pack 3), two cycles each, as if K were twice as long."""
    if int8 and cfg.matmul.mixed:
        k *= 2
    a, n = cfg.array, cfg.post_chunks if post else 1
    if not worst:
        return 2 + _tiles(cfg, tiles, k, bool(post)) + _drain_tail(cfg, post)
    b = unit_bounds(cfg)
    tile_ends = [(t + 1) * k for t in range(tiles)]
    if n == 1:
        ends = _beats(_chain(tile_ends, b["matmul"]), a)
    else:
        # the abstract matmul's bound counts no cycle the engine stalls it: each
        # row waits at most n - 1 cycles for the row buffer, whose n beats of the
        # tile's last row go out in the n cycles after it
        ends = _beats([e + n for e in _chain(tile_ends, b["matmul"] + a * (n - 1))], a * n)
    for p in post:
        ends = _chain(ends, b[p])
    return 2 + ends[-1] + 1


def _drain_tail(cfg: EncoderConfig, post: tuple[str, ...]) -> int:
    """From a segment's last tile's drain start to the cycle the sequencer sees
    its last row written: the matmul's drain, the row buffer's held beats, the
    post-op units (``post``, in order), the write."""
    lat = {"gelu": gelu.LATENCY, "requant": requant.LATENCY, "residual": residual.LATENCY}
    a, n = cfg.array, cfg.post_chunks if post else 1
    # n > 1: the last tile's rows leave row_gap apart (not row_cycles), and the
    # last one's n beats go out of the row buffer after it
    held = 0 if n == 1 else (a - 1) * (_row_gap(cfg, True) - cfg.matmul.row_cycles) + n
    return cfg.matmul.drain_cycles + held + sum(lat[p] for p in post) + 1


def _block_tiles(cfg: EncoderConfig, tiles: int, k: int, post: bool, start: int,
                 prev: tuple[int, int] | None, release: int | None) -> tuple[int, int, int]:
    """(last K-run end, last move into the shadow bank, last drain start) of a
    block's tiles.  The block goes on at ``start`` (its start pulse and feed
    register, then K beats a tile); a tile's beats go in once the tile before
    it (``prev``: the previous block's last (move, drain start)) has moved out of
    the accumulators, which waits for the shadow bank to drain the one before
    (:func:`_tiles`).  With post-op units the engine holds the array's output
    rows of a block until the block before is written (``release``): the
    block's first tile drains from then, less what its drain pipeline does
    while held (POST_HOLD cycles)."""
    space = cfg.array * _row_gap(cfg, post) + 1
    end = start + 2
    move, drain = prev if prev is not None else (None, None)
    for t in range(tiles):
        end = max(end, move if move is not None else 0) + k
        move = max(end, drain + space if drain is not None else 0)
        drain = max(move, release - POST_HOLD) if t == 0 and release is not None else move
    return end, move, drain


def _attention_order(items: int) -> list[tuple[str, int]]:
    """The array's attention segments: Q K^T of item 0, then Q K^T of item j+1
    and P V of item j in turn, then P V of the last item."""
    return [("qk", 0)] + [op for j in range(1, items) for op in (("qk", j), ("pv", j - 1))] + [
        ("pv", items - 1)]


def _attention(cfg: EncoderConfig, items: int, seg: dict, sm: int) -> int:
    """Cycles of the attention phases, ``items`` (head, row group) items: the
    array runs Q K^T of item 0, then Q K^T of item j+1 and P V of item j in
    turn, then P V of the last item (``seg``: "qk" and "pv" (tiles, K)), each
    segment going on once the one before is fed and the one before that
    written (:func:`_block_tiles`); the softmax runs item j's rows (``sm``
    cycles) beside it, from 2 cycles after its Q K^T is written and the item
    before's softmax end (its scores flagged, then its start pulse), and item
    j's P V takes its first beat once they are done."""
    order = _attention_order(items)
    ends: list[int] = []
    last = prev = None
    sm_last, sm_end = -1, {}
    for n, (op, j) in enumerate(order):
        tiles, k = seg[op]
        start = ATT_START if n == 0 else max(last + ATT_GAP, ends[n - 2] + ATT_ROOM if n >= 2 else 0)
        if op == "pv":
            start = max(start, sm_end[j] + ATT_PV_READY)
        last, move, drain = _block_tiles(cfg, tiles, k, False, start, prev, None)
        prev = move, drain
        ends.append(drain + _drain_tail(cfg, ()) - 1)
        if op == "qk":
            sm_last = sm_end[j] = max(ends[-1] + ATT_SM_SEEN, sm_last) + 2 + sm - 1
    return ends[-1] + ATT_END


def _attention_serial(items: int, qk: int, sm: int, pv: int) -> int:
    """:func:`_attention` with each segment written before the next goes on
    (``qk``, ``pv`` cycles each, :func:`_segment`, whose last cycle is the one
    after its last write): never earlier, so :func:`layer_bound` takes it with
    the segments at their bounds (exact for one item: a Q K^T's scores are
    flagged with its last write, and the attention ends with its last)."""
    t, sm_last, sm_end = 0, -1, {}
    for op, j in _attention_order(items):
        if op == "qk":
            t += qk
            sm_last = sm_end[j] = max(t - 2, sm_last) + 2 + sm - 1
        else:
            t = max(t, sm_end[j]) + pv
    return t - 1


def _rows(n: int, beats: int, bound: int) -> int:
    """A unit at its bound on n back-to-back input units of ``beats`` beats: the
    end of its last output unit, counted from the cycle before the first beat."""
    return _chain([(r + 1) * beats for r in range(n)], bound)[-1]


def layer_cycles(cfg: EncoderConfig, s: int, worst: bool = False) -> LayerCycles:
    """Cycles of one layer of ``s`` tokens, phase by phase, all streams ready;
    ``worst``: every unit at its proven bound (:func:`layer_bound`)."""
    cfg.check_seq(s)
    a = cfg.array
    g = -(-s // a)
    d, f, dh = cfg.hidden, cfg.ffn, cfg.head_dim
    dw, fw, dhw = d // a, f // a, dh // a
    rb = cfg.stream_shape.record_beats
    prm, ln_rec = rb(20 * a), rb(8 * a)
    ph = {"START": 1, "HDR": rb(22), "SCAL": rb(32)}
    avail = {"q": sum(ph.values()) - 1}
    ph["LOADX"] = s * dw

    # the loader, across passes (cycles from start_i's): each block's last beat,
    # each block's last write + 1, and the cycle before the first a linear's
    # blocks may load in (the q projection's from the X load on, the up
    # projection's from LNV1 on: the LN1 records are before them in the stream)
    loads: list[int] = []
    drains: list[int] = []

    def linear(name: str, k: int, blocks: int, post: tuple[str, ...]) -> None:
        """Two weight banks: block n loads (its PRM record and K rows, one beat a
        cycle) once block n-2 has drained, the blocks of every pass in stream
        order (the loader runs on into the next pass's first blocks); a block
        goes on the array once loaded and block n-1's beats are in (block n-1
        drains meanwhile)."""
        load = prm + k
        if worst:
            # each pass's blocks loaded from its start, one after another, each
            # drained before the next goes on: the overlapped and prefetched
            # schedule is never later (its next block's rows only wait for the
            # block before to drain, where here its tiles do)
            seg = _segment(cfg, g, k, post, worst) + LIN_STEP
            load_end, comp_end = [], []
            for n in range(blocks):
                free = comp_end[n - 2] + BANK_FREE if n >= 2 else 0
                load_end.append(max(load_end[-1] if load_end else 0, free) + load)
                start = max(load_end[-1] + LOADED_SEEN, comp_end[-1] if comp_end else 0)
                comp_end.append(start + seg)
            ph[f"LIN_{name}"] = comp_end[-1] - LIN_ENTRY
            return
        # cycles of this pass count from the cycle before its first
        base = sum(ph.values()) - LIN_ENTRY
        drain_end, last, prev = [], None, None
        for n in range(blocks):
            i = len(drains)              # the block's index in the layer's stream
            # the bank frees with block i-2's last write, the cycle before its drain end
            free = drains[i - 2] - 1 if i >= 2 else 0
            loads.append(max(loads[-1] if loads else 0, free, avail.get(name, 0)) + load)
            start = max(loads[i] - base + LOADED_SEEN, LIN_ENTRY,
                        last + BLOCK_GAP if last is not None else 0)
            release = drain_end[-1] if post and drain_end else None
            last, move, drain = _block_tiles(cfg, g, k, bool(post), start, prev, release)
            prev = move, drain
            drain_end.append(drain + _drain_tail(cfg, post))
            drains.append(drain_end[-1] + base)
        ph[f"LIN_{name}"] = drain_end[-1] + LIN_STEP - LIN_ENTRY

    for name in ("q", "k", "v"):
        linear(name, d, dw, ())
    sm = cfg.softmax
    beats = sm.beats(s)
    # softmax of the group's rows: the first row's latency, then one row a row_period,
    # then the last row's beats out; + the start pulse, the feed register and the
    # sequencer's check
    sm_rows = 2 + (_rows(a, beats, unit_bounds(cfg)["softmax"]) if worst else
                   sm.latency(s) + (a - 1) * sm.row_period(s) + beats) + 1
    int8 = 2 if cfg.matmul.mixed else 1
    qk, pv = _segment(cfg, g, dh, (), worst, int8=True), _segment(cfg, dhw, s, (), worst, int8=True)
    att = (_attention_serial(cfg.heads * g, qk, sm_rows, pv) if worst else
           _attention(cfg, cfg.heads * g, {"qk": (g, dh * int8), "pv": (dhw, s * int8)}, sm_rows))
    # the array's beats of Q K^T and P V; "SM": the rest of the attention, the array
    # idle (drains and the softmax)
    ph["QK"] = cfg.heads * g * g * dh * int8
    ph["PV"] = cfg.heads * g * dhw * s * int8
    ph["SM"] = att - ph["QK"] - ph["PV"]
    linear("out", d, dw, ("residual",))
    ln = cfg.layernorm
    # a record's beats, then its parameters in layernorm_chunks beats (the first
    # the hand-off cycle)
    lnp = dw * (ln_rec + cfg.layernorm_chunks)
    # start pulse, feed register, the first vector's latency, one vector a period,
    # the last vector's beats out, the sequencer's check
    lnv = 2 + (_rows(s, ln.beats, unit_bounds(cfg)["layernorm"]) if worst else
               ln.latency() + (s - 1) * ln.vector_period() + ln.beats) + 1
    ph["LNP1"] = lnp
    avail["up"] = sum(ph.values()) - 1
    ph["LNV1"] = lnv
    linear("up", d, fw, ("gelu", "requant"))
    linear("down", f, dw, ("residual",))
    ph["LNP2"], ph["LNV2"] = lnp, lnv
    ph["DONE"] = 1        # done_o is registered: high the cycle after the last output
    return LayerCycles(ph, cfg.macs(s), a)


def layer_bound(cfg: EncoderConfig, s: int) -> LayerCycles:
    """The schedule of :func:`layer_cycles` with every unit at its proven bound
    (:func:`unit_bounds`), all streams ready: ``.total`` bounds the cycles from
    ``start_i`` to ``done_o`` (L1, formal/encoder.py), ``.phases`` each phase."""
    return layer_cycles(cfg, s, worst=True)
