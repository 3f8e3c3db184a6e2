"""Defaulting (pkg/apis/core/v1/defaults.go, pkg/apis/apps/v1/defaults.go, ...). Filled in by the api work."""

from __future__ import annotations

from typing import Any


def apply_defaults(obj: dict[str, Any]) -> None:
    """Mutate ``obj`` in place with the defaults upstream's API server applies on create/update."""
