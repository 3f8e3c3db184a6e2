"""Go-style durations (``90s``, ``2h``, ``1h30m``, ``500ms``) as used in Kubernetes configs."""

from __future__ import annotations

import re

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
    """Compact human form like kubectl's AGE column: 45s, 12m, 3h5m, 2d4h."""
    s = int(seconds)
    if s < 0:
        s = 0
    if s < 120:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 10:
        return f"{m}m{s}s" if s else f"{m}m"
    if m < 180:
        return f"{m}m" if m < 60 else (f"{m // 60}h{m % 60}m" if m % 60 else f"{m // 60}h")
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h}h{m}m" if m and h < 8 else f"{h}h"
    d, h = divmod(h, 24)
    return f"{d}d{h}h" if h and d < 8 else f"{d}d"
