"""The usage engine: what every running container uses, one vectorised tick for the whole cluster.

Upstream has no single file for this: it is what cAdvisor measures and what the Linux kernel does
with cgroup limits, as the kubelet sees it.

- CPU (pkg/kubelet/cm/helpers_linux.go, see :mod:`kubetwin.kubelet.cgroups`): demand above the
  container's limit is throttled by CFS quota (``throttled_seconds_total`` counts the refused
  cpu-seconds, as cgroup ``cpu.stat throttled_usec`` does); when a node's allocatable CPU is
  over-subscribed, CPU is shared by cpu.shares (weights from requests) and the shortfall is
  recorded as run-queue wait (``cpu_wait_seconds_total``).
- Memory: the working set follows the LoadProfile (baseline + per-rps + leak since the container
  started). A container above its memory limit is OOM-killed by its cgroup: exit code 137,
  reason ``OOMKilled`` through ``Kubelet.container_exited`` (restart and back-off are the
  kubelet's). When a node's memory runs out (pods + system > capacity) before the eviction
  manager acted, the kernel OOM killer kills the container with the largest
  ``usage/capacity x 1000 + oom_score_adj`` (pkg/kubelet/qos/policy.go, see
  :mod:`kubetwin.kubelet.oom`) until the node fits, and the kubelet's OOM watcher
  (pkg/kubelet/oom/oom_watcher_linux.go) writes a ``SystemOOM`` Warning event on the Node.

What a container uses, per resource, first match wins:
1. pod annotations ``kubetwin.io/cpu-usage`` / ``kubetwin.io/memory-usage`` (quantities for the
   whole pod, split across its containers by their requests, evenly when none has one);
2. a LoadProfile in the pod's namespace whose selector matches the pod (the first by name when
   several match): its ``perPod`` costs, split by requests; a resource the profile gives no
   baseline for uses 3. as its baseline;
3. the container's request, or for a container without one ``DEFAULT_CPU_MILLI`` (10m) CPU and
   ``DEFAULT_MEMORY_BYTES`` (32Mi) memory (BestEffort pods use a little, not nothing).

The system (OS, kubelet, container runtime) uses ``kubeReserved + systemReserved`` memory of the
node's kubelet configuration (annotation ``kubetwin.io/kubelet-config``), or what the Node
annotation ``kubetwin.io/system-memory-usage`` says. The engine writes objects only when a user
would see something (an OOM kill through the kubelet, a SystemOOM event), never per sample; a
dead kubelet's node is frozen (no kills until it comes back). Regular containers and sidecars are
modelled; init containers that run to completion are not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from kubetwin.api import podchanges as pc
from kubetwin.api.kubeletconfig import KubeletConfig, parse_kubelet_config
from kubetwin.api.nodestatus import heartbeat_only
from kubetwin.api.podchanges import pod_changes
from kubetwin.api.quantity import cpu_milli, to_int
from kubetwin.api.resources import controller_ref, is_pod_ready, resource_list
from kubetwin.kubelet import cgroups
from kubetwin.kubelet.loadprofile import LoadProfile, PerPod, parse_profile
from kubetwin.kubelet.oom import badness, oom_score_adj, system_oom_message
from kubetwin.kubelet.podworker import PRIORITY, SIGKILL_EXIT

if TYPE_CHECKING:
    from kubetwin.kubelet.kubelet import Kubelet
    from kubetwin.kubelet.manager import KubeletManager

Obj = dict[str, Any]
F64 = npt.NDArray[np.float64]

ANN_CPU_USAGE = "kubetwin.io/cpu-usage"
ANN_MEMORY_USAGE = "kubetwin.io/memory-usage"
ANN_SYSTEM_MEMORY = "kubetwin.io/system-memory-usage"
ANN_KUBELET_CONFIG = "kubetwin.io/kubelet-config"
DEFAULT_TICK = 10.0
DEFAULT_CPU_MILLI = 10.0
DEFAULT_MEMORY_BYTES = 32.0 * 1024 * 1024
PIDS_PER_CONTAINER = 8
PID_MAX = 4_194_304  # /proc/sys/kernel/pid_max on 64-bit systemd hosts
OOM_KILLED = "OOMKilled"
_EPS = 1e-6
_PARAMS_MEMO_SIZE = 4096  # pod templates whose usage parameters are kept (all dropped when full)
_BOUNDS_MEMO_SIZE = 4096  # containers' resources whose parsed bounds are kept (all dropped when full)
_GATHER_BELOW = 1.5  # the tick gathers the used slots when at most 1/this of the slots [0, n) are used


@dataclass
class ContainerStats:
    name: str
    memory_working_set_bytes: int
    cpu_usage_milli: int
    cpu_demand_milli: int
    throttled_seconds_total: float
    oom_kills_total: int
    cpu_wait_seconds_total: float = 0.0
    memory_limit_bytes: int | None = None
    memory_request_bytes: int = 0


@dataclass
class PodStats:
    uid: str
    namespace: str
    name: str
    memory_working_set_bytes: int
    cpu_usage_milli: int
    ephemeral_storage_bytes: int
    pids: int
    containers: list[ContainerStats] = field(default_factory=list)


@dataclass
class NodeStats:
    memory_capacity_bytes: int
    memory_working_set_bytes: int
    memory_available_bytes: int
    nodefs_capacity_bytes: int
    nodefs_available_bytes: int
    pid_capacity: int
    pids_in_use: int
    cpu_usage_milli: int
    cpu_capacity_milli: int = 0  # allocatable CPU: what the kubepods cgroup may use
    pods_memory_working_set_bytes: int = 0
    allocatable_memory_capacity_bytes: int = 0  # kubepods cgroup limit: capacity - reserved
    allocatable_memory_available_bytes: int = 0
    time: float | None = None  # virtual time of the tick that computed these figures


class _Pod:
    __slots__ = ("uid", "namespace", "name", "node", "slot", "slots", "names", "labels", "pin_cpu", "pin_mem",
                 "profile", "ready", "startup_seconds", "owner", "serve")  # fmt: skip

    def __init__(self, uid: str, namespace: str, name: str, node: str, slot: int) -> None:
        self.uid = uid
        self.namespace = namespace
        self.name = name
        self.node = node
        self.slot = slot
        self.slots: list[int] = []
        self.names: list[str] = []
        self.labels: dict[str, str] = {}
        self.pin_cpu: float | None = None
        self.pin_mem: float | None = None
        self.profile: str | None = None
        self.ready = False
        self.startup_seconds = 0.0
        self.owner = ""
        self.serve = -1  # index of the profile whose traffic it serves (alive, ready, matched), else -1


def _owner(pod: Obj) -> str:
    """``Kind/name`` of the pod's workload (a ReplicaSet with a pod-template-hash is its Deployment)."""
    ref = controller_ref(pod)
    if ref is None:
        return ""
    kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
    h = ((pod.get("metadata") or {}).get("labels") or {}).get("pod-template-hash")
    if kind == "ReplicaSet" and h and name.endswith("-" + h):
        return f"Deployment/{name[: -len(h) - 1]}"
    return f"{kind}/{name}"


# per-container columns: name -> (dtype, fill)
_C_COLS: dict[str, tuple[Any, float]] = {
    "alive": (np.bool_, False), "running": (np.bool_, False), "node": (np.int64, 0), "pod": (np.int64, 0),
    "req_cpu": (np.float64, 0.0), "lim_cpu": (np.float64, np.inf), "req_mem": (np.float64, 0.0),
    "lim_mem": (np.float64, np.inf), "weight": (np.float64, 2.0), "adj": (np.float64, 0.0),
    "base_cpu": (np.float64, 0.0), "cpu_rps": (np.float64, 0.0), "startup_cpu": (np.float64, 0.0),
    "startup_end": (np.float64, -np.inf), "base_mem": (np.float64, 0.0), "mem_rps": (np.float64, 0.0),
    "leak": (np.float64, 0.0), "start": (np.float64, 0.0),
    "demand": (np.float64, 0.0), "granted": (np.float64, 0.0), "mem": (np.float64, 0.0),
    "dem_s": (np.float64, 0.0), "grant_s": (np.float64, 0.0), "thr_s": (np.float64, 0.0),
    "wait_s": (np.float64, 0.0), "thr_ticks": (np.int64, 0), "wait_ticks": (np.int64, 0),
    "run_base": (np.int64, 0), "oom": (np.int64, 0), "mem_peak": (np.float64, 0.0), "pid": (np.int64, 0),
    "serve": (np.int64, -1),  # its pod's _Pod.serve: the tick's index into the traffic per pod of each profile
}  # fmt: skip
_P_COLS: dict[str, tuple[Any, float]] = {
    "alive": (np.bool_, False), "ready": (np.bool_, False), "profile": (np.int64, -1), "node": (np.int64, 0),
    "gen": (np.int64, 0),
}
_N_COLS: dict[str, tuple[Any, float]] = {
    "alive": (np.bool_, False), "cpu_alloc": (np.float64, 0.0), "mem_cap": (np.float64, 0.0),
    "overhead": (np.float64, 0.0), "kubepods_mem": (np.float64, 0.0), "mem_thr": (np.float64, 0.0),
    "fs_cap": (np.float64, 0.0), "fs_thr": (np.float64, 0.0), "pid_thr": (np.float64, 0.0),
    "cpu_used": (np.float64, 0.0), "cpu_demand": (np.float64, 0.0), "pods_mem": (np.float64, 0.0),
}  # fmt: skip
# the columns on_pod_started writes per container: its node and pod slots, its requests and limits
_WHERE = ("node", "pod")
_BOUNDS = ("req_cpu", "lim_cpu", "req_mem", "lim_mem", "weight", "adj")
# the usage parameters _apply_params writes, consecutive float columns of _C_COLS
_PARAMS = ("base_cpu", "cpu_rps", "startup_cpu", "startup_end", "base_mem", "mem_rps", "leak")


class _Table:
    """Growable numpy columns indexed by slot, with a free list. A slot keeps its number while it
    is used (readers join on it); a freed slot holds the columns' fill values until it is reused.
    The columns of one dtype are the rows of one 2-D block (``a`` maps each name to its row, a
    contiguous view), so freeing a slot writes its fill values with one store per dtype."""

    def __init__(self, cols: dict[str, tuple[Any, float]], cap: int = 64) -> None:
        self.cols = cols
        self.cap = cap
        self.n = 0  # high-water mark: slots [0, n) were used at some point
        self.free: list[int] = []
        # per dtype: (its column names, their fill values as an array), in the columns' order
        self._groups: list[tuple[list[str], np.ndarray[Any, Any]]] = []
        for dt in dict.fromkeys(dt for dt, _ in cols.values()):
            names = [k for k, (d, _) in cols.items() if d is dt]
            self._groups.append((names, np.array([cols[k][1] for k in names], dtype=dt)))
        self._blocks: list[np.ndarray[Any, Any]] = []
        self._head: tuple[int, dict[str, np.ndarray[Any, Any]]] | None = None  # see head
        self._runs: dict[tuple[str, ...], tuple[int, int, int]] = {}  # see write
        self.a: dict[str, np.ndarray[Any, Any]] = {}
        self._grow(0)
        self.in_use = np.zeros(cap, dtype=np.bool_)
        self._used: np.ndarray[Any, np.dtype[np.intp]] | None = None  # used(), until a slot is taken or freed

    def _grow(self, keep: int) -> None:
        """New blocks of ``cap`` slots holding the fill values, with slots [0, ``keep``) copied."""
        old = self._blocks
        self._blocks = []
        self._head = None
        for i, (names, fills) in enumerate(self._groups):
            block = np.empty((len(names), self.cap), dtype=fills.dtype)
            block[:] = fills[:, None]
            if keep:
                block[:, :keep] = old[i][:, :keep]
            self._blocks.append(block)
            self.a.update(zip(names, block, strict=True))

    def head(self, n: int) -> dict[str, np.ndarray[Any, Any]]:
        """Each column's slots [0, ``n``) as views (kept until the columns grow)."""
        if self._head is None or self._head[0] != n:
            self._head = (n, {k: v[:n] for k, v in self.a.items()})
        return self._head[1]

    def write(self, slot: int, names: tuple[str, ...], values: Any) -> None:
        """Store ``values`` (one per name) at ``slot`` of the columns ``names``, which must be
        consecutive columns of one dtype (one store: the values as the columns' scalar stores
        would convert them)."""
        run = self._runs.get(names)
        if run is None:
            run = self._runs[names] = self._run(names)
        b, first, end = run
        self._blocks[b][first:end, slot] = values

    def _run(self, names: tuple[str, ...]) -> tuple[int, int, int]:
        """(block, first row, end row) of consecutive columns of one dtype."""
        for b, (group, _) in enumerate(self._groups):
            if names[0] in group:
                first = group.index(names[0])
                if tuple(group[first : first + len(names)]) == names:
                    return b, first, first + len(names)
        raise ValueError(f"not consecutive columns of one dtype: {names}")

    def used(self) -> np.ndarray[Any, np.dtype[np.intp]] | None:
        """The used slots of [0, n) in ascending order; None when none of them is free."""
        if not self.free:
            return None
        if self._used is None:
            self._used = np.flatnonzero(self.in_use[: self.n])
        return self._used

    def alloc(self) -> int:
        """A slot holding the fill values: a new one, or a freed one (release wrote them and a tick
        writes only values equal to them into free slots, see UsageEngine.tick)."""
        self._used = None
        if self.free:
            slot = self.free.pop()
        else:
            if self.n == self.cap:
                self.cap *= 2
                self._grow(self.n)
                self.in_use = np.concatenate([self.in_use, np.zeros(self.cap - len(self.in_use), dtype=np.bool_)])
            slot = self.n
            self.n += 1
        self.in_use[slot] = True
        return slot

    def release(self, slot: int) -> None:
        self._used = None
        self.in_use[slot] = False
        for block, (_, fills) in zip(self._blocks, self._groups, strict=True):
            block[:, slot] = fills
        self.free.append(slot)


class _Rows:
    """A tick's view of a table's used slots [0, n): slices of the columns when no slot is free
    or most are used, else the columns gathered at the used slots (ascending) and scattered back.
    ``get`` gives a column's values, ``put``/``add``/``raise_to`` store/add/raise into its used
    slots; an index ``i`` into what ``get`` returns is slot ``slot(i)``. ``get`` may return a view:
    never write to it."""

    def __init__(self, table: _Table, n: int) -> None:
        self.a = dict(table.a)  # the arrays of now: a kill's callbacks may replace them mid-tick
        self.n = n
        used = table.used()
        # gathering and scattering cost more than they save when few slots are free
        self.idx = used if used is not None and len(used) * _GATHER_BELOW <= n else None

    def get(self, k: str) -> np.ndarray[Any, Any]:
        return self.a[k][: self.n] if self.idx is None else self.a[k][self.idx]

    def put(self, k: str, values: np.ndarray[Any, Any]) -> None:
        if self.idx is None:
            self.a[k][: self.n] = values
        else:
            self.a[k][self.idx] = values

    def add(self, k: str, values: np.ndarray[Any, Any]) -> None:
        if self.idx is None:
            self.a[k][: self.n] += values
        else:
            self.a[k][self.idx] += values  # slots are unique: one add per slot

    def raise_to(self, k: str, values: np.ndarray[Any, Any]) -> None:
        """Raise a column's used slots to at least ``values`` (a running maximum)."""
        if self.idx is None:
            col = self.a[k][: self.n]
            np.maximum(col, values, out=col)
        else:
            self.a[k][self.idx] = np.maximum(self.a[k][self.idx], values)

    def slot(self, i: int) -> int:
        return i if self.idx is None else int(self.idx[i])

    def expand(self, values: F64) -> F64:
        """``values`` indexed by slot (itself when no gathering; free slots 0.0)."""
        if self.idx is None:
            return values
        out = np.zeros(self.n)
        out[self.idx] = values
        return out

    def take(self, by_slot: F64) -> F64:
        return by_slot if self.idx is None else by_slot[self.idx]


def node_memory_config(node: Obj) -> tuple[float, float, float, float, float]:
    """(reserved memory, system memory usage, memory threshold, nodefs threshold, pid threshold)
    from the node's effective kubelet config (annotation ``kubetwin.io/kubelet-config``, kubelet
    defaults without it); a threshold is the largest hard or soft one of its signal, in bytes/pids."""
    meta = node.get("metadata") or {}
    ann = meta.get("annotations") or {}
    cap = resource_list((node.get("status") or {}).get("capacity") or {})
    try:
        raw = ann.get(ANN_KUBELET_CONFIG)
        cfg = parse_kubelet_config(json.loads(raw) if raw else {})
    except (ValueError, TypeError):
        cfg = KubeletConfig()
    reserved = 0.0
    for rl in (cfg.kube_reserved, cfg.system_reserved):
        if rl.get("memory") is not None:
            try:
                reserved += to_int(rl["memory"])
            except ValueError:
                pass
    system = reserved
    if ann.get(ANN_SYSTEM_MEMORY) is not None:
        try:
            system = float(to_int(ann[ANN_SYSTEM_MEMORY]))
        except ValueError:
            pass
    capacity = {"memory.available": cap.get("memory", 0), "nodefs.available": cap.get("ephemeral-storage", 0),
                "pid.available": PID_MAX}  # fmt: skip
    thr = dict.fromkeys(capacity, 0.0)
    for th in (*cfg.hard_thresholds, *cfg.soft_thresholds):
        if th.signal in thr:
            thr[th.signal] = max(thr[th.signal], float(th.quantity(int(capacity[th.signal]))))
    return reserved, system, thr["memory.available"], thr["nodefs.available"], thr["pid.available"]


def _serving_ready(pod: Obj) -> bool:
    """Whether a pod's traffic share counts it: ready (its Ready condition True) and not being deleted."""
    return is_pod_ready(pod) and not pod["metadata"].get("deletionTimestamp")


class UsageEngine:
    """One per cluster, shared by every Kubelet as its ResourceModel."""

    tick_interval: float | None = None  # ResourceModel: kubelets schedule no per-node tick
    # bounds the tick trusts instead of scanning the columns: no container's startup_end is past
    # _startup_until, and no container has a leak while _leaky is False (both only ever grow)
    _startup_until = -np.inf
    _leaky = False

    def __init__(self, manager: KubeletManager, period: float = DEFAULT_TICK) -> None:
        self.manager = manager
        self.loop = manager.loop
        self.period = period
        self.version = 0  # bumped whenever pods, container slots or start times change
        # a pod slot's generation (pod column "gen") is stamped from this counter whenever the slot
        # is given to a pod or freed: a reader that remembers (slot, generation) for a pod knows the
        # slot is still that pod's while the two match
        self.slot_changes = 0
        self.pods_started = 0  # pods given a slot so far: a uid without one can only gain one then
        # every pod so far had one container, given the container slot numbered as its pod slot
        # (both tables hand out and take back slots in step then): readers may skip the join
        self.aligned = True
        self.c = _Table(_C_COLS, 256)
        self.p = _Table(_P_COLS, 64)
        self.nodes = _Table(_N_COLS, 16)
        self.node_slot: dict[str, int] = {}
        self.node_names: list[str] = []
        self.kubelets: dict[str, Kubelet] = {}
        self.pods: dict[str, _Pod] = {}
        # uids of pods seeded from a version that differs in what _pod_updated reads from the
        # informer's current one: their next update of any kind refreshes them (see _check_seed)
        self._stale: set[str] = set()
        self.pod_by_slot: dict[int, _Pod] = {}
        self.c_names: dict[int, str] = {}
        self.node_pods: dict[int, set[int]] = {}
        self.profiles: dict[str, LoadProfile] = {}
        self._profile_list: list[LoadProfile] = []
        self._profile_index: dict[str, int] = {}
        self._serving = np.zeros(0, dtype=np.int64)  # per profile index: its pods with serve == index
        self._idle = 0  # live container slots not running (see _set_running)
        self._accounted = 0  # ticks that accounted cpu-seconds (dt > 0), see run_ticks
        # (profile key, pinned cpu, pinned memory, requests) -> (the profile's PerPod, _params of them)
        self._params_memo: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self._bounds_memo: dict[tuple[Any, ...], tuple[Any, ...]] = {}  # see _bounds
        self._last_tick: float | None = None
        self._attention: set[str] = set()
        self._next_pid = 1000
        self.ticks = 0
        self.oom_log: list[dict[str, Any]] = []
        self.finished: list[dict[str, Any]] = []  # summaries of stopped pods that were throttled or OOM-killed
        self._timer: Any = None
        dt = self.loop.datetime(0)
        self.clock_offset = dt.hour * 3600.0 + dt.minute * 60.0 + dt.second

    # -- wiring ---------------------------------------------------------------------------------
    def start(self) -> None:
        # a heartbeat keeps annotations, capacity and allocatable as they were
        self.manager.nodes.add_handler(None, self._node_updated, self._node_deleted, ignore=heartbeat_only)
        # _pod_updated reads readiness, deletion and labels: other writes skip it (a pod seeded
        # from an older version gets its next update anyway through _stale_pod_updated)
        pods = self.manager.pods
        pods.add_handler(None, self._pod_updated, None, changes=pod_changes, reads=pc.READY | pc.DELETION | pc.LABELS)
        pods.add_handler(None, self._stale_pod_updated, None)
        pods.set_update_handler_live(self._stale_pod_updated, False)
        profiles = self.manager.informers.get("loadprofiles.kubetwin.io")
        profiles.add_handler(self._profile_changed, lambda old, new: self._profile_changed(new),
                             self._profile_deleted)  # fmt: skip
        self._last_tick = self.loop.now
        if self.period:
            self._timer = self.loop.every(self.period, self.tick, PRIORITY, "kubelet:usage")

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def attach(self, kubelet: Kubelet) -> UsageEngine:
        """A Kubelet was created for a Node: give the node a slot (reused for the same name)."""
        self.kubelets[kubelet.name] = kubelet
        slot = self.node_slot.get(kubelet.name)
        if slot is None:
            slot = self.nodes.alloc()
            self.node_slot[kubelet.name] = slot
            if slot < len(self.node_names):
                self.node_names[slot] = kubelet.name
            else:
                self.node_names.append(kubelet.name)
            self.node_pods[slot] = set()
        node = kubelet.node
        if node is not None:
            self._refresh_node(slot, node)
        self.nodes.a["alive"][slot] = True
        return self

    def _refresh_node(self, slot: int, node: Obj) -> None:
        status = node.get("status") or {}
        try:
            cap = resource_list(status.get("capacity") or {})
            alloc = resource_list(status.get("allocatable") or {}) or cap
        except ValueError:
            cap, alloc = {}, {}
        reserved, system, mem_thr, fs_thr, pid_thr = node_memory_config(node)
        a = self.nodes.a
        a["cpu_alloc"][slot] = float(alloc.get("cpu", cap.get("cpu", 0)))
        a["mem_cap"][slot] = float(cap.get("memory", 0))
        a["overhead"][slot] = system
        a["kubepods_mem"][slot] = max(0.0, float(cap.get("memory", 0)) - reserved)
        a["mem_thr"][slot] = mem_thr
        a["fs_cap"][slot] = float(cap.get("ephemeral-storage", 0))
        a["fs_thr"][slot] = fs_thr
        a["pid_thr"][slot] = pid_thr

    def _node_updated(self, old: Obj, new: Obj) -> None:
        slot = self.node_slot.get(new["metadata"]["name"])
        if slot is None:
            return
        om, nm = old.get("metadata") or {}, new.get("metadata") or {}
        os_, ns_ = old.get("status") or {}, new.get("status") or {}
        if (
            (om.get("annotations") or {}) != (nm.get("annotations") or {})
            or os_.get("capacity") != ns_.get("capacity")
            or os_.get("allocatable") != ns_.get("allocatable")
        ):
            self._refresh_node(slot, new)

    def _node_deleted(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        slot = self.node_slot.get(name)
        if slot is not None and name not in self.manager.kubelets:
            self.nodes.a["alive"][slot] = False
            self.kubelets.pop(name, None)

    # -- ResourceModel --------------------------------------------------------------------------
    def on_pod_started(self, kubelet: Kubelet, pod: Obj) -> None:
        self.version += 1  # pods, slots or start times change: readers' per-version caches expire
        meta = pod["metadata"]
        uid = meta.get("uid", "")
        if uid in self.pods:
            return
        if kubelet.name not in self.node_slot or self.kubelets.get(kubelet.name) is not kubelet:
            self.attach(kubelet)
        nslot = self.node_slot[kubelet.name]
        pslot = self.p.alloc()
        self._stamp_slot(pslot)
        self.pods_started += 1
        e = _Pod(uid, meta.get("namespace", ""), meta["name"], kubelet.name, pslot)
        e.labels = dict(meta.get("labels") or {})
        e.owner = _owner(pod)
        ann = meta.get("annotations") or {}
        e.pin_cpu = _ann_quantity(ann, ANN_CPU_USAGE, cpu=True)
        e.pin_mem = _ann_quantity(ann, ANN_MEMORY_USAGE, cpu=False)
        self.pods[uid] = e
        self.pod_by_slot[pslot] = e
        self.node_pods[nslot].add(pslot)
        pa = self.p.a
        pa["alive"][pslot] = True
        pa["node"][pslot] = nslot
        e.ready = _serving_ready(pod)
        pa["ready"][pslot] = e.ready
        self._check_seed(e, pod)
        spec = pod.get("spec") or {}
        containers = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
        containers += list(spec.get("containers") or [])
        mem_cap = int(self.nodes.a["mem_cap"][nslot])
        worker = kubelet.workers.get(f"{e.namespace}/{e.name}")  # workers are keyed namespace/name
        if worker is None or worker.uid != uid:
            worker = kubelet.worker_by_uid(uid)
        ca, write = self.c.a, self.c.write
        for c in containers:
            s = self.c.alloc()
            e.slots.append(s)
            e.names.append(c["name"])
            self.c_names[s] = c["name"]
            ca["alive"][s] = True
            self._idle += 1  # until it runs
            write(s, _WHERE, (nslot, pslot))
            write(s, _BOUNDS, (*self._bounds(c.get("resources") or {}), oom_score_adj(pod, c, mem_cap)))
            rc = worker.by_name.get(c["name"]) if worker is not None else None
            if rc is not None and rc.state == "running":
                self._set_running(s, True)
                ca["start"][s] = rc.started_at if rc.started_at is not None else self.loop.now
                ca["pid"][s] = self._pid()
        if self.aligned and e.slots != [pslot]:
            self.aligned = False
        e.profile = self._match(e)
        pa["profile"][pslot] = self._profile_index.get(e.profile, -1) if e.profile else -1
        self._serve(e)
        self._apply_params(e)
        for s in e.slots:
            if ca["running"][s]:
                self._estimate(s)

    def on_pod_stopped(self, kubelet: Kubelet, pod_uid: str) -> None:
        self.version += 1  # pods, slots or start times change: readers' per-version caches expire
        e = self.pods.pop(pod_uid, None)
        if e is None:
            return
        if pod_uid in self._stale:
            self._unstale(pod_uid)
        summary = self._summary(e)
        if summary is not None:
            summary["stopped_at"] = float(self.loop.now)
            self.finished.append(summary)
        if e.serve >= 0:
            self._serving[e.serve] -= 1
        running = self.c.a["running"]
        for s in e.slots:
            self._idle -= not running[s]
            self.c_names.pop(s, None)
            self.c.release(s)
        nslot = self.node_slot.get(e.node)
        if nslot is not None:
            self.node_pods.get(nslot, set()).discard(e.slot)
        self.pod_by_slot.pop(e.slot, None)
        self.p.release(e.slot)
        self._stamp_slot(e.slot)

    def _stamp_slot(self, pslot: int) -> None:
        self.slot_changes += 1
        self.p.a["gen"][pslot] = self.slot_changes

    def on_container_started(self, kubelet: Kubelet, pod_uid: str, name: str) -> None:
        self.version += 1  # pods, slots or start times change: readers' per-version caches expire
        e = self.pods.get(pod_uid)
        if e is None or name not in e.names:
            return
        s = e.slots[e.names.index(name)]
        ca = self.c.a
        now = self.loop.now
        self._set_running(s, True)
        ca["start"][s] = now
        ca["startup_end"][s] = now + e.startup_seconds
        self._startup_until = max(self._startup_until, now + e.startup_seconds)
        ca["pid"][s] = self._pid()
        self._estimate(s)

    def on_container_stopped(self, kubelet: Kubelet, pod_uid: str, name: str) -> None:
        e = self.pods.get(pod_uid)
        if e is None or name not in e.names:
            return
        s = e.slots[e.names.index(name)]
        self._set_running(s, False)
        ca = self.c.a
        ca["demand"][s] = ca["granted"][s] = ca["mem"][s] = 0.0

    def _bounds(self, res: Obj) -> tuple[Any, ...]:
        """A container's (request cpu, CFS limit, request memory, memory limit, cpu shares) from its
        ``resources`` (unparseable quantities: none), memoised in ``_bounds_memo`` by the requests'
        and limits' content when every quantity is a string (the key's equality is then the
        content's: 1, 1.0 and True would share a key)."""
        key = _resources_key(res)
        hit = self._bounds_memo.get(key) if key is not None else None
        if hit is None:
            hit = _bounds(res)
            if key is not None:
                if len(self._bounds_memo) >= _BOUNDS_MEMO_SIZE:
                    self._bounds_memo.clear()
                self._bounds_memo[key] = hit
        return hit

    def _set_running(self, s: int, running: bool) -> None:
        """Mark live container slot ``s`` running or not, keeping the count of those not running
        and the slot's ``run_base`` (see :meth:`run_ticks`)."""
        col = self.c.a["running"]
        if bool(col[s]) != running:
            col[s] = running
            self._idle += -1 if running else 1
            self.c.a["run_base"][s] += -self._accounted if running else self._accounted

    def run_ticks(self, s: int) -> int:
        """The accounting ticks container slot ``s`` ran in: its ``run_base`` plus, while it runs,
        the ticks accounted so far (the base went down by that count when it started to run and
        up by it when it stopped), so a tick counts its running containers without a pass."""
        ca = self.c.a
        return int(ca["run_base"][s]) + (self._accounted if ca["running"][s] else 0)

    def _pid(self) -> int:
        self._next_pid += 1
        return self._next_pid

    # -- usage parameters -----------------------------------------------------------------------
    def _match(self, e: _Pod) -> str | None:
        for prof in self._profile_list:
            if prof.namespace == e.namespace and prof.selector.matches(e.labels):
                return prof.key
        return None

    def _apply_params(self, e: _Pod) -> None:
        """A pod's containers' usage parameters (pinned by annotations, from its LoadProfile, or
        the requests' defaults), each split by the containers' requests (see :func:`_params`,
        memoised per pod template in ``_params_memo``), and when they stop bursting at start."""
        slots = e.slots
        if not slots:
            return
        ca = self.c.a
        now = self.loop.now
        prof = self.profiles.get(e.profile) if e.profile else None
        per = prof.per_pod if prof is not None else None
        req_cpu = tuple(float(ca["req_cpu"][s]) for s in slots)
        req_mem = tuple(float(ca["req_mem"][s]) for s in slots)
        key = (e.profile if per is not None else None, e.pin_cpu, e.pin_mem, req_cpu, req_mem)
        memo = self._params_memo.get(key)
        if memo is None or memo[0] is not per:  # a changed profile is a new PerPod object
            if len(self._params_memo) >= _PARAMS_MEMO_SIZE:
                self._params_memo.clear()
            memo = self._params_memo[key] = (per, *_params(per, e.pin_cpu, e.pin_mem, req_cpu, req_mem))
        _, e.startup_seconds, columns, leaky = memo
        base_cpu, cpu_rps, startup_cpu, base_mem, mem_rps, leak = columns
        running, start = ca["running"], ca["start"]
        startup_end = [(float(start[s]) if running[s] else float(now)) + e.startup_seconds for s in slots]
        self._startup_until = max(self._startup_until, *startup_end)
        self._leaky = self._leaky or leaky
        write = self.c.write
        for s, row in zip(slots, zip(base_cpu, cpu_rps, startup_cpu, startup_end, base_mem, mem_rps, leak, strict=True),
                          strict=True):  # fmt: skip
            write(s, _PARAMS, row)

    def _estimate(self, s: int) -> None:
        """Usage of a container that just started, until the next tick computes it properly."""
        ca = self.c.a
        ca["mem"][s] = min(ca["base_mem"][s], ca["lim_mem"][s])
        ca["granted"][s] = min(ca["base_cpu"][s], ca["lim_cpu"][s])
        ca["demand"][s] = ca["base_cpu"][s]

    # -- informer handlers ----------------------------------------------------------------------
    def _pod_updated(self, old: Obj, new: Obj) -> None:
        e = self.pods.get(new["metadata"].get("uid", ""))
        if e is None:
            return
        meta = new["metadata"]
        ready = _serving_ready(new)
        if ready != e.ready:
            e.ready = ready
            self.p.a["ready"][e.slot] = ready
            self._serve(e)
        labels = meta.get("labels") or {}
        if labels != e.labels:
            e.labels = dict(labels)
            self._rematch(e)

    def _check_seed(self, e: _Pod, pod: Obj) -> None:
        """``e`` was seeded from the kubelet worker's version of its pod, which may be older than
        the informer's: when they differ in what _pod_updated reads, the pod's next update reaches
        _pod_updated whatever it changed (as every update did before handlers declared reads)."""
        cur = self.manager.pods.get_by_key(f"{e.namespace}/{e.name}")
        if cur is None or cur is pod or cur["metadata"].get("uid", "") != e.uid:
            return  # no later update of this pod can reach it
        if _serving_ready(cur) != e.ready or (cur["metadata"].get("labels") or {}) != e.labels:
            self._stale.add(e.uid)
            self.manager.pods.set_update_handler_live(self._stale_pod_updated, True)

    def _stale_pod_updated(self, old: Obj, new: Obj) -> None:
        """Any update of a pod in ``_stale`` (set aside while there is none)."""
        uid = new["metadata"].get("uid", "")
        if uid in self._stale:
            self._unstale(uid)
            self._pod_updated(old, new)

    def _unstale(self, uid: str) -> None:
        self._stale.discard(uid)
        if not self._stale:
            self.manager.pods.set_update_handler_live(self._stale_pod_updated, False)

    def _rematch(self, e: _Pod) -> None:
        key = self._match(e)
        self.p.a["profile"][e.slot] = self._profile_index.get(key, -1) if key else -1
        if key != e.profile:
            e.profile = key
            self._serve(e)
            self._apply_params(e)

    def _serve(self, e: _Pod, recount: bool = False) -> None:
        """Keep ``e.serve`` (the index of the profile whose traffic the pod shares: it is ready and
        matched, as its pod columns say), its containers' "serve" column and the per-profile counts
        (``recount``: the counts start afresh and ``e.serve`` is not in them)."""
        k = self._profile_index.get(e.profile, -1) if e.ready and e.profile else -1
        if k == e.serve and not recount:
            return
        if e.serve >= 0 and not recount:
            self._serving[e.serve] -= 1
        if k >= 0:
            self._serving[k] += 1
        e.serve = k
        col = self.c.a["serve"]
        for s in e.slots:
            col[s] = k

    def _profile_changed(self, obj: Obj) -> None:
        try:
            prof = parse_profile(obj, self.clock_offset)
        except (ValueError, TypeError, AttributeError, KeyError):
            self._profile_deleted(obj)
            return
        self.profiles[prof.key] = prof
        self._reindex_profiles(prof.namespace, force=prof.key)

    def _profile_deleted(self, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        key = f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}"
        if self.profiles.pop(key, None) is not None:
            self._reindex_profiles(meta.get("namespace") or "default", force=key)

    def _reindex_profiles(self, namespace: str, force: str) -> None:
        self._profile_list = [self.profiles[k] for k in sorted(self.profiles)]
        self._profile_index = {p.key: i for i, p in enumerate(self._profile_list)}
        self._serving = np.zeros(len(self._profile_list), dtype=np.int64)
        pa = self.p.a
        for e in self.pods.values():
            if e.namespace == namespace:
                key = self._match(e)
                if key != e.profile or key == force:
                    e.profile = key
                    self._apply_params(e)
            pa["profile"][e.slot] = self._profile_index.get(e.profile, -1) if e.profile else -1
            self._serve(e, recount=True)  # the indices moved

    # -- the tick -------------------------------------------------------------------------------
    def tick(self, kubelet: Kubelet | None = None) -> None:
        """Compute every container's usage now; throttle, OOM-kill, account. When most slots are
        free (the evening after a busy day) the arrays are computed over the used slots only, in
        ascending slot order: a free slot holds fill values that add exact zeros to every sum, so
        the per-node sums add the same terms in the same order either way, bitwise."""
        now = self.loop.now
        dt = 0.0 if self._last_tick is None else max(0.0, now - self._last_tick)
        self._last_tick = now
        self.ticks += 1
        n = self.c.n
        nn = self.nodes.n
        if n == 0 or nn == 0:
            self._attention = set()
            return
        ca = _Rows(self.c, n)
        na = self.nodes.head(nn)
        run = ca.get("running")
        node = ca.get("node")
        # requests per second reaching each container
        if self._profile_list:
            rps_k = np.array([p.traffic.rps(now) for p in self._profile_list], dtype=np.float64)
            counts = self._serving
            per_pod = np.zeros(len(rps_k) + 1)  # by profile index; the last: pods serving none (-1)
            np.divide(rps_k, counts, out=per_pod[:-1], where=counts > 0)
            rps = per_pod[ca.get("serve")]
            cpu = ca.get("base_cpu") + ca.get("cpu_rps") * rps
            mem = ca.get("base_mem") + ca.get("mem_rps") * rps
        else:
            cpu = ca.get("base_cpu").copy()
            mem = ca.get("base_mem").copy()
        if self._startup_until > now:  # else no container is starting: the burst term is all zeros
            starting = ca.get("startup_end") > now
            if starting.any():  # and cpu (>= 0) stays as it is
                cpu = np.maximum(cpu, np.where(starting, ca.get("startup_cpu"), 0.0))
        if self._leaky:  # else mem gains exact zeros
            mem += ca.get("leak") * (now - ca.get("start"))
        if self._idle:  # live containers that do not run use nothing
            demand = np.where(run, cpu, 0.0)
            mem = np.where(run, mem, 0.0)
        else:  # every live container runs, and a free slot's cpu and mem are zeros already (its fills)
            demand = cpu
        # CPU: CFS quota, then the node's shares
        lim_cpu = ca.get("lim_cpu")
        capped = not bool((demand <= lim_cpu).all())  # some demand above its limit (or NaN)
        if capped:
            want = np.minimum(demand, lim_cpu)
            throttled = demand - want
        else:
            want = demand  # what the minimum would give, value for value: all below stays bitwise
        node_want = np.bincount(node, want, minlength=nn)
        over = na["alive"] & (node_want > na["cpu_alloc"] * (1 + 1e-9))
        squeezed = bool(over.any())  # else every container is granted what it wants
        granted = want.copy() if squeezed else want
        if squeezed:
            idx = np.nonzero(over[node] & (want > 0))[0]
            granted[idx] = cgroups.water_fill(want[idx], ca.get("weight")[idx], node[idx], na["cpu_alloc"])
        if dt > 0:
            k = dt / 1000.0
            demand_k = demand * k
            ca.add("dem_s", demand_k)
            ca.add("grant_s", demand_k if granted is demand else granted * k)
            # the throttling and wait totals only add zeros when nothing is throttled / squeezed
            # (they are sums of non-negative terms, never -0.0, so adding +0.0 changes nothing)
            if capped:
                ca.add("thr_s", throttled * k)
                ca.add("thr_ticks", throttled > _EPS)
            if squeezed:
                wait = want - granted
                ca.add("wait_s", wait * k)
                ca.add("wait_ticks", wait > _EPS)
            self._accounted += 1  # every running container ran one more tick (see run_ticks)
        ca.put("demand", demand)  # before any kill, which zeroes its victim's
        ca.put("granted", granted)
        # memory: cgroup limit first, then the node
        lim_mem = ca.get("lim_mem")
        over_limit = mem > lim_mem
        killed: list[int] = []
        if over_limit.any():
            for i in np.nonzero(over_limit)[0].tolist():
                if self._kill(ca.slot(i), "limit", float(lim_mem[i])):
                    killed.append(i)
            mem[killed] = 0.0
            keep = [i for i in np.nonzero(over_limit)[0].tolist() if i not in set(killed)]
            mem[keep] = lim_mem[keep]  # a frozen node: the cgroup holds it at its limit
        pods_mem = np.bincount(node, mem, minlength=nn)
        short = na["alive"] & (pods_mem + na["overhead"] > na["mem_cap"]) & (na["mem_cap"] > 0)
        if short.any():
            by_slot = ca.expand(mem)  # the kernel OOM killer looks containers up by slot
            for ns in np.nonzero(short)[0].tolist():
                pods_mem[ns] = self._system_oom(ns, by_slot, float(pods_mem[ns]))
            mem = ca.take(by_slot)
        ca.put("mem", mem)
        ca.raise_to("mem_peak", mem)
        na["cpu_used"][:] = np.bincount(node, granted, minlength=nn) if squeezed else node_want
        na["cpu_demand"][:] = node_want if want is demand else np.bincount(node, demand, minlength=nn)
        na["pods_mem"][:] = pods_mem
        # who needs the eviction manager's attention
        avail = na["mem_cap"] - pods_mem - na["overhead"]
        alloc_avail = na["kubepods_mem"] - pods_mem
        need = (avail < na["mem_thr"]) | (alloc_avail < na["mem_thr"])
        if na["pid_thr"].any():
            pids = np.bincount(node, ca.get("running") * PIDS_PER_CONTAINER, minlength=nn)  # after the kills
            need |= (PID_MAX - pids) < na["pid_thr"]
        need &= na["alive"]
        self._attention = {self.node_names[i] for i in np.nonzero(need)[0].tolist()}

    def _kill(self, s: int, kind: str, usage: float) -> bool:
        """OOM-kill container slot ``s`` through its kubelet; False when the kubelet is dead."""
        e = self.pod_by_slot.get(int(self.c.a["pod"][s]))
        if e is None:
            return False
        kl = self.kubelets.get(e.node)
        if kl is None or not kl.running:
            return False
        name = self.c_names[s]
        ca = self.c.a
        ca["oom"][s] += 1
        self.oom_log.append({
            "t": float(self.loop.now), "kind": kind, "node": e.node, "namespace": e.namespace, "pod": e.name,
            "owner": e.owner, "container": name, "usage_bytes": int(usage),
            "limit_bytes": None if np.isinf(ca["lim_mem"][s]) else int(ca["lim_mem"][s]),
            "oom_score_adj": int(ca["adj"][s]),
        })  # fmt: skip
        self._set_running(s, False)
        kl.container_exited(e.uid, name, SIGKILL_EXIT, OOM_KILLED)
        self._set_running(s, False)
        ca["demand"][s] = ca["granted"][s] = 0.0
        return True

    def _system_oom(self, ns: int, mem: F64, total_pods: float) -> float:
        """The kernel OOM killer on node slot ``ns``: kill by badness until pods + system fit."""
        na = self.nodes.a
        cap = float(na["mem_cap"][ns])
        overhead = float(na["overhead"][ns])
        name = self.node_names[ns]
        kl = self.kubelets.get(name)
        if kl is None or not kl.running:
            return total_pods
        ca = self.c.a
        candidates = [s for p in sorted(self.node_pods.get(ns, ())) for s in self.pod_by_slot[p].slots
                      if ca["running"][s] and mem[s] > 0]  # fmt: skip
        while total_pods + overhead > cap and candidates:
            victim = max(candidates, key=lambda s: (badness(float(mem[s]), cap, int(ca["adj"][s])), mem[s], -s))
            if badness(float(mem[victim]), cap, int(ca["adj"][victim])) == float("-inf"):
                break
            candidates.remove(victim)
            usage = float(mem[victim])
            pid = int(ca["pid"][victim])
            process = self.c_names[victim]
            if self._kill(int(victim), "system", usage):
                total_pods -= usage
                mem[victim] = 0.0
                ref = {"kind": "Node", "metadata": {"name": name, "uid": name}}
                kl.recorder.warning(ref, "SystemOOM", system_oom_message(process, pid))
        return total_pods

    # -- read API -------------------------------------------------------------------------------
    def nodes_needing_attention(self) -> set[str]:
        return set(self._attention)

    def node_stats(self, node: str) -> NodeStats | None:
        slot = self.node_slot.get(node)
        if slot is None:
            return None
        na = self.nodes.a
        cap = int(na["mem_cap"][slot])
        pods_mem = int(na["pods_mem"][slot])
        ws = pods_mem + int(na["overhead"][slot])
        ca = self.c.a
        pids = 0
        for p in self.node_pods.get(slot, ()):
            pids += sum(PIDS_PER_CONTAINER for s in self.pod_by_slot[p].slots if ca["running"][s])
        fs_cap = int(na["fs_cap"][slot])
        kubepods = int(na["kubepods_mem"][slot])
        return NodeStats(
            memory_capacity_bytes=cap,
            memory_working_set_bytes=ws,
            memory_available_bytes=max(0, cap - ws),
            nodefs_capacity_bytes=fs_cap,
            nodefs_available_bytes=fs_cap,
            pid_capacity=PID_MAX,
            pids_in_use=pids,
            cpu_usage_milli=int(round(na["cpu_used"][slot])),
            cpu_capacity_milli=int(na["cpu_alloc"][slot]),
            pods_memory_working_set_bytes=pods_mem,
            allocatable_memory_capacity_bytes=kubepods,
            allocatable_memory_available_bytes=max(0, kubepods - pods_mem),
            time=self._last_tick,
        )

    def _pod_stats(self, e: _Pod) -> PodStats:
        ca = self.c.a
        cs = []
        for s, name in zip(e.slots, e.names, strict=True):
            lim = ca["lim_mem"][s]
            cs.append(ContainerStats(
                name=name, memory_working_set_bytes=int(ca["mem"][s]), cpu_usage_milli=int(round(ca["granted"][s])),
                cpu_demand_milli=int(round(ca["demand"][s])), throttled_seconds_total=float(ca["thr_s"][s]),
                oom_kills_total=int(ca["oom"][s]), cpu_wait_seconds_total=float(ca["wait_s"][s]),
                memory_limit_bytes=None if np.isinf(lim) else int(lim), memory_request_bytes=int(ca["req_mem"][s]),
            ))  # fmt: skip
        running = sum(1 for s in e.slots if ca["running"][s])
        return PodStats(e.uid, e.namespace, e.name, sum(c.memory_working_set_bytes for c in cs),
                        sum(c.cpu_usage_milli for c in cs), 0, running * PIDS_PER_CONTAINER, cs)  # fmt: skip

    def pod_stats(self, node: str) -> list[PodStats]:
        slot = self.node_slot.get(node)
        if slot is None:
            return []
        return [self._pod_stats(self.pod_by_slot[p]) for p in sorted(self.node_pods.get(slot, ()))]

    def pod_usage(self, uid: str) -> dict[str, tuple[int, int]] | None:
        """{container: (cpu millicores, memory working-set bytes)} for the metrics API; None if unknown."""
        e = self.pods.get(uid)
        if e is None:
            return None
        ca = self.c.a
        return {name: (int(round(ca["granted"][s])), int(ca["mem"][s])) for s, name in zip(e.slots, e.names, strict=True)}

    def node_usage(self) -> dict[str, tuple[int, int, int]]:
        """{node: (cpu used milli, memory working set bytes incl. system, cpu demanded milli)} in one pass."""
        nn = self.nodes.n
        na = self.nodes.a
        alive = na["alive"][:nn]
        used = np.rint(na["cpu_used"][:nn]).astype(np.int64).tolist()
        ws = (na["pods_mem"][:nn] + na["overhead"][:nn]).astype(np.int64).tolist()
        dem = np.rint(na["cpu_demand"][:nn]).astype(np.int64).tolist()
        return {self.node_names[i]: (used[i], ws[i], dem[i]) for i in range(nn) if alive[i]}

    # -- summaries for the report ---------------------------------------------------------------
    def _summary(self, e: _Pod) -> dict[str, Any] | None:
        ca = self.c.a
        thr_s, wait_s, ooms = ca["thr_s"], ca["wait_s"], ca["oom"]
        if not any(float(thr_s[s]) > _EPS or float(wait_s[s]) > _EPS or int(ooms[s]) for s in e.slots):
            return None  # most pods: nothing to report, so nothing to build
        conts = []
        for s, name in zip(e.slots, e.names, strict=True):
            run_ticks = self.run_ticks(s)
            thr, wait, oom = float(ca["thr_s"][s]), float(ca["wait_s"][s]), int(ca["oom"][s])
            lim = ca["lim_cpu"][s]
            mlim = ca["lim_mem"][s]
            conts.append({
                "name": name, "run_ticks": run_ticks,
                "throttled_fraction": float(ca["thr_ticks"][s] / run_ticks) if run_ticks else 0.0,
                "wait_fraction": float(ca["wait_ticks"][s] / run_ticks) if run_ticks else 0.0,
                "throttled_seconds": round(thr, 3), "cpu_wait_seconds": round(wait, 3),
                "cpu_demanded_seconds": round(float(ca["dem_s"][s]), 3),
                "cpu_granted_seconds": round(float(ca["grant_s"][s]), 3),
                "cpu_request_milli": int(ca["req_cpu"][s]),
                "cpu_limit_milli": None if np.isinf(lim) else int(round(lim)),
                "memory_request_bytes": int(ca["req_mem"][s]),
                "memory_limit_bytes": None if np.isinf(mlim) else int(mlim),
                "memory_peak_bytes": int(ca["mem_peak"][s]), "oom_kills": oom,
            })  # fmt: skip
        return {"namespace": e.namespace, "name": e.name, "uid": e.uid, "node": e.node, "owner": e.owner,
                "containers": conts}  # fmt: skip

    def pod_summaries(self) -> list[dict[str, Any]]:
        """Every pod (running or gone) that was throttled, starved of CPU or OOM-killed."""
        out = list(self.finished)
        for uid in sorted(self.pods, key=lambda u: (self.pods[u].namespace, self.pods[u].name)):
            s = self._summary(self.pods[uid])
            if s is not None:
                out.append(s)
        return out


def _params(
    per: PerPod | None, pin_cpu: float | None, pin_mem: float | None, req_cpu: tuple[float, ...],
    req_mem: tuple[float, ...],
) -> tuple[float, tuple[list[float], ...], bool]:
    """(startup seconds, the containers' (base_cpu, cpu_rps, startup_cpu, base_mem, mem_rps, leak),
    whether any leaks) of a pod with these requests: pinned by its annotations, from its profile's
    ``per``, or the requests' defaults, each split by the requests. In plain floats (a pod has one
    container or a few): the IEEE operations of the array form, so bitwise its values."""
    zeros = [0.0] * len(req_cpu)
    cpu_per = (per.baseline_cpu, per.cpu_per_rps, per.startup_cpu) if per is not None else None
    mem_per = (per.baseline_memory, per.memory_per_rps, per.leak_per_second) if per is not None else None
    base_cpu, cpu_rps, startup_cpu = _split(pin_cpu, cpu_per, req_cpu, DEFAULT_CPU_MILLI, zeros)
    base_mem, mem_rps, leak = _split(pin_mem, mem_per, req_mem, DEFAULT_MEMORY_BYTES, zeros)
    startup_seconds = per.startup_seconds if per is not None and pin_cpu is None else 0.0
    return startup_seconds, (base_cpu, cpu_rps, startup_cpu, base_mem, mem_rps, leak), any(leak)


def _resources_key(res: Obj) -> tuple[Any, ...] | None:
    """The requests' and limits' (name, quantity) pairs of a container's ``resources``; None when
    they are not mappings of string quantities (then not memoised)."""
    try:
        req = tuple((res.get("requests") or {}).items())
        lim = tuple((res.get("limits") or {}).items())
    except (AttributeError, TypeError):
        return None
    for _, q in (*req, *lim):
        if type(q) is not str:
            return None
    return (req, lim)


def _bounds(res: Obj) -> tuple[Any, ...]:
    """A container's (request cpu, CFS limit, request memory, memory limit, cpu shares) from its
    ``resources`` (pkg/kubelet/cm: the cgroup values of its requests and limits)."""
    try:
        req = resource_list(res.get("requests"))
        lim = resource_list(res.get("limits"))
    except ValueError:
        req, lim = {}, {}
    return (req.get("cpu", 0), cgroups.effective_limit_milli(lim.get("cpu", 0)), req.get("memory", 0),
            float(lim["memory"]) if lim.get("memory") else np.inf, cgroups.milli_cpu_to_shares(req.get("cpu", 0)))  # fmt: skip


def _shares(req: list[float]) -> list[float]:
    """Each request's share of their sum (evenly when the sum is 0). The sum is numpy's (pairwise
    from 8 values on) for more than two values, as the array form computed it."""
    total = sum(req) if len(req) <= 2 else float(np.asarray(req, dtype=np.float64).sum())
    if total > 0:
        return [r / total for r in req]
    return [1.0 / len(req)] * len(req)


def _split(
    pin: float | None, per: tuple[float | None, float, float] | None, requests: tuple[float, ...], default: float,
    zeros: list[float],
) -> tuple[list[float], list[float], list[float]]:
    """One resource's (baseline, per-request/s, third: startup CPU or memory leak) per container:
    the pinned total or the profile's ``per`` (a None baseline: the requests' defaults) split by
    the requests, else the requests' defaults and no more."""
    if pin is None and per is None:
        return [r if r > 0 else default for r in requests], zeros, zeros
    shares = _shares(list(requests))
    if pin is not None:
        return _times(pin, shares), zeros, zeros
    assert per is not None
    baseline, rps, third = per
    base = _times(baseline, shares) if baseline is not None else [r if r > 0 else default for r in requests]
    return base, _times(rps, shares), _times(third, shares)


def _times(factor: float, shares: list[float]) -> list[float]:
    return [factor * s for s in shares]


def _ann_quantity(ann: dict[str, str], key: str, cpu: bool) -> float | None:
    value = ann.get(key)
    if value is None:
        return None
    try:
        return float(cpu_milli(value)) if cpu else float(to_int(value))
    except ValueError:
        return None
