"""The in-process client: the same verbs a client-go clientset has, over the registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubetwin.sim import EventLoop
from kubetwin.store import Registry

if TYPE_CHECKING:
    from kubetwin.client.metrics import MetricsClient


class Client:
    def __init__(self, registry: Registry, user_agent: str = "kubetwin") -> None:
        self.registry = registry
        self.user_agent = user_agent
        #: the metrics APIs (metrics.k8s.io, custom and external metrics) as the HPA reads them;
        #: set by the runtime (see client/metrics.py). None: no metrics API is served.
        self.metrics: MetricsClient | None = None

    @property
    def clock(self) -> EventLoop:
        return self.registry.clock

    def create(
        self, obj: dict[str, Any], namespace: str | None = None, dry_run: bool = False, owned: bool = False
    ) -> dict[str, Any]:
        """Create ``obj``. ``owned=True``: ``obj`` was built for this create alone and is handed
        over (defaulting and admission write into it); the stored object itself is returned,
        read-only like a lister's. The caller must not touch ``obj`` afterwards."""
        return self.registry.create(obj, namespace=namespace, dry_run=dry_run, owned=owned)

    def get(self, resource: str, name: str, namespace: str | None = None, copy: bool = True) -> dict[str, Any]:
        """The object (``copy=False``: the stored one itself, read-only, like a lister's)."""
        return self.registry.get(resource, name, namespace, copy=copy)

    def get_or_none(self, resource: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        from kubetwin.api.errors import ApiError

        try:
            return self.registry.get(resource, name, namespace)
        except ApiError as e:
            if e.code == 404:
                return None
            raise

    def list(
        self,
        resource: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        return self.registry.list(resource, namespace, label_selector, field_selector)["items"]

    def update(self, obj: dict[str, Any], subresource: str | None = None, owned: bool = False) -> dict[str, Any]:
        """Replace ``obj``; ``subresource`` "status" or (namespaces) "finalize" writes only that part.

        ``owned=True``: ``obj`` was built (or copied) for this write alone and is handed over: the
        registry stores it without a defensive copy and returns the stored object itself
        (read-only, like a lister's). The caller must not touch ``obj`` afterwards."""
        if owned:
            return self.registry.update_trusted(obj, subresource)
        return self.registry.update(obj, subresource=subresource)

    def update_status(self, obj: dict[str, Any], owned: bool = False) -> dict[str, Any]:
        """``update(obj, "status", owned)``."""
        return self.update(obj, "status", owned)

    def patch(
        self,
        resource: str,
        name: str,
        patch: Any,
        namespace: str | None = None,
        patch_type: str = "merge",
        subresource: str | None = None,
    ) -> dict[str, Any]:
        return self.registry.patch(resource, name, patch, namespace, patch_type, subresource)

    def delete(
        self,
        resource: str,
        name: str,
        namespace: str | None = None,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
        preconditions: dict[str, Any] | None = None,
        copy: bool = True,
    ) -> dict[str, Any]:
        """Delete; ``copy=False`` returns the stored object itself (read-only)."""
        return self.registry.delete(
            resource, name, namespace, propagation_policy, grace_period_seconds, preconditions, copy=copy
        )

    def bind(self, namespace: str, name: str, node_name: str, uid: str | None = None) -> dict[str, Any]:
        return self.registry.bind(namespace, name, node_name, uid)
