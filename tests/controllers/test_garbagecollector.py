from __future__ import annotations

import pytest

from kubetwin.controllers.deployment import DeploymentController
from kubetwin.controllers.garbagecollector import GarbageCollector
from kubetwin.controllers.replicaset import ReplicaSetController

from .conftest import Stack, make_deploy


def live_pods(stack: Stack) -> list[dict]:
    return [p for p in stack.pods() if not p["metadata"].get("deletionTimestamp")]


@pytest.mark.parametrize("policy", [pytest.param(None, id="default-background"),
                                    pytest.param("Background", id="background")])  # fmt: skip
def test_background_deletes_dependents_after_owner(stack: Stack, policy: str | None) -> None:
    stack.start(DeploymentController, ReplicaSetController, GarbageCollector)
    stack.create(make_deploy("web", 3))
    stack.settle()
    stack.client.delete("deployments.apps", "web", "default", propagation_policy=policy)
    stack.settle()
    assert stack.get("deployments.apps", "web") is None
    assert stack.client.list("replicasets.apps", "default") == []
    assert stack.pods() == []  # unbound pods go at once


def test_foreground_deletes_dependents_first(stack: Stack) -> None:
    stack.start(DeploymentController, ReplicaSetController, GarbageCollector)
    stack.create(make_deploy("web", 2))
    stack.settle()
    stack.run_all()  # bound pods: graceful deletion keeps them until the kubelet finishes
    stack.client.delete("deployments.apps", "web", "default", propagation_policy="Foreground")
    stack.settle()
    d = stack.get("deployments.apps", "web")
    assert d is not None and d["metadata"]["finalizers"] == ["foregroundDeletion"]
    (rs,) = stack.client.list("replicasets.apps", "default")
    assert rs["metadata"].get("deletionTimestamp") and "foregroundDeletion" in rs["metadata"]["finalizers"]
    assert len(stack.pods()) == 2 and live_pods(stack) == []
    stack.finish_deletions()
    assert stack.client.list("replicasets.apps", "default") == []
    assert stack.get("deployments.apps", "web") is None


def test_orphan_keeps_dependents_and_drops_owner_refs(stack: Stack) -> None:
    stack.start(DeploymentController, ReplicaSetController, GarbageCollector)
    stack.create(make_deploy("web", 2))
    stack.settle()
    stack.client.delete("deployments.apps", "web", "default", propagation_policy="Orphan")
    stack.settle()
    assert stack.get("deployments.apps", "web") is None
    (rs,) = stack.client.list("replicasets.apps", "default")
    assert not rs["metadata"].get("ownerReferences")
    assert len(live_pods(stack)) == 2
    assert all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet" for p in stack.pods())


def test_owner_identity_is_the_uid(stack: Stack) -> None:
    stack.start(GarbageCollector)
    cm = stack.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner", "namespace": "default"}})
    stale = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "not-the-uid"}
    good = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": cm["metadata"]["uid"]}
    stack.create({"apiVersion": "v1", "kind": "Secret",
                  "metadata": {"name": "orphaned", "namespace": "default", "ownerReferences": [stale]}})  # fmt: skip
    stack.create({"apiVersion": "v1", "kind": "Secret",
                  "metadata": {"name": "both", "namespace": "default", "ownerReferences": [stale, good]}})  # fmt: skip
    stack.settle()
    assert stack.get("secrets", "orphaned") is None
    both = stack.get("secrets", "both")
    assert [r["uid"] for r in both["metadata"]["ownerReferences"]] == [cm["metadata"]["uid"]]
