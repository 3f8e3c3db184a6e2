"""Node lifecycle controller (pkg/controller/nodelifecycle/node_lifecycle_controller.go) and the
taint-based eviction controller (pkg/controller/tainteviction/taint_eviction.go, formerly
nodelifecycle/scheduler/taint_manager.go).

NodeLifecycleController, every ``NODE_MONITOR_PERIOD`` (5 s):
- node health (tryUpdateNodeHealth): the probe time is the monitor pass that first saw the node,
  or saw its Ready condition with a new lastHeartbeatTime, or its Lease in ``kube-node-lease``
  with a newer renewTime: that pass's time, not the time the heartbeat or lease carries (the pass
  after the write; the Lease is read afresh when the grace period seems to have run out, see
  ``_read_lease``, and a lease renewed on read counts from the pass after its renewTime). After
  ``NODE_MONITOR_GRACE_PERIOD`` (50 s since v1.32, kubernetes/kubernetes#126287) without one, Ready/MemoryPressure/DiskPressure/PIDPressure
  become Unknown ("Kubelet stopped posting node status." / "Kubelet never posted node status.");
  a node leaving Ready gets a ``NodeNotReady`` event and its pods' Ready condition set False.
- NoExecute tainting: Ready=False -> ``node.kubernetes.io/not-ready:NoExecute``, Unknown ->
  ``node.kubernetes.io/unreachable:NoExecute`` (swapped at once when the other is present, removed
  when Ready). New taints go through a per-zone token bucket (burst 1) at ``EVICTION_LIMITER_QPS``
  (0.1/s) in Normal and FullDisruption zones, ``SECONDARY_EVICTION_LIMITER_QPS`` (0.01/s) in
  PartiallyDisrupted zones larger than ``LARGE_CLUSTER_SIZE_THRESHOLD`` (50) and 0 in smaller ones;
  when every zone is fully disrupted no node is tainted and existing taints are removed
  ("master disruption mode"). The queue is drained at monitor ticks (upstream: every 100 ms), so a
  queued taint can land up to 5 s later than upstream.
- NoSchedule tainting by condition (TaintNodesByCondition), immediately on every node change:
  not-ready / unreachable / memory-pressure / disk-pressure / pid-pressure / network-unavailable,
  and ``node.kubernetes.io/unschedulable`` for ``spec.unschedulable``.

TaintEvictionController: pods on a node with NoExecute taints they do not tolerate are deleted at
once; pods tolerating them all with tolerationSeconds are deleted after the smallest of them
(counted from when the controller first saw the taint); pods tolerating forever stay. Before the
delete the pod gets the ``DisruptionTarget`` condition (DeletionByTaintManager) and a
``TaintManagerEviction`` event "Marking for deletion Pod ns/name".
"""

from __future__ import annotations

import heapq
import math
from typing import Any

from kubetwin.api import podchanges as pc
from kubetwin.api.errors import ApiError
from kubetwin.api.nodestatus import heartbeat_only
from kubetwin.api.podchanges import pod_changes
from kubetwin.api.resources import toleration_tolerates_taint
from kubetwin.client.controller import Controller
from kubetwin.client.informer import NODE_NAME_INDEX, node_name_index
from kubetwin.controllers import _util as u
from kubetwin.sim import Handle
from kubetwin.store.copy import deep_copy

Obj = dict[str, Any]

NODE_MONITOR_PERIOD = 5.0
NODE_MONITOR_GRACE_PERIOD = 50.0  # --node-monitor-grace-period default: 40 s before v1.32
EVICTION_LIMITER_QPS = 0.1
SECONDARY_EVICTION_LIMITER_QPS = 0.01
LARGE_CLUSTER_SIZE_THRESHOLD = 50
UNHEALTHY_ZONE_THRESHOLD = 0.55
LEASE_NAMESPACE = "kube-node-lease"
_NEVER = -math.inf  # a probe time no node has yet

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
_CONDITION_TAINTS = {
    ("Ready", "False"): TAINT_NOT_READY,
    ("Ready", "Unknown"): TAINT_UNREACHABLE,
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
}
_NO_SCHEDULE_KEYS = {*_CONDITION_TAINTS.values(), TAINT_UNSCHEDULABLE}
_MONITORED_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")

NORMAL = "Normal"
PARTIAL = "PartialDisruption"
FULL = "FullDisruption"


def zone_key(node: Obj) -> str:
    """nodetopology.GetZoneKey."""
    lbls = u.labels_of(node)
    region = lbls.get("topology.kubernetes.io/region") or lbls.get("failure-domain.beta.kubernetes.io/region", "")
    zone = lbls.get("topology.kubernetes.io/zone") or lbls.get("failure-domain.beta.kubernetes.io/zone", "")
    if not region and not zone:
        return ""
    return f"{region}:\x00:{zone}"


def zone_state(ready: int, not_ready: int) -> str:
    """ComputeZoneState."""
    if ready == 0 and not_ready > 0:
        return FULL
    if not_ready > 2 and not_ready / (not_ready + ready) >= UNHEALTHY_ZONE_THRESHOLD:
        return PARTIAL
    return NORMAL


def ready_status(node: Obj) -> str:
    c = u.get_condition(node.get("status"), "Ready")
    return str(c.get("status", "Unknown")) if c is not None else "Unknown"


class _Health:
    """What the monitor keeps of one node it has seen (tryUpdateNodeHealth's nodeHealthData), in
    one record: a lease renewal or heartbeat reads and moves them together."""

    __slots__ = ("heartbeat", "probe", "deadline", "standing")

    def __init__(self, heartbeat: float | None) -> None:
        self.heartbeat = heartbeat  # the Ready lastHeartbeatTime last seen
        self.probe = _NEVER  # the probe time (see _observed_at)
        self.deadline = _NEVER  # probe + grace period
        self.standing = False  # off the heap: its lease renews on read and the renewals go on


class _TokenBucket:
    def __init__(self, qps: float, now: float) -> None:
        self.qps = qps
        self.tokens = 1.0
        self.last = now

    def set_qps(self, qps: float, now: float) -> None:
        self._refill(now)
        self.qps = qps

    def _refill(self, now: float) -> None:
        if self.qps > 0:
            self.tokens = min(1.0, self.tokens + (now - self.last) * self.qps)
        self.last = now

    def try_take(self, now: float) -> bool:
        if self.qps <= 0:
            return False
        self._refill(now)
        if self.tokens >= 1.0 - 1e-9:
            self.tokens -= 1.0
            return True
        return False


class NodeLifecycleController(Controller):
    name = "node-controller"

    def __init__(self, client: Any, informers: Any) -> None:
        super().__init__(client, informers)
        self._observed_ready: dict[str, str] = {}
        self._queues: dict[str, dict[str, None]] = {}
        self._buckets: dict[str, _TokenBucket] = {}
        self._zone_states: dict[str, str] = {}
        self._all_disrupted = False
        self._timer: Handle | None = None
        # Kept current by the node and lease informers' handlers, so a monitor tick costs what
        # changed, not the cluster's size (DESIGN.md principle 8):
        # Probe times (tryUpdateNodeHealth's probeTimestamp): the monitor pass that first saw the node,
        # a new Ready lastHeartbeatTime or a newer Lease renewTime (see _observed_at).
        self._health: dict[str, _Health] = {}  # node name -> its record, from the pass that first saw it
        self._renewed: dict[str, float] = {}  # node name -> its Lease's renewTime last seen
        self._first_tick = 0.0  # the first monitor pass; then one every NODE_MONITOR_PERIOD
        self._last_pass = -math.inf  # when the last monitor pass ran
        self._heap: list[tuple[float, str]] = []  # (deadline, name), one entry per node not expired
        self._expired: set[str] = set()  # nodes past their deadline at the last tick: checked every tick
        self._zone_of: dict[str, tuple[str, bool]] = {}  # node name -> (zone key, Ready=True)
        self._zone_counts: dict[str, list[int]] = {}  # zone key -> [ready, not ready]
        self._attention: set[str] = set()  # not Ready, or carrying a not-ready/unreachable NoExecute taint
        self._dirty: set[str] = set()  # nodes changed since the last tick

    def start(self) -> None:
        self.node_informer = self.informers.get("nodes")
        self.lease_informer = self.informers.get("leases.coordination.k8s.io")
        self.pod_informer = self.informers.get("pods")
        self._first_tick = self.loop.now + NODE_MONITOR_PERIOD
        self.lease_informer.add_handler(self._lease_changed, self._lease_updated, self._lease_deleted)
        registry = getattr(self.client, "registry", None)
        if registry is not None:
            registry.on_peek_changed("leases.coordination.k8s.io", self._lease_peek_changed)
        self.node_informer.add_handler(self._node_added, self._node_updated, self._node_deleted,
                                       ignore=heartbeat_only, on_ignored=self._node_heartbeat)  # fmt: skip
        self._timer = self.loop.every(NODE_MONITOR_PERIOD, self.monitor, self.priority, "node-monitor")

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    # -- per-node bookkeeping (informer handlers) -------------------------------------------
    def _node_added(self, node: Obj) -> None:
        self._node_changed(node)
        self.enqueue(node)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        h = self._health.get(new["metadata"]["name"])
        if h is not None and u.node_heartbeat_only(old, new):
            # a heartbeat: only the probe time moves (Ready, zone, taints and the NoSchedule
            # taints the conditions call for are as they were)
            self._note_heartbeat(new["metadata"]["name"], h, u.get_condition(new.get("status"), "Ready"))
            return
        self._node_changed(new)
        self.enqueue(new)

    def _node_heartbeat(self, old: Obj, new: Obj) -> None:
        """A status report that renewed only heartbeat times (``heartbeat_only``, which implies
        ``node_heartbeat_only``): the probe time moves."""
        h = self._health.get(new["metadata"]["name"])
        if h is None:
            self._node_updated(old, new)
            return
        self._note_heartbeat(new["metadata"]["name"], h, u.get_condition(new.get("status"), "Ready"))

    def _note_heartbeat(self, name: str, h: _Health, ready: Obj | None) -> None:
        """A Ready lastHeartbeatTime other than the last one seen moves the probe to the pass that
        sees it (the one after this write)."""
        hb = u.ts(self.loop, ready.get("lastHeartbeatTime")) if ready is not None else None
        if hb != h.heartbeat:
            self._set_probe(name, h, self._observed_at(self.loop.now))
            h.heartbeat = hb

    def _observed_at(self, t: float) -> float:
        """The monitor pass that first sees a change written at ``t`` (upstream's probe time is that
        pass's now()): the first pass after ``t``, or the one at ``t`` when it has not run yet (a
        writer ahead of this controller at that instant; kubelets come after it)."""
        period = NODE_MONITOR_PERIOD
        k = math.floor((t - self._first_tick) / period)
        if k >= 0 and self._first_tick + k * period == t and self.loop.now == t and self._last_pass < t:
            return t
        return self._first_tick + max(k + 1, 0) * period

    def _set_probe(self, name: str, h: _Health, t: float) -> None:
        """Move the node's probe time (never back) and its deadline."""
        if t <= h.probe:
            return
        new = h.probe == _NEVER  # the record's first probe: the node goes on the heap
        h.probe = t
        h.deadline = t + NODE_MONITOR_GRACE_PERIOD
        if new:
            heapq.heappush(self._heap, (t + NODE_MONITOR_GRACE_PERIOD, name))

    def _node_changed(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        ready = u.get_condition(node.get("status"), "Ready")
        h = self._health.get(name)
        if h is None:
            # first seen: the pass that lists it (a node that never posted a Ready condition counts
            # from its creation, as upstream's fake condition does)
            first = self._observed_at(self.loop.now) if ready is not None else u.created(self.loop, node)
            h = self._health[name] = _Health(u.ts(self.loop, ready.get("lastHeartbeatTime")) if ready is not None else None)
            self._set_probe(name, h, first)
        else:
            self._note_heartbeat(name, h, ready)
        status = str(ready.get("status", "Unknown")) if ready is not None else "Unknown"
        self._set_zone(name, (zone_key(node), status == "True"))
        if status != "True" or any(t.get("effect") == "NoExecute" and t.get("key") in (TAINT_NOT_READY, TAINT_UNREACHABLE)
                                   for t in (node.get("spec") or {}).get("taints") or ()):  # fmt: skip
            self._attention.add(name)
        else:
            self._attention.discard(name)
        self._dirty.add(name)

    def _set_zone(self, name: str, zr: tuple[str, bool] | None) -> None:
        prev = self._zone_of.get(name)
        if prev == zr:
            return
        if prev is not None:
            c = self._zone_counts[prev[0]]
            c[0 if prev[1] else 1] -= 1
            if c[0] == 0 and c[1] == 0:
                del self._zone_counts[prev[0]]
        if zr is None:
            del self._zone_of[name]
            return
        self._zone_of[name] = zr
        self._zone_counts.setdefault(zr[0], [0, 0])[0 if zr[1] else 1] += 1

    def _lease_changed(self, lease: Obj) -> None:
        self._lease_updated(lease, lease)

    def _lease_updated(self, old: Obj, lease: Obj) -> None:
        m = lease["metadata"]
        if m.get("namespace") != LEASE_NAMESPACE:
            return
        name = m["name"]
        t = u.ts(self.loop, (lease.get("spec") or {}).get("renewTime"))  # the clock caches parses
        if t is None:
            self._renewed.pop(name, None)
        else:
            seen = self._renewed.get(name)
            if seen is not None and t <= seen:
                return  # not renewed since: only a newer renewTime moves the probe (upstream)
            self._renewed[name] = t
            h = self._health.get(name)
            if h is not None:
                # the pass after the renewal sees it (a lease written on read carries the instant
                # the schedule renewed it: the pass that would have seen that periodic write)
                self._set_probe(name, h, self._observed_at(t))

    def _lease_deleted(self, lease: Obj) -> None:
        m = lease["metadata"]
        if m.get("namespace") != LEASE_NAMESPACE:
            return
        self._renewed.pop(m["name"], None)  # the probe stays; a lease made again is a renewal
        self._lease_peek_changed(LEASE_NAMESPACE, m["name"])  # look again at its deadline

    def _lease_peek_changed(self, namespace: str, name: str) -> None:
        """A lease we left alone while its renewals went on (``_read_lease``): they stopped, so
        its node goes back on the heap with the deadline its last renewal gives."""
        h = self._health.get(name) if namespace == LEASE_NAMESPACE else None
        if h is not None and h.standing:
            h.standing = False
            heapq.heappush(self._heap, (h.deadline, name))

    def _node_deleted(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        self._observed_ready.pop(name, None)
        for q in self._queues.values():
            q.pop(name, None)
        self._health.pop(name, None)  # a stale heap entry is dropped when it comes up
        self._expired.discard(name)
        self._attention.discard(name)
        self._dirty.discard(name)
        self._set_zone(name, None)
        self.recorder.normal(self._node_ref(node), "RemovingNode", f"Node {name} event: Removing Node {name} from Controller")

    @staticmethod
    def _node_ref(node: Obj) -> Obj:
        name = node["metadata"]["name"]
        return {"kind": "Node", "apiVersion": "v1", "metadata": {"name": name, "uid": name}}

    # -- NoSchedule taints (reconcile per node) ---------------------------------------------
    def reconcile(self, key: str) -> float | None:
        node = self.node_informer.get_by_key(key)
        if node is None:
            return None
        if key not in self._observed_ready:
            self._observed_ready[key] = ready_status(node)
            self.recorder.normal(self._node_ref(node), "RegisteredNode",
                                 f"Node {key} event: Registered Node {key} in Controller")  # fmt: skip
        want: set[str] = set()
        for c in (node.get("status") or {}).get("conditions") or []:
            k = _CONDITION_TAINTS.get((c.get("type"), c.get("status")))
            if k:
                want.add(k)
        if (node.get("spec") or {}).get("unschedulable"):
            want.add(TAINT_UNSCHEDULABLE)
        taints = list((node.get("spec") or {}).get("taints") or [])
        have = {t["key"] for t in taints if t.get("effect") == "NoSchedule" and t.get("key") in _NO_SCHEDULE_KEYS}
        if have == want:
            return None
        new_taints = [t for t in taints if not (t.get("effect") == "NoSchedule" and t.get("key") in _NO_SCHEDULE_KEYS
                                                and t["key"] not in want)]  # fmt: skip
        for k in sorted(want - have):
            new_taints.append({"key": k, "effect": "NoSchedule"})
        self._write_taints(node, new_taints)
        return None

    def _write_taints(self, node: Obj, taints: list[Obj]) -> None:
        new = deep_copy(node)
        if taints:
            new.setdefault("spec", {})["taints"] = taints
        else:
            (new.get("spec") or {}).pop("taints", None)
        self.client.update(new)

    # -- monitor ----------------------------------------------------------------------------
    def monitor(self) -> None:
        now = self.loop.now
        self._last_pass = now
        # Nodes whose last probe is older than the grace period: the ones expired at the last tick
        # and those whose deadline has passed since (a heap entry whose node was renewed meanwhile
        # goes back with its new deadline).
        heap, health = self._heap, self._health
        while heap and heap[0][0] < now:
            _, name = heapq.heappop(heap)
            h = health.get(name)
            if h is None:
                continue  # the node is gone
            cur = h.deadline
            if now > cur:
                if self._read_lease(name):
                    h.standing = True  # renewals go on: off the heap until they stop
                    continue
                cur = h.deadline  # the renewal's handler moved it in this record
            if now > cur:
                self._expired.add(name)
            else:
                heapq.heappush(heap, (cur, name))
        for name in sorted(self._expired):
            h = health.get(name)
            if h is None:
                self._expired.discard(name)
                continue
            cur = h.deadline
            if now <= cur:
                self._expired.discard(name)
                heapq.heappush(heap, (cur, name))
                continue
            node = self.node_informer.get(name)
            if node is None:
                continue
            try:
                self._update_health(node, now)
            except ApiError:
                continue
        self._handle_disruption(now)
        # Only nodes that changed, are not Ready or carry a NoExecute taint of ours can have
        # something to do below; for the rest (Ready, observed Ready, no such taint) it is a no-op.
        names = sorted(self._dirty | self._attention)
        self._dirty.clear()
        for name in names:
            node = self.node_informer.get(name)
            if node is None:
                continue
            current = ready_status(node)
            observed = self._observed_ready.get(name)
            if observed == "True" and current != "True":
                self.recorder.normal(self._node_ref(node), "NodeNotReady", f"Node {name} status is now: NodeNotReady")
                self._mark_pods_not_ready(name)
            self._observed_ready[name] = current
            if not self._all_disrupted:
                try:
                    self._process_no_execute(node)
                except ApiError:
                    continue
        if not self._all_disrupted:
            self._drain_queues(now)

    def _read_lease(self, name: str) -> bool:
        """Look at the node's Lease before calling the node unhealthy; True when its renewals go
        on until the registry says otherwise (``Registry.peek``'s standing answer).

        The informer's copy is as fresh as the store's when leases are written on every renewal.
        When the kubelets write them only when read (``run`` mode), an in-process registry answers
        with the renewal the schedule has reached without writing it: what a GET would have
        written and our informer delivered, so the record moves the same. While that kubelet's
        renewals go on, every later look would find a renewal within the grace period, so the node
        leaves the heap; the kubelet's stop (``Registry.peek_changed``) or the lease's deletion
        brings it back with the deadline of its last renewal, which the stop writes. The node's
        outcome is the same as with a look every grace period; the lease is written when someone
        else reads it. Another client: a GET, whose watch event moves the deadline before we
        return."""
        registry = getattr(self.client, "registry", None)
        if registry is None:
            try:
                self.client.get("leases.coordination.k8s.io", name, LEASE_NAMESPACE, copy=False)
            except ApiError:
                pass
            return False
        lease, standing = registry.peek("leases.coordination.k8s.io", name, LEASE_NAMESPACE)
        if lease is not None:
            self._lease_updated(lease, lease)
        return standing

    def _update_health(self, node: Obj, now: float) -> None:
        h = self._health.get(node["metadata"]["name"])
        if h is None or now <= h.deadline:
            return
        new = deep_copy(node)
        status = new.setdefault("status", {})
        conds = status.setdefault("conditions", [])
        ts_now = self.loop.timestamp()
        changed = False
        for type_ in _MONITORED_CONDITIONS:
            c = u.get_condition(status, type_)
            if c is None:
                conds.append({"type": type_, "status": "Unknown", "lastHeartbeatTime": node["metadata"].get("creationTimestamp"),
                              "lastTransitionTime": ts_now, "reason": "NodeStatusNeverUpdated",
                              "message": "Kubelet never posted node status."})  # fmt: skip
                changed = True
            elif c.get("status") != "Unknown":
                c.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.",
                         lastTransitionTime=ts_now)  # fmt: skip
                changed = True
        if changed:
            self.client.update_status(new)

    def _mark_pods_not_ready(self, node_name: str) -> None:
        for pod in self.pod_informer.list():
            if (pod.get("spec") or {}).get("nodeName") != node_name or not u.is_pod_active(pod):
                continue
            c = u.get_condition(pod.get("status"), "Ready")
            if c is None or c.get("status") == "False":
                continue
            new = deep_copy(pod)
            c2 = u.get_condition(new["status"], "Ready")
            assert c2 is not None
            c2.update(status="False", lastTransitionTime=self.loop.timestamp())
            try:
                self.client.update_status(new)
            except ApiError:
                continue
            self.recorder.warning(pod, "NodeNotReady", "Node is not ready")

    # -- zones and rate limiting ------------------------------------------------------------
    def _handle_disruption(self, now: float) -> None:
        counts = self._zone_counts
        states = {z: zone_state(r, nr) for z, (r, nr) in counts.items()}
        all_disrupted = bool(states) and all(s == FULL for s in states.values())
        if all_disrupted:
            if not self._all_disrupted:
                nodes = sorted(self.node_informer.list(), key=lambda n: n["metadata"]["name"])
                for n in nodes:  # markNodeAsReachable for every node; stop tainting
                    self._remove_no_execute(n)
                for q in self._queues.values():
                    q.clear()
            self._all_disrupted = True
            self._zone_states = states
            return
        if self._all_disrupted:
            for q in self._queues.values():
                q.clear()
            self._all_disrupted = False
        for z, state in states.items():
            size = sum(counts[z])
            if state == NORMAL or state == FULL:
                qps = EVICTION_LIMITER_QPS
            else:
                qps = SECONDARY_EVICTION_LIMITER_QPS if size > LARGE_CLUSTER_SIZE_THRESHOLD else 0.0
            bucket = self._buckets.get(z)
            if bucket is None:
                self._buckets[z] = _TokenBucket(qps, now)
            else:
                bucket.set_qps(qps, now)
        self._zone_states = states

    def _process_no_execute(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        taints = (node.get("spec") or {}).get("taints") or []
        keys = {t.get("key") for t in taints if t.get("effect") == "NoExecute"}
        status = ready_status(node)
        q = self._queues.setdefault(zone_key(node), {})
        if status == "False":
            if TAINT_UNREACHABLE in keys:
                self._swap(node, TAINT_NOT_READY, TAINT_UNREACHABLE)
            elif TAINT_NOT_READY not in keys:
                q.setdefault(name, None)
        elif status == "Unknown":
            if TAINT_NOT_READY in keys:
                self._swap(node, TAINT_UNREACHABLE, TAINT_NOT_READY)
            elif TAINT_UNREACHABLE not in keys:
                q.setdefault(name, None)
        else:
            q.pop(name, None)
            self._remove_no_execute(node)

    def _swap(self, node: Obj, add: str, remove: str) -> None:
        taints = [t for t in (node.get("spec") or {}).get("taints") or []
                  if not (t.get("effect") == "NoExecute" and t.get("key") in (add, remove))]  # fmt: skip
        taints.append({"key": add, "effect": "NoExecute", "timeAdded": self.loop.timestamp()})
        self._write_taints(node, taints)

    def _remove_no_execute(self, node: Obj) -> None:
        taints = (node.get("spec") or {}).get("taints") or []
        keep = [t for t in taints
                if not (t.get("effect") == "NoExecute" and t.get("key") in (TAINT_NOT_READY, TAINT_UNREACHABLE))]  # fmt: skip
        if len(keep) != len(taints):
            self._write_taints(node, keep)

    def _drain_queues(self, now: float) -> None:
        for z in sorted(self._queues):
            q = self._queues[z]
            bucket = self._buckets.get(z)
            while q and bucket is not None:
                name = next(iter(q))
                node = self.node_informer.get(name)
                if node is None:
                    q.pop(name)
                    continue
                status = ready_status(node)
                add = TAINT_NOT_READY if status == "False" else TAINT_UNREACHABLE if status == "Unknown" else None
                if add is None:
                    q.pop(name)
                    continue
                if not bucket.try_take(now):
                    break
                q.pop(name)
                remove = TAINT_UNREACHABLE if add == TAINT_NOT_READY else TAINT_NOT_READY
                try:
                    self._swap(node, add, remove)
                except ApiError:
                    q[name] = None
                    break


# -- taint-based eviction -----------------------------------------------------------------------
def min_toleration_time(tolerations: list[Obj]) -> float:
    """getMinTolerationTime: -1 means forever."""
    if not tolerations:
        return 0.0
    best: float | None = None
    for t in tolerations:
        s = t.get("tolerationSeconds")
        if s is None:
            continue
        if int(s) <= 0:
            return 0.0
        best = float(s) if best is None else min(best, float(s))
    return -1.0 if best is None else best


def matching_tolerations(taints: list[Obj], tolerations: list[Obj]) -> tuple[bool, list[Obj]]:
    """v1helper.GetMatchingTolerations."""
    used: list[Obj] = []
    for taint in taints:
        for tol in tolerations:
            if toleration_tolerates_taint(tol, taint):
                used.append(tol)
                break
        else:
            return False, []
    return True, used


class TaintEvictionController(Controller):
    name = "taint-eviction-controller"

    def __init__(self, client: Any, informers: Any) -> None:
        super().__init__(client, informers)
        self._scheduled: dict[str, tuple[float, Handle]] = {}

    def start(self) -> None:
        self.node_informer = self.informers.get("nodes")
        self.pod_informer = self.informers.get("pods")
        self.pod_informer.add_index(NODE_NAME_INDEX, node_name_index, changes=pod_changes, bits=pc.NODE)
        # a heartbeat leaves the NoExecute taints as they were
        self.node_informer.add_handler(self._node_event, self._node_updated, None, ignore=heartbeat_only)
        self.pod_informer.add_handler(self._pod_added, self._pod_updated, self._pod_deleted,
                                      changes=pod_changes, reads=pc.NODE | pc.SPEC)  # fmt: skip

    def _node_event(self, node: Obj) -> None:
        for pod in self.pod_informer.by_index(NODE_NAME_INDEX, node["metadata"]["name"]):
            self.enqueue(pod)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        def ne(n: Obj) -> list[Obj]:
            return [t for t in (n.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]

        if ne(old) != ne(new):
            self._node_event(new)

    def _pod_added(self, pod: Obj) -> None:
        """A pod not on a node yet has nothing to evict or cancel (a deleted pod's eviction went
        with it): only a pod created bound needs a sync now; the rest get one when bound."""
        if (pod.get("spec") or {}).get("nodeName"):
            self.enqueue(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        a, b = old.get("spec") or {}, new.get("spec") or {}
        if a is b:
            return  # a status write: the node and the tolerations are the stored ones
        ta, tb = a.get("tolerations"), b.get("tolerations")
        if a.get("nodeName") != b.get("nodeName") or (ta is not tb and ta != tb):
            self.enqueue(new)

    def _pod_deleted(self, pod: Obj) -> None:
        m = pod["metadata"]
        self._cancel(f"{m['namespace']}/{m['name']}", event=False)

    def _cancel(self, key: str, event: bool = True) -> None:
        item = self._scheduled.pop(key, None)
        if item is None:
            return
        item[1].cancel()
        if event:
            pod = self.pod_informer.get_by_key(key)
            if pod is not None:
                self.recorder.normal(pod, "TaintManagerEviction", f"Cancelling deletion of Pod {key}")

    def reconcile(self, key: str) -> float | None:
        pod = self.pod_informer.get_by_key(key)
        if pod is None:
            self._cancel(key, event=False)
            return None
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name or pod["metadata"].get("deletionTimestamp") or not u.is_pod_active(pod):
            self._cancel(key)
            return None
        node = self.node_informer.get(node_name)
        taints = [t for t in ((node or {}).get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]
        if not taints:
            self._cancel(key)
            return None
        now = self.loop.now
        ok, used = matching_tolerations(taints, (pod.get("spec") or {}).get("tolerations") or [])
        if not ok:
            self._cancel(key, event=False)
            self._evict(key)
            return None
        minimum = min_toleration_time(used)
        if minimum < 0:
            self._cancel(key)
            return None
        start = now
        trigger = now + minimum
        existing = self._scheduled.get(key)
        if existing is not None:
            start = existing[0]
            if start + minimum < trigger:
                return None
            self._cancel(key, event=False)
        if trigger <= now:
            self._evict(key)
            return None
        handle = self.loop.call_at(trigger, lambda: self._fire(key), self.priority, "taint-eviction")
        self._scheduled[key] = (start, handle)
        return None

    def _fire(self, key: str) -> None:
        self._scheduled.pop(key, None)
        try:
            self._evict(key)
        except ApiError:
            self.queue.add_rate_limited(key)

    def _evict(self, key: str) -> None:
        pod = self.pod_informer.get_by_key(key)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        self.recorder.normal(pod, "TaintManagerEviction", f"Marking for deletion Pod {key}")
        new = deep_copy(pod)
        st = new.setdefault("status", {})
        cond = {"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                "lastTransitionTime": self.loop.timestamp(), "reason": "DeletionByTaintManager",
                "message": "Taint manager: deleting due to NoExecute taint"}  # fmt: skip
        cur = u.get_condition(st, "DisruptionTarget")
        if cur is None or cur.get("status") != "True" or cur.get("reason") != "DeletionByTaintManager":
            st["conditions"] = [c for c in st.get("conditions") or [] if c.get("type") != "DisruptionTarget"] + [cond]
            try:
                self.client.update_status(new)
            except ApiError as e:
                if e.code == 404:
                    return
        m = pod["metadata"]
        try:
            self.client.delete("pods", m["name"], m["namespace"])
        except ApiError as e:
            if e.code != 404:
                raise
