"""Tests for kubetwin.cloud.nodegroup (NodeGroup -> Nodes) together with the simulated kubelets."""

from __future__ import annotations

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
        KubeletManager(self.client, informers, rng).start()

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
        assert n["spec"]["providerID"].startswith(f"aws:///{zone}/i-0") and len(n["spec"]["providerID"].split("/")[-1]) == 19
        assert n["spec"]["taints"] == [{"key": "dedicated", "value": "web", "effect": "NoSchedule"}]
        assert n["status"]["capacity"]["pods"] == "29" and n["status"]["capacity"]["cpu"] == "2"
        assert n["status"]["allocatable"] == n["status"]["capacity"]
        info = n["status"]["nodeInfo"]
        assert (info["kubeletVersion"], info["osImage"], info["architecture"]) == ("v1.32.0", "Amazon Linux 2023", "amd64")
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
        pytest.param({"instanceType": "m5.lrge"}, "UnknownInstanceType", 'unknown instance type "m5.lrge"; did you mean m5.large',
                     id="unknown-type"),
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


def test_allocatable_seam_is_identity_for_now() -> None:
    cap = {"cpu": "2", "memory": "8Gi", "pods": "29"}
    assert allocatable_for(cap, {"kubeReserved": {"cpu": "100m"}}) == cap
