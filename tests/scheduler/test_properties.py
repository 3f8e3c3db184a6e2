"""Invariants: no node over-committed on requests; every bound pod passes every Filter plugin
against the final state (excluding itself).

Constraints are per app (app x spreads over zones, app y is anti-affine per host, app z is plain)
so that later placements cannot legitimately invalidate an earlier pod's constraints.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import make_node, make_pod
from kubetwin.api.resources import pod_requests
from kubetwin.scheduler import CycleState, PodInfo

from .conftest import SchedStack

ZONES = ["a", "b"]
node_st = st.tuples(st.sampled_from([1, 2, 4]), st.sampled_from([1, 2, 8]), st.integers(2, 6),
                    st.booleans(), st.sampled_from(ZONES))  # fmt: skip
pod_st = st.tuples(st.sampled_from([0, 100, 500, 1000, 1500]), st.sampled_from([0, 256, 1024]),
                   st.sampled_from(["x", "y", "z"]))  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nodes=st.lists(node_st, min_size=1, max_size=5), pods=st.lists(pod_st, min_size=1, max_size=25))
def test_no_overcommit_and_filters_hold(nodes: list, pods: list) -> None:
    s = SchedStack(seed=3)
    for i, (cpu, mem, maxpods, tainted, zone) in enumerate(nodes):
        b = make_node(f"n{i}").capacity(cpu=str(cpu), memory=f"{mem}Gi", pods=maxpods)
        b = b.labels({"topology.kubernetes.io/zone": zone})
        if tainted:
            b = b.taints([{"key": "t", "value": "v", "effect": "NoSchedule"}])
        s.create(b.obj())
    for j, (cpu, mem, app) in enumerate(pods):
        anti, spread = app == "y", app == "x"
        req = {}
        if cpu:
            req["cpu"] = f"{cpu}m"
        if mem:
            req["memory"] = f"{mem}Mi"
        b = make_pod(f"p{j}").container("c", requests=req or None).labels({"app": app})
        if anti:
            b = b.set("spec.affinity", {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": app}}}]}})  # fmt: skip
        if spread:
            b = b.set("spec.topologySpreadConstraints", [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                      "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": app}}}])  # fmt: skip
        s.create(b.obj())
    s.settle()
    live = s.client.list("pods", "default")
    for node in s.client.list("nodes"):
        name = node["metadata"]["name"]
        on = [p for p in live if p["spec"].get("nodeName") == name]
        alloc = node["status"]["allocatable"]
        assert len(on) <= int(alloc["pods"])
        for res, cap in (("cpu", int(alloc["cpu"]) * 1000), ("memory", None)):
            total = sum(pod_requests(p).get(res, 0) for p in on)
            if cap is None:
                from kubetwin.api.quantity import to_int

                cap = to_int(alloc["memory"])
            assert total <= cap
    # Every bound pod passes every Filter against the final state without itself.
    fw = s.scheduler.framework
    snap = s.scheduler.snapshot
    for p in live:
        if not p["spec"].get("nodeName"):
            continue
        key = f"default/{p['metadata']['name']}"
        pi = snap.pods[key]
        ni = snap.get(p["spec"]["nodeName"])
        assert ni is not None
        snap.remove_pod(key)
        try:
            fresh = PodInfo(p)
            state = CycleState()
            assert fw.run_pre_filter(state, fresh).is_success()
            st_ = fw.run_filter(state, fresh, ni)
            assert st_.is_success(), (key, st_)
        finally:
            snap.add_pod(pi.pod, pi)


@settings(max_examples=200, deadline=None)
@given(
    entries=st.lists(
        st.tuples(st.lists(st.booleans(), min_size=12, max_size=12), st.sampled_from([2, 3]),
                  st.lists(st.sampled_from(["r1", "r2", "r3"]), min_size=1, max_size=2)),
        max_size=5,
    ),
    per_node=st.dictionaries(st.integers(0, 11), st.sampled_from(["p1", "p2"]), max_size=3),
)  # fmt: skip
def test_diagnosis_node_status_combines_entries_per_slot(
    entries: list[tuple[list[bool], int, list[str]]], per_node: dict[int, str]
) -> None:
    """Each rejected slot's status: the reasons of the entries covering it in order, the highest
    code; per-node statuses win. (Slots rejected by the same entries may share one Status.)"""
    import numpy as np

    from kubetwin.scheduler.framework import Code, Status, unschedulable
    from kubetwin.scheduler.scheduler import Diagnosis

    diag = Diagnosis(12)
    for mask, code, reasons in entries:
        diag.entries.append((np.array(mask, dtype=bool), Status(Code(code), *reasons)))
    for slot, reason in per_node.items():
        diag.per_node[slot] = unschedulable(reason)
    statuses = diag.node_status(None)  # type: ignore[arg-type]
    got = statuses.as_dict()
    unresolvable = statuses.unresolvable(np.arange(12)).tolist()
    assert unresolvable == [s in got and got[s].code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE for s in range(12)]
    want: dict[int, tuple[int, list[str]]] = {}
    for mask, code, reasons in entries:
        for s in (i for i, m in enumerate(mask) if m):
            c, r = want.get(s, (0, []))
            want[s] = (max(c, code), r + reasons)
    for slot, reason in per_node.items():
        want[slot] = (int(Code.UNSCHEDULABLE), [reason])
    assert {s: (int(x.code), x.reasons) for s, x in got.items()} == want
