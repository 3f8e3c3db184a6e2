from __future__ import annotations

import copy
import operator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubetwin.controllers import _util as u
from kubetwin.controllers.deployment import (
    DeploymentController,
    _status_moved,
    equal_ignore_hash,
    max_unavailable,
    pod_template_hash,
    resolve_fenceposts,
)
from kubetwin.controllers.replicaset import ReplicaSetController

from .conftest import Stack, make_deploy


def sizes(stack: Stack, name: str = "web") -> list[tuple[int, int]]:
    """(revision, spec.replicas) of the deployment's ReplicaSets, oldest revision first."""
    out = []
    for rs in stack.client.list("replicasets.apps", "default"):
        if rs["metadata"]["name"].startswith(name + "-"):
            rev = int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
            out.append((rev, rs["spec"]["replicas"]))
    return sorted(out)


def dstatus(stack: Stack, name: str = "web") -> dict:
    return stack.get("deployments.apps", name)["status"]


def cond(status: dict, type_: str) -> dict:
    c = u.get_condition(status, type_)
    assert c is not None, status
    return c


def set_image(stack: Stack, image: str, name: str = "web") -> None:
    stack.patch_spec("deployments.apps", name,
                     {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}})  # fmt: skip
    stack.settle()


@pytest.mark.parametrize(
    "surge, unavailable, desired, expect",
    [
        pytest.param("25%", "25%", 10, (3, 2), id="quarter-of-10"),
        pytest.param("25%", "25%", 1, (1, 0), id="quarter-of-1"),
        pytest.param(0, 0, 5, (0, 1), id="both-zero-fencepost"),
        pytest.param(2, "50%", 3, (2, 1), id="int-and-percent"),
        pytest.param("100%", 0, 4, (4, 0), id="blue-green"),
    ],
)
def test_resolve_fenceposts(surge: object, unavailable: object, desired: int, expect: tuple[int, int]) -> None:
    assert resolve_fenceposts(surge, unavailable, desired) == expect


def test_hash_is_deterministic_and_collision_sensitive() -> None:
    t = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "a"}]}}
    h = pod_template_hash(t, None)
    assert h == pod_template_hash(dict(t), None)
    assert h != pod_template_hash(t, 1)
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    t2 = {"metadata": {"labels": {"app": "x", "pod-template-hash": h}}, "spec": t["spec"]}
    assert equal_ignore_hash(t, t2)


_SPEC = {"containers": [{"name": "c", "image": "a"}]}
_HASH = {"pod-template-hash": "abc12"}


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ({"metadata": {"labels": {"app": "x", **_HASH}}, "spec": _SPEC}, {"metadata": {"labels": {"app": "x"}}, "spec": _SPEC}, True),
        ({"metadata": {"labels": _HASH}, "spec": _SPEC}, {"spec": _SPEC}, True),  # labels and metadata left empty
        ({"metadata": {"labels": _HASH}, "spec": _SPEC}, {"metadata": {}, "spec": _SPEC}, True),
        ({"metadata": {"labels": _HASH, "annotations": {"a": "1"}}, "spec": _SPEC},
         {"metadata": {"annotations": {"a": "1"}}, "spec": _SPEC}, True),
        ({"metadata": {"labels": {"app": "x", **_HASH}}, "spec": _SPEC}, {"metadata": {"labels": {"app": "y"}}, "spec": _SPEC}, False),
        ({"metadata": {"labels": _HASH}, "spec": _SPEC}, {"metadata": {"labels": _HASH}, "spec": {"containers": []}}, False),
        ({"metadata": {"labels": {"other": "1", **_HASH}}}, {"metadata": {"labels": _HASH}}, False),
    ],
)
def test_equal_ignore_hash_table(a: dict, b: dict, equal: bool) -> None:
    before = (copy.deepcopy(a), copy.deepcopy(b))
    assert equal_ignore_hash(a, b) is equal
    assert equal_ignore_hash(b, a) is equal
    assert (a, b) == before  # comparison never changes the templates (they are the informer's)


def test_create_names_rs_by_hash_and_reports_available(stack: Stack) -> None:
    stack.start(DeploymentController, ReplicaSetController)
    d = stack.create(make_deploy("web", 3))
    stack.settle()
    (rs,) = stack.client.list("replicasets.apps", "default")
    h = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{h}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": h}
    assert rs["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
    ann = rs["metadata"]["annotations"]
    assert ann == {"deployment.kubernetes.io/revision": "1", "deployment.kubernetes.io/desired-replicas": "3",
                   "deployment.kubernetes.io/max-replicas": "4"}  # fmt: skip
    assert stack.get("deployments.apps", "web")["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert all(p["metadata"]["labels"]["pod-template-hash"] == h for p in stack.pods())
    ev = stack.events("ScalingReplicaSet")
    assert [e["message"] for e in ev] == [f"Scaled up replica set web-{h} to 3 from 0"]
    st = dstatus(stack)
    assert cond(st, "Available")["reason"] == "MinimumReplicasUnavailable"
    assert cond(st, "Progressing")["reason"] in ("NewReplicaSetCreated", "ReplicaSetUpdated")
    stack.run_all()
    st = dstatus(stack)
    assert (st["replicas"], st["updatedReplicas"], st["readyReplicas"], st["availableReplicas"],
            st["unavailableReplicas"]) == (3, 3, 3, 3, 0)  # fmt: skip
    assert cond(st, "Available")["reason"] == "MinimumReplicasAvailable"
    p = cond(st, "Progressing")
    assert p["reason"] == "NewReplicaSetAvailable" and p["message"] == f'ReplicaSet "web-{h}" has successfully progressed.'


def test_rolling_update_step_by_step(stack: Stack) -> None:
    stack.start(DeploymentController, ReplicaSetController)
    stack.create(make_deploy("web", 10))
    stack.settle()
    stack.run_all()
    assert sizes(stack) == [(1, 10)]
    before = len(stack.events("ScalingReplicaSet"))
    set_image(stack, "nginx:2.0")
    # new RS surges to 3 (25% of 10 rounded up), old goes to 8 (keep 10 - 2 available), and since
    # 8 + 3 < 13 the new RS grows again to 5 within the same instant (as upstream's next sync does)
    msgs = [e["message"].split(" replica set ")[0] + " " + e["message"].split(" to ")[1]
            for e in stack.events("ScalingReplicaSet")[before:]]  # fmt: skip
    assert msgs == ["Scaled up 3 from 0", "Scaled down 8 from 10", "Scaled up 5 from 3"]
    assert sizes(stack) == [(1, 8), (2, 5)]
    steps = []
    for _ in range(10):
        stack.finish_deletions()
        stack.run_all()
        steps.append(sizes(stack))
        if sizes(stack) == [(1, 0), (2, 10)]:
            break
    # 5 new pods available: old 8 -> 3 (13 available - 8 minimum), then new 5 -> 10 (13 max total)
    assert steps[0] == [(1, 3), (2, 10)]
    assert steps[-1] == [(1, 0), (2, 10)]
    stack.finish_deletions()
    stack.settle()
    st = dstatus(stack)
    assert (st["replicas"], st["updatedReplicas"], st["availableReplicas"]) == (10, 10, 10)
    assert cond(st, "Progressing")["reason"] == "NewReplicaSetAvailable"
    msgs = [e["message"] for e in stack.events("ScalingReplicaSet")]
    assert any(m.endswith("to 3 from 0") and m.startswith("Scaled up") for m in msgs)
    assert any(m.endswith("to 8 from 10") and m.startswith("Scaled down") for m in msgs)


def test_recreate_scales_old_to_zero_before_new(stack: Stack) -> None:
    stack.start(DeploymentController, ReplicaSetController)
    stack.create(make_deploy("web", 4, strategy={"type": "Recreate"}))
    stack.settle()
    stack.run_all()
    set_image(stack, "nginx:2.0")
    assert sizes(stack) == [(1, 0)]  # no new RS while old pods are still terminating
    stack.finish_deletions()
    assert sizes(stack) == [(1, 0), (2, 4)]
    stack.run_all()
    assert dstatus(stack)["availableReplicas"] == 4


def test_scale_during_rollout_is_proportional(stack: Stack) -> None:
    stack.start(DeploymentController, ReplicaSetController)
    stack.create(make_deploy("web", 10))
    stack.settle()
    stack.run_all()
    set_image(stack, "nginx:2.0")
    assert sizes(stack) == [(1, 8), (2, 5)]
    stack.patch_spec("deployments.apps", "web", {"spec": {"replicas": 20}})
    stack.settle()
    # 13 replicas (max 13) grow to max 25: 8 -> round(8*25/13) = 15, 5 -> round(5*25/13) = 10
    assert sizes(stack) == [(1, 15), (2, 10)]
    anns = [rs["metadata"]["annotations"] for rs in stack.client.list("replicasets.apps", "default")]
    assert all(a["deployment.kubernetes.io/desired-replicas"] == "20" for a in anns)
    assert all(a["deployment.kubernetes.io/max-replicas"] == "25" for a in anns)


def test_paused_deployment_does_not_roll_out(stack: Stack) -> None:
    stack.start(DeploymentController, ReplicaSetController)
    stack.create(make_deploy("web", 2))
    stack.settle()
    stack.patch_spec("deployments.apps", "web", {"spec": {"paused": True}})
    stack.settle()
    set_image(stack, "nginx:2.0")
    assert sizes(stack) == [(1, 2)]
    assert cond(dstatus(stack), "Progressing")["reason"] == "DeploymentPaused"
    stack.patch_spec("deployments.apps", "web", {"spec": {"paused": False}})
    stack.settle()
    assert len(sizes(stack)) == 2


def test_progress_deadline_exceeded(stack: Stack) -> None:
    stack.start(DeploymentController, ReplicaSetController)
    stack.create(make_deploy("web", 2, progressDeadlineSeconds=60))
    stack.settle()
    stack.settle(60)
    assert cond(dstatus(stack), "Progressing")["reason"] != "ProgressDeadlineExceeded"
    stack.settle(5)
    c = cond(dstatus(stack), "Progressing")
    assert c["reason"] == "ProgressDeadlineExceeded" and c["status"] == "False"
    assert c["message"].endswith("has timed out progressing.")


def test_revision_history_limit_cleans_old_rs(stack: Stack) -> None:
    stack.start(DeploymentController, ReplicaSetController)
    stack.create(make_deploy("web", 1, revisionHistoryLimit=1, strategy={"type": "Recreate"}))
    stack.settle()
    for i in range(2, 5):
        stack.run_all()
        set_image(stack, f"nginx:{i}.0")
        stack.finish_deletions()
        stack.run_all()
    revs = [r for r, _ in sizes(stack)]
    assert revs == [3, 4]


def _reconcile_all(stack: Stack, dc: DeploymentController, rc: ReplicaSetController) -> None:
    dc.reconcile("default/web")
    for rs in stack.client.list("replicasets.apps", "default"):
        rc.reconcile(f"default/{rs['metadata']['name']}")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    replicas=st.integers(min_value=0, max_value=8),
    new_replicas=st.integers(min_value=0, max_value=8),
    ready=st.lists(st.booleans(), min_size=0, max_size=8),
    rollout=st.booleans(),
)
def test_reconcile_twice_equals_once(replicas: int, new_replicas: int, ready: list[bool], rollout: bool) -> None:
    """ReplicaSet: one direct reconcile after a change, then a second one changes nothing.
    Deployment: after the queues settle, reconciling every key again (twice) changes nothing."""
    stack = Stack()
    dc, rc = stack.start(DeploymentController, ReplicaSetController)
    stack.create(make_deploy("web", replicas))
    stack.settle()
    for pod, r in zip(sorted(stack.pods(), key=lambda p: p["metadata"]["name"]), ready, strict=False):
        stack.run_pod(pod, "node-1", ready=r)
    stack.settle()
    (rs,) = stack.client.list("replicasets.apps", "default")
    rs_key = f"default/{rs['metadata']['name']}"
    rs["spec"]["replicas"] = new_replicas
    stack.client.update(rs)  # racing the deployment controller on purpose; no settle
    rc.reconcile(rs_key)
    once = stack.snapshot()
    rc.reconcile(rs_key)
    assert stack.snapshot() == once
    stack.settle()
    if rollout:
        stack.patch_spec("deployments.apps", "web",
                         {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "v2"}]}}}})  # fmt: skip
    stack.patch_spec("deployments.apps", "web", {"spec": {"replicas": new_replicas}})
    stack.settle()
    once = stack.snapshot()
    _reconcile_all(stack, dc, rc)
    _reconcile_all(stack, dc, rc)
    assert stack.snapshot() == once


def _scale_up_complete(stack: Stack) -> None:
    stack.create(make_deploy("web", 2, progressDeadlineSeconds=600))
    stack.settle()
    stack.run_all()
    stack.settle(700)  # the NewReplicaSetAvailable condition is older than the deadline
    stack.patch_spec("deployments.apps", "web", {"spec": {"replicas": 5}})  # as the HPA does


def _new_rollout(stack: Stack) -> None:
    stack.create(make_deploy("web", 2, progressDeadlineSeconds=600))


@pytest.mark.parametrize(
    ("setup", "wait", "reason"),
    [
        pytest.param(_scale_up_complete, 1800, "NewReplicaSetAvailable", id="scaled-up-pods-wait-for-a-node"),
        pytest.param(_new_rollout, 300, "ReplicaSetUpdated", id="rollout-waits-before-its-deadline"),
        pytest.param(_new_rollout, 1800, "ProgressDeadlineExceeded", id="rollout-waits-past-its-deadline"),
    ],
)
def test_waiting_rollout_is_not_resynced_in_a_loop(stack: Stack, setup: object, wait: int, reason: str) -> None:
    """progress.go requeueStuckDeployment: a re-check is scheduled for the progress deadline (rate-limited
    only within its last second), and none while the Progressing condition cannot time out."""
    (dc, _) = stack.start(DeploymentController, ReplicaSetController)
    setup(stack)  # type: ignore[operator]
    stack.settle()
    syncs = [0]
    reconcile = dc.reconcile

    def counted(key: str) -> float | None:
        syncs[0] += 1
        return reconcile(key)

    dc.reconcile = counted  # type: ignore[method-assign]
    stack.settle(wait)  # pods stay Pending: no node ever comes
    assert cond(dstatus(stack), "Progressing")["reason"] == reason
    assert syncs[0] < 10 * wait / 60, syncs[0]


# -- a sync's second _get_all_rss reuses the first answer: the same writes as asking again -----------
class _AsksEveryTime(DeploymentController):
    def _get_all_rss(self, d: dict, rs_list: list[dict], create: bool) -> tuple[dict | None, list[dict]]:
        self._kept_rss = None
        return super()._get_all_rss(d, rs_list, create)


def _apply_deploy_op(stack: Stack, op: tuple) -> None:
    if op[0] == "scale":
        stack.patch_spec("deployments.apps", "web", {"spec": {"replicas": op[1]}})
    elif op[0] == "image":
        set_image(stack, op[1])
    elif op[0] == "annotate":  # copied to the new ReplicaSet by the sync's first _get_all_rss
        stack.client.patch("deployments.apps", "web", {"metadata": {"annotations": {"note": op[1]}}}, "default")
    elif op[0] == "pause":
        stack.patch_spec("deployments.apps", "web", {"spec": {"paused": op[1]}})
    elif op[0] == "min-ready":
        stack.patch_spec("deployments.apps", "web", {"spec": {"minReadySeconds": op[1]}})
    elif op[0] == "run":
        stack.finish_deletions()
        stack.run_all()
    stack.settle()


@pytest.mark.parametrize(
    "ops",
    [
        pytest.param([("run",), ("scale", 5), ("run",)], id="scale"),
        pytest.param([("run",), ("image", "nginx:2.0"), ("run",), ("run",)], id="rollout"),
        pytest.param([("run",), ("annotate", "a"), ("run",), ("annotate", "b")], id="annotations-copied"),
        pytest.param([("run",), ("min-ready", 3), ("run",)], id="min-ready-copied"),
        pytest.param([("pause", True), ("image", "nginx:2.0"), ("scale", 4), ("pause", False), ("run",)],
                     id="paused"),  # fmt: skip
        pytest.param([("image", "nginx:2.0"), ("annotate", "a"), ("scale", 1), ("run",), ("run",)], id="mixed"),
    ],
)
def test_kept_replica_sets_answer_writes_what_asking_again_writes(ops: list[tuple]) -> None:
    kept, asked = Stack(), Stack()
    (ctrl, _) = kept.start(DeploymentController, ReplicaSetController)
    (ref, _) = asked.start(_AsksEveryTime, ReplicaSetController)
    for s in (kept, asked):
        s.create(make_deploy("web", 3))
        s.settle()
    for op in ops:
        for s in (kept, asked):
            _apply_deploy_op(s, op)
        assert kept.snapshot() == asked.snapshot()
        assert [e["message"] for e in kept.events()] == [e["message"] for e in asked.events()]
        assert ctrl.errors == ref.errors


@pytest.mark.parametrize(
    "ops",
    [
        pytest.param([("run",), ("scale", 5), ("run",)], id="scale"),
        pytest.param([("run",), ("image", "nginx:2.0"), ("run",)], id="rollout"),
        pytest.param([("annotate", "a"), ("min-ready", 3), ("pause", True), ("pause", False)], id="metadata-spec"),
    ],
)
def test_syncs_leave_the_cached_deployment_alone(stack: Stack, ops: list[tuple]) -> None:
    """A sync works on a copy that shares the cached Deployment's spec: whatever it writes, the
    cached versions are unchanged."""
    (ctrl, _) = stack.start(DeploymentController, ReplicaSetController)
    assert isinstance(ctrl, DeploymentController)
    written: list[dict] = []  # each version as it was written
    ctrl.d_informer.add_handler(None, lambda _o, n: written.append(copy.deepcopy(n)), None)
    stack.create(make_deploy("web", 3))
    stack.settle()
    for op in ops:
        cached = ctrl.d_informer.get("web", "default")
        assert cached is not None
        before = copy.deepcopy(cached)
        _apply_deploy_op(stack, op)
        assert cached == before
        assert stack.client.get("deployments.apps", "web", "default") == written[-1]


def _settled_web(stack: Stack) -> tuple[DeploymentController, list[int]]:
    """A Deployment web of 3 ready pods, settled; the controller, and a list that gains an item
    at each rollout step (``_rollout_rolling``) it takes from then on."""
    dc, _ = stack.start(DeploymentController, ReplicaSetController)
    assert isinstance(dc, DeploymentController)
    stack.create(make_deploy("web", 3))
    stack.settle()
    stack.run_all()
    stack.settle()
    calls: list[int] = []
    orig = dc._rollout_rolling

    def counted(*a: object) -> None:
        calls.append(1)
        orig(*a)  # type: ignore[arg-type]

    dc._rollout_rolling = counted  # type: ignore[method-assign]
    return dc, calls


def test_settled_sync_with_the_same_reads_returns_at_once(stack: Stack) -> None:
    """A sync after a settled one, with the same Deployment and ReplicaSets, does not roll out
    again; a change of what it reads (here the Deployment's annotations, which do not move its
    generation, and a ReplicaSet's status) is synced."""
    dc, calls = _settled_web(stack)
    assert cond(dstatus(stack), "Progressing")["reason"] == "NewReplicaSetAvailable"
    once = stack.snapshot()
    dc.reconcile("default/web")
    assert calls == [] and stack.snapshot() == once
    cur = stack.client.get("deployments.apps", "web", "default")
    cur["metadata"]["annotations"] = {**cur["metadata"].get("annotations", {}), "team": "a"}
    stack.client.update_status(cur)  # as _set_deployment_revision writes them: the spec kept
    stack.settle()
    (rs,) = stack.client.list("replicasets.apps", "default")
    assert rs["metadata"]["annotations"]["team"] == "a" and calls
    stack.set_pod_status(stack.pods()[0], "Running", ready=False)
    stack.settle()
    assert dstatus(stack)["readyReplicas"] == 2


def test_sync_after_replicaset_status_writes_runs_the_rollout_status_alone(stack: Stack) -> None:
    """After a settled sync, ReplicaSet status writes (a pod became unready) are synced by
    syncRolloutStatus alone, to what a full sync writes; a ReplicaSet change beyond its status
    (here its annotations) takes the full sync again."""
    dc, calls = _settled_web(stack)
    stack.set_pod_status(stack.pods()[0], "Running", ready=False)
    stack.settle()
    assert dstatus(stack)["readyReplicas"] == 2 and dstatus(stack)["availableReplicas"] == 2
    assert calls == []
    kept = dc._synced["default/web"][0]  # what that sync read, as _reads finds it now
    cached = dc.d_informer.get("web", "default")
    assert cached is not None
    now = dc._reads(cached)
    assert kept[:5] == now[:5] and len(kept[5]) == len(now[5]) and all(map(operator.is_, kept[5], now[5]))
    once = stack.snapshot()
    dc._synced.clear()  # a full sync from here finds nothing to write
    dc.reconcile("default/web")
    assert calls == [1] and stack.snapshot() == once
    stack.set_pod_status(stack.pods()[0], "Running", ready=True)
    stack.settle()
    assert dstatus(stack)["readyReplicas"] == 3 and calls == [1]
    (rs,) = stack.client.list("replicasets.apps", "default")
    rs["metadata"]["annotations"] = {**rs["metadata"].get("annotations", {}), "team": "a"}
    stack.client.update(rs)
    stack.settle()
    assert calls == [1, 1]


def test_status_moved_only_for_status_writes(stack: Stack) -> None:
    dc, _ = _settled_web(stack)
    (before,) = dc.rs_informer.list("default")
    stack.set_pod_status(stack.pods()[0], "Running", ready=False)
    stack.settle()
    (after,) = dc.rs_informer.list("default")
    assert after is not before and _status_moved(before, after)
    rs = stack.client.get("replicasets.apps", after["metadata"]["name"], "default")
    rs["metadata"]["labels"] = {**rs["metadata"]["labels"], "x": "y"}
    stack.client.update(rs)
    (relabelled,) = dc.rs_informer.list("default")
    assert not _status_moved(after, relabelled) and not _status_moved(after["metadata"]["ownerReferences"], after)


def test_max_unavailable_is_remembered_per_spec_object() -> None:
    """The memo answers for the very spec it was computed for; a new spec version (another object)
    is resolved again, so a scale or a strategy change is seen."""
    d = {"spec": {"replicas": 10, "strategy": {"rollingUpdate": {"maxUnavailable": "25%"}}}}
    assert max_unavailable(d) == 2
    assert max_unavailable({**d, "metadata": {}}) == 2  # a working copy shares the spec
    scaled = {**d, "spec": {**d["spec"], "replicas": 20}}
    assert max_unavailable(scaled) == 5
    recreate = {**d, "spec": {**d["spec"], "strategy": {"type": "Recreate"}}}
    assert max_unavailable(recreate) == 0
    assert max_unavailable(d) == 2
