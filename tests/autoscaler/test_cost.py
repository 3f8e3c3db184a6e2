"""Cost accrual: per-second billing from launch to termination (60 s minimum), on-demand price
from the catalog, spot at spec.spotPrice or 35% of on-demand; NodeGroup status.costUSD."""

from __future__ import annotations

from typing import Any

import pytest
from tests.autoscaler.conftest import nodegroup

from kubetwin.cloud import catalog, cost
from kubetwin.cloud.nodegroup import DEFAULT_SPOT_DISCOUNT, SPOT_PRICE_FACTOR, GroupSpec


@pytest.mark.parametrize(
    ("price", "start", "end", "usd"),
    [
        pytest.param(0.096, 0, 3600, 0.096, id="one-hour"),
        pytest.param(0.096, 0, 1800, 0.048, id="half-hour-per-second"),
        pytest.param(0.096, 100, 130, 0.096 / 60, id="60s-minimum"),
        pytest.param(0.096, 100, 100, 0.0, id="not-started"),
        pytest.param(1.0, 0, 86400, 24.0, id="a-day"),
    ],
)
def test_instance_cost(price: float, start: float, end: float, usd: float) -> None:
    assert cost.instance_cost(price, start, end) == pytest.approx(usd)


@pytest.mark.parametrize(
    ("spec", "price"),
    [
        pytest.param({"instanceType": "m5.large"}, catalog.get("m5.large").price_per_hour, id="on-demand"),
        pytest.param({"instanceType": "m5.large", "capacityType": "spot"},
                     catalog.get("m5.large").price_per_hour * 0.35, id="spot-default-65%-off"),
        pytest.param({"instanceType": "m5.large", "capacityType": "spot", "spotPrice": 0.04}, 0.04, id="spot-price"),
        pytest.param({"instanceType": "m5.large", "spotPrice": 0.04}, catalog.get("m5.large").price_per_hour,
                     id="spot-price-ignored-on-demand"),
    ],
)  # fmt: skip
def test_group_price(spec: dict[str, Any], price: float) -> None:
    assert GroupSpec("g", spec).price_per_hour == pytest.approx(price)
    assert SPOT_PRICE_FACTOR == pytest.approx(1 - DEFAULT_SPOT_DISCOUNT) == pytest.approx(0.35)


def test_nodegroup_status_cost(make_env: Any) -> None:
    env = make_env(nodegroup("od", minSize=2, maxSize=2), nodegroup("spot", minSize=1, maxSize=1, capacityType="spot",
                                                                    spotPrice=0.05))  # fmt: skip
    env.run(3600)
    od, spot = env.group("od")["status"], env.group("spot")["status"]
    m5 = catalog.get("m5.large").price_per_hour
    assert od["pricePerHour"] == pytest.approx(m5)
    assert od["costUSD"] == pytest.approx(round(2 * m5, 2), abs=0.011)
    assert spot["pricePerHour"] == 0.05 and spot["costUSD"] == pytest.approx(0.05, abs=0.011)
    env.client.patch("nodegroups.kubetwin.io", "od", {"spec": {"minSize": 1, "desiredSize": 1}})
    env.run(7200)
    # one instance ran 2 h, the other 1 h (terminated at 3600 s)
    assert env.group("od")["status"]["costUSD"] == pytest.approx(round(3 * m5, 2), abs=0.011)
