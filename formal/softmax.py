"""Proofs of the softmax unit (``rtl_gen.softmax``): its exp stage, its divider
and the top level ``qbert_softmax``.

Exp stage (:func:`exp_job`): the generated ``qbert_softmax_exp`` (the same
code builds the unit's EXP lanes) equals the combinational reference
:func:`formal.equiv.exp_ref_sv` (golden_model.softmax.int_exp line for line) on
every lane for every d <= 0 of diff_bits; the reference is tied to the numpy
model by :func:`formal.equiv.exp_vectors_job` and its arithmetic is shown not
to wrap by :func:`formal.lemmas.exp_poly_width`.

Divider: :mod:`formal.divider` at the widths the unit instantiates.
"""
from __future__ import annotations

from . import equiv
from .sby import SbyJob


def exp_job(cfg, exp_text: str | None = None, *, engine: str = "smtbmc yices", lane: int | None = None,
            mutate=None, name: str | None = None) -> SbyJob:
    """Exp stage of SoftmaxConfig ``cfg`` (generated, or ``exp_text``) == int_exp."""
    from rtl_gen.softmax import EXP_TOP, exp_verilog
    text = exp_text if exp_text is not None else exp_verilog(cfg)
    if mutate is not None:
        text = mutate(text)
    return equiv.exp_equiv_job(cfg.spec, cfg.lanes, {f"{EXP_TOP}.v": text}, EXP_TOP, engine=engine,
                               lane=lane, lane_bits=cfg.diff_bits, name=name)
