"""Tests for kubetwin.cloud.nodegroup (NodeGroup -> Nodes) together with the simulated kubelets."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from kubetwin.client import Client, InformerFactory
from kubetwin.cloud.nodegroup import NodeGroupController, allocatable_for
from kubetwin.kubelet import KubeletManager
from kubetwin.sim import EventLoop, SeededRNG
from kubetwin.store import Registry, Store

NG = "nodegroups.kubetwin.io"


class Env:
    def __init__(self, seed: int = 7) -> None:
        self.loop = EventLoop()
        rng = SeededRNG(seed)
        reg = Registry(Store(), self.loop, rng)
        reg.bootstrap()
        self.client = Client(reg)
        informers = InformerFactory(reg)
        self.controller = NodeGroupController(self.client, informers, rng)
        self.controller.start()
        self.kubelets = KubeletManager(self.client, informers, rng)
        self.kubelets.start()

    def group(self, name: str = "workers", **spec: Any) -> None:
        body = {"instanceType": "m5.large", "minSize": 1, "maxSize": 10, **spec}
        self.client.create({"apiVersion": "kubetwin.io/v1alpha1", "kind": "NodeGroup",
                            "metadata": {"name": name}, "spec": body})  # fmt: skip

    def scale(self, desired: int, name: str = "workers") -> None:
        self.client.patch(NG, name, {"spec": {"desiredSize": desired}})

    def nodes(self, name: str = "workers") -> list[dict[str, Any]]:
        return self.client.list("nodes", label_selector=f"kubetwin.io/nodegroup={name}")

    def status(self, name: str = "workers") -> dict[str, Any]:
        return dict(self.client.get(NG, name).get("status") or {})


def _ready(node: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", []))


def test_creates_nodes_spread_over_zones() -> None:
    env = Env()
    env.group(desiredSize=5, zones=["us-east-1a", "us-east-1b", "us-east-1c"], labels={"team": "web"},
              taints=[{"key": "dedicated", "value": "web", "effect": "NoSchedule"}], kubelet={"maxPods": 29})  # fmt: skip
    env.loop.advance(1)
    nodes = env.nodes()
    assert len(nodes) == 5
    zones = Counter(n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes)
    assert zones == {"us-east-1a": 2, "us-east-1b": 2, "us-east-1c": 1}
    assert len({n["spec"]["podCIDR"] for n in nodes}) == 5
    for n in nodes:
        name, labels, ann = n["metadata"]["name"], n["metadata"]["labels"], n["metadata"]["annotations"]
        ip = next(a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP")
        assert name == "ip-" + ip.replace(".", "-") + ".ec2.internal"
        assert labels["kubernetes.io/hostname"] == name and labels["team"] == "web"
        assert labels["kubetwin.io/nodegroup"] == "workers"
        assert labels["node.kubernetes.io/instance-type"] == "m5.large"
        assert ann["kubetwin.io/instance-type"] == "m5.large" and ann["kubetwin.io/price-per-hour"] == "0.096"
        assert ann["kubetwin.io/capacity-type"] == "on-demand"
        zone = labels["topology.kubernetes.io/zone"]
        assert (
            n["spec"]["providerID"].startswith(f"aws:///{zone}/i-0")
            and len(n["spec"]["providerID"].split("/")[-1]) == 19
        )
        assert n["spec"]["taints"] == [{"key": "dedicated", "value": "web", "effect": "NoSchedule"}]
        assert n["status"]["capacity"]["pods"] == "29" and n["status"]["capacity"]["cpu"] == "2"
        # kubelet defaults: no reservations, evictionHard memory.available 100Mi and nodefs.available 10%
        assert n["status"]["allocatable"] == {**n["status"]["capacity"], "memory": "8092Mi",
                                              "ephemeral-storage": "19316009748"}  # fmt: skip
        assert json.loads(ann["kubetwin.io/kubelet-config"])["maxPods"] == 29
        info = n["status"]["nodeInfo"]
        assert (info["kubeletVersion"], info["osImage"], info["architecture"]) == (
            "v1.32.0",
            "Amazon Linux 2023",
            "amd64",
        )
        assert info["containerRuntimeVersion"].startswith("containerd://1.7.")
        assert _ready(n)  # launched at virtual time 0: Ready at once
    st = env.status()
    assert (st["replicas"], st["readyReplicas"], st["desiredSize"]) == (5, 5, 5)
    assert st["conditions"][0]["status"] == "True"


def test_region_dns_suffix() -> None:
    env = Env()
    env.group(desiredSize=1, zones=["eu-west-1a"])
    env.loop.advance(1)
    assert env.nodes()[0]["metadata"]["name"].endswith(".eu-west-1.compute.internal")


@pytest.mark.parametrize(
    ("spec", "reason", "fragment"),
    [
        pytest.param(
            {"instanceType": "m5.lrge"},
            "UnknownInstanceType",
            'unknown instance type "m5.lrge"; did you mean m5.large',
            id="unknown-type",
        ),
    ],
)
def test_invalid_spec_sets_condition_and_event(spec: dict[str, Any], reason: str, fragment: str) -> None:
    env = Env()
    env.group(**spec)
    env.loop.advance(1)
    cond = env.status()["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("Ready", "False", reason)
    assert fragment in cond["message"]
    assert env.nodes() == []
    events = [e for e in env.client.list("events") if e["reason"] == reason]
    assert len(events) == 1 and events[0]["type"] == "Warning"


def test_scale_up_boots_then_ready_and_scale_down_removes_newest() -> None:
    env = Env()
    env.group(desiredSize=2, bootSeconds=90)
    env.loop.advance(100)
    first = {n["metadata"]["name"] for n in env.nodes()}
    env.scale(4)
    env.loop.advance(1)
    new = [n for n in env.nodes() if n["metadata"]["name"] not in first]
    assert len(new) == 2
    for n in new:
        assert not _ready(n)
        assert {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"} in n["spec"]["taints"]
    assert env.status()["readyReplicas"] == 2
    env.loop.advance(89)
    assert all(_ready(n) and "taints" not in n["spec"] for n in env.nodes())
    assert env.status()["readyReplicas"] == 4
    env.scale(2)
    env.loop.advance(1)
    assert {n["metadata"]["name"] for n in env.nodes()} == first
    assert env.status()["replicas"] == 2


def test_desired_defaults_to_min_size() -> None:
    env = Env()
    env.group(minSize=2, maxSize=3)
    env.loop.advance(1)
    assert len(env.nodes()) == 2
    assert env.status()["desiredSize"] == 2


def test_delete_group_deletes_nodes() -> None:
    env = Env()
    env.group(desiredSize=3)
    env.loop.advance(1)
    env.client.delete(NG, "workers")
    env.loop.advance(1)
    assert env.nodes() == []


def test_deterministic_names() -> None:
    def names() -> list[str]:
        env = Env(seed=3)
        env.group(desiredSize=4)
        env.loop.advance(1)
        return sorted(n["metadata"]["name"] for n in env.nodes())

    assert names() == names()


def test_allocatable_for_subtracts_reservations() -> None:
    cap = {"cpu": "2", "memory": "8Gi", "pods": "29"}
    assert allocatable_for(cap, {"kubeReserved": {"cpu": "100m"}}) == {
        "cpu": "1900m",
        "memory": "8092Mi",
        "pods": "29",
    }


@pytest.mark.parametrize(
    ("spec", "capacity_pods", "allocatable"),
    [
        pytest.param(
            {"instanceType": "c4.large"},
            "29",
            {"cpu": "2", "memory": "3740Mi"},
            id="c4.large-default-vpc-cni",
        ),
        pytest.param(
            {"instanceType": "m5.large", "networking": {"mode": "aws-vpc-cni-prefix"}},
            "110",
            {"cpu": "2", "memory": "8092Mi"},
            id="m5.large-prefix",
        ),
        pytest.param(
            {"instanceType": "m5.large", "networking": {"mode": "overlay"}},
            "110",
            {"memory": "8092Mi"},
            id="overlay",
        ),
        pytest.param(
            {"instanceType": "m5.large", "reservedPreset": "eks"},
            "29",
            {"cpu": "1930m", "memory": "7518Mi", "ephemeral-storage": "18242267924"},
            id="eks-preset-m5.large",
        ),
        pytest.param(
            {"instanceType": "m5.large", "reservedPreset": "eks", "kubelet": {"maxPods": 110}},
            "110",
            {"memory": "7518Mi"},  # nodeadm reserves for the network's 29 pods, not the override
            id="eks-preset-explicit-max-pods",
        ),
        pytest.param(
            {
                "instanceType": "m5.large",
                "reservedPreset": "eks",
                "kubelet": {"kubeReserved": {"memory": "1Gi"}},
            },
            "29",
            {"cpu": "2", "memory": "7068Mi"},
            id="eks-preset-user-kube-reserved-wins",
        ),
        pytest.param(
            {"instanceType": "m5.xlarge", "reservedPreset": "gke"},
            "58",
            {
                "cpu": "3920m",
                "memory": str(
                    16 * 2**30 - int(0.25 * 4 * 2**30 + 0.2 * 4 * 2**30 + 0.1 * 8 * 2**30) - 100 * 2**20
                ),
            },
            id="gke-preset-m5.xlarge",
        ),
        pytest.param(
            {"instanceType": "m5.large", "kubelet": {"podsPerCore": 5}},
            "10",
            {"pods": "10"},
            id="pods-per-core",
        ),
    ],
)
def test_capacity_and_allocatable(
    spec: dict[str, Any], capacity_pods: str, allocatable: dict[str, str]
) -> None:
    env = Env()
    env.group(**spec)
    env.loop.advance(1)
    (node,) = env.nodes()
    status = node["status"]
    assert status["capacity"]["pods"] == capacity_pods
    assert status["allocatable"]["pods"] == capacity_pods
    for k, v in allocatable.items():
        assert status["allocatable"][k] == v, k
    cfg = json.loads(node["metadata"]["annotations"]["kubetwin.io/kubelet-config"])
    assert cfg["maxPods"] == int(capacity_pods) or spec.get("kubelet", {}).get("podsPerCore")
    # the annotation round-trips into the same allocatable
    assert allocatable_for(status["capacity"], cfg) == status["allocatable"]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        pytest.param({"kubelet": {"kubeReserved": {"memory": "-1Gi"}}}, "spec.kubelet.kubeReserved[memory]", id="neg"),
        pytest.param({"kubelet": {"evictionHard": {"mem.available": "1Gi"}}}, "spec.kubelet.evictionHard[mem.available]", id="sig"),
        pytest.param({"kubelet": {"evictionSoft": {"memory.available": "1Gi"}}}, "spec.kubelet.evictionSoftGracePeriod[memory.available]", id="soft"),
        pytest.param({"reservedPreset": "aks"}, "spec.reservedPreset", id="preset"),
        pytest.param({"networking": {"mode": "calico"}}, "spec.networking.mode", id="mode"),
    ],
)  # fmt: skip
def test_bad_kubelet_config_is_rejected_at_admission(spec: dict[str, Any], field: str) -> None:
    from kubetwin.api.errors import ApiError

    env = Env()
    with pytest.raises(ApiError) as exc:
        env.group(**spec)
    assert exc.value.code == 422
    assert field + ":" in exc.value.message


def test_status_counts_follow_readiness_membership_and_cost_over_refreshes() -> None:
    """The controller recounts a group only when a member comes, goes or flips Ready: each of those
    shows in the next status, and costUSD keeps growing on the 30 s refresh in between."""
    from kubetwin.cloud import cost

    env = Env()
    env.group(desiredSize=3)
    env.loop.advance(120)
    assert (env.status()["replicas"], env.status()["readyReplicas"]) == (3, 3)
    nodes = env.nodes()
    launched = [env.loop.parse_timestamp(n["metadata"]["creationTimestamp"]) for n in nodes]
    want = round(sum(cost.instance_cost(0.096, t, env.loop.now) for t in launched), 2)
    assert env.status()["costUSD"] == want
    # A member flips NotReady (its kubelet died, someone else writes its status): readyReplicas follows.
    victim = nodes[0]
    victim["status"]["conditions"] = [dict(c, status="False") if c["type"] == "Ready" else c
                                      for c in victim["status"]["conditions"]]  # fmt: skip
    env.kubelets.kubelets[victim["metadata"]["name"]].stop()  # else it would correct the status
    env.client.update(victim, subresource="status")
    env.loop.advance(0)
    assert (env.status()["replicas"], env.status()["readyReplicas"]) == (3, 2)
    # A member relabelled out of the group: the group replaces it.
    moved = env.client.get("nodes", nodes[1]["metadata"]["name"])
    moved["metadata"]["labels"]["kubetwin.io/nodegroup"] = "elsewhere"
    env.client.update(moved)
    env.loop.advance(1)
    assert env.status()["replicas"] == 3
    assert nodes[1]["metadata"]["name"] not in {n["metadata"]["name"] for n in env.nodes()}
    env.loop.advance(3600)
    launched = [env.loop.parse_timestamp(n["metadata"]["creationTimestamp"]) for n in env.nodes()]
    assert env.status()["costUSD"] == round(sum(cost.instance_cost(0.096, t, env.loop.now) for t in launched), 2)


def test_a_booting_node_registers_not_ready_and_takes_no_pod_before_ready() -> None:
    """The kubelet registers its Node with its first status (Ready=False KubeletNotReady): the node
    lifecycle controller keeps the not-ready NoSchedule taint, so the scheduler places nothing on
    a booting node (a node without conditions lost the taint at once and took pods while booting)."""
    from kubetwin.scenario.runtime import Cluster

    cluster = Cluster(seed=3)
    cluster.start()
    first_versions: dict[str, dict[str, Any]] = {}
    bound_at: dict[str, float] = {}

    def record(ev: Any) -> None:
        o = ev.object
        if ev.resource == "nodes" and ev.type == "ADDED":
            first_versions[o["metadata"]["name"]] = o
        if ev.resource == "pods" and ev.type == "MODIFIED" and o["spec"].get("nodeName") and not (ev.prev or {}).get("spec", {}).get("nodeName"):
            bound_at[o["spec"]["nodeName"]] = cluster.loop.now

    cluster.store.add_listener(record)
    group = {"apiVersion": "kubetwin.io/v1alpha1", "kind": "NodeGroup", "metadata": {"name": "workers"},
             "spec": {"instanceType": "m5.large", "minSize": 1, "maxSize": 2, "bootSeconds": 60}}  # fmt: skip
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "big", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "1500m"}}}]}}  # fmt: skip
    filler = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "filler", "namespace": "default"},
              "spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "1500m"}}}]}}  # fmt: skip
    assert cluster.apply([("group", group), ("filler", filler)]) == []
    cluster.run(30)
    initial = set(first_versions)
    assert cluster.apply([("big", pod)]) == []
    cluster.run(100)
    cluster.client.patch(NG, "workers", {"spec": {"desiredSize": 2}})
    cluster.run(101)
    (new,) = set(first_versions) - initial
    assert new not in bound_at  # nothing placed on the booting node
    conds = {c["type"]: c for c in first_versions[new]["status"]["conditions"]}
    assert conds["Ready"]["status"] == "False" and conds["Ready"]["reason"] == "KubeletNotReady"
    assert {c: conds[c]["status"] for c in ("MemoryPressure", "DiskPressure", "PIDPressure")} == dict.fromkeys(
        ("MemoryPressure", "DiskPressure", "PIDPressure"), "False")
    cluster.run(159)
    assert cluster.client.get("pods", "big", "default")["spec"].get("nodeName") is None
    cluster.run(170)
    assert cluster.client.get("pods", "big", "default")["spec"]["nodeName"] == new
    assert bound_at[new] >= 160.0
    cluster.close()


def test_instances_cost_is_the_running_sum_of_instance_costs() -> None:
    """The vectorised group cost is bit for bit the sum of each instance's cost added left to
    right in order (what the status's costUSD rounds; Python 3.11's ``sum``, while 3.12's
    compensates), including instances launched after ``until`` and none at all."""
    import functools
    import operator
    import random

    import numpy as np

    from kubetwin.cloud import cost

    rnd = random.Random(7)
    for n in [0, 1, 2, 3, 17, 900]:
        for _ in range(20):
            prices = [rnd.choice([0.096, 0.192, 0.0416, 0.34]) * rnd.choice([1.0, 0.31]) for _ in range(n)]
            launched = [rnd.uniform(0, 86_400) for _ in range(n)]
            until = rnd.uniform(0, 90_000)
            terms = [cost.instance_cost(p, t, until) for p, t in zip(prices, launched, strict=True)]
            want = functools.reduce(operator.add, terms, 0.0)
            got = cost.instances_cost(np.array(prices, dtype=np.float64), np.array(launched, dtype=np.float64), until)
            assert got == want and type(got) is float and 0.0 + got == 0.0 + want
