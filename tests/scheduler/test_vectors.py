"""upstream-semantics.md section 6 vectors: fit, LeastAllocated, BalancedAllocation,
numFeasibleNodesToFind; each checked on the per-node and the vectorised path."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from builders import make_node, make_pod
from kubetwin.scheduler import CycleState, PodInfo, Profile, num_feasible_nodes_to_find
from kubetwin.scheduler.cache import Snapshot
from kubetwin.scheduler.framework import Framework, PluginSpec
from kubetwin.scheduler.plugins import REGISTRY
from kubetwin.scheduler.plugins.noderesources import NodeResourcesBalancedAllocation, NodeResourcesFit


def framework(nodes: list[dict], pods: list[dict], profile: Profile | None = None) -> Framework:
    snap = Snapshot()
    for n in nodes:
        snap.add_node(n)
    for p in pods:
        snap.add_pod(p)
    return Framework(profile or Profile.default(), snap, REGISTRY)


def alloc_node(name: str = "n", **res: Any) -> dict:
    return make_node(name).capacity(cpu="10m", memory="20", pods=32).allocatable(**res).obj()


FIT_ALLOC = {"cpu": "10m", "memory": "20", "pods": "32", "example.com/aaa": "5",
             "ephemeral_storage": "20", "hugepages-2Mi": "5"}  # fmt: skip


def existing(cpu: str, mem: str, **extra: Any) -> dict:
    return make_pod("existing").container("c", requests={"cpu": cpu, "memory": mem, **extra}).node("n").obj()


@pytest.mark.parametrize(
    "pod, used, reasons",
    [
        pytest.param(make_pod("p").container("c").obj(), existing("10m", "20"), [], id="no-requests-fit"),
        pytest.param(make_pod("p").container("c", requests={"cpu": "1m", "memory": "1"})
                     .init_container("i", requests={"cpu": "3m", "memory": "1"}).obj(),
                     existing("8m", "19"), ["Insufficient cpu"], id="init-too-big"),
        pytest.param(make_pod("p").container("c", requests={"cpu": "1m", "memory": "1"})
                     .init_container("i", requests={"cpu": "3m", "memory": "1"})
                     .init_container("j", requests={"cpu": "2m", "memory": "1"}).obj(),
                     existing("8m", "19"), ["Insufficient cpu"], id="highest-init"),
        pytest.param(make_pod("p").container("c", requests={"cpu": "1m", "memory": "1"})
                     .init_container("i", requests={"cpu": "1m", "memory": "1"}).obj(),
                     existing("9m", "19"), [], id="init-max-not-sum"),
        pytest.param(make_pod("p").container("c", requests={"cpu": "2m", "memory": "1"}).obj(),
                     existing("9m", "5"), ["Insufficient cpu"], id="cpu"),
        pytest.param(make_pod("p").container("c", requests={"cpu": "5m", "memory": "1"}).obj(),
                     existing("5m", "19"), [], id="equal-edge"),
        pytest.param(make_pod("p").container("c", requests={"cpu": "4m", "memory": "1"})
                     .init_container("i", requests={"cpu": "5m", "memory": "1"}).obj(),
                     existing("5m", "19"), [], id="equal-edge-init"),
        pytest.param(make_pod("p").container("a", requests={"cpu": "1m", "memory": "1", "example.com/aaa": "3"})
                     .container("b", requests={"cpu": "1m", "memory": "1", "example.com/aaa": "3"}).obj(),
                     existing("0", "0", **{"example.com/aaa": "2"}), ["Insufficient example.com/aaa"], id="scalar"),
        pytest.param(make_pod("p").container("c")
                     .init_container("a", requests={"cpu": "1m", "memory": "1", "example.com/aaa": "3"})
                     .init_container("b", requests={"cpu": "1m", "memory": "1", "example.com/aaa": "3"}).obj(),
                     existing("0", "0", **{"example.com/aaa": "2"}), [], id="scalar-init-max"),
        pytest.param(make_pod("p").container("c", requests={"cpu": "1m", "memory": "1"})
                     .overhead({"cpu": "3m", "memory": "13"}).obj(), existing("5m", "5"), [], id="overhead-fits"),
        pytest.param(make_pod("p").container("c", requests={"cpu": "1m", "memory": "1"})
                     .overhead({"cpu": "1m", "memory": "15"}).obj(), existing("5m", "5"),
                     ["Insufficient memory"], id="overhead-memory"),
    ],
)  # fmt: skip
def test_enough_requests(pod: dict, used: dict, reasons: list[str]) -> None:
    fw = framework([alloc_node(**FIT_ALLOC)], [used])
    plugin = fw.plugin("NodeResourcesFit")
    assert isinstance(plugin, NodeResourcesFit)
    pi = PodInfo(pod)
    ni = fw.snapshot.get("n")
    assert ni is not None
    st = plugin.filter(CycleState(), pi, ni)
    assert (st.reasons if st else []) == reasons
    got = [s.reasons[0] for m, s in plugin.filter_all(CycleState(), pi, fw.snapshot) if m[ni.slot]]
    assert got == reasons


def test_not_enough_requests_too_many_pods() -> None:
    node = make_node("n").capacity(cpu="10m", memory="20", pods=1).obj()
    fw = framework([node], [make_pod("x").container("c").node("n").obj()])
    plugin = fw.plugin("NodeResourcesFit")
    assert plugin is not None
    st = plugin.filter(CycleState(), PodInfo(make_pod("p").container("c").obj()), fw.snapshot.get("n"))  # type: ignore[arg-type]
    assert st is not None and st.reasons == ["Too many pods"]


LA_POD = make_pod("p").container("a", requests={"cpu": "1000m", "memory": "2000"}).container(
    "b", requests={"cpu": "2000m", "memory": "3000"}).obj()  # fmt: skip


def _node(name: str, cpu: int, mem: int) -> dict:
    return make_node(name).capacity(cpu=f"{cpu}m", memory=str(mem), pods=110).obj()


def _on(name: str, node: str, cpu: str, mem: str | None = None) -> dict:
    req = {"cpu": cpu} if mem is None else {"cpu": cpu, "memory": mem}
    return make_pod(name).container("c", requests=req).node(node).obj()


def _scores(fw: Framework, name: str, pod: dict) -> tuple[list[int], list[int]]:
    plugin = fw.plugin(name)
    assert plugin is not None
    pi = PodInfo(pod)
    slots = fw.snapshot.alive_slots()
    per_node = [plugin.score(CycleState(), pi, fw.snapshot.nodes[s]) for s in slots]  # type: ignore[arg-type]
    vec = [int(x) for x in plugin.score_all(CycleState(), pi, slots)]
    return per_node, vec


@pytest.mark.parametrize(
    "nodes, pods, weights, expected",
    [
        pytest.param([("n1", 4000, 10000), ("n2", 6000, 10000)], [], None, [37, 50], id="nothing-scheduled"),
        pytest.param([("n1", 10000, 20000), ("n2", 10000, 20000)],
                     [("e1", "n1", "3000m", "0"), ("e2", "n2", "3000m", "5000")], None, [57, 45], id="existing"),
        pytest.param([("n1", 10000, 20000), ("n2", 10000, 50000)],
                     [("e1", "n1", "3000m", "0"), ("e2", "n2", "3000m", "5000")], None, [57, 60], id="bigger-node"),
        pytest.param([("n1", 4000, 10000), ("n2", 6000, 10000)], [], {"cpu": 1, "memory": 2}, [41, 50], id="weights"),
    ],
)  # fmt: skip
def test_least_allocated(nodes: list, pods: list, weights: dict | None, expected: list[int]) -> None:
    profile = Profile.default()
    if weights:
        spec = next(p for p in profile.plugins if p.name == "NodeResourcesFit")
        spec.args = {"scoringStrategy": {"type": "LeastAllocated",
                                         "resources": [{"name": k, "weight": w} for k, w in weights.items()]}}  # fmt: skip
    fw = framework([_node(*n) for n in nodes], [_on(*p) for p in pods], profile)
    per_node, vec = _scores(fw, "NodeResourcesFit", LA_POD)
    assert per_node == expected
    assert vec == expected


@pytest.mark.parametrize(
    "nodes, pods, pod, expected",
    [
        pytest.param([("n1", 4000, 10000), ("n2", 6000, 10000)], [],
                     make_pod("p").container("c", requests={"cpu": "3000m", "memory": "5000"}).obj(), [87, 100],
                     id="nothing-scheduled"),
        pytest.param([("n1", 10000, 20000), ("n2", 10000, 50000)],
                     [("e1", "n1", "3000m", "0"), ("e2", "n2", "3000m", "5000")],
                     make_pod("p").container("c", requests={"cpu": "3000m", "memory": "5000"}).obj(), [82, 80],
                     id="existing"),
        pytest.param([("n1", 6000, 10000), ("n2", 6000, 10000)],
                     [("e1", "n1", "3000m", "0"), ("e2", "n2", "3000m", "5000")],
                     make_pod("p").container("c", requests={"cpu": "3000m"}).obj(), [50, 75], id="cpu-only"),
    ],
)  # fmt: skip
def test_balanced_allocation(nodes: list, pods: list, pod: dict, expected: list[int]) -> None:
    fw = framework([_node(*n) for n in nodes], [_on(*p) for p in pods])
    per_node, vec = _scores(fw, "NodeResourcesBalancedAllocation", pod)
    assert per_node == expected
    assert vec == expected


def test_balanced_allocation_skips_best_effort() -> None:
    fw = framework([_node("n1", 4000, 10000)], [])
    plugin = fw.plugin("NodeResourcesBalancedAllocation")
    assert isinstance(plugin, NodeResourcesBalancedAllocation)
    st = plugin.pre_score(CycleState(), PodInfo(make_pod("p").container("c").obj()), np.array([0]))
    assert st is not None and st.is_skip()


@pytest.mark.parametrize(
    "nodes, expected",
    [pytest.param(n, e, id=str(n)) for n, e in
     [(50, 50), (100, 100), (500, 230), (1000, 420), (5000, 500), (6000, 300)]],
)  # fmt: skip
def test_num_feasible_nodes_to_find(nodes: int, expected: int) -> None:
    assert num_feasible_nodes_to_find(0, nodes) == expected


def test_resource_weight_validation() -> None:
    for w in (101, 0, -1):
        profile = Profile(plugins=[PluginSpec("NodeResourcesFit", 1, {"scoringStrategy": {
            "type": "LeastAllocated", "resources": [{"name": "cpu", "weight": w}]}})])  # fmt: skip
        with pytest.raises(ValueError):
            framework([], [], profile)


def test_lowest_priority_follows_pods_on_nodes() -> None:
    """Snapshot.lowest_priority (preemption's "no victim anywhere" shortcut) counts pods attached to
    a node: assigned, assumed, ghosts of a removed node left out until their node comes back."""
    snap = Snapshot()
    snap.add_node(make_node("a").capacity().obj())
    snap.add_node(make_node("b").capacity().obj())
    assert snap.lowest_priority() is None
    snap.add_pod(make_pod("high").priority(1000).node("a").obj())
    snap.add_pod(make_pod("low").priority(-5).node("b").obj())
    snap.add_pod(make_pod("nowhere").priority(-100).node("c").obj())  # its node is not known yet
    assert snap.lowest_priority() == -5
    assumed = PodInfo(make_pod("assumed").priority(-7).obj())
    snap.assume(assumed, "a")
    assert snap.lowest_priority() == -7
    snap.forget(assumed)
    assert snap.lowest_priority() == -5
    snap.remove_node("b")  # "low" becomes a ghost
    assert snap.lowest_priority() == 1000
    snap.add_node(make_node("c").capacity().obj())  # the ghost of c attaches
    assert snap.lowest_priority() == -100
    snap.remove_pod("default/nowhere")
    snap.remove_pod("default/high")
    assert snap.lowest_priority() is None
