"""Shared frame of the elementwise stream units (gelu, requant, residual).

One or more AXI4-Stream inputs are *joined* beat for beat into a fixed-depth
pipeline that holds as a whole on backpressure (a hold pipeline, as the
matmul drain): every stage register advances on

    en = !m_axis_tvalid || m_axis_tready

so a stalled output beat keeps tdata/tlast stable and nothing is lost or
duplicated, and the unit takes one beat a cycle (``lanes`` elements) in steady
state.  A beat is taken from the inputs in the cycle ``en`` is high and every
input's ``tvalid`` is high; each input's ``tready`` is ``en`` and the other
inputs' ``tvalid`` (AXI4-Stream allows tready to wait for tvalid; no tready
waits for its own tvalid, so there is no combinational loop).

The first input stream's ``tlast`` travels with the beat to ``m_axis_tlast``;
the other inputs (e.g. a parameter stream) have no ``tlast``.  Word layout as
every unit: lane i of a stream in ``tdata[lane_bits*i +: lane_bits]``, the word
padded to whole bytes (input pad ignored, output pad 0).

The unit builds its datapath with :meth:`StreamPipe.stage` (a register that
advances on ``en``) from :meth:`StreamPipe.lane` (a lane of an input word) and
hands the last stage's lanes to :meth:`StreamPipe.finish`.  ``depth`` (the
number of register stages from input to ``m_axis``, the output register
included) is the latency in cycles from a beat taken to its result offered.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import emit


def _vg():
    import veriloggen as vg
    return vg


def const(v: int, w: int):
    """A w-bit constant (two's-complement bit pattern for negative v)."""
    return _vg().Int(v & ((1 << w) - 1), w, 16)


def zext(sig, from_bits: int, to_bits: int):
    return sig if to_bits == from_bits else _vg().Cat(const(0, to_bits - from_bits), sig)


@dataclass(frozen=True)
class StreamIn:
    prefix: str          # port prefix, e.g. "s_axis" or "s_axis_prm"
    lanes: int
    lane_bits: int

    @property
    def word_bits(self) -> int:
        return emit.bytes_width(self.lanes * self.lane_bits)


@dataclass
class StreamPipe:
    """Ports, join and hold control of one elementwise unit (see the module doc)."""
    m: object
    inputs: list
    out_lanes: int
    out_lane_bits: int
    depth: int
    clk: object = None
    en: object = None
    fire: object = None
    _tdata: dict = field(default_factory=dict)
    _unused: list = field(default_factory=list)

    def __post_init__(self):
        vg = _vg()
        m = self.m
        self.clk = m.Input("clk")
        self.rst = m.Input("rst")
        valids, readies = {}, {}
        for i, s in enumerate(self.inputs):
            self._tdata[s.prefix] = m.Input(f"{s.prefix}_tdata", s.word_bits)
            valids[s.prefix] = m.Input(f"{s.prefix}_tvalid")
            readies[s.prefix] = m.Output(f"{s.prefix}_tready")
            if i == 0:
                self.tlast_in = m.Input(f"{s.prefix}_tlast")
            if s.word_bits > s.lanes * s.lane_bits:
                # byte padding of the AXI4-Stream word: ignored on purpose
                self._unused.append(vg.Slice(self._tdata[s.prefix], s.word_bits - 1,
                                             s.lanes * s.lane_bits))
        self.out_word_bits = emit.bytes_width(self.out_lanes * self.out_lane_bits)
        self.out_tdata = m.Output("m_axis_tdata", self.out_word_bits)
        self.out_tvalid = m.Output("m_axis_tvalid")
        self.out_tready = m.Input("m_axis_tready")
        self.out_tlast = m.Output("m_axis_tlast")

        D = self.depth
        self.valid = [m.Reg(f"v{k}_q") for k in range(1, D + 1)]
        self.last = [m.Reg(f"last{k}_q") for k in range(1, D + 1)]
        self.en = m.Wire("en")
        self.fire = m.Wire("fire")
        m.Assign(self.en(vg.OrList(vg.Not(self.valid[-1]), self.out_tready)))
        m.Assign(self.fire(vg.AndList(self.en, *valids.values())))
        for s in self.inputs:
            others = [v for p, v in valids.items() if p != s.prefix]
            m.Assign(readies[s.prefix](vg.AndList(self.en, *others) if others else self.en))
        m.Always(vg.Posedge(self.clk))(
            vg.If(self.rst)(*[v(const(0, 1)) for v in self.valid]).Elif(self.en)(
                self.valid[0](self.fire),
                *[self.valid[k](self.valid[k - 1]) for k in range(1, D)]))
        m.Always(vg.Posedge(self.clk))(vg.If(self.en)(
            self.last[0](self.tlast_in),
            *[self.last[k](self.last[k - 1]) for k in range(1, D)]))

    def lane(self, prefix: str, i: int, name: str):
        """Wire ``name``: lane ``i`` of input ``prefix``'s tdata (its lane_bits)."""
        s = next(x for x in self.inputs if x.prefix == prefix)
        w = self.m.Wire(name, s.lane_bits)
        lo = i * s.lane_bits
        self.m.Assign(w(_vg().Slice(self._tdata[prefix], lo + s.lane_bits - 1, lo)))
        return w

    def wire(self, name: str, width: int, expr):
        w = self.m.Wire(name, width)
        self.m.Assign(w(expr))
        return w

    def stage(self, name: str, width: int, expr):
        """Register ``name`` (``width`` bits) <= ``expr`` whenever the pipeline advances."""
        r = self.m.Reg(name, width)
        self.m.Always(_vg().Posedge(self.clk))(_vg().If(self.en)(r(expr)))
        return r

    def unused(self, expr) -> None:
        """Bits known to be redundant (proven by the spec's ranges): tell the linter."""
        self._unused.append(expr)

    def finish(self, out_lanes: list) -> None:
        """Drive m_axis from the last stage: ``out_lanes`` are out_lane_bits-wide
        registers of stage ``depth``."""
        vg, m = _vg(), self.m
        used = self.out_lanes * self.out_lane_bits
        data = vg.Cat(*reversed(out_lanes))
        if self.out_word_bits > used:
            data = vg.Cat(const(0, self.out_word_bits - used), data)
        m.Assign(self.out_tdata(data))
        m.Assign(self.out_tvalid(self.valid[-1]))
        m.Assign(self.out_tlast(self.last[-1]))
        if self._unused:
            # Verilator exempts *unused* names from its UNUSED warnings
            u = m.Wire("unused_bits")
            m.Assign(u(vg.Uxor(vg.Cat(*self._unused))))
