"""The scheduler loop (pkg/scheduler/schedule_one.go, scheduler.go, eventhandlers.go and
pkg/scheduler/backend/queue/scheduling_queue.go).

- Watches nodes and pods through the shared informers. Unassigned pods whose schedulerName is the
  profile's and that are not being deleted enter the scheduling queue; assigned pods feed the cache.
- Queue: activeQ ordered by PrioritySort; backoff ``podInitialBackoff`` 1 s doubling per attempt to
  ``podMaxBackoff`` 10 s. Queueing hints as v1.32 (``SchedulerQueueingHints`` on by default,
  scheduler/hints.py): an unschedulable pod goes back to backoff/active only for a cluster event
  (node add, a node's allocatable/labels/taints/uncordon, an assigned pod's add, relabel or
  delete; its own labels, tolerations or gates) that a plugin which rejected it registered for and
  whose hint says Queue, for any event of interest when no plugin rejected it (an error), and at
  the latest after ``podMaxInUnschedulablePodsDuration`` (5 min). Events seen during a pod's cycle
  are weighed the same way when it fails (a worthy one sends it straight to backoff). A node
  event's hints are asked once per (pod class, rejector plugins): node hints read only what a
  class holds.
- Pod writes are classified (api/podchanges.py): one that changed only status parts swaps the
  version held by the cache (a bound pod) or the queue without the update handler's checks.
- One cycle per pod, run on the event loop at priority 20 (a drain is scheduled at the current
  instant when the queue gets work). Filtering is vectorised over node slots and stops at
  ``numFeasibleNodesToFind`` feasible nodes starting at the round-robin ``nextStartNodeIndex``;
  ties among the best scores are broken by reservoir sampling with the seeded RNG (selectHost).
- The pod is assumed in the cache, then bound through the client (DefaultBinder); a failed bind
  forgets it and retries with back-off.
- Events go through the events.k8s.io recorder (client/eventseries.py, client-go tools/events):
  ``Scheduled`` (action Binding), ``FailedScheduling`` (action Scheduling, the note cut to 1 KiB
  as truncateMessage does) and ``Preempted`` (action Preempting, the preemptor as related object);
  repeats about the same pod version become an event series.
- Failures: a ``FailedScheduling`` Warning event and condition PodScheduled=False reason
  Unschedulable with the FitError message "0/N nodes are available: <sorted reason counts>." plus
  the PostFilter (preemption) message. Pods waiting for new nodes fail alike one after another: a
  pod that reads as the last unschedulable one to the filters, on an unchanged snapshot, takes
  that cycle's diagnosis instead of running the filters again (see ``_find_feasible``), and,
  without pod affinity terms or nominations, that cycle's PreFilter output too (``_fails_alike``).
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any

import numpy as np

from kubetwin.api import podchanges as pc
from kubetwin.api.errors import ApiError
from kubetwin.api.nodestatus import heartbeat_only
from kubetwin.api.podchanges import pod_changes
from kubetwin.client import Client, InformerFactory
from kubetwin.client.eventseries import SeriesEventRecorder, truncate_note
from kubetwin.scheduler.cache import Snapshot
from kubetwin.scheduler.equivalence import EquivalenceCache
from kubetwin.scheduler.framework import (
    MAX_SCORE,
    Code,
    CycleState,
    Framework,
    NodeStatuses,
    PodInfo,
    Profile,
    Status,
)  # fmt: skip
from kubetwin.scheduler.hints import (
    ADD,
    DELETE,
    NODE,
    POD,
    UPDATE_POD_LABEL,
    Hints,
    SeenEvent,
    node_update_actions,
    pod_update_actions,
)  # fmt: skip
from kubetwin.scheduler.plugins import REGISTRY
from kubetwin.scheduler.timers import TimerQueue
from kubetwin.sim import EventLoop, SeededRNG

Obj = dict[str, Any]

PRIORITY = 20
POD_INITIAL_BACKOFF = 1.0
POD_MAX_BACKOFF = 10.0
POD_MAX_IN_UNSCHEDULABLE_PODS_DURATION = 300.0
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
NO_NODE_AVAILABLE_MSG = "0/{} nodes are available"
ERR_NO_NODES_AVAILABLE = "no nodes available to schedule pods"
REASON_UNSCHEDULABLE = "Unschedulable"
REASON_SCHEDULER_ERROR = "SchedulerError"
AFFINITY_PLUGINS = frozenset({"InterPodAffinity", "PodTopologySpread"})
_NO_REJECTORS: frozenset[str] = frozenset()
# what _on_pod_update reads of a pod besides its status (writes changing none go to _on_pod_status)
_POD_READS = pc.LABELS | pc.OWNERS | pc.DELETION | pc.META | pc.NODE | pc.SPEC | pc.TERMINATING


def num_feasible_nodes_to_find(percentage: int, num_all_nodes: int) -> int:
    """schedule_one.go numFeasibleNodesToFind (percentage 0 = adaptive)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage == 0:
        percentage = 50 - num_all_nodes // 125
        if percentage < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND:
            percentage = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND
    n = num_all_nodes * percentage // 100
    if n < MIN_FEASIBLE_NODES_TO_FIND:
        return MIN_FEASIBLE_NODES_TO_FIND
    return n


class Diagnosis:
    """Why each node was rejected: vectorised (mask, Status) entries plus per-node statuses.
    Read-only once its cycle has filled it: pods that fail alike share it (see _find_feasible)."""

    def __init__(self, num_all: int) -> None:
        self.num_all = num_all
        self.entries: list[tuple[np.ndarray, Status]] = []
        self.per_node: dict[int, Status] = {}
        self.pre_filter_msg = ""
        self.plugins: set[str] = set()
        self._histogram: dict[str, int] | None = None
        self._statuses: NodeStatuses | None = None
        self._messages: dict[str, str] = {}  # message() per PostFilter message
        self._rejectors: frozenset[str] | None = None

    def rejectors(self) -> frozenset[str]:
        """The plugins that rejected a node (read-only, built once: pods failing alike share it)."""
        if self._rejectors is None or len(self._rejectors) != len(self.plugins):
            self._rejectors = frozenset(self.plugins)
        return self._rejectors

    def histogram(self) -> dict[str, int]:
        """Rejecting nodes per reason (read-only: computed once)."""
        if self._histogram is not None:
            return self._histogram
        counts: dict[str, int] = {}
        for mask, st in self.entries:
            c = int(mask.sum())
            if c:
                for r in st.reasons:
                    counts[r] = counts.get(r, 0) + c
        for st in self.per_node.values():
            for r in st.reasons:
                counts[r] = counts.get(r, 0) + 1
        self._histogram = counts
        return counts

    def node_status(self, snap: Snapshot) -> NodeStatuses:
        """Slot -> why it was rejected (framework.NodeStatuses: built lazily, shared Statuses;
        one per diagnosis, read-only)."""
        if self._statuses is None:
            self._statuses = NodeStatuses(self.entries, self.per_node)
        return self._statuses

    def message(self, post_filter_msg: str = "") -> str:
        """The FitError text with the PostFilter's part (built once per PostFilter message)."""
        msg = self._messages.get(post_filter_msg)
        if msg is None:
            if len(self._messages) > 16:
                self._messages.clear()
            msg = self._messages[post_filter_msg] = self._message(post_filter_msg)
        return msg

    def _message(self, post_filter_msg: str) -> str:
        msg = NO_NODE_AVAILABLE_MSG.format(self.num_all) + ":"
        if self.pre_filter_msg:
            msg += f" {self.pre_filter_msg}."
        else:
            body = ", ".join(sorted(f"{v} {k}" for k, v in self.histogram().items()))
            if body:
                msg += f" {body}."
        if post_filter_msg:
            msg += f" {post_filter_msg}"
        return msg


class FitError(Exception):
    """No node fits the pod; its text (the diagnosis' message) is built only when asked for: the
    cycle writes the message with the PostFilter's part itself."""

    def __init__(self, pod: PodInfo, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.pod = pod
        self.diagnosis = diagnosis

    def __str__(self) -> str:
        return self.diagnosis.message()


class Scheduler:
    def __init__(
        self,
        client: Client,
        informers: InformerFactory,
        rng: SeededRNG,
        profile: Profile | None = None,
        percentage_of_nodes_to_score: int = 0,
    ) -> None:
        self.client = client
        self.informers = informers
        self.loop: EventLoop = client.clock
        self.rng = rng
        self._np_rng = rng.numpy()
        self.profile = profile or Profile.default()
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.snapshot = Snapshot()
        self.framework = Framework(self.profile, self.snapshot, REGISTRY, client, informers, rng)
        # the events.k8s.io recorder (client-go tools/events): repeats become an event series
        self.recorder = SeriesEventRecorder(client, self.profile.scheduler_name)
        self.framework.recorder = self.recorder  # type: ignore[attr-defined]
        self.framework.clear_nominated_node_name = self._clear_nominated_node_name  # type: ignore[attr-defined]
        self.next_start_node_index = 0
        self.eq = EquivalenceCache(self.snapshot)
        # the last pod that no node fitted and its diagnosis, with the snapshot's state then
        # (see _find_feasible)
        self._last_fit_error: _FitMemo | None = None
        self._classes = PodClasses()
        fw = self.framework
        self._node_only = tuple(p for p in fw.filter_plugins if p.VECTORISED and p.NODE_ONLY_FILTER)
        # pod class -> (node_generation, slots, skipped filters, the node-only filters' fail mask)
        self._node_only_fails: dict[int, tuple[int, int, frozenset[str], np.ndarray | None]] = {}
        self._local_scores = tuple((p, fw.weights[p.NAME]) for p in fw.score_plugins if p.NODE_LOCAL_SCORE)
        self._local_names = frozenset(p.NAME for p, _ in self._local_scores)
        self._ring: np.ndarray = np.zeros(0, dtype=np.int64)  # 0..total-1 twice (round-robin windows)
        self._ties: np.ndarray = np.arange(1, 1025)  # 1..k for selectHost's reservoir sampling
        # queue
        self._active: list[tuple[int, float, int, str]] = []
        self._seq = itertools.count()
        self._queued: dict[str, PodInfo] = {}  # every pod the queue knows (active, backoff, unschedulable)
        self._in_active: set[str] = set()
        self._unschedulable: dict[str, PodInfo] = {}
        self._backoff: dict[str, int] = {}  # key -> its back-off expiry's token in _timers
        self._timers = TimerQueue(self.loop, PRIORITY, "scheduler:timers")  # back-off, flush
        self._drain: Any = None
        self._hints = Hints(self.framework.plugins)
        # cluster events of interest seen while a scheduling cycle runs (the in-flight pod's)
        self._in_flight: list[SeenEvent] | None = None
        self._affinity_waiting = 0
        self.scheduled = 0
        self.failed_attempts = 0
        self.bind_errors = 0

    # -- wiring -------------------------------------------------------------------------------
    def start(self) -> None:
        nodes = self.informers.get("nodes")
        nodes.add_handler(self._on_node_add, self._on_node_update, self._on_node_delete,
                          ignore=heartbeat_only, on_ignored=self._on_node_heartbeat)  # fmt: skip
        pods = self.informers.get("pods")
        pods.add_handler(self._on_pod_add, self._on_pod_update, self._on_pod_delete, changes=pod_changes,
                         reads=_POD_READS, on_ignored=self._on_pod_status)  # fmt: skip
        for res in ("poddisruptionbudgets.policy", "services", "replicasets.apps", "statefulsets.apps",
                    "namespaces"):  # fmt: skip
            try:
                self.informers.get(res)
            except KeyError:
                pass

    def _responsible(self, pod: Obj) -> bool:
        spec = pod.get("spec") or {}
        return (spec.get("schedulerName") or "default-scheduler") == self.profile.scheduler_name

    @staticmethod
    def _key(pod: Obj) -> str:
        m = pod["metadata"]
        return f"{m.get('namespace', '')}/{m['name']}"

    # -- node events --------------------------------------------------------------------------
    def _on_node_add(self, node: Obj) -> None:
        self.snapshot.add_node(node)
        self._move(NODE, ADD, None, node)

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        self.snapshot.update_node(new)
        for action in node_update_actions(old, new):
            self._move(NODE, action, old, new)

    def _on_node_heartbeat(self, old: Obj, new: Obj) -> None:
        """A status report that renewed only heartbeat times: no label, taint or allocatable
        changed, so nothing waits on it; plugins see the new object."""
        self.snapshot.update_node(new)

    def _on_node_delete(self, node: Obj) -> None:
        self.snapshot.remove_node(node["metadata"]["name"])

    # -- pod events ---------------------------------------------------------------------------
    def _on_pod_add(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            self.snapshot.add_pod(pod)
            self._move_cross_topology(ADD, None, pod)
            return
        if not self._responsible(pod) or pod["metadata"].get("deletionTimestamp"):
            return
        self._enqueue_new(PodInfo(pod))

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        key = self._key(new)
        if (new.get("spec") or {}).get("nodeName"):
            self._forget_queued(key)
            was = self.snapshot.pods.get(key)
            self.snapshot.update_pod(new)
            old_labels, new_labels = old["metadata"].get("labels"), new["metadata"].get("labels")
            if was is None:
                self._move_cross_topology(ADD, None, new)
            elif old_labels is not new_labels and old_labels != new_labels:
                self._move_cross_topology(UPDATE_POD_LABEL, old, new)
            self.snapshot.clear_nomination(key)
            return
        if new["metadata"].get("deletionTimestamp") or not self._responsible(new):
            self._forget_queued(key)
            return
        pi = self._queued.get(key)
        if pi is None:
            self._enqueue_new(PodInfo(new))
            return
        old_spec, new_spec = old.get("spec"), new.get("spec")
        old_labels, new_labels = old["metadata"].get("labels"), new["metadata"].get("labels")
        changed = (old_spec is not new_spec and old_spec != new_spec) or (
            old_labels is not new_labels and old_labels != new_labels
        )
        pi.update(new)
        if changed and key in self._unschedulable:
            memo: dict[Any, Any] = {}
            if any(self._hints.worth_requeuing(pi, POD, a, old, new, memo) for a in pod_update_actions(old, new)):
                self._requeue(pi)

    def _on_pod_status(self, old: Obj, new: Obj) -> None:
        """A pod write that changed only status parts (api/podchanges.py): for a bound pod the
        cache swaps in the new version when it holds the old one attached to its node, and for a
        queued pod the queue takes it (what _on_pod_update would do: nothing the cache or the queue
        derives from a pod changed), without the checks; anything else goes through _on_pod_update."""
        key = self._key(new)
        if (new.get("spec") or {}).get("nodeName"):
            if self.snapshot.refresh_pod(key, old, new):
                self._forget_queued(key)
                self.snapshot.clear_nomination(key)
                return
        else:
            pi = self._queued.get(key)
            if pi is not None and pi.pod is old:
                pi.update(new)  # still responsible, not being deleted, same spec and labels
                return
        self._on_pod_update(old, new)

    def _on_pod_delete(self, pod: Obj) -> None:
        key = self._key(pod)
        self.snapshot.clear_nomination(key)
        if self.snapshot.remove_pod(key) is not None:
            self._move(POD, DELETE, pod, None)
        self._forget_queued(key)

    # -- queue --------------------------------------------------------------------------------
    def _enqueue_new(self, pi: PodInfo) -> None:
        pi.timestamp = self.loop.now
        pi.initial_attempt = None
        self._queued[pi.key] = pi
        nominated = (pi.pod.get("status") or {}).get("nominatedNodeName")
        if nominated:
            self.snapshot.nominate(pi, nominated)
        for p in self.framework.pre_enqueue_plugins:
            st = p.pre_enqueue(pi)
            if st is not None:
                pi.unschedulable_plugins = frozenset((p.NAME,))
                self._unschedulable[pi.key] = pi
                return
        self._push_active(pi)

    def _push_active(self, pi: PodInfo) -> None:
        if pi.key in self._in_active:
            return
        self._unschedulable.pop(pi.key, None)
        if pi.unschedulable_plugins & AFFINITY_PLUGINS:
            self._affinity_waiting = max(0, self._affinity_waiting - 1)
        token = self._backoff.pop(pi.key, None)
        if token is not None:
            self._timers.cancel(token)
        self._in_active.add(pi.key)
        heapq.heappush(self._active, (-pi.priority, pi.timestamp, next(self._seq), pi.key))
        if self._drain is None:
            self._drain = self.loop.call_soon(self._run, PRIORITY, "scheduler")

    def _forget_queued(self, key: str) -> None:
        pi = self._queued.pop(key, None)
        if pi is None:
            return
        if self._unschedulable.pop(key, None) is not None and pi.unschedulable_plugins & AFFINITY_PLUGINS:
            self._affinity_waiting = max(0, self._affinity_waiting - 1)
        self._in_active.discard(key)
        token = self._backoff.pop(key, None)
        if token is not None:
            self._timers.cancel(token)

    def backoff_duration(self, pi: PodInfo) -> float:
        d = POD_INITIAL_BACKOFF
        for _ in range(1, pi.attempts):
            d *= 2
            if d > POD_MAX_BACKOFF:
                return POD_MAX_BACKOFF
        return d

    def _requeue(self, pi: PodInfo) -> None:
        """Move to activeQ, or to backoff while the pod's back-off has not expired."""
        if pi.key in self._in_active or pi.key in self._backoff:
            return
        self._unschedulable.pop(pi.key, None)
        if pi.unschedulable_plugins & AFFINITY_PLUGINS:
            self._affinity_waiting = max(0, self._affinity_waiting - 1)
            pi.unschedulable_plugins = _NO_REJECTORS
        expiry = pi.timestamp + self.backoff_duration(pi) if pi.attempts else self.loop.now
        if expiry <= self.loop.now:
            self._push_active(pi)
            return
        self._backoff[pi.key] = self._timers.call_at(expiry, self._backoff_expired, pi)

    def _backoff_expired(self, pi: PodInfo) -> None:
        self._backoff.pop(pi.key, None)
        if self._queued.get(pi.key) is pi:
            self._push_active(pi)

    def _move(self, resource: str, action: int, old: Obj | None, new: Obj | None,
              candidates: list[PodInfo] | None = None) -> None:  # fmt: skip
        """moveAllToActiveOrBackoffQueue / movePodsToActiveOrBackoffQueue: an event no plugin of the
        profile registered for moves nothing; otherwise each unschedulable pod (or each candidate)
        whose queueing hints say so goes to backoff or active, and the event is kept for the
        pod in flight."""
        hints = self._hints
        if not hints.interested(resource, action):
            return
        if self._in_flight is not None:
            self._in_flight.append((resource, action, old, new))
        pods = list(self._unschedulable.values()) if candidates is None else candidates
        memo: dict[Any, Any] = {}
        if resource == NODE:
            self._move_for_node(pods, action, old, new, memo)
            return
        for pi in pods:
            if hints.worth_requeuing(pi, resource, action, old, new, memo):
                self._requeue(pi)

    def _move_for_node(self, pods: list[PodInfo], action: int, old: Obj | None, new: Obj | None,
                       memo: dict[Any, Any]) -> None:  # fmt: skip
        """_move for a node event: the node hints read of the queued pod only what its class holds
        (namespace, labels, spec), so pods of one class with the same rejector plugins get one
        answer per event (asked once; the pods still requeue one by one, in order)."""
        hints, classes = self._hints, self._classes
        answers: dict[tuple[int, frozenset[str]], bool] = {}
        for pi in pods:
            rejectors = pi.unschedulable_plugins
            key = (classes.of(pi), rejectors if type(rejectors) is frozenset else frozenset(rejectors))
            worth = answers.get(key)
            if worth is None:
                worth = answers[key] = hints.worth_requeuing(pi, NODE, action, old, new, memo)
            if worth:
                self._requeue(pi)

    def _move_cross_topology(self, action: int, old: Obj | None, new: Obj) -> None:
        """AssignedPodAdded / AssignedPodUpdated: only pods that InterPodAffinity or
        PodTopologySpread rejected can be helped by another pod arriving or being relabelled
        (upstream's getUnschedulablePodsWithCrossTopologyTerm narrows them further)."""
        waiting = self._unschedulable.values() if self._affinity_waiting > 0 else ()
        self._move(POD, action, old, new, [pi for pi in waiting if pi.unschedulable_plugins & AFFINITY_PLUGINS])

    def _add_unschedulable(self, pi: PodInfo, events: list[SeenEvent]) -> None:
        """AddUnschedulableIfNotPresent with queueing hints (determineSchedulingHintForInFlightPod):
        a pod no plugin rejected (an error), or one an event seen during its cycle may help, goes
        to backoff; the rest wait in the unschedulable pool."""
        pi.timestamp = self.loop.now
        memo: dict[Any, Any] = {}
        if not pi.unschedulable_plugins or any(
            self._hints.worth_requeuing(pi, r, a, old, new, memo) for r, a, old, new in events
        ):
            self._requeue(pi)
            return
        self._unschedulable[pi.key] = pi
        if pi.unschedulable_plugins & AFFINITY_PLUGINS:
            self._affinity_waiting += 1
        self._timers.call_at(self.loop.now + POD_MAX_IN_UNSCHEDULABLE_PODS_DURATION, self._leftover,
                             (pi, pi.attempts))  # fmt: skip

    def _leftover(self, entry: tuple[PodInfo, int]) -> None:
        """flushUnschedulablePodsLeftover for one pod: still unschedulable since that attempt."""
        pi, attempts = entry
        if self._unschedulable.get(pi.key) is pi and pi.attempts == attempts:
            self._requeue(pi)

    def pending(self) -> int:
        return len(self._queued)

    # -- the loop -----------------------------------------------------------------------------
    def _run(self) -> None:
        self._drain = None
        while self._active:
            _, _, _, key = heapq.heappop(self._active)
            if key not in self._in_active:
                continue
            self._in_active.discard(key)
            pi = self._queued.get(key)
            if pi is None:
                continue
            self.schedule_one(pi)

    def schedule_one(self, pi: PodInfo) -> None:
        pod = pi.pod
        if pod["metadata"].get("deletionTimestamp") or (pod.get("spec") or {}).get("nodeName"):
            self._queued.pop(pi.key, None)
            return
        pi.attempts += 1
        if pi.initial_attempt is None:
            pi.initial_attempt = self.loop.now
        self._in_flight = []
        try:
            self._attempt(pi)
        finally:
            self._in_flight = None

    def _attempt(self, pi: PodInfo) -> None:
        """One scheduling cycle and, when a node fits, the binding cycle."""
        pod = pi.pod
        self._classes.of(pi)  # the pod shares its class's memo from the first plugin on
        state = CycleState()
        try:
            node_name = self.schedule_pod(state, pi)
        except FitError as fe:
            self.failed_attempts += 1
            pi.unschedulable_plugins = fe.diagnosis.rejectors()
            nominated: str | None = None
            post_msg = ""
            for p in self.framework.post_filter_plugins:
                node, st = p.post_filter(state, pi, fe.diagnosis.node_status(self.snapshot),
                                         fe.diagnosis.num_all)  # fmt: skip
                if st.is_success() and node:
                    nominated = node
                    break
                if st.reasons:
                    post_msg = st.message()
            msg = fe.diagnosis.message(post_msg)
            self._handle_failure(pi, msg, REASON_UNSCHEDULABLE, nominated)
            return
        except _NoNodes:
            self.failed_attempts += 1
            pi.unschedulable_plugins = _NO_REJECTORS
            self._handle_failure(pi, ERR_NO_NODES_AVAILABLE, REASON_SCHEDULER_ERROR, None)
            return
        # Assume, reserve, bind.
        self.snapshot.assume(pi, node_name)
        self.snapshot.clear_nomination(pi.key)
        for p in self.framework.reserve_plugins:
            p.reserve(state, pi, node_name)
        try:
            for p in self.framework.bind_plugins:
                st = p.bind(pi, node_name)
                if st is None or not st.is_skip():
                    break
        except ApiError as e:
            self.bind_errors += 1
            self.snapshot.forget(pi)
            if e.code == 404:
                self._queued.pop(pi.key, None)
                return
            pi.timestamp = self.loop.now
            self._requeue(pi)
            return
        self._queued.pop(pi.key, None)
        self.scheduled += 1
        self.recorder.normal(pod, "Scheduled", "Binding", f"Successfully assigned {pi.key} to {node_name}")

    def _handle_failure(self, pi: PodInfo, msg: str, reason: str, nominated: str | None) -> None:
        pod = pi.pod
        self.recorder.warning(pod, "FailedScheduling", "Scheduling", truncate_note(msg))
        if nominated:
            self.snapshot.nominate(pi, nominated)
        self._update_status(pi, reason, msg, nominated)
        if self._queued.get(pi.key) is pi:
            self._add_unschedulable(pi, self._in_flight or [])

    def _update_status(self, pi: PodInfo, reason: str, msg: str, nominated: str | None) -> None:
        status = pi.pod.get("status") or _EMPTY
        cur = None
        for c in status.get("conditions") or ():
            if c.get("type") == "PodScheduled":
                cur = c
                break
        if (
            cur is not None
            and cur.get("message") == msg
            and cur.get("reason") == reason
            and cur.get("status") == "False"
            and (not nominated or nominated == status.get("nominatedNodeName"))
        ):
            return
        registry = self.client.registry
        try:
            live = registry.get("pods", pi.name, pi.namespace, copy=False)
        except ApiError:
            return
        new_conds = [c for c in (live.get("status") or {}).get("conditions") or [] if c.get("type") != "PodScheduled"]
        cond = {"type": "PodScheduled", "status": "False", "lastProbeTime": None, "reason": reason, "message": msg,
                "lastTransitionTime": (cur or {}).get("lastTransitionTime") if cur and cur.get("status") == "False"
                else self.loop.timestamp()}  # fmt: skip
        new_conds.append(cond)
        fields: dict[str, Any] = {"conditions": new_conds}
        if nominated:
            fields["nominatedNodeName"] = nominated
        try:
            # a status update of the live pod with these fields set (updatePod's patch upstream)
            registry.set_fields_trusted("pods", pi.namespace, pi.name, "status", fields)
        except ApiError:
            return

    def _clear_nominated_node_name(self, pi: PodInfo) -> None:
        try:
            live = self.client.registry.get("pods", pi.name, pi.namespace, copy=True)
        except ApiError:
            return
        if (live.get("status") or {}).get("nominatedNodeName"):
            live["status"].pop("nominatedNodeName", None)
            try:
                self.client.update_status(live)
            except ApiError:
                return

    # -- one scheduling attempt ---------------------------------------------------------------
    def schedule_pod(self, state: CycleState, pi: PodInfo) -> str:
        snap = self.snapshot
        num_all = snap.num_nodes()
        if num_all == 0:
            raise _NoNodes()
        if self._fails_alike(state, pi):
            raise FitError(pi, self._last_fit_error.diagnosis)  # type: ignore[union-attr]
        fw = self.framework
        diag = Diagnosis(num_all)
        st = fw.run_pre_filter(state, pi)
        if not st.is_success():
            diag.pre_filter_msg = st.message()
            diag.plugins.add(st.plugin)
            n = snap.n
            diag.entries.append((snap.alive[:n].copy(), Status(st.code, plugin=st.plugin)))
            raise FitError(pi, diag)
        # A nominated node that still fits is taken directly (evaluateNominatedNode).
        nominated = (pi.pod.get("status") or {}).get("nominatedNodeName")
        if nominated:
            ni = snap.get(nominated)
            if ni is not None and fw.run_filter_with_nominated(state, pi, ni).is_success():
                return nominated
        feasible = self._find_feasible(state, pi, diag)
        if len(feasible) == 0:
            raise FitError(pi, diag)
        if len(feasible) == 1:
            return snap.nodes[int(feasible[0])].name  # type: ignore[union-attr]
        scores = self._prioritize(state, pi, feasible)
        return snap.nodes[int(feasible[self._select_host(scores)])].name  # type: ignore[union-attr]

    def _fails_alike(self, state: CycleState, pi: PodInfo) -> bool:
        """The failure of ``_find_feasible``'s alike pod, decided before the PreFilter: for a pod
        like the last one no node fitted, on the unchanged snapshot, without pod (anti-)affinity
        terms, nominated pods or a nominated node of its own, the PreFilter plugins (which read the
        pod's class and the snapshot) would write what they wrote for that pod, so ``state`` takes
        that output (read-only: PostFilter clones a state before changing it) and the pod takes its
        diagnosis; True when it does."""
        last = self._last_fit_error
        snap = self.snapshot
        if last is None or pi.has_affinity or snap.nominated or (pi.pod.get("status") or _EMPTY).get("nominatedNodeName"):
            return False
        if not last.alike(snap, None, self._classes.of(pi)):
            return False
        state.data.update(last.pre_filtered)
        state.skip_filter.update(last.skip)
        self._start_after_no_fit()
        return True

    def _start_after_no_fit(self) -> None:
        """nextStartNodeIndex after a cycle that found no feasible node (as _window leaves it)."""
        total = len(self.snapshot.alive_slots())
        self.next_start_node_index = self.next_start_node_index % total if total else 0

    def _find_feasible(self, state: CycleState, pi: PodInfo, diag: Diagnosis) -> np.ndarray:
        """Feasible node slots in round-robin order, filling ``diag`` when there are none (or
        raising the FitError of an alike pod, below).

        Both paths give the same nodes (the fast one skips the diagnosis). Pods waiting for new
        nodes fail one after another with the same reasons: for a pod like the last one that found
        no node (namespace, labels, spec, skipped filters), with the snapshot unchanged since,
        the fast path is not tried (it would fail, then the filters would run again for their
        reasons), and without pod (anti-)affinity terms or nominated pods, whose filters read
        more than the pod and the snapshot, the last diagnosis is this one's: FitError with it."""
        snap = self.snapshot
        last = self._last_fit_error
        if last is not None and last.alike(snap, state, self._classes.of(pi)):
            if not pi.has_affinity and not snap.nominated:
                self._start_after_no_fit()
                raise FitError(pi, last.diagnosis)  # read-only, shared
        else:
            fast = self._find_feasible_fast(state, pi)
            if fast is not None:
                return fast
        feasible = self._find_feasible_diagnosed(state, pi, diag)
        self._last_fit_error = None if len(feasible) else _FitMemo(snap, state, self._classes.of(pi), diag)
        return feasible

    def _find_feasible_diagnosed(self, state: CycleState, pi: PodInfo, diag: Diagnosis) -> np.ndarray:
        snap = self.snapshot
        fw = self.framework
        n = snap.n
        ok = snap.alive[:n].copy()
        per_node_plugins = []
        for p in fw.filter_plugins:
            if p.NAME in state.skip_filter:
                continue
            if not p.VECTORISED:
                per_node_plugins.append(p)
                continue
            res = p.filter_all(state, pi, snap)
            if not res:
                continue
            # Every reason of one plugin is recorded against the nodes still feasible before it ran.
            hits = []
            for mask, st in res:
                hit = mask & ok
                if hit.any():
                    st.plugin = p.NAME
                    diag.entries.append((hit, st))
                    diag.plugins.add(p.NAME)
                    hits.append(hit)
            for hit in hits:
                ok &= ~hit
        alive = snap.alive_slots()
        if per_node_plugins or snap.nominated:
            for s in map(int, np.flatnonzero(ok)):
                ni = snap.nodes[s]
                assert ni is not None
                for p in per_node_plugins:
                    r = p.filter(state, pi, ni)
                    if r is not None and not r.is_success():
                        r.plugin = p.NAME
                        diag.per_node[s] = r
                        diag.plugins.add(p.NAME)
                        ok[s] = False
                        break
                if ok[s] and s in snap.nominated and snap.nominated_on(s, pi):
                    r = fw.run_filter_with_nominated(state, pi, ni)
                    if not r.is_success():
                        diag.per_node[s] = r
                        diag.plugins.add(r.plugin)
                        ok[s] = False
        return self._window(ok, alive, True)  # type: ignore[return-value]

    def _find_feasible_fast(self, state: CycleState, pi: PodInfo) -> np.ndarray | None:
        """Feasible nodes without the diagnosis: None when the cycle needs the full path (per-node
        filters, nominated pods, or no feasible node, whose FitError needs every reason)."""
        snap = self.snapshot
        if snap.nominated:
            return None
        fails: list[np.ndarray] = []
        static = self._node_only_fail(state, pi)
        if static is not None:
            fails.append(static)
        for p in self.framework.filter_plugins:
            if p.NAME in state.skip_filter:
                continue
            if not p.VECTORISED:
                return None
            if p.NODE_ONLY_FILTER:
                continue
            if p.NODE_LOCAL_FILTER:
                bad, nbad = self.eq.filter_fail(state, pi, p)
                if nbad:
                    fails.append(bad)
                continue
            for mask, _ in p.filter_all(state, pi, snap):
                fails.append(mask)
        alive = snap.alive_slots()
        total = len(alive)
        if total == 0:
            return None
        if not fails:  # every live node is feasible: the window is a slice of the ring
            pct = self.profile.percentage_of_nodes_to_score
            to_find = num_feasible_nodes_to_find(self.percentage_of_nodes_to_score if pct is None else pct, total)
            start = self.next_start_node_index % total
            k = to_find if total > to_find else total
            if len(self._ring) != 2 * total:
                self._ring = np.concatenate((np.arange(total), np.arange(total)))
                self._ring.flags.writeable = False
            self.next_start_node_index = (start + k) % total
            ordered = self._ring[start : start + k]
            return ordered if total == snap.n else alive.take(ordered)
        n = snap.n
        ok = ~fails[0]
        for m in fails[1:]:
            ok &= ~m
        ok &= snap.alive[:n]
        return self._window(ok, alive, False)

    def _node_only_fail(self, state: CycleState, pi: PodInfo) -> np.ndarray | None:
        """The union of the node-only filters' fail masks over the first ``snap.n`` slots (None when
        they reject no node), kept per pod class until the nodes change (node_generation): pods of
        one class have equal specs, all those filters read of a pod (read-only)."""
        snap = self.snapshot
        cls = self._classes.of(pi)
        hit = self._node_only_fails.get(cls)
        if hit is not None and hit[0] == snap.node_generation and hit[1] == snap.n and hit[2] == state.skip_filter:
            return hit[3]
        bad: np.ndarray | None = None
        for p in self._node_only:
            if p.NAME in state.skip_filter:
                continue
            for mask, _ in p.filter_all(state, pi, snap):
                bad = mask.copy() if bad is None else bad | mask
        if bad is not None:
            bad.flags.writeable = False
        if len(self._node_only_fails) >= _NODE_ONLY_CLASSES_MAX:
            self._node_only_fails.clear()
        self._node_only_fails[cls] = (snap.node_generation, snap.n, frozenset(state.skip_filter), bad)
        return bad

    def _window(self, ok: np.ndarray, alive: np.ndarray, final: bool) -> np.ndarray | None:
        """The feasible slots in round-robin order from nextStartNodeIndex, at most
        numFeasibleNodesToFind of them (as upstream); advances nextStartNodeIndex. With no feasible
        node: an empty array when ``final``, else None (nothing advanced)."""
        n = self.snapshot.n
        total = len(alive)
        pct = self.profile.percentage_of_nodes_to_score
        to_find = num_feasible_nodes_to_find(self.percentage_of_nodes_to_score if pct is None else pct, total)
        start = self.next_start_node_index % total if total else 0
        dense = total == n  # no free slots: slot == position in node order
        # positions (in node order) of feasible nodes
        pos = np.flatnonzero(ok) if dense else np.flatnonzero(ok[alive])
        found = len(pos)
        if found == 0:
            if not final:
                return None
            self.next_start_node_index = start
            return pos
        # Round-robin from nextStartNodeIndex, stopping at numFeasibleNodesToFind (as upstream).
        split = int(pos.searchsorted(start))
        if found > to_find:
            if found - split >= to_find:
                ordered = pos[split : split + to_find]
            else:
                ordered = np.concatenate((pos[split:], pos[: to_find - (found - split)]))
            processed = (int(ordered[-1]) - start) % total + 1
        else:
            ordered = np.concatenate((pos[split:], pos[:split])) if split else pos
            processed = total
        self.next_start_node_index = (start + processed) % total
        return ordered if dense else alive.take(ordered)

    def _prioritize(self, state: CycleState, pi: PodInfo, slots: np.ndarray) -> np.ndarray:
        """Total weighted scores over ``slots``, up to a constant: plugins scoring every node the
        same (constant_score) shift all totals alike, which selectHost cannot tell apart, so
        their sum is left out."""
        fw = self.framework
        for p in fw.pre_score_plugins:
            st = p.pre_score(state, pi, slots)
            if st is not None and st.is_skip():
                state.skip_score.add(p.NAME)
        local = self._local_scores
        if state.skip_score & self._local_names:
            local = tuple((p, w) for p, w in local if p.NAME not in state.skip_score)
        if local:  # node-local scores come summed per pod class, kept current incrementally
            total = self.eq.base_scores(state, pi, local).take(slots)
        else:
            total = np.zeros(len(slots), dtype=np.int64)
        for p in fw.score_plugins:
            if p.NAME in state.skip_score or p.NODE_LOCAL_SCORE:
                continue
            if p.constant_score(state, pi) is not None:
                continue
            raw = p.score_all(state, pi, slots)
            norm = p.normalize_score(state, pi, raw)
            w = fw.weights[p.NAME]
            total += norm if w == 1 else norm * w
        return total

    def _select_host(self, scores: np.ndarray) -> int:
        """selectHost: reservoir sampling over the nodes sharing the best score."""
        best = (scores == scores.max()).nonzero()[0]
        k = len(best)
        if k == 1:
            return int(best[0])
        # The i-th tie (1-based) replaces the pick with probability 1/i; the last replacement wins
        # (the first always does: u < 1).
        if len(self._ties) < k:
            self._ties = np.arange(1, 2 * k + 1)
        u = self._np_rng.random(k)
        u *= self._ties[:k]
        last = k - 1 - int((u[::-1] < 1.0).argmax())
        return int(best[last])


class _NoNodes(Exception):
    pass


_EMPTY: Obj = {}


_POD_CLASS = "scheduler/class"
_POD_CLASSES_MAX = 4096
_NODE_ONLY_CLASSES_MAX = 512


class PodClasses:
    """Pods equal in namespace, labels and spec share a class id, kept in the pod's memo (which
    goes when its spec or labels do). They share the memo itself: everything in it derives from
    the namespace, labels and spec (PodInfo.memo), so what one pod of a class worked out (node
    selection and tolerations keys, requests in order, the selector counters it counts in, ...)
    the next pods of it, e.g. the replicas of one ReplicaSet, find done. A pod is compared in full with its class once, not on every
    attempt: pods of one template have equal, distinct specs scattered in memory, and comparing
    them cost ~7 us an attempt in the full-size run."""

    def __init__(self) -> None:
        # (namespace, requests) -> [(class id, labels, spec, the class's memo)]
        self._reps: dict[tuple[Any, ...], list[tuple[int, dict[str, str], Any, dict[str, Any]]]] = {}
        self._count = 0
        self._next = itertools.count()

    def of(self, pi: PodInfo) -> int:
        cid: int | None = pi.memo.get(_POD_CLASS)
        if cid is not None:
            return cid
        spec = pi.pod.get("spec")
        key = (pi.namespace, tuple(sorted(pi.requests.items())))
        bucket = self._reps.get(key)
        if bucket is None:
            if self._count >= _POD_CLASSES_MAX:
                self._reps.clear()  # ids are never reused: pods classed before stay apart
                self._count = 0
            bucket = self._reps[key] = []
        for rid, labels, rspec, memo in bucket:
            if (labels is pi.labels or labels == pi.labels) and (rspec is spec or rspec == spec):
                cid = rid
                for k, v in pi.memo.items():
                    memo.setdefault(k, v)
                pi.memo = memo
                break
        else:
            cid = next(self._next)
            bucket.append((cid, pi.labels, spec, pi.memo))
            self._count += 1
        pi.memo[_POD_CLASS] = cid
        return cid


class _FitMemo:
    """A pod that no node fitted (its class), its diagnosis and the snapshot's state at the time."""

    __slots__ = ("epoch", "dirty", "generation", "skip", "pre_filtered", "pod_class", "diagnosis")

    def __init__(self, snap: Snapshot, state: CycleState, pod_class: int, diag: Diagnosis) -> None:
        self.epoch, self.dirty, self.generation = snap.epoch, len(snap.dirty), snap.node_generation
        self.skip = frozenset(state.skip_filter)
        self.pre_filtered = dict(state.data)  # what the PreFilter wrote (the filters write nothing)
        self.pod_class = pod_class
        self.diagnosis = diag

    def alike(self, snap: Snapshot, state: CycleState | None, pod_class: int) -> bool:
        """A pod of ``pod_class`` reads as the memo's pod to the filters, on the same snapshot
        (``state``: after its PreFilter, which skipped the same filters; None: before it)."""
        return (
            self.pod_class == pod_class
            and self.epoch == snap.epoch
            and self.dirty == len(snap.dirty)
            and self.generation == snap.node_generation
            and (state is None or self.skip == state.skip_filter)
        )


__all__ = ["MAX_SCORE", "Code", "FitError", "Scheduler", "num_feasible_nodes_to_find"]
