"""One simulated kubelet (pkg/kubelet/kubelet.go) for one Node.

- Node status (pkg/kubelet/kubelet_node_status.go, nodestatus/setters.go): conditions
  MemoryPressure/DiskPressure/PIDPressure=False and Ready, with upstream's reasons and messages.
  Until the node is ready (``kubetwin.io/boot-seconds`` after it appeared; 0 for hand-written
  nodes and nodes of virtual time 0) Ready is False (``KubeletNotReady``, CNI not initialised) and
  the node keeps the ``node.kubernetes.io/not-ready:NoSchedule`` taint it registered with; then
  Ready=True and the taint goes. Status is written only when a condition changes, plus every
  ``nodeStatusReportFrequency`` (5 min) to refresh lastHeartbeatTime.
- Node lease (k8s.io/component-helpers/apimachinery/lease/controller.go, pkg/kubelet/nodelease):
  ``kube-node-lease/<node>``, holderIdentity the node, leaseDurationSeconds 40, renewed every 10 s
  (leaseDuration x 0.25; configurable), owned by the Node. Renewals follow that schedule from the
  kubelet's (re)start; the manager's ``lease_renewal`` says how they reach the store: ``periodic``
  writes each one (serve), ``on-read`` writes the lease with the renewTime the schedule has reached
  whenever someone reads it (get, list or watch; the node lifecycle controller reads it when the
  node's grace period runs out), so a read sees exactly what periodic writes would have left.
- Pod admission (lifecycle/predicate.go, see :mod:`kubetwin.kubelet.admission`), pod workers
  (pod_workers.go, see :mod:`kubetwin.kubelet.podworker`), and the status manager
  (status/status_manager.go): a pod's status changes at one virtual instant are coalesced into one
  write, and nothing is written when the status did not change.

``stop()`` simulates a dead kubelet (no lease renewals, no status, pods frozen as they are);
``resume()`` brings it back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kubetwin.api.errors import ApiError
from kubetwin.api.nodestatus import (
    NOT_READY_MESSAGE,
    NOT_READY_REASON,
    READY_MESSAGE,
    READY_REASON,
    renewed_heartbeats,
)
from kubetwin.api.nodestatus import PRESSURE as _PRESSURE
from kubetwin.api.nodestatus import UNDER_PRESSURE as _UNDER_PRESSURE
from kubetwin.api.resources import pod_qos, pod_requests, qos_class, resource_list
from kubetwin.client import EventRecorder
from kubetwin.kubelet import admission
from kubetwin.kubelet.eviction import EvictionManager
from kubetwin.kubelet.ipam import HostLocalIPAM
from kubetwin.kubelet.podworker import PRIORITY, PodWorker
from kubetwin.kubelet.resource_model import ResourceModel
from kubetwin.kubelet.status import pod_status
from kubetwin.sim import Handle
from kubetwin.store.copy import deep_copy

if TYPE_CHECKING:
    from kubetwin.kubelet.manager import KubeletManager

Obj = dict[str, Any]

ANN_BOOT_SECONDS = "kubetwin.io/boot-seconds"
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
LEASE_NAMESPACE = "kube-node-lease"
LEASE_RESOURCE = "leases.coordination.k8s.io"
LEASE_DURATION_SECONDS = 40
NODE_STATUS_REPORT_FREQUENCY = 300.0

_PRESSURE_EVENTS = {  # (True, False) events of recordNodeStatusEvent
    "MemoryPressure": ("NodeHasInsufficientMemory", "NodeHasSufficientMemory"),
    "DiskPressure": ("NodeHasDiskPressure", "NodeHasNoDiskPressure"),
    "PIDPressure": ("NodeHasInsufficientPID", "NodeHasSufficientPID"),
}
EVICTED_REASON = "Evicted"
_REPORTED = frozenset({*(t for t, _, _ in _PRESSURE), "Ready"})  # the condition types a kubelet sets
# (node ready, conditions under pressure or None) -> what desired_conditions wants (a few keys)
_WANTED: dict[tuple[bool, frozenset[str] | None], tuple[tuple[str, str, str, str], ...]] = {}


def _host_ip(node: Obj) -> str:
    for a in (node.get("status") or {}).get("addresses") or []:
        if a.get("type") == "InternalIP":
            return str(a.get("address", ""))
    return ""


class Kubelet:
    NETWORK_NOT_READY = "network is not ready: " + NOT_READY_MESSAGE

    def __init__(self, manager: KubeletManager, node: Obj, resource_model: ResourceModel | None = None) -> None:
        self.manager = manager
        self.client = manager.client
        self.loop = manager.loop
        meta = node["metadata"]
        self.name: str = meta["name"]
        self.node_uid: str = meta.get("uid", "")
        self.rng = manager.rng.child(self.name)
        self.recorder = EventRecorder(self.client, "kubelet", host=self.name)
        self.host_ip = _host_ip(node) or f"10.0.255.{len(manager.kubelets) % 250 + 1}"
        cidr = (node.get("spec") or {}).get("podCIDR") or manager.fallback_pod_cidr()
        self.ipam = HostLocalIPAM(cidr)
        self.workers: dict[str, PodWorker] = {}
        # the summed requests and number of the workers that still count (PodWorker.counted)
        self._used: dict[str, int] = {}
        self._used_count = 0
        self.images: set[str] = set()
        self.waiting_network: list[PodWorker] = []
        self.waiting_ip: list[PodWorker] = []
        self.ip_woken: set[PodWorker] = set()  # waiters woken for a freed address, not yet at their sandbox
        self.running = False
        self.started = False
        self.node_ready = False
        self.ready_at = self._ready_at(node)
        self.resource_model: ResourceModel = resource_model if resource_model is not None else manager.new_model(self)
        self._timers: list[Handle] = []
        self._ready_timer: Handle | None = None
        self._status_pending: dict[str, PodWorker] = {}
        self._flush: Handle | None = None
        self.pressure: set[str] = set()  # node conditions the eviction manager reports True
        self.evicted: dict[str, str] = {}  # pod uid -> eviction message (status stays Failed/Evicted)
        self.eviction: EvictionManager | None = None
        self._renewals_done = 0  # renewals of finished (re)start segments, or every periodic write
        self._lease_phase: float | None = None  # on-read: when this segment's renewals began
        self._lease_frozen: float | None = None  # on-read: the last renewal before the kubelet stopped
        self._lease_written: float | None = None  # renewTime of the lease we last wrote
        self._lease_owned = False  # this start wrote the whole lease once: renewals set renewTime only
        self.node_status_writes = 0
        self.pod_status_writes = 0
        self._written_conditions: list[Obj] | None = None
        self._written_wanted: tuple[tuple[str, str, str, str], ...] | None = None  # _wanted() of that write
        self._allocatable_memo: tuple[Any, dict[str, int]] | None = None  # (node allocatable, parsed)
        self.cidr_waiting = False  # the node's podCIDR is not the range in use yet (see follow_pod_cidr)

    def _ready_at(self, node: Obj) -> float:
        ann = node["metadata"].get("annotations") or {}
        try:
            boot = max(0.0, float(ann.get(ANN_BOOT_SECONDS, "0")))
        except ValueError:
            boot = 0.0
        if boot == 0:
            return self.loop.now
        created = node["metadata"].get("creationTimestamp")
        base = self.loop.now
        if created and created != self.loop.timestamp():
            base = min(base, self.loop.parse_timestamp(created))
        return base + boot

    @property
    def node(self) -> Obj | None:
        return self.manager.nodes.get(self.name)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Called when the Node appears; the work happens at priority 30 on the loop."""
        self.running = True
        self.loop.call_soon(self._boot, PRIORITY, f"kubelet:{self.name}:boot")

    def _boot(self) -> None:
        if not self.running:
            return
        node = self.node
        if node is None:
            return
        if not self.started:
            self.started = True
            ref = {"kind": "Node", "metadata": {"name": self.name, "uid": self.name}}
            self.recorder.normal(ref, "Starting", "Starting kubelet.")
            for _, reason, _ in _PRESSURE:
                status_reason = reason.replace("Kubelet", "Node")
                self.recorder.normal(ref, status_reason, f"Node {self.name} status is now: {status_reason}")
            self.recorder.normal(ref, "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods")
        self._lease_owned = False
        if self.manager.lease_renewal == "on-read":
            self._lease_phase, self._lease_frozen = self.loop.now, None
            self.sync_lease()
        else:
            self.renew_lease()
            self._timers.append(self.loop.every(self.manager.lease_renew_interval, self.renew_lease, PRIORITY,
                                                f"kubelet:{self.name}:lease"))  # fmt: skip
        self._timers.append(self.loop.every(self.manager.node_status_report_frequency,
                                            lambda: self.sync_node_status(force=True), PRIORITY,
                                            f"kubelet:{self.name}:status"))  # fmt: skip
        model = self.resource_model
        if model.tick_interval:
            self._timers.append(self.loop.every(model.tick_interval, lambda: model.tick(self), PRIORITY,
                                                f"kubelet:{self.name}:model"))  # fmt: skip
        if self.loop.now >= self.ready_at:
            self._become_ready()
        else:
            self.sync_node_status()
            self._ready_timer = self.loop.call_at(self.ready_at, self._become_ready, PRIORITY,
                                                  f"kubelet:{self.name}:ready")  # fmt: skip
        for w in list(self.workers.values()):
            w.thaw()
        self.manager.enqueue_node_pods(self.name)

    def _become_ready(self) -> None:
        if not self.running:
            return
        was_ready = self.node_ready
        self.node_ready = True
        node = self.node
        if node is not None:
            taints = (node.get("spec") or {}).get("taints") or []
            keep = [t for t in taints if not (t.get("key") == TAINT_NOT_READY and t.get("effect") == "NoSchedule")]
            if len(keep) != len(taints):
                new = deep_copy(node)
                new["spec"]["taints"] = keep
                if not keep:
                    del new["spec"]["taints"]
                try:
                    self.client.update(new)
                except ApiError:
                    pass
        self.sync_node_status()
        if not was_ready:
            ref = {"kind": "Node", "metadata": {"name": self.name, "uid": self.name}}
            self.recorder.normal(ref, "NodeReady", f"Node {self.name} status is now: NodeReady")
        waiting, self.waiting_network = self.waiting_network, []
        for w in waiting:
            w.waiting_network = False
            w._sandbox()

    def stop(self, node_gone: bool = False) -> None:
        """The kubelet dies: no lease renewals, no node or pod status; pods stay as they are."""
        if not self.running:
            return
        if self._lease_phase is not None:
            self._lease_frozen = self.due_renew_time()
            self._renewals_done += self._segment_renewals()
            self._lease_phase = None
            if not node_gone:
                self.sync_lease()  # the store holds the last renewal the dead kubelet made
            self.manager.lease_schedule_stopped(self.name)
        self.running = False
        for h in self._timers:
            h.cancel()
        self._timers.clear()
        if self._ready_timer is not None:
            self._ready_timer.cancel()
            self._ready_timer = None
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        self._status_pending.clear()
        if self.eviction is not None:
            self.eviction.stop()
        for w in self.workers.values():
            w.freeze()

    def resume(self) -> None:
        """The kubelet comes back: renew the lease, report status, carry on with its pods."""
        if self.running:
            return
        self.running = True
        self.loop.call_soon(self._boot, PRIORITY, f"kubelet:{self.name}:resume")

    def shutdown(self) -> None:
        """The Node object is gone: stop everything (the pods are podgc's business)."""
        self.stop(node_gone=True)
        if self.cidr_waiting:
            self.cidr_waiting = False
            self.manager.cidr_waiting(self.name, False)
        for w in self.workers.values():
            w.deleted = True
            w._model_stop()
            self.uncount(w)
        self.workers.clear()

    # -- node status & lease --------------------------------------------------------------------
    def desired_conditions(self, node: Obj, force: bool) -> list[Obj] | None:
        """New node conditions, or None when nothing changed and no report is due."""
        current = (node.get("status") or {}).get("conditions")
        wanted = self._wanted()
        written = self._written_conditions
        if current is written and written is not None and wanted is self._written_wanted:
            # the node holds the conditions we last wrote, and we want what we wanted then: nothing
            # changed, a report renews only the heartbeats (what the loop below would build)
            return renewed_heartbeats(written, len(wanted), self.loop.timestamp()) if force else None
        old = {c.get("type"): c for c in current or []}
        if not force and all(
            (prev := old.get(w[0])) is not None and (prev.get("status"), prev.get("reason"), prev.get("message")) == w[1:]
            for w in wanted
        ):
            return None  # the common case: every 10 s, nothing to report
        now = self.loop.timestamp()
        conds = []
        for type_, status, reason, message in wanted:
            prev = old.get(type_)
            since = prev.get("lastTransitionTime") if prev is not None and prev.get("status") == status else None
            conds.append({"type": type_, "status": status, "lastHeartbeatTime": now,
                          "lastTransitionTime": since or now, "reason": reason, "message": message})  # fmt: skip
        conds += [c for t, c in old.items() if t not in _REPORTED]  # conditions set by others stay
        return conds

    def _wanted(self) -> tuple[tuple[str, str, str, str], ...]:
        """(type, status, reason, message) of the conditions this kubelet reports, in order."""
        key = (self.node_ready, frozenset(self.pressure) if self.pressure else None)
        wanted = _WANTED.get(key)
        if wanted is None:
            wanted = _WANTED[key] = (
                *((t, "True", *_UNDER_PRESSURE[t]) if t in self.pressure else (t, "False", r, m) for t, r, m in _PRESSURE),
                ("Ready", "True", READY_REASON, READY_MESSAGE) if self.node_ready
                else ("Ready", "False", NOT_READY_REASON, NOT_READY_MESSAGE),
            )  # fmt: skip
        return wanted

    def sync_node_status(self, force: bool = False) -> None:
        if not self.running:
            return
        node = self.node
        if node is None:
            return
        conds = self.desired_conditions(node, force)
        if conds is None:
            return
        try:
            self._written_conditions = conds  # our own write's event needs no second look
            self._written_wanted = self._wanted()
            set_fields = self.manager.set_fields_trusted
            if set_fields is not None:
                set_fields("nodes", "", self.name, "status", {"conditions": conds})
            else:
                status = dict(node.get("status") or {})
                status["conditions"] = conds
                self.client.update({"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.name},
                                    "status": status}, subresource="status")  # fmt: skip
            self.node_status_writes += 1
        except ApiError:
            pass

    def lease_object(self, renewed_at: float) -> Obj:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": LEASE_NAMESPACE,
                "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": self.node_uid}],
            },
            "spec": {
                "holderIdentity": self.name,
                "leaseDurationSeconds": LEASE_DURATION_SECONDS,
                "renewTime": self.loop.micro_timestamp(renewed_at),
            },
        }

    @property
    def lease_renewals(self) -> int:
        """Lease renewals so far (on-read: the ones the schedule has reached, written or not)."""
        return self._renewals_done + self._segment_renewals()

    def _segment_renewals(self) -> int:
        phase = self._lease_phase
        if phase is None:
            return 0
        return int((self.loop.now - phase) / self.manager.lease_renew_interval + 1e-9) + 1

    def due_renew_time(self) -> float | None:
        """on-read: the renewTime the lease has now (the schedule's last renewal instant, or the
        last one before the kubelet stopped); None before the first boot or in periodic mode."""
        phase = self._lease_phase
        if phase is None:
            return self._lease_frozen
        interval = self.manager.lease_renew_interval
        return phase + (self._segment_renewals() - 1) * interval

    def sync_lease(self) -> None:
        """on-read: write the lease when the schedule has renewed it since our last write."""
        due = self.due_renew_time()
        written = self._lease_written
        if due is None or (written is not None and due <= written):
            return
        if self._write_lease(due):
            self._lease_written = due

    def peek_lease(self, stored: Obj | None) -> tuple[Obj, bool] | None:
        """on-read: the lease a read would find now, without writing it: ``stored`` (the store's
        copy) with the renewTime the schedule has reached (its resourceVersion aside), and whether
        the schedule runs (it stands: ``stop`` tells the registry when it ends). None when a read
        would write more than renewTime (no lease yet, or this start has not written it)."""
        due = self.due_renew_time()
        if due is None or stored is None or not self._lease_owned:
            return None
        standing = self._lease_phase is not None
        written = self._lease_written
        if written is not None and due <= written:
            return stored, standing
        return {**stored, "spec": {**stored["spec"], "renewTime": self.loop.micro_timestamp(due)}}, standing

    def renew_lease(self) -> None:
        if not self.running:
            return
        if self._write_lease(self.loop.now):
            self._renewals_done += 1

    def _write_lease(self, at: float) -> bool:
        """Renew (or create) the node's Lease with renewTime ``at``. The first write of a kubelet
        start puts the whole lease (holder, duration, owner: the node's current uid); later ones set
        only renewTime on the stored lease, as upstream's lease controller renews a copy of the
        lease it last saw (component-helpers/apimachinery/lease/controller.go)."""
        set_fields = self.manager.set_fields_trusted
        try:
            try:
                if self._lease_owned and set_fields is not None:
                    set_fields(LEASE_RESOURCE, LEASE_NAMESPACE, self.name, "spec",
                               {"renewTime": self.loop.micro_timestamp(at)})  # fmt: skip
                else:
                    self._write_trusted(self.lease_object(at), None)
            except ApiError as e:
                if e.code != 404:
                    raise
                self.client.create(self.lease_object(at))
            self._lease_owned = True
            return True
        except ApiError:
            return False  # the lease controller retries on its next tick

    def _write_trusted(self, obj: Obj, subresource: str | None) -> None:
        """Write an object built for this write alone through the registry's trusted fast path
        (no defensive copies in or out); any other client gets a plain update."""
        registry = getattr(self.client, "registry", None)
        if registry is not None and hasattr(registry, "update_trusted"):
            registry.update_trusted(obj, subresource)
        else:
            self.client.update(obj, subresource=subresource)

    def on_node_update(self, old: Obj, new: Obj) -> None:
        """Someone else changed the node (e.g. nodelifecycle set Ready Unknown): correct it soon.
        The manager does not call it for heartbeat-only updates (``heartbeat_only``): only this
        kubelet writes those, with the conditions it last wrote, so the conditions need no look,
        and the node's spec (its podCIDR) is as before (see ``follow_pod_cidr``)."""
        if self.running and self.started:
            conds = (new.get("status") or {}).get("conditions")
            if conds is not self._written_conditions and (old.get("status") or {}).get("conditions") != conds:
                if self.desired_conditions(new, False) is not None:
                    self.loop.call_soon(self.sync_node_status, PRIORITY, f"kubelet:{self.name}:status")
        self.follow_pod_cidr(new)

    def follow_pod_cidr(self, node: Obj) -> None:
        """Take the node's podCIDR when it differs from the range in use and no address of that
        range is out. Until then the kubelet is ``cidr_waiting``, and the manager hands it every
        node update, heartbeats too (one may come after the last address went back, or after the
        kubelet started again: a stopped kubelet takes no range, but it waits)."""
        cidr = (node.get("spec") or {}).get("podCIDR")
        if cidr and cidr != self.ipam.cidr and self.ipam.in_use == 0 and self.running and self.started:
            self.ipam = HostLocalIPAM(cidr)
        waiting = bool(cidr) and cidr != self.ipam.cidr
        if waiting != self.cidr_waiting:
            self.cidr_waiting = waiting
            self.manager.cidr_waiting(self.name, waiting)

    # -- pods -----------------------------------------------------------------------------------
    def used(self) -> tuple[dict[str, int], int, Iterator[Obj]]:
        """Summed requests (read-only) and number of the admitted pods that still count, kept as
        workers start, finish and go, and those pods (lazily: admission reads them only for a pod
        with host ports)."""
        return self._used, self._used_count, (w.pod for w in self.workers.values() if not w.done)

    def _count(self, w: PodWorker, sign: int) -> None:
        """Add (+1) or take out (-1) a worker's requests from what ``used`` reports."""
        w.counted = sign > 0
        self._used_count += sign
        total = self._used
        for k, v in w.requests.items():
            total[k] = total.get(k, 0) + sign * v

    def uncount(self, w: PodWorker) -> None:
        """The worker is done (its pod is terminal) or forgotten: its pod stops counting."""
        if w.counted:
            self._count(w, -1)

    def sync_pod(self, key: str, pod: Obj | None) -> None:
        """HandlePodAdditions/Updates/Removes for one pod key."""
        if not self.running:
            return
        w = self.workers.get(key)
        if pod is not None and w is not None and w.uid != pod["metadata"].get("uid"):
            self._forget(w)
            w = None
        if pod is None:
            if w is not None:
                self._forget(w)
            return
        if w is not None:
            w.pod = pod
            if pod["metadata"].get("deletionTimestamp") and not w.deleted:
                w.terminate(pod)
            return
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            return
        if pod["metadata"].get("deletionTimestamp"):
            self._delete(pod)
            return
        node = self.node
        if node is None:
            return
        rejection = None
        if self.eviction is not None:  # the eviction admit handler runs before the predicates
            evict_reject = self.eviction.admit(pod)
            if evict_reject is not None:
                rejection = admission.Rejection(*evict_reject)
        used, count, admitted = self.used()
        requests = pod_requests(pod)
        if rejection is None:
            rejection = admission.check(pod, node, admitted, used, count, requests=requests,
                                        allocatable=self._allocatable(node))  # fmt: skip
        if rejection is not None:
            self._reject(pod, rejection)
            return
        w = PodWorker(self, pod, requests)
        self.workers[key] = w
        self._count(w, 1)
        w.start()

    def _allocatable(self, node: Obj) -> dict[str, int]:
        """The node's allocatable, parsed once per allocatable object the node holds (stored
        objects are read-only, and a heartbeat shares it with the version before)."""
        raw = (node.get("status") or {}).get("allocatable")
        memo = self._allocatable_memo
        if memo is None or memo[0] is not raw:
            memo = self._allocatable_memo = (raw, resource_list(raw))
        return memo[1]

    def _reject(self, pod: Obj, r: admission.Rejection) -> None:
        """kubelet.go rejectPod."""
        self.recorder.warning(pod, r.reason, r.message)
        old = pod.get("status") or {}
        status: Obj = {"phase": "Failed", "reason": r.reason, "message": "Pod was rejected: " + r.message,
                       "startTime": old.get("startTime") or self.loop.timestamp(),
                       "qosClass": old.get("qosClass") or qos_class(pod)}  # fmt: skip
        status["conditions"] = [c for c in old.get("conditions") or [] if c.get("type") == "DisruptionTarget"]
        if not status["conditions"]:
            del status["conditions"]
        self._write(pod, status)

    def _forget(self, w: PodWorker) -> None:
        w.deleted = True
        self.uncount(w)
        w.cancel_timers()
        self.evicted.pop(w.uid, None)
        self.release_ip(w)
        w._model_stop()
        self._status_pending.pop(w.key, None)
        if w in self.waiting_network:
            self.waiting_network.remove(w)
        if self.workers.get(w.key) is w:
            del self.workers[w.key]

    def release_ip(self, w: PodWorker) -> None:
        """Give back the pod's address (at teardown, and again when the pod is forgotten) and wake
        the first pod waiting for one, if an address is free that no pod woken before is about to
        take: one waiter per address freed."""
        if w.rt.pod_ip and not w.host_network:
            self.ipam.release(w.uid)
        if w in self.waiting_ip:
            self.waiting_ip.remove(w)
        self.ip_woken.discard(w)
        if self.waiting_ip and self.ipam.in_use + len(self.ip_woken) < self.ipam.size:
            nxt = self.waiting_ip.pop(0)
            self.ip_woken.add(nxt)
            self.loop.call_soon(nxt._sandbox, PRIORITY, f"kubelet:{self.name}:sandbox")

    def request_status(self, w: PodWorker) -> None:
        """status_manager SetPodStatus: coalesce the changes of this instant into one write."""
        self._status_pending[w.key] = w
        if self._flush is None:
            self._flush = self.loop.call_soon(self._flush_status, PRIORITY, f"kubelet:{self.name}:podstatus")

    def _flush_status(self) -> None:
        self._flush = None
        pending, self._status_pending = self._status_pending, {}
        for w in pending.values():
            if not w.deleted and self.workers.get(w.key) is w:
                self.write_status(w)

    def write_status(self, w: PodWorker) -> None:
        pod = self.manager.pods.get_by_key(w.key)
        if pod is None or pod["metadata"].get("uid") != w.uid:
            return
        status = pod_status(pod, w.rt, self.host_ip, w.start_time, self.loop, pod_qos(pod),
                            phase="Failed" if w.uid in self.evicted else None, prior=w.status_written)  # fmt: skip
        if w.uid in self.evicted:
            self._evicted_status(status, self.evicted[w.uid])
        if status == pod.get("status"):
            return
        if self._write(pod, status):
            w.status_written = status

    def _write(self, pod: Obj, status: Obj) -> bool:
        """Write ``status`` (built for this write alone) to ``pod``; False when the write failed."""
        m = pod["metadata"]
        obj = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": m["name"], "namespace": m["namespace"], "uid": m.get("uid")}, "status": status}  # fmt: skip
        try:
            self.client.update_status(obj, owned=True)  # built for this write alone
        except ApiError:
            return False
        self.pod_status_writes += 1
        return True

    def delete_pod(self, w: PodWorker) -> None:
        pod = self.manager.pods.get_by_key(w.key)
        self._forget(w)
        if pod is not None and pod["metadata"].get("uid") == w.uid:
            self._delete(pod)

    def _delete(self, pod: Obj) -> None:
        m = pod["metadata"]
        try:
            self.client.delete("pods", m["name"], m["namespace"], grace_period_seconds=0,
                               preconditions={"uid": m.get("uid")}, copy=False)  # fmt: skip
        except ApiError:
            pass

    # -- seams for the resource model (usage, OOM, eviction) ------------------------------------
    def worker_by_uid(self, uid: str) -> PodWorker | None:
        for w in self.workers.values():
            if w.uid == uid:
                return w
        return None

    def container_exited(self, pod_uid: str, container: str, exit_code: int, reason: str = "") -> None:
        """A container died (e.g. ``137, "OOMKilled"``); restart policy and back-off apply."""
        w = self.worker_by_uid(pod_uid)
        if w is not None:
            w.container_exited(container, exit_code, reason)

    def fail_pod(self, pod_uid: str, reason: str, message: str) -> None:
        """Stop all containers and set the pod Failed with ``reason``/``message`` (eviction)."""
        w = self.worker_by_uid(pod_uid)
        if w is None or w.done:
            return
        for c in w.rt.containers:
            if c.state == "running":
                w._event("Normal", "Killing", f"Stopping container {c.name}")
                w._stop(c, 137)
        w._teardown()
        pod = self.manager.pods.get_by_key(w.key)
        if pod is None:
            return
        status = pod_status(pod, w.rt, self.host_ip, w.start_time, self.loop, pod_qos(pod))
        status["phase"] = "Failed"
        status["reason"] = reason
        status["message"] = message
        self._write(pod, status)

    # -- eviction (pkg/kubelet/eviction, via killPodNow / TerminatePodAbnormallyAndWait) ---------
    def set_pressure(self, condition: str, under: bool) -> None:
        """Report MemoryPressure/DiskPressure/PIDPressure (the node lifecycle controller taints)."""
        if (condition in self.pressure) == under:
            return
        if under:
            self.pressure.add(condition)
        else:
            self.pressure.discard(condition)
        ref = {"kind": "Node", "metadata": {"name": self.name, "uid": self.name}}
        reason = _PRESSURE_EVENTS[condition][0 if under else 1]
        self.recorder.normal(ref, reason, f"Node {self.name} status is now: {reason}")
        self.sync_node_status()

    def active_pods(self) -> list[Obj]:
        """GetActivePods: admitted pods whose containers run or may still run."""
        return [w.pod for w in self.workers.values() if not w.done and not w.terminating and not w.deleted]

    def pod_cleaned_up(self, pod_uid: str) -> bool:
        w = self.worker_by_uid(pod_uid)
        return w is None or w.done

    def evict_pod(self, pod_uid: str, message: str, grace_seconds: int,
                  annotations: dict[str, str] | None = None) -> bool:  # fmt: skip
        """Evict a pod: Warning ``Evicted`` event, status Failed/Evicted with the DisruptionTarget
        condition (TerminationByKubelet) at once, containers stopped within ``grace_seconds``;
        the pod object stays (Failed) for its controller to replace."""
        w = self.worker_by_uid(pod_uid)
        if w is None or w.done or w.terminating or w.deleted:
            return False
        pod = self.manager.pods.get_by_key(w.key) or w.pod
        self.recorder.event(pod, "Warning", EVICTED_REASON, message, annotations=annotations)
        self.evicted[pod_uid] = message
        w.terminating = True
        for name in list(w.timers):
            w._cancel(name)
        w.creating.clear()
        running = [c for c in w.rt.containers if c.state == "running"]
        for c in running:
            w._event("Normal", "Killing", f"Stopping container {c.name}")
        self.write_status(w)
        grace = max(1.0, float(grace_seconds))
        if not running:
            self._evicted_stopped(w, False)
        elif w.shutdown_seconds <= grace:
            w._at("kill", w.shutdown_seconds, lambda: self._evicted_stopped(w, False))
        else:
            w._at("kill", grace, lambda: self._evicted_stopped(w, True))
        return True

    def _evicted_stopped(self, w: PodWorker, sigkill: bool) -> None:
        for c in w.rt.containers:
            if c.state == "running":
                w._stop(c, 137 if sigkill else 0)
        w._teardown()
        w.terminating = False  # a later deletion finishes through PodWorker.terminate
        self.write_status(w)
        pod = self.manager.pods.get_by_key(w.key)
        if pod is not None and pod["metadata"].get("uid") == w.uid and pod["metadata"].get("deletionTimestamp"):
            self.delete_pod(w)

    def _evicted_status(self, status: Obj, message: str) -> None:
        status["phase"] = "Failed"
        status["reason"] = EVICTED_REASON
        status["message"] = message
        conds = status.setdefault("conditions", [])
        if not any(c.get("type") == "DisruptionTarget" for c in conds):
            conds.append({"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                          "lastTransitionTime": self.loop.timestamp(), "reason": "TerminationByKubelet",
                          "message": message})  # fmt: skip
