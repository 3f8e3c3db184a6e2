"""The metrics pipeline behind the HPA, the VPA and the metrics APIs.

Reproduces what a cluster's metrics stack answers:

- **Resource metrics** like metrics-server (kubernetes-sigs/metrics-server pkg/scraper +
  pkg/storage): every ``resolution`` seconds (``--metric-resolution``, default 15 s) it scrapes
  the kubelets. CPU is the rate of the containers' cumulative CPU usage between the last two
  scrapes (cpu-seconds from the usage engine's ``grant_s`` column, extrapolated from the engine's
  last tick to the scrape instant); memory is the working set at the last scrape. The value
  served is therefore the usage averaged over the window ending at the last scrape, stamped with
  that scrape's time, ``window`` = the time between the two scrapes (the resolution). A pod is
  served only once each of its containers was running at both scrapes (metrics-server needs two
  points; a container restarted since the previous scrape drops the pod until the next one), so
  new pods are *missing* for up to two resolutions and the HPA's missing-pod logic applies.
  Between scrapes every answer is the same.
- **Custom per-pod metrics** (custom.metrics.k8s.io ``pods/<metric>``, what prometheus-adapter
  serves) declared by a LoadProfile's ``spec.metrics``::

      metrics:
      - name: http_requests_per_second
        type: requestsPerSecond      # (the default) the pod's share of the traffic (window average)
      - name: http_request_duration_seconds_p95
        type: latency                # seconds; base / (1 - utilization), capped at max
        base: 100ms                  # default 100ms: the latency of an idle pod
        max: 2s                      # default 20 x base
      - name: http_errors_per_second
        type: errorRate              # failed requests/s
        ratio: 0.001                 # default 0: failures of a healthy pod, as a fraction
        labels: {code: "5xx"}        # optional metric labels, matched by metricSelector

  Traffic reaches Ready pods only (as the usage engine splits it); a pod that is not Ready
  reports 0 requests/s. *Latency* is a single-server queue (M/M/1 response time): utilization
  ``rho`` = the pod's CPU demand / its CPU capacity (the sum of its containers' CPU limits when
  every container has one, else the sum of their requests; no capacity -> rho 0); latency =
  ``base / (1 - rho)``, capped at ``max``; a pod that is CPU throttled or starved (granted <
  demand), or with rho >= 1, reports ``max``. *Errors* = requests/s x (``ratio`` + the fraction
  of the CPU demand that was not granted: requests that time out when the pod is throttled or
  starved). Latency and errors use the usage at the last scrape; requests/s is the traffic
  averaged over the window. A pod whose LoadProfile does not declare the metric has no value.
- **Object metrics** (``services/<name>/<metric>``, ``deployments``, ``ingresses``, ``pods``): the
  per-pod values aggregated over the pods the object selects (a Service's ``spec.selector``, a
  workload's ``spec.selector``, an Ingress's backend Services): the sum, except latency metrics,
  which are the request-weighted mean (a sum of latencies means nothing).
- **External metrics** (external.metrics.k8s.io) from ``ExternalMetricSeries`` objects
  (kubetwin.io/v1alpha1): ``spec.metricName``, ``spec.labels`` (matched by the metric selector)
  and ``spec.values``, one of the LoadProfile traffic shapes with ``value`` where traffic says
  ``rps`` (constant, steps, ramp, diurnal, trace), evaluated at the last scrape.

Values are milli-units (``Quantity.MilliValue()``), as the ``MetricsClient`` protocol
(:mod:`kubetwin.client.metrics`) says. Errors are upstream's: "no metrics returned from resource
metrics API" and the like.

What a pair of scrapes says per pod is computed once (per pair of scrapes and usage-engine
``version``, which moves when pods, container slots or start times change) as arrays over the
engine's pod slots: which pods are served and their CPU and memory. The per-pod reads
(``container_usage``, the MetricsClient verbs) look pods up in them; ``pod_samples`` hands a
controller that keeps its pods as rows (the HPA) the values of all of them at once
(:class:`~kubetwin.client.metrics.PodSamplesClient`), ``container_samples`` those of containers
(the VPA recommender). Such rows (:class:`~kubetwin.client.metrics.RowKeys`) are joined with the
engine's slots once and the join kept: each row remembers its pod slot and the slot's generation
(the engine stamps a slot when it is given to a pod or freed), so a call checks every row with one
array comparison and looks up again only the rows whose key changed, whose slot changed hands, or
that had no slot when pods started since.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from kubetwin.api.selectors import LabelSelector, label_selector_from_dict
from kubetwin.client.metrics import (
    ContainerUsage,
    MetricsUnavailable,
    PodMetric,
    PodMetricsInfo,
    PodValues,
    RowKeys,
    select_pods,
)
from kubetwin.kubelet.loadprofile import LoadProfile, Traffic, parse_traffic
from kubetwin.sim import parse_duration

if TYPE_CHECKING:
    from kubetwin.client import Client, InformerFactory
    from kubetwin.kubelet.usage import UsageEngine
    from kubetwin.sim import EventLoop

Obj = dict[str, Any]
F64 = npt.NDArray[np.float64]

DEFAULT_RESOLUTION = 15.0  # metrics-server --metric-resolution
#: after the kubelets' usage tick (30) and eviction (31) at the same instant
SCRAPE_PRIORITY = 35
TRAFFIC_SAMPLES = 7  # points of the trapezoid averaging a traffic shape over a window

REQUESTS_PER_SECOND = "requestsPerSecond"
LATENCY = "latency"
ERROR_RATE = "errorRate"
METRIC_TYPES = (REQUESTS_PER_SECOND, LATENCY, ERROR_RATE)
DEFAULT_BASE_LATENCY = 0.1
DEFAULT_MAX_LATENCY_FACTOR = 20.0

NO_RESOURCE_METRICS = "no metrics returned from resource metrics API"
NO_CUSTOM_METRICS = "no metrics returned from custom metrics API"
NO_EXTERNAL_METRICS = "no metrics returned from external metrics API"

SERIES_RESOURCE = "externalmetricseries.kubetwin.io"
#: object kind -> informer resource
OBJECT_RESOURCES = {
    "Service": "services",
    "Deployment": "deployments.apps",
    "ReplicaSet": "replicasets.apps",
    "StatefulSet": "statefulsets.apps",
    "DaemonSet": "daemonsets.apps",
    "Ingress": "ingresses.networking.k8s.io",
    "Pod": "pods",
}
#: custom-metrics resource (URL segment) -> kind
RESOURCE_KINDS = {
    "services": "Service",
    "deployments": "Deployment",
    "deployments.apps": "Deployment",
    "replicasets": "ReplicaSet",
    "replicasets.apps": "ReplicaSet",
    "statefulsets": "StatefulSet",
    "statefulsets.apps": "StatefulSet",
    "daemonsets": "DaemonSet",
    "daemonsets.apps": "DaemonSet",
    "ingresses": "Ingress",
    "ingresses.networking.k8s.io": "Ingress",
    "pods": "Pod",
}


def to_milli(value: float) -> int:
    return int(round(value * 1000.0))


@dataclass(frozen=True)
class MetricDef:
    """One entry of a LoadProfile's ``spec.metrics``."""

    name: str
    type: str
    labels: tuple[tuple[str, str], ...] = ()
    base: float = DEFAULT_BASE_LATENCY
    max: float = DEFAULT_BASE_LATENCY * DEFAULT_MAX_LATENCY_FACTOR
    ratio: float = 0.0


def _seconds(value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return parse_duration(value)


def parse_metric_defs(entries: list[Obj]) -> dict[str, MetricDef]:
    """``spec.metrics`` of a LoadProfile (validated at admission); bad entries are skipped."""
    out: dict[str, MetricDef] = {}
    for m in entries or []:
        if not isinstance(m, dict) or not m.get("name"):
            continue
        mtype = m.get("type") or REQUESTS_PER_SECOND
        if mtype not in METRIC_TYPES:
            continue
        try:
            base = _seconds(m.get("base"), DEFAULT_BASE_LATENCY)
            cap = _seconds(m.get("max"), base * DEFAULT_MAX_LATENCY_FACTOR)
            ratio = float(m.get("ratio") or 0.0)
        except (TypeError, ValueError):
            continue
        labels = tuple(sorted((str(k), str(v)) for k, v in (m.get("labels") or {}).items()))
        out[str(m["name"])] = MetricDef(str(m["name"]), str(mtype), labels, base, cap, ratio)
    return out


def series_shape(values: Obj, clock_offset: float = 0.0) -> Traffic:
    """An ExternalMetricSeries ``spec.values`` as a traffic shape (``value`` read where traffic
    says ``rps``); raises ValueError."""
    if not isinstance(values, dict):
        raise ValueError("spec.values must be an object")

    def rename(body: Any) -> Any:
        if isinstance(body, dict) and "value" in body:
            body = {**{k: v for k, v in body.items() if k != "value"}, "rps": body["value"]}
        return body

    shape: Obj = {}
    for kind, body in values.items():
        if kind == "steps" and isinstance(body, list):
            shape[kind] = [rename(s) for s in body]
        else:
            shape[kind] = rename(body)
    return parse_traffic(shape, clock_offset)


def window_average(traffic: Traffic, start: float, end: float) -> float:
    """Mean of ``traffic.rps`` over [start, end] (trapezoid on TRAFFIC_SAMPLES points)."""
    if end <= start:
        return float(traffic.rps(end))
    pts = [traffic.rps(start + (end - start) * i / (TRAFFIC_SAMPLES - 1)) for i in range(TRAFFIC_SAMPLES)]
    return float((sum(pts) - (pts[0] + pts[-1]) / 2) / (TRAFFIC_SAMPLES - 1))


@dataclass
class _Scrape:
    """What one scrape read from the usage engine's arrays (copies, indexed by slot)."""

    t: float
    cpu_s: F64  # cumulative cpu-seconds per container slot
    mem: F64  # working set bytes per container slot
    demand: F64  # CPU demanded (milli) per container slot
    granted: F64  # CPU granted (milli) per container slot
    running: npt.NDArray[np.bool_]
    start: F64
    # the traffic: per pod slot the index of the profile whose traffic it shared (-1: none), and
    # per profile the requests/s reaching each of its serving pods, averaged over the window
    serve: npt.NDArray[np.int64]
    rates: F64
    node_cpu: F64  # per node slot
    node_mem: F64

    @property
    def pods(self) -> int:
        """Pod slots the scrape covered."""
        return len(self.serve)

    def rps_at(self, slot: int) -> float:
        """Requests/s reaching pod slot ``slot`` (0 when it serves none)."""
        k = int(self.serve[slot])
        return float(self.rates[k]) if k >= 0 else 0.0

    def milli_rates(self) -> npt.NDArray[np.int64]:
        """``to_milli`` of each profile's rate, with one more element, 0, for index -1 (none)."""
        return np.append(np.rint(self.rates * 1000.0).astype(np.int64), 0)


_COUNT_PASSES = 8  # up to this many profiles, one counting pass each beats a bincount


def _serving_counts(serve: npt.NDArray[np.int64], profiles: int) -> F64:
    """Per profile index, the pods serving it (``serve`` per pod slot: a profile index, or -1),
    as floats: a count_nonzero pass per profile for a few profiles (several times cheaper than
    gathering the serving slots and a bincount), else the bincount."""
    if profiles <= _COUNT_PASSES:
        return np.array([np.count_nonzero(serve == k) for k in range(profiles)], dtype=np.float64)
    return np.bincount(serve[serve >= 0], minlength=profiles).astype(np.float64)


class _PodArrays:
    """Per engine pod slot, for one pair of scrapes and one engine version. Each pod array has one
    element more than there are pod slots, always False / 0: what slot -1 (no pod) reads."""

    __slots__ = ("ok", "_cpu_c", "_mem_c", "_served", "_owners", "_single", "_cpu", "_mem", "_ok_list", "_lists")

    def __init__(self, ok: npt.NDArray[np.bool_], cpu_c: F64, mem_c: F64, served: npt.NDArray[np.intp] | None,
                 owners: npt.NDArray[np.int64] | None, single: bool) -> None:  # fmt: skip
        self.ok = ok  # scraped twice with the same running containers (metrics-server serves it)
        self._cpu_c = cpu_c  # per container slot (those of served pods only mean anything)
        self._mem_c = mem_c
        self._served = served  # the container slots of served pods (None: slots aligned, see _pod_arrays) ...
        self._owners = owners  # ... and their pod slots
        self._single = single  # no pod has more than one container
        self._cpu: npt.NDArray[np.int64] | None = None
        self._mem: npt.NDArray[np.int64] | None = None
        self._ok_list: list[bool] | None = None
        self._lists: tuple[list[int], list[int]] | None = None

    @property
    def cpu(self) -> npt.NDArray[np.int64]:
        """Millicores per pod slot: each container's window average, rounded, summed (0 where not
        served); built on the first read, as ``mem``."""
        if self._cpu is None:
            self._cpu = self._per_pod(self._cpu_c, 1)
        return self._cpu

    @property
    def mem(self) -> npt.NDArray[np.int64]:
        """Working set per pod slot, milli-bytes: each container's bytes (truncated), summed."""
        if self._mem is None:
            self._mem = self._per_pod(self._mem_c, 1000)
        return self._mem

    def _per_pod(self, per_container: F64, scale: int) -> npt.NDArray[np.int64]:
        pn = len(self.ok) - 1
        out = np.zeros(pn + 1, dtype=np.int64)
        if self._served is None or self._owners is None:  # pod slot s's one container is slot s
            m = min(pn, len(per_container))
            out[:m] = per_container[:m]  # (those not served are zeroed below)
        elif self._single:  # a container per pod: its value is the pod's
            out[self._owners] = per_container[self._served].astype(np.int64)
        else:  # integer-valued float sums stay exact below 2**53 (usage per pod is far below)
            values = per_container[self._served]
            out[:pn] = np.bincount(self._owners, weights=values, minlength=pn)[:pn].astype(np.int64)
        if scale != 1:
            out *= scale
        out[~self.ok] = 0
        return out

    @property
    def ok_list(self) -> list[bool]:
        """``ok`` as a list (per-pod reads index it: cheaper than a numpy scalar), built on the
        first per-pod read."""
        if self._ok_list is None:
            self._ok_list = self.ok.tolist()
        return self._ok_list

    def container_lists(self) -> tuple[list[int], list[int]]:
        """(cpu millicores, working set bytes) per container slot as lists of ints (built on the
        first per-pod read)."""
        if self._lists is None:
            self._lists = (self._cpu_c.astype(np.int64).tolist(), self._mem_c.astype(np.int64).tolist())
        return self._lists


def _pod_arrays(cur: _Scrape, prev: _Scrape, eng: UsageEngine) -> _PodArrays:
    """Which pods two scrapes serve and their usage, vectorised over the engine's slots.

    A pod is served when it has containers and each of them (the live container slots pointing
    at its pod slot) was running at both scrapes, did not start after the previous one and still
    has the start time it had at the last one (a restart, or a slot that changed hands, does not);
    its pod slot must also be one the last scrape covered. CPU per container is
    ``max(0, cpu-seconds now - then) x 1000 / span`` (the granted CPU when the scrapes coincide),
    rounded half to even as Python's ``round``; memory the working set truncated to bytes."""
    ca, pa = eng.c.a, eng.p.a
    nc, pn = eng.c.n, eng.p.n
    limit = min(len(cur.running), len(prev.running), nc)
    alive = ca["alive"][:nc]
    owner = ca["pod"][:nc]
    good = np.zeros(nc, dtype=np.bool_)
    start = cur.start[:limit]
    good[:limit] = (
        cur.running[:limit] & prev.running[:limit] & ~(start > prev.t) & (ca["start"][:limit] == start)
    )
    ok = np.zeros(pn + 1, dtype=np.bool_)
    aligned = eng.aligned and nc <= pn
    if aligned:  # pod slot s has one container, slot s: it has a live one and is spoilt at s only
        m = min(pn, limit)
        ok[:m] = pa["alive"][:m] & alive[:m] & good[:m]
    else:
        live_owners = owner[alive]
        has = np.zeros(pn + 1, dtype=np.bool_)  # pods with a live container
        has[live_owners] = True
        spoilt = np.zeros(pn + 1, dtype=np.bool_)  # pods with a live container that is not served
        spoilt[owner[alive & ~good]] = True
        ok[:pn] = pa["alive"][:pn] & has[:pn] & ~spoilt[:pn]
    ok[min(pn, cur.pods) : pn] = False
    span = cur.t - prev.t
    if span > 0:
        cpu_c = cur.cpu_s[:limit] - prev.cpu_s[:limit]
        np.fmax(0.0, cpu_c, out=cpu_c)
        cpu_c *= 1000.0
        cpu_c /= span
        np.rint(cpu_c, out=cpu_c)
    else:
        cpu_c = np.rint(cur.granted[:limit])
    mem_c = np.trunc(cur.mem[:limit])
    if aligned:
        return _PodArrays(ok, cpu_c, mem_c, None, None, True)
    served = np.flatnonzero(alive[:limit] & good[:limit])
    single = int(np.count_nonzero(has)) == live_owners.size  # as many pods as live containers
    return _PodArrays(ok, cpu_c, mem_c, served, owner[served], single)


class _Join:
    """One :class:`~kubetwin.client.metrics.RowKeys` joined with the usage engine, kept between
    calls: per row the engine's pod slot (-1: the pod has none), the slot's generation when it was
    looked up, and for a container row the container's slot (-1: none)."""

    __slots__ = ("engine", "clock", "slot_changes", "started", "pod", "gen", "container", "keyed")

    def __init__(self, engine: UsageEngine) -> None:
        self.engine = engine
        self.clock = -1  # the rows' change stamp when last joined: rows changed since are looked up
        self.slot_changes = -1  # the engine's slot_changes then: no slot changed hands while equal
        self.started = -1  # the engine's pods_started then: rows without a slot are looked up again
        self.pod = np.zeros(0, dtype=np.int64)
        self.gen = np.zeros(0, dtype=np.int64)
        self.container = np.zeros(0, dtype=np.int64)
        self.keyed = np.zeros(0, dtype=np.bool_)  # the row has a uid

    def fit(self, n: int) -> None:
        old = len(self.pod)
        if n <= old:
            return
        cap = max(64, 2 * old, n)
        fill = {"pod": -1, "gen": 0, "container": -1, "keyed": False}
        for name, value in fill.items():
            col = getattr(self, name)
            new = np.full(cap, value, dtype=col.dtype)
            new[:old] = col
            setattr(self, name, new)

    def update(self, rows: RowKeys) -> None:
        """Bring the join up to date with ``rows`` and the engine: the rows whose key changed, whose
        slot changed hands or was freed since (its generation moved), and, when pods started since,
        those that had no slot are looked up in the engine; the others are kept, O(1) each in numpy."""
        eng = self.engine
        n = len(rows)
        self.fit(n)
        pod, gen, keyed = self.pod[:n], self.gen[:n], self.keyed[:n]
        generations = eng.p.a["gen"]
        todo = []
        if rows.clock != self.clock:
            todo.append(rows.changed_since(self.clock))
        if eng.slot_changes != self.slot_changes:  # some slot was given or freed since
            stale = (generations[np.maximum(pod, 0)] != gen) & (pod >= 0)
            if eng.pods_started != self.started:
                stale |= (pod < 0) & keyed
            todo.append(np.flatnonzero(stale))
        self.clock, self.slot_changes, self.started = rows.clock, eng.slot_changes, eng.pods_started
        if not todo:
            return
        redo = np.unique(np.concatenate(todo)) if len(todo) > 1 else todo[0]
        if not redo.size:
            return
        get, uids, names = eng.pods.get, rows.uids, rows.containers
        found, containers = [], []
        for r in redo.tolist():
            uid = uids[r]
            e = get(uid) if uid is not None else None
            if e is None:
                found.append(-1)
                containers.append(-1)
                continue
            found.append(e.slot)
            name = names[r]
            containers.append(e.slots[e.names.index(name)] if name is not None and name in e.names else -1)
        slots = np.array(found, dtype=np.int64)
        pod[redo] = slots
        gen[redo] = np.where(slots >= 0, generations[np.maximum(slots, 0)], 0)
        self.container[redo] = containers
        keyed[redo] = [uids[r] is not None for r in redo.tolist()]


_COMPARE_PASSES = 2  # up to this many profiles defining a metric, comparisons beat a gather


def _defined(profile: npt.NDArray[np.int64], defines: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """``defines[profile]`` per row, False for a profile index out of range (``defines`` holds a
    flag per profile index and a last False for -1, none): a comparison pass per defining profile
    when few define the metric (several times cheaper than a gather), else the gather."""
    ks = np.flatnonzero(defines).tolist()
    if len(ks) <= _COMPARE_PASSES:
        out = profile == ks[0] if ks else np.zeros(len(profile), dtype=np.bool_)
        for k in ks[1:]:
            out |= profile == k
        return out
    try:
        return defines[profile]  # index len(defines) - 1 is False as -1 is
    except IndexError:
        return defines[np.where(profile < len(defines) - 1, profile, -1)]


class _Samples:
    """``PodSamples`` of a list of pods: the engine pod slot of each (-1: not in the engine) joined
    with the arrays of the current pair of scrapes."""

    def __init__(self, pipeline: MetricsPipeline, arrays: _PodArrays, slots: npt.NDArray[np.int64]) -> None:
        self.pipeline = pipeline
        self.arrays = arrays
        self.slots = slots
        self.timestamp = pipeline.timestamp or 0.0
        self.window = pipeline.window
        self._served: npt.NDArray[np.bool_] | None = None

    @property
    def served(self) -> npt.NDArray[np.bool_]:
        """Per row: metrics-server serves the pod (built once, shared by every metric: never
        write to it or to a ``has`` returned)."""
        if self._served is None:
            self._served = self.arrays.ok[self.slots]
        return self._served

    def resource(self, resource: str) -> PodValues:
        if resource not in ("cpu", "memory"):
            raise MetricsUnavailable(NO_RESOURCE_METRICS)
        a = self.arrays
        has = self.served
        if not has.any():
            raise MetricsUnavailable(NO_RESOURCE_METRICS)
        return has, (a.cpu if resource == "cpu" else a.mem)[self.slots]

    def custom(self, metric: str, metric_selector: LabelSelector) -> PodValues | None:
        """Requests-per-second metrics only (the share of the traffic at the last scrape); the
        latency and error metrics of a pod depend on its containers one by one: None."""
        p = self.pipeline
        eng, cur = p.engine(), p.cur
        if eng is None or cur is None:
            return None
        keys = sorted(eng.profiles)  # the engine's profile index order
        defines = np.zeros(len(keys) + 1, dtype=np.bool_)  # per profile index (and -1: none)
        for i, k in enumerate(keys):
            d = p._profile_defs(eng.profiles[k]).get(metric)
            if d is None or not metric_selector.matches(dict(d.labels)):
                continue
            if d.type != REQUESTS_PER_SECOND:
                return None
            defines[i] = True
        slots = self.slots
        served = self.served  # only slots the last scrape covered (so also its traffic)
        # what rows that are not served read does not matter (``has`` is False there)
        has = served & _defined(np.take(eng.p.a["profile"], slots), defines)
        if not has.any():
            raise MetricsUnavailable(NO_CUSTOM_METRICS)
        # to_milli per profile (its serving pods share one rate), then per row
        try:
            code = np.take(cur.serve, slots)
        except IndexError:  # a row's pod got its slot after the scrape (it is not served)
            code = cur.serve[np.where(served, slots, 0)]
        milli = cur.milli_rates()[code]
        milli *= has  # 0 where not has
        return has, milli


@dataclass
class PodValue:
    pod: Obj
    value: int  # milli


class MetricsPipeline:
    """A ``MetricsClient`` + ``ContainerMetricsClient`` reading the usage engine's arrays.

    ``engine`` returns the cluster's :class:`~kubetwin.kubelet.usage.UsageEngine` (or None: no
    usage model, every API answers "no metrics"). ``start()`` schedules the scrapes.
    """

    def __init__(
        self,
        client: Client,
        informers: InformerFactory,
        engine: Callable[[], UsageEngine | None],
        clock: EventLoop | None = None,
        resolution: float = DEFAULT_RESOLUTION,
    ) -> None:
        if resolution <= 0:
            raise ValueError("resolution must be positive")
        self.client = client
        self.informers = informers
        self.engine = engine
        self.loop: EventLoop = clock if clock is not None else client.clock
        self.resolution = float(resolution)
        self.pods = informers.get("pods")
        self.series = informers.get(SERIES_RESOURCE)
        self.prev: _Scrape | None = None
        self.cur: _Scrape | None = None
        # the per-slot numbers per-pod reads use, as Python lists (built once per pair of scrapes:
        # indexing a list is several times cheaper than reading a numpy scalar)
        self._arrays_memo: tuple[_Scrape, _Scrape, UsageEngine, int, _PodArrays] | None = None
        self._joins: weakref.WeakKeyDictionary[RowKeys, _Join] = weakref.WeakKeyDictionary()
        self.scrapes = 0
        self._timer: Any = None
        self._shapes: dict[str, tuple[str, Traffic | None]] = {}  # series uid -> (rv, shape)
        self._defs: dict[str, tuple[LoadProfile, dict[str, MetricDef]]] = {}  # profile key -> (profile, defs)
        dt = self.loop.datetime(0)
        self.clock_offset = dt.hour * 3600.0 + dt.minute * 60.0 + dt.second

    # -- scraping -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._timer is None:
            self._timer = self.loop.every(self.resolution, self.scrape, SCRAPE_PRIORITY, "metrics:scrape")

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def scrape(self) -> None:
        """Read the engine's arrays now (vectorised; a few array copies per scrape)."""
        now = self.loop.now
        eng = self.engine()
        self.scrapes += 1
        if eng is None:
            self.prev, self.cur = self.cur, None
            return
        n = eng.c.n
        ca = eng.c.a
        last_tick = getattr(eng, "_last_tick", None)  # when grant_s was last accumulated
        extra = max(0.0, now - last_tick) / 1000.0 if last_tick is not None else 0.0
        granted = ca["granted"][:n].copy()
        cpu_s = ca["grant_s"][:n] + granted * extra
        pn = eng.p.n
        pa = eng.p.a
        serve = np.full(pn, -1, dtype=np.int64)
        rates = np.zeros(0)
        if eng.profiles and pn:
            keys = sorted(eng.profiles)  # the engine's profile index order
            avg = np.array(
                [window_average(eng.profiles[k].traffic, now - self.resolution, now) for k in keys],
                dtype=np.float64,
            )
            prof = pa["profile"][:pn]
            serving = pa["alive"][:pn] & pa["ready"][:pn] & (prof >= 0) & (prof < len(keys))
            serve = np.where(serving, prof, -1)
            counts = _serving_counts(serve, len(keys))
            # every serving pod of a profile gets the same share: one division per profile
            rates = np.zeros(len(keys))
            np.divide(avg, counts, out=rates, where=counts > 0)
        nn = eng.nodes.n
        na = eng.nodes.a
        self.prev = self.cur
        self.cur = _Scrape(
            t=now,
            cpu_s=cpu_s,
            mem=ca["mem"][:n].copy(),
            demand=ca["demand"][:n].copy(),
            granted=granted,
            running=ca["running"][:n].copy(),
            start=ca["start"][:n].copy(),
            serve=serve,
            rates=rates,
            node_cpu=na["cpu_used"][:nn].copy(),
            node_mem=na["pods_mem"][:nn] + na["overhead"][:nn],
        )

    @property
    def timestamp(self) -> float | None:
        """Time of the last scrape (None before the first)."""
        return self.cur.t if self.cur is not None else None

    @property
    def window(self) -> float:
        if self.cur is not None and self.prev is not None:
            return self.cur.t - self.prev.t
        return self.resolution

    # -- per pod --------------------------------------------------------------------------------
    def _arrays(self) -> tuple[_PodArrays, UsageEngine] | None:
        """The per-pod-slot arrays of the current pair of scrapes (and their engine), computed once
        per engine ``version`` (every HPA and the VPA ask between two scrapes)."""
        cur, prev = self.cur, self.prev
        eng = self.engine()
        if cur is None or prev is None or eng is None:
            return None
        version = eng.version
        memo = self._arrays_memo
        if memo is None or memo[0] is not cur or memo[1] is not prev or memo[2] is not eng or memo[3] != version:
            memo = self._arrays_memo = (cur, prev, eng, version, _pod_arrays(cur, prev, eng))
        return memo[4], eng

    def _entry(self, pod: Obj) -> Any:
        """The engine's record of a pod that was scraped twice with the same containers, or None."""
        found = self._arrays()
        if found is None:
            return None
        arrays, eng = found
        e = eng.pods.get((pod.get("metadata") or {}).get("uid", ""))
        if e is None or not arrays.ok_list[e.slot]:
            return None
        return e

    def _join(self, rows: RowKeys, eng: UsageEngine) -> _Join:
        """The rows' join with the engine's slots, kept per ``rows`` and brought up to date."""
        join = self._joins.get(rows)
        if join is None or join.engine is not eng:
            join = self._joins[rows] = _Join(eng)
        join.update(rows)
        return join

    def pod_samples(self, rows: RowKeys) -> _Samples | None:
        """``PodSamplesClient``: the current metrics of the pods of ``rows`` as arrays aligned with
        them (the join of the rows with the engine's pod slots is kept: a call looks up only the
        rows that changed, see :class:`_Join`)."""
        found_arrays = self._arrays()
        if found_arrays is None:
            return None
        arrays, eng = found_arrays
        return _Samples(self, arrays, self._join(rows, eng).pod[: len(rows)].copy())

    def container_usage(self, pod: Obj) -> dict[str, tuple[int, int]] | None:
        """{container: (cpu millicores averaged over the window, working set bytes)} of a scraped
        pod, None when the pod is not (yet) in the metrics."""
        e = self._entry(pod)
        if e is None:
            return None
        memo = self._arrays_memo
        assert memo is not None
        cpu, mem = memo[4].container_lists()
        return {name: (cpu[s], mem[s]) for s, name in zip(e.slots, e.names, strict=True)}

    def node_usage(self, name: str) -> tuple[int, int] | None:
        """(cpu millicores, memory working set bytes incl. the system) of a node at the last scrape."""
        eng = self.engine()
        cur = self.cur
        if eng is None or cur is None:
            return None
        slot = eng.node_slot.get(name)
        if slot is None or slot >= len(cur.node_cpu) or not eng.nodes.a["alive"][slot]:
            return None
        return int(round(cur.node_cpu[slot])), int(cur.node_mem[slot])

    # -- MetricsClient: resource ----------------------------------------------------------------
    def get_resource_metric(
        self, resource: str, namespace: str, selector: LabelSelector, container: str | None = None
    ) -> tuple[PodMetricsInfo, float]:
        if resource not in ("cpu", "memory"):
            raise MetricsUnavailable(NO_RESOURCE_METRICS)
        i = 0 if resource == "cpu" else 1
        out: PodMetricsInfo = {}
        ts, window = self.timestamp or 0.0, self.window
        for pod in select_pods(self.pods, namespace, selector):
            usage = self.container_usage(pod)
            if usage is None or (container and container not in usage):
                continue
            total = sum(v[i] for c, v in usage.items() if not container or c == container)
            out[pod["metadata"]["name"]] = PodMetric(total if i == 0 else total * 1000, ts, window)
        if not out:
            raise MetricsUnavailable(NO_RESOURCE_METRICS)
        return out, ts

    def get_container_usage(self, namespace: str, selector: LabelSelector) -> ContainerUsage:
        out: ContainerUsage = {}
        for pod in select_pods(self.pods, namespace, selector):
            if (pod.get("status") or {}).get("phase") != "Running":
                continue
            usage = self.container_usage(pod)
            if usage is not None:
                out[pod["metadata"]["name"]] = usage
        return out

    # -- custom metrics -------------------------------------------------------------------------
    def _profile_defs(self, prof: LoadProfile) -> dict[str, MetricDef]:
        cached = self._defs.get(prof.key)
        if cached is not None and cached[0] is prof:
            return cached[1]
        defs = parse_metric_defs(prof.metrics)
        # the entry holds the profile: a replaced profile's id could be reused by a newer one
        self._defs[prof.key] = (prof, defs)
        return defs

    def metric_def(self, pod: Obj, metric: str) -> MetricDef | None:
        eng = self.engine()
        if eng is None:
            return None
        e = eng.pods.get((pod.get("metadata") or {}).get("uid", ""))
        prof = eng.profiles.get(e.profile) if e is not None and e.profile else None
        if prof is None:
            return None
        return self._profile_defs(prof).get(metric)

    def pod_value(self, pod: Obj, metric: str, metric_selector: LabelSelector | None = None) -> float | None:
        """A custom metric of one scraped pod (in its unit, not milli), or None."""
        d = self.metric_def(pod, metric)
        if d is None or (metric_selector is not None and not metric_selector.matches(dict(d.labels))):
            return None
        e = self._entry(pod)
        if e is None:
            return None
        cur = self.cur
        assert cur is not None
        rps = cur.rps_at(e.slot)
        if d.type == REQUESTS_PER_SECOND:
            return rps
        slots = e.slots
        demand = float(sum(cur.demand[s] for s in slots))
        granted = float(sum(cur.granted[s] for s in slots))
        short = max(0.0, demand - granted) / demand if demand > 0 else 0.0
        if d.type == ERROR_RATE:
            return rps * min(1.0, d.ratio + short)
        # latency: M/M/1 response time over the pod's CPU capacity
        if short > 1e-6:
            return d.max
        eng = self.engine()
        assert eng is not None
        ca = eng.c.a
        limits = [float(ca["lim_cpu"][s]) for s in slots]
        capacity = (
            sum(limits)
            if all(math.isfinite(x) for x in limits)
            else float(sum(ca["req_cpu"][s] for s in slots))
        )
        rho = demand / capacity if capacity > 0 else 0.0
        if rho >= 1.0:
            return d.max
        return min(d.base / (1.0 - rho), d.max)

    def pod_values(
        self,
        metric: str,
        namespace: str,
        selector: LabelSelector,
        metric_selector: LabelSelector | None = None,
    ) -> list[PodValue]:
        out = []
        for pod in sorted(select_pods(self.pods, namespace, selector), key=lambda p: p["metadata"]["name"]):
            v = self.pod_value(pod, metric, metric_selector)
            if v is not None:
                out.append(PodValue(pod, to_milli(v)))
        return out

    def get_raw_metric(
        self, metric_name: str, namespace: str, selector: LabelSelector, metric_selector: LabelSelector
    ) -> tuple[PodMetricsInfo, float]:
        ts, window = self.timestamp or 0.0, self.window
        values = self.pod_values(metric_name, namespace, selector, metric_selector)
        if not values:
            raise MetricsUnavailable(NO_CUSTOM_METRICS)
        return {v.pod["metadata"]["name"]: PodMetric(v.value, ts, window) for v in values}, ts

    # -- object metrics -------------------------------------------------------------------------
    def object_pods(self, namespace: str, kind: str, name: str) -> list[Obj] | None:
        """The pods ``kind/name`` stands for (None when the object does not exist)."""
        resource = OBJECT_RESOURCES.get(kind)
        if resource is None:
            return None
        obj = self.informers.get(resource).get(name, namespace)
        if obj is None:
            return None
        spec = obj.get("spec") or {}
        if kind == "Pod":
            return [obj]
        if kind == "Service":
            sel = spec.get("selector") or {}
            if not sel:
                return []  # a Service without a selector has no pods of its own
            return select_pods(self.pods, namespace, label_selector_from_dict({"matchLabels": sel}))
        if kind == "Ingress":
            seen: dict[str, Obj] = {}
            for svc in sorted(_ingress_services(spec)):
                for p in self.object_pods(namespace, "Service", svc) or []:
                    seen[p["metadata"]["name"]] = p
            return [seen[k] for k in sorted(seen)]
        sel = spec.get("selector")
        if not sel:
            return []
        return select_pods(self.pods, namespace, label_selector_from_dict(sel))

    def object_value(
        self, metric: str, namespace: str, kind: str, name: str, metric_selector: LabelSelector | None = None
    ) -> int | None:
        """The metric describing ``kind/name``: the sum over its pods (request-weighted mean for
        latency metrics), milli; None when the object is unknown or no pod has the metric."""
        pods = self.object_pods(namespace, kind, name)
        if not pods:
            return None
        total, weight, plain, n = 0.0, 0.0, 0.0, 0
        is_latency = False
        for pod in pods:
            v = self.pod_value(pod, metric, metric_selector)
            if v is None:
                continue
            n += 1
            d = self.metric_def(pod, metric)
            if d is not None and d.type == LATENCY:
                is_latency = True
                e = self._entry(pod)
                w = self.cur.rps_at(e.slot) if e is not None and self.cur is not None else 0.0
                total += v * w
                weight += w
                plain += v
            else:
                total += v
        if n == 0:
            return None
        if is_latency:
            return to_milli(total / weight if weight > 0 else plain / n)
        return to_milli(total)

    def get_object_metric(
        self, metric_name: str, namespace: str, object_ref: dict[str, Any], metric_selector: LabelSelector
    ) -> tuple[int, float]:
        kind = str(object_ref.get("kind") or "")
        value = self.object_value(
            metric_name, namespace, kind, str(object_ref.get("name") or ""), metric_selector
        )
        if value is None:
            raise MetricsUnavailable(NO_CUSTOM_METRICS)
        return value, self.timestamp or 0.0

    # -- external metrics -----------------------------------------------------------------------
    def _shape(self, obj: Obj) -> Traffic | None:
        meta = obj.get("metadata") or {}
        uid, rv = meta.get("uid", ""), str(meta.get("resourceVersion", ""))
        cached = self._shapes.get(uid)
        if cached is not None and cached[0] == rv:
            return cached[1]
        try:
            shape: Traffic | None = series_shape(
                (obj.get("spec") or {}).get("values") or {}, self.clock_offset
            )
        except (ValueError, TypeError, AttributeError, KeyError):
            shape = None
        self._shapes[uid] = (rv, shape)
        return shape

    def external_values(self, metric: str, namespace: str, selector: LabelSelector) -> list[tuple[Obj, int]]:
        """(series object, value milli at the last scrape) of every matching series, by name."""
        t = self.timestamp
        if t is None:
            return []
        out = []
        for obj in sorted(self.series.list(namespace), key=lambda o: o["metadata"]["name"]):
            spec = obj.get("spec") or {}
            if spec.get("metricName") != metric or not selector.matches(spec.get("labels") or {}):
                continue
            shape = self._shape(obj)
            if shape is not None:
                out.append((obj, to_milli(shape.rps(t))))
        return out

    def get_external_metric(
        self, metric_name: str, namespace: str, selector: LabelSelector
    ) -> tuple[list[int], float]:
        values = self.external_values(metric_name, namespace, selector)
        if not values:
            raise MetricsUnavailable(NO_EXTERNAL_METRICS)
        return [v for _, v in values], self.timestamp or 0.0

    # -- discovery ------------------------------------------------------------------------------
    def custom_metric_names(self) -> list[str]:
        eng = self.engine()
        if eng is None:
            return []
        names: set[str] = set()
        for prof in eng.profiles.values():
            names.update(self._profile_defs(prof))
        return sorted(names)

    def external_metric_names(self) -> list[str]:
        return sorted({str((o.get("spec") or {}).get("metricName")) for o in self.series.list()
                       if (o.get("spec") or {}).get("metricName")})  # fmt: skip

    # -- many containers at once ------------------------------------------------------------------
    def container_samples(
        self, rows: RowKeys
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
        """``container_usage`` of many containers, as arrays aligned with ``rows`` (a pod uid and a
        container name each): (served, cpu millicores, working set bytes), 0 where not served;
        None before two scrapes. The rows' join with the engine's slots is kept between calls (a
        call looks up only the rows that changed, see :class:`_Join`)."""
        found_arrays = self._arrays()
        if found_arrays is None:
            return None
        arrays, eng = found_arrays
        join = self._join(rows, eng)
        n = len(rows)
        pod_slots, slots = join.pod[:n], join.container[:n]
        cpu_c, mem_c = arrays._cpu_c, arrays._mem_c
        served = arrays.ok[pod_slots] & (slots >= 0) & (slots < len(cpu_c))
        at = np.where(served, slots, len(cpu_c))  # one past the end: the 0 appended below
        cpu = np.append(cpu_c, 0.0)[at].astype(np.int64)
        mem = np.append(mem_c, 0.0)[at].astype(np.int64)
        return served, cpu, mem


def _ingress_services(spec: Obj) -> set[str]:
    names: set[str] = set()

    def backend(b: Any) -> None:
        svc = (b or {}).get("service") or {}
        if svc.get("name"):
            names.add(str(svc["name"]))
        elif (b or {}).get("serviceName"):  # extensions/v1beta1 shape
            names.add(str(b["serviceName"]))

    backend(spec.get("defaultBackend") or spec.get("backend"))
    for rule in spec.get("rules") or []:
        for path in ((rule or {}).get("http") or {}).get("paths") or []:
            backend((path or {}).get("backend"))
    return names
