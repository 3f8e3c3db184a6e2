"""LoadProfile (kubetwin.io/v1alpha1): traffic over time and what it costs each pod.

kubetwin's own kind; no upstream counterpart. Shape::

    spec:
      selector: {matchLabels: {app: web}}        # the workload's pods (same namespace)
      traffic:                                   # exactly one of
        constant: {rps: 100}
        steps: [{at: 0s, rps: 50}, {at: 30m, rps: 200}]      # rps 0 before the first step
        ramp: {from: 10, to: 500, over: 1h, at: 0s}          # linear, then holds ``to``
        diurnal: {base: 50, peak: 400, peakAt: "14:00", period: 24h}   # sine, UTC clock time
        trace: {csv: "time,rps\\n0s,10\\n1h,80", column: rps}  # linear interpolation, held ends
      perPod:
        baseline: {cpu: 50m, memory: 200Mi}
        cpuPerRequest: 2m          # cpu-seconds per request: 2m x 100 rps = 200m
        memoryPerRps: 1Mi          # working set per request/s
        memoryLeakPerHour: 20Mi    # grows from the container's (re)start
        startup: {cpu: "1", duration: 60s}   # CPU demand is at least this for the first minute
      metrics: [...]               # custom metrics (read by the metrics pipeline)

Traffic is split evenly across the Ready (not terminating) pods matching the selector. A trace
``csv`` is inline CSV text or a file path; ``kubetwin run`` inlines files relative to the
manifest's directory (:func:`inline_trace_file`). Times in a trace are Go durations or seconds
from the start of the scenario; the first line may be a header naming the columns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from kubetwin.api.quantity import cpu_milli, parse_quantity
from kubetwin.api.selectors import LabelSelector, label_selector_from_dict
from kubetwin.sim import parse_duration

Obj = dict[str, Any]
DAY = 86400.0
TRAFFIC_KINDS = ("constant", "steps", "ramp", "diurnal", "trace")


class Traffic(Protocol):
    def rps(self, t: float) -> float: ...


@dataclass(frozen=True)
class Constant:
    value: float

    def rps(self, t: float) -> float:
        return self.value


@dataclass(frozen=True)
class Steps:
    at: tuple[float, ...]
    values: tuple[float, ...]

    def rps(self, t: float) -> float:
        out = 0.0
        for when, v in zip(self.at, self.values, strict=True):
            if t < when:
                break
            out = v
        return out


@dataclass(frozen=True)
class Ramp:
    start_rps: float
    end_rps: float
    over: float
    at: float = 0.0

    def rps(self, t: float) -> float:
        if t <= self.at:
            return self.start_rps
        if self.over <= 0 or t >= self.at + self.over:
            return self.end_rps
        return self.start_rps + (self.end_rps - self.start_rps) * (t - self.at) / self.over


@dataclass(frozen=True)
class Diurnal:
    base: float
    peak: float
    peak_at: float  # seconds after midnight
    period: float = DAY
    clock_offset: float = 0.0  # seconds after midnight (UTC) at virtual time 0

    def rps(self, t: float) -> float:
        phase = 2 * math.pi * (t + self.clock_offset - self.peak_at) / self.period
        return self.base + (self.peak - self.base) * (1 + math.cos(phase)) / 2


@dataclass(frozen=True)
class Trace:
    times: tuple[float, ...]
    values: tuple[float, ...]

    def rps(self, t: float) -> float:
        if not self.times:
            return 0.0
        return float(np.interp(t, self.times, self.values))


@dataclass
class PerPod:
    """Per-pod costs; CPU in millicores, memory in bytes."""

    baseline_cpu: float | None = None
    baseline_memory: float | None = None
    cpu_per_rps: float = 0.0  # millicores per request/s (= cpu-seconds per request x 1000)
    memory_per_rps: float = 0.0
    leak_per_second: float = 0.0
    startup_cpu: float = 0.0
    startup_seconds: float = 0.0


@dataclass
class LoadProfile:
    namespace: str
    name: str
    selector: LabelSelector
    traffic: Traffic
    per_pod: PerPod
    metrics: list[Obj] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def _num(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{what}: must be a number, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(parse_quantity(value).amount)
        except ValueError:
            pass
    raise ValueError(f"{what}: must be a number, got {value!r}")


def clock_seconds(value: Any) -> float:
    """``"14:00"`` / ``"14:00:30"`` -> seconds after midnight."""
    parts = str(value).split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise ValueError(f"must be a time of day like \"14:00\", got {value!r}")
    h, m = int(parts[0]), int(parts[1])
    s = int(parts[2]) if len(parts) == 3 else 0
    if h > 23 or m > 59 or s > 59:
        raise ValueError(f"must be a time of day like \"14:00\", got {value!r}")
    return h * 3600.0 + m * 60.0 + s


def looks_inline_csv(text: str) -> bool:
    return "\n" in text or "," in text


def parse_csv(text: str, column: str | int | None = None) -> tuple[list[float], list[float]]:
    """(times, values) from ``time,value[,...]`` lines; raises ValueError naming the line."""
    rows = [line.strip() for line in text.splitlines()]
    rows = [r for r in rows if r and not r.startswith("#")]
    if not rows:
        raise ValueError("the trace is empty")
    first = [c.strip() for c in rows[0].split(",")]
    header: list[str] | None = None
    try:
        parse_duration(first[0])
    except ValueError:
        header = first
        rows = rows[1:]
    col = 1
    if isinstance(column, int) and not isinstance(column, bool):
        col = column
    elif isinstance(column, str) and column:
        if column.isdigit():
            col = int(column)
        elif header is None or column not in header:
            raise ValueError(f"column {column!r} not found (the first line must name the columns)")
        else:
            col = header.index(column)
    if col < 1:
        raise ValueError("column must name a value column, not the time column")
    times: list[float] = []
    values: list[float] = []
    for n, row in enumerate(rows, start=2 if header else 1):
        cells = [c.strip() for c in row.split(",")]
        if len(cells) <= col:
            raise ValueError(f"line {n}: expected at least {col + 1} columns, got {len(cells)}")
        try:
            t = parse_duration(cells[0])
            v = float(cells[col])
        except ValueError:
            raise ValueError(f"line {n}: expected a time and a number, got {row!r}") from None
        if times and t < times[-1]:
            raise ValueError(f"line {n}: times must not go back ({cells[0]})")
        if v < 0 or math.isnan(v):
            raise ValueError(f"line {n}: rps must not be negative")
        times.append(t)
        values.append(v)
    if not times:
        raise ValueError("the trace has no data lines")
    return times, values


def parse_traffic(traffic: Obj, clock_offset: float = 0.0) -> Traffic:
    """Traffic from ``spec.traffic``; raises ValueError (the object is validated on create)."""
    kinds = [k for k in TRAFFIC_KINDS if traffic.get(k) is not None]
    if len(kinds) != 1:
        raise ValueError("spec.traffic: exactly one of constant, steps, ramp, diurnal, trace")
    kind = kinds[0]
    body = traffic[kind]
    if kind == "constant":
        return Constant(_num(body.get("rps", 0), "rps"))
    if kind == "steps":
        pts = sorted((parse_duration(s.get("at", 0)), _num(s.get("rps", 0), "rps")) for s in body)
        return Steps(tuple(p[0] for p in pts), tuple(p[1] for p in pts))
    if kind == "ramp":
        return Ramp(_num(body.get("from", 0), "from"), _num(body.get("to", 0), "to"),
                    parse_duration(body.get("over", 0)), parse_duration(body.get("at", 0)))  # fmt: skip
    if kind == "diurnal":
        peak_at = clock_seconds(body.get("peakAt", "12:00"))
        period = parse_duration(body.get("period", "24h")) or DAY
        return Diurnal(_num(body.get("base", 0), "base"), _num(body.get("peak", 0), "peak"), peak_at, period,
                       clock_offset)  # fmt: skip
    csv = str(body.get("csv", ""))
    times, values = parse_csv(csv, body.get("column"))
    return Trace(tuple(times), tuple(values))


def _cpu(value: Any) -> float:
    return float(cpu_milli(value))


def _bytes(value: Any) -> float:
    return float(parse_quantity(value).amount)


def parse_per_pod(per_pod: Obj) -> PerPod:
    p = PerPod()
    base = per_pod.get("baseline") or {}
    if base.get("cpu") is not None:
        p.baseline_cpu = _cpu(base["cpu"])
    if base.get("memory") is not None:
        p.baseline_memory = _bytes(base["memory"])
    if per_pod.get("cpuPerRequest") is not None:
        p.cpu_per_rps = _cpu(per_pod["cpuPerRequest"])
    if per_pod.get("memoryPerRps") is not None:
        p.memory_per_rps = _bytes(per_pod["memoryPerRps"])
    if per_pod.get("memoryLeakPerHour") is not None:
        p.leak_per_second = _bytes(per_pod["memoryLeakPerHour"]) / 3600.0
    startup = per_pod.get("startup") or {}
    if startup.get("cpu") is not None:
        p.startup_cpu = _cpu(startup["cpu"])
        p.startup_seconds = parse_duration(startup.get("duration", "60s"))
    return p


def parse_profile(obj: Obj, clock_offset: float = 0.0) -> LoadProfile:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    return LoadProfile(
        namespace=meta.get("namespace") or "default",
        name=meta.get("name", ""),
        selector=label_selector_from_dict(spec.get("selector") or {}),
        traffic=parse_traffic(spec.get("traffic") or {}, clock_offset),
        per_pod=parse_per_pod(spec.get("perPod") or {}),
        metrics=list(spec.get("metrics") or []),
    )


def inline_trace_file(obj: Obj, base_dir: str | Path) -> Obj:
    """A LoadProfile whose ``trace.csv`` names a file gets the file's content inline (a copy).

    Relative paths are resolved against ``base_dir`` (the manifest's directory). Raises
    ValueError when the file cannot be read.
    """
    trace = ((obj.get("spec") or {}).get("traffic") or {}).get("trace")
    if not isinstance(trace, dict):
        return obj
    csv = trace.get("csv")
    if not isinstance(csv, str) or not csv or looks_inline_csv(csv):
        return obj
    path = Path(csv)
    if not path.is_absolute():
        path = Path(base_dir) / path
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"spec.traffic.trace.csv: cannot read {csv!r}: {e}") from None
    new = dict(obj)
    spec = dict(new["spec"])
    traffic = dict(spec["traffic"])
    traffic["trace"] = {**trace, "csv": text}
    spec["traffic"] = traffic
    new["spec"] = spec
    return new
