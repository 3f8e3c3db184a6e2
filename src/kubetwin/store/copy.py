"""Fast deep copy for JSON-shaped objects (dict/list/str/int/float/bool/None)."""

from __future__ import annotations

from typing import Any


def deep_copy(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: deep_copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [deep_copy(v) for v in obj]
    return obj
