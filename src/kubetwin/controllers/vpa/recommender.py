"""VPA recommender (kubernetes/autoscaler vertical-pod-autoscaler/pkg/recommender: routines/
recommender.go RunOnce, input/cluster_feeder.go LoadVPAs/LoadPods/LoadRealTimeMetrics,
input/oom/observer.go, logic/recommender.go, model/vpa.go UpdateConditions; checkpoint/
checkpoint_writer.go StoreCheckpoints; input/cluster_feeder.go InitFromCheckpoints,
GarbageCollectCheckpoints; model/cluster.go garbageCollectAggregateCollectionStates).

Every ``--recommender-interval`` (1 min, first run one interval after start) for every
VerticalPodAutoscaler: the target's selector picks the pods (a target that cannot be read sets
``ConfigUnsupported``); per-container usage of the Running ones comes from ``client.metrics``
(``get_container_usage``: the ``ContainerMetricsClient`` seam; the metrics pipeline's
``container_samples``, all of a VPA's containers as arrays joined through the feed's kept
:class:`~kubetwin.client.metrics.RowKeys`, when it has it) and goes into the model
(:mod:`~kubetwin.controllers.vpa.model`): a CPU sample weighted by the request and a memory sample
for the interval's peak. At scale (30,000 pods sampled a minute) the selection is kept by the pod
informer's handlers (the selector is re-read each run; a changed one rebuilds it) and the model's
per-container state is kept as rows of arrays (:class:`_Feed`), so a run is a few array operations:
the CPU samples go into each aggregate in one step and only the memory samples that open a window
or raise its peak touch the memory histogram one by one; all bitwise what the per-sample model
calls give, in the order the pods joined (unit tests compare the two).
OOM kills (a restart with
``lastState.terminated.reason: OOMKilled``) are recorded when the pod update is seen, with the
container's memory request, as the OOM observer does (processed at once rather than on the next run, so the OOM's time is never older than the
last usage sample of the container). Then each VPA's containers with samples get
``status.recommendation.containerRecommendations`` (target, lowerBound, upperBound capped to the
container policy's minAllowed/maxAllowed, uncappedTarget), and the conditions
``RecommendationProvided`` / ``NoPodsMatched``. Containers whose policy mode is Off get none;
``controlledResources`` filters the resources; the state of a deleted VPA is dropped.

Checkpoints: after each run one ``VerticalPodAutoscalerCheckpoint`` per (VPA, container name),
named ``<vpa>-<container>`` in the VPA's namespace, gets the aggregate's histograms and sample
times (:meth:`~kubetwin.controllers.vpa.model.AggregateContainerState.save_to_checkpoint`) minus
each live container's memory peak of the ongoing interval (it is re-added after a restart), VPAs
whose checkpoints are oldest first. Upstream stops after ``--checkpoints-timeout`` once
``--min-checkpoints`` are written; writes take no virtual time here, so every run writes them all
unless ``max_checkpoints_per_run`` says otherwise. On its first run the recommender restores its
model from the checkpoints of existing VPAs (a ``kubetwin serve --data-dir`` restart resumes the
recommendations where they were, up to the checkpoints' rounding). Every 10 minutes
(``--checkpoints-gc-interval``, first on the first run) checkpoints whose VPA is gone, or whose
container the VPA's model no longer has, are deleted; every hour aggregates without a sample for
8 days (the memory aggregation window) and without a live container are dropped.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from kubetwin.api import podchanges as pc
from kubetwin.api.errors import ApiError
from kubetwin.api.podchanges import pod_changes
from kubetwin.api.selectors import LabelSelector
from kubetwin.client import Client, Controller, InformerFactory
from kubetwin.client.metrics import ContainerMetricsClient, RowKeys
from kubetwin.controllers.vpa import model
from kubetwin.controllers.vpa import util as vu
from kubetwin.controllers.vpa.histogram import DecayingHistogram
from kubetwin.store.copy import deep_copy

Obj = dict[str, Any]
#: memory peaks, their windows' ends and their rows
Peaks = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.intp]]
#: (vpa key, container name) -> its open peaks
OpenPeaks = dict[tuple[str, str], Peaks]

RECOMMENDER_INTERVAL = 60.0  # --recommender-interval
CHECKPOINTS_GC_INTERVAL = 600.0  # --checkpoints-gc-interval
AGGREGATE_GC_INTERVAL = 3600.0  # AggregateContainerStateGCInterval
CHECKPOINT_RESOURCE = "verticalpodautoscalercheckpoints.autoscaling.k8s.io"
OOM_KILLED = "OOMKilled"


def _set_condition(conds: list[Obj], type_: str, status: bool, reason: str, message: str, now: str) -> None:
    """vpaConditionsMap.Set: lastTransitionTime moves only when the status changes."""
    st = "True" if status else "False"
    for c in conds:
        if c.get("type") == type_:
            if c.get("status") != st:
                c["lastTransitionTime"] = now
            c["status"] = st
            _reason_message(c, reason, message)
            return
    c = {"type": type_, "status": st, "lastTransitionTime": now}
    _reason_message(c, reason, message)
    conds.append(c)


def _reason_message(c: Obj, reason: str, message: str) -> None:
    for key, value in (("reason", reason), ("message", message)):
        if value:
            c[key] = value
        else:
            c.pop(key, None)


class _Member:
    """A selected pod: its object (the informer's), its rows (one per container, spec order) and
    whether it is Running."""

    __slots__ = ("pod", "rows", "running")

    def __init__(self, pod: Obj, rows: list[int], running: bool) -> None:
        self.pod, self.rows, self.running = pod, rows, running


class _Feed:
    """One VPA's selection and the model's per-container state as rows of arrays.

    The selection (the pods of the VPA's namespace that its target's selector matches and that are
    not terminal) is kept by the pod informer's handlers; the selector is re-read every run and the
    selection rebuilt when it changed. Each selected pod has a row per container of its spec, in
    the order the pods joined (the order of the informer's label index, so of ``select_pods``);
    a row is ``ContainerState`` (:mod:`~kubetwin.controllers.vpa.model`) as columns: last CPU and
    memory sample times (-inf: none), the memory window's end (NaN: none), the peak and the OOM
    peak of the window, and ``born``, when it got its first sample (the state's creation order).
    Rows of pods that left are freed and compacted away (in order) once they are many.

    Kept between runs: the rows with a state in creation order (``_order``: new states are the
    newest, so they are appended), and per row the decay factor of its window's end and the
    memory histogram bucket of its peak, each with what it was computed from (the end and the
    histogram's reference; the peak), so a value is used only while its inputs are the same."""

    def __init__(self, key: str, namespace: str, selector: LabelSelector) -> None:
        self.key, self.namespace, self.selector = key, namespace, selector
        self.pods: dict[str, _Member] = {}  # uid -> member
        self.names: list[str] = []  # group (container name) index -> name
        self.group_of: dict[str, int] = {}
        self.sizes: dict[int, int] = {}  # containers per pod -> pods with that many
        self.keys = RowKeys()  # per row: pod uid (None: free) and container name
        self.n = 0
        self.free = 0
        self._cap = 0
        self.alive = np.zeros(0, dtype=np.bool_)
        self.running = np.zeros(0, dtype=np.bool_)
        self.has_state = np.zeros(0, dtype=np.bool_)
        self.req_ok = np.zeros(0, dtype=np.bool_)
        self.group = np.zeros(0, dtype=np.int64)
        self.weight = np.zeros(0, dtype=np.float64)
        self.last_cpu = np.zeros(0, dtype=np.float64)
        self.last_mem = np.zeros(0, dtype=np.float64)
        self.window_end = np.zeros(0, dtype=np.float64)
        self.peak = np.zeros(0, dtype=np.int64)
        self.oom_peak = np.zeros(0, dtype=np.int64)
        self.top = np.zeros(0, dtype=np.int64)  # max(peak, oom_peak): ContainerState.max_memory_peak
        self.born = np.zeros(0, dtype=np.int64)
        self.factor = np.zeros(0, dtype=np.float64)  # see decay_factors
        self.factor_end = np.zeros(0, dtype=np.float64)
        self.factor_ref = np.zeros(0, dtype=np.float64)
        self.bucket = np.zeros(0, dtype=np.int64)  # see peak_buckets
        self.bucket_peak = np.zeros(0, dtype=np.int64)
        self._order: npt.NDArray[np.intp] | None = None  # the rows with a state by creation (None: to sort)

    _COLUMNS = ("alive", "running", "has_state", "req_ok", "group", "weight", "last_cpu", "last_mem",
                "window_end", "peak", "oom_peak", "top", "born", "factor", "factor_end", "factor_ref", "bucket",
                "bucket_peak")  # fmt: skip
    _FILL: dict[str, Any] = {"last_cpu": -np.inf, "last_mem": -np.inf, "window_end": np.nan, "factor_end": np.nan,
                             "factor_ref": np.nan, "bucket_peak": -1}  # fmt: skip
    _STATE = ("has_state", "last_cpu", "last_mem", "window_end", "peak", "oom_peak", "top", "born")

    def _grow(self, need: int) -> None:
        cap = max(64, self._cap)
        while cap < need:
            cap *= 2
        for name in self._COLUMNS:
            old = getattr(self, name)
            new = np.full(cap, self._FILL.get(name, 0), dtype=old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)
        self._cap = cap

    # -- the selection ------------------------------------------------------------------------------
    def observe(self, pod: Obj) -> None:
        """A pod was added or changed: join, update or leave the selection."""
        meta = pod["metadata"]
        uid = meta.get("uid", "")
        member = self.pods.get(uid)
        labels = meta.get("labels")
        # a member's kept version matched the selector: the same labels (shared by status writes) still do
        matched = (member is not None and member.pod["metadata"].get("labels") is labels) or self.selector.matches(
            labels
        )
        if _terminal(pod) or not matched:
            if member is not None:
                self.remove(uid)
            return
        if member is None:
            self.add(pod)
            return
        if member.pod is pod:
            return
        old = member.pod
        member.pod = pod
        running = (pod.get("status") or {}).get("phase") == "Running"
        if running != member.running:
            member.running = running
            self.running[member.rows] = running
        if (old.get("spec") or {}).get("containers") != (pod.get("spec") or {}).get("containers"):
            containers = (pod.get("spec") or {}).get("containers") or []
            if [c.get("name", "") for c in containers] != [self.keys.containers[r] for r in member.rows]:
                self.remove(uid)  # containers are immutable; a different list is a different pod
                self.add(pod)
                return
            for r, c in zip(member.rows, containers, strict=True):
                self._requests(r, c)

    def _requests(self, row: int, container: Obj) -> None:
        requests = (container.get("resources") or {}).get("requests") or {}
        req_cpu = vu.amount("cpu", requests["cpu"]) if "cpu" in requests else 0
        self.req_ok[row] = req_cpu >= 0
        self.weight[row] = model.cpu_sample_weight(req_cpu)

    def add(self, pod: Obj) -> None:
        uid = pod["metadata"].get("uid", "")
        containers = (pod.get("spec") or {}).get("containers") or []
        running = (pod.get("status") or {}).get("phase") == "Running"
        if self.n + len(containers) > self._cap:
            self._grow(self.n + len(containers))
        rows = []
        for c in containers:
            cname = c.get("name", "")
            r = self.n
            self.n += 1
            g = self.group_of.get(cname)
            if g is None:
                g = self.group_of[cname] = len(self.names)
                self.names.append(cname)
            self.keys.set(r, uid, cname)
            self.alive[r], self.running[r], self.group[r] = True, running, g
            self._requests(r, c)
            rows.append(r)
        self.pods[uid] = _Member(pod, rows, running)
        self.sizes[len(rows)] = self.sizes.get(len(rows), 0) + 1

    def remove(self, uid: str) -> None:
        member = self.pods.pop(uid, None)
        if member is None:
            return
        self.sizes[len(member.rows)] -= 1
        for r in member.rows:
            self.keys.set(r, None)
            for name in self._COLUMNS:
                getattr(self, name)[r] = self._FILL.get(name, 0)
        self.free += len(member.rows)
        if self.free > 256 and self.free * 2 > self.n:
            self._compact()

    def _compact(self) -> None:
        """Drop the free rows, keeping the others' order."""
        keep = np.flatnonzero(self.alive[: self.n])
        where = np.full(self.n, -1, dtype=np.int64)
        where[keep] = np.arange(len(keep))
        for name in self._COLUMNS:
            col = getattr(self, name)
            moved = col[keep]
            col[:] = self._FILL.get(name, 0)
            col[: len(keep)] = moved
        uids, names, kept = self.keys.uids, self.keys.containers, keep.tolist()
        self.keys.replace([uids[r] for r in kept], [names[r] for r in kept])
        for member in self.pods.values():
            member.rows = where[member.rows].tolist()
        if self._order is not None:
            order = where[self._order]
            self._order = order[order >= 0]
        self.n, self.free = len(keep), 0

    def containers_per_pod(self) -> int:
        return max((k for k, v in self.sizes.items() if v), default=0)

    # -- rows as ContainerState ---------------------------------------------------------------------
    def state(self, r: int, agg: model.AggregateContainerState) -> model.ContainerState:
        st = model.ContainerState(agg)
        lc, lm, we = float(self.last_cpu[r]), float(self.last_mem[r]), float(self.window_end[r])
        st.last_cpu_sample_start = None if lc == -np.inf else lc
        st.last_memory_sample_start = None if lm == -np.inf else lm
        st.window_end = None if math.isnan(we) else we
        st.memory_peak, st.oom_peak = int(self.peak[r]), int(self.oom_peak[r])
        return st

    def store(self, r: int, st: model.ContainerState) -> None:
        self.last_cpu[r] = -np.inf if st.last_cpu_sample_start is None else st.last_cpu_sample_start
        self.last_mem[r] = -np.inf if st.last_memory_sample_start is None else st.last_memory_sample_start
        self.window_end[r] = np.nan if st.window_end is None else st.window_end
        self.peak[r], self.oom_peak[r], self.top[r] = st.memory_peak, st.oom_peak, st.max_memory_peak()

    def begin(self, rows: npt.NDArray[np.intp], first: int) -> None:
        """The states of ``rows`` (ascending) begin, created in that order, numbered from ``first``."""
        self.has_state[rows] = True
        self.born[rows] = np.arange(first, first + rows.size)
        if self._order is not None:
            self._order = np.concatenate((self._order, rows))

    def open_peaks(self, now: float) -> dict[str, Peaks]:
        """container name -> (peak, window end, row) of each state whose memory window is open at
        ``now``, in the order the states were created."""
        order = self._order
        if order is None:
            rows = np.flatnonzero(self.has_state[: self.n])
            order = self._order = rows[np.argsort(self.born[rows], kind="stable")]
        # rows freed since they were ordered have no state (and a NaN window end, False here)
        rows = order[self.has_state[order] & (now < self.window_end[order])]
        if not rows.size:
            return {}
        peaks = self.top[rows]
        return {self.names[g]: (peaks[sel], self.window_end[rows[sel]], rows[sel])
                for g, sel in _by_group(self.group[rows], len(self.names))}  # fmt: skip

    def decay_factors(self, rows: npt.NDArray[np.intp], h: DecayingHistogram) -> npt.NDArray[np.float64]:
        """:func:`~kubetwin.controllers.vpa.model.decay_factors` of the rows' window ends in ``h``,
        computed only for the rows whose end or whose histogram's reference moved since."""
        ends = self.window_end[rows]
        stale = (self.factor_end[rows] != ends) | (self.factor_ref[rows] != h.reference)
        if stale.any():
            redo = rows[stale]
            self.factor[redo] = model.decay_factors(h, ends[stale])
            self.factor_end[redo] = ends[stale]
            self.factor_ref[redo] = h.reference
        return self.factor[rows]

    def peak_buckets(self, rows: npt.NDArray[np.intp], peaks: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """:func:`~kubetwin.controllers.vpa.model.memory_buckets` of ``peaks`` (the rows' peaks),
        computed only for the rows whose peak changed since."""
        stale = self.bucket_peak[rows] != peaks
        if stale.any():
            redo = rows[stale]
            self.bucket[redo] = model.memory_buckets(peaks[stale])
            self.bucket_peak[redo] = peaks[stale]
        return self.bucket[rows]


class VPARecommender(Controller):
    name = "vpa-recommender"

    def __init__(
        self,
        client: Client,
        informers: InformerFactory,
        *,
        interval: float = RECOMMENDER_INTERVAL,
        config: model.RecommenderConfig = model.DEFAULT_CONFIG,
        checkpoints: bool = True,
        max_checkpoints_per_run: int | None = None,
    ) -> None:
        super().__init__(client, informers)
        self.vpas = informers.get(vu.VPA_RESOURCE)
        self.pods = informers.get("pods")
        self.interval = interval
        self.config = config
        # vpa key -> container name -> aggregate; vpa key -> its pods and their container states
        self.aggregates: dict[str, dict[str, model.AggregateContainerState]] = {}
        self.feeds: dict[str, _Feed] = {}
        self.containers_per_pod: dict[str, int] = {}
        self.runs = 0
        self.states_created = 0
        self.memory_peaks_moved = 0  # memory samples that changed a histogram (the per-row part)
        self.checkpoints = checkpoints
        self.max_checkpoints_per_run = max_checkpoints_per_run
        self.checkpoints_written = 0
        self._checkpoint_written: dict[str, float] = {}  # vpa key -> when its checkpoints were written
        self._last_checkpoint_gc: float | None = None
        self._last_aggregate_gc: float | None = None
        self._restored = False
        self._timer: Any = None

    def start(self) -> None:
        # what _pod_updated reads: uid, labels, phase, deletion, containers and their restarts (an
        # OOM is seen in the write that moves a restartCount); a pod being deleted already is in
        # no selection (a deleting pod leaves them) and has nothing more to say
        self.pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted, changes=pod_changes,
                              reads=pc.META | pc.LABELS | pc.PHASE | pc.DELETION | pc.SPEC | pc.RESTARTS,
                              unless=pc.WAS_TERMINATING)  # fmt: skip
        self.vpas.add_handler(None, None, self._vpa_deleted)
        self._timer = self.loop.every(self.interval, self.run_once, self.priority, "vpa:recommender")

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _get(self, resource: str, namespace: str, name: str) -> Obj | None:
        return self.client.registry.store.get(resource, namespace, name)

    @property
    def containers(self) -> dict[tuple[str, str, str], int]:
        """(vpa key, pod uid, container) -> row of each live container state."""
        out = {}
        for key, feed in self.feeds.items():
            for r in np.flatnonzero(feed.has_state[: feed.n]).tolist():
                out[(key, str(feed.keys.uids[r]), str(feed.keys.containers[r]))] = r
        return out

    @property
    def _plans(self) -> dict[tuple[str, str], _Member]:
        """(vpa key, pod uid) -> each selected pod."""
        return {(key, uid): m for key, feed in self.feeds.items() for uid, m in feed.pods.items()}

    # -- the selections -----------------------------------------------------------------------------
    def _pod_added(self, pod: Obj) -> None:
        if self.feeds:
            ns = pod["metadata"].get("namespace", "")
            for feed in self.feeds.values():
                if feed.namespace == ns:
                    feed.observe(pod)

    def _pod_deleted(self, pod: Obj) -> None:
        if self.feeds:
            uid = pod["metadata"].get("uid", "")
            for feed in self.feeds.values():
                if uid in feed.pods:
                    feed.remove(uid)

    # -- OOM observer -----------------------------------------------------------------------------
    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if not self.feeds:
            return
        uid = new["metadata"].get("uid", "")
        keys = [feed for feed in self.feeds.values() if uid in feed.pods]
        if keys:
            self._observe_ooms(uid, old, new, keys)
        # a selection holds the live pods its selector matches as of their last version: a pod
        # left out while live, with the same labels (shared by status writes), stays out
        left_out = new["metadata"].get("labels") is old["metadata"].get("labels") and not _terminal(old)
        ns = new["metadata"].get("namespace", "")
        for feed in self.feeds.values():
            if feed.namespace == ns and not (left_out and uid not in feed.pods):
                feed.observe(new)

    def _observe_ooms(self, uid: str, old: Obj, new: Obj, feeds: list[_Feed]) -> None:
        statuses = (new.get("status") or {}).get("containerStatuses")
        if not statuses or statuses is (old.get("status") or {}).get("containerStatuses"):
            return  # no container restarted since the previous version (most writes)
        killed = [cs for cs in statuses if int(cs.get("restartCount") or 0) > 0
                  and ((cs.get("lastState") or {}).get("terminated") or {}).get("reason") == OOM_KILLED]  # fmt: skip
        if not killed:
            return
        old_status = {s.get("name"): s for s in (old.get("status") or {}).get("containerStatuses") or []}
        specs = {c.get("name"): c for c in (old.get("spec") or {}).get("containers") or []}
        for cs in killed:
            term = (cs.get("lastState") or {}).get("terminated") or {}
            prev = old_status.get(cs.get("name"))
            if prev is None or int(cs.get("restartCount") or 0) <= int(prev.get("restartCount") or 0):
                continue
            spec = specs.get(cs.get("name"))
            if spec is None:
                continue
            req = ((spec.get("resources") or {}).get("requests") or {}).get("memory")
            memory = vu.amount("memory", req) if req is not None else 0
            finished = term.get("finishedAt")
            at = self.loop.parse_timestamp(finished) if isinstance(finished, str) else self.loop.now
            for feed in feeds:
                for r in feed.pods[uid].rows:
                    if feed.keys.containers[r] != cs.get("name", "") or not feed.has_state[r]:
                        continue
                    agg = self.aggregates.setdefault(feed.key, {}).get(feed.names[int(feed.group[r])])
                    if agg is None:
                        continue
                    state = feed.state(r, agg)
                    state.record_oom(at, memory, self.config)
                    feed.store(r, state)

    def _vpa_deleted(self, vpa: Obj) -> None:
        key = vu.vpa_key(vpa)
        self.aggregates.pop(key, None)
        self.containers_per_pod.pop(key, None)
        self._checkpoint_written.pop(key, None)
        self.feeds.pop(key, None)

    # -- the loop ---------------------------------------------------------------------------------
    def run_once(self) -> None:
        self.runs += 1
        now = self.loop.now
        if self.checkpoints and not self._restored:
            self._restored = True
            self.init_from_checkpoints()
        metrics = self.client.metrics
        source = metrics if isinstance(metrics, ContainerMetricsClient) else None
        seen = set()
        for vpa in sorted(self.vpas.list(), key=vu.vpa_key):
            key = vu.vpa_key(vpa)
            seen.add(key)
            selector, problem = vu.target_selector(vpa, self._get)
            matched = False
            if selector is None:
                self.feeds.pop(key, None)  # no selection: the states go, the aggregates stay
            else:
                feed = self._selection(key, vpa["metadata"].get("namespace", ""), selector)
                matched = bool(feed.pods)
                self._feed(feed, source, now)
            self._update_vpa(vpa, key, matched, problem)
        for key in [k for k in self.feeds if k not in seen]:
            del self.feeds[key]
        if self._last_aggregate_gc is None or now - self._last_aggregate_gc > AGGREGATE_GC_INTERVAL:
            self._last_aggregate_gc = now
            self.garbage_collect_aggregates(now)
        if self.checkpoints:
            self.store_checkpoints(now)
            if self._last_checkpoint_gc is None or now - self._last_checkpoint_gc > CHECKPOINTS_GC_INTERVAL:
                self._last_checkpoint_gc = now
                self.garbage_collect_checkpoints()

    # -- checkpoints ------------------------------------------------------------------------------
    def init_from_checkpoints(self) -> int:
        """InitFromCheckpoints: each checkpoint of an existing VPA becomes that container's
        aggregate (replacing what the model had); returns how many were loaded. Checkpoints that
        cannot be read are skipped (counted in ``errors``)."""
        vpas = {vu.vpa_key(v) for v in self.vpas.list()}
        loaded = 0
        store = self.client.registry.store
        for cp in sorted(store.iter(CHECKPOINT_RESOURCE), key=lambda o: (o["metadata"].get("namespace", ""),
                                                                       o["metadata"]["name"])):  # fmt: skip
            spec = cp.get("spec") or {}
            key = f"{cp['metadata'].get('namespace', '')}/{spec.get('vpaObjectName', '')}"
            if key not in vpas or not spec.get("containerName"):
                continue  # cannot load a checkpoint of a missing VPA
            try:
                state = model.AggregateContainerState.from_checkpoint(
                    cp.get("status") or {}, self.loop.parse_timestamp
                )
            except ValueError:
                self.errors += 1
                continue
            self.aggregates.setdefault(key, {})[spec["containerName"]] = state
            loaded += 1
        return loaded

    def _open_peaks(self, now: float) -> OpenPeaks:
        """(vpa key, container name) -> (peaks, window ends) of the container states whose memory
        interval is still open at ``now``, in the order the states were created."""
        return {(key, cname): peaks for key, feed in self.feeds.items()
                for cname, peaks in feed.open_peaks(now).items()}  # fmt: skip

    def checkpoint_status(
        self,
        key: str,
        cname: str,
        now: float,
        open_peaks: OpenPeaks | None = None,
    ) -> Obj | None:
        """The checkpoint status of one aggregate: buildAggregateContainerStateMap without the
        ongoing interval's memory peak of each live container (subtractCurrentContainerMemoryPeak)."""
        agg = (self.aggregates.get(key) or {}).get(cname)
        if agg is None:
            return None
        if open_peaks is None:
            open_peaks = self._open_peaks(now)
        peaks = open_peaks.get((key, cname))
        feed = self.feeds.get(key)
        if peaks is not None and len(peaks[0]) and feed is not None:
            usage, ends, rows = peaks
            agg = agg.copy()
            agg.subtract_memory_peak_array(usage, ends, feed.decay_factors(rows, agg.memory_peaks),
                                           feed.peak_buckets(rows, usage))
        status = agg.save_to_checkpoint(self.loop.timestamp)
        return {"lastUpdateTime": self.loop.timestamp(now), **status}

    def store_checkpoints(self, now: float) -> int:
        """StoreCheckpoints: create or update the checkpoint of every (VPA, container) aggregate,
        least recently written VPAs first; returns how many were written."""
        store = self.client.registry.store
        order = sorted(self.aggregates, key=lambda k: (self._checkpoint_written.get(k, float("-inf")), k))
        budget = self.max_checkpoints_per_run
        written = 0
        open_peaks = self._open_peaks(now) if order else {}
        for key in order:
            if budget is not None and written >= budget:
                break
            ns, vpa_name = key.split("/", 1)
            for cname in sorted(self.aggregates[key]):
                status = self.checkpoint_status(key, cname, now, open_peaks)
                if status is None:
                    continue
                name = f"{vpa_name}-{cname}"
                existing = store.get(CHECKPOINT_RESOURCE, ns, name)
                try:
                    if existing is None:
                        self.client.create({
                            "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscalerCheckpoint",
                            "metadata": {"name": name, "namespace": ns},
                            "spec": {"containerName": cname, "vpaObjectName": vpa_name}, "status": status,
                        })  # fmt: skip
                    else:
                        self.client.update(
                            {**existing, "metadata": dict(existing["metadata"]), "status": status}
                        )
                except ApiError:
                    self.errors += 1
                    continue
                self._checkpoint_written[key] = now
                written += 1
        self.checkpoints_written += written
        return written

    def garbage_collect_checkpoints(self) -> int:
        """GarbageCollectCheckpoints: delete the checkpoints whose VPA no longer exists or whose
        container the VPA's model does not have; returns how many were deleted."""
        vpas = {vu.vpa_key(v) for v in self.vpas.list()}
        doomed = []
        for cp in self.client.registry.store.iter(CHECKPOINT_RESOURCE):
            spec = cp.get("spec") or {}
            ns = cp["metadata"].get("namespace", "")
            key = f"{ns}/{spec.get('vpaObjectName', '')}"
            if key not in vpas or spec.get("containerName") not in (self.aggregates.get(key) or {}):
                doomed.append((ns, cp["metadata"]["name"]))
        deleted = 0
        for ns, name in sorted(doomed):
            try:
                self.client.delete(CHECKPOINT_RESOURCE, name, ns)
                deleted += 1
            except ApiError:
                self.errors += 1
        return deleted

    def garbage_collect_aggregates(self, now: float) -> int:
        """garbageCollectAggregateCollectionStates: drop the aggregates that had no sample for the
        memory aggregation window (8 days) and that no live container feeds."""
        fed: set[tuple[str, str]] = set()
        for key, feed in self.feeds.items():
            live = feed.group[: feed.n][feed.has_state[: feed.n]]
            fed.update((key, feed.names[g]) for g in np.unique(live).tolist())
        dropped = 0
        for key, aggs in self.aggregates.items():
            for cname in [c for c, a in aggs.items() if (key, c) not in fed and a.last_sample_start is not None
                          and now - a.last_sample_start >= model.MEMORY_AGGREGATION_WINDOW]:  # fmt: skip
                del aggs[cname]
                dropped += 1
        return dropped

    def _selection(self, key: str, namespace: str, selector: LabelSelector) -> _Feed:
        """The VPA's feed, its selection rebuilt (``select_pods``) when the selector changed; the
        pods in both selections keep their containers' states."""
        old = self.feeds.get(key)
        if old is not None and old.namespace == namespace and old.selector == selector:
            return old
        from kubetwin.client.metrics import select_pods

        feed = self.feeds[key] = _Feed(key, namespace, selector)
        for pod in select_pods(self.pods, namespace, selector):
            feed.observe(pod)
        if old is not None:
            for uid, member in feed.pods.items():
                before = old.pods.get(uid)
                if before is None:
                    continue
                rows = {old.keys.containers[r]: r for r in before.rows}
                for r in member.rows:
                    was = rows.get(feed.keys.containers[r])
                    if was is not None:
                        for name in _Feed._STATE:
                            getattr(feed, name)[r] = getattr(old, name)[was]
        return feed

    def _usage(
        self, feed: _Feed, source: ContainerMetricsClient
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
        """(has a sample, cpu millicores, memory bytes) per row: the metrics pipeline's
        ``container_samples`` when it has it, else per pod (``container_usage``) or per selection
        (``get_container_usage``), the ContainerMetricsClient seam."""
        batch = getattr(source, "container_samples", None)
        if batch is not None:
            got: tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64], npt.NDArray[np.int64]] | None
            got = batch(feed.keys)
            return got
        n = feed.n
        has = np.zeros(n, dtype=np.bool_)
        cpu = np.zeros(n, dtype=np.int64)
        mem = np.zeros(n, dtype=np.int64)
        per_pod = getattr(source, "container_usage", None)
        by_name = None if per_pod is not None else source.get_container_usage(feed.namespace, feed.selector)
        for member in feed.pods.values():
            if by_name is not None:
                containers = by_name.get(member.pod["metadata"]["name"])
            elif member.running:
                containers = per_pod(member.pod)  # type: ignore[misc]
            else:
                containers = None
            if not containers:
                continue
            for r in member.rows:
                usage = containers.get(str(feed.keys.containers[r]))
                if usage is not None:
                    has[r] = True
                    cpu[r], mem[r] = usage
        return has, cpu, mem

    def _feed(self, feed: _Feed, source: ContainerMetricsClient | None, now: float) -> None:
        """LoadRealTimeMetrics for one VPA's pods: a CPU and a memory sample per Running container
        with usage, for all rows at once. ``ContainerState.add_cpu_sample`` and
        ``add_memory_sample`` as array operations on the rows; the run's CPU samples go into each
        aggregate in one step (:meth:`~kubetwin.controllers.vpa.model.AggregateContainerState.add_cpu_array`,
        in row order, bitwise the per-sample adds); the memory samples that open a window or raise
        its peak (the few that change the memory histogram) are added (and the old peak subtracted)
        one by one, in row order."""
        key = feed.key
        per_pod = feed.containers_per_pod()
        if per_pod:
            self.containers_per_pod[key] = per_pod
        if source is None or not feed.pods:
            return
        got = self._usage(feed, source)
        if got is None:
            return
        has, cpu, mem = got
        n = feed.n
        rows = np.flatnonzero(has[:n] & feed.alive[:n] & feed.running[:n])
        if not rows.size:
            return
        aggs = self.aggregates.setdefault(key, {})
        groups = feed.group[rows]
        by_group: list[model.AggregateContainerState | None] = [None] * len(feed.names)
        for g, _ in _by_group(groups, len(feed.names)):
            agg = aggs.get(feed.names[g])
            if agg is None:
                agg = aggs[feed.names[g]] = model.AggregateContainerState()
            by_group[g] = agg
        fresh = rows[~feed.has_state[rows]]
        if fresh.size:  # the containers' first samples: their states begin
            feed.begin(fresh, self.states_created)
            self.states_created += int(fresh.size)
        # ContainerState.add_cpu_sample: usage and request non-negative, time after the last sample
        c = cpu[rows]
        ok = (c >= 0) & feed.req_ok[rows] & (now > feed.last_cpu[rows])
        if ok.any():
            took, c, g_cpu = _taken(ok, rows, c, groups)
            feed.last_cpu[took] = now
            buckets = model.cpu_buckets(c)
            weights = feed.weight[took]
            for g, sel in _by_group(g_cpu, len(feed.names)):
                agg = by_group[g]
                assert agg is not None
                agg.add_cpu_array(buckets[sel], weights[sel], now)
        # ContainerState.add_memory_sample: usage non-negative, time not before the last sample
        m = mem[rows]
        ok = (m >= 0) & ~(now < feed.last_mem[rows])
        took, m, g_mem = _taken(ok, rows, m, groups)
        if not took.size:
            return
        feed.last_mem[took] = now
        we = feed.window_end[took]
        we = np.where(np.isnan(we), now, we)
        inside = now < we
        old = feed.top[took]
        raised = inside & (old != 0) & (m > old)
        interval = model.MEMORY_AGGREGATION_INTERVAL
        we = np.where(inside, we, we + (np.floor((now - we) / interval) * interval + interval))
        feed.window_end[took] = we
        moved = raised | ~inside
        if not moved.any():
            return
        rolled = took[~inside]
        feed.peak[rolled] = 0
        feed.oom_peak[rolled] = 0
        feed.peak[took[moved]] = feed.top[took[moved]] = m[moved]  # a raised peak is above the OOM one
        self.memory_peaks_moved += int(np.count_nonzero(moved))
        rows, old, m, we, raised = took[moved], old[moved], m[moved], we[moved], raised[moved]
        for g, sel in _by_group(g_mem[moved], len(feed.names)):
            agg = by_group[g]
            assert agg is not None
            r, up = rows[sel], raised[sel]
            old_b = np.zeros(r.size, dtype=np.int64)
            old_b[up] = feed.peak_buckets(r[up], old[sel][up])  # the raised peaks' buckets, kept
            both = (old_b, feed.peak_buckets(r, m[sel]))  # the new peaks': kept for the checkpoints
            agg.move_memory_peaks(old[sel], m[sel], up, we[sel], feed.decay_factors(r, agg.memory_peaks), both)

    def recommendation(self, vpa: Obj) -> list[Obj]:
        """The containerRecommendations for ``vpa`` from its aggregated samples (sorted by name)."""
        key = vu.vpa_key(vpa)
        aggs = self.aggregates.get(key) or {}
        per_pod = self.containers_per_pod.get(key) or len(aggs) or 1
        out: list[Obj] = []
        for cname in sorted(aggs):
            agg = aggs[cname]
            policy = vu.container_policy(cname, vpa)
            if (policy or {}).get("mode") == "Off" or agg.total_samples_count == 0:
                continue
            controlled = (policy or {}).get("controlledResources")
            if not isinstance(controlled, list):
                controlled = list(model.DEFAULT_CONTROLLED_RESOURCES)
            est = model.estimate_container(agg, per_pod, controlled, self.config)
            r = self.config.round_cpu_millicores
            target = model.as_resource_list(est.target, r)
            out.append({
                "containerName": cname,
                "target": target,
                "lowerBound": model.as_resource_list(est.lower_bound, r),
                "upperBound": model.as_resource_list(est.upper_bound, r),
                "uncappedTarget": dict(target),
            })  # fmt: skip
        capped = vu.capped_recommendation({"spec": vpa.get("spec") or {},
                                           "status": {"recommendation": {"containerRecommendations": out}}})  # fmt: skip
        for c, u in zip(capped, out, strict=True):
            c["uncappedTarget"] = u["uncappedTarget"]
        return capped

    def _update_vpa(self, vpa: Obj, key: str, pods: bool, problem: str) -> None:
        status = deep_copy(vpa.get("status") or {})
        now = self.loop.timestamp()
        conds: list[Obj] = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
        if problem:
            _set_condition(conds, "ConfigUnsupported", True, "", problem, now)
        else:
            conds = [c for c in conds if c.get("type") != "ConfigUnsupported"]
        recs = self.recommendation(vpa)
        if recs:
            status["recommendation"] = {"containerRecommendations": recs}
        elif not status.get("recommendation"):
            status.pop("recommendation", None)
        has_rec = bool((status.get("recommendation") or {}).get("containerRecommendations"))
        reason = message = ""
        if pods:
            conds = [c for c in conds if c.get("type") != "NoPodsMatched"]
        else:
            reason, message = "NoPodsMatched", "No pods match this VPA object"
            _set_condition(conds, "NoPodsMatched", True, reason, message, now)
        if has_rec:
            _set_condition(conds, "RecommendationProvided", True, "", "", now)
        else:
            _set_condition(conds, "RecommendationProvided", False, reason, message, now)
        conds.sort(key=lambda c: str(c.get("type")))
        status["conditions"] = conds
        if status == (vpa.get("status") or {}):
            return
        updated = deep_copy(vpa)
        updated["status"] = status
        try:
            self.client.update_status(updated)
        except ApiError:
            self.errors += 1  # a newer VPA: the next run writes again


def _taken(ok: npt.NDArray[np.bool_], *arrays: npt.NDArray[Any]) -> list[npt.NDArray[Any]]:
    """The elements of each array where ``ok``: the arrays themselves when it is all True (every
    sample taken, the usual run), never written to by the caller."""
    if ok.all():
        return list(arrays)
    return [a[ok] for a in arrays]


def _by_group(groups: npt.NDArray[np.int64], count: int) -> list[tuple[int, Any]]:
    """(group, its elements' selection) of each group in ``groups`` (of ``count``), ascending;
    the selection is a slice of all (no copy) when one group holds them all (one container name)."""
    present = np.flatnonzero(np.bincount(groups, minlength=count)).tolist()
    if len(present) == 1:
        return [(present[0], slice(None))]
    return [(g, groups == g) for g in present]


def _terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed") or bool(
        pod["metadata"].get("deletionTimestamp")
    )
