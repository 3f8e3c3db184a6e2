from __future__ import annotations

import pytest

from kubetwin.controllers import _util as u
from kubetwin.controllers.nodelifecycle import (
    NodeLifecycleController,
    TaintEvictionController,
    min_toleration_time,
    zone_state,
)

from .conftest import Stack

ZONE = {"topology.kubernetes.io/region": "r", "topology.kubernetes.io/zone": "a"}


class Kubelets:
    """Renews the Lease of every node in ``alive`` every 10 s (the kubelet's lease duration / 4)."""

    def __init__(self, stack: Stack, names: list[str]) -> None:
        self.stack = stack
        self.alive = set(names)
        for n in names:
            stack.create({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                          "metadata": {"name": n, "namespace": "kube-node-lease"},
                          "spec": {"holderIdentity": n, "leaseDurationSeconds": 40,
                                   "renewTime": stack.loop.micro_timestamp()}})  # fmt: skip
        stack.loop.every(10, self.renew)

    def renew(self) -> None:
        for n in sorted(self.alive):
            self.stack.client.patch("leases.coordination.k8s.io", n,
                                    {"spec": {"renewTime": self.stack.loop.micro_timestamp()}}, "kube-node-lease")  # fmt: skip


def taints(stack: Stack, node: str) -> set[tuple[str, str]]:
    n = stack.client.get("nodes", node)
    return {(t["key"], t["effect"]) for t in n["spec"].get("taints") or []}


def pod_on(stack: Stack, name: str, node: str, tolerations: list | None = None) -> dict:
    p = stack.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                      "spec": {"containers": [{"name": "c", "image": "x"}], "tolerations": tolerations or []}})  # fmt: skip
    return stack.run_pod(p, node)


@pytest.mark.parametrize(
    "ready, not_ready, state",
    [pytest.param(3, 0, "Normal", id="healthy"), pytest.param(0, 2, "FullDisruption", id="all-down"),
     pytest.param(2, 3, "PartialDisruption", id="partial"), pytest.param(8, 2, "Normal", id="two-down-is-normal")],
)  # fmt: skip
def test_zone_state(ready: int, not_ready: int, state: str) -> None:
    assert zone_state(ready, not_ready) == state


@pytest.mark.parametrize(
    "tols, expect",
    [pytest.param([], 0.0, id="none"), pytest.param([{"key": "a"}], -1.0, id="forever"),
     pytest.param([{"tolerationSeconds": 300}, {"tolerationSeconds": 60}], 60.0, id="min"),
     pytest.param([{"tolerationSeconds": -5}], 0.0, id="negative")],
)  # fmt: skip
def test_min_toleration_time(tols: list, expect: float) -> None:
    assert min_toleration_time(tols) == expect


def test_lease_expiry_marks_unknown_taints_and_evicts_after_300s(stack: Stack) -> None:
    for n in ("n1", "n2", "n3"):
        stack.node(n, labels=ZONE)
    kubelets = Kubelets(stack, ["n1", "n2", "n3"])
    stack.start(NodeLifecycleController, TaintEvictionController)
    default = pod_on(stack, "default-tol", "n1")  # admission adds 300 s for not-ready/unreachable
    short = pod_on(stack, "short", "n1", [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                           "effect": "NoExecute", "tolerationSeconds": 60}])  # fmt: skip
    forever = pod_on(stack, "forever", "n1", [{"operator": "Exists"}])
    stack.settle(100)
    assert taints(stack, "n1") == set()
    kubelets.alive.discard("n1")  # last renewal at t=100
    stack.settle(50)
    assert u.get_condition(stack.client.get("nodes", "n1")["status"], "Ready")["status"] == "True"
    stack.settle(5)  # the monitor tick at t=155 sees 55 s > 50 s (v1.32's node-monitor-grace-period)
    ready = u.get_condition(stack.client.get("nodes", "n1")["status"], "Ready")
    assert ready["status"] == "Unknown" and ready["message"] == "Kubelet stopped posting node status."
    assert ready["reason"] == "NodeStatusUnknown"
    assert taints(stack, "n1") == {("node.kubernetes.io/unreachable", "NoExecute"),
                                   ("node.kubernetes.io/unreachable", "NoSchedule")}  # fmt: skip
    t0 = stack.loop.now
    assert stack.events("NodeNotReady")
    assert u.get_condition(stack.client.get("pods", "forever", "default")["status"], "Ready")["status"] == "False"
    stack.settle(59)
    assert not stack.client.get("pods", "short", "default")["metadata"].get("deletionTimestamp")
    stack.settle(1)
    gone = stack.client.get("pods", "short", "default")
    assert gone["metadata"].get("deletionTimestamp")
    assert u.get_condition(gone["status"], "DisruptionTarget")["reason"] == "DeletionByTaintManager"
    stack.loop.run(until=t0 + 299)
    assert not stack.client.get("pods", "default-tol", "default")["metadata"].get("deletionTimestamp")
    stack.loop.run(until=t0 + 300)
    assert stack.client.get("pods", "default-tol", "default")["metadata"].get("deletionTimestamp")
    assert not stack.client.get("pods", "forever", "default")["metadata"].get("deletionTimestamp")
    msgs = {e["message"] for e in stack.events("TaintManagerEviction")}
    assert {"Marking for deletion Pod default/short", "Marking for deletion Pod default/default-tol"} <= msgs
    # kubelet comes back: taints go away
    kubelets.alive.add("n1")
    n1 = stack.client.get("nodes", "n1")
    c = u.get_condition(n1["status"], "Ready")
    c.update(status="True", lastHeartbeatTime=stack.loop.timestamp(), reason="KubeletReady")
    stack.client.update_status(n1)
    stack.settle(5)
    assert taints(stack, "n1") == set()
    assert default["metadata"]["name"] and short and forever


def _ready(stack: Stack, node: str) -> str:
    return u.get_condition(stack.client.get("nodes", node)["status"], "Ready")["status"]


@pytest.mark.parametrize(
    ("first", "ready_until", "unknown_at"),
    [
        # a renewal at t=102 is seen by the pass at 105: Ready until 155, Unknown at the pass at 160
        # (counting from the renewTime itself would have called it at 155)
        pytest.param(2.0, 155.0, 160.0, id="between-passes"),
        # a renewal at the instant of a pass, written after it (the kubelets' priority): seen at 105
        pytest.param(0.0, 155.0, 160.0, id="at-a-pass-after-it"),
    ],
)
def test_probe_time_is_the_pass_that_sees_the_renewal(
    stack: Stack, first: float, ready_until: float, unknown_at: float
) -> None:
    """tryUpdateNodeHealth sets probeTimestamp to the now() of the monitor pass that observes a
    newer Lease renewTime, not to the renewTime."""
    stack.node("n1", labels=ZONE)
    stack.create({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                  "metadata": {"name": "n1", "namespace": "kube-node-lease"},
                  "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40,
                           "renewTime": stack.loop.micro_timestamp()}})  # fmt: skip
    alive = [True]

    def renew() -> None:
        if alive[0]:
            stack.client.patch("leases.coordination.k8s.io", "n1",
                               {"spec": {"renewTime": stack.loop.micro_timestamp()}}, "kube-node-lease")  # fmt: skip

    stack.loop.every(10, renew, priority=99, first=first)  # after the controller at the same instant
    stack.start(NodeLifecycleController)
    stack.loop.run(until=100 + first)
    alive[0] = False  # the last renewal was at 100 + first
    stack.loop.run(until=ready_until)
    assert _ready(stack, "n1") == "True"
    stack.loop.run(until=unknown_at)
    assert _ready(stack, "n1") == "Unknown"


def test_untolerated_noexecute_taint_evicts_at_once(stack: Stack) -> None:
    stack.node("n1")
    stack.start(TaintEvictionController)
    pod_on(stack, "p", "n1")
    n1 = stack.client.get("nodes", "n1")
    n1["spec"]["taints"] = [{"key": "maintenance", "effect": "NoExecute"}]
    stack.client.update(n1)
    stack.settle()
    assert stack.client.get("pods", "p", "default")["metadata"].get("deletionTimestamp")


@pytest.mark.parametrize(
    "ready, spec, expect",
    [
        pytest.param("False", {}, {("node.kubernetes.io/not-ready", "NoSchedule"),
                                   ("node.kubernetes.io/not-ready", "NoExecute")}, id="not-ready"),
        pytest.param("True", {"unschedulable": True}, {("node.kubernetes.io/unschedulable", "NoSchedule")},
                     id="cordoned"),
        pytest.param("True", {}, set(), id="healthy"),
    ],
)  # fmt: skip
def test_condition_taints(stack: Stack, ready: str, spec: dict, expect: set) -> None:
    stack.node("n1", ready=ready, unschedulable=bool(spec.get("unschedulable")))
    stack.node("n2")
    Kubelets(stack, ["n1", "n2"])
    stack.start(NodeLifecycleController)
    stack.settle(5)
    assert taints(stack, "n1") == expect


def test_rate_limited_tainting_and_full_disruption(stack: Stack) -> None:
    names = [f"n{i}" for i in range(10)]
    for n in names:
        stack.node(n, labels=ZONE)
    kubelets = Kubelets(stack, names)
    stack.start(NodeLifecycleController)
    stack.settle(20)
    kubelets.alive -= {"n0", "n1"}
    stack.loop.run(until=75)  # last renewal 20 s; tick at 75 sees 55 s > 50 s
    tainted = [n for n in names if ("node.kubernetes.io/unreachable", "NoExecute") in taints(stack, n)]
    assert tainted == ["n0"]  # burst 1
    stack.loop.run(until=85)
    tainted = [n for n in names if ("node.kubernetes.io/unreachable", "NoExecute") in taints(stack, n)]
    assert tainted == ["n0", "n1"]  # one token per 10 s at 0.1 qps
    # every node down: master disruption mode removes NoExecute taints
    kubelets.alive.clear()
    stack.loop.run(until=200)
    assert all(("node.kubernetes.io/unreachable", "NoExecute") not in taints(stack, n) for n in names)
    assert all(("node.kubernetes.io/unreachable", "NoSchedule") in taints(stack, n) for n in names)


def test_ready_false_then_silent_swaps_not_ready_for_unreachable_taint(stack: Stack) -> None:
    """Ready False -> Unknown keeps the set of True conditions (a DaemonSet controller may ignore
    it) but changes which NoSchedule taint the node carries: the lifecycle controller must look."""
    stack.node("n1", labels=ZONE, ready="False")
    kubelets = Kubelets(stack, ["n1"])
    stack.start(NodeLifecycleController)
    stack.settle(30)
    assert ("node.kubernetes.io/not-ready", "NoSchedule") in taints(stack, "n1")
    node = stack.client.get("nodes", "n1")  # a heartbeat: only the times move
    for c in node["status"]["conditions"]:
        c["lastHeartbeatTime"] = stack.loop.timestamp()
    stack.client.update(node, subresource="status")
    kubelets.alive.clear()
    stack.settle(120)
    assert u.get_condition(stack.client.get("nodes", "n1")["status"], "Ready")["status"] == "Unknown"
    have = taints(stack, "n1")
    assert ("node.kubernetes.io/unreachable", "NoSchedule") in have
    assert ("node.kubernetes.io/not-ready", "NoSchedule") not in have


@pytest.mark.parametrize(
    ("change", "looked_at"),
    [pytest.param(lambda spec, status: (spec, {**status, "phase": "Running"}), False, id="status-write"),
     pytest.param(lambda spec, status: ({**spec, "nodeName": "n2"}, status), True, id="node"),
     pytest.param(lambda spec, status: ({**spec, "tolerations": [*spec["tolerations"], {"operator": "Exists"}]},
                                        status), True, id="toleration-added"),
     pytest.param(lambda spec, status: ({**spec, "tolerations": [dict(t) for t in spec["tolerations"]]}, status),
                  False, id="equal-tolerations-copied")],
)  # fmt: skip
def test_taint_eviction_looks_again_at_a_pod_whose_node_or_tolerations_changed(
    stack: Stack, change: object, looked_at: bool
) -> None:
    """A status write shares the stored spec (nothing to look at); a new node or changed
    tolerations re-run the pod's taint check (taint_eviction.go handlePodUpdate)."""
    ctl = TaintEvictionController(stack.client, stack.informers)
    seen: list[str] = []
    ctl.enqueue = lambda obj: seen.append(obj["metadata"]["name"])  # type: ignore[method-assign]
    spec = {"nodeName": "n1", "containers": [{"name": "c"}], "tolerations": [{"key": "k", "operator": "Exists"}]}
    old = {"metadata": {"name": "p", "namespace": "default"}, "spec": spec, "status": {"phase": "Pending"}}
    new_spec, new_status = change(spec, old["status"])  # type: ignore[operator]
    ctl._pod_updated(old, {**old, "spec": new_spec, "status": new_status})
    assert seen == (["p"] if looked_at else [])
