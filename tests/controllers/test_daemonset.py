from __future__ import annotations

from typing import Any

import pytest

from kubetwin.controllers import _util as u
from kubetwin.controllers.daemonset import DaemonSetController, node_should_run, target_node

from .conftest import Stack, template


def make_ds(name: str = "agent", max_unavailable: object = 1, **tspec: object) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"matchLabels": labels}, "template": template(labels, **tspec),
                     "updateStrategy": {"type": "RollingUpdate",
                                        "rollingUpdate": {"maxUnavailable": max_unavailable}}}}  # fmt: skip


def node(name: str, labels: dict | None = None, taints: list | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


@pytest.mark.parametrize(
    "tspec, n, expect",
    [
        pytest.param({}, node("a"), (True, True), id="plain"),
        pytest.param({"nodeSelector": {"pool": "x"}}, node("a"), (False, False), id="selector-miss"),
        pytest.param({"nodeSelector": {"pool": "x"}}, node("a", {"pool": "x"}), (True, True), id="selector-hit"),
        pytest.param({}, node("a", taints=[{"key": "gpu", "effect": "NoSchedule"}]), (False, True), id="noschedule-taint"),
        pytest.param({}, node("a", taints=[{"key": "gpu", "effect": "NoExecute"}]), (False, False), id="noexecute-taint"),
        pytest.param({}, node("a", taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]),
                     (True, True), id="auto-toleration-unreachable"),
        pytest.param({}, node("a", taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]),
                     (True, True), id="auto-toleration-unschedulable"),
        pytest.param({}, node("a", taints=[{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]),
                     (False, True), id="network-unavailable-needs-hostnetwork"),
        pytest.param({"hostNetwork": True},
                     node("a", taints=[{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]),
                     (True, True), id="network-unavailable-hostnetwork"),
    ],
)  # fmt: skip
def test_node_should_run(tspec: dict, n: dict, expect: tuple[bool, bool]) -> None:
    assert node_should_run(make_ds(**tspec), n) == expect


def run_daemon_pods(stack: Stack, ready: bool = True) -> None:
    for p in stack.pods():
        if p["status"].get("phase") == "Pending" and not p["metadata"].get("deletionTimestamp"):
            stack.run_pod(p, target_node(p) or "", ready=ready)
    stack.settle()


def ds_status(stack: Stack) -> dict:
    return stack.get("daemonsets.apps", "agent")["status"]


def test_one_pod_per_eligible_node_and_status(stack: Stack) -> None:
    stack.start(DaemonSetController)
    for n in ("n1", "n2"):
        stack.node(n)
    stack.node("n3", taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])
    stack.create(make_ds())
    stack.settle()
    pods = stack.pods()
    assert sorted(target_node(p) for p in pods) == ["n1", "n2"]
    for p in pods:
        assert not p["spec"].get("nodeName")
        terms = p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert terms["nodeSelectorTerms"][0]["matchFields"][0]["key"] == "metadata.name"
        keys = {(t["key"], t["effect"]) for t in p["spec"]["tolerations"]}
        assert ("node.kubernetes.io/unreachable", "NoExecute") in keys
        assert ("node.kubernetes.io/memory-pressure", "NoSchedule") in keys
        assert u.CONTROLLER_REVISION_HASH in p["metadata"]["labels"]
    st = ds_status(stack)
    assert (st["desiredNumberScheduled"], st["currentNumberScheduled"], st["numberReady"],
            st["numberMisscheduled"], st["updatedNumberScheduled"]) == (2, 2, 0, 0, 2)  # fmt: skip
    run_daemon_pods(stack)
    st = ds_status(stack)
    assert (st["numberReady"], st["numberAvailable"], st["numberUnavailable"]) == (2, 2, 0)
    # a new node gets a pod; a node that becomes tainted NoExecute loses its pod
    stack.node("n4")
    stack.settle()
    assert sorted(target_node(p) for p in stack.pods() if not p["metadata"].get("deletionTimestamp")) == ["n1", "n2", "n4"]
    n1 = stack.client.get("nodes", "n1")
    n1["spec"]["taints"] = [{"key": "evict", "effect": "NoExecute"}]
    stack.client.update(n1)
    stack.settle()
    live = [p for p in stack.pods() if not p["metadata"].get("deletionTimestamp")]
    assert sorted(target_node(p) for p in live) == ["n2", "n4"]


def test_rolling_update_respects_max_unavailable(stack: Stack) -> None:
    stack.start(DaemonSetController)
    for i in range(4):
        stack.node(f"n{i}")
    stack.create(make_ds(max_unavailable=1))
    stack.settle()
    run_daemon_pods(stack)
    stack.patch_spec("daemonsets.apps", "agent",
                     {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "v2"}]}}}})  # fmt: skip
    stack.settle()
    deleting = [p for p in stack.pods() if p["metadata"].get("deletionTimestamp")]
    assert len(deleting) == 1
    rounds = 0
    while ds_status(stack)["updatedNumberScheduled"] < 4 or ds_status(stack)["numberAvailable"] < 4:
        stack.finish_deletions()
        run_daemon_pods(stack)
        rounds += 1
        assert rounds < 10
        assert len([p for p in stack.pods() if p["metadata"].get("deletionTimestamp")]) <= 1
    assert rounds == 4
    assert ds_status(stack)["observedGeneration"] == 2


def test_failed_daemon_pod_is_replaced(stack: Stack) -> None:
    stack.start(DaemonSetController)
    stack.node("n1")
    stack.create(make_ds())
    stack.settle()
    (p,) = stack.pods()
    p = stack.run_pod(p, "n1")
    stack.set_pod_status(p, "Failed")
    stack.settle()
    pods = stack.pods()
    assert len(pods) == 1 and pods[0]["metadata"]["uid"] != p["metadata"]["uid"]
    assert stack.events("FailedDaemonPod")


def _node_with(conds: list[tuple[str, str, str]], **extra: Any) -> dict[str, Any]:
    node: dict[str, Any] = {
        "metadata": {"name": "n1", "resourceVersion": "1", "labels": {"zone": "a"}},
        "spec": {"podCIDR": "10.244.0.0/24"},
        "status": {"capacity": {"cpu": "4"},
                   "conditions": [{"type": t, "status": s, "lastHeartbeatTime": hb} for t, s, hb in conds]},
    }  # fmt: skip
    for path, value in extra.items():
        section, field = path.split("__")
        node[section][field] = value
    return node


BASE = [("MemoryPressure", "False", "t0"), ("Ready", "True", "t0")]


@pytest.mark.parametrize(
    ("new", "ignorable", "heartbeat_only"),
    [
        pytest.param(_node_with([("MemoryPressure", "False", "t1"), ("Ready", "True", "t1")],
                                metadata__resourceVersion="2"), True, True, id="heartbeat"),  # fmt: skip
        pytest.param(_node_with([("MemoryPressure", "False", "t1"), ("Ready", "False", "t1")]), False, False,
                     id="ready-flips"),
        pytest.param(_node_with([("MemoryPressure", "Unknown", "t1"), ("Ready", "True", "t1")]), True, False,
                     id="a-not-true-condition-changes-status"),
        pytest.param(_node_with([("Ready", "True", "t1")]), False, False, id="a-condition-goes"),
        pytest.param(_node_with(BASE, metadata__labels={"zone": "b"}), False, False, id="labels"),
        pytest.param(_node_with(BASE, metadata__annotations={"a": "b"}), False, False, id="annotation-added"),
        pytest.param(_node_with(BASE, status__nodeInfo={"kubeletVersion": "v1.32.1"}), False, False,
                     id="status-field-added"),
        pytest.param(_node_with(BASE, spec__unschedulable=True), False, False, id="spec"),
        pytest.param(_node_with(BASE, status__capacity={"cpu": "8"}), False, False, id="capacity"),
    ],
)
def test_node_update_filters(new: dict[str, Any], ignorable: bool, heartbeat_only: bool) -> None:
    """daemon_controller.go shouldIgnoreNodeUpdate (the True set only) and the node lifecycle
    controller's stricter heartbeat test (every condition's status)."""
    old = _node_with(BASE)
    assert u.node_update_ignorable(old, new) is ignorable
    assert u.node_heartbeat_only(old, new) is heartbeat_only


def test_node_update_filters_answer_each_pair_afresh() -> None:
    """The last pair's answer is kept for the next handler of the same update, by identity: a
    different new object (or old one) is compared again."""
    old = _node_with(BASE)
    heartbeat = _node_with([("MemoryPressure", "False", "t1"), ("Ready", "True", "t1")])
    relabelled = _node_with(BASE, metadata__labels={"zone": "b"})
    assert u.node_update_ignorable(old, heartbeat) and u.node_heartbeat_only(old, heartbeat)
    assert not u.node_update_ignorable(old, relabelled) and not u.node_heartbeat_only(old, relabelled)
    assert not u.node_update_ignorable(relabelled, heartbeat)
    assert u.node_heartbeat_only(old, heartbeat)
