"""The export Config: which units go into a bundle, their parameters, and the target.

A TOML file with an ``[export]`` table and one table per unit::

    [export]
    name = "qbert"                   # bundle / IP name (Verilog identifier)
    part = "xczu9eg-ffvb1156-2-e"    # Vivado part (ZCU102)
    clock_mhz = 250.0                # create_clock period = 1000 / clock_mhz ns
    sim_examples = 30                # Hypothesis examples per unit in the sim gate
    seed = 1                         # the sim gate's seed (reproducible sign-off)
    solver = "z3"                    # SMT solver of the formal gate (z3 or yices)

    [matmul]                         # a unit: its Config fields (absent = default)
    rows = 4
    [softmax]

Without a file, :func:`default_config` is every unit that has simulations and
proofs, at its default Config.  Errors name the file, the line and the
parameter (:class:`rtl_gen.config.ConfigError`, exit status 2).
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from rtl_gen.config import ConfigError, UnitConfig

DEFAULT_PART = "xczu9eg-ffvb1156-2-e"


@dataclass(frozen=True)
class ExportConfig:
    name: str = "qbert"
    part: str = DEFAULT_PART
    clock_mhz: float = 250.0
    sim_examples: int = 30
    seed: int = 1
    solver: str = "z3"
    units: dict[str, UnitConfig] = field(default_factory=dict)

    def __post_init__(self):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", self.name):
            raise ConfigError(f"export.name must be a Verilog identifier "
                              f"([A-Za-z_][A-Za-z0-9_]*, at most 64 characters), got {self.name!r}")
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", self.part):
            raise ConfigError(f"export.part must be a Xilinx part name such as {DEFAULT_PART!r}, "
                              f"got {self.part!r}")
        if not 1.0 <= self.clock_mhz <= 1000.0:
            raise ConfigError(f"export.clock_mhz must be in [1, 1000], got {self.clock_mhz}")
        if not 1 <= self.sim_examples <= 100000:
            raise ConfigError(f"export.sim_examples must be in [1, 100000], got {self.sim_examples}")
        if not 0 <= self.seed < 1 << 31:
            raise ConfigError(f"export.seed must be in [0, 2^31), got {self.seed}")
        from formal.sby import SOLVER_ENGINES as SOLVERS
        if self.solver not in SOLVERS:
            raise ConfigError(f"export.solver must be one of {', '.join(SOLVERS)}, got {self.solver!r}")
        if not self.units:
            raise ConfigError("the export Config names no unit: add a table such as [matmul]")

    @property
    def period_ns(self) -> float:
        return round(1000.0 / self.clock_mhz, 3)

    def to_toml(self) -> str:
        """The Config as TOML (every field, every unit parameter): the bundle's config.toml."""
        lines = ["[export]"]
        for f in fields(self):
            if f.name != "units":
                lines.append(f"{f.name} = {_toml_value(getattr(self, f.name))}")
        for unit, cfg in self.units.items():
            lines += ["", f"[{unit}]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in cfg.to_params().items()]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "units"}
        d["units"] = {u: c.to_params() for u, c in self.units.items()}
        return d


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(v)


def exportable_units() -> list[str]:
    """Units with a generator, a testbench and proofs: what sign-off can gate."""
    from formal.run import UNITS_WITH_PROOFS
    from scripts.flows import FLOWS
    return [u for u in FLOWS if u in UNITS_WITH_PROOFS]


def default_config() -> ExportConfig:
    from scripts.flows import FLOWS
    return ExportConfig(units={u: FLOWS[u].config_class()() for u in exportable_units()})


def _line_of(text: str, table: str | None, key: str | None = None) -> int | None:
    """1-based line of ``[table]`` (or of ``key = `` inside it) in TOML ``text``."""
    current = None
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        head = re.fullmatch(r"\[\s*([^\[\]]+?)\s*\]\s*(#.*)?", s)
        if head:
            current = head.group(1).strip('"')
            if key is None and current == table:
                return n
            continue
        if key is not None and current == table and re.match(rf'"?{re.escape(key)}"?\s*=', s):
            return n
    return None


def load(path: str | Path) -> ExportConfig:
    """Parse and validate an export TOML file (ConfigError naming file:line and parameter)."""
    from scripts.flows import FLOWS
    from scripts.units import UNITS
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"export config {path} does not exist") from None
    except (IsADirectoryError, UnicodeDecodeError) as e:
        raise ConfigError(f"export config {path} is not a readable TOML file: {e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None

    def where(table, key=None) -> str:
        n = _line_of(text, table, key)
        return f"{path}:{n}" if n else str(path)

    kw = {}
    top = data.pop("export", {})
    if not isinstance(top, dict):
        raise ConfigError(f"{where(None, 'export')}: 'export' must be a table [export]")
    names = {f.name: f for f in fields(ExportConfig) if f.name != "units"}
    for k, v in top.items():
        if k not in names:
            raise ConfigError(f"{where('export', k)}: unknown parameter export.{k}; "
                              f"allowed: {', '.join(names)}")
        want = float if k == "clock_mhz" else type(getattr(ExportConfig, k))
        if want is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not isinstance(v, want) or isinstance(v, bool):
            raise ConfigError(f"{where('export', k)}: export.{k} must be a {want.__name__}, got {v!r}")
        kw[k] = v
    units = {}
    for unit, params in data.items():
        if unit not in FLOWS:
            known = exportable_units()
            pending = " (not built yet)" if unit in UNITS else ""
            raise ConfigError(f"{where(unit)}: unknown unit [{unit}]{pending}; "
                              f"units that can be exported: {', '.join(known)}")
        if unit not in exportable_units():
            raise ConfigError(f"{where(unit)}: unit [{unit}] cannot be signed off yet: its proofs "
                              f"cover only part of it (see its doc); units that can be exported: "
                              f"{', '.join(exportable_units())}")
        if not isinstance(params, dict):
            raise ConfigError(f"{where(None, unit)}: '{unit}' must be a table [{unit}]")
        cls = FLOWS[unit].config_class()
        try:
            units[unit] = cls.from_params(params)
        except ConfigError as e:
            msg = str(e)
            bad = next((k for k in params if f"'{k}'" in msg or f" {k} must" in msg), None)
            raise ConfigError(f"{where(unit, bad)}: [{unit}] {e}") from None
    try:
        return ExportConfig(units=units, **kw)
    except ConfigError as e:
        bad = next((k for k in kw if f"export.{k}" in str(e)), None)
        raise ConfigError(f"{where('export', bad) if bad else path}: {e}") from None
