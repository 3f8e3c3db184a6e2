"""The metrics the autoscalers read, from the kubelet's usage engine (what metrics-server reports
from cAdvisor: the containers' CPU usage and memory working set).

``UsageMetricsClient`` is the ``MetricsClient`` (and ``ContainerMetricsClient``) the Cluster
installs when the usage engine runs: resource metrics and per-container usage of Running pods come
from the engine's arrays (``UsageEngine.pod_usage``); a pod the engine has not measured yet uses
its requests. Custom and external metrics are not served here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kubetwin.api.selectors import LabelSelector
from kubetwin.client.metrics import (
    DEFAULT_METRIC_WINDOW,
    ContainerUsage,
    MetricsUnavailable,
    PodMetric,
    PodMetricsInfo,
    RequestsMetricsClient,
    select_pods,
)

if TYPE_CHECKING:
    from kubetwin.client.informer import Informer
    from kubetwin.sim import EventLoop

#: pod uid -> {container: (cpu millicores, memory bytes)} or None
PodUsage = Callable[[str], "dict[str, tuple[int, int]] | None"]


class UsageMetricsClient(RequestsMetricsClient):
    def __init__(self, pods: Informer, clock: EventLoop, usage: PodUsage,
                 window: float = DEFAULT_METRIC_WINDOW) -> None:  # fmt: skip
        super().__init__(pods, clock, window)
        self.usage = usage

    def get_container_usage(self, namespace: str, selector: LabelSelector) -> ContainerUsage:
        fallback = super().get_container_usage(namespace, selector)
        out: ContainerUsage = {}
        for pod in select_pods(self.pods, namespace, selector):
            name = pod["metadata"]["name"]
            if name not in fallback:
                continue  # not Running
            measured = self.usage(pod["metadata"].get("uid", ""))
            out[name] = dict(measured) if measured else fallback[name]
        return out

    def get_resource_metric(
        self, resource: str, namespace: str, selector: LabelSelector, container: str | None = None
    ) -> tuple[PodMetricsInfo, float]:
        if resource not in ("cpu", "memory"):
            return super().get_resource_metric(resource, namespace, selector, container)
        now = self.clock.now
        i = 0 if resource == "cpu" else 1
        out: PodMetricsInfo = {}
        for name, containers in self.get_container_usage(namespace, selector).items():
            if container and container not in containers:
                continue
            total = sum(v[i] for c, v in containers.items() if not container or c == container)
            out[name] = PodMetric(total if i == 0 else total * 1000, now, self.window)
        if not out:
            raise MetricsUnavailable("no metrics returned from resource metrics API")
        return out, now
