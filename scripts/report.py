"""report.md / report.html / plots/*.png of an export bundle, from the gate results.

The report is built once as a list of blocks (heading, text, table, image) and
rendered twice, to Markdown and to a self-contained HTML page.
"""
from __future__ import annotations

import html
from pathlib import Path

RESOURCE_KEYS = ("LUT", "FF", "DSP48E2", "BRAM", "CARRY", "SRL", "LUTRAM")


def _blocks(ec, units: dict, gates: list, perf: dict, plots: list[str], created: str) -> list:
    b = [("h1", f"qbert-rtl export bundle `{ec.name}`"),
         ("p", f"Created {created}. Target part {ec.part}, clock {ec.clock_mhz} MHz "
               f"(period {ec.period_ns} ns). Every file below passed every gate; the hashes are in "
               "manifest.json (`qbert export --verify DIR`)."),
         ("h2", "Gates"),
         ("p", "lint: `verilator --lint-only -Wall` clean. sim: the unit's cocotb regression under "
               "Verilator, Hypothesis examples bit-exact against the golden model, plus its directed "
               "tests. formal: every SymbiYosys proof and z3 lemma of `qbert prove UNIT`. synth: Yosys "
               "infers no latch and `synth_xilinx` maps the unit (UltraScale+ family xcup)."),
         ("table", ["unit", "gate", "result", "time (s)", "detail"],
          [[g.unit, g.name, "PASS" if g.passed else "FAIL", f"{g.seconds:.1f}", g.detail] for g in gates])]
    res_rows = []
    for unit, (flow, cfg, rtl) in units.items():
        r = next((g.data["resources"] for g in gates if g.unit == unit and g.name == "synth"), None)
        if r:
            res_rows.append([unit, flow.gen_module().TOP] + [str(r.get(k, 0)) for k in RESOURCE_KEYS])
    b += [("h2", "Resources (Yosys synth_xilinx -family xcup)"),
          ("p", "Yosys' mapping, not Vivado's: Vivado's own numbers come from vivado/synth.tcl."),
          ("table", ["unit", "top"] + list(RESOURCE_KEYS), res_rows)]
    for unit, (flow, cfg, rtl) in units.items():
        b.append(("h2", f"Unit {unit} (`{flow.gen_module().TOP}`)"))
        b.append(("table", ["parameter", "value"], [[k, str(v)] for k, v in cfg.to_params().items()]))
        p = perf.get(unit, {})
        if p.get("facts"):
            b.append(("table", ["latency / throughput", "value"], [[k, str(v)] for k, v in p["facts"]]))
        if p.get("points"):
            b.append(("table", p["columns"], [[str(x) for x in row] for row in p["points"]]))
        sim = next((g for g in gates if g.unit == unit and g.name == "sim"), None)
        if sim:
            b.append(("p", f"Simulation: {sim.detail}."))
        fg = next((g for g in gates if g.unit == unit and g.name == "formal"), None)
        if fg and fg.data.get("proofs"):
            b.append(("table", ["proof (widths in the name)", "kind", "status", "time (s)"],
                      [[q["name"], q["kind"], q["status"], str(q["seconds"])] for q in fg.data["proofs"]]))
    if plots:
        b.append(("h2", "Plots"))
        b += [("img", p) for p in plots]
    return b


def _md(blocks) -> str:
    out = []
    for blk in blocks:
        kind = blk[0]
        if kind == "h1":
            out.append(f"# {blk[1]}\n")
        elif kind == "h2":
            out.append(f"## {blk[1]}\n")
        elif kind == "p":
            out.append(blk[1] + "\n")
        elif kind == "table":
            head, rows = blk[1], blk[2]
            esc = lambda c: str(c).replace("|", "\\|")   # noqa: E731
            out.append("| " + " | ".join(head) + " |")
            out.append("|" + "---|" * len(head))
            out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
            out.append("")
        elif kind == "img":
            out.append(f"![{Path(blk[1]).stem}]({blk[1]})\n")
    return "\n".join(out)


def _html(blocks, title: str) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>", f"<title>{e(title)}</title>",
           "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}"
           "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:2px 8px;"
           "text-align:left}img{max-width:100%}</style>", "</head><body>"]
    for blk in blocks:
        kind = blk[0]
        if kind in ("h1", "h2"):
            out.append(f"<{kind}>{e(blk[1])}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{e(blk[1])}</p>")
        elif kind == "table":
            out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in blk[1]) + "</tr>")
            out += ["<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in blk[2]]
            out.append("</table>")
        elif kind == "img":
            out.append(f"<p><img src='{e(blk[1])}' alt='{e(Path(blk[1]).stem)}'></p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def plots(root: Path, units: dict, gates: list, perf: dict) -> list[str]:
    """PNG plots under root/plots; returns their bundle-relative paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    (root / "plots").mkdir(exist_ok=True)
    made = []
    res = {g.unit: g.data["resources"] for g in gates if g.name == "synth" and g.passed}
    if res:
        keys = ("LUT", "FF", "DSP48E2", "BRAM")
        fig, ax = plt.subplots(figsize=(7, 3.5))
        w = 0.8 / len(keys)
        names = list(res)
        for i, k in enumerate(keys):
            ax.bar([x + i * w for x in range(len(names))], [max(res[u].get(k, 0), 0.5) for u in names],
                   w, label=k)
        ax.set_xticks([x + w * (len(keys) - 1) / 2 for x in range(len(names))])
        ax.set_xticklabels([f"{u}\n{_short(units[u][1])}" for u in names], fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("cells (log)")
        ax.set_title("Resources per unit and Config (Yosys synth_xilinx)")
        made.append(_save(plt, fig, ax, root, "resources.png"))
    curves = {u: p for u, p in perf.items() if p.get("curve")}
    if curves:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for u, p in curves.items():
            xs, ys = zip(*p["curve"])
            ax.plot(xs, ys, marker="o", label=f"{u}: {p['curve_label']}")
        ax.set_xscale("log", base=2)
        ax.set_ylim(0, 105)
        ax.set_xlabel("work per unit of data (K-run / row length)")
        ax.set_ylabel("utilization (% of peak)")
        ax.set_title("Measured utilization in Verilator (no stalls)")
        made.append(_save(plt, fig, ax, root, "utilization.png"))
    return made


def _save(plt, fig, ax, root: Path, name: str) -> str:
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(root / "plots" / name, dpi=100)
    plt.close(fig)
    return f"plots/{name}"


def _short(cfg) -> str:
    return ",".join(f"{k}={v}" for k, v in list(cfg.to_params().items())[:3])


def write(root: Path, ec, units: dict, gates: list, perf: dict, created: str) -> None:
    made = plots(root, units, gates, perf)
    blocks = _blocks(ec, units, gates, perf, made, created)
    (root / "report.md").write_text(_md(blocks))
    (root / "report.html").write_text(_html(blocks, f"qbert-rtl export {ec.name}"))
