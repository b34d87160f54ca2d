"""The encoder-layer engine's RTL: one shared matmul array, on-chip buffers, an FSM.

``build(cfg)`` returns the Veriloggen module ``qbert_encoder`` for an
:class:`rtl_gen.encoder.EncoderConfig`; the units it instantiates (matmul,
softmax, layernorm, gelu, requant, residual) are the units' own generators,
used through their stream contracts only (docs/encoder.md, "Architecture").

The passes run one after another (a pass drains before the next starts).  Within
a linear pass the next column block loads into the second weight bank while the
array computes from the first, and goes on the array as soon as this block's
beats are in: the compute side (``blk_q``, ``compute_bank_q``) runs one block
ahead of the drain side (``drain_blk_q``, ``drain_bank_q``: destination
addresses, post multipliers, freeing the bank).  The loader runs on into the
next pass's blocks (``load_linear_q``) as the banks free.  In the attention the
softmax runs beside the array: the array runs Q K^T of item (head, row group)
j+1 and P V of item j in turn while the softmax runs item j, the scores and
the probabilities each in two halves; each segment goes on once the one before
is fed, while that one is written (the write side: ``att_drain_*``).
rtl_gen/encoder_cycles.py models the schedule.

Buffers are ``array`` banks (token row mod ``array``), each a memory of
words of ``array`` lanes addressed ``{group, word}``; every read is registered
(block RAM) and every bank of a buffer is read at the same address, so a
read gives either a column of a row group (pick one lane of every bank) or
one token's word (pick one bank).
"""
from __future__ import annotations

from golden_model.quant import MULT_BITS
from golden_model.weightfile import MAGIC, VERSION

from . import emit, gelu, layernorm, matmul, requant, residual, softmax
from .matmul import SHIFT_BITS

TOP = "qbert_encoder"
ACT = 8
SCORE = 16
ONE_30 = 1 << 30      # residual operand a is already requantized: a * 2^30 >>> 30 == a

#: the LayerNorm's instance name (formal/encoder.py reaches into it)
LN_INSTANCE = "u_layernorm"

# phases of the sequencer
PHASES = ("IDLE", "HDR", "SCAL", "LOADX", "LIN", "QK", "PV", "LNP", "LNV")
PH = {name: i for i, name in enumerate(PHASES)}
# linear layers in the order the weight stream holds them
LINEARS = ("q", "k", "v", "out", "up", "down")
LIN = {name: i for i, name in enumerate(LINEARS)}
# compute steps of a linear pass, per column block (the loader runs beside them)
LSTEPS = ("WAIT", "TILES", "DRAIN")
LS = {name: i for i, name in enumerate(LSTEPS)}
#: load_linear_q once every linear's blocks are loaded
LOADED = len(LINEARS)


class _Drivers:
    """Wires driven by different phases: collect (condition, value), emit one mux."""

    def __init__(self, m):
        self.m, self.items = m, {}

    def wire(self, name: str, width: int = 1):
        w = self.m.Wire(name, width)
        self.items[name] = (w, width, [])
        return w

    def drive(self, w, cond, value) -> None:
        self.items[w.name][2].append((cond, value))

    def finish(self) -> None:
        import veriloggen as vg
        for w, width, pairs in self.items.values():
            expr = _k(0, width)
            for cond, value in reversed(pairs):
                expr = vg.Mux(cond, value, expr)
            self.m.Assign(w(expr))


class _Buf:
    """``banks`` memories of ``lanes`` x ``lane_bits``-bit words, one registered
    read address for all banks, one write port (bank, address, word)."""

    def __init__(self, m, clk, drv: _Drivers, name: str, banks: int, lanes: int,
                 lane_bits: int, addr_bits: int):
        from veriloggen import AndList, If, Posedge
        self.name, self.banks, self.lanes, self.lane_bits = name, banks, lanes, lane_bits
        self.word_bits = lanes * lane_bits
        self.addr_bits = addr_bits
        self.rd_addr = drv.wire(f"{name}_rd_addr", addr_bits)
        self.rd_en = drv.wire(f"{name}_rd_en")
        self.we = drv.wire(f"{name}_we")
        self.wbank = drv.wire(f"{name}_wbank", max(1, emit.clog2(banks)))
        self.waddr = drv.wire(f"{name}_waddr", addr_bits)
        self.wdata = drv.wire(f"{name}_wdata", self.word_bits)
        self.rd = []
        for r in range(banks):
            mem = m.Reg(f"{name}{r}_mem", self.word_bits, dims=1 << addr_bits)
            q = m.Reg(f"{name}{r}_rd_q", self.word_bits)
            m.Always(Posedge(clk))(If(self.rd_en)(q(mem[self.rd_addr])))
            m.Always(Posedge(clk))(If(AndList(self.we, self.wbank == _k(r, self.wbank.width)))(
                mem[self.waddr](self.wdata)))
            self.rd.append(q)

    def lane(self, r: int, i):
        """Lane ``i`` (an expression) of bank r's read word, lane_bits wide."""
        from veriloggen import Slice
        return _pick(i, [Slice(self.rd[r], (j + 1) * self.lane_bits - 1, j * self.lane_bits)
                         for j in range(self.lanes)])

    def bank(self, r):
        """The read word of bank ``r`` (an expression)."""
        return _pick(r, self.rd)


def _k(v: int, w: int):
    import veriloggen as vg
    return vg.Int(v & ((1 << w) - 1), w, 10)


def _pick(sel, items):
    import veriloggen as vg
    if len(items) == 1:
        return items[0]
    w = max(1, emit.clog2(len(items)))
    out = items[-1]
    for i in reversed(range(len(items) - 1)):
        out = vg.Mux(sel == _k(i, w), items[i], out)
    return out


def _sat(x, fw: int, tw: int):
    """Signed saturation of the fw-bit expression x to tw bits."""
    import veriloggen as vg
    if fw == tw:
        return x
    hi = vg.Slice(x, fw - 1, tw - 1)
    fits = vg.OrList(hi == _k(0, fw - tw + 1), hi == _k(-1, fw - tw + 1))
    return vg.Mux(fits, vg.Slice(x, tw - 1, 0),
                  vg.Mux(x[fw - 1], _k(1 << (tw - 1), tw), _k((1 << (tw - 1)) - 1, tw)))


def _beat_counter(m, clk, ctr, clear, fire, end) -> None:
    """``ctr`` counts the beats of a word (or row): 0 on ``clear``, and on each
    ``fire`` back to 0 at the word's ``end``, else one up."""
    from veriloggen import If, Posedge
    m.Always(Posedge(clk))(If(clear)(ctr(0)).Elif(fire)(If(end)(ctr(0)).Else(ctr(ctr + 1))))


def _held_beats(m, clk, name: str, n: int, ctr, fire, beat, bits: int) -> list:
    """Registers ``<name><j>_q`` (j < n) that keep a word's beat j (``bits`` wide) when
    it fires with ``ctr`` at j: the beats before a word's last one."""
    from veriloggen import AndList, If, Posedge
    held = []
    for j in range(n):
        held.append(m.Reg(f"{name}{j}_q", bits))
        m.Always(Posedge(clk))(If(AndList(fire, ctr == _k(j, ctr.width)))(held[-1](beat)))
    return held


def _in_bank(sel, *writes):
    """``regs[sel] <= value`` for each (regs, value) of ``writes`` (two-entry lists
    of registers, one per bank or buffer half)."""
    from veriloggen import If
    return If(sel)(*[regs[1](v) for regs, v in writes]).Else(*[regs[0](v) for regs, v in writes])


def _chunk(sel, lanes: list, width: int):
    """Lanes ``sel * width .. sel * width + width - 1`` of ``lanes`` (expressions),
    as one word (lane 0 lowest)."""
    from veriloggen import Cat
    n = len(lanes) // width
    return Cat(*reversed([_pick(sel, [lanes[j * width + i] for j in range(n)]) for i in range(width)]))


def _lanes(word, lanes: int, bits: int):
    from veriloggen import Slice
    return [Slice(word, (i + 1) * bits - 1, i * bits) for i in range(lanes)]


def _fit(expr, from_w: int, to_w: int):
    """Zero-extend or truncate an unsigned expression to to_w bits."""
    from veriloggen import Cat, Slice
    if from_w == to_w:
        return expr
    return Cat(_k(0, to_w - from_w), expr) if to_w > from_w else Slice(expr, to_w - 1, 0)


def _pad(expr, used: int, width: int):
    from veriloggen import Cat
    return expr if width == used else Cat(_k(0, width - used), expr)


class _PostChunks:
    """The array's output rows through units of ``cfg.post_beat_lanes`` lanes: a
    row is ``n`` beats of theirs (chunk j = lanes j*lanes .. j*lanes + lanes - 1).

    A row buffer (:meth:`row_buffer`) takes each row from the array, so the
    array's drain goes on while the row's beats go out.  Four chunk counters,
    cleared by a segment's start: ``c_in`` (beats of the row into the residual
    or the GELU: the row stays until the last), ``c_b`` (beats of the
    residual's b word, a stream of its own: the word stays until the last;
    with the residual's operands joined it equals ``c_in``), ``c_mid`` (GELU
    out, requant in: selects the requant's multipliers) and ``c_out`` (beats
    out of the residual or the requant, collected into a whole row).
    With one chunk a row (post_lanes 0 or array) everything passes through and no
    logic is added.
    """

    def __init__(self, m, cfg, clk, rst, seg_start):
        self.m, self.clk, self.rst, self.seg_start = m, clk, rst, seg_start
        self.n, self.lanes = cfg.post_chunks, cfg.post_beat_lanes
        self.width = max(1, emit.clog2(self.n))
        names = ("post_in_chunk_q", "post_b_chunk_q", "post_mid_chunk_q", "post_out_chunk_q")
        self.c_in, self.c_b, self.c_mid, self.c_out = (
            (m.Reg(n, self.width) for n in names) if self.n > 1 else (None,) * 4)

    def row_buffer(self, mm: dict, lanes: list, bits: int, post_pass):
        """The array's output row (``mm``: its m_axis wires; ``lanes``: its
        ``bits``-bit lanes) as the post-op units see it: (valid, lanes, tlast).
        With several chunks a row, a register taken from the array whenever it is
        free or its last chunk goes (``array_ready``), so the array drains its next
        row while this one's beats go out."""
        from veriloggen import AndList, If, Not, OrList, Posedge
        if self.n == 1:
            self.array_ready = None
            return mm["tvalid"], lanes, mm["tlast"]
        m, w = self.m, len(lanes) * bits
        valid, word, last = m.Reg("post_row_valid_q"), m.Reg("post_row_q", w), m.Reg("post_row_last_q")
        self.take = m.Wire("post_row_take")     # its last chunk goes (count())
        self.array_ready = m.Wire("post_row_free")
        m.Assign(self.array_ready(OrList(Not(valid), self.take)))
        load = AndList(mm["tvalid"], self.array_ready, post_pass)
        m.Always(Posedge(self.clk))(
            If(OrList(self.rst, self.seg_start))(valid(0)).Elif(load)(
                valid(1), word(mm["tdata"]), last(mm["tlast"])).Elif(self.take)(valid(0)))
        row = []
        for c, x in enumerate(_lanes(word, len(lanes), bits)):
            row.append(m.Wire(f"post_row{c}", bits))
            m.Assign(row[-1](x))
        return valid, row, last

    def at_last(self, ctr, cond):
        """``cond`` and the counter at a row's last chunk."""
        from veriloggen import AndList
        return cond if self.n == 1 else AndList(cond, ctr == _k(self.n - 1, self.width))

    def chunk(self, ctr, lanes: list, whole=None):
        """The beat of the chunk ``ctr`` selects from a row's ``lanes`` (expressions);
        ``whole``, if given, is the row as one word (used as it is with one chunk)."""
        if self.n == 1 and whole is not None:
            return whole
        return _chunk(ctr, lanes, self.lanes)

    def collect(self, name: str, fire, beat, bits: int):
        """The whole row once its last chunk's ``beat`` (``bits`` wide) fires: the earlier chunks are
        held in registers ``post_<name>_chunk<j>_q``."""
        from veriloggen import Cat
        if self.n == 1:
            return beat
        held = _held_beats(self.m, self.clk, f"post_{name}_chunk", self.n - 1, self.c_out, fire, beat,
                           bits)
        return Cat(beat, *reversed(held))

    def count(self, in_fire, b_fire, mid_fire, out_fire) -> None:
        from veriloggen import OrList
        if self.n == 1:
            return
        self.m.Assign(self.take(self.at_last(self.c_in, in_fire)))
        for ctr, fire in ((self.c_in, in_fire), (self.c_b, b_fire), (self.c_mid, mid_fire),
                          (self.c_out, out_fire)):
            _beat_counter(self.m, self.clk, ctr, OrList(self.rst, self.seg_start), fire,
                          ctr == _k(self.n - 1, self.width))


def build(cfg):
    """The Veriloggen module ``qbert_encoder`` of an EncoderConfig (units as stubs)."""
    import veriloggen as vg
    from veriloggen import AndList, Cat, If, Module, Mux, Not, OrList, Posedge, Slice, StubModule

    A, D, F, NH, DH, SM = cfg.array, cfg.hidden, cfg.ffn, cfg.heads, cfg.head_dim, cfg.max_seq
    GM, DW, FW, DHW = SM // A, D // A, F // A, DH // A
    sh = cfg.stream_shape
    WBITS, BW = cfg.weight_bits, sh.beat_bytes * 8
    mc, sc, lc, gc = cfg.matmul, cfg.softmax, cfg.layernorm, cfg.gelu
    rqc = cfg.requant
    OB = mc.out_bits
    PA = cfg.post_beat_lanes     # lanes of the residual, GELU and requant units
    SW = SM.bit_length()
    GB, DWB, FWB, LB = emit.clog2(GM), emit.clog2(DW), emit.clog2(FW), emit.clog2(A)
    KB = cfg.k_max.bit_length()
    KWB = max(emit.clog2(cfg.k_max // A + 1), GB, emit.clog2(DHW + 1))
    TB = max(emit.clog2(GM + 1), emit.clog2(DHW + 1), emit.clog2(FW + 1))
    HB = emit.clog2(NH + 1)
    rb = sh.record_beats
    REC = {"hdr": rb(22), "scal": rb(32), "prm": rb(20 * A), "ln": rb(8 * A)}
    SRB = max(REC.values()) * BW

    m = Module(TOP)
    k = _k
    drv = _Drivers(m)
    clk, rst = m.Input("clk"), m.Input("rst")
    start = m.Input("start_i")
    seq_len = m.Input("seq_len_i", SW)
    busy_o, done_o = m.Output("busy_o"), m.Output("done_o")
    err_seq_o, err_hdr_o = m.Output("err_seq_o"), m.Output("err_hdr_o")
    err_short_o, err_long_o = m.Output("err_w_short_o"), m.Output("err_w_long_o")
    err_unit_o = m.Output("err_unit_o")
    x_tdata, x_tvalid = m.Input("s_axis_x_tdata", A * ACT), m.Input("s_axis_x_tvalid")
    x_tready, x_tlast = m.Output("s_axis_x_tready"), m.Input("s_axis_x_tlast")
    w_tdata, w_tvalid = m.Input("s_axis_w_tdata", BW), m.Input("s_axis_w_tvalid")
    w_tready, w_tlast = m.Output("s_axis_w_tready"), m.Input("s_axis_w_tlast")
    y_tdata, y_tvalid = m.Output("m_axis_y_tdata", A * ACT), m.Output("m_axis_y_tvalid")
    y_tready, y_tlast = m.Input("m_axis_y_tready"), m.Output("m_axis_y_tlast")
    unused = [x_tlast]

    def reg(name, width=1):
        return m.Reg(name, width)

    def wire(name, width, expr):
        w = m.Wire(name, width)
        m.Assign(w(expr))
        return w

    ph = reg("phase_q", emit.clog2(len(PHASES)))
    lin = reg("linear_q", 3)
    lst = reg("lin_step_q", 2)
    is_ph = {name: wire(f"ph_{name.lower()}", 1, ph == k(i, ph.width)) for name, i in PH.items()}
    is_lin = {name: wire(f"is_lin_{name}", 1, lin == k(i, 3)) for name, i in LIN.items()}
    in_lin = is_ph["LIN"]
    in_att = wire("ph_att", 1, OrList(is_ph["QK"], is_ph["PV"]))
    step = {name: wire(f"step_{name.lower()}", 1, AndList(in_lin, lst == k(i, 2)))
            for name, i in LS.items()}

    seq = reg("seq_q", SW)
    groups = reg("groups_q", TB)        # ceil(S / A), set when X is loaded
    last_n = reg("last_rows_q", LB + 1)  # tokens in the last group (1..A)
    done_q = reg("done_q")
    errs = {n: reg(f"err_{n}_q") for n in ("seq", "hdr", "short", "long")}

    # ---- buffers ---------------------------------------------------------
    def buf(name, lane_bits, word_bits_field, lanes=A):
        return _Buf(m, clk, drv, name, A, lanes, lane_bits, GB + word_bits_field)

    X, Q, K, V, C, H1 = (buf(n, ACT, DWB) for n in ("x", "q", "k", "v", "c", "h1"))
    G = buf("g", ACT, FWB)
    R = buf("r", SCORE, DWB)
    # the scores and the probabilities of two attention items (head, row group):
    # Q K^T writes one item's while the softmax reads the item before's, and the
    # softmax writes one item's while P V reads the item before's
    S = _Buf(m, clk, drv, "s", A, A, SCORE, GB + 1)
    P = _Buf(m, clk, drv, "p", A, A, ACT, GB + 1)

    # ---- weight stream: records shift into sr; weight rows go to wbuf -----
    w_fire = wire("w_fire", 1, AndList(w_tvalid, w_tready))
    sr = reg("sr_q", SRB)
    sr_next = wire("sr_next", SRB, Cat(w_tdata, Slice(sr, SRB - 1, BW)) if SRB > BW else w_tdata)
    rec_cnt = reg("rec_beat_q", emit.clog2(max(REC.values()) + 1))
    w_cnt = reg("w_beats_q", 32)
    total = sh.total_beats
    m.Always(Posedge(clk))(If(w_fire)(sr(sr_next)))
    unused.append(Slice(sr, BW - 1, 0))   # the oldest beat: shifted out by the next one

    def rec_bits(name, offset, bits):
        """The low ``bits`` bits of the little-endian field at byte ``offset`` of the
        record ``name`` completed by this beat (sr_next)."""
        lo = SRB - REC[name] * BW + 8 * offset
        return Slice(sr_next, lo + bits - 1, lo)

    rec_end = {n: wire(f"rec_end_{n}", 1, rec_cnt == k(REC[n] - 1, rec_cnt.width)) for n in REC}
    # two weight blocks: the loader fills bank lb while the array reads bank cb
    KWB2 = emit.clog2(cfg.k_max)
    wbuf = m.Reg("wbuf_mem", A * WBITS, dims=2 << KWB2)
    wk = reg("wbuf_wr_k_q", KB)
    lb, cb = reg("load_bank_q"), reg("compute_bank_q")
    full = [reg(f"wbuf_full{i}_q") for i in range(2)]
    ld_w = reg("load_weights_q")               # 0: the block's PRM record, 1: its K rows
    # the loader runs ahead of the array across passes: the linear it loads and
    # that linear's blocks loaded (LOADED once the down projection's are all in)
    ld_lin = reg("load_linear_q", 3)
    ld_blk = reg("load_blocks_q", max(DWB, FWB) + 1)

    # ---- sequencer registers ---------------------------------------------
    nblk = reg("blk_q", max(DWB, FWB) + 1)  # column block on the array (its tiles issued)
    dblk = reg("drain_blk_q", nblk.width)    # column block being drained (written)
    head = reg("head_q", HB)
    hoff = reg("head_word_q", DWB + 1)      # head * DH / A: the head's first word
    g_att = reg("att_group_q", TB)
    pv_hoff, pv_g = reg("pv_head_word_q", DWB + 1), reg("pv_group_q", TB)   # the P V item's
    pv_last = wire("pv_last_item", 1, AndList(pv_hoff == k((NH - 1) * DHW, DWB + 1),
                                             pv_g + k(1, TB) == groups))
    qk_par, sm_par, pv_par = reg("qk_par_q"), reg("sm_par_q"), reg("pv_par_q")
    s_full = [reg(f"s_full{i}_q") for i in range(2)]   # an item's scores, not yet softmaxed
    p_full = [reg(f"p_full{i}_q") for i in range(2)]   # an item's probabilities, not yet in P V
    att_first, qk_all = reg("att_first_q"), reg("qk_all_done_q")
    # the segment being written (the array runs the next beside it): P V, else
    # Q K^T; its scores' half; its context address; segments fed, not yet written
    d_pv, d_par = reg("att_drain_pv_q"), reg("att_drain_par_q")
    d_hoff, d_g = reg("att_drain_head_word_q", DWB + 1), reg("att_drain_group_q", GB)
    att_n = reg("att_inflight_q", 2)
    sm_on, sm_pulse = reg("sm_on_q"), reg("sm_start_q")
    which_ln = reg("which_ln_q")
    seg_start = m.Wire("seg_start")
    # a linear pass's later blocks restart only the feed: the drain side still
    # holds the block before
    blk_start = m.Wire("blk_start")
    feed_start = wire("feed_start", 1, OrList(seg_start, blk_start))

    lin_k = wire("lin_k", KB, Mux(is_lin["down"], k(F, KB), k(D, KB)))
    lin_blocks = wire("lin_blocks", nblk.width, Mux(is_lin["up"], k(FW, nblk.width), k(DW, nblk.width)))
    ld_is = {name: ld_lin == k(i, 3) for name, i in LIN.items()}
    ld_k = wire("load_k", KB, Mux(ld_is["down"], k(F, KB), k(D, KB)))
    ld_blocks = wire("load_blocks", nblk.width, Mux(ld_is["up"], k(FW, nblk.width), k(DW, nblk.width)))
    seg_k = wire("seg_k", KB, Mux(in_lin, lin_k, Mux(is_ph["QK"], k(DH, KB), _fit(seq, SW, KB))))
    seg_tiles = wire("seg_tiles", TB, Mux(is_ph["PV"], k(DHW, TB), groups))

    # block parameters (PRM record) per weight bank: bias, mult, shift, post mult and
    # shift per lane; `blk`'s bias, mult and shift are the compute bank's (the
    # matmul takes them with the block's tiles), its post multipliers the drain
    # bank's (the block whose rows are in the post-op units)
    fields = (("bias", mc.bias_bits), ("mult", MULT_BITS), ("shift", SHIFT_BITS),
              ("pmult", MULT_BITS), ("pshift", SHIFT_BITS))
    banked = [{f: [reg(f"blk{i}_{f}{c}_q", w) for c in range(A)] for f, w in fields}
              for i in range(2)]
    prm_latch = [[banked[i][f][c](rec_bits("prm", 4 * (fi * A + c), w))
                  for fi, (f, w) in enumerate(fields) for c in range(A)] for i in range(2)]
    db = reg("drain_bank_q")
    blk = {f: [wire(f"blk_{f}{c}", w, Mux(db if f.startswith("p") else cb, banked[1][f][c],
                                          banked[0][f][c]))
               for c in range(A)] for f, w in fields}
    scal = {n: reg(f"{n}_q", w) for n, w in
            (("scores_mult", MULT_BITS), ("scores_shift", SHIFT_BITS), ("ctx_mult", MULT_BITS),
             ("ctx_shift", SHIFT_BITS), ("ln1_mult", MULT_BITS), ("ln1_shift", SHIFT_BITS),
             ("ln2_mult", MULT_BITS), ("ln2_shift", SHIFT_BITS))}
    scal_latch = [r(rec_bits("scal", 4 * i, r.width))
                  for i, r in enumerate(scal.values())]

    hdr_expect = [(0, 4, int.from_bytes(MAGIC, "little")), (4, 2, VERSION), (8, 2, D),
                  (10, 2, NH), (12, 2, F), (14, 2, A), (16, 1, WBITS), (18, 4, total)]
    hdr_bad = wire("hdr_bad", 1, OrList(*[rec_bits("hdr", o, 8 * n) != k(v, 8 * n)
                                          for o, n, v in hdr_expect]))

    # ---- X load -----------------------------------------------------------
    x_w, x_r, x_g = reg("x_word_q", DWB), reg("x_row_q", LB), reg("x_group_q", TB)
    x_tok = reg("x_tokens_q", SW)
    m.Assign(x_tready(is_ph["LOADX"]))
    x_fire = wire("x_fire", 1, AndList(x_tvalid, x_tready))
    x_end = wire("x_end", 1, AndList(x_fire, x_w == k(DW - 1, DWB), x_tok + k(1, SW) == seq))
    drv.drive(X.we, is_ph["LOADX"], x_fire)
    drv.drive(X.wbank, is_ph["LOADX"], x_r)
    drv.drive(X.waddr, is_ph["LOADX"], Cat(Slice(x_g, GB - 1, 0), x_w))
    drv.drive(X.wdata, is_ph["LOADX"], x_tdata)
    m.Always(Posedge(clk))(
        If(OrList(rst, is_ph["IDLE"]))(x_w(0), x_r(0), x_g(0), x_tok(0)).Elif(x_fire)(
            If(x_w == k(DW - 1, DWB))(
                x_w(0), x_tok(x_tok + 1),
                If(x_r == k(A - 1, LB))(x_r(0), x_g(x_g + 1)).Else(x_r(x_r + 1)))
            .Else(x_w(x_w + 1))))
    m.Always(Posedge(clk))(If(x_end)(groups(x_g + 1), last_n(Cat(k(0, 1), x_r) + 1)))

    # ---- matmul feed -----------------------------------------------------
    f_valid, f_last = reg("feed_valid_q"), reg("feed_last_q")
    f_lane = reg("feed_lane_q", LB)
    f_t, f_kw, f_kl, f_k = reg("feed_tile_q", TB), reg("feed_word_q", KWB), reg("feed_lane_ctr_q", LB), reg("feed_k_q", KB)
    f_done = reg("feed_done_q")
    act_ready = m.Wire("mm_act_tready")
    # not in a segment's first cycle: the counters (and so the read address) are
    # still the last segment's until its start pulse clears them, and a read
    # there, though never used, would read an address this segment never wrote
    pv_ready = wire("pv_ready", 1, _pick(pv_par, p_full))
    f_run = wire("feed_run", 1, AndList(OrList(step["TILES"], is_ph["QK"], AndList(is_ph["PV"], pv_ready)),
                                        Not(f_done), Not(feed_start)))
    f_adv = wire("feed_adv", 1, OrList(Not(f_valid), act_ready))
    f_go = wire("feed_go", 1, AndList(f_adv, f_run))
    k_end = wire("feed_k_end", 1, f_k + k(1, KB) == seg_k)
    m.Always(Posedge(clk))(
        If(OrList(rst, feed_start))(f_valid(0), f_t(0), f_kw(0), f_kl(0), f_k(0), f_done(0))
        .Elif(f_adv)(
            f_valid(f_run), f_last(k_end), f_lane(f_kl),
            If(f_run)(
                If(k_end)(
                    f_k(0), f_kw(0), f_kl(0), f_t(f_t + 1),
                    If(f_t + k(1, TB) == seg_tiles)(f_done(1)))
                .Else(
                    f_k(f_k + 1),
                    If(f_kl == k(A - 1, LB))(f_kl(0), f_kw(f_kw + 1)).Else(f_kl(f_kl + 1))))))
    wbuf_q = reg("wbuf_rd_q", A * WBITS)
    m.Always(Posedge(clk))(If(AndList(f_go, in_lin))(wbuf_q(wbuf[Cat(cb, Slice(f_k, KWB2 - 1, 0))])))

    t_g = Slice(f_t, GB - 1, 0)
    kw_d = Slice(f_kw, DWB - 1, 0)
    src = {"q": X, "k": X, "v": X, "out": C, "up": H1, "down": G}
    for name, bf in (("x", X), ("c", C), ("h1", H1)):
        lins = [n for n, s in src.items() if s is bf]
        cond = AndList(in_lin, OrList(*[is_lin[n] for n in lins]))
        drv.drive(bf.rd_addr, cond, Cat(t_g, kw_d))
        drv.drive(bf.rd_en, cond, f_go)
    drv.drive(G.rd_addr, AndList(in_lin, is_lin["down"]), Cat(t_g, Slice(f_kw, FWB - 1, 0)))
    drv.drive(G.rd_en, AndList(in_lin, is_lin["down"]), f_go)
    def low(name, expr, full_w, w):
        """The low w bits of a full_w-bit expression (through a wire: Slice needs one)."""
        full = wire(name, full_w, expr)
        unused.append(Slice(full, full_w - 1, w))    # the sum never exceeds w bits here
        return Slice(full, w - 1, 0)

    hw = low("head_word", hoff + _fit(f_kw, KWB, DWB + 1), DWB + 1, DWB)
    drv.drive(Q.rd_addr, is_ph["QK"], Cat(Slice(g_att, GB - 1, 0), hw))
    drv.drive(Q.rd_en, is_ph["QK"], f_go)
    drv.drive(K.rd_addr, is_ph["QK"], Cat(t_g, hw))
    drv.drive(K.rd_en, is_ph["QK"], f_go)
    drv.drive(P.rd_addr, is_ph["PV"], Cat(pv_par, Slice(f_kw, GB - 1, 0)))
    drv.drive(P.rd_en, is_ph["PV"], f_go)
    hb = low("head_block", pv_hoff + _fit(f_t, TB, DWB + 1), DWB + 1, DWB)
    drv.drive(V.rd_addr, is_ph["PV"], Cat(Slice(f_kw, GB - 1, 0), hb))
    drv.drive(V.rd_en, is_ph["PV"], f_go)

    def col(bf, r):
        return bf.lane(r, f_lane)

    lin_act = [_pick(lin, [col(src[n], r) for n in LINEARS]) for r in range(A)]
    wrow = [emit.sext(wire(f"wgt_row{c}", WBITS, w), WBITS, ACT)
            for c, w in enumerate(_lanes(wbuf_q, A, WBITS))]
    act = [Mux(in_lin, lin_act[r], Mux(is_ph["QK"], col(Q, r), col(P, r))) for r in range(A)]
    v_row = _lanes(wire("v_row", A * ACT, V.bank(f_lane)), A, ACT)
    wgt = [Mux(in_lin, wrow[c], Mux(is_ph["QK"], col(K, c), v_row[c])) for c in range(A)]
    act_w = wire("mm_act", A * ACT, Cat(*reversed(act)))
    wgt_w = wire("mm_wgt", mc.wgt_word_bits, _pad(Cat(*reversed(wgt)), A * ACT, mc.wgt_word_bits))

    # one parameter beat per tile, in tile order
    prm_cnt = reg("prm_tiles_q", TB)
    prm_ready = m.Wire("mm_prm_tready")
    # not in a segment's first cycle: the count still belongs to the previous segment
    prm_valid = wire("mm_prm_tvalid", 1, AndList(OrList(step["TILES"], step["DRAIN"], is_ph["QK"],
                                                        AndList(is_ph["PV"], pv_ready)), prm_cnt != seg_tiles,
                                                 Not(feed_start)))
    m.Always(Posedge(clk))(If(OrList(rst, feed_start))(prm_cnt(0)).Elif(
        AndList(prm_valid, prm_ready))(prm_cnt(prm_cnt + 1)))
    PF, PL = mc.prm_field_bits, mc.prm_lane_bits

    def prm_lane(shift, mult, bias):
        return _pad(Cat(shift, mult, bias), PF, PL)

    zero_bias = k(0, mc.bias_bits)
    prm_lanes = [Mux(in_lin, prm_lane(blk["shift"][c], blk["mult"][c], blk["bias"][c]),
                     Mux(is_ph["QK"], prm_lane(scal["scores_shift"], scal["scores_mult"], zero_bias),
                         prm_lane(scal["ctx_shift"], scal["ctx_mult"], zero_bias)))
                 for c in range(A)]
    prm_w = wire("mm_prm", A * PL, Cat(*reversed(prm_lanes)))

    mm = {n: m.Wire(f"mm_out_{n}", w) for n, w in (("tdata", A * OB), ("tvalid", 1),
                                                      ("tready", 1), ("tlast", 1))}
    mm_wgt_ready, mm_err = m.Wire("mm_wgt_tready"), m.Wire("mm_err_tlast")
    unused.append(mm_wgt_ready)
    m.Instance(StubModule(matmul.TOP), "u_matmul", ports=[
        ("clk", clk), ("rst", rst),
        ("s_axis_act_tdata", act_w), ("s_axis_act_tvalid", f_valid),
        ("s_axis_act_tready", act_ready), ("s_axis_act_tlast", f_last),
        ("s_axis_wgt_tdata", wgt_w), ("s_axis_wgt_tvalid", f_valid),
        ("s_axis_wgt_tready", mm_wgt_ready), ("s_axis_wgt_tlast", f_last),
        # a mixed array: Q K^T and P V are int8 beats, the linear layers' int4
        *([("s_axis_wgt_tuser", wire("mm_wgt_tuser", 1, Not(in_lin)))] if mc.mixed else []),
        ("s_axis_prm_tdata", prm_w), ("s_axis_prm_tvalid", prm_valid),
        ("s_axis_prm_tready", prm_ready),
        ("m_axis_tdata", mm["tdata"]), ("m_axis_tvalid", mm["tvalid"]),
        ("m_axis_tready", mm["tready"]), ("m_axis_tlast", mm["tlast"]),
        ("err_tlast_o", mm_err)])
    mm_lanes = [wire(f"mm_out{c}", OB, x) for c, x in enumerate(_lanes(mm["tdata"], A, OB))]
    mm_fire = wire("mm_fire", 1, AndList(mm["tvalid"], mm["tready"]))

    # ---- destination rows: counted for every pass that writes tiles -------
    # (a linear pass counts each block's tiles: its last row written drains the block)
    wr_r, wr_t = reg("dst_row_q", LB), reg("dst_tile_q", TB)
    dst_fire = m.Wire("dst_fire")
    blk_drained = wire("blk_drained", 1, AndList(in_lin, dst_fire, wr_r == k(A - 1, LB),
                                                 wr_t + k(1, TB) == seg_tiles))
    # (an attention segment's tiles: the one being written, not the one fed)
    att_drained = wire("att_seg_drained", 1, AndList(in_att, dst_fire, wr_r == k(A - 1, LB), wr_t + k(1, TB) == Mux(
        d_pv, k(DHW, TB), groups)))
    # the attention's segments overlap: their start pulses leave the counts alone
    m.Always(Posedge(clk))(If(OrList(rst, AndList(seg_start, Not(in_att))))(wr_r(0), wr_t(0)).Elif(dst_fire)(
        If(wr_r == k(A - 1, LB))(wr_r(0), If(OrList(blk_drained, att_drained))(wr_t(0)).Else(wr_t(wr_t + 1)))
        .Else(wr_r(wr_r + 1))))
    sat8 = wire("mm_sat8", A * ACT, Cat(*reversed([_sat(x, OB, ACT) for x in mm_lanes])))
    sat16 = wire("mm_sat16", A * SCORE, Cat(*reversed([_sat(x, OB, SCORE) for x in mm_lanes])))
    n_d = Slice(dblk, DWB - 1, 0)
    wr_g = Slice(wr_t, GB - 1, 0)
    direct_lin = wire("lin_direct", 1, AndList(in_lin, OrList(is_lin["q"], is_lin["k"], is_lin["v"])))
    for name, bf in (("q", Q), ("k", K), ("v", V)):
        c_ = AndList(in_lin, is_lin[name])
        drv.drive(bf.we, c_, mm_fire)
        drv.drive(bf.wbank, c_, wr_r)
        drv.drive(bf.waddr, c_, Cat(wr_g, n_d))
        drv.drive(bf.wdata, c_, sat8)
    wr_s, wr_c = AndList(in_att, Not(d_pv)), AndList(in_att, d_pv)
    drv.drive(S.we, wr_s, mm_fire)
    drv.drive(S.wbank, wr_s, wr_r)
    drv.drive(S.waddr, wr_s, Cat(d_par, wr_g))
    drv.drive(S.wdata, wr_s, sat16)
    ctx_word = low("ctx_word", d_hoff + _fit(wr_t, TB, DWB + 1), DWB + 1, DWB)
    drv.drive(C.we, wr_c, mm_fire)
    drv.drive(C.wbank, wr_c, wr_r)
    drv.drive(C.waddr, wr_c, Cat(d_g, ctx_word))
    drv.drive(C.wdata, wr_c, sat8)

    # residual (out, down): a = the matmul's 17-bit rows, b = X / H1 rows in the same order
    res_lin = wire("lin_residual", 1, AndList(in_lin, OrList(is_lin["out"], is_lin["down"])))
    post_lin = wire("lin_post", 1, OrList(res_lin, AndList(in_lin, is_lin["up"])))
    # into the post-op units one block at a time (their multipliers are the drain
    # bank's): once a block's last row has left the array, the next block's rows
    # wait until it is written
    mo_t, hold = reg("mm_out_tile_q", TB), reg("mm_hold_q")
    blk_out = wire("mm_blk_out", 1, AndList(post_lin, mm_fire, mm["tlast"], mo_t + k(1, TB) == groups))
    m.Always(Posedge(clk))(
        If(OrList(rst, seg_start))(mo_t(0), hold(0)).Else(
            If(AndList(in_lin, mm_fire, mm["tlast"]))(
                If(mo_t + k(1, TB) == groups)(mo_t(0)).Else(mo_t(mo_t + 1))),
            If(blk_drained)(hold(0)).Elif(blk_out)(hold(1))))
    mm_offer = dict(mm, tvalid=wire("mm_out_offered", 1, AndList(mm["tvalid"], Not(hold))))
    post = _PostChunks(m, cfg, clk, rst, seg_start)
    row_valid, row_lanes, row_last = post.row_buffer(mm_offer, mm_lanes, OB, post_lin)
    b_valid, b_bank = reg("res_b_valid_q"), reg("res_b_bank_q", LB)
    b_r, b_t = reg("res_b_row_q", LB), reg("res_b_tile_q", TB)
    b_blk = reg("res_b_blk_q", nblk.width)
    b_ready = m.Wire("res_b_tready")
    # not in the pass's first WAIT: the counters are the last pass's until its start pulse
    b_run = wire("res_b_run", 1, AndList(res_lin, OrList(step["TILES"], step["DRAIN"],
                                                         AndList(step["WAIT"], nblk != k(0, nblk.width))),
                                         b_blk != lin_blocks, Not(seg_start)))
    # the b word goes to the residual in post.n beats and stays until the last
    b_adv = wire("res_b_adv", 1, OrList(Not(b_valid), post.at_last(post.c_b, b_ready)))
    m.Always(Posedge(clk))(
        If(OrList(rst, seg_start))(b_valid(0), b_r(0), b_t(0), b_blk(0)).Elif(b_adv)(
            b_valid(b_run), b_bank(b_r),
            If(b_run)(If(b_r == k(A - 1, LB))(
                b_r(0), If(b_t + k(1, TB) == groups)(b_t(0), b_blk(b_blk + 1)).Else(b_t(b_t + 1)))
                .Else(b_r(b_r + 1)))))
    for bf, name in ((X, "out"), (H1, "down")):
        c_ = AndList(in_lin, is_lin[name])
        drv.drive(bf.rd_addr, c_, Cat(Slice(b_t, GB - 1, 0), Slice(b_blk, DWB - 1, 0)))
        drv.drive(bf.rd_en, c_, AndList(b_adv, b_run))
    res_b = wire("res_b", A * ACT, Mux(is_lin["out"], X.bank(b_bank), H1.bank(b_bank)))
    res_prm = wire("res_prm", PA * residual.PRM_LANE_BITS, post.chunk(post.c_in, [
        _pad(Cat(blk["pshift"][c], blk["pmult"][c], k(30, SHIFT_BITS), k(ONE_30, MULT_BITS)),
             2 * requant.PRM_FIELD_BITS, residual.PRM_LANE_BITS) for c in range(A)]))
    res_out = {n: m.Wire(f"res_out_{n}", w) for n, w in (("tdata", emit.bytes_width(PA * SCORE)),
                                                         ("tvalid", 1), ("tlast", 1))}
    res_a_ready, res_prm_ready = m.Wire("res_a_tready"), m.Wire("res_prm_tready")
    unused.extend([res_prm_ready, res_out["tlast"]])
    m.Instance(StubModule(residual.TOP), "u_residual", ports=[
        ("clk", clk), ("rst", rst),
        ("s_axis_a_tdata", _pad(post.chunk(post.c_in, row_lanes, mm["tdata"]), PA * OB,
                                emit.bytes_width(PA * OB))),
        ("s_axis_a_tvalid", AndList(row_valid, res_lin)),
        ("s_axis_a_tready", res_a_ready), ("s_axis_a_tlast", post.at_last(post.c_in, row_last)),
        ("s_axis_b_tdata", post.chunk(post.c_b, _lanes(res_b, A, ACT), res_b)),
        ("s_axis_b_tvalid", b_valid), ("s_axis_b_tready", b_ready),
        ("s_axis_prm_tdata", res_prm), ("s_axis_prm_tvalid", res_lin),
        ("s_axis_prm_tready", res_prm_ready),
        ("m_axis_tdata", res_out["tdata"]), ("m_axis_tvalid", res_out["tvalid"]),
        ("m_axis_tready", k(1, 1)), ("m_axis_tlast", res_out["tlast"])])
    res_fire = wire("res_fire", 1, AndList(res_out["tvalid"], res_lin))
    res_row = post.at_last(post.c_out, res_fire)
    drv.drive(R.we, res_lin, res_row)
    drv.drive(R.wbank, res_lin, wr_r)
    drv.drive(R.waddr, res_lin, Cat(wr_g, n_d))
    drv.drive(R.wdata, res_lin, post.collect("r", res_fire, Slice(res_out["tdata"], PA * SCORE - 1, 0),
                                                PA * SCORE))

    # up: sat16 -> GELU -> requant (the block's post multipliers) -> G
    up_lin = wire("lin_up_pass", 1, AndList(in_lin, is_lin["up"]))
    ge = {n: m.Wire(f"gelu_out_{n}", w) for n, w in (("tdata", gc.out_word_bits), ("tvalid", 1),
                                                      ("tready", 1), ("tlast", 1))}
    ge_ready = m.Wire("gelu_in_tready")
    m.Instance(StubModule(gelu.TOP), "u_gelu", ports=[
        ("clk", clk), ("rst", rst),
        ("s_axis_tdata", _pad(post.chunk(post.c_in, [_sat(x, OB, SCORE) for x in row_lanes], sat16),
                              PA * SCORE, gc.in_word_bits)),
        ("s_axis_tvalid", AndList(row_valid, up_lin)), ("s_axis_tready", ge_ready),
        ("s_axis_tlast", post.at_last(post.c_in, row_last)),
        ("m_axis_tdata", ge["tdata"]), ("m_axis_tvalid", ge["tvalid"]),
        ("m_axis_tready", ge["tready"]), ("m_axis_tlast", ge["tlast"])])
    rq_prm = wire("rq_prm", PA * requant.PRM_LANE_BITS, post.chunk(post.c_mid, [
        _pad(Cat(blk["pshift"][c], blk["pmult"][c]), requant.PRM_FIELD_BITS, requant.PRM_LANE_BITS)
        for c in range(A)]))
    rq_out = {n: m.Wire(f"rq_out_{n}", w) for n, w in (("tdata", emit.bytes_width(PA * ACT)),
                                                       ("tvalid", 1), ("tlast", 1))}
    rq_prm_ready = m.Wire("rq_prm_tready")
    unused.extend([rq_prm_ready, rq_out["tlast"]])
    m.Instance(StubModule(requant.TOP), "u_requant", ports=[
        ("clk", clk), ("rst", rst),
        ("s_axis_tdata", _pad(Slice(ge["tdata"], PA * gc.out_bits - 1, 0), PA * gc.out_bits,
                              emit.bytes_width(PA * rqc.acc_bits))),
        ("s_axis_tvalid", ge["tvalid"]), ("s_axis_tready", ge["tready"]),
        ("s_axis_tlast", ge["tlast"]),
        ("s_axis_prm_tdata", rq_prm), ("s_axis_prm_tvalid", up_lin),
        ("s_axis_prm_tready", rq_prm_ready),
        ("m_axis_tdata", rq_out["tdata"]), ("m_axis_tvalid", rq_out["tvalid"]),
        ("m_axis_tready", k(1, 1)), ("m_axis_tlast", rq_out["tlast"])])
    if gc.out_word_bits > PA * gc.out_bits:
        unused.append(Slice(ge["tdata"], gc.out_word_bits - 1, PA * gc.out_bits))
    rq_fire = wire("rq_fire", 1, AndList(rq_out["tvalid"], up_lin))
    rq_row = post.at_last(post.c_out, rq_fire)
    drv.drive(G.we, up_lin, rq_row)
    drv.drive(G.wbank, up_lin, wr_r)
    drv.drive(G.waddr, up_lin, Cat(wr_g, Slice(dblk, FWB - 1, 0)))
    drv.drive(G.wdata, up_lin, post.collect("g", rq_fire, rq_out["tdata"], PA * ACT))
    post.count(in_fire=AndList(row_valid, OrList(AndList(res_lin, res_a_ready), AndList(up_lin, ge_ready))),
               b_fire=AndList(b_valid, b_ready, res_lin),
               mid_fire=AndList(ge["tvalid"], ge["tready"]), out_fire=OrList(res_fire, rq_fire))

    if post.array_ready is None:
        m.Assign(mm["tready"](Mux(res_lin, AndList(res_a_ready, Not(hold)),
                                  Mux(up_lin, AndList(ge_ready, Not(hold)), k(1, 1)))))
    else:
        m.Assign(mm["tready"](Mux(post_lin, AndList(post.array_ready, Not(hold)), k(1, 1))))
    m.Assign(dst_fire(Mux(res_lin, res_row, Mux(up_lin, rq_row,
                                                     AndList(mm_fire, OrList(direct_lin, in_att))))))

    # ---- softmax over an item's A score rows, beside the array ------------
    # (sm_on: an item's rows in the softmax; sm_start: its start pulse)
    sm_start = wire("sm_start", 1, sm_pulse)
    sf_valid, sf_last, sf_bank = reg("sf_valid_q"), reg("sf_last_q"), reg("sf_bank_q", LB)
    sf_keep = reg("sf_keep_q", A)
    sf_r, sf_w, sf_done = reg("sf_row_q", LB), reg("sf_word_q", TB), reg("sf_done_q")
    sf_ready = m.Wire("sf_tready")
    sf_run = wire("sf_run", 1, AndList(sm_on, Not(sf_done), Not(sm_start)))
    # a softmax narrower than the array: each score word in beats of SU lanes, the
    # row's last word only as far as its kept lanes (tkeep is contiguous from lane 0)
    SU, NS = sc.lanes, cfg.softmax_chunks
    if NS > 1:
        CSB = emit.clog2(NS)
        sf_c = reg("sf_chunk_q", CSB)
        sf_cend = wire("sf_chunk_end", 1, _pick(sf_c, [AndList(sf_last, Not(sf_keep[(j + 1) * SU]))
                                                     for j in range(NS - 1)] + [k(1, 1)]))
        _beat_counter(m, clk, sf_c, OrList(rst, sm_start), AndList(sf_valid, sf_ready), sf_cend)
        sf_adv = wire("sf_adv", 1, OrList(Not(sf_valid), AndList(sf_ready, sf_cend)))
    else:
        sf_adv = wire("sf_adv", 1, OrList(Not(sf_valid), sf_ready))
    w_end = wire("sf_word_end", 1, sf_w + k(1, TB) == groups)
    keep_last = Cat(*reversed([Cat(k(0, 1), last_n) > k(i, LB + 2) for i in range(A)]))
    m.Always(Posedge(clk))(
        If(OrList(rst, sm_start))(sf_valid(0), sf_r(0), sf_w(0), sf_done(0)).Elif(sf_adv)(
            sf_valid(sf_run), sf_last(w_end), sf_bank(sf_r),
            sf_keep(Mux(w_end, keep_last, k((1 << A) - 1, A))),
            If(sf_run)(
                If(w_end)(sf_w(0), If(sf_r == k(A - 1, LB))(sf_done(1)).Else(sf_r(sf_r + 1)))
                .Else(sf_w(sf_w + 1)))))
    drv.drive(S.rd_addr, sm_on, Cat(sm_par, Slice(sf_w, GB - 1, 0)))
    drv.drive(S.rd_en, sm_on, AndList(sf_adv, sf_run))
    smo = {n: m.Wire(f"sm_out_{n}", w) for n, w in (("tdata", sc.out_word_bits), ("tkeep", SU),
                                                     ("tvalid", 1), ("tlast", 1))}
    sm_err_len, sm_err_keep = m.Wire("sm_err_len"), m.Wire("sm_err_keep")
    unused.append(smo["tkeep"])
    m.Instance(StubModule(softmax.TOP), "u_softmax", ports=[
        ("clk", clk), ("rst", rst),
        *([("s_axis_tdata", S.bank(sf_bank)), ("s_axis_tkeep", sf_keep), ("s_axis_tvalid", sf_valid),
           ("s_axis_tready", sf_ready), ("s_axis_tlast", sf_last)] if NS == 1 else
          [("s_axis_tdata", _chunk(sf_c, _lanes(wire("sf_word", A * SCORE, S.bank(sf_bank)), A, SCORE),
                                   SU)),
           ("s_axis_tkeep", _chunk(sf_c, [sf_keep[i] for i in range(A)], SU)),
           ("s_axis_tvalid", sf_valid), ("s_axis_tready", sf_ready),
           ("s_axis_tlast", AndList(sf_last, sf_cend))]),
        ("m_axis_tdata", smo["tdata"]), ("m_axis_tkeep", smo["tkeep"]),
        ("m_axis_tvalid", smo["tvalid"]), ("m_axis_tready", k(1, 1)),
        ("m_axis_tlast", smo["tlast"]), ("err_len_o", sm_err_len), ("err_keep_o", sm_err_keep)])
    if sc.out_word_bits > SU * sc.out_bits:
        unused.append(Slice(smo["tdata"], sc.out_word_bits - 1, SU * sc.out_bits))
    p_r, p_w, p_rows = reg("p_row_q", LB), reg("p_word_q", GB), reg("p_rows_q", LB + 1)
    p_fire = wire("p_fire", 1, AndList(smo["tvalid"], sm_on))
    p_lanes = [Cat(k(0, ACT - sc.out_bits), x) for x in _lanes(smo["tdata"], SU, sc.out_bits)]
    if NS == 1:
        p_word_end, p_data = p_fire, Cat(*reversed(p_lanes))
    else:
        # the probabilities' beats collected into a word, written at its last beat
        # (the row's last word may end early: its padded keys are never read)
        p_c = reg("p_chunk_q", CSB)
        p_cend = wire("p_chunk_end", 1, OrList(p_c == k(NS - 1, CSB), smo["tlast"]))
        p_word_end = wire("p_word_end", 1, AndList(p_fire, p_cend))
        beat = Cat(*reversed(p_lanes))
        held = _held_beats(m, clk, "p_chunk", NS - 1, p_c, p_fire, beat, SU * ACT)
        _beat_counter(m, clk, p_c, OrList(rst, sm_start), p_fire, p_cend)
        p_data = Cat(beat, *reversed([Mux(p_c == k(j, CSB), beat, h) for j, h in enumerate(held)]))
    p_next = If(smo["tlast"])(p_w(0), p_r(p_r + 1), p_rows(p_rows + 1))
    p_next = p_next.Else(p_w(p_w + 1)) if NS == 1 else p_next.Elif(p_word_end)(p_w(p_w + 1))
    m.Always(Posedge(clk))(If(OrList(rst, sm_start))(p_r(0), p_w(0), p_rows(0)).Elif(p_fire)(p_next))
    drv.drive(P.we, sm_on, p_word_end)
    drv.drive(P.wbank, sm_on, p_r)
    drv.drive(P.waddr, sm_on, Cat(sm_par, p_w))
    drv.drive(P.wdata, sm_on, p_data)

    # ---- LayerNorm: parameters from the LN records, then the S tokens of R --
    # a LayerNorm narrower than the array (NL beats a word of A channels): an LN
    # record's parameters go in NL beats, each token word of R in NL beats, and
    # its output beats are collected into words for H1 and m_axis_y
    LU, NL = lc.lanes, cfg.layernorm_chunks
    CLB = emit.clog2(NL)
    ln_rec = reg("ln_rec_q", DWB + 1)
    ln_pv = reg("ln_prm_valid_q")
    ln_pw = reg("ln_prm_q", lc.prm_word_bits if NL == 1 else A * lc.prm_lane_bits)
    ln_pready = m.Wire("ln_prm_tready")
    ln_mult = Mux(which_ln, scal["ln2_mult"], scal["ln1_mult"])
    ln_shift = Mux(which_ln, scal["ln2_shift"], scal["ln1_shift"])
    ln_lanes = [Cat(rec_bits("ln", 4 * A + 4 * i, lc.beta_bits), rec_bits("ln", 4 * i, lc.gamma_bits))
                for i in range(A)]
    ln_rec_done = wire("ln_rec_done", 1, AndList(is_ph["LNP"], w_fire, rec_end["ln"]))
    if NL == 1:
        ln_word = _pad(Cat(ln_shift, ln_mult, *reversed(ln_lanes)),
                       A * lc.prm_lane_bits + MULT_BITS + SHIFT_BITS, lc.prm_word_bits)
        m.Always(Posedge(clk))(
            If(rst)(ln_pv(0)).Elif(ln_rec_done)(ln_pv(1), ln_pw(ln_word)).Elif(ln_pready)(ln_pv(0)))
        ln_p_fire = wire("ln_prm_fire", 1, AndList(ln_pv, ln_pready))
        ln_p_last = wire("ln_prm_last", 1, ln_rec == k(DW - 1, ln_rec.width))
        ln_rec_step, ln_p_data = ln_p_fire, ln_pw
    else:
        ln_p_fire = wire("ln_prm_fire", 1, AndList(ln_pv, ln_pready))
        ln_pc = reg("ln_prm_chunk_q", CLB)
        ln_pc_end = wire("ln_prm_chunk_end", 1, ln_pc == k(NL - 1, CLB))
        # cleared outside LNP: every LN phase starts at a record's first beat
        _beat_counter(m, clk, ln_pc, OrList(rst, Not(is_ph["LNP"])), ln_p_fire, ln_pc_end)
        m.Always(Posedge(clk))(
            If(rst)(ln_pv(0)).Elif(ln_rec_done)(ln_pv(1), ln_pw(Cat(*reversed(ln_lanes))))
            .Elif(AndList(ln_pready, ln_pc_end))(ln_pv(0)))
        ln_p_last = wire("ln_prm_last", 1, AndList(ln_rec == k(DW - 1, ln_rec.width), ln_pc_end))
        ln_rec_step = wire("ln_prm_record_fire", 1, AndList(ln_p_fire, ln_pc_end))
        ln_p_data = _pad(Cat(ln_shift, ln_mult, _chunk(ln_pc, _lanes(ln_pw, A, lc.prm_lane_bits), LU)),
                         LU * lc.prm_lane_bits + MULT_BITS + SHIFT_BITS, lc.prm_word_bits)

    l_valid, l_last, l_bank = reg("ln_in_valid_q"), reg("ln_in_last_q"), reg("ln_in_bank_q", LB)
    l_w, l_r, l_g, l_tok, l_done = (reg("ln_in_word_q", DWB), reg("ln_in_row_q", LB),
                                    reg("ln_in_group_q", TB), reg("ln_in_tokens_q", SW),
                                    reg("ln_in_done_q"))
    l_ready = m.Wire("ln_in_tready")
    l_run = wire("ln_in_run", 1, AndList(is_ph["LNV"], Not(l_done), Not(seg_start)))
    if NL == 1:
        l_adv = wire("ln_in_adv", 1, OrList(Not(l_valid), l_ready))
        l_data, l_tlast = _pad(R.bank(l_bank), A * SCORE, lc.in_word_bits), l_last
    else:
        l_c = reg("ln_in_chunk_q", CLB)
        l_cend = wire("ln_in_chunk_end", 1, l_c == k(NL - 1, CLB))
        _beat_counter(m, clk, l_c, OrList(rst, seg_start), AndList(l_valid, l_ready), l_cend)
        l_adv = wire("ln_in_adv", 1, OrList(Not(l_valid), AndList(l_ready, l_cend)))
        l_word = wire("ln_in_word", A * SCORE, R.bank(l_bank))
        l_data = _pad(_chunk(l_c, _lanes(l_word, A, SCORE), LU), LU * SCORE, lc.in_word_bits)
        l_tlast = AndList(l_last, l_cend)
    l_wend = wire("ln_in_word_end", 1, l_w == k(DW - 1, DWB))
    m.Always(Posedge(clk))(
        If(OrList(rst, seg_start))(l_valid(0), l_w(0), l_r(0), l_g(0), l_tok(0), l_done(0))
        .Elif(l_adv)(
            l_valid(l_run), l_last(l_wend), l_bank(l_r),
            If(l_run)(
                If(l_wend)(
                    l_w(0), l_tok(l_tok + 1),
                    If(l_tok + k(1, SW) == seq)(l_done(1)),
                    If(l_r == k(A - 1, LB))(l_r(0), l_g(l_g + 1)).Else(l_r(l_r + 1)))
                .Else(l_w(l_w + 1)))))
    drv.drive(R.rd_addr, is_ph["LNV"], Cat(Slice(l_g, GB - 1, 0), l_w))
    drv.drive(R.rd_en, is_ph["LNV"], AndList(l_adv, l_run))
    lo = {n: m.Wire(f"ln_out_{n}", w) for n, w in (("tdata", lc.out_word_bits), ("tvalid", 1),
                                                    ("tready", 1), ("tlast", 1))}
    ln_err = m.Wire("ln_err_len")
    unused.append(lo["tlast"])           # tokens are counted
    m.Instance(StubModule(layernorm.TOP), LN_INSTANCE, ports=[
        ("clk", clk), ("rst", rst),
        ("s_axis_tdata", l_data),
        ("s_axis_tvalid", l_valid), ("s_axis_tready", l_ready), ("s_axis_tlast", l_tlast),
        ("s_axis_prm_tdata", ln_p_data), ("s_axis_prm_tvalid", ln_pv),
        ("s_axis_prm_tready", ln_pready), ("s_axis_prm_tlast", ln_p_last),
        ("m_axis_tdata", lo["tdata"]), ("m_axis_tvalid", lo["tvalid"]),
        ("m_axis_tready", lo["tready"]), ("m_axis_tlast", lo["tlast"]),
        ("err_len_o", ln_err)])
    o_w, o_r, o_g, o_tok = (reg("ln_out_word_q", DWB), reg("ln_out_row_q", LB),
                            reg("ln_out_group_q", TB), reg("ln_out_tokens_q", SW))
    ln_to_y = wire("ln_to_y", 1, AndList(is_ph["LNV"], which_ln))
    if NL == 1:
        m.Assign(lo["tready"](Mux(ln_to_y, y_tready, k(1, 1))))
        o_fire = wire("ln_out_fire", 1, AndList(lo["tvalid"], lo["tready"], is_ph["LNV"]))
        o_word_fire, o_valid = o_fire, lo["tvalid"]
        o_word = Slice(lo["tdata"], A * ACT - 1, 0)
    else:
        # the beats of a word collected; its last beat waits for m_axis_y
        o_c = reg("ln_out_chunk_q", CLB)
        o_cend = wire("ln_out_chunk_end", 1, o_c == k(NL - 1, CLB))
        m.Assign(lo["tready"](Mux(AndList(ln_to_y, o_cend), y_tready, k(1, 1))))
        o_fire = wire("ln_out_fire", 1, AndList(lo["tvalid"], lo["tready"], is_ph["LNV"]))
        o_word_fire = wire("ln_out_word_fire", 1, AndList(o_fire, o_cend))
        o_valid = AndList(lo["tvalid"], o_cend)
        beat = Slice(lo["tdata"], LU * ACT - 1, 0)
        held = _held_beats(m, clk, "ln_out_chunk", NL - 1, o_c, o_fire, beat, LU * ACT)
        _beat_counter(m, clk, o_c, OrList(rst, seg_start), o_fire, o_cend)
        o_word = wire("ln_out_word", A * ACT, Cat(beat, *reversed(held)))
    m.Always(Posedge(clk))(If(OrList(rst, seg_start))(o_w(0), o_r(0), o_g(0), o_tok(0)).Elif(o_word_fire)(
        If(o_w == k(DW - 1, DWB))(
            o_w(0), o_tok(o_tok + 1),
            If(o_r == k(A - 1, LB))(o_r(0), o_g(o_g + 1)).Else(o_r(o_r + 1)))
        .Else(o_w(o_w + 1))))
    ln_all_out = wire("ln_all_out", 1, o_tok == seq)
    h1_w = AndList(is_ph["LNV"], Not(which_ln))
    drv.drive(H1.we, h1_w, o_word_fire)
    drv.drive(H1.wbank, h1_w, o_r)
    drv.drive(H1.waddr, h1_w, Cat(Slice(o_g, GB - 1, 0), o_w))
    drv.drive(H1.wdata, h1_w, o_word)
    m.Assign(y_tdata(o_word))
    m.Assign(y_tvalid(AndList(o_valid, ln_to_y)))
    m.Assign(y_tlast(AndList(o_w == k(DW - 1, DWB), o_tok + k(1, SW) == seq)))
    if lc.out_word_bits > LU * ACT:
        unused.append(Slice(lo["tdata"], lc.out_word_bits - 1, LU * ACT))

    # ---- weight stream handshake and checks -------------------------------
    # the weight stream holds the blocks in pass order, the LN1 records between
    # the out and up projections' blocks: the up and down blocks load once the
    # LN1 records are in (LNV1 or later), the others from the X load on
    after_ln1 = wire("load_after_ln1", 1, OrList(AndList(is_ph["LNV"], Not(which_ln)),
                                                 AndList(in_lin, OrList(is_lin["up"], is_lin["down"]))))
    ld_phase = wire("load_phase", 1, Mux(OrList(ld_is["up"], ld_is["down"]), after_ln1,
                                         OrList(is_ph["LOADX"], in_lin, is_ph["QK"], is_ph["PV"])))
    ld_on = wire("load_active", 1, AndList(ld_phase, ld_lin != k(LOADED, 3), Not(_pick(lb, full))))
    ld_prm = wire("load_prm", 1, AndList(ld_on, Not(ld_w)))
    ld_wt = wire("load_rows", 1, AndList(ld_on, ld_w))
    m.Assign(w_tready(OrList(is_ph["HDR"], is_ph["SCAL"], ld_on,
                             AndList(is_ph["LNP"], Not(ln_pv)))))
    last_beat = wire("w_last_beat", 1, w_cnt == k(total - 1, 32))
    m.Always(Posedge(clk))(
        If(OrList(rst, AndList(is_ph["IDLE"], start)))(w_cnt(0)).Elif(w_fire)(w_cnt(w_cnt + 1)))
    rec_now = Mux(is_ph["HDR"], rec_end["hdr"], Mux(is_ph["SCAL"], rec_end["scal"],
                                                    Mux(is_ph["LNP"], rec_end["ln"], rec_end["prm"])))
    rec_counting = OrList(is_ph["HDR"], is_ph["SCAL"], ld_prm, is_ph["LNP"])
    m.Always(Posedge(clk))(
        If(OrList(rst, is_ph["IDLE"]))(rec_cnt(0)).Elif(AndList(w_fire, rec_counting))(
            If(rec_now)(rec_cnt(0)).Else(rec_cnt(rec_cnt + 1))))
    m.Always(Posedge(clk))(If(AndList(w_fire, ld_wt))(
        wbuf[Cat(lb, Slice(wk, KWB2 - 1, 0))](Slice(w_tdata, A * WBITS - 1, 0))))
    if BW > A * WBITS:
        unused.append(Slice(w_tdata, BW - 1, A * WBITS))

    # ---- the sequencer -----------------------------------------------------
    seg_pulse, blk_pulse = reg("seg_start_q"), reg("blk_start_q")
    m.Assign(seg_start(seg_pulse))
    m.Assign(blk_start(blk_pulse))
    go = AndList(is_ph["IDLE"], start)
    # S <= max_seq is a constant when max_seq is all ones in SW bits (2^SW - 1)
    seq_ok = (seq_len != k(0, SW) if SM == (1 << SW) - 1
              else AndList(seq_len != k(0, SW), seq_len <= k(SM, SW)))
    lin_last_blk = nblk + k(1, nblk.width) == lin_blocks

    def goto(name):
        return ph(k(PH[name], ph.width))

    att_entry = [pv_hoff(0), pv_g(0), qk_par(0), sm_par(0), pv_par(0), att_first(1), qk_all(0),
                 sm_on(0), att_n(0), *[f(0) for f in s_full + p_full]]

    def enter_linear(which):
        return [lin(which), nblk(0), lst(k(LS["WAIT"], 2))]

    def next_linear():
        return [
            If(is_lin["v"])(goto("QK"), head(0), hoff(0), g_att(0), seg_pulse(1), *att_entry)
            .Elif(is_lin["out"])(goto("LNP"), which_ln(0), ln_rec(0))
            .Elif(is_lin["down"])(goto("LNP"), which_ln(1), ln_rec(0))
            .Else(*enter_linear(lin + 1))]

    # a block may go on the array while the one before drains (its bank stays
    # full until then), not while the one before that does (its bank is this one's)
    blk_may_go = wire("blk_may_go", 1, AndList(_pick(cb, full), OrList(
        nblk == k(0, nblk.width), nblk == dblk, nblk == dblk + k(1, nblk.width))))
    feed_empty = wire("feed_empty", 1, AndList(f_done, Not(f_valid), prm_cnt == seg_tiles))
    # attention segments not yet written, after this cycle's last write: none, or one
    att_none = wire("att_none_left", 1, OrList(att_n == k(0, 2), AndList(att_n == k(1, 2), att_drained)))
    att_room = wire("att_room", 1, OrList(att_n != k(2, 2), att_drained))
    m.Always(Posedge(clk))(
        seg_pulse(0), blk_pulse(0), sm_pulse(0),
        If(rst)(goto("IDLE"), done_q(0), lin(0), lst(0), nblk(0), dblk(0), head(0), hoff(0), g_att(0),
                which_ln(0), ln_rec(0), wk(0), lb(0), cb(0), db(0), full[0](0), full[1](0), ld_w(0),
                *att_entry,
                ld_blk(0), ld_lin(0), *[e(0) for e in errs.values()])
        .Else(
            If(go)(
                If(seq_ok)(goto("HDR"), seq(seq_len), done_q(0), ld_lin(0), ld_blk(0), ld_w(0))
                .Else(errs["seq"](1))),
            If(AndList(is_ph["HDR"], w_fire, rec_end["hdr"]))(
                goto("SCAL"), If(hdr_bad)(errs["hdr"](1))),
            If(AndList(is_ph["SCAL"], w_fire, rec_end["scal"]))(goto("LOADX"), *scal_latch),
            If(x_end)(goto("LIN"), *enter_linear(k(LIN["q"], 3))),
            # the loader: a block's PRM record, then its K rows, into bank lb
            If(AndList(ld_prm, w_fire, rec_end["prm"]))(
                ld_w(1), wk(0), If(lb)(*prm_latch[1]).Else(*prm_latch[0])),
            If(AndList(ld_wt, w_fire))(
                wk(wk + 1),
                If(wk + k(1, KB) == ld_k)(
                    ld_w(0), lb(Not(lb)), _in_bank(lb, (full, 1)),
                    If(ld_blk + k(1, ld_blk.width) == ld_blocks)(ld_blk(0), ld_lin(ld_lin + 1))
                    .Else(ld_blk(ld_blk + 1)))),
            # the array: a loaded block, one tile per row group; the next block goes on
            # once this one's beats are in, while this one drains; the pass ends
            # when its last block is drained.  The drain side frees each bank.
            If(AndList(step["WAIT"], blk_may_go))(
                lst(k(LS["TILES"], 2)),
                If(nblk == k(0, nblk.width))(seg_pulse(1), dblk(0), db(cb)).Else(blk_pulse(1))),
            If(AndList(step["TILES"], Not(seg_pulse), Not(blk_pulse), feed_empty))(
                cb(Not(cb)),
                If(lin_last_blk)(lst(k(LS["DRAIN"], 2)))
                .Else(nblk(nblk + 1), lst(k(LS["WAIT"], 2)))),
            If(blk_drained)(db(Not(db)), dblk(dblk + 1), _in_bank(db, (full, 0))),
            If(AndList(step["DRAIN"], dblk == lin_blocks))(*next_linear()),
            # attention, item by item (head, row group): the array runs Q K^T of
            # item j+1, then P V of item j, while the softmax runs item j's rows
            # a segment goes on once the one before is fed while at most that one
            # is still being written; the attention ends with its last write
            If(AndList(is_ph["QK"], Not(seg_pulse), feed_empty, att_room))(
                seg_pulse(1), att_first(0), qk_par(Not(qk_par)),
                If(g_att + k(1, TB) == groups)(
                    g_att(0),
                    If(head == k(NH - 1, HB))(qk_all(1))
                    .Else(head(head + 1), hoff(hoff + k(DHW, hoff.width))))
                .Else(g_att(g_att + 1)),
                If(AndList(att_first, Not(AndList(head == k(NH - 1, HB), g_att + k(1, TB) == groups))))(
                    goto("QK")).Else(goto("PV"))),
            If(AndList(is_ph["PV"], Not(seg_pulse), feed_empty, Mux(pv_last, att_none, att_room)))(
                pv_par(Not(pv_par)), _in_bank(pv_par, (p_full, 0)),
                If(pv_last)(goto("LIN"), *enter_linear(k(LIN["out"], 3)))
                .Else(
                    seg_pulse(1),
                    If(pv_g + k(1, TB) == groups)(pv_g(0), pv_hoff(pv_hoff + k(DHW, pv_hoff.width)))
                    .Else(pv_g(pv_g + 1)),
                    If(qk_all)(goto("PV")).Else(goto("QK")))),
            # the write side takes the segment fed next (it may be this cycle's)
            If(OrList(AndList(seg_pulse, in_att, att_none), AndList(att_drained, att_n == k(2, 2))))(
                d_pv(is_ph["PV"]), d_par(qk_par), d_hoff(pv_hoff), d_g(Slice(pv_g, GB - 1, 0))),
            If(in_att)(att_n(att_n + Cat(k(0, 1), AndList(seg_pulse, in_att)) - Cat(k(0, 1), att_drained))),
            If(AndList(att_drained, Not(d_pv)))(_in_bank(d_par, (s_full, 1))),
            If(AndList(in_att, Not(sm_on), _pick(sm_par, s_full)))(
                sm_on(1), sm_pulse(1)),
            If(AndList(sm_on, Not(sm_pulse), p_rows == k(A, LB + 1)))(
                sm_on(0), sm_par(Not(sm_par)),
                _in_bank(sm_par, (s_full, 0), (p_full, 1))),
            If(ln_rec_step)(
                ln_rec(ln_rec + 1),
                If(ln_p_last)(goto("LNV"), seg_pulse(1))),
            If(AndList(is_ph["LNV"], Not(seg_pulse), ln_all_out))(
                If(which_ln)(goto("IDLE"), done_q(1))
                .Else(goto("LIN"), *enter_linear(k(LIN["up"], 3)))),
            If(AndList(w_fire, w_tlast, Not(last_beat)))(errs["short"](1)),
            If(AndList(w_fire, last_beat, Not(w_tlast)))(errs["long"](1))))

    m.Assign(busy_o(Not(is_ph["IDLE"])))
    m.Assign(done_o(done_q))
    for name, port in (("seq", err_seq_o), ("hdr", err_hdr_o), ("short", err_short_o),
                       ("long", err_long_o)):
        m.Assign(port(errs[name]))
    m.Assign(err_unit_o(OrList(mm_err, sm_err_len, sm_err_keep, ln_err)))
    if A == 1:       # one lane, one bank: nothing to select
        unused.extend([f_lane, b_bank, sf_bank, l_bank])
    drv.finish()
    unused_w = m.Wire("unused_ports")
    m.Assign(unused_w(vg.Uxor(Cat(*unused))))
    return m
