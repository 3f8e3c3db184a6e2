"""Scale-down end to end: unneeded 10 m, delay after add 10 m, drain through the Eviction API,
targeted removal of the drained node, blocking rules, status ConfigMap."""

from __future__ import annotations

from typing import Any

import yaml
from tests.autoscaler.conftest import autoscaler, deployment, nodegroup


def _names(nodes: list[dict[str, Any]]) -> set[str]:
    return {n["metadata"]["name"] for n in nodes}


def test_empty_nodes_removed_after_unneeded_time(make_env: Any) -> None:
    env = make_env(nodegroup("general", minSize=1, maxSize=5, desiredSize=4), deployment("web", 1, cpu="200m"),
                   autoscaler())  # fmt: skip
    env.run(590)
    assert len(env.nodes("general")) == 4  # unneeded since the first scan (10 s): not yet 10 m
    env.run(640)
    assert len(env.nodes("general")) == 1  # three empty nodes in one batch; the pod's node stays
    assert env.group("general")["spec"]["desiredSize"] == 1
    assert all(p["status"]["phase"] == "Running" for p in env.pods())
    msgs = {e["message"] for e in env.events("ScaleDownEmpty")}
    assert any(m.startswith("Scale-down: removing empty node ") for m in msgs)
    assert {e["message"] for e in env.events("ScaleDown")} == {"marked the node as toBeDeleted/unschedulable"}


def test_drain_moves_pods_and_removes_that_node(make_env: Any) -> None:
    # Two nodes at 30% each: one is drained onto the other (one non-empty node at a time).
    env = make_env(nodegroup("general", minSize=1, maxSize=5, desiredSize=2), deployment("web", 2, cpu="500m"),
                   autoscaler())  # fmt: skip
    env.run(30)
    assert len(env.nodes("general")) == 2
    placement = {p["spec"]["nodeName"] for p in env.pods()}
    assert len(placement) == 2  # spread by the scheduler's balanced scoring
    env.run(700)
    nodes = env.nodes("general")
    assert len(nodes) == 1
    pods = env.pods()
    assert len(pods) == 2 and all(p["spec"].get("nodeName") == nodes[0]["metadata"]["name"] for p in pods)
    assert {e["message"] for e in env.events("ScaleDown") if e["involvedObject"]["kind"] == "Pod"} == {
        "deleting pod for node scale down"
    }
    assert any(e["message"].endswith("removed with drain") for e in env.events("ScaleDown"))


def test_delay_after_add_holds_scale_down(make_env: Any) -> None:
    # unremovableNodeRecheckTimeout 0: the booting nodes found unremovable at 20 s are looked at again
    # on the next scan (see the next test for the default)
    env = make_env(nodegroup("general", minSize=1, maxSize=5), deployment("web", 3, cpu="1200m"),
                   autoscaler(unremovableNodeRecheckTimeout="0s"))  # fmt: skip
    env.run(200)
    assert len(env.nodes("general")) == 3
    env.client.patch("deployments.apps", "web", {"spec": {"replicas": 1}}, namespace="default")
    # scale-up at t=10: scale-down is held until 610 s; nodes unneeded from ~210 s are removed at 820 s.
    env.run(600)
    assert len(env.nodes("general")) == 3
    env.run(800)
    assert len(env.nodes("general")) == 3
    env.run(900)
    assert len(env.nodes("general")) == 1


def test_unremovable_nodes_are_rechecked_after_the_timeout(make_env: Any) -> None:
    """--unremovable-node-recheck-timeout (5m). Threshold 0.7, so a node holding one 1200m pod is
    underutilized, but no other node has room for its pod. The two nodes of the scale-up at 10 s
    boot for 60 s (no pod lands on them before they are Ready), take a pod each at 70 s and at the
    80 s scan their pods have nowhere to go (NoPlaceToMovePods); the scans until 380 s report them
    RecentlyUnremovable without simulating, so once their pods are gone they are unneeded only from
    380 s and removed 10 m later."""
    env = make_env(nodegroup("general", minSize=1, maxSize=5), deployment("web", 3, cpu="1200m"),
                   autoscaler(scaleDownUtilizationThreshold=0.7))  # fmt: skip
    ca = next(c for c in env.cluster.components if hasattr(c, "recently_unremovable"))
    env.run(70)
    assert len(env.nodes("general")) == 3
    booted = {n for n, r in ca.unremovable.items() if r == "NoPlaceToMovePods"}
    assert not booted  # not Ready yet: no pods, nothing simulated
    env.run(80)
    booted = {n for n, r in ca.unremovable.items() if r == "NoPlaceToMovePods"}
    assert len(booted) == 2
    assert {ca.recently_unremovable[n] for n in booted} == {380.0}
    env.client.patch("deployments.apps", "web", {"spec": {"replicas": 1}}, namespace="default")
    env.run(370)
    assert {ca.unremovable[n] for n in booted} == {"RecentlyUnremovable"}
    assert not booted & set(ca.unneeded_since)
    env.run(390)
    assert {ca.unneeded_since.get(n) for n in booted} == {380.0}
    env.run(970)
    assert len(env.nodes("general")) == 3
    env.run(990)
    assert _names(env.nodes("general")).isdisjoint(booted) and len(env.nodes("general")) == 1


def test_blocked_nodes_stay_and_min_size_respected(make_env: Any) -> None:
    bare = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "100m"}}}]}}  # fmt: skip
    env = make_env(nodegroup("general", minSize=2, maxSize=5, desiredSize=3), bare, autoscaler())
    env.run(1300)
    assert len(env.nodes("general")) == 2  # min size 2; the node of the unreplicated pod is kept
    assert env.client.get("pods", "bare", "default")["spec"]["nodeName"] in _names(env.nodes("general"))
    doc = yaml.safe_load(env.client.get("configmaps", "cluster-autoscaler-status", "kube-system")["data"]["status"])
    group = doc["nodeGroups"][0]
    assert group["name"] == "general"
    assert group["health"]["status"] == "Healthy"
    assert group["health"]["cloudProviderTarget"] == 2
    assert (group["health"]["minSize"], group["health"]["maxSize"]) == (2, 5)
    assert group["health"]["nodeCounts"]["registered"] == {
        "total": 2, "ready": 2, "notStarted": 0, "unready": {"total": 0, "resourceUnready": 0}
    }  # fmt: skip
    assert group["scaleUp"]["status"] == "NoActivity"
    assert doc["clusterWide"]["scaleDown"]["status"] in ("CandidatesPresent", "NoCandidates")
    assert doc["autoscalerStatus"] == "Running"


def test_scale_down_disabled_annotation(make_env: Any) -> None:
    env = make_env(nodegroup("general", minSize=1, maxSize=5, desiredSize=2), autoscaler())
    env.run(5)
    keep = sorted(_names(env.nodes("general")))
    for name in keep:
        env.client.patch("nodes", name, {"metadata": {"annotations": {
            "cluster-autoscaler.kubernetes.io/scale-down-disabled": "true"}}})  # fmt: skip
    env.run(1300)
    assert sorted(_names(env.nodes("general"))) == keep


def test_status_configmap_written_only_on_change(make_env: Any) -> None:
    env = make_env(nodegroup("general", minSize=1, maxSize=1), autoscaler())
    env.run(15)
    rv = env.client.get("configmaps", "cluster-autoscaler-status", "kube-system")["metadata"]["resourceVersion"]
    env.run(300)
    assert env.client.get("configmaps", "cluster-autoscaler-status", "kube-system")["metadata"]["resourceVersion"] == rv


def test_no_clusterautoscaler_object_means_off(make_env: Any) -> None:
    env = make_env(nodegroup("general", minSize=1, maxSize=5), deployment("web", 3, cpu="1200m"))
    env.run(300)
    assert len(env.nodes("general")) == 1
    assert env.client.get_or_none("configmaps", "cluster-autoscaler-status", "kube-system") is None
