"""The seam where a resource usage model plugs into a simulated kubelet.

Usage (CPU, memory), cgroup limits (CPU throttling, memory OOM kills with oom_score_adj) and the
eviction manager (pkg/kubelet/eviction) are the next issue. They attach here without touching the
pod lifecycle: the kubelet calls ``on_pod_started`` when a pod's first regular container runs and
``on_pod_stopped`` when the pod's containers are gone for good (finished, deleted, node gone); in
between, ``on_container_started``/``on_container_stopped`` (optional) for each later container start
(restarts) and each stop of a container whose pod goes on (exit, OOM kill): the containers the
kubelet stops as it tears the pod down (deletion, eviction, the pod finished) reach the model
as ``on_pod_stopped`` alone. If ``tick_interval`` is a number the kubelet calls
``tick`` that often (the cluster's :class:`~kubetwin.kubelet.usage.UsageEngine` has its own single
timer instead). A model acts back on the
kubelet only through its public methods: ``Kubelet.container_exited(uid, name, exit_code, reason)``
(e.g. ``137, "OOMKilled"``) and ``Kubelet.fail_pod(uid, reason, message)`` (eviction).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from kubetwin.kubelet.kubelet import Kubelet


class ResourceModel(Protocol):
    tick_interval: float | None

    def on_pod_started(self, kubelet: Kubelet, pod: dict[str, Any]) -> None: ...

    def on_pod_stopped(self, kubelet: Kubelet, pod_uid: str) -> None: ...

    def tick(self, kubelet: Kubelet) -> None: ...

    def on_container_started(self, kubelet: Kubelet, pod_uid: str, name: str) -> None: ...

    def on_container_stopped(self, kubelet: Kubelet, pod_uid: str, name: str) -> None: ...


class NoopResourceModel:
    """The default: no usage, no pressure, nothing to do."""

    tick_interval: float | None = None

    def on_pod_started(self, kubelet: Kubelet, pod: dict[str, Any]) -> None:
        return None

    def on_pod_stopped(self, kubelet: Kubelet, pod_uid: str) -> None:
        return None

    def tick(self, kubelet: Kubelet) -> None:
        return None

    def on_container_started(self, kubelet: Kubelet, pod_uid: str, name: str) -> None:
        return None

    def on_container_stopped(self, kubelet: Kubelet, pod_uid: str, name: str) -> None:
        return None
