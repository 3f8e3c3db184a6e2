"""In-memory cluster snapshot for the autoscaler's what-if questions, run through the twin's own
scheduler framework (cluster-autoscaler/simulator/clustersnapshot + simulator/predicatechecker:
upstream vendors kube-scheduler's framework and runs the default profile's PreFilter/Filter).

A :class:`SimCluster` holds Nodes (real or template) and pods placed on them in a scheduler
``Snapshot``; :meth:`check` answers "would the scheduler accept this pod on that node" with the
scheduler's Status (reasons as the scheduler words them), :meth:`find_node` is first-fit over a list
of nodes, :meth:`place` puts a pod on a node in the snapshot only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubetwin.scheduler.cache import Snapshot
from kubetwin.scheduler.framework import Code, CycleState, Framework, NodeInfo, PodInfo, Profile, Status
from kubetwin.scheduler.plugins import REGISTRY

Obj = dict[str, Any]

# Extension points the simulation needs; binding, preemption and scoring are never run.
_SIM_PLUGINS = ("NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodePorts",
                "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity")  # fmt: skip


def sim_profile() -> Profile:
    base = Profile.default()
    base.plugins = [p for p in base.plugins if p.name in _SIM_PLUGINS]
    return base


class SimCluster:
    def __init__(self, informers: Any = None, rng: Any = None) -> None:
        self.snapshot = Snapshot()
        self.framework = Framework(sim_profile(), self.snapshot, REGISTRY, None, informers, rng)

    # -- contents --------------------------------------------------------------------------------
    def add_node(self, node: Obj) -> NodeInfo:
        return self.snapshot.add_node(node)

    def remove_node(self, name: str) -> None:
        self.snapshot.remove_node(name)

    def add_bound_pod(self, pod: Obj, pi: PodInfo | None = None) -> PodInfo:
        """A pod already on ``spec.nodeName`` (``pi``: its PodInfo, when the caller has one)."""
        return self.snapshot.add_pod(pod, pi)

    def place(self, pi: PodInfo, node_name: str) -> None:
        """Count ``pi`` on ``node_name`` (the snapshot's AssumePod)."""
        self.snapshot.assume(pi, node_name)

    def unplace(self, key: str) -> None:
        self.snapshot.remove_pod(key)

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
