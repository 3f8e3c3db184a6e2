"""In-memory cluster snapshot for the autoscaler's what-if questions, run through the twin's own
scheduler framework (cluster-autoscaler/simulator/clustersnapshot + simulator/predicatechecker:
upstream vendors kube-scheduler's framework and runs the default profile's PreFilter/Filter).

A :class:`SimCluster` holds Nodes (real or template) and pods placed on them in a scheduler
``Snapshot``; :meth:`check` answers "would the scheduler accept this pod on that node" with the
scheduler's Status (reasons as the scheduler words them), :meth:`find_node` is first-fit over a list
of nodes, :meth:`place` puts a pod on a node in the snapshot only. :meth:`SimCluster.fork` /
:meth:`SimCluster.revert` are clustersnapshot's Fork/Revert: while forked, every change is logged
with its inverse and revert undoes them newest first, leaving the snapshot as it was.

:class:`BaseSnapshot` is the cluster itself in one SimCluster kept across scans: informer handlers
only note which nodes and pods changed, :meth:`BaseSnapshot.sync` applies those changes before a
scan uses it, and each scan forks it, adds its what-ifs and reverts (instead of building a snapshot
of every node and bound pod each scan).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from typing import Any

from kubetwin.api import nodestatus
from kubetwin.api import podchanges as pc
from kubetwin.api.podchanges import pod_changes
from kubetwin.scheduler.cache import Snapshot
from kubetwin.scheduler.framework import Code, CycleState, Framework, NodeInfo, PodInfo, Profile, Status
from kubetwin.scheduler.plugins import REGISTRY
from kubetwin.scheduler.plugins.noderesources import FIT

Obj = dict[str, Any]

# first-fit checks this many nodes' room one by one before it asks for every node's at once
_FIT_ONE_BY_ONE = 16
# ... and after this many nodes failed every filter, asks which nodes the node-only filters reject
_NODE_ONLY_AFTER = 3

# Extension points the simulation needs; binding, preemption and scoring are never run.
_SIM_PLUGINS = ("NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodePorts",
                "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity")  # fmt: skip
def sim_profile() -> Profile:
    base = Profile.default()
    base.plugins = [p for p in base.plugins if p.name in _SIM_PLUGINS]
    return base


# How a pod was held before a logged change: (its PodInfo, assumed, node name or None), or None
# when the snapshot did not have it.
_Held = tuple[PodInfo, bool, str | None] | None


class SimCluster:
    def __init__(self, informers: Any = None, rng: Any = None) -> None:
        self.snapshot = Snapshot()
        self.framework = Framework(sim_profile(), self.snapshot, REGISTRY, None, informers, rng)
        self._fit = self.framework.plugin(FIT)
        # the filters that read only the Node object (Plugin.NODE_ONLY_FILTER): their vectorised
        # verdicts hold until the snapshot's node_generation moves
        self._node_only = [p for p in self.framework.filter_plugins if p.NODE_ONLY_FILTER]
        # fit class and skipped filters -> (node_generation, per slot: what was asked (NodeInfo, node, spec,
        # labels), whether a node-only filter rejects the pod there)
        self._node_only_rejects: dict[Any, tuple[int, list[Any], list[bool]]] = {}
        # undo log of the open forks: ("node-", name) | ("node~", previous node) | ("pod", key, held)
        self._undo: list[tuple[Any, ...]] = []
        # per fork: (log length, slot mark, free slots, the snapshot's Snapshot.layout_mark)
        self._marks: list[tuple[int, int, list[int], tuple[int, ...]]] = []

    # -- contents --------------------------------------------------------------------------------
    def add_node(self, node: Obj) -> NodeInfo:
        if self._marks:
            ni = self.snapshot.get(node["metadata"]["name"])
            self._undo.append(("node-", node["metadata"]["name"]) if ni is None else ("node~", ni.node))
        return self.snapshot.add_node(node)

    def remove_node(self, name: str) -> None:
        if self._marks:
            raise RuntimeError("SimCluster.remove_node while forked")
        self.snapshot.remove_node(name)

    def add_bound_pod(self, pod: Obj, pi: PodInfo | None = None) -> PodInfo:
        """A pod already on ``spec.nodeName`` (``pi``: its PodInfo, when the caller has one)."""
        if not self._marks:
            return self.snapshot.add_pod(pod, pi)
        key = _key(pod)
        held = self._held(key)
        out = self.snapshot.add_pod(pod, pi)
        if held is None or out is not held[0]:
            self._undo.append(("pod", key, held))
        return out

    def place(self, pi: PodInfo, node_name: str) -> None:
        """Count ``pi`` on ``node_name`` (the snapshot's AssumePod)."""
        if self._marks:
            self._undo.append(("pod", pi.key, self._held(pi.key)))
        self.snapshot.assume(pi, node_name)

    def unplace(self, key: str) -> None:
        if self._marks:
            held = self._held(key)
            if held is None:
                return
            self._undo.append(("pod", key, held))
        self.snapshot.remove_pod(key)

    # -- fork / revert -----------------------------------------------------------------------------
    @property
    def forked(self) -> bool:
        return bool(self._marks)

    def fork(self) -> None:
        """Start logging changes so that :meth:`revert` can undo them (forks nest)."""
        snap = self.snapshot
        self._marks.append((len(self._undo), snap.n, list(snap.free), snap.layout_mark()))

    def revert(self) -> None:
        """Undo every change since the matching :meth:`fork`, newest first: the same nodes, the
        same PodInfo objects held the same way (bound or assumed) on the same slots, so every
        array, counter and index holds what it held before; so do the snapshot's epoch,
        node_generation and dirty log (Snapshot.rewind): caches kept for the snapshot before the
        fork hold again (the passes of a scan after its scale-up's fork), those made during it
        (another epoch) never do. Pods on a node added while forked (scale-up's placements on
        upcoming nodes) leave with it rather than one by one (Snapshot.remove_pod_of_leaving_node)."""
        mark, n, free, layout = self._marks.pop()
        snap = self.snapshot
        undo = self._undo
        pods = snap.pods
        # slots of the nodes added while forked: their pods leave with them (not one by one)
        leaving = {snap.slot_of[e[1]] for e in undo[mark:] if e[0] == "node-"}
        while len(undo) > mark:
            entry = undo.pop()
            kind = entry[0]
            if kind == "pod":
                pi = pods.get(entry[1])
                if pi is not None and pi.slot in leaving:
                    snap.remove_pod_of_leaving_node(entry[1])
                elif pi is not None:  # (a moved pod's first entry: undoing its placement took it out)
                    snap.remove_pod(entry[1])
                held = entry[2]
                if held is not None:
                    self._restore(*held)
            elif kind == "node-":
                snap.remove_node(entry[1])
            else:
                snap.update_node(entry[1])
        if snap.n > n:  # slots handed out during the fork are free again: give back the layout
            assert all(ni is None for ni in snap.nodes[n:]), "a node added during the fork is left"
            del snap.nodes[n:]
            snap.n = n
        snap.free = free
        snap.rewind(layout)

    def _held(self, key: str) -> _Held:
        snap = self.snapshot
        pi = snap.pods.get(key)
        if pi is None:
            return None
        ni = snap.nodes[pi.slot] if pi.slot >= 0 else None
        return (pi, key in snap.assumed, ni.name if ni is not None else None)

    def _restore(self, pi: PodInfo, assumed: bool, node_name: str | None) -> None:
        snap = self.snapshot
        if assumed and node_name is not None:
            snap.assume(pi, node_name)
        else:
            snap.add_pod(pi.pod, pi)
            if assumed:
                snap.assumed.add(pi.key)

    def pods_on(self, node_name: str) -> list[PodInfo]:
        ni = self.snapshot.get(node_name)
        return list(ni.pods.values()) if ni is not None else []

    def node_names(self) -> list[str]:
        return [ni.name for ni in self.snapshot.node_infos()]

    # -- predicates ------------------------------------------------------------------------------
    def check(self, pi: PodInfo, node_name: str) -> Status:
        """PreFilter + Filter of ``pi`` against one node (PredicateChecker.CheckPredicates)."""
        ni = self.snapshot.get(node_name)
        if ni is None:
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f"node {node_name} not found")
        state = CycleState()
        st = self.framework.run_pre_filter(state, pi)
        if not st.is_success():
            return st
        return self.framework.run_filter(state, pi, ni)

    def first_fit(self, pi: PodInfo, candidates: Sequence[str], start: int = 0,
                  skip: Container[str] = ()) -> int | None:  # fmt: skip
        """Index of the first of ``candidates[start:]`` (not in ``skip``) that passes every
        filter; ``len(candidates)`` when none does; None when PreFilter rejects the pod. After a
        few nodes failed the filters, the nodes the node-only filters reject (another pool's
        labels or taints) are passed over unread."""
        state = CycleState()
        fw = self.framework
        if not fw.run_pre_filter(state, pi).is_success():
            return None
        get = self.snapshot.get
        fit = self._fit if self._fit is not None and self._fit.NAME not in state.skip_filter else None
        rejected: list[bool] | None = None
        node_only: list[bool] | None = None
        failed = tried = 0
        for i in range(start, len(candidates)):
            name = candidates[i]
            if name in skip:
                continue
            ni = get(name)
            if ni is None or (node_only is not None and node_only[ni.slot]):
                continue
            if fit is not None and tried:  # nodes without room fail the filters anyway: do not run them
                if rejected is not None:
                    if rejected[ni.slot]:
                        continue
                elif tried < _FIT_ONE_BY_ONE:
                    tried += 1
                    if fit.filter(state, pi, ni) is not None:
                        continue
                else:  # a long pass: NodeResourcesFit's vectorised verdicts for every slot at once
                    rejected = self._fit_rejects(state, pi)
                    if rejected[ni.slot]:
                        continue
            if fw.run_filter(state, pi, ni).is_success():
                return i
            tried = max(tried, 1)  # the first node tried (most often the answer) runs the filters only
            failed += 1
            if failed == _NODE_ONLY_AFTER:
                node_only = self._node_only_rejected(state, pi)
        return len(candidates)

    def _node_only_rejected(self, state: CycleState, pi: PodInfo) -> list[bool] | None:
        """Per slot, whether a filter that reads only the Node object (its name, labels, spec:
        taints, unschedulable) rejects ``pi`` there, kept per fit class: while the snapshot's
        node_generation (bumped by any change of nodes' labels, taints or unschedulable, and by
        nodes coming or going) stays, as it is; else each slot is asked again only when it holds
        another NodeInfo, or its node another spec or labels object (informer objects are never
        changed in place). None for pods of no fit class."""
        cls = fit_class(pi)
        if cls is None:
            return None
        snap = self.snapshot
        key = (cls, frozenset(state.skip_filter))
        hit = self._node_only_rejects.get(key)
        if hit is not None and hit[0] == snap.node_generation:
            return hit[2]
        plugins = [p for p in self._node_only if p.NAME not in state.skip_filter]
        # per slot: None (no node) or (NodeInfo, node, its spec, its labels) when last asked
        seen: list[Any] = hit[1] if hit is not None else []
        rejected = list(hit[2]) if hit is not None else []
        nodes = snap.nodes
        known = len(seen)
        for s in range(snap.n):
            ni = nodes[s]
            if ni is None:
                sig: Any = None
            else:
                node = ni.node
                if s < known:
                    old = seen[s]
                    if old is not None and old[0] is ni and old[1] is node:
                        continue  # the same node object: the same answer
                sig = (ni, node, node.get("spec"), node["metadata"].get("labels"))
            if s < known:
                old = seen[s]
                seen[s] = sig
                if old is sig or (old is not None and sig is not None and old[0] is ni
                                  and old[2] is sig[2] and old[3] is sig[3]):  # fmt: skip
                    continue  # a status update: what the node-only filters read is the same
            else:
                seen.append(sig)
                rejected.append(False)
            rejected[s] = ni is None or any(p.filter(state, pi, ni) is not None for p in plugins)
        del seen[snap.n:], rejected[snap.n:]
        if len(self._node_only_rejects) > 256:
            self._node_only_rejects.clear()
        self._node_only_rejects[key] = (snap.node_generation, seen, rejected)
        return rejected

    def fits_again(self, pi: PodInfo, ni: NodeInfo, node: Obj) -> bool | None:
        """Whether ``pi`` passes every filter on ``ni``, given that a pod of its fit class, with
        no host ports, did on it while no pod of the snapshot had (anti-)affinity terms: while
        that still holds and ``ni`` holds the same node object, only NodeResourcesFit's verdict
        can differ (:class:`FirstFit`). None when that does not hold (no answer)."""
        snap = self.snapshot
        if snap.with_affinity or ni.node is not node or self._fit is None:
            return None
        s = ni.slot
        if s < 0 or s >= snap.n or snap.nodes[s] is not ni:
            return None
        return self._fit.filter(_NO_STATE, pi, ni) is None

    def filter_rejects(self, pi: PodInfo) -> list[bool] | None:
        """Per slot, whether a node-only filter or NodeResourcesFit rejects ``pi`` there; None
        when PreFilter rejects it or it has no :func:`fit_class`. For a pod of a fit class with no
        host ports, while no pod of the snapshot has (anti-)affinity terms, the other filters pass
        it on every node: this is then every filter's verdict."""
        state = CycleState()
        if not self.framework.run_pre_filter(state, pi).is_success():
            return None
        node_only = self._node_only_rejected(state, pi)
        if node_only is None:
            return None
        if self._fit is None or self._fit.NAME in state.skip_filter:
            return list(node_only)
        return [a or b for a, b in zip(node_only, self._fit_rejects(state, pi), strict=True)]

    def _fit_rejects(self, state: CycleState, pi: PodInfo) -> list[bool]:
        """Per slot, whether NodeResourcesFit's Filter rejects ``pi`` there, from its vectorised
        form over the whole snapshot."""
        assert self._fit is not None
        masks = self._fit.filter_all(state, pi, self.snapshot)
        if not masks:
            return [False] * self.snapshot.n
        out = masks[0][0]
        for mask, _ in masks[1:]:
            out = out | mask
        rejected: list[bool] = out.tolist()
        return rejected

    def find_node(self, pi: PodInfo, candidates: Iterable[str]) -> str | None:
        """The first of ``candidates`` that passes every filter (FitsAnyNodeMatching)."""
        state = CycleState()
        if not self.framework.run_pre_filter(state, pi).is_success():
            return None
        for name in candidates:
            ni = self.snapshot.get(name)
            if ni is None:
                continue
            if self.framework.run_filter(state, pi, ni).is_success():
                return name
        return None


_NO_STATE = CycleState()  # NodeResourcesFit's Filter reads nothing from the cycle state
_FIT_CLASS = "autoscaler:fit-class"  # fit_class's answer, kept in the PodInfo's memo


def fit_class(pi: PodInfo) -> Any:
    """A key shared by pods every simulated Filter plugin treats alike (namespace, labels,
    requests, host ports, node selection, tolerations, spread constraints), or None for pods
    whose verdict on a node may turn from no to yes when pods are added elsewhere (required pod
    affinity, hard topology spread) or whose own terms count for others (any pod (anti-)affinity).
    For the others adding pods to the snapshot only ever turns a node's yes into a no."""
    memo = pi.memo
    if _FIT_CLASS in memo:
        return memo[_FIT_CLASS]
    key: Any = None
    spec = pi.pod.get("spec") or {}
    spread = spec.get("topologySpreadConstraints")
    if not pi.has_affinity and not (
        spread and any(c.get("whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule" for c in spread)
    ):
        key = (pi.namespace, tuple(sorted(pi.labels.items())), tuple(sorted(pi.requests.items())), pi.nonzero,
               tuple(pi.ports), spec.get("nodeName"),
               repr((spec.get("nodeSelector"), pi.affinity, spec.get("tolerations"), spread)))  # fmt: skip
    memo[_FIT_CLASS] = key
    return key


class FirstFit:
    """First-fit of pods over one ordered list of nodes (FitsAnyNodeMatching in a loop) that
    remembers, per :func:`fit_class`, where the last pod of the class landed: the nodes before it
    failed that class and, as long as the snapshot only gains pods, still fail it, so the next pod
    of the class starts there. Same answers as trying every node from the first each time.
    ``candidates`` may grow at its end; :meth:`reset` after anything that frees room (a pod
    taken out of the snapshot).

    ``reached`` is the furthest candidate index whose node an answer so far depended on
    (``len(candidates)``: any node's, as for a pod that found no place or one of no fit class).

    Where the last pod of a class passed every filter, the next one of the class is asked only
    NodeResourcesFit's question (:meth:`SimCluster.fits_again`; no PreFilter, no other filter;
    no room: the search goes on from the next node) while that answer cannot differ from the full one: the class has no host ports, the node is
    the same object and no pod of the snapshot has (anti-)affinity terms, now as then. The other
    filters then read nothing that adding or taking out pods changes (node-only filters; NodePorts
    and InterPodAffinity skip; PodTopologySpread has no hard constraint to check for a pod of a
    fit class) and PreFilter cannot reject it: the same answers, at a fraction of the cost for the
    runs of alike pods the scans place (pending pods of one ReplicaSet, a node's pods to move)."""

    def __init__(self, sim: SimCluster, candidates: list[str]) -> None:
        self.sim = sim
        self.candidates = candidates
        self._resume: dict[Any, int] = {}
        # fit class -> (index, NodeInfo, node) where its last pod passed every filter (see above)
        self._passed: dict[Any, tuple[int, NodeInfo, Obj]] = {}
        self.reached = -1

    def find(self, pi: PodInfo, skip: Container[str] = ()) -> str | None:
        """The first candidate not in ``skip`` that passes every filter. ``skip`` may only grow
        between calls (a node skipped in one call counts as failed for the next)."""
        key = fit_class(pi)
        n = len(self.candidates)
        start = 0 if key is None else self._resume.get(key, 0)
        if start >= n:
            self.reached = n
            return None  # no candidate after the one that failed the class's last pod
        sim = self.sim
        first = start
        if key is not None:
            hit = self._passed.get(key)
            if hit is not None and hit[0] == start and self.candidates[start] not in skip:
                fits = sim.fits_again(pi, hit[1], hit[2])
                if fits:
                    return self.candidates[start]  # where the class's last pod went: reached and resume stay
                if fits is not None:
                    first = start + 1  # no room left there: the search goes on from the next node
        i = sim.first_fit(pi, self.candidates, first, skip)
        if i is None:
            self.reached = n
            return None
        if key is not None:
            self._resume[key] = i
            self.reached = max(self.reached, i)
            ni = sim.snapshot.get(self.candidates[i]) if i < n and not pi.ports else None
            if ni is not None and not sim.snapshot.with_affinity:
                self._passed[key] = (i, ni, ni.node)
            else:
                self._passed.pop(key, None)
        else:
            self.reached = n
        return self.candidates[i] if i < n else None

    def reset(self) -> None:
        self._resume.clear()
        self._passed.clear()

    def state(self) -> tuple[int, dict[Any, int]]:
        """What the next answers depend on besides the snapshot: ``reached`` and where each class resumes."""
        return self.reached, dict(self._resume)

    def restore(self, state: tuple[int, dict[Any, int]]) -> None:
        """Go on from a :meth:`state` taken on the same candidates and an equal snapshot."""
        self.reached, self._resume = state[0], dict(state[1])
        self._passed.clear()


def _key(pod: Obj) -> str:
    m = pod["metadata"]
    return f"{m.get('namespace', '')}/{m['name']}"


def same_info(old: Obj, pod: Obj) -> bool:
    """Whether ``PodInfo(pod)`` would hold what ``PodInfo(old)`` holds, ``pod`` being a newer
    version of ``old``: the same spec object (informer objects are never changed in place, so
    the same requests, ports, affinity, priority), uid, labels and start time (most updates of a
    pod are status updates that keep all of these)."""
    if old.get("spec") is not pod.get("spec"):
        return False
    om, m = old["metadata"], pod["metadata"]
    return (
        om.get("uid") == m.get("uid")
        and om.get("labels") == m.get("labels")
        and om.get("creationTimestamp") == m.get("creationTimestamp")
        and (old.get("status") or {}).get("startTime") == (pod.get("status") or {}).get("startTime")
    )


def _status_only(prev: Obj, node: Obj) -> bool:
    """Whether ``node`` keeps what the snapshot reads of ``prev`` (the spec, labels and
    allocatable objects and no deletionTimestamp): a status heartbeat."""
    return (
        node.get("spec") is prev.get("spec")
        and node["metadata"].get("labels") is prev["metadata"].get("labels")
        and (node.get("status") or {}).get("allocatable") is (prev.get("status") or {}).get("allocatable")
        and not node["metadata"].get("deletionTimestamp")
    )


# What the snapshot reads of a pod (PodInfo: metadata, spec, status.startTime; sync: nodeName and
# whether it is terminal); the kubelet's other status writes (conditions, container statuses, a
# phase between Pending and Running) do not reach it: the PodInfo keeps the version it was made
# or last updated from, which holds the same for all of that.
_POD_READS = pc.LABELS | pc.OWNERS | pc.DELETION | pc.META | pc.NODE | pc.SPEC | pc.START | pc.TERMINAL


# past this many entries the log of changed nodes is dropped (BaseSnapshot.changed_since: None)
_CHANGES_LIMIT = 1 << 15


def _is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


class BaseSnapshot:
    """The cluster's Nodes (those not being deleted) and bound, non-terminal pods on them, in one
    :class:`SimCluster` kept current incrementally (the autoscaler's ClusterSnapshot, which
    upstream also re-fills each loop; here only what changed is re-applied).

    Handlers on the nodes, pods and namespaces informers record what changed (they also fire
    for the autoscaler's own writes in the middle of a scan, when the snapshot must not move);
    :meth:`sync` applies it, nodes first, then pods: a changed pod leaves the snapshot and, when
    it is still bound to a node of the snapshot and not terminal, comes back as a fresh PodInfo.
    Updates of nothing the snapshot reads do not reach it (``add_handler``'s heartbeat filter and
    pod change classes): a node's heartbeat (only its conditions' times renewed) and the kubelet's
    pod status writes that keep the PodInfo and the phase's terminal state; the snapshot keeps
    the version it holds (no filter reads node conditions, nothing reads a held pod's status but
    its start time). Other writes that change nothing it counts (a pod's annotations, a node's
    conditions) are applied by the handler right away, as sync would, unless the snapshot is
    forked or the object already waits for sync.
    A node that enters the snapshot brings the pods bound to it (``pods_on(name)``); a node that
    leaves takes its pods along. A namespace change re-reads the pods with pod (anti-)affinity
    (their terms' namespaceSelector resolves against the namespaces).

    Each sync logs the nodes whose content it changed (:meth:`changed_since`): what a scan kept
    from an earlier one (:mod:`kubetwin.autoscaler.passmemo`) tells which nodes differ since, and
    which of them only gained pods.

    Same content as a snapshot built from scratch from the informers, except that pods bound to
    a node that is not in it are left out rather than kept unattached (they count nowhere either
    way). Slot order is not informer order: callers that go through nodes in order keep their own.
    """

    def __init__(self, informers: Any, rng: Any, pods_on: Any) -> None:
        self.informers = informers
        self.rng = rng
        self.nodes = informers.get("nodes")
        self.pods = informers.get("pods")
        self.pods_on = pods_on  # node name -> the pods informer's pods bound to it
        self.sim = SimCluster(informers, rng)
        self.active = False  # not kept current until the first sync (and again after stop())
        self._dirty_nodes: dict[str, None] = {}
        self._dirty_pods: dict[str, None] = {}
        self._namespaces_changed = False
        self.namespace_events = 0  # namespace changes seen (what pod affinity terms resolve against)
        self.syncs = 0
        # the nodes whose content sync changed (node added, removed or not just its status; a pod
        # attached or detached), in order, from position _changes_base on: (name, a pod attached)
        self._changes: list[tuple[str, bool]] = []
        self._changes_base = 0
        self.nodes.add_handler(self._node_event, self._node_updated, self._node_event, ignore=nodestatus.heartbeat_only)
        self.pods.add_handler(self._pod_event, self._pod_updated, self._pod_event, changes=pod_changes, reads=_POD_READS)
        informers.get("namespaces").add_handler(self._ns_event, lambda o, n: self._ns_event(n), self._ns_event)

    # -- handlers: record only -------------------------------------------------------------------
    def _node_event(self, node: Obj) -> None:
        if self.active:
            self._dirty_nodes[node["metadata"]["name"]] = None

    def _pod_event(self, pod: Obj) -> None:
        if self.active:
            m = pod["metadata"]
            self._dirty_pods[f"{m.get('namespace', '')}/{m['name']}"] = None

    def _node_updated(self, old: Obj, node: Obj) -> None:
        if not self.active:
            return
        name = node["metadata"]["name"]
        ni = None if self.sim.forked or name in self._dirty_nodes else self.sim.snapshot.get(name)
        if ni is not None and _status_only(ni.node, node):
            ni.node = node  # what sync would do (Snapshot.update_node's heartbeat path), done now
            ni.generation += 1
            return
        self._dirty_nodes[name] = None

    def _pod_updated(self, old: Obj, pod: Obj) -> None:
        if not self.active:
            return
        m = pod["metadata"]
        key = f"{m.get('namespace', '')}/{m['name']}"
        pi = None if self.sim.forked or key in self._dirty_pods else self.sim.snapshot.pods.get(key)
        if pi is not None and pi.slot >= 0 and not _is_terminal(pod) and (pi.pod is pod or same_info(pi.pod, pod)):
            pi.pod = pod  # what sync would do for a status update, done now
            return
        self._dirty_pods[key] = None

    def _ns_event(self, ns: Obj) -> None:
        if self.active:
            self._namespaces_changed = True
            self.namespace_events += 1

    # -- lifecycle -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop tracking (the autoscaler is off); the next :meth:`sync` rebuilds from scratch."""
        self.active = False
        self._dirty_nodes.clear()
        self._dirty_pods.clear()
        self._namespaces_changed = False
        self.sim = SimCluster(self.informers, self.rng)
        self._drop_changes()

    # -- what changed ----------------------------------------------------------------------------
    def mark(self) -> int:
        """A point in the log of changed nodes (:meth:`changed_since`)."""
        return self._changes_base + len(self._changes)

    def changed_since(self, mark: int) -> tuple[set[str], set[str]] | None:
        """The nodes whose content (the node as the filters read it, the pods on it) a sync
        changed since ``mark``: those that changed otherwise than by pods attached, and those
        that only gained pods; None when that point is no longer logged."""
        if mark < self._changes_base:
            return None
        log = self._changes[mark - self._changes_base:]
        changed = {name for name, attached in log if not attached}
        return changed, {name for name, attached in log if attached} - changed

    def _drop_changes(self) -> None:
        self._changes_base += len(self._changes)
        self._changes.clear()

    def _detach(self, key: str) -> None:
        """Take the pod ``key`` out of the snapshot, logging its node."""
        snap = self.sim.snapshot
        pi = snap.pods.get(key)
        if pi is not None and pi.slot >= 0 and (ni := snap.nodes[pi.slot]) is not None:
            self._changes.append((ni.name, False))
        snap.remove_pod(key)

    def sync(self) -> SimCluster:
        """Apply the recorded changes; the snapshot then holds the informers' current state."""
        sim = self.sim
        if sim.forked:
            raise RuntimeError("BaseSnapshot.sync while the snapshot is forked")
        self.syncs += 1
        if len(self._changes) > _CHANGES_LIMIT:
            self._drop_changes()
        changes = self._changes
        if not self.active:
            self.active = True
            self._dirty_nodes = dict.fromkeys(self.nodes.keys())
            self._dirty_pods = dict.fromkeys(self.pods.keys())
        snap = sim.snapshot
        nodes, self._dirty_nodes = self._dirty_nodes, {}
        pods, self._dirty_pods = self._dirty_pods, {}
        if self._namespaces_changed:
            self._namespaces_changed = False
            pods.update(dict.fromkeys(snap.with_affinity))
            for key in list(snap.with_affinity):
                self._detach(key)  # re-added below with terms resolved again
        for name in nodes:
            node = self.nodes.get(name)
            ni = snap.get(name)
            if node is None or node["metadata"].get("deletionTimestamp"):
                if ni is not None:
                    changes.append((name, False))
                    for key in list(ni.pods):
                        snap.remove_pod(key)
                    snap.remove_node(name)
                continue
            if ni is None or not _status_only(ni.node, node):
                changes.append((name, False))
            snap.add_node(node)  # or update it
            if ni is None:
                for pod in self.pods_on(name):
                    pods[_key(pod)] = None
        for key in pods:
            pod = self.pods.get_by_key(key)
            old = snap.pods.get(key)
            want = (
                pod is not None
                and (node_name := (pod.get("spec") or {}).get("nodeName"))
                and node_name in snap.slot_of
                and not _is_terminal(pod)
            )
            if want and old is not None and (old.pod is pod or same_info(old.pod, pod)):
                old.pod = pod  # a status update: the same PodInfo, counted the same way
                continue
            if old is not None:
                self._detach(key)
            if want:
                assert pod is not None and node_name
                changes.append((node_name, True))
                snap.add_pod(pod, PodInfo(pod))
        return sim

    def fresh(self) -> SimCluster:
        """A snapshot of the same content built from scratch (what every scan used to build)."""
        sim = SimCluster(self.informers, self.rng)
        for node in self.nodes.list():
            if not node["metadata"].get("deletionTimestamp"):
                sim.add_node(node)
        for pod in self.pods.list():
            name = (pod.get("spec") or {}).get("nodeName")
            if name and name in sim.snapshot.slot_of and not _is_terminal(pod):
                sim.add_bound_pod(pod, PodInfo(pod))
        return sim
