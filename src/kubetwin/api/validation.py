"""Validation with field paths (pkg/apis/*/validation). Filled in by the api work."""

from __future__ import annotations

from typing import Any

from kubetwin.api.errors import Cause


def validate(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[Cause]:
    """Field errors for ``obj`` (``old`` is the stored object on update, for immutability rules)."""
    return []
