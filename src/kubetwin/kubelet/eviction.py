"""The kubelet's eviction manager (pkg/kubelet/eviction: eviction_manager.go, helpers.go,
api/types.go, defaults_linux.go; grace periods from pkg/kubelet/pod_workers.go).

One :class:`EvictionManager` per kubelet, driven by ``synchronize()`` every
``evictionMonitoringPeriod`` (10 s). KubeletManager calls it only for nodes the usage engine reports
in ``nodes_needing_attention()`` plus the nodes a manager is still tracking (a threshold met, a soft
grace period running, a pressure condition inside its transition period, an eviction waiting for
cleanup), so a quiet 1,000-node cluster costs nothing here.

Each synchronize, as upstream:

1. observe the signals from the engine's node/pod stats: ``memory.available`` (capacity - working
   set), ``allocatableMemory.available`` (the kubepods cgroup: capacity - kube/systemReserved -
   pods' working set; a copy of the hard ``memory.available`` threshold when
   enforceNodeAllocatable has ``pods``), ``nodefs.available`` / ``nodefs.inodesFree``,
   ``imagefs.available`` / ``imagefs.inodesFree`` (one filesystem: same observation as nodefs),
   ``pid.available`` (max pids - pids in use);
2. thresholds met (``threshold > available``; percentages of the observed capacity, float32 as the
   kubelet parses them), plus thresholds met before that have not yet reclaimed ``minReclaim``;
3. first-observed times; node conditions (MemoryPressure / DiskPressure / PIDPressure) reported
   while observed within ``evictionPressureTransitionPeriod`` (5 m) -- set before any grace period,
   so a soft threshold raises the condition at once. The kubelet writes the condition; the node
   lifecycle controller adds the ``node.kubernetes.io/*-pressure:NoSchedule`` taint
   (TaintNodesByCondition), as in a real cluster;
4. thresholds whose grace period elapsed (hard = grace 0) and whose stats were refreshed since the
   last synchronize; memory first; ``EvictionThresholdMet`` Warning event "Attempting to reclaim
   <resource>" on the node;
5. rank the active pods (memory: usage above requests first, then lower priority, then usage minus
   request; disk: the same with ephemeral-storage/inodes; pids: priority then process count; pods
   without stats first) and evict the first pod that is not critical (static, mirror, priority >=
   2000000000): at most one per synchronize. Grace: 1 s for a hard threshold; for a soft one
   ``evictionMaxPodGracePeriod``, never more than the pod's terminationGracePeriodSeconds (the
   documented rule; pod_workers.go lets the override win), and at least 1 s.
6. after an eviction, wait for the pod's cleanup (poll 1 s, up to 30 s) and synchronize again at
   once, as the upstream loop does.

The message, event annotations and status are upstream's: ``The node was low on resource: memory.
Threshold quantity: 100Mi, available: 88Mi. Container web was using 612Mi, request is 256Mi, has
larger consumption of memory. `` (with the kubelet's trailing space), annotations
``offending_containers``, ``offending_containers_usage``, ``starved_resource``.

Not modelled: node-level reclaim (image/container GC) before disk evictions, local-storage limit
evictions (emptyDir sizeLimit, ephemeral-storage limits), the memcg notifier.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from kubetwin.api.kubeletconfig import (
    DEFAULT_EVICTION_PRESSURE_TRANSITION_PERIOD,
    KubeletConfig,
    Threshold,
    parse_kubelet_config,
)
from kubetwin.api.kubeletconfig import (
    EVICTION_MONITORING_PERIOD as EVICTION_MONITORING_PERIOD,
)
from kubetwin.api.quantity import BINARY_SI, DECIMAL_SI, Quantity, format_bytes, parse_quantity, to_int
from kubetwin.api.resources import pod_priority, pod_qos, pod_requests, qos_class, tolerates
from kubetwin.sim import Handle

if TYPE_CHECKING:
    from kubetwin.kubelet.kubelet import Kubelet

Obj = dict[str, Any]

ANN_KUBELET_CONFIG = "kubetwin.io/kubelet-config"

IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS = 1
POD_CLEANUP_TIMEOUT = 30.0
POD_CLEANUP_POLL_FREQ = 1.0
SYSTEM_CRITICAL_PRIORITY = 2_000_000_000
DEFAULT_TERMINATION_GRACE_PERIOD = 30

REASON = "Evicted"
NODE_LOW_MESSAGE_FMT = "The node was low on resource: {}. "
NODE_CONDITION_MESSAGE_FMT = "The node had condition: {}. "
THRESHOLD_MET_MESSAGE_FMT = "Threshold quantity: {}, available: {}. "
CONTAINER_MESSAGE_FMT = "Container {} was using {}, request is {}, has larger consumption of {}. "
OFFENDING_CONTAINERS_KEY = "offending_containers"
OFFENDING_CONTAINERS_USAGE_KEY = "offending_containers_usage"
STARVED_RESOURCE_KEY = "starved_resource"
DISRUPTION_REASON = "TerminationByKubelet"

MEMORY_AVAILABLE = "memory.available"
ALLOCATABLE_MEMORY_AVAILABLE = "allocatableMemory.available"
NODEFS_AVAILABLE = "nodefs.available"
NODEFS_INODES_FREE = "nodefs.inodesFree"
IMAGEFS_AVAILABLE = "imagefs.available"
IMAGEFS_INODES_FREE = "imagefs.inodesFree"
PID_AVAILABLE = "pid.available"

MEMORY_PRESSURE = "MemoryPressure"
DISK_PRESSURE = "DiskPressure"
PID_PRESSURE = "PIDPressure"
PRESSURE_CONDITIONS = (MEMORY_PRESSURE, DISK_PRESSURE, PID_PRESSURE)
TAINT_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"

SIGNAL_TO_CONDITION = {
    MEMORY_AVAILABLE: MEMORY_PRESSURE,
    ALLOCATABLE_MEMORY_AVAILABLE: MEMORY_PRESSURE,
    NODEFS_AVAILABLE: DISK_PRESSURE,
    NODEFS_INODES_FREE: DISK_PRESSURE,
    IMAGEFS_AVAILABLE: DISK_PRESSURE,
    IMAGEFS_INODES_FREE: DISK_PRESSURE,
    PID_AVAILABLE: PID_PRESSURE,
}
SIGNAL_TO_RESOURCE = {
    MEMORY_AVAILABLE: "memory",
    ALLOCATABLE_MEMORY_AVAILABLE: "memory",
    NODEFS_AVAILABLE: "ephemeral-storage",
    NODEFS_INODES_FREE: "inodes",
    IMAGEFS_AVAILABLE: "ephemeral-storage",
    IMAGEFS_INODES_FREE: "inodes",
    PID_AVAILABLE: "pids",
}
_DECIMAL_SIGNALS = {NODEFS_INODES_FREE, IMAGEFS_INODES_FREE, PID_AVAILABLE}


# -- thresholds: parsed by kubetwin.api.kubeletconfig (helpers.go ParseThresholdConfig) ----------
def _by_signal(thresholds: Iterable[Threshold]) -> list[Threshold]:
    return sorted(thresholds, key=lambda t: t.signal)


@dataclass(frozen=True)
class EvictionConfig:
    """What the eviction manager needs from a :class:`~kubetwin.api.kubeletconfig.KubeletConfig`.

    ``thresholds``: hard (by signal), soft (by signal), then the ``allocatableMemory.available``
    copies of the hard memory threshold; ``quantity_texts``: the configured quantity of each
    absolute threshold, canonical in its own format, as the eviction message prints it.
    """

    thresholds: tuple[Threshold, ...]
    pressure_transition_period: float = DEFAULT_EVICTION_PRESSURE_TRANSITION_PERIOD
    max_pod_grace_period: int = 0
    reserved_memory: int = 0  # kubeReserved + systemReserved memory (the kubepods cgroup limit)
    quantity_texts: Mapping[Threshold, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_kubelet_config(cls, cfg: Mapping[str, Any] | None) -> EvictionConfig:
        """From KubeletConfiguration fields (upstream names) via :func:`parse_kubelet_config`;
        missing fields take upstream defaults. Raises KubeletConfigError (a ValueError) naming
        the field for a config the kubelet would refuse."""
        return cls.from_config(parse_kubelet_config(dict(cfg or {})))

    @classmethod
    def from_config(cls, cfg: KubeletConfig) -> EvictionConfig:
        hard, soft = cfg.hard_thresholds, cfg.soft_thresholds
        copies = cfg.thresholds[len(hard) + len(soft) :]
        thresholds = (*_by_signal(hard), *_by_signal(soft), *copies)
        texts: dict[Threshold, str] = {}
        for group, source in ((hard, cfg.eviction_hard), (soft, cfg.eviction_soft), (copies, None)):
            for th in group:
                if th.value.quantity is not None:
                    text = cfg.eviction_hard[MEMORY_AVAILABLE] if source is None else source[th.signal]
                    texts[th] = parse_quantity(str(text)).canonical()
        reserved = sum(to_int(r["memory"]) for r in (cfg.kube_reserved, cfg.system_reserved) if "memory" in r)
        return cls(
            thresholds=thresholds,
            pressure_transition_period=cfg.eviction_pressure_transition_period,
            max_pod_grace_period=cfg.eviction_max_pod_grace_period,
            reserved_memory=reserved,
            quantity_texts=texts,
        )

    @classmethod
    def for_node(cls, node: Obj | None) -> EvictionConfig:
        """From the node's ``kubetwin.io/kubelet-config`` annotation (upstream defaults without one)."""
        raw = (((node or {}).get("metadata") or {}).get("annotations") or {}).get(ANN_KUBELET_CONFIG)
        return _config_from_annotation(raw)


@functools.lru_cache(maxsize=256)
def _config_from_annotation(raw: str | None) -> EvictionConfig:
    if not raw:
        return EvictionConfig.from_kubelet_config(None)
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return EvictionConfig.from_kubelet_config(None)
    return EvictionConfig.from_kubelet_config(data)


def threshold_text(
    th: Threshold, capacity: int, quantity_texts: Mapping[Threshold, str] | None = None
) -> str:
    """The threshold as the eviction message prints it: an absolute one as configured (canonical),
    a percentage as ``resource.NewQuantity(GetThresholdQuantity(...), BinarySI)``."""
    if th.value.quantity is not None and quantity_texts and th in quantity_texts:
        return quantity_texts[th]
    return format_bytes(th.quantity(capacity))


# -- the engine's read API (implemented by kubelet.usage.UsageEngine) ---------------------------
class _ContainerStats(Protocol):
    name: str
    memory_working_set_bytes: int


class _PodStats(Protocol):
    uid: str
    memory_working_set_bytes: int
    ephemeral_storage_bytes: int
    pids: int
    containers: list[Any]


class StatsEngine(Protocol):
    def node_stats(self, node: str) -> Any: ...

    def pod_stats(self, node: str) -> list[Any]: ...

    def nodes_needing_attention(self) -> set[str]: ...


@dataclass(frozen=True)
class Observation:
    available: int
    capacity: int
    time: float | None = None


def make_observations(
    node_stats: Any, pod_stats: Iterable[Any], cfg: EvictionConfig
) -> dict[str, Observation]:
    """makeSignalObservations over the engine's NodeStats/PodStats."""
    t = getattr(node_stats, "time", None)
    out: dict[str, Observation] = {}
    avail = int(node_stats.memory_available_bytes)
    ws = int(node_stats.memory_working_set_bytes)
    out[MEMORY_AVAILABLE] = Observation(avail, avail + ws, t)
    if getattr(node_stats, "allocatable_memory_capacity_bytes", 0):  # the engine's kubepods cgroup
        pods_ws = int(node_stats.pods_memory_working_set_bytes)
        pods_avail = int(node_stats.allocatable_memory_available_bytes)
    else:
        pods_ws = sum(int(p.memory_working_set_bytes) for p in pod_stats)
        pods_avail = max(0, int(node_stats.memory_capacity_bytes) - cfg.reserved_memory - pods_ws)
    out[ALLOCATABLE_MEMORY_AVAILABLE] = Observation(pods_avail, pods_avail + pods_ws, t)
    fs_cap = getattr(node_stats, "nodefs_capacity_bytes", None)
    fs_avail = getattr(node_stats, "nodefs_available_bytes", None)
    if fs_cap and fs_avail is not None:
        out[NODEFS_AVAILABLE] = out[IMAGEFS_AVAILABLE] = Observation(int(fs_avail), int(fs_cap), t)
    inodes = getattr(node_stats, "nodefs_inodes", None)
    inodes_free = getattr(node_stats, "nodefs_inodes_free", None)
    if inodes and inodes_free is not None:
        out[NODEFS_INODES_FREE] = out[IMAGEFS_INODES_FREE] = Observation(int(inodes_free), int(inodes), t)
    pid_cap = getattr(node_stats, "pid_capacity", None)
    if pid_cap:
        out[PID_AVAILABLE] = Observation(int(pid_cap) - int(node_stats.pids_in_use), int(pid_cap), t)
    return out


def thresholds_met(
    thresholds: Iterable[Threshold], observations: Mapping[str, Observation], enforce_min_reclaim: bool
) -> list[Threshold]:
    out = []
    for th in thresholds:
        obs = observations.get(th.signal)
        if obs is None:
            continue
        quantity = th.quantity(obs.capacity)
        if enforce_min_reclaim:
            quantity += th.min_reclaim_quantity(obs.capacity)
        if quantity > obs.available:
            out.append(th)
    return out


def _eviction_priority(th: Threshold) -> int:
    """byEvictionPriority: memory first, thresholds without a reclaimable resource last."""
    if th.signal in (MEMORY_AVAILABLE, ALLOCATABLE_MEMORY_AVAILABLE):
        return 0
    return 1 if th.signal in SIGNAL_TO_RESOURCE else 2


# -- critical pods (pkg/kubelet/types/pod_update.go) --------------------------------------------
def is_static_pod(pod: Obj) -> bool:
    src = ((pod.get("metadata") or {}).get("annotations") or {}).get("kubernetes.io/config.source")
    return src is not None and src != "api"


def is_mirror_pod(pod: Obj) -> bool:
    return "kubernetes.io/config.mirror" in (((pod.get("metadata") or {}).get("annotations")) or {})


def is_critical_pod(pod: Obj) -> bool:
    if is_static_pod(pod) or is_mirror_pod(pod):
        return True
    prio = (pod.get("spec") or {}).get("priority")
    return isinstance(prio, int) and prio >= SYSTEM_CRITICAL_PRIORITY


# -- ranking (helpers.go) -----------------------------------------------------------------------
StatsFunc = Callable[[Obj], Any]
CmpFunc = Callable[[Obj, Obj], int]


def _cmp_bool(a: bool, b: bool) -> int:
    """true first."""
    if a == b:
        return 0
    return -1 if a else 1


def _uid(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("uid", ""))


def _priority(p1: Obj, p2: Obj) -> int:
    a, b = pod_priority(p1), pod_priority(p2)
    return (a > b) - (a < b)


def _exceeds(stats: StatsFunc, usage: Callable[[Any], int], resource: str) -> CmpFunc:
    def cmp(p1: Obj, p2: Obj) -> int:
        s1, s2 = stats(p1), stats(p2)
        if s1 is None or s2 is None:
            return _cmp_bool(s1 is None, s2 is None)
        e1 = usage(s1) > pod_requests(p1).get(resource, 0)
        e2 = usage(s2) > pod_requests(p2).get(resource, 0)
        return _cmp_bool(e1, e2)

    return cmp


def _above_request(stats: StatsFunc, usage: Callable[[Any], int], resource: str) -> CmpFunc:
    def cmp(p1: Obj, p2: Obj) -> int:
        s1, s2 = stats(p1), stats(p2)
        if s1 is None or s2 is None:
            return _cmp_bool(s1 is None, s2 is None)
        a = usage(s1) - pod_requests(p1).get(resource, 0)
        b = usage(s2) - pod_requests(p2).get(resource, 0)
        return (b > a) - (b < a)  # larger consumption first

    return cmp


def _process(stats: StatsFunc) -> CmpFunc:
    def cmp(p1: Obj, p2: Obj) -> int:
        s1, s2 = stats(p1), stats(p2)
        if s1 is None or s2 is None:
            return _cmp_bool(s1 is None, s2 is None)
        a, b = int(getattr(s1, "pids", 0)), int(getattr(s2, "pids", 0))
        return (b > a) - (b < a)

    return cmp


def _ordered_by(pods: list[Obj], *cmps: CmpFunc) -> list[Obj]:
    def key_cmp(p1: Obj, p2: Obj) -> int:
        for c in cmps:
            r = c(p1, p2)
            if r:
                return r
        return 0

    return sorted(pods, key=functools.cmp_to_key(key_cmp))


def _memory_usage(s: Any) -> int:
    return int(s.memory_working_set_bytes)


def _disk_usage(s: Any) -> int:
    return int(getattr(s, "ephemeral_storage_bytes", 0))


def _inode_usage(s: Any) -> int:
    return int(getattr(s, "inodes", 0))


def rank_memory_pressure(pods: list[Obj], stats: StatsFunc) -> list[Obj]:
    """Usage above requests first, then lower priority, then larger usage minus request."""
    return _ordered_by(pods, _exceeds(stats, _memory_usage, "memory"), _priority,
                       _above_request(stats, _memory_usage, "memory"))  # fmt: skip


def rank_pid_pressure(pods: list[Obj], stats: StatsFunc) -> list[Obj]:
    return _ordered_by(pods, _priority, _process(stats))


def rank_disk_pressure(pods: list[Obj], stats: StatsFunc, resource: str = "ephemeral-storage") -> list[Obj]:
    usage = _disk_usage if resource == "ephemeral-storage" else _inode_usage
    return _ordered_by(pods, _exceeds(stats, usage, resource), _priority,
                       _above_request(stats, usage, "ephemeral-storage"))  # fmt: skip


def rank(signal: str, pods: list[Obj], stats: StatsFunc) -> list[Obj]:
    resource = SIGNAL_TO_RESOURCE[signal]
    if resource == "memory":
        return rank_memory_pressure(pods, stats)
    if resource == "pids":
        return rank_pid_pressure(pods, stats)
    return rank_disk_pressure(pods, stats, resource)


# -- messages -----------------------------------------------------------------------------------
def _request_text(container: Obj, resource: str) -> str:
    q = ((container.get("resources") or {}).get("requests") or {}).get(resource)
    if q is None:
        return "0"
    return parse_quantity(q).canonical()


def _request_value(container: Obj, resource: str) -> int:
    q = ((container.get("resources") or {}).get("requests") or {}).get(resource)
    return 0 if q is None else to_int(q)


def format_available(signal: str, n: int) -> str:
    fmt = DECIMAL_SI if signal in _DECIMAL_SIGNALS else BINARY_SI
    return Quantity.from_int(n, fmt).canonical()


def eviction_message(
    resource: str,
    pod: Obj,
    stats: Any,
    thresholds: Iterable[Threshold],
    observations: Mapping[str, Observation],
    quantity_texts: Mapping[Threshold, str] | None = None,
) -> tuple[str, dict[str, str]]:
    """evictionMessage: the status/event message and the event annotations (``quantity_texts``:
    EvictionConfig.quantity_texts, the configured absolute thresholds as printed)."""
    message = NODE_LOW_MESSAGE_FMT.format(resource)
    for th in thresholds:
        if SIGNAL_TO_RESOURCE.get(th.signal) == resource and th.signal in observations:
            obs = observations[th.signal]
            message += THRESHOLD_MET_MESSAGE_FMT.format(threshold_text(th, obs.capacity, quantity_texts),
                                                        format_available(th.signal, obs.available))  # fmt: skip
            break
    annotations: dict[str, str] = {}
    if stats is None:
        return message, annotations
    spec = pod.get("spec") or {}
    containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    by_name = {c.get("name"): c for c in containers}
    exceeded: list[str] = []
    usages: list[str] = []
    for cs in getattr(stats, "containers", None) or []:
        c = by_name.get(cs.name)
        if c is None:
            continue
        usage: int | None = None
        if resource == "memory":
            usage = int(cs.memory_working_set_bytes)
        elif resource == "ephemeral-storage":
            eph = getattr(cs, "ephemeral_storage_bytes", None)
            usage = None if eph is None else int(eph)
        if usage is not None and usage > _request_value(c, resource):
            text = format_bytes(usage)
            message += CONTAINER_MESSAGE_FMT.format(c["name"], text, _request_text(c, resource), resource)
            exceeded.append(c["name"])
            usages.append(text)
    annotations[OFFENDING_CONTAINERS_KEY] = ",".join(exceeded)
    annotations[OFFENDING_CONTAINERS_USAGE_KEY] = ",".join(usages)
    annotations[STARVED_RESOURCE_KEY] = resource
    return message, annotations


def eviction_grace_period(threshold: Threshold, pod: Obj, max_pod_grace_period: int) -> int:
    """The grace period the pod gets (immediateEvictionGracePeriodSeconds for hard thresholds)."""
    if threshold.hard:
        return IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS
    spec_grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    pod_grace = DEFAULT_TERMINATION_GRACE_PERIOD if spec_grace is None else int(spec_grace)
    return max(1, min(pod_grace, max_pod_grace_period))


# -- the manager --------------------------------------------------------------------------------
@dataclass
class Eviction:
    """One pod the manager evicted (for the recorder/report and tests)."""

    time: float
    node: str
    namespace: str
    name: str
    uid: str
    qos: str
    signal: str
    resource: str
    message: str
    grace_seconds: int


class EvictionManager:
    """managerImpl for one kubelet; ``synchronize()`` is its control loop body."""

    def __init__(self, kubelet: Kubelet, config: EvictionConfig, engine: StatsEngine) -> None:
        self.kubelet = kubelet
        self.config = config
        self.engine = engine
        self.loop = kubelet.loop
        self.node_conditions: list[str] = []
        self.conditions_last_observed: dict[str, float] = {}
        self.thresholds_first_observed: dict[Threshold, float] = {}
        self.thresholds_met: list[Threshold] = []
        self.last_observations: dict[str, Observation] = {}
        self.evictions: list[Eviction] = []
        self.waiting: Handle | None = None
        self.synchronizations = 0

    # -- state ------------------------------------------------------------------------------
    @property
    def tracking(self) -> bool:
        """Anything still to watch: a threshold met, a condition in its transition period, a wait."""
        return bool(self.thresholds_first_observed or self.conditions_last_observed or self.waiting)

    def under(self, condition: str) -> bool:
        return condition in self.node_conditions

    def admit(self, pod: Obj) -> tuple[str, str] | None:
        """The eviction admit handler: (reason, message) to reject ``pod``, or None."""
        if not self.node_conditions or is_critical_pod(pod):
            return None
        if self.node_conditions == [MEMORY_PRESSURE]:
            if qos_class(pod) != "BestEffort":
                return None
            taint = {"key": TAINT_MEMORY_PRESSURE, "effect": "NoSchedule"}
            if tolerates((pod.get("spec") or {}).get("tolerations") or [], taint):
                return None
        return REASON, NODE_CONDITION_MESSAGE_FMT.format("[" + " ".join(self.node_conditions) + "]")

    # -- control loop -----------------------------------------------------------------------
    def synchronize(self) -> Eviction | None:
        if self.waiting is not None or not self.kubelet.running:
            return None
        self.synchronizations += 1
        thresholds = self.config.thresholds
        if not thresholds:
            return None
        node_stats = self.engine.node_stats(self.kubelet.name)
        if node_stats is None:
            return None
        pod_stats = list(self.engine.pod_stats(self.kubelet.name))
        observations = make_observations(node_stats, pod_stats, self.config)
        now = self.loop.now

        met = thresholds_met(thresholds, observations, False)
        if self.thresholds_met:
            for th in thresholds_met(self.thresholds_met, observations, True):
                if th not in met:
                    met.append(th)
        first = {th: self.thresholds_first_observed.get(th, now) for th in met}
        observed_conditions: list[str] = []
        for th in met:
            cond = SIGNAL_TO_CONDITION.get(th.signal)
            if cond and cond not in observed_conditions:
                observed_conditions.append(cond)
        last = dict(self.conditions_last_observed)
        for cond in observed_conditions:
            last[cond] = now
        period = self.config.pressure_transition_period
        last = {c: at for c, at in last.items() if now - at < period}
        conditions = [c for c in PRESSURE_CONDITIONS if c in last]
        active = [th for th, at in first.items() if now - at >= th.grace_period]

        self.node_conditions = conditions
        self.thresholds_first_observed = first
        self.conditions_last_observed = last
        self.thresholds_met = active
        updated = [th for th in active if self._stats_updated(th, observations)]
        self.last_observations = observations
        for cond in PRESSURE_CONDITIONS:
            self.kubelet.set_pressure(cond, cond in conditions)

        if not updated:
            return None
        updated.sort(key=_eviction_priority)
        to_reclaim = next((th for th in updated if th.signal in SIGNAL_TO_RESOURCE), None)
        if to_reclaim is None:
            return None
        resource = SIGNAL_TO_RESOURCE[to_reclaim.signal]
        self.kubelet.recorder.warning(
            self._node_ref(), "EvictionThresholdMet", f"Attempting to reclaim {resource}"
        )
        pods = self.kubelet.active_pods()
        if not pods:
            return None
        by_uid = {str(s.uid): s for s in pod_stats}

        def stats(pod: Obj) -> Any:
            return by_uid.get(_uid(pod))

        for pod in rank(to_reclaim.signal, pods, stats):
            if is_critical_pod(pod):
                continue  # "Eviction manager: cannot evict a critical pod"
            grace = eviction_grace_period(to_reclaim, pod, self.config.max_pod_grace_period)
            message, annotations = eviction_message(
                resource, pod, stats(pod), updated, observations, self.config.quantity_texts
            )
            if not self.kubelet.evict_pod(_uid(pod), message, grace, annotations):
                continue
            m = pod["metadata"]
            ev = Eviction(now, self.kubelet.name, m.get("namespace", ""), m["name"], _uid(pod),
                          pod_qos(pod), to_reclaim.signal,
                          resource, message, grace)  # fmt: skip
            self.evictions.append(ev)
            self._wait_for_cleanup(_uid(pod), now + POD_CLEANUP_TIMEOUT)
            return ev
        return None

    def _stats_updated(self, th: Threshold, observations: Mapping[str, Observation]) -> bool:
        """thresholdsUpdatedStats."""
        obs = observations.get(th.signal)
        if obs is None:
            return False
        last = self.last_observations.get(th.signal)
        return last is None or obs.time is None or last.time is None or obs.time > last.time

    def _wait_for_cleanup(self, uid: str, deadline: float) -> None:
        def poll() -> None:
            self.waiting = None
            if self.kubelet.pod_cleaned_up(uid) or self.loop.now >= deadline:
                # Synchronize again at once, as upstream -- when the stats say when they were taken;
                # otherwise the next periodic synchronize (after the engine's tick) looks again, so
                # nobody is evicted on stats from before the last eviction.
                if any(o.time is not None for o in self.last_observations.values()):
                    self.synchronize()
            else:
                self._wait_for_cleanup(uid, deadline)

        self.waiting = self.loop.call_later(
            POD_CLEANUP_POLL_FREQ, poll, 31, f"kubelet:{self.kubelet.name}:eviction"
        )

    def stop(self) -> None:
        if self.waiting is not None:
            self.waiting.cancel()
            self.waiting = None

    def _node_ref(self) -> Obj:
        name = self.kubelet.name
        return {"kind": "Node", "metadata": {"name": name, "uid": name}}
