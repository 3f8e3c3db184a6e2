"""Pods that block scale-down (utils/drain/drain.go reasons; reference 7.3)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.builders import make_pod

from kubetwin.autoscaler import drain
from kubetwin.autoscaler.drain import PdbTracker, plan_drain


def _pod(name: str = "p", ns: str = "default", owner: str | None = "ReplicaSet", ann: dict[str, str] | None = None,
         volumes: list[dict[str, Any]] | None = None, phase: str = "Running", labels: dict[str, str] | None = None) -> dict:  # fmt: skip
    b = make_pod(name, ns).container("c", requests={"cpu": "100m"}).labels(labels or {"app": "web"}).phase(phase)
    if owner:
        b = b.owner(owner, "owner", uid="u1", api_version="batch/v1" if owner == "Job" else "apps/v1")
    if ann:
        b = b.annotations(ann)
    pod = b.obj()
    if volumes:
        pod["spec"]["volumes"] = volumes
    return pod


def _pdb(allowed: int, ns: str = "default") -> dict:
    return {"metadata": {"name": "pdb", "namespace": ns}, "spec": {"selector": {"matchLabels": {"app": "web"}}},
            "status": {"disruptionsAllowed": allowed}}  # fmt: skip


EMPTY_DIR = [{"name": "scratch", "emptyDir": {}}]
MEM_DIR = [{"name": "scratch", "emptyDir": {"medium": "Memory"}}]
HOST_PATH = [{"name": "h", "hostPath": {"path": "/var"}}]


@pytest.mark.parametrize(
    ("pod", "pdbs", "reason"),
    [
        pytest.param(_pod(), [], None, id="replicated-moves"),
        pytest.param(_pod(owner=None), [], drain.NOT_REPLICATED, id="no-controller"),
        pytest.param(_pod(owner=None, ann={drain.SAFE_TO_EVICT: "true"}), [], None, id="no-controller-safe-to-evict"),
        pytest.param(_pod(volumes=EMPTY_DIR), [], drain.LOCAL_STORAGE_REQUESTED, id="emptydir"),
        pytest.param(_pod(volumes=HOST_PATH), [], drain.LOCAL_STORAGE_REQUESTED, id="hostpath"),
        pytest.param(_pod(volumes=MEM_DIR), [], None, id="emptydir-memory-ok"),
        pytest.param(_pod(volumes=EMPTY_DIR, ann={drain.SAFE_TO_EVICT_LOCAL_VOLUMES: "scratch"}), [], None,
                     id="local-volume-listed-safe"),
        pytest.param(_pod(volumes=EMPTY_DIR, ann={drain.SAFE_TO_EVICT: "true"}), [], None, id="local-storage-safe"),
        pytest.param(_pod(ns="kube-system"), [], drain.UNMOVABLE_KUBE_SYSTEM_POD, id="kube-system-without-pdb"),
        pytest.param(_pod(ns="kube-system"), [_pdb(1, "kube-system")], None, id="kube-system-with-pdb"),
        pytest.param(_pod(), [_pdb(0)], drain.NOT_ENOUGH_PDB, id="pdb-violated"),
        pytest.param(_pod(ann={drain.SAFE_TO_EVICT: "true"}), [_pdb(0)], drain.NOT_ENOUGH_PDB,
                     id="safe-to-evict-does-not-override-pdb"),
        pytest.param(_pod(ann={drain.SAFE_TO_EVICT: "false"}), [], drain.NOT_SAFE_TO_EVICT_ANNOTATION,
                     id="safe-to-evict-false"),
        pytest.param(_pod(owner="DaemonSet"), [], None, id="daemonset-never-blocks"),
        pytest.param(_pod(owner=None, phase="Succeeded"), [], None, id="terminal-never-blocks"),
        pytest.param(_pod(owner=None, ann={drain.MIRROR_ANNOTATION: "x"}), [], None, id="mirror-ignored"),
    ],
)  # fmt: skip
def test_blocking_rules(pod: dict, pdbs: list[dict], reason: str | None) -> None:
    plan = plan_drain([pod], PdbTracker(pdbs), 0.0, lambda ts: 0.0)
    assert (plan.blocking.reason if plan.blocking else None) == reason


def test_messages() -> None:
    plan = plan_drain([_pod("lonely", owner=None)], PdbTracker([]), 0.0, lambda ts: 0.0)
    assert plan.blocking is not None and plan.blocking.message == "default/lonely is not replicated"
    plan = plan_drain([_pod("a"), _pod("b")], PdbTracker([_pdb(1)]), 0.0, lambda ts: 0.0)
    assert plan.blocking is not None and plan.blocking.message == "not enough pod disruption budget to move default/b"


def test_flags_turn_rules_off() -> None:
    pods = [_pod(ns="kube-system"), _pod("v", volumes=HOST_PATH)]
    plan = plan_drain(pods, PdbTracker([]), 0.0, lambda ts: 0.0, skip_nodes_with_system_pods=False,
                      skip_nodes_with_local_storage=False)  # fmt: skip
    assert plan.blocking is None and len(plan.to_move) == 2


def test_pdb_budget_spent_across_nodes() -> None:
    tracker = PdbTracker([_pdb(1)])
    first = plan_drain([_pod("a")], tracker, 0.0, lambda ts: 0.0)
    assert first.blocking is None
    tracker.remove(first.to_move)
    assert plan_drain([_pod("b")], tracker, 0.0, lambda ts: 0.0).blocking is not None


@pytest.mark.parametrize(
    ("allowed", "labels"),
    [
        pytest.param([2, 1], ["web", "web", "db"], id="room-for-all"),
        pytest.param([1, 1], ["web", "web", "db"], id="second-web-pod-blocks"),
        pytest.param([2, 0], ["db", "web"], id="first-pod-blocks"),
        pytest.param([0, 0], ["cache"], id="no-pdb-selects"),
    ],
)
def test_pdb_counts_at_once_give_the_pod_by_pod_answers(allowed: list[int], labels: list[str]) -> None:
    """can_remove / remove with the pods' needs counted once (kept across scans) answer exactly
    as walking the pods: the same blocking pod and message, the same budgets left."""
    pdbs = [{**_pdb(a), "metadata": {"name": f"pdb-{app}", "namespace": "default"},
             "spec": {"selector": {"matchLabels": {"app": app}}}} for a, app in zip(allowed, ["web", "db"], strict=True)]  # fmt: skip
    pods = [_pod(f"p{i}", labels={"app": app}) for i, app in enumerate(labels)]
    walk, counted = PdbTracker(pdbs), PdbTracker(pdbs, {})
    needs = counted.needs(pods)
    got, want = counted.can_remove(pods, needs), walk.can_remove(pods)
    assert (got and (got.pod["metadata"]["name"], got.message)) == (want and (want.pod["metadata"]["name"], want.message))
    walk.remove(pods)
    counted.remove(pods, needs)
    assert counted.remaining == walk.remaining
