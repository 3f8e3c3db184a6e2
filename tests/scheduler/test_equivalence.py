"""The per-class caches (equivalence.py) always equal a fresh evaluation of the plugins, whatever
happened to the nodes in between (pods assumed, forgotten, deleted; nodes resized, added, removed)
and whichever scoring configuration (fused default path or the plugins' generic paths)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from builders import make_node, make_pod
from kubetwin.scheduler import CycleState, PodInfo, Profile, equivalence
from kubetwin.scheduler.cache import Snapshot
from kubetwin.scheduler.equivalence import EquivalenceCache
from kubetwin.scheduler.framework import Framework, PluginSpec
from kubetwin.scheduler.plugins import REGISTRY

POD_SHAPES = [(None, None), ("100m", "128Mi"), ("900m", "1Gi"), ("2", "3Gi"), ("250m", None)]
NODE_SHAPES = [("1", "2Gi", 3), ("2", "4Gi", 5), ("4", "1Gi", 2), ("0", "2Gi", 4)]

op_st = st.one_of(
    st.tuples(st.just("assume"), st.integers(0, len(POD_SHAPES) - 1), st.integers(0, 7)),
    st.tuples(st.just("forget"), st.integers(0, 40), st.just(0)),
    st.tuples(st.just("resize"), st.integers(0, len(NODE_SHAPES) - 1), st.integers(0, 7)),
    st.tuples(st.just("add"), st.integers(0, len(NODE_SHAPES) - 1), st.just(0)),
    st.tuples(st.just("remove"), st.integers(0, 7), st.just(0)),
    st.tuples(st.just("check"), st.integers(0, len(POD_SHAPES) - 1), st.just(0)),
)


def _node(name: str, shape: int) -> dict:
    cpu, mem, pods = NODE_SHAPES[shape]
    return make_node(name).capacity(cpu=cpu, memory=mem, pods=pods).obj()


def _pod(name: str, shape: int) -> PodInfo:
    cpu, mem = POD_SHAPES[shape]
    req = {k: v for k, v in (("cpu", cpu), ("memory", mem)) if v}
    return PodInfo(make_pod(name).container("c", requests=req or None).obj())


PROFILES = {
    "default": [PluginSpec("NodeResourcesFit", 1), PluginSpec("NodeResourcesBalancedAllocation", 1)],
    "most-weighted": [
        PluginSpec("NodeResourcesFit", 3, {"scoringStrategy": {"type": "MostAllocated", "resources": [
            {"name": "cpu", "weight": 2}, {"name": "memory", "weight": 5}]}}),  # fmt: skip
        PluginSpec("NodeResourcesBalancedAllocation", 2),
    ],
    "generic": [
        PluginSpec("NodeResourcesFit", 1, {"scoringStrategy": {"resources": [{"name": "memory", "weight": 1}]}}),
        PluginSpec("NodeResourcesBalancedAllocation", 1, {"resources": [{"name": "memory"}, {"name": "cpu"}]}),
    ],
}


def _fresh(fw: Framework, pi: PodInfo) -> tuple[np.ndarray, np.ndarray]:
    snap = fw.snapshot
    state = CycleState()
    fit = fw.plugin("NodeResourcesFit")
    assert fit is not None
    bad = np.zeros(snap.n, dtype=bool)
    for mask, _ in fit.filter_all(state, pi, snap):
        bad |= mask
    slots = snap.alive_slots()
    total = np.zeros(len(slots), dtype=np.int64)
    for p in fw.score_plugins:
        total += fw.weights[p.NAME] * p.normalize_score(state, pi, p.score_all(state, pi, slots))
    return bad, total


@pytest.mark.parametrize("patch_limit", [pytest.param(48, id="scalar-patch"), pytest.param(0, id="vector-patch")])
@pytest.mark.parametrize("profile", list(PROFILES), ids=list(PROFILES))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op_st, min_size=1, max_size=40))
def test_cache_matches_fresh_evaluation(profile: str, patch_limit: int, ops: list) -> None:
    saved = equivalence.SCALAR_PATCH_LIMIT
    equivalence.SCALAR_PATCH_LIMIT = patch_limit
    try:
        _run(profile, ops)
    finally:
        equivalence.SCALAR_PATCH_LIMIT = saved


def _run(profile: str, ops: list) -> None:
    snap = Snapshot(capacity=4)
    fw = Framework(Profile(plugins=PROFILES[profile]), snap, REGISTRY)
    eq = EquivalenceCache(snap)
    for i in range(4):
        snap.add_node(_node(f"n{i}", i % len(NODE_SHAPES)))
    added = 4
    assumed: list[PodInfo] = []
    for j, (op, a, b) in enumerate(ops + [("check", k, 0) for k in range(len(POD_SHAPES))]):
        names = sorted(snap.slot_of)
        if op == "assume" and names:
            pi = _pod(f"p{j}", a)
            snap.assume(pi, names[b % len(names)])
            assumed.append(pi)
        elif op == "forget" and assumed:
            snap.forget(assumed.pop(a % len(assumed)))
        elif op == "resize" and names:
            snap.update_node(_node(names[b % len(names)], a))
        elif op == "add":
            snap.add_node(_node(f"n{added}", a))
            added += 1
        elif op == "remove" and len(names) > 1:
            snap.remove_node(names[a % len(names)])
        elif op == "check":
            pi = _pod(f"c{j}", a)
            state = CycleState()
            fit = fw.plugin("NodeResourcesFit")
            assert fit is not None
            bad, count = eq.filter_fail(state, pi, fit)
            want_bad, want_total = _fresh(fw, pi)
            alive = snap.alive[: snap.n]
            assert (bad[: snap.n] & alive).tolist() == (want_bad & alive).tolist()
            assert count == int(np.count_nonzero(want_bad & alive))
            local = tuple((p, fw.weights[p.NAME]) for p in fw.score_plugins)
            base = eq.base_scores(state, pi, local)
            assert base.take(snap.alive_slots()).tolist() == want_total.tolist()


spread_op_st = st.one_of(
    st.tuples(st.just("assume"), st.sampled_from(["s", "t", "u"]), st.integers(0, 7)),
    st.tuples(st.just("forget"), st.just(""), st.integers(0, 40)),
    st.tuples(st.just("relabel"), st.sampled_from(["a", "b", "c", None]), st.integers(0, 7)),
    st.tuples(st.just("add"), st.sampled_from(["a", "b", "c"]), st.just(0)),
    st.tuples(st.just("remove"), st.just(""), st.integers(0, 7)),
    st.tuples(st.just("check"), st.sampled_from(["s", "t"]), st.just(0)),
)


def _spread_pod(name: str, app: str) -> PodInfo:
    b = make_pod(name).container("c", requests={"cpu": "10m"}).labels({"app": app})
    b = b.set("spec.topologySpreadConstraints", [
        {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
         "labelSelector": {"matchLabels": {"app": app}}},
        {"maxSkew": 2, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
         "labelSelector": {"matchLabels": {"app": app}}}])  # fmt: skip
    return PodInfo(b.obj())


def _zone_node(name: str, zone: str | None) -> dict:
    labels = {"kubernetes.io/hostname": name}
    if zone:
        labels["zone"] = zone
    return make_node(name).capacity(cpu="8", memory="8Gi", pods=50).labels(labels).obj()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(spread_op_st, min_size=1, max_size=40))
def test_spread_prefilter_counts_cache_matches_fresh(ops: list) -> None:
    snap = Snapshot(capacity=4)
    profile = Profile(plugins=[PluginSpec("PodTopologySpread", 2)])
    fw = Framework(profile, snap, REGISTRY)
    fresh_fw = Framework(profile, snap, REGISTRY)
    pts, fresh = fw.plugin("PodTopologySpread"), fresh_fw.plugin("PodTopologySpread")
    assert pts is not None and fresh is not None
    for i in range(4):
        snap.add_node(_zone_node(f"n{i}", "abc"[i % 3]))
    added = 4
    assumed: list[PodInfo] = []
    for j, (op, a, b) in enumerate(ops + [("check", "s", 0), ("check", "t", 0)]):
        names = sorted(snap.slot_of)
        if op == "assume" and names:
            pi = _spread_pod(f"p{j}", a)
            snap.assume(pi, names[b % len(names)])
            assumed.append(pi)
        elif op == "forget" and assumed:
            snap.forget(assumed.pop(b % len(assumed)))
        elif op == "relabel" and names:
            name = names[b % len(names)]
            snap.update_node(_zone_node(name, a))
        elif op == "add":
            snap.add_node(_zone_node(f"n{added}", a))
            added += 1
        elif op == "remove" and len(names) > 1:
            snap.remove_node(names[b % len(names)])
        elif op == "check":
            pi = _spread_pod(f"c{j}", a)
            got, want = CycleState(), CycleState()
            pts.pre_filter(got, pi)
            fresh._counts_cache.clear()  # type: ignore[attr-defined]
            fresh.pre_filter(want, pi)
            g, w = got.read("PodTopologySpread"), want.read("PodTopologySpread")
            assert [c.tolist() for c in g.counts] == [c.tolist() for c in w.counts]
            assert g.mins == w.mins
            assert g.eligible.tolist() == w.eligible.tolist()
            fw_res = [(m.tolist(), s.reasons) for m, s in pts.filter_all(got, pi, snap)]
            assert fw_res == [(m.tolist(), s.reasons) for m, s in fresh.filter_all(want, pi, snap)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(spread_op_st, min_size=1, max_size=40))
def test_domain_sums_cache_matches_bincount(ops: list) -> None:
    snap = Snapshot(capacity=4)
    for i in range(4):
        snap.add_node(_zone_node(f"n{i}", "abc"[i % 3]))
    added = 4
    assumed: list[PodInfo] = []
    for j, (op, a, b) in enumerate(ops + [("check", "s", 0)]):
        names = sorted(snap.slot_of)
        if op == "assume" and names:
            pi = _spread_pod(f"p{j}", a)
            snap.assume(pi, names[b % len(names)])
            assumed.append(pi)
        elif op == "forget" and assumed:
            snap.forget(assumed.pop(b % len(assumed)))
        elif op == "relabel" and names:
            snap.update_node(_zone_node(names[b % len(names)], a))
        elif op == "add":
            snap.add_node(_zone_node(f"n{added}", a))
            added += 1
        elif op == "remove" and len(names) > 1:
            snap.remove_node(names[b % len(names)])
        for app in ("s", "t"):
            per_slot = snap.counter(frozenset(["default"]), {"matchLabels": {"app": app}})
            for key in ("zone", "kubernetes.io/hostname"):
                ids, dnames = snap.domains(key)
                d, n = ids[: snap.n], snap.n
                want = [int(per_slot[:n][(d == i) & snap.alive[:n]].sum()) for i in range(len(dnames))]
                assert snap.domain_sums(per_slot, key).tolist() == want


def _soft_pod(name: str, app: str, raw: bool, selector: bool) -> PodInfo:
    b = make_pod(name).container("c", requests={"cpu": "10m"}).labels({"app": app})
    if raw:
        b = b.set("spec.topologySpreadConstraints", [
            {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway",
             "labelSelector": {"matchLabels": {"app": app}}},
            {"maxSkew": 2, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
             "labelSelector": {"matchLabels": {"app": app}}}])  # fmt: skip
    if selector:
        b = b.node_selector({"zone": "a"})
    return PodInfo(b.obj())


@pytest.mark.parametrize("raw", [pytest.param(True, id="pod-constraints"), pytest.param(False, id="system-defaults")])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(spread_op_st, min_size=1, max_size=40), selector=st.booleans())
@example(ops=[("assume", "s", 3), ("check", "s", 0), ("relabel", "b", 3)], selector=False)  # a node changes zone
def test_spread_score_counts_cache_matches_fresh(raw: bool, ops: list, selector: bool) -> None:
    """Score's per-domain counts kept between cycles (_SoftCounts) give the scores of counts
    taken afresh, whatever happened to the pods, node labels and nodes in between (and Score
    skipping its checks for nodes without a key when every node has it gives the same)."""
    snap = Snapshot(capacity=4)
    profile = Profile(plugins=[PluginSpec("PodTopologySpread", 2)])
    pts = Framework(profile, snap, REGISTRY).plugin("PodTopologySpread")
    fresh = Framework(profile, snap, REGISTRY).plugin("PodTopologySpread")
    assert pts is not None and fresh is not None
    for p in (pts, fresh):  # as if a Service selected the pods by app
        p._default_selector = lambda pod: {"matchLabels": {"app": pod.labels["app"]}}  # type: ignore[attr-defined]
    # and the fresh one scores without the shortcut for keys every node has
    fresh._all_labelled = lambda snap, key: False  # type: ignore[attr-defined]
    for i in range(4):
        snap.add_node(_zone_node(f"n{i}", "abc"[i % 3]))
    added = 4
    assumed: list[PodInfo] = []
    for j, (op, a, b) in enumerate(ops + [("check", "s", 0), ("check", "t", 0)]):
        names = sorted(snap.slot_of)
        if op == "assume" and names:
            pi = _soft_pod(f"p{j}", a, raw, False)
            snap.assume(pi, names[b % len(names)])
            assumed.append(pi)
        elif op == "forget" and assumed:
            snap.forget(assumed.pop(b % len(assumed)))
        elif op == "relabel" and names:
            snap.update_node(_zone_node(names[b % len(names)], a))
        elif op == "add":
            snap.add_node(_zone_node(f"n{added}", a))
            added += 1
        elif op == "remove" and len(names) > 1:
            snap.remove_node(names[b % len(names)])
        elif op == "check":
            pi = _soft_pod(f"c{j}", a, raw, selector)
            slots = snap.alive_slots()
            got, want = CycleState(), CycleState()
            pts.pre_score(got, pi, slots)
            fresh._soft_cache.clear()  # type: ignore[attr-defined]
            fresh.pre_score(want, pi, slots)
            g = pts.normalize_score(got, pi, pts.score_all(got, pi, slots))
            assert g.tolist() == fresh.normalize_score(want, pi, fresh.score_all(want, pi, slots)).tolist()
