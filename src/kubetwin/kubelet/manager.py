"""Runs one simulated kubelet per Node (the kubelet binary, one per machine).

Watches Nodes: a kubelet starts when a Node appears and shuts down when it is deleted (its pods are
left to podgc, as when a machine vanishes). Watches Pods bound to a node (``spec.nodeName``) and
hands each changed pod key to that node's kubelet through one work queue at event-loop priority 30
(controllers 10, scheduler 20, kubelets 30).

Usage: one :class:`~kubetwin.kubelet.usage.UsageEngine` for the whole cluster is every kubelet's
resource model, with one timer every ``usage_tick_interval`` (10 s, priority 30); ``None``
turns it off (no usage, no OOM kills).

Eviction: one cluster-wide timer every ``evictionMonitoringPeriod`` (10 s, priority 31: after the
usage engine's tick at the same instant) runs each node's
:class:`~kubetwin.kubelet.eviction.EvictionManager` -- only for the nodes the usage engine names
in ``nodes_needing_attention()`` and the nodes whose manager is still tracking something.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubetwin.api import podchanges as pc
from kubetwin.api.nodestatus import heartbeat_only
from kubetwin.api.podchanges import pod_changes
from kubetwin.client import Client, InformerFactory, WorkQueue
from kubetwin.client.informer import NODE_NAME_INDEX, node_name_index
from kubetwin.kubelet.eviction import EVICTION_MONITORING_PERIOD, EvictionConfig, EvictionManager, StatsEngine
from kubetwin.kubelet.kubelet import LEASE_NAMESPACE, NODE_STATUS_REPORT_FREQUENCY, Kubelet
from kubetwin.kubelet.podworker import PRIORITY
from kubetwin.kubelet.resource_model import NoopResourceModel, ResourceModel
from kubetwin.kubelet.usage import DEFAULT_TICK, UsageEngine
from kubetwin.sim import EventLoop, SeededRNG

Obj = dict[str, Any]

# nodelease: leaseDuration (40 s) x 0.25. Written on every renewal (``lease_renewal="periodic"``)
# that is the twin's most frequent write: one Lease update per node every 10 s, 8.64 million a day
# at 1,000 nodes. ``"on-read"`` keeps the schedule but writes a lease only when it is read (see
# kubelet.py), about once per node monitor grace period (50 s) plus a monitor pass in a quiet cluster.
LEASE_RENEW_INTERVAL = 10.0
LEASE_RENEWAL_MODES = ("periodic", "on-read")
FALLBACK_POD_CIDR_BLOCK = "10.88"  # containerd's default bridge range, for nodes without podCIDR


class KubeletManager:
    def __init__(
        self,
        client: Client,
        informers: InformerFactory,
        rng: SeededRNG,
        *,
        lease_renew_interval: float = LEASE_RENEW_INTERVAL,
        lease_renewal: str = "periodic",
        node_status_report_frequency: float = NODE_STATUS_REPORT_FREQUENCY,
        resource_model_factory: Callable[[Kubelet], ResourceModel] | None = None,
        engine: StatsEngine | None = None,
        usage_tick_interval: float | None = DEFAULT_TICK,
    ) -> None:
        self.client = client
        self.informers = informers
        self.loop: EventLoop = client.clock
        self.rng = rng.child("kubelet")
        self.lease_renew_interval = lease_renew_interval
        if lease_renewal not in LEASE_RENEWAL_MODES:
            raise ValueError(f"lease_renewal must be one of {', '.join(LEASE_RENEWAL_MODES)}, not {lease_renewal!r}")
        registry = getattr(client, "registry", None)
        # the registry's trusted field write (an in-process client), looked up once: every lease
        # renewal and node heartbeat goes through it
        self.set_fields_trusted: Callable[..., Any] | None = getattr(registry, "set_fields_trusted", None)
        # on-read needs the registry's read hooks (an in-process client); a remote one renews periodically
        self.lease_renewal = lease_renewal if hasattr(registry, "add_read_hook") else "periodic"
        if self.lease_renewal == "on-read":
            registry.add_read_hook("leases.coordination.k8s.io", self._leases_read)  # type: ignore[union-attr]
            registry.set_peek_hook("leases.coordination.k8s.io", self._lease_peek)  # type: ignore[union-attr]
        self.node_status_report_frequency = node_status_report_frequency
        self._model_factory = resource_model_factory
        self.nodes = informers.get("nodes")
        self.pods = informers.get("pods")
        self.pods.add_index(NODE_NAME_INDEX, node_name_index, changes=pod_changes, bits=pc.NODE)
        self.kubelets: dict[str, Kubelet] = {}
        self._pod_node: dict[str, str] = {}
        self._cidr_waiting: set[str] = set()  # kubelets waiting to take their node's podCIDR
        self._fallback_cidrs = 0
        self.queue = WorkQueue(self.loop, self._sync_pod, "kubelet", priority=PRIORITY)
        self.engine: StatsEngine | None = engine  # the cluster's usage engine (node/pod stats)
        self.usage: UsageEngine | None = None
        if engine is None and resource_model_factory is None and usage_tick_interval:
            self.usage = UsageEngine(self, usage_tick_interval)
            self.engine = self.usage
        self._eviction_tracked: set[str] = set()
        self._eviction_timer: Any = None

    def new_model(self, kubelet: Kubelet) -> ResourceModel:
        if self._model_factory is not None:
            return self._model_factory(kubelet)
        if self.usage is not None:
            return self.usage.attach(kubelet)
        return NoopResourceModel()

    def fallback_pod_cidr(self) -> str:
        n = self._fallback_cidrs
        self._fallback_cidrs += 1
        return f"{FALLBACK_POD_CIDR_BLOCK}.{n % 256}.0/24"

    def start(self) -> None:
        # a heartbeat-only update changes nothing a kubelet reads (see Kubelet.on_node_update),
        # unless it waits for its node's podCIDR: then _node_cidr_updated gets them all
        self.nodes.add_handler(self._node_added, self._node_updated, self._node_deleted, ignore=heartbeat_only)
        self.nodes.add_handler(None, self._node_cidr_updated, None)
        self.nodes.set_update_handler_live(self._node_cidr_updated, False)
        self.pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted,
                              changes=pod_changes, reads=pc.NODE | pc.DELETION | pc.META)  # fmt: skip
        if self.usage is not None:
            self.usage.start()
        self._eviction_timer = self.loop.every(EVICTION_MONITORING_PERIOD, self.eviction_tick, PRIORITY + 1,
                                               "kubelet:eviction")  # fmt: skip

    def get(self, node_name: str) -> Kubelet | None:
        return self.kubelets.get(node_name)

    def _leases_read(self, namespace: str | None, name: str | None) -> None:
        """Read hook (on-read leases): bring the node leases being read up to their schedule."""
        if namespace not in (None, "", LEASE_NAMESPACE):
            return
        if name is not None:
            kl = self.kubelets.get(name)
            if kl is not None:
                kl.sync_lease()
            return
        for kl in list(self.kubelets.values()):
            kl.sync_lease()

    def _lease_peek(self, namespace: str, name: str, stored: Obj | None) -> tuple[Obj, bool] | None:
        """Peek hook (on-read leases): the node lease a read would find, left unwritten, and
        whether its kubelet's renewals go on (until ``lease_schedule_stopped``)."""
        kl = self.kubelets.get(name) if namespace == LEASE_NAMESPACE else None
        return kl.peek_lease(stored) if kl is not None else None

    def lease_schedule_stopped(self, name: str) -> None:
        """A kubelet's on-read lease renewals stopped: peek answers given for its lease no longer
        stand (on-read runs over an in-process registry only)."""
        if self.lease_renewal == "on-read":
            self.client.registry.peek_changed("leases.coordination.k8s.io", LEASE_NAMESPACE, name)

    # -- nodes ----------------------------------------------------------------------------------
    def _node_added(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        kl = self.kubelets.get(name)
        if kl is not None and kl.node_uid == node["metadata"].get("uid"):
            return
        if kl is not None:
            kl.shutdown()
        kl = Kubelet(self, node)
        self.kubelets[name] = kl
        kl.start()

    def _node_updated(self, old: Obj, new: Obj) -> None:
        kl = self.kubelets.get(new["metadata"]["name"])
        if kl is None or kl.node_uid != new["metadata"].get("uid"):
            self._node_added(new)
            return
        kl.on_node_update(old, new)

    def _node_cidr_updated(self, old: Obj, new: Obj) -> None:
        """Any node update while a kubelet waits to take its node's podCIDR (set aside while none
        does): it may find the old range's addresses all back (for a non-heartbeat update,
        _node_updated asked already: asking again changes nothing)."""
        kl = self.kubelets.get(new["metadata"]["name"])
        if kl is not None and kl.cidr_waiting:
            kl.follow_pod_cidr(new)

    def cidr_waiting(self, node_name: str, waiting: bool) -> None:
        """A kubelet started or stopped waiting for its node's podCIDR (Kubelet.follow_pod_cidr)."""
        if waiting:
            self._cidr_waiting.add(node_name)
        else:
            self._cidr_waiting.discard(node_name)
        self.nodes.set_update_handler_live(self._node_cidr_updated, bool(self._cidr_waiting))

    def _node_deleted(self, node: Obj) -> None:
        kl = self.kubelets.pop(node["metadata"]["name"], None)
        if kl is not None:
            kl.shutdown()

    def enqueue_node_pods(self, node_name: str) -> None:
        for pod in self.pods.by_index(NODE_NAME_INDEX, node_name):
            self._enqueue(pod)

    # -- pods -----------------------------------------------------------------------------------
    def _enqueue(self, pod: Obj) -> None:
        m = pod["metadata"]
        key = f"{m['namespace']}/{m['name']}"
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            self._pod_node[key] = node
            self.queue.add(key)

    def _pod_added(self, pod: Obj) -> None:
        self._enqueue(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        om, nm = old["metadata"], new["metadata"]
        if (
            (old.get("spec") or {}).get("nodeName") != (new.get("spec") or {}).get("nodeName")
            or om.get("deletionTimestamp") != nm.get("deletionTimestamp")
            or om.get("deletionGracePeriodSeconds") != nm.get("deletionGracePeriodSeconds")
            or om.get("uid") != nm.get("uid")
        ):
            self._enqueue(new)

    def _pod_deleted(self, pod: Obj) -> None:
        self._enqueue(pod)

    def _sync_pod(self, key: str) -> None:
        pod = self.pods.get_by_key(key)
        node = (pod.get("spec") or {}).get("nodeName") if pod is not None else self._pod_node.get(key)
        if pod is None:
            self._pod_node.pop(key, None)
        if not node:
            return
        kl = self.kubelets.get(node)
        if kl is not None:
            kl.sync_pod(key, pod)

    # -- eviction -------------------------------------------------------------------------------
    def eviction_tick(self) -> None:
        """Synchronize the eviction managers of the nodes that need it (see the module docstring)."""
        engine = self.engine
        if engine is None:
            return
        names = set(engine.nodes_needing_attention()) | self._eviction_tracked
        for name in sorted(names):
            kl = self.kubelets.get(name)
            if kl is None or not kl.running or not kl.started:
                self._eviction_tracked.discard(name)
                continue
            cfg = EvictionConfig.for_node(kl.node)
            if kl.eviction is None:
                kl.eviction = EvictionManager(kl, cfg, engine)
            kl.eviction.config = cfg
            kl.eviction.synchronize()
            if kl.eviction.tracking:
                self._eviction_tracked.add(name)
            else:
                self._eviction_tracked.discard(name)

    def evictions(self) -> list[Any]:
        """Every pod evicted so far, in order (kubelet.eviction.Eviction records)."""
        out = [e for kl in self.kubelets.values() if kl.eviction is not None for e in kl.eviction.evictions]
        return sorted(out, key=lambda e: (e.time, e.node))
