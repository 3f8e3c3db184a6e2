from __future__ import annotations

import copy
import heapq
from functools import cmp_to_key
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubetwin.api.errors import ApiError
from kubetwin.api.resources import is_pod_ready
from kubetwin.controllers import _util as u
from kubetwin.controllers import replicaset as rsmod
from kubetwin.controllers.replicaset import ReplicaSetController, _Owned, rank_pods_for_deletion
from kubetwin.sim import EventLoop

from .conftest import Stack, make_rs

Obj = dict[str, Any]


def rs_status(stack: Stack, name: str) -> dict:
    rs = stack.get("replicasets.apps", name)
    assert rs is not None
    return rs.get("status") or {}


@pytest.mark.parametrize(
    "replicas",
    [pytest.param(0, id="zero"), pytest.param(1, id="one"), pytest.param(7, id="seven")],
)
def test_creates_pods_from_template(stack: Stack, replicas: int) -> None:
    stack.start(ReplicaSetController)
    rs = stack.create(make_rs("web", replicas))
    stack.settle()
    pods = stack.pods()
    assert len(pods) == replicas
    for p in pods:
        assert p["metadata"]["name"].startswith("web-")
        assert len(p["metadata"]["name"]) == len("web-") + 5
        assert p["metadata"]["labels"] == {"app": "web"}
        ref = p["metadata"]["ownerReferences"][0]
        assert ref["uid"] == rs["metadata"]["uid"] and ref["controller"] and ref["blockOwnerDeletion"]
    created = stack.events("SuccessfulCreate")
    assert sorted(e["message"] for e in created) == sorted(f"Created pod: {p['metadata']['name']}" for p in pods)
    st = rs_status(stack, "web")
    assert st["replicas"] == replicas and st["observedGeneration"] == 1
    assert st["readyReplicas"] == 0 and st["availableReplicas"] == 0 and st["fullyLabeledReplicas"] == replicas


def test_status_counts_ready_and_available_with_min_ready_seconds(stack: Stack) -> None:
    stack.start(ReplicaSetController)
    stack.create(make_rs("web", 3, min_ready=10))
    stack.settle()
    stack.run_all()
    st = rs_status(stack, "web")
    assert (st["readyReplicas"], st["availableReplicas"]) == (3, 0)
    stack.settle(10)
    assert rs_status(stack, "web")["availableReplicas"] == 0  # strictly after minReadySeconds
    stack.settle(1)
    assert rs_status(stack, "web")["availableReplicas"] == 3


def test_scale_down_deletes_by_rank(stack: Stack) -> None:
    stack.start(ReplicaSetController)
    stack.create(make_rs("web", 4))
    stack.settle()
    pods = sorted(stack.pods(), key=lambda p: p["metadata"]["name"])
    stack.run_pod(pods[0], "node-1", ready=True)
    stack.run_pod(pods[1], "node-2", ready=False)
    stack.bind(pods[2], "node-2")  # assigned, Pending
    # pods[3] stays unassigned
    stack.settle()
    stack.patch_spec("replicasets.apps", "web", {"spec": {"replicas": 1}})
    stack.settle()
    left = [p["metadata"]["name"] for p in stack.pods() if not p["metadata"].get("deletionTimestamp")]
    assert left == [pods[0]["metadata"]["name"]]
    deleted = [e["message"] for e in stack.events("SuccessfulDelete")]
    assert deleted == [f"Deleted pod: {pods[i]['metadata']['name']}" for i in (3, 2, 1)]


@pytest.mark.parametrize(
    "pods, expect_first",
    [
        pytest.param([("a", "", "Pending", False, 0, 0), ("b", "n1", "Pending", False, 0, 0)], "a", id="unassigned-first"),
        pytest.param([("a", "n1", "Running", True, 0, 0), ("b", "n1", "Pending", False, 0, 0)], "b", id="pending-first"),
        pytest.param([("a", "n1", "Running", True, 0, 0), ("b", "n1", "Running", False, 0, 0)], "b", id="not-ready-first"),
        pytest.param([("a", "n1", "Running", True, 0, 0), ("b", "n2", "Running", True, 0, 0)], "a", id="doubled-up-first"),
        pytest.param([("a", "n1", "Running", False, 1, 0), ("b", "n1", "Running", False, 5, 0)], "b", id="more-restarts-first"),
        pytest.param([("a", "n1", "Running", False, 0, 0), ("b", "n1", "Running", False, 0, 500)], "b", id="newer-first"),
    ],
)
def test_rank_pods_for_deletion(pods: list[tuple], expect_first: str) -> None:
    loop = EventLoop()
    loop.run(until=1000)
    objs = []
    for name, node, phase, ready, restarts, created in pods:
        objs.append({
            "metadata": {"name": name, "uid": name, "creationTimestamp": loop.timestamp(created)},
            "spec": {"nodeName": node},
            "status": {"phase": phase,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastTransitionTime": loop.timestamp(0)}],
                       "containerStatuses": [{"name": "c", "restartCount": restarts}]},
        })  # fmt: skip
    ranks = [2 if p["spec"]["nodeName"] == "n1" and len({q["spec"]["nodeName"] for q in objs}) > 1 else 1 for p in objs]
    assert rank_pods_for_deletion(loop, objs, ranks, loop.now)[0]["metadata"]["name"] == expect_first


def test_adopts_orphans_and_releases_non_matching(stack: Stack) -> None:
    stack.start(ReplicaSetController)
    orphan = stack.create({"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": "orphan", "namespace": "default", "labels": {"app": "web"}},
                           "spec": {"containers": [{"name": "c", "image": "x"}]}})  # fmt: skip
    rs = stack.create(make_rs("web", 2))
    stack.settle()
    pods = stack.pods()
    assert len(pods) == 2
    adopted = stack.get("pods", "orphan")
    assert adopted["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
    # relabel: released, and a replacement is created
    cur = stack.get("pods", "orphan")
    cur["metadata"]["labels"] = {"app": "other"}
    stack.client.update(cur)
    stack.settle()
    assert not stack.get("pods", "orphan")["metadata"].get("ownerReferences")
    assert len([p for p in stack.pods() if p["metadata"]["labels"] == {"app": "web"}]) == 2
    assert orphan["metadata"]["uid"] == adopted["metadata"]["uid"]


def test_replica_failure_condition_on_forbidden_create(stack: Stack) -> None:
    stack.start(ReplicaSetController)
    rs = make_rs("web", 5)
    rs["spec"]["template"]["spec"]["priorityClassName"] = "missing"
    stack.create(rs)
    stack.settle()
    st = rs_status(stack, "web")
    cond = st["conditions"][0]
    assert cond["type"] == "ReplicaFailure" and cond["status"] == "True" and cond["reason"] == "FailedCreate"
    assert "no PriorityClass with name missing was found" in cond["message"]
    failed = stack.events("FailedCreate")
    assert failed and failed[0]["type"] == "Warning" and failed[0]["message"].startswith("Error creating: ")
    # slow start: the first batch (one pod) failed, so no further batches were attempted
    assert failed[0]["count"] >= 1 and len(stack.pods()) == 0
    # fix the template: the condition goes away
    stack.patch_spec("replicasets.apps", "web", {"spec": {"template": {"spec": {"priorityClassName": None}}}})
    stack.settle(10)
    assert len(stack.pods()) == 5
    assert "conditions" not in rs_status(stack, "web")


def test_replaces_deleted_and_failed_pods(stack: Stack) -> None:
    stack.start(ReplicaSetController)
    stack.create(make_rs("web", 2))
    stack.settle()
    stack.run_all()
    p0, p1 = stack.pods()
    stack.set_pod_status(p0, "Failed")
    stack.client.delete("pods", p1["metadata"]["name"], "default", grace_period_seconds=0)
    stack.settle()
    active = [p for p in stack.pods() if p["status"]["phase"] != "Failed"]
    assert len(active) == 2


# -- counts kept per ReplicaSet: a sync from them writes what a pass over the pods writes -----------
class _AlwaysThroughThePods(ReplicaSetController):
    def _owned_counts(self, rs: dict, selector: Any, tlabels: dict) -> _Owned:
        o = _Owned("", selector, tlabels)
        o.loose = 1  # never the counted path
        return o


_rs_op = st.one_of(
    st.tuples(st.just("scale"), st.integers(0, 6)),
    st.tuples(st.just("ready"), st.integers(0, 9), st.booleans()),
    st.tuples(st.just("relabel"), st.integers(0, 9), st.sampled_from(["web", "db"])),
    st.tuples(st.just("delete"), st.integers(0, 9)),
    st.tuples(st.just("orphan"), st.integers(0, 3), st.sampled_from(["web", "db"])),
    st.tuples(st.just("template"), st.sampled_from(["a", "b"])),
    st.tuples(st.just("min-ready"), st.sampled_from([0, 0, 5])),
    st.tuples(st.just("wait"), st.sampled_from([0, 6])),
    st.tuples(st.just("fail"), st.integers(0, 9)),
    st.tuples(st.just("terminate"), st.integers(0, 9)),
)


def _apply_rs_op(stack: Stack, op: tuple) -> None:
    pods = sorted(stack.pods(), key=lambda p: p["metadata"]["name"])
    pick = pods[op[1] % len(pods)] if pods and isinstance(op[1], int) and op[0] != "scale" else None
    try:
        if op[0] == "scale":
            stack.patch_spec("replicasets.apps", "web", {"spec": {"replicas": op[1]}})
        elif op[0] == "ready" and pick is not None:
            stack.run_pod(pick, f"n{op[1] % 3}", ready=op[2])
        elif op[0] == "relabel" and pick is not None:
            stack.client.patch("pods", pick["metadata"]["name"], {"metadata": {"labels": {"app": op[2]}}}, "default")
        elif op[0] == "delete" and pick is not None:
            stack.client.delete("pods", pick["metadata"]["name"], "default", grace_period_seconds=0)
        elif op[0] == "fail" and pick is not None:
            stack.set_pod_status(pick, "Failed")
        elif op[0] == "terminate" and pick is not None:  # graceful: only deletionTimestamp is set
            stack.client.delete("pods", pick["metadata"]["name"], "default", grace_period_seconds=30)
        elif op[0] == "orphan":
            stack.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"orphan-{op[1]}",
                          "namespace": "default", "labels": {"app": op[2]}},
                          "spec": {"containers": [{"name": "c", "image": "x"}]}})  # fmt: skip
        elif op[0] == "template":
            stack.patch_spec("replicasets.apps", "web",
                             {"spec": {"template": {"metadata": {"labels": {"app": "web", "v": op[1]}}}}})  # fmt: skip
        elif op[0] == "min-ready":
            stack.patch_spec("replicasets.apps", "web", {"spec": {"minReadySeconds": op[1]}})
    except ApiError:
        pass
    stack.settle(op[1] if op[0] == "wait" else 0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_rs_op, min_size=1, max_size=25))
def test_counted_sync_writes_what_a_pass_over_the_pods_writes(ops: list[tuple]) -> None:
    _check_counted_against_through_the_pods(ops)


@pytest.mark.parametrize(
    "ops",
    [  # status writes (owner and labels shared with the previous version) that move the counts
        pytest.param([("ready", 0, False), ("ready", 0, True)], id="becomes-ready"),
        pytest.param([("ready", 0, True), ("ready", 0, False)], id="stops-being-ready"),
        pytest.param([("ready", 0, False), ("fail", 0)], id="fails"),
        pytest.param([("ready", 0, True), ("terminate", 0)], id="terminating"),
        pytest.param([("scale", 2), ("ready", 0, True), ("scale", 6), ("ready", 4, True), ("scale", 1)],
                     id="binds-after-scale-down"),  # fmt: skip
        # node counts kept: a bind moves only the node count, readiness only the counts
        pytest.param([("scale", 2), ("ready", 0, True), ("scale", 1), ("scale", 4), ("ready", 2, False),
                      ("ready", 2, True)], id="binds-unready-then-readies-after-scale-down"),  # fmt: skip
        pytest.param([("ready", 0, True), ("ready", 0, True), ("ready", 1, False)], id="nothing-moves"),
    ],
)
def test_status_writes_move_the_kept_counts(ops: list[tuple]) -> None:
    _check_counted_against_through_the_pods(ops)


def _check_counted_against_through_the_pods(ops: list[tuple]) -> None:
    counted, through = Stack(), Stack()
    (ctrl,) = counted.start(ReplicaSetController)
    through.start(_AlwaysThroughThePods)
    for s in (counted, through):
        s.create(make_rs("web", 3))
        s.settle()
    for op in ops:
        for s in (counted, through):
            _apply_rs_op(s, op)
        assert counted.snapshot() == through.snapshot()
        rs = counted.get("replicasets.apps", "web")
        assert rs is not None
        kept = ctrl._owned.get(rs["metadata"]["uid"])
        if kept is not None and kept.ranked is not None:  # the kept pods to rank: as a pass lists them
            got = [f.pod for f in ctrl._active_matching(rs["metadata"]["uid"], kept)]
            kept.ranked = None
            assert got == [f.pod for f in ctrl._active_matching(rs["metadata"]["uid"], kept)]
        if kept is not None:  # the running counts equal counts from scratch
            del ctrl._owned[rs["metadata"]["uid"]]
            fresh = ctrl._owned_counts(rs, kept.sel, kept.tlabels)
            assert (kept.parts, kept.counted, kept.same_ns, kept.loose, kept.ready, kept.fully) == (
                fresh.parts, fresh.counted, fresh.same_ns, fresh.loose, fresh.ready, fresh.fully)  # fmt: skip
        for uid, on_node in list(ctrl._on_node.items()):  # pods per node, as counted from scratch
            del ctrl._on_node[uid]
            assert ctrl._node_counts(uid) == on_node


# -- deletion ranking reads each pod once: the same order as reading both pods per comparison ------
def _strict_weak_order(clock: Any, pods: list[Obj], ranks: list[int]) -> bool:
    """Whether the deletion comparison is a strict weak order on ``pods`` (less and "neither is
    less" both transitive): read pair by pair from the reference ranking of two pods."""
    n = len(pods)

    def first(i: int, j: int) -> bool:  # less(pods[i], pods[j])
        got = _rank_one_comparison_at_a_time(clock, [pods[j], pods[i]], [ranks[j], ranks[i]], clock.now)
        return got[0] is pods[i]

    less = [[i != j and first(i, j) for j in range(n)] for i in range(n)]
    for a in range(n):
        for b in range(n):
            for c in range(n):
                if less[a][b] and less[b][c] and not less[a][c]:
                    return False
                eq_ab = not less[a][b] and not less[b][a]
                eq_bc = not less[b][c] and not less[c][b]
                if eq_ab and eq_bc and (less[a][c] or less[c][a]):
                    return False
    return True


def _rank_one_comparison_at_a_time(clock: Any, pods: list[Obj], ranks: list[int], now: float) -> list[Obj]:
    """The ranking as it was first written: every comparison reads both pods again."""
    items = list(zip(pods, ranks, strict=True))

    def less(a: tuple[Obj, int], b: tuple[Obj, int]) -> bool:
        pi, ri = a
        pj, rj = b
        ni = (pi.get("spec") or {}).get("nodeName") or ""
        nj = (pj.get("spec") or {}).get("nodeName") or ""
        if ni != nj and (not ni or not nj):
            return not ni
        oi = rsmod._PHASE_ORDINAL.get((pi.get("status") or {}).get("phase", ""), -1)
        oj = rsmod._PHASE_ORDINAL.get((pj.get("status") or {}).get("phase", ""), -1)
        if oi != oj:
            return oi < oj
        ready_i, ready_j = is_pod_ready(pi), is_pod_ready(pj)
        if ready_i != ready_j:
            return not ready_i
        ci, cj = rsmod._deletion_cost(pi), rsmod._deletion_cost(pj)
        if ci != cj:
            return ci < cj
        if ri != rj:
            return ri > rj
        if ready_i and ready_j:
            ti, tj = u.ready_since(clock, pi), u.ready_since(clock, pj)
            if ti != tj:
                if ti is None or tj is None:
                    return ti is None
                diff = rsmod._log_rank(ti, now) - rsmod._log_rank(tj, now)
                if diff == 0:
                    return rsmod.u_id(pi) < rsmod.u_id(pj)
                return diff < 0
        mi, mj = u.max_container_restarts(pi), u.max_container_restarts(pj)
        if mi != mj:
            return mi > mj
        ki, kj = u.created(clock, pi), u.created(clock, pj)
        if ki != kj:
            diff = rsmod._log_rank(ki, now) - rsmod._log_rank(kj, now)
            if diff == 0:
                return rsmod.u_id(pi) < rsmod.u_id(pj)
            return diff < 0
        return False

    def cmp(a: tuple[Obj, int], b: tuple[Obj, int]) -> int:
        if less(a, b):
            return -1
        if less(b, a):
            return 1
        return 0

    items.sort(key=cmp_to_key(cmp))
    return [p for p, _ in items]



# mostly alike pods, so that the later rules (ready-time and creation buckets, uid) decide often
_pod_st = st.tuples(st.sampled_from(["n1", "n1", "n2", ""]), st.sampled_from(["Running", "Running", "Pending", "Unknown"]),
                    st.sampled_from([True, True, False]), st.sampled_from([None, None, "-5", "7"]), st.integers(0, 1),
                    st.sampled_from([0, 100, 900, 950, 999, 1000]), st.sampled_from([0, 10, 500, 990]))  # fmt: skip


def _ranked_pod(
    loop: EventLoop, i: int, uid: str, node: str, phase: str, ready: bool, cost: str | None,
    restarts: int, ready_at: float, created: float,
) -> Obj:
    """A pod carrying exactly the facts the deletion ranking reads."""
    ann = {"controller.kubernetes.io/pod-deletion-cost": cost} if cost is not None else {}
    return {
        "metadata": {"name": f"p{i}", "uid": uid, "creationTimestamp": loop.timestamp(created), "annotations": ann},
        "spec": {"nodeName": node},
        "status": {"phase": phase,
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                   "lastTransitionTime": loop.timestamp(ready_at)}],
                   "containerStatuses": [{"name": "c", "restartCount": restarts}]},
    }  # fmt: skip


def _unread_ready_time(pod: Obj) -> Obj:
    """``pod`` with its Ready condition's time left out (ready since an unknown instant)."""
    del pod["status"]["conditions"][0]["lastTransitionTime"]
    return pod


@settings(max_examples=300, deadline=None)
@given(pods=st.lists(_pod_st, max_size=12), ranks=st.lists(st.integers(0, 1), min_size=12, max_size=12))
def test_rank_reads_each_pod_once_same_order(pods: list[tuple], ranks: list[int]) -> None:
    loop = EventLoop()
    loop.run(until=1000)
    objs = [_ranked_pod(loop, i, f"u{(i * 7) % 5}{i}", *facts) for i, facts in enumerate(pods)]
    r = ranks[: len(objs)]
    got = [p["metadata"]["name"] for p in rank_pods_for_deletion(loop, objs, r, loop.now)]
    want = [p["metadata"]["name"] for p in _rank_one_comparison_at_a_time(loop, objs, r, loop.now)]
    assert got == want
    # The first few only (heapq.nsmallest): the same pods in the same order as sorting all of them,
    # wherever the comparison orders this input consistently. Upstream's Less is not transitive
    # everywhere (a ready-time bucket can tie while creation buckets differ), so on such inputs the
    # pick depends on the algorithm, as Go's unstable sort.Sort's does: then only distinct pods.
    consistent = _strict_weak_order(loop, objs, r)
    for limit in range(len(objs) + 1):
        top = [p["metadata"]["name"] for p in rank_pods_for_deletion(loop, objs, r, loop.now, limit=limit)]
        assert len(set(top)) == len(top) == limit
        if consistent:
            assert top == want[:limit]


# -- the first few to delete: exactly heapq.nsmallest over every pod, intransitive inputs included --
def _nsmallest_reference(clock: Any, pods: list[Obj], ranks: list[int], now: float, limit: int) -> list[Obj]:
    """What the ranking with a limit returned before the leading rules skipped items: every pod
    read and compared (heapq.nsmallest with the comparison as key)."""
    items = []
    for p, r in zip(pods, ranks, strict=True):
        f = rsmod._RankFacts.of(clock, p)
        items.append(rsmod._item(p, r, f, now))
    return [it[0] for it in heapq.nsmallest(limit, items, key=cmp_to_key(rsmod._cmp))]


# many pods alike (same node, phase, cost, ready instant or creation instant) so that the pick
# runs into upstream's intransitive ties; costs beyond int32 take the compare-everything path
_many_pods_st = st.lists(
    st.tuples(st.sampled_from(["n1", "n1", "n2", "n3", ""]), st.sampled_from(["Running", "Running", "Pending"]),
              st.sampled_from([True, True, True, False]), st.sampled_from([None, None, None, "3", "-2"]),
              st.integers(0, 1), st.sampled_from([0, 400, 700, 700, 900, 999, 1001, None]),
              st.sampled_from([0, 10, 10, 600]), st.integers(0, 99)),
    min_size=1, max_size=40,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(pods=_many_pods_st, big_cost=st.booleans(), same_uids=st.booleans(), data=st.data())
def test_limited_rank_is_heapq_nsmallest_over_every_pod(
    pods: list[tuple], big_cost: bool, same_uids: bool, data: Any
) -> None:
    # ready times: in one log2 bucket of the age or not, shared or not, in the future, unread
    loop = EventLoop()
    loop.run(until=1000)
    objs = []
    for i, (node, phase, ready, cost, restarts, ready_at, created, uid) in enumerate(pods):
        if big_cost and i == 0:
            cost = str(1 << 40)
        name = f"u{uid % 3}" if same_uids else f"u{uid:02d}-{i}"
        pod = _ranked_pod(loop, i, name, node, phase, ready, cost, restarts, ready_at or 0, created)
        objs.append(pod if ready_at is not None else _unread_ready_time(pod))
    ranks = data.draw(st.lists(st.integers(0, 3), min_size=len(objs), max_size=len(objs)))
    for limit in range(len(objs)):
        got = rank_pods_for_deletion(loop, objs, ranks, loop.now, limit=limit)
        want = _nsmallest_reference(loop, objs, ranks, loop.now, limit)
        assert [p["metadata"]["name"] for p in got] == [p["metadata"]["name"] for p in want]


@settings(max_examples=200, deadline=None)
@given(pods=_many_pods_st, data=st.data())
def test_three_way_comparison_is_less_both_ways(pods: list[tuple], data: Any) -> None:
    loop = EventLoop()
    loop.run(until=1000)
    items = []
    for i, (node, phase, ready, cost, restarts, ready_at, created, uid) in enumerate(pods):
        ann = {"controller.kubernetes.io/pod-deletion-cost": cost} if cost is not None else {}
        pod = {"metadata": {"name": f"p{i}", "uid": f"u{uid % 7}", "creationTimestamp": loop.timestamp(created),
                            "annotations": ann},
               "spec": {"nodeName": node},
               "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                                          "lastTransitionTime": loop.timestamp(ready_at)}],
                          "containerStatuses": [{"name": "c", "restartCount": restarts}]}}  # fmt: skip
        rank = data.draw(st.integers(0, 2))
        items.append(rsmod._item(pod, rank, rsmod._RankFacts.of(loop, pod), loop.now))
    for a in items:
        for b in items:
            want = -1 if rsmod._less(a, b) else (1 if rsmod._less(b, a) else 0)
            assert rsmod._cmp(a, b) == want


def test_status_write_leaves_the_cached_replicaset_alone(stack: Stack) -> None:
    """The status write hands over a shallow copy of the cached ReplicaSet: the cached version
    (which informers and other controllers hold) is unchanged and the stored status is new."""
    (ctrl,) = stack.start(ReplicaSetController)
    stack.create(make_rs("web", 2))
    stack.settle()
    assert isinstance(ctrl, ReplicaSetController)
    cached = ctrl.rs_informer.get("web", "default")
    assert cached is not None
    before = copy.deepcopy(cached)
    stack.run_all()
    assert cached == before
    assert rs_status(stack, "web")["readyReplicas"] == 2 and before["status"]["readyReplicas"] == 0


def test_status_another_writer_moved_is_written_back(stack: Stack) -> None:
    """A sync whose counts the ReplicaSet's status held last time, but which finds a status that
    another writer has replaced since, writes its counts again."""
    (ctrl,) = stack.start(ReplicaSetController)
    stack.create(make_rs("web", 2))
    stack.settle()
    stack.run_all()
    stack.settle()
    assert isinstance(ctrl, ReplicaSetController)
    rs = stack.client.get("replicasets.apps", "web", "default")
    ctrl.reconcile("default/web")  # finds its counts there
    rs["status"] = {**rs["status"], "readyReplicas": 7}
    stack.client.update_status(rs)
    stack.settle()
    assert rs_status(stack, "web")["readyReplicas"] == 2


def test_created_pods_share_nothing_with_the_template(stack: Stack) -> None:
    """Pods are handed to the registry as built (owned): defaulting and admission write into them,
    so nothing of them may be the ReplicaSet's template."""
    stack.start(ReplicaSetController)
    stack.create(make_rs("web", 2))
    stack.settle()
    rs = stack.client.get("replicasets.apps", "web", "default", copy=False)
    template = rs["spec"]["template"]
    before = copy.deepcopy(template)
    pods = [stack.client.get("pods", p["metadata"]["name"], "default", copy=False) for p in stack.pods()]
    assert len(pods) == 2
    for p in pods:
        assert p["spec"] is not template["spec"]
        assert p["spec"]["containers"][0] is not template["spec"]["containers"][0]
        assert p["metadata"]["labels"] is not template["metadata"]["labels"]
    assert template == before


def test_spec_copies_are_private_and_equal_to_deep_copies() -> None:
    from kubetwin.controllers.replicaset import _SpecCopies
    from kubetwin.store.copy import deep_copy

    src = {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}], "tolerations": []}
    copies = _SpecCopies(src)
    a, b = copies.copy(), copies.copy()
    assert a == b == deep_copy(src)
    a["tolerations"].append({"key": "x"})
    a["containers"][0]["name"] = "d"
    assert b == src and src["tolerations"] == [] and src["containers"][0]["name"] == "c"
    odd = {1: "not JSON-shaped"}  # a non-string key: deep_copy's exact fallback
    assert _SpecCopies(odd).copy() == deep_copy(odd) == odd


def test_kept_pods_to_rank_follow_status_writes(stack: Stack) -> None:
    """After a scale-down has listed a ReplicaSet's pods to rank, a status write that moves no
    count (a restart) leaves the pod listed in its place, with the facts of its new version;
    a deletion takes it out and a new pod comes last."""
    (ctrl,) = stack.start(ReplicaSetController)
    assert isinstance(ctrl, ReplicaSetController)
    stack.create(make_rs("web", 4))
    stack.settle()
    stack.run_all()
    stack.settle()
    stack.patch_spec("replicasets.apps", "web", {"spec": {"replicas": 3}})
    stack.settle()
    rs = stack.get("replicasets.apps", "web")
    assert rs is not None
    uid = rs["metadata"]["uid"]
    kept = ctrl._owned[uid]
    assert kept.ranked is not None and len(kept.ranked) == 3
    pods = sorted(stack.pods(), key=lambda p: p["metadata"]["name"])
    stack.set_pod_status(pods[1], "Running", ready=True, restarts=2)
    stack.client.delete("pods", pods[0]["metadata"]["name"], "default", grace_period_seconds=0)
    stack.settle()
    got = [f.pod for f in ctrl._active_matching(uid, kept)]
    assert len(got) == 3 and got == [p for p in ctrl.pod_informer.by_index(u.CONTROLLER_UID_INDEX, uid) if u.is_pod_active(p)]
    assert any(u.max_container_restarts(f.pod) == 2 for f in kept.ranked.values())


@pytest.mark.parametrize("age", [1e-10, 1.5e-10, 1e-12])
def test_limited_rank_puts_an_unread_ready_time_first_at_any_age(age: float) -> None:
    """A ready time not read comes first (as _cmp's None) also against one a fraction of a
    nanosecond old, whose log2 bucket is negative."""
    loop = EventLoop()
    loop.run(until=1000)
    dated = _ranked_pod(loop, 0, "u00-0", "n1", "Running", True, None, 0, 1000, 0)
    unread = _unread_ready_time(_ranked_pod(loop, 1, "u01-1", "n1", "Running", True, None, 0, 1000, 0))
    now = 1000 + age
    for objs in ([dated, unread], [unread, dated]):
        want = _nsmallest_reference(loop, objs, [0, 0], now, 1)
        got = rank_pods_for_deletion(loop, objs, [0, 0], now, limit=1)
        assert [p["metadata"]["name"] for p in got] == [p["metadata"]["name"] for p in want] == ["p1"]
