"""The metrics pipeline: what metrics-server and a custom/external metrics adapter serve, computed
from the kubelet usage engine's arrays (DESIGN principle 8) on a scrape schedule.

One layer above the peers: it reads ``kubetwin.kubelet`` (the usage engine, LoadProfile traffic
shapes) and the base layers; ``scenario``, ``server`` and ``cli`` use it.
"""

from kubetwin.metrics.pipeline import DEFAULT_RESOLUTION, MetricsPipeline

__all__ = ["DEFAULT_RESOLUTION", "MetricsPipeline"]
