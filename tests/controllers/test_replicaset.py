from __future__ import annotations

import pytest

from kubetwin.controllers.replicaset import ReplicaSetController, rank_pods_for_deletion
from kubetwin.sim import EventLoop

from .conftest import Stack, make_rs


def rs_status(stack: Stack, name: str) -> dict:
    rs = stack.get("replicasets.apps", name)
    assert rs is not None
    return rs.get("status") or {}


@pytest.mark.parametrize(
    "replicas",
    [pytest.param(0, id="zero"), pytest.param(1, id="one"), pytest.param(7, id="seven")],
)
def test_creates_pods_from_template(stack: Stack, replicas: int) -> None:
    stack.start(ReplicaSetController)
    rs = stack.create(make_rs("web", replicas))
    stack.settle()
    pods = stack.pods()
    assert len(pods) == replicas
    for p in pods:
        assert p["metadata"]["name"].startswith("web-")
        assert len(p["metadata"]["name"]) == len("web-") + 5
        assert p["metadata"]["labels"] == {"app": "web"}
        ref = p["metadata"]["ownerReferences"][0]
        assert ref["uid"] == rs["metadata"]["uid"] and ref["controller"] and ref["blockOwnerDeletion"]
    created = stack.events("SuccessfulCreate")
    assert sorted(e["message"] for e in created) == sorted(f"Created pod: {p['metadata']['name']}" for p in pods)
    st = rs_status(stack, "web")
    assert st["replicas"] == replicas and st["observedGeneration"] == 1
    assert st["readyReplicas"] == 0 and st["availableReplicas"] == 0 and st["fullyLabeledReplicas"] == replicas


def test_status_counts_ready_and_available_with_min_ready_seconds(stack: Stack) -> None:
    stack.start(ReplicaSetController)
    stack.create(make_rs("web", 3, min_ready=10))
    stack.settle()
    stack.run_all()
    st = rs_status(stack, "web")
    assert (st["readyReplicas"], st["availableReplicas"]) == (3, 0)
    stack.settle(10)
    assert rs_status(stack, "web")["availableReplicas"] == 0  # strictly after minReadySeconds
    stack.settle(1)
    assert rs_status(stack, "web")["availableReplicas"] == 3


def test_scale_down_deletes_by_rank(stack: Stack) -> None:
    stack.start(ReplicaSetController)
    stack.create(make_rs("web", 4))
    stack.settle()
    pods = sorted(stack.pods(), key=lambda p: p["metadata"]["name"])
    stack.run_pod(pods[0], "node-1", ready=True)
    stack.run_pod(pods[1], "node-2", ready=False)
    stack.bind(pods[2], "node-2")  # assigned, Pending
    # pods[3] stays unassigned
    stack.settle()
    stack.patch_spec("replicasets.apps", "web", {"spec": {"replicas": 1}})
    stack.settle()
    left = [p["metadata"]["name"] for p in stack.pods() if not p["metadata"].get("deletionTimestamp")]
    assert left == [pods[0]["metadata"]["name"]]
    deleted = [e["message"] for e in stack.events("SuccessfulDelete")]
    assert deleted == [f"Deleted pod: {pods[i]['metadata']['name']}" for i in (3, 2, 1)]


@pytest.mark.parametrize(
    "pods, expect_first",
    [
        pytest.param([("a", "", "Pending", False, 0, 0), ("b", "n1", "Pending", False, 0, 0)], "a", id="unassigned-first"),
        pytest.param([("a", "n1", "Running", True, 0, 0), ("b", "n1", "Pending", False, 0, 0)], "b", id="pending-first"),
        pytest.param([("a", "n1", "Running", True, 0, 0), ("b", "n1", "Running", False, 0, 0)], "b", id="not-ready-first"),
        pytest.param([("a", "n1", "Running", True, 0, 0), ("b", "n2", "Running", True, 0, 0)], "a", id="doubled-up-first"),
        pytest.param([("a", "n1", "Running", False, 1, 0), ("b", "n1", "Running", False, 5, 0)], "b", id="more-restarts-first"),
        pytest.param([("a", "n1", "Running", False, 0, 0), ("b", "n1", "Running", False, 0, 500)], "b", id="newer-first"),
    ],
)
def test_rank_pods_for_deletion(pods: list[tuple], expect_first: str) -> None:
    loop = EventLoop()
    loop.run(until=1000)
    objs = []
    for name, node, phase, ready, restarts, created in pods:
        objs.append({
            "metadata": {"name": name, "uid": name, "creationTimestamp": loop.timestamp(created)},
            "spec": {"nodeName": node},
            "status": {"phase": phase,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastTransitionTime": loop.timestamp(0)}],
                       "containerStatuses": [{"name": "c", "restartCount": restarts}]},
        })  # fmt: skip
    ranks = [2 if p["spec"]["nodeName"] == "n1" and len({q["spec"]["nodeName"] for q in objs}) > 1 else 1 for p in objs]
    assert rank_pods_for_deletion(loop, objs, ranks, loop.now)[0]["metadata"]["name"] == expect_first


def test_adopts_orphans_and_releases_non_matching(stack: Stack) -> None:
    stack.start(ReplicaSetController)
    orphan = stack.create({"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": "orphan", "namespace": "default", "labels": {"app": "web"}},
                           "spec": {"containers": [{"name": "c", "image": "x"}]}})  # fmt: skip
    rs = stack.create(make_rs("web", 2))
    stack.settle()
    pods = stack.pods()
    assert len(pods) == 2
    adopted = stack.get("pods", "orphan")
    assert adopted["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
    # relabel: released, and a replacement is created
    cur = stack.get("pods", "orphan")
    cur["metadata"]["labels"] = {"app": "other"}
    stack.client.update(cur)
    stack.settle()
    assert not stack.get("pods", "orphan")["metadata"].get("ownerReferences")
    assert len([p for p in stack.pods() if p["metadata"]["labels"] == {"app": "web"}]) == 2
    assert orphan["metadata"]["uid"] == adopted["metadata"]["uid"]


def test_replica_failure_condition_on_forbidden_create(stack: Stack) -> None:
    stack.start(ReplicaSetController)
    rs = make_rs("web", 5)
    rs["spec"]["template"]["spec"]["priorityClassName"] = "missing"
    stack.create(rs)
    stack.settle()
    st = rs_status(stack, "web")
    cond = st["conditions"][0]
    assert cond["type"] == "ReplicaFailure" and cond["status"] == "True" and cond["reason"] == "FailedCreate"
    assert "no PriorityClass with name missing was found" in cond["message"]
    failed = stack.events("FailedCreate")
    assert failed and failed[0]["type"] == "Warning" and failed[0]["message"].startswith("Error creating: ")
    # slow start: the first batch (one pod) failed, so no further batches were attempted
    assert failed[0]["count"] >= 1 and len(stack.pods()) == 0
    # fix the template: the condition goes away
    stack.patch_spec("replicasets.apps", "web", {"spec": {"template": {"spec": {"priorityClassName": None}}}})
    stack.settle(10)
    assert len(stack.pods()) == 5
    assert "conditions" not in rs_status(stack, "web")


def test_replaces_deleted_and_failed_pods(stack: Stack) -> None:
    stack.start(ReplicaSetController)
    stack.create(make_rs("web", 2))
    stack.settle()
    stack.run_all()
    p0, p1 = stack.pods()
    stack.set_pod_status(p0, "Failed")
    stack.client.delete("pods", p1["metadata"]["name"], "default", grace_period_seconds=0)
    stack.settle()
    active = [p for p in stack.pods() if p["status"]["phase"] != "Failed"]
    assert len(active) == 2
