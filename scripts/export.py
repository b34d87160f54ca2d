"""`qbert export [--config FILE.toml] -o DIR [--force]` and `qbert export --verify DIR`.

Generates the RTL of every unit the export Config names, runs the sign-off gates
(:mod:`scripts.signoff`) on exactly those files, and only if every gate passes
writes the bundle (:mod:`scripts.bundle`, :mod:`scripts.report`).  Everything is
built in a temporary folder beside DIR and renamed into place when complete: a
failed gate or an interrupted run leaves DIR as it was.  An existing DIR is
refused unless ``--force``, which swaps the new bundle in and then deletes the
old one.
"""
from __future__ import annotations

import datetime
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rtl_gen.config import ConfigError
from rtl_gen.emit import plain_mode, swap_in

from . import bundle, report, signoff
from .export_config import ExportConfig, default_config, load


class GateFailed(Exception):
    """A sign-off gate failed; the message names the unit and the gate."""


def _prepare_target(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"-o {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ConfigError(f"-o {out}: the folder exists and is not empty; pass --force to replace it "
                          "(the old bundle is kept until the new one is complete)")
    parent = out.resolve().parent
    if not parent.is_dir():
        raise ConfigError(f"-o {out}: the parent folder {parent} does not exist")


def build_bundle(ec: ExportConfig, out: Path, *, force: bool = False, say=print) -> dict:
    """Gate and write the bundle of ``ec`` to ``out``; returns the manifest.

    Raises GateFailed (nothing written) or ConfigError (bad target).
    """
    from formal.sby import SOLVER_ENGINES, check_tools
    from scripts.flows import FLOWS
    out = Path(out)
    _prepare_target(out, force)
    check_tools(SOLVER_ENGINES[ec.solver])     # a missing solver is a usage error, not a failed gate
    created = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    parent = out.resolve().parent
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    except OSError as e:
        raise ConfigError(f"-o {out}: cannot write in {parent} ({e.strerror})") from None
    try:
        plain_mode(tmp)
        units = {}
        (tmp / "rtl").mkdir()
        for unit, cfg in ec.units.items():
            flow = FLOWS[unit]
            rtl = flow.gen_module().generate(cfg, tmp / "rtl" / unit)
            units[unit] = (flow, cfg, rtl)
        say(f"export {ec.name}: {', '.join(ec.units)} generated; running the gates "
            f"({', '.join(signoff.GATES)}) unit by unit")
        gates = signoff.run_gates(units, ec, say=say)
        bad = next((g for g in gates if not g.passed), None)
        if bad:
            if bad.log:
                say(bad.log[-4000:])
            raise GateFailed(f"gate {bad.name} failed for unit {bad.unit}: {bad.detail}")
        _write_rest(tmp, ec, units, gates, created)
        manifest = bundle.write_manifest(tmp, ec, [g.to_json() for g in gates], created)
        bundle.verify(tmp)          # the bundle as written matches its own manifest
        try:
            swap_in(tmp, out)
        except OSError as e:
            raise ConfigError(f"-o {out}: cannot write it ({e.strerror})") from None
        return manifest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_rest(root: Path, ec: ExportConfig, units: dict, gates: list, created: str) -> None:
    files = {unit: [src.relative_to(root).as_posix() for src in flow.gen_module().sources(rtl)]
             for unit, (flow, cfg, rtl) in units.items()}
    tops = {unit: flow.gen_module().TOP for unit, (flow, cfg, rtl) in units.items()}
    viv = root / "vivado"
    viv.mkdir()
    (viv / "constraints.xdc").write_text(bundle.xdc(ec))
    (viv / "synth.tcl").write_text(bundle.synth_tcl(ec, tops))
    (viv / "package_ip.tcl").write_text(bundle.package_ip_tcl(ec, tops))
    for unit, (flow, cfg, rtl) in units.items():
        gm = flow.gen_module()
        bundle.write_ipxact(gm, cfg, gm.sources(rtl), root / "ipxact" / gm.TOP)
    (root / f"{ec.name}.core").write_text(bundle.fusesoc_core(ec, files, tops))
    (root / "config.toml").write_text(ec.to_toml())
    perf = {g.unit: g.data["perf"] for g in gates if g.name == "bench" and "perf" in g.data}
    report.write(root, ec, units, gates, perf, created)


def main(args) -> int:
    if args.verify:
        if args.output or args.config or args.force:
            raise ConfigError("--verify DIR takes no -o, --config or --force")
        root = Path(args.verify)
        if not root.is_dir():
            raise ConfigError(f"--verify {root}: "
                              f"{'a file, not a bundle folder' if root.exists() else 'no such folder'}")
        try:
            n = bundle.verify(root)
        except bundle.VerifyError as e:
            print(f"export --verify {root}: FAILED: {e}", file=sys.stderr)
            return 1
        print(f"export --verify {root}: OK, {n} files match manifest.json")
        return 0
    if not args.output:
        raise ConfigError("qbert export needs -o DIR (or --verify DIR)")
    ec = load(args.config) if args.config else default_config()
    out = Path(args.output)
    t0 = time.time()
    try:
        man = build_bundle(ec, out, force=args.force,
                           say=lambda line: print(line, flush=True))
    except GateFailed as e:
        print(f"export {ec.name}: REFUSED, nothing written: {e}", file=sys.stderr)
        return 1
    print(f"export {ec.name}: wrote {out} ({len(man['files'])} files + manifest.json) in "
          f"{time.time() - t0:.0f} s; check it any time with: qbert export --verify {out}")
    return 0
