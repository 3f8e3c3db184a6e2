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

Checkpoints (``SaveToChekpoint`` / ``LoadFromCheckpoint``): the non-empty range's weights are
scaled so the largest is ``MAX_CHECKPOINT_WEIGHT`` (10000) and rounded half up to integers (a
weight that rounds to 0 is dropped), with the total weight kept as a float; loading spreads the
total back over the buckets in proportion to the integers (adding to what the histogram holds). A
decaying histogram also saves its reference time. Bucket indices are the keys of a JSON object.
"""

from __future__ import annotations

import math
from typing import Any

MAX_DECAY_EXPONENT = 100
MAX_CHECKPOINT_WEIGHT = 10000


class CheckpointError(ValueError):
    """A histogram checkpoint that cannot be loaded."""


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

    def save_to_checkpoint(self) -> dict[str, Any]:
        """histogram.SaveToChekpoint: {"totalWeight", "bucketWeights": {"<index>": weight}}."""
        weights = self.weights
        top = max(weights[self.min_bucket : self.max_bucket + 1], default=0.0)
        buckets: dict[str, int] = {}
        if top > 0:
            ratio = MAX_CHECKPOINT_WEIGHT / top
            for b in range(self.min_bucket, self.max_bucket + 1):
                w = int(math.floor(weights[b] * ratio + 0.5))
                if w > 0:
                    buckets[str(b)] = w
        out: dict[str, Any] = {}
        if buckets:  # omitempty, as the Go type serialises
            out["bucketWeights"] = buckets
        if self.total_weight:
            out["totalWeight"] = self.total_weight
        return out

    def load_from_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """histogram.LoadFromCheckpoint: add the checkpoint's weights to this histogram."""
        total = checkpoint.get("totalWeight") or 0.0
        if not isinstance(total, int | float) or total < 0:
            raise CheckpointError(f"Cannot load checkpoint with negative weight {total}")
        parsed: list[tuple[int, int]] = []
        for key, weight in (checkpoint.get("bucketWeights") or {}).items():
            try:
                b, w = int(key), int(weight)
            except (TypeError, ValueError) as exc:
                raise CheckpointError(f"Checkpoint has an invalid bucket {key!r}: {weight!r}") from exc
            if b >= self.options.num_buckets:
                raise CheckpointError(
                    f"Checkpoint has bucket {b} that is exceeding histogram buckets {self.options.num_buckets}"
                )
            if b < 0:
                raise CheckpointError(f"Checkpoint has a negative bucket {b}")
            parsed.append((b, w))
        count = sum(w for _, w in parsed)
        if count == 0:
            return
        ratio = float(total) / count
        for b, w in parsed:
            if b < self.min_bucket:
                self.min_bucket = b
            if b > self.max_bucket:
                self.max_bucket = b
            self.weights[b] += w * ratio
        self.total_weight += float(total)

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

    def save_to_checkpoint(self) -> dict[str, Any]:
        """decayingHistogram.SaveToChekpoint: the weights plus ``referenceTimestamp`` (virtual
        seconds here; the caller formats it)."""
        return {"referenceTimestamp": self.reference, **self.histogram.save_to_checkpoint()}

    def load_from_checkpoint(self, checkpoint: dict[str, Any], reference: float) -> None:
        """decayingHistogram.LoadFromCheckpoint: ``reference`` is the parsed referenceTimestamp."""
        self.histogram.load_from_checkpoint(checkpoint)
        self.reference = reference

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
