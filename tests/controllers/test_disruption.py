from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubetwin.api.errors import ApiError
from kubetwin.api.resources import is_pod_ready
from kubetwin.controllers import _util as u
from kubetwin.controllers.deployment import DeploymentController
from kubetwin.controllers.disruption import DisruptionController
from kubetwin.controllers.replicaset import ReplicaSetController

from .conftest import Stack, make_deploy, make_rs


def make_pdb(**spec: object) -> dict:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "pdb", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}  # fmt: skip


def pdb_status(stack: Stack) -> dict:
    return stack.get("poddisruptionbudgets.policy", "pdb")["status"]


@pytest.mark.parametrize(
    "spec, ready, expect",
    [
        pytest.param({"minAvailable": 2}, 4, (4, 2, 5, 2), id="min-int"),
        pytest.param({"minAvailable": "50%"}, 4, (4, 3, 5, 1), id="min-percent-rounds-up"),
        pytest.param({"maxUnavailable": 1}, 4, (4, 4, 5, 0), id="max-int"),
        pytest.param({"maxUnavailable": "30%"}, 5, (5, 3, 5, 2), id="max-percent-rounds-up"),
        pytest.param({"minAvailable": "100%"}, 5, (5, 5, 5, 0), id="min-all"),
    ],
)
def test_pdb_status_from_deployment_scale(stack: Stack, spec: dict, ready: int, expect: tuple) -> None:
    stack.start(DeploymentController, ReplicaSetController, DisruptionController)
    stack.create(make_deploy("web", 5))
    stack.settle()
    pods = sorted(stack.pods(), key=lambda p: p["metadata"]["name"])
    for p in pods[:ready]:
        stack.run_pod(p, "n1")
    stack.create(make_pdb(**spec))
    stack.settle()
    st = pdb_status(stack)
    assert (st["currentHealthy"], st["desiredHealthy"], st["expectedPods"], st["disruptionsAllowed"]) == expect
    c = u.get_condition(st, "DisruptionAllowed")
    assert c["reason"] == ("SufficientPods" if expect[3] > 0 else "InsufficientPods")
    assert st["observedGeneration"] == 1


def test_unmanaged_pods_and_disrupted_pods(stack: Stack) -> None:
    stack.start(DisruptionController)
    for i in range(3):
        p = stack.create({"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"name": f"p{i}", "namespace": "default", "labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "c", "image": "x"}]}})  # fmt: skip
        stack.run_pod(p, "n1")
    stack.create(make_pdb(minAvailable=1))
    stack.settle()
    assert pdb_status(stack)["disruptionsAllowed"] == 2
    # the eviction API records p0 as disrupted: it no longer counts as healthy for 2 minutes
    cur = stack.get("poddisruptionbudgets.policy", "pdb")
    cur["status"]["disruptedPods"] = {"p0": stack.loop.timestamp()}
    cur["status"]["disruptionsAllowed"] = 1
    stack.client.update_status(cur)
    stack.settle()
    st = pdb_status(stack)
    assert st["currentHealthy"] == 2 and st["disruptionsAllowed"] == 1 and "p0" in st["disruptedPods"]
    stack.settle(121)
    st = pdb_status(stack)
    assert st["currentHealthy"] == 3 and "disruptedPods" not in st
    assert stack.events("NotDeleted")
    # percentages need controllers: unmanaged pods are ignored with a warning
    stack.patch_spec("poddisruptionbudgets.policy", "pdb", {"spec": {"minAvailable": "50%"}})
    stack.settle()
    assert stack.events("UnmanagedPods")
    assert pdb_status(stack)["expectedPods"] == 0 and pdb_status(stack)["disruptionsAllowed"] == 0


# -- the PDB's pods are kept incrementally: same as matching every pod from scratch ------------------
_op = st.one_of(
    st.tuples(st.just("create"), st.integers(0, 5), st.sampled_from(["web", "db"]), st.booleans()),
    st.tuples(st.just("ready"), st.integers(0, 5), st.booleans()),
    st.tuples(st.just("relabel"), st.integers(0, 5), st.sampled_from(["web", "db"])),
    st.tuples(st.just("delete"), st.integers(0, 5), st.booleans()),
    st.tuples(st.just("selector"), st.sampled_from(["web", "db"])),
    st.tuples(st.just("disrupt"), st.integers(0, 5)),
    st.tuples(st.just("wait"), st.sampled_from([1, 130])),
    st.tuples(st.just("adopt"), st.integers(0, 5)),
)


def _reference(stack: Stack, pdb: dict) -> tuple[int, int, int]:
    """(currentHealthy, expectedPods, matching pods) the way a full pass over the pods counts them."""
    sel = u.selector_of(pdb)
    pods = [p for p in stack.pods() if sel.matches(u.labels_of(p))]
    disrupted = (pdb.get("status") or {}).get("disruptedPods") or {}
    now = stack.loop.now
    healthy = 0
    for p in pods:
        if p["metadata"].get("deletionTimestamp"):
            continue
        t = disrupted.get(p["metadata"]["name"])
        if t is not None and (u.ts(stack.loop, t) or 0) + 120 > now:
            continue
        healthy += is_pod_ready(p)
    return healthy, len(pods), len(pods)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_op, min_size=1, max_size=25))
def test_incremental_members_match_a_full_pass(ops: list[tuple]) -> None:
    _check_members_against_a_full_pass(ops)


@pytest.mark.parametrize(
    "ops",
    [  # status writes (owner and labels shared with the previous version) that move the facts
        pytest.param([("create", 0, "web", False), ("ready", 0, True)], id="becomes-ready"),
        pytest.param([("create", 0, "web", True), ("ready", 0, False)], id="stops-being-ready"),
        pytest.param([("create", 0, "web", True), ("delete", 0, False)], id="terminating"),
        pytest.param([("create", 0, "web", True), ("ready", 0, True), ("ready", 0, True)], id="nothing-moves"),
        pytest.param([("create", 0, "web", True), ("adopt", 0), ("ready", 0, True)], id="adopted"),
        pytest.param([("create", 0, "db", True), ("ready", 0, False), ("selector", "db"), ("ready", 0, True)],
                     id="matched-after-selector-change"),  # fmt: skip
    ],
)
def test_status_writes_move_the_kept_members(ops: list[tuple]) -> None:
    _check_members_against_a_full_pass(ops)


def _check_members_against_a_full_pass(ops: list[tuple]) -> None:
    stack = Stack()
    (ctrl,) = stack.start(DisruptionController)
    stack.create(make_pdb(minAvailable=1))
    for op in ops:
        name = f"p{op[1]}" if isinstance(op[1], int) else ""
        pod = stack.get("pods", name) if name else None
        try:
            if op[0] == "create" and pod is None:
                p = stack.create({"apiVersion": "v1", "kind": "Pod",
                                  "metadata": {"name": name, "namespace": "default", "labels": {"app": op[2]}},
                                  "spec": {"containers": [{"name": "c", "image": "x"}]}})  # fmt: skip
                stack.run_pod(p, "n1", ready=op[3])
            elif op[0] == "ready" and pod is not None:
                stack.set_pod_status(pod, "Running", ready=op[2])
            elif op[0] == "relabel" and pod is not None:
                stack.client.patch("pods", name, {"metadata": {"labels": {"app": op[2]}}}, "default")
            elif op[0] == "delete" and pod is not None:
                stack.client.delete("pods", name, "default", grace_period_seconds=0 if op[2] else None)
            elif op[0] == "selector":
                stack.patch_spec("poddisruptionbudgets.policy", "pdb", {"spec": {"selector": {"matchLabels": {"app": op[1]}}}})
            elif op[0] == "adopt" and pod is not None:  # the owner changes, labels stay
                ref = {"apiVersion": "v1", "kind": "ReplicationController", "name": "rc", "uid": "rc-1", "controller": True}
                stack.client.patch("pods", name, {"metadata": {"ownerReferences": [ref]}}, "default")
            elif op[0] == "disrupt" and pod is not None:
                cur = stack.get("poddisruptionbudgets.policy", "pdb")
                cur.setdefault("status", {}).setdefault("disruptedPods", {})[name] = stack.loop.timestamp()
                stack.client.update_status(cur)
        except ApiError:
            pass
        stack.settle(op[1] if op[0] == "wait" else 0)
        pdb = stack.get("poddisruptionbudgets.policy", "pdb")
        kept = ctrl.members.get("default/pdb")
        if kept is not None:
            del ctrl.members["default/pdb"]
            fresh = ctrl._members(pdb)
            assert (kept.facts, kept.ready_live, kept.refs, kept.unmanaged) == (
                fresh.facts, fresh.ready_live, fresh.refs, fresh.unmanaged)  # fmt: skip
        healthy, expected, _ = _reference(stack, pdb)
        st_ = pdb["status"]
        assert (st_["currentHealthy"], st_["expectedPods"]) == (healthy, expected)


def test_status_write_leaves_the_cached_pdb_alone(stack: Stack) -> None:
    """The status write hands over a shallow copy of the cached PDB: the cached version is unchanged."""
    (ctrl,) = stack.start(DisruptionController)
    stack.create(make_pdb(minAvailable=1))
    stack.settle()
    assert isinstance(ctrl, DisruptionController)
    cached = ctrl.pdb_informer.get("pdb", "default")
    assert cached is not None
    before = copy.deepcopy(cached)
    p = stack.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p0", "namespace": "default",
                      "labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}})  # fmt: skip
    stack.run_pod(p, "n1")
    stack.settle()
    assert cached == before
    assert pdb_status(stack)["currentHealthy"] == 1 and before["status"]["currentHealthy"] == 0


def _pdb_over_rs(stack: Stack) -> DisruptionController:
    """A PDB (maxUnavailable 1) over a ReplicaSet of 3 running pods, synced: expectedPods 3."""
    (ctrl,) = stack.start(DisruptionController)
    assert isinstance(ctrl, DisruptionController)
    rs = stack.create(make_rs("web", 3))
    ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": rs["metadata"]["uid"],
           "controller": True}  # fmt: skip
    for i in range(3):
        p = stack.create({"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"name": f"p{i}", "namespace": "default", "labels": {"app": "web"},
                                       "ownerReferences": [ref]},
                          "spec": {"containers": [{"name": "c", "image": "x"}]}})  # fmt: skip
        stack.run_pod(p, "n1")
    stack.create(make_pdb(maxUnavailable=1))
    stack.settle()
    assert pdb_status(stack)["expectedPods"] == 3
    return ctrl


def _touch(stack: Stack, name: str) -> None:
    """A pod status write that moves none of the kept members' facts (it enqueues the PDB)."""
    cur = stack.client.get("pods", name, "default")
    cur["status"]["message"] = f"touched at {stack.loop.now}"
    stack.client.update_status(cur)
    stack.settle()


def test_unchanged_sync_returns_at_once(stack: Stack) -> None:
    """A sync whose reads are as the last one left them computes nothing: the PDB is not read
    for its scales again."""
    ctrl = _pdb_over_rs(stack)
    calls: list[int] = []
    orig = ctrl._expected_count

    def counted(*a: object) -> tuple[int, int, bool]:
        calls.append(1)
        return orig(*a)  # type: ignore[arg-type]

    ctrl._expected_count = counted  # type: ignore[method-assign]
    _touch(stack, "p0")
    assert calls == [] and pdb_status(stack)["expectedPods"] == 3


def test_unchanged_sync_sees_a_new_controller_of_the_replicaset(stack: Stack) -> None:
    """The kept sync is dropped when a ReplicaSet's owner changes (no PDB is enqueued for that:
    the next pod write finds the Deployment's scale), and when a member changes."""
    d = stack.create(make_deploy("web", 7))
    _pdb_over_rs(stack)
    cur = stack.client.get("replicasets.apps", "web", "default")
    cur["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                           "uid": d["metadata"]["uid"], "controller": True}]  # fmt: skip
    stack.client.update(cur)
    stack.settle()
    _touch(stack, "p1")
    assert pdb_status(stack)["expectedPods"] == 7
    stack.run_pod(stack.client.get("pods", "p2", "default"), "n1", ready=False)
    stack.settle()
    assert pdb_status(stack)["currentHealthy"] == 2
