"""The units the kit knows, and which of them are built yet."""
from __future__ import annotations

UNITS = ("matmul", "softmax", "layernorm", "gelu", "requant", "residual", "attention", "encoder")

#: unit -> the issue that builds it, for units whose RTL does not exist yet.
PENDING: dict[str, int] = {}
