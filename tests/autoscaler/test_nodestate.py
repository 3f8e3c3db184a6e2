"""The autoscaler's NodeTracker: after any sequence of node and pod changes (and stops/starts) what
it reads equals a pass over the informers' objects, and every node whose facts, request sums or
pods being deleted changed is reported by take_changed (a node it leaves out must read as before:
that is what the scale-down candidates rely on)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.autoscaler.conftest import autoscaler, deployment, nodegroup

from builders import make_node, make_pod
from kubetwin.api import resources
from kubetwin.api.errors import ApiError
from kubetwin.autoscaler import drain, status
from kubetwin.autoscaler.nodestate import NodeTracker, node_facts
from kubetwin.client import Client, InformerFactory
from kubetwin.cloud.nodegroup import LABEL_NODEGROUP
from kubetwin.sim import EventLoop, SeededRNG
from kubetwin.store import Registry, Store

Obj = dict[str, Any]
NODES = 4
PODS = 8
FLAGS = [(False, False), (True, False), (False, True), (True, True)]


class Stack:
    """Store + informers + a tracker, no controllers: only the test changes objects."""

    def __init__(self) -> None:
        self.loop = EventLoop()
        self.registry = Registry(Store(), self.loop, SeededRNG(1))
        self.registry.bootstrap()
        self.client = Client(self.registry)
        self.informers = InformerFactory(self.registry)
        self.nodes = self.informers.get("nodes")
        self.pods = self.informers.get("pods")
        self.tracker = NodeTracker(self.nodes, self.pods, self.loop.parse_timestamp)
        self.tracker.start()

    def try_(self, fn: Any, *args: Any, **kw: Any) -> None:
        try:
            fn(*args, **kw)
        except ApiError:
            pass  # e.g. the object is not there (yet); the sequence goes on


def node_obj(i: int, group: str, ready: bool) -> Obj:
    labels = {LABEL_NODEGROUP: group} if group else {}
    obj = make_node(f"n{i}").capacity(cpu="2", memory="4Gi").labels(labels).ready("True" if ready else "False").obj()
    obj["metadata"]["finalizers"] = ["test.kubetwin.io/keep"]  # delete leaves a deletionTimestamp
    for c in obj["status"]["conditions"]:
        c["lastHeartbeatTime"] = "2026-01-01T00:00:00Z"  # renewed by the "heartbeat" op
    return obj


def pod_obj(j: int, cpu: int, node: int | None, kind: str) -> Obj:
    b = make_pod(f"p{j}").container("c", requests={"cpu": f"{cpu}m", "memory": f"{cpu}Mi"})
    if node is not None:
        b = b.node(f"n{node}")
    if kind in ("ds", "both"):
        b = b.owner("DaemonSet", "ds", uid="ds-uid")
    else:
        b = b.owner("ReplicaSet", "rs", uid="rs-uid")
    if kind in ("mirror", "both"):
        b = b.annotations({drain.MIRROR_ANNOTATION: "x"})
    return b.set("spec.terminationGracePeriodSeconds", 20).obj()


def apply(s: Stack, op: tuple[Any, ...]) -> None:
    c, kind = s.client, op[0]
    if kind == "node":
        s.try_(c.create, node_obj(op[1], op[2], op[3]))
    elif kind == "regroup":
        s.try_(c.patch, "nodes", f"n{op[1]}", {"metadata": {"labels": {LABEL_NODEGROUP: op[2] or None}}})
    elif kind == "readiness":
        node = s.nodes.get(f"n{op[1]}")
        if node is not None:
            s.try_(c.update_status, {**node, "status": {**node["status"], "conditions": [
                {"type": "Ready", "status": "True" if op[2] else "False", "lastHeartbeatTime": s.loop.timestamp()}]}})  # fmt: skip
    elif kind == "heartbeat":  # the kubelet's status report: only heartbeat times are renewed
        node = s.nodes.get(f"n{op[1]}")
        if node is not None:
            conds = [{**c, "lastHeartbeatTime": s.loop.timestamp(s.loop.now + 1)} for c in node["status"]["conditions"]]
            s.try_(s.registry.set_fields_trusted, "nodes", "", f"n{op[1]}", "status", {"conditions": conds})
    elif kind == "resize-node":
        node = s.nodes.get(f"n{op[1]}")
        if node is not None:
            alloc = {**node["status"]["allocatable"], "cpu": str(op[2])}
            s.try_(c.update_status, {**node, "status": {**node["status"], "allocatable": alloc}})
    elif kind == "taint":
        taints = [{"key": "ToBeDeletedByClusterAutoscaler", "value": "1", "effect": "NoSchedule"}] if op[2] else []
        s.try_(c.patch, "nodes", f"n{op[1]}", {"spec": {"taints": taints}})
    elif kind == "disable":
        s.try_(c.patch, "nodes", f"n{op[1]}",
               {"metadata": {"annotations": {drain.SCALE_DOWN_DISABLED: "true" if op[2] else None}}})  # fmt: skip
    elif kind == "delete-node":
        s.try_(c.delete, "nodes", f"n{op[1]}")
    elif kind == "forget-node":  # the finalizer goes: the node leaves the informer
        s.try_(c.patch, "nodes", f"n{op[1]}", {"metadata": {"finalizers": None}})
    elif kind == "pod":
        s.try_(c.create, pod_obj(op[1], op[2], op[3], op[4]))
    elif kind == "bind":
        pod = s.pods.get(f"p{op[1]}", "default")
        if pod is not None and not pod["spec"].get("nodeName"):
            s.try_(c.bind, "default", f"p{op[1]}", f"n{op[2]}")
    elif kind == "phase":
        pod = s.pods.get(f"p{op[1]}", "default")
        if pod is not None:
            s.try_(c.update_status, {**pod, "status": {**(pod.get("status") or {}), "phase": op[2]}})
    elif kind == "mirror":
        s.try_(c.patch, "pods", f"p{op[1]}", {"metadata": {"annotations": {drain.MIRROR_ANNOTATION: "x" if op[2]
                                                                           else None}}}, namespace="default")  # fmt: skip
    elif kind == "delete-pod":  # graceful: a bound pod stays, being deleted, until its grace is over
        s.try_(c.delete, "pods", f"p{op[1]}", "default", grace_period_seconds=0 if op[2] else None)
    elif kind == "wait":
        s.loop.run(until=s.loop.now + op[1])
    elif kind == "restart":
        s.tracker.stop()
        s.tracker.start()
    s.loop.run(until=s.loop.now + 1)


def utilization_by_pass(s: Stack, node: Obj, ignore_ds: bool, ignore_mirror: bool) -> tuple[float, float, float]:
    """The request sums as a pass over the node's pods computes them (what every scan used to do)."""
    alloc = resources.resource_list(node["status"].get("allocatable"))
    cpu_req = mem_req = ignored_cpu = ignored_mem = 0
    for pod in s.pods.list():
        if pod["spec"].get("nodeName") != node["metadata"]["name"] or drain.is_terminal(pod):
            continue
        if drain.is_long_terminating(pod, s.loop.now, s.loop.parse_timestamp):
            continue
        req = resources.pod_requests(pod)
        if (ignore_ds and drain.is_daemonset_pod(pod)) or (ignore_mirror and drain.is_mirror(pod)):
            ignored_cpu += req.get("cpu", 0)
            ignored_mem += req.get("memory", 0)
        else:
            cpu_req += req.get("cpu", 0)
            mem_req += req.get("memory", 0)
    cpu_alloc, mem_alloc = alloc.get("cpu", 0) - ignored_cpu, alloc.get("memory", 0) - ignored_mem
    cpu = cpu_req / cpu_alloc if cpu_alloc > 0 else 0.0
    mem = mem_req / mem_alloc if mem_alloc > 0 else 0.0
    return (max(cpu, mem), cpu, mem)


def reads(s: Stack) -> dict[str, Any]:
    """Everything the tracker answers, checked against the informers' objects on the way."""
    t = s.tracker
    nodes = s.nodes.list()
    live = [n for n in nodes if not n["metadata"].get("deletionTimestamp")]
    assert t.order() == [n["metadata"]["name"] for n in live]
    out: dict[str, Any] = {}
    for g in ("g0", "g1", ""):
        mine = [n for n in live if (n["metadata"].get("labels") or {}).get(LABEL_NODEGROUP, "") == g]
        assert [(k, id(v)) for k, v in t.members(g).items()] == [(n["metadata"]["name"], id(n)) for n in mine]
        want = {n["metadata"]["name"]: node_facts(n, s.loop.parse_timestamp).created
                for n in mine if not resources.is_node_ready(n)}  # fmt: skip
        assert t.unready(g) == want
    for node in nodes:
        name = node["metadata"]["name"]
        f = t.facts(node)
        assert f == node_facts(node, s.loop.parse_timestamp)
        assert t.current(name) == (node, f)
        utils = [t.utilization(node, s.loop.now, *flags) for flags in FLAGS]
        assert utils == [utilization_by_pass(s, node, *flags) for flags in FLAGS]
        deleting = any(p["spec"].get("nodeName") == name and p["metadata"].get("deletionTimestamp")
                       and not drain.is_terminal(p) for p in s.pods.list())  # fmt: skip
        assert t.has_deleting_pods(name) == deleting
        out[name] = (f, utils, deleting)
    return out


i_node = st.integers(0, NODES - 1)
i_pod = st.integers(0, PODS - 1)
group = st.sampled_from(["g0", "g1", ""])
op = st.one_of(
    st.tuples(st.just("node"), i_node, group, st.booleans()),
    st.tuples(st.just("regroup"), i_node, group),
    st.tuples(st.just("readiness"), i_node, st.booleans()),
    st.tuples(st.just("heartbeat"), i_node),
    st.tuples(st.just("resize-node"), i_node, st.sampled_from([1, 3])),
    st.tuples(st.just("taint"), i_node, st.booleans()),
    st.tuples(st.just("disable"), i_node, st.booleans()),
    st.tuples(st.just("delete-node"), i_node),
    st.tuples(st.just("forget-node"), i_node),
    st.tuples(st.just("pod"), i_pod, st.sampled_from([100, 300]), st.one_of(st.none(), i_node),
              st.sampled_from(["", "ds", "mirror", "both"])),  # fmt: skip
    st.tuples(st.just("bind"), i_pod, i_node),
    st.tuples(st.just("phase"), i_pod, st.sampled_from(["Running", "Succeeded", "Failed"])),
    st.tuples(st.just("mirror"), i_pod, st.booleans()),
    st.tuples(st.just("delete-pod"), i_pod, st.booleans()),
    st.tuples(st.just("wait"), st.sampled_from([10, 60])),
    st.tuples(st.just("restart")),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=1, max_size=40))
def test_tracker_reads_equal_a_pass_over_the_informers(ops: list[tuple[Any, ...]]) -> None:
    s = Stack()
    before = reads(s)
    s.tracker.take_changed()
    for o in ops:
        apply(s, o)
        after = reads(s)
        changed = s.tracker.take_changed()
        for name, (f, utils, deleting) in after.items():
            if name in changed or deleting:  # pods being deleted: the reads depend on the time
                continue
            assert before.get(name) == (f, utils, deleting), (o, name)
        before = after


@pytest.mark.parametrize(
    "ops",
    [
        pytest.param([("delete-pod", 0, False), ("mirror", 0, True)], id="pod-being-deleted-becomes-mirror"),
        pytest.param([("delete-pod", 0, False), ("wait", 60)], id="pod-turns-long-terminating"),
        pytest.param([("mirror", 0, True), ("mirror", 0, False)], id="counted-pod-category-changes"),
        pytest.param([("phase", 0, "Succeeded"), ("phase", 0, "Running")], id="terminal-and-back"),
        pytest.param([("heartbeat", 0), ("heartbeat", 1), ("readiness", 0, True), ("heartbeat", 0)],
                     id="heartbeats-keep-the-newest-objects"),
        pytest.param([("regroup", 0, "g1"), ("delete-node", 0), ("forget-node", 0), ("node", 0, "g0", True)],
                     id="node-regrouped-deleted-and-back"),
    ],
)  # fmt: skip
def test_tracker_reads_after(ops: list[tuple[Any, ...]]) -> None:
    s = Stack()
    for o in [("node", 1, "g0", True), ("node", 0, "g0", False), ("pod", 0, 300, 0, ""), ("pod", 1, 100, 0, "ds"),
              *ops]:  # fmt: skip
        apply(s, o)
        reads(s)


def test_mid_group_regroup_keeps_informer_order() -> None:
    s = Stack()
    for i, g in enumerate(["g0", "g1", "g0", "g1"]):
        s.client.create(node_obj(i, g, True))
    s.client.patch("nodes", "n1", {"metadata": {"labels": {LABEL_NODEGROUP: "g0"}}})
    assert list(s.tracker.members("g0")) == ["n0", "n1", "n2"]
    assert list(s.tracker.members("g1")) == ["n3"]


def test_members_handed_out_stay_as_they_were() -> None:
    """A scan's view of a group (members()) is the tracker's dict, not a copy: later changes go to
    a copy of it (and the tracker reads them: reads() fails if it kept the dict it handed out),
    but for heartbeat-only reports, swapped in place (the same facts)."""
    s = Stack()
    for o in [("node", 0, "g0", True), ("node", 1, "g0", True), ("node", 2, "g1", False)]:
        apply(s, o)
    seen = s.tracker.members("g0")
    before = {k: id(v) for k, v in seen.items()}
    for o in [("heartbeat", 0), ("delete-node", 1), ("node", 3, "g0", True), ("readiness", 0, False),
              ("regroup", 2, "g0"), ("heartbeat", 1)]:  # fmt: skip
        apply(s, o)
        if o[0] == "heartbeat" and s.tracker._members.get("g0") is seen:  # (before any other change)
            before[f"n{o[1]}"] = id(s.nodes.get(f"n{o[1]}"))
        assert {k: id(v) for k, v in seen.items()} == before, o
        reads(s)
    assert list(s.tracker.members("g0")) == ["n0", "n2", "n3"]
    assert s.tracker.facts(seen["n0"]).ready and not s.tracker.facts(s.tracker.members("g0")["n0"]).ready


def test_stopped_tracker_keeps_nothing_and_restarts_from_the_informers() -> None:
    s = Stack()
    s.client.create(node_obj(0, "g0", False))
    s.client.create(pod_obj(0, 300, 0, ""))
    s.tracker.stop()
    s.client.create(pod_obj(1, 100, 0, ""))
    assert s.tracker.order() == [] and s.tracker.names() == []
    s.tracker.start()
    reads(s)
    node = s.nodes.get("n0")
    assert node is not None and s.tracker.utilization(node, s.loop.now, False, False)[1] == pytest.approx(0.2)


def candidates_by_pass(ca: Any) -> set[str]:
    """The nodes a scan must look at closer: not Ready, a pod being deleted, or under the threshold."""
    t, thr = ca.tracker, ca.options.scale_down_utilization_threshold
    return {n["metadata"]["name"] for n in ca.nodes.list()
            if not n["metadata"].get("deletionTimestamp")
            and (not resources.is_node_ready(n) or t.has_deleting_pods(n["metadata"]["name"])
                 or utilization_by_pass_ca(ca, n) < thr)}  # fmt: skip


def utilization_by_pass_ca(ca: Any, node: Obj) -> float:
    o = ca.options
    return ca.tracker.utilization(node, ca.loop.now, o.ignore_daemonsets_utilization,
                                  o.ignore_mirror_pods_utilization)[0]  # fmt: skip


@pytest.mark.parametrize(
    ("threshold", "candidates"),
    [
        pytest.param(None, 0, id="62%-used-at-0.5"),
        pytest.param(0.7, 2, id="62%-used-at-0.7"),
        pytest.param(0.1, 0, id="62%-used-at-0.1"),
    ],
)
def test_threshold_change_reclassifies_every_node(make_env: Any, threshold: float | None, candidates: int) -> None:
    """Scale-down candidates are kept across scans; a new threshold must re-read every node (a
    candidate set kept from the old threshold would not offer these two)."""
    env = make_env(nodegroup("g", minSize=1, maxSize=3, desiredSize=2), deployment("web", 2, cpu="1200m"),
                   autoscaler())  # fmt: skip
    env.run(1250)  # (the nodes' status reports: every 5 m, the last one at 1200 s)
    ca = env.ca
    assert len(env.nodes("g")) == 2 and set(ca.unremovable.values()) == {"NotUnderutilized"}
    assert ca._maybe_under == set()
    if threshold is not None:
        env.client.patch("clusterautoscalers.kubetwin.io", "default",
                         {"spec": {"scaleDownUtilizationThreshold": threshold}})  # fmt: skip
    env.run(1280)
    assert ca._maybe_under == candidates_by_pass(ca) and len(ca._maybe_under) == candidates


def test_candidates_stay_current_through_a_run(make_env: Any) -> None:
    """End to end: scale-up, scale-down with drains, pods coming and going; after each stretch the
    kept candidates are the nodes a pass over every node picks, and the unremovable reasons cover
    every node of the group that is not a candidate."""
    env = make_env(nodegroup("general", minSize=1, maxSize=6, desiredSize=1), deployment("web", 6, cpu="700m"),
                   autoscaler())  # fmt: skip
    ca = env.ca
    for replicas, until in ((None, 300), (2, 1500), (5, 2100), (1, 3600)):
        if replicas is not None:
            env.client.patch("deployments.apps", "web", {"spec": {"replicas": replicas}}, namespace="default")
        env.run(until)
        ca._classify()
        assert ca._maybe_under == candidates_by_pass(ca)
        for name, util in ca._utils.items():  # kept utilizations read as now
            assert util == ca.utilization(ca.nodes.get(name))
        reasons = ca.unremovable
        members = {n["metadata"]["name"] for n in env.nodes("general") if not n["metadata"].get("deletionTimestamp")}
        assert set(reasons) <= members
    assert ca.scale_ups > 1 and ca.scale_downs > 1


@pytest.mark.parametrize(
    ("max_size", "cpu", "patch", "desired"),
    [
        pytest.param(1, "1200m", {}, 1, id="unchanged-spec-max-1"),
        pytest.param(1, "1200m", {"maxSize": 3}, 2, id="max-size-raised"),
        pytest.param(3, "3", {"instanceType": "m5.xlarge"}, 2, id="bigger-instance-type"),
    ],
)
def test_group_spec_changes_reach_the_next_scan(make_env: Any, max_size: int, cpu: str, patch: Obj,
                                                desired: int) -> None:  # fmt: skip
    """The parsed NodeGroup spec and its template node are kept per spec: a spec change must be
    read again (the group's status changes all the time and must not matter). A 3-CPU pod fits
    no m5.large (2 vCPU), nor its template node, until the group is m5.xlarge."""
    env = make_env(nodegroup("g", minSize=1, maxSize=max_size), deployment("web", 2 if max_size == 1 else 1, cpu=cpu),
                   autoscaler())  # fmt: skip
    env.run(60)
    assert env.group("g")["spec"]["desiredSize"] == 1
    status_doc = env.client.get("configmaps", "cluster-autoscaler-status", "kube-system")["data"]["status"]
    assert f"maxSize: {max_size}" in status_doc
    if patch:
        env.client.patch("nodegroups.kubetwin.io", "g", {"spec": patch})
    env.run(90)
    assert env.group("g")["spec"]["desiredSize"] == desired
    env.run(120)
    status_doc = env.client.get("configmaps", "cluster-autoscaler-status", "kube-system")["data"]["status"]
    assert f"maxSize: {patch.get('maxSize', max_size)}" in status_doc


PDB = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web", "namespace": "default"},
       "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param(None, None, id="unchanged-removable"),
        pytest.param("safe-to-evict-false", "NotSafeToEvictAnnotation", id="pod-annotated"),
        pytest.param("pdb", "NotEnoughPdb", id="pdb-created"),
    ],
)
def test_drain_plans_follow_pod_and_pdb_changes(make_env: Any, change: str | None, reason: str | None) -> None:
    """Drain rules are kept per node while its pods are the same objects, PDB matches while the
    PDBs' selectors are the same: the first node (one 300m pod, the least utilised) is unneeded
    until one of its pods or a PDB says otherwise."""
    env = make_env(nodegroup("g", minSize=1, maxSize=3, desiredSize=2), deployment("web", 2, cpu="300m"),
                   autoscaler(unremovableNodeRecheckTimeout="0s"))  # fmt: skip
    env.run(300)
    ca = env.ca
    assert len(ca.unneeded_since) == 1
    (first,) = ca.unneeded_since
    if change == "safe-to-evict-false":
        for pod in env.pods():
            env.client.patch("pods", pod["metadata"]["name"], {"metadata": {
                "annotations": {drain.SAFE_TO_EVICT: "false"}}}, namespace="default")  # fmt: skip
    elif change == "pdb":
        env.client.create(PDB)
    env.run(320)
    assert ca.unremovable.get(first) == reason
    assert (first in ca.unneeded_since) == (reason is None)


@pytest.mark.parametrize(
    "group",
    [
        pytest.param(status.GroupStatus("general", status.Counts(ready=3), 3, 1, 10), id="healthy"),
        pytest.param(status.GroupStatus("slow", status.Counts(ready=1, not_started=2, unregistered=1), 4, 1, 5,
                                        status.BACKOFF, ("timeout", "Nodes added to group slow failed to register "
                                                         "within 15m0s: a long message that needs more than eighty "
                                                         "columns, with 'quotes', colons: and #hashes"), 2),
                     id="backoff-long-message"),
    ],
)  # fmt: skip
def test_status_renders_as_pyyaml_python_emitter(group: Any) -> None:
    """The status document goes through libyaml's emitter when PyYAML has it: the same text."""
    writer = status.StatusWriter()
    doc = writer.document([group], status.IN_PROGRESS, "2026-01-01T00:00:10Z")
    assert status.render(doc) == yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def test_last_pass_record_keeps_the_candidates_and_rechecks_it_saw(make_env: Any) -> None:
    """The scale-down pass's record holds the candidate set and recently_unremovable themselves;
    the changes after it go to copies (the record reads as then, the autoscaler as now)."""
    env = make_env(nodegroup("g", minSize=1, maxSize=3, desiredSize=2), deployment("web", 2, cpu="1200m"),
                   autoscaler())  # fmt: skip
    env.run(1250)
    ca = env.ca
    rec = ca._last_pass
    assert rec is not None and rec.candidates is ca._maybe_under and rec.recently_unremovable is ca.recently_unremovable
    candidates, recently = set(rec.candidates), dict(rec.recently_unremovable)
    ca._set_candidate("elsewhere", True)
    ca._recently_for_write()["elsewhere"] = 1.0
    assert set(rec.candidates) == candidates and dict(rec.recently_unremovable) == recently
    assert "elsewhere" in ca._maybe_under and ca.recently_unremovable["elsewhere"] == 1.0
    ca._set_candidate("elsewhere", False)
    assert "elsewhere" not in ca._maybe_under


def test_drain_plan_kept_through_status_writes_and_drains_take_current_pods(make_env: Any) -> None:
    """A pod status write the drain rules do not read keeps the node's plan (the same object, its
    pods the older versions); a drain started from it evicts, and names in its Events, the
    current versions. A pod that comes to the node makes the plan again."""
    env = make_env(nodegroup("g", minSize=1, maxSize=3, desiredSize=2), deployment("web", 2, cpu="300m"),
                   autoscaler(unremovableNodeRecheckTimeout="0s"))  # fmt: skip
    env.run(300)
    ca = env.ca
    (first,) = ca.unneeded_since
    plan = ca._plans[first][2]
    (pod,) = plan.to_move
    live = env.client.get("pods", pod["metadata"]["name"], "default")
    conds = [*live["status"].get("conditions", []), {"type": "Example", "status": "True"}]
    env.client.update_status({**live, "status": {**live["status"], "conditions": conds}})
    current = ca.pods.get_by_key(f"default/{pod['metadata']['name']}")
    assert current is not pod
    env.run(310)
    assert ca._plans[first][2] is plan and plan.to_move[0] is pod  # kept: an older version of the pod
    env.run(1500)  # unneeded for 10m: drained
    evicted = [e for e in env.events("ScaleDown") if e["involvedObject"]["kind"] == "Pod"]
    assert [e["involvedObject"]["resourceVersion"] for e in evicted] == [current["metadata"]["resourceVersion"]]
    assert ca._drain_inputs.get(first) is not None
    before = ca._drain_inputs[first]
    ca._touch_node({"spec": {"nodeName": first}})
    assert ca._drain_inputs[first] != before


def test_gone_nodes_drop_their_drain_plans_and_input_versions(make_env: Any) -> None:
    """Past twice the nodes' count of kept plans, the plans and the drain input versions of nodes
    the tracker no longer holds go; the live nodes keep their versions (their plans made again)."""
    env = make_env(nodegroup("g", minSize=1, maxSize=3, desiredSize=2), deployment("web", 2, cpu="300m"),
                   autoscaler(unremovableNodeRecheckTimeout="0s"))  # fmt: skip
    env.run(300)
    ca = env.ca
    (first,) = ca.unneeded_since
    for i in range(100):
        ca._drain_inputs[f"gone-{i}"] = i
        ca._plans[f"gone-{i}"] = ca._plans[first]
    (pod,) = ca._plans[first][2].to_move  # a change of its pod: the node's plan is made again, and kept
    env.client.patch("pods", pod["metadata"]["name"], {"metadata": {"annotations": {"example.com/x": "y"}}},
                     namespace="default")  # fmt: skip
    env.run(320)
    assert set(ca._drain_inputs) <= set(ca.tracker.names()) and first in ca._drain_inputs
    assert first in ca._plans and set(ca._plans) <= set(ca.tracker.names()) and first in ca.unneeded_since
