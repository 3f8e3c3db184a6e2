"""Cluster autoscaler options: upstream's flags (cluster-autoscaler/config/flags/flags.go, FAQ.md
"What are the parameters to CA?") with their defaults, read from the ``ClusterAutoscaler`` kind.

The ``ClusterAutoscaler`` object (kubetwin.io/v1alpha1, cluster-scoped, named ``default``) turns the
autoscaler on; its ``spec`` carries the flags camelCased (``scan-interval`` -> ``scanInterval``).
Durations take Go/kubectl strings ("10s", "10m0s", "1h") or seconds. ``coresTotal`` and
``memoryTotal`` take upstream's "min:max" strings (cores; GiB), parsed and checked as its
parseMinMaxFlag / validateMinMaxFlag do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from kubetwin.sim import parse_duration

RESOURCE = "clusterautoscalers.kubetwin.io"
DEFAULT_NAME = "default"

EXPANDERS = ("least-waste", "random", "most-pods", "least-nodes", "price", "priority")

# spec field -> (attribute, kind)
_DURATIONS = {
    "scanInterval": "scan_interval",
    "scaleDownUnneededTime": "scale_down_unneeded_time",
    "scaleDownUnreadyTime": "scale_down_unready_time",
    "scaleDownDelayAfterAdd": "scale_down_delay_after_add",
    "scaleDownDelayAfterDelete": "scale_down_delay_after_delete",
    "scaleDownDelayAfterFailure": "scale_down_delay_after_failure",
    "maxNodeProvisionTime": "max_node_provision_time",
    "maxNodeStartupTime": "max_node_startup_time",
    "maxPodEvictionTime": "max_pod_eviction_time",
    "newPodScaleUpDelay": "new_pod_scale_up_delay",
    "initialNodeGroupBackoffDuration": "initial_node_group_backoff",
    "maxNodeGroupBackoffDuration": "max_node_group_backoff",
    "nodeGroupBackoffResetTimeout": "node_group_backoff_reset",
    "unremovableNodeRecheckTimeout": "unremovable_node_recheck_timeout",
    "nodeDeleteDelayAfterTaint": "node_delete_delay_after_taint",
}
_INTS = {
    "maxGracefulTerminationSec": "max_graceful_termination_sec",
    "maxNodesTotal": "max_nodes_total",
    "maxNodesPerScaleup": "max_nodes_per_scaleup",
    "maxEmptyBulkDelete": "max_empty_bulk_delete",
    "maxScaleDownParallelism": "max_scale_down_parallelism",
    "maxDrainParallelism": "max_drain_parallelism",
    "expendablePodsPriorityCutoff": "expendable_pods_priority_cutoff",
}
_FLOATS = {
    "scaleDownUtilizationThreshold": "scale_down_utilization_threshold",
    "maxAllocatableDifferenceRatio": "max_allocatable_difference_ratio",
    "maxFreeDifferenceRatio": "max_free_difference_ratio",
    "memoryDifferenceRatio": "memory_difference_ratio",
}
# lists of strings (repeatable flags)
_STRING_LISTS = {"balancingIgnoreLabel": "balancing_ignore_labels"}
# "min:max" strings: spec field -> (min attribute, max attribute)
_MIN_MAX = {
    "coresTotal": ("min_cores_total", "max_cores_total"),
    "memoryTotal": ("min_memory_total", "max_memory_total"),
}
_BOOLS = {
    "enabled": "enabled",
    "scaleDownEnabled": "scale_down_enabled",
    "skipNodesWithLocalStorage": "skip_nodes_with_local_storage",
    "skipNodesWithSystemPods": "skip_nodes_with_system_pods",
    "balanceSimilarNodeGroups": "balance_similar_node_groups",
    "ignoreDaemonsetsUtilization": "ignore_daemonsets_utilization",
    "ignoreMirrorPodsUtilization": "ignore_mirror_pods_utilization",
}

# every spec field Options.from_spec reads (the OpenAPI schema declares exactly these)
SPEC_FIELDS = frozenset({*_DURATIONS, *_INTS, *_FLOATS, *_BOOLS, *_STRING_LISTS, *_MIN_MAX, "expander"})


@dataclass
class Options:
    enabled: bool = True
    scan_interval: float = 10.0
    expander: str = "least-waste"
    scale_down_enabled: bool = True
    scale_down_utilization_threshold: float = 0.5
    scale_down_unneeded_time: float = 600.0
    scale_down_unready_time: float = 1200.0
    scale_down_delay_after_add: float = 600.0
    scale_down_delay_after_delete: float = 0.0  # 0: the scan interval
    scale_down_delay_after_failure: float = 180.0
    unremovable_node_recheck_timeout: float = 300.0
    max_node_provision_time: float = 900.0
    max_node_startup_time: float = 900.0
    max_graceful_termination_sec: int = 600
    max_pod_eviction_time: float = 120.0
    max_empty_bulk_delete: int = 10
    max_scale_down_parallelism: int = 10
    max_drain_parallelism: int = 1
    max_nodes_total: int = 0  # 0: no limit
    # --cores-total 0:320000 (cores) and --memory-total 0:6400000 (GiB): the cluster's ResourceLimiter
    min_cores_total: int = 0
    max_cores_total: int = 320000
    min_memory_total: int = 0
    max_memory_total: int = 6400000
    max_nodes_per_scaleup: int = 1000
    new_pod_scale_up_delay: float = 0.0
    expendable_pods_priority_cutoff: int = -10
    skip_nodes_with_local_storage: bool = True
    skip_nodes_with_system_pods: bool = True
    balance_similar_node_groups: bool = False
    balancing_ignore_labels: tuple[str, ...] = ()  # --balancing-ignore-label, repeatable
    # config.NodeGroupDifferenceRatios: how far apart similar groups' templates may be
    max_allocatable_difference_ratio: float = 0.05
    max_free_difference_ratio: float = 0.05
    memory_difference_ratio: float = 0.015
    ignore_daemonsets_utilization: bool = False
    ignore_mirror_pods_utilization: bool = False
    initial_node_group_backoff: float = 300.0
    max_node_group_backoff: float = 1800.0
    node_group_backoff_reset: float = 3 * 3600.0
    node_delete_delay_after_taint: float = 5.0

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None) -> Options:
        """Options from a ClusterAutoscaler spec; raises ValueError naming the bad field."""
        o = cls()
        spec = spec or {}
        for key, value in spec.items():
            if value is None:
                continue
            path = f"spec.{key}"
            if key in _DURATIONS:
                try:
                    setattr(o, _DURATIONS[key], parse_duration(value))
                except (TypeError, ValueError):
                    raise ValueError(f"{path}: Invalid value: {value!r}: must be a duration") from None
            elif key in _INTS:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"{path}: Invalid value: {value!r}: must be an integer")
                setattr(o, _INTS[key], value)
            elif key in _FLOATS:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"{path}: Invalid value: {value!r}: must be a number")
                setattr(o, _FLOATS[key], float(value))
            elif key in _BOOLS:
                if not isinstance(value, bool):
                    raise ValueError(f"{path}: Invalid value: {value!r}: must be a boolean")
                setattr(o, _BOOLS[key], value)
            elif key in _STRING_LISTS:
                if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                    raise ValueError(f"{path}: Invalid value: {value!r}: must be a list of label keys")
                setattr(o, _STRING_LISTS[key], tuple(value))
            elif key in _MIN_MAX:
                lo, hi = _parse_min_max(path, value)
                setattr(o, _MIN_MAX[key][0], lo)
                setattr(o, _MIN_MAX[key][1], hi)
            elif key == "expander":
                names = [n.strip() for n in str(value).split(",") if n.strip()]
                bad = [n for n in names if n not in EXPANDERS]
                if not names or bad:
                    raise ValueError(
                        f'{path}: Unsupported value: "{value}": supported values: '
                        + ", ".join(f'"{e}"' for e in EXPANDERS)
                    )
                o.expander = ",".join(names)
            else:
                raise ValueError(f'{path}: unknown field "{key}"')
        if not 0.0 <= o.scale_down_utilization_threshold <= 1.0:
            raise ValueError(
                "spec.scaleDownUtilizationThreshold: Invalid value: "
                f"{o.scale_down_utilization_threshold}: must be between 0 and 1"
            )
        if o.scan_interval <= 0:
            raise ValueError(f"spec.scanInterval: Invalid value: {o.scan_interval}: must be greater than 0")
        for f in fields(o):
            v = getattr(o, f.name)
            if isinstance(v, int | float) and not isinstance(v, bool) and v < 0 and f.name != (
                "expendable_pods_priority_cutoff"
            ):
                raise ValueError(f"spec: {f.name}: must be greater than or equal to 0")
        return o


def _parse_min_max(path: str, value: Any) -> tuple[int, int]:
    """A "min:max" flag value (upstream's parseMinMaxFlag): two base-10 integers, 0 <= min <= max."""
    if not isinstance(value, str):
        raise ValueError(f'{path}: Invalid value: {value!r}: must be a string "min:max"')
    tokens = value.split(":", 1)
    if len(tokens) != 2:
        raise ValueError(f'{path}: Invalid value: "{value}": wrong nodes configuration: {value}')
    parsed = []
    for which, token in zip(("min", "max"), tokens, strict=True):
        if not re.fullmatch(r"[+-]?[0-9]+", token):
            raise ValueError(f'{path}: Invalid value: "{value}": failed to set {which} size: {token}, '
                             "expected integer")  # fmt: skip
        n = int(token)
        if not -(2**63) <= n < 2**63:
            raise ValueError(f'{path}: Invalid value: "{value}": failed to set {which} size: {token}, '
                             "value out of range")  # fmt: skip
        parsed.append(n)
    lo, hi = parsed
    if lo < 0:
        raise ValueError(f'{path}: Invalid value: "{value}": min size must be greater or equal to 0')
    if hi < lo:
        raise ValueError(f'{path}: Invalid value: "{value}": max size must be greater or equal to min size')
    return lo, hi


def validate_spec(spec: dict[str, Any] | None) -> list[str]:
    """Field errors of a ClusterAutoscaler spec (for api validation)."""
    try:
        Options.from_spec(spec)
    except ValueError as e:
        return [str(e)]
    return []
