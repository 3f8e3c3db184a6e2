"""The scheduler cache and snapshot (pkg/scheduler/backend/cache/cache.go, snapshot.go).

One object plays both roles: scheduling cycles run synchronously on the event loop, so the cache
is the snapshot of the current cycle. Per-node numbers live in numpy arrays indexed by node slot
(DESIGN.md principle 8) so Filter/Score can run vectorised over every node; ``NodeInfo`` objects
mirror them for per-node plugin calls. Assumed pods (bound in our cache before the API confirms)
count like bound ones, so two pods scheduled at one instant never over-commit a node.

Derived indexes kept incrementally:
- selector counters: for a (namespaces, label selector) pair, matching pods per node slot
  (PodTopologySpread and InterPodAffinity count pods per topology domain from these);
- topology domains: per label key, the domain id of every slot (-1 when the label is missing);
- pods with (anti-)affinity terms, for the "existing pods' anti-affinity" checks;
- nominated pods per node (preemptors waiting for their victims to leave);
- a dirty-slot log: every change to a node's resource numbers (pod attached/detached, node
  allocatable rewritten) appends the slot to ``dirty``; layout changes (node added/removed, arrays
  grown, a new resource row) bump ``epoch`` instead. Per-class caches (equivalence.py) patch the
  slots logged since they were last brought up to date, or rebuild when the epoch moved;
- a node-change log: every node add, removal or change of labels, taints or unschedulable moves
  ``node_generation`` and logs the slot, so per-node values (``per_node``: the node-only filters'
  masks, node scores) are patched for the few nodes that changed instead of recomputed over all.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

import numpy as np

from kubetwin.api import resources
from kubetwin.api.selectors import label_selector_matcher
from kubetwin.scheduler import helpers
from kubetwin.scheduler.framework import NodeInfo, PodInfo

Obj = dict[str, Any]
NsKey = frozenset[str] | None  # None: all namespaces

_BASE_RESOURCES = (helpers.CPU, helpers.MEMORY, helpers.EPHEMERAL)
_MEMO_COUNTERS = "Snapshot/counters"
_SNAPSHOT_IDS = itertools.count()
#: past this many logged slots the dirty log is dropped (epoch bump: every per-class cache rebuilds)
DIRTY_LOG_LIMIT = 1 << 16
#: past this many logged node changes the node-change log starts afresh (per_node values recompute)
NODE_LOG_LIMIT = 1 << 12
#: per_node patches a cached value when at most this many nodes changed since (else recomputes)
PATCH_SLOTS_MAX = 64
#: the values ``epoch`` and ``node_generation`` take: never the same twice (in any snapshot), so a
#: value names one layout and :meth:`Snapshot.rewind` may put an earlier one back
_VERSIONS = itertools.count(1)


class SelectorCounter:
    """Pods per node slot matching every (namespaces, selector) term of a conjunction."""

    __slots__ = ("terms", "counts", "view", "_matchers")

    def __init__(self, terms: list[tuple[NsKey, Obj | None]], capacity: int) -> None:
        self.terms = terms
        self.counts = np.zeros(capacity, dtype=np.int64)
        self.view = self.counts.data  # per-pod updates (Snapshot._attach)
        self._matchers = [(ns, label_selector_matcher(sel)) for ns, sel in terms]

    def current_view(self) -> memoryview:
        """A memoryview of ``counts`` (taken again if the array was replaced)."""
        view = self.view
        if view.obj is not self.counts:
            view = self.view = self.counts.data
        return view

    def matches(self, pi: PodInfo) -> bool:
        for namespaces, selector in self._matchers:
            if namespaces is not None and pi.namespace not in namespaces:
                return False
            if not selector.matches(pi.labels):
                return False
        return True


_RESOURCE_FIELDS = ("containers", "initContainers", "overhead", "resources")


def _same_resources(a: Obj, b: Obj) -> bool:
    """The two pod versions share every spec part their requests derive from (the store shares
    unchanged parts between versions, e.g. a binding only replaces nodeName), so the cached
    requests stand without re-parsing quantities."""
    sa, sb = a.get("spec") or {}, b.get("spec") or {}
    for f in _RESOURCE_FIELDS:
        if sa.get(f) is not sb.get(f):
            return False
    return True


class Snapshot:
    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self.n = 0  # high-water mark of used slots
        self.nodes: list[NodeInfo | None] = []
        self.slot_of: dict[str, int] = {}
        self.free: list[int] = []
        self.res_index: dict[str, int] = {r: i for i, r in enumerate(_BASE_RESOURCES)}
        self.alive = np.zeros(capacity, dtype=bool)
        self.alloc = np.zeros((len(_BASE_RESOURCES), capacity), dtype=np.int64)
        self.requested = np.zeros((len(_BASE_RESOURCES), capacity), dtype=np.int64)
        # alloc - requested, kept in step with both so the Fit filter is one comparison per resource
        self.avail = np.zeros((len(_BASE_RESOURCES), capacity), dtype=np.int64)
        # non-zero requested (cpu row 0, memory row 1) for LeastAllocated/MostAllocated scoring
        self.nz = np.zeros((2, capacity), dtype=np.int64)
        self.pod_count = np.zeros(capacity, dtype=np.int64)
        self.allowed_pods = np.zeros(capacity, dtype=np.int64)
        self._alive_slots: np.ndarray | None = None  # cache of alive_slots(), reset on node add/remove
        self._no_cpu_mem: set[int] = set()  # live slots whose cpu or memory allocatable is <= 0
        self.full: set[int] = set()  # live slots with pod_count >= allowed_pods (no room for a pod)
        self.pods: dict[str, PodInfo] = {}  # key -> assigned/assumed pod
        self._priorities: dict[int, int] = {}  # priority -> pods attached to a node with it
        self._ghosts = 0  # pods in ``pods`` attached to no node (slot -1): add_node looks for them
        self.assumed: set[str] = set()
        # a new version on any node add/update/delete (invalidates node masks)
        self.node_generation = next(_VERSIONS)
        # the node-change log: (slot, node_generation after the change) per change that moved
        # node_generation, from _node_log_base on (see node_changes_since)
        self._node_log: list[tuple[int, int]] = []
        self._node_log_base = self.node_generation
        self._node_log_drops = 0
        self.counters: dict[tuple[Any, ...], SelectorCounter] = {}
        self._counter_list: list[SelectorCounter] = []  # the counters in the order they came
        self.uid = next(_SNAPSHOT_IDS)
        # label key -> (node_generation, domain id per slot, names, node-change log length,
        # name -> id)
        self._domains: dict[str, tuple[int, np.ndarray, list[str], int, dict[str, int]]] = {}
        self.with_affinity: dict[str, PodInfo] = {}  # assigned pods that have pod (anti-)affinity
        self.nominated: dict[int, dict[str, PodInfo]] = {}  # slot -> preemptors nominated there
        self.nominated_slot: dict[str, int] = {}
        self.ports_in_use = 0  # number of assigned pods using host ports
        self._masks: dict[Any, tuple[int, Any, int, int]] = {}  # per_node: (generation, value, log length, capacity)
        # Affinity terms carried by assigned pods, grouped by identity: key -> [payload, per-slot count]
        self.term_extractor: Any = None
        self.term_groups: dict[Any, list[Any]] = {}
        self.dirty: list[int] = []  # slots whose resource numbers changed, in order (see module doc)
        self.epoch = next(_VERSIONS)  # a new version when slots come, go or the arrays are reallocated
        self._drops = 0  # times the dirty log was dropped
        self._sums: dict[tuple[int, str], list[Any]] = {}  # domain_sums entries
        self._refresh_views()

    @property
    def nz_cpu(self) -> np.ndarray:
        return self.nz[0]

    @property
    def nz_mem(self) -> np.ndarray:
        return self.nz[1]

    # -- capacity -----------------------------------------------------------------------------
    def _grow(self, need: int) -> None:
        if need <= self.capacity:
            return
        cap = self.capacity
        while cap < need:
            cap *= 2

        def grow1(a: np.ndarray) -> np.ndarray:
            b = np.zeros(cap, dtype=a.dtype)
            b[: self.capacity] = a
            return b

        def grow2(a: np.ndarray) -> np.ndarray:
            b = np.zeros((a.shape[0], cap), dtype=a.dtype)
            b[:, : self.capacity] = a
            return b

        self.alive = grow1(self.alive)
        self.pod_count, self.allowed_pods = grow1(self.pod_count), grow1(self.allowed_pods)
        self.alloc, self.requested, self.avail = grow2(self.alloc), grow2(self.requested), grow2(self.avail)
        self.nz = grow2(self.nz)
        for c in self.counters.values():
            c.counts = grow1(c.counts)
            c.view = c.counts.data
        self.capacity = cap
        self.epoch = next(_VERSIONS)
        self._refresh_views()

    def _check_views(self) -> None:
        """Take the views again if an array was replaced (here or by a caller)."""
        if (
            self._v_requested.obj is not self.requested
            or self._v_avail.obj is not self.avail
            or self._v_nz.obj is not self.nz
            or self._v_pod_count.obj is not self.pod_count
            or self._v_allowed_pods.obj is not self.allowed_pods
        ):
            self._refresh_views()

    def _refresh_views(self) -> None:
        """Memoryviews of the per-slot arrays, for the per-pod updates (a numpy scalar read or
        write costs ~3x a memoryview's); taken again whenever an array is replaced."""
        self._v_requested = self.requested.data
        self._v_avail = self.avail.data
        self._v_nz = self.nz.data
        self._v_pod_count = self.pod_count.data
        self._v_allowed_pods = self.allowed_pods.data

    def resource_row(self, name: str) -> int:
        row = self.res_index.get(name)
        if row is None:
            row = len(self.res_index)
            self.res_index[name] = row
            self.epoch = next(_VERSIONS)
            self.alloc = np.vstack([self.alloc, np.zeros((1, self.capacity), dtype=np.int64)])
            self.requested = np.vstack([self.requested, np.zeros((1, self.capacity), dtype=np.int64)])
            self.avail = np.vstack([self.avail, np.zeros((1, self.capacity), dtype=np.int64)])
            self._refresh_views()
            for ni in self.nodes:
                if ni is not None:
                    self.alloc[row, ni.slot] = ni.allocatable.get(name, 0)
                    self.requested[row, ni.slot] = ni.requested.get(name, 0)
                    self.avail[row, ni.slot] = self.alloc[row, ni.slot] - self.requested[row, ni.slot]
        return row

    # -- nodes --------------------------------------------------------------------------------
    def node_infos(self) -> Iterable[NodeInfo]:
        return (ni for ni in self.nodes if ni is not None)

    def num_nodes(self) -> int:
        return len(self.slot_of)

    def get(self, name: str) -> NodeInfo | None:
        s = self.slot_of.get(name)
        return None if s is None else self.nodes[s]

    def _write_node_arrays(self, ni: NodeInfo) -> None:
        s = ni.slot
        for name, v in ni.allocatable.items():
            if name == helpers.PODS:
                continue
            row = self.resource_row(name)  # may grow the arrays: resolve before indexing
            self.alloc[row, s] = v
        for name, row in self.res_index.items():
            if name not in ni.allocatable:
                self.alloc[row, s] = 0
        self.avail[:, s] = self.alloc[:, s] - self.requested[:, s]
        self.allowed_pods[s] = ni.allowed_pods
        self.dirty.append(s)
        self._update_full(s)
        if self.alloc[0, s] > 0 and self.alloc[1, s] > 0:
            self._no_cpu_mem.discard(s)
        else:
            self._no_cpu_mem.add(s)

    def add_node(self, node: Obj) -> NodeInfo:
        name = node["metadata"]["name"]
        s = self.slot_of.get(name)
        if s is not None:
            return self.update_node(node)
        if self.free:
            s = min(self.free)
            self.free.remove(s)
        else:
            s = self.n
            self.n += 1
            self._grow(self.n)
        ni = NodeInfo(node, s)
        if s < len(self.nodes):
            self.nodes[s] = ni
        else:
            self.nodes.append(ni)
        self.slot_of[name] = s
        self.alive[s] = True
        self.requested[:, s] = 0
        self._write_node_arrays(ni)
        self.nz[:, s] = 0
        self.pod_count[s] = 0
        self._update_full(s)
        self._alive_slots = None
        for c in self.counters.values():
            c.counts[s] = 0
        self._clear_terms(s)
        # Pods that reference this node before the node arrived (informer order) attach now.
        if self._ghosts:
            for pi in self.pods.values():
                if pi.slot == -1 and (pi.pod.get("spec") or {}).get("nodeName") == name:
                    self._attach(pi, s)
                    self._ghosts -= 1
        before = self.node_generation
        self._node_changed(s)
        self._domains_after_add(ni, before)
        self.epoch = next(_VERSIONS)
        return ni

    def update_node(self, node: Obj) -> NodeInfo:
        name = node["metadata"]["name"]
        s = self.slot_of.get(name)
        if s is None:
            return self.add_node(node)
        ni = self.nodes[s]
        assert ni is not None
        prev = ni.node
        if (
            node.get("spec") is prev.get("spec")
            and node["metadata"].get("labels") is prev["metadata"].get("labels")
            and (node.get("status") or {}).get("allocatable") is (prev.get("status") or {}).get("allocatable")
        ):
            # A status write that kept spec, labels and allocatable (the kubelet's heartbeat): nothing
            # the arrays or masks hold changed; plugins reading the object see the new one.
            ni.node = node
            ni.generation += 1
            return ni
        old = (ni.labels, ni.taints, (ni.node.get("spec") or {}).get("unschedulable"))
        ni.set_node(node)
        self._write_node_arrays(ni)
        if old != (ni.labels, ni.taints, (node.get("spec") or {}).get("unschedulable")):
            self._node_changed(s)  # only scheduling-relevant changes invalidate node masks
        return ni

    def remove_node(self, name: str) -> None:
        s = self.slot_of.pop(name, None)
        if s is None:
            return
        ni = self.nodes[s]
        self.nodes[s] = None
        self.alive[s] = False
        self.alloc[:, s] = 0
        self.requested[:, s] = 0
        self.avail[:, s] = 0
        self.allowed_pods[s] = 0
        self.pod_count[s] = 0
        self.nz[:, s] = 0
        self._alive_slots = None
        self._no_cpu_mem.discard(s)
        self.full.discard(s)
        for c in self.counters.values():
            c.counts[s] = 0
        self._clear_terms(s)
        if ni is not None:
            for pi in ni.pods.values():
                pi.slot = -1  # pods stay in the cache until their delete event (upstream keeps a ghost)
                self._uncount_priority(pi.priority)
            self._ghosts += len(ni.pods)
        for key in list(self.nominated.get(s, {})):
            self.clear_nomination(key)
        self.free.append(s)
        self._node_changed(s)
        self._domains.clear()
        self.epoch = next(_VERSIONS)

    def _node_changed(self, s: int) -> None:
        """Slot ``s``'s node came, went or changed labels, taints or unschedulable: a new
        node_generation, logged with the slot."""
        self.node_generation = next(_VERSIONS)
        log = self._node_log
        if len(log) >= NODE_LOG_LIMIT:
            log.clear()
            self._node_log_drops += 1
            self._node_log_base = self.node_generation
            return
        log.append((s, self.node_generation))

    def node_changes_since(self, generation: int, pos: int) -> set[int] | None:
        """The slots whose node changed since node_generation ``generation``, when the node-change
        log had length ``pos``; None when that point is not in the log (cleared, or rewound past:
        generations are never reused, so the entry before ``pos`` must still be the one made then)."""
        log = self._node_log
        if pos > len(log):
            return None
        if (log[pos - 1][1] if pos else self._node_log_base) != generation:
            return None
        return {s for s, _ in log[pos:]}

    # -- pods ---------------------------------------------------------------------------------
    def _attach(self, pi: PodInfo, s: int) -> None:
        ni = self.nodes[s]
        assert ni is not None
        pi.slot = s
        ni.add_pod(pi)
        self.dirty.append(s)
        self._priorities[pi.priority] = self._priorities.get(pi.priority, 0) + 1
        self._check_views()
        v_req, v_avail = self._v_requested, self._v_avail
        for name, v in pi.requests.items():
            if name == helpers.PODS:
                continue
            row = self.res_index.get(name)
            if row is None:  # a new resource row: the arrays (and their views) are replaced
                row = self.resource_row(name)
                v_req, v_avail = self._v_requested, self._v_avail
            v_req[row, s] += v
            v_avail[row, s] -= v
        v_nz = self._v_nz
        v_nz[0, s] += pi.nonzero[0]
        v_nz[1, s] += pi.nonzero[1]
        count = self._v_pod_count[s] + 1
        self._v_pod_count[s] = count
        if count >= self._v_allowed_pods[s]:
            self.full.add(s)
        if self.counters:
            listed = self._counter_list
            for i in self._matching_counters(pi):
                listed[i].current_view()[s] += 1
        if pi.ports:
            self.ports_in_use += 1
        if pi.has_affinity and self.term_extractor is not None:
            self._count_terms(pi, s, 1)

    def _detach(self, pi: PodInfo) -> None:
        s = pi.slot
        if s < 0:
            return
        ni = self.nodes[s]
        if ni is None or not ni.remove_pod(pi):
            pi.slot = -1
            return
        self.dirty.append(s)
        self._uncount_priority(pi.priority)
        self._check_views()
        v_req, v_avail, res_index = self._v_requested, self._v_avail, self.res_index
        for name, v in pi.requests.items():
            if name == helpers.PODS:
                continue
            row = res_index[name]
            v_req[row, s] -= v
            v_avail[row, s] += v
        v_nz = self._v_nz
        v_nz[0, s] -= pi.nonzero[0]
        v_nz[1, s] -= pi.nonzero[1]
        count = self._v_pod_count[s] - 1
        self._v_pod_count[s] = count
        if s in self.full and count < self._v_allowed_pods[s]:
            self.full.discard(s)
        if self.counters:
            listed = self._counter_list
            for i in self._matching_counters(pi):
                listed[i].current_view()[s] -= 1
        if pi.ports:
            self.ports_in_use -= 1
        if pi.has_affinity and self.term_extractor is not None:
            self._count_terms(pi, s, -1)
        pi.slot = -1

    def _matching_counters(self, pi: PodInfo) -> tuple[int, ...]:
        """Positions in ``_counter_list`` of the selector counters ``pi`` counts in, kept in its
        memo (which goes when its labels do) for this snapshot until a counter is added (counters
        are only ever added). The memo names the snapshot by number: it must not keep it alive."""
        hit = pi.memo.get(_MEMO_COUNTERS)
        listed = self._counter_list
        if hit is not None and hit[0] == self.uid and hit[1] == len(listed):
            return hit[2]
        out = tuple(i for i, c in enumerate(listed) if c.matches(pi))
        pi.memo[_MEMO_COUNTERS] = (self.uid, len(listed), out)
        return out

    def _uncount_priority(self, priority: int) -> None:
        left = self._priorities[priority] - 1
        if left:
            self._priorities[priority] = left
        else:
            del self._priorities[priority]

    def lowest_priority(self) -> int | None:
        """The lowest priority of any pod on a node (assumed ones included); None without pods.
        Preemption's dry run finds no victim anywhere for a pod at or below it."""
        return min(self._priorities) if self._priorities else None

    def add_pod(self, pod: Obj, pi: PodInfo | None = None) -> PodInfo:
        """A pod assigned to ``spec.nodeName`` (from the informer) or assumed by the scheduler."""
        meta = pod["metadata"]
        key = f"{meta.get('namespace', '')}/{meta['name']}"
        old = self.pods.get(key)
        if old is not None:
            if old.uid == meta.get("uid", "") and old.pod is pod:
                return old
            self.remove_pod(key)
        if pi is None:
            pi = PodInfo(pod)
        self.pods[key] = pi
        s = self.slot_of.get((pod.get("spec") or {}).get("nodeName", ""), -1)
        if s >= 0:
            self._attach(pi, s)
        else:
            pi.slot = -1
            self._ghosts += 1
        if pi.has_affinity:
            self.with_affinity[key] = pi
        return pi

    def update_pod(self, pod: Obj) -> PodInfo:
        meta = pod["metadata"]
        key = f"{meta.get('namespace', '')}/{meta['name']}"
        old = self.pods.get(key)
        if old is not None and old.uid == meta.get("uid", ""):
            node_name = (pod.get("spec") or {}).get("nodeName", "")
            if (
                old.slot >= 0
                and self.nodes[old.slot] is not None
                and self.nodes[old.slot].name == node_name  # type: ignore[union-attr]
                and (old.labels is meta.get("labels") or old.labels == (meta.get("labels") or {}))
                and (_same_resources(old.pod, pod) or old.requests == resources.pod_requests(pod))
            ):
                old.pod = pod  # cheap path: the assignment is unchanged
                self.assumed.discard(key)
                return old
        self.assumed.discard(key)
        return self.add_pod(pod)

    def refresh_pod(self, key: str, old: Obj, new: Obj) -> bool:
        """update_pod(new) for a write that changed only ``old``'s status, when the cache holds
        ``old`` attached to its node: the cached PodInfo takes ``new`` (uid, node, labels and
        requests are ``old``'s, which it was checked against). False (nothing done) otherwise."""
        pi = self.pods.get(key)
        if pi is None or pi.pod is not old or pi.slot < 0:
            return False
        ni = self.nodes[pi.slot]
        if ni is None or ni.name != (new.get("spec") or {}).get("nodeName", ""):
            return False
        pi.pod = new
        self.assumed.discard(key)
        return True

    def remove_pod(self, key: str) -> PodInfo | None:
        pi = self.pods.pop(key, None)
        if pi is None:
            return None
        if pi.slot < 0:
            self._ghosts -= 1
        self._detach(pi)
        self.with_affinity.pop(key, None)
        self.assumed.discard(key)
        return pi

    def remove_pod_of_leaving_node(self, key: str) -> None:
        """remove_pod for a pod attached to a node that the caller removes next (remove_node, with
        nothing read in between; SimCluster.revert dropping a node added while forked): the pod
        leaves the cache and its node's pods, but the slot's numbers (arrays, counters, terms,
        the NodeInfo's sums, the dirty log) are not brought down one pod at a time: remove_node
        clears the slot and starts a new epoch. Counts kept across slots go down as remove_pod's."""
        pi = self.pods.pop(key)
        ni = self.nodes[pi.slot]
        assert ni is not None, "the pod's node is gone already"
        del ni.pods[key]
        self._uncount_priority(pi.priority)
        if pi.ports:
            self.ports_in_use -= 1
        pi.slot = -1
        self.with_affinity.pop(key, None)
        self.assumed.discard(key)

    def assume(self, pi: PodInfo, node_name: str) -> None:
        """AssumePod: count the pod on the node before the binding lands."""
        s = self.slot_of[node_name]
        old = self.pods.get(pi.key)
        if old is not None:
            self.remove_pod(pi.key)
        self.pods[pi.key] = pi
        self._attach(pi, s)
        if pi.has_affinity:
            self.with_affinity[pi.key] = pi
        self.assumed.add(pi.key)

    def forget(self, pi: PodInfo) -> None:
        if pi.key in self.assumed:
            self.remove_pod(pi.key)

    def _clear_terms(self, s: int) -> None:
        """A slot that goes away or is taken by another node starts with no affinity terms counted
        (ghost pods of a removed node no longer count there; they count again if it comes back)."""
        for g in self.term_groups.values():
            if s < len(g[1]):
                g[1][s] = 0

    def _count_terms(self, pi: PodInfo, s: int, delta: int) -> None:
        for key, payload in self.term_extractor(pi):
            g = self.term_groups.get(key)
            if g is None:
                g = self.term_groups[key] = [payload, np.zeros(self.capacity, dtype=np.int64)]
            elif len(g[1]) < self.capacity:
                g[1] = np.concatenate([g[1], np.zeros(self.capacity - len(g[1]), dtype=np.int64)])
            g[1][s] += delta

    # -- nominated pods -----------------------------------------------------------------------
    def nominate(self, pi: PodInfo, node_name: str) -> None:
        self.clear_nomination(pi.key)
        s = self.slot_of.get(node_name)
        if s is None:
            return
        self.nominated.setdefault(s, {})[pi.key] = pi
        self.nominated_slot[pi.key] = s

    def clear_nomination(self, key: str) -> None:
        s = self.nominated_slot.pop(key, None)
        if s is not None:
            bucket = self.nominated.get(s)
            if bucket is not None:
                bucket.pop(key, None)
                if not bucket:
                    del self.nominated[s]

    def nominated_on(self, slot: int, pod: PodInfo) -> list[PodInfo]:
        """Nominated pods on ``slot`` with priority >= the pod's (excluding the pod itself)."""
        bucket = self.nominated.get(slot)
        if not bucket:
            return []
        return [p for k, p in bucket.items() if k != pod.key and p.priority >= pod.priority]

    # -- derived indexes ----------------------------------------------------------------------
    def counter(self, namespaces: NsKey, selector: Obj | None, selector_key: Any = None) -> np.ndarray:
        """Matching pods per node slot for (namespaces, selector), maintained incrementally
        (``selector_key``: helpers.selector_key(selector), when the caller keeps it)."""
        if selector_key is None:
            return self.counter_all([(namespaces, selector)])
        return self._counter(((namespaces, selector_key),), [(namespaces, selector)])

    def counter_all(self, terms: list[tuple[NsKey, Obj | None]]) -> np.ndarray:
        return self._counter(tuple((ns, helpers.selector_key(sel)) for ns, sel in terms), terms)

    def _counter(self, key: tuple[Any, ...], terms: list[tuple[NsKey, Obj | None]]) -> np.ndarray:
        c = self.counters.get(key)
        if c is None:
            c = SelectorCounter(terms, self.capacity)
            for pi in self.pods.values():
                if pi.slot >= 0 and c.matches(pi):
                    c.counts[pi.slot] += 1
            self.counters[key] = c
            self._counter_list.append(c)
        return c.counts

    def domains(self, key: str) -> tuple[np.ndarray, list[str]]:
        """Topology domain id per slot for label ``key`` (-1: node lacks the label)."""
        cached = self._domains.get(key)
        if cached is not None:
            if cached[0] == self.node_generation:
                return cached[1], cached[2]
            if self._same_domains(key, cached):
                self._domains[key] = (self.node_generation, cached[1], cached[2], len(self._node_log), cached[4])
                return cached[1], cached[2]
        ids = np.full(self.capacity, -1, dtype=np.int64)
        names: list[str] = []
        index: dict[str, int] = {}
        for ni in self.nodes:
            if ni is None:
                continue
            v = ni.labels.get(key)
            if v is None:
                continue
            d = index.get(v)
            if d is None:
                d = index[v] = len(names)
                names.append(v)
            ids[ni.slot] = d
        self._domains[key] = (self.node_generation, ids, names, len(self._node_log), index)
        return ids, names

    def _domains_after_add(self, ni: NodeInfo, before: int) -> None:
        """add_node's upkeep of domains(): a node on the last slot is the last one a rebuild
        visits, so an entry that held before it came (current at node_generation ``before``, or
        made earlier with every node changed since keeping its value, as _same_domains asks)
        takes its value (an existing id, or a new one after the others) as a rebuild would number
        it, in new arrays (holders keep theirs); any other add drops every entry (a rebuild
        renumbers)."""
        entries = self._domains
        if not entries:
            return
        if ni.slot != self.n - 1:
            entries.clear()
            return
        pos = len(self._node_log)
        for key, (gen, ids, names, at, index) in list(entries.items()):
            if gen != before:  # nodes changed since it was made: it holds if they kept their value
                slots = self.node_changes_since(gen, at)
                if slots is None or not self._labels_kept(key, ids, names, slots - {ni.slot}):
                    del entries[key]
                    continue
            new_ids = np.full(self.capacity, -1, dtype=np.int64)
            new_ids[: len(ids)] = ids
            v = ni.labels.get(key)
            if v is not None:
                d = index.get(v)
                if d is None:
                    d = index[v] = len(names)  # the index is the entry's own
                    names = [*names, v]
                new_ids[ni.slot] = d
            entries[key] = (self.node_generation, new_ids, names, pos, index)

    def _same_domains(self, key: str, cached: tuple[int, np.ndarray, list[str], int, dict[str, int]]) -> bool:
        """The nodes changed since ``cached`` (a domains() entry) was made all kept their value of
        label ``key`` (e.g. a taint came or went): the same ids and names hold."""
        gen, ids, names, pos, _ = cached
        if len(ids) != self.capacity:
            return False
        slots = self.node_changes_since(gen, pos)
        return slots is not None and self._labels_kept(key, ids, names, slots)

    def _labels_kept(self, key: str, ids: np.ndarray, names: list[str], slots: set[int]) -> bool:
        """The nodes on ``slots`` (a few) have the value of label ``key`` that ``ids`` and
        ``names`` give them."""
        if len(slots) > PATCH_SLOTS_MAX:
            return False
        for s in slots:
            ni = self.nodes[s]
            d = int(ids[s])
            if (None if ni is None else ni.labels.get(key)) != (None if d < 0 else names[d]):
                return False
        return True

    def domain_sums(self, per_slot: np.ndarray, key: str) -> np.ndarray:
        """Σ ``per_slot`` over the live slots of each topology domain of label ``key`` (int64 by
        domain id; read-only), for per-slot arrays this snapshot maintains (selector counters,
        term groups). Kept current from the dirty-slot log: their entries only change when a pod
        is attached to or detached from the slot."""
        ck = (id(per_slot), key)
        e = self._sums.get(ck)
        if e is not None and e[0] is per_slot and e[1] == self.node_generation:
            dirty = self.dirty_since(e[2], e[3])
            if dirty is not None:
                sums, seen, d = e[4], e[5], e[6]
                for s in dirty:
                    di = d[s]
                    if di >= 0:
                        v = int(per_slot[s])
                        if v != seen[s]:
                            sums[di] += v - seen[s]
                            seen[s] = v
                e[3] = len(self.dirty)
                return sums
        if len(self._sums) > 256:
            self._sums.clear()
        ids, names = self.domains(key)
        n = self.n
        d = ids[:n]
        counts = per_slot[:n]
        ok = d >= 0
        sums = np.bincount(d[ok], weights=counts[ok], minlength=len(names)).astype(np.int64)
        self._sums[ck] = [per_slot, self.node_generation, self.epoch, len(self.dirty), sums, counts.tolist(), d.tolist()]
        return sums

    def per_node(self, key: Any, fn: Any, patch: Any = None) -> Any:
        """Cache ``fn(self)`` (a per-node mask/array, read-only) under ``key`` until nodes change.
        With ``patch``: when a few nodes changed since it was cached (node_changes_since) and the
        arrays kept their size, ``patch(self, value, slots)`` gives the new value from the cached one
        (without changing it), recomputing only those slots; it must equal ``fn(self)``."""
        hit = self._masks.get(key)
        gen = self.node_generation
        if hit is not None:
            if hit[0] == gen:
                return hit[1]
            if patch is not None and hit[3] == self.capacity:
                slots = self.node_changes_since(hit[0], hit[2])
                if slots is not None and len(slots) <= PATCH_SLOTS_MAX:
                    value = patch(self, hit[1], sorted(slots))
                    self._masks[key] = (gen, value, len(self._node_log), self.capacity)
                    return value
        if len(self._masks) > 4096:
            self._masks.clear()
        value = fn(self)
        self._masks[key] = (gen, value, len(self._node_log), self.capacity)
        return value

    def dirty_since(self, epoch: int, pos: int) -> set[int] | None:
        """Slots whose resource numbers or pods changed since the log position ``pos`` of
        ``epoch``; None when that point is gone (layout change, or the log was dropped)."""
        if len(self.dirty) > DIRTY_LOG_LIMIT:
            self.dirty.clear()
            self._drops += 1
            self.epoch = next(_VERSIONS)
        if epoch != self.epoch:
            return None
        if pos == len(self.dirty):
            return set()
        return set(self.dirty[pos:])

    def layout_mark(self) -> tuple[int, ...]:
        """A point to :meth:`rewind` to once every change made after it has been undone; a new
        epoch starts (what is cached from now on is for the changed snapshot)."""
        mark = (self.epoch, self.node_generation, len(self.dirty), self.capacity, len(self.res_index), self._drops,
                len(self._node_log), self._node_log_drops)  # fmt: skip
        self.epoch = next(_VERSIONS)
        return mark

    def rewind(self, mark: tuple[int, ...]) -> None:
        """Every change since ``mark`` (:meth:`layout_mark`) was undone (clustersnapshot's Revert:
        the same nodes and pods on the same slots, the same numbers): give back that point's epoch,
        node_generation and dirty log, so that what was cached for it holds again. Not when the
        arrays were reallocated, a resource row came or the log was dropped meanwhile."""
        epoch, generation, pos, capacity, rows, drops, node_pos, node_drops = mark
        if (capacity, rows, drops, node_drops) != (self.capacity, len(self.res_index), self._drops, self._node_log_drops):
            return
        del self.dirty[pos:]
        del self._node_log[node_pos:]
        self.epoch, self.node_generation = epoch, generation

    def _update_full(self, s: int) -> None:
        if self.pod_count[s] >= self.allowed_pods[s]:
            self.full.add(s)
        else:
            self.full.discard(s)

    def cpu_mem_allocatable(self) -> bool:
        """Every live node has positive cpu and memory allocatable (scorers may skip per-node checks)."""
        return not self._no_cpu_mem

    def alive_slots(self) -> np.ndarray:
        """Slots of the live nodes, in node order (read-only: cached until a node comes or goes)."""
        if self._alive_slots is None:
            self._alive_slots = np.flatnonzero(self.alive[: self.n])
            self._alive_slots.flags.writeable = False
        return self._alive_slots
