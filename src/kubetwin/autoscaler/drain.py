"""Which pods block removing a node, and which must move (cluster-autoscaler/utils/drain/drain.go
``GetPodsForDeletionOnNodeDrain``, simulator/drain.go, simulator/drainability/rules/*,
utils/pdb). Pure functions over pod / PDB objects.

- Mirror pods and long-terminating pods (deleted more than terminationGracePeriodSeconds + 30 s
  ago) are ignored; DaemonSet pods are collected apart and never block.
- Unless the pod is annotated ``cluster-autoscaler.kubernetes.io/safe-to-evict: "true"`` or is
  terminal: no controller -> NotReplicated; kube-system without a matching PDB (with
  skip-nodes-with-system-pods) -> UnmovableKubeSystemPod; hostPath / emptyDir (not medium Memory)
  volumes not listed in ``safe-to-evict-local-volumes`` (with skip-nodes-with-local-storage) ->
  LocalStorageRequested; ``safe-to-evict: "false"`` -> NotSafeToEvictAnnotation.
- Every pod to move must fit its PDBs' ``status.disruptionsAllowed`` (counting the pods already
  planned for eviction in this simulation) -> NotEnoughPdb.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubetwin.api.resources import controller_ref
from kubetwin.api.selectors import label_selector_from_dict

Obj = dict[str, Any]

SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"
SAFE_TO_EVICT_LOCAL_VOLUMES = "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes"
SCALE_DOWN_DISABLED = "cluster-autoscaler.kubernetes.io/scale-down-disabled"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
POD_LONG_TERMINATING_EXTRA_THRESHOLD = 30.0
REPLICATED_KINDS = ("ReplicationController", "ReplicaSet", "Job", "StatefulSet", "DaemonSet")

# drain.go BlockingPodReason
NO_REASON = "NoReason"
CONTROLLER_NOT_FOUND = "ControllerNotFound"
MIN_REPLICAS_REACHED = "MinReplicasReached"
NOT_REPLICATED = "NotReplicated"
LOCAL_STORAGE_REQUESTED = "LocalStorageRequested"
NOT_SAFE_TO_EVICT_ANNOTATION = "NotSafeToEvictAnnotation"
UNMOVABLE_KUBE_SYSTEM_POD = "UnmovableKubeSystemPod"
NOT_ENOUGH_PDB = "NotEnoughPdb"
UNEXPECTED_ERROR = "UnexpectedError"


@dataclass
class BlockingPod:
    pod: Obj
    reason: str
    message: str


@dataclass
class DrainPlan:
    to_move: list[Obj] = field(default_factory=list)
    daemonset: list[Obj] = field(default_factory=list)
    blocking: BlockingPod | None = None


def _key(pod: Obj) -> str:
    m = pod["metadata"]
    return f"{m.get('namespace', '')}/{m['name']}"


def is_mirror(pod: Obj) -> bool:
    return MIRROR_ANNOTATION in (pod["metadata"].get("annotations") or {})


def is_daemonset_pod(pod: Obj) -> bool:
    ref = controller_ref(pod)
    return ref is not None and ref.get("kind") == "DaemonSet"


def is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_long_terminating(pod: Obj, now: float, parse: Any) -> bool:
    ts = pod["metadata"].get("deletionTimestamp")
    if not ts:
        return False
    grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    grace = 30 if grace is None else grace
    return now - parse(ts) > grace + POD_LONG_TERMINATING_EXTRA_THRESHOLD


def has_local_storage(pod: Obj) -> bool:
    """hostPath or emptyDir volumes (emptyDir with medium Memory does not count), minus the ones
    listed in ``safe-to-evict-local-volumes``."""
    allowed = {
        v.strip()
        for v in ((pod["metadata"].get("annotations") or {}).get(SAFE_TO_EVICT_LOCAL_VOLUMES) or "").split(",")
        if v.strip()
    }
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        if vol.get("name") in allowed:
            continue
        if "hostPath" in vol:
            return True
        ed = vol.get("emptyDir")
        if ed is not None and (ed or {}).get("medium") != "Memory":
            return True
    return False


class PdbTracker:
    """utils/pdb RemainingPdbTracker: disruptions left per PDB as pods are planned for eviction.

    ``memo`` (pod key -> (pod, indices of the PDBs selecting it)) may carry :meth:`matching`'s
    answers from one tracker to the next while :meth:`selectors` stays the same."""

    def __init__(self, pdbs: list[Obj], memo: dict[str, tuple[Obj, list[int]]] | None = None) -> None:
        self.memo = memo
        self.entries: list[tuple[Obj, Any, int]] = []
        for pdb in pdbs:
            sel = (pdb.get("spec") or {}).get("selector")
            if not sel:
                continue
            try:
                matcher = label_selector_from_dict(sel)
            except ValueError:
                continue
            if matcher.empty:
                continue
            allowed = int((pdb.get("status") or {}).get("disruptionsAllowed", 0) or 0)
            self.entries.append((pdb, matcher, allowed))
        self.remaining = [e[2] for e in self.entries]

    def selectors(self) -> list[tuple[Any, Any]]:
        """What :meth:`matching` depends on: each PDB's namespace and selector, in order."""
        return [(pdb["metadata"].get("namespace"), pdb["spec"]["selector"]) for pdb, _, _ in self.entries]

    def budgets(self) -> list[tuple[Any, Any, int]]:
        """All the tracker reads of the PDBs: each one's namespace, selector and disruptions
        allowed, in order (a PDB's other status fields change far more often than these)."""
        return [(pdb["metadata"].get("namespace"), pdb["spec"]["selector"], allowed) for pdb, _, allowed in self.entries]

    def matching(self, pod: Obj) -> list[int]:
        memo = self.memo
        if memo is not None:
            hit = memo.get(_key(pod))
            if hit is not None and hit[0] is pod:
                return hit[1]
        ns = pod["metadata"].get("namespace")
        labels = pod["metadata"].get("labels") or {}
        out = [
            i for i, (pdb, m, _) in enumerate(self.entries)
            if pdb["metadata"].get("namespace") == ns and m.matches(labels)
        ]  # fmt: skip
        if memo is not None:
            memo[_key(pod)] = (pod, out)
        return out

    def has_pdb(self, pod: Obj) -> bool:
        return bool(self.matching(pod))

    def needs(self, pods: list[Obj]) -> dict[int, int]:
        """How many of ``pods`` each PDB selects (entry index -> count)."""
        need: dict[int, int] = {}
        for pod in pods:
            for i in self.matching(pod):
                need[i] = need.get(i, 0) + 1
        return need

    def can_remove(self, pods: list[Obj], needs: dict[int, int] | None = None) -> BlockingPod | None:
        """The first of ``pods`` whose eviction would take a PDB below what it allows (``needs``:
        their :meth:`needs`, when the caller has them: enough room for all answers at once)."""
        remaining = self.remaining
        if needs is not None and all(remaining[i] >= n for i, n in needs.items()):
            return None
        need: dict[int, int] = {}
        for pod in pods:
            for i in self.matching(pod):
                need[i] = need.get(i, 0) + 1
                if self.remaining[i] < need[i]:
                    m = pod["metadata"]
                    return BlockingPod(
                        pod, NOT_ENOUGH_PDB,
                        f"not enough pod disruption budget to move {m.get('namespace', '')}/{m['name']}",
                    )  # fmt: skip
        return None

    def remove(self, pods: list[Obj], needs: dict[int, int] | None = None) -> None:
        if needs is not None:
            for i, n in needs.items():
                self.remaining[i] -= n
            return
        for pod in pods:
            for i in self.matching(pod):
                self.remaining[i] -= 1

    def clone(self) -> PdbTracker:
        c = PdbTracker.__new__(PdbTracker)
        c.memo = self.memo
        c.entries = self.entries
        c.remaining = list(self.remaining)
        return c


def plan_drain(
    pods: list[Obj],
    pdbs: PdbTracker,
    now: float,
    parse_timestamp: Any,
    skip_nodes_with_system_pods: bool = True,
    skip_nodes_with_local_storage: bool = True,
) -> DrainPlan:
    """Pods to move off a node, its DaemonSet pods, or the first pod that blocks the drain."""
    plan, _ = drain_rules(pods, pdbs, now, parse_timestamp, skip_nodes_with_system_pods,
                          skip_nodes_with_local_storage)  # fmt: skip
    return check_pdbs(plan, pdbs)


def check_pdbs(plan: DrainPlan, pdbs: PdbTracker, needs: dict[int, int] | None = None) -> DrainPlan:
    """``plan`` (left as it is) or, when its pods to move would take a PDB below what it allows
    now, a copy blocked by NotEnoughPdb (``needs``: ``pdbs.needs(plan.to_move)``, if known)."""
    if plan.blocking is not None:
        return plan
    blocked = pdbs.can_remove(plan.to_move, needs)
    if blocked is None:
        return plan
    return DrainPlan(plan.to_move, plan.daemonset, blocked)


def drain_rules(
    pods: list[Obj],
    pdbs: PdbTracker,
    now: float,
    parse_timestamp: Any,
    skip_nodes_with_system_pods: bool = True,
    skip_nodes_with_local_storage: bool = True,
) -> tuple[DrainPlan, bool]:
    """The per-pod rules of :func:`plan_drain` (all but the disruption budgets' counts), and
    whether the answer holds for as long as the pods stay the same objects: no pod is being
    deleted (long-terminating depends on the time) and no kube-system pod was looked up among
    the PDBs (that depends on which PDBs exist)."""
    plan = DrainPlan()
    lasting = True
    for pod in pods:
        m = pod["metadata"]
        if m.get("deletionTimestamp"):
            lasting = False
        if is_mirror(pod) or is_long_terminating(pod, now, parse_timestamp):
            continue
        if is_daemonset_pod(pod):
            plan.daemonset.append(pod)
            continue
        ann = m.get("annotations") or {}
        safe = ann.get(SAFE_TO_EVICT) == "true"
        if not safe and not is_terminal(pod):
            ref = controller_ref(pod)
            if not ref or ref.get("kind") not in REPLICATED_KINDS:
                plan.blocking = BlockingPod(pod, NOT_REPLICATED, f"{m.get('namespace', '')}/{m['name']} is not replicated")
                return plan, lasting
            if m.get("namespace") == "kube-system" and skip_nodes_with_system_pods:
                lasting = False
                if not pdbs.has_pdb(pod):
                    plan.blocking = BlockingPod(
                        pod, UNMOVABLE_KUBE_SYSTEM_POD,
                        f"non-daemonset, non-mirrored, non-pdb-assigned kube-system pod present: {m['name']}",
                    )  # fmt: skip
                    return plan, lasting
            if skip_nodes_with_local_storage and has_local_storage(pod):
                plan.blocking = BlockingPod(pod, LOCAL_STORAGE_REQUESTED, f"pod with local storage present: {m['name']}")
                return plan, lasting
            if ann.get(SAFE_TO_EVICT) == "false":
                plan.blocking = BlockingPod(
                    pod, NOT_SAFE_TO_EVICT_ANNOTATION, f"pod annotated as not safe to evict present: {m['name']}"
                )
                return plan, lasting
        if is_terminal(pod):
            continue  # terminal pods need not move
        plan.to_move.append(pod)
    return plan, lasting
