"""Go-style durations (``90s``, ``2h``, ``1h30m``, ``500ms``) as used in Kubernetes configs."""

from __future__ import annotations

import re
from datetime import UTC as _UTC
from datetime import datetime as _datetime

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")


def parse_duration(value: str | int | float) -> float:
    """Seconds in a duration string. Bare numbers are seconds. Raises ValueError with the input."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"invalid duration {value!r}: must not be negative")
        return float(value)
    text = str(value).strip()
    if not text:
        raise ValueError("invalid duration '': empty")
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if seconds < 0:
            raise ValueError(f"invalid duration {value!r}: must not be negative")
        return seconds
    pos, total = 0, 0.0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"invalid duration {value!r}: expected e.g. 30s, 15m, 2h, 1h30m")
    return total


def format_duration(seconds: float) -> str:
    """kubectl's AGE column (k8s.io/apimachinery/pkg/util/duration HumanDuration).

    45s, 3m20s, 90m, 3h5m, 10h, 2d4h, 20d, 2y30d, 9y. Slightly negative values (clock skew of
    under 2 s) print as 0s, larger negative ones as ``<invalid>``.
    """
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        sec = s % 60
        return f"{minutes}m{sec}s" if sec else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h{m}m" if m else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d{h}h" if h else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y{dy}d" if dy else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def wall_datetime() -> _datetime:
    """Real UTC time. Only for wall-clock artefacts a real client checks (TLS certificate
    validity); everything a simulation does uses the EventLoop's virtual time."""
    return _datetime.now(_UTC)
