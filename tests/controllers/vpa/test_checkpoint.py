"""VerticalPodAutoscalerCheckpoints (vertical-pod-autoscaler pkg/recommender/util/histogram.go and
decaying_histogram.go SaveToChekpoint/LoadFromCheckpoint, model/aggregate_container_state.go,
checkpoint/checkpoint_writer.go, input/cluster_feeder.go InitFromCheckpoints and
GarbageCollectCheckpoints): the histogram format, the round trip, a restart of a data directory
that resumes the recommendation, and the garbage collection of orphans."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubetwin.api.quantity import cpu_milli, to_int
from kubetwin.controllers.vpa import model
from kubetwin.controllers.vpa.histogram import (
    CheckpointError,
    DecayingHistogram,
    ExponentialHistogramOptions,
    Histogram,
)
from kubetwin.controllers.vpa.recommender import CHECKPOINT_RESOURCE, VPARecommender
from kubetwin.scenario.runtime import CLOCK_META_KEY, Cluster
from kubetwin.sim import EventLoop

Obj = dict[str, Any]
OPTS = ExponentialHistogramOptions(100.0, 10.0, 2.0, 1e-4)  # buckets start at 0, 10, 30, 70, 150
DAY = 86400.0
VPA = "verticalpodautoscalers.autoscaling.k8s.io"


def _histogram(weights: dict[int, float]) -> Histogram:
    h = Histogram(OPTS)
    for bucket, w in weights.items():
        h.add_sample(OPTS.bucket_start(bucket) + 1.0, w)
    return h


@pytest.mark.parametrize(
    "weights, saved",
    [
        pytest.param({}, {}, id="empty"),
        pytest.param({1: 1.0, 2: 2.0}, {"bucketWeights": {"1": 5000, "2": 10000}, "totalWeight": 3.0},
                     id="max-bucket-is-10000"),
        pytest.param({0: 3.0, 3: 1.0}, {"bucketWeights": {"0": 10000, "3": 3333}, "totalWeight": 4.0},
                     id="rounded-down"),
        pytest.param({0: 3.0, 3: 2.0}, {"bucketWeights": {"0": 10000, "3": 6667}, "totalWeight": 5.0},
                     id="rounded-up"),
        pytest.param({0: 2.0, 2: 0.0001}, {"bucketWeights": {"0": 10000, "2": 1}, "totalWeight": 2.0001},
                     id="half-rounds-up"),
        pytest.param({0: 2.0, 2: 0.00009}, {"bucketWeights": {"0": 10000}, "totalWeight": 2.00009},
                     id="near-zero-dropped"),
    ],
)  # fmt: skip
def test_histogram_save_to_checkpoint(weights: dict[int, float], saved: Obj) -> None:
    got = _histogram(weights).save_to_checkpoint()
    assert got.keys() == saved.keys()
    assert got.get("bucketWeights") == saved.get("bucketWeights")
    assert got.get("totalWeight", 0.0) == pytest.approx(saved.get("totalWeight", 0.0))


def test_histogram_load_spreads_total_weight() -> None:
    h = _histogram({0: 1.0})
    h.load_from_checkpoint({"bucketWeights": {"1": 5000, "3": 10000}, "totalWeight": 6.0})
    assert h.weights[:4] == pytest.approx([1.0, 2.0, 0.0, 4.0])  # added to what was there
    assert h.total_weight == pytest.approx(7.0)
    assert (h.min_bucket, h.max_bucket) == (0, 3)


@pytest.mark.parametrize(
    "checkpoint, message",
    [
        pytest.param({"totalWeight": -1.0}, "negative weight", id="negative-total"),
        pytest.param({"bucketWeights": {"5": 1}, "totalWeight": 1.0}, "exceeding histogram buckets 5",
                     id="bucket-past-the-end"),
        pytest.param({"bucketWeights": {"-1": 1}, "totalWeight": 1.0}, "negative bucket", id="negative-bucket"),
        pytest.param({"bucketWeights": {"x": 1}, "totalWeight": 1.0}, "invalid bucket", id="not-an-index"),
    ],
)  # fmt: skip
def test_histogram_load_rejects(checkpoint: Obj, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        Histogram(OPTS).load_from_checkpoint(checkpoint)


def test_decaying_histogram_round_trip_keeps_reference_and_percentiles() -> None:
    h = DecayingHistogram(OPTS, DAY)
    for i, v in enumerate((5.0, 15.0, 15.0, 35.0, 80.0, 200.0)):
        h.add_sample(v, 1.0, 150 * DAY + i * 3600.0)  # past 100 half-lives: the reference moved
    saved = h.save_to_checkpoint()
    assert saved["referenceTimestamp"] == h.reference == 150 * DAY
    back = DecayingHistogram(OPTS, DAY)
    back.load_from_checkpoint(saved, saved["referenceTimestamp"])
    assert back.reference == h.reference
    assert back.total_weight == pytest.approx(h.total_weight)
    for p in (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 1.0):
        assert back.percentile(p) == h.percentile(p)


def _aggregate() -> model.AggregateContainerState:
    s = model.AggregateContainerState()
    for i in range(600):  # ten hours of a CPU usage that drifts between 150m and 450m
        s.add_cpu_sample(150 + (i * 37) % 300, 250, 60.0 * i)
    for d, mib in enumerate((300, 420, 380)):
        s.add_memory_peak(mib * 2**20, DAY * (d + 1))
    return s


def test_aggregate_round_trip_gives_the_same_estimate() -> None:
    loop = EventLoop()
    s = _aggregate()
    status = s.save_to_checkpoint(loop.timestamp)
    assert status["version"] == "v3"
    assert status["firstSampleStart"] == "2026-01-01T00:00:00Z" and status["totalSamplesCount"] == 600
    back = model.AggregateContainerState.from_checkpoint(status, loop.parse_timestamp)
    assert (back.first_sample_start, back.last_sample_start, back.total_samples_count) == (
        s.first_sample_start, s.last_sample_start, s.total_samples_count)  # fmt: skip
    assert model.estimate_container(back, 1) == model.estimate_container(s, 1)


def test_aggregate_rejects_other_versions() -> None:
    status = _aggregate().save_to_checkpoint(EventLoop().timestamp)
    with pytest.raises(CheckpointError, match="Unsupported checkpoint version v2"):
        model.AggregateContainerState.from_checkpoint(
            {**status, "version": "v2"}, EventLoop().parse_timestamp
        )


# -- the recommender ---------------------------------------------------------------------------------
def _setup(c: Cluster, vpa_names: tuple[str, ...] = ("web",)) -> None:
    c.client.create({"apiVersion": "kubetwin.io/v1alpha1", "kind": "NodeGroup", "metadata": {"name": "w"},
                     "spec": {"instanceType": "m5.2xlarge", "minSize": 2, "maxSize": 2}})  # fmt: skip
    for name in vpa_names:
        labels = {"app": name}
        c.client.create({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels, "annotations": {
                         "kubetwin.io/cpu-usage": "200m", "kubetwin.io/memory-usage": "300Mi"}},
                         "spec": {"containers": [{"name": "app", "image": "nginx", "resources": {
                             "requests": {"cpu": "500m", "memory": "512Mi"}}}]}}},
        })  # fmt: skip
        c.client.create({"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
                         "metadata": {"name": name, "namespace": "default"},
                         "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                                  "updatePolicy": {"updateMode": "Off"}}})  # fmt: skip


def _recommender(c: Cluster) -> VPARecommender:
    return next(x for x in c.components if isinstance(x, VPARecommender))


def _rec(c: Cluster, name: str = "web") -> dict[str, int]:
    r = c.client.get(VPA, name, "default")["status"]["recommendation"]["containerRecommendations"][0]
    out = {}
    for field in ("target", "lowerBound", "upperBound"):
        out[f"{field}.cpu"] = cpu_milli(r[field]["cpu"])
        out[f"{field}.memory"] = to_int(r[field]["memory"])
    return out


def _checkpoints(c: Cluster) -> list[str]:
    return sorted(o["metadata"]["name"] for o in c.client.list(CHECKPOINT_RESOURCE, "default"))


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    c = Cluster(seed=5)
    c.start()
    yield c
    c.close()


def test_checkpoint_written_every_run_without_the_ongoing_memory_peak(cluster: Cluster) -> None:
    _setup(cluster)
    cluster.run(30 * 60)
    cp = cluster.client.get(CHECKPOINT_RESOURCE, "web-app", "default")
    assert cp["spec"] == {"containerName": "app", "vpaObjectName": "web"}
    st = cp["status"]
    assert st["version"] == "v3" and st["lastUpdateTime"] == cluster.loop.timestamp(30 * 60)
    assert st["totalSamplesCount"] == 2 * 30  # two pods, one sample a minute each
    assert st["cpuHistogram"]["bucketWeights"] == {str(model.CPU_HISTOGRAM_OPTIONS.find_bucket(0.2)): 10000}
    assert st["memoryHistogram"].get("bucketWeights") is None  # the day's peak is still open
    assert _recommender(cluster).checkpoints_written == 30


def test_restart_resumes_the_recommendation(tmp_path: Path) -> None:
    """Two hours on a data directory, a restart, one more recommender run: the recommendation is
    what an uninterrupted run gives (up to the checkpoint's rounding), not a fresh start's."""
    until = 2 * 3600.0
    first = Cluster.for_serve(str(tmp_path / "data"), seed=5)
    first.start()
    _setup(first)
    first.run(until)
    before = _rec(first)
    first.store.put_meta(CLOCK_META_KEY, first.loop.now)
    first.close()

    control = Cluster.for_serve(None, seed=5)
    control.start()
    _setup(control)
    control.run(until + 61)
    uninterrupted = _rec(control)
    control.close()

    again = Cluster.for_serve(str(tmp_path / "data"), seed=5)
    assert again.restored and again.loop.now == until
    again.start()
    again.run(until + 61)  # the restarted recommender's first run
    restored = _rec(again)
    assert _recommender(again).runs == 1
    again.close()

    assert restored["target.cpu"] == uninterrupted["target.cpu"] == before["target.cpu"]
    assert restored["target.memory"] == uninterrupted["target.memory"]
    for key, value in uninterrupted.items():
        assert restored[key] == pytest.approx(value, rel=0.01), key
    fresh_upper = before["upperBound.cpu"] * 10  # one minute of history: x(1 + 1440/2)
    assert restored["upperBound.cpu"] < fresh_upper


def test_garbage_collection_of_orphans(cluster: Cluster) -> None:
    _setup(cluster, ("web", "api"))
    cluster.run(2 * 60)
    assert _checkpoints(cluster) == ["api-app", "web-app"]
    stray = {"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscalerCheckpoint",
             "metadata": {"name": "web-sidecar", "namespace": "default"},
             "spec": {"containerName": "sidecar", "vpaObjectName": "web"}, "status": {"version": "v3"}}  # fmt: skip
    cluster.client.create(stray)
    cluster.client.delete(VPA, "api", "default")
    cluster.run(cluster.loop.now + 9 * 60)  # the first collection was at the first run
    assert _checkpoints(cluster) == ["api-app", "web-app", "web-sidecar"]
    cluster.run(cluster.loop.now + 2 * 60)  # more than 10 minutes since
    assert _checkpoints(cluster) == ["web-app"]


def test_checkpoint_budget_writes_least_recently_written_first() -> None:
    c = Cluster(seed=5)
    c.start()
    rec = _recommender(c)
    rec.max_checkpoints_per_run = 1
    _setup(c, ("web", "api"))
    c.run(60)
    c.run(120)
    c.run(180)
    stamps = {n: c.client.get(CHECKPOINT_RESOURCE, n, "default")["status"]["lastUpdateTime"]
              for n in ("api-app", "web-app")}  # fmt: skip
    c.close()
    # api first (the name breaks the tie), then web, then api again
    assert stamps == {"api-app": c.loop.timestamp(180), "web-app": c.loop.timestamp(120)}
