"""Instance cost: what a NodeGroup's instances bill, from launch to termination.

EC2 bills Linux instances per second from launch (the instance enters ``pending``) until it is
terminated, at the hourly price of its purchase option (AWS "Amazon EC2 pricing": per-second
billing, 60 s minimum, for Linux). The twin uses the Node's ``metadata.creationTimestamp`` as the
launch time and the moment the Node object goes away as the termination time, priced at the
``kubetwin.io/price-per-hour`` annotation the NodeGroup controller writes (on-demand price from
:mod:`kubetwin.cloud.catalog`, or the group's spot price). Pure functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

ANN_PRICE = "kubetwin.io/price-per-hour"
ANN_CAPACITY_TYPE = "kubetwin.io/capacity-type"
MINIMUM_BILLED_SECONDS = 60.0  # per-second billing with a one-minute minimum (Linux on EC2)


def instance_cost(price_per_hour: float, launched: float, until: float) -> float:
    """USD billed for one instance running from ``launched`` to ``until`` (virtual seconds)."""
    seconds = max(until - launched, 0.0)
    if seconds > 0:
        seconds = max(seconds, MINIMUM_BILLED_SECONDS)
    return price_per_hour * seconds / 3600.0


def instances_cost(prices: npt.NDArray[np.float64], launched: npt.NDArray[np.float64], until: float) -> float:
    """The sum of ``instance_cost(p, t, until)`` over the instances, added one by one in order: each
    term is the same IEEE arithmetic elementwise, and ``np.add.accumulate`` is that running sum by
    definition (Python 3.11's ``sum`` of floats too; 3.12's compensates, so it is not used), without
    the list of Python floats; 0.0 for no instance."""
    seconds = np.maximum(until - launched, 0.0)
    seconds = np.where(seconds > 0, np.maximum(seconds, MINIMUM_BILLED_SECONDS), seconds)
    terms = prices * seconds / 3600.0
    return float(np.add.accumulate(terms)[-1]) if terms.size else 0.0


def node_price(node: dict[str, Any]) -> float:
    """The node's USD per hour (0 when it carries no price: hand-written nodes)."""
    raw = ((node.get("metadata") or {}).get("annotations") or {}).get(ANN_PRICE)
    try:
        return float(raw) if raw is not None else 0.0
    except ValueError:
        return 0.0


def capacity_type(node: dict[str, Any]) -> str:
    return ((node.get("metadata") or {}).get("annotations") or {}).get(ANN_CAPACITY_TYPE) or "on-demand"
