"""The autoscaler's persistent snapshot: after any sequence of node/pod/namespace changes and scans
it holds what a snapshot built from scratch from the informers holds, and a scan's fork/revert
leaves it exactly as it was (same PodInfo objects, same slots, arrays, counters and term counts)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.autoscaler.conftest import autoscaler, deployment, nodegroup

from builders import make_node, make_pod
from kubetwin.api import nodestatus
from kubetwin.api.errors import ApiError
from kubetwin.api.podchanges import pod_changes
from kubetwin.autoscaler import simulator
from kubetwin.autoscaler.simulator import BaseSnapshot, FirstFit, SimCluster
from kubetwin.client import Client, InformerFactory
from kubetwin.scheduler.framework import PodInfo
from kubetwin.sim import EventLoop, SeededRNG
from kubetwin.store import Registry, Store

Obj = dict[str, Any]
NODES = 4
PODS = 8
SELECTORS = [(None, {"matchLabels": {"app": "a"}}), (frozenset({"default"}), {"matchLabels": {"app": "b"}})]


class Stack:
    """Store + informers, no controllers: only the test changes objects."""

    def __init__(self) -> None:
        self.loop = EventLoop()
        self.registry = Registry(Store(), self.loop, SeededRNG(1))
        self.registry.bootstrap()
        self.client = Client(self.registry)
        self.informers = InformerFactory(self.registry)
        pods = self.informers.get("pods")
        pods.add_index("ca:node", lambda p: [(p.get("spec") or {}).get("nodeName") or ""])
        self.base = BaseSnapshot(self.informers, SeededRNG(2), lambda n: pods.by_index("ca:node", n))

    def try_(self, fn: Any, *args: Any, **kw: Any) -> None:
        try:
            fn(*args, **kw)
        except ApiError:
            pass  # e.g. the object is not there (yet); the sequence goes on


def node_obj(i: int, cpu: int, tainted: bool, keep: bool) -> Obj:
    b = make_node(f"n{i}").capacity(cpu=str(cpu), memory="8Gi", pods=6).labels({"zone": f"z{i % 2}"}).ready()
    if tainted:
        b = b.taints([{"key": "t", "value": "v", "effect": "NoSchedule"}])
    obj = b.obj()
    if keep:
        obj["metadata"]["finalizers"] = ["test.kubetwin.io/keep"]  # delete leaves a deletionTimestamp
    return obj


def pod_obj(j: int, cpu: int, node: int | None, app: str, anti: bool, port: bool) -> Obj:
    extra: Obj = {"ports": [{"containerPort": 80, "hostPort": 8080}]} if port else {}
    b = make_pod(f"p{j}").container("c", requests={"cpu": f"{cpu}m", "memory": "128Mi"}, **extra).labels({"app": app})
    if node is not None:
        b = b.node(f"n{node}")
    if anti:
        b = b.set("spec.affinity", {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"topologyKey": "zone", "labelSelector": {"matchLabels": {"app": app}},
             "namespaceSelector": {"matchLabels": {"team": "x"}}}]}})  # fmt: skip
    return b.obj()


def apply(s: Stack, op: tuple[Any, ...]) -> None:
    c = s.client
    kind = op[0]
    if kind == "node":
        _, i, cpu, tainted, keep = op
        s.try_(c.create, node_obj(i, cpu, tainted, keep))
    elif kind == "relabel-node":
        s.try_(c.patch, "nodes", f"n{op[1]}", {"metadata": {"labels": {"zone": f"z{op[2]}"}}})
    elif kind == "taint-node":
        taints = [{"key": "t", "value": "v", "effect": "NoSchedule"}] if op[2] else []
        s.try_(c.patch, "nodes", f"n{op[1]}", {"spec": {"taints": taints}})
    elif kind == "resize-node":
        node = s.informers.get("nodes").get(f"n{op[1]}")
        if node is not None:
            node = {**node, "status": {**node["status"], "allocatable": {**node["status"]["allocatable"],
                                                                         "cpu": str(op[2])}}}  # fmt: skip
            s.try_(c.update_status, node)
    elif kind == "heartbeat":
        node = s.informers.get("nodes").get(f"n{op[1]}")
        if node is not None:
            s.try_(c.update_status, {**node, "status": {**node["status"], "conditions": [
                {"type": "Ready", "status": "True", "lastHeartbeatTime": s.loop.timestamp()}]}})  # fmt: skip
    elif kind == "kubelet-heartbeat":  # the kubelet's write: spec, labels, allocatable stay the same objects
        s.try_(s.registry.set_fields_trusted, "nodes", "", f"n{op[1]}", "status", {"conditions": [
            {"type": "Ready", "status": "True", "lastHeartbeatTime": s.loop.timestamp()}]})  # fmt: skip
    elif kind == "delete-node":
        s.try_(c.delete, "nodes", f"n{op[1]}")
    elif kind == "pod":
        _, j, cpu, node, app, anti, port = op
        s.try_(c.create, pod_obj(j, cpu, node, app, anti, port))
    elif kind == "bind":
        pod = s.informers.get("pods").get(f"p{op[1]}", "default")
        if pod is not None and not pod["spec"].get("nodeName"):
            s.try_(c.bind, "default", f"p{op[1]}", f"n{op[2]}")
    elif kind == "phase":
        pod = s.informers.get("pods").get(f"p{op[1]}", "default")
        if pod is not None:
            s.try_(c.update_status, {**pod, "status": {**(pod.get("status") or {}), "phase": op[2]}})
    elif kind == "kubelet-phase":  # a status write that keeps the spec object
        s.try_(s.registry.set_fields_trusted, "pods", "default", f"p{op[1]}", "status", {"phase": op[2]})
    elif kind == "relabel-pod":
        s.try_(c.patch, "pods", f"p{op[1]}", {"metadata": {"labels": {"app": op[2]}}}, namespace="default")
    elif kind == "delete-pod":
        s.try_(c.delete, "pods", f"p{op[1]}", "default", grace_period_seconds=0 if op[2] else None)
    elif kind == "namespace":
        s.try_(c.patch, "namespaces", "default", {"metadata": {"labels": {"team": op[1]}}})
    elif kind == "scan":
        scan(s, op[1])
    s.loop.run(until=s.loop.now + 1)


def scan(s: Stack, whatifs: list[tuple[Any, ...]]) -> None:
    """What a scan does: sync, fork, add template nodes and pods, move pods, revert."""
    sim = s.base.sync()
    for ns, sel in SELECTORS:  # counters kept across scans from here on
        sim.snapshot.counter(ns, sel)
    kept = set(sim.snapshot.counters)
    before = describe(sim, identity=True, counters=kept)
    sim.fork()
    templates: list[str] = []
    for w in whatifs:
        names = [ni.name for ni in sim.snapshot.node_infos()]
        if w[0] == "template":
            name = f"template-{len(templates)}"
            sim.add_node(node_obj(90 + len(templates), w[1], False, False) | {"metadata": {
                "name": name, "labels": {"kubernetes.io/hostname": name, "zone": "z0"}}})  # fmt: skip
            templates.append(name)
            ds = pod_obj(900 + len(templates), 50, None, "ds", False, False)
            ds["spec"]["nodeName"] = name
            sim.add_bound_pod(ds)
        elif w[0] == "place" and names:
            pi = PodInfo(pod_obj(w[1], w[2], None, w[3], w[4], False))  # may replace a pod of that name
            target = sim.find_node(pi, names)
            if target is not None:
                sim.place(pi, target)
        elif w[0] == "move":
            key = f"default/p{w[1]}"
            old = sim.snapshot.pods.get(key)
            if old is not None:
                sim.unplace(key)
                here = sim.snapshot.nodes[old.slot].name if old.slot >= 0 else None  # type: ignore[union-attr]
                target = sim.find_node(PodInfo(old.pod), [n for n in names if n != here])
                if target is None:
                    sim.add_bound_pod(old.pod)  # the rollback: a new PodInfo for the same pod
                else:
                    sim.place(PodInfo(old.pod), target)
    sim.revert()
    assert describe(sim, identity=True, counters=kept) == before


def describe(sim: SimCluster, identity: bool = False, counters: set[Any] | None = None) -> dict[str, Any]:
    """Everything the snapshot holds, by node name (slots are an internal detail); with
    ``identity`` also which objects and slots (fork/revert must give back the very same).
    ``counters``: the selector counters to show (default all; a fork may start new ones, which
    stay, kept current, after the revert)."""
    snap = sim.snapshot
    shown = {k: c for k, c in snap.counters.items() if counters is None or k in counters}
    rows = {r: i for r, i in snap.res_index.items()}
    nodes: dict[str, Any] = {}
    for ni in snap.node_infos():
        s = ni.slot
        assert snap.alive[s] and snap.slot_of[ni.name] == s
        nodes[ni.name] = {
            "pods": sorted(ni.pods),
            "requested": {k: v for k, v in ni.requested.items() if v},
            "nonzero": (ni.nonzero_cpu, ni.nonzero_mem),
            "ports": dict(ni.used_ports),
            "arrays": {r: (int(snap.alloc[i, s]), int(snap.requested[i, s]), int(snap.avail[i, s]))
                       for r, i in rows.items() if snap.alloc[i, s] or snap.requested[i, s]},  # fmt: skip
            "nz": snap.nz[:, s].tolist(),
            "count": int(snap.pod_count[s]),
            "allowed": int(snap.allowed_pods[s]),
            "full": s in snap.full,
            "no_cpu_mem": s in snap._no_cpu_mem,
            "counters": {k: int(c.counts[s]) for k, c in shown.items() if c.counts[s]},
            "terms": {k: int(g[1][s]) for k, g in snap.term_groups.items() if s < len(g[1]) and g[1][s]},
        }
        if identity:
            nodes[ni.name]["node"] = id(ni.node)
            nodes[ni.name]["pods"] = sorted((k, id(p.pod)) for k, p in ni.pods.items())
            nodes[ni.name]["slot"] = s
            nodes[ni.name]["infos"] = sorted((k, id(p)) for k, p in ni.pods.items())
    dead = [s for s in range(snap.capacity) if not snap.alive[s]]
    assert not snap.alloc[:, dead].any() and not snap.requested[:, dead].any() and not snap.pod_count[dead].any()
    for c in snap.counters.values():
        assert not c.counts[dead].any()
    out: dict[str, Any] = {
        "nodes": nodes,
        "pods": sorted(k for k, p in snap.pods.items() if p.slot >= 0),
        "ghosts": sorted(k for k, p in snap.pods.items() if p.slot < 0),
        "assumed": sorted(snap.assumed),
        "affinity": sorted(k for k, p in snap.with_affinity.items() if p.slot >= 0),
        "ports_in_use": snap.ports_in_use,
    }
    assert snap._ghosts == len(out["ghosts"])
    if identity:
        out["layout"] = (snap.n, list(snap.free), len(snap.nodes))
        out["infos"] = sorted((k, id(p), p.slot) for k, p in snap.pods.items())
    return out


def same_as_fresh(s: Stack) -> None:
    base = s.base.sync()
    fresh = s.base.fresh()
    for c in base.snapshot.counters.values():  # the ones kept across scans, counted from scratch
        fresh.snapshot.counter_all(c.terms)
    assert describe(base) == describe(fresh)
    nodes, pods = s.informers.get("nodes"), s.informers.get("pods")
    for ni in base.snapshot.node_infos():
        live = nodes.get(ni.name)  # the informer's object, or an older one that differs in heartbeat times only
        assert live is not None and (ni.node is live or nodestatus.heartbeat_only(ni.node, live))
        for key, pi in ni.pods.items():  # ... or in status fields the snapshot does not read
            pod = pods.get_by_key(key)
            assert pod is not None and (pi.pod is pod or not pod_changes(pi.pod, pod) & simulator._POD_READS)


i_node = st.integers(0, NODES - 1)
i_pod = st.integers(0, PODS - 1)
app = st.sampled_from(["a", "b"])
whatif = st.one_of(
    st.tuples(st.just("template"), st.sampled_from([1, 4])),
    st.tuples(st.just("place"), st.integers(0, PODS + 2), st.sampled_from([100, 900]), app, st.booleans()),
    st.tuples(st.just("move"), i_pod),
)
op = st.one_of(
    st.tuples(st.just("node"), i_node, st.sampled_from([1, 2, 4]), st.booleans(), st.booleans()),
    st.tuples(st.just("relabel-node"), i_node, st.integers(0, 2)),
    st.tuples(st.just("taint-node"), i_node, st.booleans()),
    st.tuples(st.just("resize-node"), i_node, st.sampled_from([1, 3])),
    st.tuples(st.just("heartbeat"), i_node),
    st.tuples(st.just("kubelet-heartbeat"), i_node),
    st.tuples(st.just("delete-node"), i_node),
    st.tuples(st.just("pod"), i_pod, st.sampled_from([100, 500]), st.one_of(st.none(), i_node), app,
              st.booleans(), st.booleans()),  # fmt: skip
    st.tuples(st.just("bind"), i_pod, i_node),
    st.tuples(st.just("phase"), i_pod, st.sampled_from(["Running", "Succeeded", "Failed"])),
    st.tuples(st.just("kubelet-phase"), i_pod, st.sampled_from(["Running", "Succeeded", "Failed"])),
    st.tuples(st.just("relabel-pod"), i_pod, app),
    st.tuples(st.just("delete-pod"), i_pod, st.booleans()),
    st.tuples(st.just("namespace"), st.sampled_from(["x", "y"])),
    st.tuples(st.just("scan"), st.lists(whatif, max_size=6)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=1, max_size=40))
def test_persistent_snapshot_equals_fresh_one(ops: list[tuple[Any, ...]]) -> None:
    s = Stack()
    s.base.sync()  # tracking starts with the first sync, as in the autoscaler
    for o in ops:
        apply(s, o)
        if o[0] == "scan":
            same_as_fresh(s)
    same_as_fresh(s)


def node_states(sim: SimCluster) -> dict[str, Any]:
    """Per node what a filter or first-fit reads of it: its row in :func:`describe`, its spec,
    labels and allocatable. Selector counters are left out: a scan may start new ones (they stay
    after its revert) without any node changing, and they count pods the row already names."""
    rows = describe(sim, counters=set())["nodes"]
    return {ni.name: (rows[ni.name], ni.node.get("spec"), ni.node["metadata"].get("labels"),
                      ni.node["status"].get("allocatable")) for ni in sim.snapshot.node_infos()}  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=1, max_size=40))
@example(ops=[("node", 0, 1, False, False), ("pod", 0, 100, 0, "a", False, False), ("pod", 1, 100, None, "a", False, False),
              ("bind", 1, 0), ("taint-node", 0, True), ("resize-node", 0, 3), ("delete-pod", 0, True),
              ("kubelet-phase", 1, "Succeeded"), ("delete-node", 0)])  # fmt: skip
@example(ops=[("node", 0, 1, False, False), ("node", 0, 1, False, False), ("pod", 0, 100, 0, "a", False, False),
              ("scan", [])])  # fmt: skip
def test_changed_since_names_every_node_that_changed(ops: list[tuple[Any, ...]]) -> None:
    """BaseSnapshot.changed_since names every node whose state differs between two syncs (came,
    went, other pods or numbers, other taints or labels), those that only gained pods apart: the
    scale-down pass memo takes the others for what they were."""
    s = Stack()
    sim = s.base.sync()
    mark, before = s.base.mark(), node_states(sim)
    for o in ops:
        apply(s, o)
        sim = s.base.sync()
        now = node_states(sim)
        changes = s.base.changed_since(mark)
        assert changes is not None
        changed, gained = changes
        assert {n for n in before.keys() | now.keys() if before.get(n) != now.get(n)} <= changed | gained
        for n in gained:  # the same node object, the pods it had and more: as much room taken or more
            assert n in before and n in now and before[n][1:] == now[n][1:]
            was, row = before[n][0], now[n][0]
            assert set(was["pods"]) <= set(row["pods"]) and was["count"] <= row["count"]
            assert all(v <= row["requested"].get(r, 0) for r, v in was["requested"].items())
            assert all(p in row["ports"] for p in was["ports"])
        if o[0] != "scan":
            mark, before = s.base.mark(), now


@pytest.mark.parametrize(
    "ops",
    [
        # status writes the handlers apply at once (and the ones that must wait for sync)
        pytest.param([("kubelet-heartbeat", 0)], id="node-heartbeat"),
        pytest.param([("kubelet-phase", 0, "Running")], id="pod-status-update"),
        pytest.param([("kubelet-phase", 0, "Succeeded")], id="pod-turns-terminal"),
        pytest.param([("kubelet-phase", 0, "Failed"), ("kubelet-phase", 0, "Running")], id="terminal-and-back"),
        pytest.param([("delete-node", 1)], id="node-deleted-kept-by-finalizer"),
        pytest.param([("delete-pod", 0, False), ("kubelet-phase", 0, "Running")], id="pod-being-deleted"),
        pytest.param([("taint-node", 0, True), ("kubelet-heartbeat", 0)], id="heartbeat-after-a-change"),
        pytest.param([("scan", [("move", 0)]), ("kubelet-heartbeat", 0), ("kubelet-phase", 0, "Succeeded")],
                     id="after-a-scan"),  # fmt: skip
    ],
)
def test_status_writes_reach_the_snapshot(ops: list[tuple[Any, ...]]) -> None:
    s = Stack()
    s.client.create(node_obj(0, 4, False, False))
    s.client.create(node_obj(1, 4, False, True))  # a finalizer keeps it, being deleted
    s.client.create(pod_obj(0, 300, 0, "a", False, False))
    s.client.create(pod_obj(1, 300, 1, "a", False, False))
    s.base.sync()
    for o in ops:
        apply(s, o)
    same_as_fresh(s)


def test_fork_revert_restores_exactly() -> None:
    s = Stack()
    for i in range(3):
        s.client.create(node_obj(i, 2, False, False))
    for j in range(6):
        s.client.create(pod_obj(j, 300, j % 3, "a" if j % 2 else "b", j == 1, j == 2))
    sim = s.base.sync()
    for ns, sel in SELECTORS:
        sim.snapshot.counter(ns, sel)
    kept = set(sim.snapshot.counters)
    before = describe(sim, identity=True, counters=kept)
    snap = sim.snapshot
    versions = (snap.epoch, snap.node_generation, list(snap.dirty))
    sim.fork()
    during = (snap.epoch, len(snap.dirty))
    for k in range(3):  # template nodes past the layout's end, with a DaemonSet-like pod each
        name = f"tmpl-{k}"
        sim.add_node(node_obj(50 + k, 4, False, False) | {"metadata": {"name": name, "labels": {"zone": "z1"}}})
        ds = pod_obj(100 + k, 50, None, "a", False, False)
        ds["spec"]["nodeName"] = name
        sim.add_bound_pod(ds)
    sim.fork()  # nested: the inner revert gives back the outer fork's state
    inner = describe(sim, identity=True, counters=kept)
    inner_versions = (snap.node_generation, list(snap.dirty))
    sim.unplace("default/p0")
    sim.place(PodInfo(pod_obj(0, 300, None, "a", False, False)), "tmpl-0")  # p0 moved (a new PodInfo)
    sim.place(PodInfo(pod_obj(1, 300, None, "a", True, False)), "tmpl-1")  # replaces p1 (assume drops it)
    sim.unplace("default/p2")
    sim.add_bound_pod(s.informers.get("pods").get("p2", "default"))  # rolled back as a fresh PodInfo
    sim.place(PodInfo(pod_obj(77, 3000, None, "b", False, False)), "n2")
    assert describe(sim, identity=True, counters=kept) != inner
    sim.revert()
    assert describe(sim, identity=True, counters=kept) == inner
    assert (snap.node_generation, list(snap.dirty)) == inner_versions
    assert sim.forked
    sim.revert()
    assert not sim.forked
    assert describe(sim, identity=True, counters=kept) == before
    # the layout versions and dirty log of before the fork are back: what was cached for them holds,
    # what was cached during the fork (another epoch) never does again
    assert (snap.epoch, snap.node_generation, list(snap.dirty)) == versions
    assert snap.dirty_since(versions[0], len(versions[2])) == set()
    assert snap.dirty_since(*during) is None
    assert sim.snapshot.assumed == set()
    assert np.array_equal(sim.snapshot.alive[: sim.snapshot.n], np.ones(3, dtype=bool))


def test_revert_drops_the_pods_of_nodes_added_while_forked() -> None:
    """The pods on a node added while forked leave with it at revert (Snapshot.remove_pod_of_leaving_node,
    not one by one): the counts kept across slots (priorities, host ports, ghosts) go back, their
    PodInfos are detached, and a pod moved there and on elsewhere comes back to its own node."""
    s = Stack()
    s.client.create(node_obj(0, 4, False, False))
    s.client.create(pod_obj(0, 300, 0, "a", False, False))
    sim = s.base.sync()
    snap = sim.snapshot
    before = describe(sim, identity=True)
    held = snap.pods["default/p0"]
    sim.fork()
    sim.add_node(node_obj(50, 4, False, False) | {"metadata": {"name": "tmpl-0", "labels": {"zone": "z1"}}})
    placed = [PodInfo(pod_obj(10 + k, 100, None, "b", k == 0, k == 1)) for k in range(3)]
    placed[2].priority = -5  # the lowest priority of any pod while it is on the template node
    for pi in placed:
        sim.place(pi, "tmpl-0")
    moved = PodInfo(pod_obj(0, 300, None, "a", False, False))
    sim.unplace("default/p0")
    sim.place(moved, "tmpl-0")
    sim.unplace("default/p0")
    sim.place(moved, "n0")  # on from the template node: its undo puts it back there first
    assert (snap.ports_in_use, snap.lowest_priority(), len(snap.with_affinity)) == (1, -5, 1)
    sim.revert()
    assert describe(sim, identity=True) == before
    assert (snap.ports_in_use, snap.lowest_priority(), snap.with_affinity, snap.assumed) == (0, 0, {}, set())
    assert snap._ghosts == 0 and snap._priorities == {0: 1}
    assert all(pi.slot == -1 for pi in [*placed, moved])
    assert snap.pods == {"default/p0": held} and held.slot == snap.slot_of["n0"]
    assert list(snap.nodes[held.slot].pods) == ["default/p0"]  # type: ignore[union-attr]


def test_fork_that_grew_the_arrays_keeps_a_new_epoch() -> None:
    s = Stack()
    s.client.create(node_obj(0, 2, False, False))
    sim = s.base.sync()
    snap = sim.snapshot
    before, epoch, capacity = describe(sim, identity=True), snap.epoch, snap.capacity
    sim.fork()
    for k in range(capacity):  # past the arrays' capacity: they are reallocated
        sim.add_node(node_obj(50 + k, 4, False, False) | {"metadata": {"name": f"tmpl-{k}", "labels": {}}})
    sim.revert()
    assert describe(sim, identity=True) == before
    assert snap.capacity > capacity and snap.epoch != epoch
    assert snap.dirty_since(epoch, 0) is None


def test_sync_refuses_while_forked_and_writes_mid_scan_wait() -> None:
    s = Stack()
    s.client.create(node_obj(0, 2, False, False))
    sim = s.base.sync()
    sim.fork()
    s.client.create(pod_obj(0, 100, 0, "a", False, False))  # a write during the scan: only recorded
    assert sim.snapshot.pods == {}
    try:
        s.base.sync()
    except RuntimeError:
        pass
    else:
        raise AssertionError("sync while forked must fail")
    sim.revert()
    assert list(s.base.sync().snapshot.pods) == ["default/p0"]


def test_autoscaler_snapshot_stays_current_through_a_run(make_env: Any) -> None:
    """End to end: scale-up, scale-down with a drain, pods coming and going; after each stretch
    the autoscaler's snapshot (synced) equals one built from the informers."""
    env = make_env(nodegroup("general", minSize=1, maxSize=6, desiredSize=1), deployment("web", 6, cpu="700m"),
                   autoscaler())  # fmt: skip
    ca = env.ca
    for replicas, until in ((None, 300), (2, 1500), (5, 2100), (1, 3600)):
        if replicas is not None:
            env.client.patch("deployments.apps", "web", {"spec": {"replicas": replicas}}, namespace="default")
        env.run(until)
        assert ca.base.syncs > 0
        base, fresh = ca.base.sync(), ca.base.fresh()
        for c in base.snapshot.counters.values():
            fresh.snapshot.counter_all(c.terms)
        got = describe(base)
        assert got == describe(fresh) and got["pods"]
    assert ca.scale_ups > 1 and ca.scale_downs > 1


def test_namespace_labels_reresolve_affinity_terms() -> None:
    # p0's anti-affinity selects pods in namespaces labelled team=x: none, until default gets the label
    s = Stack()
    s.client.create(node_obj(0, 4, False, False))
    s.client.create(pod_obj(0, 100, 0, "a", True, False))
    before = {k[1] for k in s.base.sync().snapshot.term_groups}
    s.client.patch("namespaces", "default", {"metadata": {"labels": {"team": "x"}}})
    same_as_fresh(s)
    after = {k[1] for k, g in s.base.sync().snapshot.term_groups.items() if g[1].any()}
    assert before == {frozenset()} and after == {frozenset({"default"})}


# -- FirstFit: resuming each pod class where it last fit gives plain first-fit's answers ---------
fit_op = st.one_of(
    st.tuples(st.just("pod"), st.sampled_from(["", "", "anti", "spread", "port"]), st.sampled_from([300, 700]), app),
    st.tuples(st.just("skip"), st.integers(0, 5)),
    st.tuples(st.sampled_from(["move", "unplace"]), st.integers(0, 40)),
    st.tuples(st.just("retaint"), st.integers(0, 5)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cpus=st.lists(st.sampled_from([1, 2]), min_size=2, max_size=6), ops=st.lists(fit_op, max_size=40))
def test_first_fit_resume_gives_plain_first_fit(cpus: list[int], ops: list[tuple[Any, ...]]) -> None:
    """Both ways of taking pods out that scale-down uses: moving a pod off a node that is skipped
    from then on (the memo is kept unless the pod had affinity terms), and a rollback (reset);
    between scans a node's taint comes or goes (the node-only filters' kept verdicts must follow)."""
    memo, plain = SimCluster(), SimCluster()
    names = []
    tainted = {i for i in range(len(cpus)) if i == 3}
    for i, cpu in enumerate(cpus):
        for sim in (memo, plain):
            sim.add_node(node_obj(i, cpu, i in tainted, False))
        names.append(f"n{i}")
    fit = FirstFit(memo, list(names))
    skip: set[str] = set()
    placed: list[tuple[str, str, bool]] = []  # pod key, node, has affinity terms
    for k, o in enumerate(ops):
        if o[0] == "pod":
            kind, cpu, label = o[1], o[2], o[3]
            if kind:  # the constrained pods: one class each
                cpu, label = 300, "a"
            pod = pod_obj(100 + k, cpu, None, label, False, kind == "port")
            if kind == "anti":  # one per zone
                pod["spec"]["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"topologyKey": "zone", "labelSelector": {"matchLabels": {"app": "a"}}}]}}  # fmt: skip
            if kind == "spread":
                pod["spec"]["topologySpreadConstraints"] = [{"maxSkew": 1, "topologyKey": "zone",
                    "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "a"}}}]  # fmt: skip
            got = fit.find(PodInfo(pod), skip)
            want = plain.find_node(PodInfo(pod), [n for n in names if n not in skip])
            assert got == want
            if got is not None:
                memo.place(PodInfo(pod), got)
                plain.place(PodInfo(pod), got)
                placed.append((f"default/p{100 + k}", got, kind == "anti"))
        elif o[0] == "skip":
            skip.add(f"n{o[1]}")  # skip sets only grow (scale-down's removed nodes)
        elif o[0] == "retaint":  # a node update synced before the next scan: a new first-fit
            i = o[1] % len(cpus)
            tainted ^= {i}
            for sim in (memo, plain):
                sim.add_node(node_obj(i, cpus[i], i in tainted, False))
            fit = FirstFit(memo, list(names))
        elif placed:
            key, node, affinity = placed.pop(o[1] % len(placed))
            memo.unplace(key)
            plain.unplace(key)
            if o[0] == "move":  # off a node that is not a destination any more
                skip.add(node)
                if affinity:
                    fit.reset()
            else:
                fit.reset()  # a rollback: room came back


def _count_pre_filters(sim: SimCluster) -> list[int]:
    calls = [0]
    run = sim.framework.run_pre_filter

    def counted(*args: Any) -> Any:
        calls[0] += 1
        return run(*args)

    sim.framework.run_pre_filter = counted  # type: ignore[method-assign]
    return calls


@pytest.mark.parametrize(
    "kind, want, want_pre_filters",
    [
        # alike pods fill n0 (6 of 300m on 2 cpus), then n1: the filters run for the first pod on each node
        pytest.param("", ["n0"] * 6 + ["n1"] * 2, 2, id="alike-pods"),
        # host ports: one pod per node; the filters run for each pod until the class found no place
        pytest.param("port", ["n0", "n1", "n2"] + [None] * 5, 4, id="host-ports"),
        # a pod with anti-affinity terms on n2 keeps app=a out of zone z0 (n0, n2): InterPodAffinity
        # reads other nodes' pods, so the filters run for every pod until the class found no place
        pytest.param("anti-in-snapshot", ["n1"] * 6 + [None] * 2, 7, id="affinity-terms"),
    ],
)
def test_first_fit_alike_pods_ask_only_for_room(kind: str, want: list[str | None], want_pre_filters: int) -> None:
    """Where the last pod of a class passed every filter, the next one of the class is asked only
    whether the node still has room, when no other filter's verdict can have changed."""
    sim, plain = SimCluster(), SimCluster()
    names = ["n0", "n1", "n2"]
    for i in range(3):
        for s in (sim, plain):
            s.add_node(node_obj(i, 2, False, False))
    if kind == "anti-in-snapshot":
        for s in (sim, plain):
            pod = make_pod("anti").container("c", requests={"cpu": "100m"}).labels({"app": "c"}).obj()
            pod["spec"]["affinity"] = ANTI_A
            s.place(PodInfo(pod), "n2")
    calls = _count_pre_filters(sim)
    fit = FirstFit(sim, list(names))
    got = []
    for j in range(8):
        pod = pod_obj(j, 300, None, "a", False, kind == "port")
        target = fit.find(PodInfo(pod))
        assert target == plain.find_node(PodInfo(pod), names)
        if target is not None:
            sim.place(PodInfo(pod), target)
            plain.place(PodInfo(pod), target)
        got.append(target)
    assert got == want
    assert calls[0] == want_pre_filters


ANTI_A = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
    {"topologyKey": "zone", "labelSelector": {"matchLabels": {"app": "a"}}}]}}  # fmt: skip


@pytest.mark.parametrize(
    "steps, want",
    [
        # an anti-affine pod leaves z1 (moved off n1): z1's n3 is open again to the anti-affine class,
        # which had last landed on n4 (pods of a class with affinity terms are never resumed)
        pytest.param([("f1", 1900, "b", False), ("q", 300, "a", False), ("f2", 1900, "b", False),
                      ("p1", 300, "a", True), ("move", "q"), ("p2", 300, "a", True)], "n3", id="own-anti-affinity"),  # fmt: skip
        # a pod with anti-affinity terms moves off n1: the plain app=a pods it kept out of z1 fit n3 again
        pytest.param([("f1", 1900, "b", False), ("p", 300, "a", True), ("f2", 1900, "b", False),
                      ("r1", 300, "a", False), ("move", "p"), ("r2", 300, "a", False)], "n3", id="existing-anti-affinity"),  # fmt: skip
    ],
)
def test_first_fit_resume_and_pods_leaving(steps: list[tuple[Any, ...]], want: str) -> None:
    sim = SimCluster()
    names = [f"n{i}" for i in range(6)]  # zones z0, z1, z0, z1, ...
    for i in range(6):
        sim.add_node(node_obj(i, 2, False, False))
    fit = FirstFit(sim, names)
    skip: set[str] = set()
    where: dict[str, tuple[str, PodInfo]] = {}
    got = None
    for step in steps:
        if step[0] == "move":  # as scale-down moves a pod: off its node, which is skipped from then on
            node, pi = where.pop(step[1])
            sim.unplace(pi.key)
            skip.add(node)
            if pi.has_affinity:
                fit.reset()
            continue
        name, cpu, label, anti = step
        pod = make_pod(name).container("c", requests={"cpu": f"{cpu}m"}).labels({"app": label}).obj()
        if anti:
            pod["spec"]["affinity"] = ANTI_A
        pi = PodInfo(pod)
        got = fit.find(pi, skip)
        assert got is not None, name
        sim.place(pi, got)
        where[name] = (got, pi)
    assert got == want


def _pool_node(name: str, pool: str, tainted: bool, cordoned: bool) -> Obj:
    b = make_node(name).capacity(cpu="1", memory="8Gi").labels({"pool": pool}).ready()
    if tainted:
        b = b.taints([{"key": "t", "value": "v", "effect": "NoSchedule"}])
    return b.unschedulable(cordoned).obj()


@pytest.mark.parametrize(
    "change, want",
    [
        # n1 (another pool), n2 (tainted), n3 (cordoned) in turn become a fit for the next scan's pods
        pytest.param({"n1": ("a", False, False)}, "n1", id="relabelled-into-the-pool"),
        pytest.param({"n1": ("a", False, False), "n2": ("a", False, False)}, "n1", id="two-nodes-change"),
        pytest.param({"n1": ("b", True, False)}, None, id="still-another-pool"),
        pytest.param({"n2": ("a", False, False)}, "n2", id="untainted"),
        pytest.param({"n3": ("a", False, False)}, "n3", id="uncordoned"),
    ],
)
def test_first_fit_follows_node_changes(change: dict[str, tuple[str, bool, bool]], want: str | None) -> None:
    """First-fit keeps which nodes the node-only filters (labels, taints, cordon) reject per pod
    class; a node update between scans must show in the next scan's answers."""
    sim = SimCluster()
    nodes = {"n0": ("a", False, False), "n1": ("b", False, False), "n2": ("a", True, False), "n3": ("a", False, True)}
    for name, args in nodes.items():
        sim.add_node(_pool_node(name, *args))
    sim.place(PodInfo(make_pod("filler").container("c", requests={"cpu": "600m"}).obj()), "n0")

    def pod(i: int) -> PodInfo:
        return PodInfo(make_pod(f"p{i}").container("c", requests={"cpu": "600m"}).node_selector({"pool": "a"}).obj())

    assert FirstFit(sim, list(nodes)).find(pod(0)) is None  # a scan: no node of the pool has room
    for name, args in change.items():
        sim.add_node(_pool_node(name, *args))
    assert FirstFit(sim, list(nodes)).find(pod(1)) == want  # the next scan
