"""``prove(unit, cfg, rtl_dir, solver)``: every proof of a unit, and the result table.

This is what ``qbert prove UNIT [-P ..] [--rtl DIR] [--solver S]`` calls::

    results = prove("matmul", cfg, rtl_dir, "yices")
    print(format_table(results))
    return 0 if all_passed(results) else 1

Units
-----
``matmul``: the generated ``qbert_matmul`` (:mod:`formal.matmul`): with
``rtl_dir`` the RTL on disk (``files.f``) and the Config in its params.json
(``cfg`` must then be None or equal to it); without, the RTL generated from
``cfg`` (default ``MatmulConfig()``).  Plus the reference-vs-golden-model
vectors at the unit's accumulator width and the z3 lemmas (requant widths,
round half up, MAC bound for its k_max).

``softmax``: the generated ``qbert_softmax`` and ``qbert_softmax_exp``
(:mod:`formal.softmax`, :mod:`formal.divider`): the top's control proof
(k-induction), its latency (k-induction), covers, the exp stage per lane, the exp
reference vectors, the divider at the unit's widths, and the z3 lemmas.
``--rtl``/``cfg`` as for matmul.

``layernorm``: the generated unit (:mod:`formal.layernorm`): the 32-bit
isqrt (ghost + linear invariants, z3 recurrence lemma), its two shared
dividers (:mod:`formal.divider`), the top's protocol and vector count
(P1/P2, U1/U2), its bounded latency and output framing (U3, F1), plus the z3
no-overflow bounds for the Config's H and input width.  ``rtl_dir`` / ``cfg``
as for matmul.

``gelu``, ``requant``, ``residual`` (:data:`ELEMENTWISE`): the generated
elementwise units, the same way (RTL on disk with its params.json Config, or
generated from ``cfg``): formal/<unit>.py ``unit_jobs`` gives the injected
unit proof, its cover, the reference-vs-golden vectors and the lemmas.

``kit``: the formal kit's own stand-in datapaths at the golden model's full
widths (requantizer 32-bit acc x 31-bit M, s in [0, 62], direct and
DSP-split; MAC PE for k_max = cfg["k_max"] or 1536).  Not a CLI unit; run by
``python -m formal.run kit``.

Any Verilog module with the port contracts of :mod:`formal.equiv` can be
proven with :func:`contract_jobs` (a ``"formal"`` object in params.json names
the modules, see there).
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Callable

from . import axis, equiv, lemmas
from .sby import PROVE_TIMEOUT, SbyJob, SbyResult, engine_for, run_job

#: elementwise units: unit -> (formal module with unit_jobs(), "generator module:Config")
ELEMENTWISE = {
    "gelu": ("formal.gelu", "rtl_gen.gelu:GeluConfig"),
    "requant": ("formal.requant", "rtl_gen.requant:RequantConfig"),
    "residual": ("formal.residual", "rtl_gen.residual:ResidualConfig"),
}
UNITS_WITH_PROOFS = ("matmul", "softmax", "layernorm", *ELEMENTWISE, "kit")
#: units whose proofs cover part of the unit or of its Configs (attention:
#: its glue with the units abstracted, and its latency bound unbounded, but in
#: ``qbert prove`` only on Configs of at most
#: formal.attention.LATENCY_PROVE_MAX_GROUPS query groups -- the default's 32,
#: roughly 1.5-2 hours on two cores (estimated from its jobs' times; larger
#: ones untried); encoder: proofs of its glue with abstract units at tiny
#: Configs only, B1 bounded under stalls, docs/encoder.md "Formal"): `qbert prove` runs them, but they are
#: not in UNITS_WITH_PROOFS, so `qbert export` does not gate on them yet
PARTIAL_PROOFS = ("attention", "encoder")

#: the engine each unit closes fastest with (``--solver`` overrides)
DEFAULT_SOLVER = {"matmul": "z3", **{u: "yices" for u in UNITS_WITH_PROOFS + PARTIAL_PROOFS
                                     if u != "matmul"}}

#: defaults of the matmul fields the proofs read (MiniLM: FFN K = 1536)
MATMUL_DEFAULTS = {"act_bits": 8, "weight_bits": 8, "bias_bits": 32, "out_bits": 8, "k_max": 1536}


def _field(cfg, name: str, default):
    if cfg is None:
        return default
    if isinstance(cfg, dict):
        return cfg.get(name, default)
    return getattr(cfg, name, default)


def _rtl_sources(rtl_dir: Path) -> dict[str, Path]:
    rtl_dir = Path(rtl_dir)
    if not rtl_dir.is_dir():
        raise FileNotFoundError(f"--rtl {rtl_dir}: no such folder")
    flist = rtl_dir / "filelist.f"
    if not flist.exists():
        flist = rtl_dir / "files.f"
    if flist.exists():
        files = []
        for line in flist.read_text().splitlines():
            line = line.split("//")[0].strip()
            if not line or line.startswith(("+", "-")):
                continue
            p = Path(line)
            files.append(p if p.is_absolute() else rtl_dir / p)
    else:
        files = sorted(list(rtl_dir.glob("*.v")) + list(rtl_dir.glob("*.sv")))
    if not files:
        raise FileNotFoundError(f"--rtl {rtl_dir}: no filelist.f and no *.v/*.sv files")
    out = {}
    for f in files:
        if not f.exists():
            raise FileNotFoundError(f"{flist}: listed file {f} does not exist")
        out[f.name] = f
    return out


def _modules(sources: dict[str, Path | str]) -> set[str]:
    names = set()
    for src in sources.values():
        text = src.read_text() if isinstance(src, Path) else src
        names.update(re.findall(r"^\s*module\s+([A-Za-z_][A-Za-z0-9_$]*)", text, re.M))
    return names


def _need(module: str, sources: dict, what: str) -> None:
    if module not in _modules(sources):
        raise ValueError(f"{what}: module {module!r} not found in the RTL files "
                         f"({', '.join(sorted(sources))}); name it in params.json "
                         f"\"formal\" or generate it (port contract: formal/equiv.py)")


def kit_jobs(cfg=None, engine: str = "smtbmc yices") -> tuple[list[SbyJob], list[Callable[[], SbyResult]]]:
    """The kit's stand-in requantizer (full width, direct and split) and MAC PE."""
    f = {k: _field(cfg, k, v) for k, v in MATMUL_DEFAULTS.items()}
    rq = equiv.RequantSpec(out_bits=f["out_bits"])
    mac = equiv.MacSpec(k_max=f["k_max"], act_bits=f["act_bits"], weight_bits=f["weight_bits"],
                        bias_bits=f["bias_bits"])
    jobs: list[SbyJob] = [equiv.requant_vectors_job(rq, engine=engine)]
    where = "kit RTL"
    for style, split in (("direct", 0), ("split", 17)):
        j = equiv.requant_equiv_job(
            rq, {f"qbert_requant_{style}.sv": equiv.requant_dut_sv(rq, style=style, split=17)},
            ref_split=split, engine=engine, name=f"requant_{style}_{rq.label()}")
        jobs.append(_describe(j, where))
    jobs.append(_describe(equiv.mac_equiv_job(mac, {"qbert_mac_pe.sv": equiv.mac_dut_sv(mac)},
                                              engine=engine), where))
    lem: list[Callable[[], SbyResult]] = [
        lambda: lemmas.requant_width(rq.acc_bits, rq.mult_bits, rq.shift_max),
        lambda: lemmas.round_half_up(rq.shift_max),
        lambda: lemmas.split_product(rq.acc_bits, rq.mult_bits, 17),
        lambda: lemmas.mac_bound(mac.k_max, mac.act_bits, mac.weight_bits, mac.bias_bits),
    ]
    return jobs, lem


def contract_jobs(rtl_dir: Path | str, cfg=None,
                  engine: str = "smtbmc yices") -> tuple[list[SbyJob], list[Callable[[], SbyResult]]]:
    """Proofs of the port-contract modules named in ``rtl_dir/params.json``::

        {"formal": {"requant": {"top": "qbert_requant", "latency": 2, "split": 0},
                    "mac_pe":  {"top": "qbert_mac_pe", "acc_bits": <acc_bits_for(k_max)>},
                    "axis":    {"top": "<unit top>", "s_data_w": 64, "m_data_w": 32,
                                "max_pending": 4, "latency": 0, "depth": 8,
                                "invariants": ["..."], "extra_ports": [["name", width]]}}}

    Files: ``filelist.f`` or ``files.f`` (or every ``*.v``/``*.sv``).  A named
    module missing from the files is an error, never a silent skip; the
    ``axis`` entry is opt-in (it needs the top's invariants).
    """
    f = {k: _field(cfg, k, v) for k, v in MATMUL_DEFAULTS.items()}
    rq = equiv.RequantSpec(out_bits=f["out_bits"])
    mac = equiv.MacSpec(k_max=f["k_max"], act_bits=f["act_bits"], weight_bits=f["weight_bits"],
                        bias_bits=f["bias_bits"])
    rtl_dir = Path(rtl_dir)
    sources = _rtl_sources(rtl_dir)
    params_file = rtl_dir / "params.json"
    params = json.loads(params_file.read_text()) if params_file.exists() else {}
    fcfg = params.get("formal")
    if not isinstance(fcfg, dict) or not fcfg:
        raise ValueError(f"{params_file}: no \"formal\" object naming the modules under proof")
    where = f"RTL in {rtl_dir}"
    jobs: list[SbyJob] = [equiv.requant_vectors_job(rq, engine=engine)]
    lem: list[Callable[[], SbyResult]] = [
        lambda: lemmas.requant_width(rq.acc_bits, rq.mult_bits, rq.shift_max),
        lambda: lemmas.round_half_up(rq.shift_max),
    ]
    if "requant" in fcfg:
        r = fcfg["requant"]
        top, latency, split = r.get("top", "qbert_requant"), int(r.get("latency", 2)), int(r.get("split", 0))
        _need(top, sources, "requantizer")
        jobs.append(_describe(equiv.requant_equiv_job(rq, sources, top, latency=latency, ref_split=split,
                                                      engine=engine, name=f"requant_{top}_{rq.label()}"), where))
        if split:
            lem.append(lambda: lemmas.split_product(rq.acc_bits, rq.mult_bits, split))
    if "mac_pe" in fcfg:
        m = fcfg["mac_pe"]
        mtop = m.get("top", "qbert_mac_pe")
        _need(mtop, sources, "MAC PE")
        jobs.append(_describe(equiv.mac_equiv_job(mac, sources, mtop, dut_acc_bits=int(m.get("acc_bits", mac.acc_bits)),
                                                  engine=engine, name=f"mac_{mtop}_{mac.label()}"), where))
        lem.append(lambda: lemmas.mac_bound(mac.k_max, mac.act_bits, mac.weight_bits, mac.bias_bits))
    if "axis" in fcfg:
        a = fcfg["axis"]
        _need(a["top"], sources, "AXI4-Stream top")
        jobs.append(_describe(axis.harness_job(
            f"axis_{a['top']}", sources, a["top"], int(a["s_data_w"]), int(a["m_data_w"]),
            depth=int(a.get("depth", 8)), engine=engine, max_pending=int(a.get("max_pending", 4)),
            latency=int(a.get("latency", 0)), invariants=tuple(a.get("invariants", ())),
            extra_ports=tuple((n, int(w)) for n, w in a.get("extra_ports", ()))), where))
    return jobs, lem


def matmul_jobs(cfg=None, rtl_dir: Path | str | None = None,
                engine: str = "smtbmc yices") -> tuple[list[SbyJob], list[Callable[[], SbyResult]]]:
    """The generated matmul unit: injected unit proof, its cover, vectors, lemmas."""
    from rtl_gen.matmul import MatmulConfig, sources, verilog
    from . import matmul as fmatmul
    if rtl_dir is not None:
        disk = MatmulConfig.load(rtl_dir)
        if cfg is not None and cfg != disk:
            raise ValueError(f"--rtl {rtl_dir} was generated for {disk}, not for the given Config")
        cfg = disk
        text = "\n".join(p.read_text() for p in sources(rtl_dir))
        where = f"RTL in {rtl_dir}"
    else:
        cfg = cfg if cfg is not None else MatmulConfig()
        text = verilog(cfg)
        where = "RTL generated from the Config"
    # one job per output column (each with the control/protocol properties):
    # together the whole unit proof, in pieces the solver closes much faster
    jobs = [_describe(j, where) for j in fmatmul.matmul_column_jobs(cfg, text, engine=engine, depth=1)]
    # deep enough for two tiles' drains after a stall (14 up to 4 rows, one chunk each)
    cover = max(14, 2 * cfg.drain_cycles - 2)
    jobs.append(_describe(fmatmul.matmul_job(cfg, text, engine=engine, mode="cover", depth=cover,
                                             name=f"matmul_cover_r{cfg.rows}c{cfg.cols}"),
                          where + "; non-vacuity"))
    jobs.append(_describe(fmatmul.latency_job(cfg, text, engine=engine), where))
    jobs.append(_describe(fmatmul.latency_job(cfg, text, engine=engine, mode="cover", depth=cover,
                                              name=f"matmul_latency_cover_r{cfg.rows}c{cfg.cols}"),
                          where + "; non-vacuity of the latency environment"))
    from rtl_gen.requant import REQ_BITS
    rq = equiv.RequantSpec(acc_bits=cfg.acc_bits, out_bits=cfg.out_bits)
    jobs.append(equiv.requant_vectors_job(rq, engine=engine))
    lem: list[Callable[[], SbyResult]] = [
        lambda: lemmas.requant_width(rq.acc_bits, rq.mult_bits, rq.shift_max, REQ_BITS),
        lambda: lemmas.round_half_up(rq.shift_max),
        lambda: lemmas.mac_bound(cfg.k_max, cfg.act_bits, cfg.weight_bits, cfg.bias_bits),
    ]
    if cfg.pack_groups:
        lem.append(lambda: fmatmul.packed_drivers_check(cfg, text))
    return jobs, lem


def softmax_jobs(cfg=None, rtl_dir: Path | str | None = None,
                 engine: str = "smtbmc yices") -> tuple[list[SbyJob], list[Callable[[], SbyResult]]]:
    """The softmax unit (:mod:`formal.softmax`): the top's control proof, its
    latency (unbounded), covers; the exp stage per lane and its reference vectors;
    the divider at the unit's widths (the module on disk if the top instantiates
    a ``qbert_div_*``, else the one generated for its widths); the z3 lemmas."""
    from rtl_gen.divider import DividerConfig, verilog as div_verilog
    from rtl_gen.softmax import EXP_TOP, TOP, SoftmaxConfig, exp_verilog, verilog
    from golden_model.softmax import DIV_BITS
    from . import divider as fdiv, softmax as fsm
    if rtl_dir is not None:
        disk = SoftmaxConfig.load(rtl_dir)
        if cfg is not None and cfg != disk:
            raise ValueError(f"--rtl {rtl_dir} was generated for {disk}, not for the given Config")
        cfg = disk
        srcs = _rtl_sources(Path(rtl_dir))
        texts = {n: p.read_text() for n, p in srcs.items()}
        _need(TOP, srcs, "softmax proof")
        _need(EXP_TOP, srcs, "softmax exp proof")
        top_name = next(n for n, t in texts.items() if re.search(rf"^\s*module\s+{TOP}\b", t, re.M))
        top_text = texts[top_name]
        subs = {n: t for n, t in texts.items() if n != top_name}
        exp_text = next(t for t in subs.values() if re.search(rf"^\s*module\s+{EXP_TOP}\b", t, re.M))
        where = f"RTL in {rtl_dir}"
    else:
        cfg = cfg if cfg is not None else SoftmaxConfig()
        top_text, exp_text = verilog(cfg), exp_verilog(cfg)
        subs = {f"{EXP_TOP}.v": exp_text}
        if hasattr(cfg, "divider"):
            subs[f"{cfg.divider.module_name}.v"] = div_verilog(cfg.divider)
        texts = {f"{TOP}.v": top_text, **subs}
        where = "RTL generated from the Config"
    lat = fsm.latency_bound(cfg)
    jobs = [_describe(fsm.top_job(cfg, top_text, subs, engine=engine, depth=3, latency=0,
                                  name="softmax_top_control"), where)]
    # the same properties by BMC from reset: a protocol or row bug shows as a
    # reachable trace (the induction above would only say UNKNOWN)
    jobs.append(_describe(fsm.top_job(cfg, top_text, subs, engine=engine, mode="bmc", depth=40,
                                      latency=0, name="softmax_top_bmc"), where))
    # U3 unbounded: the control properties plus the timing lemmas, 1-inductive
    # (formal.softmax.timing_lemmas); no narrowing of the environment
    jobs.append(_describe(fsm.latency_job(cfg, top_text, subs, engine=engine,
                                          name="softmax_top_latency"), where))
    jobs.append(_describe(fsm.top_job(cfg, top_text, subs, engine=engine, mode="cover",
                                      depth=min(2 * lat, 60), name="softmax_top_cover"),
                          where + "; non-vacuity"))
    jobs += [_describe(fsm.exp_job(cfg, exp_text, engine=engine, lane=i, name=f"softmax_exp_lane{i}"), where)
             for i in range(cfg.lanes)]
    jobs.append(equiv.exp_vectors_job(cfg.spec, engine=engine))
    divs = {}
    for t in texts.values():
        for m in re.finditer(r"^\s*module\s+qbert_div_n(\d+)_d(\d+)_r(\d)\b", t, re.M):
            dc = DividerConfig(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            divs[dc] = (t, where)
    if not divs:
        dc = DividerConfig(DIV_BITS + 1, cfg.spec.sum_bits, _field(cfg, "div_bits_per_cycle", 2))
        divs[dc] = (div_verilog(dc), "divider generated for the unit's widths (the top does not "
                                     "instantiate a qbert_div_*)")
    for dc, (t, w) in divs.items():
        jobs.append(_describe(fdiv.divider_job(dc, t, engine=engine), w))
    lem: list[Callable[[], SbyResult]] = [
        lambda: lemmas.exp_poly_width(cfg.spec),
        *[(lambda r=r: lemmas.divider_composition(r)) for r in sorted({d.bits_per_cycle for d in divs})],
    ]
    return jobs, lem


def config_class(unit: str):
    import importlib
    mod, cls = ELEMENTWISE[unit][1].split(":")
    return getattr(importlib.import_module(mod), cls)


def unit_rtl(unit: str, cfg=None, rtl_dir: Path | str | None = None) -> tuple[object, str, str]:
    """(Config, RTL text, where) of an elementwise unit: the RTL on disk in
    ``rtl_dir`` (its params.json Config; ``cfg`` must be None or equal), or the
    RTL generated from ``cfg`` (default Config)."""
    import importlib
    cls = config_class(unit)
    gen = importlib.import_module(ELEMENTWISE[unit][1].split(":")[0])
    if rtl_dir is not None:
        disk = cls.load(rtl_dir)
        if cfg is not None and cfg != disk:
            raise ValueError(f"--rtl {rtl_dir} was generated for {disk}, not for the given Config")
        return disk, "\n".join(p.read_text() for p in gen.sources(rtl_dir)), f"RTL in {rtl_dir}"
    cfg = cfg if cfg is not None else cls()
    return cfg, gen.verilog(cfg), "RTL generated from the Config"


def elementwise_jobs(unit: str, cfg=None, rtl_dir: Path | str | None = None,
                     engine: str = "smtbmc yices") -> tuple[list[SbyJob], list[Callable[[], SbyResult]]]:
    """The proofs of an elementwise unit (formal/<unit>.py ``unit_jobs``)."""
    import importlib
    cfg, text, where = unit_rtl(unit, cfg, rtl_dir)
    jobs, lem = importlib.import_module(ELEMENTWISE[unit][0]).unit_jobs(cfg, text, engine)
    return [j if "vectors" in j.name else _describe(j, where) for j in jobs], lem


def attention_jobs(cfg=None, rtl_dir: Path | str | None = None, engine: str = "smtbmc yices",
                   latency_engine: str | None = None) -> tuple[list[SbyJob], list[Callable[[], SbyResult]]]:
    """The composed attention head's glue with abstract units (formal/attention.py):
    the proof (k-induction) and its non-vacuity cover; the head's latency bound
    (k-induction with the budget lemma, one job per legal S and part of the
    proof: formal.attention.latency_jobs), only where max_seq / rows <=
    formal.attention.LATENCY_PROVE_MAX_GROUPS (larger heads are untried).  The
    units' insides are their own proofs.  ``latency_engine``: the latency
    jobs' engine (None: each lemma's solver, formal.attention.LATENCY_SOLVERS)."""
    from rtl_gen.attention import TOP, AttentionConfig
    from . import attention as fatt
    if rtl_dir is not None:
        disk = AttentionConfig.load(rtl_dir)
        if cfg is not None and cfg != disk:
            raise ValueError(f"--rtl {rtl_dir} was generated for {disk}, not for the given Config")
        cfg, text = disk, (Path(rtl_dir) / f"{TOP}.v").read_text()
        where = f"RTL in {rtl_dir}"
    else:
        cfg, text = cfg if cfg is not None else AttentionConfig(), None
        where = "RTL generated from the Config"
    groups = cfg.max_seq // cfg.rows
    lat_note = "" if groups <= fatt.LATENCY_PROVE_MAX_GROUPS else (
        f"; latency bound head_latency(S) NOT checked: `qbert prove` runs its split induction "
        f"only up to {fatt.LATENCY_PROVE_MAX_GROUPS} query groups (max_seq / rows = {groups}; "
        f"docs/attention.md, Formal)")
    jobs = [_describe(fatt.attention_job(cfg, text, engine=engine, depth=2), where + lat_note),
            fatt.cover_job(cfg, text, engine=engine, where=where)]
    if not lat_note:
        jobs += [_describe(j, where) for j in fatt.latency_jobs(cfg, text, engine=latency_engine)]
    return jobs, []


def encoder_jobs(cfg=None, rtl_dir: Path | str | None = None,
                 engine: str = "smtbmc yices") -> tuple[list[SbyJob], list[Callable[[], SbyResult]]]:
    """The encoder engine's glue with abstract units (formal/encoder.py): P1/P2
    on m_axis_y by k-induction (every reachable state), the
    free-environment BMC (P1/P2 on m_axis_y, B1), one live BMC per sequence
    length over a prefix of the layer (P1/P2, B1) and one control-only live BMC
    per sequence length to the q projection's stage bound (L1's first four
    stage bounds); L1 over a whole layer is ``prove_jobs(..., whole_layer=True)``
    (not completed: longer than a CLI job)."""
    from rtl_gen import encoder as genc
    from . import encoder as fenc
    if rtl_dir is not None:
        disk = genc.EncoderConfig.load(rtl_dir)
        if cfg is not None and cfg != disk:
            raise ValueError(f"--rtl {rtl_dir} was generated for {disk}, not for the given Config")
        check_provable("encoder", disk)
        paths = genc.sources(rtl_dir)
        cfg, where = disk, f"RTL in {rtl_dir}"
        texts = {p.name: p.read_text() for p in paths}
    else:
        cfg = cfg if cfg is not None else genc.EncoderConfig()
        check_provable("encoder", cfg)      # before generating the RTL
        texts, where = genc.files(cfg), "RTL generated from the Config"
    top = f"{genc.TOP}.v"
    if top not in texts:
        raise ValueError(f"{where}: no {top}")
    units = "\n".join(t for n, t in texts.items() if n != top)
    jobs = [_describe(j, where) for j in fenc.prove_jobs(cfg, texts[top], units, engine=engine)]
    return jobs, []


def _describe(job: SbyJob, where: str) -> SbyJob:
    import dataclasses
    return dataclasses.replace(job, description=f"{job.description} [{where}]")


def check_provable(unit: str, cfg) -> None:
    """Refuse, before any RTL is generated, a Config the unit's proofs cannot
    take (ValueError naming the sizes that can): the encoder's jobs unroll a
    whole layer."""
    if unit == "encoder":
        from .encoder import check_size
        check_size(cfg)


def prove(unit: str, cfg=None, rtl_dir: Path | str | None = None, solver: str | None = None, *,
          timeout: float = PROVE_TIMEOUT, workdir: Path | str | None = None,
          progress: Callable[[str], None] | None = None,
          workers: int | None = None) -> list[SbyResult]:
    """Run every proof of ``unit``; one result per SBY job or z3 lemma, in order.

    ``solver``: every job's SMT solver (yices, z3, boolector or an SBY engine
    line); None: the unit's (:data:`DEFAULT_SOLVER`), and for the attention
    head's latency lemmas each lemma's (``formal.attention.LATENCY_SOLVERS``).
    ``workers``: SBY jobs run at the same time (default one per CPU).

    ``timeout`` is per SBY job (the default 4x4 matmul takes minutes).
    ``progress`` gets one line per started/finished property (default: stderr);
    long jobs also print a heartbeat to stderr every 30 s.
    Raises ValueError for a unit without proofs or a broken --rtl folder,
    :class:`rtl_gen.toolchain.ToolMissing` if the tools are missing.
    """
    if unit not in UNITS_WITH_PROOFS + PARTIAL_PROOFS:
        raise ValueError(f"no proofs for unit {unit!r} yet; units with proofs: "
                         f"{', '.join(UNITS_WITH_PROOFS + PARTIAL_PROOFS)}")
    engine = engine_for(solver or DEFAULT_SOLVER.get(unit, "yices"))
    if unit == "kit":
        if rtl_dir is not None:
            raise ValueError("the kit proofs take no --rtl folder (use contract_jobs)")
        jobs, lem = kit_jobs(cfg, engine)
    elif unit == "softmax":
        jobs, lem = softmax_jobs(cfg, rtl_dir, engine)
    elif unit == "layernorm":
        from .layernorm import layernorm_jobs
        jobs, lem = layernorm_jobs(cfg, rtl_dir, engine)
    elif unit == "attention":
        jobs, lem = attention_jobs(cfg, rtl_dir, engine, engine if solver else None)
    elif unit == "encoder":
        jobs, lem = encoder_jobs(cfg, rtl_dir, engine)
    else:
        jobs, lem = matmul_jobs(cfg, rtl_dir, engine) if unit == "matmul" else \
            elementwise_jobs(unit, cfg, rtl_dir, engine)
    return run_all(jobs, lem, timeout=timeout, workdir=workdir, progress=progress, workers=workers)


def prove_contract(rtl_dir: Path | str, cfg=None, solver: str = "yices", **kw) -> list[SbyResult]:
    """Run :func:`contract_jobs` (port-contract modules named in params.json)."""
    jobs, lem = contract_jobs(rtl_dir, cfg, engine_for(solver))
    return run_all(jobs, lem, **kw)


def run_all(jobs: list[SbyJob], lem: list[Callable[[], SbyResult]], *, timeout: float = PROVE_TIMEOUT,
            workdir: Path | str | None = None,
            progress: Callable[[str], None] | None = None,
            workers: int | None = None) -> list[SbyResult]:
    """Run SBY jobs (``workers`` at a time, default one per CPU) then the lemmas;
    results in job order."""
    import os
    from concurrent.futures import ThreadPoolExecutor
    import threading
    lock = threading.Lock()

    def say(line: str) -> None:       # whole lines, even from parallel jobs
        with lock:
            if progress is not None:
                progress(line)
            else:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
    total = len(jobs) + len(lem)
    n = max(1, min(len(jobs) or 1, workers or os.cpu_count() or 1))

    def one(i_job):
        i, job = i_job
        say(f"[{i}/{total}] {job.name} ({job.mode}, {job.engine}) ...")
        r = run_job(job, timeout=timeout, workdir=workdir)
        say(f"[{i}/{total}] {r.name}: {r.status} {r.seconds:.1f}s")
        return r
    from .sby import kill_all
    ex = ThreadPoolExecutor(max_workers=n)
    try:
        results = list(ex.map(one, enumerate(jobs, 1)))
    except BaseException:
        kill_all()          # Ctrl-C: no SBY session may outlive us
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    ex.shutdown()
    for i, fn in enumerate(lem, len(jobs) + 1):
        r = fn()
        say(f"[{i}/{total}] {r.name}: {r.status} {r.seconds:.1f}s")
        results.append(r)
    return results


def all_passed(results: list[SbyResult]) -> bool:
    return bool(results) and all(r.passed for r in results)


def format_table(results: list[SbyResult]) -> str:
    """property | kind | status | time, then one block per non-passing result."""
    rows = [("property", "kind", "status", "time")]
    for r in results:
        kind = "z3 lemma" if r.mode == "z3" else f"{r.mode} ({r.engine}, depth {r.depth})"
        rows.append((r.name, kind, r.status, f"{r.seconds:.1f}s"))
    w = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w[i]) for i, c in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * x for x in w))
    bad = [r for r in results if not r.passed]
    for r in bad:
        lines.append("")
        lines.append(f"{r.status}: {r.name}: {r.description}")
        if r.detail:
            lines.append(f"  {r.detail}")
        if r.properties:
            lines.append(f"  failed properties: {', '.join(r.properties)}")
        for f in r.failed[:6]:
            if f not in r.properties:
                lines.append(f"  {f}")
        if r.trace:
            lines.append(f"  counterexample trace: {r.trace}")
        if r.workdir:
            lines.append(f"  work folder (logs, model, rerun with yowasp-sby): {r.workdir}")
    n = sum(r.passed for r in results)
    lines.append("")
    lines.append(f"{n}/{len(results)} properties proven" + ("" if n == len(results) else f", {len(results) - n} not"))
    return "\n".join(lines)


def print_table(results: list[SbyResult], file=None) -> None:
    print(format_table(results), file=file or sys.stdout)


def _rtl_unit(rtl_dir: Path | None) -> str | None:
    """The unit a --rtl folder was generated for (its params.json), None if unknown."""
    if rtl_dir is None:
        return None
    try:
        return json.loads((Path(rtl_dir) / "params.json").read_text()).get("unit")
    except (OSError, ValueError, AttributeError):
        return "matmul"      # as before: --rtl is the matmul's; prove() reports the error


def main(argv: list[str] | None = None) -> int:
    """``python -m formal.run [UNIT..] [-P NAME=VALUE] [--rtl DIR] [--contract DIR] [--solver S]``.

    The command for ``tox -e formal``; exit 0 all proven, 1 a proof failed or
    did not close, 2 bad usage / missing tools.
    """
    import argparse
    from .sby import positive_seconds, sigterm_exits
    # the -P routing below reads the unit names from argv: from the command line too
    argv = sys.argv[1:] if argv is None else argv
    from rtl_gen.toolchain import ToolMissing
    p = argparse.ArgumentParser(prog="python -m formal.run")
    p.add_argument("units", nargs="*", default=list(UNITS_WITH_PROOFS),
                   help=f"units to prove ({', '.join(UNITS_WITH_PROOFS)}); default all")
    p.add_argument("-P", dest="params", action="append", default=[], metavar="NAME=VALUE",
                   help="matmul Config override (repeatable)")
    p.add_argument("--rtl", type=Path, help="prove the RTL in DIR (files.f, params.json) for the unit it was generated for")
    p.add_argument("--contract", type=Path, help="prove the port-contract modules named in DIR/params.json")
    p.add_argument("--solver", default=None, help="default: the unit's (DEFAULT_SOLVER)")
    p.add_argument("--timeout", type=positive_seconds, default=PROVE_TIMEOUT, help="seconds per SBY job")
    a = p.parse_args(argv)
    ok = True
    try:
        runs = []
        if a.contract:
            runs.append(("contract", lambda: prove_contract(a.contract, None, a.solver or "yices",
                                                            timeout=a.timeout)))
        for u in (a.units if not a.contract or argv and any(x in UNITS_WITH_PROOFS for x in argv) else []):
            cfg = None
            # -P belongs to the unit(s) named (matmul when none is)
            if a.params and (u in (argv or []) or (u == "matmul" and not set(argv or []) & set(ELEMENTWISE))):
                from rtl_gen.matmul import MatmulConfig
                from rtl_gen.softmax import SoftmaxConfig
                from rtl_gen.layernorm import LayerNormConfig
                pairs = []
                for t in a.params:
                    name, sep, value = t.partition("=")
                    if not sep:
                        raise ValueError(f"-P expects NAME=VALUE, got {t!r}")
                    pairs.append((name.strip(), value.strip()))
                from rtl_gen.attention import AttentionConfig
                from rtl_gen.encoder import EncoderConfig
                cls = {"matmul": MatmulConfig, "softmax": SoftmaxConfig, "layernorm": LayerNormConfig,
                       "attention": AttentionConfig, "encoder": EncoderConfig}.get(u) or config_class(u)
                cfg = cls().with_overrides(pairs)
            runs.append((u, lambda u=u, cfg=cfg: prove(u, cfg, a.rtl if u == _rtl_unit(a.rtl) else None,
                                                       a.solver, timeout=a.timeout)))
        for name, fn in runs:
            with sigterm_exits():
                res = fn()
            print(f"== {name} ==")
            print_table(res)
            ok &= all_passed(res)
    except (ValueError, FileNotFoundError, ToolMissing) as e:
        print(f"formal: error: {e}", file=sys.stderr)
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
