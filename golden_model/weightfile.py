"""The encoder layer's weight stream: the bytes a DMA sends to ``s_axis_w``.

One layer's integer parameters (:class:`golden_model.encoder.LayerParams`) in
the order the layer engine consumes them (docs/encoder.md, "Weight stream").
The stream is cut into beats of ``beat_bytes(cols, weight_bits)`` bytes (one
weight row of a column block: ``cols`` weights); every record below is
zero-padded to a whole number of beats, and ``tlast`` marks the last beat.
All integers are little-endian.

    HDR      magic "QBW1", u16 version, u16 layer, u16 hidden, u16 heads,
             u16 ffn, u16 cols, u8 weight_bits, u8 0, u32 beats (whole stream)
    SCALARS  (u32 mult, u32 shift) for scores, ctx, ln1, ln2 (per-tensor)
    q k v out   LINEAR (K = hidden, N = hidden)
    ln1      LN
    up       LINEAR (K = hidden, N = ffn)
    down     LINEAR (K = ffn, N = hidden)
    ln2      LN

    LINEAR   per column block n (N / cols of them): PRM record
             (i32 bias[cols], u32 mult[cols], u32 shift[cols], u32
             post_mult[cols], u32 post_shift[cols] of channels
             n*cols .. n*cols + cols - 1; the post requantizer is the
             per-channel one applied after this linear: skip1 for out, gelu
             for up, skip2 for down, zero for q/k/v), then K beats: beat k holds
             w[k, n*cols + c] for c = 0..cols-1 (int8: one byte each; int4:
             two's complement nibbles, channel 2j in the low nibble of byte j)
    LN       per group g of cols channels: i32 gamma[cols], i32 beta[cols]

The same bytes are the file ``qbert model weights`` writes (nothing else in
it), so a user's DMA sends the file as it is.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .encoder import LayerNormParams, LayerParams, Linear, Requant

MAGIC = b"QBW1"
VERSION = 1
_HDR = struct.Struct("<4sHHHHHHBBI")
#: scalar requantizers in the SCALARS record, in order
SCALARS = ("scores", "ctx", "ln1", "ln2")
#: PRM record fields, 4 bytes per channel each
PRM_FIELDS = ("bias", "mult", "shift", "post_mult", "post_shift")
#: linear layers and LayerNorms in stream order
SECTIONS = ("q", "k", "v", "out", "ln1", "up", "down", "ln2")


class WeightFileError(ValueError):
    """A weight stream that does not fit the engine; the message names the field."""


@dataclass(frozen=True)
class StreamShape:
    """What a weight stream is built for: the layer's sizes and the array width."""
    hidden: int
    heads: int
    ffn: int
    cols: int
    weight_bits: int

    def __post_init__(self):
        if self.weight_bits not in (4, 8):
            raise WeightFileError(f"weight_bits={self.weight_bits}: allowed 4 or 8")
        if self.cols < 1 or (self.cols * self.weight_bits) % 8:
            raise WeightFileError(f"cols={self.cols}: must be >= 1 and cols*weight_bits a "
                                  f"multiple of 8 (whole-byte beats)")
        for name in ("hidden", "ffn"):
            if getattr(self, name) % self.cols:
                raise WeightFileError(f"{name}={getattr(self, name)} must be a multiple of "
                                      f"cols={self.cols}")
        if self.heads < 1 or self.hidden % self.heads:
            raise WeightFileError(f"heads={self.heads} must divide hidden={self.hidden}")

    @property
    def beat_bytes(self) -> int:
        return self.cols * self.weight_bits // 8

    def record_beats(self, nbytes: int) -> int:
        return -(-nbytes // self.beat_bytes)

    def linear_beats(self, k: int, n: int) -> int:
        return n // self.cols * (self.record_beats(4 * len(PRM_FIELDS) * self.cols) + k)

    def ln_beats(self) -> int:
        return self.hidden // self.cols * self.record_beats(8 * self.cols)

    def section_beats(self) -> dict[str, int]:
        """Beats of every record group in stream order (HDR and SCALARS first)."""
        h, f = self.hidden, self.ffn
        return {"hdr": self.record_beats(_HDR.size), "scalars": self.record_beats(8 * len(SCALARS)),
                "q": self.linear_beats(h, h), "k": self.linear_beats(h, h),
                "v": self.linear_beats(h, h), "out": self.linear_beats(h, h),
                "ln1": self.ln_beats(), "up": self.linear_beats(h, f),
                "down": self.linear_beats(f, h), "ln2": self.ln_beats()}

    @property
    def total_beats(self) -> int:
        return sum(self.section_beats().values())


def _u32(values) -> bytes:
    return np.asarray(values, dtype="<u4").tobytes()


def _i32(values) -> bytes:
    return np.asarray(values, dtype="<i4").tobytes()


def _scalar(rq: Requant) -> tuple[int, int]:
    m, s = np.asarray(rq.mult).reshape(-1), np.asarray(rq.shift).reshape(-1)
    if m.size != 1 or s.size != 1:
        raise WeightFileError("a per-tensor requantizer holds more than one multiplier")
    return int(m[0]), int(s[0])


def _weight_row(row: np.ndarray, weight_bits: int) -> bytes:
    row = np.asarray(row, dtype=np.int64)
    if weight_bits == 8:
        return row.astype("<i1").tobytes()
    nib = (row & 0xF).astype(np.uint8)
    return (nib[0::2] | (nib[1::2] << 4)).astype(np.uint8).tobytes()


class _Writer:
    def __init__(self, shape: StreamShape):
        self.shape, self.chunks = shape, []

    def record(self, data: bytes) -> None:
        pad = self.shape.record_beats(len(data)) * self.shape.beat_bytes - len(data)
        self.chunks.append(data + bytes(pad))

    def linear(self, p: Linear, post: Requant | None, k: int, n: int, name: str) -> None:
        c = self.shape.cols
        w = np.asarray(p.w)
        if w.shape != (k, n):
            raise WeightFileError(f"{name}.w has shape {w.shape}, the layer needs {(k, n)}")
        zero = Requant(0, 0)
        fields = [p.bias, p.rq.mult, p.rq.shift, (post or zero).mult, (post or zero).shift]
        fields = [np.broadcast_to(np.asarray(f), (n,)) for f in fields]
        for b in range(n // c):
            cs = slice(b * c, (b + 1) * c)
            self.record(_i32(fields[0][cs]) + b"".join(_u32(f[cs]) for f in fields[1:]))
            for kk in range(k):
                self.record(_weight_row(w[kk, cs], self.shape.weight_bits))

    def layernorm(self, p: LayerNormParams) -> None:
        c = self.shape.cols
        for g in range(self.shape.hidden // c):
            cs = slice(g * c, (g + 1) * c)
            self.record(_i32(p.gamma[cs]) + _i32(p.beta[cs]))


def layer_stream(p: LayerParams, shape: StreamShape, layer: int) -> bytes:
    """The whole weight stream of one layer (what ``qbert model weights`` writes)."""
    h, f = shape.hidden, shape.ffn
    w = _Writer(shape)
    w.record(_HDR.pack(MAGIC, VERSION, layer, h, shape.heads, f, shape.cols,
                       shape.weight_bits, 0, shape.total_beats))
    scal = {"scores": p.attn.scores, "ctx": p.attn.ctx, "ln1": p.ln1.rq, "ln2": p.ln2.rq}
    w.record(b"".join(_u32(_scalar(scal[name])) for name in SCALARS))
    linears = {"q": (p.attn.q, None, h, h), "k": (p.attn.k, None, h, h),
               "v": (p.attn.v, None, h, h), "out": (p.out, p.skip1, h, h),
               "up": (p.up, p.gelu, h, f), "down": (p.down, p.skip2, f, h)}
    for name in SECTIONS:
        if name in linears:
            w.linear(*linears[name], name)
        else:
            w.layernorm(p.ln1 if name == "ln1" else p.ln2)
    data = b"".join(w.chunks)
    assert len(data) == shape.total_beats * shape.beat_bytes, "stream length != its shape"
    return data


@dataclass(frozen=True)
class Header:
    layer: int
    shape: StreamShape
    beats: int


def read_header(data: bytes, source: str = "weight stream") -> Header:
    """Parse and check the HDR record and the stream's length.

    Raises :class:`WeightFileError` naming ``source`` and the field: a wrong
    magic or version, sizes that are not a layer shape, or a length that is
    not the one the header's shape needs (short or long stream).
    """
    if len(data) < _HDR.size:
        raise WeightFileError(f"{source}: {len(data)} bytes, shorter than the "
                              f"{_HDR.size}-byte header")
    magic, version, layer, hidden, heads, ffn, cols, wbits, _, beats = _HDR.unpack_from(data)
    if magic != MAGIC:
        raise WeightFileError(f"{source}: magic {magic!r}, expected {MAGIC!r} (not a qbert "
                              f"weight stream)")
    if version != VERSION:
        raise WeightFileError(f"{source}: order version {version}, this engine reads "
                              f"version {VERSION}")
    try:
        shape = StreamShape(hidden, heads, ffn, cols, wbits)
    except WeightFileError as e:
        raise WeightFileError(f"{source}: header: {e}") from None
    need = shape.total_beats * shape.beat_bytes
    if beats != shape.total_beats or len(data) != need:
        raise WeightFileError(
            f"{source}: {len(data)} bytes ({len(data) / shape.beat_bytes:g} beats, header "
            f"says {beats}); a layer of hidden={hidden}, ffn={ffn}, cols={cols}, "
            f"weight_bits={wbits} is {need} bytes ({shape.total_beats} beats)")
    return Header(layer, shape, beats)


class _Reader:
    def __init__(self, data: bytes, shape: StreamShape):
        self.data, self.shape, self.pos = data, shape, 0

    def record(self, nbytes: int) -> bytes:
        out = self.data[self.pos:self.pos + nbytes]
        self.pos += self.shape.record_beats(nbytes) * self.shape.beat_bytes
        return out

    def ints(self, raw: bytes, dtype: str) -> np.ndarray:
        return np.frombuffer(raw, dtype=dtype).astype(np.int64)

    def weight_row(self) -> np.ndarray:
        raw = np.frombuffer(self.record(self.shape.beat_bytes), dtype=np.uint8).astype(np.int64)
        if self.shape.weight_bits == 8:
            return np.where(raw > 127, raw - 256, raw)
        nib = np.stack([raw & 0xF, raw >> 4], axis=1).reshape(-1)
        return np.where(nib > 7, nib - 16, nib)

    def linear(self, k: int, n: int) -> tuple[Linear, Requant]:
        """The linear layer and its post requantizer."""
        c = self.shape.cols
        w = np.zeros((k, n), np.int64)
        f = np.zeros((len(PRM_FIELDS), n), np.int64)
        for b in range(n // c):
            cs = slice(b * c, (b + 1) * c)
            prm = self.record(4 * len(PRM_FIELDS) * c)
            f[0, cs] = self.ints(prm[:4 * c], "<i4")
            f[1:, cs] = self.ints(prm[4 * c:], "<u4").reshape(-1, c)
            for kk in range(k):
                w[kk, cs] = self.weight_row()
        return Linear(w, f[0], Requant(f[1], f[2])), Requant(f[3], f[4])

    def layernorm(self, rq: Requant) -> LayerNormParams:
        c, h = self.shape.cols, self.shape.hidden
        gamma, beta = np.zeros(h, np.int64), np.zeros(h, np.int64)
        for g in range(h // c):
            rec = self.record(8 * c)
            gamma[g * c:(g + 1) * c] = self.ints(rec[:4 * c], "<i4")
            beta[g * c:(g + 1) * c] = self.ints(rec[4 * c:], "<i4")
        return LayerNormParams(gamma, beta, rq)


def read_layer(data: bytes, source: str = "weight stream") -> tuple[Header, LayerParams]:
    """The inverse of :func:`layer_stream` (checks the header and length first)."""
    from .encoder import AttentionParams
    hdr = read_header(data, source)
    sh = hdr.shape
    r = _Reader(data, sh)
    r.record(_HDR.size)
    raw = r.ints(r.record(8 * len(SCALARS)), "<u4")
    scal = {name: Requant(raw[2 * i], raw[2 * i + 1]) for i, name in enumerate(SCALARS)}
    h, f = sh.hidden, sh.ffn
    (q, _), (k, _), (v, _), (out, skip1) = (r.linear(h, h) for _ in range(4))
    ln1 = r.layernorm(scal["ln1"])
    (up, gelu), (down, skip2) = r.linear(h, f), r.linear(f, h)
    ln2 = r.layernorm(scal["ln2"])
    attn = AttentionParams(sh.heads, q, k, v, scal["scores"], scal["ctx"])
    return hdr, LayerParams(attn, out, skip1, ln1, up, gelu, down, skip2, ln2)
