"""The VPA recommender's model and estimators, pure (no objects, no clock)
(kubernetes/autoscaler vertical-pod-autoscaler/pkg/recommender: config/config.go
DefaultRecommenderConfig, model/aggregations_config.go, model/aggregate_container_state.go,
model/container.go, model/types.go, logic/estimator.go, logic/recommender.go).

Amounts are integers as upstream's ``ResourceAmount``: CPU in millicores, memory in bytes, capped
at ``MAX_RESOURCE_AMOUNT`` and truncated towards zero when computed from floats.

- CPU: every usage sample goes into a decaying histogram (half-life 24 h) with the weight
  ``max(request cores, 0.1)``; first/last sample time and the sample count (CPU only) give the
  confidence ``min((last - first) / 24h, count / 1440)``.
- Memory: one peak per container per aggregation interval (24 h): within the current interval only
  the maximum is kept (the old peak is subtracted, the new one added with weight 1.0 at the
  interval's end). An OOM adds ``max(used + 100Mi, used x 1.2)`` where ``used = max(request, peak)``.
- Checkpoints (aggregate_container_state.go SaveToCheckpoint/LoadFromCheckpoint, version "v3"):
  both histograms (see :mod:`~kubetwin.controllers.vpa.histogram`), first/last sample start and
  the sample count; times are formatted/parsed by the caller's clock.
- Estimation: ``target = P90 x 1.15``, ``lower = P50 x 1.15 x (1 + 0.001/conf)^-2``,
  ``upper = P95 x 1.15 x (1 + 1/conf)``, each at least the pod minimum (25m CPU, 250Mi memory)
  split evenly over the pod's containers.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from kubetwin.controllers.vpa.histogram import (
    MAX_DECAY_EXPONENT,
    CheckpointError,
    DecayingHistogram,
    ExponentialHistogramOptions,
)
from kubetwin.controllers.vpa.util import format_amount

DAY = 86400.0
MAX_RESOURCE_AMOUNT = int(1e14)
MIN_SAMPLE_WEIGHT = 0.1
EPSILON = 0.001 * MIN_SAMPLE_WEIGHT
HISTOGRAM_BUCKET_SIZE_GROWTH = 0.05
CPU_HISTOGRAM_OPTIONS = ExponentialHistogramOptions(1000.0, 0.01, 1.0 + HISTOGRAM_BUCKET_SIZE_GROWTH, EPSILON)
MEMORY_HISTOGRAM_OPTIONS = ExponentialHistogramOptions(1e12, 1e7, 1.0 + HISTOGRAM_BUCKET_SIZE_GROWTH, EPSILON)
MEMORY_AGGREGATION_INTERVAL = DAY
MEMORY_AGGREGATION_INTERVAL_COUNT = 8
MEMORY_AGGREGATION_WINDOW = MEMORY_AGGREGATION_INTERVAL * MEMORY_AGGREGATION_INTERVAL_COUNT
CPU_HISTOGRAM_DECAY_HALF_LIFE = DAY
MEMORY_HISTOGRAM_DECAY_HALF_LIFE = DAY
OOM_BUMP_UP_RATIO = 1.2
OOM_MIN_BUMP_UP = 100 * 1024 * 1024
DEFAULT_CONTROLLED_RESOURCES = ("cpu", "memory")
SUPPORTED_CHECKPOINT_VERSION = "v3"


@dataclass(frozen=True)
class RecommenderConfig:
    """DefaultRecommenderConfig (the recommender's flags)."""

    safety_margin_fraction: float = 0.15
    pod_min_cpu_millicores: float = 25.0
    pod_min_memory_mb: float = 250.0
    target_cpu_percentile: float = 0.9
    lower_bound_cpu_percentile: float = 0.5
    upper_bound_cpu_percentile: float = 0.95
    target_memory_percentile: float = 0.9
    lower_bound_memory_percentile: float = 0.5
    upper_bound_memory_percentile: float = 0.95
    confidence_interval_cpu: float = DAY
    confidence_interval_memory: float = DAY
    round_cpu_millicores: int = 1
    oom_bump_up_ratio: float = OOM_BUMP_UP_RATIO
    oom_min_bump_up: float = OOM_MIN_BUMP_UP


DEFAULT_CONFIG = RecommenderConfig()


# -- ResourceAmount arithmetic (model/types.go) --------------------------------------------------
def amount_from_float(value: float) -> int:
    """resourceAmountFromFloat: negative -> 0, above the max -> max, else truncated."""
    if math.isnan(value) or value < 0:
        return 0
    if value > MAX_RESOURCE_AMOUNT:
        return MAX_RESOURCE_AMOUNT
    return int(value)


def cpu_amount_from_cores(cores: float) -> int:
    return amount_from_float(cores * 1000.0)


def cores_from_cpu_amount(milli: int) -> float:
    return milli / 1000.0


@functools.lru_cache(maxsize=1 << 16)
def cpu_bucket(usage_milli: int) -> int:
    """The CPU histogram bucket of a usage sample (memoised: usage repeats)."""
    return CPU_HISTOGRAM_OPTIONS.find_bucket(cores_from_cpu_amount(usage_milli))


@functools.lru_cache(maxsize=1 << 16)
def memory_bucket(usage_bytes: int) -> int:
    """The memory histogram bucket of a peak (memoised)."""
    return MEMORY_HISTOGRAM_OPTIONS.find_bucket(float(usage_bytes))


def _bucket_table(options: ExponentialHistogramOptions, divisor: float) -> npt.NDArray[np.int64]:
    """``table[b - 1]`` = the smallest integer amount whose bucket (``find_bucket(amount / divisor)``)
    is at least ``b``. ``find_bucket`` never decreases with the amount, so counting the entries at or
    below an amount gives its bucket exactly as the scalar function does (no vectorised log, whose
    last bit may differ from ``math.log``'s)."""
    table = []
    for b in range(1, options.num_buckets):
        lo, hi = 0, 1 << 53
        while lo < hi:
            mid = (lo + hi) // 2
            if options.find_bucket(mid / divisor) >= b:
                hi = mid
            else:
                lo = mid + 1
        table.append(lo)
    return np.array(table, dtype=np.int64)


_TABLES: dict[str, npt.NDArray[np.int64]] = {}


_CPU_DIRECT = 1 << 16  # amounts below this many millicores look their bucket up by index


def cpu_buckets(usage_milli: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """:func:`cpu_bucket` of each element (non-negative millicores): indexed in the buckets of
    every amount below ``_CPU_DIRECT`` (the table's search done once), else searched."""
    table = _TABLES.get("cpu")
    if table is None:
        table = _TABLES["cpu"] = _bucket_table(CPU_HISTOGRAM_OPTIONS, 1000.0)
        _TABLES["cpu-direct"] = np.searchsorted(table, np.arange(_CPU_DIRECT), side="right").astype(np.int64)
    if len(usage_milli) and int(usage_milli.max()) < _CPU_DIRECT:
        return _TABLES["cpu-direct"][usage_milli]
    return np.searchsorted(table, usage_milli, side="right").astype(np.int64)


def memory_buckets(usage_bytes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """:func:`memory_bucket` of each element (non-negative bytes)."""
    table = _TABLES.get("memory")
    if table is None:
        table = _TABLES["memory"] = _bucket_table(MEMORY_HISTOGRAM_OPTIONS, 1.0)
    return np.searchsorted(table, usage_bytes, side="right").astype(np.int64)


def decay_factors(h: DecayingHistogram, times: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The weight factor ``2 ** ((t - reference) / half-life)`` of each time in ``h``, as
    ``DecayingHistogram._decay_factor`` computes it (Python's power, once per distinct time)
    without moving the reference."""
    distinct, inverse = np.unique(times, return_inverse=True)
    ref, half = h.reference, h.half_life
    return np.array([2.0 ** ((t - ref) / half) for t in distinct.tolist()], dtype=np.float64)[inverse]


def cpu_sample_weight(request_milli: int) -> float:
    """A CPU sample's weight: the request in cores, at least ``MIN_SAMPLE_WEIGHT``."""
    return max(cores_from_cpu_amount(request_milli), MIN_SAMPLE_WEIGHT)


def scale_resource(amount: int, factor: float) -> int:
    return amount_from_float(amount * factor)


# -- aggregation ---------------------------------------------------------------------------------
class AggregateContainerState:
    """The distributions of one container name under one VPA."""

    __slots__ = ("cpu", "memory_peaks", "first_sample_start", "last_sample_start", "total_samples_count")

    def __init__(self) -> None:
        self.cpu = DecayingHistogram(CPU_HISTOGRAM_OPTIONS, CPU_HISTOGRAM_DECAY_HALF_LIFE)
        self.memory_peaks = DecayingHistogram(MEMORY_HISTOGRAM_OPTIONS, MEMORY_HISTOGRAM_DECAY_HALF_LIFE)
        self.first_sample_start: float | None = None
        self.last_sample_start: float | None = None
        self.total_samples_count = 0

    def add_cpu_sample(self, usage_milli: int, request_milli: int, time: float) -> None:
        weight = max(cores_from_cpu_amount(request_milli), MIN_SAMPLE_WEIGHT)
        self.cpu.add_sample(cores_from_cpu_amount(usage_milli), weight, time)
        if self.last_sample_start is None or time > self.last_sample_start:
            self.last_sample_start = time
        if self.first_sample_start is None or time < self.first_sample_start:
            self.first_sample_start = time
        self.total_samples_count += 1

    def add_cpu_batch(self, samples: list[tuple[int, float]], time: float) -> None:
        """``add_cpu_sample`` for many samples of one instant, ``(cpu bucket, weight)`` each (see
        :func:`cpu_bucket`, :func:`cpu_sample_weight`): the same float operations in the same order
        on the weights and the total, the decay factor computed once (it depends on ``time``
        only), the non-empty range widened once (adds only grow weights, so a bucket that ends at
        or above epsilon is one an add left there)."""
        if not samples:
            return
        h = self.cpu
        factor = h._decay_factor(time)  # first: it may move the reference, as the first add would
        hist = h.histogram
        weights = hist.weights
        total = hist.total_weight
        for b, w in samples:
            wf = w * factor
            weights[b] += wf
            total += wf
        hist.total_weight = total
        eps = hist.options.epsilon
        lo, hi = hist.min_bucket, hist.max_bucket
        for b, _ in samples:
            if (b < lo or b > hi) and weights[b] >= eps:
                lo, hi = min(lo, b), max(hi, b)
        hist.min_bucket, hist.max_bucket = lo, hi
        if self.last_sample_start is None or time > self.last_sample_start:
            self.last_sample_start = time
        if self.first_sample_start is None or time < self.first_sample_start:
            self.first_sample_start = time
        self.total_samples_count += len(samples)

    def add_cpu_array(
        self, buckets: npt.NDArray[np.int64], weights: npt.NDArray[np.float64], time: float
    ) -> None:
        """:meth:`add_cpu_batch` with the samples as arrays (bucket, weight), bitwise the same:
        ``np.add.at`` adds each sample in order as the per-sample adds do, and the total is the
        running (left-to-right) sum, not a pairwise one."""
        n = len(buckets)
        if not n:
            return
        h = self.cpu
        factor = h._decay_factor(time)  # first: it may move the reference, as the first add would
        hist = h.histogram
        wf = weights * factor
        w = np.array(hist.weights, dtype=np.float64)
        np.add.at(w, buckets, wf)
        hist.weights = w.tolist()
        hist.total_weight = float(np.add.accumulate(np.concatenate(([hist.total_weight], wf)))[-1])
        # the range widens only by a bucket outside it (weights only grew)
        if int(buckets.min()) < hist.min_bucket or int(buckets.max()) > hist.max_bucket:
            touched = np.flatnonzero(np.bincount(buckets, minlength=len(w)))  # sorted, as np.unique
            touched = touched[w[touched] >= hist.options.epsilon]
            if touched.size:
                hist.min_bucket = min(hist.min_bucket, int(touched[0]))
                hist.max_bucket = max(hist.max_bucket, int(touched[-1]))
        if self.last_sample_start is None or time > self.last_sample_start:
            self.last_sample_start = time
        if self.first_sample_start is None or time < self.first_sample_start:
            self.first_sample_start = time
        self.total_samples_count += n

    def subtract_memory_peak_array(
        self,
        usage: npt.NDArray[np.int64],
        times: npt.NDArray[np.float64],
        factors: npt.NDArray[np.float64] | None = None,
        buckets: npt.NDArray[np.int64] | None = None,
    ) -> None:
        """:meth:`subtract_memory_peaks` with the peaks as arrays, bitwise the same: the weights
        fall in order (``np.subtract.at``) and are clamped to 0 below epsilon at the end, which is
        what clamping after each subtraction gives (a weight only falls, so once below epsilon it
        stays there); the decay factor once per distinct time. Falls back to the per-peak
        subtraction when a time would move the reference. ``factors`` (:func:`decay_factors` of
        ``times``) and ``buckets`` (:func:`memory_buckets` of ``usage``) may come from the caller."""
        if not len(usage):
            return
        h = self.memory_peaks
        if float(times.max()) > h.reference + h.half_life * MAX_DECAY_EXPONENT:
            self.subtract_memory_peaks(list(zip(usage.tolist(), times.tolist(), strict=True)))
            return
        hist = h.histogram
        eps = hist.options.epsilon
        wf = decay_factors(h, times) if factors is None else factors
        if hist.options is not MEMORY_HISTOGRAM_OPTIONS:
            buckets = np.array([hist.options.find_bucket(float(u)) for u in usage.tolist()], dtype=np.int64)
        elif buckets is None:
            buckets = memory_buckets(usage)
        w = np.array(hist.weights, dtype=np.float64)
        np.subtract.at(w, buckets, wf)
        touched = np.flatnonzero(np.bincount(buckets, minlength=len(w)))
        w[touched] = np.where(w[touched] < eps, 0.0, w[touched])
        hist.weights = w.tolist()
        total = float(np.add.accumulate(np.concatenate(([hist.total_weight], -wf)))[-1])
        hist.total_weight = 0.0 if total < eps else total
        hist._update_min_max()

    def move_memory_peaks(
        self,
        old: npt.NDArray[np.int64],
        new: npt.NDArray[np.int64],
        raised: npt.NDArray[np.bool_],
        times: npt.NDArray[np.float64],
        factors: npt.NDArray[np.float64] | None = None,
        buckets: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None,
    ) -> None:
        """For each ``i`` in order: ``subtract_memory_peak(old[i], times[i])`` when ``raised[i]``,
        then ``add_memory_peak(new[i], times[i])``; bitwise those calls. The subtractions and adds
        of the buckets where no subtraction can come near epsilon (what they hold minus all that
        is subtracted from them stays well above it) go in with one ``np.add.at`` (in order, so
        the same float operations); the others one by one with the clamp; the total is the running
        sum (checked never to need the clamp; else, and when a time would move the reference,
        everything goes one by one). ``factors`` (:func:`decay_factors` of ``times``) and
        ``buckets`` (:func:`memory_buckets` of ``old`` where raised, else anything, and of ``new``)
        may come from the caller."""
        n = len(new)
        if not n:
            return
        h = self.memory_peaks
        hist = h.histogram
        eps = hist.options.epsilon
        if hist.options is not MEMORY_HISTOGRAM_OPTIONS or float(times.max()) > h.reference + h.half_life * MAX_DECAY_EXPONENT:
            self._move_memory_peaks_one_by_one(old, new, raised, times)
            return
        f = decay_factors(h, times) if factors is None else factors
        keep = np.column_stack((raised, np.ones(n, dtype=np.bool_))).ravel()
        old_b, new_b = (memory_buckets(np.where(raised, old, 0)), memory_buckets(new)) if buckets is None else buckets
        b = np.column_stack((old_b, new_b)).ravel()[keep]
        v = np.column_stack((-f, f)).ravel()[keep]  # the events in order: -old peak, +new peak
        sub = v < 0
        run = np.add.accumulate(np.concatenate(([hist.total_weight], v)))
        if sub.any() and float(run[1:][sub].min()) < eps:
            self._move_memory_peaks_one_by_one(old, new, raised, times)
            return
        w = np.array(hist.weights, dtype=np.float64)
        nb = len(w)
        taken = np.bincount(b[sub], weights=-v[sub], minlength=nb)
        given = np.bincount(b[~sub], weights=v[~sub], minlength=nb)
        near = (taken > 0) & (w - taken < 2 * eps + 1e-9 * (w + given))
        close = near[b]
        np.add.at(w, b[~close], v[~close])
        for bucket, value in zip(b[close].tolist(), v[close].tolist(), strict=True):
            x = w[bucket] + value
            w[bucket] = 0.0 if value < 0 and x < eps else x
        hist.weights = w.tolist()
        hist.total_weight = float(run[-1])
        added = np.flatnonzero(np.bincount(b[~sub], minlength=nb))
        added = added[w[added] >= eps]
        if added.size:
            hist.min_bucket = min(hist.min_bucket, int(added[0]))
            hist.max_bucket = max(hist.max_bucket, int(added[-1]))
        if sub.any():
            hist._update_min_max()

    def _move_memory_peaks_one_by_one(
        self,
        old: npt.NDArray[np.int64],
        new: npt.NDArray[np.int64],
        raised: npt.NDArray[np.bool_],
        times: npt.NDArray[np.float64],
    ) -> None:
        for prev, usage, sub, t in zip(old.tolist(), new.tolist(), raised.tolist(), times.tolist(), strict=True):
            if sub:
                self.subtract_memory_peak(prev, t)
            self.add_memory_peak(usage, t)

    def add_memory_peak(self, usage_bytes: int, time: float) -> None:
        self.memory_peaks.add_sample(float(usage_bytes), 1.0, time)

    def subtract_memory_peak(self, usage_bytes: int, time: float) -> None:
        self.memory_peaks.subtract_sample(float(usage_bytes), 1.0, time)

    def copy(self) -> AggregateContainerState:
        c = AggregateContainerState()
        c.cpu, c.memory_peaks = self.cpu.copy(), self.memory_peaks.copy()
        c.first_sample_start, c.last_sample_start = self.first_sample_start, self.last_sample_start
        c.total_samples_count = self.total_samples_count
        return c

    def save_to_checkpoint(self, timestamp: Callable[[float], str]) -> dict[str, Any]:
        """SaveToCheckpoint: a VerticalPodAutoscalerCheckpoint status (without lastUpdateTime);
        ``timestamp`` formats virtual seconds as RFC 3339."""

        def histogram(h: DecayingHistogram) -> dict[str, Any]:
            saved = h.save_to_checkpoint()
            saved["referenceTimestamp"] = timestamp(saved["referenceTimestamp"])
            return saved

        def at(t: float | None) -> str | None:
            return None if t is None else timestamp(t)

        return {
            "version": SUPPORTED_CHECKPOINT_VERSION,
            "cpuHistogram": histogram(self.cpu),
            "memoryHistogram": histogram(self.memory_peaks),
            "firstSampleStart": at(self.first_sample_start),
            "lastSampleStart": at(self.last_sample_start),
            "totalSamplesCount": self.total_samples_count,
        }

    @classmethod
    def from_checkpoint(
        cls, status: dict[str, Any], parse: Callable[[str], float]
    ) -> AggregateContainerState:
        """NewAggregateContainerState + LoadFromCheckpoint; raises CheckpointError (a ValueError)."""
        if status.get("version") != SUPPORTED_CHECKPOINT_VERSION:
            raise CheckpointError(f"Unsupported checkpoint version {status.get('version')}")
        s = cls()

        def at(value: Any) -> float | None:
            if not value:
                return None
            if not isinstance(value, str):
                raise CheckpointError(f"invalid time {value!r}")
            try:
                return parse(value)
            except ValueError as exc:
                raise CheckpointError(f"invalid time {value!r}") from exc

        count = status.get("totalSamplesCount") or 0
        if not isinstance(count, int) or count < 0:
            raise CheckpointError(f"invalid totalSamplesCount {count!r}")
        s.total_samples_count = count
        s.first_sample_start = at(status.get("firstSampleStart"))
        s.last_sample_start = at(status.get("lastSampleStart"))
        for h, key in ((s.memory_peaks, "memoryHistogram"), (s.cpu, "cpuHistogram")):
            saved = status.get(key) or {}
            if not isinstance(saved, dict):
                raise CheckpointError(f"invalid {key}")
            h.load_from_checkpoint(saved, at(saved.get("referenceTimestamp")) or 0.0)
        return s

    def subtract_memory_peaks(self, peaks: list[tuple[int, float]]) -> None:
        """``subtract_memory_peak(usage, time)`` for each ``(usage, time)`` in order, bitwise: the
        same clamped subtractions; the non-empty range narrowed once at the end (subtractions
        only lower weights, so a bucket that fell below epsilon stays there)."""
        h = self.memory_peaks
        hist = h.histogram
        eps = hist.options.epsilon
        memo = hist.options is MEMORY_HISTOGRAM_OPTIONS
        for usage, time in peaks:
            w = 1.0 * h._decay_factor(time)  # may move the reference (and rescale the weights)
            weights = hist.weights  # a rescale makes a new list
            b = memory_bucket(usage) if memo else hist.options.find_bucket(float(usage))
            total = hist.total_weight - w
            hist.total_weight = 0.0 if total < eps else total
            v = weights[b] - w
            weights[b] = 0.0 if v < eps else v
        hist._update_min_max()

    def merge(self, other: AggregateContainerState) -> None:
        self.cpu.merge(other.cpu)
        self.memory_peaks.merge(other.memory_peaks)
        if self.first_sample_start is None or (
            other.first_sample_start is not None and other.first_sample_start < self.first_sample_start
        ):
            self.first_sample_start = other.first_sample_start
        if other.last_sample_start is not None and (
            self.last_sample_start is None or other.last_sample_start > self.last_sample_start
        ):
            self.last_sample_start = other.last_sample_start
        self.total_samples_count += other.total_samples_count


class ContainerState:
    """model.ContainerState: one running container's samples and its memory peak window."""

    __slots__ = ("aggregator", "last_cpu_sample_start", "last_memory_sample_start", "memory_peak", "oom_peak",
                 "window_end")  # fmt: skip

    def __init__(self, aggregator: AggregateContainerState) -> None:
        self.aggregator = aggregator
        self.last_cpu_sample_start: float | None = None
        self.last_memory_sample_start: float | None = None
        self.memory_peak = 0
        self.oom_peak = 0
        self.window_end: float | None = None

    def add_cpu_sample(self, time: float, usage_milli: int, request_milli: int) -> bool:
        if usage_milli < 0 or request_milli < 0:
            return False
        if self.last_cpu_sample_start is not None and time <= self.last_cpu_sample_start:
            return False  # samples are accepted only in order
        self.aggregator.add_cpu_sample(usage_milli, request_milli, time)
        self.last_cpu_sample_start = time
        return True

    def max_memory_peak(self) -> int:
        return max(self.memory_peak, self.oom_peak)

    def add_memory_sample(self, time: float, usage_bytes: int, is_oom: bool = False) -> bool:
        if usage_bytes < 0:
            return False
        if self.last_memory_sample_start is not None and time < self.last_memory_sample_start:
            return False
        self.last_memory_sample_start = time
        if self.window_end is None:
            self.window_end = time
        add_new_peak = False
        if time < self.window_end:
            old_max = self.max_memory_peak()
            if old_max != 0 and usage_bytes > old_max:
                self.aggregator.subtract_memory_peak(old_max, self.window_end)
                add_new_peak = True
        else:
            # shift the aggregation window to the interval that contains ``time``
            interval = MEMORY_AGGREGATION_INTERVAL
            shift = math.floor((time - self.window_end) / interval) * interval + interval
            self.window_end += shift
            self.memory_peak = 0
            self.oom_peak = 0
            add_new_peak = True
        if add_new_peak:
            self.aggregator.add_memory_peak(usage_bytes, self.window_end)
            if is_oom:
                self.oom_peak = usage_bytes
            else:
                self.memory_peak = usage_bytes
        return True

    def record_oom(
        self, time: float, requested_memory: int, config: RecommenderConfig = DEFAULT_CONFIG
    ) -> bool:
        """RecordOOM: a memory sample of what the container needed, from the request and the
        usage peak of this interval (not earlier OOM peaks, so repeated OOMs do not run away)."""
        if self.window_end is not None and time < self.window_end - MEMORY_AGGREGATION_INTERVAL:
            return False  # too old
        used = max(requested_memory, self.memory_peak)
        needed = max(
            used + amount_from_float(config.oom_min_bump_up), scale_resource(used, config.oom_bump_up_ratio)
        )
        return self.add_memory_sample(time, needed, is_oom=True)


# -- estimators (logic/estimator.go) ------------------------------------------------------------
def confidence(s: AggregateContainerState, interval: float) -> float:
    """getConfidence: history length and sample count (1/minute), both in ``interval`` units."""
    if s.first_sample_start is None or s.last_sample_start is None:
        lifespan = 0.0
    else:
        lifespan = (s.last_sample_start - s.first_sample_start) / interval
    samples = s.total_samples_count / (interval / 60.0)
    return min(lifespan, samples)


def confidence_multiplier(amount: int, multiplier: float, exponent: float, conf: float) -> int:
    """amount x (1 + multiplier/confidence)^exponent; no history: x inf (upper) or x 0 (lower)."""
    base = math.inf if conf == 0 else 1.0 + multiplier / conf
    if amount == 0:
        return 0
    return amount_from_float(amount * math.pow(base, exponent))


def with_margin(amount: int, fraction: float) -> int:
    return amount + scale_resource(amount, fraction)


def cpu_percentile(s: AggregateContainerState, p: float) -> int:
    return cpu_amount_from_cores(s.cpu.percentile(p))


def memory_percentile(s: AggregateContainerState, p: float) -> int:
    return amount_from_float(s.memory_peaks.percentile(p))


@dataclass
class Estimate:
    target: dict[str, int] = field(default_factory=dict)
    lower_bound: dict[str, int] = field(default_factory=dict)
    upper_bound: dict[str, int] = field(default_factory=dict)


def pod_minimums(containers_per_pod: int, config: RecommenderConfig = DEFAULT_CONFIG) -> tuple[int, int]:
    """(cpu milli, memory bytes) each container gets at least: the pod minimum split evenly."""
    fraction = 1.0 / max(containers_per_pod, 1)
    min_cpu = scale_resource(cpu_amount_from_cores(config.pod_min_cpu_millicores * 0.001), fraction)
    min_mem = scale_resource(amount_from_float(config.pod_min_memory_mb * 1024 * 1024), fraction)
    return min_cpu, min_mem


def estimate_container(
    s: AggregateContainerState,
    containers_per_pod: int,
    controlled: tuple[str, ...] | list[str] = DEFAULT_CONTROLLED_RESOURCES,
    config: RecommenderConfig = DEFAULT_CONFIG,
) -> Estimate:
    """podResourceRecommender.estimateContainerResources (CreatePodResourceRecommender's chain)."""
    min_cpu, min_mem = pod_minimums(containers_per_pod, config)
    m = config.safety_margin_fraction
    conf_cpu = confidence(s, config.confidence_interval_cpu)
    conf_mem = confidence(s, config.confidence_interval_memory)
    cpu = {
        "target": max(with_margin(cpu_percentile(s, config.target_cpu_percentile), m), min_cpu),
        "lower": max(confidence_multiplier(with_margin(cpu_percentile(s, config.lower_bound_cpu_percentile), m),
                                           0.001, -2.0, conf_cpu), min_cpu),
        "upper": max(confidence_multiplier(with_margin(cpu_percentile(s, config.upper_bound_cpu_percentile), m),
                                           1.0, 1.0, conf_cpu), min_cpu),
    }  # fmt: skip
    mem = {
        "target": max(with_margin(memory_percentile(s, config.target_memory_percentile), m), min_mem),
        "lower": max(confidence_multiplier(with_margin(memory_percentile(s, config.lower_bound_memory_percentile), m),
                                           0.001, -2.0, conf_mem), min_mem),
        "upper": max(confidence_multiplier(with_margin(memory_percentile(s, config.upper_bound_memory_percentile), m),
                                           1.0, 1.0, conf_mem), min_mem),
    }  # fmt: skip
    est = Estimate()
    for name, values in (("cpu", cpu), ("memory", mem)):
        if name in controlled:
            est.target[name] = values["target"]
            est.lower_bound[name] = values["lower"]
            est.upper_bound[name] = values["upper"]
    return est


def round_cpu(milli: int, factor: int) -> int:
    """ResourcesAsResourceList: CPU rounded up to a multiple of ``factor`` millicores."""
    if factor <= 1:
        return milli
    return -(-milli // factor) * factor


def as_resource_list(amounts: dict[str, int], round_cpu_millicores: int = 1) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in sorted(amounts):
        if name == "cpu":
            out[name] = format_amount(name, round_cpu(amounts[name], round_cpu_millicores))
        elif name == "memory":
            out[name] = format_amount(name, amounts[name])
    return out
