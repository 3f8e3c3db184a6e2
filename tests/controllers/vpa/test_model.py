"""VPA recommender vectors (upstream-semantics.md section 8): histogram bucket math, percentile,
decay, confidence, margins, minimums, OOM bump."""

from __future__ import annotations

import math

import pytest

from kubetwin.controllers.vpa import model as m
from kubetwin.controllers.vpa.histogram import DecayingHistogram, ExponentialHistogramOptions, Histogram

MIB = 1024 * 1024
DAY = 86400.0


def test_num_buckets_cpu_and_memory() -> None:
    assert m.CPU_HISTOGRAM_OPTIONS.num_buckets == 176
    assert m.MEMORY_HISTOGRAM_OPTIONS.num_buckets == 176


OPTS = ExponentialHistogramOptions(100.0, 10.0, 2.0, 1e-4)


@pytest.mark.parametrize(
    "bucket, start",
    [pytest.param(0, 0.0, id="b0"), pytest.param(1, 10.0, id="b1"), pytest.param(2, 30.0, id="b2"),
     pytest.param(3, 70.0, id="b3"), pytest.param(4, 150.0, id="b4")],
)  # fmt: skip
def test_bucket_start(bucket: int, start: float) -> None:
    assert OPTS.num_buckets == 5
    assert OPTS.bucket_start(bucket) == pytest.approx(start)


@pytest.mark.parametrize(
    "value, bucket",
    [pytest.param(-1.0, 0, id="negative"), pytest.param(9.99, 0, id="below-first"),
     pytest.param(10.0, 1, id="first"), pytest.param(29.99, 1, id="end-of-1"), pytest.param(30.0, 2, id="start-of-2"),
     pytest.param(70.0, 3, id="start-of-3"), pytest.param(150.0, 4, id="last"), pytest.param(1e10, 4, id="overflow")],
)  # fmt: skip
def test_find_bucket(value: float, bucket: int) -> None:
    assert OPTS.find_bucket(value) == bucket


def test_cpu_bucket_formula() -> None:
    o = m.CPU_HISTOGRAM_OPTIONS
    for i in (1, 10, 100, 175):
        assert o.bucket_start(i) == pytest.approx(0.01 * (1.05**i - 1) / 0.05)
        assert o.find_bucket(o.bucket_start(i) * 1.0001) == i


@pytest.mark.parametrize(
    "p, expected",
    [pytest.param(0.0, 10.0, id="p0-end-of-min-bucket"), pytest.param(0.2, 10.0, id="p20"),
     pytest.param(0.5, 30.0, id="p50"), pytest.param(0.9, 150.0, id="p90-last-bucket-start"),
     pytest.param(1.0, 150.0, id="p100")],
)  # fmt: skip
def test_percentile_returns_bucket_end(p: float, expected: float) -> None:
    h = Histogram(OPTS)
    for v in (5.0, 15.0, 200.0):  # buckets 0, 1, 4
        h.add_sample(v, 1.0)
    assert h.percentile(p) == pytest.approx(expected)


def test_empty_histogram_percentile_is_zero() -> None:
    h = Histogram(OPTS)
    assert h.is_empty() and h.percentile(0.5) == 0.0
    h.add_sample(15.0, 1.0)
    h.subtract_sample(15.0, 1.0)
    assert h.is_empty() and h.percentile(0.9) == 0.0


def test_percentile_estimator_vectors() -> None:
    """estimator_test.go TestPercentileEstimator: cpu {1,2,3} p=0.2 -> ~1.0; memory {1e9,2e9,3e9} p=0.5 -> ~2e9."""
    s = m.AggregateContainerState()
    for i, cores in enumerate((1.0, 2.0, 3.0)):
        s.add_cpu_sample(int(cores * 1000), 1000, float(i * 60))
    for i, b in enumerate((1e9, 2e9, 3e9)):
        s.add_memory_peak(int(b), float(i * 60))
    assert m.cpu_percentile(s, 0.2) == pytest.approx(1000, rel=0.05)
    assert m.memory_percentile(s, 0.5) == pytest.approx(2e9, rel=0.05)


def test_decay_halves_weight_per_half_life() -> None:
    h = DecayingHistogram(OPTS, DAY)
    h.add_sample(15.0, 1.0, 0.0)  # weight 1
    h.add_sample(35.0, 1.0, DAY)  # weight 2: one half-life newer
    assert h.total_weight == pytest.approx(3.0)
    assert h.percentile(0.33) == pytest.approx(30.0)  # 1/3 of the weight in bucket 1
    assert h.percentile(0.34) == pytest.approx(70.0)


def test_decay_reference_shift_keeps_proportions() -> None:
    h = DecayingHistogram(OPTS, 3600.0)
    h.add_sample(15.0, 1.0, 0.0)
    late = 3600.0 * 150  # past 100 half-lives: the reference moves and the old weight vanishes
    h.add_sample(35.0, 1.0, late)
    assert h.reference == pytest.approx(late)
    assert h.percentile(0.01) == pytest.approx(70.0)
    assert math.isfinite(h.total_weight)


def _nine_samples_two_minutes_apart() -> m.AggregateContainerState:
    s = m.AggregateContainerState()
    for i in range(9):
        s.add_cpu_sample(1000, 1000, i * 120.0)
    return s


def test_confidence_from_sample_count() -> None:
    s = _nine_samples_two_minutes_apart()
    assert m.confidence(s, DAY) == pytest.approx(9 / (60 * 24))


@pytest.mark.parametrize(
    "interval, multiplier, exponent, expected_milli",
    [pytest.param(DAY, 0.1, 2.0, 907_460, id="3.14-cores-x-17^2"),
     pytest.param(18 * 60.0, 0.1, 2.0, 4521, id="custom-interval-18m")],
)  # fmt: skip
def test_confidence_multiplier(
    interval: float, multiplier: float, exponent: float, expected_milli: int
) -> None:
    conf = m.confidence(_nine_samples_two_minutes_apart(), interval)
    got = m.confidence_multiplier(3140, multiplier, exponent, conf)
    assert got == pytest.approx(expected_milli, abs=1)


@pytest.mark.parametrize(
    "exponent, expected",
    [pytest.param(1.0, m.MAX_RESOURCE_AMOUNT, id="upper-no-history-max"), pytest.param(-1.0, 0, id="lower-no-history-0")],
)  # fmt: skip
def test_confidence_multiplier_without_history(exponent: float, expected: int) -> None:
    conf = m.confidence(m.AggregateContainerState(), DAY)
    assert conf == 0
    assert m.confidence_multiplier(3140, 1.0, exponent, conf) == expected


@pytest.mark.parametrize(
    "history, factor",
    [pytest.param(12 * 3600.0, 3.0, id="12h-x3"), pytest.param(DAY, 2.0, id="24h-x2"),
     pytest.param(7 * DAY, 1 + 1 / 7, id="1w-x1.14")],
)  # fmt: skip
def test_upper_bound_multiplier_comments(history: float, factor: float) -> None:
    s = m.AggregateContainerState()
    n = int(history / 60) + 1
    s.first_sample_start, s.last_sample_start, s.total_samples_count = 0.0, history, n
    conf = m.confidence(s, DAY)
    assert m.confidence_multiplier(1_000_000, 1.0, 1.0, conf) == pytest.approx(1_000_000 * factor, rel=0.01)


@pytest.mark.parametrize(
    "minutes, factor",
    [pytest.param(5, 0.6, id="5m-x0.6"), pytest.param(30, 0.9, id="30m-x0.9"), pytest.param(60, 0.95, id="60m-x0.95")],
)  # fmt: skip
def test_lower_bound_multiplier_comments(minutes: int, factor: float) -> None:
    s = m.AggregateContainerState()
    s.first_sample_start, s.last_sample_start, s.total_samples_count = 0.0, minutes * 60.0, minutes
    conf = m.confidence(s, DAY)
    assert m.confidence_multiplier(1_000_000, 0.001, -2.0, conf) == pytest.approx(
        1_000_000 * factor, abs=25_000
    )


def test_margin_estimator() -> None:
    assert m.with_margin(3140, 0.1) == 3454  # 3.14 x 1.1


@pytest.mark.parametrize(
    "containers, cpu, memory",
    [pytest.param(1, 25, 250 * MIB, id="one"), pytest.param(2, 12, 125 * MIB, id="two"),
     pytest.param(3, 8, int(250 * MIB / 3), id="three")],
)  # fmt: skip
def test_pod_minimums_split(containers: int, cpu: int, memory: int) -> None:
    assert m.pod_minimums(containers) == (cpu, memory)


def test_min_resources_estimator_keeps_larger() -> None:
    s = m.AggregateContainerState()
    s.add_cpu_sample(3140, 100, 0.0)
    est = m.estimate_container(s, 1)
    assert est.target["cpu"] >= 3140 and est.target["memory"] == 250 * MIB  # no memory: the pod minimum


def test_estimate_target_is_p90_plus_margin() -> None:
    s = m.AggregateContainerState()
    for i in range(60):
        s.add_cpu_sample(500, 500, i * 60.0)
    s.add_memory_peak(400 * MIB, DAY)
    est = m.estimate_container(s, 1)
    p90 = m.cpu_percentile(s, 0.9)
    assert 500 <= p90 <= 525
    assert est.target["cpu"] == p90 + int(p90 * 0.15)
    assert est.lower_bound["cpu"] < est.target["cpu"] < est.upper_bound["cpu"]
    assert 400 * MIB * 1.15 <= est.target["memory"] <= 400 * MIB * 1.15 * 1.07


def test_controlled_resources_filter() -> None:
    s = m.AggregateContainerState()
    s.add_cpu_sample(500, 500, 0.0)
    est = m.estimate_container(s, 1, controlled=["memory"])
    assert set(est.target) == {"memory"} and set(est.upper_bound) == {"memory"}


def _container_with_peak(peak: int) -> m.ContainerState:
    c = m.ContainerState(m.AggregateContainerState())
    if peak:
        c.add_memory_sample(0.0, peak)
    return c


@pytest.mark.parametrize(
    "peak, requested, expected",
    [pytest.param(0, 1000 * MIB, 1200 * MIB, id="IncreasedByBumpUp"),
     pytest.param(0, 1 * MIB, 101 * MIB, id="IncreasedByMin"),
     pytest.param(3000 * MIB, 1000 * MIB, 3600 * MIB, id="MaxedWithKnownSample")],
)  # fmt: skip
def test_record_oom(peak: int, requested: int, expected: int) -> None:
    c = _container_with_peak(peak)
    assert c.record_oom(1.0, requested)
    assert c.max_memory_peak() == expected
    assert c.aggregator.memory_peaks.percentile(1.0) >= expected * 0.99


def test_record_oom_dont_run_away() -> None:
    c = _container_with_peak(0)
    assert c.record_oom(1.0, 1000 * MIB)
    assert c.max_memory_peak() == 1200 * MIB
    c.record_oom(2.0, 999 * MIB)
    assert c.max_memory_peak() == 1200 * MIB
    c.record_oom(3.0, 999 * MIB)
    assert c.max_memory_peak() == 1200 * MIB
    c.record_oom(4.0, 2000 * MIB)
    assert c.max_memory_peak() == 2400 * MIB


def test_old_oom_is_discarded() -> None:
    c = _container_with_peak(0)
    c.add_memory_sample(3 * DAY, 10 * MIB)
    assert not c.record_oom(0.5 * DAY, 100 * MIB)


def test_memory_keeps_one_peak_per_interval() -> None:
    c = m.ContainerState(m.AggregateContainerState())
    for i, usage in enumerate((100, 300, 200)):
        c.add_memory_sample(i * 60.0, usage * MIB)
    h = c.aggregator.memory_peaks.histogram
    assert h.total_weight == pytest.approx(2.0)  # one peak (300Mi replaced 100Mi) at the window end, 1 day in
    assert c.memory_peak == 300 * MIB
    c.add_memory_sample(DAY + 1, 50 * MIB)  # next interval: a new peak
    assert c.memory_peak == 50 * MIB
    assert c.window_end == pytest.approx(2 * DAY)
    assert c.aggregator.memory_peaks.percentile(1.0) >= 300 * MIB


def test_cpu_samples_in_order_only() -> None:
    c = m.ContainerState(m.AggregateContainerState())
    assert c.add_cpu_sample(60.0, 100, 100)
    assert not c.add_cpu_sample(60.0, 100, 100)
    assert not c.add_cpu_sample(30.0, 100, 100)
    assert c.aggregator.total_samples_count == 1


@pytest.mark.parametrize(
    "times",
    [pytest.param([0.0], id="one-instant"), pytest.param([60.0, 120.0, 180.0], id="three-runs"),
     pytest.param([60.0, 150 * DAY], id="reference-shift"), pytest.param([5.0, 5.0 + 1e-3], id="close-instants")],
)  # fmt: skip
def test_cpu_batch_is_bitwise_the_sequential_adds(times: list[float]) -> None:
    """The recommender feeds a run's CPU samples in one batch; the histogram, its range and the
    counters must be exactly what one add_cpu_sample per sample gives."""
    import random

    rng = random.Random(7)
    seq, batch = m.AggregateContainerState(), m.AggregateContainerState()
    for t in times:
        samples = [(rng.choice([0, 1, 3, 50, 120, 121, 999, 5000, 10**6]), rng.choice([0, 50, 100, 250, 1500]))
                   for _ in range(rng.randint(1, 40))]  # fmt: skip
        for usage, request in samples:
            seq.add_cpu_sample(usage, request, t)
        batch.add_cpu_batch([(m.cpu_bucket(u), m.cpu_sample_weight(r)) for u, r in samples], t)
    hs, hb = seq.cpu.histogram, batch.cpu.histogram
    assert hb.weights == hs.weights and hb.total_weight == hs.total_weight
    assert (hb.min_bucket, hb.max_bucket, batch.cpu.reference) == (hs.min_bucket, hs.max_bucket, seq.cpu.reference)
    assert (batch.first_sample_start, batch.last_sample_start, batch.total_samples_count) == (
        seq.first_sample_start, seq.last_sample_start, seq.total_samples_count)  # fmt: skip


def test_cpu_batch_of_nothing_changes_nothing() -> None:
    s = m.AggregateContainerState()
    s.add_cpu_batch([], 60.0)
    assert s.total_samples_count == 0 and s.last_sample_start is None and s.cpu.is_empty()


@pytest.mark.parametrize(
    "start, peaks",
    [pytest.param(DAY, [(300, DAY), (420, DAY + 60), (300, 2 * DAY)], id="three"),
     pytest.param(DAY, [(300, DAY), (300, DAY), (300, DAY), (1, DAY)], id="clamped-to-zero"),
     pytest.param(DAY, [(420, 150 * DAY), (300, 151 * DAY)], id="reference-shift-midway")],
)  # fmt: skip
def test_memory_peaks_subtraction_is_bitwise_the_sequential_one(start: float, peaks: list[tuple[int, float]]) -> None:
    seq, batch = m.AggregateContainerState(), m.AggregateContainerState()
    for s in (seq, batch):
        for mib, day in ((300, 1), (420, 2), (380, 3), (5000, 3)):
            s.add_memory_peak(mib * MIB, start * day)
    for mib, t in peaks:
        seq.subtract_memory_peak(mib * MIB, t)
    batch.subtract_memory_peaks([(mib * MIB, t) for mib, t in peaks])
    hs, hb = seq.memory_peaks.histogram, batch.memory_peaks.histogram
    assert hb.weights == hs.weights and hb.total_weight == hs.total_weight
    assert (hb.min_bucket, hb.max_bucket, batch.memory_peaks.reference) == (
        hs.min_bucket, hs.max_bucket, seq.memory_peaks.reference)  # fmt: skip


@pytest.mark.parametrize(
    "times",
    [pytest.param([0.0], id="one-instant"), pytest.param([60.0, 120.0, 180.0], id="three-runs"),
     pytest.param([60.0, 150 * DAY], id="reference-shift"), pytest.param([5.0, 5.0 + 1e-3], id="close-instants")],
)  # fmt: skip
def test_cpu_array_is_bitwise_the_sequential_adds(times: list[float]) -> None:
    """The recommender adds a run's CPU samples as arrays; the histogram, its range and the
    counters must be exactly what one add_cpu_sample per sample, in order, gives."""
    import random

    import numpy as np

    rng = random.Random(11)
    seq, arr = m.AggregateContainerState(), m.AggregateContainerState()
    for t in times:
        samples = [(rng.choice([0, 1, 3, 50, 120, 121, 999, 5000, 10**6]), rng.choice([0, 50, 100, 250, 1500]))
                   for _ in range(rng.randint(1, 60))]  # fmt: skip
        for usage, request in samples:
            seq.add_cpu_sample(usage, request, t)
        arr.add_cpu_array(m.cpu_buckets(np.array([u for u, _ in samples])),
                          np.array([m.cpu_sample_weight(r) for _, r in samples]), t)  # fmt: skip
    hs, ha = seq.cpu.histogram, arr.cpu.histogram
    assert ha.weights == hs.weights and ha.total_weight == hs.total_weight
    assert (ha.min_bucket, ha.max_bucket, arr.cpu.reference) == (hs.min_bucket, hs.max_bucket, seq.cpu.reference)
    assert (arr.first_sample_start, arr.last_sample_start, arr.total_samples_count) == (
        seq.first_sample_start, seq.last_sample_start, seq.total_samples_count)  # fmt: skip


@pytest.mark.parametrize(
    "start, peaks",
    [pytest.param(DAY, [(300, DAY), (420, DAY + 60), (300, 2 * DAY)], id="three"),
     pytest.param(DAY, [(300, DAY), (300, DAY), (300, DAY), (1, DAY)], id="clamped-to-zero"),
     pytest.param(DAY, [(5000, 3 * DAY), (380, 3 * DAY), (420, 2 * DAY), (300, DAY)], id="all-of-it"),
     pytest.param(DAY, [(420, 150 * DAY), (300, 151 * DAY)], id="reference-shift-midway")],
)  # fmt: skip
def test_memory_peak_array_subtraction_is_bitwise_the_sequential_one(
    start: float, peaks: list[tuple[int, float]]
) -> None:
    import numpy as np

    seq, arr = m.AggregateContainerState(), m.AggregateContainerState()
    for s in (seq, arr):
        for mib, day in ((300, 1), (420, 2), (380, 3), (5000, 3)):
            s.add_memory_peak(mib * MIB, start * day)
    for mib, t in peaks:
        seq.subtract_memory_peak(mib * MIB, t)
    arr.subtract_memory_peak_array(np.array([mib * MIB for mib, _ in peaks]), np.array([t for _, t in peaks]))
    hs, ha = seq.memory_peaks.histogram, arr.memory_peaks.histogram
    assert ha.weights == hs.weights and ha.total_weight == hs.total_weight
    assert (ha.min_bucket, ha.max_bucket, arr.memory_peaks.reference) == (
        hs.min_bucket, hs.max_bucket, seq.memory_peaks.reference)  # fmt: skip


def test_vectorised_buckets_are_the_scalar_ones() -> None:
    import random

    import numpy as np

    rng = random.Random(3)
    cpu = [0, 1, 9, 10, 11, 10**12, *(rng.randint(0, 5000) for _ in range(3000)),
           *(rng.randint(0, 10**7) for _ in range(300))]  # fmt: skip
    assert m.cpu_buckets(np.array(cpu)).tolist() == [m.cpu_bucket(v) for v in cpu]
    small = list(range(0, m._CPU_DIRECT, 7)) + [m._CPU_DIRECT - 1]  # looked up by index
    assert m.cpu_buckets(np.array(small)).tolist() == [m.cpu_bucket(v) for v in small]
    assert m.cpu_buckets(np.array([], dtype=np.int64)).tolist() == []
    mem = [0, 10**7 - 1, 10**7, 10**7 + 1, 10**15, *(rng.randint(0, 10**10) for _ in range(3000)),
           *(rng.randint(0, 10**13) for _ in range(300))]  # fmt: skip
    assert m.memory_buckets(np.array(mem)).tolist() == [m.memory_bucket(v) for v in mem]


@pytest.mark.parametrize(
    "containers, days",
    [pytest.param(1, 2, id="one-container-empties-its-buckets"), pytest.param(3, 3, id="few"),
     pytest.param(40, 3, id="many"), pytest.param(5, 160, id="reference-shifts")],
)  # fmt: skip
def test_memory_peak_moves_are_bitwise_the_sequential_ones(containers: int, days: int) -> None:
    """The recommender moves a run's memory peaks (the old one out, the new one in) as arrays; the
    histogram must be what subtract_memory_peak/add_memory_peak per container, in order, give,
    also when a bucket empties (the clamp) or the whole histogram does."""
    import random

    import numpy as np

    rng = random.Random(containers * 1000 + days)
    seq, arr = m.AggregateContainerState(), m.AggregateContainerState()
    peaks = [0] * containers
    ends = [DAY] * containers
    for run in range(300):
        t = run * days * DAY / 300
        old, new, raised, times = [], [], [], []
        for i in range(containers):
            if rng.random() < 0.5:
                continue
            if t >= ends[i]:
                ends[i] += DAY
                peaks[i], up = 0, False
            else:
                up = peaks[i] != 0
            usage = peaks[i] + rng.choice([1, 2, 30, 400]) * MIB if up or rng.random() < 0.5 else rng.randint(1, 900) * MIB
            old.append(peaks[i])
            new.append(usage)
            raised.append(up)
            times.append(ends[i])
            peaks[i] = usage
        for o, u, r, te in zip(old, new, raised, times, strict=True):
            if r:
                seq.subtract_memory_peak(o, te)
            seq.add_memory_peak(u, te)
        arr.move_memory_peaks(np.array(old, dtype=np.int64), np.array(new, dtype=np.int64),
                              np.array(raised, dtype=np.bool_), np.array(times, dtype=np.float64))  # fmt: skip
        hs, ha = seq.memory_peaks.histogram, arr.memory_peaks.histogram
        assert ha.weights == hs.weights and ha.total_weight == hs.total_weight, run
        assert (ha.min_bucket, ha.max_bucket, arr.memory_peaks.reference) == (
            hs.min_bucket, hs.max_bucket, seq.memory_peaks.reference), run  # fmt: skip
