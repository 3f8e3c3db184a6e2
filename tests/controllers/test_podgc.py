from __future__ import annotations

import pytest

from kubetwin.controllers import _util as u
from kubetwin.controllers.podgc import PodGCController

from .conftest import Stack


def pod(stack: Stack, name: str, node: str | None = None, phase: str | None = None, reason: str | None = None,
        finalizers: list | None = None) -> dict:  # fmt: skip
    meta: dict = {"name": name, "namespace": "default"}
    if finalizers:
        meta["finalizers"] = finalizers
    p = stack.create({"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                      "spec": {"containers": [{"name": "c", "image": "x"}]}})  # fmt: skip
    if node:
        p = stack.bind(p, node)
    if phase:
        p = stack.set_pod_status(p, phase, reason=reason)
    return p


def names(stack: Stack) -> list[str]:
    return sorted(p["metadata"]["name"] for p in stack.pods())


def test_terminated_pods_above_threshold_oldest_and_evicted_first(stack: Stack) -> None:
    stack.node("n1")
    (gc,) = stack.start(PodGCController)
    gc.terminated_pod_threshold = 2  # type: ignore[attr-defined]
    for i in range(4):
        pod(stack, f"done-{i}", "n1", "Succeeded")
        stack.settle(1)
    pod(stack, "evicted", "n1", "Failed", reason="Evicted")
    pod(stack, "running", "n1", "Running")
    stack.settle(20)
    assert names(stack) == ["done-2", "done-3", "running"]


def test_orphaned_pods_after_quarantine(stack: Stack) -> None:
    stack.node("n1")
    stack.node("n2")
    stack.start(PodGCController)
    pod(stack, "orphan", "n1", "Running")
    pod(stack, "fine", "n2", "Running")
    stack.client.delete("nodes", "n1")
    stack.loop.run(until=59)  # first seen missing at t=20, quarantine 40 s
    assert names(stack) == ["fine", "orphan"]
    stack.loop.run(until=60)
    assert names(stack) == ["fine"]


def test_unscheduled_terminating_pod_is_force_deleted(stack: Stack) -> None:
    stack.start(PodGCController)
    pod(stack, "stuck", finalizers=["example.com/hold"])
    stack.client.delete("pods", "stuck", "default")
    assert stack.get("pods", "stuck")["metadata"].get("deletionTimestamp")
    stack.settle(20)
    p = stack.get("pods", "stuck")
    assert p["status"]["phase"] == "Failed"  # held by its finalizer, but marked Failed
    assert u.is_pod_active(p) is False


def _kept(gc: PodGCController) -> tuple:
    return (set(gc._terminated), set(gc._terminating), dict(gc._pod_node), {n: set(k) for n, k in gc._bound.items()})


@pytest.mark.parametrize(
    "writes",
    [
        pytest.param([("bind", "n1")], id="bound"),
        pytest.param([("bind", "n1"), ("phase", "Running"), ("phase", "Running"), ("phase", "Succeeded")],
                     id="runs-and-succeeds"),  # fmt: skip
        pytest.param([("phase", "Failed")], id="fails-unbound"),
        pytest.param([("bind", "n1"), ("phase", "Running"), ("terminate",), ("phase", "Running")], id="terminating"),
    ],
)
def test_kept_pod_sets_follow_writes(stack: Stack, writes: list[tuple]) -> None:
    """What the handlers keep equals what a controller started afterwards builds from the cache."""
    (gc,) = stack.start(PodGCController)
    assert isinstance(gc, PodGCController)
    pod(stack, "p", finalizers=["example.com/hold"])
    for w in writes:
        cur = stack.get("pods", "p")
        if w[0] == "bind":
            stack.bind(cur, w[1])
        elif w[0] == "phase":
            stack.set_pod_status(cur, w[1])
        else:
            stack.client.delete("pods", "p", "default")
        (fresh,) = stack.start(PodGCController)
        assert isinstance(fresh, PodGCController)
        assert _kept(gc) == _kept(fresh)


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param([("node", "n1"), ("bind", "p", "n1"), ("delete-node", "n1"), ("node", "n1")], id="node-goes-and-comes"),
        pytest.param([("bind", "p", "n1"), ("node", "n1"), ("delete-node", "n1"), ("delete-pod", "p")],
                     id="bound-before-the-node-exists"),  # fmt: skip
        pytest.param([("node", "n1"), ("bind", "p", "n1"), ("bind", "q", "n2"), ("delete-pod", "q"), ("delete-node", "n1")],
                     id="last-pod-leaves"),  # fmt: skip
    ],
)
def test_nodes_missing_from_the_cache_are_kept(stack: Stack, steps: list[tuple]) -> None:
    """The bound nodes the node cache does not hold, kept from pod and node events, are always
    those a pass over both would find."""
    (gc,) = stack.start(PodGCController)
    assert isinstance(gc, PodGCController)
    for step in steps:
        if step[0] == "node":
            stack.node(step[1])
        elif step[0] == "delete-node":
            stack.client.delete("nodes", step[1])
        elif step[0] == "bind":
            pod(stack, step[1], step[2])
        else:
            stack.client.delete("pods", step[1], "default", grace_period_seconds=0)
        assert set(gc._unknown) == set(gc._bound) - set(gc.node_informer.keys())
