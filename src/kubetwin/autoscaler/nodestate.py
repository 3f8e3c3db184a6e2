"""What the cluster autoscaler's scans read of the nodes and of the pods bound to them, kept from
informer events (cluster-autoscaler clusterstate/clusterstate.go's per-group readiness counts,
simulator/utilization/info.go's request sums).

Upstream lists every node and pod on each 10 s loop and recomputes all of it; here the node and
pod informers' handlers keep it current, so a scan only reads it:

- per node object its :class:`NodeFacts` (group label, deletion, readiness, creation time, the
  ToBeDeleted taint, the scale-down-disabled annotation);
- per NodeGroup label the nodes not being deleted, in the nodes informer's order, and which of
  them are not Ready; all such nodes in informer order (the order first-fit goes through them);
- per node the requests of the non-terminal pods bound to it, summed by whether the pod is a
  DaemonSet pod and/or a mirror pod (the autoscaler's options may leave either out of the
  utilization); pods being deleted are held apart, since whether they still count depends on the
  time (long-terminating pods do not);
- the names of the nodes whose facts, allocatable or counted pods changed since
  :meth:`take_changed` (a status heartbeat that only renews the conditions' times is no change).

Sums are integers (milli-CPU, bytes): adding and removing pods in any order gives the same totals,
so :meth:`utilization` returns exactly what a pass over the node's pods returns.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from kubetwin.api import nodestatus, resources
from kubetwin.api import podchanges as pc
from kubetwin.api.podchanges import pod_changes
from kubetwin.autoscaler import drain
from kubetwin.client import Informer
from kubetwin.cloud.nodegroup import LABEL_NODEGROUP

Obj = dict[str, Any]

TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler"

# A counted pod's category: bit 1 a DaemonSet pod, bit 2 a mirror pod; DELETING: held apart.
_DS, _MIRROR, DELETING = 1, 2, -1
_ZERO = (0,) * 8  # per category: cpu at 2 * cat, memory at 2 * cat + 1
# what a bound, non-terminal pod counts for: (node, category, cpu, memory, the spec they were read from)
_Share = tuple[str, int, int, int, Any]


@dataclass(frozen=True, slots=True)
class NodeFacts:
    group: str  # its kubetwin.io/nodegroup label ("" for none)
    deleting: bool  # metadata.deletionTimestamp set
    ready: bool  # Ready=True
    created: float | None  # creationTimestamp (None: unset)
    to_be_deleted: bool  # carries the ToBeDeletedByClusterAutoscaler taint
    scale_down_disabled: bool  # cluster-autoscaler.kubernetes.io/scale-down-disabled: "true"


def has_taint(node: Obj, key: str) -> bool:
    return any(t.get("key") == key for t in (node.get("spec") or {}).get("taints") or [])


def node_facts(node: Obj, parse_timestamp: Any) -> NodeFacts:
    meta = node["metadata"]
    created = meta.get("creationTimestamp")
    return NodeFacts(
        group=(meta.get("labels") or {}).get(LABEL_NODEGROUP, ""),
        deleting=bool(meta.get("deletionTimestamp")),
        ready=resources.is_node_ready(node),
        created=parse_timestamp(created) if created else None,
        to_be_deleted=has_taint(node, TO_BE_DELETED_TAINT),
        scale_down_disabled=(meta.get("annotations") or {}).get(drain.SCALE_DOWN_DISABLED) == "true",
    )


def refreshed_facts(prev: Obj, facts: NodeFacts, node: Obj, parse_timestamp: Any) -> NodeFacts:
    """``node_facts(node)`` for a newer version of ``prev`` (whose facts are ``facts``): when it
    kept the spec, labels and annotations objects (informer objects are never changed in place)
    and its timestamps, as the kubelet's status writes do, only readiness is read again."""
    pm, m = prev["metadata"], node["metadata"]
    if (
        node.get("spec") is not prev.get("spec")
        or m.get("labels") is not pm.get("labels")
        or m.get("annotations") is not pm.get("annotations")
        or m.get("deletionTimestamp") != pm.get("deletionTimestamp")
        or m.get("creationTimestamp") != pm.get("creationTimestamp")
    ):
        return node_facts(node, parse_timestamp)
    ready = resources.is_node_ready(node)
    return facts if ready == facts.ready else replace(facts, ready=ready)


def _allocatable(node: Obj) -> Any:
    return (node.get("status") or {}).get("allocatable")


def _pod_key(pod: Obj) -> str:
    m = pod["metadata"]
    return f"{m.get('namespace', '')}/{m['name']}"


def _category(pod: Obj) -> int:
    return (_DS if drain.is_daemonset_pod(pod) else 0) | (_MIRROR if drain.is_mirror(pod) else 0)


class NodeTracker:
    """See the module docstring. Handlers are registered on construction; they keep the state
    only between :meth:`start` (which reads the informers' objects in their order) and
    :meth:`stop` (while the autoscaler is off)."""

    def __init__(self, nodes: Informer, pods: Informer, parse_timestamp: Any) -> None:
        self.nodes = nodes
        self.parse_timestamp = parse_timestamp
        self._facts: dict[str, tuple[Obj, NodeFacts]] = {}  # node -> (the informer's object, its facts)
        self._members: dict[str, dict[str, Obj]] = {}  # group label -> node -> object, informer order
        self._unready: dict[str, dict[str, float | None]] = {}  # group label -> unready node -> created
        self._lent: set[str] = set()  # groups whose members dict members() handed out: copied before a change
        self._order: dict[str, None] = {}  # nodes not being deleted, informer order
        self._order_list: list[str] | None = None  # ... as a list, until it changes
        self._regroup = False  # a node changed group: members are rebuilt in informer order on read
        self._sums: dict[str, list[int]] = {}  # node -> requests of the counted pods by category
        self._deleting: dict[str, dict[str, Obj]] = {}  # node -> pod key -> pod being deleted
        self._share: dict[str, _Share] = {}  # pod key -> what it counts for
        self._alloc: dict[str, tuple[Any, int, int]] = {}  # node -> (status.allocatable, its cpu, memory)
        self._changed: set[str] = set()
        self.active = False
        self.pods = pods
        nodes.add_handler(self._node_added, self._node_updated, self._node_deleted,
                          ignore=nodestatus.heartbeat_only, on_ignored=self._node_heartbeat)  # fmt: skip
        pods.add_handler(self._pod_set, self._pod_updated, self._pod_deleted, changes=pod_changes,
                         reads=pc.NODE | pc.SPEC | pc.TERMINATING | pc.DELETION | pc.META | pc.OWNERS | pc.TERMINAL)  # fmt: skip

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        if self.active:
            return
        self.active = True
        for node in self.nodes.list():
            self._node_added(node)
        for pod in self.pods.list():
            self._pod_set(pod)

    def stop(self) -> None:
        self.active = False
        for state in (self._facts, self._members, self._unready, self._order, self._sums, self._deleting,
                      self._share, self._alloc, self._changed):  # fmt: skip
            state.clear()
        self._order_list = None
        self._regroup = False
        self._lent.clear()

    # -- reads -----------------------------------------------------------------------------------
    def facts(self, node: Obj) -> NodeFacts:
        """The node object's facts (kept for the informer's current object)."""
        hit = self._facts.get(node["metadata"]["name"])
        if hit is not None and hit[0] is node:
            return hit[1]
        return node_facts(node, self.parse_timestamp)

    def current(self, name: str) -> tuple[Obj, NodeFacts] | None:
        """The informer's object for ``name`` and its facts (None: no such node)."""
        return self._facts.get(name)

    def members(self, group: str) -> dict[str, Obj]:
        """The nodes labelled for ``group`` and not being deleted, in informer order (read-only):
        the dict handed out stays as it is (a scan's view of the group from its start) while the
        tracker goes on in a copy of it, made at its first change (not a copy per scan), but for
        the kubelets' heartbeat-only reports, which swap the object for its newer version in
        place (the same facts: what a scan, and the last pass's record, read of it)."""
        if self._regroup:
            self._rebuild_members()
        out = self._members.get(group)
        if out is None:
            return {}
        self._lent.add(group)
        return out

    def _own_members(self, group: str) -> dict[str, Obj]:
        """The group's members dict for a change (created if none; copied if handed out)."""
        out = self._members.get(group)
        if out is None:
            out = self._members[group] = {}
        elif group in self._lent:
            out = self._members[group] = dict(out)
        self._lent.discard(group)
        return out

    def unready(self, group: str) -> dict[str, float | None]:
        """Those of :meth:`members` that are not Ready -> their creation time (read-only)."""
        if self._regroup:
            self._rebuild_members()
        return self._unready.get(group) or {}

    def order(self) -> list[str]:
        """The names of the nodes not being deleted, in informer order (read-only: the same list
        object until one of them changes, so a pass memo compares it by identity first)."""
        if self._order_list is None:
            self._order_list = list(self._order)
        return self._order_list

    def names(self) -> list[str]:
        """Every node the informer holds."""
        return list(self._facts)

    def has_deleting_pods(self, name: str) -> bool:
        return bool(self._deleting.get(name))

    def take_changed(self) -> set[str]:
        """The nodes whose facts, allocatable or counted pods changed since the last call (or
        deleted nodes)."""
        out, self._changed = self._changed, set()
        return out

    def utilization(self, node: Obj, now: float, ignore_daemonsets: bool, ignore_mirror_pods: bool
                    ) -> tuple[float, float, float]:  # fmt: skip
        """(utilization, cpu, memory) of the requests of the node's non-terminal pods over its
        allocatable (simulator/utilization/info.go): pods being deleted count until they are
        long-terminating; DaemonSet / mirror pods, when ignored, come off allocatable instead."""
        name = node["metadata"]["name"]
        alloc = self._alloc.get(name)
        allocatable = _allocatable(node)
        if alloc is None or not (alloc[0] is allocatable or alloc[0] == allocatable):
            rl = resources.resource_list(allocatable)
            alloc = self._alloc[name] = (allocatable, rl.get("cpu", 0), rl.get("memory", 0))
        sums: list[int] | tuple[int, ...] = self._sums.get(name) or _ZERO
        deleting = self._deleting.get(name)
        if deleting:
            sums = list(sums)
            for pod in deleting.values():
                if not drain.is_long_terminating(pod, now, self.parse_timestamp):
                    req = resources.pod_requests(pod)
                    cat = _category(pod)
                    sums[2 * cat] += req.get("cpu", 0)
                    sums[2 * cat + 1] += req.get("memory", 0)
        if not ignore_daemonsets and not ignore_mirror_pods:  # the default: every pod counts
            cpu_req, mem_req = sums[0] + sums[2] + sums[4] + sums[6], sums[1] + sums[3] + sums[5] + sums[7]
            ignored_cpu = ignored_mem = 0
        else:
            cpu_req = mem_req = ignored_cpu = ignored_mem = 0
            for cat in range(4):
                if (ignore_daemonsets and cat & _DS) or (ignore_mirror_pods and cat & _MIRROR):
                    ignored_cpu += sums[2 * cat]
                    ignored_mem += sums[2 * cat + 1]
                else:
                    cpu_req += sums[2 * cat]
                    mem_req += sums[2 * cat + 1]
        cpu_alloc = alloc[1] - ignored_cpu
        mem_alloc = alloc[2] - ignored_mem
        cpu = cpu_req / cpu_alloc if cpu_alloc > 0 else 0.0
        mem = mem_req / mem_alloc if mem_alloc > 0 else 0.0
        return (max(cpu, mem), cpu, mem)

    # -- node handlers ---------------------------------------------------------------------------
    def _node_added(self, node: Obj) -> None:
        if not self.active:
            return
        name = node["metadata"]["name"]
        prev = self._facts.get(name)
        if prev is not None:  # a re-list: the informer kept the key's place
            self._node_updated(prev[0], node)
            return
        f = node_facts(node, self.parse_timestamp)
        self._facts[name] = (node, f)
        self._changed.add(name)
        if not f.deleting:
            self._order[name] = None
            self._order_list = None
            self._join(name, node, f)

    def _prior(self, node: Obj) -> tuple[Obj, NodeFacts] | None:
        """The kept (node, facts) of an updated node; None when inactive, or when the node was not
        kept (it is taken as added)."""
        if not self.active:
            return None
        prev = self._facts.get(node["metadata"]["name"])
        if prev is None:
            self._node_added(node)
        return prev

    def _keep_member(self, name: str, node: Obj, f: NodeFacts) -> None:
        """A member keeps its place in its group; the object kept is the new version."""
        self._own_members(f.group)[name] = node
        if f.ready:
            self._unready.get(f.group, {}).pop(name, None)
        else:
            self._unready.setdefault(f.group, {})[name] = f.created

    def _node_updated(self, old: Obj, node: Obj) -> None:
        prev = self._prior(node)
        if prev is None:
            return
        name = node["metadata"]["name"]
        was = prev[1]
        f = refreshed_facts(prev[0], was, node, self.parse_timestamp)
        self._facts[name] = (node, f)
        allocatable = _allocatable(node)
        if f != was or not (allocatable is _allocatable(prev[0]) or allocatable == _allocatable(prev[0])):
            self._changed.add(name)  # else nothing a scan reads of it changed (a status heartbeat)
        if was.deleting:
            return  # a deletionTimestamp is never unset: the node stays out
        if f.deleting:
            self._order.pop(name, None)
            self._order_list = None
            self._leave(name, was.group)
        elif f.group != was.group:
            self._leave(name, was.group)
            self._regroup = True  # its place among the new group's nodes is its informer place
        elif not self._regroup:
            self._keep_member(name, node, f)  # same place

    def _node_heartbeat(self, old: Obj, node: Obj) -> None:
        """``_node_updated`` for a status report that renewed only heartbeat times: the facts and
        allocatable stay, only the objects kept are the new version (the scans hand them out, e.g.
        as an Event's involvedObject with its resourceVersion)."""
        prev = self._prior(node)
        if prev is None:
            return
        name = node["metadata"]["name"]
        f = prev[1]
        self._facts[name] = (node, f)
        if not f.deleting and not self._regroup:
            # in place, even in a members dict handed out: its facts are the same, and reports
            # come between scans (a copy per group per scan otherwise: every group has them)
            self._members[f.group][name] = node

    def _node_deleted(self, node: Obj) -> None:
        if not self.active:
            return
        name = node["metadata"]["name"]
        prev = self._facts.pop(name, None)
        self._alloc.pop(name, None)
        self._changed.add(name)
        if prev is not None and not prev[1].deleting:
            self._order.pop(name, None)
            self._order_list = None
            self._leave(name, prev[1].group)

    def _join(self, name: str, node: Obj, f: NodeFacts) -> None:
        self._own_members(f.group)[name] = node
        if not f.ready:
            self._unready.setdefault(f.group, {})[name] = f.created

    def _leave(self, name: str, group: str) -> None:
        if name in self._members.get(group, ()):
            members = self._own_members(group)
            del members[name]
            if not members:
                del self._members[group]
        unready = self._unready.get(group)
        if unready is not None:
            unready.pop(name, None)
            if not unready:
                del self._unready[group]

    def _rebuild_members(self) -> None:
        self._regroup = False
        self._members.clear()
        self._lent.clear()
        self._unready.clear()
        for node in self.nodes.list():
            hit = self._facts.get(node["metadata"]["name"])
            if hit is not None and not hit[1].deleting:
                self._join(node["metadata"]["name"], hit[0], hit[1])

    # -- pod handlers ----------------------------------------------------------------------------
    def _pod_set(self, pod: Obj) -> None:
        if not self.active:
            return
        key = _pod_key(pod)
        spec = pod.get("spec") or {}
        node = spec.get("nodeName")
        old = self._share.get(key)
        share: _Share | None = None
        if node and not drain.is_terminal(pod):
            if pod["metadata"].get("deletionTimestamp"):
                share = (node, DELETING, 0, 0, spec)
            elif old is not None and old[4] is spec and old[1] != DELETING:  # requests read from spec only
                share = (node, _category(pod), old[2], old[3], spec)
            else:
                req = resources.pod_requests(pod)
                share = (node, _category(pod), req.get("cpu", 0), req.get("memory", 0), spec)
        if old is not None and share is not None and old[:4] == share[:4] and share[1] != DELETING:
            self._share[key] = share  # counts the same as before (most status updates)
            return
        if old is not None:
            self._unshare(key, old)
        if share is not None:
            self._share[key] = share
            self._changed.add(share[0])
            if share[1] == DELETING:
                self._deleting.setdefault(share[0], {})[key] = pod
            else:
                sums = self._sums.get(share[0])
                if sums is None:
                    sums = self._sums[share[0]] = list(_ZERO)
                sums[2 * share[1]] += share[2]
                sums[2 * share[1] + 1] += share[3]

    def _pod_updated(self, old: Obj, pod: Obj) -> None:
        if old.get("spec") is pod.get("spec"):  # the usual status update: same nodeName, requests
            om, m = old["metadata"], pod["metadata"]
            if (not m.get("deletionTimestamp") and not om.get("deletionTimestamp")
                    and om.get("annotations") == m.get("annotations")
                    and om.get("ownerReferences") == m.get("ownerReferences")
                    and drain.is_terminal(old) == drain.is_terminal(pod)):  # fmt: skip
                return  # nothing _pod_set reads changed
        self._pod_set(pod)

    def _pod_deleted(self, pod: Obj) -> None:
        if not self.active:
            return
        key = _pod_key(pod)
        old = self._share.get(key)
        if old is not None:
            self._unshare(key, old)

    def _unshare(self, key: str, share: _Share) -> None:
        del self._share[key]
        node, cat = share[0], share[1]
        self._changed.add(node)
        if cat == DELETING:
            pods = self._deleting[node]
            del pods[key]
            if not pods:
                del self._deleting[node]
            return
        sums = self._sums[node]
        sums[2 * cat] -= share[2]
        sums[2 * cat + 1] -= share[3]
        if not any(sums):
            del self._sums[node]
