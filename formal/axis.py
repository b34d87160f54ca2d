"""Reusable AXI4-Stream properties, emitted as formal-only Verilog modules.

Two modules, both wrapped in ```ifdef FORMAL`` and read by ``read -formal``:

``qbert_axis_check`` — protocol of one AXI4-Stream port.  Parameters
``DATA_W``, ``USER_W`` and ``ROLE``:

- ``ROLE = 0`` (:data:`ROLE_DUT`): the DUT drives tvalid/tdata/tlast/tuser
  (a master port, ``m_axis_*``): the properties are **asserted**;
- ``ROLE = 1`` (:data:`ROLE_ENV`): the environment drives them (a slave port of
  the DUT, ``s_axis_*``): the same properties are **assumed**.

Properties (clk rising edge, synchronous active-high ``rst``):

- P1 ``reset``: in the cycle after a cycle with ``rst`` high, tvalid is low;
- P2 ``hold``: if the previous cycle had tvalid && !tready (and neither cycle
  is in reset), tvalid is still high and tdata, tlast, tuser are unchanged.

``qbert_axis_units`` — a unit counter between an input and an output port.  A
"unit" (row, tile) ends with a beat that has tlast high.  It keeps
``pending`` = units fully accepted on the input but not yet fully sent on the
output, and asserts:

- U1 ``no_spurious``: an output unit never completes without a pending (or a
  same-cycle completed) input unit (outputs <= inputs, so no unit is emitted twice);
- U2 ``bounded``: pending <= MAX_PENDING (nothing is accumulated without bound);
- U3 ``latency`` (LATENCY > 0): while a unit is pending, the next output unit
  completes within LATENCY cycles, not counting cycles in which the output is
  stalled (m_tvalid && !m_tready).  The timer restarts after every output unit.

U1 + U3 together say every accepted input unit yields exactly one output unit.
With ``ROLE = 1`` (:data:`ROLE_ENV`) the same three are *assumed*: the
contract of an abstract unit whose own proof established them (a composed
unit's proof, formal/attention.py).
``pending`` and ``timer`` are outputs so that a harness or a DUT can state the
invariants that make the properties k-inductive (e.g. ``pending == the number
of unit ends held in the DUT's pipeline``).

``qbert_axis_frame`` -- the framing of one port: every unit is exactly
``BEATS`` beats, ``tlast`` on the last and on no other (F1 ``frame_last``);
``beat`` (an output) counts the beats of the current unit already taken, for
the invariants of a k-induction.

Yosys' open-source frontend has no ``bind``: instantiate the checkers in a
harness around the DUT (:func:`harness`) or inside a generated DUT under
```ifdef FORMAL`` (:func:`check_instance` gives the instantiation text).
"""
from __future__ import annotations

import re

from .sby import SbyJob

ROLE_DUT = 0
ROLE_ENV = 1

CHECKER_FILE = "qbert_axis_check.sv"

CHECKER_SV = r"""// qbert-rtl formal kit: AXI4-Stream properties (formal only).
`default_nettype none
module qbert_axis_check #(
    parameter integer DATA_W = 8,
    parameter integer USER_W = 1,
    parameter integer ROLE = 0        // 0: DUT drives this port -> assert; 1: environment drives -> assume
) (
    input wire              clk,
    input wire              rst,
    input wire              tvalid,
    input wire              tready,
    input wire [DATA_W-1:0] tdata,
    input wire              tlast,
    input wire [USER_W-1:0] tuser
);
`ifdef FORMAL
    reg past_valid = 1'b0;
    always @(posedge clk) past_valid <= 1'b1;

    reg              p_rst = 1'b0, p_stall = 1'b0, p_tlast = 1'b0;
    reg [DATA_W-1:0] p_tdata = {DATA_W{1'b0}};
    reg [USER_W-1:0] p_tuser = {USER_W{1'b0}};
    always @(posedge clk) begin
        p_rst   <= rst;
        p_stall <= tvalid && !tready;
        p_tdata <= tdata;
        p_tlast <= tlast;
        p_tuser <= tuser;
    end

    wire after_reset = past_valid && p_rst;
    wire held        = past_valid && !p_rst && !rst && p_stall;
    wire stable      = tvalid && tdata == p_tdata && tlast == p_tlast && tuser == p_tuser;

    generate
        if (ROLE == 0) begin : asserted
            always @(*) if (after_reset) assert (!tvalid);   // P1 reset
            always @(*) if (held)        assert (stable);    // P2 hold
        end else begin : assumed
            always @(*) if (after_reset) assume (!tvalid);   // P1 reset
            always @(*) if (held)        assume (stable);    // P2 hold
        end
    endgenerate
`endif
endmodule

// Units in -> units out: every accepted input unit (ended by tlast) yields
// exactly one output unit, within LATENCY un-stalled cycles (LATENCY = 0: no bound).
module qbert_axis_units #(
    parameter integer MAX_PENDING = 4,
    parameter integer LATENCY = 0,
    parameter integer CW = 8,          // counter width: holds MAX_PENDING + 1 and LATENCY
    parameter integer ROLE = 0         // 0: the unit is the DUT -> assert; 1: an abstract unit's contract -> assume
) (
    input wire           clk,
    input wire           rst,
    input wire           s_tvalid,
    input wire           s_tready,
    input wire           s_tlast,
    input wire           m_tvalid,
    input wire           m_tready,
    input wire           m_tlast,
    output reg  [CW-1:0] pending,
    output reg  [CW-1:0] timer
);
`ifdef FORMAL
    wire in_done  = s_tvalid && s_tready && s_tlast;
    wire out_done = m_tvalid && m_tready && m_tlast;
    wire stalled  = m_tvalid && !m_tready;
    wire [CW-1:0] pending_next = pending + {{(CW-1){1'b0}}, in_done} - {{(CW-1){1'b0}}, out_done};

    initial pending = {CW{1'b0}};
    initial timer = {CW{1'b0}};
    always @(posedge clk) begin
        if (rst) begin
            pending <= {CW{1'b0}};
            timer   <= {CW{1'b0}};
        end else begin
            pending <= pending_next;
            if (out_done || pending_next == {CW{1'b0}})
                timer <= {CW{1'b0}};
            else if (!stalled && timer < LATENCY)
                timer <= timer + 1'b1;
        end
    end

    generate
        if (ROLE == 0) begin : asserted
            always @(*) if (!rst) begin
                assert (!out_done || pending != {CW{1'b0}} || in_done);   // U1 no_spurious
                assert (pending <= MAX_PENDING);                          // U2 bounded
            end
            if (LATENCY > 0) begin : latency
                always @(*) if (!rst) assert (timer < LATENCY);           // U3 latency
            end
        end else begin : assumed
            always @(*) if (!rst) begin
                assume (!out_done || pending != {CW{1'b0}} || in_done);   // U1 no_spurious
                assume (pending <= MAX_PENDING);                          // U2 bounded
            end
            if (LATENCY > 0) begin : latency
                always @(*) if (!rst) assume (timer < LATENCY);           // U3 latency
            end
        end
    endgenerate
`endif
endmodule

// Framing: every unit on this port is BEATS beats with tlast on the last only.
module qbert_axis_frame #(
    parameter integer BEATS = 1,
    parameter integer CW = 8           // counter width: holds BEATS
) (
    input wire           clk,
    input wire           rst,
    input wire           tvalid,
    input wire           tready,
    input wire           tlast,
    output reg  [CW-1:0] beat          // beats of the current unit already taken
);
`ifdef FORMAL
    initial beat = {CW{1'b0}};
    always @(posedge clk)
        if (rst) beat <= {CW{1'b0}};
        else if (tvalid && tready) beat <= (beat == BEATS - 1) ? {CW{1'b0}} : beat + 1'b1;
    always @(*) if (!rst) begin
        assert (beat < BEATS);                                    // F1 frame_last
        if (tvalid) assert (tlast == (beat == BEATS - 1));        // F1 frame_last
    end
`endif
endmodule`default_nettype wire
"""


def property_of(failed: str) -> str | None:
    """Name (P1 reset, U3 latency, ...) of the checker property a failure line points at."""
    m = re.search(r"qbert_axis_check\.sv:(\d+)", failed)
    if not m:
        return None
    line = CHECKER_SV.splitlines()[int(m.group(1)) - 1]
    tag = re.search(r"// ([PUF]\d \w+)", line)
    return tag.group(1) if tag else None


def counter_width(max_pending: int, latency: int) -> int:
    return max(2, (max(max_pending + 1, latency) + 1).bit_length())


def check_instance(name: str, prefix: str, role: int, data_w: int, *, user_w: int = 1,
                   has_user: bool = False, clk: str = "clk", rst: str = "rst",
                   tlast: str | None = None, tuser: str | None = None) -> str:
    """Instantiation text of ``qbert_axis_check`` for the port ``<prefix>_t*``.
    ``tlast``/``tuser``: expressions for a port without ``<prefix>_tlast``
    (e.g. ``1'b0``) or whose side band is another signal (e.g. its tkeep)."""
    if role not in (ROLE_DUT, ROLE_ENV):
        raise ValueError(f"role must be ROLE_DUT (0) or ROLE_ENV (1), got {role!r}")
    if tuser is None:
        tuser = f"{prefix}_tuser" if has_user else f"{user_w}'b0"
    tlast = f"{prefix}_tlast" if tlast is None else tlast
    return (f"qbert_axis_check #(.DATA_W({data_w}), .USER_W({user_w}), .ROLE({role})) {name} (\n"
            f"    .clk({clk}), .rst({rst}), .tvalid({prefix}_tvalid), .tready({prefix}_tready),\n"
            f"    .tdata({prefix}_tdata), .tlast({tlast}), .tuser({tuser}));\n")


def units_instance(name: str, s_prefix: str, m_prefix: str, *, max_pending: int,
                   latency: int = 0, pending: str = "units_pending", timer: str = "units_timer",
                   clk: str = "clk", rst: str = "rst", role: int = ROLE_DUT) -> str:
    """Wires ``pending``/``timer`` and an instance of ``qbert_axis_units``
    (``role`` ROLE_DUT: U1-U3 asserted; ROLE_ENV: assumed)."""
    if max_pending < 1 or latency < 0:
        raise ValueError("max_pending must be >= 1 and latency >= 0")
    if role not in (ROLE_DUT, ROLE_ENV):
        raise ValueError(f"role must be ROLE_DUT (0) or ROLE_ENV (1), got {role!r}")
    cw = counter_width(max_pending, latency)
    params = f".MAX_PENDING({max_pending}), .LATENCY({latency}), .CW({cw})" + (
        f", .ROLE({role})" if role != ROLE_DUT else "")
    return (f"wire [{cw - 1}:0] {pending}, {timer};\n"
            f"qbert_axis_units #({params}) {name} (\n"
            f"    .clk({clk}), .rst({rst}),\n"
            f"    .s_tvalid({s_prefix}_tvalid), .s_tready({s_prefix}_tready), .s_tlast({s_prefix}_tlast),\n"
            f"    .m_tvalid({m_prefix}_tvalid), .m_tready({m_prefix}_tready), .m_tlast({m_prefix}_tlast),\n"
            f"    .pending({pending}), .timer({timer}));\n")


def frame_instance(name: str, prefix: str, *, beats: int, beat: str = "frame_beat",
                   clk: str = "clk", rst: str = "rst") -> str:
    """A wire ``beat`` and an instance of ``qbert_axis_frame`` on the port
    ``<prefix>_t*``: every unit is ``beats`` beats, tlast on the last only."""
    if beats < 1:
        raise ValueError(f"beats must be >= 1, got {beats}")
    cw = max(1, beats.bit_length())
    return (f"wire [{cw - 1}:0] {beat};\n"
            f"qbert_axis_frame #(.BEATS({beats}), .CW({cw})) {name} (\n"
            f"    .clk({clk}), .rst({rst}), .tvalid({prefix}_tvalid), .tready({prefix}_tready),\n"
            f"    .tlast({prefix}_tlast), .beat({beat}));\n")


def harness(dut_top: str, s_data_w: int, m_data_w: int, *, max_pending: int = 4,
            latency: int = 0, units: bool = True, invariants: tuple[str, ...] = (),
            extra_ports: tuple[tuple[str, int], ...] = (), params: str = "",
            s_role: int | None = ROLE_ENV, cover_unit: bool = False) -> str:
    """A top module ``qbert_axis_harness`` around a DUT with the standard ports.

    Port contract of the DUT (DESIGN.md, "Interfaces of generated RTL"):
    ``clk, rst, s_axis_tdata[s_data_w], s_axis_tvalid, s_axis_tready,
    s_axis_tlast, m_axis_tdata[m_data_w], m_axis_tvalid, m_axis_tready,
    m_axis_tlast``; ``extra_ports`` are further DUT inputs driven freely
    (name, width).  The environment is free except: reset in the first cycle,
    s_axis obeys the protocol (assumed), m_axis_tready is arbitrary.  m_axis is
    asserted to obey the protocol; with ``units`` the unit counter is checked
    too.  ``invariants`` are Verilog expressions over the harness' names (DUT
    ports, ``units_pending``, ``units_timer``) asserted every non-reset cycle:
    the lemmas that make the properties k-inductive.

    ``s_role``: how the s_axis checker is instantiated: ROLE_ENV (default,
    assumed), ROLE_DUT (asserted: only to test the kit) or None (no s_axis
    protocol constraint at all).  ``cover_unit`` adds a cover of a completed
    output unit (run with mode ``cover`` to show the environment is not vacuous).
    """
    extra_decl = "".join(f"    input wire [{w - 1}:0] {n},\n" for n, w in extra_ports)
    extra_conn = "".join(f", .{n}({n})" for n, _ in extra_ports)
    pp = f" #({params})" if params else ""
    text = f"""`default_nettype none
module qbert_axis_harness (
    input wire clk,
    input wire rst,
{extra_decl}    input wire [{s_data_w - 1}:0] s_axis_tdata,
    input wire s_axis_tvalid,
    input wire s_axis_tlast,
    input wire m_axis_tready
);
    wire s_axis_tready;
    wire [{m_data_w - 1}:0] m_axis_tdata;
    wire m_axis_tvalid, m_axis_tlast;
    {dut_top}{pp} dut (
        .clk(clk), .rst(rst){extra_conn},
        .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid),
        .s_axis_tready(s_axis_tready), .s_axis_tlast(s_axis_tlast),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid),
        .m_axis_tready(m_axis_tready), .m_axis_tlast(m_axis_tlast));
`ifdef FORMAL
    reg first = 1'b1;
    always @(posedge clk) first <= 1'b0;
    always @(*) if (first) assume (rst);

    {check_instance("s_chk", "s_axis", s_role, s_data_w) if s_role is not None else ""}
    {check_instance("m_chk", "m_axis", ROLE_DUT, m_data_w)}
"""
    if cover_unit:
        text += "    always @(*) if (!rst && !first) cover (m_axis_tvalid && m_axis_tready && m_axis_tlast);\n"
    if units:
        text += "    " + units_instance("units", "s_axis", "m_axis", max_pending=max_pending,
                                        latency=latency)
    else:
        text += "    wire [1:0] units_pending = 2'd0, units_timer = 2'd0;\n"
    for inv in invariants:
        text += f"    always @(*) if (!rst && !first) assert ({inv});\n"
    text += "`endif\nendmodule\n`default_nettype wire\n"
    return text


def harness_job(name: str, dut_sources: dict, dut_top: str, s_data_w: int, m_data_w: int, *,
                mode: str = "prove", depth: int = 8, engine: str = "smtbmc yices",
                description: str = "", **harness_kw) -> SbyJob:
    """An SBY job proving the AXI4-Stream properties of ``dut_top`` (see :func:`harness`)."""
    sources = dict(dut_sources)
    sources[CHECKER_FILE] = CHECKER_SV
    sources["qbert_axis_harness.sv"] = harness(dut_top, s_data_w, m_data_w, **harness_kw)
    return SbyJob(name, "qbert_axis_harness", sources, mode=mode, depth=depth,
                  engine=engine, description=description)
