"""Scenario report: one self-contained HTML page from the recorder's data.

Not an upstream component: the report is kubetwin's own output. It reads the
plain JSON-shaped dict written by ``scenario.recorder`` (see ``render_report``)
and renders header, verdicts, pod and node charts (inline SVG from matplotlib's
SVG backend, no network), node / pending / workload / event tables. The
scheduler messages it groups are upstream's ``FitError`` texts
("0/3 nodes are available: 3 Insufficient cpu. preemption: ...",
pkg/scheduler/framework/types.go), which ``compute_verdicts`` splits into
reasons.

Output is deterministic: the same data gives byte-identical HTML (fixed SVG
hash salt per chart, no dates in SVG metadata, sorted iteration everywhere).
"""

from __future__ import annotations

import html
import io
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import matplotlib

if "matplotlib.pyplot" not in sys.modules:  # never pick an interactive backend; charts use the OO API
    matplotlib.use("Agg")

from matplotlib.backends.backend_svg import FigureCanvasSVG  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

__all__ = [
    "compute_verdicts",
    "format_bytes",
    "format_cores",
    "format_duration",
    "render_report",
]

PHASES = ("Running", "Pending", "Succeeded", "Failed", "Unknown")
QOS_CLASSES = ("Guaranteed", "Burstable", "BestEffort")
LEVELS = ("bad", "warn", "ok")

# Thresholds for verdicts.
HOT_NODE_PERCENT = 90.0  # a node requesting at least this much of allocatable gets a warning
HOT_NODE_LIST_MAX = 5  # more hot nodes than this are summarised in one verdict
LONG_PENDING_SECONDS = 60.0  # pods that waited this long before scheduling get a warning
NODE_AGGREGATE_THRESHOLD = 40  # above this many nodes, allocation charts are per nodegroup
MAX_WARNING_ROWS = 100
MAX_PENDING_ROWS = 200
MAX_NODE_ROWS = 500
MAX_PLOT_POINTS = 1500

PHASE_COLORS = {
    "Running": "#2f9e62",
    "Pending": "#e3a21a",
    "Succeeded": "#4a7fd4",
    "Failed": "#d64545",
    "Unknown": "#9aa0a6",
}
QOS_COLORS = {"Guaranteed": "#2563a8", "Burstable": "#7c5cc4", "BestEffort": "#b8bfc9"}
CPU_COLOR = "#2563a8"
MEM_COLOR = "#7c5cc4"
PODS_COLOR = "#2f9e62"
ALLOC_BG = "#e6e9ef"
TEXT_COLOR = "#1f2933"
MUTED_COLOR = "#6b7480"
GRID_COLOR = "#e3e7ed"

_MPL_RC: dict[str, Any] = {
    "svg.hashsalt": "kubetwin-report",
    "svg.fonttype": "none",  # real <text>: small, selectable, styled by the page
    "text.parse_math": False,  # user strings with '$' stay literal
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Helvetica Neue", "Arial", "Liberation Sans"],
    "font.size": 9.0,
    "axes.edgecolor": "#c5ccd6",
    "axes.labelcolor": MUTED_COLOR,
    "axes.linewidth": 0.8,
    "axes.titlesize": 10.0,
    "axes.titleweight": "bold",
    "axes.titlecolor": TEXT_COLOR,
    "axes.titlelocation": "left",
    "xtick.color": MUTED_COLOR,
    "ytick.color": MUTED_COLOR,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "path.simplify": True,
}


# --------------------------------------------------------------------------- formatting


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: Any, default: float = 0.0) -> float:
    """A finite float from a recorder value (None, NaN and junk become ``default``)."""
    if value is None:
        return default
    try:
        f = float(value)
    except (TypeError, ValueError):
        return default
    return f if math.isfinite(f) else default


def _int(value: Any, default: int = 0) -> int:
    return int(round(_num(value, float(default))))


def format_cores(milli: float) -> str:
    """Millicores as cores with two decimals: 1850 -> "1.85"."""
    return f"{_num(milli) / 1000:.2f}"


def format_bytes(n: float) -> str:
    """Bytes in binary units: GiB with two decimals from 1 GiB, MiB below, KiB / B for tiny values."""
    v = _num(n)
    sign = "-" if v < 0 else ""
    v = abs(v)
    if v >= 1024**4:
        return f"{sign}{v / 1024 ** 4:.2f} TiB"
    if v >= 1024**3:
        return f"{sign}{v / 1024 ** 3:.2f} GiB"
    if v >= 1024**2:
        return f"{sign}{v / 1024 ** 2:.0f} MiB"
    if v >= 1024:
        return f"{sign}{v / 1024:.0f} KiB"
    return f"{sign}{v:.0f} B"


def format_duration(seconds: float) -> str:
    """Compact human duration: 0.25s, 45s, 2m30s, 1h12m, 3d4h."""
    s = _num(seconds)
    if s < 0:
        return "-" + format_duration(-s)
    if s < 10 and s != int(s):
        return f"{s:.2f}".rstrip("0").rstrip(".") + "s"
    total = int(round(s))
    if total < 60:
        return f"{total}s"
    days, rem = divmod(total, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m{secs}s" if secs else f"{minutes}m"


def _pct(part: Any, whole: Any) -> float | None:
    whole = _num(whole)
    if whole <= 0:
        return None
    return 100.0 * _num(part) / whole


def _format_pct(p: float | None) -> str:
    if p is None:
        return "–"
    if 99.5 <= p < 100:  # never round a not-quite-full node up to 100%
        return f"{math.floor(p * 10) / 10:.1f}%"
    return f"{p:.0f}%"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


# --------------------------------------------------------------------------- data access


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _series(values: Any, n: int) -> list[float]:
    """A series aligned to ``n`` sample times; None (absent) becomes NaN, short lists are padded."""
    out: list[float] = []
    for v in _l(values)[:n]:
        out.append(float("nan") if v is None else _num(v, float("nan")))
    out.extend([float("nan")] * (n - len(out)))
    return out


def _last(values: Any) -> float | None:
    for v in reversed(_l(values)):
        if v is not None:
            return _num(v)
    return None


def _sample_times(data: Mapping[str, Any]) -> list[float]:
    return [_num(t) for t in _l(_d(data.get("samples")).get("t"))]


def _final_phase_counts(data: Mapping[str, Any]) -> dict[str, int]:
    by_phase = _d(_d(data.get("samples")).get("pods_by_phase"))
    counts: dict[str, int] = {}
    for phase in sorted(set(PHASES) | set(by_phase), key=_phase_order):
        last = _last(by_phase.get(phase))
        counts[phase] = int(last) if last is not None else 0
    return counts


def _phase_order(phase: str) -> tuple[int, str]:
    return (PHASES.index(phase) if phase in PHASES else len(PHASES), phase)


_FIT_ERROR = re.compile(r"^\s*\d+/\d+ nodes are available:\s*(?P<body>.*?)(?:\.\s*preemption:.*|\.\s*)?$", re.S)


def scheduler_reasons(message: str) -> list[str]:
    """Split an upstream FitError message into its reasons, counts dropped.

    "0/3 nodes are available: 1 Insufficient cpu, 2 Insufficient memory. preemption: ..."
    -> ["Insufficient cpu", "Insufficient memory"]
    """
    m = _FIT_ERROR.match(message or "")
    if not m:
        return []
    reasons = []
    for part in re.split(r",\s+(?=\d+ )", m.group("body")):
        part = re.sub(r"^\d+\s+", "", part.strip()).strip()
        if part:
            reasons.append(part)
    return reasons


def _ns_name(namespace: Any, name: Any) -> str:
    return f"{namespace}/{name}" if namespace else str(name or "")


# --------------------------------------------------------------------------- verdicts


def compute_verdicts(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """Judge the final state: pods, scheduling, node allocation, workloads, warnings.

    Returns ``[{"level": "ok"|"warn"|"bad", "text": str}]`` ordered bad, warn, ok
    (stable within a level).
    """
    verdicts: list[dict[str, str]] = []

    def add(level: str, text: str) -> None:
        verdicts.append({"level": level, "text": text})

    # Pods at the end of the run.
    counts = _final_phase_counts(data)
    total = sum(counts.values())
    running, succeeded = counts.get("Running", 0), counts.get("Succeeded", 0)
    failed, unknown = counts.get("Failed", 0), counts.get("Unknown", 0)
    if total == 0:
        add("warn", "No pods at the end of the run")
    elif running + succeeded == total:
        if succeeded == 0:
            add("ok", f"All {_plural(total, 'pod')} Running")
        elif running == 0:
            add("ok", f"All {_plural(total, 'pod')} Succeeded")
        else:
            add("ok", f"All {_plural(total, 'pod')} Running or Succeeded ({running} Running, {succeeded} Succeeded)")
    else:
        parts = [f"{n} {phase}" for phase, n in counts.items() if n and phase != "Running"]
        level = "bad" if failed or unknown else "warn"
        add(level, f"{running}/{_plural(total, 'pod')} Running ({', '.join(parts)})")

    # Scheduling: pods that never got a node, grouped by reason set; pods that waited long.
    pending_rows = [_d(p) for p in _l(data.get("pending"))]
    never: dict[str, int] = {}
    for p in pending_rows:
        if p.get("still_pending"):
            reasons = scheduler_reasons(str(p.get("message") or "")) or [str(p.get("reason") or "unknown reason")]
            key = ", ".join(reasons)
            never[key] = never.get(key, 0) + 1
    for key, count in sorted(never.items(), key=lambda kv: (-kv[1], kv[0])):
        add("bad", f"{_plural(count, 'pod')} never scheduled ({key})")
    waited = [p for p in pending_rows if not p.get("still_pending") and _num(p.get("pending_seconds")) >= LONG_PENDING_SECONDS]
    if waited:
        longest = max(_num(p.get("pending_seconds")) for p in waited)
        add("warn", f"{_plural(len(waited), 'pod')} waited over {format_duration(LONG_PENDING_SECONDS)} to schedule "
                    f"(longest {format_duration(longest)})")

    # Nodes.
    nodes = [_d(n) for n in _l(data.get("nodes_final"))]
    if not nodes:
        add("warn", "No nodes in the cluster")
    not_ready = sorted(str(n.get("name", "")) for n in nodes if not n.get("ready", True))
    if not_ready:
        shown = ", ".join(not_ready[:HOT_NODE_LIST_MAX]) + (f" and {len(not_ready) - HOT_NODE_LIST_MAX} more"
                                                             if len(not_ready) > HOT_NODE_LIST_MAX else "")
        add("bad", f"{_plural(len(not_ready), 'node')} NotReady: {shown}")
    for resource, key in (("cpu", "cpu_milli"), ("memory", "memory_bytes"), ("pods", "pods")):
        hot: list[tuple[float, str]] = []
        over: list[str] = []
        for n in nodes:
            used = _pct(_d(n.get("requested")).get(key), _d(n.get("allocatable_ints")).get(key))
            if used is None:
                continue
            if used > 100.0 + 1e-9:
                over.append(str(n.get("name", "")))
            elif used >= HOT_NODE_PERCENT:
                hot.append((used, str(n.get("name", ""))))
        if over:
            add("bad", f"{_plural(len(over), 'node')} over-committed on {resource} requests: {', '.join(sorted(over)[:HOT_NODE_LIST_MAX])}")
        if len(hot) > HOT_NODE_LIST_MAX:
            add("warn", f"{len(hot)} nodes request ≥{HOT_NODE_PERCENT:.0f}% of allocatable {resource}")
        else:
            for used, name in sorted(hot, key=lambda x: (-x[0], x[1])):
                add("warn", f"node {name} requests {_format_pct(used)} of allocatable {resource}")
    if nodes and len(nodes) >= 1:
        cpu = _pct(sum(_num(_d(n.get("requested")).get("cpu_milli")) for n in nodes),
                   sum(_num(_d(n.get("allocatable_ints")).get("cpu_milli")) for n in nodes))
        mem = _pct(sum(_num(_d(n.get("requested")).get("memory_bytes")) for n in nodes),
                   sum(_num(_d(n.get("allocatable_ints")).get("memory_bytes")) for n in nodes))
        ready = len(nodes) - len(not_ready)
        add("ok" if not not_ready else "warn",
            f"{ready}/{_plural(len(nodes), 'node')} Ready; cluster requests {_format_pct(cpu)} cpu, "
            f"{_format_pct(mem)} memory")

    # Workloads.
    workloads = [_d(w) for w in _l(data.get("workloads"))]
    unhealthy = 0
    for w in sorted(workloads, key=_workload_key):
        desired, available = _int(w.get("desired")), _int(w.get("available"))
        status = str(w.get("status") or ("ok" if available >= desired else "degraded"))
        if status == "ok" and available >= desired:
            continue
        unhealthy += 1
        ident = f"{w.get('kind', 'Workload')} {_ns_name(w.get('namespace'), w.get('name'))}"
        if w.get("kind") == "Job":  # the recorder reports succeeded pods as "available"
            if status == "degraded":
                add("bad", f"{ident} failed ({available}/{desired} completions)")
            else:
                add("warn", f"{ident} has {available}/{desired} completions ({status})")
            continue
        level = "bad" if status != "progressing" and desired > 0 and available == 0 else "warn"
        suffix = " (progressing)" if status == "progressing" else ""
        add(level, f"{ident} has {available}/{desired} available{suffix}")
    if workloads and not unhealthy:
        add("ok", f"All {_plural(len(workloads), 'workload')} fully available")

    # Warning events (FailedScheduling is already covered by the pending verdicts).
    warnings = [_d(w) for w in _l(_d(data.get("events")).get("warnings"))]
    by_reason: dict[str, int] = {}
    for w in warnings:
        r = str(w.get("reason") or "")
        by_reason[r] = by_reason.get(r, 0) + max(1, _int(w.get("count"), 1))
    others = {r: c for r, c in by_reason.items() if r != "FailedScheduling"}
    if others:
        top = ", ".join(f"{r} ×{c}" for r, c in sorted(others.items(), key=lambda kv: (-kv[1], kv[0]))[:4])
        add("warn", f"{_plural(sum(others.values()), 'warning event')}: {top}")

    verdicts += eviction_verdicts(data)
    verdicts += usage_verdicts(data)
    verdicts += autoscaling_verdicts(data)

    return sorted(verdicts, key=lambda v: LEVELS.index(v["level"]) if v["level"] in LEVELS else 1)


# -- kubelet evictions and node pressure -------------------------------------------------------
_PRESSURE_WORDS = {"memory": "memory", "ephemeral-storage": "disk", "inodes": "inode", "pids": "PID"}


def _clock(seconds: float) -> str:
    """Virtual time since the start: "01:12" (hh:mm) on a whole minute, else "01:12:30"."""
    s = int(seconds)
    hm = f"{s // 3600:02d}:{s % 3600 // 60:02d}"
    return hm if s % 60 == 0 else f"{hm}:{s % 60:02d}"


def _hms_clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def eviction_verdicts(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """One verdict per (node, QoS class, starved resource) of kubelet evictions, e.g. "3 BestEffort
    pods evicted on node X at 01:12 under memory pressure" (the time of the first), plus one per
    node pressure period."""
    out: list[dict[str, str]] = []
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for e in (_d(x) for x in _l(data.get("evictions"))):
        key = (str(e.get("node") or ""), str(e.get("qos") or ""), str(e.get("resource") or ""))
        groups.setdefault(key, []).append(e)
    for (node, qos, resource), evs in sorted(groups.items(), key=lambda kv: (_num(kv[1][0].get("t")), kv[0])):
        first = min(_num(e.get("t")) for e in evs)
        when = f"at {_clock(first)}"
        if len(evs) > 1:
            last = max(_num(e.get("t")) for e in evs)
            if int(last) != int(first):
                full = int(first) % 60 or int(last) % 60
                a, b = (_hms_clock(first), _hms_clock(last)) if full else (_clock(first), _clock(last))
                when = f"from {a} to {b}"
        label = f"{len(evs)} {qos + ' ' if qos else ''}{'pod' if len(evs) == 1 else 'pods'}"
        level = "bad" if qos == "Guaranteed" else "warn"
        out.append({"level": level, "text": f"{label} evicted on node {node} {when} under "
                                            f"{_PRESSURE_WORDS.get(resource, resource)} pressure"})  # fmt: skip
    for p in (_d(x) for x in _l(data.get("pressure"))):
        since = f"from {_clock(_num(p.get('start')))}"
        how = "until the end" if p.get("ongoing") else f"for {format_duration(_num(p.get('seconds')))}"
        out.append({"level": "warn", "text": f"node {p.get('node', '')} reported {p.get('condition', '')} {since} {how}"})
    return out


# -- horizontal and vertical pod autoscaling -----------------------------------------------------
MAX_HPA_EVENT_ROWS = 80
MAX_CONDITION_ROWS = 60
HPA_STARTUP_GRACE = 120.0
HPA_LIMITED_MIN_SECONDS = 120.0  # shorter limited / failing periods are routine, not verdicts  # metrics are missing for the first scrapes: not worth a verdict
VPA_ABOUT_RIGHT = 1.15  # requests within this factor of the VPA target are "about right"
VPA_FIT_LOW, VPA_FIT_HIGH = 1 / 1.5, 1.5  # beyond this factor a VPA verdict is a warning
HPA_COLORS = ("#2563a8", "#b4541a", "#2f9e62", "#7c5cc4", "#b42318")


def _hpas(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(k): _d(v) for k, v in sorted(_d(_d(data.get("samples")).get("hpa")).items())}


def _vpas(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(k): _d(v) for k, v in sorted(_d(_d(data.get("samples")).get("vpa")).items())}


def _fmt_value(v: float | None, target_type: str = "") -> str:
    if v is None or math.isnan(v):
        return "–"
    if target_type == "Utilization":
        return f"{v:.0f}%"
    if v == int(v):
        return f"{int(v)}"
    return f"{v:.3g}" if abs(v) < 1 else f"{v:.1f}"


def _rescale_metric(reason_text: str, labels: Iterable[str]) -> str:
    """Which spec metric a SuccessfulRescale reason names ("pods metric X above target", "cpu resource
    utilization (percentage of request) above target", "external metric X(&LabelSelector...)")."""
    for label in sorted(labels, key=len, reverse=True):
        base = label.split(" (container", 1)[0]
        if re.search(rf"(metric {re.escape(base)}\b|^{re.escape(base)} (container )?resource)", reason_text):
            return label
    return ""


def _hpa_story(key: str, h: Mapping[str, Any], t: list[float], events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Start, peak (first time reached), end and the lowest after the peak; the metric that drove
    the scale-ups (the one most often named by SuccessfulRescale "above target")."""
    n = len(t)
    reps = _series(h.get("replicas"), n)
    pts = [(t[i], v) for i, v in enumerate(reps) if not math.isnan(v)]
    if not pts:
        return None
    peak = max(v for _, v in pts)
    peak_t = next(ti for ti, v in pts if v == peak)
    before = [(ti, v) for ti, v in pts if ti <= peak_t]
    start = min(v for _, v in before)
    start_t = max(ti for ti, v in before if v == start)  # the last time at the low before the rise
    after = [(ti, v) for ti, v in pts if ti >= peak_t]
    low = min(v for _, v in after)
    low_t = next(ti for ti, v in after if v == low)
    metrics = _d(h.get("metrics"))
    counts: dict[str, int] = {}
    for e in events:
        if e.get("hpa") != key or e.get("reason") != "SuccessfulRescale":
            continue
        reason = str(e.get("message") or "").split("reason: ", 1)[-1]
        if "above target" in reason:
            label = _rescale_metric(reason, metrics)
            if label:
                counts[label] = counts.get(label, 0) + 1
    driver = max(sorted(counts), key=lambda k: counts[k]) if counts else ""
    target = _last(_d(metrics.get(driver)).get("target")) if driver else None
    ttype = str(_d(metrics.get(driver)).get("target_type") or "")
    return {"start": start, "start_t": start_t, "first": pts[0][1], "peak": peak, "peak_t": peak_t, "low": low, "low_t": low_t, "end": pts[-1][1],
            "driver": driver, "target": target, "target_type": ttype}


def autoscaling_verdicts(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """One verdict per HPA ("HPA shop/web scaled Deployment/web 2→40 by 14:05 on
    http_requests_per_second (target 50), back to 3 by 23:55"), per limiting / failing period, per VPA
    container ("VPA shop/web recommends 180m CPU for web/app (requests 500m: over-provisioned 2.8x)")
    and for the cost of the run with the nodes per group."""
    out: list[dict[str, str]] = []
    t = _sample_times(data)
    auto = _d(data.get("autoscaling"))
    events = [_d(e) for e in _l(auto.get("hpa_events"))]
    for key, h in _hpas(data).items():
        story = _hpa_story(key, h, t, events)
        if story is None:
            continue
        target_name = h.get("target") or ""
        start, peak, low = int(story["start"]), int(story["peak"]), int(story["low"])
        if peak > start:
            text = (f"HPA {key} scaled {target_name} from {start} ({_clock(story['start_t'])}) to {peak} "
                    f"({_clock(story['peak_t'])})")
            if story["driver"]:
                text += (f" on {story['driver']} (target "
                         f"{_fmt_value(story['target'], story['target_type'])})")
            if low < peak:
                text += f", back to {low} by {_clock(story['low_t'])}"
            out.append({"level": "ok", "text": text})
        elif low < int(story["first"]):
            out.append({"level": "ok", "text": f"HPA {key} scaled {target_name} down {int(story['first'])}→{low} by "
                                               f"{_clock(story['low_t'])}"})  # fmt: skip
        else:
            out.append({"level": "ok", "text": f"HPA {key} kept {target_name} at {start} replicas"})
    out += _condition_verdicts(auto, t[-1] if t else 0.0)
    for key, v in _vpas(data).items():
        for cname, c in sorted(_d(v.get("containers")).items()):
            text, level = _vpa_text(key, v, str(cname), _d(c))
            if text:
                out.append({"level": level, "text": text})
    out += _cost_verdicts(data)
    return out


def _condition_verdicts(auto: Mapping[str, Any], end: float) -> list[dict[str, str]]:
    """ScalingLimited=True and ScalingActive=False periods (the first grace period ignored)."""
    out: list[dict[str, str]] = []
    open_: dict[tuple[str, str], dict[str, Any]] = {}
    periods: list[tuple[str, str, str, float, float, bool]] = []
    for c in (_d(x) for x in _l(auto.get("hpa_conditions"))):
        ctype, status = str(c.get("type")), str(c.get("status"))
        bad = (ctype == "ScalingLimited" and status == "True") or (ctype == "ScalingActive" and status == "False")
        k = (str(c.get("hpa")), ctype)
        if k in open_:
            o = open_.pop(k)
            periods.append((k[0], ctype, o["reason"], o["t"], _num(c.get("t")), False))
        if bad:
            open_[k] = {"t": _num(c.get("t")), "reason": str(c.get("reason") or "")}
    for (hpa, ctype), o in open_.items():
        periods.append((hpa, ctype, o["reason"], o["t"], end, True))
    groups: dict[tuple[str, str, str], list[tuple[float, float, bool]]] = {}
    for hpa, ctype, reason, a, b, ongoing in periods:
        if (ctype == "ScalingActive" and b <= HPA_STARTUP_GRACE) and not ongoing:
            continue  # metrics are missing until the pipeline has two scrapes of the new pods
        groups.setdefault((hpa, ctype, reason), []).append((a, b, ongoing))
    for (hpa, ctype, reason), ps in sorted(groups.items(), key=lambda kv: (min(p[0] for p in kv[1]), kv[0])):
        total = sum(b - a for a, b, _ in ps)
        if total < HPA_LIMITED_MIN_SECONDS and not any(o for _, _, o in ps):
            continue
        first = min(a for a, _, _ in ps)
        what = "was limited" if ctype == "ScalingLimited" else "could not compute a replica count"
        times = f"{_plural(len(ps), 'time')}, " if len(ps) > 1 else ""
        tail = ", still at the end" if any(o for _, _, o in ps) else ""
        out.append({"level": "warn", "text": f"HPA {hpa} {what} ({reason}) from {_clock(first)}: "
                                             f"{times}{format_duration(total)} in all{tail}"})  # fmt: skip
    return out


def _vpa_text(key: str, v: Mapping[str, Any], cname: str, c: Mapping[str, Any]) -> tuple[str, str]:
    workload = str(v.get("target") or "").split("/", 1)[-1]
    parts: list[str] = []
    level = "ok"
    for res, tk, rk, lk, uk, fmt in (
        ("CPU", "cpu_target_milli", "cpu_request_milli", "cpu_lower_milli", "cpu_upper_milli", _cpu_text),
        ("memory", "memory_target_bytes", "memory_request_bytes", "memory_lower_bytes", "memory_upper_bytes",
         _mem_text),
    ):
        target, req = _last(c.get(tk)), _last(c.get(rk))
        if target is None or target <= 0:
            continue
        if req is None or req <= 0:
            parts.append(f"{fmt(target)} {res} (no request)")
            level = "warn"
            continue
        ratio = req / target
        if ratio > VPA_ABOUT_RIGHT:
            judgement = f"over-provisioned {ratio:.1f}x"
        elif ratio < 1 / VPA_ABOUT_RIGHT:
            judgement = f"under-provisioned {1 / ratio:.1f}x"
        else:
            judgement = "about right"
        if not VPA_FIT_LOW <= ratio <= VPA_FIT_HIGH:
            level = "warn"
        lo, hi = _last(c.get(lk)), _last(c.get(uk))
        if lo is not None and hi is not None and not (lo <= req <= hi):
            judgement += ", outside the bounds"
        parts.append(f"{fmt(target)} {res} (requests {fmt(req)}: {judgement})")
    if not parts:
        return "", "ok"
    mode = f" [{v.get('mode')}]" if v.get("mode") else ""
    return f"VPA {key}{mode} recommends {' and '.join(parts)} for {workload}/{cname}", level


def _cpu_text(milli: float) -> str:
    return f"{milli / 1000:g}" if milli >= 1000 and milli % 100 == 0 else f"{milli:.0f}m"


def _mem_text(n: float) -> str:
    return format_bytes(n).replace(" ", "").replace("iB", "i")


def _cost_verdicts(data: Mapping[str, Any]) -> list[dict[str, str]]:
    cost = _d(data.get("cost"))
    total = _num(cost.get("total_usd"))
    groups = _d(_d(data.get("samples")).get("nodegroups"))
    if total <= 0 or not _l(_d(data.get("autoscaler")).get("decisions")):
        return []
    shapes = []
    for g, vals in sorted(groups.items()):
        xs = [int(_num(x)) for x in _l(vals) if x is not None]
        lo, hi = min(xs[1:] or xs), max(xs) if xs else 0
        if xs:
            shapes.append(f"{g} {lo}–{hi} (end {xs[-1]})" if hi > lo else f"{g} {hi}")
    nodes = f"; nodes per group {', '.join(shapes)}" if shapes else ""
    return [{"level": "ok", "text": f"Instance cost ${total:,.2f} (on-demand ${_num(cost.get('on_demand_usd')):,.2f}, "
                                    f"spot ${_num(cost.get('spot_usd')):,.2f}){nodes}"}]  # fmt: skip


def _hpa_chart(key: str, h: Mapping[str, Any], t: list[float]) -> tuple[Figure, str]:
    n = len(t)
    div, xlabel = _time_axis(t)
    k = _stride(n)
    ts = [x / div for x in t[::k]]
    metrics = sorted(_d(h.get("metrics")).items())
    rows = 1 + len(metrics)
    fig = _new_figure(10.0, 2.3 + 1.55 * len(metrics))
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False,
                        gridspec_kw={"height_ratios": [1.6] + [1.0] * len(metrics), "hspace": 0.62})[:, 0]
    ax = axes[0]
    _style_axes(ax)
    reps, desired = _series(h.get("replicas"), n)[::k], _series(h.get("desired"), n)[::k]
    ax.step(ts, reps, where="post", color=CPU_COLOR, linewidth=1.7, label="replicas")
    ax.step(ts, desired, where="post", color="#e3a21a", linewidth=1.3, linestyle=(0, (4, 2)), label="desired")
    hi = _series(h.get("max"), n)[::k]
    lo = _series(h.get("min"), n)[::k]
    top = max([1.0] + [v for v in reps + desired + lo if not math.isnan(v)]) * 1.25
    ax.step(ts, lo, where="post", color="#9aa0a6", linewidth=1.0, linestyle=(0, (2, 2)), label="min / max")
    if any(v <= top for v in hi if not math.isnan(v)):  # maxReplicas far above the peak stays in the title
        ax.step(ts, hi, where="post", color="#9aa0a6", linewidth=1.0, linestyle=(0, (2, 2)))
    ax.set_ylim(0, top)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("replicas")
    bounds = f" (min {_int(_last(h.get('min')))}, max {_int(_last(h.get('max')))})" if _last(h.get("max")) else ""
    ax.set_title(f"HPA {key} → {h.get('target', '')}{bounds}", pad=10)
    _top_legend(ax)
    for i, (label, m) in enumerate(metrics, start=1):
        m = _d(m)
        a = axes[i]
        _style_axes(a)
        color = HPA_COLORS[i % len(HPA_COLORS)]
        vals = _series(m.get("value"), n)[::k]
        tgt = _series(m.get("target"), n)[::k]
        ttype = str(m.get("target_type") or "")
        unit = " (%)" if ttype == "Utilization" else (" per pod" if ttype == "AverageValue" else "")
        a.plot(ts, vals, color=color, linewidth=1.4, label="current")
        a.step(ts, tgt, where="post", color="#b42318", linewidth=1.1, linestyle=(0, (4, 2)), label="target")
        a.set_ylim(0, max([1.0] + [v for v in vals + tgt if not math.isnan(v)]) * 1.12)
        a.set_title(f"{label}{unit} ({m.get('type', '')}, {ttype})", pad=6)
        _top_legend(a)
    axes[-1].set_xlabel(xlabel)
    axes[-1].set_xlim(ts[0], ts[-1] if ts[-1] > ts[0] else ts[0] + 1)
    fig.subplots_adjust(left=0.06, right=0.985, top=1 - 0.5 / (2.3 + 1.55 * len(metrics)),
                        bottom=0.45 / (2.3 + 1.55 * len(metrics)))
    return fig, f"hpa-{key}"


def _vpa_chart(key: str, cname: str, c: Mapping[str, Any], t: list[float]) -> tuple[Figure, str]:
    n = len(t)
    div, xlabel = _time_axis(t)
    k = _stride(n)
    ts = [x / div for x in t[::k]]
    fig = _new_figure(10.0, 2.5)
    axes = fig.subplots(1, 2, gridspec_kw={"wspace": 0.22})
    for ax, (title, pre, scale, color) in zip(axes, (
        ("CPU (cores)", "cpu", 1000.0, CPU_COLOR), ("Memory (MiB)", "memory", 1024.0 ** 2, MEM_COLOR),
    ), strict=True):
        _style_axes(ax)
        suffix = "milli" if pre == "cpu" else "bytes"
        tgt = [v / scale for v in _series(c.get(f"{pre}_target_{suffix}"), n)[::k]]
        lo = [v / scale for v in _series(c.get(f"{pre}_lower_{suffix}"), n)[::k]]
        hi = [v / scale for v in _series(c.get(f"{pre}_upper_{suffix}"), n)[::k]]
        req = [v / scale for v in _series(c.get(f"{pre}_request_{suffix}"), n)[::k]]
        ax.fill_between(ts, [0 if math.isnan(v) else v for v in lo], [0 if math.isnan(v) else v for v in hi],
                        step="post", facecolor=color, alpha=0.12, linewidth=0, label="lower–upper bound")
        ax.step(ts, tgt, where="post", color=color, linewidth=1.6, label="target")
        ax.step(ts, req, where="post", color="#b42318", linewidth=1.2, linestyle=(0, (4, 2)), label="requests")
        # the upper bound is wide while confidence is low: scale to the target and the requests
        ax.set_ylim(0, max([0.001] + [v for v in req + tgt + lo if not math.isnan(v)]) * 1.6)
        ax.set_ylabel(title)
        ax.set_xlabel(xlabel)
        ax.set_xlim(ts[0], ts[-1] if ts[-1] > ts[0] else ts[0] + 1)
        _top_legend(ax)
    fig.suptitle(f"VPA {key}: container {cname}", x=0.06, y=0.98, ha="left", fontsize=10, fontweight="bold")
    fig.subplots_adjust(left=0.07, right=0.985, top=0.8, bottom=0.19)
    return fig, f"vpa-{key}-{cname}"


def _autoscaling_section(data: Mapping[str, Any]) -> str:
    """HPAs (replicas and desired replicas over time, each metric against its target, rescale
    events, condition changes) and VPAs (recommendation vs requests)."""
    hpas, vpas = _hpas(data), _vpas(data)
    if not hpas and not vpas:
        return ""
    t = _sample_times(data)
    auto = _d(data.get("autoscaling"))
    events = [_d(e) for e in _l(auto.get("hpa_events"))]
    conditions = [_d(c) for c in _l(auto.get("hpa_conditions"))]
    parts = ['<section id="autoscaling"><h2>Horizontal and vertical pod autoscaling</h2>']
    verdicts = [v for v in autoscaling_verdicts(data) if not v["text"].startswith("Instance cost")]
    if verdicts:
        parts.append('<ul class="plain">' + "".join(f"<li>{_esc(v['text'])}</li>" for v in verdicts) + "</ul>")
    for key, h in hpas.items():
        if t:
            parts.append(f"<figure>{_chart(_hpa_chart, key, h, t)}</figure>")
        mine = [e for e in events if e.get("hpa") == key]
        if mine:
            rows = []
            for e in mine[:MAX_HPA_EVENT_ROWS]:
                msg = str(e.get("message") or "")
                size, _, why = msg.partition("; reason: ")
                rows.append([_esc(_hms_clock(_num(e.get("t")))),
                             _badge("ok" if e.get("reason") == "SuccessfulRescale" else "bad", str(e.get("reason"))),
                             _esc(size.replace("New size: ", "")), f'<span class="msg">{_esc(why or msg)}</span>'])  # fmt: skip
            parts.append(f"<h3>{_esc(key)}: rescales ({len(mine)})</h3>")
            parts.append('<div class="scroll">' + _table([("Time", "num"), ("Event", ""), ("New size", "num"),
                                                          ("Reason", "")], rows) + "</div>")  # fmt: skip
            if len(mine) > MAX_HPA_EVENT_ROWS:
                parts.append(f'<p class="muted">Showing the first {MAX_HPA_EVENT_ROWS} of {len(mine)}.</p>')
        conds = [c for c in conditions if c.get("hpa") == key]
        if conds:
            rows = [[_esc(_hms_clock(_num(c.get("t")))), _esc(c.get("type")), _esc(c.get("status")),
                     _badge("warn" if (c.get("type"), c.get("status")) in (("ScalingLimited", "True"),
                                                                          ("ScalingActive", "False")) else "info",
                            str(c.get("reason") or "")),
                     f'<span class="msg">{_esc(c.get("message"))}</span>']
                    for c in conds[:MAX_CONDITION_ROWS]]  # fmt: skip
            parts.append(f"<h3>{_esc(key)}: condition changes ({len(conds)})</h3>")
            parts.append('<div class="scroll">' + _table([("Time", "num"), ("Condition", ""), ("Status", ""),
                                                          ("Reason", ""), ("Message", "")], rows) + "</div>")  # fmt: skip
    if vpas:
        rows = []
        for key, v in vpas.items():
            for cname, c in sorted(_d(v.get("containers")).items()):
                c = _d(c)
                cells = [_esc(key), _esc(v.get("mode")), _esc(f"{str(v.get('target') or '').split('/', 1)[-1]}/{cname}")]
                for pre, fmt in (("cpu", _cpu_text), ("memory", _mem_text)):
                    suffix = "milli" if pre == "cpu" else "bytes"
                    tgt, req = _last(c.get(f"{pre}_target_{suffix}")), _last(c.get(f"{pre}_request_{suffix}"))
                    lo, hi = _last(c.get(f"{pre}_lower_{suffix}")), _last(c.get(f"{pre}_upper_{suffix}"))
                    cells.append(_esc(fmt(req)) if req else "–")
                    cells.append(_esc(fmt(tgt)) if tgt else "–")
                    cells.append(_esc(f"{fmt(lo)}–{fmt(hi)}") if lo and hi else "–")
                    cells.append(_esc(f"{req / tgt:.2f}x") if req and tgt else "–")
                rows.append(cells)
        parts.append("<h3>Vertical pod autoscalers: recommendation vs requests (at the end)</h3>")
        parts.append(_table([("VPA", ""), ("Mode", ""), ("Container", ""), ("CPU request", "num"),
                             ("CPU target", "num"), ("CPU bounds", "num"), ("Request / target", "num"),
                             ("Memory request", "num"), ("Memory target", "num"), ("Memory bounds", "num"),
                             ("Request / target", "num")], rows))  # fmt: skip
        if t:
            for key, v in vpas.items():
                for cname, c in sorted(_d(v.get("containers")).items()):
                    parts.append(f"<figure>{_chart(_vpa_chart, key, str(cname), _d(c), t)}</figure>")
    parts.append(_pending_time_html(data))
    return "".join(parts) + "</section>"


def _pending_time_html(data: Mapping[str, Any]) -> str:
    """Total time pods spent unschedulable (what scale-up latency costs)."""
    pending = [_d(p) for p in _l(data.get("pending"))]
    if not pending:
        return '<p class="muted">No pod waited for a node.</p>'
    waits = sorted(_num(p.get("pending_seconds")) for p in pending)
    total = sum(waits)
    median = waits[len(waits) // 2]
    return (f"<p>Pending-pod time: <strong>{_esc(format_duration(total))}</strong> in all over "
            f"{_esc(_plural(len(waits), 'pod'))} that waited for a node (median {_esc(format_duration(median))}, "
            f"longest {_esc(format_duration(waits[-1]))}); see <a href=\"#pending\">Pending pods</a>.</p>")


def _evictions_section(data: Mapping[str, Any]) -> str:
    evictions = [_d(e) for e in _l(data.get("evictions"))]
    periods = [_d(p) for p in _l(data.get("pressure"))]
    parts = ['<section id="evictions"><h2>Evictions and node pressure</h2>']
    if not evictions and not periods:
        parts.append(_empty("No node reported resource pressure; the kubelets evicted no pod."))
        return "".join(parts) + "</section>"
    if periods:
        rows = [[_esc(p.get("node", "")), _esc(p.get("condition", "")), _esc(_clock(_num(p.get("start")))),
                 _esc("still under pressure" if p.get("ongoing") else _clock(_num(p.get("end")))),
                 _esc(format_duration(_num(p.get("seconds"))))] for p in periods]  # fmt: skip
        parts.append(_table([("Node", ""), ("Condition", ""), ("From", "num"), ("Until", "num"),
                             ("Duration", "num")], rows))  # fmt: skip
    if evictions:
        rows = [[_esc(_clock(_num(e.get("t")))), _esc(e.get("node", "")),
                 _esc(_ns_name(e.get("namespace"), e.get("name"))), _esc(e.get("owner") or "–"),
                 _badge("bad" if e.get("qos") == "Guaranteed" else "warn", str(e.get("qos") or "?")),
                 _esc(e.get("resource", "")), _message_html(str(e.get("message") or ""))]
                for e in evictions]  # fmt: skip
        parts.append(_table([("Time", "num"), ("Node", ""), ("Pod", ""), ("Owner", ""), ("QoS", ""),
                             ("Resource", ""), ("Message", "")], rows))  # fmt: skip
    return "".join(parts) + "</section>"


# -- usage: throttling, CPU contention, OOM kills, nodes near their allocatable -----------------
THROTTLE_VERDICT_FRACTION = 0.05  # containers throttled (or waiting for CPU) at least this share of the time
USAGE_VERDICTS_MAX = 8  # per kind; the rest are summarised in one line
MAX_USAGE_ROWS = 100


def _who(namespace: Any, owner: Any, pods: set[str]) -> str:
    """"pod shop/web-x" for one pod, "3 pods of Deployment shop/web" for several of one owner."""
    if len(pods) == 1:
        return f"pod {_ns_name(namespace, next(iter(pods)))}"
    kind, _, name = str(owner or "").partition("/")
    return f"{len(pods)} pods of {kind} {_ns_name(namespace, name)}" if owner else f"{len(pods)} pods"


def _limit_text(milli: Any) -> str:
    """A CPU limit as written in a manifest: "limit 500m", "limit 2"."""
    if milli is None:
        return "no limit"
    m = int(_num(milli))
    return f"limit {m // 1000}" if m % 1000 == 0 else f"limit {m}m"


def _quantity_bytes(n: Any) -> str:
    """Bytes as written in a manifest when exact ("512Mi", "2Gi"), else the report's "1.5 GiB"."""
    b = int(_num(n))
    for suffix, unit in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if b and b % unit == 0:
            return f"{b // unit}{suffix}"
    return format_bytes(b)


def _usage_groups(data: Mapping[str, Any], key: str) -> list[tuple[tuple[str, str, str], list[dict[str, Any]]]]:
    """Containers of the usage report with ``key`` >= the verdict threshold, grouped by
    (namespace, owner or pod, container)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for p in (_d(x) for x in _l(_d(data.get("usage")).get("pods"))):
        for c in (_d(x) for x in _l(p.get("containers"))):
            if _num(c.get(key)) >= THROTTLE_VERDICT_FRACTION:
                who = str(p.get("owner") or "") or f"pod/{p.get('name', '')}"
                k = (str(p.get("namespace") or ""), who, str(c.get("name") or ""))
                groups.setdefault(k, []).append({**c, "pod": str(p.get("name") or ""), "owner": p.get("owner")})
    return sorted(groups.items(), key=lambda kv: (-max(_num(c.get(key)) for c in kv[1]), kv[0]))


def usage_verdicts(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """Throttled and CPU-starved pods, OOM kills (container limit and kernel), nodes whose usage came
    near their allocatable, e.g. "pod shop/web-x was CPU-throttled 38% of the time" or "container
    api in shop/api-y OOM-killed 3 times (limit 512Mi)"."""
    out: list[dict[str, str]] = []
    usage = _d(data.get("usage"))
    if not usage:
        return out

    def capped(items: list[dict[str, str]], what: str) -> list[dict[str, str]]:
        if len(items) <= USAGE_VERDICTS_MAX:
            return items
        rest = len(items) - USAGE_VERDICTS_MAX + 1
        return items[: USAGE_VERDICTS_MAX - 1] + [{"level": items[-1]["level"], "text": f"{rest} more {what}"}]

    throttled = []
    for (ns, _owner, cname), cs in _usage_groups(data, "throttled_fraction"):
        frac = sum(_num(c.get("throttled_fraction")) for c in cs) / len(cs)
        dem = sum(_num(c.get("cpu_demanded_seconds")) for c in cs)
        got = sum(_num(c.get("cpu_granted_seconds")) for c in cs)
        avg = " on average" if len(cs) > 1 else ""
        share = f"; got {got / dem:.0%} of the CPU it wanted" if dem > 0 else ""
        throttled.append({"level": "warn", "text": (
            f"{_who(ns, cs[0].get('owner'), {c['pod'] for c in cs})} {'was' if len(cs) == 1 else 'were'} "
            f"CPU-throttled {frac:.0%} of the time{avg} (container {cname}, "
            f"{_limit_text(cs[0].get('cpu_limit_milli'))}{share})")})  # fmt: skip
    out += capped(throttled, "groups of CPU-throttled pods (see Usage)")
    starved = []
    for (ns, _owner, cname), cs in _usage_groups(data, "wait_fraction"):
        frac = sum(_num(c.get("wait_fraction")) for c in cs) / len(cs)
        wait = sum(_num(c.get("cpu_wait_seconds")) for c in cs)
        starved.append({"level": "warn", "text": (
            f"{_who(ns, cs[0].get('owner'), {c['pod'] for c in cs})} waited for CPU on an over-subscribed node "
            f"{frac:.0%} of the time (container {cname}, {wait:,.0f} CPU-seconds short; CPU is shared by requests)")})
    out += capped(starved, "groups of pods short of CPU on busy nodes (see Usage)")
    kills = [_d(k) for k in _l(usage.get("oom_kills"))]
    limit_groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for k in kills:
        if k.get("kind") == "limit":
            who = str(k.get("owner") or "") or f"pod/{k.get('pod', '')}"
            limit_groups.setdefault((str(k.get("namespace") or ""), who, str(k.get("container") or "")), []).append(k)
    ooms = []
    for (ns, _owner, cname), ks in sorted(limit_groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        pods = {str(k.get("pod") or "") for k in ks}
        limit = _quantity_bytes(ks[0].get("limit_bytes"))
        times = "once" if len(ks) == 1 else f"{len(ks)} times"
        if len(pods) == 1:
            text = f"container {cname} in {_ns_name(ns, next(iter(pods)))} OOM-killed {times} (limit {limit})"
        else:
            text = f"container {cname} of {_who(ns, ks[0].get('owner'), pods)} OOM-killed {times} (limit {limit})"
        ooms.append({"level": "bad", "text": text + f", first at {_clock(_num(ks[0].get('t')))}"})
    out += capped(ooms, "containers OOM-killed at their limit (see Usage)")
    by_node: dict[str, list[dict[str, Any]]] = {}
    for k in kills:
        if k.get("kind") == "system":
            by_node.setdefault(str(k.get("node") or ""), []).append(k)
    system = []
    for node, ks in sorted(by_node.items(), key=lambda kv: (_num(kv[1][0].get("t")), kv[0])):
        victims = ", ".join(f"{k.get('container')} in {_ns_name(k.get('namespace'), k.get('pod'))}" for k in ks[:3])
        more = f" and {len(ks) - 3} more" if len(ks) > 3 else ""
        system.append({"level": "bad", "text": f"node {node} ran out of memory at {_clock(_num(ks[0].get('t')))}: "
                                               f"the kernel OOM killer killed {victims}{more}"})  # fmt: skip
    out += capped(system, "nodes where the kernel OOM killer acted (see Usage)")
    hot = []
    for row in _node_usage_peaks(data):
        if row["mem_pct"] >= HOT_NODE_PERCENT:
            hot.append({"level": "warn", "text": f"node {row['node']} used {row['mem_pct']:.0f}% of its allocatable "
                                                 f"memory at {_clock(row['mem_t'])}"})  # fmt: skip
    out += capped(hot, f"nodes used ≥{HOT_NODE_PERCENT:.0f}% of their allocatable memory")
    return out


def _node_usage_peaks(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per node: peak CPU / memory used as % of allocatable (and when), hottest memory first."""
    t = _sample_times(data)
    rows = []
    for name, node in sorted(_d(_d(data.get("samples")).get("nodes")).items()):
        node = _d(node)
        if "memory_used_bytes" not in node:
            continue
        peak: dict[str, Any] = {"node": name, "cpu_pct": 0.0, "cpu_t": 0.0, "mem_pct": 0.0, "mem_t": 0.0,
                                "cpu_used": 0.0, "mem_used": 0.0, "cpu_alloc": 0.0, "mem_alloc": 0.0}  # fmt: skip
        for key, used_k, alloc_k in (("cpu", "cpu_used_milli", "cpu_allocatable_milli"),
                                     ("mem", "memory_used_bytes", "memory_allocatable_bytes")):  # fmt: skip
            used, alloc = _l(node.get(used_k)), _l(node.get(alloc_k))
            for i, (u, a) in enumerate(zip(used, alloc, strict=False)):
                if u is None or not a:
                    continue
                pct = 100.0 * _num(u) / _num(a)
                if pct > peak[f"{key}_pct"]:
                    peak.update({f"{key}_pct": pct, f"{key}_t": t[i] if i < len(t) else 0.0,
                                 f"{key}_used": _num(u), f"{key}_alloc": _num(a)})  # fmt: skip
        rows.append(peak)
    return sorted(rows, key=lambda r: (-r["mem_pct"], -r["cpu_pct"], r["node"]))


def _usage_series(data: Mapping[str, Any], n: int) -> dict[str, list[float]] | None:
    nodes = _d(_d(data.get("samples")).get("nodes"))
    keys = ("cpu_used_milli", "cpu_requested_milli", "cpu_allocatable_milli",
            "memory_used_bytes", "memory_requested_bytes", "memory_allocatable_bytes")  # fmt: skip
    if not any("memory_used_bytes" in _d(v) for v in nodes.values()):
        return None
    sums = {k: [0.0] * n for k in keys}
    for name in sorted(nodes):
        node = _d(nodes[name])
        for k in keys:
            for i, v in enumerate(_series(node.get(k), n)):
                if not math.isnan(v):
                    sums[k][i] += v
    return sums


def _usage_chart(t: list[float], s: dict[str, list[float]]) -> tuple[Figure, str]:
    div, xlabel = _time_axis(t)
    k = _stride(len(t))
    ts = [x / div for x in t[::k]]
    fig = _new_figure(10.0, 3.4)
    axes = fig.subplots(1, 2, gridspec_kw={"wspace": 0.22})
    panels = (("cpu", "CPU (cores)", CPU_COLOR, 1000.0), ("memory", "Memory (GiB)", MEM_COLOR, float(1 << 30)))
    for ax, (key, title, color, scale) in zip(axes, panels, strict=True):
        _style_axes(ax)
        ax.step(ts, [v / scale for v in s[f"{key}_allocatable_{'milli' if key == 'cpu' else 'bytes'}"][::k]],
                where="post", color="#9aa0a6", linewidth=1.2, linestyle=(0, (4, 2)), label="allocatable")
        ax.step(ts, [v / scale for v in s[f"{key}_requested_{'milli' if key == 'cpu' else 'bytes'}"][::k]],
                where="post", color=color, linewidth=1.2, alpha=0.55, label="requested")
        ax.step(ts, [v / scale for v in s[f"{key}_used_{'milli' if key == 'cpu' else 'bytes'}"][::k]],
                where="post", color=color, linewidth=1.8, label="used")
        ax.set_ylim(bottom=0)
        ax.set_title(title, pad=10)
        ax.set_xlabel(xlabel)
        _top_legend(ax)
    fig.subplots_adjust(left=0.06, right=0.985, top=0.84, bottom=0.16)
    return fig, "cluster-usage"


def _usage_section(data: Mapping[str, Any]) -> str:
    usage = _d(data.get("usage"))
    parts = ['<section id="usage"><h2>Usage, throttling and OOM kills</h2>']
    t = _sample_times(data)
    series = _usage_series(data, len(t)) if t else None
    if series is None and not usage:
        parts.append(_empty("No usage was recorded (the usage engine was off)."))
        return "".join(parts) + "</section>"
    if series is not None:
        parts.append(f'<figure>{_chart(_usage_chart, t, series)}<figcaption>Cluster-wide: what pods and the '
                     "system use, what pods request, and what nodes can give.</figcaption></figure>")  # fmt: skip
        peaks = _node_usage_peaks(data)[:20]
        rows = [[f'<span class="mono">{_esc(r["node"])}</span>',
                 f"{_esc(format_cores(r['cpu_used']))} / {_esc(format_cores(r['cpu_alloc']))} "
                 f"{_meter(r['cpu_pct'])} at {_esc(_clock(r['cpu_t']))}",
                 f"{_esc(format_bytes(r['mem_used']))} / {_esc(format_bytes(r['mem_alloc']))} "
                 f"{_meter(r['mem_pct'])} at {_esc(_clock(r['mem_t']))}"] for r in peaks]  # fmt: skip
        if rows:
            parts.append("<h3>Busiest nodes (peak usage vs allocatable)</h3>")
            parts.append(_table([("Node", ""), ("Peak CPU used / allocatable (cores)", "num"),
                                 ("Peak memory used / allocatable", "num")], rows))  # fmt: skip
    pods = [_d(p) for p in _l(usage.get("pods"))]
    crow = []
    for p in pods:
        for c in (_d(x) for x in _l(p.get("containers"))):
            if _num(c.get("throttled_seconds")) <= 0 and _num(c.get("cpu_wait_seconds")) <= 0:
                continue
            dem, got = _num(c.get("cpu_demanded_seconds")), _num(c.get("cpu_granted_seconds"))
            crow.append((-_num(c.get("throttled_fraction")) - _num(c.get("wait_fraction")), [
                _esc(_ns_name(p.get("namespace"), p.get("name"))), _esc(c.get("name", "")),
                _esc(_limit_text(c.get("cpu_limit_milli"))),
                _esc(_format_pct(100 * _num(c.get("throttled_fraction")))),
                _esc(f"{_num(c.get('throttled_seconds')):,.0f}"),
                _esc(_format_pct(100 * _num(c.get("wait_fraction")))),
                _esc(f"{dem:,.0f} / {got:,.0f}")]))  # fmt: skip
    if crow:
        crow.sort(key=lambda r: r[0])
        parts.append("<h3>CPU-throttled and CPU-starved containers</h3>")
        parts.append(_table([("Pod", ""), ("Container", ""), ("CPU limit", ""), ("Throttled (time)", "num"),
                             ("Throttled CPU-s", "num"), ("Waiting on a busy node (time)", "num"),
                             ("CPU-s wanted / got", "num")], [r[1] for r in crow[:MAX_USAGE_ROWS]]))  # fmt: skip
    kills = [_d(k) for k in _l(usage.get("oom_kills"))]
    if kills:
        rows = [[_esc(_clock(_num(k.get("t")))), _esc(k.get("node", "")),
                 _esc(_ns_name(k.get("namespace"), k.get("pod"))), _esc(k.get("container", "")),
                 _badge("bad", "limit" if k.get("kind") == "limit" else "node out of memory"),
                 _esc(format_bytes(_num(k.get("limit_bytes"))) if k.get("limit_bytes") is not None else "–"),
                 _esc(format_bytes(_num(k.get("usage_bytes")))), _esc(str(k.get("oom_score_adj", "")))]
                for k in kills[:MAX_USAGE_ROWS]]  # fmt: skip
        parts.append("<h3>OOM kills (exit code 137, OOMKilled)</h3>")
        parts.append(_table([("Time", "num"), ("Node", ""), ("Pod", ""), ("Container", ""), ("Cause", ""),
                             ("Memory limit", "num"), ("Usage", "num"), ("oom_score_adj", "num")], rows))  # fmt: skip
    if not crow and not kills:
        parts.append(_empty("No container was CPU-throttled, short of CPU or OOM-killed."))
    return "".join(parts) + "</section>"


def _workload_key(w: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(w.get("kind") or ""), str(w.get("namespace") or ""), str(w.get("name") or ""))


# --------------------------------------------------------------------------- charts


def _time_axis(t: Sequence[float]) -> tuple[float, str]:
    span = max(t) if t else 0.0
    if span > 3 * 3600:
        return 3600.0, "virtual time (h)"
    if span > 3 * 60:
        return 60.0, "virtual time (min)"
    return 1.0, "virtual time (s)"


def _stride(n: int) -> int:
    return max(1, math.ceil(n / MAX_PLOT_POINTS))


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, facecolor="white")
    FigureCanvasSVG(fig)
    return fig


def _style_axes(ax: Any) -> None:
    ax.set_facecolor("white")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, axis="y", color=GRID_COLOR, linewidth=0.7)
    ax.set_axisbelow(True)
    ax.tick_params(length=3, width=0.6)


def _svg(fig: Figure, salt: str) -> str:
    """Render to an inline <svg> element: deterministic ids, no XML prolog, no metadata, fluid width."""
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": f"kubetwin-report-{salt}"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, facecolor="white")
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    # Let CSS size the chart: drop fixed width/height (the viewBox keeps the aspect ratio).
    text = re.sub(r'<svg([^>]*?)\swidth="[^"]*"\s+height="[^"]*"', r'<svg\1', text, count=1)
    text = text.replace("<svg", f'<svg class="chart" role="img" aria-label="{_esc(salt)}"', 1)
    return text.strip()


def _chart(build: Any, *args: Any) -> str:
    with matplotlib.rc_context(cast(Any, _MPL_RC)):
        fig, salt = build(*args)
        return _svg(fig, salt)


def _top_legend(ax: Any) -> None:
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, labels, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=max(1, len(labels)),
              borderaxespad=0.3, handlelength=1.4, columnspacing=1.4)


def _stacked_steps(ax: Any, t: list[float], series: list[tuple[str, list[float], str]]) -> None:
    lower = [0.0] * len(t)
    for label, values, color in series:
        upper = [lo + (0.0 if math.isnan(v) else v) for lo, v in zip(lower, values, strict=True)]
        ax.fill_between(t, lower, upper, step="post", facecolor=color, alpha=0.88, linewidth=0, label=label)
        lower = upper


def _counts_chart(t: list[float], groups: dict[str, list[float]], colors: Mapping[str, str],
                  title: str, salt: str, extra: tuple[str, list[float]] | None = None,
                  ylabel: str = "pods") -> tuple[Figure, str]:
    div, xlabel = _time_axis(t)
    k = _stride(len(t))
    ts = [x / div for x in t[::k]]
    fig = _new_figure(10.0, 2.9)
    ax = fig.add_subplot(1, 1, 1)
    _style_axes(ax)
    series = [(name, vals[::k], colors.get(name, "#888888")) for name, vals in groups.items()]
    _stacked_steps(ax, ts, series)
    if extra is not None:
        label, vals = extra
        ax.step(ts, [0.0 if math.isnan(v) else v for v in vals[::k]], where="post", color="#b42318",
                linewidth=1.4, linestyle=(0, (4, 2)), label=label)
    ax.set_xlim(ts[0], ts[-1] if ts[-1] > ts[0] else ts[0] + 1)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, pad=10)
    _top_legend(ax)
    fig.subplots_adjust(left=0.06, right=0.985, top=0.86, bottom=0.17)
    return fig, salt


def _allocation_rows(data: Mapping[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """Final per-node (or per-nodegroup above the threshold) requested/allocatable rows."""
    nodes = sorted((_d(n) for n in _l(data.get("nodes_final"))),
                   key=lambda n: (str(n.get("nodegroup") or ""), str(n.get("name") or "")))
    rows: list[dict[str, Any]] = []
    aggregate = len(nodes) > NODE_AGGREGATE_THRESHOLD
    if not aggregate:
        for n in nodes:
            req, alloc = _d(n.get("requested")), _d(n.get("allocatable_ints"))
            rows.append({"label": str(n.get("name") or ""), "cpu": (_num(req.get("cpu_milli")), _num(alloc.get("cpu_milli"))),
                         "mem": (_num(req.get("memory_bytes")), _num(alloc.get("memory_bytes")))})
        return rows, False
    groups: dict[str, dict[str, Any]] = {}
    for n in nodes:
        g = str(n.get("nodegroup") or "(no group)")
        row = groups.setdefault(g, {"label": g, "count": 0, "cpu": [0.0, 0.0], "mem": [0.0, 0.0]})
        req, alloc = _d(n.get("requested")), _d(n.get("allocatable_ints"))
        row["count"] += 1
        row["cpu"][0] += _num(req.get("cpu_milli"))
        row["cpu"][1] += _num(alloc.get("cpu_milli"))
        row["mem"][0] += _num(req.get("memory_bytes"))
        row["mem"][1] += _num(alloc.get("memory_bytes"))
    for g in sorted(groups):
        row = groups[g]
        rows.append({"label": f"{g} ({_plural(row['count'], 'node')})", "cpu": tuple(row["cpu"]), "mem": tuple(row["mem"])})
    return rows, True


def _allocation_chart(rows: list[dict[str, Any]], aggregate: bool) -> tuple[Figure, str]:
    n = len(rows)
    height = 0.9 + 0.27 * n
    fig = _new_figure(10.0, height)
    label_len = max(len(r["label"]) for r in rows)
    left = min(0.34, 0.025 + 0.0062 * label_len)
    axes = fig.subplots(1, 2, sharey=True, gridspec_kw={"wspace": 0.62})
    panels = (("cpu", "CPU requested / allocatable", CPU_COLOR, lambda v: f"{format_cores(v)}"),
              ("mem", "Memory requested / allocatable", MEM_COLOR, lambda v: format_bytes(v)))
    ys = list(range(n))
    for ax, (key, title, color, fmt) in zip(axes, panels, strict=True):
        _style_axes(ax)
        ax.grid(True, axis="x", color=GRID_COLOR, linewidth=0.7)
        ax.grid(False, axis="y")
        pcts = [min(_pct(r[key][0], r[key][1]) or 0.0, 100.0) for r in rows]
        ax.barh(ys, [100.0] * n, color=ALLOC_BG, height=0.66)
        bar_colors = [("#d64545" if p >= HOT_NODE_PERCENT else color) for p in pcts]
        ax.barh(ys, pcts, color=bar_colors, height=0.66)
        for y, r in zip(ys, rows, strict=True):
            req, alloc = r[key]
            p = _pct(req, alloc)
            ax.text(102, y, _format_pct(p), va="center", ha="left", fontsize=8, fontweight="bold",
                    color="#b42318" if (p or 0) >= HOT_NODE_PERCENT else TEXT_COLOR)
            ax.text(102 + 13, y, f"{fmt(req)} / {fmt(alloc)}", va="center", ha="left", fontsize=7.6,
                    color=MUTED_COLOR)
        ax.set_xlim(0, 100)
        ax.set_xticks([0, 25, 50, 75, 100])
        ax.set_xticklabels(["0", "25", "50", "75", "100%"])
        ax.set_title(title + (" (cores)" if key == "cpu" else ""), pad=8)
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="y", length=0)
    axes[0].set_yticks(ys)
    axes[0].set_yticklabels([r["label"] for r in rows], fontsize=8)
    axes[0].set_ylim(n - 0.5, -0.5)
    fig.subplots_adjust(left=left, right=0.815, top=1 - 0.45 / height, bottom=0.35 / height)
    return fig, "node-allocation"


def _cluster_series(data: Mapping[str, Any], n: int) -> dict[str, list[float]]:
    nodes = _d(_d(data.get("samples")).get("nodes"))
    keys = ("cpu_requested_milli", "cpu_allocatable_milli", "memory_requested_bytes", "memory_allocatable_bytes",
            "pods", "pods_allocatable")
    sums = {k: [0.0] * n for k in keys}
    total = [0.0] * n
    ready = [0.0] * n
    for name in sorted(nodes):
        node = _d(nodes[name])
        for k in keys:
            for i, v in enumerate(_series(node.get(k), n)):
                if not math.isnan(v):
                    sums[k][i] += v
        present = _series(node.get("cpu_allocatable_milli"), n)
        ready_s = _series(node.get("ready"), n)
        for i in range(n):
            if not math.isnan(present[i]) or not math.isnan(ready_s[i]):
                total[i] += 1
            if not math.isnan(ready_s[i]) and ready_s[i] > 0:
                ready[i] += 1

    def pct(a: str, b: str) -> list[float]:
        return [(100.0 * x / y) if y > 0 else float("nan") for x, y in zip(sums[a], sums[b], strict=True)]

    return {"cpu": pct("cpu_requested_milli", "cpu_allocatable_milli"),
            "mem": pct("memory_requested_bytes", "memory_allocatable_bytes"),
            "pods": pct("pods", "pods_allocatable"), "nodes": total, "ready": ready}


def _cluster_chart(t: list[float], s: dict[str, list[float]]) -> tuple[Figure, str]:
    div, xlabel = _time_axis(t)
    k = _stride(len(t))
    ts = [x / div for x in t[::k]]
    fig = _new_figure(10.0, 4.3)
    ax, ax2 = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2.3, 1], "hspace": 0.5})
    for a in (ax, ax2):
        _style_axes(a)
    for key, label, color in (("cpu", "CPU", CPU_COLOR), ("mem", "memory", MEM_COLOR), ("pods", "pod slots", PODS_COLOR)):
        ax.step(ts, s[key][::k], where="post", color=color, linewidth=1.6, label=label)
    ax.axhline(100, color="#c5ccd6", linewidth=0.8, linestyle=(0, (3, 3)))
    top = max([100.0] + [v for key in ("cpu", "mem", "pods") for v in s[key] if not math.isnan(v)])
    ax.set_ylim(0, top * 1.06)
    ax.set_ylabel("% of allocatable")
    ax.set_title("Cluster-wide requests as % of allocatable", pad=10)
    _top_legend(ax)
    ax2.step(ts, s["nodes"][::k], where="post", color="#52606d", linewidth=1.4, label="nodes")
    ax2.step(ts, s["ready"][::k], where="post", color=PODS_COLOR, linewidth=1.4, linestyle=(0, (4, 2)), label="Ready")
    ax2.set_ylim(0, max([1.0] + s["nodes"]) * 1.25)
    ax2.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=3))
    ax2.set_ylabel("nodes")
    ax2.set_xlabel(xlabel)
    ax2.set_title("Nodes", pad=6)
    _top_legend(ax2)
    ax2.set_xlim(ts[0], ts[-1] if ts[-1] > ts[0] else ts[0] + 1)
    fig.subplots_adjust(left=0.06, right=0.985, top=0.91, bottom=0.12)
    return fig, "cluster-allocation"


# --------------------------------------------------------------------------- HTML pieces


def _empty(text: str) -> str:
    return f'<p class="empty">{_esc(text)}</p>'


def _table(headers: Sequence[tuple[str, str]], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """headers: (label, "num"|"" alignment); row cells are already-escaped HTML."""
    head = "".join(f'<th class="{a}">{_esc(h)}</th>' if a else f"<th>{_esc(h)}</th>" for h, a in headers)
    body = []
    for row in rows:
        cells = "".join(f'<td class="{a}">{c}</td>' if a else f"<td>{c}</td>"
                        for (_, a), c in zip(headers, row, strict=True))
        body.append(f"<tr>{cells}</tr>")
    return (f'<div class="table-wrap"><table class="{cls}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def _badge(level: str, text: str) -> str:
    level = level if level in ("ok", "warn", "bad", "info") else "info"
    return f'<span class="badge {level}">{_esc(text)}</span>'


def _meter(p: float | None) -> str:
    if p is None:
        return '<span class="pct muted">–</span>'
    level = "bad" if p > 100 else "warn" if p >= HOT_NODE_PERCENT else ""
    width = max(0.0, min(p, 100.0))
    return (f'<span class="meter"><span class="fill {level}" style="width:{width:.1f}%"></span></span>'
            f'<span class="pct {level}">{_esc(_format_pct(p))}</span>')


def _header(data: Mapping[str, Any]) -> str:
    sc = _d(data.get("scenario"))
    name = str(sc.get("name") or "scenario")
    facts: list[tuple[str, str]] = [
        ("Virtual duration", _esc(format_duration(_num(sc.get("duration_seconds"))))),
        ("Seed", _esc(sc.get("seed", "–"))),
        ("Wall time", _esc(format_duration(_num(sc.get("wall_seconds")))) if "wall_seconds" in sc else "–"),
    ]
    if sc.get("started"):
        facts.append(("Started (virtual)", _esc(sc.get("started"))))
    if sc.get("kubetwin_version"):
        facts.append(("kubetwin", _esc(sc.get("kubetwin_version"))))
    dl = "".join(f"<div><dt>{_esc(k)}</dt><dd>{v}</dd></div>" for k, v in facts)
    objects = _d(sc.get("objects"))
    chips = "".join(f'<span class="chip">{_esc(kind)} <b>{_int(n)}</b></span>'
                    for kind, n in sorted(objects.items(), key=lambda kv: (-_int(kv[1]), str(kv[0]))))
    total_objects = sum(_int(n) for n in objects.values())
    objects_html = (f'<div class="objects"><span class="label">{_esc(_plural(total_objects, "object"))} applied</span>'
                    f"{chips}</div>") if objects else ""
    sources = [str(s) for s in _l(sc.get("sources"))]
    sources_html = ""
    if sources:
        shown = "".join(f"<code>{_esc(s)}</code>" for s in sources[:12])
        more = f' <span class="muted">and {len(sources) - 12} more</span>' if len(sources) > 12 else ""
        sources_html = f'<div class="sources"><span class="label">Sources</span>{shown}{more}</div>'
    return (f'<header><p class="eyebrow">kubetwin scenario report</p><h1>{_esc(name)}</h1>'
            f'<dl class="facts">{dl}</dl>{objects_html}{sources_html}</header>')


def _cards(data: Mapping[str, Any]) -> str:
    counts = _final_phase_counts(data)
    total = sum(counts.values())
    nodes = [_d(n) for n in _l(data.get("nodes_final"))]
    ready = sum(1 for n in nodes if n.get("ready", True))
    stuck = sum(1 for p in _l(data.get("pending")) if _d(p).get("still_pending"))
    warnings = sum(max(1, _int(_d(w).get("count"), 1)) for w in _l(_d(data.get("events")).get("warnings")))
    cpu = _pct(sum(_num(_d(n.get("requested")).get("cpu_milli")) for n in nodes),
               sum(_num(_d(n.get("allocatable_ints")).get("cpu_milli")) for n in nodes))
    mem = _pct(sum(_num(_d(n.get("requested")).get("memory_bytes")) for n in nodes),
               sum(_num(_d(n.get("allocatable_ints")).get("memory_bytes")) for n in nodes))
    cards = [
        ("Pods Running", f"{counts.get('Running', 0)}", f"of {total}", ""),
        ("Never scheduled", f"{stuck}", "pods still Pending", "bad" if stuck else ""),
        ("Nodes Ready", f"{ready}", f"of {len(nodes)}", "bad" if ready < len(nodes) else ""),
        ("CPU requested", _format_pct(cpu), "of allocatable", "warn" if cpu and cpu >= HOT_NODE_PERCENT else ""),
        ("Memory requested", _format_pct(mem), "of allocatable", "warn" if mem and mem >= HOT_NODE_PERCENT else ""),
        ("Warning events", f"{warnings}", "recorded", "warn" if warnings else ""),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card {lvl}"><div class="k">{_esc(k)}</div><div class="v">{_esc(v)}</div>'
        f'<div class="s">{_esc(s)}</div></div>' for k, v, s, lvl in cards) + "</div>"


def _verdicts_section(data: Mapping[str, Any]) -> str:
    given = data.get("verdicts")
    verdicts = [_d(v) for v in _l(given)] if given is not None else compute_verdicts(data)
    if not verdicts:
        return '<section id="verdicts"><h2>Verdicts</h2>' + _empty("No verdicts.") + "</section>"
    icons = {"ok": "✓", "warn": "!", "bad": "✕"}
    items = "".join(
        f'<li class="{_esc(lvl)}"><span class="icon" aria-hidden="true">{icons.get(lvl, "•")}</span>'
        f'<span class="lvl">{_esc({"ok": "OK", "warn": "WARN", "bad": "BAD"}.get(lvl, lvl.upper()))}</span>'
        f"<span>{_esc(v.get('text', ''))}</span></li>"
        for v in verdicts for lvl in [str(v.get("level") or "warn")])
    return f'<section id="verdicts"><h2>Verdicts</h2><ul class="verdicts">{items}</ul></section>'


def _pods_section(data: Mapping[str, Any]) -> str:
    samples = _d(data.get("samples"))
    t = _sample_times(data)
    n = len(t)
    parts = ['<section id="pods"><h2>Pods over time</h2>']
    by_phase = _d(samples.get("pods_by_phase"))
    phases = {p: _series(by_phase.get(p), n) for p in sorted(set(PHASES) | set(by_phase), key=_phase_order)}
    has_pods = n > 0 and any(not math.isnan(v) and v > 0 for vals in phases.values() for v in vals)
    if not has_pods:
        parts.append(_empty("No pods were sampled during the run."))
        return "".join(parts) + "</section>"
    phases = {p: v for p, v in phases.items() if any(x > 0 for x in v if not math.isnan(x)) or p in PHASES[:2]}
    unsched = samples.get("pending_unschedulable")
    extra = ("Pending, unschedulable", _series(unsched, n)) if isinstance(unsched, list) and any(
        _num(v) > 0 for v in unsched) else None
    parts.append(f'<figure>{_chart(_counts_chart, t, phases, PHASE_COLORS, "Pods by phase", "pods-by-phase", extra)}</figure>')
    by_qos = _d(samples.get("pods_by_qos"))
    if any(_num(v) > 0 for vals in by_qos.values() for v in _l(vals)):
        qos = {q: _series(by_qos.get(q), n) for q in sorted(set(QOS_CLASSES) | set(by_qos),
                                                           key=lambda q: (QOS_CLASSES.index(q) if q in QOS_CLASSES else 9, q))}
        parts.append(f'<figure>{_chart(_counts_chart, t, qos, QOS_COLORS, "Pods by QoS class", "pods-by-qos")}</figure>')
    return "".join(parts) + "</section>"


def _nodes_section(data: Mapping[str, Any]) -> str:
    parts = ['<section id="nodes"><h2>Node allocation</h2>']
    rows, aggregate = _allocation_rows(data)
    t = _sample_times(data)
    if rows:
        note = (f'<figcaption>{len(_l(data.get("nodes_final")))} nodes: aggregated per nodegroup. '
                "Red bars request ≥90% of allocatable.</figcaption>") if aggregate else \
            "<figcaption>Final state. Red bars request ≥90% of allocatable.</figcaption>"
        parts.append(f'<figure>{_chart(_allocation_chart, rows, aggregate)}{note}</figure>')
    if t and _d(_d(data.get("samples")).get("nodes")):
        parts.append(f'<figure>{_chart(_cluster_chart, t, _cluster_series(data, len(t)))}</figure>')
    nodes = sorted((_d(n) for n in _l(data.get("nodes_final"))),
                   key=lambda n: (str(n.get("nodegroup") or ""), str(n.get("name") or "")))
    if not nodes:
        parts.append(_empty("No nodes at the end of the run."))
        return "".join(parts) + "</section>"
    table_rows = []
    for n in nodes[:MAX_NODE_ROWS]:
        req, alloc = _d(n.get("requested")), _d(n.get("allocatable_ints"))
        cpu_r, cpu_a = _num(req.get("cpu_milli")), _num(alloc.get("cpu_milli"))
        mem_r, mem_a = _num(req.get("memory_bytes")), _num(alloc.get("memory_bytes"))
        pods_r, pods_a = _int(req.get("pods")), _int(alloc.get("pods"))
        ready = n.get("ready", True)
        table_rows.append([
            f'<span class="mono">{_esc(n.get("name"))}</span>',
            _esc(n.get("nodegroup") or "–"),
            _esc(n.get("instance_type") or "–")
            + (f' <span class="tag">{_esc(n.get("capacity_type"))}</span>' if n.get("capacity_type") else ""),
            _esc(n.get("zone") or "–"),
            _badge("ok", "Ready") if ready else _badge("bad", "NotReady"),
            f"{_esc(format_cores(cpu_r))} / {_esc(format_cores(cpu_a))} {_meter(_pct(cpu_r, cpu_a))}",
            f"{_esc(format_bytes(mem_r))} / {_esc(format_bytes(mem_a))} {_meter(_pct(mem_r, mem_a))}",
            f"{pods_r} / {pods_a}",
            _reserved_html(n),
        ])
    parts.append(_table([("Node", ""), ("Group", ""), ("Type", ""), ("Zone", ""), ("Status", ""),
                         ("CPU req / alloc (cores)", "num"), ("Memory req / alloc", "num"),
                         ("Pods", "num"), ("Capacity − reserved = allocatable", "")], table_rows, "nodes"))
    if len(nodes) > MAX_NODE_ROWS:
        parts.append(f'<p class="muted">Showing the first {MAX_NODE_ROWS} of {len(nodes)} nodes.</p>')
    return "".join(parts) + "</section>"


GROUP_COLORS = ("#2e6fdb", "#e08a1e", "#2f9e44", "#9c36b5", "#c92a2a", "#0b7285", "#5c940d", "#862e9c")


def _cost_section(data: Mapping[str, Any]) -> str:
    """Nodes per NodeGroup over time, the cost of the run (on-demand vs spot, per group) and the
    cluster autoscaler's decisions with their reasons."""
    cost, samples = _d(data.get("cost")), _d(data.get("samples"))
    groups = _d(samples.get("nodegroups"))
    decisions = _l(_d(data.get("autoscaler")).get("decisions"))
    if not groups and not decisions and not _num(cost.get("total_usd")):
        return ""
    parts = ['<section id="cost"><h2>Nodes and cost</h2>']
    t = _sample_times(data)
    if t and groups:
        n = len(t)
        series = {g: _series(v, n) for g, v in sorted(groups.items())}
        colors = {g: GROUP_COLORS[i % len(GROUP_COLORS)] for i, g in enumerate(sorted(groups))}
        parts.append(f"<figure>{_chart(_counts_chart, t, series, colors, 'Nodes per group', 'nodegroups', None, 'nodes')}"
                     "</figure>")  # fmt: skip
    total = _num(cost.get("total_usd"))
    parts.append(
        f"<p>Instance cost of the run: <strong>${total:,.2f}</strong> "
        f"(on-demand ${_num(cost.get('on_demand_usd')):,.2f}, spot ${_num(cost.get('spot_usd')):,.2f}); "
        "per-second billing from launch to termination at the NodeGroup's price.</p>"
    )
    by_group = _d(cost.get("by_group_usd"))
    rows = []
    for g in _l(cost.get("nodegroups")):
        g = _d(g)
        price = g.get("price_per_hour")
        rows.append([
            _esc(g.get("name")), _esc(g.get("instance_type") or "–"), _esc(g.get("capacity_type") or "–"),
            f"{_int(g.get('min'))}–{_int(g.get('max'))}",
            f"${_num(price):.4f}" if price is not None else "–",
            f"${_num(by_group.get(str(g.get('name')))):,.2f}",
        ])  # fmt: skip
    if rows:
        parts.append(_table([("Group", ""), ("Type", ""), ("Capacity", ""), ("Min–max", "num"),
                             ("Price / hour", "num"), ("Cost", "num")], rows))  # fmt: skip
    if decisions:
        drows = [[_esc(_hms_clock(_num(d.get("t")))), _esc(d.get("reason")), _esc(d.get("message"))]
                 for d in (_d(x) for x in decisions[:MAX_DECISION_ROWS])]  # fmt: skip
        parts.append("<h3>Cluster autoscaler decisions</h3>")
        parts.append(_table([("Time", "num"), ("Reason", ""), ("Message", "")], drows))
        if len(decisions) > MAX_DECISION_ROWS:
            parts.append(f'<p class="muted">Showing the first {MAX_DECISION_ROWS} of {len(decisions)}.</p>')
    return "".join(parts) + "</section>"


MAX_DECISION_ROWS = 200


RESERVED_LABELS = (("kube-reserved", "kube"), ("system-reserved", "system"), ("eviction-threshold", "eviction"))


def _reserved_html(n: Mapping[str, Any]) -> str:
    """``kubectl describe node``'s gap between Capacity and Allocatable for cpu and memory:
    ``cpu 2 − kube 70m = 1930m`` (kube-reserved, system-reserved, hard eviction threshold)."""
    cap, alloc, reserved = _d(n.get("capacity")), _d(n.get("allocatable")), _d(n.get("reserved"))
    lines = []
    for res in ("cpu", "memory"):
        if res not in cap:
            continue
        terms = [f"{short} {_d(reserved.get(key)).get(res)}" for key, short in RESERVED_LABELS
                 if _d(reserved.get(key)).get(res)]
        if not terms:
            continue
        lines.append(f'<div class="mono">{_esc(res)} {_esc(cap.get(res))} − {_esc(" − ".join(terms))} '
                     f"= {_esc(alloc.get(res, ''))}</div>")
    return "".join(lines) if lines else '<span class="muted">none</span>'


def _message_html(message: str) -> str:
    """A scheduler message with its "preemption: ..." tail set apart (muted, on its own line)."""
    if not message:
        return '<div class="msg muted">(no message)</div>'
    head, sep, tail = message.partition(" preemption: ")
    if not sep:
        return f'<div class="msg">{_esc(message)}</div>'
    return f'<div class="msg">{_esc(head)}</div><div class="msg sub">preemption: {_esc(tail)}</div>'


def _pending_section(data: Mapping[str, Any]) -> str:
    pending = sorted((_d(p) for p in _l(data.get("pending"))),
                     key=lambda p: (not p.get("still_pending"), -_num(p.get("pending_seconds")),
                                    str(p.get("namespace") or ""), str(p.get("name") or "")))
    parts = ['<section id="pending"><h2>Pending pods</h2>']
    if not pending:
        parts.append(_empty("No pod waited to be scheduled."))
        return "".join(parts) + "</section>"
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for p in pending:
        groups.setdefault((str(p.get("reason") or ""), str(p.get("message") or "")), []).append(p)
    group_rows = []
    for (reason, message), pods in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        still = sum(1 for p in pods if p.get("still_pending"))
        names = ", ".join(_esc(_ns_name(p.get("namespace"), p.get("name"))) for p in pods[:3])
        more = f' <span class="muted">+{len(pods) - 3} more</span>' if len(pods) > 3 else ""
        longest = max(_num(p.get("pending_seconds")) for p in pods)
        group_rows.append([
            f"<b>{len(pods)}</b>",
            f"{still}",
            _esc(format_duration(longest)),
            _badge("bad" if still else "warn", reason or "Pending"),
            _message_html(message) +
            f'<div class="examples mono">{names}{more}</div>',
        ])
    parts.append("<h3>Scheduler reasons</h3>")
    parts.append(_table([("Pods", "num"), ("Still pending", "num"), ("Longest wait", "num"), ("Reason", ""),
                         ("Message and example pods", "")], group_rows, "pending-groups"))
    rows = []
    for p in pending[:MAX_PENDING_ROWS]:
        rows.append([
            f'<span class="mono">{_esc(_ns_name(p.get("namespace"), p.get("name")))}</span>',
            _esc(p.get("owner") or "–"),
            _esc(format_duration(_num(p.get("pending_seconds")))),
            _badge("bad", "never scheduled") if p.get("still_pending") else _badge("info", "scheduled later"),
            _esc(", ".join(scheduler_reasons(str(p.get("message") or ""))) or p.get("reason") or ""),
        ])
    caption = f" (first {MAX_PENDING_ROWS} of {len(pending)})" if len(pending) > MAX_PENDING_ROWS else ""
    parts.append(f"<h3>Pods{_esc(caption)}</h3>")
    parts.append(_table([("Pod", ""), ("Owner", ""), ("Pending for", "num"), ("Outcome", ""), ("Scheduler reasons", "")],
                        rows, "pending"))
    return "".join(parts) + "</section>"


def _workloads_section(data: Mapping[str, Any]) -> str:
    workloads = [_d(w) for w in _l(data.get("workloads"))]
    parts = ['<section id="workloads"><h2>Workloads</h2>']
    if not workloads:
        parts.append(_empty("No workloads."))
        return "".join(parts) + "</section>"
    order = {"degraded": 0, "progressing": 1, "ok": 2}
    rows = []
    for w in sorted(workloads, key=lambda w: (order.get(str(w.get("status") or "ok"), 0), _workload_key(w))):
        status = str(w.get("status") or "ok")
        desired, available = _int(w.get("desired")), _int(w.get("available"))
        cls = "" if available >= desired else "warn-text"
        rows.append([
            _esc(w.get("kind") or ""),
            _esc(w.get("namespace") or ""),
            f'<span class="mono">{_esc(w.get("name") or "")}</span>',
            f"{desired}",
            f"{_int(w.get('ready'))}",
            f'<span class="{cls}">{available}</span>' if cls else f"{available}",
            f"{_int(w.get('updated'))}",
            _badge({"ok": "ok", "degraded": "bad", "progressing": "warn"}.get(status, "info"), status),
        ])
    parts.append(_table([("Kind", ""), ("Namespace", ""), ("Name", ""), ("Desired", "num"), ("Ready", "num"),
                         ("Available", "num"), ("Updated", "num"), ("Status", "")], rows, "workloads"))
    return "".join(parts) + "</section>"


def _events_section(data: Mapping[str, Any]) -> str:
    events = _d(data.get("events"))
    by_reason = _d(events.get("by_reason"))
    warnings = [_d(w) for w in _l(events.get("warnings"))]
    parts = ['<section id="events"><h2>Events</h2>']
    if by_reason:
        warn_reasons = {str(w.get("reason")) for w in warnings}
        chips = "".join(
            f'<span class="chip{" warn" if str(r) in warn_reasons else ""}">{_esc(r)} <b>{_int(n)}</b></span>'
            for r, n in sorted(by_reason.items(), key=lambda kv: (-_int(kv[1]), str(kv[0]))))
        parts.append(f'<div class="chips">{chips}</div>')
    if not warnings:
        parts.append(_empty("No warning events." if by_reason else "No events were recorded."))
        return "".join(parts) + "</section>"
    recent = sorted(enumerate(warnings), key=lambda iw: (-_num(iw[1].get("t")), -iw[0]))[:MAX_WARNING_ROWS]
    rows = []
    for _, w in recent:
        obj = f"{w.get('kind') or ''} {_ns_name(w.get('namespace'), w.get('name'))}".strip()
        rows.append([
            f'<span class="mono">{_esc(w.get("time") or format_duration(_num(w.get("t"))))}</span>',
            _badge("warn", str(w.get("reason") or "")),
            f'<span class="mono">{_esc(obj)}</span>',
            _message_html(str(w.get("message") or "")),
            f"{max(1, _int(w.get('count'), 1))}",
        ])
    title = "Warning events" + (f" (most recent {MAX_WARNING_ROWS} of {len(warnings)})"
                                if len(warnings) > MAX_WARNING_ROWS else "")
    parts.append(f"<h3>{_esc(title)}</h3>")
    parts.append(_table([("Time", ""), ("Reason", ""), ("Object", ""), ("Message", ""), ("Count", "num")],
                        rows, "events"))
    return "".join(parts) + "</section>"


_CSS = """
:root{--fg:#1f2933;--muted:#6b7480;--line:#e3e7ed;--bg:#f6f7f9;--card:#fff;--accent:#2563a8;
--ok:#1f7a4a;--ok-bg:#e3f4ea;--warn:#8a5a00;--warn-bg:#fff3d6;--bad:#b42318;--bad-bg:#fde8e6;--info:#3b5b85;--info-bg:#e8eef7}
*{box-sizing:border-box}
html{background:var(--bg)}
body{margin:0;color:var(--fg);font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,"DejaVu Sans",sans-serif;-webkit-font-smoothing:antialiased}
main{max-width:1200px;margin:0 auto;padding:28px 28px 48px}
header{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:22px 26px 18px;margin-bottom:16px}
.eyebrow{margin:0;color:var(--muted);font-size:12px;letter-spacing:.06em;text-transform:uppercase}
h1{margin:2px 0 14px;font-size:26px;line-height:1.2;font-weight:650;word-break:break-word}
h2{margin:0 0 14px;font-size:17px;font-weight:650}
h3{margin:20px 0 8px;font-size:13px;font-weight:600;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
dl.facts{display:flex;flex-wrap:wrap;gap:8px 34px;margin:0 0 12px}
dl.facts div{min-width:90px}
dt{color:var(--muted);font-size:12px}
dd{margin:0;font-size:16px;font-weight:600;font-variant-numeric:tabular-nums}
.objects,.sources,.chips{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin-top:8px}
.label{color:var(--muted);font-size:12px;margin-right:4px}
.chip{display:inline-block;background:#eef1f5;border-radius:999px;padding:2px 10px;font-size:12.5px;color:#334155}
.chip b{font-weight:650;margin-left:3px;font-variant-numeric:tabular-nums}
.chip.warn{background:var(--warn-bg);color:var(--warn)}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12.5px}
.sources code{background:#eef1f5;border-radius:4px;padding:1px 6px}
nav{display:flex;flex-wrap:wrap;gap:4px 16px;margin:0 4px 16px;font-size:13px}
nav a{color:var(--accent);text-decoration:none}
nav a:hover{text-decoration:underline}
.cards{display:grid;grid-template-columns:repeat(6,1fr);gap:10px;margin-bottom:16px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px;border-top:3px solid #c5ccd6}
.card .k{color:var(--muted);font-size:12px}
.card .v{font-size:24px;font-weight:650;line-height:1.25;font-variant-numeric:tabular-nums}
.card .s{color:var(--muted);font-size:12px}
.card.bad{border-top-color:var(--bad)}.card.bad .v{color:var(--bad)}
.card.warn{border-top-color:#e3a21a}.card.warn .v{color:var(--warn)}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:20px 24px;margin-bottom:16px}
ul.verdicts{list-style:none;margin:0;padding:0;display:grid;gap:6px}
ul.verdicts li{display:flex;align-items:baseline;gap:10px;padding:7px 12px;border-radius:7px;font-size:14px}
ul.verdicts li .icon{font-weight:700;width:14px;text-align:center}
ul.verdicts li .lvl{font-size:11px;font-weight:700;letter-spacing:.05em;border-radius:4px;padding:1px 6px;min-width:44px;text-align:center;color:#fff}
ul.verdicts li.ok{background:var(--ok-bg);color:#134e30}ul.verdicts li.ok .lvl{background:var(--ok)}
ul.verdicts li.warn{background:var(--warn-bg);color:#5c3d00}ul.verdicts li.warn .lvl{background:#c98a0b}
ul.verdicts li.bad{background:var(--bad-bg);color:#7a1a12}ul.verdicts li.bad .lvl{background:var(--bad)}
figure{margin:0 0 14px}
figcaption{color:var(--muted);font-size:12px;margin-top:2px}
svg.chart{display:block;width:100%;height:auto}
.empty{color:var(--muted);font-style:italic;margin:6px 0}
.muted{color:var(--muted)}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px}
th{text-align:left;font-weight:600;color:var(--muted);font-size:12px;border-bottom:1px solid #cfd6df;padding:6px 10px;white-space:nowrap}
td{border-bottom:1px solid var(--line);padding:6px 10px;vertical-align:top}
tbody tr:hover{background:#f8fafc}
th.num,td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.nodes td{white-space:nowrap}
table.nodes td,table.nodes th{padding:6px 7px}
table.events td:nth-child(-n+3){white-space:nowrap}
.tag{display:inline-block;font-size:11px;color:var(--muted);border:1px solid var(--line);border-radius:4px;padding:0 5px;margin-left:4px}
.msg.sub{color:var(--muted);font-size:12px}
.meter{display:inline-block;width:48px;height:6px;border-radius:3px;background:#e6e9ef;margin:0 6px 0 12px;vertical-align:middle;overflow:hidden}
.meter .fill{display:block;height:100%;background:var(--accent)}
.meter .fill.warn,.meter .fill.bad{background:#d64545}
.pct{display:inline-block;min-width:42px;text-align:right}
.pct.warn,.pct.bad,.warn-text{color:var(--bad);font-weight:600}
.badge{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:600;white-space:nowrap}
.badge.ok{background:var(--ok-bg);color:var(--ok)}
.badge.warn{background:var(--warn-bg);color:var(--warn)}
.badge.bad{background:var(--bad-bg);color:var(--bad)}
.badge.info{background:var(--info-bg);color:var(--info)}
.msg{word-break:break-word;max-width:720px}
.scroll{max-height:340px;overflow-y:auto;border-bottom:1px solid var(--line);margin-bottom:6px}
ul.plain{margin:0 0 12px;padding-left:20px}
.examples{color:var(--muted);margin-top:3px}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:8px}
@media (max-width:900px){.cards{grid-template-columns:repeat(3,1fr)}}
@media print{html{background:#fff}section,header,.card{border-color:#ccc;break-inside:avoid}nav{display:none}}
"""


def render_report(data: Mapping[str, Any]) -> str:
    """Render the scenario report as one self-contained HTML page.

    ``data`` is the recorder's JSON-shaped dict (keys ``scenario``, ``samples``,
    ``nodes_final``, ``pending``, ``workloads``, ``events``, optional ``verdicts``);
    every key is optional and empty lists render as "nothing here" notes. When
    ``verdicts`` is absent they are computed with ``compute_verdicts``.
    """
    data = _d(data) if isinstance(data, dict) else dict(data)
    sc = _d(data.get("scenario"))
    name = str(sc.get("name") or "scenario")
    nav = ('<nav><a href="#verdicts">Verdicts</a><a href="#pods">Pods over time</a><a href="#nodes">Node allocation</a><a href="#autoscaling">Autoscaling</a><a href="#cost">Nodes and cost</a>'
           '<a href="#usage">Usage</a><a href="#pending">Pending pods</a><a href="#evictions">Evictions</a><a href="#workloads">Workloads</a><a href="#events">Events</a></nav>')
    version = f" {sc.get('kubetwin_version')}" if sc.get("kubetwin_version") else ""
    body = "".join([
        _header(data),
        nav,
        _cards(data),
        _verdicts_section(data),
        _pods_section(data),
        _nodes_section(data),
        _autoscaling_section(data),
        _cost_section(data),
        _usage_section(data),
        _pending_section(data),
        _evictions_section(data),
        _workloads_section(data),
        _events_section(data),
        f"<footer>Generated by kubetwin{_esc(version)} from a simulated run; times are virtual.</footer>",
    ])
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_esc(name)} · kubetwin report</title><style>{_CSS.strip()}</style></head>"
            f"<body><main>{body}</main></body></html>\n")
