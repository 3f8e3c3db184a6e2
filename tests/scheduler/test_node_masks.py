"""Per-node masks and scores (Snapshot.per_node) patched for the nodes that changed, and topology
domains kept across changes that left their label alone, equal a recomputation over every node, through node adds, relabels, taints, cordons, removals and
rewinds (Snapshot.layout_mark / rewind, as the autoscaler's forks use them)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import make_node, make_pod
from kubetwin.scheduler import CycleState, PodInfo, Profile
from kubetwin.scheduler.cache import Snapshot
from kubetwin.scheduler.framework import Framework, PluginSpec
from kubetwin.scheduler.plugins import REGISTRY

TAINTS = [
    [],
    [{"key": "gpu", "value": "x", "effect": "NoSchedule"}],
    [{"key": "spot", "value": "y", "effect": "PreferNoSchedule"}],
    [{"key": "gpu", "value": "x", "effect": "NoSchedule"}, {"key": "spot", "value": "y", "effect": "PreferNoSchedule"}],
    [{"key": "old", "value": "z", "effect": "NoExecute"}],
]
ZONES = [None, "a", "b"]
TOLERATE_GPU = [{"key": "gpu", "operator": "Equal", "value": "x", "effect": "NoSchedule"}]
PREFER_A = [{"weight": 5, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}}]


def _node(name: str, zone: int, taints: int, cordoned: bool) -> dict[str, Any]:
    b = make_node(name).capacity(cpu="8", memory="8Gi").taints(TAINTS[taints])
    if ZONES[zone]:
        b = b.labels({"zone": ZONES[zone]})  # type: ignore[dict-item]
    return b.unschedulable(cordoned).obj()


def _pods() -> list[PodInfo]:
    return [
        PodInfo(make_pod("plain").container("c").obj()),
        PodInfo(make_pod("tol").container("c").tolerations(TOLERATE_GPU).obj()),
        PodInfo(make_pod("sel").container("c").node_selector({"zone": "b"}).obj()),
        PodInfo(make_pod("pref").container("c").set("spec.affinity", {"nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": PREFER_A}}).obj()),
    ]  # fmt: skip


def _answers(fw: Framework, snap: Snapshot, pods: list[PodInfo]) -> list[Any]:
    out: list[Any] = []
    slots = snap.alive_slots()
    for pi in pods:
        for name in ("TaintToleration", "NodeAffinity", "NodeUnschedulable"):
            p = fw.plugin(name)
            assert p is not None
            out.append([(m.tolist(), st.reasons) for m, st in p.filter_all(CycleState(), pi, snap)])
        tt, na = fw.plugin("TaintToleration"), fw.plugin("NodeAffinity")
        assert tt is not None and na is not None
        out.append((tt.constant_score(CycleState(), pi), tt.score_all(CycleState(), pi, slots).tolist()))
        out.append(na.score_all(CycleState(), pi, slots).tolist())
    for key in ("zone", "kubernetes.io/hostname"):
        ids, names = snap.domains(key)
        out.append((ids.tolist(), list(names)))
    return out


node_op = st.one_of(
    st.tuples(st.just("add"), st.integers(0, 2), st.integers(0, 4), st.booleans(), st.just(0)),
    st.tuples(st.just("change"), st.integers(0, 2), st.integers(0, 4), st.booleans(), st.integers(0, 9)),
    st.tuples(st.just("remove"), st.just(0), st.just(0), st.just(False), st.integers(0, 9)),
    st.tuples(st.just("fork"), st.just(0), st.just(0), st.just(False), st.just(0)),
    st.tuples(st.just("revert"), st.just(0), st.just(0), st.just(False), st.just(0)),
    st.tuples(st.just("check"), st.just(0), st.just(0), st.just(False), st.just(0)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(node_op, min_size=1, max_size=40))
def test_patched_node_masks_equal_a_recomputation(ops: list) -> None:
    snap = Snapshot(capacity=4)
    profile = Profile(plugins=[PluginSpec(n, 1) for n in ("TaintToleration", "NodeAffinity", "NodeUnschedulable")])
    fw = Framework(profile, snap, REGISTRY)
    pods = _pods()
    for i in range(3):
        snap.add_node(_node(f"n{i}", i % 3, i % 5, False))
    added = 3
    forks: list[tuple[tuple[int, ...], list[dict[str, Any]]]] = []  # (mark, nodes replaced since, newest last)
    for op, zone, taints, cordoned, which in ops + [("check", 0, 0, False, 0)]:
        names = sorted(snap.slot_of)
        if op == "add" and not forks:
            snap.add_node(_node(f"n{added}", zone, taints, cordoned))
            added += 1
        elif op == "change" and names:
            ni = snap.get(names[which % len(names)])
            assert ni is not None
            if forks:
                forks[-1][1].append(ni.node)
            snap.update_node(_node(ni.name, zone, taints, cordoned))
        elif op == "remove" and len(names) > 1 and not forks:
            snap.remove_node(names[which % len(names)])
        elif op == "fork":
            _answers(fw, snap, pods)  # cache values for the state before the fork
            forks.append((snap.layout_mark(), []))
        elif op == "revert" and forks:
            mark, replaced = forks.pop()
            for node in reversed(replaced):
                snap.update_node(node)
            snap.rewind(mark)
        elif op == "check":
            got = _answers(fw, snap, pods)
            kept, domains = dict(snap._masks), dict(snap._domains)
            snap._masks.clear()
            snap._domains.clear()
            assert got == _answers(fw, snap, pods)
            snap._masks, snap._domains = kept, domains


def test_a_patch_follows_a_taint_change() -> None:
    """A value cached before a node changes is patched (not served stale, not recomputed)."""
    snap = Snapshot(capacity=4)
    fw = Framework(Profile(plugins=[PluginSpec("TaintToleration", 1)]), snap, REGISTRY)
    tt = fw.plugin("TaintToleration")
    assert tt is not None
    for i in range(3):
        snap.add_node(_node(f"n{i}", 0, 1 if i == 0 else 0, False))
    pi = _pods()[0]
    assert [m.tolist() for m, _ in tt.filter_all(CycleState(), pi, snap)] == [[True, False, False]]
    snap.update_node(_node("n2", 0, 4, False))
    calls: list[int] = []
    per_node = snap.per_node

    def counting(key: Any, fn: Any, patch: Any = None) -> Any:
        def fn_counted(s: Snapshot) -> Any:
            calls.append(1)
            return fn(s)

        return per_node(key, fn_counted, patch)

    snap.per_node = counting  # type: ignore[method-assign]
    res = tt.filter_all(CycleState(), pi, snap)
    assert [(m.tolist(), st.reasons) for m, st in res] == [
        ([True, False, False], ["node(s) had untolerated taint {gpu: x}"]),
        ([False, False, True], ["node(s) had untolerated taint {old: z}"]),
    ]
    assert not calls


def test_domains_follow_a_node_added_on_the_last_slot() -> None:
    """An entry cached before add_node takes the new node's value in new arrays (a new zone gets
    the next id), equal to a rebuild; a node taking a freed middle slot drops the entries."""
    snap = Snapshot(capacity=4)
    for i in range(3):
        snap.add_node(_node(f"n{i}", 1 + i % 2, 0, False))
    ids, names = snap.domains("zone")
    assert (ids[:3].tolist(), names) == ([0, 1, 0], ["a", "b"])
    snap.update_node(_node("n1", 2, 1, False))  # a taint: the entry is behind but still holds
    snap.add_node(_node("n3", 0, 0, False))  # no zone label
    assert snap._domains["zone"][0] == snap.node_generation
    snap.add_node(make_node("n4").capacity(cpu="8", memory="8Gi").labels({"zone": "c"}).obj())  # grows
    ids2, names2 = snap.domains("zone")
    assert ids2 is not ids and names2 is not names and names == ["a", "b"]  # holders keep theirs
    assert (ids2[:5].tolist(), names2) == ([0, 1, 0, -1, 2], ["a", "b", "c"])
    assert snap._domains["zone"][0] == snap.node_generation  # patched, not left for a rebuild
    snap._domains.clear()
    ids3, names3 = snap.domains("zone")
    assert (ids3.tolist(), names3) == (ids2.tolist(), names2)
    snap.remove_node("n0")
    snap.domains("zone")
    snap.add_node(make_node("n5").capacity(cpu="8", memory="8Gi").labels({"zone": "d"}).obj())  # slot 0
    assert "zone" not in snap._domains
    ids4, names4 = snap.domains("zone")
    assert (ids4[:5].tolist(), names4) == ([0, 1, 2, -1, 3], ["d", "b", "a", "c"])


def test_domains_behind_a_relabel_are_not_patched_by_an_add() -> None:
    """An entry made before a node changed its zone does not hold: the add after it drops it."""
    snap = Snapshot(capacity=8)
    for i in range(3):
        snap.add_node(_node(f"n{i}", 1, 0, False))
    assert snap.domains("zone")[1] == ["a"]
    snap.update_node(_node("n1", 2, 0, False))  # zone a -> b, no domains() call in between
    snap.add_node(_node("n3", 1, 0, False))
    ids, names = snap.domains("zone")
    assert (ids[:4].tolist(), names) == ([0, 1, 0, 0], ["a", "b"])
