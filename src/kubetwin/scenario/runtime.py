"""The Cluster: one virtual clock, one store, and every component wired to it.

This is the only place that knows all the peers (scheduler, kubelets, controllers, cloud); they
never import each other and meet only through objects. ``kubetwin run`` and (later)
``kubetwin serve`` both build a Cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kubetwin.api import errors
from kubetwin.client import Client, Controller, InformerFactory
from kubetwin.client.metrics import RequestsMetricsClient
from kubetwin.sim import EventLoop, SeededRNG, parse_duration
from kubetwin.sim.loop import DEFAULT_EPOCH
from kubetwin.store import Registry, Store
from kubetwin.store.storage import DEFAULT_HISTORY

if TYPE_CHECKING:
    from kubetwin.metrics import MetricsPipeline

DEFAULT_DURATION = 3600.0
DEFAULT_SEED = 1
# ``kubetwin serve`` with no manifests: one node group like an EKS managed node group.
DEFAULT_NODEGROUP: dict[str, Any] = {
    "apiVersion": "kubetwin.io/v1alpha1",
    "kind": "NodeGroup",
    "metadata": {"name": "default"},
    "spec": {"instanceType": "m5.large", "minSize": 3, "maxSize": 3, "capacityType": "on-demand"},
}
CLOCK_META_KEY = "clock"
EPOCH_META_KEY = "epoch"  # Unix seconds of virtual time 0 (serve data directories)
DEFAULT_METRICS_RESOLUTION = 15.0  # metrics-server --metric-resolution
RUN_WATCH_HISTORY = 0  # see Cluster.watch_history


@dataclass
class ScenarioSettings:
    name: str = "scenario"
    duration: float = DEFAULT_DURATION
    seed: int = DEFAULT_SEED
    sample_interval: float | None = None  # None: duration / 360, at least 10 s
    metrics_resolution: float = DEFAULT_METRICS_RESOLUTION  # spec.metrics.resolution (metrics-server)

    @classmethod
    def from_object(cls, obj: dict[str, Any] | None) -> ScenarioSettings:
        s = cls()
        if obj is None:
            return s
        s.name = (obj.get("metadata") or {}).get("name") or s.name
        spec = obj.get("spec") or {}
        if not isinstance(spec, dict):
            raise ValueError("Scenario spec must be a mapping")
        if spec.get("duration") is not None:
            s.duration = parse_duration(spec["duration"])
        if spec.get("seed") is not None:
            try:
                s.seed = int(spec["seed"])
            except (TypeError, ValueError):
                raise ValueError(f"Scenario spec.seed must be an integer, got {spec['seed']!r}") from None
        if spec.get("sampleInterval") is not None:
            s.sample_interval = parse_duration(spec["sampleInterval"])
        resolution = (spec.get("metrics") or {}).get("resolution") if isinstance(spec.get("metrics"), dict) else None
        if resolution is not None:
            s.metrics_resolution = parse_duration(resolution)
            if s.metrics_resolution <= 0:
                raise ValueError("Scenario spec.metrics.resolution must be greater than 0")
        return s

    def interval(self) -> float:
        if self.sample_interval:
            return self.sample_interval
        return max(10.0, self.duration / 360.0)


@dataclass
class ApplyFailure:
    where: str
    message: str


@dataclass
class Cluster:
    seed: int = DEFAULT_SEED
    store_path: str | None = None
    loop: EventLoop = field(default_factory=EventLoop)
    components: list[Any] = field(default_factory=list)
    metrics_resolution: float = DEFAULT_METRICS_RESOLUTION
    # Node leases: written when read in a run (reads see the same renewTime; see kubelet.py), on
    # every 10 s renewal when serving (watchers of kube-node-lease see each one).
    lease_renewal: str = "on-read"
    # Writes kept for watches resumed from an older resourceVersion (the watch cache's window).
    # In a run only the in-process informers watch, each from the resourceVersion of the list it
    # has just made (nothing is written in between), so no window is needed; one keeps the old
    # version of every object it holds alive until it rolls out, and frees it cold. Full-size
    # bench: a 200,000-write window -> 1,000 took the first 10 h from 66 to 60 s CPU (peak RSS
    # 901 -> 672 MiB); 1,000 -> none the first 12 h from 64.7 to 57.2 s. ``serve`` keeps the
    # store's default for clients that resume watches.
    watch_history: int = RUN_WATCH_HISTORY

    def __post_init__(self) -> None:
        self.rng = SeededRNG(self.seed)
        self.store = Store(self.store_path, history=self.watch_history)
        self.registry = Registry(self.store, self.loop, self.rng)
        from kubetwin.autoscaler.admission import validate_clusterautoscaler
        from kubetwin.cloud.admission import validate_nodegroup

        self.registry.admission.append(validate_nodegroup)
        self.registry.admission.append(validate_clusterautoscaler)
        from kubetwin.controllers.vpa.admission import vpa_admission

        self.registry.admission.append(vpa_admission)
        self.registry.bootstrap()
        self.client = Client(self.registry)
        self.informers = InformerFactory(self.registry)
        # Until the usage engine / metrics APIs provide one: every Running pod uses its requests.
        self.client.metrics = RequestsMetricsClient(self.informers.get("pods"), self.loop)
        self.metrics_pipeline: MetricsPipeline | None = None  # set by start() when usage is on
        self._started = False
        self._restored = False

    def start(self) -> None:
        """Start every component (idempotent)."""
        if self._started:
            return
        self._started = True
        from kubetwin.autoscaler import ClusterAutoscaler
        from kubetwin.cloud.nodegroup import NodeGroupController
        from kubetwin.controllers import ALL
        from kubetwin.kubelet import KubeletManager
        from kubetwin.scheduler import Scheduler
        from kubetwin.store.ttl import EVENT_TTL, StoreTTL

        # Events expire an hour after their last write, as etcd's lease on them does.
        self.event_ttl = StoreTTL(self.store, self.loop, "events", EVENT_TTL)
        controllers: list[Controller] = [cls(self.client, self.informers) for cls in ALL]
        self.components = [
            *controllers,
            NodeGroupController(self.client, self.informers, self.rng.child("cloud")),
            Scheduler(self.client, self.informers, self.rng.child("scheduler")),
            # idle until a ClusterAutoscaler object exists (kubetwin run --cluster-autoscaler creates one)
            ClusterAutoscaler(self.client, self.informers, self.rng.child("autoscaler")),
            KubeletManager(self.client, self.informers, self.rng.child("kubelet"), lease_renewal=self.lease_renewal),
        ]
        kubelets = self.components[-1]
        if type(self.client.metrics) is RequestsMetricsClient and kubelets.usage is not None:
            # metrics-server + custom/external metrics adapters over the usage engine's arrays
            from kubetwin.metrics import MetricsPipeline

            self.metrics_pipeline = MetricsPipeline(
                self.client, self.informers, lambda: kubelets.usage, self.loop, self.metrics_resolution
            )
            self.client.metrics = self.metrics_pipeline
        for c in self.components:
            c.start()
        if self.metrics_pipeline is not None:
            self.metrics_pipeline.start()

    def apply(self, objects: Iterable[tuple[str, dict[str, Any]]]) -> list[ApplyFailure]:
        """Create each ``(where, obj)``; returns the failures (the rest are created)."""
        failures: list[ApplyFailure] = []
        for where, obj in objects:
            try:
                self.client.create(obj)
            except errors.ApiError as e:
                failures.append(ApplyFailure(where, e.message))
        return failures

    def run(self, until: float, progress: Callable[[float], None] | None = None) -> None:
        self.loop.run(until=until, progress=progress)

    def close(self) -> None:
        self.informers.stop()
        self.store.close()

    @property
    def restored(self) -> bool:
        """True when the store came back from a data directory with objects in it."""
        return self._restored

    @classmethod
    def for_serve(cls, data_dir: str | None = None, seed: int = DEFAULT_SEED, epoch: datetime | None = None) -> Cluster:
        """A Cluster for ``kubetwin serve``: with ``data_dir`` the sqlite store at
        DIR/state.sqlite, the virtual clock resumed from where the last process left it and the
        random streams moved past the ones that named the restored objects (no uid reuse).
        Components resync from the restored objects when ``start()`` lists them.
        ``epoch`` is the instant virtual time 0 stands for (default 2026-01-01T00:00:00Z); a
        restored data directory keeps the epoch it was created with."""
        epoch = epoch or DEFAULT_EPOCH
        if data_dir is None:
            c = cls(seed=seed, loop=EventLoop(epoch=epoch), lease_renewal="periodic", watch_history=DEFAULT_HISTORY)
            c._restored = False
            return c
        from pathlib import Path

        Path(data_dir).mkdir(parents=True, exist_ok=True)
        path = str(Path(data_dir) / "state.sqlite")
        probe = Store(path)
        rv, now, saved = probe.resource_version, probe.get_meta(CLOCK_META_KEY), probe.get_meta(EPOCH_META_KEY)
        if rv == 0 or saved is None:
            probe.put_meta(EPOCH_META_KEY, epoch.timestamp() if rv == 0 else DEFAULT_EPOCH.timestamp())
        probe.close()
        if rv == 0:
            c = cls(seed=seed, store_path=path, loop=EventLoop(epoch=epoch), lease_renewal="periodic",
                    watch_history=DEFAULT_HISTORY)  # fmt: skip
            c._restored = False
            return c
        kept = datetime.fromtimestamp(saved, UTC) if saved is not None else DEFAULT_EPOCH
        c = cls(seed=seed * 1_000_003 + rv, store_path=path, loop=EventLoop(epoch=kept, start=now or 0.0),
                lease_renewal="periodic", watch_history=DEFAULT_HISTORY)  # fmt: skip
        c._restored = True
        return c
