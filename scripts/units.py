"""The units the kit knows, and which of them are built yet."""
from __future__ import annotations

UNITS = ("matmul", "softmax", "layernorm", "gelu", "attention", "encoder")

#: unit -> the issue that builds it, for units whose RTL does not exist yet.
PENDING = {
    "layernorm": 5,
    "gelu": 6,
    "encoder": 7,
}
