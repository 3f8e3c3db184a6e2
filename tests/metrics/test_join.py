"""The metrics pipeline's kept join of a controller's rows (RowKeys) with the usage engine's slots:
after pods stop, start, restart with the same uid, or take over a slot another pod freed, a kept
join gives the slots a join made from scratch gives (and the values of the right pod)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from kubetwin.client.metrics import RowKeys
from kubetwin.kubelet.usage import UsageEngine
from kubetwin.store.copy import deep_copy

from .conftest import NS, Env, KeptRows, Key, fresh_rows

Obj = dict[str, Any]


def _two_containers(env: Env, replicas: int = 3) -> None:
    env.client.create({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NS},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [
                                  {"name": "a", "image": "x", "resources": {"requests": {"cpu": "100m"}}},
                                  {"name": "b", "image": "x", "resources": {"requests": {"cpu": "50m"}}}]}}},
    })  # fmt: skip


def _engine(env: Env) -> UsageEngine:
    eng = env.pipeline.engine()
    assert eng is not None
    return eng


def _slots(env: Env, rows: Any, n: int) -> list[tuple[int, int]]:
    join = env.pipeline._join(rows, _engine(env))
    return list(zip(join.pod[:n].tolist(), join.container[:n].tolist(), strict=True))


def _start(env: Env, pod: Obj, uid: str) -> None:
    """The engine starts a copy of ``pod`` under another uid (as when a new pod lands on the node)."""
    eng = _engine(env)
    other = deep_copy(pod)
    other["metadata"]["uid"] = uid
    other["metadata"]["name"] = f"copy-{uid}"
    eng.on_pod_started(eng.kubelets[pod["spec"]["nodeName"]], other)


def _stop(env: Env, pod: Obj) -> None:
    eng = _engine(env)
    eng.on_pod_stopped(eng.kubelets[pod["spec"]["nodeName"]], pod["metadata"]["uid"])


def _restart(env: Env, pod: Obj) -> None:
    """The pod leaves the engine and comes back with the same uid: new container slots."""
    _stop(env, pod)
    _start(env, pod, pod["metadata"]["uid"])


# each case: what happens to the engine (given the three pods), then the uids whose rows must be
# found (True) or not (False) afterwards
Case = Callable[[Env, list[Obj]], None]
CASES: list[tuple[str, Case, dict[str, bool]]] = [
    ("nothing", lambda env, p: None, {"p0": True, "p1": True, "p2": True, "x": False}),
    ("slot taken over by another pod", lambda env, p: (_stop(env, p[0]), _start(env, p[0], "x")),
     {"p0": False, "p1": True, "x": True}),
    ("restart with the same uid", lambda env, p: _restart(env, p[1]), {"p0": True, "p1": True}),
    ("stopped, another pod started elsewhere", lambda env, p: (_stop(env, p[2]), _start(env, p[0], "x")),
     {"p2": False, "x": True}),
    ("two pods swap slots", lambda env, p: (_stop(env, p[0]), _stop(env, p[1]), _start(env, p[1], "x"),
                                            _start(env, p[0], "y")),
     {"p0": False, "p1": False, "x": True, "y": True}),
    ("a pod not started yet starts", lambda env, p: _start(env, p[2], "x"), {"x": True}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "expected"), [pytest.param(c, e, id=name) for name, c, e in CASES])
def test_kept_join_follows_the_engine(env: Env, case: Case, expected: dict[str, bool]) -> None:
    _two_containers(env)
    env.run_to(60)
    pods = sorted(env.pods(), key=lambda p: p["metadata"]["name"])
    assert len(pods) == 3
    uid = {f"p{i}": p["metadata"]["uid"] for i, p in enumerate(pods)} | {"x": "x", "y": "y"}
    # rows: each pod and container, a free row, an unknown container; kept across the engine change
    keys: list[Key] = [(uid[k], c) for k in ("p0", "p1", "p2", "x", "y") for c in ("a", "b", None)]
    keys += [(None, None), (uid["p0"], "nope")]
    kept = KeptRows()
    kept.sync(keys)
    n = len(keys)
    before = _slots(env, kept.keys, n)
    assert before == _slots(env, fresh_rows(keys), n)
    case(env, pods)
    after = _slots(env, kept.keys, n)
    assert after == _slots(env, fresh_rows(keys), n)  # the kept join is the one made from scratch
    eng = _engine(env)
    for name, found in expected.items():
        for c in ("a", "b", None):
            pod_slot, container_slot = after[keys.index((uid[name], c))]
            e = eng.pods.get(uid[name])
            assert (pod_slot >= 0) == found, (name, c)
            if found:
                assert e is not None and pod_slot == e.slot
                assert container_slot == (e.slots[e.names.index(c)] if c else -1)
    assert after[-2:] == [(-1, -1), (after[0][0], -1)]  # a free row; an unknown container of p0


def test_kept_join_sees_a_slot_reused_across_scrapes(env: Env) -> None:
    """A pod that is deleted frees its slot, its replacement takes it over; a controller that has not
    seen the deletion yet still has a row with the old uid: that row has no metrics (not the new
    pod's), and the replacement's row has them once it was scraped twice."""
    env.deployment(replicas=2)
    env.profile()
    env.run_to(60)
    old = sorted(env.pods(), key=lambda p: p["metadata"]["name"])[0]
    eng = _engine(env)
    old_slot = eng.pods[old["metadata"]["uid"]].slot
    kept = KeptRows()
    old_rows = [(p["metadata"]["uid"], None) for p in env.pods()]
    kept.sync(old_rows)
    samples = env.pipeline.pod_samples(kept.keys)
    assert samples is not None and samples.resource("cpu")[0].all()
    env.client.delete("pods", old["metadata"]["name"], NS)
    for t in range(61, 200):
        env.run_to(t)
        if old["metadata"]["uid"] not in eng.pods and any(e.slot == old_slot for e in eng.pods.values()):
            break
    else:
        raise AssertionError("the old pod's slot was not reused")
    new_uid = next(u for u, e in eng.pods.items() if e.slot == old_slot)
    env.run_to(t + 31)  # two scrapes of the replacement
    rows = kept.sync([*old_rows, (new_uid, None)])  # the old pod's row is still there
    samples = env.pipeline.pod_samples(kept.keys)
    assert samples is not None
    has, cpu = samples.resource("cpu")
    assert has[rows].tolist() == [k[0] != old["metadata"]["uid"] for k in old_rows] + [True]
    assert int(cpu[rows[-1]]) > 0
    fresh = env.pipeline.pod_samples(fresh_rows([*old_rows, (new_uid, None)]))
    assert fresh is not None
    assert [a.tolist() for a in fresh.resource("cpu")] == [has[rows].tolist(), cpu[rows].tolist()]
    assert np.array_equal(fresh.resource("memory")[1], samples.resource("memory")[1][rows])


def test_row_keys_stamp_changes() -> None:
    rows = RowKeys()
    for r in range(100):  # past the initial capacity
        rows.set(r, f"u{r}", "c" if r % 2 else None)
    clock = rows.clock
    assert rows.changed_since(-1).tolist() == list(range(100)) and rows.changed_since(clock).size == 0
    rows.set(7, "u7", "c")  # the same key: no change
    rows.set(8, None)
    rows.set(9, "u9", "d")
    rows.set(100, "u100")
    assert rows.changed_since(clock).tolist() == [8, 9, 100]
    clock = rows.clock
    rows.replace(["a", None], ["x", None])
    assert len(rows) == 2 and rows.changed_since(clock).tolist() == [0, 1]
    with pytest.raises(ValueError):
        rows.replace(["a"], [])
