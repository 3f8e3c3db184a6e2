"""The recommender's array feed (one VPA's containers as rows) against the model's per-container
ContainerState, sample by sample: the same histograms bit for bit, the same per-container state,
through pods joining and leaving (and the rows' compaction), OOMs, memory peaks that rise within a
window and windows that roll over."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from kubetwin.api.selectors import LabelSelector
from kubetwin.client.metrics import RowKeys
from kubetwin.controllers.vpa import model
from kubetwin.controllers.vpa.recommender import VPARecommender, _Feed

MIB = 1024 * 1024


def _pod(i: int, phase: str = "Running") -> dict[str, Any]:
    containers = [{"name": "app", "resources": {"requests": {"cpu": f"{50 * (i % 7)}m"}}}]
    if i % 3 == 0:
        containers.append({"name": "side", "resources": {}})
    return {"metadata": {"name": f"p{i}", "namespace": "ns", "uid": f"u{i}", "labels": {"app": "web"}},
            "spec": {"containers": containers}, "status": {"phase": phase}}  # fmt: skip


class _Source:
    """container_samples of a schedule: each key's usage a function of the key and the run."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.last: dict[tuple[str, str], tuple[bool, int, int]] = {}

    def get_container_usage(self, namespace: str, selector: LabelSelector) -> dict[str, Any]:
        raise AssertionError("container_samples is used")

    def container_samples(self, rows: RowKeys) -> Any:
        rng = self.rng
        keys = list(zip(rows.uids, rows.containers, strict=True))
        # a negative usage is refused (by the model's ContainerState and the feed alike)
        out = [(k[0] is not None and rng.random() > 0.05, rng.choice([0, 5, 120, 121, 700, 3000, -1]),
                rng.choice([100, 200, 250, 300, 900, -1]) * MIB) for k in keys]  # fmt: skip
        self.last = {k: v for k, v in zip(keys, out, strict=True) if k[0]}
        has, cpu, mem = zip(*out, strict=True) if out else ((), (), ())
        return np.array(has, dtype=np.bool_), np.array(cpu, dtype=np.int64), np.array(mem, dtype=np.int64)


@pytest.mark.parametrize("seed", [1, 2])
def test_array_feed_is_the_per_container_model(seed: int) -> None:
    rng = random.Random(seed)
    rec = VPARecommender.__new__(VPARecommender)
    rec.aggregates, rec.containers_per_pod, rec.states_created, rec.memory_peaks_moved = {}, {}, 0, 0
    feed = _Feed("ns/web", "ns", LabelSelector())
    source = _Source(rng)
    ref_aggs: dict[str, model.AggregateContainerState] = {}
    ref: dict[tuple[str, str], model.ContainerState] = {}  # creation order, as the old feed's states
    order: list[tuple[str, str]] = []  # the rows' order: pods in the order they joined
    live = 0
    for i in range(600):
        feed.observe(_pod(i, "Running" if i % 11 else "Pending"))
    now = 0.0
    for run in range(240):
        now += 60.0 if run % 50 else 0.4 * model.DAY  # some runs jump, so windows roll over
        if run == 30:  # most pods leave (the rows are compacted), new ones join
            for i in range(0, 600, 3):
                feed.observe({**_pod(i), "status": {"phase": "Succeeded"}})
            for i in range(1, 600, 3):
                feed.remove(f"u{i}")
            for i in range(600, 700):
                feed.observe(_pod(i))
        if run == 60:  # a Pending pod starts running
            feed.observe(_pod(11))
        order = [(uid, feed.keys.containers[r]) for uid, m in feed.pods.items() for r in m.rows]
        ref = {k: s for k, s in ref.items() if k[0] in feed.pods}
        rec._feed(feed, source, now)
        for key in order:
            uid, cname = key
            has, cpu, mem = source.last[key]
            if not has or feed.pods[uid].pod["status"]["phase"] != "Running":
                continue
            state = ref.get(key)
            if state is None:
                agg = ref_aggs.setdefault(cname, model.AggregateContainerState())
                state = ref[key] = model.ContainerState(agg)
            req = 50 * (int(uid[1:]) % 7) if cname == "app" else 0
            state.add_cpu_sample(now, cpu, req)
            state.add_memory_sample(now, mem)
        if run % 40 == 17:  # an OOM of one container that has a state
            key = next(k for k in order if k in ref)
            r = next(r for r in feed.pods[key[0]].rows if feed.keys.containers[r] == key[1])
            st = feed.state(r, rec.aggregates["ns/web"][key[1]])
            st.record_oom(now - 5, 256 * MIB)
            feed.store(r, st)
            ref[key].record_oom(now - 5, 256 * MIB)
        live = len(ref)
        if run % 7 == 3:
            _check_kept_terms(feed, rec.aggregates["ns/web"], now)
    assert live > 100 and rec.memory_peaks_moved > 0
    assert feed.n < 700  # compacted
    for cname, agg in rec.aggregates["ns/web"].items():
        want = ref_aggs[cname]
        for h, w in ((agg.cpu, want.cpu), (agg.memory_peaks, want.memory_peaks)):
            assert (h.histogram.weights, h.histogram.total_weight, h.reference) == (
                w.histogram.weights, w.histogram.total_weight, w.reference), cname  # fmt: skip
            assert (h.histogram.min_bucket, h.histogram.max_bucket) == (w.histogram.min_bucket, w.histogram.max_bucket)
        assert (agg.first_sample_start, agg.last_sample_start, agg.total_samples_count) == (
            want.first_sample_start, want.last_sample_start, want.total_samples_count)  # fmt: skip
    for member in feed.pods.values():
        for r in member.rows:
            key = (feed.keys.uids[r], feed.keys.containers[r])
            assert bool(feed.has_state[r]) == (key in ref)
            if key in ref:
                got, want_state = feed.state(r, ref[key].aggregator), ref[key]
                assert (got.last_cpu_sample_start, got.last_memory_sample_start, got.window_end, got.memory_peak,
                        got.oom_peak) == (want_state.last_cpu_sample_start, want_state.last_memory_sample_start,
                                          want_state.window_end, want_state.memory_peak, want_state.oom_peak)  # fmt: skip
    # the open peaks in the states' creation order
    peaks = feed.open_peaks(now)
    for cname, (usage, ends, _) in peaks.items():
        want_peaks = [(s.max_memory_peak(), s.window_end) for k, s in ref.items()
                      if k[1] == cname and s.window_end is not None and now < s.window_end]  # fmt: skip
        assert list(zip(usage.tolist(), ends.tolist(), strict=True)) == want_peaks


def _check_kept_terms(feed: _Feed, aggs: dict[str, model.AggregateContainerState], now: float) -> None:
    """The open peaks subtracted with the feed's kept decay factors and buckets: bitwise what
    computing them afresh gives."""
    for cname, (usage, ends, rows) in feed.open_peaks(now).items():
        agg = aggs[cname]
        kept, fresh = agg.copy(), agg.copy()
        kept.subtract_memory_peak_array(usage, ends, feed.decay_factors(rows, agg.memory_peaks),
                                        feed.peak_buckets(rows, usage))  # fmt: skip
        fresh.subtract_memory_peak_array(usage, ends)
        assert kept.memory_peaks.histogram.weights == fresh.memory_peaks.histogram.weights
        assert kept.memory_peaks.histogram.total_weight == fresh.memory_peaks.histogram.total_weight


def test_kept_factors_and_buckets_follow_their_inputs() -> None:
    """A row's kept decay factor is redone when its window end or the histogram's reference
    moves, its bucket when its peak changes."""
    feed = _Feed("ns/web", "ns", LabelSelector())
    for i in range(3):
        feed.observe(_pod(i))
    rows = np.arange(feed.n)
    feed.begin(rows, 0)
    h = model.AggregateContainerState().memory_peaks
    feed.window_end[rows] = np.array([1000.0 * (r + 1) for r in rows.tolist()])
    first = feed.decay_factors(rows, h)
    assert first.tolist() == model.decay_factors(h, feed.window_end[rows]).tolist()
    feed.window_end[rows[0]] = 5e5  # a window rolled over
    h._shift_reference(300 * model.DAY)  # the reference moved
    assert feed.decay_factors(rows, h).tolist() == model.decay_factors(h, feed.window_end[rows]).tolist()
    peaks = np.array([100 * MIB] * rows.size, dtype=np.int64)
    assert feed.peak_buckets(rows, peaks).tolist() == model.memory_buckets(peaks).tolist()
    peaks[-1] = 900 * MIB
    assert feed.peak_buckets(rows, peaks).tolist() == model.memory_buckets(peaks).tolist()
