"""The cluster autoscaler over NodeGroups (kubernetes/autoscaler cluster-autoscaler: core/
static_autoscaler.go RunOnce, core/scaleup/orchestrator, core/scaledown/{planner,actuation},
clusterstate/clusterstate.go, processors/status/eventing_scale_up_processor.go).

Runs every ``scanInterval`` (10 s) while a ``ClusterAutoscaler`` object exists (and
``spec.enabled`` is not false). Each loop:

1. Cluster state: per NodeGroup its Nodes (label ``kubetwin.io/nodegroup``) ready / not started
   (unready, younger than max-node-startup-time) / unready, and the target (``spec.desiredSize``).
   A scale-up whose nodes are not all Ready within ``maxNodeProvisionTime`` (15 m) failed: the
   group's target drops back by the missing nodes (those marked for removal) and the group backs
   off 5 m (doubling to 30 m, reset after 3 h without failures); event ``ScaleUpTimedOut``.
2. Scale-up: pods with PodScheduled=False/Unschedulable, not being deleted, older than
   ``newPodScaleUpDelay``, priority >= the expendable cutoff (-10). Those that fit the cluster
   (ready nodes with free room plus the template nodes still coming up) are left to the
   scheduler. For the rest, each group with room gets a template node
   (:func:`kubetwin.cloud.nodegroup.template_node`, plus the DaemonSet pods that would run there);
   the scheduler framework's PreFilter/Filter tell which pods fit it (others: the Status reasons),
   the binpacking estimator says how many nodes (capped by maxSize, maxNodesTotal,
   maxNodesPerScaleup), the expander picks the option, and ``spec.desiredSize`` goes up. Groups
   one more node of which would pass ``coresTotal``/``memoryTotal``'s maximum are skipped ("max
   cluster cpu limit reached") and the chosen count is capped to what is left (:mod:`.limits`).
   With ``balanceSimilarNodeGroups`` the nodes are spread over the groups similar to the chosen
   one that take the same pods (:mod:`.nodegroupset`), smallest first; the estimate may then use
   their room too. Events: ``TriggeredScaleUp`` "pod triggered scale-up: [{a 1->3 (max: 10)}
   {b 2->3 (max: 10)}]" on the pods; ``NotTriggerScaleUp`` "pod didn't trigger scale-up:
   <count reason, ...>" when nothing scaled.
3. Scale-down (skipped in a loop that scaled up): a node is unneeded when its utilization
   ``max(cpu, mem)`` of requests / allocatable is below the threshold (0.5; unready nodes: any),
   nothing blocks draining it (:mod:`kubetwin.autoscaler.drain`) and every pod to move passes the
   filters on another node (simulated in memory, in order, earlier removals taken into account).
   After ``scaleDownUnneededTime`` (10 m; unready 20 m), outside the cool-downs (delay after add
   10 m, after delete = one scan, after failure 3 m), above the group's minSize and not taking the
   cluster below ``coresTotal``/``memoryTotal``'s minimum (MinimalResourceLimitExceeded): up to 10 empty
   nodes at once, else one node is drained — tainted ``ToBeDeletedByClusterAutoscaler:NoSchedule``,
   pods evicted through the Eviction API (429 from a PDB: retried until maxPodEvictionTime 2 m,
   then the drain fails), pods given ``min(grace, maxGracefulTerminationSec)`` to go — then the
   node is annotated ``kubetwin.io/scale-down: "true"`` and the group's desiredSize lowered: the
   NodeGroup controller terminates that very instance (cloudprovider DeleteNodes).
4. The status ConfigMap ``kube-system/cluster-autoscaler-status`` (:mod:`.status`).

Scale-up and scale-down simulate on one snapshot of the cluster kept across loops
(:class:`kubetwin.autoscaler.simulator.BaseSnapshot`): each loop applies the node/pod changes its
informer handlers noted, forks it, adds template nodes and moves pods, and reverts it. First-fit
goes through the nodes in the informer's order, as a snapshot built from the informers would.
The scale-down pass's outcomes are kept for the next scan while nothing it read changed
(:mod:`kubetwin.autoscaler.passmemo`): then that scan neither forks nor moves a pod. So is
scale-up's check of which pending pods fit (:mod:`kubetwin.autoscaler.fitmemo`); a fork's revert
gives back the snapshot's layout versions and dirty log, so neither takes a scan's what-ifs for
changes.

What the scans read of every node (group, readiness, creation time, taints, the request sums of
its pods) is kept from informer events (:class:`kubetwin.autoscaler.nodestate.NodeTracker`), and
the scale-down candidates (nodes not Ready, with a pod being deleted, or under the threshold) are
kept across scans, re-read only for the nodes that changed: a scan costs what changed plus its
candidates, not a pass over every node and pod. The status ConfigMap is rebuilt only when what it
shows changed.

Events on the status ConfigMap mirror upstream's LogRecorder ("Scale-up: setting group g size to
5 instead of 3 (max: 10)", "Scale-down: removing empty node ...", "Scale-down: node ... removed
with drain").
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from kubetwin.api import podchanges as pc
from kubetwin.api import resources
from kubetwin.api.errors import ApiError
from kubetwin.api.podchanges import pod_changes
from kubetwin.autoscaler import drain, expander, fitmemo, limits, nodegroupset, passmemo, status
from kubetwin.autoscaler.config import DEFAULT_NAME, RESOURCE, Options
from kubetwin.autoscaler.estimator import estimate
from kubetwin.autoscaler.nodestate import TO_BE_DELETED_TAINT, NodeFacts, NodeTracker, has_taint
from kubetwin.autoscaler.simulator import BaseSnapshot, FirstFit, SimCluster, fit_class, same_info
from kubetwin.client import Client, EventRecorder, InformerFactory
from kubetwin.cloud.nodegroup import (
    ANN_SCALE_DOWN,
    LABEL_NODEGROUP,
    NODEGROUP_RESOURCE,
    GroupSpec,
    SpecError,
    parse_group_spec,
    template_node,
)
from kubetwin.scheduler.framework import PodInfo
from kubetwin.sim import Handle, SeededRNG
from kubetwin.store.copy import deep_copy

Obj = dict[str, Any]

COMPONENT = "cluster-autoscaler"
PRIORITY = 25  # after the scheduler (20) at the same instant: it has had its try at new pods
DELETION_CANDIDATE_TAINT = "DeletionCandidateOfClusterAutoscaler"
MAX_POD_EVICTION_RETRY = 10.0  # EvictionRetryTime
NON_EMPTY_CANDIDATES_COUNT = 30  # scale-down-non-empty-candidates-count
REASON_MAX_GROUP_SIZE = "max node group size reached"
REASON_BACKOFF = "in backoff after failed scale-up"
REASON_MAX_TOTAL = "max cluster node count reached"
NEG_INF = float("-inf")
# what drain.drain_rules and the PDB matching read of a pod (metadata: deletion, annotations,
# owners, labels; spec: volumes, grace; whether it is terminal), where it is bound, and what else a
# PodInfo made from it to simulate its move holds (its start time)
_DRAIN_READS = pc.LABELS | pc.OWNERS | pc.DELETION | pc.META | pc.NODE | pc.SPEC | pc.TERMINAL | pc.START


@dataclass
class Group:
    name: str
    obj: Obj
    spec: GroupSpec  # parsed once per spec object, shared by the scans: read-only
    target: int  # spec.desiredSize as of the start of the scan, then as the scan sets it
    members: dict[str, Obj] = field(default_factory=dict)  # not being deleted, informer order, by name
    counts: status.Counts = field(default_factory=status.Counts)

    @property
    def nodes(self) -> list[Obj]:
        """The members' objects (read only by the rarer steps: built when asked)."""
        return list(self.members.values())


@dataclass(frozen=True)
class _PassRecord:
    """What a scale-down pass saw of the nodes it did not look at closer (ClusterAutoscaler.unremovable).
    ``candidates`` and ``recently_unremovable`` are the autoscaler's own set and dict as they were
    then: it changes a copy of either from then on (not a copy of each per scan)."""

    groups: dict[str, Group]
    candidates: AbstractSet[str]
    draining: frozenset[str]
    recently_unremovable: Mapping[str, float]


@dataclass
class ScaleUpRequest:
    time: float
    target: int
    increase: int


@dataclass
class Backoff:
    until: float
    duration: float
    last_failure: float
    message: str


@dataclass
class Drain:
    node: str
    group: str
    started: float
    to_evict: list[Obj]
    evicted: dict[str, float] = field(default_factory=dict)  # pod key -> when
    grace: float = 0.0


def go_duration(seconds: float) -> str:
    """Go's time.Duration String(): 15m0s, 1h0m0s, 10s."""
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h}h{m}m{sec}s"
    if m:
        return f"{m}m{sec}s"
    return f"{sec}s"


def _pod_key(pod: Obj) -> str:
    m = pod["metadata"]
    return f"{m.get('namespace', '')}/{m['name']}"


def _is_unschedulable(pod: Obj) -> bool:
    if (pod.get("spec") or {}).get("nodeName") or pod["metadata"].get("deletionTimestamp"):
        return False
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "PodScheduled":
            return c.get("status") == "False" and c.get("reason") == "Unschedulable"
    return False


class ClusterAutoscaler:
    """See the module docstring. ``start()`` registers handlers; the loop runs while enabled."""

    name = COMPONENT

    def __init__(self, client: Client, informers: InformerFactory, rng: SeededRNG) -> None:
        self.client = client
        self.informers = informers
        self.loop = client.clock
        self.rng = rng.child("cluster-autoscaler")
        self.recorder = EventRecorder(client, COMPONENT)
        self.options = Options()
        self.enabled = False
        self._timer: Handle | None = None
        self.unneeded_since: dict[str, float] = {}
        # why the last scale-down pass kept the nodes it looked at closer out (node -> reason);
        # see the unremovable property for all of them
        self._unremovable: dict[str, str] = {}
        self._last_pass: _PassRecord | None = None
        # node -> until when it is left out of scale-down: the simulation found it unremovable
        # (upstream's unremovable.Nodes ttls, --unremovable-node-recheck-timeout)
        self.recently_unremovable: dict[str, float] = {}
        self._recently_groups: frozenset[str] = frozenset()  # the groups when it was last pruned
        self.last_scale_up = NEG_INF
        self.last_scale_down_delete = NEG_INF
        self.last_scale_down_failure = NEG_INF
        self.requests: dict[str, ScaleUpRequest] = {}
        self.backoff: dict[str, Backoff] = {}
        self.drains: dict[str, Drain] = {}
        self.writer = status.StatusWriter()
        self.scale_ups = 0
        self.scale_downs = 0
        self.loops = 0
        # Scale-down candidates kept across scans: the nodes that are not Ready, have a pod being
        # deleted (whether it counts depends on the time) or whose utilization is below the
        # threshold. Every other node is ready, well utilised and stays so until it or its pods
        # change (NodeTracker.take_changed); re-classified for these options:
        self._maybe_under: set[str] = set()
        self._classified_for: tuple[float, bool, bool] | None = None
        # the candidates' utilization while they do not change (NodeTracker.take_changed) and have
        # no pod being deleted
        self._utils: dict[str, tuple[float, float, float]] = {}
        # informer order of the pods (the pods lister's order): key -> sequence number
        self._pod_seq: dict[str, int] = {}
        self._seq = 0
        # NodeGroup -> (its spec, the parsed spec): parsing takes milliseconds and the objects
        # change every cost refresh (status) while their spec stays
        self._template_cache: dict[str, tuple[Any, Obj]] = {}  # NodeGroup -> (its spec, template node)
        self._specs: dict[str, tuple[Obj, GroupSpec]] = {}  # NodeGroup -> (its spec object, parsed)
        self._status_key: Any = None  # what the last status document was made of
        # scale-down's drain rules per node while nothing they read of its pods changed:
        # node -> (its _drain_inputs version, the options read, the plan before PDB counts)
        # and per PDB (by index) how many of the pods to move it selects, for a PDB version,
        # and what a scale-down pass reads of both (_plan_key)
        self._plans: dict[str, tuple[int | None, tuple[bool, bool], drain.DrainPlan, dict[int, int], int,
                                     tuple[Any, ...]]] = {}  # fmt: skip
        # node -> a number that changes whenever a pod bound to it comes, goes or changes what
        # the drain rules read of it (_pod_touched)
        self._drain_inputs: dict[str, int] = {}
        self._drain_tick = 0
        self._pdb_memo: dict[str, tuple[Obj, list[int]]] = {}  # PdbTracker.matching per pod
        self._pdb_selectors: list[tuple[Any, Any]] | None = None  # ... for these PDB selectors
        self._pdb_version = 0  # bumped when they change
        # the PDB objects last listed, a tracker over them (only cloned) and its budgets()
        self._pdb_base: tuple[list[Obj], drain.PdbTracker, list[tuple[Any, Any, int]]] | None = None
        self._move_infos: dict[str, tuple[Obj, PodInfo]] = {}  # pod key -> (pod, PodInfo to move it)
        self._pending_infos: dict[str, tuple[Obj, PodInfo]] = {}  # pod key -> (pending pod, its PodInfo)
        # _eligible_pending's answer: (the pending pods, the cutoff, the answer)
        self._pending_memo: tuple[list[Obj], int, list[tuple[PodInfo, float | None]]] | None = None
        self._pass_memo = passmemo.PassMemo()  # the last scale-down simulation's outcomes
        self._fit_memo = fitmemo.FitMemo()  # the last scale-up fit check's answer

    # -- wiring ----------------------------------------------------------------------------------
    def start(self) -> None:
        self.configs = self.informers.get(RESOURCE)
        self.groups_inf = self.informers.get(NODEGROUP_RESOURCE)
        self.nodes = self.informers.get("nodes")
        self.pods = self.informers.get("pods")
        self.pdbs = self.informers.get("poddisruptionbudgets.policy")
        self.daemonsets = self.informers.get("daemonsets.apps")
        self.configmaps = self.informers.get("configmaps")
        self.pods.add_index("ca:node", lambda p: [(p.get("spec") or {}).get("nodeName") or ""],
                            changes=pod_changes, bits=pc.NODE)  # fmt: skip
        self.pods.add_index("ca:unschedulable", lambda p: ["1"] if _is_unschedulable(p) else [],
                            changes=pod_changes, bits=pc.NODE | pc.DELETION | pc.CONDITIONS)  # fmt: skip
        self.pods.add_handler(self._pod_added, self._pod_touched, self._pod_deleted, changes=pod_changes,
                              reads=_DRAIN_READS)  # fmt: skip
        self.tracker = NodeTracker(self.nodes, self.pods, self.loop.parse_timestamp)
        self.base = BaseSnapshot(self.informers, self.rng, self._node_pods)
        self.configs.add_handler(self._config_changed, lambda o, n: self._config_changed(n),
                                 lambda o: self._config_changed(None))  # fmt: skip
        self._config_changed(self.configs.get(DEFAULT_NAME))

    def _pod_added(self, pod: Obj) -> None:
        m = pod["metadata"]
        key = f"{m.get('namespace', '')}/{m['name']}"
        if key not in self._pod_seq:
            self._pod_seq[key] = self._seq
            self._seq += 1
        self._touch_node(pod)

    def _pod_deleted(self, pod: Obj) -> None:
        m = pod["metadata"]
        self._pod_seq.pop(f"{m.get('namespace', '')}/{m['name']}", None)
        self._touch_node(pod)

    def _pod_touched(self, old: Obj, pod: Obj) -> None:
        """A pod update that changed what the drain rules read (_DRAIN_READS): its node's (or
        nodes', when it was bound) drain plan is made again."""
        self._touch_node(old)
        self._touch_node(pod)

    def _touch_node(self, pod: Obj) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            self._drain_tick += 1
            self._drain_inputs[node] = self._drain_tick

    def _config_changed(self, obj: Obj | None) -> None:
        obj = self.configs.get(DEFAULT_NAME)
        enabled = False
        if obj is not None and not obj["metadata"].get("deletionTimestamp"):
            try:
                opts = Options.from_spec(obj.get("spec"))
            except ValueError:
                opts = Options()
            enabled = opts.enabled
            interval_changed = opts.scan_interval != self.options.scan_interval
            self.options = opts
            if interval_changed and self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self.enabled = enabled
        if not enabled:
            self.base.stop()
            self.tracker.stop()
            self._maybe_under = set()
            self._classified_for = None
        else:
            self.tracker.start()
        if enabled and self._timer is None:
            self._timer = self.loop.every(self.options.scan_interval, self.run_once, PRIORITY, COMPONENT)
        elif not enabled and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- one loop ----------------------------------------------------------------------------------
    def run_once(self) -> None:
        if not self.enabled:
            return
        self.loops += 1
        now = self.loop.now
        groups = self._cluster_state(now)
        self._check_provisioning(groups, now)
        scaled = self._scale_up(groups, now)
        candidates: dict[str, int] = {}
        if not scaled and self.options.scale_down_enabled:
            candidates = self._scale_down(groups, now)
        elif scaled:
            self.unneeded_since.clear()
        self._progress_drains(groups, now)
        self._write_status(groups, candidates)

    # -- cluster state -----------------------------------------------------------------------------
    def _cluster_state(self, now: float) -> dict[str, Group]:
        groups: dict[str, Group] = {}
        if len(self._template_cache) > len(self.groups_inf):
            self._template_cache.clear()
        if len(self._specs) > len(self.groups_inf):
            self._specs.clear()
        for obj in sorted(self.groups_inf.list(), key=lambda o: o["metadata"]["name"]):
            if obj["metadata"].get("deletionTimestamp"):
                continue
            name = obj["metadata"]["name"]
            spec = self._group_spec(name, obj)
            if spec is None:
                continue
            groups[name] = Group(name, obj, spec, spec.desired)
        startup = self.options.max_node_startup_time
        tracker = self.tracker
        for name, g in groups.items():
            g.members = tracker.members(name)  # as they are at the start of the scan (kept so)
            unready = tracker.unready(name)
            g.counts.ready = len(g.members) - len(unready)
            for created in unready.values():
                if now - (created if created is not None else now) < startup:
                    g.counts.not_started += 1
                else:
                    g.counts.unready += 1
            g.counts.unregistered = max(0, g.target - len(g.members))
        return groups

    def _facts(self, node: Obj) -> NodeFacts:
        return self.tracker.facts(node)

    def _group_spec(self, name: str, obj: Obj) -> GroupSpec | None:
        """The NodeGroup's validated spec (None: invalid), parsed once per distinct spec
        (parse_group_spec, which compares the spec with the one it parsed; here kept while the spec
        is the same object), shared by the scans (the loop lowers/raises Group.target instead)."""
        spec = obj.get("spec") or {}
        hit = self._specs.get(name)
        if hit is None or hit[0] is not spec:  # informer objects are never changed in place
            try:
                hit = self._specs[name] = (spec, parse_group_spec(name, spec))
            except SpecError:
                return None
        return hit[1]

    def _check_provisioning(self, groups: dict[str, Group], now: float) -> None:
        for name, req in list(self.requests.items()):
            g = groups.get(name)
            if g is None:
                del self.requests[name]
                continue
            if g.counts.ready >= min(req.target, g.target):
                del self.requests[name]
                continue
            if now - req.time < self.options.max_node_provision_time:
                continue
            del self.requests[name]
            missing = min(req.target, g.target) - g.counts.ready
            young = [
                n for n in g.nodes
                if not resources.is_node_ready(n)
                and self.loop.parse_timestamp(n["metadata"].get("creationTimestamp") or "") >= req.time - 1
            ]  # fmt: skip
            young.sort(key=lambda n: n["metadata"]["name"])
            marked = 0
            for node in young[:missing]:
                if self._mark_for_removal(node):
                    marked += 1
            drop = max(marked, missing - len(young))
            self._set_desired(g, max(g.spec.min_size, g.target - drop))
            msg = f"Nodes added to group {name} failed to register within {go_duration(self.options.max_node_provision_time)}"
            self._log_event("Warning", "ScaleUpTimedOut", msg)
            prev = self.backoff.get(name)
            if prev is None or now - prev.last_failure > self.options.node_group_backoff_reset:
                duration = self.options.initial_node_group_backoff
            else:
                duration = min(prev.duration * 2, self.options.max_node_group_backoff)
            self.backoff[name] = Backoff(now + duration, duration, now, msg)

    def _in_backoff(self, name: str, now: float) -> bool:
        b = self.backoff.get(name)
        return b is not None and now < b.until

    # -- scale-up ----------------------------------------------------------------------------------
    def _unschedulable_pods(self, now: float) -> list[PodInfo]:
        """The unschedulable pods scale-up looks at, in the lister's order: their PodInfos
        (:meth:`_pending_info`, which hold the key, priority and pod read once per pod), those
        older than newPodScaleUpDelay (:meth:`_eligible_pending` before that)."""
        pending = self.pods.by_index("ca:unschedulable", "1")
        if not pending:
            return []  # no pending pod at all: nothing to scan
        delay = self.options.new_pod_scale_up_delay
        return [pi for pi, created in self._eligible_pending(pending) if created is None or now - created >= delay]

    def _eligible_pending(self, pending: list[Obj]) -> list[tuple[PodInfo, float | None]]:
        """The pending pods' PodInfos at or above the expendable cutoff, in the lister's order,
        with their creation times; kept while the pending pods are the same objects (pods wait
        minutes for their nodes, most scans see the same ones) and none has affinity terms (their
        PodInfos resolve against the namespaces: a new one each scan)."""
        cutoff = self.options.expendable_pods_priority_cutoff
        memo = self._pending_memo
        if (memo is not None and memo[1] == cutoff and len(memo[0]) == len(pending)
                and all(map(operator.is_, memo[0], pending))):  # fmt: skip
            return memo[2]
        infos = [self._pending_info(pod) for pod in pending]
        seq = self._pod_seq
        infos.sort(key=lambda pi: seq[pi.key])  # the lister's order
        out: list[tuple[PodInfo, float | None]] = []
        parse = self.loop.parse_timestamp
        for pi in infos:
            if pi.priority < cutoff:
                continue
            created = pi.pod["metadata"].get("creationTimestamp")
            out.append((pi, parse(created) if created else None))
        affinity = any(pi.has_affinity for pi in infos)
        self._pending_memo = None if affinity else (pending, cutoff, out)
        return out

    def _node_order(self) -> list[str]:
        """Nodes not being deleted, in informer order (the order a snapshot built from the
        informers would hold them in: first-fit goes through them in this order)."""
        return self.tracker.order()

    def _add_upcoming(self, sim: SimCluster, groups: dict[str, Group]) -> list[str]:
        names = []
        for g in groups.values():
            coming = g.counts.unregistered + g.counts.not_started
            for i in range(coming):
                node = self._template(g, f"template-node-for-{g.name}-upcoming-{i}")
                self._add_template(sim, g, node)
                names.append(node["metadata"]["name"])
        return names

    def _template(self, g: Group, name: str) -> Obj:
        """The group's template node (template_node, built once per group spec) named ``name``."""
        spec = g.obj.get("spec")
        hit = self._template_cache.get(g.name)
        if hit is None or not (hit[0] is spec or hit[0] == spec):
            hit = self._template_cache[g.name] = (spec, template_node(g.obj))
        node = deep_copy(hit[1])
        node["metadata"]["name"] = name
        node["metadata"]["labels"]["kubernetes.io/hostname"] = name
        return node

    def _daemonset_pods(self, node: Obj) -> list[Obj]:
        """DaemonSet pods that would run on ``node`` (the template NodeInfo's DS pods)."""
        out: list[Obj] = []
        if not len(self.daemonsets):
            return out
        probe = SimCluster(self.informers, self.rng)
        probe.add_node(node)
        for ds in self.daemonsets.list():
            template = deep_copy(((ds.get("spec") or {}).get("template")) or {})
            meta = template.setdefault("metadata", {})
            meta["name"] = f"{ds['metadata']['name']}-{node['metadata']['name']}"
            meta["namespace"] = ds["metadata"].get("namespace", "default")
            meta["uid"] = f"{ds['metadata'].get('uid', '')}-{node['metadata']['name']}"
            meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": ds["metadata"]["name"],
                                        "uid": ds["metadata"].get("uid", ""), "controller": True}]  # fmt: skip
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template.get("spec") or {}}
            pi = PodInfo(pod)
            if probe.check(pi, node["metadata"]["name"]).is_success():
                pod["spec"] = {**pod["spec"], "nodeName": node["metadata"]["name"]}
                out.append(pod)
        return out

    def _add_template(self, sim: SimCluster, g: Group, node: Obj) -> None:
        sim.add_node(node)
        self._add_daemonset_pods(sim, node)

    def _add_daemonset_pods(self, sim: SimCluster, node: Obj) -> None:
        for pod in self._daemonset_pods(node):
            sim.add_bound_pod(pod)

    def _scale_up(self, groups: dict[str, Group], now: float) -> bool:
        pods = self._unschedulable_pods(now)
        if not pods:
            return False
        remaining = self._unfit(pods, groups)
        if not remaining:
            return False
        total_nodes = sum(max(g.target, len(g.members)) for g in groups.values()) + sum(
            1 for n in self.nodes.list()
            if not (n["metadata"].get("labels") or {}).get(LABEL_NODEGROUP)
        )  # fmt: skip
        reasons: dict[str, dict[str, list[str]]] = {pi.key: {} for pi in remaining}
        options: list[expander.Option] = []
        opts = self.options
        left = self._resources_left(groups)
        # pass 1 (filterValidScaleUpNodeGroups, SchedulablePodGroups): the groups that may grow and
        # the pods their template node takes
        fits: dict[str, list[PodInfo]] = {}
        for g in groups.values():
            skip = None
            if self._in_backoff(g.name, now):
                skip = REASON_BACKOFF
            elif g.target >= g.spec.max_size:
                skip = REASON_MAX_GROUP_SIZE
            elif opts.max_nodes_total and total_nodes >= opts.max_nodes_total:
                skip = REASON_MAX_TOTAL
            elif left and (over := limits.exceeded(left, _cores_memory(g))):
                skip = limits.max_resource_reason(over)
            if skip is not None:
                for pi in remaining:
                    reasons[pi.key][g.name] = [skip]
                continue
            probe = SimCluster(self.informers, self.rng)
            tname = f"template-node-for-{g.name}-0"
            self._add_template(probe, g, self._template(g, tname))
            fitting: list[PodInfo] = []
            verdicts: dict[Any, list[str]] = {}
            for pi in remaining:
                eq = _equivalence(pi)
                if eq not in verdicts:
                    st = probe.check(pi, tname)
                    verdicts[eq] = [] if st.is_success() else (st.reasons or [st.message() or "predicate failed"])
                if verdicts[eq]:
                    reasons[pi.key][g.name] = verdicts[eq]
                else:
                    fitting.append(pi)
            fits[g.name] = fitting
        # pass 2 (ComputeExpansionOption): binpack each group's pods; with balancing, the estimate
        # may use the room of the similar groups too (sngCapacityThreshold)
        similar: dict[str, list[Group]] = {}
        templates: dict[str, nodegroupset.Template] = {}
        for name, fitting in fits.items():
            if not fitting:
                continue
            g = groups[name]
            similar[name] = []
            if opts.balance_similar_node_groups:
                similar[name] = self._similar_groups(g, groups, fits, templates)
            room = sum(max(0, s.spec.max_size - s.target) for s in [g, *similar[name]])
            limit = min(room, opts.max_nodes_per_scaleup)
            if opts.max_nodes_total:
                limit = min(limit, opts.max_nodes_total - total_nodes)
            tname = f"template-node-for-{g.name}-0"
            est = estimate(SimCluster(self.informers, self.rng), fitting, _TemplateFactory(self, g), limit,
                           prepare=self._add_daemonset_pods)  # fmt: skip
            if est.node_count > 0:
                options.append(expander.Option(g.name, est.node_count, est.pods, self._template(g, tname),
                                               g.spec.price_per_hour))  # fmt: skip
        best = expander.choose(options, opts.expander, self.rng, self._priorities()) if options else None
        if best is None:
            for pi in remaining:
                counts: dict[str, int] = {}
                for rs in reasons[pi.key].values():
                    for r in rs:
                        counts[r] = counts.get(r, 0) + 1
                msg = ", ".join(f"{c} {r}" for r, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
                self.recorder.normal(pi.pod, "NotTriggerScaleUp", f"pod didn't trigger scale-up: {msg}")
            return False
        g = groups[best.group]
        new_nodes = best.node_count
        if left:
            new_nodes = limits.cap_count(new_nodes, left, _cores_memory(g))  # ApplyLimits
        # balanceScaleUps: the similar groups still within the resource limits share the nodes
        targets = [g] + [s for s in similar.get(g.name, [])
                         if not (left and limits.exceeded(left, _cores_memory(s)))]  # fmt: skip
        infos = nodegroupset.balance_scale_up([(t.name, t.target, t.spec.max_size) for t in targets], new_nodes)
        if not infos:
            return False
        done: list[nodegroupset.ScaleUpInfo] = []
        for info in infos:  # ExecuteScaleUps, one group after the other; stops at the first failure
            grown = groups[info.group]
            self._log_event("Normal", "ScaledUpGroup",
                            f"Scale-up: setting group {info.group} size to {info.new} instead of {info.current} "
                            f"(max: {info.max_size})")  # fmt: skip
            if not self._set_desired(grown, info.new):
                break
            self._log_event("Normal", "ScaledUpGroup",
                            f"Scale-up: group {info.group} size set to {info.new} instead of {info.current} "
                            f"(max: {info.max_size})")  # fmt: skip
            prev = self.requests.get(info.group)
            self.requests[info.group] = ScaleUpRequest(prev.time if prev else now, info.new,
                                                       info.new - info.current)  # fmt: skip
            done.append(info)
        if len(done) < len(infos):
            return False
        message = f"pod triggered scale-up: {nodegroupset.format_infos(infos)}"
        for pi in best.pods:
            self.recorder.normal(pi.pod, "TriggeredScaleUp", message)
        self.last_scale_up = now
        self.scale_ups += 1
        return True

    def _unfit(self, infos: list[PodInfo], groups: dict[str, Group]) -> list[PodInfo]:
        """The pending pods that fit neither the free room of the nodes nor the nodes still coming
        up (FilterOutSchedulable: first-fit, in order, in a fork of the snapshot); the last scan's
        answer while it holds (:mod:`.fitmemo`)."""
        sim = self.base.sync()
        order = self._node_order()
        inputs = self._unfit_inputs(order, groups)
        kept = self._fit_memo.lookup(sim, inputs, infos)
        if kept is not None:
            return kept
        placed: set[str] = set()
        remaining: list[PodInfo] = []
        sim.fork()
        try:
            fit = FirstFit(sim, order + self._add_upcoming(sim, groups))
            for pi in infos:
                target = fit.find(pi)
                if target is not None:
                    sim.place(pi, target)  # fits existing free room or an upcoming node
                    placed.add(target)
                else:
                    remaining.append(pi)
        finally:
            sim.revert()
        self._fit_memo.store(sim, inputs, infos, remaining, placed)
        return remaining

    def _unfit_inputs(self, order: list[str], groups: dict[str, Group]) -> tuple[Any, ...]:
        """What :meth:`_unfit` reads besides the snapshot and the pods: the node order, and per
        group with nodes coming up how many and its spec (the template node is built from it),
        with the DaemonSets (their pods go on the templates; their affinity terms would resolve
        against the namespaces). Informer objects are never changed in place."""
        coming = tuple((g.name, n, g.obj.get("spec")) for g in groups.values()
                       if (n := g.counts.unregistered + g.counts.not_started))  # fmt: skip
        if not coming:
            return (order, coming)
        return (order, coming, tuple(self.daemonsets.list()), self.base.namespace_events)

    def _resources_left(self, groups: dict[str, Group]) -> dict[str, int]:
        """ResourcesLeft under coresTotal/memoryTotal's maxima: the groups at their target sizes
        (template capacity) plus the nodes of no node group."""
        o = self.options
        maxima = {limits.CORES: o.max_cores_total, limits.MEMORY: o.max_memory_total * limits.GIB}
        if not any(v > 0 for v in maxima.values()):
            return {}
        counted: list[tuple[Obj, int]] = [(_capacity_node(g), g.target) for g in groups.values()]
        for n in self.nodes.list():
            if n["metadata"].get("deletionTimestamp"):
                continue
            if (n["metadata"].get("labels") or {}).get(LABEL_NODEGROUP, "") not in groups:
                counted.append((n, 1))
        return limits.scale_up_left(maxima, counted)

    def _group_template(self, g: Group, cache: dict[str, nodegroupset.Template]) -> nodegroupset.Template:
        """The group's template NodeInfo as the similarity check sees it (node + DaemonSet pods)."""
        hit = cache.get(g.name)
        if hit is None:
            node = self._template(g, f"template-node-for-{g.name}-0")
            requests = [resources.pod_requests(p) for p in self._daemonset_pods(node)]
            hit = cache[g.name] = nodegroupset.Template(node, requests)
        return hit

    def _similar_groups(self, g: Group, groups: dict[str, Group], fits: dict[str, list[PodInfo]],
                        cache: dict[str, nodegroupset.Template]) -> list[Group]:  # fmt: skip
        """ComputeSimilarNodeGroups: the other groups whose template is similar to ``g``'s, that
        may grow (not backed off, below max size) and take every pod ``g`` takes."""
        o = self.options
        ratios = nodegroupset.Ratios(o.max_allocatable_difference_ratio, o.max_free_difference_ratio,
                                     o.memory_difference_ratio)  # fmt: skip
        ignored = nodegroupset.IGNORED_LABELS | set(o.balancing_ignore_labels)
        mine = {pi.key for pi in fits[g.name]}
        base = self._group_template(g, cache)
        out = []
        for other in groups.values():
            if other.name == g.name or other.name not in fits:
                continue
            if not nodegroupset.is_similar(base, self._group_template(other, cache), ratios, ignored):
                continue
            if mine <= {pi.key for pi in fits[other.name]}:
                out.append(other)
        return out

    def _priorities(self) -> dict[int, list[re.Pattern[str]]] | None:
        if "priority" not in self.options.expander:
            return None
        cm = self.configmaps.get(expander.PRIORITY_CONFIGMAP, "kube-system")
        if cm is None:
            return None
        try:
            return expander.parse_priorities((cm.get("data") or {}).get(expander.PRIORITY_KEY) or "")
        except expander.PriorityConfigError as e:
            self.recorder.warning(cm, "PriorityConfigMapInvalid", str(e))
            return None

    def _set_desired(self, g: Group, desired: int) -> bool:
        try:
            self.client.patch(NODEGROUP_RESOURCE, g.name, {"spec": {"desiredSize": desired}})
        except ApiError as e:
            self.recorder.warning(g.obj, "FailedToScaleUpGroup" if desired > g.target else "FailedToScaleDownGroup",
                                  f"failed to set desiredSize of {g.name} to {desired}: {e.message}")  # fmt: skip
            return False
        g.target = desired
        return True

    # -- scale-down --------------------------------------------------------------------------------
    def _node_pods(self, name: str) -> list[Obj]:
        return self.pods.by_index("ca:node", name)

    def utilization(self, node: Obj) -> tuple[float, float, float]:
        """(utilization, cpu, memory) of requests over allocatable (simulator/utilization/info.go),
        from the request sums the tracker keeps per node."""
        o = self.options
        return self.tracker.utilization(node, self.loop.now, o.ignore_daemonsets_utilization,
                                        o.ignore_mirror_pods_utilization)  # fmt: skip

    def _classify(self) -> set[str] | None:
        """Bring the scale-down candidates (``_maybe_under``) up to date: the nodes that changed
        since the last scan, or all of them when the options that decide it changed or the tracker
        started again (returned; None: all)."""
        o = self.options
        key = (o.scale_down_utilization_threshold, o.ignore_daemonsets_utilization, o.ignore_mirror_pods_utilization)
        tracker = self.tracker
        changed: set[str] | None = tracker.take_changed()
        if key != self._classified_for:
            self._classified_for = key
            self._maybe_under = set()
            self._utils.clear()
            changed = None
        for name in set(tracker.names()) if changed is None else changed:
            self._utils.pop(name, None)
            hit = tracker.current(name)
            if hit is None or hit[1].deleting:
                want = False
            elif tracker.has_deleting_pods(name):
                want = True  # its utilization depends on the time: read every scan
            else:
                util = self.utilization(hit[0])
                want = not hit[1].ready or util[0] < o.scale_down_utilization_threshold
                if want:
                    self._utils[name] = util
            if want != (name in self._maybe_under):
                self._set_candidate(name, want)
        return changed

    def _set_candidate(self, name: str, on: bool) -> None:
        """Add ``name`` to the candidates or take it out, in a copy of the set if the last pass's
        record holds it."""
        if self._last_pass is not None and self._last_pass.candidates is self._maybe_under:
            self._maybe_under = set(self._maybe_under)
        if on:
            self._maybe_under.add(name)
        else:
            self._maybe_under.discard(name)

    def _recently_for_write(self) -> dict[str, float]:
        """``recently_unremovable`` to change: a copy if the last pass's record holds it."""
        if self._last_pass is not None and self._last_pass.recently_unremovable is self.recently_unremovable:
            self.recently_unremovable = dict(self.recently_unremovable)
        return self.recently_unremovable

    def _scale_down(self, groups: dict[str, Group], now: float) -> dict[str, int]:
        opts = self.options
        changed = self._classify()
        reasons: dict[str, str] = {}
        self._prune_recently_unremovable(groups, now, changed)
        # eligibility.go over the candidates only: the other nodes are Ready and well utilised
        under: list[tuple[float, Obj, Group, tuple[float, float, float]]] = []
        current, drains, recently, utils = self.tracker.current, self.drains, self.recently_unremovable, self._utils
        threshold = opts.scale_down_utilization_threshold
        for name in self._maybe_under:
            if name in recently:  # eligibility.go checks it first: its reason is filled in on read
                continue
            hit = current(name)  # _scan_node and _facts, inlined: this runs for every candidate every scan
            g = groups.get(hit[1].group) if hit is not None else None
            node = g.members.get(name) if g is not None else None
            if node is None or g is None:
                continue
            f = hit[1] if hit is not None and hit[0] is node else self._facts(node)
            if name in drains or f.to_be_deleted:
                continue
            if f.scale_down_disabled:
                reasons[name] = "ScaleDownDisabledAnnotation"
                continue
            kept = utils.get(name)
            util = kept if kept is not None else self.utilization(node)
            if f.ready and util[0] >= threshold:
                reasons[name] = "NotUnderutilized"
                continue
            under.append((util[0], node, g, util))
        self._unremovable = reasons
        self._last_pass = _PassRecord(groups, self._maybe_under, frozenset(self.drains), self.recently_unremovable)
        unneeded: dict[str, tuple[Obj, Group, list[Obj], tuple[float, float, float]]] = {}
        if under:
            self._find_unneeded(under, unneeded, now)
        for name in list(self.unneeded_since):
            if name not in unneeded:
                del self.unneeded_since[name]
        for name in unneeded:
            self.unneeded_since.setdefault(name, now)
        candidates: dict[str, int] = {}
        for _, g, _, _ in unneeded.values():
            candidates[g.name] = candidates.get(g.name, 0) + 1
        if self._scale_down_in_cooldown(now):
            return candidates
        quota = {g.name: g.target - g.spec.min_size for g in groups.values()}
        for d in self.drains.values():
            quota[d.group] = quota.get(d.group, 0) - 1
        empty: list[tuple[Obj, Group]] = []
        non_empty_ready: list[tuple[Obj, Group, list[Obj], tuple[float, float, float]]] = []
        room = self._scale_down_limits()
        for name, (node, g, to_move, util) in sorted(unneeded.items()):
            wait = opts.scale_down_unneeded_time if self._facts(node).ready else opts.scale_down_unready_time
            if now - self.unneeded_since[name] < wait:
                continue
            if quota.get(g.name, 0) <= 0:
                self._unremovable[name] = "NodeGroupMinSizeReached"
                continue
            if room is not None and room.try_remove(node):
                self._unremovable[name] = limits.REASON_MIN_RESOURCE_LIMIT
                continue
            if to_move:
                non_empty_ready.append((node, g, to_move, util))
            else:
                empty.append((node, g))
        deleted = 0
        for node, g in empty[: opts.max_empty_bulk_delete]:
            if quota[g.name] <= 0:
                continue
            if self._delete_empty(node, g):
                quota[g.name] -= 1
                deleted += 1
        if deleted:
            self.last_scale_down_delete = now
        elif non_empty_ready and len(self.drains) < opts.max_drain_parallelism:
            node, g, to_move, util = non_empty_ready[0]
            self._start_drain(node, g, to_move, util, now)
        return candidates

    def _prune_recently_unremovable(self, groups: dict[str, Group], now: float, changed: set[str] | None) -> None:
        """Keep of ``recently_unremovable`` the nodes whose time has not run out and that are still
        in a group (a node is a member of its label's group only). Whether a node is in one changes
        only with the node (``changed``: since the last scale-down pass, which checked or added
        every entry; None: any node) or with the set of groups: only those nodes are looked at again."""
        recently = self.recently_unremovable
        names = frozenset(groups)
        if names != self._recently_groups:
            self._recently_groups = names
            changed = None
        if not recently:
            return
        gone = [n for n, t in recently.items() if t <= now]
        again = recently if changed is None else changed
        gone += [n for n in again if n in recently and self._scan_node(n, groups) is None]
        if gone:
            recently = self._recently_for_write()
        for n in gone:
            recently.pop(n, None)

    def _scan_node(self, name: str, groups: dict[str, Group]) -> tuple[Obj, Group] | None:
        """The node as this scan's cluster state holds it, and its group (None: not in one)."""
        hit = self.tracker.current(name)
        g = groups.get(hit[1].group) if hit is not None else None
        node = g.members.get(name) if g is not None else None
        return None if node is None or g is None else (node, g)

    @property
    def unremovable(self) -> dict[str, str]:
        """Why the last scale-down pass kept each node of a group (that it did not drain or find
        ToBeDeleted) out of it (upstream's UnremovableReason). The nodes it did not look at
        closer, Ready and well utilised or recently found unremovable, are filled in here, on read."""
        rec = self._last_pass
        if rec is None:
            return dict(self._unremovable)
        out: dict[str, str] = {}
        for g in rec.groups.values():
            for name, node in g.members.items():
                if name in self._unremovable:
                    out[name] = self._unremovable[name]
                    continue
                f = self._facts(node)
                if name in rec.draining or f.to_be_deleted:
                    continue
                if name in rec.recently_unremovable:
                    out[name] = "RecentlyUnremovable"
                elif name in rec.candidates:
                    continue
                elif f.scale_down_disabled:
                    out[name] = "ScaleDownDisabledAnnotation"
                else:
                    out[name] = "NotUnderutilized"
        return out

    def _scale_down_limits(self) -> limits.ScaleDownLimits | None:
        """LimitsLeft under coresTotal/memoryTotal's minima (None: no minimum): every node that is
        not being deleted counts."""
        o = self.options
        minima = {limits.CORES: o.min_cores_total, limits.MEMORY: o.min_memory_total * limits.GIB}
        if not any(v > 0 for v in minima.values()):
            return None
        nodes = [n for n in self.nodes.list()
                 if not n["metadata"].get("deletionTimestamp") and not has_taint(n, TO_BE_DELETED_TAINT)]  # fmt: skip
        return limits.ScaleDownLimits(minima, nodes)

    def _find_unneeded(
        self,
        under: list[tuple[float, Obj, Group, tuple[float, float, float]]],
        unneeded: dict[str, tuple[Obj, Group, list[Obj], tuple[float, float, float]]],
        now: float,
    ) -> None:
        """Under-utilised nodes, least utilised first, whose pods can all move elsewhere (each
        node's moves count for the next ones); the last pass's outcomes while nothing it read
        changed (:mod:`.passmemo`)."""
        opts = self.options
        tracker, budgets = self._pdb_tracker()
        ordered = sorted(under, key=lambda t: (t[0], t[1]["metadata"]["name"]))
        found = [self._drain_rules(node["metadata"]["name"], tracker, now) for _, node, _, _ in ordered]
        plans = [(plan, needs) for plan, needs, _ in found]
        key = (
            tuple((node["metadata"]["name"], g.name, util, plan_key)
                  for (_, node, g, util), (_, _, plan_key) in zip(ordered, found, strict=True)),
            frozenset(self.drains),
        )  # fmt: skip
        order = self._node_order()
        sim = self.base.sync()
        kept = self._pass_memo.lookup(self.base, key, order, budgets)
        steps = kept.prefix
        if len(steps) < len(ordered) or kept.pdb_check:
            steps = self._simulate_pass(sim, ordered, plans, tracker, order, kept, key[0])
            self._pass_memo.store(self.base, key, order, budgets, steps)
        for (_, node, g, util), (plan, _), step in zip(ordered, plans, steps, strict=True):
            outcome = step.outcome
            name = node["metadata"]["name"]
            if outcome is passmemo.REMOVABLE:
                unneeded[name] = (node, g, plan.to_move, util)
            elif outcome != passmemo.CAPPED:
                self._unremovable[name] = outcome
                self._recently_for_write()[name] = now + opts.unremovable_node_recheck_timeout

    def _pdb_tracker(self) -> tuple[drain.PdbTracker, list[tuple[Any, Any, int]]]:
        """A fresh PdbTracker over the PDBs and its budgets(). The selectors are parsed once per
        set of PDB objects (informer objects are never changed in place: the same objects, the
        same entries and budgets, the latter the same list object for the pass memo); a set whose
        selectors differ drops the per-pod matches (``_pdb_memo``) and bumps ``_pdb_version``."""
        pdbs = self.pdbs.list()
        base = self._pdb_base
        if base is None or len(base[0]) != len(pdbs) or not all(map(operator.is_, base[0], pdbs)):
            tracker = drain.PdbTracker(pdbs, self._pdb_memo)
            selectors = tracker.selectors()
            if selectors != self._pdb_selectors:
                self._pdb_selectors = selectors
                self._pdb_memo.clear()
                self._pdb_version += 1
            base = self._pdb_base = (pdbs, tracker, tracker.budgets())
        if len(self._pdb_memo) > 2 * len(self.pods) + 64:
            self._pdb_memo.clear()
        return base[1].clone(), base[2]

    def _simulate_pass(
        self,
        sim: SimCluster,
        ordered: list[tuple[float, Obj, Group, tuple[float, float, float]]],
        plans: list[tuple[drain.DrainPlan, dict[int, int]]],
        tracker: drain.PdbTracker,
        order: list[str],
        kept: passmemo.Kept,
        entries: tuple[Any, ...],
    ) -> list[passmemo.Step]:
        """Each candidate's step: a kept one that still holds taken over (its moves made only when
        a later candidate is simulated, in ``sim`` forked then), the others simulated."""
        run = _PassRun(sim, FirstFit(sim, order), set(self.drains))
        steps: list[passmemo.Step] = []
        try:
            for i, ((_, node, _, _), (plan, needs)) in enumerate(zip(ordered, plans, strict=True)):
                plan = drain.check_pdbs(plan, tracker, needs)
                blocked = plan.blocking is not None and plan.blocking.reason == drain.NOT_ENOUGH_PDB
                step = kept.step(i, entries[i], blocked)
                if step is None and plan.blocking is None and run.non_empty < NON_EMPTY_CANDIDATES_COUNT:
                    found = kept.moved(entries[i])
                    if found is not None:
                        step = run.take_moved(node["metadata"]["name"], *found)
                        self._pass_memo.moved += 1
                elif step is not None:
                    step = run.take(step)
                if step is not None:
                    if step.outcome is passmemo.REMOVABLE:
                        run.remove(node["metadata"]["name"], plan.to_move, step.moves)
                        tracker.remove(plan.to_move, needs)
                else:
                    run.simulated += 1
                    step = self._simulate_step(run, node["metadata"]["name"], plan)
                    if step.outcome is passmemo.REMOVABLE:
                        tracker.remove(plan.to_move, needs)
                kept.taken(entries[i], step)
                steps.append(step)
        finally:
            if sim.forked:
                sim.revert()
        if run.simulated:
            self._pass_memo.replayed += len(steps) - run.simulated
        else:
            self._pass_memo.hits += 1
        return steps

    def _simulate_step(self, run: _PassRun, name: str, plan: drain.DrainPlan) -> passmemo.Step:
        """Simulate removing the candidate ``name`` after the steps so far (their moves made first)."""
        fit = run.fit
        if plan.blocking is not None:
            return passmemo.Step(plan.blocking.reason, (), fit.state(), None)
        if not plan.to_move:
            run.remove(name, plan.to_move, ())
            return passmemo.Step(passmemo.REMOVABLE, (), fit.state(), None)
        if run.non_empty >= NON_EMPTY_CANDIDATES_COUNT:
            return passmemo.Step(passmemo.CAPPED, (), fit.state(), None)
        run.catch_up(self._move_info)
        slot = run.sim.snapshot.slot_of.get(name)
        moved = self._simulate_moves(run.sim, plan.to_move, name, fit, run.removed)
        if moved is None:
            return passmemo.Step("NoPlaceToMovePods", (), fit.state(), slot)
        local = all(fit_class(self._move_info(pod)) is not None for pod in plan.to_move)
        step = passmemo.Step(passmemo.REMOVABLE, tuple(moved), fit.state(), slot, local)
        run.remove(name, plan.to_move, step.moves, made=True)
        return step

    def _drain_rules(
        self, name: str, pdbs: drain.PdbTracker, now: float
    ) -> tuple[drain.DrainPlan, dict[int, int], tuple[Any, ...]]:
        """drain.drain_rules over the node's pods, how many of the pods to move each PDB
        selects and what a scale-down pass reads of both (:func:`_plan_key`), in one entry, kept
        while no pod bound to the node came, went or changed what the rules read (``_drain_inputs``;
        and the rules' answer does not depend on the time or the PDBs; the counts and the key:
        while the PDBs' selectors stay): read-only. A kept plan's pods may be older
        versions than the informer's (status writes: equal in all the rules and the simulation
        read); what is written from them (the drain's evictions and Events) takes the current ones."""
        o = self.options
        key = (o.skip_nodes_with_system_pods, o.skip_nodes_with_local_storage)
        version = self._drain_inputs.get(name)
        hit = self._plans.get(name)
        if hit is not None and hit[1] == key and hit[0] == version:
            plan = hit[2]
            if hit[4] == self._pdb_version:
                return plan, hit[3], hit[5]
            needs = pdbs.needs(plan.to_move)
            plan_key = _plan_key(plan, needs)
            self._plans[name] = (version, key, plan, needs, self._pdb_version, plan_key)
            return plan, needs, plan_key
        plan, lasting = drain.drain_rules(self._node_pods(name), pdbs, now, self.loop.parse_timestamp, *key)
        needs = pdbs.needs(plan.to_move)
        plan_key = _plan_key(plan, needs)
        if lasting:
            if len(self._plans) > 2 * len(self.tracker.names()) + 64:
                self._forget_gone_nodes()
            self._plans[name] = (version, key, plan, needs, self._pdb_version, plan_key)
        else:
            self._plans.pop(name, None)
        return plan, needs, plan_key

    def _forget_gone_nodes(self) -> None:
        """Drop the kept drain plans and the drain input versions of nodes long gone (a node's
        version dropped reads as None: its plan, if any, is made again)."""
        self._plans.clear()
        live = set(self.tracker.names())
        self._drain_inputs = {n: v for n, v in self._drain_inputs.items() if n in live}

    def _pending_info(self, pod: Obj) -> PodInfo:
        """The pending pod's PodInfo, kept per pod object from scan to scan (pods wait for their
        nodes for minutes); a pod with affinity terms gets a new one (its terms resolve against
        the namespaces). Only snapshots' slots change in it, and placing it sets those again."""
        key = _pod_key(pod)
        hit = self._pending_infos.get(key)
        if hit is not None and (hit[0] is pod or same_info(hit[0], pod)):
            if hit[0] is not pod:  # the scheduler's status updates: the same PodInfo
                hit[1].pod = pod
                self._pending_infos[key] = (pod, hit[1])
            return hit[1]
        pi = PodInfo(pod)
        if not pi.has_affinity:
            if len(self._pending_infos) > 2 * len(self.pods) + 64:
                self._pending_infos = {k: v for k, v in self._pending_infos.items()
                                       if self.pods.get_by_key(k) is v[0]}  # fmt: skip
            self._pending_infos[key] = (pod, pi)
        return pi

    def _move_info(self, pod: Obj) -> PodInfo:
        """The pod as the scheduler would see it again, with no nodeName (NodeName would pin
        it), kept per pod object: each scan's moves are reverted, which leaves it detached.
        Pods with affinity terms get a new one (their terms resolve against the namespaces)."""
        key = _pod_key(pod)
        hit = self._move_infos.get(key)
        if hit is not None and (hit[0] is pod or same_info(hit[0], pod)):
            if hit[0] is not pod:  # a status update: the same PodInfo, for the new version
                hit[1].pod = {**pod, "spec": hit[1].pod["spec"]}
                self._move_infos[key] = (pod, hit[1])
            return hit[1]
        spec = {k: v for k, v in (pod.get("spec") or {}).items() if k != "nodeName"}
        pi = PodInfo({**pod, "spec": spec})
        if not pi.has_affinity:
            if len(self._move_infos) > 2 * len(self.pods) + 64:
                self._move_infos = {k: v for k, v in self._move_infos.items() if self.pods.get_by_key(k) is v[0]}
            self._move_infos[key] = (pod, pi)
        return pi

    def _simulate_moves(
        self, sim: SimCluster, pods: list[Obj], node: str, fit: FirstFit, removed: set[str]
    ) -> list[tuple[str, str]] | None:
        """Move ``pods`` off ``node`` in ``sim``, each to the first other node (not removed) that
        takes it: (pod key, node) each; None (moves rolled back) when one finds no place."""
        skip = removed | {node}
        placed: list[tuple[PodInfo, Obj]] = []
        moves: list[tuple[str, str]] = []
        for pod in pods:
            key = _pod_key(pod)
            pi = self._move_info(pod)
            if pi.has_affinity:
                fit.reset()  # its terms leave the snapshot: other pods may fit where they did not
            sim.unplace(key)
            target = fit.find(pi, skip)
            if target is None:
                for p, original in placed:  # roll back this node's moves
                    sim.unplace(p.key)
                    sim.add_bound_pod(original)
                sim.add_bound_pod(pod)
                fit.reset()  # room came back on the nodes the moves had taken
                return None
            sim.place(pi, target)
            placed.append((pi, pod))
            moves.append((key, target))
        return moves

    def _scale_down_in_cooldown(self, now: float) -> bool:
        o = self.options
        after_delete = o.scale_down_delay_after_delete or o.scan_interval
        return (
            now < self.last_scale_up + o.scale_down_delay_after_add
            or now < self.last_scale_down_delete + after_delete
            or now < self.last_scale_down_failure + o.scale_down_delay_after_failure
            or bool(self.drains)
        )

    def _taint(self, node: Obj, add: bool) -> bool:
        live = self.client.get_or_none("nodes", node["metadata"]["name"])
        if live is None:
            return False
        taints = [t for t in (live.get("spec") or {}).get("taints") or [] if t.get("key") != TO_BE_DELETED_TAINT]
        if add:
            taints.append({"key": TO_BE_DELETED_TAINT, "value": str(int(self.loop.now)), "effect": "NoSchedule"})
        live.setdefault("spec", {})["taints"] = taints
        try:
            self.client.update(live)
        except ApiError:
            return False
        return True

    def _mark_for_removal(self, node: Obj) -> bool:
        try:
            self.client.patch("nodes", node["metadata"]["name"],
                              {"metadata": {"annotations": {ANN_SCALE_DOWN: "true"}}})  # fmt: skip
        except ApiError:
            return False
        return True

    def _remove(self, node: Obj, g: Group) -> bool:
        """DeleteNodes: mark the instance, then lower the group's target by one."""
        live = self.groups_inf.get(g.name)
        if live is None or not self._mark_for_removal(node):
            return False
        try:
            spec = parse_group_spec(g.name, live.get("spec") or {})
        except SpecError:
            return False
        g.target = spec.desired
        if not self._set_desired(g, max(spec.min_size, spec.desired - 1)):
            return False
        self.unneeded_since.pop(node["metadata"]["name"], None)
        self.scale_downs += 1
        return True

    def _delete_empty(self, node: Obj, g: Group) -> bool:
        name = node["metadata"]["name"]
        if not self._taint(node, True):
            return False
        self.recorder.normal(node, "ScaleDown", "marked the node as toBeDeleted/unschedulable")
        self._log_event("Normal", "ScaleDownEmpty", f"Scale-down: removing empty node {name}")
        if not self._remove(node, g):
            self._taint(node, False)
            return False
        self._log_event("Normal", "ScaleDownEmpty", f"Scale-down: empty node {name} removed")
        return True

    def _start_drain(self, node: Obj, g: Group, pods: list[Obj], util: tuple[float, float, float], now: float) -> None:
        name = node["metadata"]["name"]
        pods = [self.pods.get_by_key(_pod_key(p)) or p for p in pods]  # the current versions (a kept plan's may be older)
        if not self._taint(node, True):
            return
        self.recorder.normal(node, "ScaleDown", "marked the node as toBeDeleted/unschedulable")
        names = ",".join(_pod_key(p) for p in pods)
        self._log_event("Normal", "ScaleDown",
                        f"Scale-down: removing node {name}, utilization: {{{util[1]:.4g} {util[2]:.4g} 0 cpu {util[0]:.4g}}}, "
                        f"pods to reschedule: {names}")  # fmt: skip
        self.drains[name] = Drain(name, g.name, now, list(pods))
        self._evict(self.drains[name], now)

    def _evict(self, d: Drain, now: float) -> None:
        for pod in list(d.to_evict):
            key = _pod_key(pod)
            if key in d.evicted:
                continue
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
            grace = min(30 if grace is None else grace, self.options.max_graceful_termination_sec)
            try:
                self.client.registry.evict(pod["metadata"].get("namespace", "default"), pod["metadata"]["name"],
                                           {"gracePeriodSeconds": grace})  # fmt: skip
            except ApiError as e:
                if e.code == 404:
                    d.evicted[key] = now
                continue  # 429 (PDB) and others: retry next loop until maxPodEvictionTime
            d.evicted[key] = now
            d.grace = max(d.grace, float(grace))
            self.recorder.normal(pod, "ScaleDown", "deleting pod for node scale down")

    def _progress_drains(self, groups: dict[str, Group], now: float) -> None:
        for name, d in list(self.drains.items()):
            node = self.nodes.get(name)
            if node is None:
                del self.drains[name]
                continue
            if len(d.evicted) < len(d.to_evict):
                self._evict(d, now)
            if len(d.evicted) < len(d.to_evict):
                if now - d.started >= self.options.max_pod_eviction_time:
                    del self.drains[name]
                    self._taint(node, False)
                    self.recorder.warning(node, "ScaleDownFailed", "failed to drain the node, aborting ScaleDown")
                    self.last_scale_down_failure = now
                continue
            keys = {_pod_key(p) for p in d.to_evict}
            left = [p for p in self._node_pods(name) if _pod_key(p) in keys and not drain.is_terminal(p)]
            last = max(d.evicted.values(), default=now)
            if left and now - last < d.grace + drain.POD_LONG_TERMINATING_EXTRA_THRESHOLD:
                continue
            del self.drains[name]
            g = groups.get(d.group)
            if g is None or not self._remove(node, g):
                self._taint(node, False)
                self.last_scale_down_failure = now
                continue
            self.last_scale_down_delete = now
            self._log_event("Normal", "ScaleDown", f"Scale-down: node {name} removed with drain")

    # -- status ------------------------------------------------------------------------------------
    def _log_event(self, type_: str, reason: str, message: str) -> None:
        cm = self.configmaps.get(status.NAME, status.NAMESPACE) or {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": status.NAME, "namespace": status.NAMESPACE},
        }  # fmt: skip
        self.recorder.event(cm, type_, reason, message)

    def _write_status(self, groups: dict[str, Group], candidates: dict[str, int]) -> None:
        now = self.loop.now
        entries = []
        any_in_progress = False
        for g in groups.values():
            b = self.backoff.get(g.name)
            if b is not None and now < b.until:
                up, info = status.BACKOFF, ("timeout", b.message)
            elif g.name in self.requests:
                up, info = status.IN_PROGRESS, None
                any_in_progress = True
            else:
                up, info = status.NO_ACTIVITY, None
            entries.append(status.GroupStatus(g.name, g.counts, g.target, g.spec.min_size, g.spec.max_size, up, info,
                                              candidates.get(g.name, 0)))  # fmt: skip
        key = (entries, any_in_progress)
        if key == self._status_key and self.writer.last_body is not None:
            return  # the same document as last time but for its times: nothing to write
        self._status_key = key
        ts = self.loop.timestamp()
        doc = self.writer.document(entries, status.IN_PROGRESS if any_in_progress else status.NO_ACTIVITY, ts)
        if not status.changed(self.writer, doc):
            return
        body = {"status": status.render(doc)}
        cm = self.configmaps.get(status.NAME, status.NAMESPACE)
        try:
            if cm is None:
                self.client.create({"apiVersion": "v1", "kind": "ConfigMap",
                                    "metadata": {"name": status.NAME, "namespace": status.NAMESPACE,
                                                 "annotations": {status.LAST_UPDATED: ts}},
                                    "data": body})  # fmt: skip
            else:
                live = deep_copy(cm)
                live["data"] = body
                live["metadata"].setdefault("annotations", {})[status.LAST_UPDATED] = ts
                self.client.update(live)
        except ApiError:
            self.writer.last_body = None  # try again next loop


class _PassRun:
    """A scale-down pass's state as it goes through the candidates: the nodes removed so far, how
    many of them had pods, first-fit's state, and the moves of the removals taken over from the
    last pass that ``sim`` does not hold yet (made, forked, before a candidate is simulated)."""

    def __init__(self, sim: SimCluster, fit: FirstFit, removed: set[str]) -> None:
        self.sim = sim
        self.fit = fit
        self.removed = removed
        self.non_empty = 0
        self.simulated = 0
        self._pending: list[tuple[list[Obj], tuple[tuple[str, str], ...]]] = []

    def take(self, step: passmemo.Step) -> passmemo.Step:
        """Go on from a kept step: first-fit's state as it was after it (the furthest node read
        being the furthest of both); the step as this pass keeps it."""
        reached = max(self.fit.reached, step.fit[0])
        self.fit.restore((reached, step.fit[1]))
        if reached == step.fit[0]:
            return step
        return passmemo.Step(step.outcome, step.moves, self.fit.state(), step.slot, step.local)

    def take_moved(self, name: str, step: passmemo.Step, reach: int) -> passmemo.Step:
        """Go on from a removal :meth:`passmemo.Kept.moved` found, which read the nodes up to
        position ``reach``: first-fit's state stays this pass's own (the places where each class
        resumes hold as pods are added), the step as this pass keeps it."""
        self.fit.reached = max(self.fit.reached, reach)
        return passmemo.Step(step.outcome, step.moves, self.fit.state(), self.sim.snapshot.slot_of.get(name), True)

    def remove(self, name: str, to_move: list[Obj], moves: tuple[tuple[str, str], ...], made: bool = False) -> None:
        """The candidate ``name`` goes, its pods ``to_move`` to ``moves`` (``made``: in ``sim`` already)."""
        self.removed.add(name)
        self.non_empty += bool(to_move)
        if moves and not made:
            self._pending.append((to_move, moves))

    def catch_up(self, move_info: Any) -> None:
        """Fork ``sim`` (once) and make the pending moves."""
        if not self.sim.forked:
            self.sim.fork()
        for to_move, moves in self._pending:
            for pod, (key, target) in zip(to_move, moves, strict=True):
                self.sim.unplace(key)
                self.sim.place(move_info(pod), target)
        self._pending.clear()


class _TemplateFactory:
    def __init__(self, ca: ClusterAutoscaler, g: Group) -> None:
        self.ca, self.g = ca, g

    def __call__(self, i: int) -> Obj:
        return self.ca._template(self.g, f"template-node-for-{self.g.name}-{i}")


def _plan_key(plan: drain.DrainPlan, needs: dict[int, int]) -> tuple[Any, ...]:
    """What of a node's drain plan (before the PDB counts) and its PDB needs a scale-down pass reads."""
    blocking = plan.blocking.reason if plan.blocking is not None else None
    return (blocking, tuple(_pod_key(p) for p in plan.to_move), tuple(sorted(needs.items())))


def _capacity_node(g: Group) -> Obj:
    """Just enough of the group's template node for the resource limits: its capacity."""
    return {"status": {"capacity": g.spec.capacity}}


def _cores_memory(g: Group) -> dict[str, int]:
    """One node of ``g`` in the resource limiter's units (DeltaForNode)."""
    return limits.node_cores_memory(_capacity_node(g))


def _equivalence(pi: PodInfo) -> Any:
    """Pods of one controller with the same labels get one predicate verdict (PodEquivalenceGroup)."""
    ref = resources.controller_ref(pi.pod)
    owner = ref.get("uid") if ref else pi.uid or pi.key
    return (pi.namespace, owner, tuple(sorted(pi.labels.items())))
