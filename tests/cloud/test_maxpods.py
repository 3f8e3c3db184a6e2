"""Max pods from the pod network (reference section 9): eni-max-pods.txt, prefix delegation, caps."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from kubetwin.cloud import catalog, maxpods

SHARED_CSV = Path(__file__).resolve().parents[3] / "shared" / "data" / "aws-instance-networking.csv"


def _rows() -> list[dict[str, str]]:
    from importlib import resources

    text = resources.files("kubetwin.cloud").joinpath("data", "aws-instance-networking.csv").read_text()
    return list(csv.DictReader(text.splitlines()))


ROWS = _rows()


def test_table_has_every_type() -> None:
    assert len(ROWS) == 1391
    if SHARED_CSV.exists():  # the packaged copy is the shared data set
        assert list(csv.DictReader(SHARED_CSV.read_text().splitlines())) == ROWS


def test_every_row_follows_the_eni_formula() -> None:
    """All 1,391 rows: ``ENIs × (IPv4 per ENI − 1) + 2`` from the CSV's own columns."""
    for row in ROWS:
        enis, ips = int(row["max_enis"]), int(row["ipv4_per_eni"])
        assert maxpods.eni_max_pods_for(row["instance_type"]) == enis * (ips - 1) + 2, row
        assert maxpods.eni_max_pods_for(row["instance_type"]) >= 4 or row["instance_type"].startswith("t")


# reference 9.2: instance -> (ENIs, IPv4/ENI, max pods, PD raw or None for non-nitro)
REFERENCE = [
    ("t2.micro", 2, 2, 4, None),
    ("t3.micro", 2, 2, 4, 34),
    ("t3.small", 3, 4, 11, 146),
    ("t3.large", 3, 12, 35, 530),
    ("t4g.medium", 3, 6, 17, 242),
    ("m6g.medium", 2, 4, 8, 98),
    ("c6g.medium", 2, 4, 8, 98),
    ("c5.large", 3, 10, 29, 434),
    ("m5.large", 3, 10, 29, 434),
    ("m6i.large", 3, 10, 29, 434),
    ("m7i.large", 3, 10, 29, 434),
    ("c5.xlarge", 4, 15, 58, 898),
    ("m5.xlarge", 4, 15, 58, 898),
    ("c5.4xlarge", 8, 30, 234, 3714),
    ("m5.4xlarge", 8, 30, 234, 3714),
    ("m5.12xlarge", 8, 30, 234, 3714),
    ("p3.16xlarge", 8, 30, 234, None),
    ("c5n.18xlarge", 15, 50, 737, 11762),
    ("m5.24xlarge", 15, 50, 737, 11762),
    ("p4d.24xlarge", 15, 50, 737, 11762),
    ("c4.large", 3, 10, 29, None),
]


@pytest.mark.parametrize(("name", "enis", "ips", "pods", "pd_raw"), REFERENCE, ids=[r[0] for r in REFERENCE])
def test_reference_rows(name: str, enis: int, ips: int, pods: int, pd_raw: int | None) -> None:
    got_enis, got_ips, hypervisor, _ = catalog.networking(name)
    assert (got_enis, got_ips) == (enis, ips)
    assert maxpods.eni_max_pods_for(name) == pods
    assert (hypervisor == "nitro") == (pd_raw is not None)
    if pd_raw is not None:
        assert maxpods.prefix_delegation_max_pods(enis, ips) == pd_raw
        assert (
            maxpods.calculator_max_pods(
                enis, ips, hypervisor, 0, prefix_delegation=True, show_max_allowed=True
            )
            == pd_raw
        )


@pytest.mark.parametrize(
    ("name", "mode", "explicit", "want"),
    [
        pytest.param("c4.large", "aws-vpc-cni", None, 29, id="c4.large-vpc-cni"),
        pytest.param("c4.large", "aws-vpc-cni-prefix", None, 29, id="c4.large-xen-ignores-prefix"),
        pytest.param("m5.large", "aws-vpc-cni", None, 29, id="m5.large"),
        pytest.param("m5.large", "aws-vpc-cni-prefix", None, 110, id="m5.large-prefix-capped-110"),
        pytest.param("c5.4xlarge", "aws-vpc-cni-prefix", None, 110, id="c5.4xlarge-prefix-16vcpu-110"),
        pytest.param("m5.24xlarge", "aws-vpc-cni-prefix", None, 250, id="m5.24xlarge-prefix-96vcpu-250"),
        pytest.param("m5.24xlarge", "aws-vpc-cni", None, 737, id="m5.24xlarge-eni-max-pods-uncapped"),
        pytest.param("t3.micro", "aws-vpc-cni-prefix", None, 34, id="t3.micro-prefix-under-cap"),
        pytest.param("t2.micro", "aws-vpc-cni-prefix", None, 4, id="t2.micro-xen"),
        pytest.param("m5.large", "overlay", None, 110, id="overlay-default"),
        pytest.param("m5.large", "overlay", 250, 250, id="overlay-explicit"),
        pytest.param("m5.large", "aws-vpc-cni", 110, 110, id="explicit-wins"),
    ],
)
def test_max_pods_by_mode(name: str, mode: str, explicit: int | None, want: int) -> None:
    assert maxpods.max_pods(catalog.get(name), mode, explicit) == want


@pytest.mark.parametrize(
    ("kwargs", "want"),
    [
        pytest.param({"prefix_delegation": False}, 29, id="secondary-ip-capped-noop"),
        pytest.param({"prefix_delegation": False, "custom_networking": True}, 20, id="custom-networking"),
        pytest.param(
            {"prefix_delegation": True, "custom_networking": True}, 110, id="custom-networking-prefix"
        ),
        pytest.param({"prefix_delegation": False, "max_enis": 1}, 11, id="cni-max-eni"),
    ],
)
def test_calculator_options_m5_large(kwargs: dict[str, bool | int], want: int) -> None:
    assert maxpods.calculator_max_pods(3, 10, "nitro", 2, **kwargs) == want  # type: ignore[arg-type]


def test_calculator_caps_secondary_ips_on_big_instances() -> None:
    # m5.24xlarge without PD: min(250, 737) = 250 (eni-max-pods.txt itself says 737)
    assert maxpods.calculator_max_pods(15, 50, "nitro", 96, prefix_delegation=False) == 250


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match="unknown networking mode"):
        maxpods.max_pods(catalog.get("m5.large"), "calico")
