"""Tests for kubetwin.cloud.catalog."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from kubetwin.cloud import catalog
from kubetwin.cloud.catalog import InstanceType, UnknownInstanceType


def _csv_rows(filename: str) -> list[dict[str, str]]:
    text = resources.files("kubetwin.cloud").joinpath("data", filename).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@pytest.mark.parametrize(
    ("name", "vcpu", "memory_mib", "arch", "price", "max_pods"),
    [
        pytest.param("m5.large", 2, 8192, "amd64", 0.096, 29, id="m5.large"),
        pytest.param("m5.xlarge", 4, 16384, "amd64", 0.192, 58, id="m5.xlarge"),
        pytest.param("m5.24xlarge", 96, 393216, "amd64", 4.608, 737, id="m5.24xlarge"),
        pytest.param("c4.large", 2, 3840, "amd64", 0.10, 29, id="c4.large"),
        pytest.param("c5.large", 2, 4096, "amd64", 0.085, 29, id="c5.large"),
        pytest.param("r5.large", 2, 16384, "amd64", 0.126, 29, id="r5.large"),
        pytest.param("t3.medium", 2, 4096, "amd64", 0.0416, 17, id="t3.medium"),
        pytest.param("t3.micro", 2, 1024, "amd64", 0.0104, 4, id="t3.micro"),
        pytest.param("m6g.large", 2, 8192, "arm64", 0.077, 29, id="m6g.large"),
        pytest.param("m6i.large", 2, 8192, "amd64", 0.096, 29, id="m6i.large"),
        pytest.param("t4g.medium", 2, 4096, "arm64", 0.0336, 17, id="t4g.medium"),
    ],
)
def test_known_types(name: str, vcpu: int, memory_mib: int, arch: str, price: float, max_pods: int) -> None:
    it = catalog.get(name)
    assert (it.name, it.vcpu, it.memory_mib, it.arch) == (name, vcpu, memory_mib, arch)
    assert it.price_per_hour == pytest.approx(price)
    assert it.eni_max_pods() == max_pods


# aws/amazon-vpc-cni-k8s misc/eni-max-pods.txt rows (reference/upstream-semantics.md, section 9.2).
@pytest.mark.parametrize(
    ("name", "enis", "ips", "hypervisor", "max_pods"),
    [
        pytest.param("t2.micro", 2, 2, "xen", 4, id="t2.micro"),
        pytest.param("t3.micro", 2, 2, "nitro", 4, id="t3.micro"),
        pytest.param("t3.small", 3, 4, "nitro", 11, id="t3.small"),
        pytest.param("t3.large", 3, 12, "nitro", 35, id="t3.large"),
        pytest.param("t4g.medium", 3, 6, "nitro", 17, id="t4g.medium"),
        pytest.param("m6g.medium", 2, 4, "nitro", 8, id="m6g.medium"),
        pytest.param("c6g.medium", 2, 4, "nitro", 8, id="c6g.medium"),
        pytest.param("c5.large", 3, 10, "nitro", 29, id="c5.large"),
        pytest.param("m5.large", 3, 10, "nitro", 29, id="m5.large"),
        pytest.param("m6i.large", 3, 10, "nitro", 29, id="m6i.large"),
        pytest.param("m7i.large", 3, 10, "nitro", 29, id="m7i.large"),
        pytest.param("c5.xlarge", 4, 15, "nitro", 58, id="c5.xlarge"),
        pytest.param("m5.xlarge", 4, 15, "nitro", 58, id="m5.xlarge"),
        pytest.param("c5.4xlarge", 8, 30, "nitro", 234, id="c5.4xlarge"),
        pytest.param("m5.4xlarge", 8, 30, "nitro", 234, id="m5.4xlarge"),
        pytest.param("m5.12xlarge", 8, 30, "nitro", 234, id="m5.12xlarge"),
        pytest.param("p3.16xlarge", 8, 30, "xen", 234, id="p3.16xlarge"),
        pytest.param("c5n.18xlarge", 15, 50, "nitro", 737, id="c5n.18xlarge"),
        pytest.param("m5.24xlarge", 15, 50, "nitro", 737, id="m5.24xlarge"),
        pytest.param("p4d.24xlarge", 15, 50, "nitro", 737, id="p4d.24xlarge-default-card-only"),
    ],
)
def test_networking_matches_eni_max_pods(
    name: str, enis: int, ips: int, hypervisor: str, max_pods: int
) -> None:
    max_enis, ipv4_per_eni, hv, _ = catalog.networking(name)
    assert (max_enis, ipv4_per_eni, hv) == (enis, ips, hypervisor)
    assert catalog.eni_max_pods(max_enis, ipv4_per_eni) == max_pods


def test_networking_has_all_1391_types() -> None:
    rows = _csv_rows(catalog.NETWORKING_CSV)
    assert len(rows) == 1391
    assert len({r["instance_type"] for r in rows}) == 1391
    assert all(catalog.networking(r["instance_type"])[0] == int(r["max_enis"]) for r in rows)


def test_networking_bare_metal_flag() -> None:
    assert catalog.networking("m5.metal")[3] is True
    assert catalog.networking("m5.large")[3] is False


def test_every_spec_row_exists_in_networking() -> None:
    spec_names = [r["instance_type"] for r in _csv_rows(catalog.SPECS_CSV)]
    networking_names = {r["instance_type"] for r in _csv_rows(catalog.NETWORKING_CSV)}
    assert len(spec_names) == len(set(spec_names))
    assert [n for n in spec_names if n not in networking_names] == []


@pytest.mark.parametrize(
    "family",
    [
        pytest.param(f, id=f)
        for f in (
            "t3 t3a t4g m5 m5a m5n m6i m6a m6g m7i m7g c4 c5 c5a c5n c6i c6a c6g c7i c7g "
            "r5 r5a r6i r6a r6g r7i r7g x2gd i3 p3 g4dn g5"
        ).split()
    ],
)
def test_family_has_several_sizes(family: str) -> None:
    assert len([it for it in catalog.all_types() if it.family == family]) >= 3


def test_all_types_sorted_and_sane() -> None:
    types = catalog.all_types()
    assert [it.name for it in types] == sorted(it.name for it in types)
    assert len(types) == len(_csv_rows(catalog.SPECS_CSV))
    for it in types:
        assert it.arch in ("amd64", "arm64"), it.name
        assert it.vcpu > 0 and it.memory_mib > 0 and it.price_per_hour > 0, it.name
        assert it.arch == ("arm64" if it.family.endswith("g") or it.family == "x2gd" else "amd64"), it.name
        assert (it.max_enis, it.ipv4_per_eni, it.hypervisor, it.bare_metal) == catalog.networking(it.name)


@pytest.mark.parametrize(
    ("family", "sizes"),
    [
        pytest.param(
            "m5",
            ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"),
            id="m5",
        ),
        pytest.param(
            "c6i", ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge", "32xlarge"), id="c6i"
        ),
        pytest.param("r7g", ("large", "xlarge", "2xlarge", "4xlarge", "16xlarge"), id="r7g"),
    ],
)
def test_price_and_shape_scale_linearly_within_family(family: str, sizes: tuple[str, ...]) -> None:
    types = [catalog.get(f"{family}.{s}") for s in sizes]
    base = types[0]
    for it in types[1:]:
        factor = it.vcpu / base.vcpu
        assert it.memory_mib == base.memory_mib * factor, it.name
        assert it.price_per_hour == pytest.approx(base.price_per_hour * factor, abs=1e-4), it.name


def test_gpu_types() -> None:
    assert catalog.get("p3.16xlarge").gpus == 8
    assert catalog.get("g4dn.xlarge").gpus == 1
    assert catalog.get("g5.48xlarge").gpus == 8
    assert catalog.get("m5.large").gpus == 0


def test_instance_type_properties() -> None:
    it = catalog.get("m5.large")
    assert it.family == "m5"
    assert catalog.get("x2gd.medium").family == "x2gd"
    assert it.memory_bytes == 8 * 1024**3
    with pytest.raises(AttributeError):
        it.vcpu = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "want"),
    [
        pytest.param(
            "m5.lage",
            'unknown instance type "m5.lage"; did you mean m5.large, m5n.large, m5a.large?',
            id="typo",
        ),
        pytest.param(
            "t3.mediun", 'unknown instance type "t3.mediun"; did you mean t3.medium', id="one-letter"
        ),
        pytest.param("zzzzzz", 'unknown instance type "zzzzzz"', id="no-suggestions"),
    ],
)
def test_unknown_instance_type_message(name: str, want: str) -> None:
    with pytest.raises(UnknownInstanceType) as info:
        catalog.get(name)
    assert str(info.value).startswith(want)
    assert isinstance(info.value, ValueError)
    assert info.value.name == name


def test_unknown_suggestions_come_from_spec_names() -> None:
    with pytest.raises(UnknownInstanceType) as info:
        catalog.get("m5.lage")
    assert len(info.value.suggestions) == 3
    assert info.value.suggestions[0] == "m5.large"
    assert all(catalog.get(s) for s in info.value.suggestions)


def test_get_without_specs_is_unknown_but_networking_knows_it() -> None:
    with pytest.raises(UnknownInstanceType):
        catalog.get("a1.medium")
    assert catalog.networking("a1.medium") == (2, 4, "nitro", False)


def test_networking_unknown() -> None:
    with pytest.raises(UnknownInstanceType, match=r'unknown instance type "m5.lage"; did you mean m5\.large'):
        catalog.networking("m5.lage")


@pytest.mark.parametrize(
    ("name", "zone", "capacity_type", "eks", "karpenter", "region"),
    [
        pytest.param(
            "m5.large", "us-east-1a", "on-demand", "ON_DEMAND", "on-demand", "us-east-1", id="on-demand"
        ),
        pytest.param("m6g.large", "eu-west-1c", "spot", "SPOT", "spot", "eu-west-1", id="spot-arm64"),
        pytest.param(
            "c5.large", "us-west-2b", "ON_DEMAND", "ON_DEMAND", "on-demand", "us-west-2", id="eks-spelling"
        ),
        pytest.param("c5.large", "ap-south-1a", "SPOT", "SPOT", "spot", "ap-south-1", id="eks-spot-spelling"),
    ],
)
def test_node_labels(name: str, zone: str, capacity_type: str, eks: str, karpenter: str, region: str) -> None:
    it = catalog.get(name)
    assert catalog.node_labels(it, zone, capacity_type) == {
        "node.kubernetes.io/instance-type": name,
        "beta.kubernetes.io/instance-type": name,
        "kubernetes.io/arch": it.arch,
        "beta.kubernetes.io/arch": it.arch,
        "kubernetes.io/os": "linux",
        "beta.kubernetes.io/os": "linux",
        "topology.kubernetes.io/zone": zone,
        "topology.kubernetes.io/region": region,
        "failure-domain.beta.kubernetes.io/zone": zone,
        "failure-domain.beta.kubernetes.io/region": region,
        "eks.amazonaws.com/capacityType": eks,
        "karpenter.sh/capacity-type": karpenter,
    }


@pytest.mark.parametrize(
    ("zone", "capacity_type"),
    [
        pytest.param("us-east-1", "on-demand", id="region-not-zone"),
        pytest.param("", "on-demand", id="empty-zone"),
        pytest.param("us-east-1a", "reserved", id="bad-capacity-type"),
    ],
)
def test_node_labels_rejects_bad_input(zone: str, capacity_type: str) -> None:
    with pytest.raises(ValueError):
        catalog.node_labels(catalog.get("m5.large"), zone, capacity_type)


@pytest.mark.parametrize(
    ("name", "max_pods", "want"),
    [
        pytest.param(
            "m5.large",
            29,
            {
                "cpu": "2",
                "memory": "8388608Ki",
                "pods": "29",
                "ephemeral-storage": "20959212Ki",
                "hugepages-1Gi": "0",
                "hugepages-2Mi": "0",
            },
            id="m5.large",
        ),
        pytest.param(
            "c4.large",
            None,
            {
                "cpu": "2",
                "memory": "3932160Ki",
                "pods": "110",
                "ephemeral-storage": "20959212Ki",
                "hugepages-1Gi": "0",
                "hugepages-2Mi": "0",
            },
            id="default-max-pods",
        ),
        pytest.param(
            "g4dn.12xlarge",
            234,
            {
                "cpu": "48",
                "memory": "201326592Ki",
                "pods": "234",
                "ephemeral-storage": "20959212Ki",
                "hugepages-1Gi": "0",
                "hugepages-2Mi": "0",
                "nvidia.com/gpu": "4",
            },
            id="gpu",
        ),
    ],
)
def test_node_capacity(name: str, max_pods: int | None, want: dict[str, str]) -> None:
    it = catalog.get(name)
    got = catalog.node_capacity(it) if max_pods is None else catalog.node_capacity(it, max_pods=max_pods)
    assert got == want


def test_loaded_once() -> None:
    assert catalog.get("m5.large") is catalog.get("m5.large")
    assert isinstance(catalog.all_types()[0], InstanceType)
