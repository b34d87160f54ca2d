"""The encoder weight stream: layout, round trip on real MiniLM layers, bad files."""
import struct

import numpy as np
import pytest

from golden_model import weightfile as wf
from golden_model.calibrate import default_model
from golden_model.embed import quantize_input
from golden_model.encoder import encoder_layer
from rtl_gen.config import ConfigError
from rtl_gen.encoder import EncoderConfig
from scripts.cli import main

SENTENCE = "Integer transformers fit on small FPGAs."


def _fields(p):
    """Every integer array of a LayerParams, flattened in a fixed order."""
    out = []
    for lin, post in ((p.attn.q, None), (p.attn.k, None), (p.attn.v, None), (p.out, p.skip1),
                      (p.up, p.gelu), (p.down, p.skip2)):
        out += [lin.w, lin.bias, lin.rq.mult, lin.rq.shift]
        if post is not None:
            out += [post.mult, post.shift]
    for ln in (p.ln1, p.ln2):
        out += [ln.gamma, ln.beta, ln.rq.mult, ln.rq.shift]
    out += [p.attn.scores.mult, p.attn.scores.shift, p.attn.ctx.mult, p.attn.ctx.shift]
    return [np.asarray(a, np.int64) for a in out]


@pytest.mark.parametrize("weight_bits,array,layer", [(8, 16, 1), (4, 8, 4)])
def test_round_trip_is_exact_on_a_real_layer(weight_bits, array, layer):
    model = default_model(weight_bits)
    cfg = EncoderConfig.preset("minilm", array=array, weight_bits=weight_bits)
    p = model.layers[layer]
    data = wf.layer_stream(p, cfg.stream_shape, layer)
    assert len(data) == cfg.stream_shape.total_beats * cfg.stream_shape.beat_bytes
    hdr, back = wf.read_layer(data)
    assert hdr.layer == layer and hdr.shape == cfg.stream_shape
    for a, b in zip(_fields(p), _fields(back), strict=True):
        np.testing.assert_array_equal(a, np.broadcast_to(b, a.shape))
    x = quantize_input(model, SENTENCE)
    np.testing.assert_array_equal(encoder_layer(x, p, model.numerics),
                                  encoder_layer(x, back, model.numerics))


def test_layout_of_the_first_records():
    """Pins the documented byte layout (docs/encoder.md) independently of the reader."""
    model = default_model(8)
    p = model.layers[0]
    sh = wf.StreamShape(384, 12, 1536, 4, 8)          # 4-byte beats
    data = wf.layer_stream(p, sh, 0)
    assert data[:4] == b"QBW1"
    version, layer, hidden, heads, ffn, cols, wbits, _, beats = struct.unpack_from("<HHHHHHBBI", data, 4)
    assert (version, layer, hidden, heads, ffn, cols, wbits) == (1, 0, 384, 12, 1536, 4, 8)
    assert beats == len(data) // 4
    hdr_beats = -(-22 // 4)
    scal = np.frombuffer(data[4 * hdr_beats:4 * hdr_beats + 32], "<u4")
    assert scal[0] == int(p.attn.scores.mult) and scal[1] == int(p.attn.scores.shift)
    assert scal[6] == int(p.ln2.rq.mult) and scal[7] == int(p.ln2.rq.shift)
    q0 = 4 * (hdr_beats + 8)                          # first PRM record of q
    np.testing.assert_array_equal(np.frombuffer(data[q0:q0 + 16], "<i4"), p.attn.q.bias[:4])
    np.testing.assert_array_equal(np.frombuffer(data[q0 + 16:q0 + 32], "<u4"), p.attn.q.rq.mult[:4])
    assert not any(data[q0 + 48:q0 + 80])             # q has no post requantizer
    w0 = q0 + 80                                      # weight row k=0 of block 0
    np.testing.assert_array_equal(np.frombuffer(data[w0:w0 + 4], "i1"), p.attn.q.w[0, :4])
    np.testing.assert_array_equal(np.frombuffer(data[w0 + 4:w0 + 8], "i1"), p.attn.q.w[1, :4])


def test_int4_packs_the_even_channel_in_the_low_nibble():
    assert wf._weight_row(np.array([-1, 2, 7, -8]), 4) == bytes([0x2F, 0x87])


def _stream():
    return bytearray(wf.layer_stream(default_model(8).layers[0],
                                     EncoderConfig.preset("minilm").stream_shape, 0))


@pytest.mark.parametrize("damage,message", [
    (lambda d: d.__setitem__(slice(0, 4), b"QBWX"), "magic"),
    (lambda d: d.__setitem__(slice(4, 6), b"\x02\x00"), "order version 2"),
    (lambda d: d.__setitem__(slice(len(d) - 16, len(d)), b""), "beats"),
    (lambda d: d.extend(bytes(16)), "beats"),
    (lambda d: d.__setitem__(slice(8, 10), struct.pack("<H", 380)), "hidden=380"),
    (lambda d: d.__setitem__(slice(16, 17), b"\x05"), "weight_bits=5"),
    (lambda d: d.__setitem__(slice(0, len(d)), b"QBW1"), "shorter than"),
])
def test_bad_streams_are_refused_naming_the_field(damage, message):
    data = _stream()
    damage(data)
    with pytest.raises(wf.WeightFileError, match=message) as e:
        wf.read_layer(bytes(data), "l0.bin")
    assert "l0.bin" in str(e.value)


@pytest.mark.parametrize("fields,message", [
    ({"heads": 5}, "heads=5 must divide hidden=384"),
    ({"array": 7}, "hidden=384 must be a multiple of array=7"),
    ({"ffn": 1000}, "ffn=1000 must be a multiple of array=16"),
    ({"max_seq": 100}, "max_seq=100 must be a multiple of array=16"),
    ({"array": 1, "weight_bits": 4}, "array=1 must be even with weight_bits=4"),
    ({"array": 0}, "array"),
    ({"dsp_pack": 3}, "dsp_pack=3 needs weight_bits=4"),
    ({"dsp_pack": 4, "weight_bits": 4}, "dsp_pack must be one of 1, 2, 3"),
    ({"post_lanes": 5}, r"post_lanes=5 must divide array=16 \(0 or one of \[1, 2, 4, 8, 16\]\)"),
    ({"post_lanes": 32}, "post_lanes=32 must divide array=16"),
    ({"post_lanes": 33}, r"post_lanes must be an integer in \[0, 32\]"),
    ({"softmax_lanes": 3}, r"softmax_lanes=3 must divide array=16 \(0 or one of"),
    ({"layernorm_lanes": 12}, "layernorm_lanes=12 must divide array=16"),
    ({"layernorm_lanes": -1}, r"layernorm_lanes must be an integer in \[0, 32\]"),
])
def test_encoder_config_errors_name_the_field(fields, message):
    with pytest.raises(ConfigError, match=message):
        EncoderConfig.preset("minilm", **fields)


def test_array_64_needs_narrower_units():
    """Array 64 is allowed, but the softmax and the post-op units have at most 32
    lanes: the error names the lanes field to set."""
    with pytest.raises(ConfigError, match=r"the softmax unit \(softmax_lanes=0, 0 = array=64\).*"
                                          r"set softmax_lanes"):
        EncoderConfig.preset("bert-base", array=64)
    with pytest.raises(ConfigError, match=r"the gelu unit \(post_lanes=0.*set post_lanes"):
        EncoderConfig.preset("bert-base", array=64, softmax_lanes=32)
    cfg = EncoderConfig.preset("bert-base", array=64, softmax_lanes=16, post_lanes=16)
    assert (cfg.softmax.lanes, cfg.residual.lanes, cfg.layernorm.lanes) == (16, 16, 64)


def test_presets():
    assert EncoderConfig.preset("bert-base").hidden == 768
    assert EncoderConfig.preset("bert-base").head_dim == 64
    with pytest.raises(ConfigError, match="unknown preset 'gpt'"):
        EncoderConfig.preset("gpt")
    EncoderConfig().check_seq(128)
    with pytest.raises(ConfigError, match="sequence length 129"):
        EncoderConfig().check_seq(129)


def test_cli_writes_the_stream_and_refuses_bad_input(tmp_path, capsys):
    out = tmp_path / "l2.bin"
    assert main(["model", "weights", "--layer", "2", "-P", "array=32", "-o", str(out)]) == 0
    hdr, _ = wf.read_layer(out.read_bytes(), str(out))
    assert hdr.layer == 2 and hdr.shape.cols == 32
    for argv, message in ((["--layer", "6"], "layers 0..5"),
                          (["--layer", "0", "-P", "array=7"], "array=7"),
                          (["--layer", "0", "-P", "hidden=768"], "does not match all-MiniLM-L6-v2 layer 0"),
                          (["--layer", "0", "-P", "bias_bits=12"], "layer 0.q has a bias of 16 bits"),
                          (["--layer", "0", "-P", "weight_bits=4"], "--weight-bits")):
        bad = tmp_path / "bad.bin"
        assert main(["model", "weights", *argv, "-o", str(bad)]) == 2
        assert message in capsys.readouterr().err
        assert not bad.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l2.bin"]
