"""Toy AXI4-Stream DUTs: a known-good register slice and deliberately broken ones.

They exist so that every property of :mod:`formal.axis` is shown to PASS on a
correct design and to FAIL on a design with exactly the bug it targets.
"""
from __future__ import annotations

#: bug name -> what the broken slice does wrong (the property that must catch it)
SLICE_BUGS = {
    "none": "correct one-entry register slice",
    "unstable_data": "reloads tdata while stalled (P2 hold)",
    "drop_valid": "drops tvalid while stalled (P2 hold)",
    "valid_after_reset": "sets tvalid in reset (P1 reset)",
    "double_last": "emits every unit end twice (U1 no_spurious)",
    "slow": "waits 3 extra cycles before presenting each beat (U3 latency, bound 2)",
}


def reg_slice(width: int = 8, bug: str = "none", name: str = "toy_slice") -> str:
    """A one-entry AXI4-Stream register slice (s_axis -> m_axis), optionally broken."""
    if bug not in SLICE_BUGS:
        raise ValueError(f"bug must be one of {', '.join(SLICE_BUGS)}, got {bug!r}")
    w = width
    reset_valid = "1'b1" if bug == "valid_after_reset" else "1'b0"
    load = "s_axis_tvalid && s_axis_tready"
    data_load = "s_axis_tvalid" if bug == "unstable_data" else load
    drop = "if (m_axis_tvalid && !m_axis_tready && s_axis_tdata[0]) m_axis_tvalid <= 1'b0;\n" \
        if bug == "drop_valid" else ""
    dup = bug == "double_last"
    slow = bug == "slow"
    return f"""`default_nettype none
module {name} (
    input  wire clk,
    input  wire rst,
    input  wire [{w - 1}:0] s_axis_tdata,
    input  wire s_axis_tvalid,
    output wire s_axis_tready,
    input  wire s_axis_tlast,
    output reg  [{w - 1}:0] m_axis_tdata,
    output reg  m_axis_tvalid,
    input  wire m_axis_tready,
    output reg  m_axis_tlast
);
    reg again;           // double_last: a second copy of a unit end is owed
    reg [1:0] delay;     // slow: cycles still to wait
    assign s_axis_tready = (!m_axis_tvalid || m_axis_tready) && !again && delay == 2'd0;
    always @(posedge clk) begin
        if (rst) begin
            m_axis_tvalid <= {reset_valid};
            again <= 1'b0;
            delay <= 2'd0;
        end else begin
            if (m_axis_tvalid && m_axis_tready) begin
                m_axis_tvalid <= 1'b0;
                {"if (again) begin m_axis_tvalid <= 1'b1; again <= 1'b0; end" if dup else ""}
            end
            if (delay != 2'd0) begin
                delay <= delay - 2'd1;
                if (delay == 2'd1) m_axis_tvalid <= 1'b1;
            end
            if ({load}) begin
                {"delay <= 2'd3;" if slow else "m_axis_tvalid <= 1'b1;"}
                {"again <= s_axis_tlast;" if dup else ""}
            end
            {drop}
        end
        if ({data_load}) begin
            m_axis_tdata <= s_axis_tdata;
            m_axis_tlast <= s_axis_tlast;
        end
    end
endmodule
`default_nettype wire
"""


def slice_invariants(bug: str = "none") -> tuple[str, ...]:
    """The lemmas that make the correct slice's unit properties 1-inductive.

    ``units_pending`` is the number of unit ends inside the slice.  The same
    lemmas are used for the broken variants, so a failure there is the bug's.
    """
    return ("units_pending == (m_axis_tvalid && m_axis_tlast)",)


def passthrough(width: int = 8, name: str = "toy_wire") -> str:
    """Combinational AXI4-Stream pass-through: m_axis is s_axis.

    Its m_axis obeys the protocol exactly when its s_axis does, so it shows
    that the ROLE_ENV assumptions constrain (and ROLE_DUT asserts)."""
    return f"""`default_nettype none
module {name} (
    input  wire clk,
    input  wire rst,
    input  wire [{width - 1}:0] s_axis_tdata,
    input  wire s_axis_tvalid,
    output wire s_axis_tready,
    input  wire s_axis_tlast,
    output wire [{width - 1}:0] m_axis_tdata,
    output wire m_axis_tvalid,
    input  wire m_axis_tready,
    output wire m_axis_tlast
);
    assign m_axis_tdata = s_axis_tdata;
    assign m_axis_tvalid = s_axis_tvalid;
    assign m_axis_tlast = s_axis_tlast;
    assign s_axis_tready = m_axis_tready;
endmodule
`default_nettype wire
"""


def two_slices(width: int = 8, name: str = "toy_two") -> str:
    """Two register slices in series (holds up to two unit ends); needs reg_slice()."""
    return f"""`default_nettype none
module {name} (
    input  wire clk,
    input  wire rst,
    input  wire [{width - 1}:0] s_axis_tdata,
    input  wire s_axis_tvalid,
    output wire s_axis_tready,
    input  wire s_axis_tlast,
    output wire [{width - 1}:0] m_axis_tdata,
    output wire m_axis_tvalid,
    input  wire m_axis_tready,
    output wire m_axis_tlast
);
    wire [{width - 1}:0] d;
    wire v, r, l;
    toy_slice a (.clk(clk), .rst(rst), .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid),
                 .s_axis_tready(s_axis_tready), .s_axis_tlast(s_axis_tlast),
                 .m_axis_tdata(d), .m_axis_tvalid(v), .m_axis_tready(r), .m_axis_tlast(l));
    toy_slice b (.clk(clk), .rst(rst), .s_axis_tdata(d), .s_axis_tvalid(v),
                 .s_axis_tready(r), .s_axis_tlast(l),
                 .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid),
                 .m_axis_tready(m_axis_tready), .m_axis_tlast(m_axis_tlast));
endmodule
`default_nettype wire
"""
