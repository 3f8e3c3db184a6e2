"""The snapshot's selector counters (pods per node slot matching a selector) stay equal to a recount,
whatever order pods, counters and snapshots come in (each pod keeps which counters it matches in
its memo: Snapshot._matching_counters)."""

from __future__ import annotations

from typing import Any

import pytest

from builders import make_node, make_pod
from kubetwin.scheduler.cache import Snapshot
from kubetwin.scheduler.framework import PodInfo

SELECTORS = {
    "a": {"matchLabels": {"app": "a"}},
    "b": {"matchLabels": {"app": "b"}},
    "any": {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
}


def _pod(name: str, app: str, node: str = "") -> dict[str, Any]:
    b = make_pod(name).container("c", requests={"cpu": "100m"}).labels({"app": app})
    if node:
        b = b.node(node)
    obj = b.obj()
    obj["metadata"]["uid"] = f"uid-{name}"
    return obj


# steps: ("counter", snapshot, selector) | ("assume", snapshot, pod, node) | ("remove", snapshot, pod)
#        | ("bind", snapshot, pod, app, node): the informer's add/update of a bound pod with that app label
STORIES = {
    "counter-added-after-the-pod-was-counted": [
        ("counter", 0, "a"), ("assume", 0, "p", "n0"), ("remove", 0, "p"), ("counter", 0, "any"),
        ("assume", 0, "p", "n1"),
    ],
    "same-pod-in-another-snapshot": [
        ("counter", 0, "a"), ("counter", 0, "b"), ("counter", 1, "b"), ("counter", 1, "a"),
        ("assume", 0, "p", "n0"), ("remove", 0, "p"), ("assume", 1, "p", "n1"), ("remove", 1, "p"),
        ("assume", 1, "p", "n2"),
    ],
    "relabelled-bound-pod": [
        ("counter", 0, "a"), ("counter", 0, "b"), ("bind", 0, "q", "a", "n0"), ("bind", 0, "q", "b", "n0"),
        ("bind", 0, "q", "b", "n1"),
    ],
}


@pytest.mark.parametrize("story", STORIES)
def test_selector_counters_equal_a_recount(story: str) -> None:
    snaps = [Snapshot(), Snapshot()]
    for snap in snaps:
        for i in range(3):
            snap.add_node(make_node(f"n{i}").capacity().obj())
    pods = {"p": PodInfo(_pod("p", "a"))}
    for step in STORIES[story]:
        snap = snaps[step[1]]
        if step[0] == "counter":
            snap.counter(frozenset(["default"]), SELECTORS[step[2]])
        elif step[0] == "assume":
            snap.assume(pods[step[2]], step[3])
        elif step[0] == "remove":
            snap.remove_pod(pods[step[2]].key)
        else:
            snap.update_pod(_pod(step[2], step[3], step[4]))
        for s in snaps:
            for c in s.counters.values():
                want = [0] * s.n
                for pi in s.pods.values():
                    if pi.slot >= 0 and c.matches(pi):
                        want[pi.slot] += 1
                assert c.counts[: s.n].tolist() == want, (step, c.terms)


def test_arrays_replaced_by_a_caller_still_follow_pods() -> None:
    """The per-pod updates write through views of the per-slot arrays: an array replaced from
    outside (a copy) is the one that counts the next pod."""
    snap = Snapshot()
    snap.add_node(make_node("n0").capacity(cpu="4").obj())
    counts = snap.counter(frozenset(["default"]), SELECTORS["a"])
    p, q = PodInfo(_pod("p", "a")), PodInfo(_pod("q", "a"))
    snap.assume(p, "n0")
    snap.requested, snap.pod_count = snap.requested.copy(), snap.pod_count.copy()
    for c in snap.counters.values():
        c.counts = c.counts.copy()
    snap.assume(q, "n0")
    assert int(snap.requested[snap.res_index["cpu"], 0]) == 200 and int(snap.pod_count[0]) == 2
    assert [int(c.counts[0]) for c in snap.counters.values()] == [2] and int(counts[0]) == 1
