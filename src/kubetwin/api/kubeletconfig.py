"""KubeletConfiguration (kubelet.config.k8s.io/v1beta1) as a NodeGroup's ``spec.kubelet``: parsing,
defaults, validation, eviction thresholds, node allocatable and managed-node reservation presets.

Reproduces, from their documented behaviour:

- defaults: ``kubernetes/kubernetes: pkg/kubelet/apis/config/v1beta1/defaults.go`` (maxPods 110,
  evictionPressureTransitionPeriod 5m, podPidsLimit -1, image GC 85/80, enforceNodeAllocatable
  ["pods"]) and ``pkg/kubelet/eviction/defaults_linux.go`` (DefaultEvictionHard). The default
  evictionHard map applies only when ``evictionHard`` is absent: setting any key **replaces** the
  whole map (``mergeDefaultEvictionSettings: true`` merges the defaults back in for unset keys);
- thresholds: ``pkg/kubelet/eviction/helpers.go`` (ParseThresholdConfig, parseThresholdStatement,
  parsePercentage, parseGracePeriods, parseMinimumReclaims, addAllocatableThresholds) and
  ``pkg/kubelet/eviction/api/types.go`` (GetThresholdQuantity). Percentages are float32 as upstream:
  ``10%`` of a capacity C is ``int64(C * float64(float32(10)/100))``, a few bytes more than C/10;
  ``0%`` and ``100%`` thresholds are dropped;
- reservations: ``cmd/kubelet/app/server.go`` parseResourceList (cpu, memory, ephemeral-storage,
  pid; never negative);
- allocatable: ``pkg/kubelet/cm/node_container_manager_linux.go`` GetNodeAllocatableReservation,
  ``pkg/kubelet/cm/helpers.go`` hardEvictionReservation and ``pkg/kubelet/nodestatus/setters.go``
  MachineInfo (capacity − reservation per capacity key, clamped at 0; hugepages off memory);
- presets: EKS ``awslabs/amazon-eks-ami: nodeadm/internal/kubelet/config.go``
  (getCPUMillicoresToReserve, getMemoryMebibytesToReserve = 11·maxPods + 255, ephemeral-storage 1Gi,
  its evictionHard map) and GKE's published node-allocatable tiers.

Pure functions over plain dicts; errors are :class:`~kubetwin.api.errors.Cause` lists with field
paths (``spec.kubelet.evictionHard[memory.availble]``) carrying the kubelet's own start-up error
text, since a real kubelet refuses to start with such a config.
"""

from __future__ import annotations

import difflib
import json
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from kubetwin.api.errors import Cause
from kubetwin.api.quantity import BINARY_SI, DECIMAL_SI, Quantity, parse_quantity
from kubetwin.sim.time import parse_duration

__all__ = [
    "DEFAULT_EVICTION_HARD",
    "DEFAULT_MAX_PODS",
    "EKS_EVICTION_HARD",
    "EVICTION_MONITORING_PERIOD",
    "KubeletConfig",
    "KubeletConfigError",
    "RESERVED_PRESETS",
    "SIGNALS",
    "Threshold",
    "ThresholdValue",
    "allocatable",
    "apply_preset",
    "eks_cpu_millicores_to_reserve",
    "eks_kube_reserved",
    "eks_memory_mebibytes_to_reserve",
    "gke_kube_reserved",
    "gke_memory_bytes_to_reserve",
    "parse_kubelet_config",
    "reservation",
    "validate_kubelet_config",
]

DEFAULT_MAX_PODS = 110
DEFAULT_EVICTION_PRESSURE_TRANSITION_PERIOD = 300.0  # 5m
DEFAULT_POD_PIDS_LIMIT = -1
DEFAULT_IMAGE_GC_HIGH = 85
DEFAULT_IMAGE_GC_LOW = 80
# Not a KubeletConfiguration field upstream: the constant evictionMonitoringPeriod in
# pkg/kubelet/kubelet.go. kubetwin accepts ``evictionMonitoringPeriod`` to change it.
EVICTION_MONITORING_PERIOD = 10.0

# pkg/kubelet/eviction/defaults_linux.go
DEFAULT_EVICTION_HARD: dict[str, str] = {
    "memory.available": "100Mi",
    "nodefs.available": "10%",
    "nodefs.inodesFree": "5%",
    "imagefs.available": "15%",
}
# amazon-eks-ami nodeadm/internal/kubelet/config.go
EKS_EVICTION_HARD: dict[str, str] = {
    "memory.available": "100Mi",
    "nodefs.available": "10%",
    "nodefs.inodesFree": "5%",
}

SIGNAL_MEMORY_AVAILABLE = "memory.available"
SIGNAL_ALLOCATABLE_MEMORY_AVAILABLE = "allocatableMemory.available"
SIGNAL_NODEFS_AVAILABLE = "nodefs.available"
# pkg/kubelet/eviction/api/types.go signals (the ones a user may configure).
SIGNALS = (
    "memory.available",
    "allocatableMemory.available",
    "nodefs.available",
    "nodefs.inodesFree",
    "imagefs.available",
    "imagefs.inodesFree",
    "containerfs.available",
    "containerfs.inodesFree",
    "pid.available",
)
# cmd/kubelet/app/server.go parseResourceList
RESERVABLE = ("cpu", "memory", "ephemeral-storage", "pid")
CPU_MANAGER_POLICIES = ("none", "static")
RESERVED_PRESETS = ("none", "eks", "gke")
OP_LESS_THAN = "LessThan"

# Every KubeletConfiguration field kubetwin understands (others are accepted and ignored, as a
# lenient decode would; only near-misses of these names are reported as typos).
KNOWN_FIELDS = (
    "maxPods",
    "podsPerCore",
    "kubeReserved",
    "systemReserved",
    "evictionHard",
    "evictionSoft",
    "evictionSoftGracePeriod",
    "evictionMaxPodGracePeriod",
    "evictionMinimumReclaim",
    "evictionPressureTransitionPeriod",
    "evictionMonitoringPeriod",
    "mergeDefaultEvictionSettings",
    "enforceNodeAllocatable",
    "podPidsLimit",
    "cpuManagerPolicy",
    "imageGCHighThresholdPercent",
    "imageGCLowThresholdPercent",
)
# Other real KubeletConfiguration fields: accepted silently (never flagged as typos).
OTHER_FIELDS = (
    "apiVersion",
    "kind",
    "cgroupDriver",
    "cgroupsPerQOS",
    "clusterDNS",
    "clusterDomain",
    "containerLogMaxSize",
    "containerLogMaxFiles",
    "cpuCFSQuota",
    "cpuCFSQuotaPeriod",
    "cpuManagerReconcilePeriod",
    "eventBurst",
    "eventRecordQPS",
    "failSwapOn",
    "featureGates",
    "imageMinimumGCAge",
    "imageMaximumGCAge",
    "kubeAPIBurst",
    "kubeAPIQPS",
    "kubeReservedCgroup",
    "systemReservedCgroup",
    "maxOpenFiles",
    "maxParallelImagePulls",
    "memoryManagerPolicy",
    "memoryThrottlingFactor",
    "nodeStatusReportFrequency",
    "nodeStatusUpdateFrequency",
    "nodeLeaseDurationSeconds",
    "protectKernelDefaults",
    "registryBurst",
    "registryPullQPS",
    "reservedSystemCPUs",
    "serializeImagePulls",
    "shutdownGracePeriod",
    "shutdownGracePeriodCriticalPods",
    "syncFrequency",
    "topologyManagerPolicy",
    "topologyManagerScope",
)


class KubeletConfigError(ValueError):
    """The kubelet would refuse to start with this configuration; ``causes`` name each field."""

    def __init__(self, causes: list[Cause]) -> None:
        self.causes = causes
        super().__init__("; ".join(f"{c.field}: {c.message}" for c in causes))


# -- thresholds ---------------------------------------------------------------------------------
def _float32(x: float) -> float:
    result: float = struct.unpack("f", struct.pack("f", x))[0]
    return result


@dataclass(frozen=True)
class ThresholdValue:
    """evictionapi.ThresholdValue: an absolute quantity (bytes / inodes / pids) or a percentage
    (a float32 fraction of the signal's capacity, 0 < percentage < 1)."""

    quantity: int | None = None
    percentage: float = 0.0

    def amount(self, capacity: int) -> int:
        """GetThresholdQuantity: the quantity, else ``int64(capacity × percentage)``."""
        if self.quantity is not None:
            return self.quantity
        return int(float(capacity) * self.percentage)

    def text(self) -> str:
        if self.quantity is not None:
            return str(self.quantity)
        return f"{self.percentage * 100:.6g}%"


@dataclass(frozen=True)
class Threshold:
    """evictionapi.Threshold: met when ``available < value`` (operator LessThan).

    ``grace_period`` is seconds; 0 means a hard threshold (act at once).
    """

    signal: str
    value: ThresholdValue
    grace_period: float = 0.0
    min_reclaim: ThresholdValue | None = None
    operator: str = OP_LESS_THAN

    @property
    def hard(self) -> bool:
        return self.grace_period == 0

    def quantity(self, capacity: int) -> int:
        return self.value.amount(capacity)

    def min_reclaim_quantity(self, capacity: int) -> int:
        return self.min_reclaim.amount(capacity) if self.min_reclaim is not None else 0


# -- the config -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class KubeletConfig:
    """The effective KubeletConfiguration (defaults applied). Field names are upstream's, snake_cased;
    durations are seconds; ``eviction_hard`` is the effective map (defaults when unset)."""

    max_pods: int = DEFAULT_MAX_PODS
    pods_per_core: int = 0
    kube_reserved: dict[str, str] = field(default_factory=dict)
    system_reserved: dict[str, str] = field(default_factory=dict)
    eviction_hard: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_EVICTION_HARD))
    eviction_soft: dict[str, str] = field(default_factory=dict)
    eviction_soft_grace_period: dict[str, str] = field(default_factory=dict)
    eviction_max_pod_grace_period: int = 0
    eviction_minimum_reclaim: dict[str, str] = field(default_factory=dict)
    eviction_pressure_transition_period: float = DEFAULT_EVICTION_PRESSURE_TRANSITION_PERIOD
    eviction_monitoring_period: float = EVICTION_MONITORING_PERIOD
    merge_default_eviction_settings: bool = False
    enforce_node_allocatable: tuple[str, ...] = ("pods",)
    pod_pids_limit: int = DEFAULT_POD_PIDS_LIMIT
    cpu_manager_policy: str = "none"
    image_gc_high_threshold_percent: int = DEFAULT_IMAGE_GC_HIGH
    image_gc_low_threshold_percent: int = DEFAULT_IMAGE_GC_LOW
    hard_thresholds: tuple[Threshold, ...] = ()
    soft_thresholds: tuple[Threshold, ...] = ()

    @property
    def thresholds(self) -> tuple[Threshold, ...]:
        """All thresholds as the eviction manager holds them (ParseThresholdConfig): hard, then soft,
        plus an ``allocatableMemory.available`` copy of each *hard* ``memory.available`` threshold
        when node allocatable is enforced on pods (addAllocatableThresholds copies only hard ones)."""
        base = self.hard_thresholds + self.soft_thresholds
        if "pods" not in self.enforce_node_allocatable:
            return base
        extra = tuple(
            Threshold(SIGNAL_ALLOCATABLE_MEMORY_AVAILABLE, t.value, t.grace_period, t.min_reclaim)
            for t in self.hard_thresholds
            if t.signal == SIGNAL_MEMORY_AVAILABLE
        )
        return base + extra

    def to_dict(self) -> dict[str, Any]:
        """The effective config with upstream field names (round-trips through parse_kubelet_config)."""
        return {
            "maxPods": self.max_pods,
            "podsPerCore": self.pods_per_core,
            "kubeReserved": dict(self.kube_reserved),
            "systemReserved": dict(self.system_reserved),
            "evictionHard": dict(self.eviction_hard),
            "evictionSoft": dict(self.eviction_soft),
            "evictionSoftGracePeriod": dict(self.eviction_soft_grace_period),
            "evictionMaxPodGracePeriod": self.eviction_max_pod_grace_period,
            "evictionMinimumReclaim": dict(self.eviction_minimum_reclaim),
            "evictionPressureTransitionPeriod": _go_duration(self.eviction_pressure_transition_period),
            "evictionMonitoringPeriod": _go_duration(self.eviction_monitoring_period),
            "enforceNodeAllocatable": list(self.enforce_node_allocatable),
            "podPidsLimit": self.pod_pids_limit,
            "cpuManagerPolicy": self.cpu_manager_policy,
            "imageGCHighThresholdPercent": self.image_gc_high_threshold_percent,
            "imageGCLowThresholdPercent": self.image_gc_low_threshold_percent,
        }

    def to_json(self) -> str:
        """Compact JSON of :meth:`to_dict` (the ``kubetwin.io/kubelet-config`` node annotation)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


def _go_duration(seconds: float) -> str:
    """time.Duration.String() for whole/fractional seconds: 300 -> "5m0s", 10 -> "10s", 0 -> "0s"."""
    if seconds == 0:
        return "0s"
    whole = int(seconds)
    frac = seconds - whole
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    sec = f"{s + frac:g}s" if frac else f"{s}s"
    if h:
        return f"{h}h{m}m{sec}"
    if m:
        return f"{m}m{sec}"
    return sec


# -- parsing ------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, path: str) -> None:
        self.path = path
        self.errs: list[Cause] = []

    def fail(self, fld: str, message: str, reason: str = "FieldValueInvalid") -> None:
        self.errs.append(Cause(fld, message, reason))

    def p(self, *names: str) -> str:
        out = self.path
        for n in names:
            out = f"{out}.{n}" if out else n
        return out

    # typed readers
    def int_field(self, d: dict[str, Any], key: str, default: int) -> int:
        v = d.get(key)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, int):
            self.fail(self.p(key), f"Invalid value: {_go(v)}: must be of type int32", "FieldValueTypeInvalid")
            return default
        return v

    def map_field(self, d: dict[str, Any], key: str) -> dict[str, str] | None:
        v = d.get(key)
        if v is None:
            return None
        if not isinstance(v, dict):
            self.fail(
                self.p(key), f"Invalid value: {_go(v)}: must be of type object", "FieldValueTypeInvalid"
            )
            return None
        out: dict[str, str] = {}
        for k, val in v.items():
            if isinstance(val, bool) or not isinstance(val, str | int | float):
                self.fail(
                    f"{self.p(key)}[{k}]",
                    f"Invalid value: {_go(val)}: must be of type string",
                    "FieldValueTypeInvalid",
                )
                continue
            out[str(k)] = str(val) if not isinstance(val, float) else repr(val)
        return out

    def duration_field(self, d: dict[str, Any], key: str, default: float) -> float:
        v = d.get(key)
        if v is None:
            return default
        seconds = _parse_go_duration(v)
        if seconds is None:
            self.fail(self.p(key), f"Invalid value: {_go(v)}: time: invalid duration {_go(str(v))}")
            return default
        if seconds < 0:
            self.fail(self.p(key), f"Invalid value: {_go(v)}: must not be negative")
            return default
        return seconds

    # sections
    def reserved(self, d: dict[str, Any], key: str) -> dict[str, str]:
        m = self.map_field(d, key)
        if not m:
            return {}
        out: dict[str, str] = {}
        for name, text in m.items():
            fld = f"{self.p(key)}[{name}]"
            if name not in RESERVABLE:
                self.fail(
                    fld,
                    f'Unsupported value: "{name}": cannot reserve "{name}" resource; supported values: '
                    + ", ".join(f'"{r}"' for r in RESERVABLE),
                    "FieldValueNotSupported",
                )
                continue
            try:
                q = parse_quantity(text)
            except ValueError as e:
                self.fail(fld, f"Invalid value: {_go(text)}: {e}")
                continue
            if q.sign() < 0:
                self.fail(
                    fld,
                    f'Invalid value: {_go(text)}: resource quantity for "{name}" cannot be negative: {text}',
                )
                continue
            out[name] = text
        return out

    def signal_ok(self, fld: str, signal: str) -> bool:
        if signal in SIGNALS:
            return True
        close = difflib.get_close_matches(signal, SIGNALS, n=1)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        self.fail(
            fld,
            f"Unsupported value: {_go(signal)}: unsupported eviction signal {signal}{hint}; supported values: "
            + ", ".join(f'"{s}"' for s in SIGNALS),
            "FieldValueNotSupported",
        )
        return False

    def threshold_value(self, fld: str, signal: str, text: str) -> ThresholdValue | None | bool:
        """parseThresholdStatement's value: a ThresholdValue, ``None`` for an error, ``False`` when
        the threshold is dropped (0% / 100%)."""
        if text.endswith("%"):
            pct = _parse_percentage(text)
            if pct is None:
                self.fail(
                    fld, f"Invalid value: {_go(text)}: invalid percentage for eviction threshold {signal}"
                )
                return None
            if text.rstrip("%").strip() in ("0", "100") or pct in (0.0, 1.0):
                return False  # "0%" and "100%" are ignored
            if pct < 0:
                self.fail(
                    fld,
                    f"Invalid value: {_go(text)}: eviction percentage threshold {signal} must be positive: {text}",
                )
                return None
            if pct > 1:
                self.fail(
                    fld,
                    f"Invalid value: {_go(text)}: eviction percentage threshold {signal} must be less than 100%: {text}",
                )
                return None
            return ThresholdValue(percentage=pct)
        try:
            q = parse_quantity(text)
        except ValueError as e:
            self.fail(fld, f"Invalid value: {_go(text)}: {e}")
            return None
        if q.sign() <= 0:
            self.fail(fld, f"Invalid value: {_go(text)}: eviction threshold {signal} must be positive: {q}")
            return None
        return ThresholdValue(quantity=q.value())

    def threshold_map(self, m: dict[str, str], key: str) -> dict[str, ThresholdValue]:
        out: dict[str, ThresholdValue] = {}
        for signal, text in m.items():
            fld = f"{self.p(key)}[{signal}]"
            if not self.signal_ok(fld, signal):
                continue
            value = self.threshold_value(fld, signal, text)
            if isinstance(value, ThresholdValue):
                out[signal] = value
        return out

    def grace_periods(self, m: dict[str, str]) -> dict[str, float]:
        out: dict[str, float] = {}
        for signal, text in m.items():
            fld = f"{self.p('evictionSoftGracePeriod')}[{signal}]"
            if not self.signal_ok(fld, signal):
                continue
            seconds = _parse_go_duration(text)
            if seconds is None:
                self.fail(fld, f"Invalid value: {_go(text)}: time: invalid duration {_go(text)}")
                continue
            if seconds < 0:
                self.fail(
                    fld,
                    f"Invalid value: {_go(text)}: invalid eviction grace period specified: {text}, must be a positive value",
                )
                continue
            out[signal] = seconds
        return out

    def min_reclaims(self, m: dict[str, str]) -> dict[str, ThresholdValue]:
        out: dict[str, ThresholdValue] = {}
        for signal, text in m.items():
            fld = f"{self.p('evictionMinimumReclaim')}[{signal}]"
            if not self.signal_ok(fld, signal):
                continue
            if text.endswith("%"):
                pct = _parse_percentage(text)
                if pct is None:
                    self.fail(
                        fld,
                        f"Invalid value: {_go(text)}: invalid percentage for eviction minimum reclaim {signal}",
                    )
                    continue
                if pct < 0:
                    self.fail(
                        fld,
                        f"Invalid value: {_go(text)}: eviction percentage minimum reclaim {signal} must be positive: {text}",
                    )
                    continue
                out[signal] = ThresholdValue(percentage=pct)
                continue
            try:
                q = parse_quantity(text)
            except ValueError as e:
                self.fail(fld, f"Invalid value: {_go(text)}: {e}")
                continue
            if q.sign() < 0:
                self.fail(
                    fld,
                    f"Invalid value: {_go(text)}: negative eviction minimum reclaim specified for {signal}",
                )
                continue
            out[signal] = ThresholdValue(quantity=q.value())
        return out


def _go(v: Any) -> str:
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    try:
        return json.dumps(v, sort_keys=True)
    except (TypeError, ValueError):
        return repr(v)


def _parse_percentage(text: str) -> float | None:
    """parsePercentage: ``float32(ParseFloat(strings.TrimRight(input, "%"), 32)) / 100``."""
    try:
        v = float(text.rstrip("%"))
    except ValueError:
        return None
    if v != v or v in (float("inf"), float("-inf")):
        return None
    return _float32(_float32(v) / 100.0)


def _parse_go_duration(v: Any) -> float | None:
    """Seconds in a Go duration (``"1m30s"``; bare numbers are seconds); None if malformed."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    text = str(v).strip()
    negative = text.startswith("-")
    try:
        seconds = parse_duration(text.lstrip("+-"))
    except ValueError:
        return None
    return -seconds if negative else seconds


def _parse(d: Any, path: str) -> tuple[KubeletConfig | None, list[Cause]]:
    p = _Parser(path)
    if d is None:
        d = {}
    if not isinstance(d, dict):
        p.fail(path, f"Invalid value: {_go(d)}: must be of type object", "FieldValueTypeInvalid")
        return None, p.errs
    for key in d:
        if key in KNOWN_FIELDS or key in OTHER_FIELDS:
            continue
        close = difflib.get_close_matches(str(key), KNOWN_FIELDS + OTHER_FIELDS, n=1, cutoff=0.8)
        if close:
            p.fail(
                p.p(str(key)),
                f'Unsupported value: unknown field "{key}"; did you mean "{close[0]}"?',
                "FieldValueNotSupported",
            )

    max_pods = p.int_field(d, "maxPods", 0)
    if max_pods < 0:
        p.fail(
            p.p("maxPods"),
            f"Invalid value: {max_pods}: maxPods (--max-pods) {max_pods} must not be a negative number",
        )
    max_pods = max_pods or DEFAULT_MAX_PODS
    pods_per_core = p.int_field(d, "podsPerCore", 0)
    if pods_per_core < 0:
        p.fail(
            p.p("podsPerCore"),
            f"Invalid value: {pods_per_core}: podsPerCore (--pods-per-core) {pods_per_core} must not be a negative number",
        )
    kube_reserved = p.reserved(d, "kubeReserved")
    system_reserved = p.reserved(d, "systemReserved")

    merge_defaults = d.get("mergeDefaultEvictionSettings")
    if merge_defaults is not None and not isinstance(merge_defaults, bool):
        p.fail(
            p.p("mergeDefaultEvictionSettings"),
            f"Invalid value: {_go(merge_defaults)}: must be of type boolean",
        )
        merge_defaults = False
    hard_map = p.map_field(d, "evictionHard")
    if hard_map is None:
        hard_map = dict(DEFAULT_EVICTION_HARD)
    elif merge_defaults:
        hard_map = {**DEFAULT_EVICTION_HARD, **hard_map}
    soft_map = p.map_field(d, "evictionSoft") or {}
    grace_map = p.map_field(d, "evictionSoftGracePeriod") or {}
    reclaim_map = p.map_field(d, "evictionMinimumReclaim") or {}

    hard_values = p.threshold_map(hard_map, "evictionHard")
    soft_values = p.threshold_map(soft_map, "evictionSoft")
    graces = p.grace_periods(grace_map)
    reclaims = p.min_reclaims(reclaim_map)
    hard = tuple(Threshold(s, v, 0.0, reclaims.get(s)) for s, v in hard_values.items())
    soft: list[Threshold] = []
    for s, v in soft_values.items():
        if s not in graces:
            if s in grace_map:
                continue  # its grace period is malformed: already reported
            p.fail(
                f"{p.p('evictionSoftGracePeriod')}[{s}]",
                f"Required value: grace period must be specified for the soft eviction threshold {s}",
                "FieldValueRequired",
            )
            continue
        soft.append(Threshold(s, v, graces[s], reclaims.get(s)))
    for s, g in graces.items():
        if s in soft_values and g == 0:
            # a zero grace period would make the soft threshold hard; upstream requires > 0
            p.fail(
                f"{p.p('evictionSoftGracePeriod')}[{s}]",
                f"Invalid value: {_go(grace_map[s])}: invalid eviction grace period specified: {grace_map[s]}, "
                "must be a positive value",
            )

    max_grace = p.int_field(d, "evictionMaxPodGracePeriod", 0)
    if max_grace < 0:
        p.fail(
            p.p("evictionMaxPodGracePeriod"),
            f"Invalid value: {max_grace}: evictionMaxPodGracePeriod (--eviction-max-pod-grace-period) {max_grace} "
            "must not be a negative number",
        )
    transition = p.duration_field(
        d, "evictionPressureTransitionPeriod", DEFAULT_EVICTION_PRESSURE_TRANSITION_PERIOD
    )
    monitoring = p.duration_field(d, "evictionMonitoringPeriod", EVICTION_MONITORING_PERIOD)
    if monitoring <= 0:
        p.fail(
            p.p("evictionMonitoringPeriod"),
            f"Invalid value: {_go(d.get('evictionMonitoringPeriod'))}: must be positive",
        )
        monitoring = EVICTION_MONITORING_PERIOD

    enforce = d.get("enforceNodeAllocatable")
    enforce_t: tuple[str, ...] = ("pods",)
    if enforce is not None:
        if not isinstance(enforce, list) or not all(isinstance(e, str) for e in enforce):
            p.fail(p.p("enforceNodeAllocatable"), f"Invalid value: {_go(enforce)}: must be a list of strings")
        else:
            valid = ("pods", "system-reserved", "kube-reserved", "none")
            for i, e in enumerate(enforce):
                if e not in valid:
                    p.fail(
                        f"{p.p('enforceNodeAllocatable')}[{i}]",
                        f"Unsupported value: {_go(e)}: supported values: "
                        + ", ".join(f'"{v}"' for v in valid),
                        "FieldValueNotSupported",
                    )
            enforce_t = tuple(e for e in enforce if e != "none")

    pids = p.int_field(d, "podPidsLimit", DEFAULT_POD_PIDS_LIMIT)
    if pids < 0:
        pids = DEFAULT_POD_PIDS_LIMIT  # "default nil or negative value to -1"
    cpu_policy = d.get("cpuManagerPolicy")
    if cpu_policy is None or cpu_policy == "":
        cpu_policy = "none"
    elif cpu_policy not in CPU_MANAGER_POLICIES:
        p.fail(
            p.p("cpuManagerPolicy"),
            f"Unsupported value: {_go(cpu_policy)}: supported values: "
            + ", ".join(f'"{v}"' for v in CPU_MANAGER_POLICIES),
            "FieldValueNotSupported",
        )
        cpu_policy = "none"
    gc_high = p.int_field(d, "imageGCHighThresholdPercent", DEFAULT_IMAGE_GC_HIGH)
    gc_low = p.int_field(d, "imageGCLowThresholdPercent", DEFAULT_IMAGE_GC_LOW)
    if not 0 <= gc_high <= 100:
        p.fail(
            p.p("imageGCHighThresholdPercent"),
            f"Invalid value: {gc_high}: imageGCHighThresholdPercent (--image-gc-high-threshold) {gc_high} must be "
            "between 0 and 100, inclusive",
        )
    elif not 0 <= gc_low <= 100:
        p.fail(
            p.p("imageGCLowThresholdPercent"),
            f"Invalid value: {gc_low}: imageGCLowThresholdPercent (--image-gc-low-threshold) {gc_low} must be "
            "between 0 and 100, inclusive",
        )
    elif gc_low >= gc_high:
        p.fail(
            p.p("imageGCLowThresholdPercent"),
            f"Invalid value: {gc_low}: imageGCLowThresholdPercent (--image-gc-low-threshold) {gc_low} must be less "
            f"than imageGCHighThresholdPercent (--image-gc-high-threshold) {gc_high}",
        )
    if p.errs:
        return None, p.errs
    cfg = KubeletConfig(
        max_pods=max_pods,
        pods_per_core=pods_per_core,
        kube_reserved=kube_reserved,
        system_reserved=system_reserved,
        eviction_hard=hard_map,
        eviction_soft=soft_map,
        eviction_soft_grace_period=grace_map,
        eviction_max_pod_grace_period=max_grace,
        eviction_minimum_reclaim=reclaim_map,
        eviction_pressure_transition_period=transition,
        eviction_monitoring_period=monitoring,
        merge_default_eviction_settings=bool(merge_defaults),
        enforce_node_allocatable=enforce_t,
        pod_pids_limit=pids,
        cpu_manager_policy=str(cpu_policy),
        image_gc_high_threshold_percent=gc_high,
        image_gc_low_threshold_percent=gc_low,
        hard_thresholds=hard,
        soft_thresholds=tuple(soft),
    )
    return cfg, []


def parse_kubelet_config(d: dict[str, Any] | None, path: str = "spec.kubelet") -> KubeletConfig:
    """The effective KubeletConfig for ``d`` (a KubeletConfiguration dict, e.g. NodeGroup.spec.kubelet,
    or the ``kubetwin.io/kubelet-config`` annotation decoded); raises KubeletConfigError."""
    cfg, errs = _parse(d, path)
    if cfg is None:
        raise KubeletConfigError(errs)
    return cfg


def validate_kubelet_config(d: Any, path: str = "spec.kubelet") -> list[Cause]:
    """Every reason a kubelet would refuse to start with ``d``, as field errors (empty when valid)."""
    return _parse(d, path)[1]


# -- allocatable ----------------------------------------------------------------------------------
def _hard_eviction_reservation(cfg: KubeletConfig, capacity: dict[str, Quantity]) -> dict[str, Quantity]:
    """hardEvictionReservation: memory.available -> memory, nodefs.available -> ephemeral-storage."""
    out: dict[str, Quantity] = {}
    for t in cfg.hard_thresholds:
        if t.signal == SIGNAL_MEMORY_AVAILABLE:
            res = "memory"
        elif t.signal == SIGNAL_NODEFS_AVAILABLE:
            res = "ephemeral-storage"
        else:
            continue
        cap = capacity.get(res, Quantity(0, BINARY_SI)).value()
        out[res] = Quantity(t.quantity(cap), BINARY_SI)
    return out


def reservation(capacity: dict[str, str], cfg: KubeletConfig) -> dict[str, dict[str, str]]:
    """The reserved amounts per capacity resource, broken down as ``kubectl describe node`` readers
    want them: ``{"kube-reserved": {...}, "system-reserved": {...}, "eviction-threshold": {...}}``
    (only non-zero entries; canonical quantity strings)."""
    caps = {k: parse_quantity(v) for k, v in capacity.items()}
    evict = _hard_eviction_reservation(cfg, caps)
    out: dict[str, dict[str, str]] = {"kube-reserved": {}, "system-reserved": {}, "eviction-threshold": {}}
    for k in capacity:
        for label, source in (("kube-reserved", cfg.kube_reserved), ("system-reserved", cfg.system_reserved)):
            if k in source:
                q = parse_quantity(source[k])
                if not q.is_zero():
                    out[label][k] = q.canonical()
        if k in evict and not evict[k].is_zero():
            out["eviction-threshold"][k] = evict[k].canonical()
    return out


def allocatable(capacity: dict[str, str], cfg: KubeletConfig) -> dict[str, str]:
    """``status.allocatable`` for ``status.capacity`` under ``cfg``, as the kubelet computes it.

    For each capacity resource: capacity − (systemReserved + kubeReserved + hard-eviction reservation),
    clamped at 0; hugepages capacity additionally comes off memory. Resources with no reservation keep
    the capacity string unchanged; computed ones are canonical (``1930m``, ``7518Mi``, ``18242267924``).
    """
    caps = {k: parse_quantity(v) for k, v in capacity.items()}
    evict = _hard_eviction_reservation(cfg, caps)
    out: dict[str, str] = {}
    values: dict[str, Quantity] = {}
    for k, cap in caps.items():
        reserved = Quantity(0, DECIMAL_SI)
        if k in cfg.system_reserved:
            reserved = reserved.add(parse_quantity(cfg.system_reserved[k]))
        if k in cfg.kube_reserved:
            reserved = reserved.add(parse_quantity(cfg.kube_reserved[k]))
        if k in evict:
            reserved = reserved.add(evict[k])
        if reserved.is_zero():
            out[k] = capacity[k]
            values[k] = cap
            continue
        value = cap.sub(reserved)
        if value.sign() < 0:
            value = Quantity(0, cap.format)
        values[k] = value
        out[k] = value.canonical()
    if "memory" in values:
        mem = values["memory"]
        changed = False
        for k, cap in caps.items():
            if k.startswith("hugepages-") and not cap.is_zero():
                mem = mem.sub(cap)
                changed = True
        if changed:
            if mem.sign() < 0:
                mem = Quantity(0, mem.format)
            out["memory"] = mem.canonical()
    return out


# -- managed-node presets ---------------------------------------------------------------------------
def _in_range(total: int, start: int, end: int, basis_points: int) -> int:
    """getResourceToReserveInRange (integer arithmetic, as nodeadm)."""
    if total > start:
        return (min(total, end) - start) * basis_points // 10000
    return 0


def eks_cpu_millicores_to_reserve(cpu_milli: int) -> int:
    """getCPUMillicoresToReserve: 6% of the first core, 1% of the next, 0.5% of the next 2, 0.25% above 4."""
    ranges = (0, 1000, 2000, 4000, cpu_milli)
    pct = (600, 100, 50, 25)
    return sum(_in_range(cpu_milli, ranges[i], ranges[i + 1], pct[i]) for i in range(4))


def eks_memory_mebibytes_to_reserve(max_pods: int) -> int:
    """getMemoryMebibytesToReserve: 11 × maxPods + 255."""
    return 11 * max_pods + 255


def eks_kube_reserved(cpu_milli: int, max_pods: int) -> dict[str, str]:
    """nodeadm's kubeReserved: cpu tiers, ephemeral-storage 1Gi, memory 11·maxPods+255 Mi."""
    return {
        "cpu": f"{eks_cpu_millicores_to_reserve(cpu_milli)}m",
        "ephemeral-storage": "1Gi",
        "memory": f"{eks_memory_mebibytes_to_reserve(max_pods)}Mi",
    }


_GIB = 1 << 30
# (upper bound in GiB, fraction) — 25% of the first 4 GiB, 20% of the next 4, 10% of the next 8,
# 6% of the next 112, 2% above 128 GiB.
_GKE_MEMORY_TIERS = (
    (4, Fraction(25, 100)),
    (8, Fraction(20, 100)),
    (16, Fraction(10, 100)),
    (128, Fraction(6, 100)),
)
_GKE_SMALL_MACHINE_MEMORY = 255 << 20  # machines with less than 1 GiB


def gke_memory_bytes_to_reserve(memory_bytes: int) -> int:
    """GKE's kube-reserved memory (bytes, rounded down), without the 100Mi eviction threshold."""
    if memory_bytes < _GIB:
        return _GKE_SMALL_MACHINE_MEMORY
    reserved = Fraction(0)
    start = 0
    for upper_gib, frac in _GKE_MEMORY_TIERS:
        end = upper_gib * _GIB
        if memory_bytes > start:
            reserved += (min(memory_bytes, end) - start) * frac
        start = end
    if memory_bytes > start:
        reserved += (memory_bytes - start) * Fraction(2, 100)
    return int(reserved)


def gke_kube_reserved(cpu_milli: int, memory_bytes: int) -> dict[str, str]:
    """GKE's kubeReserved: the same CPU tiers as EKS, memory by GKE's tiers."""
    return {
        "cpu": f"{eks_cpu_millicores_to_reserve(cpu_milli)}m",
        "memory": Quantity(gke_memory_bytes_to_reserve(memory_bytes), BINARY_SI).canonical(),
    }


def apply_preset(
    kubelet: dict[str, Any] | None, preset: str, cpu_milli: int, memory_bytes: int, max_pods: int
) -> dict[str, Any]:
    """``kubelet`` with the reservation preset filled in where the user left fields unset.

    ``eks``: kubeReserved from nodeadm's formula (with ``max_pods``) and nodeadm's evictionHard map;
    ``gke``: kubeReserved from GKE's tiers (the eviction reservation is the default 100Mi);
    ``none``: unchanged. Fields the user set always win. ``maxPods`` is set to ``max_pods``.
    """
    out = dict(kubelet or {})
    if preset == "eks":
        if out.get("kubeReserved") is None:
            out["kubeReserved"] = eks_kube_reserved(cpu_milli, max_pods)
        if out.get("evictionHard") is None:
            out["evictionHard"] = dict(EKS_EVICTION_HARD)
    elif preset == "gke":
        if out.get("kubeReserved") is None:
            out["kubeReserved"] = gke_kube_reserved(cpu_milli, memory_bytes)
    elif preset != "none":
        raise ValueError(f'unknown reservedPreset "{preset}": want one of none, eks, gke')
    out["maxPods"] = max_pods
    return out
