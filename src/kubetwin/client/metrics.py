"""The metrics seam the HPA reads through
(kubernetes/kubernetes pkg/controller/podautoscaler/metrics/interfaces.go: MetricsClient).

Controllers never import the usage engine or the server's metrics APIs; they call the
``MetricsClient`` that the runtime put on ``Client.metrics``. Values are milli-units (as
``Quantity.MilliValue()``), timestamps virtual seconds. Errors raise ``MetricsUnavailable``
whose message is what upstream's metrics client would have said.

``RequestsMetricsClient`` is the stand-in the runtime installs until the usage engine (issue 3)
and the custom/external metrics APIs (issue 5, item 1) provide the real one: every Running pod
"uses its requests" (the usage model's default), reported from the pod informer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from kubetwin.api import podchanges as pc
from kubetwin.api.podchanges import pod_changes
from kubetwin.api.quantity import cpu_milli
from kubetwin.api.selectors import DOUBLE_EQUALS, EQUALS, IN, LabelSelector

if TYPE_CHECKING:
    from kubetwin.client.informer import Informer
    from kubetwin.sim import EventLoop

#: metrics-server's default resolution (window of the reported usage)
DEFAULT_METRIC_WINDOW = 15.0


class PodMetric(NamedTuple):
    """metrics.PodMetric: one pod's value (milli-units), sample timestamp and window (seconds)."""

    value: int
    timestamp: float
    window: float


#: pod name -> PodMetric (metrics.PodMetricsInfo)
PodMetricsInfo = dict[str, PodMetric]


class MetricsUnavailable(Exception):
    """A metrics API could not answer; ``str(exc)`` is the reason."""


@runtime_checkable
class MetricsClient(Protocol):
    def get_resource_metric(
        self, resource: str, namespace: str, selector: LabelSelector, container: str | None = None
    ) -> tuple[PodMetricsInfo, float]:
        """Per-pod usage of ``resource`` (cpu in milli-cores, memory in milli-bytes), summed over
        the pod's containers or only ``container``; and the timestamp of the sample."""
        ...

    def get_raw_metric(
        self, metric_name: str, namespace: str, selector: LabelSelector, metric_selector: LabelSelector
    ) -> tuple[PodMetricsInfo, float]:
        """A custom per-pod metric (custom.metrics.k8s.io, pods/*) for the selected pods."""
        ...

    def get_object_metric(
        self, metric_name: str, namespace: str, object_ref: dict[str, Any], metric_selector: LabelSelector
    ) -> tuple[int, float]:
        """A custom metric describing one object (custom.metrics.k8s.io, <resource>/<name>)."""
        ...

    def get_external_metric(
        self, metric_name: str, namespace: str, selector: LabelSelector
    ) -> tuple[list[int], float]:
        """Every series of an external metric matching ``selector`` (external.metrics.k8s.io)."""
        ...


#: one metric of many pods at once: (the pod has a value, the value in milli-units)
PodValues = tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]


class PodSamples(Protocol):
    """The metrics of a fixed list of pods (by uid) at one instant, as arrays aligned with that
    list: what ``get_resource_metric`` / ``get_raw_metric`` would answer for the same pods, without
    building a PodMetric per pod. Every pod's value has the same ``timestamp`` and ``window``."""

    timestamp: float
    window: float

    def resource(self, resource: str) -> PodValues:
        """Usage of ``resource`` summed over each pod's containers; raises ``MetricsUnavailable``
        as ``get_resource_metric`` does (unknown resource, or no pod of the list has a value)."""
        ...

    def custom(self, metric: str, metric_selector: LabelSelector) -> PodValues | None:
        """A custom per-pod metric; None when it cannot be given as arrays (the caller asks
        ``get_raw_metric`` instead); raises ``MetricsUnavailable`` when no pod has a value."""
        ...


class RowKeys:
    """What each row of a controller's arrays stands for: a pod (its uid), or one container of a pod
    (uid and container name); a uid of None is a free row. Every change of a row is stamped with a
    counter (``clock``), so a metrics client that joins the rows with its own per-pod records keeps
    that join between calls and looks up again only the rows :meth:`changed_since` it last joined.
    Several clients may join the same rows (each keeps its own clock)."""

    __slots__ = ("uids", "containers", "clock", "_stamps", "__weakref__")

    def __init__(self) -> None:
        self.uids: list[str | None] = []  # row -> pod uid (None: free)
        self.containers: list[str | None] = []  # row -> container name (None: the whole pod)
        self.clock = 0
        self._stamps = np.zeros(64, dtype=np.int64)  # row -> clock of its last change

    def __len__(self) -> int:
        return len(self.uids)

    def _stamp(self, rows: slice | int) -> None:
        self.clock += 1
        self._stamps[rows] = self.clock

    def set(self, row: int, uid: str | None, container: str | None = None) -> None:
        """Row ``row`` now stands for ``uid`` (and ``container``); ``row == len(self)`` appends it."""
        if row == len(self.uids):
            self.uids.append(uid)
            self.containers.append(container)
            if row == len(self._stamps):
                self._stamps = np.concatenate([self._stamps, np.zeros(row, dtype=np.int64)])
        elif self.uids[row] == uid and self.containers[row] == container:
            return
        else:
            self.uids[row] = uid
            self.containers[row] = container
        self._stamp(row)

    def replace(self, uids: list[str | None], containers: list[str | None]) -> None:
        """Every row at once (the rows were renumbered): all of them count as changed."""
        if len(uids) != len(containers):
            raise ValueError("uids and containers differ in length")
        self.uids, self.containers = list(uids), list(containers)
        if len(uids) > len(self._stamps):
            self._stamps = np.zeros(2 * len(uids), dtype=np.int64)
        self._stamp(slice(0, len(uids)))

    def changed_since(self, clock: int) -> npt.NDArray[np.int64]:
        """The rows (ascending) set or replaced after the change stamped ``clock``."""
        return np.flatnonzero(self._stamps[: len(self.uids)] > clock)


@runtime_checkable
class PodSamplesClient(Protocol):
    """Optional for a MetricsClient: the metrics of many pods as arrays (a controller that keeps its
    pods as rows joins them by uid instead of by a dict per pod)."""

    def pod_samples(self, rows: RowKeys) -> PodSamples | None:
        """Samples for the pods of ``rows`` (a free row never has a value; container names are
        ignored); None: not available now."""
        ...


#: pod name -> container name -> (cpu millicores, memory working-set bytes)
ContainerUsage = dict[str, dict[str, tuple[int, int]]]


@runtime_checkable
class ContainerMetricsClient(Protocol):
    """Per-container usage (metrics.k8s.io PodMetrics containers[]), what the VPA recommender reads
    (vertical-pod-autoscaler pkg/recommender/input/metrics: GetContainersMetrics). Optional: a
    MetricsClient without it gives the recommender no samples."""

    def get_container_usage(self, namespace: str, selector: LabelSelector) -> ContainerUsage:
        """Usage of every container of the Running pods of ``namespace`` matching ``selector``."""
        ...


#: pod informer index: "<namespace>/<key>=<value>" for every label of the pod
LABEL_INDEX = "metrics:label"


def _label_index(pod: dict[str, Any]) -> list[str]:
    meta = pod["metadata"]
    ns = meta.get("namespace", "")
    return [f"{ns}/{k}={v}" for k, v in (meta.get("labels") or {}).items()]


def select_pods(pods: Informer, namespace: str, selector: LabelSelector) -> list[dict[str, Any]]:
    """The pods of ``namespace`` matching ``selector``, looked up through a label index (the
    smallest bucket among the selector's equality requirements) instead of a namespace scan."""
    if selector.nothing:
        return []
    best: list[dict[str, Any]] | None = None
    for req in selector.requirements:
        if req.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(req.values) == 1:
            try:
                bucket = pods.by_index(LABEL_INDEX, f"{namespace}/{req.key}={req.values[0]}")
            except KeyError:
                pods.add_index(LABEL_INDEX, _label_index, changes=pod_changes, bits=pc.LABELS)
                bucket = pods.by_index(LABEL_INDEX, f"{namespace}/{req.key}={req.values[0]}")
            if best is None or len(bucket) < len(best):
                best = bucket
    candidates = best if best is not None else pods.list(namespace)
    if len(selector.requirements) == 1 and best is not None:  # one key=value (matchLabels {app: web})
        key, value = selector.requirements[0].key, selector.requirements[0].values[0]
        return [p for p in candidates if (p["metadata"].get("labels") or {}).get(key) == value]
    return [p for p in candidates if selector.matches(p["metadata"].get("labels") or {})]


def _container_request_milli(container: dict[str, Any], resource: str) -> int | None:
    requests = (container.get("resources") or {}).get("requests") or {}
    if resource not in requests:
        return None
    return cpu_milli(requests[resource])


class RequestsMetricsClient:
    """Resource metrics where every Running pod uses exactly its requests.

    Containers without a request for the resource report 0 (as an idle container would). Custom,
    object and external metrics are not available from this client.
    """

    def __init__(self, pods: Informer, clock: EventLoop, window: float = DEFAULT_METRIC_WINDOW) -> None:
        self.pods = pods
        self.clock = clock
        self.window = window

    def get_resource_metric(
        self, resource: str, namespace: str, selector: LabelSelector, container: str | None = None
    ) -> tuple[PodMetricsInfo, float]:
        now = self.clock.now
        out: PodMetricsInfo = {}
        for pod in select_pods(self.pods, namespace, selector):
            if (pod.get("status") or {}).get("phase") != "Running":
                continue
            spec = pod.get("spec") or {}
            containers = list(spec.get("containers") or [])
            containers += [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
            total = 0
            found = False
            for c in containers:
                if container and c.get("name") != container:
                    continue
                found = True
                total += _container_request_milli(c, resource) or 0
            if container and not found:
                continue
            out[pod["metadata"]["name"]] = PodMetric(total, now, self.window)
        if not out:
            raise MetricsUnavailable("no metrics returned from resource metrics API")
        return out, now

    def get_container_usage(self, namespace: str, selector: LabelSelector) -> ContainerUsage:
        out: ContainerUsage = {}
        for pod in select_pods(self.pods, namespace, selector):
            if (pod.get("status") or {}).get("phase") != "Running":
                continue
            usage = {}
            for c in (pod.get("spec") or {}).get("containers") or []:
                cpu = _container_request_milli(c, "cpu") or 0
                mem = _container_request_milli(c, "memory") or 0
                usage[c.get("name", "")] = (cpu, mem // 1000)
            out[pod["metadata"]["name"]] = usage
        return out

    def get_raw_metric(
        self, metric_name: str, namespace: str, selector: LabelSelector, metric_selector: LabelSelector
    ) -> tuple[PodMetricsInfo, float]:
        raise MetricsUnavailable(f'no custom metrics API serves the metric "{metric_name}"')

    def get_object_metric(
        self, metric_name: str, namespace: str, object_ref: dict[str, Any], metric_selector: LabelSelector
    ) -> tuple[int, float]:
        raise MetricsUnavailable(f'no custom metrics API serves the metric "{metric_name}"')

    def get_external_metric(
        self, metric_name: str, namespace: str, selector: LabelSelector
    ) -> tuple[list[int], float]:
        raise MetricsUnavailable(f'no external metrics API serves the metric "{metric_name}"')
