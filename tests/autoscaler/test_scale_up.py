"""Scale-up end to end through scenario.runtime.Cluster: pending pods -> desiredSize -> nodes boot
-> pods scheduled; TriggeredScaleUp / NotTriggerScaleUp events with upstream's messages."""

from __future__ import annotations

from typing import Any

from tests.autoscaler.conftest import autoscaler, deployment, nodegroup


def _running(pods: list[dict[str, Any]]) -> int:
    return sum(1 for p in pods if p["status"].get("phase") == "Running")


def test_pending_pods_trigger_scale_up_and_get_scheduled(make_env: Any) -> None:
    # m5.large: 2 vCPU -> one 1200m pod per node: 3 pods need 3 nodes, the group has 1.
    env = make_env(nodegroup("general", minSize=1, maxSize=5), deployment("web", 3, cpu="1200m"), autoscaler())
    env.run(5)
    assert len(env.nodes("general")) == 1
    env.run(15)
    assert env.group("general")["spec"]["desiredSize"] == 3
    triggered = env.events("TriggeredScaleUp")
    assert len(triggered) == 2
    assert {e["message"] for e in triggered} == {"pod triggered scale-up: [{general 1->3 (max: 5)}]"}
    env.run(200)
    assert len(env.nodes("general")) == 3
    assert _running(env.pods()) == 3
    cm = env.client.get("configmaps", "cluster-autoscaler-status", "kube-system")
    assert "autoscalerStatus: Running" in cm["data"]["status"]


def test_not_trigger_scale_up_reasons(make_env: Any) -> None:
    env = make_env(
        nodegroup("a", minSize=1, maxSize=1),
        nodegroup("b", minSize=1, maxSize=1),
        nodegroup("c", minSize=0, maxSize=3, labels={"pool": "c"}),
        deployment("web", 1, cpu="1200m", nodeSelector={"pool": "x"}),
        autoscaler(),
    )
    env.run(30)
    msgs = {e["message"] for e in env.events("NotTriggerScaleUp")}
    assert msgs == {"pod didn't trigger scale-up: 2 max node group size reached, "
                    "1 node(s) didn't match Pod's node affinity/selector"}  # fmt: skip
    assert env.group("c")["spec"]["desiredSize"] == 0


def test_max_node_provision_time_backs_off_and_scales_back(make_env: Any) -> None:
    # Nodes of "slow" take 20 m to boot: after 15 m the scale-up has failed.
    env = make_env(nodegroup("slow", minSize=1, maxSize=5, bootSeconds=1200), deployment("web", 2, cpu="1200m"),
                   autoscaler())  # fmt: skip
    env.run(30)
    assert env.group("slow")["spec"]["desiredSize"] == 2
    env.run(940)
    assert env.group("slow")["spec"]["desiredSize"] == 1
    assert [e["message"] for e in env.events("ScaleUpTimedOut")] == [
        "Nodes added to group slow failed to register within 15m0s"
    ]
    doc = env.client.get("configmaps", "cluster-autoscaler-status", "kube-system")["data"]["status"]
    assert "status: Backoff" in doc
    env.run(1000)
    msgs = {e["message"] for e in env.events("NotTriggerScaleUp")}
    assert "pod didn't trigger scale-up: 1 in backoff after failed scale-up" in msgs


def test_pending_pods_kept_while_the_same_and_read_again_when_not(make_env: Any) -> None:
    """_unschedulable_pods keeps its PodInfos and order while the pending pods are the same
    objects; a new pending pod, a new cutoff or the scale-up delay (read every scan) show."""
    env = make_env(nodegroup("a", minSize=1, maxSize=1), deployment("web", 2, cpu="1200m"), autoscaler())
    env.run(30)  # one pod runs, one waits: the group is at its maximum
    ca = env.ca
    now = ca.loop.now
    first = ca._unschedulable_pods(now)
    assert len(first) == 1
    again = ca._unschedulable_pods(now)
    assert again == first and again[0] is first[0]
    env.client.patch("deployments", "web", {"spec": {"replicas": 3}}, namespace="default")
    env.run(60)
    assert len(ca._unschedulable_pods(ca.loop.now)) == 2
    env.client.patch("clusterautoscalers.kubetwin.io", "default", {"spec": {"newPodScaleUpDelay": "1h"}})
    env.run(61)
    assert ca._unschedulable_pods(ca.loop.now) == []
    env.client.patch("clusterautoscalers.kubetwin.io", "default",
                     {"spec": {"newPodScaleUpDelay": "0s", "expendablePodsPriorityCutoff": 10}})  # fmt: skip
    env.run(62)
    assert ca._unschedulable_pods(ca.loop.now) == []
