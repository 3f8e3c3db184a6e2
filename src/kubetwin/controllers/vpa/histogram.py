"""Exponential and decaying histograms of the VPA recommender
(kubernetes/autoscaler vertical-pod-autoscaler/pkg/recommender/util: histogram.go,
histogram_options.go, decaying_histogram.go).

Bucket ``i`` of an exponential histogram starts at ``first * (ratio**i - 1) / (ratio - 1)``;
``percentile(p)`` walks the buckets from the smallest non-empty one until the accumulated weight
reaches ``p * total`` and returns the END of that bucket (the start of the last bucket when it is
the last one; 0 when empty). A decaying histogram multiplies each sample's weight by
``2 ** ((t - reference) / half_life)``, so a sample loses half of its weight relative to newer
ones every half-life; the reference moves (and the weights are rescaled) when the exponent would
pass 100. Times are virtual seconds.
"""

from __future__ import annotations

import math

MAX_DECAY_EXPONENT = 100


class ExponentialHistogramOptions:
    """NewExponentialHistogramOptions(maxValue, firstBucketSize, ratio, epsilon)."""

    def __init__(self, max_value: float, first_bucket_size: float, ratio: float, epsilon: float) -> None:
        if max_value <= 0 or first_bucket_size <= 0 or ratio <= 1 or epsilon <= 0:
            raise ValueError("maxValue, firstBucketSize and epsilon must be > 0.0, ratio must be > 1.0")
        self.num_buckets = (
            int(math.ceil(math.log(max_value * (ratio - 1) / first_bucket_size + 1) / math.log(ratio))) + 1
        )
        self.first_bucket_size = first_bucket_size
        self.ratio = ratio
        self.epsilon = epsilon
        self._log_ratio = math.log(ratio)

    def find_bucket(self, value: float) -> int:
        if value < self.first_bucket_size:
            return 0
        bucket = int(math.log(value * (self.ratio - 1) / self.first_bucket_size + 1) / self._log_ratio)
        return min(bucket, self.num_buckets - 1)

    def bucket_start(self, bucket: int) -> float:
        if bucket < 0 or bucket >= self.num_buckets:
            raise ValueError(f"index {bucket} out of range [0..{self.num_buckets - 1}]")
        if bucket == 0:
            return 0.0
        return self.first_bucket_size * (self.ratio**bucket - 1) / (self.ratio - 1)


class Histogram:
    """util.histogram: per-bucket weights, total weight, and the range of non-empty buckets."""

    __slots__ = ("options", "weights", "total_weight", "min_bucket", "max_bucket")

    def __init__(self, options: ExponentialHistogramOptions) -> None:
        self.options = options
        self.weights = [0.0] * options.num_buckets
        self.total_weight = 0.0
        self.min_bucket = options.num_buckets - 1
        self.max_bucket = 0

    def add_sample(self, value: float, weight: float, time: float = 0.0) -> None:
        if weight < 0:
            raise ValueError("sample weight must be non-negative")
        b = self.options.find_bucket(value)
        self.weights[b] += weight
        self.total_weight += weight
        if b < self.min_bucket and self.weights[b] >= self.options.epsilon:
            self.min_bucket = b
        if b > self.max_bucket and self.weights[b] >= self.options.epsilon:
            self.max_bucket = b

    def subtract_sample(self, value: float, weight: float, time: float = 0.0) -> None:
        if weight < 0:
            raise ValueError("sample weight must be non-negative")
        b = self.options.find_bucket(value)
        eps = self.options.epsilon
        self.total_weight = _safe_subtract(self.total_weight, weight, eps)
        self.weights[b] = _safe_subtract(self.weights[b], weight, eps)
        self._update_min_max()

    def merge(self, other: Histogram) -> None:
        for b in range(other.min_bucket, other.max_bucket + 1):
            self.weights[b] += other.weights[b]
        self.total_weight += other.total_weight
        if other.min_bucket < self.min_bucket:
            self.min_bucket = other.min_bucket
        if other.max_bucket > self.max_bucket:
            self.max_bucket = other.max_bucket

    def scale(self, factor: float) -> None:
        if factor < 0:
            raise ValueError("scale factor must be non-negative")
        self.weights = [w * factor for w in self.weights]
        self.total_weight *= factor
        self._update_min_max()

    def _update_min_max(self) -> None:
        eps = self.options.epsilon
        last = self.options.num_buckets - 1
        while self.weights[self.min_bucket] < eps and self.min_bucket < last:
            self.min_bucket += 1
        while self.weights[self.max_bucket] < eps and self.max_bucket > 0:
            self.max_bucket -= 1

    def is_empty(self) -> bool:
        return self.weights[self.min_bucket] < self.options.epsilon

    def percentile(self, p: float) -> float:
        if self.is_empty():
            return 0.0
        partial = 0.0
        threshold = p * self.total_weight
        b = self.min_bucket
        while b < self.max_bucket:
            partial += self.weights[b]
            if partial >= threshold:
                break
            b += 1
        if b < self.options.num_buckets - 1:
            return self.options.bucket_start(b + 1)  # the end of the bucket
        return self.options.bucket_start(b)

    def copy(self) -> Histogram:
        h = Histogram(self.options)
        h.weights = list(self.weights)
        h.total_weight = self.total_weight
        h.min_bucket = self.min_bucket
        h.max_bucket = self.max_bucket
        return h


def _safe_subtract(value: float, sub: float, epsilon: float) -> float:
    value -= sub
    return 0.0 if value < epsilon else value


class DecayingHistogram:
    """util.decayingHistogram: sample weights grow by 2**(t/halfLife) from a reference time."""

    __slots__ = ("histogram", "half_life", "reference")

    def __init__(self, options: ExponentialHistogramOptions, half_life: float) -> None:
        self.histogram = Histogram(options)
        self.half_life = half_life
        self.reference = 0.0

    def add_sample(self, value: float, weight: float, time: float) -> None:
        self.histogram.add_sample(value, weight * self._decay_factor(time), time)

    def subtract_sample(self, value: float, weight: float, time: float) -> None:
        self.histogram.subtract_sample(value, weight * self._decay_factor(time), time)

    def percentile(self, p: float) -> float:
        return self.histogram.percentile(p)

    def is_empty(self) -> bool:
        return self.histogram.is_empty()

    @property
    def total_weight(self) -> float:
        return self.histogram.total_weight

    def merge(self, other: DecayingHistogram) -> None:
        if other.half_life != self.half_life:
            raise ValueError("can't merge decaying histograms with different half-lives")
        if self.reference < other.reference:
            self._shift_reference(other.reference)
        elif other.reference < self.reference:
            other = other.copy()
            other._shift_reference(self.reference)
        self.histogram.merge(other.histogram)

    def copy(self) -> DecayingHistogram:
        h = DecayingHistogram(self.histogram.options, self.half_life)
        h.histogram = self.histogram.copy()
        h.reference = self.reference
        return h

    def _decay_factor(self, time: float) -> float:
        if time > self.reference + self.half_life * MAX_DECAY_EXPONENT:
            self._shift_reference(time)
        return 2.0 ** ((time - self.reference) / self.half_life)

    def _shift_reference(self, new_reference: float) -> None:
        # the reference stays an integer multiple of the half-life (time.Round)
        new_reference = math.floor(new_reference / self.half_life + 0.5) * self.half_life
        exponent = round((self.reference - new_reference) / self.half_life)
        self.histogram.scale(math.ldexp(1.0, exponent))
        self.reference = new_reference
