"""Queueing hints (v1.32 SchedulerQueueingHints): which events bring an unschedulable pod back."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from builders import make_node, make_pod
from kubetwin.scheduler import hints as h
from kubetwin.scheduler.framework import PodInfo
from kubetwin.scheduler.scheduler import Scheduler

from .conftest import SchedStack

NOT_READY = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}


def small(name: str, **kw: Any) -> dict:
    return make_node(name).capacity(cpu=kw.pop("cpu", "2"), memory="4Gi").obj()


def _edit(node: dict, path: str, value: Any) -> dict:
    new = copy.deepcopy(node)
    cur = new
    *parents, last = path.split(".")
    for p in parents:
        cur = cur.setdefault(p, {})
    cur[last] = value
    return new


BASE = make_node("n").capacity(cpu="2", memory="4Gi").labels({"zone": "a"}).obj()
BASE["status"]["conditions"] = [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2026-01-01T00:00:00Z"}]


@pytest.mark.parametrize(
    "old, new, actions",
    [
        pytest.param(_edit(BASE, "spec.unschedulable", True), BASE, [h.UPDATE_NODE_TAINT], id="uncordoned"),
        pytest.param(BASE, _edit(BASE, "spec.unschedulable", True), [], id="cordoned-is-no-event"),
        pytest.param(BASE, _edit(BASE, "status.allocatable", {"cpu": "4", "memory": "4Gi", "pods": "110"}),
                     [h.UPDATE_NODE_ALLOCATABLE], id="allocatable"),
        pytest.param(BASE, _edit(BASE, "metadata.labels", {"zone": "b"}), [h.UPDATE_NODE_LABEL], id="labels"),
        pytest.param(BASE, _edit(BASE, "spec.taints", [NOT_READY]), [h.UPDATE_NODE_TAINT], id="taints"),
        pytest.param(BASE, _edit(BASE, "status.conditions", [{"type": "Ready", "status": "True",
                                                                "lastHeartbeatTime": "2026-01-01T00:01:00Z"}]),
                     [], id="heartbeat-only"),
        pytest.param(BASE, _edit(BASE, "status.conditions", [{"type": "Ready", "status": "False"}]),
                     [h.UPDATE_NODE_CONDITION], id="condition"),
        pytest.param(BASE, _edit(BASE, "metadata.annotations", {"a": "b"}), [h.UPDATE_NODE_ANNOTATION], id="annotations"),
        pytest.param(_edit(BASE, "spec.taints", [NOT_READY]), _edit(BASE, "metadata.labels", {"zone": "b"}),
                     [h.UPDATE_NODE_LABEL, h.UPDATE_NODE_TAINT], id="two-at-once-in-upstream-order"),
    ],
)  # fmt: skip
def test_node_update_actions(old: dict, new: dict, actions: list[int]) -> None:
    assert h.node_update_actions(old, new) == actions


def _pending(*rejectors: str, cpu: str = "1", tolerations: list | None = None) -> PodInfo:
    b = make_pod("p").container("c", requests={"cpu": cpu})
    if tolerations:
        b = b.tolerations(tolerations)
    pi = PodInfo(b.obj())
    pi.unschedulable_plugins = set(rejectors)
    return pi


BIG = make_node("big").capacity(cpu="8", memory="16Gi").obj()
TINY = make_node("tiny").capacity(cpu="500m", memory="16Gi").obj()
BIG_NOT_READY = _edit(BIG, "spec.taints", [NOT_READY])
ON_NODE = make_pod("other").container("c", requests={"cpu": "1"}).node("n1").obj()
UNBOUND = make_pod("other").container("c", requests={"cpu": "1"}).obj()


@pytest.mark.parametrize(
    "rejectors, resource, action, old, new, queue",
    [
        # NodeResourcesFit: a node the pod fits (pods aside), or more of what it requests
        pytest.param(("NodeResourcesFit",), h.NODE, h.ADD, None, BIG, True, id="fit-node-added"),
        pytest.param(("NodeResourcesFit",), h.NODE, h.ADD, None, TINY, False, id="fit-node-too-small"),
        pytest.param(("NodeResourcesFit",), h.NODE, h.ADD, None, BIG_NOT_READY, True, id="fit-ignores-taints"),
        pytest.param(("NodeResourcesFit",), h.NODE, h.UPDATE_NODE_ALLOCATABLE, TINY,
                     _edit(TINY, "status.allocatable", {"cpu": "4", "memory": "16Gi", "pods": "110"}), True,
                     id="fit-allocatable-grew"),
        pytest.param(("NodeResourcesFit",), h.NODE, h.UPDATE_NODE_ALLOCATABLE, BIG,
                     _edit(BIG, "status.allocatable", {"cpu": "8", "memory": "8Gi", "pods": "110"}), False,
                     id="fit-only-memory-shrank"),
        pytest.param(("NodeResourcesFit",), h.NODE, h.UPDATE_NODE_TAINT, BIG_NOT_READY, BIG, False,
                     id="fit-not-registered-for-taints"),
        pytest.param(("NodeResourcesFit",), h.POD, h.DELETE, ON_NODE, None, True, id="fit-assigned-pod-deleted"),
        pytest.param(("NodeResourcesFit",), h.POD, h.DELETE, UNBOUND, None, False, id="fit-pending-pod-deleted"),
        pytest.param(("NodeResourcesFit",), h.POD, h.ADD, None, ON_NODE, False, id="fit-pod-added"),
        # TaintToleration: from an untolerated taint (or no node) to none
        pytest.param(("TaintToleration",), h.NODE, h.ADD, None, BIG_NOT_READY, False, id="taint-node-added-tainted"),
        pytest.param(("TaintToleration",), h.NODE, h.ADD, None, BIG, True, id="taint-node-added-clean"),
        pytest.param(("TaintToleration",), h.NODE, h.UPDATE_NODE_TAINT, BIG_NOT_READY, BIG, True, id="taint-removed"),
        pytest.param(("TaintToleration",), h.NODE, h.UPDATE_NODE_TAINT, BIG, BIG_NOT_READY, False, id="taint-added"),
        # both: either one's Queue is enough
        pytest.param(("NodeResourcesFit", "TaintToleration"), h.NODE, h.UPDATE_NODE_TAINT, BIG_NOT_READY, BIG, True,
                     id="either-rejector"),
        # NodeUnschedulable
        pytest.param(("NodeUnschedulable",), h.NODE, h.UPDATE_NODE_TAINT, _edit(BIG, "spec.unschedulable", True), BIG,
                     True, id="uncordoned"),
        pytest.param(("NodeUnschedulable",), h.NODE, h.ADD, None, _edit(BIG, "spec.unschedulable", True), False,
                     id="cordoned-node-added"),
        # nobody rejected it (an error): any event queues; so does the 5-minute flush
        pytest.param((), h.NODE, h.UPDATE_NODE_LABEL, BIG, BIG, True, id="no-rejector"),
        pytest.param(("NodeResourcesFit",), h.WILDCARD, h.ALL, None, None, True, id="wildcard"),
    ],
)  # fmt: skip
def test_worth_requeuing(rejectors: tuple[str, ...], resource: str, action: int, old: dict | None,
                         new: dict | None, queue: bool) -> None:  # fmt: skip
    stack = SchedStack()
    pi = _pending(*rejectors)
    assert stack.scheduler._hints.worth_requeuing(pi, resource, action, old, new, {}) is queue


def test_no_plugin_registers_condition_changes() -> None:
    hints = SchedStack().scheduler._hints
    assert not hints.interested(h.NODE, h.UPDATE_NODE_CONDITION)
    assert hints.interested(h.NODE, h.ADD) and hints.interested(h.POD, h.DELETE)


def _attempts(sched: Scheduler) -> int:
    return sched.failed_attempts


def test_pending_pod_waits_for_an_event_that_can_help(stack: SchedStack) -> None:
    """A pod that no node has room for is not retried for a node too small for it or a relabelled
    node; a node it fits brings it back (upstream v1.32 with queueing hints)."""
    stack.create(small("n1"), make_pod("p").container("c", requests={"cpu": "3"}).obj())
    stack.settle(1)
    assert stack.node_of("p") is None and _attempts(stack.scheduler) == 1
    stack.create(small("n2", cpu="1"))  # too small even when empty
    stack.settle(30)
    node = stack.client.get("nodes", "n1")
    node["metadata"].setdefault("labels", {})["extra"] = "x"
    stack.client.update(node)
    stack.settle(30)
    assert _attempts(stack.scheduler) == 1
    stack.create(make_node("big").capacity(cpu="8").obj())
    stack.settle(15)
    assert stack.node_of("p") == "big"


def test_pod_on_a_tainted_new_node_comes_back_when_the_taint_goes(stack: SchedStack) -> None:
    stack.create(small("n1"), make_pod("p").container("c", requests={"cpu": "3"}).obj())
    stack.settle(1)
    stack.create(make_node("new").capacity(cpu="8").taints([NOT_READY]).obj())
    stack.settle(20)  # the node add queues it (it fits the node's allocatable); the taint rejects it
    assert stack.node_of("p") is None and _attempts(stack.scheduler) == 2
    stack.settle(60)
    assert _attempts(stack.scheduler) == 2  # nothing that can help happened
    node = stack.client.get("nodes", "new")
    node["spec"]["taints"] = []
    stack.client.update(node)
    stack.settle(15)
    assert stack.node_of("p") == "new"


def test_failure_without_a_rejecting_plugin_retries_with_backoff(stack: SchedStack) -> None:
    """No nodes at all: an error, not a plugin's rejection, so the pod goes to backoff each time
    (1, 2, 4, 8, 10 s...) instead of waiting for an event."""
    stack.create(make_pod("p").container("c").obj())
    stack.settle(40)
    assert _attempts(stack.scheduler) >= 6


SPREAD = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
           "labelSelector": {"matchLabels": {"app": "web"}}}]  # fmt: skip
WITH_DB = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
    {"topologyKey": "zone", "labelSelector": {"matchLabels": {"app": "db"}}}]}}  # fmt: skip
AWAY_FROM_WEB = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
    {"topologyKey": "zone", "labelSelector": {"matchLabels": {"app": "web"}}}]}}  # fmt: skip


def _other(app: str, node: str | None = "n1", ns: str = "default") -> dict:
    b = make_pod(f"o-{app}", ns).labels({"app": app}).container("c")
    return (b.node(node) if node else b).obj()


@pytest.mark.parametrize(
    "plugin, field, value, old, new, queue",
    [
        pytest.param("PodTopologySpread", "topologySpreadConstraints", SPREAD, None, _other("web"), True, id="pts-match-added"),
        pytest.param("PodTopologySpread", "topologySpreadConstraints", SPREAD, None, _other("db"), False, id="pts-other-added"),
        pytest.param("PodTopologySpread", "topologySpreadConstraints", SPREAD, None, _other("web", None), False,
                     id="pts-unassigned"),
        pytest.param("PodTopologySpread", "topologySpreadConstraints", SPREAD, None, _other("web", ns="team"), False,
                     id="pts-other-namespace"),
        pytest.param("PodTopologySpread", "topologySpreadConstraints", SPREAD, _other("web"), _other("db"), True,
                     id="pts-relabelled-out"),
        pytest.param("InterPodAffinity", "affinity", WITH_DB, None, _other("db"), True, id="ipa-affinity-added"),
        pytest.param("InterPodAffinity", "affinity", WITH_DB, _other("db"), None, False, id="ipa-affinity-deleted"),
        pytest.param("InterPodAffinity", "affinity", AWAY_FROM_WEB, _other("web"), None, True, id="ipa-anti-deleted"),
        pytest.param("InterPodAffinity", "affinity", AWAY_FROM_WEB, _other("web"), _other("db"), True,
                     id="ipa-anti-relabelled"),
        pytest.param("InterPodAffinity", "affinity", AWAY_FROM_WEB, None, _other("db"), False, id="ipa-anti-added"),
    ],
)  # fmt: skip
def test_pod_event_hints_of_affinity_plugins(plugin: str, field: str, value: Any, old: dict | None,
                                            new: dict | None, queue: bool) -> None:  # fmt: skip
    stack = SchedStack()
    pi = PodInfo(make_pod("p").labels({"app": "web"}).container("c").set(f"spec.{field}", value).obj())
    pi.unschedulable_plugins = {plugin}
    action = h.ADD if old is None else h.DELETE if new is None else h.UPDATE_POD_LABEL
    assert stack.scheduler._hints.worth_requeuing(pi, h.POD, action, old, new, {}) is queue


@pytest.mark.parametrize(
    "node_labels, queue",
    [({"zone": "a"}, True), ({"other": "x"}, False)],
    ids=["has-topology-key", "lacks-topology-key"],
)
def test_spread_node_hint_wants_the_topology_keys(node_labels: dict, queue: bool) -> None:
    stack = SchedStack()
    pi = PodInfo(make_pod("p").labels({"app": "web"}).container("c").set("spec.topologySpreadConstraints", SPREAD).obj())
    pi.unschedulable_plugins = {"PodTopologySpread"}
    node = make_node("n").capacity().labels(node_labels).obj()
    assert stack.scheduler._hints.worth_requeuing(pi, h.NODE, h.ADD, None, node, {}) is queue
