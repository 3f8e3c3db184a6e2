"""The scheduling framework: status codes, cycle state, node/pod info, plugin contract, profile.

Reproduces pkg/scheduler/framework/interface.go (Code, Status, extension points),
pkg/scheduler/framework/cycle_state.go, pkg/scheduler/framework/types.go (NodeInfo, PodInfo) and
pkg/scheduler/apis/config/v1/default_plugins.go (default profile, score weights).

Plugins implement the extension points they need (``pre_filter``, ``filter``, ``pre_score``,
``score``, ``normalize_score``, ``reserve``, ``bind``, ``post_filter``, ``less``). Hot plugins also
implement vectorised variants over every node slot of the snapshot (DESIGN.md principle 5):
``filter_all(state, pod, snapshot) -> list[(fail_mask, Status)]`` and
``score_all(state, pod, slots) -> int64 array``. Both paths give the same answers; the per-node
path is used for preemption dry runs and by the property tests.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

import numpy as np

from kubetwin.api import resources
from kubetwin.scheduler import helpers

if TYPE_CHECKING:
    from kubetwin.scheduler.cache import Snapshot
    from kubetwin.scheduler.hints import Registration

Obj = dict[str, Any]

MAX_SCORE = 100
MIN_SCORE = 0


class Code(IntEnum):
    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5


# the members as module constants: reading one off the enum class costs ~4x a comparison
_SUCCESS, _UNSCHEDULABLE, _UNRESOLVABLE, _SKIP = (
    Code.SUCCESS, Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE, Code.SKIP,
)  # fmt: skip

CODE_NAMES = {
    Code.SUCCESS: "Success",
    Code.ERROR: "Error",
    Code.UNSCHEDULABLE: "Unschedulable",
    Code.UNSCHEDULABLE_AND_UNRESOLVABLE: "UnschedulableAndUnresolvable",
    Code.WAIT: "Wait",
    Code.SKIP: "Skip",
}


class Status:
    """framework.Status: a code, human-readable reasons and the plugin that produced it."""

    __slots__ = ("code", "reasons", "plugin")

    def __init__(self, code: Code = Code.SUCCESS, *reasons: str, plugin: str = "") -> None:
        self.code = code
        self.reasons = list(reasons)
        self.plugin = plugin

    def is_success(self) -> bool:
        return self.code == _SUCCESS

    def is_skip(self) -> bool:
        return self.code == _SKIP

    def is_rejected(self) -> bool:
        return self.code == _UNSCHEDULABLE or self.code == _UNRESOLVABLE

    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, name: str) -> Status:
        if not self.plugin:
            self.plugin = name
        return self

    def __repr__(self) -> str:
        return f"Status({CODE_NAMES[self.code]}, {self.reasons!r}, plugin={self.plugin!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Status):
            return NotImplemented
        return self.code == other.code and self.reasons == other.reasons


def unschedulable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, *reasons)


def unresolvable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, *reasons)


SKIP = Status(Code.SKIP)


class NodeStatuses:
    """NodeToStatusMap of a failed cycle, built only when read per node: ``entries`` are
    (slot mask, Status) pairs from the vectorised filters, ``per_node`` single-node statuses that
    override them. A slot's status combines the entries covering it, in order (their reasons, the
    highest code); slots covered by the same entries share one Status (read-only)."""

    def __init__(self, entries: list[tuple[Any, Status]], per_node: dict[int, Status]) -> None:
        self.entries = entries
        self.per_node = per_node
        self._map: dict[int, Status] | None = None
        self._unresolvable: tuple[Any, Any] | None = None  # (slots array, answer) of the last call

    def get(self, slot: int) -> Status | None:
        return self.as_dict().get(slot)

    def as_dict(self) -> dict[int, Status]:
        if self._map is None:
            self._map = self._build()
        return self._map

    def unresolvable(self, slots: Any) -> Any:
        """A bool array over ``slots``: True where the status is UnschedulableAndUnresolvable
        (read-only; asked again with the same read-only array, the same answer)."""
        hit = self._unresolvable
        if hit is not None and hit[0] is slots:
            return hit[1]
        out = self._unresolvable_over(np.asarray(slots))
        if isinstance(slots, np.ndarray) and not slots.flags.writeable:
            out.flags.writeable = False
            self._unresolvable = (slots, out)
        return out

    def _unresolvable_over(self, slots: Any) -> Any:
        out = np.zeros(len(slots), dtype=bool)
        above = np.zeros(len(slots), dtype=bool)
        for mask, st in self.entries:
            covered = mask[slots] if len(mask) else np.zeros(len(slots), dtype=bool)
            if st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                out |= covered
            elif st.code > Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                above |= covered
        out &= ~above
        if self.per_node:
            index = {int(s): i for i, s in enumerate(slots.tolist())}
            for s, st in self.per_node.items():
                i = index.get(s)
                if i is not None:
                    out[i] = st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        return out

    def _build(self) -> dict[int, Status]:
        out: dict[int, Status] = {}
        if len(self.entries) == 1:
            mask, st = self.entries[0]
            one = Status(st.code, *st.reasons, plugin=st.plugin)
            out = dict.fromkeys(np.flatnonzero(mask).tolist(), one)
        elif self.entries:
            sig = np.zeros(len(self.entries[0][0]), dtype=np.int64)
            for i, (mask, _) in enumerate(self.entries):
                sig |= mask.astype(np.int64) << i
            shared: dict[int, Status] = {}
            for s, g in zip(np.flatnonzero(sig).tolist(), sig[sig != 0].tolist(), strict=True):
                combined = shared.get(g)
                if combined is None:
                    combined = shared[g] = _combine([st for i, (_, st) in enumerate(self.entries) if g >> i & 1])
                out[s] = combined
        out.update(self.per_node)
        return out


def _combine(statuses: list[Status]) -> Status:
    first = statuses[0]
    out = Status(first.code, *first.reasons, plugin=first.plugin)
    for st in statuses[1:]:
        out.reasons.extend(st.reasons)
        out.code = max(out.code, st.code)
    return out


class CycleState:
    """Per-cycle scratch space shared by the plugins of one scheduling attempt."""

    __slots__ = ("data", "skip_filter", "skip_score")

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.skip_filter: set[str] = set()
        self.skip_score: set[str] = set()

    def read(self, key: str) -> Any:
        return self.data.get(key)

    def write(self, key: str, value: Any) -> None:
        self.data[key] = value

    def clone(self) -> CycleState:
        c = CycleState()
        c.data = {k: (v.clone() if hasattr(v, "clone") else v) for k, v in self.data.items()}
        c.skip_filter = set(self.skip_filter)
        c.skip_score = set(self.skip_score)
        return c


def _ports(pod: Obj) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            hp = p.get("hostPort")
            if hp:
                out.append((p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", int(hp)))
    return out


_RESOURCE_PARTS_MAX = 8192
# id(spec["containers"]) -> (the spec parts resource figures read, (requests, nonzero, ports, best effort))
_by_resource_parts: dict[int, tuple[tuple[Any, ...], tuple[Any, ...]]] = {}
# a digest of spec["containers"] (_parts_bucket) -> [(the parts, figures)], compared by value
_by_equal_parts: dict[tuple[Any, ...], list[tuple[tuple[Any, ...], tuple[Any, ...]]]] = {}
_EQUAL_PARTS_PER_BUCKET = 8


def _resource_figures(pod: Obj, spec: Obj) -> tuple[Any, ...]:
    """(requests, non-zero requests, host ports, best effort): functions of the spec's containers,
    initContainers, overhead and resources only. Versions of one pod share those objects (the
    store keeps a spec's unchanged parts, e.g. a binding replaces nodeName only), and so do the
    PodInfos the scheduler and the cluster autoscaler build for them: the figures are computed
    once per set of parts (read-only). An entry holds its parts, so their ids stay theirs. Pods
    of one template hold equal copies of its parts: found by value, they share the figures too."""
    containers = spec.get("containers")
    init, overhead, pod_level = spec.get("initContainers"), spec.get("overhead"), spec.get("resources")
    hit = _by_resource_parts.get(id(containers))
    if hit is not None:
        parts = hit[0]
        if parts[0] is containers and parts[1] is init and parts[2] is overhead and parts[3] is pod_level:
            return hit[1]
    parts = (containers, init, overhead, pod_level)
    # Pods made from one template carry equal copies of its parts (not the same objects): their
    # figures are those of the first such pod's parts.
    bucket_key = _parts_bucket(containers)
    bucket = _by_equal_parts.get(bucket_key)
    if bucket is not None:
        for other, figures in bucket:
            if other == parts:
                _remember_parts(parts, figures)
                resources.remember_requests(pod, figures[0], figures[1])  # for its kubelet, once bound
                return figures
    figures = (
        resources.pod_requests(pod),
        resources.pod_nonzero_requests(pod),
        _ports(pod),
        resources.qos_class(pod) == resources.BEST_EFFORT,
    )
    _remember_parts(parts, figures)
    if bucket is None:
        if len(_by_equal_parts) >= _RESOURCE_PARTS_MAX:
            _by_equal_parts.clear()
        bucket = _by_equal_parts[bucket_key] = []
    elif len(bucket) >= _EQUAL_PARTS_PER_BUCKET:
        bucket.pop(0)
    bucket.append((parts, figures))
    return figures


def _remember_parts(parts: tuple[Any, ...], figures: tuple[Any, ...]) -> None:
    if parts[0] is not None:  # every spec without containers would share id(None)
        if len(_by_resource_parts) >= _RESOURCE_PARTS_MAX:
            _by_resource_parts.clear()
        _by_resource_parts[id(parts[0])] = (parts, figures)


def _parts_bucket(containers: Any) -> tuple[Any, ...]:
    """A cheap hashable digest of a containers list (equal lists, equal digests)."""
    if not containers:
        return ()
    c = containers[0]
    return (len(containers), c.get("name"), c.get("image")) if isinstance(c, dict) else (len(containers),)


class PodInfo:
    """A pod plus everything the scheduler derives from it once (types.go PodInfo). ``requests``
    and ``ports`` may be shared with other PodInfos (_resource_figures): read-only."""

    __slots__ = (
        "pod", "key", "uid", "namespace", "name", "labels", "priority", "requests", "nonzero",
        "ports", "affinity", "has_required_anti", "has_affinity", "start", "timestamp",
        "attempts", "unschedulable_plugins", "initial_attempt", "best_effort", "sig", "slot", "terms",
        "memo",
    )  # fmt: skip

    def __init__(self, pod: Obj) -> None:
        meta = pod["metadata"]
        spec = pod.get("spec") or {}
        self.pod = pod
        self.namespace: str = meta.get("namespace", "")
        self.name: str = meta["name"]
        self.key = f"{self.namespace}/{self.name}"
        self.uid: str = meta.get("uid", "")
        self.labels: dict[str, str] = meta.get("labels") or {}
        self.priority = resources.pod_priority(pod)
        self.requests, self.nonzero, self.ports, self.best_effort = _resource_figures(pod, spec)
        self.affinity: Obj = spec.get("affinity") or {}
        pa = self.affinity.get("podAffinity") or {}
        paa = self.affinity.get("podAntiAffinity") or {}
        self.has_required_anti = bool(paa.get("requiredDuringSchedulingIgnoredDuringExecution"))
        self.has_affinity = bool(pa or paa)
        self.start: str = (pod.get("status") or {}).get("startTime") or meta.get("creationTimestamp", "")
        self.timestamp = 0.0
        self.attempts = 0
        self.initial_attempt: float | None = None
        self.unschedulable_plugins: AbstractSet[str] = frozenset()  # hashable in the scheduler
        self.sig: tuple[Any, ...] | None = None
        self.slot = -1
        self.terms: Any = None  # InterPodAffinity's parsed terms (cache)
        # plugins' per-pod derived values: functions of the namespace, labels and spec only, or kept
        # with what else they read to be checked against it (a new dict when the spec or labels
        # change; pods of one class may share one: scheduler.PodClasses)
        self.memo: dict[str, Any] = {}

    def update(self, pod: Obj) -> None:
        """Refresh from a newer version of the same pod, keeping queue bookkeeping. A version that
        shares the old one's spec and labels (a status write: the store shares unchanged parts)
        keeps everything derived from them, plugins' memos included."""
        old = self.pod
        if pod.get("spec") is old.get("spec") and pod["metadata"].get("labels") is old["metadata"].get("labels"):
            self.pod = pod
            self.start = (pod.get("status") or {}).get("startTime") or pod["metadata"].get("creationTimestamp", "")
            return
        other = PodInfo(pod)
        for name in ("pod", "labels", "priority", "requests", "nonzero", "ports", "affinity",
                     "has_required_anti", "has_affinity", "start", "best_effort"):  # fmt: skip
            setattr(self, name, getattr(other, name))
        self.sig = None
        self.terms = None
        self.memo = {}

    def __repr__(self) -> str:
        return f"PodInfo({self.key})"


class NodeInfo:
    """Node-level aggregated information (types.go NodeInfo), as plain ints."""

    __slots__ = ("node", "name", "slot", "pods", "requested", "nonzero_cpu", "nonzero_mem",
                 "allocatable", "allowed_pods", "used_ports", "labels", "taints", "generation")  # fmt: skip

    def __init__(self, node: Obj, slot: int = -1) -> None:
        self.slot = slot
        self.pods: dict[str, PodInfo] = {}
        self.requested: dict[str, int] = {}
        self.nonzero_cpu = 0
        self.nonzero_mem = 0
        self.used_ports: dict[tuple[str, str, int], int] = {}
        self.generation = 0
        self.set_node(node)

    def set_node(self, node: Obj) -> None:
        self.node = node
        meta = node["metadata"]
        self.name: str = meta["name"]
        self.labels: dict[str, str] = meta.get("labels") or {}
        self.taints: list[Obj] = (node.get("spec") or {}).get("taints") or []
        self.allocatable = resources.resource_list((node.get("status") or {}).get("allocatable"))
        self.allowed_pods = self.allocatable.get(helpers.PODS, 0)
        self.generation += 1

    def add_pod(self, pi: PodInfo) -> None:
        self.pods[pi.key] = pi
        for k, v in pi.requests.items():
            self.requested[k] = self.requested.get(k, 0) + v
        self.nonzero_cpu += pi.nonzero[0]
        self.nonzero_mem += pi.nonzero[1]
        for p in pi.ports:
            self.used_ports[p] = self.used_ports.get(p, 0) + 1
        self.generation += 1

    def remove_pod(self, pi: PodInfo) -> bool:
        if self.pods.pop(pi.key, None) is None:
            return False
        for k, v in pi.requests.items():
            self.requested[k] = self.requested.get(k, 0) - v
        self.nonzero_cpu -= pi.nonzero[0]
        self.nonzero_mem -= pi.nonzero[1]
        for p in pi.ports:
            n = self.used_ports.get(p, 0) - 1
            if n > 0:
                self.used_ports[p] = n
            else:
                self.used_ports.pop(p, None)
        self.generation += 1
        return True

    def clone(self) -> NodeInfo:
        c = NodeInfo.__new__(NodeInfo)
        c.node, c.name, c.slot, c.labels, c.taints = self.node, self.name, self.slot, self.labels, self.taints
        c.pods = dict(self.pods)
        c.requested = dict(self.requested)
        c.nonzero_cpu, c.nonzero_mem = self.nonzero_cpu, self.nonzero_mem
        c.allocatable, c.allowed_pods = self.allocatable, self.allowed_pods
        c.used_ports = dict(self.used_ports)
        c.generation = self.generation
        return c

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)})"


FilterResult = list[tuple["np.ndarray", Status]]


class Plugin:
    """Base class: a plugin overrides the extension points it implements.

    ``handle`` is the owning Framework (snapshot, client, informers, rng).
    """

    NAME = ""
    #: the plugin implements filter_all/score_all (vectorised over node slots)
    VECTORISED = False
    #: Filter reads only the pod's requests and the node's own resource numbers (the scheduler
    #: keeps its verdicts per pod class, equivalence.py); the plugin provides ordered_requests(pod)
    NODE_LOCAL_FILTER = False
    #: Score likewise, with identity normalization (kept per pod class as a weighted sum)
    NODE_LOCAL_SCORE = False
    #: filter_all reads only the pod's spec and the nodes' names, labels, taints and
    #: spec.unschedulable (nothing of the pods on them, nor the cycle state): its verdicts hold
    #: for pods of one class until the snapshot's node_generation moves
    NODE_ONLY_FILTER = False

    def __init__(self, handle: Framework, args: Obj | None = None) -> None:
        self.handle = handle
        self.args = args or {}

    def events_to_register(self) -> list[Registration]:
        """EventsToRegister: the cluster events that may make a pod this plugin rejected schedulable,
        each with its queueing hint (scheduler/hints.py); none for a plugin that never rejects."""
        return []

    # Extension points (defaults make a plugin a no-op at that point).
    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        return None

    def filter_all(self, state: CycleState, pod: PodInfo, snap: Snapshot) -> FilterResult:
        raise NotImplementedError

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        """PreFilterExtensions.AddPod: ``other`` is now considered on ``node``."""

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        """PreFilterExtensions.RemovePod."""

    def pre_score(self, state: CycleState, pod: PodInfo, slots: np.ndarray) -> Status | None:
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return 0

    def score_all(self, state: CycleState, pod: PodInfo, slots: np.ndarray) -> np.ndarray:
        snap = self.handle.snapshot
        return np.array([self.score(state, pod, snap.nodes[s]) for s in slots], dtype=np.int64)

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: np.ndarray) -> np.ndarray:
        return scores

    def constant_score(self, state: CycleState, pod: PodInfo) -> int | None:
        """The normalized score when it is known to be the same on every node (e.g. no node has
        what the plugin scores), so the per-node arrays need not be built; None otherwise."""
        return None


@dataclass
class PluginSpec:
    name: str
    weight: int = 0
    args: Obj = field(default_factory=dict)


@dataclass
class Profile:
    """KubeSchedulerProfile: scheduler name, plugins in order, score weights, plugin args."""

    scheduler_name: str = "default-scheduler"
    plugins: list[PluginSpec] = field(default_factory=list)
    percentage_of_nodes_to_score: int | None = None

    @classmethod
    def default(cls) -> Profile:
        return cls(plugins=[PluginSpec(n, w) for n, w in DEFAULT_PLUGINS])

    def weight(self, name: str) -> int:
        for p in self.plugins:
            if p.name == name:
                return p.weight
        return 0


# default_plugins.go (volume plugins, DRA and ImageLocality are not modelled: no volumes/images).
DEFAULT_PLUGINS: list[tuple[str, int]] = [
    ("SchedulingGates", 0),
    ("PrioritySort", 0),
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("DefaultBinder", 0),
]


def _default_normalize(scores: np.ndarray, reverse: bool) -> np.ndarray:
    """helper.DefaultNormalizeScore."""
    if len(scores) == 0:
        return scores
    mx = int(scores.max())
    if mx == 0:
        if reverse:
            return np.full_like(scores, MAX_SCORE)
        return scores
    out = (MAX_SCORE * scores) // mx
    if reverse:
        out = MAX_SCORE - out
    return out


default_normalize_score = _default_normalize


class Framework:
    """A profile instantiated: plugin objects per extension point over one snapshot."""

    def __init__(
        self,
        profile: Profile,
        snapshot: Snapshot,
        registry: dict[str, Callable[..., Plugin]],
        client: Any = None,
        informers: Any = None,
        rng: Any = None,
    ) -> None:
        self.profile = profile
        self.snapshot = snapshot
        self.client = client
        self.informers = informers
        self.rng = rng
        self.plugins: list[Plugin] = []
        self.weights: dict[str, int] = {}
        for spec in profile.plugins:
            factory = registry.get(spec.name)
            if factory is None:
                raise ValueError(f"unknown plugin {spec.name!r}")
            plugin = factory(self, spec.args)
            self.plugins.append(plugin)
            self.weights[plugin.NAME] = spec.weight
        base = Plugin

        def implements(p: Plugin, method: str) -> bool:
            return getattr(type(p), method) is not getattr(base, method)

        self.pre_filter_plugins = [p for p in self.plugins if implements(p, "pre_filter")]
        self.filter_plugins = [p for p in self.plugins if implements(p, "filter")]
        self.pre_score_plugins = [p for p in self.plugins if implements(p, "pre_score")]
        self.score_plugins = [
            p for p in self.plugins
            if (implements(p, "score") or implements(p, "score_all")) and self.weights.get(p.NAME, 0) > 0
        ]  # fmt: skip
        self.extension_plugins = [
            p for p in self.plugins if implements(p, "add_pod") or implements(p, "remove_pod")
        ]
        self.post_filter_plugins = [p for p in self.plugins if hasattr(p, "post_filter")]
        self.reserve_plugins = [p for p in self.plugins if hasattr(p, "reserve")]
        self.bind_plugins = [p for p in self.plugins if hasattr(p, "bind")]
        self.queue_sort = next((p for p in self.plugins if hasattr(p, "less")), None)
        self.pre_enqueue_plugins = [p for p in self.plugins if hasattr(p, "pre_enqueue")]

    def plugin(self, name: str) -> Plugin | None:
        return next((p for p in self.plugins if p.NAME == name), None)

    # -- PreFilter --------------------------------------------------------------------------
    def run_pre_filter(self, state: CycleState, pod: PodInfo) -> Status:
        for p in self.pre_filter_plugins:
            st = p.pre_filter(state, pod)
            if st is None:
                continue
            code = st.code
            if code == _SUCCESS:
                continue
            if code == _SKIP:
                state.skip_filter.add(p.NAME)
                continue
            return st.with_plugin(p.NAME)
        return Status()

    # -- Filter (one node) ------------------------------------------------------------------
    def run_filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        for p in self.filter_plugins:
            if p.NAME in state.skip_filter:
                continue
            st = p.filter(state, pod, node)
            if st is not None and st.code != _SUCCESS:
                return st.with_plugin(p.NAME)
        return Status()

    def run_filter_with_nominated(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        """RunFilterPluginsWithNominatedPods: nominated pods of >= priority count as present."""
        nominated = self.snapshot.nominated_on(node.slot, pod)
        if not nominated:
            return self.run_filter(state, pod, node)
        st2 = state.clone()
        ni = node.clone()
        for other in nominated:
            ni.add_pod(other)
            for p in self.extension_plugins:
                p.add_pod(st2, pod, other, ni)
        st = self.run_filter(st2, pod, ni)
        if not st.is_success():
            return st
        return self.run_filter(state, pod, node)

    def add_pod_to_state(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        for p in self.extension_plugins:
            if p.NAME not in state.skip_filter:
                p.add_pod(state, pod, other, node)

    def remove_pod_from_state(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        for p in self.extension_plugins:
            if p.NAME not in state.skip_filter:
                p.remove_pod(state, pod, other, node)
