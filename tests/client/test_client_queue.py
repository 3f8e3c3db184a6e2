"""WorkQueue, rate limiter, Controller base and EventRecorder on the virtual clock."""

from __future__ import annotations

from typing import Any

import pytest

from builders import make_pod
from kubetwin.api import errors
from kubetwin.client import Client, Controller, EventRecorder, InformerFactory, RateLimiter, WorkQueue
from kubetwin.client.events import MAX_LRU_CACHE_ENTRIES
from kubetwin.sim import EventLoop, SeededRNG
from kubetwin.store import Registry, Store


class Recorder:
    def __init__(self, loop: EventLoop) -> None:
        self.loop = loop
        self.calls: list[tuple[float, str]] = []
        self.queue: WorkQueue | None = None
        self.readd: set[str] = set()

    def __call__(self, key: str) -> None:
        self.calls.append((self.loop.now, key))
        if key in self.readd and self.queue is not None:
            self.readd.discard(key)
            self.queue.add(key)  # added while processing -> dirty -> runs once more


def _queue() -> tuple[EventLoop, WorkQueue, Recorder]:
    loop = EventLoop()
    rec = Recorder(loop)
    q = WorkQueue(loop, rec, "test")
    rec.queue = q
    return loop, q, rec


def test_dedupe_and_fifo() -> None:
    loop, q, rec = _queue()
    for k in ["a", "b", "a", "c", "b"]:
        q.add(k)
    assert len(q) == 3
    loop.run()
    assert rec.calls == [(0, "a"), (0, "b"), (0, "c")]
    assert q.processed == 3


def test_dirty_while_processing_runs_again_once() -> None:
    loop, q, rec = _queue()
    rec.readd = {"a"}
    q.add("a")
    loop.run()
    assert rec.calls == [(0, "a"), (0, "a")]


@pytest.mark.parametrize(
    ("adds", "expected"),
    [
        pytest.param([("a", 10), ("a", 5)], [(5, "a")], id="later-call-earlier-wins"),
        pytest.param([("a", 5), ("a", 10)], [(5, "a")], id="earlier-kept"),
        pytest.param([("a", 5), ("b", 3)], [(3, "b"), (5, "a")], id="independent-keys"),
        pytest.param([("a", 0)], [(0, "a")], id="zero-is-add"),
        pytest.param([("a", -1)], [(0, "a")], id="negative-is-add"),
    ],
)
def test_add_after(adds: list[tuple[str, float]], expected: list[tuple[float, str]]) -> None:
    loop, q, rec = _queue()
    for k, d in adds:
        q.add_after(k, d)
    loop.run()
    assert rec.calls == expected


def test_add_after_then_add_runs_now_and_again_later() -> None:
    loop, q, rec = _queue()
    q.add_after("a", 10)
    q.add("a")
    loop.run()
    assert rec.calls == [(0, "a"), (10, "a")]


@pytest.mark.parametrize(
    ("failures", "delay"),
    [
        pytest.param(0, 0.005, id="first"),
        pytest.param(1, 0.01, id="second"),
        pytest.param(2, 0.02, id="third"),
        pytest.param(10, 0.005 * 1024, id="eleventh"),
        pytest.param(17, 655.36, id="below-cap"),
        pytest.param(18, 1000.0, id="capped"),
        pytest.param(2000, 1000.0, id="no-overflow"),
    ],
)
def test_rate_limiter(failures: int, delay: float) -> None:
    rl = RateLimiter()
    for _ in range(failures):
        rl.when("k")
    assert rl.when("k") == pytest.approx(delay)
    assert rl.retries("k") == failures + 1
    rl.forget("k")
    assert rl.retries("k") == 0 and rl.when("k") == pytest.approx(0.005)


def test_add_rate_limited_and_forget() -> None:
    loop, q, rec = _queue()
    for _ in range(3):
        q.add_rate_limited("a")  # only the earliest pending wake-up counts
    loop.run()
    assert rec.calls == [(pytest.approx(0.005), "a")]
    assert q.rate_limiter.retries("a") == 3
    q.forget("a")
    assert q.rate_limiter.retries("a") == 0


def test_process_exception_keeps_rest_of_batch() -> None:
    loop = EventLoop()
    calls: list[str] = []

    def process(key: str) -> None:
        calls.append(key)
        if key == "boom" and calls.count("boom") == 1:
            raise RuntimeError("bug")

    q = WorkQueue(loop, process)
    for k in ["a", "boom", "c"]:
        q.add(k)
    with pytest.raises(RuntimeError):
        loop.run()
    assert calls == ["a", "boom"] and list(q._queue) == ["c"]
    loop.run()
    assert calls == ["a", "boom", "c"]


# -- controller base -------------------------------------------------------------------------------------
class Flaky(Controller):
    name = "flaky"

    def __init__(self, client: Client, informers: InformerFactory, script: list[Any]) -> None:
        super().__init__(client, informers)
        self.script = script
        self.seen: list[tuple[float, str]] = []

    def reconcile(self, key: str) -> float | None:
        self.seen.append((self.loop.now, key))
        step = self.script.pop(0) if self.script else None
        if isinstance(step, errors.ApiError):
            raise step
        return step  # type: ignore[no-any-return]


def _env() -> tuple[Client, InformerFactory]:
    reg = Registry(Store(), EventLoop(), SeededRNG(1))
    reg.bootstrap()
    return Client(reg), InformerFactory(reg)


def test_controller_requeues_on_api_error_with_backoff_then_forgets() -> None:
    client, inf = _env()
    conflict = errors.conflict("pods", "x", "stale")
    c = Flaky(client, inf, [conflict, conflict, errors.not_found("pods", "x"), None])
    c.enqueue({"metadata": {"name": "x", "namespace": "ns"}})
    client.clock.run(until=10)
    times = [t for t, _ in c.seen]
    assert [k for _, k in c.seen] == ["ns/x"] * 4
    assert times == pytest.approx([0, 0.005, 0.015, 0.035])
    assert c.errors == 3 and c.queue.rate_limiter.retries("ns/x") == 0


def test_controller_honours_returned_delay() -> None:
    client, inf = _env()
    c = Flaky(client, inf, [30.0, 5.0, None])
    c.enqueue({"metadata": {"name": "node-1"}})
    client.clock.run(until=100)
    assert c.seen == [(0, "node-1"), (30, "node-1"), (35, "node-1")]


def test_controller_bug_propagates() -> None:
    client, inf = _env()
    c = Flaky(client, inf, [])
    c.reconcile = lambda key: 1 / 0  # type: ignore[method-assign,assignment,misc,return-value]
    c.enqueue({"metadata": {"name": "x"}})
    with pytest.raises(ZeroDivisionError):
        client.clock.run()


def test_controller_reconcile_is_abstract() -> None:
    client, inf = _env()
    with pytest.raises(NotImplementedError):
        Controller(client, inf).reconcile("x")


# -- events --------------------------------------------------------------------------------------------
def _events(client: Client) -> list[dict[str, Any]]:
    return client.list("events", "default")


def test_event_recorder_dedupes_into_count() -> None:
    client, _ = _env()
    pod = client.create(make_pod("p").container("c").obj())
    rec = EventRecorder(client, "default-scheduler", host="h1")
    rec.warning(pod, "FailedScheduling", "0/3 nodes are available")
    client.clock.run(until=60)
    rec.warning(pod, "FailedScheduling", "0/3 nodes are available")
    client.clock.run(until=90)
    rec.warning(pod, "FailedScheduling", "0/3 nodes are available")
    rec.normal(pod, "Scheduled", "Successfully assigned default/p to n1")
    evs = sorted(_events(client), key=lambda e: e["reason"])
    assert [(e["reason"], e["count"], e["type"]) for e in evs] == [
        ("FailedScheduling", 3, "Warning"), ("Scheduled", 1, "Normal"),
    ]  # fmt: skip
    fs = evs[0]
    assert fs["firstTimestamp"] == "2026-01-01T00:00:00Z" and fs["lastTimestamp"] == "2026-01-01T00:01:30Z"
    assert fs["involvedObject"]["uid"] == pod["metadata"]["uid"]
    assert fs["involvedObject"]["kind"] == "Pod" and fs["involvedObject"]["namespace"] == "default"
    assert fs["source"] == {"component": "default-scheduler", "host": "h1"}


def test_event_recreated_when_deleted() -> None:
    """An identical event whose stored object is gone is created again, with the count its
    logger reached (recordEvent creates when the patch finds nothing)."""
    client, _ = _env()
    pod = client.create(make_pod("p").container("c").obj())
    rec = EventRecorder(client, "kubelet")
    rec.normal(pod, "Pulled", "image pulled")
    client.delete("events", _events(client)[0]["metadata"]["name"], "default")
    rec.normal(pod, "Pulled", "image pulled")
    assert [e["count"] for e in _events(client)] == [2]


def _rs(name: str = "web") -> dict[str, Any]:
    return {"kind": "ReplicaSet", "apiVersion": "apps/v1",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"}}  # fmt: skip


def test_similar_events_are_combined_from_the_tenth_message() -> None:
    """EventAggregator: events alike but for their message within 10 minutes of the last one; from
    the 10th distinct message on they are one "(combined from similar events)" event whose count
    and message follow."""
    client, _ = _env()
    rec = EventRecorder(client, "replicaset-controller")
    for i in range(14):
        rec.normal(_rs(), "SuccessfulCreate", f"Created pod: web-{i}")
    evs = sorted(_events(client), key=lambda e: e["metadata"]["name"])
    single = [e for e in evs if not e["message"].startswith("(combined")]
    combined = [e for e in evs if e["message"].startswith("(combined")]
    assert [e["message"] for e in single] == [f"Created pod: web-{i}" for i in range(9)]
    assert [(e["count"], e["message"]) for e in combined] == [
        (5, "(combined from similar events): Created pod: web-13")]
    client.clock.run(until=601)  # 10 minutes after the last one: counted afresh
    rec.normal(_rs(), "SuccessfulCreate", "Created pod: web-20")
    assert "Created pod: web-20" in {e["message"] for e in _events(client)}


def test_spam_filter_lets_25_events_through_then_one_per_5_minutes() -> None:
    """EventSourceObjectSpamFilter: per source and object a bucket of 25 tokens, one back every
    300 s; a dropped identical event still counts in the next one that passes."""
    client, _ = _env()
    rec = EventRecorder(client, "horizontal-pod-autoscaler")
    hpa = {"kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v2",
           "metadata": {"name": "web", "namespace": "default", "uid": "h"}}  # fmt: skip
    for _ in range(30):
        rec.normal(hpa, "SuccessfulRescale", "New size: 3; reason: cpu resource utilization above target")
    (ev,) = _events(client)
    assert ev["count"] == 25 and rec.dropped == 5
    client.clock.run(until=299)
    rec.normal(hpa, "SuccessfulRescale", "New size: 3; reason: cpu resource utilization above target")
    assert _events(client)[0]["count"] == 25
    client.clock.run(until=600)
    rec.normal(hpa, "SuccessfulRescale", "New size: 3; reason: cpu resource utilization above target")
    assert _events(client)[0]["count"] == 32  # the six dropped ones counted too
    other = dict(hpa, metadata={"name": "api", "namespace": "default", "uid": "h2"})
    rec.normal(other, "SuccessfulRescale", "New size: 2")  # another object has its own bucket
    assert len(_events(client)) == 2


def test_event_for_cluster_scoped_object_goes_to_default() -> None:
    client, _ = _env()
    node = client.get("namespaces", "kube-system")
    EventRecorder(client, "c").normal(node, "R", "m")
    ev = _events(client)[0]
    assert "namespace" not in ev["involvedObject"] and ev["metadata"]["namespace"] == "default"


def test_event_cache_is_bounded() -> None:
    client, _ = _env()
    correlated = EventRecorder(client, "c")
    for i in range(MAX_LRU_CACHE_ENTRIES + 10):
        o = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": f"x{i}", "namespace": "default", "uid": f"u{i}"}}
        correlated.normal(o, "R", "m")
    assert len(correlated._seen) == len(correlated._similar) == len(correlated._spam) == MAX_LRU_CACHE_ENTRIES


def test_correlator_caches_forget_what_has_run_out_and_answer_the_same() -> None:
    """A spam bucket idle for 25 x 300 s is full again and an aggregation record older than 10
    minutes starts afresh: both are dropped (so a kubelet's caches hold recent pods only), and the
    next events are treated exactly as before: 25 pass at once, the 26th is dropped."""
    client, _ = _env()
    rec = EventRecorder(client, "kubelet", host="n1")
    pods = [{"kind": "Pod", "apiVersion": "v1", "metadata": {"name": f"p{i}", "namespace": "default", "uid": f"u{i}"}}
            for i in range(3)]  # fmt: skip
    for i in range(30):
        rec.normal(pods[0], "Pulled", f"m{i}")
    assert rec.dropped == 5
    client.clock.run(until=7499)
    rec.normal(pods[1], "Pulled", "x")  # nothing of p0 has run out yet (and no pass before 7,500 s)
    assert len(rec._spam) == 2
    client.clock.run(until=8100)  # the first pass (one per 7,500 s)
    rec.normal(pods[2], "Pulled", "x")
    assert [k[2] for k in rec._spam] == ["p1", "p2"]  # p0's bucket is full again: gone
    assert [k[2] for k in rec._similar] == ["p2"]  # p0's and p1's records are past 10 minutes
    dropped = rec.dropped
    for i in range(26):
        rec.normal(pods[0], "Pulled", f"again-{i}")
    assert rec.dropped == dropped + 1
