"""Binpacking estimator (cluster-autoscaler/estimator/binpacking_estimator.go,
decreasing_pod_orderer.go): how many template nodes of a group the pending pods need.

First-Fit Decreasing: pods sorted by ``cpu/allocatable_cpu + mem/allocatable_mem`` of the template
(descending, stable); each pod goes to the first already-added new node that passes the scheduler's
filters, else onto a fresh template node if the limiter allows one more. When the last added node
is still empty the pod cannot fit a fresh node: it is skipped without adding another node.
NodeCount is the number of new nodes that received pods (the estimate stays within
11/9·OPT + 6/9, First-Fit Decreasing's bound).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubetwin.api import resources
from kubetwin.autoscaler.simulator import FirstFit, SimCluster
from kubetwin.scheduler.framework import PodInfo

Obj = dict[str, Any]


@dataclass
class Estimate:
    node_count: int = 0
    pods: list[PodInfo] = field(default_factory=list)  # pods that fit on the new nodes
    nodes: list[str] = field(default_factory=list)  # names of the new nodes that received pods


def pod_score(pi: PodInfo, alloc_cpu: int, alloc_mem: int) -> float:
    """decreasing_pod_orderer.go: cpu share + memory share of the template's allocatable."""
    cpu = pi.requests.get("cpu", 0)
    mem = pi.requests.get("memory", 0)
    score = 0.0
    if alloc_cpu > 0:
        score += cpu / alloc_cpu
    if alloc_mem > 0:
        score += mem / alloc_mem
    return score


def estimate(
    sim: SimCluster,
    pods: list[PodInfo],
    template: Callable[[int], Obj],
    max_nodes: int,
    prepare: Callable[[SimCluster, Obj], Any] | None = None,
) -> Estimate:
    """Binpack ``pods`` onto new nodes ``template(i)`` added to ``sim`` (at most ``max_nodes``).

    ``sim`` keeps the new nodes and the placed pods (callers use a throw-away SimCluster);
    ``prepare(sim, node)`` runs after each new node is added (e.g. to put its DaemonSet pods on it).
    """
    out = Estimate()
    if not pods or max_nodes <= 0:
        return out
    first = template(0)
    alloc = resources.resource_list((first.get("status") or {}).get("allocatable"))
    cpu, mem = alloc.get("cpu", 0), alloc.get("memory", 0)
    ordered = sorted(pods, key=lambda p: -pod_score(p, cpu, mem))
    new_nodes: list[str] = []
    fit = FirstFit(sim, new_nodes)  # new nodes only fill up: each class resumes where it last fit
    filled: dict[str, int] = {}
    pending_template: Obj | None = first
    for pi in ordered:
        target = fit.find(pi)
        if target is None:
            if new_nodes and filled[new_nodes[-1]] == 0:
                continue  # the pod does not fit a fresh node: adding more would not help
            if len(new_nodes) >= max_nodes:
                break  # the limiter allows no more nodes
            node = pending_template if pending_template is not None else template(len(new_nodes))
            pending_template = None
            name = node["metadata"]["name"]
            sim.add_node(node)
            if prepare is not None:
                prepare(sim, node)
            new_nodes.append(name)
            filled[name] = 0
            if not sim.check(pi, name).is_success():
                continue
            target = name
        sim.place(pi, target)
        filled[target] += 1
        out.pods.append(pi)
    out.nodes = [n for n in new_nodes if filled[n] > 0]
    out.node_count = len(out.nodes)
    return out
