"""Shared base of the frozen unit Config dataclasses.

A unit Config is a ``@dataclass(frozen=True)`` subclass of :class:`UnitConfig`
whose fields declare their allowed values in the field metadata::

    rows: int = field(default=4, metadata=rng(1, 64, "PE array rows"))
    weight_bits: int = field(default=8, metadata=choice(4, 8))

Construction validates every field (ValueError naming the field and the allowed
values), then calls the subclass hook :meth:`UnitConfig._check` for rules that
span fields.  Derived quantities (widths) are properties, never fields, so
params.json only records what a user can set.

The same object round-trips through ``-P NAME=VALUE`` overrides
(:meth:`with_overrides`), TOML files (:meth:`from_toml`) and the params.json a
generator writes beside its RTL (:meth:`to_json` / :meth:`load`).
"""
from __future__ import annotations

import dataclasses
import json
import tomllib
import typing
from pathlib import Path
from typing import Any, Iterable

PARAMS_FILE = "params.json"


class ConfigError(ValueError):
    """A bad Config field or params file; the message names the field or file."""


def rng(lo: int, hi: int, doc: str = "") -> dict:
    """Field metadata: an integer in [lo, hi]."""
    return {"lo": lo, "hi": hi, "doc": doc}


def choice(*values, doc: str = "") -> dict:
    """Field metadata: one of ``values``."""
    return {"choices": tuple(values), "doc": doc}


def allowed(f: dataclasses.Field) -> str:
    md = f.metadata
    if "choices" in md:
        return "one of " + ", ".join(str(v) for v in md["choices"])
    if "lo" in md:
        return f"an integer in [{md['lo']}, {md['hi']}]"
    return f"a {f.type}"


@dataclasses.dataclass(frozen=True)
class UnitConfig:
    """Base class; subclasses are frozen dataclasses that set ``UNIT``."""

    UNIT: typing.ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            md = f.metadata
            if f.type in (int, "int"):
                if isinstance(v, bool) or not isinstance(v, int):
                    raise ConfigError(f"{self.UNIT}: {f.name} must be {allowed(f)}, got {v!r}")
            if "choices" in md and v not in md["choices"]:
                raise ConfigError(f"{self.UNIT}: {f.name} must be {allowed(f)}, got {v!r}")
            if "lo" in md and not md["lo"] <= v <= md["hi"]:
                raise ConfigError(f"{self.UNIT}: {f.name} must be {allowed(f)}, got {v!r}")
        self._check()

    def _check(self) -> None:
        """Cross-field rules; raise ConfigError naming the fields."""

    # -- construction -----------------------------------------------------
    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def _unknown(cls, names: Iterable[str]) -> None:
        bad = [n for n in names if n not in cls.field_names()]
        if bad:
            raise ConfigError(
                f"{cls.UNIT}: unknown parameter {bad[0]!r}; valid parameters: "
                + ", ".join(f"{f.name} ({allowed(f)})" for f in dataclasses.fields(cls)))

    @classmethod
    def from_params(cls, params: dict[str, Any]):
        """A Config from a dict of field values (unknown keys are an error)."""
        if not isinstance(params, dict):
            raise ConfigError(f"{cls.UNIT}: parameters must be a mapping, got {type(params).__name__}")
        cls._unknown(params)
        return cls(**params)

    def to_params(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps({"unit": self.UNIT, "params": self.to_params()}, indent=2,
                          sort_keys=True) + "\n"

    def with_overrides(self, overrides: Iterable[tuple[str, str]]):
        """A copy with ``-P NAME=VALUE`` overrides applied (values are strings)."""
        overrides = list(overrides)
        self._unknown(n for n, _ in overrides)
        types = {f.name: f for f in dataclasses.fields(self)}
        changes = {}
        for name, text in overrides:
            f = types[name]
            changes[name] = _convert(self.UNIT, f, text)
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_toml(cls, path: str | Path):
        """Fields from a TOML file: top-level keys, or a ``[UNIT]`` table."""
        return cls.from_params(cls.toml_params(path))

    @classmethod
    def toml_params(cls, path: str | Path) -> dict:
        """The fields a TOML file gives (top-level keys, or a ``[UNIT]`` table), unchecked."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except IsADirectoryError:
            raise ConfigError(f"config file {path} is a folder, not a TOML file") from None
        except OSError as e:
            raise ConfigError(f"config file {path}: cannot read it ({e.strerror})") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
        tables = sorted(k for k, v in data.items() if isinstance(v, (dict, list)))
        if cls.UNIT in data:
            if not isinstance(data[cls.UNIT], dict):
                raise ConfigError(f"config file {path}: '{cls.UNIT}' must be a table [{cls.UNIT}] "
                                  f"of {cls.UNIT}'s fields")
            loose = sorted(k for k in data if k not in tables)
            if loose:       # would be silently dropped: say where they belong
                raise ConfigError(f"config file {path}: top-level key(s) {', '.join(loose)} beside "
                                  f"the [{cls.UNIT}] table; put {cls.UNIT}'s fields in [{cls.UNIT}]")
            return data[cls.UNIT]
        if tables:
            raise ConfigError(f"config file {path} has table(s) {', '.join(tables)} but no "
                              f"[{cls.UNIT}]: give {cls.UNIT}'s fields in [{cls.UNIT}] or at the top level")
        return data

    @classmethod
    def load(cls, rtl_dir: str | Path):
        """The Config recorded in ``rtl_dir/params.json`` by a generator."""
        rtl_dir = Path(rtl_dir)
        if not rtl_dir.is_dir():
            raise ConfigError(f"RTL folder {rtl_dir} "
                              f"{'is a file, not a folder' if rtl_dir.exists() else 'does not exist'}")
        p = rtl_dir / PARAMS_FILE
        try:
            data = json.loads(p.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{p} is missing: is {rtl_dir} a folder written by "
                              f"`qbert gen {cls.UNIT}`?") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{p} is not valid JSON: {e}") from None
        if not isinstance(data, dict) or "params" not in data:
            raise ConfigError(f"{p} is malformed: expected an object with 'unit' and 'params'")
        if data.get("unit") != cls.UNIT:
            raise ConfigError(f"{p} describes unit {data.get('unit')!r}, not {cls.UNIT!r}")
        return cls.from_params(data["params"])


def _convert(unit: str, f: dataclasses.Field, text: str):
    t = f.type
    try:
        if t in (int, "int"):
            # base prefixes (0x10), and plain decimals with leading zeros (08)
            return int(text, 10) if text.strip().lstrip("+-").isdigit() else int(text, 0)
        if t in (bool, "bool"):
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if t in (str, "str"):
            return text
    except ValueError:
        raise ConfigError(f"{unit}: {f.name} must be {allowed(f)}, got {text!r}") from None
    raise ConfigError(f"{unit}: field {f.name} has unsupported type {t!r}")
