from __future__ import annotations

import pytest

from kubetwin.controllers import _util as u
from kubetwin.controllers.job import JobController, TTLAfterFinishedController, format_indexes, parse_indexes

from .conftest import Stack, template


def make_job(name: str = "work", restart: str = "Never", **spec: object) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "default"},
            "spec": {"template": template({"app": name}, restartPolicy=restart), **spec}}  # fmt: skip


def jstatus(stack: Stack, name: str = "work") -> dict:
    return stack.get("jobs.batch", name)["status"]


def active_pods(stack: Stack) -> list[dict]:
    return [p for p in stack.pods() if u.is_pod_active(p)]


def conds(stack: Stack) -> list[tuple[str, str]]:
    return [(c["type"], c["reason"]) for c in jstatus(stack).get("conditions", [])]


@pytest.mark.parametrize(
    "idx, text",
    [pytest.param({0, 1, 2, 4, 6, 7}, "0-2,4,6-7", id="mixed"), pytest.param(set(), "", id="empty"),
     pytest.param({5}, "5", id="single")],
)  # fmt: skip
def test_index_format_roundtrip(idx: set[int], text: str) -> None:
    assert format_indexes(idx) == text
    assert parse_indexes(text) == idx


def test_completions_and_parallelism(stack: Stack) -> None:
    stack.start(JobController)
    stack.create(make_job(completions=3, parallelism=2))
    stack.settle()
    pods = active_pods(stack)
    assert len(pods) == 2
    p = pods[0]
    assert p["metadata"]["finalizers"] == ["batch.kubernetes.io/job-tracking"]
    assert p["metadata"]["labels"]["job-name"] == "work"
    st = jstatus(stack)
    assert (st["active"], st["succeeded"], st["failed"]) == (2, 0, 0) and st["startTime"]
    for p in pods:
        stack.set_pod_status(p, "Succeeded")
    stack.settle()
    assert jstatus(stack)["succeeded"] == 2
    assert all(not p["metadata"].get("finalizers") for p in stack.pods() if p["status"]["phase"] == "Succeeded")
    (last,) = active_pods(stack)
    stack.settle(5)
    stack.set_pod_status(last, "Succeeded")
    stack.settle()
    st = jstatus(stack)
    assert (st["active"], st["succeeded"]) == (0, 3)
    assert conds(stack) == [("SuccessCriteriaMet", "CompletionsReached"), ("Complete", "CompletionsReached")]
    assert st["completionTime"] == stack.loop.timestamp()
    assert [e["message"] for e in stack.events("Completed")] == ["Job completed"]
    assert len(stack.events("SuccessfulCreate")) == 3


def test_backoff_limit_with_exponential_delay(stack: Stack) -> None:
    stack.start(JobController)
    stack.create(make_job(backoffLimit=2))
    stack.settle()
    delays = []
    for i in range(3):
        (p,) = active_pods(stack)
        failed_at = stack.loop.now
        stack.set_pod_status(p, "Failed")
        stack.settle()
        if i < 2:
            assert active_pods(stack) == []  # waiting for the back-off
            stack.settle(400)
            (p,) = active_pods(stack)
            delays.append(stack.loop.parse_timestamp(p["metadata"]["creationTimestamp"]) - failed_at)
    assert delays == [10.0, 20.0]
    st = jstatus(stack)
    assert st["failed"] == 3 and st["active"] == 0
    assert conds(stack) == [("FailureTarget", "BackoffLimitExceeded"), ("Failed", "BackoffLimitExceeded")]
    ev = stack.events("BackoffLimitExceeded")
    assert ev[0]["type"] == "Warning" and ev[0]["message"] == "Job has reached the specified backoff limit"


def test_restart_policy_on_failure_counts_restarts(stack: Stack) -> None:
    stack.start(JobController)
    stack.create(make_job(restart="OnFailure", backoffLimit=3))
    stack.settle()
    (p,) = active_pods(stack)
    stack.set_pod_status(p, "Running", restarts=2)
    stack.settle()
    assert conds(stack) == []
    stack.set_pod_status(p, "Running", restarts=3)
    stack.settle()
    assert ("FailureTarget", "BackoffLimitExceeded") in conds(stack)
    assert ("Failed", "BackoffLimitExceeded") in conds(stack)  # unbound pod deleted at once


def test_active_deadline(stack: Stack) -> None:
    stack.start(JobController)
    stack.create(make_job(activeDeadlineSeconds=30, parallelism=2))
    stack.settle()
    pods = active_pods(stack)
    stack.run_pod(pods[0], "n1")
    stack.settle(29)
    assert conds(stack) == []
    stack.settle(1)
    assert conds(stack) == [("FailureTarget", "DeadlineExceeded")]  # the bound pod is terminating
    stack.finish_deletions()
    assert conds(stack) == [("FailureTarget", "DeadlineExceeded"), ("Failed", "DeadlineExceeded")]
    assert jstatus(stack)["failed"] == 2
    assert stack.events("DeadlineExceeded")[0]["message"] == "Job was active longer than specified deadline"


def test_indexed_job(stack: Stack) -> None:
    stack.start(JobController)
    stack.create(make_job(completions=4, parallelism=2, completionMode="Indexed"))
    stack.settle()
    pods = sorted(active_pods(stack), key=lambda p: p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"])
    assert [p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] for p in pods] == ["0", "1"]
    assert pods[1]["metadata"]["name"].startswith("work-1-")
    assert pods[1]["spec"]["hostname"] == "work-1"
    assert pods[1]["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == "1"
    stack.set_pod_status(pods[1], "Succeeded")
    stack.settle()
    assert jstatus(stack)["completedIndexes"] == "1"
    idx = sorted(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] for p in active_pods(stack))
    assert idx == ["0", "2"]
    for p in active_pods(stack):
        stack.set_pod_status(p, "Succeeded")
    stack.settle()
    (p,) = active_pods(stack)
    stack.set_pod_status(p, "Succeeded")
    stack.settle()
    st = jstatus(stack)
    assert st["completedIndexes"] == "0-3" and st["succeeded"] == 4
    assert ("Complete", "CompletionsReached") in conds(stack)


def test_ttl_after_finished(stack: Stack) -> None:
    stack.start(JobController, TTLAfterFinishedController)
    stack.create(make_job(ttlSecondsAfterFinished=100))
    stack.settle()
    (p,) = active_pods(stack)
    stack.set_pod_status(p, "Succeeded")
    stack.settle(99)
    assert stack.get("jobs.batch", "work") is not None
    stack.settle(1)
    job = stack.get("jobs.batch", "work")
    assert job is None or job["metadata"].get("deletionTimestamp")
