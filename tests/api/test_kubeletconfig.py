"""KubeletConfiguration parsing, thresholds, allocatable and presets (reference sections 3 and 10)."""

from __future__ import annotations

from typing import Any

import pytest

from kubetwin.api import kubeletconfig as kc
from kubetwin.api.kubeletconfig import (
    DEFAULT_EVICTION_HARD,
    KubeletConfigError,
    allocatable,
    apply_preset,
    parse_kubelet_config,
    reservation,
    validate_kubelet_config,
)

GIB = 1 << 30
MIB = 1 << 20
# An m5.large as the twin reports it: 2 vCPU, 8 GiB, EKS AMI 20 GiB root volume, 29 pods.
M5_LARGE = {
    "cpu": "2",
    "ephemeral-storage": "20959212Ki",
    "hugepages-1Gi": "0",
    "hugepages-2Mi": "0",
    "memory": "8388608Ki",
    "pods": "29",
}


# -- defaults and the replace-not-merge rule ---------------------------------------------------
def test_defaults_are_upstreams() -> None:
    cfg = parse_kubelet_config({})
    assert cfg.max_pods == 110
    assert cfg.kube_reserved == {} and cfg.system_reserved == {}
    assert (
        cfg.eviction_hard
        == DEFAULT_EVICTION_HARD
        == {
            "memory.available": "100Mi",
            "nodefs.available": "10%",
            "nodefs.inodesFree": "5%",
            "imagefs.available": "15%",
        }
    )
    assert cfg.eviction_pressure_transition_period == 300.0
    assert cfg.eviction_monitoring_period == 10.0
    assert cfg.eviction_max_pod_grace_period == 0
    assert cfg.pod_pids_limit == -1
    assert cfg.cpu_manager_policy == "none"
    assert (cfg.image_gc_high_threshold_percent, cfg.image_gc_low_threshold_percent) == (85, 80)
    assert [t.signal for t in cfg.hard_thresholds] == list(DEFAULT_EVICTION_HARD)
    assert all(t.hard and t.operator == "LessThan" for t in cfg.hard_thresholds)
    assert cfg.soft_thresholds == ()
    assert parse_kubelet_config(None) == cfg


@pytest.mark.parametrize(
    ("kubelet", "want"),
    [
        pytest.param(
            {"evictionHard": {"memory.available": "500Mi"}}, {"memory.available": "500Mi"}, id="replaces"
        ),
        pytest.param({"evictionHard": {}}, {}, id="empty-map-disables"),
        pytest.param({"evictionHard": None}, DEFAULT_EVICTION_HARD, id="null-is-unset"),
        pytest.param(
            {"evictionHard": {"memory.available": "500Mi"}, "mergeDefaultEvictionSettings": True},
            {**DEFAULT_EVICTION_HARD, "memory.available": "500Mi"},
            id="merge-default-eviction-settings",
        ),
    ],
)
def test_eviction_hard_map(kubelet: dict[str, Any], want: dict[str, str]) -> None:
    assert parse_kubelet_config(kubelet).eviction_hard == want


def test_replaced_map_drops_nodefs_reservation() -> None:
    cfg = parse_kubelet_config({"evictionHard": {"memory.available": "500Mi"}})
    alloc = allocatable(M5_LARGE, cfg)
    assert alloc["ephemeral-storage"] == "20959212Ki"
    assert alloc["memory"] == "7692Mi"  # 8192Mi - 500Mi


@pytest.mark.parametrize("value", ["0%", "100%"])
def test_zero_and_hundred_percent_thresholds_are_ignored(value: str) -> None:
    cfg = parse_kubelet_config({"evictionHard": {"memory.available": value, "nodefs.available": "5Gi"}})
    assert [t.signal for t in cfg.hard_thresholds] == ["nodefs.available"]


# -- thresholds -----------------------------------------------------------------------------------
def test_percentages_are_float32_like_upstream() -> None:
    cfg = parse_kubelet_config({})
    nodefs = next(t for t in cfg.hard_thresholds if t.signal == "nodefs.available")
    # float32(10)/100 = 0.100000001490116...: 10% of 100 GiB is 160 bytes more than 10 GiB.
    assert nodefs.quantity(100 * GIB) == 10 * GIB + 160
    assert nodefs.value.percentage == pytest.approx(0.1)


def test_soft_thresholds_grace_and_min_reclaim() -> None:
    cfg = parse_kubelet_config(
        {
            "evictionSoft": {"memory.available": "1.5Gi", "nodefs.available": "15%"},
            "evictionSoftGracePeriod": {"memory.available": "1m30s", "nodefs.available": "2m"},
            "evictionMinimumReclaim": {"memory.available": "0.5Gi", "nodefs.available": "1%"},
            "evictionMaxPodGracePeriod": 60,
            "evictionPressureTransitionPeriod": "30s",
        }
    )
    soft = {t.signal: t for t in cfg.soft_thresholds}
    assert soft["memory.available"].grace_period == 90.0
    assert not soft["memory.available"].hard
    assert soft["memory.available"].quantity(8 * GIB) == 1536 * MIB
    assert soft["memory.available"].min_reclaim_quantity(8 * GIB) == 512 * MIB
    assert soft["nodefs.available"].grace_period == 120.0
    assert soft["nodefs.available"].min_reclaim_quantity(100 * GIB) == int(
        100 * GIB * kc._float32(kc._float32(1) / 100)
    )
    hard = {t.signal: t for t in cfg.hard_thresholds}
    assert hard["memory.available"].min_reclaim_quantity(8 * GIB) == 512 * MIB
    assert cfg.eviction_max_pod_grace_period == 60
    assert cfg.eviction_pressure_transition_period == 30.0


def test_allocatable_memory_thresholds_cloned_when_enforced() -> None:
    """addAllocatableThresholds copies only the hard memory.available threshold."""
    cfg = parse_kubelet_config(
        {"evictionSoft": {"memory.available": "1Gi"}, "evictionSoftGracePeriod": {"memory.available": "1m"}}
    )
    clones = [t for t in cfg.thresholds if t.signal == "allocatableMemory.available"]
    assert [(c.hard, c.quantity(0)) for c in clones] == [(True, 100 * MIB)]
    none = parse_kubelet_config({"enforceNodeAllocatable": ["none"]})
    assert not [t for t in none.thresholds if t.signal == "allocatableMemory.available"]


def test_round_trip_through_dict() -> None:
    cfg = parse_kubelet_config(
        {
            "maxPods": 58,
            "kubeReserved": {"cpu": "80m", "memory": "893Mi"},
            "systemReserved": {"memory": "100Mi"},
            "evictionHard": {"memory.available": "200Mi"},
            "evictionSoft": {"memory.available": "500Mi"},
            "evictionSoftGracePeriod": {"memory.available": "1m30s"},
            "evictionPressureTransitionPeriod": "1h2m3s",
        }
    )
    again = parse_kubelet_config(cfg.to_dict())
    assert again == cfg
    assert cfg.to_dict()["evictionPressureTransitionPeriod"] == "1h2m3s"
    assert parse_kubelet_config({}).to_dict()["evictionPressureTransitionPeriod"] == "5m0s"


# -- allocatable vectors ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("capacity", "kubelet", "want"),
    [
        pytest.param(
            {"memory": "8Gi", "ephemeral-storage": "100Gi", "cpu": "4", "pods": "110"},
            {},
            # reference 3.3 worked example: 8192Mi - 100Mi; nodefs 100Gi - 10% (float32: 160 bytes more)
            {"memory": "8092Mi", "ephemeral-storage": str(90 * GIB - 160), "cpu": "4", "pods": "110"},
            id="reference-defaults-8Gi-100Gi",
        ),
        pytest.param(
            M5_LARGE,
            apply_preset({}, "eks", 2000, 8 * GIB, 29),
            # reference 10.2: cpu 2000m - 70m; memory - 574Mi - 100Mi; pods 29; the ephemeral-storage
            # value is what real EKS m5.large nodes report (20959212Ki - 1Gi - 10%).
            {
                "cpu": "1930m",
                "ephemeral-storage": "18242267924",
                "hugepages-1Gi": "0",
                "hugepages-2Mi": "0",
                "memory": "7518Mi",
                "pods": "29",
            },
            id="reference-eks-m5.large",
        ),
        pytest.param(
            {"cpu": "2", "memory": "4Gi"},
            {
                "kubeReserved": {"cpu": "100m", "memory": "256Mi"},
                "systemReserved": {"cpu": "100m", "memory": "256Mi"},
            },
            {"cpu": "1800m", "memory": "3484Mi"},
            id="kube-plus-system-reserved",
        ),
        pytest.param(
            {"cpu": "2", "memory": "1Gi"},
            {"kubeReserved": {"cpu": "3", "memory": "2Gi"}},
            {"cpu": "0", "memory": "0"},
            id="clamped-at-zero",
        ),
        pytest.param(
            {"memory": "8Gi", "hugepages-2Mi": "1Gi"},
            {},
            {"memory": "7068Mi", "hugepages-2Mi": "1Gi"},
            id="hugepages-off-memory",
        ),
        pytest.param(
            {"memory": "10Gi"},
            {"evictionHard": {"memory.available": "10%"}},
            {"memory": str(10 * GIB - int(10 * GIB * kc._float32(0.1)))},
            id="memory-percentage-of-capacity",
        ),
        pytest.param(
            {"cpu": "8", "pid": "4194304"},
            {"systemReserved": {"pid": "1000"}},
            {"cpu": "8", "pid": "4193304"},
            id="pid-reserved",
        ),
        pytest.param(
            {"cpu": "1", "nvidia.com/gpu": "1"},
            {"kubeReserved": {"cpu": "0"}},
            {"cpu": "1", "nvidia.com/gpu": "1"},
            id="zero-reservation-keeps-text",
        ),
    ],
)
def test_allocatable(capacity: dict[str, str], kubelet: dict[str, Any], want: dict[str, str]) -> None:
    assert allocatable(capacity, parse_kubelet_config(kubelet)) == want


def test_reservation_breakdown() -> None:
    cfg = parse_kubelet_config(
        {**apply_preset({}, "eks", 2000, 8 * GIB, 29), "systemReserved": {"cpu": "50m"}}
    )
    assert reservation(M5_LARGE, cfg) == {
        "kube-reserved": {"cpu": "70m", "ephemeral-storage": "1Gi", "memory": "574Mi"},
        "system-reserved": {"cpu": "50m"},
        "eviction-threshold": {"ephemeral-storage": "2146223340", "memory": "100Mi"},
    }


# -- presets ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("vcpu", "millicores"),
    [(1, 60), (2, 70), (4, 80), (8, 90), (16, 110), (32, 150), (48, 190), (64, 230), (96, 310)],
    ids=lambda v: str(v),
)
def test_eks_cpu_reserved(vcpu: int, millicores: int) -> None:
    assert kc.eks_cpu_millicores_to_reserve(vcpu * 1000) == millicores


@pytest.mark.parametrize(
    ("max_pods", "mebibytes"),
    [
        pytest.param(4, 299, id="t3.micro"),
        pytest.param(17, 442, id="t3.medium"),
        pytest.param(29, 574, id="m5.large"),
        pytest.param(58, 893, id="m5.xlarge"),
        pytest.param(234, 2829, id="c5.4xlarge"),
        pytest.param(737, 8362, id="m5.24xlarge"),
        pytest.param(110, 1465, id="cap-110"),
        pytest.param(250, 3005, id="cap-250"),
    ],
)
def test_eks_memory_reserved(max_pods: int, mebibytes: int) -> None:
    assert kc.eks_memory_mebibytes_to_reserve(max_pods) == mebibytes
    assert kc.eks_kube_reserved(2000, max_pods)["memory"] == f"{mebibytes}Mi"


def test_gke_150gib_vector() -> None:
    # reference 10.3: a 150 GiB node reserves 9.8577 GiB (tiers + 100Mi eviction), allocatable 140.1423 GiB.
    mem = 150 * GIB
    reserved = kc.gke_memory_bytes_to_reserve(mem) + 100 * MIB
    assert round(reserved / GIB, 4) == 9.8577
    cfg = parse_kubelet_config(apply_preset({}, "gke", 32000, mem, 110))
    alloc = kc.parse_quantity(allocatable({"memory": "150Gi"}, cfg)["memory"]).value()
    assert round(alloc / GIB, 4) == 140.1423


@pytest.mark.parametrize(
    ("memory", "reserved"),
    [
        pytest.param(512 * MIB, 255 * MIB, id="under-1GiB"),
        pytest.param(4 * GIB, GIB, id="4GiB-25pct"),
        pytest.param(8 * GIB, GIB + int(0.8 * GIB), id="8GiB"),
        pytest.param(16 * GIB, GIB + int(0.8 * GIB) + int(0.8 * GIB) + 1, id="16GiB"),
    ],
)
def test_gke_memory_tiers(memory: int, reserved: int) -> None:
    assert abs(kc.gke_memory_bytes_to_reserve(memory) - reserved) <= 1


def test_presets_never_override_user_fields() -> None:
    user = {"kubeReserved": {"cpu": "1"}, "evictionHard": {"memory.available": "1Gi"}}
    assert apply_preset(user, "eks", 2000, 8 * GIB, 29) == {**user, "maxPods": 29}
    assert apply_preset({}, "none", 2000, 8 * GIB, 29) == {"maxPods": 29}
    eks = apply_preset({}, "eks", 2000, 8 * GIB, 29)
    assert eks["evictionHard"] == {
        "memory.available": "100Mi",
        "nodefs.available": "10%",
        "nodefs.inodesFree": "5%",
    }
    assert apply_preset({}, "gke", 4000, 16 * GIB, 110)["kubeReserved"]["cpu"] == "80m"
    with pytest.raises(ValueError):
        apply_preset({}, "aks", 2000, 8 * GIB, 29)


# -- validation: the kubelet refuses to start ---------------------------------------------------------
@pytest.mark.parametrize(
    ("kubelet", "field", "needle"),
    [
        pytest.param(
            {"kubeReserved": {"memory": "-1Gi"}},
            "spec.kubelet.kubeReserved[memory]",
            'resource quantity for "memory" cannot be negative: -1Gi',
            id="negative-kube-reserved",
        ),
        pytest.param(
            {"systemReserved": {"cpu": "-100m"}},
            "spec.kubelet.systemReserved[cpu]",
            "cannot be negative",
            id="negative-system-reserved",
        ),
        pytest.param(
            {"kubeReserved": {"gpu": "1"}},
            "spec.kubelet.kubeReserved[gpu]",
            'cannot reserve "gpu" resource',
            id="unreservable-resource",
        ),
        pytest.param(
            {"kubeReserved": {"memory": "lots"}},
            "spec.kubelet.kubeReserved[memory]",
            "quantities must match the regular expression",
            id="bad-quantity",
        ),
        pytest.param(
            {"evictionHard": {"memory.availble": "100Mi"}},
            "spec.kubelet.evictionHard[memory.availble]",
            'unsupported eviction signal memory.availble (did you mean "memory.available"?); supported values: '
            '"memory.available"',
            id="unknown-signal",
        ),
        pytest.param(
            {"evictionSoft": {"memory.available": "1Gi"}},
            "spec.kubelet.evictionSoftGracePeriod[memory.available]",
            "grace period must be specified for the soft eviction threshold memory.available",
            id="soft-without-grace",
        ),
        pytest.param(
            {"evictionHard": {"nodefs.available": "120%"}},
            "spec.kubelet.evictionHard[nodefs.available]",
            "eviction percentage threshold nodefs.available must be less than 100%: 120%",
            id="percentage-over-100",
        ),
        pytest.param(
            {"evictionHard": {"nodefs.available": "-5%"}},
            "spec.kubelet.evictionHard[nodefs.available]",
            "must be positive: -5%",
            id="negative-percentage",
        ),
        pytest.param(
            {"evictionHard": {"memory.available": "0"}},
            "spec.kubelet.evictionHard[memory.available]",
            "eviction threshold memory.available must be positive: 0",
            id="zero-quantity",
        ),
        pytest.param(
            {"evictionHard": {"nodefs.available": "ten%"}},
            "spec.kubelet.evictionHard[nodefs.available]",
            "invalid percentage",
            id="bad-percentage",
        ),
        pytest.param(
            {
                "evictionSoft": {"memory.available": "1Gi"},
                "evictionSoftGracePeriod": {"memory.available": "-1m"},
            },
            "spec.kubelet.evictionSoftGracePeriod[memory.available]",
            "invalid eviction grace period specified: -1m, must be a positive value",
            id="negative-grace",
        ),
        pytest.param(
            {"evictionSoftGracePeriod": {"memory.available": "soon"}},
            "spec.kubelet.evictionSoftGracePeriod[memory.available]",
            'time: invalid duration "soon"',
            id="bad-grace",
        ),
        pytest.param(
            {"evictionMinimumReclaim": {"memory.available": "-1Gi"}},
            "spec.kubelet.evictionMinimumReclaim[memory.available]",
            "negative eviction minimum reclaim specified for memory.available",
            id="negative-min-reclaim",
        ),
        pytest.param(
            {"maxPods": -1},
            "spec.kubelet.maxPods",
            "maxPods (--max-pods) -1 must not be a negative number",
            id="negative-max-pods",
        ),
        pytest.param(
            {"maxPods": "many"}, "spec.kubelet.maxPods", "must be of type int32", id="max-pods-type"
        ),
        pytest.param(
            {"evictionMaxPodGracePeriod": -5},
            "spec.kubelet.evictionMaxPodGracePeriod",
            "must not be a negative number",
            id="negative-max-pod-grace",
        ),
        pytest.param(
            {"evictionPressureTransitionPeriod": "5 minutes"},
            "spec.kubelet.evictionPressureTransitionPeriod",
            "invalid duration",
            id="bad-transition-period",
        ),
        pytest.param(
            {"cpuManagerPolicy": "dynamic"},
            "spec.kubelet.cpuManagerPolicy",
            'Unsupported value: "dynamic": supported values: "none", "static"',
            id="cpu-manager-policy",
        ),
        pytest.param(
            {"imageGCHighThresholdPercent": 70, "imageGCLowThresholdPercent": 80},
            "spec.kubelet.imageGCLowThresholdPercent",
            "must be less than imageGCHighThresholdPercent",
            id="image-gc-order",
        ),
        pytest.param(
            {"kubeReserved": "cpu=100m"},
            "spec.kubelet.kubeReserved",
            "must be of type object",
            id="reserved-not-a-map",
        ),
        pytest.param({"maxPod": 20}, "spec.kubelet.maxPod", 'did you mean "maxPods"?', id="typo-field"),
        pytest.param(
            {"evictionHardd": {}},
            "spec.kubelet.evictionHardd",
            'did you mean "evictionHard"?',
            id="typo-eviction",
        ),
    ],
)
def test_validation_errors(kubelet: dict[str, Any], field: str, needle: str) -> None:
    causes = validate_kubelet_config(kubelet)
    assert [c.field for c in causes] == [field], causes
    assert needle in causes[0].message
    with pytest.raises(KubeletConfigError) as exc:
        parse_kubelet_config(kubelet)
    assert isinstance(exc.value, ValueError)
    assert exc.value.causes == causes
    assert str(exc.value).startswith(f"{field}: ")


def test_validation_accepts_real_configs() -> None:
    assert validate_kubelet_config(apply_preset({}, "eks", 2000, 8 * GIB, 29)) == []
    assert (
        validate_kubelet_config({"clusterDNS": ["10.100.0.10"], "cgroupDriver": "systemd", "somethingNew": 1})
        == []
    )
    assert validate_kubelet_config(5, "spec.kubelet")[0].field == "spec.kubelet"
    assert validate_kubelet_config({"maxPods": -1}, "x.kubelet")[0].field == "x.kubelet.maxPods"
